"""Daemon worker threads, started when work needs them and never keeping the process alive.

A thread costs a start-up handshake with the new thread (a context switch each way under the GIL). Starting every
check of every workspace in a thread of its own, and every fact pool at its full size up front, spent more time
starting threads than running a replayed check. A pool here starts a thread only when a task finds none
waiting, up to its limit, and keeps it for the next task.

A task that hangs (a read past its deadline) keeps its thread; the pool starts another for the next task, so a
hung task never holds up the ones after it, as long as the limit allows.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("moediag.threads")


class DaemonPool:
    """Runs submitted tasks on daemon threads: at most `limit` at once (None: as many as are submitted)."""

    def __init__(self, limit: int | None = None, name: str = "moediag") -> None:
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._limit, self._name = limit, name
        self._lock = threading.Lock()
        self._threads = 0
        self._waiting = 0  # threads blocked on the queue, free for a task
        self._queued = 0  # tasks not yet taken

    def submit(self, task: Callable[[], None]) -> None:
        with self._lock:
            self._queued += 1
            start = self._waiting < self._queued and (self._limit is None or self._threads < self._limit)
            if start:
                self._threads += 1
                number = self._threads
        self._tasks.put(task)
        if start:
            threading.Thread(target=self._work, daemon=True, name=f"{self._name}-{number}").start()

    def shutdown(self) -> None:
        """Let every thread end once the tasks queued before this are done (a hung one stays, as a daemon)."""
        with self._lock:
            threads, self._threads = self._threads, 0
        for _ in range(threads):
            self._tasks.put(None)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._waiting += 1
            task = self._tasks.get()
            with self._lock:
                self._waiting -= 1
                if task is not None:
                    self._queued -= 1
            if task is None:
                return
            try:
                task()
            except Exception:  # pragma: no cover - tasks record their own errors
                log.exception("task failed")

"""The daemon pool that runs checks and fact reads: threads start only when a task finds none free, up to the
limit, and are kept for the next task; a hung task never holds up the others while the limit allows."""

from __future__ import annotations

import threading
import time

from moediag.threads import DaemonPool


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{name}-")]


def test_tasks_one_after_another_reuse_one_thread():
    pool = DaemonPool(limit=8, name="test-reuse")
    for _ in range(20):
        done = threading.Event()
        pool.submit(done.set)
        assert done.wait(5)
    # a thread that just finished may not be back on the queue when the next task comes: a second one, rarely more
    assert len(_threads("test-reuse")) <= 3
    pool.shutdown()


def test_no_more_tasks_run_at_once_than_the_limit_and_every_task_runs():
    pool, lock, release = DaemonPool(limit=3, name="test-limit"), threading.Lock(), threading.Event()
    running, peak, finished = [0], [0], threading.Semaphore(0)

    def task():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1
        finished.release()

    for _ in range(10):
        pool.submit(task)
    deadline = time.monotonic() + 5
    while running[0] < 3 and time.monotonic() < deadline:  # the first three start; the seven others must queue
        time.sleep(0.01)
    time.sleep(0.05)  # room for a fourth to start, were the limit not kept
    assert peak[0] == 3 and len(_threads("test-limit")) == 3
    release.set()
    assert all(finished.acquire(timeout=5) for _ in range(10))
    assert peak[0] == 3
    pool.shutdown()


def test_without_a_limit_a_hung_task_never_holds_up_the_next_one():
    pool, hung, next_ran = DaemonPool(name="test-hung"), threading.Event(), threading.Event()
    pool.submit(lambda: hung.wait(5))
    pool.submit(next_ran.set)
    assert next_ran.wait(5)
    hung.set()
    pool.shutdown()


def test_shutdown_lets_the_idle_threads_end():
    pool = DaemonPool(limit=4, name="test-shutdown")
    done = threading.Barrier(5)
    for _ in range(4):
        pool.submit(lambda: done.wait(5))
    done.wait(5)
    threads = _threads("test-shutdown")
    assert len(threads) == 4
    pool.shutdown()
    for thread in threads:
        thread.join(5)
    assert not any(t.is_alive() for t in threads)

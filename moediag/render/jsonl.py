"""`scan -o jsonl[=PATH]`: one JSON line per workspace, written as each workspace finishes.

A long scan that is cut short (Ctrl-C, SIGTERM, a killed job) still leaves what it finished: each line is written
whole, with one write, and flushed. A line is a workspace's part of the scan report: its target block (with its
summary) and its results, suppressions applied and secrets scrubbed like every other output, text from evidence
escaped as in the JSON report (`moediag.render.json`). The diagnosis, which links results across the fleet, is
in the final report only.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any


class Stream:
    """Lines to a file (created or truncated when the scan starts) or to standard output."""

    def __init__(self, path: str | None, suppressions: list, redactor: Any) -> None:
        self._path, self._suppressions, self._redactor = path, suppressions, redactor
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if path else None

    def __call__(self, run: Any) -> None:
        text = line(run, self._suppressions, self._redactor)
        data = (text + "\n").encode("utf-8", "backslashreplace")
        with self._lock:
            if self._fd is None:
                sys.stdout.write(data.decode("utf-8"))
                sys.stdout.flush()
                return
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def line(run: Any, suppressions: list, redactor: Any) -> str:
    """One workspace's line: its target block and results, as the scan report writes them."""
    from moediag import suppress
    from moediag.render.json import _compact
    from moediag.report import summarize

    target = run.target
    results = [{**r.to_json(), "workspace": target.workspace_id} for r in run.results]
    part = suppress.apply({"results": results, "summary": summarize(results), "notes": []}, suppressions)
    block = {"subscription_id": target.subscription_id, "resource_group": target.resource_group,
             "workspace": target.workspace, "workspace_id": target.workspace_id, "endpoints": list(run.endpoints),
             "summary": summarize(part["results"]), "results": part["results"]}
    return _compact(redactor(block) if redactor is not None else block)

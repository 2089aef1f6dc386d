"""Runs the selected checks against one collector: concurrently, isolated, honest.

Each check runs on a daemon thread of its own, so its chain of fact reads overlaps every other check's (the
threads are kept for the next run: a fleet runs thousands of checks).
A check that crashes, reads unreadable evidence, or outlives the deadline becomes an `error` result;
the others go on. A check whose prerequisite failed is skipped, saying which one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from moediag.check import Check, CheckContext
from moediag.errors import FactError
from moediag.model import Reason, Result, Status
from moediag.threads import DaemonPool

_CHECKS = DaemonPool(name="moediag-check")  # no limit: a check waiting on a hung read must not hold up another


@dataclass
class _Run:
    check: Check
    results: list[Result] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0


@dataclass
class Outcome:
    results: list[Result]
    interrupted: bool = False


def run_checks(
    checks: list[Check],
    collector,
    progress: Callable[[list[str]], None] | None = None,
    interrupted: bool = False,
) -> Outcome:
    """Run `checks`; with `interrupted` (Ctrl-C before they could start) every check reports that."""
    runs = {c.id: _Run(c) for c in checks}
    for run in runs.values() if not interrupted else ():
        _CHECKS.submit(lambda run=run: _execute(run, runs, collector))

    try:
        while not interrupted:
            pending = [cid for cid, run in runs.items() if not run.done.is_set()]
            if progress:
                progress(pending)
            if not pending:
                break
            remaining = collector.deadline - time.monotonic()
            if remaining <= 0:
                break
            if collector.interrupted.is_set():  # Ctrl-C seen by another thread (a fleet scan's main thread)
                interrupted = True
                break
            runs[pending[0]].done.wait(min(0.1, remaining))
    except KeyboardInterrupt:
        interrupted = True
        collector.interrupted.set()

    results: list[Result] = []
    for run in runs.values():
        finished = run.done.is_set()
        produced = list(run.results)
        if not finished:
            why = "the run was interrupted" if interrupted else f"it did not finish within the run's timeout ({collector.options.timeout_s:g} s)"
            produced.append(Result(run.check.id, Status.ERROR, f"{run.check.id} gave no verdict: {why}",
                                   resource_id=collector.target.workspace_id,
                                   reason=Reason.INTERRUPTED if interrupted else Reason.TIMED_OUT))
        for result in produced:
            _stamp(result, run)
        results.extend(produced)
    return Outcome(results, interrupted)


def _stamp(result: Result, run: _Run) -> None:
    chk = run.check
    result.title = result.title or chk.title
    result.severity = result.severity or chk.severity
    result.docs = result.docs or chk.docs_path
    if not result.duration_ms:
        result.duration_ms = int((time.monotonic() - run.started) * 1000) if run.started else 0


def _execute(run: _Run, runs: dict[str, _Run], collector) -> None:
    chk = run.check
    try:
        blocker = _failed_prerequisite(chk, runs, collector)
        run.started = time.monotonic()
        if blocker:
            run.results.append(Result(chk.id, Status.SKIP, f"skipped: prerequisite {blocker} did not pass",
                                      resource_id=collector.target.workspace_id, reason=Reason.DEPENDENCY_FAILED))
            return
        ctx = CheckContext(chk, collector, {p: runs[p].results for p in chk.depends_on if p in runs})
        for result in chk.evaluate(ctx) or ():
            result.duration_ms = int((time.monotonic() - run.started) * 1000)
            run.results.append(result)
        if not run.results:
            run.results.append(Result(chk.id, Status.ERROR, f"{chk.id} returned no result (a bug in the check)",
                                      resource_id=collector.target.workspace_id, reason=Reason.CRASHED))
    except FactError as exc:
        run.results.append(Result(chk.id, Status.ERROR, exc.message, reason=exc.kind,
                                  resource_id=exc.resource_id or collector.target.workspace_id))
    except Exception as exc:  # isolate the crash: one broken check must not hide the others
        run.results.append(Result(chk.id, Status.ERROR, f"{chk.id} crashed: {type(exc).__name__}: {exc}",
                                  resource_id=collector.target.workspace_id, reason=Reason.CRASHED))
    finally:
        run.done.set()


def _failed_prerequisite(chk: Check, runs: dict[str, _Run], collector) -> str | None:
    for prereq in chk.depends_on:
        run = runs.get(prereq)
        if run is None:
            continue  # not selected: nothing to wait for
        if not run.done.wait(max(0.0, collector.deadline - time.monotonic())):
            return prereq
        if any(r.status in (Status.FAIL, Status.ERROR) for r in run.results):
            return prereq
    return None

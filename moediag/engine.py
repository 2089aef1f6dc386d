"""One run path for `moediag check` and `moediag scan`: targets in, one result list per target out.

    check:  flags / az defaults / a snapshot ─┐
                                              ├─► Inventory (targets) ─► run_targets ─► report.build_report
    scan:   Resource Graph ───────────────────┘        (one Collector + runner per target, shared Arm and memo)

The two commands differ only in where their inventory comes from and in their report's `kind`. Everything a
target goes through is here, once: the budget derived from `--timeout`, the first read of the workspace and
what an unreadable one means, the checks (`moediag.runner`), the endpoint names of the report, the results of
checks that could not be loaded, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moediag.errors import FactError, TargetUnreadable
from moediag.links import docs_url
from moediag.model import Reason, Result, Status
from moediag.target import Target

TOKEN_ENV = "MOEDIAG_ACCESS_TOKEN"
UNREADABLE_CHECK_ID = "scan.workspace-readable"  # public (scan reports); kept for every multi-target report
UNREADABLE_TITLE = "Workspace found by Resource Graph could be read"
LOAD_ERROR_CHECK_ID = "moediag.load-error"


@dataclass(frozen=True)
class Budget:
    """The one place `--timeout` and `--total-timeout` become the bounds every part of a run uses.

    `timeout_s` bounds each target, counted from when that target starts (a scan's workspaces start as workers
    free up, so the budget grows with the fleet; `check`'s one target starts with the run, so there it bounds the
    whole run). `total_s`, when given, bounds the whole run, inventory included: a target started late gets only
    what is left of it, and a target not started before it is reported as not evaluated.
    """

    timeout_s: float
    total_s: float | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def total_deadline(self) -> float | None:
        """When the whole run ends (`--total-timeout`), or None: no bound but each target's."""
        return None if self.total_s is None else self.started + self.total_s

    def deadline_from(self, start: float) -> float:
        """The deadline of a target (or of a scan's inventory) that starts at `start`."""
        total = self.total_deadline
        return start + self.timeout_s if total is None else min(start + self.timeout_s, total)

    @property
    def deadline(self) -> float:
        """The deadline of a target that starts with the run (`check`'s one target, a scan's inventory)."""
        return self.deadline_from(self.started)

    @property
    def request_timeout_s(self) -> float:
        """One HTTP request (connect + read): short enough to leave room for a retry within the budget."""
        return max(1.0, min(20.0, self.timeout_s / 2))

    @property
    def retry_budget_s(self) -> float:
        """Retries of one read (azure-core's RetryPolicy `timeout`)."""
        return max(1.0, self.timeout_s * 0.6)

    @property
    def read_margin_s(self) -> float:
        """Resource Manager reads end this long before a deadline: half a second (less for a short budget), so
        a read cut short reports its own reason before the checks waiting on it are given up."""
        shortest = self.timeout_s if self.total_s is None else min(self.timeout_s, self.total_s)
        return min(0.5, max(0.0, shortest) * 0.1)

    @property
    def read_deadline(self) -> float:
        """When the reads of a target that starts with the run end."""
        return self.deadline - self.read_margin_s

    @property
    def run_read_deadline(self) -> float | None:
        """When every read of the run ends (the `--total-timeout`), or None; each target's reads end earlier,
        at its own deadline (`Arm.within`)."""
        total = self.total_deadline
        return None if total is None else total - self.read_margin_s

    @property
    def dns_timeout_s(self) -> float:
        return min(5.0, self.timeout_s / 3)

    def expired(self) -> bool:
        """Reads ended for the `--total-timeout`: no target starts any more (it could read nothing)."""
        end = self.run_read_deadline
        return end is not None and time.monotonic() >= end

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


@dataclass
class TargetRun:
    """One workspace of a run: filled in by `run_targets`."""

    target: Target
    known_endpoints: list[str] = field(default_factory=list)  # what the inventory already knows (Resource Graph)
    results: list[Result] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    refused: str | None = None  # why Resource Manager refused the workspace itself (forbidden, unauthorized)
    recorded: dict[str, Any] | None = None  # the facts read, when a snapshot was asked for
    started: bool = False
    deadline: float | None = None  # when its budget ends (set as it starts)
    not_evaluated: str | None = None  # why it was not evaluated (set by run_targets, or by a replay beforehand)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def label(self) -> str:
        return f"{self.target.resource_group}/{self.target.workspace}"


@dataclass
class Plan:
    """How to run a list of targets: what the command decided, nothing read yet."""

    checks: list
    make_collector: Callable[[Target, float], Any]  # (target, deadline) -> Collector
    budget: Budget
    parallel: int = 1
    strict: bool = False  # `check`: an unreadable workspace or a wrong -e/-d ends the run (exit 2)
    budget_per_target: bool = False  # `scan`: each target's --timeout counts from when it starts (else from the run's)
    record: bool = False  # keep each target's facts for a snapshot
    progress: Callable[[list[str]], None] | None = None
    on_done: Callable[[TargetRun], None] | None = None  # called in the worker as each target finishes (JSONL)


def unreadable_target(error: FactError | None) -> str | None:
    """What a failed read of the workspace itself means, classified once for every command:
    `missing` (no such workspace), `refused` (credentials or permissions), `absent` (not in the snapshot),
    or None (readable, or a passing fault that each check reports itself)."""
    if error is None:
        return None
    return {"not_found": "missing", "unauthorized": "refused", "no_credential": "refused", "forbidden": "refused",
            "not_in_snapshot": "absent"}.get(error.kind)


def run_targets(plan: Plan, runs: list[TargetRun]) -> bool:
    """Run every target, `plan.parallel` at a time, on daemon threads; True when the run was interrupted.

    Each target gets its own budget from when it starts (`Budget.deadline_from`); none starts after the
    `--total-timeout`, and those left are reported as not evaluated (an `error`, reason `timed_out`).
    Ctrl-C (and SIGTERM, which the CLI turns into KeyboardInterrupt) reaches only this thread: it sets the
    shared `interrupted` event, and running targets report their unfinished checks as interrupted.
    A TargetUnreadable raised for a target (strict plans) is raised here, after every worker stopped.
    """
    interrupted = threading.Event()
    failures: list[BaseException] = []
    todo: queue.SimpleQueue[TargetRun | None] = queue.SimpleQueue()
    for run in _interleaved(runs):
        todo.put(run)
    single = len(runs) == 1  # one target: its progress is its checks (run_checks reports them), not workspaces

    def worker(i: int) -> None:
        todo.put(None)
        threading.Thread(target=_work, args=(plan, todo, interrupted, failures, single), daemon=True,
                         name=f"moediag-target-{i}").start()

    workers = max(1, min(plan.parallel, len(runs)))
    for i in range(workers):
        worker(i)
    abandoned: list[TargetRun] = []
    try:
        pending = list(runs)
        while pending:
            pending[0].done.wait(0.1)
            now = time.monotonic()
            for run in pending:
                if run.started and not run.done.is_set() and run.deadline is not None and now > run.deadline + 5:
                    abandoned.append(run)  # its worker hung past its deadline: give up on it, and replace the worker
                    worker(workers + len(abandoned))
            total = plan.budget.total_deadline
            if total is not None and now > total + 5:
                break
            pending = [r for r in pending if not r.done.is_set() and r not in abandoned]
            if pending and plan.progress and not single:
                plan.progress([r.label for r in pending])
    except KeyboardInterrupt:
        interrupted.set()
        grace = time.monotonic() + 2.0  # running targets report their unfinished checks as interrupted
        for run in runs:
            if run.started:
                run.done.wait(max(0.0, grace - time.monotonic()))
    if plan.progress and not single:
        plan.progress([])
    if failures:
        raise failures[0]
    for run in runs:
        if not run.done.is_set() or not run.started:
            if interrupted.is_set():
                run.results = [_target_result(run.target, Status.ERROR, f"workspace {run.target.workspace} was not "
                               "checked: the run was interrupted", Reason.INTERRUPTED)]
                continue
            if run.not_evaluated is None:
                run.not_evaluated = _not_evaluated(plan.budget, run)
            run.results = [_target_result(run.target, Status.ERROR, run.not_evaluated, Reason.TIMED_OUT)]
    return interrupted.is_set()


def _not_evaluated(budget: Budget, run: TargetRun) -> str:
    """Why a target has no results of its own: it started and outlived its budget, or it never started."""
    name = run.target.workspace
    if run.started:
        return f"workspace {name} was not checked: it outlived its --timeout ({budget.timeout_s:g} s)"
    return (f"workspace {name} was not evaluated: the --total-timeout ({budget.total_s:g} s) passed before its turn"
            if budget.total_s is not None else f"workspace {name} was not evaluated: the run ended before its turn")


def not_evaluated(runs: list[TargetRun]) -> list[TargetRun]:
    """The targets a run never started (the `--total-timeout` passed first)."""
    return [run for run in runs if run.not_evaluated is not None and not run.started]


def _work(plan: Plan, todo: queue.SimpleQueue, interrupted: threading.Event, failures: list[BaseException],
          single: bool) -> None:
    while (run := todo.get()) is not None:
        try:
            _run_one(plan, run, interrupted, plan.progress if single else None)
        except TargetUnreadable as exc:
            failures.append(exc)
        except Exception as exc:  # a bug must not lose the workspace: it becomes an error result
            run.results = [_target_result(run.target, Status.ERROR, f"the run of workspace {run.target.workspace} "
                                          f"crashed: {type(exc).__name__}: {exc}", Reason.CRASHED)]
        finally:
            if plan.on_done is not None and run.started and not interrupted.is_set():
                try:
                    plan.on_done(run)
                except Exception:  # a stream that cannot be written must not lose the run (the report says it)
                    pass
            run.done.set()


def _run_one(plan: Plan, run: TargetRun, interrupted: threading.Event,
             progress: Callable[[list[str]], None] | None) -> None:
    from moediag.runner import run_checks

    if interrupted.is_set() or run.not_evaluated is not None or plan.budget.expired():
        return  # reported by run_targets as not evaluated
    # a scan's workspace: its own budget, from now; a check's one workspace: the run's (--timeout is the whole run)
    run.deadline = plan.budget.deadline_from(time.monotonic()) if plan.budget_per_target else plan.budget.deadline
    run.started = True
    collector = plan.make_collector(run.target, run.deadline)
    collector.interrupted = interrupted  # one Ctrl-C stops every target
    try:
        # The workspace alone first (every chain of reads starts there); the endpoint list alongside, so checks
        # start after one round trip, not two.
        collector.prefetch([("workspace",), ("online_endpoints",)])
        _, error = collector.try_get("workspace")
        meaning = unreadable_target(error)
        if plan.strict and meaning is not None and error.kind != "forbidden":
            raise _unreadable_error(run.target, error)  # `check`: exit 2 (a 403 is left to each check to name)
        if not plan.strict and meaning is not None:
            run.endpoints = list(run.known_endpoints)
            run.results = [_unreadable_result(run, error)]
            return
        outcome = run_checks(plan.checks, collector, progress=progress)
        run.results = load_error_results() + outcome.results
        run.endpoints = _endpoint_names(collector, run, strict=plan.strict)
    finally:
        collector.close()
        if plan.record:
            run.recorded = collector.recorded()


def _endpoint_names(collector, run: TargetRun, *, strict: bool) -> list[str]:
    """The endpoint names of the report; with `strict`, an endpoint named with -e (or a deployment named with -d)
    that does not exist is a typo, not a finding: TargetUnreadable (exit 2)."""
    target = run.target
    endpoints, error = collector.try_get("online_endpoints")
    if error is not None:
        if strict and error.kind == "not_found" and target.endpoints:
            raise TargetUnreadable(error.message)
        return list(target.endpoints) if strict else list(run.known_endpoints)
    names = [e.get("name", "?") for e in endpoints if isinstance(e, dict)] if isinstance(endpoints, list) else []
    if strict and target.deployment:
        _ensure_deployment_exists(collector, names)
    return names


def _ensure_deployment_exists(collector, endpoint_names: list[str]) -> None:
    target = collector.target
    answers = collector.gather([("deployments", name) for name in endpoint_names])
    if any(error is not None or not isinstance(value, list) for value, error in answers):
        return  # cannot tell: the checks report the unreadable lists
    wanted = target.deployment.lower()
    if any(isinstance(d, dict) and str(d.get("name", "")).lower() == wanted for value, _ in answers for d in value):
        return
    where = f"endpoints {', '.join(endpoint_names)}" if endpoint_names else "no online endpoints"
    raise TargetUnreadable(f"deployment {target.deployment!r} not found: workspace {target.workspace!r} has "
                           f"{where}, and none has a deployment of that name")


def _unreadable_error(target: Target, error: FactError) -> TargetUnreadable:
    if error.kind == "not_found":
        return TargetUnreadable(f"workspace {target.workspace!r} not found in resource group "
                                f"{target.resource_group!r} of subscription {target.subscription_id}")
    if error.kind == "unauthorized":
        return TargetUnreadable(f"Azure refused the credentials ({error.message}); run `az login`, "
                                f"or set {TOKEN_ENV} to a token from `az account get-access-token`")
    if error.kind == "no_credential":
        return TargetUnreadable(no_credential_help(error.message))
    return TargetUnreadable(f"the snapshot has no workspace: {error.message}")


def no_credential_help(message: str) -> str:
    return (f"{message}. Run `az login`, or set {TOKEN_ENV} to a token from `az account get-access-token`, or pick "
            "the credential with AZURE_TOKEN_CREDENTIALS (e.g. ManagedIdentityCredential on a self-hosted runner)")


def _unreadable_result(run: TargetRun, error: FactError) -> Result:
    target = run.target
    if error.kind == "not_found":  # deleted since the inventory listed it: nothing to diagnose
        return _target_result(target, Status.SKIP, f"workspace {target.workspace} no longer exists (Resource "
                              "Graph lists it; its index lags deletions by up to minutes)", Reason.NOT_FOUND)
    run.refused = error.message
    return _target_result(target, Status.ERROR, f"workspace {target.workspace} could not be read, so none of "
                          f"its checks ran: {error.message}", error.kind)


def _target_result(target: Target, status: Status, message: str, reason: str) -> Result:
    result = Result(UNREADABLE_CHECK_ID, status, message, resource_id=target.workspace_id, reason=reason,
                    expected="the workspace body, read from Resource Manager", observed=None)
    result.title, result.severity, result.docs = UNREADABLE_TITLE, "high", docs_url("scan.md")
    return result


def load_error_results() -> list[Result]:
    """Checks that could not even be loaded are errors of every target, not absent lines."""
    from moediag.registry import LOAD_ERRORS

    return [Result(LOAD_ERROR_CHECK_ID, Status.ERROR, message, reason=Reason.CRASHED, title="Checks could be loaded", severity="high", docs=docs_url("checks/"))
            for message in LOAD_ERRORS]


def _interleaved(runs: list[TargetRun]) -> list[TargetRun]:
    """Round robin over subscriptions: the targets running at once spread over subscriptions, so one
    subscription's bound (--max-per-subscription) does not serialise the whole fleet."""
    queues: dict[str, list[TargetRun]] = {}
    for run in runs:
        queues.setdefault(run.target.subscription_id.lower(), []).append(run)
    order: list[TargetRun] = []
    while any(queues.values()):
        order += [q.pop(0) for q in queues.values() if q]
    return order

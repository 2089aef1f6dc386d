"""`moediag scan`: the checks across a fleet of workspaces found by Azure Resource Graph, in one report.

1. One Resource Graph query (paged) finds the workspaces, their online endpoints and the visible
   subscriptions in scope (`moediag.graph`). Subscriptions named with --subscription that the identity cannot
   see are listed in the report with the reason, never silently dropped.
2. Each workspace gets its own `Collector` and the usual checks (`moediag.runner`), a bounded number of
   workspaces at a time. All collectors share one `Arm` (one overall bound on requests in flight, and one
   per subscription) and one `SharedFacts` memo: a fact identified by its arguments alone (a private DNS
   zone's links, a VNet, a DNS answer) is read once for every workspace that needs it.
3. One aggregate report: the results of every workspace, each tagged with its workspace's ARM id, a summary
   per workspace and in total, and the subscriptions that could not be read.

Resource Graph finds; Resource Manager proves: the evidence checks judge is always read from Resource Manager
(the graph's rows lag changes by up to minutes and are projections, not the bodies Azure serves).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from moediag.errors import FactError, TargetUnreadable, UsageError
from moediag.model import Reason, Result, Status
from moediag.target import Options, Target

CHECK_ID = "scan.workspace-readable"
CHECK_TITLE = "Workspace found by Resource Graph could be read"
DOCS = "docs/scan.md"
NOT_VISIBLE = ("not visible to this identity in Resource Graph: no role assignment on it (Reader grants "
               "Microsoft.ResourceGraph/resources/read), a subscription of another tenant, or no such subscription")
ANY_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


@dataclass
class ScanScope:
    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        kind = "subscriptions" if self.subscriptions else "management_groups" if self.management_groups else "tenant"
        return {"kind": kind, "subscriptions": list(self.subscriptions), "management_groups": list(self.management_groups)}


@dataclass
class _Workspace:
    """One workspace's run: filled in by a worker thread."""

    target: Target
    graph_endpoints: list[str]
    results: list[Result] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    refused: str | None = None  # why the workspace itself could not be read (forbidden, unauthorized)
    started: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def label(self) -> str:
        return f"{self.target.resource_group}/{self.target.workspace}"


def run(checks: list, options: Options, scope: ScanScope, *, arm_endpoint: str | None, max_concurrency: int,
        max_per_subscription: int, parallel_workspaces: int,
        progress: Callable[[list[str]], None] | None = None) -> dict[str, Any]:
    """Scan the fleet in `scope`; returns the aggregate report. TargetUnreadable when nothing can be scanned."""
    from moediag import session
    from moediag.collector import SharedFacts
    from moediag.graph import Graph
    from moediag.report import build_scan_report

    started = time.monotonic()
    deadline = started + options.timeout_s
    arm = session.live_arm(options, arm_endpoint, (scope.subscriptions or (ANY_SUBSCRIPTION,))[0], max_concurrency,
                           max_per_subscription)
    try:
        inventory = _inventory(Graph(arm), scope)
        unreadable = _invisible(scope, inventory)
        workspaces = [_Workspace(Target(w.subscription_id, w.resource_group, w.name),
                                 inventory.endpoints.get(w.id.lower(), [])) for w in inventory.workspaces]
        resolver = session.live_resolver(options, session.dns_limit(max_concurrency))
        fleet = _Fleet(checks, options, arm, resolver, SharedFacts(), deadline)
        interrupted = fleet.run(workspaces, max(1, parallel_workspaces), progress)
    finally:
        arm.close()
    unreadable += _refused_subscriptions(workspaces)
    notes = [] if workspaces else ["Resource Graph found no Machine Learning workspace in scope"]
    report = build_scan_report(
        [(w.target, w.endpoints, w.results) for w in workspaces], unreadable, scope=scope.to_json(),
        inventory={"source": "Azure Resource Graph", "workspaces": len(inventory.workspaces),
                   "endpoints": sum(len(v) for v in inventory.endpoints.values()),
                   "subscriptions": len(inventory.subscriptions), "pages": inventory.pages},
        interrupted=interrupted, notes=notes)
    report["duration_ms"] = int((time.monotonic() - started) * 1000)
    return report


def _inventory(graph, scope: ScanScope):
    from moediag.session import TOKEN_ENV

    try:
        return graph.inventory(list(scope.subscriptions), list(scope.management_groups))
    except FactError as exc:
        if exc.kind == "unauthorized":
            raise TargetUnreadable(f"Azure refused the credentials ({exc.message}); run `az login`, or set "
                                   f"{TOKEN_ENV} to a token from `az account get-access-token`") from exc
        if exc.kind == "forbidden":
            raise TargetUnreadable(f"Resource Graph refused the query ({exc.message}); the identity needs "
                                   "Microsoft.ResourceGraph/resources/read on the scope (Reader grants it)") from exc
        if exc.kind == "not_found" and scope.management_groups:
            raise TargetUnreadable(f"management group not found: {exc.message}") from exc
        raise TargetUnreadable(f"the fleet's inventory could not be read from Resource Graph ({exc.kind}): "
                               f"{exc.message}") from exc


def _invisible(scope: ScanScope, inventory) -> list[dict[str, str]]:
    """Subscriptions named with --subscription that the query did not show (Resource Graph omits them silently)."""
    visible = set(inventory.subscriptions) | {w.subscription_id.lower() for w in inventory.workspaces}
    return [{"subscription_id": sub, "reason": NOT_VISIBLE} for sub in scope.subscriptions if sub.lower() not in visible]


def _refused_subscriptions(workspaces: list[_Workspace]) -> list[dict[str, str]]:
    """Subscriptions whose every workspace was refused by Resource Manager (403/401), with the first reason."""
    by_subscription: dict[str, list[_Workspace]] = {}
    for ws in workspaces:
        by_subscription.setdefault(ws.target.subscription_id.lower(), []).append(ws)
    return [{"subscription_id": sub, "reason": f"Resource Graph lists {len(group)} workspace(s) here, but Resource "
                                               f"Manager refused to read them: {group[0].refused}"}
            for sub, group in sorted(by_subscription.items()) if all(ws.refused for ws in group)]


class _Fleet:
    """Runs workspaces on daemon threads, `parallel` at a time, all on one Arm, resolver and shared memo."""

    def __init__(self, checks: list, options: Options, arm: Any, dns: Any, shared: Any, deadline: float):
        self.checks, self.options, self.arm, self.dns, self.shared = checks, options, arm, dns, shared
        self.deadline = deadline
        self.interrupted = threading.Event()

    def run(self, workspaces: list[_Workspace], parallel: int, progress: Callable[[list[str]], None] | None) -> bool:
        """Every workspace gets its results; True when Ctrl-C stopped the scan."""
        todo: queue.SimpleQueue[_Workspace | None] = queue.SimpleQueue()
        for ws in _interleaved(workspaces):
            todo.put(ws)
        for i in range(min(parallel, len(workspaces))):
            todo.put(None)
            threading.Thread(target=self._work, args=(todo,), daemon=True, name=f"moediag-ws-{i}").start()
        try:
            for ws in workspaces:
                while not ws.done.wait(0.1):
                    if progress:
                        progress([w.label for w in workspaces if not w.done.is_set()])
                    if time.monotonic() > self.deadline + 5:  # a worker hung past the deadline: give up on it
                        break
        except KeyboardInterrupt:
            self.interrupted.set()
            grace = time.monotonic() + 2.0  # running workspaces report their unfinished checks as interrupted
            for ws in workspaces:
                if ws.started:
                    ws.done.wait(max(0.0, grace - time.monotonic()))
        if progress:
            progress([])
        for ws in workspaces:
            if not ws.done.is_set() or not ws.started:
                why = "the scan was interrupted" if self.interrupted.is_set() else "the scan's --timeout passed"
                ws.results = [_target_result(ws.target, Status.ERROR, f"workspace {ws.target.workspace} was not "
                              f"checked: {why}", Reason.INTERRUPTED if self.interrupted.is_set() else Reason.TIMED_OUT)]
        return self.interrupted.is_set()

    def _work(self, todo: queue.SimpleQueue) -> None:
        while (ws := todo.get()) is not None:
            try:
                self._check(ws)
            except Exception as exc:  # a bug must not lose the workspace: it becomes an error result
                ws.results = [_target_result(ws.target, Status.ERROR, f"the scan of workspace {ws.target.workspace} "
                                             f"crashed: {type(exc).__name__}: {exc}", Reason.CRASHED)]
            finally:
                ws.done.set()

    def _check(self, ws: _Workspace) -> None:
        from moediag.collector import Collector
        from moediag.runner import run_checks

        if self.interrupted.is_set() or time.monotonic() > self.deadline:
            return  # reported by run() as not checked
        ws.started = True
        collector = Collector(ws.target, self.options, arm=self.arm, dns=self.dns, workers=8, deadline=self.deadline,
                              shared=self.shared)
        collector.interrupted = self.interrupted  # one Ctrl-C stops every workspace
        try:
            collector.prefetch([("workspace",), ("online_endpoints",)])
            _, error = collector.try_get("workspace")
            if error is not None and error.kind in ("forbidden", "unauthorized", "not_found"):
                ws.endpoints = list(ws.graph_endpoints)
                ws.results = [_unreadable(ws, error)]
                return
            ws.results = run_checks(self.checks, collector).results
            endpoints, error = collector.try_get("online_endpoints")
            ws.endpoints = ([e.get("name", "?") for e in endpoints if isinstance(e, dict)]
                            if error is None and isinstance(endpoints, list) else list(ws.graph_endpoints))
        finally:
            collector.close()


def _interleaved(workspaces: list[_Workspace]) -> list[_Workspace]:
    """Round robin over subscriptions: the workspaces running at once spread over subscriptions, so one
    subscription's bound (--max-per-subscription) does not serialise the whole fleet."""
    queues: dict[str, list[_Workspace]] = {}
    for ws in workspaces:
        queues.setdefault(ws.target.subscription_id.lower(), []).append(ws)
    order: list[_Workspace] = []
    while any(queues.values()):
        order += [q.pop(0) for q in queues.values() if q]
    return order


def _unreadable(ws: _Workspace, error: FactError) -> Result:
    if error.kind == "not_found":  # deleted since Resource Graph indexed it: nothing to diagnose
        return _target_result(ws.target, Status.SKIP, f"workspace {ws.target.workspace} no longer exists (Resource "
                              "Graph lists it; its index lags deletions by up to minutes)", Reason.NOT_FOUND)
    ws.refused = error.message
    return _target_result(ws.target, Status.ERROR, f"workspace {ws.target.workspace} could not be read, so none of "
                          f"its checks ran: {error.message}", error.kind)


def _target_result(target: Target, status: Status, message: str, reason: str) -> Result:
    result = Result(CHECK_ID, status, message, resource_id=target.workspace_id, reason=reason,
                    expected="the workspace body, read from Resource Manager", observed=None)
    result.title, result.severity, result.docs = CHECK_TITLE, "high", DOCS
    return result


def parse_scope(subscriptions: tuple[str, ...], management_groups: tuple[str, ...]) -> ScanScope:
    from moediag.target import _GUID

    subs: list[str] = []
    for value in subscriptions:
        for sub in (s.strip() for s in value.split(",")):
            if not _GUID.match(sub):
                raise UsageError(f"malformed subscription id {sub!r}: expected a GUID like 00000000-0000-0000-0000-000000000000")
            if sub.lower() not in subs:
                subs.append(sub.lower())
    groups = [g.strip() for value in management_groups for g in value.split(",") if g.strip()]
    if subs and groups:
        raise UsageError("give --subscription or --management-group, not both (Resource Graph takes one kind of scope)")
    return ScanScope(tuple(subs), tuple(dict.fromkeys(groups)))

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moediag.engine import TOKEN_ENV, Budget, TargetRun
from moediag.errors import FactError, TargetUnreadable
from moediag.target import Options, Target

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


def run(checks: list, options: Options, scope: ScanScope, *, arm_endpoint: str, max_concurrency: int,
        max_per_subscription: int, parallel_workspaces: int,
        progress: Callable[[list[str]], None] | None = None,
        on_done: Callable[[TargetRun], None] | None = None, arm_rate: tuple[int, float] | None = None,
        on_pacing: Callable[[str | None], None] | None = None) -> dict[str, Any]:
    """Scan the fleet in `scope`; returns the aggregate report. TargetUnreadable when nothing can be scanned.
    `arm_rate`: each subscription's read budget, shared by every workspace of the scan (`on_pacing`: see
    session.live_arm)."""
    from moediag import session
    from moediag.graph import Graph

    budget = Budget(options.timeout_s)
    source = session.live_source(options, budget, arm_endpoint, (scope.subscriptions or (ANY_SUBSCRIPTION,))[0],
                                 max_concurrency, max_per_subscription=max_per_subscription, workers=8, fleet=True,
                                 arm_rate=arm_rate, on_pacing=on_pacing)
    try:
        inventory = _inventory(Graph(source.arm), scope)
    except BaseException:
        source.close()
        raise
    runs = [TargetRun(Target(w.subscription_id, w.resource_group, w.name), inventory.endpoints.get(w.id.lower(), []))
            for w in inventory.workspaces]
    result = session.run(
        "scan", checks, runs, source, budget, parallel=max(1, parallel_workspaces), progress=progress, on_done=on_done,
        scope=scope.to_json(),
        inventory={"source": "Azure Resource Graph", "workspaces": len(inventory.workspaces),
                   "endpoints": sum(len(v) for v in inventory.endpoints.values()),
                   "subscriptions": len(inventory.subscriptions), "pages": inventory.pages,
                   "limited_to_readable": True, "workspaces_by_subscription": _by_subscription(inventory)},
        notes=_visibility_notes(inventory, runs),
        unreadable_subscriptions=_invisible(scope, inventory))
    return result.report


def _by_subscription(inventory) -> dict[str, int]:
    """Workspaces Resource Graph showed in each visible subscription (0 included), in subscription order."""
    counts = {sub: 0 for sub in sorted(inventory.subscriptions)}
    for w in inventory.workspaces:
        counts[w.subscription_id.lower()] = counts.get(w.subscription_id.lower(), 0) + 1
    return counts


def _visibility_notes(inventory, runs: list) -> list[str]:
    """Partial visibility said out loud: Resource Graph shows only what this identity can read."""
    notes = ["The inventory is limited to what this identity can read: Resource Graph leaves out, without a word, "
             "the workspaces and subscriptions it may not see"]
    if not runs:
        notes.append("Resource Graph found no Machine Learning workspace in scope")
    empty = [sub for sub, n in _by_subscription(inventory).items() if n == 0]
    if empty:
        notes.append(f"{len(empty)} visible subscription(s) in scope hold no workspace this identity can see: "
                     + ", ".join(empty))
    return notes


def _inventory(graph, scope: ScanScope):
    try:
        return graph.inventory(list(scope.subscriptions), list(scope.management_groups))
    except FactError as exc:
        if exc.kind == "no_credential":
            from moediag.engine import no_credential_help

            raise TargetUnreadable(no_credential_help(exc.message)) from exc
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

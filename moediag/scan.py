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

import time
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
        max_per_subscription: int, parallel_workspaces: int, total_timeout_s: float | None = None,
        save_snapshot: bool = False, progress: Callable[[list[str]], None] | None = None,
        on_done: Callable[[TargetRun], None] | None = None, arm_rate: tuple[int, float] | None = None,
        on_pacing: Callable[[str | None], None] | None = None):
    """Scan the fleet in `scope`: the aggregate report (and the snapshot, with `save_snapshot`) as a
    `session.RunResult`. TargetUnreadable when nothing can be scanned.

    `options.timeout_s` bounds the inventory and then each workspace from when it starts; `total_timeout_s` the
    whole scan (`engine.Budget`). `arm_rate`: each subscription's read budget, shared by every workspace of the
    scan (`on_pacing`: see session.live_arm)."""
    from moediag import session
    from moediag.arm import reads_until
    from moediag.graph import Graph

    budget = Budget(options.timeout_s, total_timeout_s)
    source = session.live_source(options, budget, arm_endpoint, (scope.subscriptions or (ANY_SUBSCRIPTION,))[0],
                                 max_concurrency, max_per_subscription=max_per_subscription, workers=8, fleet=True,
                                 arm_rate=arm_rate, on_pacing=on_pacing)
    try:
        graph = Graph(source.arm)
        # the inventory has a budget of its own (--timeout), from when its query starts
        with reads_until(budget.deadline_from(time.monotonic()) - budget.read_margin_s):
            inventory = _inventory(graph, scope)
    except BaseException:
        source.close()
        raise
    return _scan(checks, source, budget, scope, inventory, mode="live", parallel=parallel_workspaces,
                 save_snapshot=save_snapshot, progress=progress, on_done=on_done)


def replay(snapshot: dict[str, Any], checks: list, *, timeout_s: float = 300.0, total_timeout_s: float | None = None,
           parallel_workspaces: int = 8, save_snapshot: bool = False,
           progress: Callable[[list[str]], None] | None = None,
           on_done: Callable[[TargetRun], None] | None = None):
    """Run `checks` on a loaded scan snapshot (`snapshot.load(path, "scan")`), offline: the inventory from its
    Resource Graph rows, each workspace from its own facts and the shared ones; a `session.RunResult`."""
    from moediag import session
    from moediag.graph import inventory_of

    stored = snapshot["inventory"]
    inventory = inventory_of(stored["rows"], stored.get("pages") or 0)
    scope = ScanScope(tuple(snapshot["scope"]["subscriptions"]), tuple(snapshot["scope"]["management_groups"]))
    entries = {Target.from_json(e["target"]).workspace_id.lower(): e for e in snapshot["targets"]}
    source = session.Source(session.stored_options(snapshot, timeout_s), facts=snapshot.get("shared_facts") or {},
                            target_facts={wid: e.get("facts") or {} for wid, e in entries.items()})
    not_run = {wid: e["not_evaluated"] for wid, e in entries.items() if e.get("not_evaluated")}
    return _scan(checks, source, Budget(timeout_s, total_timeout_s), scope, inventory, mode="snapshot",
                 parallel=parallel_workspaces, save_snapshot=save_snapshot, progress=progress, on_done=on_done,
                 not_run=not_run)


def _scan(checks: list, source, budget: Budget, scope: ScanScope, inventory, *, mode: str, parallel: int,
          save_snapshot: bool, progress, on_done, not_run: dict[str, str] | None = None):
    """The run of a scan, live or replayed: the same targets, report blocks and snapshot from an inventory."""
    from moediag import session
    from moediag import snapshot as snapshots

    runs = [TargetRun(Target(w.subscription_id, w.resource_group, w.name), inventory.endpoints.get(w.id.lower(), []))
            for w in inventory.workspaces]
    for run in runs:  # a replay: what the --total-timeout left unstarted stays so, with the same reason
        run.not_evaluated = (not_run or {}).get(run.target.workspace_id.lower())
    counts = _by_subscription(inventory)
    result = session.run(
        "scan", checks, runs, source, budget, mode=mode, parallel=max(1, parallel), save_snapshot=save_snapshot,
        progress=progress, on_done=on_done, scope=scope.to_json(),
        inventory={"source": "Azure Resource Graph", "workspaces": len(inventory.workspaces),
                   "endpoints": sum(len(v) for v in inventory.endpoints.values()),
                   "subscriptions": len(inventory.subscriptions), "pages": inventory.pages,
                   "limited_to_readable": True, "workspaces_by_subscription": counts,
                   "subscriptions_without_workspaces": _empty(counts),
                   "management_groups": _by_management_group(inventory, scope, counts)},
        notes=_visibility_notes(inventory, runs, scope, _empty(counts)),
        unreadable_subscriptions=_invisible(scope, inventory))
    if save_snapshot:
        targets = [{"target": run.target.to_json(), "facts": run.recorded or {},
                    **({"not_evaluated": run.not_evaluated} if not run.started and run.not_evaluated else {})}
                   for run in runs]
        shared = source.shared.recorded() if source.shared is not None else {}
        result.snapshot = snapshots.build_scan(scope.to_json(), session.options_json(source.options),
                                               inventory.source_rows, inventory.pages, shared, targets)
    return result


def _by_subscription(inventory) -> dict[str, int]:
    """Workspaces Resource Graph showed in each visible subscription (0 included), in subscription order."""
    counts = {sub: 0 for sub in sorted(inventory.subscriptions)}
    for w in inventory.workspaces:
        counts[w.subscription_id.lower()] = counts.get(w.subscription_id.lower(), 0) + 1
    return counts


def _empty(counts: dict[str, int]) -> list[str]:
    """Visible subscriptions in scope that returned no workspace (from `_by_subscription`)."""
    return [sub for sub, n in counts.items() if n == 0]


def _by_management_group(inventory, scope: ScanScope, counts: dict[str, int]) -> list[dict[str, Any]]:
    """Per management group (from each visible subscription's ancestors chain): its display name, its parent, the
    visible subscriptions under it at any depth, and the workspaces seen in them; root first, then by name. A
    management group named with --management-group that shows no subscription is listed with none."""
    groups: dict[str, dict[str, Any]] = {}
    for sub, chain in sorted(inventory.ancestors.items()):
        for depth, (name, display) in enumerate(chain):
            group = groups.setdefault(name.lower(), {"name": name, "display_name": display,
                                                      "parent": chain[depth + 1][0] if depth + 1 < len(chain) else None,
                                                      "depth": len(chain) - depth, "subscriptions": [], "workspaces": 0})
            group["subscriptions"].append(sub)
            group["workspaces"] += counts.get(sub, 0)
    for name in scope.management_groups if _chains_known(inventory) else ():
        groups.setdefault(name.lower(), {"name": name, "display_name": name, "parent": None, "depth": 0,
                                         "subscriptions": [], "workspaces": 0})
    ordered = sorted(groups.values(), key=lambda g: (g["depth"], g["name"].lower()))
    return [{k: v for k, v in g.items() if k != "depth"} for g in ordered]


def _chains_known(inventory) -> bool:
    """Whether the subscription rows told their management groups (or there is no visible subscription at all):
    only then can a management group in scope be said to show none."""
    return not inventory.subscriptions or any(inventory.ancestors.values())


def _visibility_notes(inventory, runs: list, scope: ScanScope, empty: list[str]) -> list[str]:
    """Partial visibility said out loud: Resource Graph shows only what this identity can read."""
    notes = ["The inventory is limited to what this identity can read: Resource Graph leaves out, without a word, "
             "the workspaces and subscriptions it may not see"]
    if not runs:
        notes.append("Resource Graph found no Machine Learning workspace in scope")
    if empty:
        notes.append(f"{len(empty)} visible subscription(s) in scope hold no workspace this identity can see: "
                     + ", ".join(empty))
    seen = {name.lower() for chain in inventory.ancestors.values() for name, _ in chain}
    blind = [name for name in scope.management_groups if name.lower() not in seen]
    if blind and _chains_known(inventory):
        notes.append(f"{len(blind)} management group(s) in scope show no subscription this identity can see: "
                     + ", ".join(blind))
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

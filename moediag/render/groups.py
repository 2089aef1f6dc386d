"""Findings of a scan report, grouped: the same broken zone across 40 workspaces is one finding, not 40.

Results that are not a pass or a skip are grouped by status and check id. Within a check, results about the
same shared resource in several workspaces (their resource ids live under one top-level resource that is not
the workspace itself: a private DNS zone, a hub VNet, a shared Key Vault) form one finding naming that
resource; the others form one finding per check. A pure function of the report, used by every renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moediag.resource_id import parse

STATUSES = ("fail", "error", "warn")
_SEVERITY = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


@dataclass
class Finding:
    status: str
    check_id: str
    title: str
    severity: str
    shared_resource: str | None  # the top-level resource several workspaces fail on, when they do
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def workspaces(self) -> list[str]:
        """The workspace ids of the results, in order of first appearance."""
        return list(dict.fromkeys(str(r.get("workspace") or "") for r in self.results))


def shared_resource(result: dict[str, Any]) -> str | None:
    """The top-level resource a result is about, unless that is the result's own workspace (lower case)."""
    rid = parse(result.get("resource_id"))
    if rid is None:
        return None
    top = rid.parent.lower()
    return None if top == str(result.get("workspace") or "").lower() else top


def findings(report: dict[str, Any], statuses: tuple[str, ...] = STATUSES) -> list[Finding]:
    """Grouped findings: by status (fail, error, warn), then severity, then how many workspaces, then check id."""
    out: list[Finding] = []
    for status in statuses:
        by_check: dict[str, list[dict[str, Any]]] = {}
        for result in report["results"]:
            if result["status"] == status:
                by_check.setdefault(result["check_id"], []).append(result)
        found: list[Finding] = []
        for check_id, results in by_check.items():
            first = results[0]
            shared: dict[str, list[dict[str, Any]]] = {}
            for result in results:
                key = shared_resource(result)
                if key:
                    shared.setdefault(key, []).append(result)
            grouped = {key: group for key, group in shared.items()
                       if len({str(r.get("workspace") or "").lower() for r in group}) > 1}
            for key, group in grouped.items():
                found.append(Finding(status, check_id, first["title"], first["severity"],
                                     _original_case(group[0], key), group))
            rest = [r for r in results if shared_resource(r) not in grouped]
            if rest:
                found.append(Finding(status, check_id, first["title"], first["severity"], None, rest))
        found.sort(key=lambda f: (_SEVERITY.get(f.severity, 9), -len(f.workspaces), f.check_id, f.shared_resource or ""))
        out += found
    return out


def _original_case(result: dict[str, Any], key: str) -> str:
    """The shared resource's id as the result wrote it (the grouping key is lower case)."""
    rid = parse(result.get("resource_id"))
    return rid.parent if rid is not None else key


def workspace_names(report: dict[str, Any]) -> dict[str, str]:
    """Lower-cased workspace id -> `resource-group/workspace` (what a person recognises in a fleet); where the same
    group and workspace names exist in several subscriptions (dev, test and prod reuse names), each carries its
    subscription too: `rg/ws (subscription 1234abcd…)`, so no two workspaces read the same in any format."""
    targets = report.get("targets") or []
    short = {t["workspace_id"].lower(): f"{t['resource_group']}/{t['workspace']}" for t in targets}
    seen: dict[str, int] = {}
    for name in short.values():
        seen[name.lower()] = seen.get(name.lower(), 0) + 1
    return {wid: name if seen[name.lower()] == 1 else f"{name} (subscription {_subscription(wid)})"
            for wid, name in short.items()}


def management_groups(report: dict[str, Any]) -> list[tuple[int, str, int, int]]:
    """The scan's workspaces seen per management group, for the table and Markdown: (depth under the top group
    shown, `Display name (name)`, workspaces, subscriptions), in the report's order (root first). Empty for a
    report without them (a check, an older scan)."""
    groups = [g for g in (report.get("inventory") or {}).get("management_groups") or [] if isinstance(g, dict)]
    parents = {str(g.get("name")).lower(): str(g.get("parent") or "").lower() for g in groups}

    def depth(name: str) -> int:
        seen: set[str] = set()
        while parents.get(name) and parents[name] in parents and name not in seen:
            seen.add(name)
            name = parents[name]
        return len(seen)

    out = []
    for g in groups:
        name, display = str(g.get("name")), str(g.get("display_name") or g.get("name"))
        label = name if display == name else f"{display} ({name})"
        out.append((depth(name.lower()), label, int(g.get("workspaces") or 0), len(g.get("subscriptions") or [])))
    return out


def _subscription(workspace_id: str) -> str:
    parts = workspace_id.split("/")
    sub = parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else "?"
    return sub if len(sub) <= 13 else sub[:8] + "…"


def root_cause_groups(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A scan report's `groups`: one per root cause shared by several workspaces (the same check failing on one
    shared resource, a private DNS zone or a hub VNet), with the workspaces and the result ids it affects: its own
    failures and everything the diagnosis says they explain. Consistent with each workspace's diagnosis: only
    root causes are grouped."""
    roots = set((report.get("diagnosis") or {}).get("root_causes") or ())
    explained: dict[str, list[str]] = {}
    for step in (report.get("diagnosis") or {}).get("plan") or []:
        for rid in step["results"]:
            explained.setdefault(step["results"][0], []).append(rid)
    groups = []
    for finding in findings(report, ("fail",)):
        mine = [r for r in finding.results if r.get("id") in roots]
        if finding.shared_resource is None or len({str(r.get("workspace") or "").lower() for r in mine}) < 2:
            continue
        affected = [i for r in mine for i in explained.get(r["id"], [r["id"]])]
        groups.append({"check_id": finding.check_id, "shared_resource": finding.shared_resource,
                       "workspaces": list(dict.fromkeys(str(r.get("workspace")) for r in mine)),
                       "root_causes": [r["id"] for r in mine], "results": list(dict.fromkeys(affected))})
    return groups

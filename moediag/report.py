"""The canonical JSON report: every rendering (table, JSON, JUnit, Markdown) is made from this one dict.

Also what gates on it (`exit_code`, with the `--fail-on` threshold) and what reads a saved one back
(`load`, for `moediag render`): a saved report is checked before any renderer sees it.
"""

from __future__ import annotations

import re
from typing import Any

from moediag import __version__
from moediag.clouds import CLOUDS
from moediag.clouds import DEFAULT as DEFAULT_CLOUD
from moediag.errors import UsageError
from moediag.model import SEVERITY_ORDER, Status

SCHEMA_VERSION = "1.1"  # 1.1 added result ids, caused_by and the diagnosis (additive: 1 reports still render)
READABLE_VERSIONS = ("1", SCHEMA_VERSION)
STATUSES = tuple(s.value for s in Status)

# --fail-on: which statuses make exit code 1. An `error` is never among them: whatever the threshold,
# a check that could not be evaluated gives 3 when nothing counted as failed (a broken run never looks green).
FAIL_ON = {"fail": ("fail",), "warn": ("fail", "warn"), "never": ()}
EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 3


def build_report(kind: str, runs: list, *, mode: str, interrupted: bool = False, notes: list[str] | None = None,
                 cloud: str | None = None, **blocks: Any) -> dict[str, Any]:
    """The report of a run, from its targets (`moediag.engine.TargetRun`s), for `check` and `scan` alike.

    A `check` report has one `target`; a `scan` report has `targets` (each with its own summary), tags every
    result with its workspace's ARM id, and carries the blocks its command adds (`scope`, `inventory`,
    `unreadable_subscriptions`). Block order is the order of the schema's description. `cloud`: the Azure cloud
    the run judged by (whose zone and host names it expected).
    """
    where = {"mode": mode, **({"cloud": cloud} if cloud else {})}
    head = {"schema_version": SCHEMA_VERSION, "tool": {"name": "moediag", "version": __version__}}
    if kind == "check":
        [run] = runs
        target = run.target
        plain = [r.to_json() for r in run.results]
        return {**head,
                "target": {"subscription_id": target.subscription_id, "resource_group": target.resource_group,
                           "workspace": target.workspace, "endpoints": list(run.endpoints)},
                **where, "interrupted": interrupted, "notes": list(notes or []), **blocks,
                "summary": summarize(plain), "results": plain}
    targets, plain = [], []
    for run in runs:
        target = run.target
        mine = [{**r.to_json(), "workspace": target.workspace_id} for r in run.results]
        plain += mine
        targets.append({"subscription_id": target.subscription_id, "resource_group": target.resource_group,
                        "workspace": target.workspace, "workspace_id": target.workspace_id,
                        "endpoints": list(run.endpoints), "summary": summarize(mine)})
    unreadable = blocks.pop("unreadable_subscriptions", []) + _refused_subscriptions(runs)
    return {**head, "kind": kind, **blocks, **where, "interrupted": interrupted, "notes": list(notes or []),
            "summary": summarize(plain), "targets": targets,
            "unreadable_subscriptions": [dict(u) for u in unreadable], "results": plain}


def _refused_subscriptions(runs: list) -> list[dict[str, str]]:
    """Subscriptions whose every workspace Resource Manager refused (403/401), with the first reason."""
    by_subscription: dict[str, list] = {}
    for run in runs:
        by_subscription.setdefault(run.target.subscription_id.lower(), []).append(run)
    return [{"subscription_id": sub, "reason": f"Resource Graph lists {len(group)} workspace(s) here, but Resource "
                                               f"Manager refused to read them: {group[0].refused}"}
            for sub, group in sorted(by_subscription.items()) if all(run.refused for run in group)]


def finish(report: dict[str, Any], checks: Any = None) -> dict[str, Any]:
    """After the checks ran and suppressions applied: recount, give results ids, link causes, diagnose."""
    from moediag import diagnosis
    from moediag.registry import all_checks

    resummarize(report)
    meta = diagnosis.meta_of(checks if checks is not None else all_checks().values())
    results = report["results"]
    diagnosis.assign_ids(results)
    diagnosis.link(results, meta)
    report["diagnosis"] = diagnosis.diagnose(results, meta, _endpoints_of(report))
    if report.get("kind") == "scan":
        from moediag.render.groups import root_cause_groups

        report["groups"] = root_cause_groups(report)
    return report


def _endpoints_of(report: dict[str, Any]) -> dict[str, list[tuple[str, list[str]]]]:
    """Per workspace ('' in a check report), each endpoint and the deployments results name under it."""
    blocks = report.get("targets") or [dict(report.get("target") or {}, workspace_id="")]
    by_workspace = _by_workspace(report["results"])
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for block in blocks:
        key = str(block.get("workspace_id") or "").lower()
        deployments: dict[str, list[str]] = {str(e).lower(): [] for e in block.get("endpoints") or []}
        for result in by_workspace.get(key, []):
            parts = str(result.get("resource_id") or "").strip("/").split("/")
            lowered = [p.lower() for p in parts]
            if "onlineendpoints" in lowered and "deployments" in lowered:
                i, j = lowered.index("onlineendpoints"), lowered.index("deployments")
                if i + 1 < j and j + 1 < len(parts) and lowered[i + 1] in deployments:
                    names = deployments[lowered[i + 1]]
                    if parts[j + 1].lower() not in (n.lower() for n in names):
                        names.append(parts[j + 1])
        out[key] = [(e, deployments[str(e).lower()]) for e in block.get("endpoints") or []]
    return out


def resummarize(report: dict[str, Any]) -> dict[str, Any]:
    """Recount the summaries after results changed (suppressions): in total, and per workspace of a scan."""
    report["summary"] = summarize(report["results"])
    by_workspace = _by_workspace(report["results"])  # once: a 300-workspace scan has 12,000 results
    for target in report.get("targets") or []:
        workspace_id = target["workspace_id"]
        target["summary"] = summarize(by_workspace.get(workspace_id.lower(), []) if isinstance(workspace_id, str) else [])
    return report


def _by_workspace(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Results by their workspace's lower-cased id ('' for a check report's, which carry none)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        workspace = result.get("workspace")
        out.setdefault(workspace.lower() if isinstance(workspace, str) else "", []).append(result)
    return out


def summarize(results: list[dict[str, Any]]) -> dict[str, int]:
    """The `summary` block: how many results have each status (every status present, zero or not)."""
    summary = {status: 0 for status in STATUSES}
    for result in results:
        summary[result["status"]] += 1
    return summary


def exit_code(report: dict[str, Any], fail_on: str = "fail") -> int:
    """1 when a result's status is at or above the `fail_on` threshold; else 3 when a check could not be
    evaluated (`error`); else 0. Interruption (130) is the caller's business. Table: docs/exit-codes.md."""
    summary = report["summary"]
    if any(summary.get(status) for status in FAIL_ON[fail_on]):
        return EXIT_FAILED
    if summary.get("error") or report.get("unreadable_subscriptions"):  # part of a fleet not read: not green
        return EXIT_INCOMPLETE
    return EXIT_OK


def worst_first(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {s.value: i for s, i in SEVERITY_ORDER.items()}
    return sorted(results, key=lambda r: order.get(r["status"], 9))


def resource_label(resource_id: str | None) -> str:
    """What people recognise in a resource id: the types and names after the provider namespace
    (`vaults/kv`, `workspaces/ws/onlineEndpoints/ep/deployments/blue`); unique within a report."""
    if not resource_id:
        return "(no resource)"
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" in lowered:
        last = len(lowered) - 1 - lowered[::-1].index("providers")
        tail = parts[last + 2:]
        if tail:
            return "/".join(tail)
    return "/".join(parts[-2:]) if len(parts) >= 2 else resource_id


# --- reading a saved report back -------------------------------------------------------------------

MAX_DEPTH = 208  # a report nests evidence a few levels deeper than the snapshot it came from (inputs.MAX_DEPTH + 8)


def load(path: str) -> dict[str, Any]:
    """A saved report (`-` = standard input), checked against the schema's rules: one-line UsageError."""
    from moediag.inputs import parse_json, read_text

    what = f"report {path}"
    return checked(parse_json(read_text(path, what), what, max_depth=MAX_DEPTH), path)


def checked(data: Any, name: str) -> dict[str, Any]:
    """`data` (parsed JSON: read from `name`, or handed to the MCP server) as a report moediag can trust, else a
    one-line UsageError naming `name`."""
    if not isinstance(data, dict) or "schema_version" not in data:
        raise UsageError(f"{name} is not a moediag report (no \"schema_version\")")
    if data["schema_version"] not in READABLE_VERSIONS:
        shown = repr(data["schema_version"])
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise UsageError(f"report {name} has schema_version {shown}; this moediag {__version__} "
                         f"reads schema_version {SCHEMA_VERSION!r}")
    problem = invalid(data)
    if problem:
        raise UsageError(f"report {name} is invalid: {problem}")
    return data


def invalid(report: Any) -> str | None:
    """What is wrong with `report` by docs/report.schema.json (the rules renderers rely on), or None.

    Hand-written so `moediag render` needs no JSON Schema library; tests/test_reports.py holds it to agree
    with the schema file.
    """
    try:
        _validate(report)
    except _Invalid as exc:
        return str(exc)
    return None


_CHECK_ID = re.compile(r"^[a-z0-9]+(\.[a-z0-9-]+)+$")


class _Invalid(Exception):
    pass


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise _Invalid(f"{where}: {what}")


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    if value is None or isinstance(value, bool):
        return type(value) in types
    if isinstance(value, int):
        return int in types and value >= 0
    return isinstance(value, tuple(t for t in types if t not in (int, bool, type(None))))


def _type_names(types: tuple[type, ...]) -> str:
    names = {type(None): "null", int: "a non-negative integer", str: "a string", dict: "an object", list: "an array",
             bool: "true or false"}
    return " or ".join(names[t] for t in types)


def _fields(obj: Any, where: str, required: dict[str, tuple[type, ...]],
            optional: dict[str, tuple[type, ...]] | None = None) -> None:
    _need(isinstance(obj, dict), where, "must be an object")
    for key, types in {**required, **(optional or {})}.items():
        if key in obj:
            _need(_has_type(obj[key], types), f"{where}.{key}", f"must be {_type_names(types)}")
        else:
            _need(key not in required, where, f"{key!r} is missing")


def _validate(report: Any) -> None:
    scan = isinstance(report, dict) and report.get("kind") == "scan"
    kind = {"targets": (list,), "unreadable_subscriptions": (list,)} if scan else {"target": (dict,)}
    _fields(report, "report", {"schema_version": (str,), "tool": (dict,), **kind, "summary": (dict,), "results": (list,)},
            {"mode": (str,), "interrupted": (bool,), "notes": (list,), "duration_ms": (int,), "kind": (str,),
             "target": (dict,), "scope": (dict,), "inventory": (dict,), "groups": (list,), "diagnosis": (dict,),
             "cloud": (str,)})
    _fields(report["tool"], "tool", {"name": (str,), "version": (str,)})
    _need(report["tool"]["name"] == "moediag", "tool.name", "must be 'moediag'")
    _need(report.get("kind", "check") in ("check", "scan"), "kind", "must be check or scan")
    if "target" in report:
        _target(report["target"], "target")
    _need(report.get("mode", "live") in ("live", "snapshot"), "mode", "must be live or snapshot")
    cloud = report.get("cloud", DEFAULT_CLOUD)
    _need(isinstance(cloud, str) and cloud in CLOUDS, "cloud", f"must be one of {', '.join(CLOUDS)}")
    _need(all(isinstance(n, str) for n in report.get("notes", [])), "notes", "must be strings")
    _fields(report["summary"], "summary", {status: (int,) for status in STATUSES})
    for i, result in enumerate(report["results"]):
        where = f"results[{i}]"
        _fields(result, where, {"check_id": (str,), "title": (str,), "severity": (str,), "status": (str,),
                                "reason": (str, type(None)), "resource_id": (str, type(None)), "message": (str,),
                                "evidence": (dict,), "fix": (dict, type(None)), "docs": (str,), "duration_ms": (int,),
                                **({"workspace": (str,)} if scan else {})},
                {"workspace": (str,), "id": (str,), "caused_by": (list,)})
        _need(all(isinstance(c, str) for c in result.get("caused_by", [])), f"{where}.caused_by", "must be result ids")
        _need(bool(_CHECK_ID.match(result["check_id"])), f"{where}.check_id", f"malformed check id {result['check_id']!r}")
        _need(result["status"] in STATUSES, f"{where}.status", f"must be one of {', '.join(STATUSES)}")
        _need(result["severity"] in ("critical", "high", "medium", "low", "info"), f"{where}.severity", "unknown severity")
        _need(bool(result["title"]) and bool(result["message"]), where, "title and message must not be empty")
        _need("expected" in result["evidence"] and "observed" in result["evidence"], f"{where}.evidence",
              "needs expected and observed")
        if result["status"] in ("skip", "error"):
            _need(bool(result["reason"]), f"{where}.reason", f"a {result['status']} needs a reason")
        if result["status"] == "fail":
            _need(result["fix"] is not None, f"{where}.fix", "a fail needs a fix")
        if result["fix"] is not None:
            _fields(result["fix"], f"{where}.fix", {"summary": (str,), "commands": (list,)})
            _need(all(isinstance(c, str) for c in result["fix"]["commands"]), f"{where}.fix.commands", "must be strings")
    _need({k: report["summary"][k] for k in STATUSES} == summarize(report["results"]), "summary",
          "does not match the results' statuses")
    if "diagnosis" in report:
        _validate_diagnosis(report["diagnosis"], {r.get("id") for r in report["results"]})
    for i, group in enumerate(report.get("groups") or []):
        _fields(group, f"groups[{i}]", {"check_id": (str,), "shared_resource": (str,), "workspaces": (list,),
                                        "root_causes": (list,), "results": (list,)})
    if scan:
        _validate_scan(report)


def _validate_diagnosis(diag: Any, ids: set) -> None:
    """The diagnosis block: every id it names is a result of the report (renderers look them up)."""
    _fields(diag, "diagnosis", {"root_causes": (list,), "paths": (list,), "plan": (list,)})
    _need(_all_ids(ids, diag["root_causes"]), "diagnosis.root_causes", "must be ids of results")
    for i, path in enumerate(diag["paths"]):
        where = f"diagnosis.paths[{i}]"
        _fields(path, where, {"endpoint": (str,), "deployment": (str, type(None)), "kind": (str,), "hops": (list,),
                              "blocked_at": (str, type(None))}, {"workspace": (str,)})
        for j, hop in enumerate(path["hops"]):
            _fields(hop, f"{where}.hops[{j}]", {"name": (str,), "status": (str,), "results": (list,)},
                    {"assumed": (str,)})
            _need(_all_ids(ids, hop["results"]), f"{where}.hops[{j}].results", "must be ids of results")
    for i, step in enumerate(diag["plan"]):
        where = f"diagnosis.plan[{i}]"
        _fields(step, where, {"step": (int,), "results": (list,), "summary": (str,), "commands": (list,),
                              "risk": (str,)})
        _need(step["risk"] in ("safe", "disruptive", "destructive"), f"{where}.risk", "unknown risk")
        _need(_all_ids(ids, step["results"]), f"{where}.results", "must be ids of results")
        _need(all(isinstance(c, str) for c in step["commands"]), f"{where}.commands", "must be strings")


def _all_ids(ids: set, values: list) -> bool:
    """Every value is the id of a result (a hostile report may put anything there, even what cannot be hashed)."""
    return all(isinstance(v, str) and v in ids for v in values)


def _target(target: Any, where: str, extra: dict[str, tuple[type, ...]] | None = None) -> None:
    _fields(target, where, {"subscription_id": (str,), "resource_group": (str,), "workspace": (str,),
                            "endpoints": (list,), **(extra or {})})
    _need(all(isinstance(e, str) for e in target["endpoints"]), f"{where}.endpoints", "must be strings")


def _validate_inventory(inventory: Any) -> None:
    """What renderers read of a scan's inventory: the visibility counts, when present (older reports lack them)."""
    _fields(inventory, "inventory", {}, {"limited_to_readable": (bool,), "workspaces_by_subscription": (dict,),
                                         "subscriptions_without_workspaces": (list,), "management_groups": (list,)})
    for sub, count in (inventory.get("workspaces_by_subscription") or {}).items():
        _need(_has_type(count, (int,)), f"inventory.workspaces_by_subscription.{sub}", "must be a non-negative integer")
    _need(all(isinstance(s, str) for s in inventory.get("subscriptions_without_workspaces") or []),
          "inventory.subscriptions_without_workspaces", "must be strings")
    for i, group in enumerate(inventory.get("management_groups") or []):
        where = f"inventory.management_groups[{i}]"
        _fields(group, where, {"name": (str,), "display_name": (str,), "parent": (str, type(None)),
                               "subscriptions": (list,), "workspaces": (int,)})
        _need(all(isinstance(s, str) for s in group["subscriptions"]), f"{where}.subscriptions", "must be strings")


def _validate_scan(report: dict[str, Any]) -> None:
    if "inventory" in report:
        _validate_inventory(report["inventory"])
    by_workspace = _by_workspace([r for r in report["results"] if isinstance(r, dict)])
    for i, target in enumerate(report["targets"]):
        where = f"targets[{i}]"
        _target(target, where, {"workspace_id": (str,), "summary": (dict,)})
        _fields(target["summary"], f"{where}.summary", {status: (int,) for status in STATUSES})
        mine = by_workspace.get(target["workspace_id"].lower(), []) if target["workspace_id"] else []
        _need({k: target["summary"][k] for k in STATUSES} == summarize(mine), f"{where}.summary",
              "does not match the statuses of the workspace's results")
    for i, entry in enumerate(report["unreadable_subscriptions"]):
        _fields(entry, f"unreadable_subscriptions[{i}]", {"subscription_id": (str,), "reason": (str,)})
        _need(bool(entry["reason"]), f"unreadable_subscriptions[{i}].reason", "must not be empty")

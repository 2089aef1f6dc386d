"""`moediag diff OLD NEW`: it worked yesterday; what changed?

OLD and NEW are two reports or two snapshots (of a `check` or a `scan`). A snapshot is replayed offline first (every
check, as `check --snapshot` would), so both sides are reports. Results are matched by their id (check id and
resource); what comes out is a report of its own (`"kind": "diff"`):

- `changes`: the results whose verdict changed, worse first (pass -> fail before fail -> pass), each with the
  evidence fields that changed (`evidence_changes`: JSON paths with the old and the new value) and, when both sides
  are snapshots, what changed in the bodies the check read (`fact_changes`: fact key, JSON path, old, new);
- `appeared` / `disappeared`: resources judged on one side only (a deployment added, an endpoint deleted);
- `summary`: how many verdicts got worse, better, or changed otherwise.

Exit code: 1 when a verdict got worse, else 0 (2 for input moediag cannot read).
"""

from __future__ import annotations

from typing import Any

from moediag import __version__
from moediag.errors import UsageError

DIFF_VERSION = "1"
# Worst first: a move to an earlier status is worse (an error is worse than a warning: it hides what it checks).
RANK = {"fail": 0, "error": 1, "warn": 2, "skip": 3, "pass": 4}
MAX_CHANGES = 50  # changed paths listed per result or fact: enough to read, bounded for a rewritten body


def load_side(path: str, checks: list) -> tuple[dict[str, Any], dict[str, dict[str, Any]] | None]:
    """(report, snapshot facts or None) of one side: a saved report as it is, a snapshot (of a check or a scan)
    replayed offline. Facts come per workspace: by lower-cased workspace id, '' for a check's one workspace."""
    from moediag.inputs import parse_json, read_text

    return side(parse_json(read_text(path, path), path), path, checks)


def side(data: Any, name: str, checks: list) -> tuple[dict[str, Any], dict[str, dict[str, Any]] | None]:
    """`load_side` of parsed JSON (read from `name`, or handed to the MCP server)."""
    if isinstance(data, dict) and "schema_version" in data:
        from moediag.report import checked

        return checked(data, name), None
    if isinstance(data, dict) and data.get("format") == "moediag-snapshot":
        from moediag import session, snapshot
        from moediag.report import finish

        if snapshot.kind_of(data) == "scan":
            from moediag import scan
            from moediag.target import Target

            loaded = snapshot.checked(data, name, "scan")
            shared = loaded.get("shared_facts") or {}
            facts = {Target.from_json(e["target"]).workspace_id.lower(): {**shared, **(e.get("facts") or {})}
                     for e in loaded["targets"]}
            return finish(scan.replay(loaded, checks).report, checks), facts
        loaded = snapshot.checked(data, name)
        return finish(session.replay(loaded, checks).report, checks), {"": loaded["facts"]}
    raise UsageError(f"{name} is neither a moediag report nor a moediag snapshot")


def diff(old: dict[str, Any], new: dict[str, Any], old_facts: dict[str, Any] | None = None,
         new_facts: dict[str, Any] | None = None, facts_of: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """The diff report of two reports (and, when given, the snapshot facts behind them)."""
    before, after = _by_id(old), _by_id(new)
    pairs = [(rid, before[rid], now) for rid, now in after.items() if rid in before]
    pairs += _moved(before, after)
    paired_old, paired_new = {id(p[1]) for p in pairs}, {id(p[2]) for p in pairs}
    changes = []
    for rid, then, now in pairs:
        if then["status"] == now["status"]:
            continue
        change: dict[str, Any] = {
            "id": rid, "check_id": now["check_id"], "resource_id": now.get("resource_id"),
            "old_status": then["status"], "new_status": now["status"],
            "direction": "worse" if RANK[now["status"]] < RANK[then["status"]] else "better",
            "old_message": then["message"], "new_message": now["message"],
            "evidence_changes": changed_paths(then.get("evidence"), now.get("evidence")),
        }
        if old_facts is not None and new_facts is not None:
            declared = (facts_of or {}).get(now["check_id"], ())
            workspace = str(now.get("workspace") or "").lower()  # a scan's: that workspace's facts
            change["fact_changes"] = _fact_changes(_facts_of(old_facts, workspace), _facts_of(new_facts, workspace),
                                                   declared)
        changes.append(change)
    changes.sort(key=lambda c: (c["direction"] != "worse", RANK[c["new_status"]], c["id"]))
    appeared = [_brief(r) for r in after.values() if id(r) not in paired_new]
    disappeared = [_brief(r) for r in before.values() if id(r) not in paired_old]
    return {
        "kind": "diff",
        "diff_version": DIFF_VERSION,
        "tool": {"name": "moediag", "version": __version__},
        "old": _side(old), "new": _side(new),
        "summary": {"worse": sum(c["direction"] == "worse" for c in changes),
                    "better": sum(c["direction"] == "better" for c in changes),
                    "appeared": len(appeared), "disappeared": len(disappeared)},
        "changes": changes, "appeared": appeared, "disappeared": disappeared,
    }


def exit_code(report: dict[str, Any]) -> int:
    return 1 if report["summary"]["worse"] else 0


def changed_paths(old: Any, new: Any, path: str = "$") -> list[dict[str, Any]]:
    """Leaf-level differences between two JSON values: [{path, old, new}], at most MAX_CHANGES. A key missing on
    one side shows as None there; lists are compared item by item (a list of another length changes at the end)."""
    out: list[dict[str, Any]] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if len(out) >= MAX_CHANGES or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key), b.get(key), f"{where}.{key}")
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                walk(a[i] if i < len(a) else None, b[i] if i < len(b) else None, f"{where}[{i}]")
        else:
            out.append({"path": where, "old": a, "new": b})

    walk(old, new, path)
    return out


def _facts_of(facts: dict[str, dict[str, Any]], workspace: str) -> dict[str, Any]:
    """One workspace's facts (a check snapshot's are under '', whatever the other side is)."""
    return facts.get(workspace) or facts.get("") or {}


def _fact_changes(old: dict[str, Any], new: dict[str, Any], declared: tuple[str, ...]) -> list[dict[str, Any]]:
    """What changed in the snapshot facts a check declared (every fact key of those names, on either side)."""
    keys = sorted(k for k in set(old) | set(new) if k.split("|", 1)[0] in declared)
    out = []
    for key in keys:
        for change in changed_paths(old.get(key), new.get(key)):
            out.append({"fact": key, **change})
            if len(out) >= MAX_CHANGES:
                return out
    return out


def _moved(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[tuple[str, dict, dict]]:
    """Results of one check whose resource changed with the verdict (a pass about the workspace, then a failure
    about the rule that broke): when a check has exactly one unmatched result on each side and both are verdicts
    (a skip is no verdict: a deleted deployment's checks becoming "no deployments" skips is a disappearance)."""
    lone_old: dict[str, list[dict[str, Any]]] = {}
    lone_new: dict[str, list[dict[str, Any]]] = {}
    for rid, r in before.items():
        if rid not in after:
            lone_old.setdefault(r["check_id"], []).append(r)
    for rid, r in after.items():
        if rid not in before:
            lone_new.setdefault(r["check_id"], []).append(r)
    return [(news[0]["id"], lone_old[cid][0], news[0]) for cid, news in lone_new.items()
            if len(news) == 1 and len(lone_old.get(cid, ())) == 1
            and "skip" not in (news[0]["status"], lone_old[cid][0]["status"])]


def _by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Results by id; a schema-1 report (no ids) gets them as a 1.1 report would."""
    from moediag.diagnosis import assign_ids

    results = [dict(r) for r in report["results"]]
    if any("id" not in r for r in results):
        assign_ids(results)
    return {r["id"]: r for r in results}


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    return {"id": result["id"], "check_id": result["check_id"], "resource_id": result.get("resource_id"),
            "status": result["status"], "message": result["message"]}


def _side(report: dict[str, Any]) -> dict[str, Any]:
    side: dict[str, Any] = {"kind": report.get("kind", "check"), "mode": report.get("mode"),
                            "summary": report.get("summary")}
    if "target" in report:
        side["target"] = report["target"]
    if "scope" in report:
        side["scope"] = report["scope"]
    return side

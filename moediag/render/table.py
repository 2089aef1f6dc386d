"""The terminal report, doctor-style: what is broken first, each with its fix; passes one line each.

Every piece of text taken from the report goes through `inert` (escape sequences, CR, bidi overrides and the like
from evidence are shown escaped, never emitted): the only control characters in the output are the layout's
newlines and, with colour, click.style's own SGR sequences.
"""

from __future__ import annotations

from typing import Any

import click

from moediag.render.inert import inert
from moediag.report import worst_first

_MARK = {"fail": ("✗ FAIL", "red"), "error": ("? ERROR", "magenta"), "warn": ("! WARN", "yellow"),
         "skip": ("- SKIP", "bright_black"), "pass": ("✓ PASS", "green")}


def _short(resource_id: str | None) -> str:
    """The tail of a resource id (type/name pairs after the workspace) is what people recognise."""
    if not resource_id:
        return ""
    parts = str(resource_id).strip("/").split("/")
    return inert("/".join(parts[-2:]) if len(parts) >= 2 else resource_id)


def _value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return inert(json.dumps(value, ensure_ascii=False))
    return "—" if value is None else inert(value)


def render(report: dict[str, Any], color: bool = False) -> str:
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    if report.get("kind") == "scan":
        return render_scan(report, style)
    target, tool = report["target"], report["tool"]
    lines = [
        style(f"moediag {inert(tool['version'])}", bold=True)
        + f" · workspace {inert(target['workspace'])} · group {inert(target['resource_group'])}"
        + f" · subscription {inert(target['subscription_id'])} · {len(target.get('endpoints') or [])} endpoint(s)"
        + (" · replayed from snapshot" if report.get("mode") == "snapshot" else ""),
        "",
    ]
    for result in worst_first(report["results"]):
        mark, colour = _MARK[result["status"]]
        head = f"{style(mark.ljust(8), fg=colour, bold=True)} {inert(result['check_id'])}  {_short(result.get('resource_id'))}"
        lines.append(head)
        if result["status"] == "pass":
            continue
        lines.append(f"         {inert(result['message'])}")
        evidence = result.get("evidence") or {}
        if result["status"] in ("fail", "warn", "error") and (evidence.get("expected") is not None or evidence.get("observed") is not None):
            lines.append(f"         expected: {_value(evidence.get('expected'))}")
            lines.append(f"         observed: {_value(evidence.get('observed'))}")
        fix = result.get("fix")
        if fix and result["status"] in ("fail", "warn", "error"):
            lines.append(f"         fix: {inert(fix['summary'])}")
            for command in fix.get("commands") or []:
                lines.append("           " + style(f"$ {inert(command)}", fg="cyan"))
        if result["status"] in ("fail", "error") and result.get("resource_id"):
            lines.append(style(f"         resource: {inert(result['resource_id'])}", fg="bright_black"))
    for note in report.get("notes") or []:
        lines.append(style(f"note: {inert(note)}", fg="bright_black"))
    return "\n".join(lines + _closing(report, style)) + "\n"


def _closing(report: dict[str, Any], style) -> list[str]:
    summary = report["summary"]
    counts = ", ".join(f"{summary[k]} {k}" for k in ("fail", "error", "warn", "skip", "pass") if summary.get(k))
    lines = ["", style("Summary: ", bold=True) + (counts or "no results")]
    if report.get("interrupted"):
        lines.append(style("Interrupted: results are incomplete.", fg="yellow"))
    return lines


# --- a fleet scan: one line per workspace, then the findings grouped ------------------------------------

# A finding of at most DETAILED results shows each with its message and fix; a larger one shows the first, then
# one line per workspace (at most LISTED) naming its resources.
DETAILED, LISTED = 3, 25
_COUNTS = ("fail", "error", "warn", "skip", "pass")


def render_scan(report: dict[str, Any], style) -> str:
    from moediag.render.groups import findings, workspace_names

    tool, targets = report["tool"], report["targets"]
    inventory = report.get("inventory") or {}
    endpoints = sum(len(t["endpoints"]) for t in targets)
    subscriptions = len({t["subscription_id"].lower() for t in targets})
    lines = [style(f"moediag {inert(tool['version'])}", bold=True) + f" · scan · {len(targets)} workspace(s) · {endpoints} "
             f"endpoint(s) · {subscriptions} subscription(s) · inventory: {inert(inventory.get('source', 'Resource Graph'))}",
             ""]
    header = ("WORKSPACE", "RESOURCE GROUP", "SUBSCRIPTION", "ENDPOINTS", *(k.upper() for k in _COUNTS))
    rows = [(inert(t["workspace"]), inert(t["resource_group"]), inert(t["subscription_id"]), str(len(t["endpoints"])),
             *(str(t["summary"].get(k, 0)) for k in _COUNTS)) for t in targets]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row, target in zip([header, *rows], [None, *targets]):
        text = "  ".join(cell.ljust(width) if i < 3 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths)))
        worst = next((k for k in ("fail", "error", "warn") if target and target["summary"].get(k)), None)
        lines.append(style(text, bold=True) if target is None else style(text, fg=_MARK[worst][1]) if worst else text)
    unreadable = report.get("unreadable_subscriptions") or []
    if unreadable:
        lines += ["", style(f"Subscriptions not read ({len(unreadable)}):", bold=True, fg="magenta")]
        lines += [f"  ? {inert(u['subscription_id'])}: {inert(u['reason'])}" for u in unreadable]
    names = workspace_names(report)
    grouped = findings(report)
    if grouped:
        lines += ["", style("Findings, grouped by check and shared resource:", bold=True)]
    for finding in grouped:
        lines += [""] + _finding(finding, names, style)
    for note in report.get("notes") or []:
        lines.append(style(f"note: {inert(note)}", fg="bright_black"))
    affected = sum(1 for t in targets if t["summary"].get("fail"))
    lines += _closing(report, style)
    lines.append(f"Workspaces: {len(targets)} scanned, {affected} with failures"
                 + (f"; {len(unreadable)} subscription(s) not read" if unreadable else ""))
    return "\n".join(lines) + "\n"


def _finding(finding, names: dict[str, str], style) -> list[str]:
    from moediag.report import resource_label

    mark, colour = _MARK[finding.status]
    spaces = finding.workspaces
    where = f"shared resource {inert(resource_label(finding.shared_resource))} · " if finding.shared_resource else ""
    lines = [f"{style(mark.ljust(8), fg=colour, bold=True)} {inert(finding.check_id)} · {where}{len(spaces)} workspace(s), "
             f"{len(finding.results)} resource(s) · {inert(finding.severity)}",
             f"         {inert(finding.title)}"]
    if finding.shared_resource:
        lines.append(style(f"         shared: {inert(finding.shared_resource)}", fg="bright_black"))
    detailed = finding.results if len(finding.results) <= DETAILED and not finding.shared_resource else finding.results[:1]
    for result in detailed:
        owner = names.get(str(result.get("workspace") or "").lower(), "?")
        lines += [f"         - {inert(owner)} · {inert(resource_label(result.get('resource_id')))}",
                  f"             {inert(result['message'])}"]
        fix = result.get("fix")
        if fix:
            lines.append(f"             fix: {inert(fix['summary'])}")
            lines += ["               " + style(f"$ {inert(command)}", fg="cyan") for command in fix.get("commands") or []]
    if len(detailed) == len(finding.results):
        return lines
    per_workspace: dict[str, list[str]] = {}
    for result in finding.results:
        workspace = str(result.get("workspace") or "")
        per_workspace.setdefault(workspace, []).append(_within(result.get("resource_id"), finding.shared_resource or workspace))
    lines.append(f"         in {len(per_workspace)} workspace(s) (the message and fix of each: -o json or -o markdown):")
    for workspace, labels in list(per_workspace.items())[:LISTED]:
        lines.append(f"         - {inert(names.get(workspace.lower(), '?'))} · {inert(', '.join(labels))}")
    if len(per_workspace) > LISTED:
        lines.append(f"         … and {len(per_workspace) - LISTED} more workspace(s)")
    return lines


def _within(resource_id: str | None, parent_id: str) -> str:
    """A resource as seen from its workspace (or the shared resource): `onlineEndpoints/ep` under it, `(workspace)` for
    itself, else its label."""
    from moediag.report import resource_label

    if resource_id and parent_id and resource_id.lower().startswith(parent_id.lower()):
        return resource_id[len(parent_id):].strip("/") or "(workspace)"
    return resource_label(resource_id)

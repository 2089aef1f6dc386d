"""The terminal report, doctor-style: what is broken first, each with its fix; passes one line each.

Every piece of text taken from the report goes through `inert` (escape sequences, CR, bidi overrides and the like
from evidence are shown escaped, never emitted): the only control characters in the output are the layout's
newlines and, with colour, click.style's own SGR sequences.
"""

from __future__ import annotations

import re
from typing import Any

import click

from moediag.clouds import DEFAULT as DEFAULT_CLOUD
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


DEFAULT_WIDTH = 100
INDENT = "     "


def render(report: dict[str, Any], color: bool = False, *, width: int | None = None, verbose: bool = False) -> str:
    """The terminal report: the diagnosis first (each root cause with its plan step and what it explains folded
    under it), then warnings and errors, then skips and passes as counts (`verbose` lists them); the last lines
    name the root causes in fix order. Prose wraps to `width`; commands are never wrapped."""
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    if report.get("kind") == "scan":
        return render_scan(report, style)
    width = max(40, width or DEFAULT_WIDTH)
    target, tool = report["target"], report["tool"]
    lines = _wrap(f"moediag {inert(tool['version'])} · workspace {inert(target['workspace'])} · group "
                  f"{inert(target['resource_group'])} · subscription {inert(target['subscription_id'])} · "
                  f"{len(target.get('endpoints') or [])} endpoint(s)"
                  + (f" · {inert(report['cloud'])}" if report.get("cloud", DEFAULT_CLOUD) != DEFAULT_CLOUD else "")
                  + (" · replayed from snapshot" if report.get("mode") == "snapshot" else ""), width, "", "")
    lines[0] = style(lines[0], bold=True)
    results = {r.get("id"): r for r in report["results"]}
    roots, steps = _roots_and_steps(report)
    shown: set[str] = set()
    if roots:
        lines += ["", style(f"Root causes ({len(roots)}), in the order to fix them:", bold=True)]
        lines += _paths(report, width)
    for number, root in enumerate(roots, 1):
        step = steps.get(root.get("id"))
        lines += [""] + _result(root, style, width, f"{number}. ", step=step)
        shown.add(root.get("id"))
        consequences = [results[i] for i in (step or {}).get("results", [])[1:] if i in results and i not in shown]
        if consequences:
            lines.append(f"{INDENT}what it explains (no fix of its own: fixed by step {step['step']}):")
            for result in consequences:
                shown.add(result.get("id"))
                mark, colour = _MARK[result["status"]]
                about = f"{inert(result['check_id'])} · {_label(result.get('resource_id'))}"
                if verbose:
                    about += f": {inert(result['message'])}"
                lines += _wrap(about, width, INDENT + "  " + style(mark[0], fg=colour) + " ", INDENT + "    ")
    others = [r for r in worst_first(report["results"])
              if r["status"] in ("fail", "error", "warn") and r.get("id", id(r)) not in shown]
    for status, title in (("fail", "Other failures"), ("error", "Could not be evaluated"), ("warn", "Warnings")):
        found = [r for r in others if r["status"] == status]
        if found:
            lines += ["", style(f"{title} ({len(found)}):", bold=True)]
            for result in found:
                lines += _result(result, style, width, "", step=steps.get(result.get("id")))
    lines += [""] + _quiet(report, style, width, verbose)
    for note in report.get("notes") or []:
        lines += _wrap(f"note: {inert(note)}", width, "", "      ")
    return "\n".join(lines + _closing(report, style, roots, steps, width)) + "\n"


def _roots_and_steps(report: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The root-cause results in fix order and, per root id, its plan step. A report without a diagnosis (schema 1)
    has every failure as its own root cause, worst first."""
    diagnosis = report.get("diagnosis")
    if not isinstance(diagnosis, dict):
        return [r for r in worst_first(report["results"]) if r["status"] == "fail"], {}
    by_id = {r.get("id"): r for r in report["results"]}
    steps = {}
    for step in diagnosis.get("plan") or []:
        for rid in step["results"][:1]:
            steps.setdefault(rid, step)
        for rid in step["results"]:
            if rid in diagnosis["root_causes"]:
                steps.setdefault(rid, step)
    return [by_id[i] for i in diagnosis["root_causes"] if i in by_id], steps


def _result(result: dict[str, Any], style, width: int, prefix: str, step: dict[str, Any] | None = None) -> list[str]:
    mark, colour = _MARK[result["status"]]
    head = (f"{prefix}{style(mark, fg=colour, bold=True)} {inert(result['check_id'])} · "
            f"{_label(result.get('resource_id'))}")
    lines = _wrap(head, width + (len(head) - len(_plain(head))), "", INDENT)
    lines += _wrap(inert(result["message"]), width, INDENT, INDENT)
    evidence = result.get("evidence") or {}
    if evidence.get("expected") is not None or evidence.get("observed") is not None:
        lines += _wrap(f"expected: {_value(evidence.get('expected'))}", width, INDENT, INDENT + "  ")
        lines += _wrap(f"observed: {_value(evidence.get('observed'))}", width, INDENT, INDENT + "  ")
    fix = result.get("fix")
    if fix:
        risk = (step or {}).get("risk") or fix.get("risk")
        label = f"fix (step {step['step']}, {risk})" if step else f"fix ({risk})" if risk else "fix"
        lines += _wrap(f"{label}: {inert(fix['summary'])}", width, INDENT, INDENT + "  ")
        lines += [INDENT + "  " + style(f"$ {inert(command)}", fg="cyan") for command in fix.get("commands") or []]
    return lines


def _paths(report: dict[str, Any], width: int) -> list[str]:
    """One line per blocked path: which endpoint (deployment) and the hop where it breaks."""
    lines = []
    for path in (report.get("diagnosis") or {}).get("paths") or []:
        if path.get("blocked_at"):
            who = inert(path["endpoint"]) + (f"/{inert(path['deployment'])}" if path.get("deployment") else "")
            lines += _wrap(f"{path['kind']} path of {who} is blocked at {inert(path['blocked_at'])}", width, "  ",
                           "    ")
    return lines


def _quiet(report: dict[str, Any], style, width: int, verbose: bool) -> list[str]:
    """Skips and passes: a count line each (with the skips' reasons); every one of them with `verbose`."""
    lines = []
    for status, title in (("skip", "Skipped"), ("pass", "Passed")):
        found = [r for r in report["results"] if r["status"] == status]
        if not found:
            continue
        reasons: dict[str, int] = {}
        for r in found:
            reasons[inert(r.get("reason") or "-")] = reasons.get(inert(r.get("reason") or "-"), 0) + 1
        why = f" ({', '.join(f'{n} {k}' for k, n in sorted(reasons.items()))})" if status == "skip" else ""
        hint = "" if verbose else " (-v lists them)"
        lines += _wrap(f"{title}: {len(found)}{why}{hint}", width, "", "  ")
        if verbose:
            for r in found:
                mark, colour = _MARK[status]
                lines += _wrap(f"{style(mark, fg=colour)} {inert(r['check_id'])} · {_label(r.get('resource_id'))}: "
                               f"{inert(r['message'])}", width, "  ", INDENT)
    return lines


def _label(resource_id: Any) -> str:
    """What people recognise: `deployment ep/blue`, `endpoint ep`, else the type/name tail of the id."""
    from moediag.report import resource_label

    parts = str(resource_id or "").strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "onlineendpoints" in lowered:
        i = lowered.index("onlineendpoints")
        endpoint = parts[i + 1] if i + 1 < len(parts) else "?"
        if "deployments" in lowered[i:]:
            j = lowered.index("deployments", i)
            return inert(f"deployment {endpoint}/{parts[j + 1] if j + 1 < len(parts) else '?'}")
        return inert(f"endpoint {endpoint}")
    return inert(resource_label(resource_id))


_SGR = re.compile("\x1b\\[[0-9;]*m")


def _plain(text: str) -> str:
    return _SGR.sub("", text)


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """Prose wrapped to `width` (indents included; colour codes in an indent do not count)."""
    import textwrap

    visible = max(len(_plain(first)), len(_plain(rest)))
    return textwrap.wrap(text, max(20, width - visible), break_on_hyphens=False) and [
        (first if i == 0 else rest) + line
        for i, line in enumerate(textwrap.wrap(text, max(20, width - visible), break_on_hyphens=False))] or [first]


def _closing(report: dict[str, Any], style, roots: list[dict[str, Any]] | None = None,
             steps: dict[str, dict[str, Any]] | None = None, width: int = DEFAULT_WIDTH) -> list[str]:
    """The last lines: the counts, then every root cause in fix order, so nothing important has scrolled away."""
    summary = report["summary"]
    counts = ", ".join(f"{summary[k]} {k}" for k in ("fail", "error", "warn", "skip", "pass") if summary.get(k))
    lines = ["", style("Summary: ", bold=True) + (counts or "no results")]
    if roots:
        lines.append(style(f"Fix in this order ({len(roots)} root cause(s)):", bold=True))
        for number, root in enumerate(roots, 1):
            risk = (steps or {}).get(root.get("id"), {}).get("risk")
            lines += _wrap(f"{number}. {inert(root['check_id'])} · {_label(root.get('resource_id'))}"
                           + (f" ({risk})" if risk else ""), width, "  ", "     ")
    if report.get("interrupted"):
        lines.append(style("Interrupted: results are incomplete.", fg="yellow"))
    return lines


# --- a fleet scan: one line per workspace, then the findings grouped ------------------------------------

# A finding of at most DETAILED results shows each with its message and fix; a larger one shows the first, then
# one line per workspace (at most LISTED) naming its resources.
DETAILED, LISTED = 3, 25
_COUNTS = ("fail", "error", "warn", "skip", "pass")


def render_scan(report: dict[str, Any], style) -> str:
    from moediag.render.groups import findings, management_groups, workspace_names

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
    groups = management_groups(report)
    if groups:
        lines += ["", style("Workspaces seen per management group (only what this identity can read):", bold=True)]
        lines += [f"  {'  ' * depth}{inert(label)}: {workspaces} workspace(s) in {subscriptions} subscription(s)"
                  for depth, label, workspaces, subscriptions in groups]
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

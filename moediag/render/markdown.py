"""Markdown for a support ticket, a chat thread or `$GITHUB_STEP_SUMMARY`.

Target and tool version, the counts, a Mermaid picture of what the endpoint depends on, then every
failure, error and warning with its evidence and fix commands in code blocks; skips and passes folded
in <details>. A pure function of the report: the same report gives the same bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moediag.render import mermaid
from moediag.report import resource_label, worst_first

ICON = {"fail": "❌", "error": "❓", "warn": "⚠️", "skip": "⏭️", "pass": "✅"}
SECTIONS = (("fail", "Failures"), ("error", "Could not be evaluated"), ("warn", "Warnings"))
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _text(text: str) -> str:
    """Plain text in a paragraph or table cell: Markdown and HTML characters escaped, one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _code(text: str) -> str:
    """An inline code span that holds any text (backticks included)."""
    text = " ".join(str(text).split())
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _block(content: str, lang: str) -> list[str]:
    fence = "`" * max(3, max((len(run) + 1 for run in re.findall(r"`{3,}", content)), default=3))
    return [f"{fence}{lang}", content.rstrip("\n"), fence]


def _verdict(summary: dict[str, int], interrupted: bool) -> str:
    if interrupted:
        return "⏹️ **Interrupted: the results are incomplete.**"
    if summary.get("fail"):
        return f"{ICON['fail']} **{summary['fail']} failed.**"
    if summary.get("error"):
        return f"{ICON['error']} **Nothing failed, but {summary['error']} could not be evaluated.**"
    if summary.get("warn"):
        return f"{ICON['warn']} **Nothing failed; {summary['warn']} warning(s).**"
    return f"{ICON['pass']} **Nothing failed.**"


def _header(report: dict[str, Any]) -> list[str]:
    target, tool, summary = report["target"], report["tool"], report["summary"]
    endpoints = ", ".join(_code(e) for e in target.get("endpoints") or []) or "none"
    mode = "replayed from a snapshot" if report.get("mode") == "snapshot" else "read from Azure"
    run = f"{tool['name']} {tool['version']}, {mode}"
    if isinstance(report.get("duration_ms"), int):
        run += f", {report['duration_ms'] / 1000:.1f} s"
    counts = " · ".join(f"{ICON[s]} {summary.get(s, 0)} {s}" for s in ("fail", "error", "warn", "skip", "pass"))
    return [
        f"## moediag: {_text(target['workspace'])}",
        "",
        _verdict(summary, bool(report.get("interrupted"))),
        "",
        "| | |",
        "|---|---|",
        f"| Workspace | {_code(target['workspace'])} |",
        f"| Resource group | {_code(target['resource_group'])} |",
        f"| Subscription | {_code(target['subscription_id'])} |",
        f"| Endpoints | {endpoints} |",
        f"| Tool | {_text(run)} |",
        f"| Results | {counts} |",
        "",
    ]


def _finding(result: dict[str, Any]) -> list[str]:
    status = result["status"]
    lines = [
        f"#### {ICON[status]} {_code(result['check_id'])} on {_code(resource_label(result.get('resource_id')))}",
        "",
        f"**{_text(result['title'])}** ({_text(result['severity'])}"
        + (f", reason: {_code(result['reason'])}" if result.get("reason") else "") + ")",
        "",
        _text(result["message"]),
        "",
        "Evidence:",
        "",
        *_block(json.dumps(result.get("evidence") or {}, indent=2, ensure_ascii=False), "json"),
        "",
    ]
    fix = result.get("fix")
    if fix:
        lines += [f"Fix: {_text(fix['summary'])}", ""]
        if fix.get("commands"):
            lines += [*_block("\n".join(fix["commands"]), "sh"), ""]
    if result.get("resource_id"):
        lines.append(f"Resource: {_code(result['resource_id'])}  ")
    return lines + [f"More: {_code('moediag explain ' + result['check_id'])}", ""]


def _folded(results: list[dict[str, Any]], status: str, title: str) -> list[str]:
    """A collapsed table; skips say why (their reason), passes need not."""
    if not results:
        return []
    columns = ["Check", "Resource", *(["Reason"] if status == "skip" else []), "Message"]
    lines = ["<details>", f"<summary>{ICON[status]} {len(results)} {title}</summary>", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        cells = [_code(r["check_id"]), _code(resource_label(r.get("resource_id"))),
                 *([_code(r.get("reason") or "-")] if status == "skip" else []), _text(r["message"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + ["", "</details>", ""]


def render(report: dict[str, Any], color: bool = False) -> str:
    if report.get("kind") == "scan":
        return render_scan(report)
    results = worst_first(report["results"])
    lines = _header(report)
    lines += ["### What the endpoint depends on", "", *_block(mermaid.render(report), "mermaid"), ""]
    for status, title in SECTIONS:
        found = [r for r in results if r["status"] == status]
        if found:
            lines += [f"### {title} ({len(found)})", ""]
            for result in found:
                lines += _finding(result)
    lines += _folded([r for r in results if r["status"] == "skip"], "skip", "skipped")
    lines += _folded([r for r in results if r["status"] == "pass"], "pass", "passed")
    notes = report.get("notes") or []
    if notes:
        lines += ["### Notes", "", *(f"- {_text(note)}" for note in notes), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --- a fleet scan ------------------------------------------------------------------------------------------

def render_scan(report: dict[str, Any]) -> str:
    """Scope and counts, one row per workspace, the subscriptions not read, then the findings grouped (a shared
    cause once, with every workspace it breaks), each resource's own message and fix folded beneath."""
    from moediag.render.groups import findings, workspace_names

    targets, tool, summary = report["targets"], report["tool"], report["summary"]
    counts = " · ".join(f"{ICON[s]} {summary.get(s, 0)} {s}" for s in ("fail", "error", "warn", "skip", "pass"))
    run = f"{tool['name']} {tool['version']}, read from Azure"
    if isinstance(report.get("duration_ms"), int):
        run += f", {report['duration_ms'] / 1000:.1f} s"
    unreadable = report.get("unreadable_subscriptions") or []
    verdict = _verdict(summary, bool(report.get("interrupted")))
    if unreadable and not summary.get("fail") and not summary.get("error") and not report.get("interrupted"):
        verdict = f"{ICON['error']} **Nothing failed, but {len(unreadable)} subscription(s) could not be read.**"
    lines = [f"## moediag scan: {len(targets)} workspace(s)", "", verdict, "",
             f"{_text(run)} · inventory from {_text((report.get('inventory') or {}).get('source', 'Resource Graph'))} · "
             f"{counts}", "",
             "| Workspace | Resource group | Subscription | Endpoints | ❌ | ❓ | ⚠️ | ⏭️ | ✅ |", "|---|---|---|---|---|---|---|---|---|"]
    for t in targets:
        cells = [_code(t["workspace"]), _code(t["resource_group"]), _code(t["subscription_id"]), str(len(t["endpoints"])),
                 *(str(t["summary"].get(s, 0)) for s in ("fail", "error", "warn", "skip", "pass"))]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if unreadable:
        lines += [f"### Subscriptions not read ({len(unreadable)})", "",
                  *(f"- {_code(u['subscription_id'])}: {_text(u['reason'])}" for u in unreadable), ""]
    names = workspace_names(report)
    for finding in findings(report):
        where = f" on shared {_code(resource_label(finding.shared_resource))}" if finding.shared_resource else ""
        lines += [f"### {ICON[finding.status]} {_code(finding.check_id)}{where}: {len(finding.workspaces)} workspace(s), "
                  f"{len(finding.results)} resource(s)", "", f"**{_text(finding.title)}** ({_text(finding.severity)})", ""]
        if finding.shared_resource:
            lines += [f"Shared resource: {_code(finding.shared_resource)}", ""]
        first = finding.results[0]
        lines += [_text(first["message"]), ""]
        if first.get("fix"):
            lines += [f"Fix: {_text(first['fix']['summary'])}", ""]
            if first["fix"].get("commands"):
                lines += [*_block("\n".join(first["fix"]["commands"]), "sh"), ""]
        lines += ["<details>", f"<summary>Every resource ({len(finding.results)})</summary>", ""]
        for result in finding.results:
            owner = names.get(str(result.get("workspace") or "").lower(), "?")
            lines += [f"- {_code(owner)} {_code(resource_label(result.get('resource_id')))}: {_text(result['message'])}"]
            fix = result.get("fix")
            if fix and fix.get("commands"):
                block = "\n".join(_block("\n".join(fix["commands"]), "sh"))
                lines += ["", *("  " + line for line in block.splitlines()), ""]
        lines += ["", "</details>", ""]
    notes = report.get("notes") or []
    if notes:
        lines += ["### Notes", "", *(f"- {_text(note)}" for note in notes), ""]
    return "\n".join(lines).rstrip("\n") + "\n"

"""Markdown for a support ticket, a chat thread or `$GITHUB_STEP_SUMMARY`.

Target and tool version, the counts, a Mermaid picture of what the endpoint depends on, then every
failure, error and warning with its evidence and fix commands in code blocks; skips and passes folded
in <details>. A pure function of the report: the same report gives the same bytes.

Text from the report is made inert first (`moediag.render.inert`: no control character, escape sequence or bidi
override reaches the document), then written so it cannot change the document's structure: in prose every
Markdown and HTML character is backslash-escaped (no tag, entity, link, emphasis, fence or list from evidence);
in a code span no escape is needed except a table cell's `|` (GFM splits rows before it parses code spans, and
`\\|` is its escape, inside code spans too); code blocks take a fence longer than any backtick run they hold.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moediag.clouds import DEFAULT as DEFAULT_CLOUD
from moediag.render import mermaid
from moediag.render.inert import inert
from moediag.report import resource_label, worst_first

ICON = {"fail": "❌", "error": "❓", "warn": "⚠️", "skip": "⏭️", "pass": "✅"}
SECTIONS = (("fail", "Failures"), ("error", "Could not be evaluated"), ("warn", "Warnings"))
# Every character that can start Markdown or HTML syntax inline: emphasis, code, links and images, autolinks and
# tags, entities (`&#x202e;` would decode to an override), table cells, headings, strikethrough, GitHub's math.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&~$])")
# What starts a block when it opens a line: a list item, a setext underline, a thematic break.
_BLOCK_START = re.compile(r"^(?:[-+=]|\d+(?=[.)]))")


def _text(text: object) -> str:
    """Plain text in a paragraph, heading or table cell: inert, on one line, every Markdown and HTML character
    escaped, no block syntax at its start."""
    escaped = _SPECIAL.sub(r"\\\1", " ".join(inert(text).split()))
    return _BLOCK_START.sub(lambda m: m.group(0) + "\\" if m.group(0)[0].isdigit() else "\\" + m.group(0), escaped)


def _code(text: object, cell: bool = False) -> str:
    """An inline code span that holds any text (backticks included); `cell=True` in a table cell, where `|` is
    written `\\|` (GFM's escape, which works inside code spans in tables). A backslash right before a pipe has no
    portable spelling in a code span there (GFM parsers disagree on `\\\\|`), so such text is shown as plain text."""
    text = " ".join(inert(text).split())
    if cell:
        if "\\|" in text:
            return _text(text)
        text = text.replace("|", "\\|")
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if not text or text.startswith("`") or text.endswith("`") else ""  # `` is no code span: ` ` is
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell(text: object) -> str:
    return _code(text, cell=True)


def _block(content: str, lang: str) -> list[str]:
    """A fenced code block of text already made inert (its newlines are the layout's)."""
    fence = "`" * max(3, max((len(run) + 1 for run in re.findall(r"`{3,}", content)), default=3))
    return [f"{fence}{lang}", content.rstrip("\n"), fence]


def _commands(commands: list[str]) -> list[str]:
    """Fix commands as an `sh` block: one line each (a newline inside a command is shown as `\\n`)."""
    return _block("\n".join(inert(command) for command in commands), "sh")


def _json(value: Any) -> list[str]:
    """Evidence as a `json` block: the encoder escapes C0 controls, `inert` the rest, and it stays valid JSON."""
    return _block(inert(json.dumps(value, indent=2, ensure_ascii=False), keep="\n"), "json")


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
    endpoints = ", ".join(_cell(e) for e in target.get("endpoints") or []) or "none"
    mode = "replayed from a snapshot" if report.get("mode") == "snapshot" else "read from Azure"
    run = f"{tool['name']} {tool['version']}, {mode}"
    if report.get("cloud", DEFAULT_CLOUD) != DEFAULT_CLOUD:
        run += f", {_text(report['cloud'])}"
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
        f"| Workspace | {_cell(target['workspace'])} |",
        f"| Resource group | {_cell(target['resource_group'])} |",
        f"| Subscription | {_cell(target['subscription_id'])} |",
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
        *_json(result.get("evidence") or {}),
        "",
    ]
    fix = result.get("fix")
    if fix:
        lines += [f"Fix: {_text(fix['summary'])}", ""]
        if fix.get("commands"):
            lines += [*_commands(fix["commands"]), ""]
    if result.get("resource_id"):
        lines.append(f"Resource: {_code(result['resource_id'])}  ")
    return lines + [f"More: {_code('moediag explain ' + result['check_id'])}", ""]


RISK = {"safe": "🟢 safe", "disruptive": "🟠 disruptive", "destructive": "🔴 destructive"}


def _diagnosis(report: dict[str, Any]) -> list[str]:
    """The root causes in fix order, each with its plan step (risk, commands) and what it explains; then the paths
    that are blocked and where. Nothing for a report without a diagnosis (schema 1) or without a root cause."""
    diagnosis = report.get("diagnosis")
    if not isinstance(diagnosis, dict) or not diagnosis.get("plan"):
        return []
    by_id = {r.get("id"): r for r in report["results"]}
    lines = ["### Diagnosis: what to fix, in this order", ""]
    for step in diagnosis["plan"]:
        roots = [by_id[i] for i in step["results"] if i in diagnosis["root_causes"] and i in by_id]
        rest = [by_id[i] for i in step["results"] if i not in diagnosis["root_causes"] and i in by_id]
        named = ", ".join(f"{_code(r['check_id'])} on {_code(resource_label(r.get('resource_id')))}" for r in roots)
        lines += [f"{step['step']}\\. {named}: {_text(step['summary'])} ({RISK.get(step['risk'], _text(step['risk']))})",
                  ""]
        if step["commands"]:
            block = "\n".join(_commands(step["commands"]))
            lines += [*("   " + line for line in block.splitlines()), ""]
        if rest:
            lines += ["   Also fixes (no fix of their own): " + ", ".join(
                f"{ICON[r['status']]} {_code(r['check_id'])} on {_code(resource_label(r.get('resource_id')))}"
                for r in rest), ""]
    blocked = [p for p in diagnosis.get("paths") or [] if p.get("blocked_at")]
    if blocked:
        lines += ["| Path | Endpoint | Deployment | Blocked at |", "|---|---|---|---|"]
        lines += [f"| {_text(p['kind'])} | {_code(p['endpoint'], cell=True)} | "
                  f"{_code(p['deployment'], cell=True) if p.get('deployment') else '-'} | "
                  f"{_code(p['blocked_at'], cell=True)} |" for p in blocked]
        lines.append("")
    return lines


def _folded(results: list[dict[str, Any]], status: str, title: str) -> list[str]:
    """A collapsed table; skips say why (their reason), passes need not."""
    if not results:
        return []
    columns = ["Check", "Resource", *(["Reason"] if status == "skip" else []), "Message"]
    lines = ["<details>", f"<summary>{ICON[status]} {len(results)} {title}</summary>", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        cells = [_cell(r["check_id"]), _cell(resource_label(r.get("resource_id"))),
                 *([_cell(r.get("reason") or "-")] if status == "skip" else []), _text(r["message"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + ["", "</details>", ""]


def render(report: dict[str, Any], color: bool = False) -> str:
    if report.get("kind") == "scan":
        return render_scan(report)
    results = worst_first(report["results"])
    lines = _header(report)
    lines += _diagnosis(report)
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
    from moediag.render.groups import findings, management_groups, workspace_names

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
        cells = [_cell(t["workspace"]), _cell(t["resource_group"]), _cell(t["subscription_id"]), str(len(t["endpoints"])),
                 *(str(t["summary"].get(s, 0)) for s in ("fail", "error", "warn", "skip", "pass"))]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if unreadable:
        lines += [f"### Subscriptions not read ({len(unreadable)})", "",
                  *(f"- {_code(u['subscription_id'])}: {_text(u['reason'])}" for u in unreadable), ""]
    groups = management_groups(report)
    if groups:
        lines += ["### Workspaces seen per management group", "", "Only what this identity can read.", "",
                  "| Management group | Workspaces | Subscriptions |", "|---|---|---|",
                  *(f"| {'&nbsp;&nbsp;' * depth}{_cell(label)} | {workspaces} | {subscriptions} |"
                    for depth, label, workspaces, subscriptions in groups), ""]
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
                lines += [*_commands(first["fix"]["commands"]), ""]
        lines += ["<details>", f"<summary>Every resource ({len(finding.results)})</summary>", ""]
        for result in finding.results:
            owner = names.get(str(result.get("workspace") or "").lower(), "?")
            lines += [f"- {_code(owner)} {_code(resource_label(result.get('resource_id')))}: {_text(result['message'])}"]
            fix = result.get("fix")
            if fix and fix.get("commands"):
                block = "\n".join(_commands(fix["commands"]))
                lines += ["", *("  " + line for line in block.splitlines()), ""]
        lines += ["", "</details>", ""]
    notes = report.get("notes") or []
    if notes:
        lines += ["### Notes", "", *(f"- {_text(note)}" for note in notes), ""]
    return "\n".join(lines).rstrip("\n") + "\n"

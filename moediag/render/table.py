"""The terminal report, doctor-style: what is broken first, each with its fix; passes one line each."""

from __future__ import annotations

from typing import Any

import click

from moediag.report import worst_first

_MARK = {"fail": ("✗ FAIL", "red"), "error": ("? ERROR", "magenta"), "warn": ("! WARN", "yellow"),
         "skip": ("- SKIP", "bright_black"), "pass": ("✓ PASS", "green")}


def _short(resource_id: str | None) -> str:
    """The tail of a resource id (type/name pairs after the workspace) is what people recognise."""
    if not resource_id:
        return ""
    parts = resource_id.strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else resource_id


def _value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return "—" if value is None else str(value)


def render(report: dict[str, Any], color: bool = False) -> str:
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    target, tool, summary = report["target"], report["tool"], report["summary"]
    lines = [
        style(f"moediag {tool['version']}", bold=True)
        + f" · workspace {target['workspace']} · group {target['resource_group']}"
        + f" · subscription {target['subscription_id']} · {len(target.get('endpoints') or [])} endpoint(s)"
        + (" · replayed from snapshot" if report.get("mode") == "snapshot" else ""),
        "",
    ]
    for result in worst_first(report["results"]):
        mark, colour = _MARK[result["status"]]
        head = f"{style(mark.ljust(8), fg=colour, bold=True)} {result['check_id']}  {_short(result.get('resource_id'))}"
        lines.append(head)
        if result["status"] == "pass":
            continue
        lines.append(f"         {result['message']}")
        evidence = result.get("evidence") or {}
        if result["status"] in ("fail", "warn", "error") and (evidence.get("expected") is not None or evidence.get("observed") is not None):
            lines.append(f"         expected: {_value(evidence.get('expected'))}")
            lines.append(f"         observed: {_value(evidence.get('observed'))}")
        fix = result.get("fix")
        if fix and result["status"] in ("fail", "warn", "error"):
            lines.append(f"         fix: {fix['summary']}")
            for command in fix.get("commands") or []:
                lines.append("           " + style(f"$ {command}", fg="cyan"))
        if result["status"] in ("fail", "error") and result.get("resource_id"):
            lines.append(style(f"         resource: {result['resource_id']}", fg="bright_black"))
    for note in report.get("notes") or []:
        lines.append(style(f"note: {note}", fg="bright_black"))
    counts = ", ".join(f"{summary[k]} {k}" for k in ("fail", "error", "warn", "skip", "pass") if summary.get(k))
    lines += ["", style("Summary: ", bold=True) + (counts or "no results")]
    if report.get("interrupted"):
        lines.append(style("Interrupted: results are incomplete.", fg="yellow"))
    return "\n".join(lines) + "\n"

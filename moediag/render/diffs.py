"""Renderings of a `moediag diff` report (moediag.diff): the table for a terminal and Markdown for a ticket.

Text from the reports is made inert (moediag.render.inert), as in every other rendering.
"""

from __future__ import annotations

import json
from typing import Any

import click

from moediag.render.inert import inert
from moediag.report import resource_label

ARROW = {"worse": "✗ WORSE", "better": "✓ BETTER"}


def _value(value: Any) -> str:
    return inert(json.dumps(value, ensure_ascii=False)) if not isinstance(value, str) else inert(repr(value))


def _where(side: dict[str, Any]) -> str:
    target = side.get("target") or {}
    return inert(f"{target.get('workspace', '?')} ({side.get('mode') or side.get('kind')})") if target else \
        inert(str(side.get("kind")))


def table(report: dict[str, Any], color: bool = False) -> str:
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    summary = report["summary"]
    lines = [style(f"moediag {inert(report['tool']['version'])} · diff", bold=True)
             + f" · old: {_where(report['old'])} · new: {_where(report['new'])}", ""]
    if not (report["changes"] or report["appeared"] or report["disappeared"]):
        return "\n".join(lines + ["No verdict changed and no resource appeared or disappeared."]) + "\n"
    for change in report["changes"]:
        mark = ARROW[change["direction"]]
        colour = "red" if change["direction"] == "worse" else "green"
        lines.append(f"{style(mark, fg=colour, bold=True)} {inert(change['check_id'])} · "
                     f"{inert(resource_label(change.get('resource_id')))}: {change['old_status']} -> "
                     f"{change['new_status']}")
        lines.append(f"     now: {inert(change['new_message'])}")
        for item in change["evidence_changes"]:
            lines.append(f"     evidence {inert(item['path'])}: {_value(item['old'])} -> {_value(item['new'])}")
        for item in change.get("fact_changes") or []:
            lines.append(f"     read {inert(item['fact'].split('|')[0])} {inert(item['path'])}: {_value(item['old'])} -> "
                         f"{_value(item['new'])}")
        lines.append("")
    for title, key in (("Appeared", "appeared"), ("Disappeared", "disappeared")):
        if report[key]:
            lines.append(style(f"{title} ({len(report[key])}):", bold=True))
            lines += [f"  {inert(r['check_id'])} · {inert(resource_label(r.get('resource_id')))}: {r['status']}"
                      for r in report[key]]
            lines.append("")
    lines.append(style("Summary: ", bold=True) + f"{summary['worse']} worse, {summary['better']} better, "
                 f"{summary['appeared']} appeared, {summary['disappeared']} disappeared")
    return "\n".join(lines) + "\n"


def markdown(report: dict[str, Any], color: bool = False) -> str:
    from moediag.render.markdown import _code, _text

    summary = report["summary"]
    lines = ["## moediag diff", "",
             f"Old: {_text(_where(report['old']))} · new: {_text(_where(report['new']))} · "
             f"**{summary['worse']} worse**, {summary['better']} better, {summary['appeared']} appeared, "
             f"{summary['disappeared']} disappeared", ""]
    if report["changes"]:
        lines += ["| Change | Check | Resource | Was | Now | What changed |", "|---|---|---|---|---|---|"]
        for c in report["changes"]:
            what = "; ".join(f"{_code(i['path'], cell=True)}: {_code(json.dumps(i['old']), cell=True)} → "
                             f"{_code(json.dumps(i['new']), cell=True)}"
                             for i in (c["evidence_changes"] + (c.get("fact_changes") or []))[:5]) or "-"
            lines.append(f"| {c['direction']} | {_code(c['check_id'], cell=True)} | "
                         f"{_code(resource_label(c.get('resource_id')), cell=True)} | {c['old_status']} | "
                         f"{c['new_status']} | {what} |")
        lines.append("")
    for title, key in (("Appeared", "appeared"), ("Disappeared", "disappeared")):
        if report[key]:
            lines += [f"### {title}", "", *(f"- {_code(r['check_id'])} on {_code(resource_label(r.get('resource_id')))}:"
                                          f" {r['status']}" for r in report[key]), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def as_json(report: dict[str, Any], color: bool = False) -> str:
    from moediag.render.json import render

    return render(report, color)

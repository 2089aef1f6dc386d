"""The canonical JSON report: every rendering (table, JSON, ...) is made from this one dict."""

from __future__ import annotations

from typing import Any

from moediag import __version__
from moediag.model import SEVERITY_ORDER, Result, Status

SCHEMA_VERSION = "1"


def build_report(target_json: dict[str, Any], results: list[Result], *, mode: str, interrupted: bool = False,
                 endpoints: list[str] | None = None, notes: list[str] | None = None) -> dict[str, Any]:
    summary = {status.value: 0 for status in Status}
    for result in results:
        summary[result.status.value] += 1
    target = {
        "subscription_id": target_json["subscription_id"],
        "resource_group": target_json["resource_group"],
        "workspace": target_json["workspace"],
        "endpoints": endpoints if endpoints is not None else list(target_json.get("endpoints") or []),
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "moediag", "version": __version__},
        "target": target,
        "mode": mode,
        "interrupted": interrupted,
        "notes": list(notes or []),
        "summary": summary,
        "results": [r.to_json() for r in results],
    }


def exit_code(report: dict[str, Any]) -> int:
    """0 clean, 1 a check failed, 3 nothing failed but something could not be evaluated."""
    summary = report["summary"]
    if summary.get("fail"):
        return 1
    if summary.get("error"):
        return 3
    return 0


def worst_first(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {s.value: i for s, i in SEVERITY_ORDER.items()}
    return sorted(results, key=lambda r: order.get(r["status"], 9))

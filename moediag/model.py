"""The result model: what one check says about one resource.

Field names follow the JSON report contract (docs/report.schema.json); extend, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"


# Order used to print the worst findings first.
SEVERITY_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.SKIP: 3, Status.PASS: 4}


class Reason:
    """Machine-readable reasons for a non-pass status (the report's `reason` field)."""

    NOT_APPLICABLE = "not_applicable"
    DEPENDENCY_FAILED = "dependency_failed"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    THROTTLED = "throttled"
    TIMED_OUT = "timed_out"
    UNAUTHORIZED = "unauthorized"
    UNREADABLE = "unreadable"
    CRASHED = "crashed"
    NOT_IN_SNAPSHOT = "not_in_snapshot"
    NOT_REQUESTED = "not_requested"
    INCONCLUSIVE = "inconclusive"
    INTERRUPTED = "interrupted"
    REFUSED = "refused"  # moediag refused the request or answer itself: another host, a write, a redirect


@dataclass
class Fix:
    summary: str
    commands: list[str] = field(default_factory=list)
    risk: str | None = None  # safe, disruptive, destructive; None: the check's fix_risk

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"summary": self.summary, "commands": list(self.commands)}
        if self.risk:
            out["risk"] = self.risk
        return out


@dataclass
class Result:
    check_id: str
    status: Status
    message: str
    resource_id: str | None = None
    reason: str | None = None
    expected: Any = None
    observed: Any = None
    details: dict[str, Any] | None = None
    fix: Fix | None = None
    # Filled in by the runner from the check's metadata.
    title: str = ""
    severity: str = ""
    docs: str = ""
    duration_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        evidence: dict[str, Any] = {"expected": _plain(self.expected), "observed": _plain(self.observed)}
        if self.details:
            evidence.update({k: _plain(v) for k, v in self.details.items()})
        return {
            "check_id": self.check_id,
            "title": self.title,
            "severity": self.severity,
            "status": self.status.value,
            "reason": self.reason,
            "resource_id": self.resource_id,
            "message": self.message,
            "evidence": evidence,
            "fix": self.fix.to_json() if self.fix else None,
            "docs": self.docs,
            "duration_ms": self.duration_ms,
        }


def _plain(value: Any) -> Any:
    """Evidence must serialise to JSON exactly as shown; sets and tuples become sorted lists."""
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value

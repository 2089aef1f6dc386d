"""Errors with a meaning for the user: why evidence is missing, or why the run cannot start."""

from __future__ import annotations


class FactError(Exception):
    """Evidence that could not be collected, and why.

    `kind` is one of the report's reasons: forbidden, not_found, throttled, timed_out, unauthorized,
    unreadable, refused, not_in_snapshot, crashed, interrupted.
    """

    def __init__(self, kind: str, message: str, *, status: int | None = None, resource_id: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.resource_id = resource_id

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "status": self.status, "resource_id": self.resource_id}

    @classmethod
    def from_json(cls, data: dict) -> FactError:
        return cls(str(data["kind"]), str(data["message"]), status=data.get("status"), resource_id=data.get("resource_id"))


class UsageError(Exception):
    """Something the user typed or gave is wrong: one line on stderr, exit 2."""


class TargetUnreadable(Exception):
    """The target cannot be read at all (credentials refused, workspace not found): exit 2."""


def one_line(message: str) -> str:
    """Control characters (a newline in a file name, an escape sequence, a lone surrogate) shown as escapes: an
    error stays one line and cannot drive the terminal (or the assistant) that shows it."""
    import unicodedata

    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch).startswith("C") else ch
                   for ch in message)

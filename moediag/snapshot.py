"""Snapshots: every fact a run read, as versioned JSON, replayable with no network at all.

A snapshot holds REST bodies and DNS answers as they came, plus the target and the collection options.
Tokens never enter it: facts are response bodies, and no request header is stored.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moediag import __version__
from moediag.errors import UsageError

FORMAT = "moediag-snapshot"
VERSION = 1


def build(target_json: dict[str, Any], options_json: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "tool": {"name": "moediag", "version": __version__},
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "target": target_json,
        "options": options_json,
        "facts": facts,
    }


def write_json_atomic(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write the whole file or nothing: a half-written snapshot or report is worse than none."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a snapshot; anything wrong with it is a one-line usage error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read snapshot {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"snapshot {path} is not valid JSON (truncated or corrupt?): {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path} is not a moediag snapshot (no \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if version != VERSION:
        raise UsageError(f"snapshot {path} has version {version!r}; this moediag {__version__} reads version {VERSION}")
    target, facts = data.get("target"), data.get("facts")
    if not isinstance(target, dict) or not all(isinstance(target.get(k), str) for k in ("subscription_id", "resource_group", "workspace")):
        raise UsageError(f"snapshot {path} has no valid target")
    if not isinstance(facts, dict) or not all(
        isinstance(v, dict) and ("value" in v or isinstance(v.get("error"), dict)) for v in facts.values()
    ):
        raise UsageError(f"snapshot {path} has malformed facts")
    for entry in facts.values():
        error = entry.get("error")
        if error is not None and not (isinstance(error.get("kind"), str) and isinstance(error.get("message"), str)):
            raise UsageError(f"snapshot {path} has a malformed fact error")
    if not isinstance(data.get("options", {}), dict):
        raise UsageError(f"snapshot {path} has malformed options")
    return data

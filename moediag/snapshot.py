"""Snapshots: every fact a run read, as versioned JSON, replayable with no network at all.

A snapshot holds REST bodies and DNS answers as they came, plus the target and the collection options.
Tokens never enter it: facts are response bodies, and no request header is stored.

Version 1 is a `check`'s: one `target` and its `facts`. Version 2 adds `kind` and the snapshot of a `scan`
(`kind: "scan"`): its `scope`, the Resource Graph `inventory` (the rows as the query returned them, and the pages
read), the facts the workspaces shared (`shared_facts`, read once) and one entry per workspace in `targets` (its
target, its own `facts`, and `not_evaluated` when the scan's --total-timeout left it unstarted). A check snapshot is
still written as version 1, so older moediag versions read it.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moediag import __version__
from moediag.clouds import CLOUDS
from moediag.errors import UsageError

FORMAT = "moediag-snapshot"
VERSION = 1  # what a check snapshot is written as
SCAN_VERSION = 2  # adds `kind` and the scan snapshot
READABLE_VERSIONS = (VERSION, SCAN_VERSION)


def _head(version: int) -> dict[str, Any]:
    return {"format": FORMAT, "version": version, "tool": {"name": "moediag", "version": __version__},
            "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}


def build(target_json: dict[str, Any], options_json: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    return {**_head(VERSION), "target": target_json, "options": options_json, "facts": facts}


def build_scan(scope_json: dict[str, Any], options_json: dict[str, Any], rows: list[dict[str, Any]], pages: int,
               shared_facts: dict[str, Any], targets: list[dict[str, Any]]) -> dict[str, Any]:
    """A scan's snapshot: `targets` are `{"target", "facts", "not_evaluated"}`, in the scan's order."""
    return {**_head(SCAN_VERSION), "kind": "scan", "scope": scope_json, "options": options_json,
            "inventory": {"source": "Azure Resource Graph", "rows": rows, "pages": pages},
            "shared_facts": shared_facts, "targets": targets}


def kind_of(data: dict[str, Any]) -> str:
    """`check` or `scan` (version 1 snapshots are a check's)."""
    return "scan" if data.get("kind") == "scan" else "check"


# --- writing outputs (reports and snapshots) ---------------------------------------------------------
#
# A regular file (or a new path) is replaced whole: the text goes to a temporary file beside it, then
# os.replace, so a reader never sees half a report. A path that exists and is not a regular file (a
# device such as /dev/stdout or /dev/null, a FIFO) is opened and written through: replacing it would
# swap the device for a plain file. A symbolic link is followed: its target is written (replaced whole
# when it is a regular file), the link stays. `check_output_paths` refuses, before a run starts, what
# could not be written afterwards.

JSON_ESCAPE = "moediag-json-escape"


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler for JSON text: a character the output cannot carry becomes its JSON escape
    (a lone surrogate from a `\\udc80` escape in evidence stays `\\udc80`; astral characters become a
    surrogate pair), so the JSON stays valid and reads back to the same string."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escapes = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            escapes.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escapes.append(f"\\u{code:04x}")
    return "".join(escapes), error.end


codecs.register_error(JSON_ESCAPE, _json_escape)


def encode(text: str, encoding: str = "utf-8", *, json_text: bool = False) -> bytes:
    """`text` in `encoding`, never UnicodeEncodeError: what the encoding cannot carry (lone surrogates,
    which evidence can hold; in UTF-8 nothing else) is escaped: JSON escapes in JSON, `\\udc80` elsewhere."""
    return text.encode(encoding, JSON_ESCAPE if json_text else "backslashreplace")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n", json_text=True)


def write_text(path: str | Path, text: str, *, json_text: bool = False) -> None:
    """Write the whole file or nothing (a half-written snapshot or report is worse than none); devices and
    FIFOs are written through, links followed. An OSError is a one-line UsageError naming the path."""
    data = encode(text, json_text=json_text)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise UsageError(f"cannot write {path}: it is a directory")
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_through(path, data)
    else:
        _replace(path, Path(os.path.realpath(path)), data, info)


# The names these had before devices and FIFOs were written through (callers on other branches).
write_json_atomic, write_text_atomic = write_json, write_text


def _write_through(path: str | Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BrokenPipeError:
        pass  # the reader went away (`-o json=/dev/stdout | head`): as for standard output, not an error
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _replace(shown: str | Path, target: Path, data: bytes, old: os.stat_result | None) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {shown}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if old is not None:  # the file keeps its permissions (mkstemp makes 0600)
            os.chmod(tmp, stat.S_IMODE(old.st_mode))
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {shown}: {exc.strerror or exc}") from exc
        raise


def check_output_paths(outputs: list[tuple[str, str]], inputs: list[tuple[str, str]] = ()) -> None:
    """Before a run: UsageError for an output (label, path) that could not be written afterwards (a
    directory, a missing or unwritable directory, an unwritable file) or that names the same file as another
    output or as an input (compared resolved: `a.json`, `./a.json` and a link to it are one file)."""
    read = {_identity(path): label for label, path in inputs}
    written: dict[tuple, str] = {}
    for label, path in outputs:
        problem = _unwritable(path)
        if problem:
            raise UsageError(f"{label}: {problem}")
        key = _identity(path)
        if key in read:
            raise UsageError(f"{label} would overwrite {read[key]}, which this run reads")
        if key in written:
            raise UsageError(f"{written[key]} and {label} name the same file: give each output its own path")
        written[key] = label


def _identity(path: str) -> tuple:
    try:
        info = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("file", info.st_dev, info.st_ino)


def _unwritable(path: str) -> str | None:
    """Why `path` could not be written, or None."""
    if path.endswith(("/", os.sep)):
        return f"{path} names a directory"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        return f"{os.path.dirname(path)} is not a directory"
    except OSError as exc:  # ELOOP, EACCES on a directory above, ENAMETOOLONG
        return f"cannot use {path}: {exc.strerror or exc}"
    if info is not None and stat.S_ISDIR(info.st_mode):
        return f"{path} is a directory"
    if info is not None and not stat.S_ISREG(info.st_mode):
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    if info is not None and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    parent = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(parent):
        return f"directory {parent} does not exist" if not os.path.lexists(parent) else f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable" + (" (the file is replaced whole: written beside it, then renamed)"
                                                         if info is not None else "")
    return None


def load(path: str | Path, kind: str = "check") -> dict[str, Any]:
    """Read and validate a snapshot of `kind` (check or scan); anything wrong with it, or a snapshot of the other
    command, is a one-line usage error."""
    from moediag.inputs import parse_json, read_text

    what = f"snapshot {path}"
    return checked(parse_json(read_text(str(path), what), what), path, kind)


def checked(data: Any, path: str | Path, kind: str = "check") -> dict[str, Any]:
    """`data` (parsed JSON: read from `path`, or handed to the MCP server) as a snapshot of `kind` (check or scan)
    moediag can replay, else a one-line UsageError naming `path` (a snapshot of the other command included)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path} is not a moediag snapshot (no \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise UsageError(f"snapshot {path} has version {_shown(version)}; this moediag {__version__} reads versions "
                         + " and ".join(str(v) for v in READABLE_VERSIONS))
    if version == SCAN_VERSION and data.get("kind") not in ("check", "scan"):
        raise UsageError(f"snapshot {path} has kind {_shown(data.get('kind'))}, not check or scan")
    found = kind_of(data)
    if found != kind:
        raise UsageError(f"{path} is the snapshot of a {found}: replay it with `moediag {found} --snapshot`")
    options = data.get("options", {})
    if not _options_ok(options):
        raise UsageError(f"snapshot {path} has malformed options")
    cloud = options.get("cloud")
    if cloud is not None and (not isinstance(cloud, str) or cloud not in CLOUDS):
        raise UsageError(f"snapshot {path} was read in cloud {_shown(options['cloud'])}, which this moediag does not "
                         f"know (it knows {', '.join(CLOUDS)})")
    if kind == "check":
        _check_target(data.get("target"), path)
        _check_facts(data.get("facts"), path)
        return data
    _check_scan(data, path)
    return data


def _check_target(target: Any, path: str | Path, where: str = "") -> None:
    from moediag.target import _GUID, _NAME

    if not (isinstance(target, dict) and isinstance(target.get("subscription_id"), str)
            and _GUID.match(target["subscription_id"])
            and all(isinstance(target.get(k), str) and _NAME.match(target[k]) for k in ("resource_group", "workspace"))
            and _optional(target, "endpoints", list) and all(isinstance(e, str) for e in target.get("endpoints") or ())
            and _optional(target, "deployment", str)):
        raise UsageError(f"snapshot {path} has no valid target{where}")


def _check_facts(facts: Any, path: str | Path, where: str = "") -> None:
    if not isinstance(facts, dict) or not all(
        isinstance(v, dict) and ("value" in v or isinstance(v.get("error"), dict)) for v in facts.values()
    ):
        raise UsageError(f"snapshot {path} has malformed facts{where}")
    for entry in facts.values():
        error = entry.get("error")
        if error is not None and not (isinstance(error.get("kind"), str) and isinstance(error.get("message"), str)
                                      and _optional(error, "status", int) and _optional(error, "resource_id", str)):
            raise UsageError(f"snapshot {path} has a malformed fact error{where}")


def _options_ok(options: Any) -> bool:
    return (isinstance(options, dict) and _optional(options, "dns_servers", list)
            and all(isinstance(s, str) for s in options.get("dns_servers") or ())
            and _optional(options, "client_vnets", list)
            and all(isinstance(v, str) for v in options.get("client_vnets") or ())
            and _optional(options, "azure_dns", str) and options.get("logs", "auto") in ("auto", "all", "none")
            and _optional(options, "include_diagnose", bool))


def _check_scan(data: dict[str, Any], path: str | Path) -> None:
    """The blocks of a scan snapshot: what a replay reads, each of the right shape."""
    scope, inventory, targets = data.get("scope"), data.get("inventory"), data.get("targets")
    if not (isinstance(scope, dict) and scope.get("kind") in ("subscriptions", "management_groups", "tenant")
            and all(isinstance(scope.get(k), list) and all(isinstance(v, str) for v in scope[k])
                    for k in ("subscriptions", "management_groups"))):
        raise UsageError(f"snapshot {path} has no valid scope")
    if not (isinstance(inventory, dict) and isinstance(inventory.get("rows"), list)
            and all(isinstance(row, dict) for row in inventory["rows"]) and _optional(inventory, "pages", int)):
        raise UsageError(f"snapshot {path} has no valid inventory (Resource Graph rows)")
    _check_facts(data.get("shared_facts", {}), path, " (shared_facts)")
    if not isinstance(targets, list):
        raise UsageError(f"snapshot {path} has no valid targets")
    for i, entry in enumerate(targets):
        where = f" (targets[{i}])"
        if not isinstance(entry, dict) or not _optional(entry, "not_evaluated", str):
            raise UsageError(f"snapshot {path} has a malformed target entry{where}")
        _check_target(entry.get("target"), path, where)
        _check_facts(entry.get("facts", {}), path, where)


def _optional(obj: dict[str, Any], key: str, kind: type) -> bool:
    """obj[key] is absent, null, or a `kind` (True is not an int here)."""
    value = obj.get(key)
    return value is None or (isinstance(value, kind) and (kind is bool or not isinstance(value, bool)))


def _shown(value: Any) -> str:
    """A value from the file in a message: short, whatever its type."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

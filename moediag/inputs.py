"""Files users hand moediag (a snapshot, a saved report, moediag.toml): bytes to data, or one `UsageError` line.

They are untrusted: a binary file, UTF-16 from PowerShell's `>`, arrays nested 100000 deep (a RecursionError in
json or tomllib), integers of 5000 digits, `\\udc80` escapes (lone surrogates, which UTF-8 cannot carry) all end
as data or as a UsageError saying what is wrong, never as a traceback. Lone surrogates are kept as data: the
writers escape them (`moediag.snapshot.encode`). Nesting is bounded well below Python's recursion limit, so what
was loaded can be walked, redacted and rendered recursively.
"""

from __future__ import annotations

import codecs
import json
import sys
from pathlib import Path
from typing import Any

from moediag.errors import UsageError

# Real Azure bodies nest about 10 levels; a snapshot adds 3 around them, a report 5 around its evidence.
MAX_DEPTH = 200
_UTF16_32 = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
             (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def read_text(path: str, what: str) -> str:
    """The text of the file at `path` (`-`: standard input) as UTF-8, a UTF-8 byte order mark tolerated."""
    try:
        if path == "-":
            stdin = sys.stdin
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8", "surrogatepass")
        else:
            data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror or exc}") from exc
    return decode(data, what)


def decode(data: bytes, what: str) -> str:
    for bom, name in _UTF16_32:
        if data.startswith(bom):
            raise UsageError(f"{what} is {name} text; moediag reads UTF-8 (PowerShell's `>` writes UTF-16: use "
                             f"`-o json=FILE`, or re-save it with `Out-File -Encoding utf8`)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise UsageError(f"{what} is not text (a NUL byte at offset {nul}): a binary file, or UTF-16 without a "
                         "byte order mark?")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
                         "a binary file?") from exc


def parse_json(text: str, what: str, max_depth: int = MAX_DEPTH) -> Any:
    try:
        data = json.loads(text)
    except RecursionError:
        raise UsageError(f"{what} is nested too deeply to read (more than {max_depth} levels)") from None
    except ValueError as exc:  # JSONDecodeError; an integer of more than 4300 digits
        raise UsageError(f"{what} is not valid JSON (truncated or corrupt?): {exc}") from exc
    if too_deep(data, max_depth):
        raise UsageError(f"{what} is nested more than {max_depth} levels deep")
    return data


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and dicts in `value` nest deeper than `limit` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False

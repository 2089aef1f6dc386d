"""Text from evidence, made inert for printing: the one function every renderer passes foreign text through.

Most of what moediag prints was written by someone else (resource names, Azure's messages, container logs) and
lands in terminals, tickets and CI logs. Characters that steer a terminal or reorder what a reader sees are shown
as escapes instead of being emitted: C0 controls (ESC and so every CSI/OSC sequence, CR, BEL, NUL, backspace, and
newline and tab too: the layout emits its own), DEL, C1 controls (U+0080-U+009F, some terminals read U+009B as
CSI), the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and marks (U+061C,
U+200E, U+200F), the line and paragraph separators U+2028/U+2029, lone surrogates, and the non-characters
U+FFFE/U+FFFF (which XML cannot carry).

C0 controls print as `\\n`, `\\r`, `\\t` or `\\xNN`; the others as `\\uXXXX`, which is also a valid JSON escape, so
JSON text (where the encoder already escaped C0) stays valid JSON that parses to the same value.
"""

from __future__ import annotations

import re

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                    "\ud800-\udfff\ufffe\uffff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group(0)
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}")


def inert(text: object, keep: str = "") -> str:
    """`text` (made a string) with every unsafe character shown as an escape; `keep` names characters the caller's
    own layout put there (the newlines of an indented JSON document), left as they are."""
    text = text if isinstance(text, str) else str(text)
    if keep:
        return UNSAFE.sub(lambda m: m.group(0) if m.group(0) in keep else _escape(m), text)
    return UNSAFE.sub(_escape, text)

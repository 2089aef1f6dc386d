"""The JSON report as written to stdout or a file: the contract support tooling parses.

Layout: the top-level keys one per line, and each result on a line of its own. It reads well in a
ticket, greps by check id, and lets the C encoder do the work (`indent=` falls back to the pure-Python
encoder, which costs about 0.3 s on a 200-endpoint report).

Written with `ensure_ascii=False` (names stay readable), except for the characters `moediag.render.inert` makes
inert: the encoder already escapes C0 controls; DEL, C1 controls, bidi overrides, line separators, lone surrogates
and U+FFFE/U+FFFF are written as `\\uXXXX` escapes too. The document parses to the same report, and `cat`-ing it
in a terminal cannot steer the terminal.
"""

from __future__ import annotations

import json
from typing import Any

from moediag.render.inert import inert


def _compact(value: Any) -> str:
    return inert(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))


def render(report: dict[str, Any], color: bool = False) -> str:
    lines = []
    for key, value in report.items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            items = ",\n".join(f"    {_compact(item)}" for item in value)
            lines.append(f"  {_compact(key)}: [\n{items}\n  ]")
        else:
            lines.append(f"  {_compact(key)}: {_compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"

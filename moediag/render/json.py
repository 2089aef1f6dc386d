"""The JSON report as written to stdout or a file: the contract support tooling parses."""

from __future__ import annotations

import json
from typing import Any


def render(report: dict[str, Any], color: bool = False) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"

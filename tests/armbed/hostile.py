"""Bodies a hostile (or broken) Resource Manager could send, for the tests of moediag's guards.

The bed's other hostile knobs live on `ArmTestBed` itself: `foreign_origin()` (a second HTTPS origin that
records what reaches it), `redirect()`, `collection(..., next_link_base=...)` and `lro(..., status_base=...,
status_header=...)`.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from .server import Streamed


def trickle(body: Any, interval: float) -> Streamed:
    """`body` as JSON, one byte every `interval` seconds (with its Content-Length, as a slow server would)."""
    payload = json.dumps(body).encode()
    return Streamed(lambda: (payload[i : i + 1] for i in range(len(payload))), interval, content_length=len(payload))


def endless_list(item: dict, piece_items: int = 2000) -> Streamed:
    """`{"value": [item, item, ...` that never ends (chunked, as fast as the client reads)."""
    piece = (json.dumps(item) + ",").encode() * piece_items
    return Streamed(lambda: itertools.chain([b'{"value": ['], itertools.repeat(piece)))


def nested_arrays(depth: int) -> bytes:
    """`[[[...]]]`, `depth` deep: valid JSON that a recursive parser cannot read."""
    return b"[" * depth + b"]" * depth

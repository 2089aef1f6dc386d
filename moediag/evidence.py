"""Reading REST bodies the way checks need them, tolerant of the shapes real responses take.

Real responses omit blocks, carry `null`, `""` or placeholder strings where ids belong, and vary casing.
These helpers never raise on odd shapes: they return empty values and let checks say what was missing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from moediag.errors import FactError


def props(body: Any) -> dict[str, Any]:
    """`properties` of a REST body, or {} when a partial response lacks it."""
    value = body.get("properties") if isinstance(body, dict) else None
    return value if isinstance(value, dict) else {}


def dig(body: Any, *path: str) -> Any:
    """body[a][b]... or None where any step is missing or not a dict."""
    for step in path:
        if not isinstance(body, dict):
            return None
        body = body.get(step)
    return body


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def same_text(a: Any, b: str) -> bool:
    """Case-insensitive equality for enum-like strings (`AzureServices`, `approved`)."""
    return isinstance(a, str) and a.strip().lower() == b.lower()


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 times as ARM writes them (7 fractional digits, `Z`), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    raw = value.strip().replace("Z", "+00:00")
    if "." in raw:  # Python takes at most 6 fractional digits
        head, _, rest = raw.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits):]
        raw = f"{head}.{digits[:6]}{tz}"
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def workspace_private_endpoint_ids(workspace: Any) -> list[tuple[dict[str, Any], str | None]]:
    """(connection, private endpoint id) for each private endpoint connection of the workspace."""
    out = []
    for connection in props(workspace).get("privateEndpointConnections") or []:
        if isinstance(connection, dict):
            pe_id = dig(connection, "properties", "privateEndpoint", "id")
            out.append((connection, pe_id if isinstance(pe_id, str) and pe_id else None))
    return out


def endpoint_deployments(ctx) -> tuple[list[dict[str, Any]], dict[str, tuple[list[dict[str, Any]], FactError | None]]]:
    """The endpoints in scope and, per endpoint name, its deployments (or why they could not be read).

    Raises FactError when the endpoints themselves could not be listed.
    """
    endpoints = [e for e in ctx.fact("online_endpoints") if isinstance(e, dict)]
    names = [text(e.get("name")) for e in endpoints]
    answers = ctx.gather("deployments", [(n,) for n in names])
    per_endpoint = {}
    for name, (value, error) in zip(names, answers):
        per_endpoint[name] = ([d for d in value or [] if isinstance(d, dict)], error)
    return endpoints, per_endpoint


def az_group_and_name(resource_id: Any) -> tuple[str, str]:
    """(resource group, name) of an id, for `az ... -g RG -n NAME` fixes; placeholders when unparsable."""
    from moediag.resource_id import parse

    parsed = parse(resource_id)
    if parsed is None:
        return "<resource-group>", "<name>"
    return parsed.resource_group, parsed.name

"""Reading REST bodies the way checks need them, tolerant of the shapes real responses take.

Real responses omit blocks, carry `null`, `""` or placeholder strings where ids belong, and vary casing.
These helpers never raise on odd shapes: they return empty values and let checks say what was missing. The
exceptions (`listed`, `require_props`, `workspace_private_endpoint_ids`) raise FactError(unreadable) where an empty
value would be read as evidence of absence.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from moediag.errors import FactError
from moediag.shell import Placeholder


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
    """An ISO 8601 date and time as ARM writes it (7 fractional digits, `Z` or an offset), in UTC; None when it is
    not one. isodate reads what `datetime.fromisoformat` cannot on every supported Python (7 digits on 3.10);
    a time without an offset is taken as UTC, as ARM means it."""
    import isodate

    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = isodate.parse_datetime(value.strip())
    except (ValueError, isodate.ISO8601Error):
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def workspace_private_endpoint_ids(workspace: Any) -> list[tuple[dict[str, Any], str | None]]:
    """(connection, private endpoint id) for each private endpoint connection of the workspace.

    A body without a `properties` object, or connections that are not a list, raise FactError(unreadable): that is
    not a workspace without private endpoints, and checks read an empty list as "not applicable".
    """
    out = []
    connections = require_props(workspace, "workspace").get("privateEndpointConnections")
    for connection in listed(connections, "the workspace's privateEndpointConnections") if connections is not None else []:
        if isinstance(connection, dict):
            pe_id = dig(connection, "properties", "privateEndpoint", "id")
            out.append((connection, pe_id if isinstance(pe_id, str) and pe_id else None))
    return out


def listed(value: Any, what: str) -> list[dict[str, Any]]:
    """The objects of a list-valued fact; FactError(unreadable) when the value is not a list at all."""
    if not isinstance(value, list):
        raise FactError("unreadable", f"{what} is a {type(value).__name__}, not a list")
    return [item for item in value if isinstance(item, dict)]


IN_PROGRESS_STATES = ("Creating", "Updating", "Scaling", "Deleting", "Provisioning")


def provisioning_phase(body: Any) -> tuple[str, Any]:
    """(phase, raw provisioningState): phase is succeeded, failed, in_progress, unknown or absent."""
    state = props(body).get("provisioningState")
    if state is None or (isinstance(state, str) and not state.strip()):
        return "absent", state
    if same_text(state, "Succeeded"):
        return "succeeded", state
    if same_text(state, "Failed") or same_text(state, "Canceled"):
        return "failed", state
    if any(same_text(state, s) for s in IN_PROGRESS_STATES):
        return "in_progress", state
    return "unknown", state


def az_group_and_name(resource_id: Any) -> tuple[str, str]:
    """(resource group, name) of an id, for `az ... -g RG -n NAME` fixes; `Placeholder`s when unparsable (so a
    command shows `<resource-group>` for the reader to fill in, while a real name is always quoted)."""
    from moediag.resource_id import parse

    parsed = parse(resource_id)
    if parsed is None:
        return Placeholder("resource-group"), Placeholder("name")
    return parsed.resource_group, parsed.name


def require_props(body: Any, what: str) -> dict[str, Any]:
    """`properties` of a body whose *absent* fields a check reads as healthy (absent = off, no firewall).

    A body without a `properties` object is a partial or garbled response, not evidence of absence:
    raise FactError so the check says `error` instead of passing on nothing.
    """
    value = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise FactError("unreadable", f"the {what}'s response has no properties object: cannot tell")
    return value


def outbound_rule_items(outbound_rules: Any) -> list[dict[str, Any]] | None:
    """The rules of an `outbound_rules` fact (`{"source", "rules"}`); None when the value has another shape."""
    rules = outbound_rules.get("rules") if isinstance(outbound_rules, dict) else None
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else None


def operation_error(status: Any) -> dict[str, Any] | None:
    """The `error` object of an operation status body (ARM's Azure-AsyncOperation format: `{"status", "error":
    {"code", "message", "details": [...], "additionalInfo": [...]}}`), or None when it carries none."""
    error = status.get("error") if isinstance(status, dict) else None
    return error if isinstance(error, dict) and (text(error.get("code")) or text(error.get("message"))) else None


def error_codes(error: Any, depth: int = 0) -> list[str]:
    """Every `code` of an ARM error and its nested `details`, outermost first (a generic code such as
    `DeploymentFailed` often wraps the specific one)."""
    if not isinstance(error, dict) or depth > 8:
        return []
    own = [text(error.get("code")).strip()] if text(error.get("code")).strip() else []
    details = error.get("details")
    return own + [c for d in (details if isinstance(details, list) else []) for c in error_codes(d, depth + 1)]


def error_messages(error: Any, depth: int = 0) -> list[str]:
    """Every `message` of an ARM error and its nested `details`, outermost first."""
    if not isinstance(error, dict) or depth > 8:
        return []
    own = [text(error.get("message")).strip()] if text(error.get("message")).strip() else []
    details = error.get("details")
    return own + [m for d in (details if isinstance(details, list) else []) for m in error_messages(d, depth + 1)]


def error_additional_info(error: Any, depth: int = 0) -> list[dict[str, Any]]:
    """The `info` objects of every `additionalInfo` entry of an ARM error and its details (policy violations name
    their assignment there: `{"type": "PolicyViolation", "info": {"policyAssignmentId", ...}}`)."""
    if not isinstance(error, dict) or depth > 8:
        return []
    infos = error.get("additionalInfo")
    own = [i["info"] for i in (infos if isinstance(infos, list) else []) if isinstance(i, dict) and isinstance(i.get("info"), dict)]
    details = error.get("details")
    return own + [i for d in (details if isinstance(details, list) else []) for i in error_additional_info(d, depth + 1)]


WORKSPACE_KINDS = ("Default", "Hub", "Project", "FeatureStore")


def workspace_kind(body: Any) -> str:
    """`Default`, `Hub`, `Project` or `FeatureStore` as Azure spells it (compared case-insensitively); an absent
    kind is `Default` (workspaces made before hubs existed); an unknown one is returned as written."""
    raw = text(body.get("kind") if isinstance(body, dict) else None).strip()
    if not raw:
        return "Default"
    return next((k for k in WORKSPACE_KINDS if k.lower() == raw.lower()), raw)

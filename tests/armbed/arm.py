"""ARM conventions the test bed imitates: how paths compare and what error bodies look like.

Kept apart from the HTTP server so the rules are easy to read (and to check against the real
service): ARM resource ids compare case-insensitively, clients percent-encode names such as
`*.<id>.inference.eastus2` (`%2A`), and every error is `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# The object id the bed pretends the caller has, for AuthorizationFailed messages.
CALLER_OBJECT_ID = "c0ffee00-0000-4000-8000-00000000d1a9"


def normalize(path: str) -> str:
    """The store key of a path or URL: decoded, single slashes, no trailing slash, lower case.

    A full URL is accepted (its scheme, host and query are dropped), so tests can pass
    `nextLink`/`Location` values or ids interchangeably.
    """
    if "://" in path:
        path = urlsplit(path).path
    path = path.split("?", 1)[0]
    path = unquote(path)
    path = re.sub(r"/{2,}", "/", path)
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1:
        path = path.rstrip("/")
    return path.lower()


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _segments(path: str) -> list[str]:
    return [s for s in unquote(urlsplit(path).path if "://" in path else path).split("/") if s]


def resource_group_of(path: str) -> str | None:
    segs = _segments(path)
    for i, seg in enumerate(segs[:-1]):
        if seg.lower() == "resourcegroups":
            return segs[i + 1]
    return None


def resource_type_and_name(path: str) -> tuple[str, str]:
    """`Microsoft.KeyVault/vaults`, `kv` for a resource path; best effort for other paths."""
    segs = _segments(path)
    lowered = [s.lower() for s in segs]
    if "providers" in lowered:
        start = len(lowered) - 1 - lowered[::-1].index("providers")
        rest = segs[start + 1 :]
        if rest:
            namespace, pairs = rest[0], rest[1:]
            types = pairs[0::2]
            names = pairs[1::2]
            return "/".join([namespace, *types]), (names[-1] if names else "")
    if len(segs) >= 2:
        return f"Microsoft.Resources/{segs[-2]}", segs[-1]
    return "Microsoft.Resources/subscriptions", segs[-1] if segs else ""


def action_for(method: str, path: str) -> str:
    """The RBAC action ARM names in AuthorizationFailed, e.g. `Microsoft.KeyVault/vaults/read`.

    GET on a resource or a collection is `<namespace>/<types...>/read`; POST to an action such as
    `.../deployments/d/getLogs` is `<namespace>/<types...>/getLogs/action`.
    """
    segs = _segments(path)
    lowered = [s.lower() for s in segs]
    if "providers" in lowered:
        start = len(lowered) - 1 - lowered[::-1].index("providers")
        rest = segs[start + 1 :]
        namespace, pairs = (rest[0], rest[1:]) if rest else ("Microsoft.Resources", [])
    else:
        namespace, pairs = "Microsoft.Resources", [s for i, s in enumerate(segs) if i % 2 == 0]
        return "/".join([namespace, *pairs, "read" if method == "GET" else "action"])
    types = pairs[0::2]
    if method.upper() == "GET":
        return "/".join([namespace, *types, "read"])
    if len(pairs) % 2 == 1:  # trailing segment after the last name: an action
        return "/".join([namespace, *types[:-1], types[-1], "action"])
    return "/".join([namespace, *types, "write"])


def scope_of(path: str) -> str:
    """The resource path without a trailing action segment (what ARM calls the scope)."""
    if "://" in path:
        path = urlsplit(path).path
    return unquote(path.split("?", 1)[0])


def not_found(path: str) -> dict:
    rtype, name = resource_type_and_name(path)
    rg = resource_group_of(path)
    where = f"under resource group '{rg}'" if rg else "under the subscription"
    return error_body(
        "ResourceNotFound",
        f"The Resource '{rtype}/{name}' {where} was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def authorization_failed(method: str, path: str) -> dict:
    return error_body(
        "AuthorizationFailed",
        f"The client '{CALLER_OBJECT_ID}' with object id '{CALLER_OBJECT_ID}' does not have "
        f"authorization to perform action '{action_for(method, path)}' over scope "
        f"'{scope_of(path)}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
    )


_GENERIC = {
    400: ("BadRequest", "The request is invalid."),
    401: ("AuthenticationFailed", "Authentication failed."),
    405: ("MethodNotAllowed", "The requested method is not allowed for this resource."),
    409: ("Conflict", "The operation conflicts with the current state of the resource."),
    429: (
        "TooManyRequests",
        "The request is being throttled as the limit has been reached for operation type - Read. "
        "For more information, see - https://aka.ms/srpthrottlinglimits",
    ),
    500: ("InternalServerError", "Encountered internal server error. Diagnostic information: timestamp '', tracking id ''."),
    502: ("BadGateway", "The gateway did not receive a response within the specified time period."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway did not receive a response from the resource provider in time."),
}


def error_for_status(status: int, method: str, path: str) -> dict:
    """The body ARM would send with `status` for this request."""
    if status == 403:
        return authorization_failed(method, path)
    if status == 404:
        return not_found(path)
    code, message = _GENERIC.get(status, (f"HttpStatus{status}", f"The service answered {status}."))
    return error_body(code, message)

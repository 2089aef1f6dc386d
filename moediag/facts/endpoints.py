"""Facts about the workspace's online endpoints and their deployments."""

from __future__ import annotations

from typing import Any

from moediag.errors import FactError
from moediag.facts import Source, fact
from moediag.facts.workspace import ML_API
from moediag.redact import scrub

ENDPOINTS_READ = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read"
LOG_TAIL_MAX_BYTES = 1024 * 1024  # of one container's log tail kept as evidence (the rest is cut, see keep_tail)
DEPLOYMENTS_READ = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/read"


@fact("online_endpoints", permissions=(ENDPOINTS_READ,))
def online_endpoints(src: Source) -> list[dict[str, Any]]:
    """The endpoints in scope: those named with -e, else every online endpoint of the workspace.

    The list response carries whole endpoint bodies, so no endpoint is read twice.
    """
    target = src.target
    if not target.endpoints:
        return src.arm.list(f"{target.workspace_id}/onlineEndpoints", ML_API)
    bodies = []
    for name in target.endpoints:
        try:
            bodies.append(src.arm.get(target.endpoint_id(name), ML_API))
        except FactError as exc:
            if exc.kind == "not_found":
                raise FactError("not_found", f"online endpoint {name!r} not found in workspace {target.workspace!r}") from exc
            raise
    return bodies


@fact("deployments", permissions=(DEPLOYMENTS_READ,))
def deployments(src: Source, endpoint: str) -> list[dict[str, Any]]:
    """Every deployment of one endpoint (one paged list; the list carries whole deployment bodies).

    Listed even when -d names one deployment: whether the endpoint's traffic names deployments that exist
    can only be judged against all of them. The -d filter is applied by `judge.scope.endpoint_deployments`.
    """
    return src.arm.list(f"{src.target.endpoint_id(endpoint)}/deployments", ML_API)


@fact("deployment_logs", permissions=("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/getLogs/action",))
def deployment_logs(src: Source, endpoint: str, deployment: str, container: str, tail: str) -> str:
    """The tail of one container's log (a POST action that reads; it changes nothing).

    Scrubbed of secrets here, where it enters: the snapshot never holds them, and every later cut (a line
    shortened for the report) works on text that has no whole secret left to cut in half.
    """
    body = src.arm.post(
        f"{src.target.deployment_id(endpoint, deployment)}/getLogs",
        ML_API,
        {"containerType": container, "tail": int(tail)},
    )
    content = body.get("content") if isinstance(body, dict) else None
    if content is None:  # an empty answer: the container has written nothing (yet)
        return ""
    if not isinstance(content, str):
        raise FactError("unreadable", f"getLogs of {deployment} ({container}) answered a {type(content).__name__} "
                                      "where the log text belongs")
    return keep_tail(scrub(content))  # scrubbed whole, then cut at a line boundary


def keep_tail(text: str, max_bytes: int = LOG_TAIL_MAX_BYTES) -> str:
    """The end of a log: at most `max_bytes` (UTF-8) of whole lines, after a first line saying what was cut.

    The end is what matters (the last lines say why a container died). The cut is at a line boundary, never
    inside a line, so the secret scrubbing that later runs over the text still sees every kept line whole; a
    last line longer than the cap is dropped entirely rather than halved.
    """
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    newline = data.find(b"\n", len(data) - max_bytes - 1)
    start = newline + 1 if newline != -1 else len(data)
    kept = data[start:].decode("utf-8", "surrogatepass")
    lines = data.count(b"\n", 0, start) + (0 if data[start - 1 : start] == b"\n" else 1)
    note = (f"[moediag: this log tail was {len(data)} bytes, over moediag's cap of {max_bytes}: its first {start} "
            f"bytes ({lines} line{'' if lines == 1 else 's'}) were cut at a line boundary, the last "
            f"{len(data) - start} bytes are kept]\n")
    return note + kept

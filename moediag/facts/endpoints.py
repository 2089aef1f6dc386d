"""Facts about the workspace's online endpoints and their deployments."""

from __future__ import annotations

from typing import Any

from moediag.errors import FactError
from moediag.facts import Source, fact
from moediag.facts.workspace import ML_API
from moediag.redact import scrub

ENDPOINTS_READ = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read"
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
    return scrub(content)

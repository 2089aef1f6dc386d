"""Facts about a deployment's latest operation: what Azure recorded when it failed.

A deployment body carries no error of its own (the 2025-12-01 REST examples and the SDK recordings show none),
but Azure Machine Learning records, in the deployment's free-form `properties.properties`, the
`AzureAsyncOperationUri` of its latest create or update: an operation status resource on Resource Manager
(`/subscriptions/S/providers/Microsoft.MachineLearningServices/locations/L/mfeOperationsStatus/ID`) whose GET
answers `{"status": "Failed", "error": {"code", "message", "details"}}` (ARM's Azure-AsyncOperation format).
It is a plain GET: no POST is needed. Only the path is used (the request goes to the run's own Resource Manager
origin, whatever host the URI names), and only a path of that exact shape is read.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moediag.errors import FactError
from moediag.evidence import listed, props, text
from moediag.facts import Source, fact
from moediag.facts.workspace import ML_API

OPERATION_READ = "Microsoft.MachineLearningServices/locations/mfeOperationsStatus/read"
# The operation status resources of Azure Machine Learning, and nothing else (no dot segments, no other provider).
_STATUS_PATH = re.compile(r"/subscriptions/[\w-]+/providers/Microsoft\.MachineLearningServices/locations/[\w-]+"
                          r"/mfeOperationsStatus/[\w:.-]+", re.IGNORECASE)
_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(?:-preview)?")
URI_KEY = "AzureAsyncOperationUri"


def operation_uri(deployment: Any) -> str | None:
    """The `AzureAsyncOperationUri` a deployment body records (key compared case-insensitively), or None."""
    inner = props(deployment).get("properties")
    if not isinstance(inner, dict):
        return None
    for key, value in inner.items():
        if isinstance(key, str) and key.lower() == URI_KEY.lower() and isinstance(value, str) and value.strip():
            return value.strip()
    return None


@fact("deployment_operation", permissions=(OPERATION_READ,), needs=("deployments",))
def deployment_operation(src: Source, endpoint: str, deployment: str) -> dict[str, Any] | None:
    """The status of the deployment's latest operation: `{"path": ..., "status": <the status body, or None when
    Resource Manager no longer knows the operation (404)>}`; None when the deployment records no operation."""
    bodies = listed(src.get("deployments", endpoint), f"the deployment list of {endpoint}")
    found = [d for d in bodies if text(d.get("name")).lower() == deployment.lower()]
    if not found:
        raise FactError("not_found", f"deployment {deployment!r} of endpoint {endpoint!r} is not in its list")
    uri = operation_uri(found[0])
    if uri is None:
        return None
    parts = urlsplit(uri)
    if not _STATUS_PATH.fullmatch(parts.path):
        raise FactError("unreadable", f"deployment {deployment} records an {URI_KEY} that is not an Azure Machine "
                                      f"Learning operation status ({parts.path[:200]!r}): not read")
    versions = [v for v in parse_qs(parts.query).get("api-version", []) if _API_VERSION.fullmatch(v)]
    return {"path": parts.path, "status": src.arm.get_or_none(parts.path, versions[0] if versions else ML_API)}

"""Azure Resource Graph: the fleet's inventory in one paged query, through the run's one pipeline.

`moediag scan` stands on Resource Graph rather than walking subscriptions and resource groups itself: one
query (paged with its `$skipToken`) finds the Machine Learning workspaces and their online endpoints in scope,
and the subscriptions the identity can see. The client is azure-mgmt-resourcegraph's `ResourceGraphClient`,
built on the `Arm` of the run: the same credential, TLS trust, retry policy and concurrency bound.

Resource Graph returns only what the identity may read: a subscription it cannot see is simply absent, so
subscriptions named with --subscription are compared with the subscription rows the query returns, and the
missing ones are reported, never silently dropped. Imported only by `scan` (azure SDKs load lazily).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moediag.errors import FactError

READ = "Microsoft.ResourceGraph/resources/read"
WORKSPACE_TYPE = "microsoft.machinelearningservices/workspaces"
ENDPOINT_TYPE = "microsoft.machinelearningservices/workspaces/onlineendpoints"
SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"

# One query: the workspaces, their online endpoints, and the subscriptions in scope (what the identity sees), each
# subscription with its management groups (`properties.managementGroupAncestorsChain`: [{name, displayName}], from
# the immediate parent up to the tenant root group).
INVENTORY_QUERY = (
    "resources"
    f" | where type =~ '{WORKSPACE_TYPE}' or type =~ '{ENDPOINT_TYPE}'"
    " | project id, name, type, subscriptionId, resourceGroup, location, kind"
    " | union (resourcecontainers"
    f" | where type =~ '{SUBSCRIPTION_TYPE}'"
    " | project id, name, type, subscriptionId, resourceGroup, location, kind,"
    " managementGroupAncestorsChain = properties.managementGroupAncestorsChain)"
    " | order by id asc"
)
PAGE_SIZE = 1000  # Resource Graph's maximum $top
MAX_PAGES = 1000  # a skip token that never ends must not loop forever


@dataclass(frozen=True)
class Workspace:
    id: str
    subscription_id: str
    resource_group: str
    name: str
    location: str = ""
    kind: str = ""


@dataclass
class Inventory:
    """What Resource Graph found in scope."""

    workspaces: list[Workspace] = field(default_factory=list)
    endpoints: dict[str, list[str]] = field(default_factory=dict)  # lower-cased workspace id -> endpoint names
    subscriptions: dict[str, str] = field(default_factory=dict)  # visible subscription id (lower) -> display name
    rows: int = 0
    pages: int = 0
    source_rows: list[dict[str, Any]] = field(default_factory=list)  # the rows as the query returned them (snapshots)
    # visible subscription id (lower) -> its management groups, immediate parent first: [(name, display name)]
    ancestors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class Graph:
    """Resource Graph queries through the pipeline of an `Arm` (built lazily: azure-mgmt-resourcegraph)."""

    def __init__(self, arm: Any):
        from azure.mgmt.resourcegraph import ResourceGraphClient

        self._client = ResourceGraphClient(arm.credential, base_url=arm.endpoint, policies=arm.policies,
                                           transport=arm.transport)

    def query(self, query: str, subscriptions: list[str] | None = None,
              management_groups: list[str] | None = None) -> tuple[list[dict[str, Any]], int]:
        """Every row of `query` in scope (all pages, following `$skipToken`), and the number of pages read."""
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        rows: list[dict[str, Any]] = []
        token: str | None = None
        for page in range(1, MAX_PAGES + 1):
            request = QueryRequest(
                query=query,
                subscriptions=subscriptions or None,
                management_groups=management_groups or None,
                options=QueryRequestOptions(skip_token=token, top=None if token else PAGE_SIZE,
                                            result_format="objectArray"),
            )
            try:
                response = self._client.resources(request)
            except Exception as exc:  # classified like every other read; a real bug is re-raised by _classify
                from moediag.arm import _classify

                raise _classify(exc, "Resource Graph query") from exc
            data = response.data
            if not isinstance(data, list):
                raise FactError("unreadable", f"Resource Graph answered {type(data).__name__} rows, not a list "
                                              "(objectArray result format expected)")
            odd = next((i for i, row in enumerate(data) if not isinstance(row, dict)), None)
            if odd is not None:  # never a silently shorter inventory
                raise FactError("unreadable", f"Resource Graph answered a {type(data[odd]).__name__} as row {odd} of "
                                              f"page {page}, not an object (objectArray result format expected)")
            rows += data
            token = response.skip_token
            if not token:
                return rows, page
        raise FactError("unreadable", f"Resource Graph kept returning a $skipToken after {MAX_PAGES} pages")

    def inventory(self, subscriptions: list[str] | None = None,
                  management_groups: list[str] | None = None) -> Inventory:
        rows, pages = self.query(INVENTORY_QUERY, subscriptions, management_groups)
        return inventory_of(rows, pages)


def inventory_of(rows: list[dict[str, Any]], pages: int = 1) -> Inventory:
    """Sort the query's rows into workspaces, endpoint names per workspace, and visible subscriptions."""
    from moediag import resource_id

    found = Inventory(rows=len(rows), pages=pages, source_rows=list(rows))
    seen: set[str] = set()
    for row in rows:
        kind, rid = _text(row.get("type")).lower(), _text(row.get("id"))
        if kind == SUBSCRIPTION_TYPE:
            sub = _text(row.get("subscriptionId")) or resource_id.last_name(rid)
            if sub:
                found.subscriptions[sub.lower()] = _text(row.get("name")) or sub
                found.ancestors[sub.lower()] = _ancestors(row)
            continue
        parsed = resource_id.parse(rid)
        if parsed is None:
            continue
        if kind == WORKSPACE_TYPE and rid.lower() not in seen:
            seen.add(rid.lower())
            found.workspaces.append(Workspace(rid, parsed.subscription.lower(), parsed.resource_group, parsed.name,
                                              _text(row.get("location")), _text(row.get("kind"))))
        elif kind == ENDPOINT_TYPE:
            workspace_id = rid[: rid.lower().rindex("/onlineendpoints/")]
            found.endpoints.setdefault(workspace_id.lower(), []).append(parsed.name)
    found.workspaces.sort(key=lambda w: (w.subscription_id, w.resource_group.lower(), w.name.lower()))
    for names in found.endpoints.values():
        names.sort()
    return found


def _ancestors(row: dict[str, Any]) -> list[tuple[str, str]]:
    """A subscription row's management groups, immediate parent first, as (name, display name): the projected
    column, or `properties.managementGroupAncestorsChain` when the row is whole. Anything else is no chain."""
    chain = row.get("managementGroupAncestorsChain")
    if chain is None and isinstance(row.get("properties"), dict):
        chain = row["properties"].get("managementGroupAncestorsChain")
    if not isinstance(chain, list):
        return []
    return [(item["name"], _text(item.get("displayName")) or item["name"]) for item in chain
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]]

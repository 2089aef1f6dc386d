"""Hubs and projects: where a workspace's network truth lives.

A workspace of `kind` `Project` has no network of its own: it takes its managed network (isolation mode, status,
outbound rules) and its private endpoints from its hub (`properties.hubResourceId`). `Default`, `Hub` and
`FeatureStore` workspaces carry their own. `network_workspace` says which body to judge, so every check that needs
network truth reads the same one and can say where it read it.
"""

from __future__ import annotations

from typing import Any

from moediag import resource_id
from moediag.errors import FactError
from moediag.evidence import props, workspace_kind
from moediag.facts import Source, fact
from moediag.facts.workspace import ML_READ, WORKSPACE_API


@fact("hub_workspace", permissions=(ML_READ,), shared=True)
def hub_workspace(src: Source, hub_id: str) -> dict[str, Any]:
    """A hub workspace's REST body (read once, whichever of its projects asks)."""
    return src.arm.get(hub_id, WORKSPACE_API)


@fact("network_workspace", needs=("workspace", "hub_workspace"), derived=True)
def network_workspace(src: Source) -> dict[str, Any]:
    """The workspace whose body holds the network truth: the hub for a project, else the workspace itself.

    `{"kind", "from_hub", "id", "name", "resource_group", "subscription", "body"}`. A project whose hub cannot be
    read (or that names no usable hub) is unreadable: its network is never judged on the project's own body.
    """
    workspace = src.get("workspace")
    kind = workspace_kind(workspace)
    t = src.target
    if kind != "Project":
        return {"kind": kind, "from_hub": False, "id": t.workspace_id, "name": t.workspace,
                "resource_group": t.resource_group, "subscription": t.subscription_id, "body": workspace}
    raw = props(workspace).get("hubResourceId")
    hub = resource_id.parse(raw)
    if hub is not None and (hub.namespace.lower() != "microsoft.machinelearningservices"
                            or [t.lower() for t in hub.types] != ["workspaces"]):
        hub = None
    if hub is None:
        shown = "absent" if raw is None else repr(raw)
        raise FactError("unreadable", f"workspace {t.workspace} is a project, but its hubResourceId is {shown}, not a "
                                      "resource id: its network (the hub's) cannot be read")
    try:
        body = src.get("hub_workspace", hub.text)
    except FactError as exc:
        raise FactError(exc.kind, f"workspace {t.workspace} is a project of hub {hub.name}, whose network it uses; "
                                  f"the hub could not be read: {exc.message}", status=exc.status,
                        resource_id=exc.resource_id) from exc
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise FactError("unreadable", f"the body of hub {hub.name} (of project {t.workspace}) has no properties "
                                      "object: its network cannot be judged")
    return {"kind": kind, "from_hub": True, "id": hub.text, "name": hub.name, "resource_group": hub.resource_group,
            "subscription": hub.subscription, "body": body}

"""Facts about the workspace and the resources it is associated with."""

from __future__ import annotations

from typing import Any

from moediag import resource_id
from moediag.errors import FactError
from moediag.evidence import props
from moediag.facts import Source, fact

# The preview carries v1LegacyMode and creationTime, which the stable examples omit.
WORKSPACE_API = "2024-10-01-preview"
ML_API = "2025-12-01"
KEYVAULT_API = "2023-07-01"
REGISTRY_API = "2023-07-01"

ML_READ = "Microsoft.MachineLearningServices/workspaces/read"


@fact("workspace", permissions=(ML_READ,))
def workspace(src: Source) -> dict[str, Any]:
    """The workspace's REST body: every workspace property the checks need, in one GET."""
    return src.arm.get(src.target.workspace_id, WORKSPACE_API)


def associated_id(src: Source, prop: str) -> resource_id.ResourceId:
    """The parsed id of an associated resource named in the workspace, or FactError saying why not."""
    raw = props(src.get("workspace")).get(prop)
    parsed = resource_id.parse(raw)
    if parsed is None:
        shown = "absent" if raw is None else f"{raw!r}"
        raise FactError("unreadable", f"the workspace's {prop} is {shown}, not a resource id")
    return parsed


def associated_body(src: Source, prop: str, api_version: str) -> dict[str, Any]:
    """The REST body of the associated resource named by the workspace's `prop`: read once per run by its id, so
    a Key Vault, registry or storage account shared by ten workspaces of a fleet is read once."""
    rid = associated_id(src, prop).text
    return src.read_once((prop, rid, api_version), lambda: src.arm.get(rid, api_version))


@fact("keyvault", permissions=("Microsoft.KeyVault/vaults/read",), needs=("workspace",))
def keyvault(src: Source) -> dict[str, Any]:
    """The workspace Key Vault's REST body (its networkAcls decide whether Azure services get through)."""
    return associated_body(src, "keyVault", KEYVAULT_API)


@fact("registry", permissions=("Microsoft.ContainerRegistry/registries/read",), needs=("workspace",))
def registry(src: Source) -> dict[str, Any]:
    """The workspace container registry's REST body, private endpoint connections included."""
    return associated_body(src, "containerRegistry", REGISTRY_API)


@fact(
    "created_times",
    permissions=("Microsoft.Resources/subscriptions/resourceGroups/resources/read",),
    shared=True,
)
def created_times(src: Source, subscription: str, resource_group: str, resource_type: str) -> dict[str, str | None]:
    """Creation time of each resource of a type in a group (lower-cased id to ISO time)."""
    items = src.arm.resources_with_created_time(subscription, resource_group, resource_type)
    return {str(item["id"]).lower(): item.get("createdTime") for item in items if item.get("id")}

"""ARM resource ids: parsed leniently, compared case-insensitively (as Resource Manager does).

Kept dependency-free on purpose: azure.mgmt.core.tools would pull in azure-core (~140 ms) for what the
checks need on every run, snapshot replays included.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]
    text: str

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def type(self) -> str:
        """`Namespace/type/childtype`, e.g. Microsoft.Network/privateDnsZones/A."""
        return "/".join((self.namespace, *self.types))

    def is_type(self, full_type: str) -> bool:
        return self.type.lower() == full_type.lower()

    @property
    def parent(self) -> str:
        """The id of the top-level resource this id lives under."""
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{self.namespace}/{self.types[0]}/{self.names[0]}"
        )


def parse(text: object) -> ResourceId | None:
    """The parts of a resource id, or None when `text` is not one ("", "Sanitized", None, ...)."""
    if not isinstance(text, str):
        return None
    parts = [p for p in text.strip().split("/")]
    if len(parts) < 9 or parts[0] != "":
        return None
    parts = parts[1:]
    if parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups" or parts[4].lower() != "providers":
        return None
    subscription, group, namespace = parts[1], parts[3], parts[5]
    rest = parts[6:]
    if not subscription or not group or not namespace or len(rest) < 2 or len(rest) % 2 or any(not p for p in rest):
        return None
    return ResourceId(subscription, group, namespace, tuple(rest[0::2]), tuple(rest[1::2]), text.strip())


def last_name(text: str) -> str:
    """The last segment of an id-like path, whatever its shape: a resource's name, a role definition's GUID
    (`/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/<guid>` has no resource group, so `parse`
    refuses it), a subscription's id."""
    return text.strip().rstrip("/").rsplit("/", 1)[-1]


def same(a: object, b: object) -> bool:
    """Two ids name the same resource (ARM ids are case-insensitive; trailing slashes happen)."""
    return isinstance(a, str) and isinstance(b, str) and a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()

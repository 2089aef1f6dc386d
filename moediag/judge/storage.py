"""How a storage account's network settings decide who reaches it (storage.network-access,
deployment.egress-to-private-resources): public access and firewall, the exceptions that let the workspace
through, and which of its private endpoint connections are approved.

Pure readers of REST bodies (the account's `properties.networkAcls`, `publicNetworkAccess`,
`privateEndpointConnections`): they never raise on odd shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moediag import resource_id
from moediag.evidence import dig, props, same_text, text

# The sub-resources (private endpoint group ids) a deployment reads: the model and code (blob) and the
# workspace's file share (file).
STORAGE_GROUPS = ("blob", "file")


@dataclass
class StorageAccess:
    """What a storage account body says about its network: `public` is publicNetworkAccess as sent (None:
    absent, which Azure treats as Enabled); `firewall` the networkAcls' defaultAction (None: no networkAcls)."""

    id: str
    name: str
    public: Any
    default_action: Any
    bypass: list[str] = field(default_factory=list)
    resource_rules: list[str] = field(default_factory=list)  # resourceAccessRules[].resourceId
    ip_rules: list[str] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def public_disabled(self) -> bool:
        return same_text(self.public, "Disabled")

    @property
    def perimeter(self) -> bool:
        return same_text(self.public, "SecuredByPerimeter")

    @property
    def public_known(self) -> bool:
        return self.public is None or any(same_text(self.public, v) for v in ("Enabled", "Disabled", "SecuredByPerimeter"))

    @property
    def open(self) -> bool:
        """Every network may reach the account: public access on and no firewall denying by default."""
        return (self.public is None or same_text(self.public, "Enabled")) and not same_text(self.default_action, "Deny")

    @property
    def trusted_services(self) -> bool:
        return any(same_text(b, "AzureServices") for b in self.bypass)

    def instance_rule_for(self, workspace_id: str) -> bool:
        return any(resource_id.same(r, workspace_id) for r in self.resource_rules)

    def exceptions_for(self, workspace_id: str) -> list[str]:
        """The firewall exceptions that let the workspace through the public endpoint (only while public network
        access is Enabled: with it Disabled, only private endpoints reach the account)."""
        if not (self.public is None or same_text(self.public, "Enabled")):
            return []
        found = []
        if self.instance_rule_for(workspace_id):
            found.append("a resource instance rule for the workspace")
        if self.trusted_services:
            found.append("the trusted Azure services exception (bypass AzureServices)")
        return found

    def private_only(self, workspace_id: str) -> bool:
        """Accepts only private access, for a caller on the public network that is not the workspace."""
        if self.public_disabled or self.perimeter:
            return True
        return same_text(self.default_action, "Deny") and not self.exceptions_for(workspace_id)

    def describe(self) -> str:
        public = text(self.public) or "absent (Enabled)"
        acl = f"firewall default action {self.default_action}" if self.default_action is not None else "no firewall"
        return f"publicNetworkAccess {public}, {acl}"

    def observed(self) -> dict[str, Any]:
        return {"publicNetworkAccess": self.public, "networkAcls.defaultAction": self.default_action,
                "networkAcls.bypass": ", ".join(self.bypass) or None,
                "networkAcls.resourceAccessRules": self.resource_rules, "networkAcls.ipRules": self.ip_rules}


def storage_access(body: Any, fallback_id: str = "") -> StorageAccess:
    """The network settings of a storage account body (call `require_props` first where absence matters)."""
    p = props(body)
    acls = p.get("networkAcls") if isinstance(p.get("networkAcls"), dict) else {}
    bypass = [part.strip() for part in text(acls.get("bypass")).split(",") if part.strip()]
    rules = [text(r.get("resourceId")) for r in acls.get("resourceAccessRules") or [] if isinstance(r, dict)]
    ips = [text(r.get("value")) for r in acls.get("ipRules") or [] if isinstance(r, dict)]
    connections = [c for c in p.get("privateEndpointConnections") or [] if isinstance(c, dict)]
    sid = text(body.get("id")) if isinstance(body, dict) else ""
    sid = sid or fallback_id
    parsed = resource_id.parse(sid)
    return StorageAccess(sid, parsed.name if parsed else text(dig(body, "name")) or sid, p.get("publicNetworkAccess"),
                         acls.get("defaultAction") if acls else None, bypass, [r for r in rules if r],
                         [ip for ip in ips if ip], connections)


def connection_status(connection: dict[str, Any]) -> str:
    return text(dig(connection, "properties", "privateLinkServiceConnectionState", "status"))


def connection_endpoint(connection: dict[str, Any]) -> str | None:
    pe_id = dig(connection, "properties", "privateEndpoint", "id")
    return pe_id if isinstance(pe_id, str) and pe_id.strip() else None


def endpoint_groups(private_endpoint: Any, target_id: str) -> set[str]:
    """The group ids (`blob`, `file`, ...) a private endpoint body connects to `target_id` (automatic or manual
    connections; a connection naming no service is counted, as the endpoint has only one)."""
    groups: set[str] = set()
    p = props(private_endpoint)
    for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
        for connection in p.get(key) or []:
            cp = props(connection)
            service = cp.get("privateLinkServiceId")
            if service is not None and not resource_id.same(service, target_id):
                continue
            groups.update(g.strip().lower() for g in cp.get("groupIds") or [] if isinstance(g, str) and g.strip())
    return groups

"""Client networks around a WorkspaceScenario: application VNets, peerings, DNS Private Resolvers and forwarding
rulesets (network.client-vnet-path, dns.resolver-forwarding).

A `ClientNetwork` names VNets by name; `install` serves them at their ARM ids (group `rg-app` unless given), adds
the peerings of the private endpoint's VNet to its body, links the private zone to the VNets marked `zone_linked`,
and serves the resolvers and rulesets of the scenario's subscription (empty lists when there are none, as
Resource Manager answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import bodies

NET = "Microsoft.Network"


@dataclass
class Peer:
    """One direction of a peering, from the VNet that holds it to `remote` (a VNet name)."""

    remote: str
    state: str = "Connected"
    gateway_transit: bool = False
    remote_gateways: bool = False
    allow_access: bool = True


@dataclass
class Vnet:
    name: str
    prefix: str
    dns_servers: list[str] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    zone_linked: bool = False
    resource_group: str = "rg-app"


@dataclass
class Resolver:
    name: str
    vnet: str  # the VNet it is deployed in
    inbound_ip: str
    resource_group: str = "rg-hub"


@dataclass
class Rule:
    domain: str  # as the API writes it: with the final dot
    targets: list[str]
    state: str = "Enabled"


@dataclass
class Ruleset:
    name: str
    links: list[str]  # VNet names
    rules: list[Rule] = field(default_factory=list)
    resource_group: str = "rg-hub"


@dataclass
class ClientNetwork:
    vnets: list[Vnet] = field(default_factory=list)
    pe_peers: list[Peer] = field(default_factory=list)  # peerings of the private endpoint's own VNet
    resolvers: list[Resolver] = field(default_factory=list)
    rulesets: list[Ruleset] = field(default_factory=list)


def vnet_id(s: Any, name: str, net: ClientNetwork | None = None) -> str:
    """The id of a VNet named in the network (or of the scenario's own VNet)."""
    if name == s.vnet_name:
        return s.vnet_id
    group = next((v.resource_group for v in (net.vnets if net else ()) if v.name == name), "rg-app")
    return f"/subscriptions/{s.subscription_id}/resourceGroups/{group}/providers/{NET}/virtualNetworks/{name}"


def _peering(s: Any, net: ClientNetwork, local: str, peer: Peer) -> dict:
    pid = f"{vnet_id(s, local, net)}/virtualNetworkPeerings/{local}-to-{peer.remote}"
    return {"id": pid, "name": f"{local}-to-{peer.remote}", "etag": bodies.etag(pid),
            "type": f"{NET}/virtualNetworks/virtualNetworkPeerings",
            "properties": {"peeringState": peer.state, "peeringSyncLevel": "FullyInSync",
                           "remoteVirtualNetwork": {"id": vnet_id(s, peer.remote, net)},
                           "allowVirtualNetworkAccess": peer.allow_access, "allowForwardedTraffic": False,
                           "allowGatewayTransit": peer.gateway_transit, "useRemoteGateways": peer.remote_gateways,
                           "provisioningState": "Succeeded"}}


def _vnet(s: Any, net: ClientNetwork, v: Vnet) -> dict:
    vid = vnet_id(s, v.name, net)
    return {"id": vid, "name": v.name, "etag": bodies.etag(vid), "type": f"{NET}/virtualNetworks",
            "location": s.location,
            "properties": {"provisioningState": "Succeeded", "addressSpace": {"addressPrefixes": [v.prefix]},
                           "dhcpOptions": {"dnsServers": list(v.dns_servers)}, "subnets": [],
                           "virtualNetworkPeerings": [_peering(s, net, v.name, p) for p in v.peers]}}


def _link(s: Any, zone_id: str, vid: str, name: str) -> dict:
    lid = f"{zone_id}/virtualNetworkLinks/{name}-link"
    return {"id": lid, "name": f"{name}-link", "etag": bodies.etag(lid), "location": "global",
            "type": f"{NET}/privateDnsZones/virtualNetworkLinks",
            "properties": {"virtualNetwork": {"id": vid}, "registrationEnabled": False, "resolutionPolicy": "Default",
                           "virtualNetworkLinkState": "Completed", "provisioningState": "Succeeded"}}


def install(s: Any, bed: Any, net: ClientNetwork | None) -> None:
    sub = f"/subscriptions/{s.subscription_id}"
    net = net or ClientNetwork()
    for v in net.vnets:
        bed.put(vnet_id(s, v.name, net), _vnet(s, net, v))
    if net.pe_peers and s.private_endpoint:
        body = bodies.virtual_network(s)
        body["properties"]["virtualNetworkPeerings"] = [_peering(s, net, s.vnet_name, p) for p in net.pe_peers]
        bed.put(s.vnet_id, body)
    linked = [v for v in net.vnets if v.zone_linked]
    if linked:
        zid = s.zone_id()
        bed.collection(f"{zid}/virtualNetworkLinks", bodies.vnet_links(s, s.zone_api)
                       + [_link(s, zid, vnet_id(s, v.name, net), v.name) for v in linked])
    resolvers = []
    for r in net.resolvers:
        rid = f"{sub}/resourceGroups/{r.resource_group}/providers/{NET}/dnsResolvers/{r.name}"
        resolvers.append({"id": rid, "name": r.name, "type": f"{NET}/dnsResolvers", "location": s.location,
                          "etag": bodies.etag(rid),
                          "properties": {"virtualNetwork": {"id": vnet_id(s, r.vnet, net)}, "dnsResolverState": "Connected",
                                         "provisioningState": "Succeeded"}})
        iid = f"{rid}/inboundEndpoints/inbound"
        bed.collection(f"{rid}/inboundEndpoints", [{
            "id": iid, "name": "inbound", "type": f"{NET}/dnsResolvers/inboundEndpoints", "location": s.location,
            "properties": {"ipConfigurations": [{"subnet": {"id": f"{vnet_id(s, r.vnet, net)}/subnets/snet-inbound"},
                                                 "privateIpAddress": r.inbound_ip,
                                                 "privateIpAllocationMethod": "Static"}],
                           "provisioningState": "Succeeded"}}])
    bed.collection(f"{sub}/providers/{NET}/dnsResolvers", resolvers)
    rulesets = []
    for rs in net.rulesets:
        rsid = f"{sub}/resourceGroups/{rs.resource_group}/providers/{NET}/dnsForwardingRulesets/{rs.name}"
        rulesets.append({"id": rsid, "name": rs.name, "type": f"{NET}/dnsForwardingRulesets", "location": s.location,
                         "properties": {"dnsResolverOutboundEndpoints": [], "provisioningState": "Succeeded"}})
        bed.collection(f"{rsid}/forwardingRules", [
            {"id": f"{rsid}/forwardingRules/rule-{i}", "name": f"rule-{i}",
             "type": f"{NET}/dnsForwardingRulesets/forwardingRules",
             "properties": {"domainName": rule.domain, "forwardingRuleState": rule.state,
                            "targetDnsServers": [{"ipAddress": t, "port": 53} for t in rule.targets],
                            "provisioningState": "Succeeded"}} for i, rule in enumerate(rs.rules)])
        bed.collection(f"{rsid}/virtualNetworkLinks", [
            {"id": f"{rsid}/virtualNetworkLinks/{name}-link", "name": f"{name}-link",
             "type": f"{NET}/dnsForwardingRulesets/virtualNetworkLinks",
             "properties": {"virtualNetwork": {"id": vnet_id(s, name, net)}, "provisioningState": "Succeeded"}}
            for name in rs.links])
    bed.collection(f"{sub}/providers/{NET}/dnsForwardingRulesets", rulesets)

"""Virtual networks as a client's path sees them: DNS servers, address space and peerings.

The VNet body itself is the `virtual_network` fact (moediag.facts.network): its peerings come inline
(`properties.virtualNetworkPeerings`), so both directions of a peering are read with the two VNets' bodies and
nothing is read twice. These readers tolerate missing blocks, nulls and odd types, as every reader of REST bodies.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from moediag.evidence import dig, props, same_text, text
from moediag.facts.network import dicts, vnet_dns_servers, vnet_prefixes

__all__ = ["Peering", "contains", "peering_to", "peerings", "same_id", "vnet_dns_servers", "vnet_prefixes"]


@dataclass(frozen=True)
class Peering:
    """One direction of a VNet peering, as the local VNet's body states it."""

    name: str
    remote_id: str
    state: str  # Connected, Initiated, Disconnected (or what Azure sent)
    sync: str  # peeringSyncLevel: FullyInSync, LocalNotInSync, RemoteNotInSync, ...
    allow_access: bool
    allow_forwarded: bool
    allow_gateway_transit: bool
    use_remote_gateways: bool

    @property
    def connected(self) -> bool:
        return same_text(self.state, "Connected") and self.allow_access


def _flag(value: Any, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def peerings(vnet: Any) -> list[Peering]:
    """The peerings of a VNet body (`allowVirtualNetworkAccess` absent counts as allowed, Azure's default)."""
    out = []
    for item in dicts(props(vnet).get("virtualNetworkPeerings")):
        p = props(item)
        out.append(Peering(text(item.get("name")), text(dig(p, "remoteVirtualNetwork", "id")),
                           text(p.get("peeringState")) or "unknown", text(p.get("peeringSyncLevel")),
                           _flag(p.get("allowVirtualNetworkAccess"), True), _flag(p.get("allowForwardedTraffic"), False),
                           _flag(p.get("allowGatewayTransit"), False), _flag(p.get("useRemoteGateways"), False)))
    return out


def same_id(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and bool(a) and a.rstrip("/").lower() == b.rstrip("/").lower()


def peering_to(vnet: Any, remote_id: str) -> Peering | None:
    """The local VNet's peering to `remote_id`, or None."""
    return next((p for p in peerings(vnet) if same_id(p.remote_id, remote_id)), None)


def contains(vnet: Any, address: str) -> bool:
    """Whether `address` is inside the VNet's address space."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for prefix in vnet_prefixes(vnet):
        try:
            if ip in ipaddress.ip_network(prefix, strict=False):
                return True
        except ValueError:
            continue
    return False


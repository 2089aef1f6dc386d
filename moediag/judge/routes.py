"""User-defined routes against a private endpoint's own /32 route.

Azure adds a /32 system route for each private endpoint IP to the subnets of its VNet (and peered VNets). With the
route-table network policy on in the private endpoint's subnet (`privateEndpointNetworkPolicies` `Enabled` or
`RouteTableEnabled`), Microsoft documents which user-defined routes invalidate that /32 route: those whose prefix
length is equal to or larger than the prefix length of the VNet address space the endpoint is in (for a 10.0.0.0/16
VNet: 10.0.0.0/16, 10.0.1.0/24, 10.0.1.5/32). A broader route, `0.0.0.0/0` or `10.0.0.0/8` to a firewall, does not:
the /32 still wins by longest prefix match. Once invalidated, the longest user route holding the IP decides;
`VnetLocal` keeps the traffic in the VNet, any other next hop (`VirtualAppliance`, `None`, `VirtualNetworkGateway`,
`Internet`) sends it somewhere else than the endpoint.
(https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)

Routes arrive shaped by `moediag.facts.subnets` (`name`, `address_prefix`, `next_hop_type`, `next_hop_ip`); a prefix
that is a service tag or garbage holds no private address and is passed over.
"""

from __future__ import annotations

import ipaddress
from typing import Any, NamedTuple

from moediag.judge.nsg import Network, network

STAYS = "vnetlocal"


class RouteVerdict(NamedTuple):
    """`route`: the user route that decides traffic to the endpoint's IP (None: the endpoint's /32 route does);
    `diverts`: it sends the traffic elsewhere than the endpoint; `ignored`: routes holding the IP that are broader
    than the VNet range (they do not override the /32)."""

    route: dict[str, Any] | None
    diverts: bool
    ignored: list[dict[str, Any]]


def vnet_prefix_length(ip: str, vnet: list[Network]) -> int | None:
    """The prefix length of the VNet address range holding `ip`; None when no range of the VNet holds it."""
    address = ipaddress.ip_address(ip)
    lengths = [n.prefixlen for n in vnet if n.version == address.version and address in n]
    return max(lengths) if lengths else None


def deciding_route(routes: list[dict[str, Any]], ip: str, vnet: list[Network]) -> RouteVerdict:
    """Which user route, if any, takes traffic to the private endpoint at `ip` away from its /32 system route, for a
    VNet of address space `vnet`. Without a VNet range holding `ip` the documented rule cannot be applied: every
    route holding the IP is then taken to override (the cautious reading), so a diversion is never missed."""
    address = ipaddress.ip_address(ip)
    limit = vnet_prefix_length(ip, vnet)
    holding: list[tuple[Network, dict[str, Any]]] = []
    for route in routes:
        net = network(route.get("address_prefix")) if isinstance(route, dict) else None
        if net is not None and net.version == address.version and address in net:
            holding.append((net, route))
    overriding = [(n, r) for n, r in holding if limit is None or n.prefixlen >= limit]
    ignored = [r for n, r in holding if (n, r) not in overriding]
    if not overriding:
        return RouteVerdict(None, False, ignored)
    _, route = max(overriding, key=lambda pair: pair[0].prefixlen)
    hop = str(route.get("next_hop_type") or "").strip().lower()
    return RouteVerdict(route, hop != STAYS, ignored)


def unreadable(routes: list[Any]) -> list[Any]:
    """Routes without a text prefix or next hop type: they cannot be judged, and could be the one that decides."""
    return [r for r in routes if not (isinstance(r, dict) and isinstance(r.get("address_prefix"), str)
                                      and isinstance(r.get("next_hop_type"), str))]


def describe(route: dict[str, Any]) -> str:
    """`route to-fw (10.0.0.0/16 -> VirtualAppliance 10.0.0.4)`."""
    hop = str(route.get("next_hop_type") or "unknown")
    ip = route.get("next_hop_ip")
    return f"route {route.get('name') or '?'} ({route.get('address_prefix')} -> {hop}{' ' + ip if ip else ''})"

"""Facts about the network path: private endpoints, their DNS zone groups, NICs and VNets."""

from __future__ import annotations

from typing import Any

from moediag.facts import fact

NETWORK_API = "2024-05-01"
PRIVATE_DNS_API = "2024-06-01"


@fact("private_endpoint", permissions=("Microsoft.Network/privateEndpoints/read",))
def private_endpoint(ctx, endpoint_id: str) -> dict[str, Any]:
    """A private endpoint's REST body: subnet, NICs, custom DNS configs, connection state."""
    return ctx.arm.get(endpoint_id, NETWORK_API)


@fact("private_dns_zone_groups", permissions=("Microsoft.Network/privateEndpoints/privateDnsZoneGroups/read",))
def private_dns_zone_groups(ctx, endpoint_id: str) -> list[dict[str, Any]]:
    """The DNS zone groups of a private endpoint: which private DNS zones it registers in."""
    return ctx.arm.list(f"{endpoint_id}/privateDnsZoneGroups", NETWORK_API)


@fact("network_interface", permissions=("Microsoft.Network/networkInterfaces/read",))
def network_interface(ctx, nic_id: str) -> dict[str, Any]:
    """A network interface's REST body (the private endpoint's private IPs)."""
    return ctx.arm.get(nic_id, NETWORK_API)


@fact("virtual_network", permissions=("Microsoft.Network/virtualNetworks/read",))
def virtual_network(ctx, vnet_id: str) -> dict[str, Any]:
    """A virtual network's REST body: address prefixes and DNS servers."""
    return ctx.arm.get(vnet_id, NETWORK_API)


@fact("private_dns_record", permissions=("Microsoft.Network/privateDnsZones/A/read",))
def private_dns_record(ctx, zone_id: str, record_type: str, relative_name: str) -> dict[str, Any] | None:
    """One record set of a private DNS zone; None when the record does not exist (that is evidence)."""
    from moediag.errors import FactError

    try:
        return ctx.arm.get(f"{zone_id}/{record_type}/{relative_name}", PRIVATE_DNS_API)
    except FactError as exc:
        if exc.kind == "not_found":
            return None
        raise


@fact("private_dns_zone_links", permissions=("Microsoft.Network/privateDnsZones/virtualNetworkLinks/read",))
def private_dns_zone_links(ctx, zone_id: str) -> list[dict[str, Any]]:
    """The virtual network links of a private DNS zone."""
    return ctx.arm.list(f"{zone_id}/virtualNetworkLinks", PRIVATE_DNS_API)

"""Facts about the network path: private endpoints, their DNS zone groups, NICs and VNets."""

from __future__ import annotations

from typing import Any

from moediag.errors import FactError
from moediag.evidence import dig, props, same_text, text
from moediag.facts import Source, fact
from moediag.resource_id import last_name

NETWORK_API = "2024-05-01"
PRIVATE_DNS_API = "2024-06-01"


@fact("private_endpoint", permissions=("Microsoft.Network/privateEndpoints/read",), shared=True)
def private_endpoint(src: Source, endpoint_id: str) -> dict[str, Any]:
    """A private endpoint's REST body: subnet, NICs, custom DNS configs, connection state."""
    return src.arm.get(endpoint_id, NETWORK_API)


@fact("private_dns_zone_groups", permissions=("Microsoft.Network/privateEndpoints/privateDnsZoneGroups/read",), shared=True)
def private_dns_zone_groups(src: Source, endpoint_id: str) -> list[dict[str, Any]]:
    """The DNS zone groups of a private endpoint: which private DNS zones it registers in."""
    return src.arm.list(f"{endpoint_id}/privateDnsZoneGroups", NETWORK_API)


@fact("network_interface", permissions=("Microsoft.Network/networkInterfaces/read",), shared=True)
def network_interface(src: Source, nic_id: str) -> dict[str, Any]:
    """A network interface's REST body (the private endpoint's private IPs)."""
    return src.arm.get(nic_id, NETWORK_API)


@fact("virtual_network", permissions=("Microsoft.Network/virtualNetworks/read",), shared=True)
def virtual_network(src: Source, vnet_id: str) -> dict[str, Any]:
    """A virtual network's REST body: address prefixes and DNS servers."""
    return src.arm.get(vnet_id, NETWORK_API)


@fact("private_dns_record", permissions=("Microsoft.Network/privateDnsZones/A/read",), shared=True)
def private_dns_record(src: Source, zone_id: str, record_type: str, relative_name: str) -> dict[str, Any] | None:
    """One record set of a private DNS zone; None when the record does not exist (that is evidence)."""
    return src.arm.get_or_none(f"{zone_id}/{record_type}/{relative_name}", PRIVATE_DNS_API)


@fact("private_dns_zone_links", permissions=("Microsoft.Network/privateDnsZones/virtualNetworkLinks/read",), shared=True)
def private_dns_zone_links(src: Source, zone_id: str) -> list[dict[str, Any]]:
    """The virtual network links of a private DNS zone."""
    return src.arm.list(f"{zone_id}/virtualNetworkLinks", PRIVATE_DNS_API)


# --- reading the DNS integration of a private endpoint -----------------------------------------------
# REST bodies arrive with missing blocks, nulls and odd types: every reader below tolerates them.


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list; [] for anything else."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def strings(value: Any) -> list[str]:
    """The non-empty strings of a JSON list, stripped; [] for anything else."""
    return [item.strip() for item in value if isinstance(item, str) and item.strip()] if isinstance(value, list) else []


def bare_ip(value: Any) -> str | None:
    """`10.0.1.5`, or the address of a prefix like `172.20.2.16/28` (NICs report some that way); None if not an IP."""
    import ipaddress

    raw = value.strip().split("/")[0] if isinstance(value, str) else ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def vnet_of(subnet_id: Any) -> str | None:
    """The VNet id of a subnet id (`.../virtualNetworks/V/subnets/S` -> `.../virtualNetworks/V`)."""
    if not isinstance(subnet_id, str) or "/subnets/" not in subnet_id.lower():
        return None
    return subnet_id[: subnet_id.lower().rindex("/subnets/")]


def zone_configs(zone_groups: Any, zone_name: str) -> list[tuple[str, str, str]]:
    """(zone id, zone group name, zone config name) for each private DNS zone named `zone_name` that the
    private endpoint's zone groups register in (the first config per zone)."""
    found: dict[str, tuple[str, str, str]] = {}
    for group in dicts(zone_groups):
        for config in dicts(props(group).get("privateDnsZoneConfigs")):
            zid = text(dig(config, "properties", "privateDnsZoneId")).strip()
            if last_name(zid).lower() == zone_name.lower():
                found.setdefault(zid.lower(), (zid, text(group.get("name")), text(config.get("name"))))
    return list(found.values())


def zone_group_names(zone_groups: Any) -> list[str]:
    return [text(g.get("name")) for g in dicts(zone_groups) if text(g.get("name"))]


def record_ips(record: Any) -> list[str]:
    """The addresses of an A record set, as written."""
    return sorted({ip for r in dicts(props(record).get("aRecords")) if (ip := bare_ip(r.get("ipv4Address")))})


def vnet_dns_servers(vnet: Any) -> list[str]:
    """The VNet's custom DNS servers (`dhcpOptions.dnsServers`); empty means Azure DNS."""
    return strings(dig(props(vnet), "dhcpOptions", "dnsServers"))


def vnet_prefixes(vnet: Any) -> list[str]:
    return strings(dig(props(vnet), "addressSpace", "addressPrefixes"))


def link_to(links: Any, vnet_id: str) -> dict[str, Any] | None:
    """The zone's virtual network link to `vnet_id` (ids compare case-insensitively), or None."""
    for link in dicts(links):
        if text(dig(link, "properties", "virtualNetwork", "id")).lower() == vnet_id.lower():
            return link
    return None


def link_state(link: Any) -> str:
    """`Completed`, `InProgress`, ... (a failed provisioning wins over a stale link state)."""
    if same_text(props(link).get("provisioningState"), "Failed"):
        return "Failed"
    return text(props(link).get("virtualNetworkLinkState")) or "unknown"


def _ip_for_fqdn(pe: Any, nic: Any, fqdn: str) -> tuple[str | None, str]:
    """The private IP the private endpoint gives `fqdn`, looked up where Azure records it."""
    want = fqdn.lower()
    for config in dicts(props(pe).get("customDnsConfigs")):
        ips = [ip for ip in map(bare_ip, strings(config.get("ipAddresses"))) if ip]
        if text(config.get("fqdn")).lower() == want and ips:
            return ips[0], "customDnsConfigs"
    for config in dicts(props(nic).get("ipConfigurations")):
        fqdns = [f.lower() for f in strings(dig(config, "properties", "privateLinkConnectionProperties", "fqdns"))]
        ip = bare_ip(dig(config, "properties", "privateIPAddress"))
        if want in fqdns and ip:
            return ip, f"network interface {text(dig(nic, 'name'))}"
    return None, "not listed by the private endpoint or its network interfaces"


@fact("private_endpoint_inference", needs=("workspace", "private_endpoint", "network_interface"), derived=True)
def private_endpoint_inference(src: Source, endpoint_id: str) -> dict[str, Any]:
    """What a workspace private endpoint provides for inference: the name, its private IP, and the VNet.

    The IP comes from the endpoint's customDnsConfigs; its network interfaces are read only when those
    do not list the inference name.
    """
    from moediag.clouds import cloud_of
    from moediag.facts.dns import inference_name

    name = inference_name(src.get("workspace"), cloud_of(src.options))
    pe = src.get("private_endpoint", endpoint_id)
    if not isinstance(pe, dict):
        raise FactError("unreadable", f"{endpoint_id}: the private endpoint's body is a {type(pe).__name__}")
    ip, source = _ip_for_fqdn(pe, None, name.fqdn)
    nic_ids = [text(ref.get("id")) for ref in dicts(props(pe).get("networkInterfaces")) if text(ref.get("id"))]
    for nic_id in nic_ids if ip is None else []:
        ip, source = _ip_for_fqdn(None, src.get("network_interface", nic_id), name.fqdn)
        if ip:
            break
    subnet_id = text(dig(props(pe), "subnet", "id")) or None
    return {
        "private_endpoint_id": text(pe.get("id")) or endpoint_id,
        "name": text(pe.get("name")) or last_name(endpoint_id),
        "fqdn": name.fqdn,
        "record_name": name.record_name,
        "ip": ip,
        "ip_source": source,
        "subnet_id": subnet_id,
        "vnet_id": vnet_of(subnet_id),
    }



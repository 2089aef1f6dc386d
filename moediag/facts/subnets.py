"""Facts about a private endpoint's subnet: its private endpoint network policies, its network security group's
rules and its route table's routes, each read once per run by resource id and returned shaped (plain strings,
numbers and lists, what `moediag.judge.nsg` and `moediag.judge.routes` read), so a snapshot records them.
"""

from __future__ import annotations

from typing import Any

from moediag.errors import FactError
from moediag.evidence import dig, require_props, text
from moediag.facts import Source, fact
from moediag.facts.network import NETWORK_API, dicts, strings
from moediag.resource_id import last_name

# properties.privateEndpointNetworkPolicies, as Azure spells them; which of the NSG and the route table apply.
POLICIES = {"Disabled": (False, False), "Enabled": (True, True), "NetworkSecurityGroupEnabled": (True, False),
            "RouteTableEnabled": (False, True)}
DEFAULT_POLICY = "Disabled"  # what Azure applies when a subnet body does not say


def _name(body: dict[str, Any], rid: str) -> str:
    return text(body.get("name")) or last_name(rid)


def _body(src: Source, rid: str, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = src.arm.get(rid, NETWORK_API)
    return body, require_props(body, what)


@fact("subnet_settings", permissions=("Microsoft.Network/virtualNetworks/subnets/read",), shared=True)
def subnet_settings(src: Source, subnet_id: str) -> dict[str, Any]:
    """A subnet's private endpoint network policies (`policies`: Disabled, Enabled, NetworkSecurityGroupEnabled,
    RouteTableEnabled, or the raw value when Azure sends another; `policies_set`: false when the body omits it and
    Azure's default applies), its address prefixes, and the ids of its NSG and route table (None: none attached)."""
    body, props = _body(src, subnet_id, "subnet")
    raw = props.get("privateEndpointNetworkPolicies")
    known = next((p for p in POLICIES if isinstance(raw, str) and raw.strip().lower() == p.lower()), None)
    prefixes = strings([props.get("addressPrefix")]) + strings(props.get("addressPrefixes"))
    return {
        "id": text(body.get("id")) or subnet_id,
        "name": _name(body, subnet_id),
        "address_prefixes": list(dict.fromkeys(prefixes)),
        # absent: Azure's default; a value nobody knows (or garbage) is kept as written, and judged as policies on
        "policies": known or (DEFAULT_POLICY if raw is None else raw.strip() if isinstance(raw, str) and raw.strip()
                              else repr(raw)),
        "policies_set": raw is not None,
        "nsg_id": text(dig(props, "networkSecurityGroup", "id")).strip() or None,
        "route_table_id": text(dig(props, "routeTable", "id")).strip() or None,
    }


def _port_ranges(props: dict[str, Any]) -> list[str]:
    return strings([props.get("destinationPortRange")]) + strings(props.get("destinationPortRanges"))


def _rule(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
    priority = props.get("priority")
    return {
        "name": text(item.get("name")) or "?",
        "priority": priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
        "direction": text(props.get("direction")),
        "access": text(props.get("access")),
        "protocol": text(props.get("protocol")),
        "sources": strings([props.get("sourceAddressPrefix")]) + strings(props.get("sourceAddressPrefixes")),
        "destinations": strings([props.get("destinationAddressPrefix")])
        + strings(props.get("destinationAddressPrefixes")),
        "ports": _port_ranges(props),
        "application_security_groups": bool(dicts(props.get("sourceApplicationSecurityGroups"))
                                            or dicts(props.get("destinationApplicationSecurityGroups"))),
    }


@fact("nsg_rules", permissions=("Microsoft.Network/networkSecurityGroups/read",), shared=True)
def nsg_rules(src: Source, nsg_id: str) -> dict[str, Any]:
    """A network security group's rules, shaped: `rules` (its securityRules) and `default_rules` (its
    defaultSecurityRules; None when the body lists none, and Azure's own apply)."""
    body, props = _body(src, nsg_id, "network security group")
    rules = props.get("securityRules", [])
    if not isinstance(rules, list):
        raise FactError("unreadable", f"the securityRules of {nsg_id} are a {type(rules).__name__}, not a list")
    defaults = dicts(props.get("defaultSecurityRules"))
    return {"id": text(body.get("id")) or nsg_id, "name": _name(body, nsg_id),
            "rules": [_rule(r) for r in dicts(rules)], "default_rules": [_rule(r) for r in defaults] or None}


@fact("udr_routes", permissions=("Microsoft.Network/routeTables/read",), shared=True)
def udr_routes(src: Source, route_table_id: str) -> dict[str, Any]:
    """A route table's user-defined routes, shaped: name, address_prefix, next_hop_type, next_hop_ip."""
    body, props = _body(src, route_table_id, "route table")
    routes = props.get("routes", [])
    if not isinstance(routes, list):
        raise FactError("unreadable", f"the routes of {route_table_id} are a {type(routes).__name__}, not a list")
    return {"id": text(body.get("id")) or route_table_id, "name": _name(body, route_table_id), "routes": [
        {"name": text(r.get("name")) or "?", "address_prefix": text(dig(r, "properties", "addressPrefix")).strip(),
         "next_hop_type": text(dig(r, "properties", "nextHopType")).strip(),
         "next_hop_ip": text(dig(r, "properties", "nextHopIpAddress")).strip() or None}
        for r in dicts(routes)]}


# --- reading the shaped facts back (a snapshot's copy may have been edited or garbled) ------------------------

_FIELDS = {
    "subnet_settings": {"id": str, "name": str, "address_prefixes": list, "policies": str, "policies_set": bool,
                        "nsg_id": (str, type(None)), "route_table_id": (str, type(None))},
    "nsg_rules": {"id": str, "name": str, "rules": list, "default_rules": (list, type(None))},
    "udr_routes": {"id": str, "name": str, "routes": list},
}


def shaped(name: str, value: Any) -> dict[str, Any]:
    """The value of fact `name` with every field of its shape; FactError(unreadable) otherwise (never a guess: an
    NSG id that is not text is not "no NSG")."""
    if not isinstance(value, dict):
        raise FactError("unreadable", f"the {name} fact is a {type(value).__name__}, not an object")
    for key, kind in _FIELDS[name].items():
        if key not in value or not isinstance(value[key], kind):
            raise FactError("unreadable", f"the {name} fact's {key} is missing or of the wrong type")
    return value

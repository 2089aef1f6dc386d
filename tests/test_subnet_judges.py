"""The judges behind network.private-endpoint-subnet: NSG rules applied in Azure's order to TCP 443 from client
networks, user routes against a private endpoint's /32 route, and the facts that shape subnet, NSG and route table
bodies. Pure functions, checked against `ipaddress` truths; hostile and malformed values never crash or match."""

from __future__ import annotations

import ipaddress

import pytest

from moediag.errors import FactError
from moediag.facts import subnets
from moediag.judge.nsg import (
    DEFAULT_INBOUND,
    first_matching_rule,
    free_priority,
    inbound_decisions,
    network,
    ordered,
    port_matches,
)
from moediag.judge.routes import deciding_route, unreadable, vnet_prefix_length

VNET = [ipaddress.ip_network("10.0.0.0/16")]
PE_IP = "10.0.1.5"


def rule(name, priority, access="Allow", *, sources=("*",), dest=("*",), ports=("443",), protocol="Tcp",
         direction="Inbound"):
    return {"name": name, "priority": priority, "direction": direction, "access": access, "protocol": protocol,
            "sources": list(sources), "destinations": list(dest), "ports": list(ports)}


def decide(rules, clients=("10.0.0.0/16",), port=443, protocol="Tcp"):
    nets = [ipaddress.ip_network(c) for c in clients]
    return inbound_decisions(rules, protocol=protocol, port=port, destination=PE_IP, clients=nets, vnet=VNET)


def deciding(rules, **kw):
    return sorted({(str(d.network), (d.rule or {}).get("name")) for d in decide(rules, **kw)})


# --- NSG rules -------------------------------------------------------------------------------------------


def test_without_custom_rules_the_default_allow_vnet_rule_lets_the_vnet_in():
    assert deciding([]) == [("10.0.0.0/16", "AllowVnetInBound")]


def test_the_lower_priority_number_wins_whatever_order_the_body_lists_rules_in():
    rules = [rule("allow", 200), rule("deny", 100, "Deny")]
    assert deciding(rules) == [("10.0.0.0/16", "deny")]
    assert deciding(list(reversed(rules))) == [("10.0.0.0/16", "deny")]


def test_a_deny_of_part_of_the_clients_splits_them_exactly():
    decisions = decide([rule("deny-spoke", 100, "Deny", sources=["10.0.128.0/17"])])
    denied = [d.network for d in decisions if not d.allowed]
    allowed = [d.network for d in decisions if d.allowed]
    assert denied == [ipaddress.ip_network("10.0.128.0/17")]
    assert list(ipaddress.collapse_addresses(allowed)) == [ipaddress.ip_network("10.0.0.0/17")]
    # every client address is decided exactly once
    assert sum(n.num_addresses for n in denied + allowed) == VNET[0].num_addresses


def test_a_rule_for_another_port_protocol_direction_or_destination_does_not_decide():
    rules = [rule("udp", 100, "Deny", protocol="Udp"), rule("ssh", 101, "Deny", ports=["22"]),
             rule("out", 102, "Deny", direction="Outbound"), rule("elsewhere", 103, "Deny", dest=["10.0.2.0/24"]),
             rule("range-below", 104, "Deny", ports=["400-442"])]
    assert deciding(rules) == [("10.0.0.0/16", "AllowVnetInBound")]


@pytest.mark.parametrize("ports, expected", [
    (["443"], True), (["400-500"], True), (["*"], True), (["80", "443"], True), (["444-500"], False),
    (["80"], False), ([], None), (["-"], None), (["443-"], None), (["a-b"], None), ([None, 443], None),
    (["99999999999999999999"], None), ("443", None),
])
def test_port_ranges(ports, expected):
    assert port_matches(ports, 443) is expected


def test_virtual_network_and_star_cover_every_client_and_internet_covers_none():
    assert deciding([rule("deny-vnet", 100, "Deny", sources=["VirtualNetwork"])],
                    clients=("10.0.0.0/16", "172.16.0.0/24")) == [("10.0.0.0/16", "deny-vnet"),
                                                                   ("172.16.0.0/24", "deny-vnet")]
    assert deciding([rule("deny-internet", 100, "Deny", sources=["Internet"])]) == [("10.0.0.0/16",
                                                                                     "AllowVnetInBound")]


def test_a_destination_of_virtual_network_holds_the_endpoint_ip():
    assert deciding([rule("deny", 100, "Deny", dest=["VirtualNetwork"])]) == [("10.0.0.0/16", "deny")]


@pytest.mark.parametrize("hostile", [
    {"priority": "100"}, {"priority": True}, {"priority": None}, {"priority": -1}, {"priority": 10 ** 30},
    {"sources": ["10.0.0.0/33", "not-an-ip", "", None, 7, "10.0.0.0/16\n; rm -rf /"]},
    {"ports": None}, {"protocol": None}, {"destinations": "10.0.1.5"}, {"sources": "10.0.0.0/16"},
])
def test_malformed_rules_never_crash_and_never_deny(hostile):
    bad = {**rule("bad", 100, "Deny"), **hostile}
    assert deciding([bad, "not a rule", None]) == [("10.0.0.0/16", "AllowVnetInBound")]


def test_rules_that_cannot_be_placed_are_listed_as_unjudged_whatever_their_direction():
    garbled = [{**rule("a", 100, "Deny"), "priority": "100"}, {**rule("b", 101), "direction": None},
               {**rule("c", 102), "access": "Maybe"}, {**rule("d", 103), "ports": "443"}, "junk"]
    chain, skipped = ordered([*garbled, rule("ok", 200), rule("out", 300, direction="Outbound")])
    assert [r["name"] for r in chain] == ["ok", "AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound"]
    assert skipped == garbled


def test_ipv6_sources_do_not_touch_ipv4_clients():
    assert deciding([rule("deny-v6", 100, "Deny", sources=["::/0"])]) == [("10.0.0.0/16", "deny-v6")]  # ::/0 is Any
    assert deciding([rule("deny-v6", 100, "Deny", sources=["fd00::/8"])]) == [("10.0.0.0/16", "AllowVnetInBound")]


def test_first_matching_rule_for_one_source():
    rules = [rule("allow-hub", 100, sources=["10.1.0.0/16"]), rule("deny", 200, "Deny")]
    assert first_matching_rule(rules, "Tcp", 443, "10.1.2.3", PE_IP)["name"] == "allow-hub"
    assert first_matching_rule(rules, "Tcp", 443, "10.2.0.0/24", PE_IP)["name"] == "deny"
    assert first_matching_rule(rules, "Tcp", 443, "garbage", PE_IP) is None
    assert first_matching_rule(rules, "Tcp", 443, "10.1.2.3", "10.0.1.0/24") is None


def test_with_the_default_rules_removed_nothing_decides_and_that_is_not_an_allow():
    decisions = inbound_decisions([], protocol="Tcp", port=443, destination=PE_IP,
                                  clients=[VNET[0]], vnet=VNET, default_rules=[DEFAULT_INBOUND[1]])
    assert [(d.rule, d.allowed) for d in decisions] == [(None, False)]


def test_free_priority_is_the_highest_unused_number_below_the_blocking_rule():
    rules = [rule("a", 300), rule("b", 299), rule("out", 298, direction="Outbound")]
    assert free_priority(rules, 300) == 298  # an outbound rule does not take an inbound priority
    assert free_priority(rules, 100) is None
    assert free_priority([], 65000) == 4096


@pytest.mark.parametrize("value, expected", [
    ("10.0.0.0/16", "10.0.0.0/16"), ("10.0.1.5", "10.0.1.5/32"), ("10.0.1.5/24", "10.0.1.0/24"),
    (" 10.0.0.0/8 ", "10.0.0.0/8"), ("fd00::/8", "fd00::/8"), ("VirtualNetwork", None), ("", None), (None, None),
    (["10.0.0.0/8"], None), ("10.0.0.0/8" + " " * 100, None),
])
def test_network_reads_addresses_and_ranges_only(value, expected):
    got = network(value)
    assert (str(got) if got else None) == expected


# --- routes ----------------------------------------------------------------------------------------------


def route(name, prefix, hop="VirtualAppliance", ip="10.0.0.4"):
    return {"name": name, "address_prefix": prefix, "next_hop_type": hop, "next_hop_ip": ip}


@pytest.mark.parametrize("prefix, overrides", [
    ("0.0.0.0/0", False), ("10.0.0.0/8", False), ("10.0.0.0/15", False),  # broader than the VNet's /16
    ("10.0.0.0/16", True), ("10.0.1.0/24", True), ("10.0.1.5/32", True),  # as broad as the VNet or narrower
    ("10.0.2.0/24", False), ("192.168.0.0/16", False),  # do not hold the IP
    ("AzureCloud", False), ("", False), ("10.0.1.5/40", False),  # a service tag, nothing, garbage
])
def test_which_routes_override_the_private_endpoint_route(prefix, overrides):
    verdict = deciding_route([route("r", prefix)], PE_IP, VNET)
    assert (verdict.route is not None) is overrides
    assert verdict.diverts is overrides


def test_the_longest_overriding_route_decides_and_vnet_local_keeps_the_traffic():
    verdict = deciding_route([route("to-fw", "10.0.0.0/16"), route("direct", "10.0.1.0/24", "VnetLocal", None)],
                             PE_IP, VNET)
    assert verdict.route["name"] == "direct" and not verdict.diverts


def test_broader_routes_are_reported_as_ignored():
    verdict = deciding_route([route("default", "0.0.0.0/0")], PE_IP, VNET)
    assert verdict.route is None and [r["name"] for r in verdict.ignored] == ["default"]


def test_the_vnet_range_holding_the_ip_sets_the_limit():
    vnet = [ipaddress.ip_network("10.0.0.0/16"), ipaddress.ip_network("10.1.0.0/24")]
    assert vnet_prefix_length("10.1.0.9", vnet) == 24
    assert vnet_prefix_length("10.0.1.5", vnet) == 16
    assert vnet_prefix_length("192.168.0.1", vnet) is None
    assert deciding_route([route("r", "10.1.0.0/23")], "10.1.0.9", vnet).route is None


def test_without_a_vnet_range_holding_the_ip_every_route_holding_it_counts():
    assert deciding_route([route("default", "0.0.0.0/0")], PE_IP, []).diverts


def test_routes_without_a_text_prefix_or_next_hop_are_unreadable():
    good = route("ok", "AzureCloud")  # a service tag is readable: it just holds no private address
    bad = [None, {"name": "n"}, {"address_prefix": 10, "next_hop_type": "None"}, route("x", "10.0.0.0/16", None)]
    assert unreadable([good, *bad]) == bad


def test_hostile_routes_are_passed_over():
    routes = [None, "x", {"name": "n"}, {"address_prefix": 10}, route("$(id)", "10.0.1.0/24", None)]
    verdict = deciding_route(routes, PE_IP, VNET)
    assert verdict.route["name"] == "$(id)" and verdict.diverts  # no next hop named: not VnetLocal


# --- facts -----------------------------------------------------------------------------------------------


class _Arm:
    def __init__(self, body):
        self.body = body

    def get(self, rid, api):
        return self.body


class _Src:
    def __init__(self, body):
        self.arm = _Arm(body)


SUBNET_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/snet-pe"


@pytest.mark.parametrize("raw, policies, is_set", [
    ("Enabled", "Enabled", True), ("networksecuritygroupenabled", "NetworkSecurityGroupEnabled", True),
    (None, "Disabled", False), ("Sideways", "Sideways", True), (7, "7", True), ("", "''", True),
])
def test_subnet_settings_shapes_the_policies(raw, policies, is_set):
    props = {"addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": "nsg-id"}}
    if raw is not None:
        props["privateEndpointNetworkPolicies"] = raw
    got = subnets.subnet_settings(_Src({"name": "snet-pe", "properties": props}), SUBNET_ID)
    assert (got["policies"], got["policies_set"]) == (policies, is_set)
    assert got["nsg_id"] == "nsg-id" and got["route_table_id"] is None and got["address_prefixes"] == ["10.0.1.0/24"]


def test_a_body_without_properties_is_unreadable_not_policies_off():
    with pytest.raises(FactError) as caught:
        subnets.subnet_settings(_Src({"name": "snet-pe"}), SUBNET_ID)
    assert caught.value.kind == "unreadable"


def test_nsg_rules_are_shaped_with_both_prefix_forms():
    body = {"name": "nsg", "properties": {"securityRules": [
        {"name": "r", "properties": {"priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "Tcp",
                                     "sourceAddressPrefixes": ["10.0.0.0/24", "10.0.1.0/24"],
                                     "destinationAddressPrefix": "*", "destinationPortRanges": ["443", "8443"],
                                     "sourceApplicationSecurityGroups": [{"id": "asg"}]}},
        {"name": "odd", "properties": {"priority": "high"}}, "junk"]}}
    got = subnets.nsg_rules(_Src(body), "nsg-id")
    first, odd = got["rules"]
    assert first["sources"] == ["10.0.0.0/24", "10.0.1.0/24"] and first["ports"] == ["443", "8443"]
    assert first["application_security_groups"] is True
    assert odd["priority"] is None and got["default_rules"] is None


def test_rules_that_are_not_a_list_are_unreadable():
    with pytest.raises(FactError):
        subnets.nsg_rules(_Src({"properties": {"securityRules": {"r": {}}}}), "nsg-id")
    with pytest.raises(FactError):
        subnets.udr_routes(_Src({"properties": {"routes": "none"}}), "rt-id")


def test_routes_are_shaped():
    body = {"name": "rt", "properties": {"routes": [
        {"name": "to-fw", "properties": {"addressPrefix": "10.0.0.0/16", "nextHopType": "VirtualAppliance",
                                         "nextHopIpAddress": "10.0.0.4"}}]}}
    assert subnets.udr_routes(_Src(body), "rt-id")["routes"] == [
        {"name": "to-fw", "address_prefix": "10.0.0.0/16", "next_hop_type": "VirtualAppliance",
         "next_hop_ip": "10.0.0.4"}]

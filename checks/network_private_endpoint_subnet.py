"""network.private-endpoint-subnet: the subnet of each workspace private endpoint lets scoring traffic reach it."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.errors import FactError
from moediag.evidence import az_group_and_name
from moediag.facts.network import vnet_prefixes
from moediag.facts.subnets import POLICIES, shaped
from moediag.judge.nsg import free_priority, inbound_decisions, label, network, ordered, port_matches
from moediag.judge.private_dns import each_private_endpoint
from moediag.judge.routes import deciding_route, describe, unreadable
from moediag.model import Reason
from moediag.shell import Placeholder, command, is_ip

PORT = 443
OFF = "network policies are off: NSG rules and routes do not apply to the private endpoint"

DOC = Doc(
    what=(
        "For each private endpoint of the workspace, its subnet's `properties.privateEndpointNetworkPolicies`. "
        "`Disabled` (Azure's default): NSG rules and user-defined routes do not apply to the private endpoint, and "
        "the check passes saying so. With `Enabled` or `NetworkSecurityGroupEnabled`, the subnet's network security "
        "group must allow inbound TCP 443 to the endpoint's inference IP from the client networks: its rules are "
        "applied in priority order, custom rules before the default ones (AllowVnetInBound 65000, DenyAllInBound "
        "65500), with the service tag `VirtualNetwork` covering every client that reaches the endpoint privately. "
        "With `Enabled` or `RouteTableEnabled`, no route of the subnet's route table may take the endpoint's IP "
        "away from its /32 system route: as Microsoft documents, a user route overrides it when its prefix holds "
        "the IP and is no broader than the VNet range the endpoint is in (for a 10.0.0.0/16 VNet: 10.0.0.0/16, "
        "10.0.1.0/24 or 10.0.1.5/32; `0.0.0.0/0` does not), and then any next hop but `VnetLocal` sends the "
        "traffic elsewhere (`VirtualAppliance`, `None`, a gateway). The client networks are the address spaces "
        "of the `--client-vnet` VNets, else the private endpoint's own VNet address space (the result says which), "
        "and the route table judged is the private endpoint subnet's own: the route tables of the clients' subnets "
        "are not read yet. A rule or route that "
        "cannot be read, or a deny rule for application security groups, turns a pass into a warning."
    ),
    why=(
        "Scoring requests to a network-isolated endpoint reach it only through the workspace private endpoint. "
        "With network policies on, an NSG rule that denies TCP 443 drops them at the subnet, and a route to a "
        "firewall or a black hole takes them away from the endpoint: DNS resolves, the connection times out."
    ),
    fix=(
        "An NSG rule that blocks: add an allow rule for TCP 443 from the client networks to the endpoint's IP at a "
        "priority below the blocking rule (`az network nsg rule create ... --priority N --access Allow --protocol "
        "Tcp --destination-port-ranges 443`). A route that diverts the traffic: add a /32 route for the endpoint's "
        "IP with next hop `VnetLocal` to the route table (`az network route-table route create ... --address-prefix "
        "<ip>/32 --next-hop-type VnetLocal`); that bypasses the appliance for this traffic only, so agree it with "
        "whoever owns the firewall: where the appliance must inspect it, allow TCP 443 to the endpoint on the "
        "appliance instead and keep the return path through it."
    ),
    links=("https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy",
           "https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview",
           "https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview"),
    examples=(
        Example({"subnet": {"name": "snet-pe", "properties": {
                    "privateEndpointNetworkPolicies": "Enabled",
                    "networkSecurityGroup": {"id": "/subscriptions/.../networkSecurityGroups/nsg-pe"}}},
                 "networkSecurityGroup": {"name": "nsg-pe", "properties": {"securityRules": [
                     {"name": "deny-https", "properties": {"priority": 120, "direction": "Inbound", "access": "Deny",
                                                           "protocol": "Tcp", "sourceAddressPrefix": "*",
                                                           "destinationAddressPrefix": "*",
                                                           "destinationPortRange": "443"}}]}},
                 "private endpoint": "pe-ws, inference IP 10.0.1.5, in VNet 10.0.0.0/16"},
                "fail: subnet snet-pe of private endpoint pe-ws (network policies Enabled): NSG nsg-pe rule "
                "deny-https (priority 120) denies TCP 443 to 10.0.1.5 from 10.0.0.0/16 (client networks "
                "assumed: the VNet's own address space 10.0.0.0/16)"),
        Example({"subnet": {"name": "snet-pe", "properties": {"privateEndpointNetworkPolicies": "Disabled"}}},
                f"pass: subnet snet-pe of private endpoint pe-ws: {OFF}"),
    ),
)


@check(id="network.private-endpoint-subnet", title="The private endpoint's subnet lets scoring traffic reach it",
       severity="high", scope="workspace",
       facts=("workspace", "network_workspace", "private_endpoint_inference", "virtual_network", "subnet_settings",
              "nsg_rules", "udr_routes"),
       doc=DOC, hops=("scoring:private-endpoint-subnet",), fix_risk="safe")
def evaluate(ctx):
    return each_private_endpoint(ctx, _verdict, "the workspace has no private endpoint: no subnet to judge")


def _verdict(ctx, pe_id, info):
    pe, subnet_id = info["name"], info["subnet_id"]
    if not subnet_id:
        return [ctx.errored(pe_id, f"private endpoint {pe} names no subnet", reason=Reason.UNREADABLE)]
    subnet, error = _read(ctx, "subnet_settings", subnet_id)
    if error is not None:
        return [ctx.errored(pe_id, error)]
    policies = subnet["policies"]
    where = f"subnet {subnet['name']} of private endpoint {pe}"
    nsg_on, routes_on = POLICIES.get(policies, (True, True))  # a value nobody knows: judge both, never assume off
    seen = {"private_endpoint_network_policies": policies, "subnet": subnet["id"]}
    if not subnet["policies_set"]:
        seen["private_endpoint_network_policies_set"] = False  # absent from the body: Azure's default applies
    if not (nsg_on or routes_on):
        return [ctx.passed(pe_id, f"{where}: {OFF}", expected="NSG and routes let TCP 443 through", observed=seen)]
    where += f" (network policies {policies}{'' if policies in POLICIES else ', a value moediag does not know'})"
    ip = info["ip"]
    if not is_ip(ip):
        return [ctx.warned(pe_id, f"{where}: private endpoint {pe} lists no IP for {info['fqdn']}, so the rules "
                                  "that apply to it cannot be judged", reason=Reason.INCONCLUSIVE, observed=seen)]
    vnet, error = ctx.try_fact("virtual_network", info["vnet_id"]) if info["vnet_id"] else (None, None)
    if error is not None:
        return [ctx.errored(pe_id, error)]
    space = [n for n in map(network, vnet_prefixes(vnet)) if n is not None]
    if not space:
        return [ctx.errored(pe_id, f"{where}: the address space of VNet {info['vnet_id']} is unreadable, so the "
                                   "client networks are unknown", reason=Reason.UNREADABLE)]
    clients, assumed, error = _clients(ctx, space)
    if error is not None:
        return [ctx.errored(pe_id, f"{where}: {error.message}", reason=error.kind, observed=seen)]
    expected = {"tcp_443_from": [str(c) for c in clients], "to": ip, "route": "the endpoint's /32 or VnetLocal"}
    if nsg_on and subnet["nsg_id"]:  # the NSG and the route table are read side by side
        ctx.prefetch("nsg_rules", [(subnet["nsg_id"],)])
    if routes_on and subnet["route_table_id"]:
        ctx.prefetch("udr_routes", [(subnet["route_table_id"],)])
    found, blocks, fixes, doubts = [], [], [], []
    for judge, on in ((_nsg, nsg_on), (_routes, routes_on)):
        if not on:
            continue
        verdict = judge(ctx, ip, clients, space, subnet)
        if verdict.get("error") is not None:
            return [ctx.errored(pe_id, verdict["error"], expected=expected, observed=seen)]
        seen.update(verdict["seen"])
        doubts += verdict.get("doubts", [])
        (blocks if verdict.get("fix") else found).append(verdict["text"])
        if verdict.get("fix"):
            fixes.append(verdict["fix"])
    if not blocks and doubts:
        return [ctx.warned(pe_id, f"{where}: {'; '.join(found)}{assumed}; but {'; '.join(doubts)}, so this is not "
                                  "sure", reason=Reason.INCONCLUSIVE, expected=expected, observed=seen)]
    if not blocks:
        return [ctx.passed(pe_id, f"{where}: {'; '.join(found)}{assumed}", expected=expected, observed=seen)]
    summary = "; and ".join(f[0] for f in fixes)
    risk = "disruptive" if any(f[2] == "disruptive" for f in fixes) else "safe"
    return [ctx.failed(pe_id, f"{where}: {'; '.join(blocks)}{assumed}", expected=expected, observed=seen,
                       fix=(summary, [c for f in fixes for c in f[1]], risk))]


def _read(ctx, name, rid):
    """(shaped value, None) or (None, why it cannot be used)."""
    value, error = ctx.try_fact(name, rid)
    if error is not None:
        return None, error
    try:
        return shaped(name, value), None
    except FactError as exc:
        return None, exc


def _where(rid):
    """`-g GROUP ... --subscription SUB` parts of an az command on resource `rid`."""
    parsed = resource_id.parse(rid)
    group, name = az_group_and_name(rid)
    return group, name, parsed.subscription if parsed else Placeholder("subscription")


def _clients(ctx, space):
    """The client networks whose TCP 443 the NSG must let in: the address spaces of --client-vnet's VNets, else
    the private endpoint's own VNet (an assumption every message states)."""
    if not ctx.options.client_vnets:
        return space, f" (client networks assumed: the VNet's own address space {', '.join(map(str, space))})", None
    clients, named = [], []
    for vnet_id in ctx.options.client_vnets:
        name = az_group_and_name(vnet_id)[1]
        vnet, error = ctx.try_fact("virtual_network", vnet_id)
        prefixes = [n for n in map(network, vnet_prefixes(vnet)) if n is not None] if error is None else []
        if not prefixes:
            why = error.message if error is not None else "it lists no address prefixes"
            return None, None, FactError(error.kind if error is not None else Reason.UNREADABLE,
                                         f"client VNet {name} cannot be read "
                                         f"({why}), so the client networks are unknown")
        clients += [p for p in prefixes if p not in clients]
        named.append(f"{name} {', '.join(map(str, prefixes))}")
    return clients, f" (client networks: {'; '.join(named)})", None


def _nsg(ctx, ip, clients, space, subnet):
    nsg_id = subnet["nsg_id"]
    if not nsg_id:
        return {"text": "no NSG is attached, so no rule filters TCP 443", "seen": {"nsg": None}}
    nsg, error = _read(ctx, "nsg_rules", nsg_id)
    if error is not None:
        return {"error": error}
    decisions = inbound_decisions(nsg["rules"], protocol="Tcp", port=PORT, destination=ip, clients=clients,
                                  vnet=space, default_rules=nsg["default_rules"])
    seen = {"nsg": nsg["id"], "nsg_decisions": [{"from": str(d.network), "rule": (d.rule or {}).get("name"),
                                                 "priority": (d.rule or {}).get("priority"),
                                                 "access": (d.rule or {}).get("access") or "no rule"}
                                                for d in decisions]}
    _, garbled = ordered(nsg["rules"], nsg["default_rules"])
    # a deny naming application security groups: whether the clients are members cannot be told from here
    groups = [r for r in nsg["rules"] if isinstance(r, dict) and r.get("application_security_groups")
              and str(r.get("access")).lower() == "deny" and port_matches(r.get("ports"), PORT) is not False]
    doubts = ([f"NSG {nsg['name']} rule {', '.join(sorted({label(r) for r in garbled}))} could not be read"]
              if garbled else [])
    doubts += ([f"NSG {nsg['name']} rule {', '.join(sorted({label(r) for r in groups}))} denies members of "
                "application security groups, which may hold clients"] if groups else [])
    if garbled or groups:
        seen["nsg_rules_not_judged"] = sorted({label(r) for r in garbled + groups})
    blocked = [d for d in decisions if not d.allowed]
    allowing = sorted({f"{d.rule['name']} ({d.rule['priority']})" for d in decisions if d.allowed})
    if not blocked:
        return {"text": f"NSG {nsg['name']} allows TCP {PORT} to {ip} (rule {', '.join(allowing)})", "seen": seen,
                "doubts": doubts}
    first = min(blocked, key=lambda d: (d.rule or {}).get("priority") or 65536)
    sources = ", ".join(sorted({str(d.network) for d in blocked}))
    if first.rule is None:
        text = f"no rule of NSG {nsg['name']} allows TCP {PORT} to {ip} from {sources}"
        below = 4097
    else:
        text = (f"NSG {nsg['name']} rule {first.rule['name']} (priority {first.rule['priority']}) denies TCP {PORT} "
                f"to {ip} from {sources}")
        below = first.rule["priority"]
    group, name, subscription = _where(nsg_id)
    priority = free_priority(nsg["rules"], below)
    room = (f"at priority {priority}, ahead of the rule that blocks it" if priority else
            f"ahead of the rule that blocks it (no priority below {below} is free: give that rule a higher number "
            "first, checking what that lets through)")
    priority = priority or Placeholder("free priority below the deny rule")
    prefixes = command(" ".join(f"{{p{i}}}" for i in range(len(clients))), **{f"p{i}": str(c) for i, c in
                                                                               enumerate(clients)})
    fix = command("az network nsg rule create -g {group} --nsg-name {name} -n allow-aml-scoring-443 "
                  "--priority {priority} --direction Inbound --access Allow --protocol Tcp "
                  "--source-address-prefixes {prefixes} --source-port-ranges '*' --destination-address-prefixes {ip} "
                  "--destination-port-ranges 443 --subscription {subscription}", group=group, name=name,
                  priority=priority, prefixes=prefixes, ip=ip, subscription=subscription)
    return {"text": text, "seen": seen,
            "fix": (f"Allow TCP {PORT} from the client networks to {ip} in NSG {nsg['name']} {room} (it opens that port "
                    "to the private endpoint only)", [fix],
                    "safe")}


def _routes(ctx, ip, clients, space, subnet):
    table_id = subnet["route_table_id"]
    if not table_id:
        return {"text": "no route table is attached, so the private endpoint's /32 route decides",
                "seen": {"route_table": None}}
    table, error = _read(ctx, "udr_routes", table_id)
    if error is not None:
        return {"error": error}
    verdict = deciding_route(table["routes"], ip, space)
    seen = {"route_table": table["id"], "deciding_route": verdict.route,
            "routes_broader_than_the_vnet": [r["name"] for r in verdict.ignored]}
    if not verdict.diverts:
        why = (f"{describe(verdict.route)} keeps it in the VNet" if verdict.route else
               f"no route of route table {table['name']} overrides the private endpoint's /32 route")
        broader = (f" ({', '.join(describe(r) for r in verdict.ignored)}: broader than the VNet range, so ignored)"
                   if verdict.ignored else "")
        garbled = unreadable(table["routes"])
        doubts = [f"{len(garbled)} route(s) of route table {table['name']} could not be read"] if garbled else []
        return {"text": why + broader, "seen": seen, "doubts": doubts}
    route = verdict.route
    hop = route.get("next_hop_type") if isinstance(route.get("next_hop_type"), str) else ""
    hop_ip = route.get("next_hop_ip") if isinstance(route.get("next_hop_ip"), str) else ""
    where_to = ("drops it" if hop.lower() == "none" else
                f"sends it to {hop or 'an unknown next hop'} {hop_ip}".rstrip())
    text = (f"{describe(route)} of route table {table['name']} overrides the private endpoint's /32 route and "
            f"{where_to} instead of to the endpoint")
    group, name, subscription = _where(table_id)
    exact = network(route["address_prefix"]) == network(ip)
    if exact:  # the route is the endpoint's own /32: point it at the VNet instead of adding a duplicate prefix
        cmd = command("az network route-table route update -g {group} --route-table-name {table} -n {route} "
                      "--next-hop-type VnetLocal --subscription {subscription}", group=group, table=name,
                      route=route.get("name"), subscription=subscription)
    else:
        cmd = command("az network route-table route create -g {group} --route-table-name {table} -n {route} "
                      "--address-prefix {prefix} --next-hop-type VnetLocal --subscription {subscription}",
                      group=group, table=name, route="moediag-pe-" + ip.replace(".", "-").replace(":", "-"),
                      prefix=f"{ip}/{network(ip).prefixlen}", subscription=subscription)
    return {"text": text, "seen": seen,
            "fix": (f"Send traffic for {ip} straight to the private endpoint with a {'VnetLocal next hop on' if exact else '/32 VnetLocal route in'} "
                    f"route table {table['name']}: it then bypasses what {label(route)} points at, for this IP only; "
                    "if that appliance must inspect it, allow TCP 443 to the endpoint there instead and keep the "
                    "return path through it", [cmd], "disruptive")}

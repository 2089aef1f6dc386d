"""Verdicts the private DNS checks share (dns.inference-a-record, dns.zone-vnet-link, dns.scoring-resolution,
dns.custom-dns-forwarding): the record and link verdicts of one workspace private endpoint, the zone's az flags,
the conditional forwarders to Azure DNS. Each takes the running check's context, so a check that reuses another's
verdict (the scoring host's likely causes) reads only facts it declared itself.
"""

from moediag import resource_id
from moediag.errors import FactError
from moediag.evidence import (
    az_group_and_name,
    dig,
    listed,
    props,
    same_text,
    text,
    workspace_private_endpoint_ids,
)
from moediag.facts.dns import AZURE_DNS
from moediag.facts.network import (
    dicts,
    link_state,
    link_to,
    record_ips,
    vnet_dns_servers,
    zone_configs,
    zone_group_names,
)
from moediag.judge.scope import network_home, workspace_private_endpoints
from moediag.model import Reason
from moediag.shell import Command, Placeholder, command, is_fqdn, is_ip, kql_string


def each_private_endpoint(ctx, judge, none: str) -> list:
    """`judge(ctx, id, info)` for each workspace private endpoint, an error for one that cannot be read, or a skip
    saying `none` when the workspace has no private endpoint."""
    endpoints = workspace_private_endpoints(ctx)
    note = network_home(ctx).note
    if not endpoints:
        return [ctx.skipped(ctx.workspace_id, none + note)]
    results = [result for pe_id, info, error in endpoints
               for result in ([ctx.errored(pe_id, error)] if error is not None else judge(ctx, pe_id, info))]
    for result in results:  # a project's private endpoints are its hub's: say where they were read
        result.message += note
    return results


def zone_flags(ctx, zone_id: str) -> tuple[Command, Command]:
    """(`-g RG -z ZONE`, ` --subscription SUB` or ``) for az private-dns commands on the zone."""
    parsed = resource_id.parse(zone_id)
    target_subscription = ctx.target.subscription_id
    if parsed is None:
        return command("-g <resource-group> -z {zone}", zone=ctx.cloud.api_zone), command("")
    other = parsed.subscription.lower() != target_subscription.lower()
    return (command("-g {group} -z {zone}", group=parsed.resource_group, zone=parsed.name),
            command(" --subscription {subscription}", subscription=parsed.subscription) if other else command(""))


PRIVATE_DNS_ZONE_TYPE = "microsoft.network/privatednszones"
def find_zone(zone: str) -> Command:
    """Resource Graph query for the zone named `zone`, wherever it is (a KQL literal in one shell word)."""
    return command("az graph query -q {query}", query=f"resources | where type =~ {kql_string(PRIVATE_DNS_ZONE_TYPE)} "
                   f"and name =~ {kql_string(zone)} | project id")


def zone_group_fix(ctx, pe_id: str, group_names: list[str]) -> tuple[str, list[Command]]:
    group, name = az_group_and_name(pe_id)
    verb, group_name = ("add", group_names[0]) if group_names else ("create", "default")
    zone = ctx.cloud.api_zone
    return (f"Find the private DNS zone {zone} (it may be in another resource group or subscription; create it if "
            f"there is none) and attach it to private endpoint {name}, so its records are registered",
            [find_zone(zone),
             command("az network private-endpoint dns-zone-group {verb} -g {group} --endpoint-name {name} -n {group_name} "
                     "--private-dns-zone <zone id from above> --zone-name {zone}",
                     verb=verb, group=group, name=name, group_name=group_name, zone=zone)])


def zone_groups(ctx, pe_id: str) -> tuple[list, FactError | None]:
    """The private endpoint's zone groups, or why they are unreadable (a body that is not a list is)."""
    groups, error = ctx.try_fact("private_dns_zone_groups", pe_id)
    try:
        return (listed(groups, f"the zone group list of {pe_id}"), None) if error is None else ([], error)
    except FactError as exc:
        return [], exc


def record_verdicts(ctx, pe_id: str, info: dict) -> list:
    """dns.inference-a-record's results for one workspace private endpoint: one per zone it registers in."""
    groups, error = zone_groups(ctx, pe_id)
    if error is not None:
        return [ctx.errored(pe_id, error)]
    zone = ctx.cloud.api_zone
    zones = zone_configs(groups, zone)
    expected = {"zone": zone, "record": info["record_name"], "ip": info["ip"]}
    if not zones:
        names = zone_group_names(groups)
        return [ctx.failed(pe_id, f"private endpoint {info['name']} registers in no {zone} zone (zone groups: "
                                  f"{', '.join(names) or 'none'}): nothing creates the record {info['record_name']}, "
                                  "so the inference names resolve privately only if someone maintains them by hand",
                           expected=expected, observed={"zone_groups": names}, fix=zone_group_fix(ctx, pe_id, names))]
    answers = ctx.gather("private_dns_record", [(z[0], "A", info["record_name"]) for z in zones])
    return [_record_verdict(ctx, pe_id, info, zone, record, err, expected)
            for zone, (record, err) in zip(zones, answers)]


def _record_verdict(ctx, pe_id, info, zone, record, error, expected):
    zone_id, group_name, config_name = zone
    rid = f"{zone_id}/A/{info['record_name']}"
    name, ip = info["record_name"], info["ip"]
    flags, sub = zone_flags(ctx, zone_id)
    if error is not None:
        return ctx.errored(rid, error, expected=expected)
    if record is not None and not isinstance(record, dict):
        return ctx.errored(rid, f"the record set {name} is a {type(record).__name__}, not a record", reason="unreadable",
                           expected=expected)
    if record is None:
        message = (f"zone {ctx.cloud.api_zone} has no A record {name}: inside the VNet the scoring host of every endpoint of "
                   f"workspace {ctx.target.workspace} does not resolve (NXDOMAIN)")
        if not is_ip(ip):
            return ctx.failed(rid, message + f"; and private endpoint {info['name']} lists no IP for {info['fqdn']} "
                                             "(created before 2022-05-24?)", expected=expected, observed=None,
                              fix=_recreate_pe(ctx, pe_id, info))
        pe_group, pe_name = az_group_and_name(pe_id)
        return ctx.failed(rid, message, expected=expected, observed=None, fix=(
            f"Add the A record {name} -> {ip} (first command), or let the DNS integration of {pe_name} register it "
            f"again by removing and re-adding the zone in its zone group {group_name} (the other two)",
            [_record_command("add-record", flags, name, ip, sub),
             command("az network private-endpoint dns-zone-group remove -g {group} --endpoint-name {pe} -n {group_name} "
                     "--zone-name {config}", group=pe_group, pe=pe_name, group_name=group_name, config=config_name),
             command("az network private-endpoint dns-zone-group add -g {group} --endpoint-name {pe} -n {group_name} "
                     "--zone-name {config} --private-dns-zone {zone_id}", group=pe_group, pe=pe_name,
                     group_name=group_name, config=config_name, zone_id=zone_id)]))
    found = record_ips(record)
    observed = {"ips": found}
    if not is_ip(ip):
        return ctx.warned(rid, f"the record {name} points at {', '.join(found) or 'nothing'}, but private endpoint "
                               f"{info['name']} lists no IP for {info['fqdn']}: cannot tell whether it is right",
                          reason="inconclusive", expected=expected, observed=observed,
                          fix=_recreate_pe(ctx, pe_id, info))
    if found == [ip]:
        return ctx.passed(rid, f"zone {ctx.cloud.api_zone} holds {name} -> {ip}, the IP of private endpoint {info['name']}",
                          expected=expected, observed=observed)
    shared = {wrong: other for wrong in found if wrong != ip and (other := _other_endpoints(ctx, pe_id).get(wrong))}
    if shared:
        return _shared_zone(ctx, rid, info, shared, expected, observed, zone_id, flags, sub)
    commands = [_record_command("remove-record", flags, name, wrong, sub) for wrong in found if wrong != ip]
    if ip not in found:
        commands.append(_record_command("add-record", flags, name, ip, sub))
    return ctx.failed(rid, f"the record {name} points at {', '.join(found) or 'no address'}, but private endpoint "
                           f"{info['name']} has {ip} for that name: clients in the VNet connect where the endpoint is not",
                      expected=expected, observed=observed,
                      # the zone may serve other VNets too: rewriting one of its records changes what they resolve
                      fix=(f"Point {name} at {ip} only", commands, "destructive"))


def _other_endpoints(ctx, pe_id: str) -> dict[str, str]:
    """Inference IP -> name of each *other* approved private endpoint of the workspace."""
    approved = {pid.lower() for connection, pid in workspace_private_endpoint_ids(network_home(ctx).body)
                if pid and same_text(dig(connection, "properties", "privateLinkServiceConnectionState", "status"),
                                     "Approved")}
    return {info["ip"]: info["name"] for other, info, error in workspace_private_endpoints(ctx)
            if error is None and info and other.lower() != pe_id.lower() and other.lower() in approved
            and is_ip(info.get("ip"))}


def _shared_zone(ctx, rid, info, shared, expected, observed, zone_id, flags, sub):
    """The record holds the IP of another approved private endpoint of this workspace: one zone serves VNets that
    each have their own endpoint, and each endpoint's DNS integration overwrites the other's record. Pointing the
    record at this endpoint would break the other VNet's clients: say so, and the ways out, never the rewrite."""
    others = ", ".join(f"{ip} ({name})" for ip, name in shared.items())
    links = command("az network private-dns link vnet list {flags}{sub} -o table", flags=flags, sub=sub)
    return ctx.failed(rid, f"the record {info['record_name']} points at {others}, the IP of another approved private "
                           f"endpoint of workspace {ctx.target.workspace}, not at {info['ip']} of {info['name']}: one "
                           f"zone {ctx.cloud.api_zone} serves VNets that each have their own private endpoint, so each endpoint's "
                           "DNS registration overwrites the other's and one VNet always resolves to an endpoint it "
                           "may not reach",
                      expected=expected, observed={**observed, "other_private_endpoints": shared},
                      details={"shared_zone": zone_id},
                      fix=("Do not rewrite the record (that breaks the other VNet's clients). Give each VNet its own "
                           f"{ctx.cloud.api_zone} zone linked only to it, with each private endpoint registering in its own "
                           "zone; or keep one private endpoint (in a hub) and reach it from the other VNets through "
                           "peering, removing the second one. See which VNets use the zone:", [links], "destructive"))


def _record_command(verb: str, flags: Command, name: str, ip: str, sub: Command) -> Command:
    """`az network private-dns record-set a add-record|remove-record` for one address of the record."""
    return command("az network private-dns record-set a {verb} {flags} -n {name} -a {ip}{sub}", verb=verb, flags=flags,
                   name=name, ip=ip, sub=sub)


def _recreate_pe(ctx, pe_id: str, info: dict) -> tuple[str, list[Command]]:
    group, name = az_group_and_name(pe_id)
    subnet = info.get("subnet_id") or Placeholder("subnet id")
    return "Recreate the workspace private endpoint with DNS integration", [
        command("az network private-endpoint delete -g {group} -n {name}", group=group, name=name),
        command("az network private-endpoint create -g {group} -n {name} --subnet {subnet} --group-id amlworkspace "
                "--private-connection-resource-id {workspace_id} --connection-name {name}", group=group, name=name,
                subnet=subnet, workspace_id=network_home(ctx).id),
        command("az network private-endpoint dns-zone-group create -g {group} --endpoint-name {name} -n default "
                "--private-dns-zone {zone_id} --zone-name {zone}", group=group, name=name,
                zone_id=Placeholder(f"id of the {ctx.cloud.api_zone} zone"), zone=ctx.cloud.api_zone)]


def link_verdicts(ctx, pe_id: str, info: dict) -> list:
    """dns.zone-vnet-link's results for one workspace private endpoint: one per zone it registers in."""
    groups, error = zone_groups(ctx, pe_id)
    if error is not None:
        return [ctx.errored(pe_id, error)]
    zones = zone_configs(groups, ctx.cloud.api_zone)
    if not zones:
        return [ctx.skipped(pe_id, f"private endpoint {info['name']} registers in no {ctx.cloud.api_zone} zone, so there is no "
                                   "zone whose links to check (dns.inference-a-record reports it)",
                            reason=Reason.DEPENDENCY_FAILED)]
    vnet_id = info["vnet_id"]
    if not vnet_id:
        return [ctx.errored(pe_id, f"private endpoint {info['name']} names no subnet: its VNet is unknown",
                            reason=Reason.UNREADABLE)]
    answers = ctx.gather("private_dns_zone_links", [(z[0],) for z in zones])
    vnet, _ = ctx.try_fact("virtual_network", vnet_id)
    return [_link_verdict(ctx, zone_id, vnet_id, vnet, links, err)
            for (zone_id, _, _), (links, err) in zip(zones, answers)]


def link_fix(ctx, zone_id: str, vnet_id: str, replace: str | None = None) -> tuple[str, list[Command]]:
    flags, sub = zone_flags(ctx, zone_id)
    _, vnet = az_group_and_name(vnet_id)
    commands = [command("az network private-dns link vnet delete {flags} -n {link} --yes{sub}", flags=flags,
                        link=replace, sub=sub)] if replace else []
    commands.append(command("az network private-dns link vnet create {flags} -n {vnet}-link -v {vnet_id} -e false{sub}",
                            flags=flags, vnet=vnet, vnet_id=vnet_id, sub=sub))
    return f"Link zone {ctx.cloud.api_zone} to VNet {vnet}", commands


def _link_verdict(ctx, zone_id, vnet_id, vnet, links, error):
    _, vnet_name = az_group_and_name(vnet_id)
    expected = {"virtual_network": vnet_id, "state": "Completed"}
    if error is not None:
        return ctx.errored(zone_id, error, expected=expected)
    if not isinstance(links, list):
        return ctx.errored(zone_id, f"the link list of zone {ctx.cloud.api_zone} is a {type(links).__name__}, not a list",
                           reason=Reason.UNREADABLE, expected=expected)
    link = link_to(links, vnet_id)
    if link is not None:
        state, rid, name = link_state(link), text(link.get("id")) or zone_id, text(link.get("name"))
        observed = {"link": name, "state": state}
        policy = text(props(link).get("resolutionPolicy")) or "Default"
        observed["resolutionPolicy"] = policy
        if state.lower() == "completed" and policy.lower() == "nxdomainredirect":
            flags, sub = zone_flags(ctx, zone_id)
            return ctx.warned(rid, f"zone {ctx.cloud.api_zone} is linked to VNet {vnet_name} ({name}), but with resolutionPolicy "
                                   "NxDomainRedirect: a name the zone lacks is answered by public DNS instead of "
                                   "NXDOMAIN, so a missing inference record looks like a public endpoint rather than a "
                                   "broken private one", expected={**expected, "resolutionPolicy": "Default"},
                              observed=observed,
                              fix=("Let the zone answer for its names alone (a missing record then shows as NXDOMAIN); "
                                   "keep NxDomainRedirect only if clients in the VNet must reach other public names "
                                   "under this zone",
                                   [command("az network private-dns link vnet update {flags} -n {link} "
                                            "--resolution-policy Default{sub}", flags=flags, link=name, sub=sub)]))
        if state.lower() == "completed":
            return ctx.passed(rid, f"zone {ctx.cloud.api_zone} is linked to VNet {vnet_name} ({name}, Completed)",
                              expected=expected, observed=observed)
        if state.lower() == "inprogress":
            return ctx.warned(rid, f"the link {name} of zone {ctx.cloud.api_zone} to VNet {vnet_name} is still InProgress: the "
                                   "zone does not answer in the VNet until it completes", reason=Reason.INCONCLUSIVE,
                              expected=expected, observed=observed,
                              fix=("Wait a few minutes, then run moediag again", []))
        return ctx.failed(rid, f"the link {name} of zone {ctx.cloud.api_zone} to VNet {vnet_name} is {state}: the zone does not "
                               "answer in the VNet", expected=expected, observed=observed,
                          fix=link_fix(ctx, zone_id, vnet_id, replace=name))
    others = sorted({az_group_and_name(dig(link, "properties", "virtualNetwork", "id"))[1] for link in dicts(links)})
    observed = {"linked_virtual_networks": others}
    servers = vnet_dns_servers(vnet)
    if servers and others:
        return ctx.warned(zone_id, f"zone {ctx.cloud.api_zone} is not linked to VNet {vnet_name} but to {', '.join(others)}; "
                                   f"{vnet_name} uses custom DNS servers ({', '.join(servers)}), which is fine if they "
                                   "forward to Azure DNS from one of those VNets (dns.custom-dns-forwarding compares "
                                   "the answers)", reason=Reason.INCONCLUSIVE, expected=expected, observed=observed,
                          fix=link_fix(ctx, zone_id, vnet_id))
    elsewhere = f" (linked only to {', '.join(others)})" if others else " (it has no VNet link at all)"
    return ctx.failed(zone_id, f"zone {ctx.cloud.api_zone} is not linked to VNet {vnet_name}{elsewhere}: clients there get the "
                               "public answer for the scoring host", expected=expected, observed=observed,
                      fix=link_fix(ctx, zone_id, vnet_id))


def _forwarders(zones: tuple[str, ...]) -> list[Command]:
    """What to configure on a Windows DNS server (PowerShell) and on BIND (a named.conf line): the cloud's zone
    names (moediag's own table) and Azure DNS only, nothing from evidence (the servers are named in the fix's
    summary)."""
    assert all(is_fqdn(zone) for zone in zones) and is_ip(AZURE_DNS)
    windows = [command("Add-DnsServerConditionalForwarderZone -Name {zone} -MasterServers {ip}  # Windows DNS",
                       zone=zone, ip=AZURE_DNS) for zone in zones]
    bind = [command('zone "{zone}" {{ type forward; forward only; forwarders {{ {ip}; }}; }};  # BIND named.conf',
                    zone=zone, ip=AZURE_DNS) for zone in zones]
    return windows + bind


def forwarder_fix(ctx, vnet_name: str, servers: list[str]) -> tuple[str, list[Command]]:
    """Conditional forwarders to Azure DNS on the custom servers (dns.custom-dns-forwarding, dns.scoring-resolution)."""
    zones = ctx.cloud.forwarded_zones
    return (f"Add conditional forwarders for {' and '.join(zones)} to Azure DNS ({AZURE_DNS}) on the custom "
            f"DNS servers of VNet {vnet_name} ({', '.join(servers)}); they must run in a VNet linked to the private zone",
            _forwarders(zones))


def copies_of_the_zone(ctx) -> list:
    """A warning when the workspace's private endpoints register in several zones named like the inference zone
    (hub and spoke copies): each copy is kept by its own endpoint's DNS integration, and the copies drift (a record
    added or corrected in one is missing or stale in the other). Nothing when they share one zone."""
    zones: dict[str, tuple[str, list[str]]] = {}
    for pe_id, info, error in workspace_private_endpoints(ctx):
        if error is not None or not info:
            continue
        groups, group_error = zone_groups(ctx, pe_id)
        if group_error is not None:
            continue  # the endpoint's own result says why
        for zone_id, _, _ in zone_configs(groups, ctx.cloud.api_zone):
            zones.setdefault(zone_id.lower(), (zone_id, []))[1].append(info["name"])
    if len(zones) < 2:
        return []
    copies = sorted(zones.values())
    named = "; ".join(f"{zone_id} (private endpoint {', '.join(names)})" for zone_id, names in copies)
    return [ctx.warned(ctx.workspace_id, f"the private endpoints of workspace {ctx.target.workspace} register in "
                                         f"{len(copies)} different zones named {ctx.cloud.api_zone}: {named}. Each copy is kept "
                                         "by its own endpoint and they drift: a record in one is missing or stale in "
                                         "the other, and which one a client sees depends on its VNet's link",
                       expected=f"one {ctx.cloud.api_zone} zone for the workspace's private endpoints (or copies on purpose, "
                                "one per isolated VNet)",
                       observed={"zones": [zone_id for zone_id, _ in copies]},
                       fix=("Keep one zone and link it to every VNet that needs it (then point the other private "
                            "endpoints' zone groups at it and delete the copy); keep copies only for VNets that must "
                            "resolve to their own private endpoint", []))]

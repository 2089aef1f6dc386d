"""dns.zone-vnet-link: the inference zone is linked to the VNet of the workspace private endpoint."""

from moediag.check import Doc, check
from moediag.checks.dns_inference_a_record import each_private_endpoint, zone_flags, zone_groups
from moediag.evidence import az_group_and_name, dig, text
from moediag.facts.dns import API_ZONE
from moediag.facts.network import dicts, link_state, link_to, vnet_dns_servers, zone_configs
from moediag.model import Reason
from moediag.shell import Command, command

DOC = Doc(
    what=(
        f"For each private endpoint of the workspace, each `{API_ZONE}` zone its zone groups register in has a "
        "virtual network link to the endpoint's VNet (the VNet of its subnet) in state `Completed`. When that VNet "
        "uses custom DNS servers and the zone is linked to other VNets instead, the result is a warning: the zone "
        "only has to be linked where the DNS forwarder runs (see dns.custom-dns-forwarding)."
    ),
    why=(
        "Azure DNS answers from a private zone only inside the VNets linked to it. Without the link, clients in the "
        "VNet get the public answer for the scoring host, and a network-isolated endpoint refuses them "
        "(or the connection goes nowhere). A link still `InProgress` does not answer yet."
    ),
    fix=(
        f"Link the zone to the VNet: `az network private-dns link vnet create -g <zone group> -z {API_ZONE} "
        "-n <vnet>-link -v <vnet id> -e false` (add `--subscription` when the zone is in another subscription). "
        "A link in a failed state: delete it and create it again."
    ),
    run_from="Anywhere with Reader access: only Resource Manager is read.",
    links=("https://learn.microsoft.com/azure/dns/private-dns-virtual-network-links",
           "https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns"),
)


@check(id="dns.zone-vnet-link", title="Private DNS zone is linked to the private endpoint's VNet",
       severity="high", scope="workspace",
       facts=("workspace", "private_endpoint_inference", "private_dns_zone_groups", "private_dns_zone_links",
              "virtual_network"), doc=DOC,
       explained_by=(), hops=("scoring:zone-link",), fix_risk="safe")
def evaluate(ctx):
    return each_private_endpoint(ctx, judge, "the workspace has no private endpoint: no private zone to link")


def judge(ctx, pe_id: str, info: dict) -> list:
    """Results for one workspace private endpoint: one per zone it registers in (reused by dns.scoring-resolution)."""
    groups, error = zone_groups(ctx, pe_id)
    if error is not None:
        return [ctx.errored(pe_id, error)]
    zones = zone_configs(groups, API_ZONE)
    if not zones:
        return [ctx.skipped(pe_id, f"private endpoint {info['name']} registers in no {API_ZONE} zone, so there is no "
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
    flags, sub = zone_flags(zone_id, ctx.target.subscription_id)
    _, vnet = az_group_and_name(vnet_id)
    commands = [command("az network private-dns link vnet delete {flags} -n {link} --yes{sub}", flags=flags,
                        link=replace, sub=sub)] if replace else []
    commands.append(command("az network private-dns link vnet create {flags} -n {vnet}-link -v {vnet_id} -e false{sub}",
                            flags=flags, vnet=vnet, vnet_id=vnet_id, sub=sub))
    return f"Link zone {API_ZONE} to VNet {vnet}", commands


def _link_verdict(ctx, zone_id, vnet_id, vnet, links, error):
    _, vnet_name = az_group_and_name(vnet_id)
    expected = {"virtual_network": vnet_id, "state": "Completed"}
    if error is not None:
        return ctx.errored(zone_id, error, expected=expected)
    if not isinstance(links, list):
        return ctx.errored(zone_id, f"the link list of zone {API_ZONE} is a {type(links).__name__}, not a list",
                           reason=Reason.UNREADABLE, expected=expected)
    link = link_to(links, vnet_id)
    if link is not None:
        state, rid, name = link_state(link), text(link.get("id")) or zone_id, text(link.get("name"))
        observed = {"link": name, "state": state}
        if state.lower() == "completed":
            return ctx.passed(rid, f"zone {API_ZONE} is linked to VNet {vnet_name} ({name}, Completed)",
                              expected=expected, observed=observed)
        if state.lower() == "inprogress":
            return ctx.warned(rid, f"the link {name} of zone {API_ZONE} to VNet {vnet_name} is still InProgress: the "
                                   "zone does not answer in the VNet until it completes", reason=Reason.INCONCLUSIVE,
                              expected=expected, observed=observed,
                              fix=("Wait a few minutes, then run moediag again", []))
        return ctx.failed(rid, f"the link {name} of zone {API_ZONE} to VNet {vnet_name} is {state}: the zone does not "
                               "answer in the VNet", expected=expected, observed=observed,
                          fix=link_fix(ctx, zone_id, vnet_id, replace=name))
    others = sorted({az_group_and_name(dig(link, "properties", "virtualNetwork", "id"))[1] for link in dicts(links)})
    observed = {"linked_virtual_networks": others}
    servers = vnet_dns_servers(vnet)
    if servers and others:
        return ctx.warned(zone_id, f"zone {API_ZONE} is not linked to VNet {vnet_name} but to {', '.join(others)}; "
                                   f"{vnet_name} uses custom DNS servers ({', '.join(servers)}), which is fine if they "
                                   "forward to Azure DNS from one of those VNets (dns.custom-dns-forwarding compares "
                                   "the answers)", reason=Reason.INCONCLUSIVE, expected=expected, observed=observed,
                          fix=link_fix(ctx, zone_id, vnet_id))
    elsewhere = f" (linked only to {', '.join(others)})" if others else " (it has no VNet link at all)"
    return ctx.failed(zone_id, f"zone {API_ZONE} is not linked to VNet {vnet_name}{elsewhere}: clients there get the "
                               "public answer for the scoring host", expected=expected, observed=observed,
                      fix=link_fix(ctx, zone_id, vnet_id))

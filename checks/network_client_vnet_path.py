"""network.client-vnet-path: each client VNet reaches each workspace private endpoint, judged from configuration."""

from moediag.check import Doc, Example, check
from moediag.clouds import NAMES_NOTE, PUBLIC
from moediag.diagnosis import Cause
from moediag.facts.vnets import peerings, same_id
from moediag.judge.client_path import BLOCKED, HOP_LABELS, NOT_JUDGED, OK, UNREAD, ClientPaths, name_of, worst_record
from moediag.judge.private_dns import record_verdicts
from moediag.judge.scope import network_home, workspace_private_endpoints
from moediag.model import Reason, Status

DOC = Doc(
    what=(
        "For each client VNet (`--client-vnet`, repeatable, or `client_vnets` in moediag.toml; without them the "
        f"VNets linked to the `{PUBLIC.api_zone}` zone and each private endpoint's own VNet) and each workspace private "
        "endpoint, the scoring path is derived from configuration, hop by hop, and the first hop that blocks is "
        "named. DNS: with Azure DNS (no custom servers) the zone must be linked to the VNet, or a DNS forwarding "
        f"ruleset linked to it must forward {' or '.join(f'`{z}`' for z in PUBLIC.forwarded_zones)} to a DNS Private Resolver "
        "inbound endpoint whose VNet is linked; custom DNS servers must each be such an inbound endpoint (servers "
        "that are not are not judged: moediag cannot see inside them). Resolvers and rulesets are listed in the "
        "subscriptions of the workspace, of the private endpoints' VNets and of the client VNets. Reachability: the same VNet, or a peering "
        "`Connected` in both directions (both peering objects are read); through a hub it is not judged, since "
        "peering is not transitive. Without `--client-vnet`, a VNet linked to the zone that the private endpoint's "
        "VNet is not peered with is not read (one skip names them all): not one of its clients. When the zone lacks the inference record every path is blocked there: "
        "dns.inference-a-record reports it and this check skips."
        + NAMES_NOTE
    ),
    why=(
        "An on-call engineer's laptop is not where scoring requests come from. Applications in other VNets (or "
        "on-premises networks behind a resolver) reach a network-isolated endpoint only when their DNS answers the "
        "scoring host with the private endpoint's IP and their network carries traffic to it. Like AWS "
        "Reachability Analyzer or GCP Connectivity Tests, the answer comes from configuration, without a packet."
    ),
    fix=(
        f"The result names the blocking hop and its fix: link the `{PUBLIC.api_zone}` zone to the VNet (or to the "
        "resolver's VNet); forward the public names in the forwarding ruleset to a resolver inbound endpoint; peer "
        "the VNets in both directions (`az network vnet peering create ... --allow-vnet-access` on each side; a "
        "Disconnected peering is deleted and created again)."
    ),
    run_from="Anywhere with Reader access: only Resource Manager is read (VNets, zone links, resolvers).",
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns",
           "https://learn.microsoft.com/azure/dns/private-resolver-endpoints-rulesets",
           "https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview"),
    examples=(
        Example({"client VNet": {"id": "/subscriptions/.../virtualNetworks/vnet-app",
                                 "properties": {"dhcpOptions": {"dnsServers": []},
                                                "virtualNetworkPeerings": [{"name": "app-to-ml", "properties": {
                                                    "peeringState": "Connected",
                                                    "remoteVirtualNetwork": {"id": ".../virtualNetworks/vnet-ml"}}}]}},
                 "zone links": ["vnet-ml"]},
                "fail: client VNet vnet-app cannot reach private endpoint pe-ws (10.0.1.5): blocked at DNS: VNet "
                f"vnet-app uses Azure DNS, but zone {PUBLIC.api_zone} is not linked to VNet vnet-app and no DNS "
                f"forwarding ruleset linked to it forwards {' or '.join(PUBLIC.forwarded_zones)} to a resolver that "
                "is: the scoring host resolves publicly there"),
        Example({"client VNet": {"id": "/subscriptions/.../virtualNetworks/vnet-ml",
                                 "properties": {"dhcpOptions": {"dnsServers": []}}},
                 "zone links": ["vnet-ml"]},
                "pass: client VNet vnet-ml reaches private endpoint pe-ws (10.0.1.5): DNS: VNet vnet-ml uses Azure "
                f"DNS, to which zone {PUBLIC.api_zone} is linked (vnet-ml-link); network: vnet-ml is the "
                "private endpoint's own VNet"),
    ),
)


def _ruleset(finding) -> bool:
    """dns.resolver-forwarding judges the rulesets: it explains a DNS block that comes from one."""
    return bool((finding.get("evidence") or {}).get("blocked_by_ruleset"))


def _pe_vnet_link(finding) -> bool:
    """dns.zone-vnet-link judges the link to the private endpoint's own VNet: it explains that path's DNS block."""
    evidence = finding.get("evidence") or {}
    return evidence.get("blocked_hop") == "dns" and bool(evidence.get("private_endpoint_vnet"))


@check(id="network.client-vnet-path", title="Client VNets reach the workspace private endpoint (DNS and network)",
       severity="high", scope="workspace",
       facts=("workspace", "network_workspace", "private_endpoint_inference", "private_dns_zone_groups",
              "private_dns_zone_links", "private_dns_record", "virtual_network", "private_resolvers"), doc=DOC,
       explained_by=(Cause("dns.zone-vnet-link", _pe_vnet_link), Cause("dns.resolver-forwarding", _ruleset)), hops=("scoring:client-network",), fix_risk="safe")
def evaluate(ctx):
    endpoints = workspace_private_endpoints(ctx)
    note = network_home(ctx).note
    if not endpoints:
        yield ctx.skipped(ctx.workspace_id, "the workspace has no private endpoint: clients reach it publicly" + note)
        return
    paths = ClientPaths(ctx, [(pe_id, info) for pe_id, info, error in endpoints if error is None])
    for pe_id, _, error in endpoints:
        if error is not None:
            yield ctx.errored(pe_id, error)
    clients, gaps = paths.vnets_in_play()
    yield from gaps
    if not ctx.options.client_vnets:
        clients, others = _peered_candidates(paths, clients)
        if others:
            yield ctx.skipped(ctx.workspace_id, f"VNet {', '.join(name_of(v) for v in others)}: linked to zone "
                                                f"{ctx.cloud.api_zone} but not peered with the VNet of a workspace private "
                                                "endpoint, so not analysed as a client (name a VNet with --client-vnet "
                                                "to judge it as one)", reason=Reason.NOT_APPLICABLE,
                              details={"not_peered": others})
    for vnet_id in clients:
        vnet, error = paths.vnet(vnet_id)
        if error is not None and not ctx.options.client_vnets and not _own_vnet(paths, vnet_id):
            # only a candidate (a VNet the zone is linked to, perhaps another team's in a subscription not readable)
            yield ctx.skipped(vnet_id, f"VNet {name_of(vnet_id)} is linked to zone {ctx.cloud.api_zone} but could not be read "
                                       f"({error.message}): its path was not analysed (name it with --client-vnet to "
                                       "require it)", reason=error.kind)
            continue
        if error is not None:
            yield ctx.errored(vnet_id, error)
            continue
        for pe_id, info in paths.pes:
            yield _verdict(ctx, paths, vnet_id, vnet, pe_id, info)


def _peered_candidates(paths, candidates):
    """(the private endpoints' own VNets and the zone-linked VNets their bodies peer with, the other zone-linked VNets):
    without --client-vnet nothing else is read (another team's VNet, a subscription this identity cannot read)."""
    peered = set()
    for _, info in paths.pes:
        body, error = paths.vnet(info["vnet_id"]) if info.get("vnet_id") else (None, True)
        if error is None:
            peered |= {p.remote_id.rstrip("/").lower() for p in peerings(body)}
    keep = [v for v in candidates if _own_vnet(paths, v) or v.rstrip("/").lower() in peered]
    return keep, [v for v in candidates if v not in keep]


def _own_vnet(paths, vnet_id) -> bool:
    return any(same_id(vnet_id, info.get("vnet_id")) for _, info in paths.pes)


def _verdict(ctx, paths, vnet_id, vnet, pe_id, info):
    zone_ids, error = paths.zones(pe_id)
    if error is not None:
        return ctx.errored(vnet_id, error)
    client, pe, ip = name_of(vnet_id), info["name"], info.get("ip") or "no IP listed"
    dns = paths.dns_hop(vnet_id, vnet, zone_ids)
    reach = paths.reach_hop(vnet_id, vnet, info)
    record = worst_record(record_verdicts(ctx, pe_id, info)) if zone_ids else None
    hops = [dns, reach]
    own = same_id(vnet_id, info.get("vnet_id"))
    blocked = [h for h in hops if h.status == BLOCKED]
    details = {"client_vnet": vnet_id, "private_endpoint": pe_id, "private_endpoint_vnet": own,
               "hops": [h.to_json() for h in hops], "blocked_hop": blocked[0].name if blocked else None,
               "blocked_by_ruleset": bool(blocked) and blocked[0].via_ruleset,
               "zone_record": record.value if record else "ok"}
    kw = {"expected": {"dns": f"answers the scoring host with {ip}", "reachability": f"a path to {ip}"},
          "observed": {h.name: h.status for h in hops}, "details": details}
    if blocked and blocked[0].name == "reachability" and reach.unrelated and not ctx.options.client_vnets:
        return ctx.skipped(vnet_id, f"VNet {client} is linked to zone {ctx.cloud.api_zone} but not peered with the VNet of private "
                                    f"endpoint {pe}, directly or through a hub: not one of its clients (name it with "
                                    "--client-vnet to judge it as one)", reason=Reason.NOT_APPLICABLE, **kw)
    if blocked:
        first = blocked[0]
        also = "".join(f"; also {HOP_LABELS[h.name]}: {h.text}" for h in blocked[1:])
        fix = first.fix or ("Fix the hop named", [])
        return ctx.failed(vnet_id, f"client VNet {client} cannot reach private endpoint {pe} ({ip}): blocked at "
                                   f"{HOP_LABELS[first.name]}: {first.text}{also}", fix=fix, **kw)
    if record == Status.FAIL:
        details["blocked_hop"] = "record"
        return ctx.skipped(vnet_id, f"client VNet {client}: the path to private endpoint {pe} is blocked at the zone's "
                                    "inference record (dns.inference-a-record fails, for every client); otherwise "
                                    f"DNS: {dns.text}; network: {reach.text}", reason=Reason.DEPENDENCY_FAILED, **kw)
    unread = [h for h in hops if h.status == UNREAD]
    if unread:
        return ctx.errored(vnet_id, f"client VNet {client} to private endpoint {pe}: {HOP_LABELS[unread[0].name]} "
                                    f"could not be judged: {unread[0].text}", reason=Reason.UNREADABLE, **kw)
    open_ = [h for h in hops if h.status == NOT_JUDGED]
    if open_ or record is not None:
        why = "; ".join(f"{HOP_LABELS[h.name]} not judged: {h.text}" for h in open_) or \
            "the zone's inference record could not be confirmed (see dns.inference-a-record)"
        judged = "; ".join(f"{HOP_LABELS[h.name]}: {h.text}" for h in hops if h.status == OK)
        return ctx.skipped(vnet_id, f"client VNet {client} to private endpoint {pe} ({ip}): not judged from "
                                    f"configuration: {why}" + (f" (judged: {judged})" if judged else ""),
                           reason=Reason.INCONCLUSIVE, **kw)
    assert all(h.status == OK for h in hops)
    return ctx.passed(vnet_id, f"client VNet {client} reaches private endpoint {pe} ({ip}): DNS: {dns.text}; "
                               f"network: {reach.text}", **kw)

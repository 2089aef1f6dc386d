"""dns.resolver-forwarding: DNS forwarding rulesets linked to the VNets in play send the workspace's public names to
a DNS Private Resolver inbound endpoint whose VNet is linked to the private zone."""

from moediag.check import Doc, Example, check
from moediag.clouds import NAMES_NOTE, PUBLIC
from moediag.evidence import az_group_and_name
from moediag.facts.dns import AZURE_DNS, PRIVATELINK_PREFIX
from moediag.facts.vnets import same_id
from moediag.judge.client_path import ClientPaths, name_of, rule_fix
from moediag.judge.private_dns import link_fix
from moediag.judge.scope import network_home, workspace_private_endpoints
from moediag.model import Reason
from moediag.shell import command

DOC = Doc(
    what=(
        "The DNS forwarding rulesets (DNS Private Resolver) linked to the VNets in play (`--client-vnet`, else the "
        f"VNets linked to the `{PUBLIC.api_zone}` zone and the private endpoints' VNets), found by listing in their "
        "subscriptions. In each, the enabled rules (`forwardingRuleState: Disabled` counts as absent) for "
        + ", ".join(f"`{z}`" for z in PUBLIC.public_forwarders)
        + " must target the inbound endpoint of a resolver whose VNet is linked to the zone (the inbound endpoint "
        "answers with Azure DNS from its own VNet, private zones included). Without a rule for "
        + " or ".join(f"`{z}`" for z in PUBLIC.forwarded_zones)
        + ", a linked VNet that the zone is not linked to itself resolves the scoring host publicly (fail); the "
        "notebooks and compute instance names missing is a warning. A rule forwarding a `privatelink.*` zone fails: "
        "forward the public zone, never the privatelink one. A target that is Azure DNS's own address "
        f"({AZURE_DNS}) warns (Microsoft documents forwarding to an inbound endpoint), one that is no resolver "
        "moediag can read is not judged, and a ruleset linked to the VNet of the inbound endpoint it targets fails "
        "(the queries loop). No ruleset in play: skipped."
        + NAMES_NOTE
    ),
    why=(
        "VNets linked to a ruleset apply its rules before Azure DNS's own answer. A hub and spoke design resolves "
        "private link names in the spokes by forwarding the public names to the hub's inbound endpoint; a rule "
        "that is missing, disabled, aimed at a resolver whose VNet the zone is not linked to, or written for the "
        "privatelink zone leaves the spokes with public answers, and a network-isolated endpoint refuses them."
    ),
    fix=(
        "Add or correct the rules (`az dns-resolver forwarding-rule create -g <group> --ruleset-name <ruleset> -n "
        f"<rule> --domain-name {PUBLIC.forwarded_zones[0]}. --target-dns-servers \"[{{ip-address:<inbound ip>,port:53}}]\"`), "
        f"link the `{PUBLIC.api_zone}` zone to the resolver's VNet, delete a rule for a privatelink zone."
    ),
    run_from="Anywhere with Reader access: only Resource Manager is read (resolvers, rulesets, rules, links).",
    links=("https://learn.microsoft.com/azure/dns/private-resolver-endpoints-rulesets",
           "https://learn.microsoft.com/azure/dns/private-resolver-hybrid-dns",
           "https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns"),
    examples=(
        Example({"ruleset": "rs-hub (linked to vnet-app)",
                 "forwardingRules": [{"properties": {"domainName": f"{PUBLIC.api_zone}.",
                                                     "targetDnsServers": [{"ipAddress": "10.2.0.4", "port": 53}],
                                                     "forwardingRuleState": "Enabled"}}]},
                f"fail: ruleset rs-hub forwards {PUBLIC.api_zone} (rule rule-0): forward the public zone "
                f"{PUBLIC.api_domain}, never the privatelink one"),
        Example({"ruleset": "rs-hub (linked to vnet-app)",
                 "forwardingRules": [{"properties": {"domainName": f"{z}.",
                                                     "targetDnsServers": [{"ipAddress": "10.2.0.4", "port": 53}],
                                                     "forwardingRuleState": "Enabled"}} for z in
                                     PUBLIC.public_forwarders],
                 "resolver": "dnspr-hub, inbound 10.2.0.4, in vnet-hub (linked to the zone)"},
                f"pass: ruleset rs-hub (linked to vnet-app) forwards {', '.join(PUBLIC.public_forwarders)} to "
                "10.2.0.4 (resolver dnspr-hub, whose VNet vnet-hub the zone is linked to)"),
    ),
)


@check(id="dns.resolver-forwarding", title="DNS forwarding rulesets send the workspace's names to a resolver linked to "
                                           "the private zone",
       severity="high", scope="workspace",
       facts=("workspace", "network_workspace", "private_endpoint_inference", "private_dns_zone_groups",
              "private_dns_zone_links", "private_resolvers"), doc=DOC,
       hops=("scoring:client-network",), fix_risk="safe")
def evaluate(ctx):
    endpoints = workspace_private_endpoints(ctx)
    if not endpoints:
        yield ctx.skipped(ctx.workspace_id, "the workspace has no private endpoint: nothing resolves privately"
                          + network_home(ctx).note)
        return
    paths = ClientPaths(ctx, [(pe_id, info) for pe_id, info, error in endpoints if error is None])
    vnets, gaps = paths.vnets_in_play()
    yield from gaps
    data, error = ctx.try_fact("private_resolvers", *paths.subscriptions())
    if error is not None:
        yield ctx.errored(ctx.workspace_id, error)
        return
    paths._resolvers = data
    in_play = [rs for rs in data["rulesets"] if any(same_id(v, x) for v in rs["vnet_ids"] or () for x in vnets)]
    unknown = [rs for rs in data["rulesets"] if rs["vnet_ids"] is None]
    for rs in unknown:
        yield ctx.errored(rs["id"], f"the virtual network links of ruleset {rs['name']} could not be read: which VNets "
                                    "use it is unknown", reason=Reason.UNREADABLE)
    if not in_play:
        names = ", ".join(name_of(v) for v in vnets)
        unread = [u for u in data["unread"] if "ruleset" in u["what"]]
        if unread:
            yield ctx.errored(ctx.workspace_id, f"the {unread[0]['what']} could not be read: {unread[0]['message']}",
                              reason=unread[0]["kind"])
        elif not unknown:
            yield ctx.skipped(ctx.workspace_id, f"no DNS forwarding ruleset is linked to VNet {names} (subscriptions "
                                                f"{', '.join(paths.subscriptions())} listed): nothing forwards there")
        return
    zone_ids = paths.all_zones()
    for rs in in_play:
        yield _verdict(ctx, paths, rs, [v for v in rs["vnet_ids"] if any(same_id(v, x) for x in vnets)], zone_ids)


def _covers(rule: dict, name: str) -> bool:
    """A rule for `name` or a parent of it (a parent of two labels or more covers every name under it)."""
    domain = rule["domain"]
    return domain == name or (domain.count(".") >= 1 and name.endswith("." + domain))


def _verdict(ctx, paths, rs, linked, zone_ids):
    name, linked_names = rs["name"], ", ".join(name_of(v) for v in linked)
    if rs["rules"] is None:
        return ctx.errored(rs["id"], f"the forwarding rules of ruleset {name} could not be read",
                           reason=Reason.UNREADABLE)
    rules = [r for r in rs["rules"] if r["enabled"]]
    kw = {"expected": {"rules": [f"{z}." for z in ctx.cloud.public_forwarders],
                       "target": f"an inbound endpoint of a resolver whose VNet is linked to {ctx.cloud.api_zone}"},
          "observed": {"rules": {r["name"]: {"domain": r["domain"], "targets": r["targets"],
                                             "enabled": r["enabled"]} for r in rs["rules"]}},
          "details": {"ruleset": rs["id"], "linked_vnets_in_play": linked}}
    privatelink = [r for r in rules if r["domain"].startswith(PRIVATELINK_PREFIX)
                   and any(r["domain"] == PRIVATELINK_PREFIX + z or r["domain"].endswith("." + z)
                           for z in ctx.cloud.public_forwarders)]
    if privatelink:
        r = privatelink[0]
        public = r["domain"][len(PRIVATELINK_PREFIX):]
        summary, commands = rule_fix(ctx, rs, r["targets"])
        group, rs_name = az_group_and_name(rs["id"])
        commands = [*commands, command("az dns-resolver forwarding-rule delete -g {group} --ruleset-name {rs} -n {rule} "
                                       "--yes", group=group, rs=rs_name, rule=r["name"])]
        return ctx.failed(rs["id"], f"ruleset {name} forwards {r['domain']} (rule {r['name']}): forward the public "
                                    f"zone {public}, never the privatelink one", fix=(summary + "; delete the "
                                                                                      "privatelink rule", commands), **kw)
    relying = [v for v in linked if paths.zone_linked(v, zone_ids) is False]
    problems: list[tuple[str, str, tuple | None]] = []  # (fail|warn|open, text, fix)
    found = {z: [r for r in rules if _covers(r, z)] for z in ctx.cloud.public_forwarders}
    missing = [z for z, rs_ in found.items() if not rs_]
    scoring_missing = [z for z in ctx.cloud.forwarded_zones if z in missing]
    if relying and len(scoring_missing) == len(ctx.cloud.forwarded_zones):
        problems.append(("fail", f"ruleset {name} has no enabled rule for {' or '.join(ctx.cloud.forwarded_zones)}, and "
                                 f"{', '.join(name_of(v) for v in relying)} (linked to it, not to zone {ctx.cloud.api_zone}) "
                                 "resolves the scoring host publicly", rule_fix(ctx, rs, _known_targets(paths, zone_ids))))
    elif missing and (relying or len(missing) < len(ctx.cloud.public_forwarders)):
        problems.append(("warn", f"ruleset {name} has no enabled rule for {', '.join(missing)}: those names resolve "
                                 f"publicly in {linked_names} unless a zone is linked there",
                         rule_fix(ctx, rs, _known_targets(paths, zone_ids), tuple(missing))))
    by_target: dict[str, list[str]] = {}  # target -> the domains sent there (a parent domain covers several names)
    for r in {r["name"]: r for rs_ in found.values() for r in rs_}.values():
        for target in r["targets"]:
            by_target.setdefault(target, []).append(r["domain"])
    for target, domains in by_target.items():
        problems += _target_problems(ctx, paths, rs, domains, target, zone_ids)
    if not problems and not rules and not relying:
        return ctx.skipped(rs["id"], f"ruleset {name} (linked to {linked_names}) has no enabled rule for the "
                                     f"workspace's names, and zone {ctx.cloud.api_zone} is linked to those VNets itself: "
                                     "nothing to forward", reason=Reason.NOT_APPLICABLE, **kw)
    for level in ("fail", "warn", "open"):
        chosen = [p for p in problems if p[0] == level]
        if not chosen:
            continue
        text = "; ".join(p[1] for p in chosen)
        fix = next((p[2] for p in chosen if p[2]), None) or (f"Review the rules of ruleset {name}", [])
        if level == "fail":
            return ctx.failed(rs["id"], text, fix=fix, **kw)
        if level == "warn":
            return ctx.warned(rs["id"], text, fix=fix, reason=Reason.INCONCLUSIVE, **kw)
        return ctx.skipped(rs["id"], f"not judged: {text}", reason=Reason.INCONCLUSIVE, **kw)
    targets = sorted({t for rs_ in found.values() for r in rs_ for t in r["targets"]})
    resolvers = sorted({(res["name"], name_of(res["vnet_id"])) for t in targets
                        if (res := paths.resolver_at(t.rsplit(":", 1)[0] if t.count(":") == 1 else t))})
    via = ", ".join(f"resolver {n}, whose VNet {v} the zone is linked to" for n, v in resolvers)
    return ctx.passed(rs["id"], f"ruleset {name} (linked to {linked_names}) forwards "
                                f"{', '.join(z for z in ctx.cloud.public_forwarders if found[z])} to {', '.join(targets)} "
                                f"({via})", **kw)


def _known_targets(paths, zone_ids) -> list[str]:
    """Inbound endpoint IPs of resolvers whose VNet is linked to the zone (what a new rule should target)."""
    return [ip for r in paths.resolvers()["resolvers"] if paths.zone_linked(r["vnet_id"], zone_ids)
            for ip in r["inbound_ips"]]


def _target_problems(ctx, paths, rs, domains, target, zone_ids):
    ip = target.rsplit(":", 1)[0] if target.count(":") == 1 else target
    said = f"ruleset {rs['name']} forwards {', '.join(domains)} to {target}"
    if ip == AZURE_DNS:
        return [("warn", f"{said}, Azure DNS's own address: Microsoft documents forwarding to the inbound endpoint "
                         "of a resolver whose VNet is linked to the zone, which answers with Azure DNS there",
                 rule_fix(ctx, rs, _known_targets(paths, zone_ids)))]
    resolver = paths.resolver_at(ip)
    if resolver is None:
        return [("open", f"{said}, which is not an inbound endpoint of a DNS Private Resolver moediag can read (a DNS "
                         f"server it cannot see inside){paths.unread_note()}", None)]
    hub = resolver["vnet_id"]
    out = []
    loop = next((link for link in rs["vnet_links"] or () if same_id(link["vnet_id"], hub)), None)
    if loop is not None:
        group, rs_name = az_group_and_name(rs["id"])
        out.append(("fail", f"{said}, an inbound endpoint in VNet {name_of(hub)}, which is itself linked to ruleset "
                            f"{rs['name']} ({loop['name']}): the resolver's queries come back to the rule and loop",
                    (f"Unlink VNet {name_of(hub)} from ruleset {rs['name']} (the inbound endpoint's VNet resolves "
                     "with Azure DNS and its zone links)",
                     [command("az dns-resolver vnet-link delete -g {group} --ruleset-name {rs} -n {link} --yes",
                              group=group, rs=rs_name, link=loop["name"])])))
    linked_here = paths.zone_linked(hub, zone_ids)
    if linked_here is False and zone_ids:
        out.append(("fail", f"{said}, an inbound endpoint of resolver {resolver['name']} in VNet {name_of(hub)}, "
                            f"which zone {ctx.cloud.api_zone} is not linked to: it answers the names publicly",
                    link_fix(ctx, zone_ids[0], hub)))
    elif linked_here is None:
        out.append(("open", f"{said}; whether zone {ctx.cloud.api_zone} is linked to VNet {name_of(hub)} could not be read", None))
    return out

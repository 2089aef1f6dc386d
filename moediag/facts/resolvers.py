"""Facts about Azure DNS Private Resolvers: resolvers with their inbound endpoints, forwarding rulesets with their
rules and virtual network links.

They are found by listing in the subscriptions in play (the workspace's, its private endpoints' VNets', the client
VNets'), each list and each resource read once per run by id through the Source, so snapshots record and replay
them. Only GETs: `listDnsForwardingRulesets` (a POST on the VNet) is not used.
"""

from __future__ import annotations

from typing import Any

from moediag.errors import FactError
from moediag.evidence import dig, props, same_text, text
from moediag.facts import Source, fact
from moediag.facts.network import bare_ip, dicts

RESOLVER_API = "2022-07-01"


@fact("dns_resolvers", permissions=("Microsoft.Network/dnsResolvers/read",), shared=True)
def dns_resolvers(src: Source, subscription: str) -> list[dict[str, Any]]:
    """The DNS Private Resolvers of a subscription (each names its VNet)."""
    return src.arm.list(f"/subscriptions/{subscription}/providers/Microsoft.Network/dnsResolvers", RESOLVER_API)


@fact("dns_resolver_inbound_endpoints", permissions=("Microsoft.Network/dnsResolvers/inboundEndpoints/read",), shared=True)
def dns_resolver_inbound_endpoints(src: Source, resolver_id: str) -> list[dict[str, Any]]:
    """The inbound endpoints of a resolver: the IPs other DNS servers and VNets forward to."""
    return src.arm.list(f"{resolver_id}/inboundEndpoints", RESOLVER_API)


@fact("dns_forwarding_rulesets", permissions=("Microsoft.Network/dnsForwardingRulesets/read",), shared=True)
def dns_forwarding_rulesets(src: Source, subscription: str) -> list[dict[str, Any]]:
    """The DNS forwarding rulesets of a subscription."""
    return src.arm.list(f"/subscriptions/{subscription}/providers/Microsoft.Network/dnsForwardingRulesets",
                        RESOLVER_API)


@fact("dns_forwarding_rules", permissions=("Microsoft.Network/dnsForwardingRulesets/forwardingRules/read",),
      shared=True)
def dns_forwarding_rules(src: Source, ruleset_id: str) -> list[dict[str, Any]]:
    """The forwarding rules of a ruleset (`domainName` ends with a dot, `targetDnsServers`, `forwardingRuleState`)."""
    return src.arm.list(f"{ruleset_id}/forwardingRules", RESOLVER_API)


@fact("dns_ruleset_vnet_links", permissions=("Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks/read",),
      shared=True)
def dns_ruleset_vnet_links(src: Source, ruleset_id: str) -> list[dict[str, Any]]:
    """The virtual network links of a ruleset: the VNets whose Azure DNS applies its rules."""
    return src.arm.list(f"{ruleset_id}/virtualNetworkLinks", RESOLVER_API)


def _listed(value: Any, error: FactError | None, what: str) -> tuple[list[dict[str, Any]] | None, FactError | None]:
    """The items of a list fact as gathered (value, error), or None and why not: its read failed, or it is no list."""
    if error is not None:
        return None, error
    if not isinstance(value, list):
        return None, FactError("unreadable", f"{what} is a {type(value).__name__}, not a list")
    return dicts(value), None


@fact("private_resolvers", needs=("dns_resolvers", "dns_resolver_inbound_endpoints", "dns_forwarding_rulesets",
                                  "dns_forwarding_rules", "dns_ruleset_vnet_links"), derived=True)
def private_resolvers(src: Source, *subscriptions: str) -> dict[str, Any]:
    """The resolvers and rulesets of these subscriptions, shaped: `resolvers` [{id, name, vnet_id, inbound_ips}],
    `rulesets` [{id, name, vnet_ids, vnet_links: [{name, vnet_id}], rules: [{name, domain, targets, enabled}]}], and `unread` [{what, message,
    kind}] for what could not be read (a subscription not readable leaves its resolvers unknown)."""
    unread: list[dict[str, str]] = []

    def note(what: str, error: FactError) -> None:
        unread.append({"what": what, "message": error.message, "kind": error.kind})

    resolvers, rulesets = [], []
    lists = src.gather([(name, sub) for sub in subscriptions for name in ("dns_resolvers", "dns_forwarding_rulesets")])
    for i, sub in enumerate(subscriptions):
        for kind, (value, error) in zip(("resolvers", "rulesets"), lists[2 * i: 2 * i + 2]):
            items, error = _listed(value, error, f"the DNS {kind} list of subscription {sub}")
            if error is not None:
                note(f"DNS {'Private Resolvers' if kind == 'resolvers' else 'forwarding rulesets'} of subscription "
                     f"{sub}", error)
                continue
            (resolvers if kind == "resolvers" else rulesets).extend(i for i in items if text(i.get("id")))
    inbound = src.gather([("dns_resolver_inbound_endpoints", text(r["id"])) for r in resolvers])
    shaped_resolvers = []
    for resolver, (endpoints, error) in zip(resolvers, inbound):
        rid = text(resolver["id"])
        endpoints, error = _listed(endpoints, error, f"the inbound endpoints of {rid}")
        if error is not None:
            note(f"inbound endpoints of resolver {text(resolver.get('name'))}", error)
        ips = [ip for e in endpoints or () for c in dicts(props(e).get("ipConfigurations"))
               if (ip := bare_ip(c.get("privateIpAddress")))]
        shaped_resolvers.append({"id": rid, "name": text(resolver.get("name")),
                                 "vnet_id": text(dig(props(resolver), "virtualNetwork", "id")),
                                 "inbound_ips": sorted(set(ips))})
    ids = [text(r["id"]) for r in rulesets]
    answers = src.gather([(name, rid) for rid in ids for name in ("dns_forwarding_rules", "dns_ruleset_vnet_links")])
    shaped_rulesets = []
    for i, (ruleset, rid) in enumerate(zip(rulesets, ids)):
        (rules, rules_error), (links, links_error) = answers[2 * i], answers[2 * i + 1]
        name = text(ruleset.get("name"))
        rules, rules_error = _listed(rules, rules_error, f"the forwarding rules of {rid}")
        links, links_error = _listed(links, links_error, f"the virtual network links of {rid}")
        for what, error in ((f"forwarding rules of ruleset {name}", rules_error),
                            (f"virtual network links of ruleset {name}", links_error)):
            if error is not None:
                note(what, error)
        shaped_rulesets.append({
            "id": rid, "name": name,
            "vnet_ids": None if links is None else [v for link in links
                                                    if (v := text(dig(props(link), "virtualNetwork", "id")))],
            "vnet_links": None if links is None else [{"name": text(link.get("name")),
                                                       "vnet_id": text(dig(props(link), "virtualNetwork", "id"))}
                                                      for link in links],
            "rules": None if rules is None else [_rule(rule) for rule in rules],
        })
    return {"resolvers": shaped_resolvers, "rulesets": shaped_rulesets, "unread": unread}


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    p = props(rule)
    targets = []
    for target in dicts(p.get("targetDnsServers")):
        ip = bare_ip(target.get("ipAddress"))
        port = target.get("port")
        if ip:  # a port that is not a plain number is shown as the default one rather than as Azure sent it
            custom = isinstance(port, int) and not isinstance(port, bool) and port != 53 and 0 < port < 65536
            targets.append(f"{ip}:{port}" if custom else ip)
    return {"name": text(rule.get("name")), "id": text(rule.get("id")),
            "domain": text(p.get("domainName")).strip().lower().rstrip("."),
            "targets": targets, "enabled": not same_text(p.get("forwardingRuleState"), "Disabled")}

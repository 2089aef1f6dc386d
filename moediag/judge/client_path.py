"""The scoring path from a client's network, judged from configuration alone (network.client-vnet-path,
dns.resolver-forwarding): no packet is sent, like a reachability analyser.

Two hops per client VNet and workspace private endpoint, in order:
- `dns`: the VNet's DNS answers the inference names privately. Azure DNS (no custom servers) does when the
  private zone is linked to the VNet, or when a DNS forwarding ruleset linked to it forwards the public names to a
  DNS Private Resolver inbound endpoint whose VNet is linked to the zone. Custom servers do when each is such an
  inbound endpoint (its resolver answers with the Azure DNS of its own VNet); any other server is not judged:
  moediag cannot see inside it.
- `reachability`: the private endpoint's IP is reachable: the same VNet, or a peering `Connected` in both
  directions. Through a hub it is not judged: peering is not transitive, so it takes a gateway or appliance in
  the hub and routes, which configuration alone does not show.

The zone's record is dns.inference-a-record's: when it is missing every path is blocked there, and that check
is the root cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moediag import resource_id
from moediag.errors import FactError
from moediag.evidence import az_group_and_name, dig, text
from moediag.facts.dns import AZURE_DNS, PRIVATELINK_PREFIX
from moediag.facts.network import dicts, link_state, link_to, zone_configs
from moediag.facts.vnets import peering_to, peerings, same_id, vnet_dns_servers
from moediag.judge.private_dns import link_fix, zone_groups
from moediag.model import Status
from moediag.shell import Command, Placeholder, command, is_ip

OK, BLOCKED, NOT_JUDGED, UNREAD = "ok", "blocked", "not_judged", "unread"
HOP_LABELS = {"dns": "DNS", "record": "the zone's inference record", "reachability": "network reachability"}


@dataclass
class Hop:
    name: str
    status: str
    text: str
    fix: tuple | None = None
    unrelated: bool = False  # reachability: no peering at all between the two VNets (not even a partial one)
    via_ruleset: bool = False  # dns: the verdict comes from a forwarding ruleset's rules (dns.resolver-forwarding's)

    def to_json(self) -> dict[str, str]:
        return {"hop": self.name, "status": self.status, "text": self.text}


def name_of(rid: str) -> str:
    return az_group_and_name(rid)[1]


def subscription_of(rid: Any) -> str | None:
    parsed = resource_id.parse(rid)
    return parsed.subscription.lower() if parsed else None


@dataclass
class ClientPaths:
    """What every path of one run shares: VNet bodies, zone links, the resolvers in play (read when needed)."""

    ctx: Any
    pes: list = field(default_factory=list)  # (pe_id, info) of the readable workspace private endpoints
    _resolvers: Any = None

    # --- evidence -----------------------------------------------------------------------------------------

    def vnet(self, vnet_id: str) -> tuple[Any, FactError | None]:
        value, error = self.ctx.try_fact("virtual_network", vnet_id)
        if error is None and not isinstance(value, dict):
            return None, FactError("unreadable", f"the body of VNet {vnet_id} is a {type(value).__name__}")
        return value, error

    def zones(self, pe_id: str) -> tuple[list[str], FactError | None]:
        groups, error = zone_groups(self.ctx, pe_id)
        return [z[0] for z in zone_configs(groups, self.ctx.cloud.api_zone)], error

    def links(self, zone_id: str) -> tuple[list[dict], FactError | None]:
        links, error = self.ctx.try_fact("private_dns_zone_links", zone_id)
        if error is None and not isinstance(links, list):
            return [], FactError("unreadable", f"the link list of zone {zone_id} is a {type(links).__name__}")
        return dicts(links), error

    def subscriptions(self) -> list[str]:
        ids = [self.ctx.target.workspace_id, *self.ctx.options.client_vnets,
               *(info["vnet_id"] for _, info in self.pes if info.get("vnet_id"))]
        return sorted({s for s in map(subscription_of, ids) if s})

    def resolvers(self) -> dict[str, Any]:
        """The `private_resolvers` of the subscriptions in play; raises FactError when unreadable."""
        if self._resolvers is None:
            value = self.ctx.fact("private_resolvers", *self.subscriptions())
            if not isinstance(value, dict):
                raise FactError("unreadable", "the DNS Private Resolvers in play could not be shaped")
            self._resolvers = value
        return self._resolvers

    def resolver_at(self, ip: str) -> dict[str, Any] | None:
        return next((r for r in self.resolvers()["resolvers"] if ip in r["inbound_ips"]), None)

    def rulesets_of(self, vnet_id: str) -> list[dict[str, Any]]:
        return [rs for rs in self.resolvers()["rulesets"] if any(same_id(v, vnet_id) for v in rs["vnet_ids"] or ())]

    def unread_note(self) -> str:
        unread = self.resolvers()["unread"]
        return (f" ({len(unread)} resolver read(s) failed, e.g. the {unread[0]['what']}: {unread[0]['message']})"
                if unread else "")

    def vnets_in_play(self) -> tuple[list[str], list]:
        """--client-vnet / client_vnets, else the VNets linked to the zones and the private endpoints' own VNets;
        and an error result for each zone whose links could not be read."""
        if self.ctx.options.client_vnets:
            return list(self.ctx.options.client_vnets), []
        found: dict[str, str] = {}
        gaps = []
        for pe_id, info in self.pes:
            zone_ids, error = self.zones(pe_id)
            for zone_id in zone_ids if error is None else ():
                links, link_error = self.links(zone_id)
                if link_error is not None:
                    gaps.append(self.ctx.errored(zone_id, link_error))
                for link in links:
                    vnet_id = text(dig(link, "properties", "virtualNetwork", "id"))
                    if vnet_id:
                        found.setdefault(vnet_id.lower(), vnet_id)
            if info.get("vnet_id"):
                found.setdefault(info["vnet_id"].lower(), info["vnet_id"])
        return sorted(found.values(), key=str.lower), gaps

    def zone_linked(self, vnet_id: str, zone_ids: list[str]) -> bool | None:
        """Whether a zone of `zone_ids` is linked (Completed) to `vnet_id`; None when a link list is unreadable."""
        for zone_id in zone_ids:
            links, error = self.links(zone_id)
            if error is not None:
                return None
            link = link_to(links, vnet_id)
            if link is not None and link_state(link).lower() == "completed":
                return True
        return False

    def all_zones(self) -> list[str]:
        """The inference zones the workspace private endpoints register in (readable zone groups only)."""
        found: dict[str, str] = {}
        for pe_id, _ in self.pes:
            zone_ids, error = self.zones(pe_id)
            for zone_id in zone_ids if error is None else ():
                found.setdefault(zone_id.lower(), zone_id)
        return list(found.values())

    # --- the DNS hop --------------------------------------------------------------------------------------

    def dns_hop(self, vnet_id: str, vnet: Any, zone_ids: list[str]) -> Hop:
        servers = vnet_dns_servers(vnet)
        label = f"VNet {name_of(vnet_id)}"
        if not servers or all(s == AZURE_DNS for s in servers):
            return self.azure_dns(vnet_id, zone_ids, f"{label} uses Azure DNS", follow_rules=True)
        try:
            hops = [self.server(s, vnet_id, zone_ids) for s in servers]
        except FactError as exc:
            return Hop("dns", UNREAD, f"{label} uses custom DNS servers ({', '.join(servers)}), and the DNS Private "
                                      f"Resolvers in play could not be read: {exc.message}")
        for status in (BLOCKED, UNREAD, NOT_JUDGED):
            found = [h for h in hops if h.status == status]
            if found:
                return found[0]
        return Hop("dns", OK, "; ".join(h.text for h in hops))

    def server(self, server: str, vnet_id: str, zone_ids: list[str]) -> Hop:
        label = f"VNet {name_of(vnet_id)}"
        if server == AZURE_DNS:
            return self.azure_dns(vnet_id, zone_ids, f"{label} names Azure DNS ({AZURE_DNS})", follow_rules=True)
        resolver = self.resolver_at(server) if is_ip(server) else None
        if resolver is None:
            return Hop("dns", NOT_JUDGED, f"{label} uses custom DNS server {server}, which is not the inbound endpoint "
                                          "of a DNS Private Resolver moediag can read: it cannot see inside that "
                                          "server (dns.custom-dns-forwarding compares its answers with Azure DNS's "
                                          f"under --azure-dns; --dns-server {server} asks it directly){self.unread_note()}")
        hub = resolver["vnet_id"]
        return self.azure_dns(hub, zone_ids, f"{label} uses {server}, an inbound endpoint of DNS Private Resolver "
                                             f"{resolver['name']}, which answers from VNet {name_of(hub)}",
                              follow_rules=True)

    def azure_dns(self, vnet_id: str, zone_ids: list[str], said: str, follow_rules: bool) -> Hop:
        """Azure DNS as seen from `vnet_id`: the zone's link to it, else (when `follow_rules`) a ruleset linked to
        it that forwards the public names to an inbound endpoint whose VNet is linked."""
        if not zone_ids:
            return Hop("dns", NOT_JUDGED, f"{said}, but the private endpoint registers in no {self.ctx.cloud.api_zone} zone "
                                          "(dns.inference-a-record reports it)")
        for zone_id in zone_ids:
            links, error = self.links(zone_id)
            if error is not None:
                return Hop("dns", UNREAD, f"{said}; the links of zone {self.ctx.cloud.api_zone} could not be read: {error.message}")
            link = link_to(links, vnet_id)
            if link is None:
                continue
            state, link_name = link_state(link), str(link.get("name") or "")
            if state.lower() == "completed":
                return Hop("dns", OK, f"{said}, to which zone {self.ctx.cloud.api_zone} is linked ({link_name})")
            return Hop("dns", BLOCKED, f"{said}, but the link {link_name} of zone {self.ctx.cloud.api_zone} to it is {state}: the "
                                       "zone does not answer there",
                       link_fix(self.ctx, zone_id, vnet_id, replace=link_name))
        not_linked = Hop("dns", BLOCKED, f"{said}, but zone {self.ctx.cloud.api_zone} is not linked to VNet {name_of(vnet_id)}"
                                         + (" and no DNS forwarding ruleset linked to it forwards "
                                            f"{' or '.join(self.ctx.cloud.forwarded_zones)} to a resolver that is" if follow_rules
                                            else "") + ": the scoring host resolves publicly there",
                         link_fix(self.ctx, zone_ids[0], vnet_id))
        if not follow_rules:
            return not_linked
        try:
            routed = self.ruleset_route(vnet_id, zone_ids, said)
        except FactError as exc:
            return Hop("dns", UNREAD, f"{said}; zone {self.ctx.cloud.api_zone} is not linked to it, and the forwarding rulesets in "
                                      f"play could not be read: {exc.message}")
        return routed or not_linked

    def ruleset_route(self, vnet_id: str, zone_ids: list[str], said: str) -> Hop | None:
        """The verdict of the forwarding rules that apply in `vnet_id`, None when none forwards the names."""
        rules = [(rs, rule) for rs in self.rulesets_of(vnet_id) for rule in rs["rules"] or () if rule["enabled"]]
        public = [(rs, rule) for rs, rule in rules if rule["domain"] in self.ctx.cloud.forwarded_zones]
        if not public:
            private = [(rs, rule) for rs, rule in rules if rule["domain"] == self.ctx.cloud.api_zone]
            if private:
                rs, rule = private[0]
                return Hop("dns", BLOCKED, f"{said}; ruleset {rs['name']} forwards {self.ctx.cloud.api_zone} (rule {rule['name']}), "
                                           f"not the public names {' and '.join(self.ctx.cloud.forwarded_zones)}: forward the public "
                                           "zone, never the privatelink one (dns.resolver-forwarding)",
                           rule_fix(self.ctx, rs, rule["targets"]), via_ruleset=True)
            return None
        hops = []
        for rs, rule in public:
            for target in rule["targets"] or ["no target"]:
                hops.append(self.target(rs, rule, target, zone_ids, said))
        for status in (BLOCKED, UNREAD, NOT_JUDGED):
            found = [h for h in hops if h.status == status]
            if found:
                found[0].via_ruleset = True
                return found[0]
        return Hop("dns", OK, hops[0].text)

    def target(self, rs: dict, rule: dict, target: str, zone_ids: list[str], said: str) -> Hop:
        where = f"{said}; ruleset {rs['name']} forwards {rule['domain']} to {target}"
        ip = target.rsplit(":", 1)[0] if target.count(":") == 1 else target
        if ip == AZURE_DNS:
            return Hop("dns", NOT_JUDGED, f"{where}, Azure DNS itself: Microsoft documents forwarding to a resolver "
                                          "inbound endpoint whose VNet is linked to the zone, not to "
                                          f"{AZURE_DNS} (dns.resolver-forwarding)")
        resolver = self.resolver_at(ip) if is_ip(ip) else None
        if resolver is None:
            return Hop("dns", NOT_JUDGED, f"{where}, which is not an inbound endpoint of a DNS Private Resolver moediag "
                                          f"can read: it cannot see inside that server{self.unread_note()}")
        hub = resolver["vnet_id"]
        return self.azure_dns(hub, zone_ids, f"{where}, an inbound endpoint of resolver {resolver['name']} in VNet "
                                             f"{name_of(hub)}", follow_rules=False)

    # --- the reachability hop -----------------------------------------------------------------------------

    def reach_hop(self, vnet_id: str, vnet: Any, info: dict) -> Hop:
        pe_vnet, ip = info.get("vnet_id"), info.get("ip") or "its IP"
        client = name_of(vnet_id)
        if not pe_vnet:
            return Hop("reachability", NOT_JUDGED, f"private endpoint {info['name']} names no subnet: its VNet is "
                                                   "unknown")
        if same_id(vnet_id, pe_vnet):
            return Hop("reachability", OK, f"{client} is the private endpoint's own VNet")
        target = name_of(pe_vnet)
        other, error = self.vnet(pe_vnet)
        if error is not None:
            return Hop("reachability", UNREAD, f"the private endpoint's VNet {target} could not be read: "
                                               f"{error.message}")
        out, back = peering_to(vnet, pe_vnet), peering_to(other, vnet_id)
        if out or back:
            if out and back and out.connected and back.connected:
                return Hop("reachability", OK, f"{client} and {target} are peered ({out.name} and {back.name}, "
                                               "Connected both ways)")
            return Hop("reachability", BLOCKED, self._peering_problem(client, target, out, back, ip),
                       self._peering_fix(vnet_id, pe_vnet, out, back))
        hubs, unread = [], []
        for p in peerings(vnet):
            if not p.connected or not p.remote_id:
                continue
            hub, hub_error = self.vnet(p.remote_id)
            if hub_error is not None:
                unread.append(f"{name_of(p.remote_id)} ({hub_error.message})")
                continue
            legs = (peering_to(hub, vnet_id), peering_to(hub, pe_vnet), peering_to(other, p.remote_id))
            if all(leg is not None and leg.connected for leg in legs):
                hubs.append((p, legs))
        if hubs:
            (p, (hub_back, hub_out, spoke_in)) = hubs[0]
            transit = ("gateway transit is on for both spokes" if hub_back.allow_gateway_transit
                       and p.use_remote_gateways and hub_out.allow_gateway_transit and spoke_in.use_remote_gateways
                       else "gateway transit is not on for both spokes")
            return Hop("reachability", NOT_JUDGED,
                       f"{client} reaches {target} only through hub {name_of(p.remote_id)} (both peerings Connected "
                       f"both ways; {transit}): peering is not transitive, so {ip} is reachable only if a gateway or "
                       f"network appliance in {name_of(p.remote_id)} forwards the traffic with routes for it, which "
                       "configuration alone does not show")
        seen = f" (VNets it peers with that could not be read: {', '.join(unread)})" if unread else ""
        return Hop("reachability", UNREAD if unread else BLOCKED,
                   f"{client} is not peered with {target}, the private endpoint's VNet, nor through a hub{seen}: "
                   f"nothing carries traffic to {ip}", None if unread else self._peering_fix(vnet_id, pe_vnet, None, None),
                   unrelated=True)

    @staticmethod
    def _peering_problem(client, target, out, back, ip) -> str:
        def shown(p, a, b):
            if p is None:
                return f"{a} has no peering to {b}"
            if not p.allow_access:
                return f"peering {p.name} ({a} to {b}) does not allow virtual network access"
            return f"peering {p.name} ({a} to {b}) is {p.state}"
        problems = [shown(p, a, b) for p, a, b in ((out, client, target), (back, target, client))
                    if p is None or not p.connected]
        return f"{'; '.join(problems)}: traffic to {ip} needs a peering Connected in both directions"

    def _peering_fix(self, client_id, pe_vnet, out, back) -> tuple:
        """Create a missing direction (an Initiated peering connects when its other side exists), let access through
        where it is off, delete and create a Disconnected one again."""
        commands: list[Command] = []
        risk = "safe"
        for p, local, remote in ((out, client_id, pe_vnet), (back, pe_vnet, client_id)):
            if p is not None and p.connected:
                continue
            group, vnet = az_group_and_name(local)
            sub = subscription_of(local)
            flag = (command(" --subscription {sub}", sub=sub) if sub and sub != self.ctx.target.subscription_id.lower()
                    else command(""))
            where = command("-g {group} --vnet-name {vnet} -n {name}{flag}", group=group, vnet=vnet,
                            name=p.name if p is not None else f"{vnet}-to-{name_of(remote)}", flag=flag)
            if p is not None and not p.allow_access:
                commands.append(command("az network vnet peering update {where} --set allowVirtualNetworkAccess=true",
                                        where=where))
                continue
            if p is not None and p.state.lower() == "initiated":
                continue  # it connects once the other direction exists
            if p is not None:
                risk = "disruptive"
                commands.append(command("az network vnet peering delete {where}", where=where))
            commands.append(command("az network vnet peering create {where} --remote-vnet {remote} --allow-vnet-access",
                                    where=where, remote=remote))
        summary = (f"Peer {name_of(client_id)} and {name_of(pe_vnet)} in both directions (an Initiated peering "
                   "connects once the other direction exists; a Disconnected one is deleted and created again, and "
                   "traffic over it stops meanwhile)")
        return (summary, commands, risk)


def rule_fix(ctx, rs: dict, targets: list[str], zones: tuple[str, ...] | None = None) -> tuple:
    """A forwarding rule for each of `zones` (public names; default the cloud's scoring names) to the given targets
    (an inbound endpoint's IP), in ruleset `rs`."""
    zones = zones or ctx.cloud.forwarded_zones
    group, name = az_group_and_name(rs["id"])
    ips = [t for t in targets if is_ip(t)]
    value = ("[" + ",".join(f"{{ip-address:{ip},port:53}}" for ip in ips) + "]" if ips
             else Placeholder("inbound endpoint targets"))
    commands = [command("az dns-resolver forwarding-rule create -g {group} --ruleset-name {ruleset} -n {rule} "
                        "--domain-name {domain} --forwarding-rule-state Enabled --target-dns-servers {targets}",
                        group=group, ruleset=name, rule=zone.replace(".", "-"), domain=zone + ".", targets=value)
                for zone in zones]
    return (f"In ruleset {name}, forward {' and '.join(zones)} (the public zones, never "
            f"{PRIVATELINK_PREFIX}*) to an inbound endpoint of a DNS Private Resolver whose VNet is linked to "
            f"{ctx.cloud.api_zone}", commands)


def worst_record(results: list) -> Status | None:
    """The worst status of dns.inference-a-record's verdicts for one private endpoint."""
    for status in (Status.FAIL, Status.ERROR, Status.WARN):
        if any(r.status == status for r in results):
            return status
    return None

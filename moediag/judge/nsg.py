"""Network security group rules, evaluated the way Azure does for one kind of traffic: inbound TCP to one port of one
address, from a set of client networks.

Azure applies a subnet NSG's inbound rules in priority order (lowest number first), its custom `securityRules`
before its `defaultSecurityRules` (AllowVnetInBound 65000, AllowAzureLoadBalancerInBound 65001, DenyAllInBound
65500); the first rule matching a packet decides. A rule matches on protocol (`Tcp`, `Udp`, `Icmp`, `*`, ...), source
and destination (`sourceAddressPrefix(es)`: an address, a CIDR range, `*`, or a service tag) and destination port
(`destinationPortRange(s)`: `443`, `400-500`, `*`).

Service tags, for traffic between private addresses: `VirtualNetwork` covers the VNet, its peered VNets and networks
connected through a gateway, that is every client network that can reach a private endpoint privately, so it matches
every client network here; `*`/`Any` match everything; `Internet` and the other tags name public ranges and match no
private client. Application security groups cannot be resolved from the rule alone: such a source or destination
matches nothing, and the rule is listed as not judged.

Rules arrive shaped by `moediag.facts.subnets` (strings and lists as Azure wrote them); anything malformed there
(a priority that is not a number, a prefix that is not one) makes the rule unjudgeable, never a crash.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ANY = ("*", "any", "0.0.0.0/0", "::/0")
VIRTUAL_NETWORK = "virtualnetwork"

# What Azure puts in every NSG, used when a body omits them (an older api-version, a partial response).
DEFAULT_INBOUND = (
    {"name": "AllowVnetInBound", "priority": 65000, "direction": "Inbound", "access": "Allow", "protocol": "*",
     "sources": ["VirtualNetwork"], "destinations": ["VirtualNetwork"], "ports": ["*"]},
    {"name": "AllowAzureLoadBalancerInBound", "priority": 65001, "direction": "Inbound", "access": "Allow",
     "protocol": "*", "sources": ["AzureLoadBalancer"], "destinations": ["*"], "ports": ["*"]},
    {"name": "DenyAllInBound", "priority": 65500, "direction": "Inbound", "access": "Deny", "protocol": "*",
     "sources": ["*"], "destinations": ["*"], "ports": ["*"]},
)


@dataclass(frozen=True)
class Decision:
    """Who decides the traffic from `network`: `rule` (its shaped dict), or None when no rule matched at all."""

    network: Network
    rule: dict[str, Any] | None

    @property
    def allowed(self) -> bool:
        return self.rule is not None and str(self.rule.get("access", "")).lower() == "allow"


def network(value: Any) -> Network | None:
    """`10.0.0.0/16`, `10.0.1.5` (a /32) or `10.0.1.5/24` (host bits dropped) as a network; None when it is none."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def port_matches(ranges: Any, port: int) -> bool | None:
    """Whether `port` is in one of `ranges` (`443`, `400-500`, `*`); None when no range is readable."""
    readable = False
    for raw in ranges if isinstance(ranges, list) else []:
        text = raw.strip() if isinstance(raw, str) else ""
        if text in ("*", "any", "Any"):
            return True
        low, sep, high = text.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()) or len(text) > 11:
            continue
        readable = True
        if int(low) <= port <= int(high if sep else low):
            return True
    return False if readable else None


def protocol_matches(protocol: Any, wanted: str) -> bool:
    return isinstance(protocol, str) and protocol.strip().lower() in ("*", "any", wanted.lower())


def _address_matches(prefixes: Any, address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                     vnet: list[Network]) -> bool:
    """Whether a rule's destination list holds `address` (`VirtualNetwork`: an address of the VNet)."""
    for raw in prefixes if isinstance(prefixes, list) else []:
        text = raw.strip().lower() if isinstance(raw, str) else ""
        if text in ANY:
            return True
        if text == VIRTUAL_NETWORK:
            if any(address.version == n.version and address in n for n in vnet):
                return True
            continue
        net = network(text)
        if net is not None and net.version == address.version and address in net:
            return True
    return False


def _source_networks(prefixes: Any, clients: list[Network]) -> list[Network]:
    """The part of the client networks a rule's source list covers (`VirtualNetwork` and `*`: all of them)."""
    out: list[Network] = []
    for raw in prefixes if isinstance(prefixes, list) else []:
        text = raw.strip().lower() if isinstance(raw, str) else ""
        if text in ANY or text == VIRTUAL_NETWORK:
            return list(clients)
        net = network(text)
        if net is not None:
            out.append(net)
    return [n for version in (4, 6) for n in ipaddress.collapse_addresses(x for x in out if x.version == version)]


def _priority(rule: dict[str, Any]) -> int | None:
    value = rule.get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535 else None


def well_formed(rule: Any) -> bool:
    """A rule whose every field the evaluation reads has its type: a name, a usable priority, a direction, Allow or
    Deny, a protocol, and lists of sources, destinations and ports. Anything else cannot be placed or applied."""
    return (isinstance(rule, dict) and isinstance(rule.get("name"), str) and _priority(rule) is not None
            and str(rule.get("direction")).lower() in ("inbound", "outbound")
            and str(rule.get("access")).lower() in ("allow", "deny") and isinstance(rule.get("protocol"), str)
            and all(isinstance(rule.get(k), list) for k in ("sources", "destinations", "ports")))


def ordered(rules: list[Any], default_rules: list[Any] | None = None,
            direction: str = "Inbound") -> tuple[list[dict[str, Any]], list[Any]]:
    """(rules in the order Azure applies them, rules that cannot be judged): the direction's custom rules by priority,
    then its default rules (Azure's own when the body lists none). A rule that is not `well_formed` (whatever its
    direction) is unjudgeable: it could be the one that decides."""
    custom, defaults, skipped = [], [], []
    for rule, kind in [(r, custom) for r in rules] + [(r, defaults) for r in (default_rules or DEFAULT_INBOUND)]:
        if not well_formed(rule):
            skipped.append(rule)
        elif rule["direction"].lower() == direction.lower():
            kind.append(rule)
    return sorted(custom, key=_priority) + sorted(defaults, key=_priority), skipped


def label(rule: Any) -> str:
    """A rule's name for a message (`?` when it has none)."""
    name = rule.get("name") if isinstance(rule, dict) else None
    return name if isinstance(name, str) and name else "?"


def _minus(pieces: list[Network], taken: list[Network]) -> list[Network]:
    """`pieces` without the addresses of `taken`."""
    out = list(pieces)
    for cut in taken:
        rest: list[Network] = []
        for piece in out:
            if piece.version != cut.version or not piece.overlaps(cut):
                rest.append(piece)
            elif not cut.supernet_of(piece):
                rest.extend(piece.address_exclude(cut))  # cut is inside piece: what is left around it
        out = rest
    return out


def _overlap(piece: Network, sources: list[Network]) -> list[Network]:
    """The parts of `piece` inside `sources`."""
    out = []
    for src in sources:
        if src.version != piece.version or not src.overlaps(piece):
            continue
        out.append(piece if src.supernet_of(piece) else src)
    return out


def inbound_decisions(rules: list[dict[str, Any]], *, protocol: str, port: int, destination: str,
                      clients: list[Network], vnet: list[Network],
                      default_rules: list[dict[str, Any]] | None = None) -> list[Decision]:
    """Which rule decides `protocol`/`port` traffic to `destination` from each part of the `clients` networks.

    Every address of the clients gets exactly one decision: the first rule (in Azure's order) whose source holds it
    and whose protocol, port and destination match. Parts no rule matches get `rule=None` (Azure's DenyAllInBound
    catches them unless the body's default rules were altered). `vnet`: the address space `VirtualNetwork` means
    for the destination.
    """
    address = ipaddress.ip_address(destination)
    remaining = [c for c in clients]
    decisions: list[Decision] = []
    chain, _ = ordered(rules, default_rules)
    for rule in chain:
        if not remaining:
            break
        if not protocol_matches(rule.get("protocol"), protocol) or not port_matches(rule.get("ports"), port):
            continue
        if not _address_matches(rule.get("destinations"), address, vnet):
            continue
        sources = _source_networks(rule.get("sources"), remaining)
        for piece in remaining:
            decisions += [Decision(part, rule) for part in _overlap(piece, sources)]
        remaining = _minus(remaining, sources)
    decisions += [Decision(piece, None) for piece in remaining]
    return decisions


def first_matching_rule(rules: list[dict[str, Any]], protocol: str, port: int, src: str, dst: str,
                        vnet: list[Network] | None = None) -> dict[str, Any] | None:
    """The rule that decides traffic from one address or range `src` to `dst` (the rule deciding the first part of
    `src`, when rules split it); None when no rule matches or `src`/`dst` are not addresses."""
    source = network(src)
    if source is None or network(dst) is None or "/" in dst:
        return None
    found = inbound_decisions(rules, protocol=protocol, port=port, destination=dst, clients=[source],
                              vnet=vnet or [source])
    found.sort(key=lambda d: d.network)
    return found[0].rule if found else None


def free_priority(rules: list[dict[str, Any]], below: int, direction: str = "Inbound") -> int | None:
    """The highest priority under `below` (and at least 100) that no rule of `direction` uses: where an allow rule
    goes to win over the rule at `below`. None when every one is taken."""
    taken = {_priority(r) for r in rules if isinstance(r, dict)
             and str(r.get("direction", "")).lower() == direction.lower()}
    return next((p for p in range(min(below, 4097) - 1, 99, -1) if p not in taken), None)

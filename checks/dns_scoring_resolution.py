"""dns.scoring-resolution: each endpoint's scoring host resolves, from here, to the workspace private endpoint."""

from __future__ import annotations

import ipaddress
import re

from moediag.check import Doc, Example, check
from moediag.clouds import NAMES_NOTE, PUBLIC
from moediag.errors import FactError
from moediag.evidence import (
    az_group_and_name,
    props,
    same_text,
    text,
    workspace_private_endpoint_ids,
)
from moediag.facts.dns import (
    AZURE_DNS,
    NO_VERDICT,
    is_kubernetes,
    is_public,
    read_answer,
    scoring_host,
    unanswered_reason,
)
from moediag.facts.network import vnet_dns_servers, vnet_prefixes
from moediag.judge.private_dns import forwarder_fix, link_verdicts, record_verdicts
from moediag.judge.scope import endpoints_in_scope, workspace_private_endpoints
from moediag.model import Fix, Reason, Status
from moediag.shell import Command, command, is_fqdn

DOC = Doc(
    what=(
        "Each managed online endpoint's scoring host (from its `scoringUri`, else "
        f"`<endpoint>.<region>.{PUBLIC.inference_domain}`) is resolved, following CNAMEs (expected: to "
        f"`<endpoint>.<workspaceId>.inference.<region>.{PUBLIC.api_zone}`), and every address in the answer must be the "
        "private IP a workspace private endpoint has for the inference name, inside that endpoint's VNet. NXDOMAIN "
        "or a public address fails, naming the causes that fit the evidence read from Resource Manager (record "
        "missing or wrong, zone not linked, custom DNS without forwarder, this machine outside the VNet); a "
        "resolver that gives no answer is an error. A public answer from a resolver that is certainly outside the "
        "VNet (not Azure DNS, not inside it, not one of its DNS servers) is skipped as not judged from here, "
        "unless `--dns-server` named the resolver: network.client-vnet-path judges the clients' path instead. The "
        "result says which resolver answered, and the CNAME chain."
        + NAMES_NOTE
    ),
    why=(
        "Clients reach a network-isolated endpoint only at the private endpoint's IP. If the name resolves "
        "publicly, requests go to the public front door, which refuses them (publicNetworkAccess Disabled); if it "
        "does not resolve, nothing connects at all: the classic \"scoring endpoint can't be resolved\"."
    ),
    fix=(
        "Depends on the cause the result names: run from a client inside the VNet (or connected to it and using "
        f"its DNS); link the `{PUBLIC.api_zone}` zone to the VNet; add or correct the `*.<workspaceId>.inference.<region>` "
        "record; give custom DNS servers conditional forwarders to 168.63.129.16."
    ),
    run_from=(
        "From a client inside the VNet of the workspace private endpoint (or connected to it and using its DNS), "
        "where scoring requests come from: the answer depends on where the query is made. From anywhere else a "
        "public answer is normal and the result is skipped, not judged from here. "
        "`--dns-server HOST[:PORT]` asks those servers instead of this machine's resolver."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-secure-online-endpoint",
           "https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns"),
    examples=(
        Example({"endpoint": {"name": "ep-main",
                              "properties": {"scoringUri": f"https://ep-main.eastus2.{PUBLIC.inference_domain}/score",
                                             "publicNetworkAccess": "Disabled"}},
                 "private_endpoint": {"name": "pe-ws", "inference IP": "10.0.1.5", "VNet": "vnet-ml (10.0.0.0/16)"},
                 "answer": {"resolver": "system resolver (192.168.1.1)",
                            "rcode": "NOERROR",
                            "addresses": ["20.44.17.190"],
                            "chain": [f"ep-main.eastus2.{PUBLIC.inference_domain}",
                                      f"ep-main.11111111-2222-3333-4444-555555555555.inference.eastus2.{PUBLIC.api_zone}"]}},
                f"skip: ep-main.eastus2.{PUBLIC.inference_domain} resolves from this machine via system resolver "
                f"(192.168.1.1) to public 20.44.17.190 (ep-main.eastus2.{PUBLIC.inference_domain} -> "
                f"ep-main.11111111-2222-3333-4444-555555555555.inference.eastus2.{PUBLIC.api_zone}): not judged "
                "from here: the answer came via system resolver (192.168.1.1), which is not Azure DNS, not inside "
                "vnet-ml and not one of its DNS servers, so this machine is outside the VNet, where the scoring host "
                "is public by design. network.client-vnet-path judges the clients' path from configuration; "
                "--dns-server with the VNet's DNS server judges the answer"),
        Example({"endpoint": {"name": "ep-main",
                              "properties": {"scoringUri": f"https://ep-main.eastus2.{PUBLIC.inference_domain}/score",
                                             "publicNetworkAccess": "Disabled"}},
                 "private_endpoint": {"name": "pe-ws", "inference IP": "10.0.1.5", "VNet": "vnet-ml (10.0.0.0/16)"},
                 "answer": {"resolver": "system resolver (168.63.129.16)",
                            "rcode": "NOERROR",
                            "addresses": ["10.0.1.5"],
                            "chain": [f"ep-main.eastus2.{PUBLIC.inference_domain}",
                                      f"ep-main.11111111-2222-3333-4444-555555555555.inference.eastus2.{PUBLIC.api_zone}"]}},
                f"pass: ep-main.eastus2.{PUBLIC.inference_domain} resolves from this machine via system resolver "
                "(168.63.129.16) to 10.0.1.5, the IP of private endpoint pe-ws inside vnet-ml "
                f"(ep-main.eastus2.{PUBLIC.inference_domain} -> "
                f"ep-main.11111111-2222-3333-4444-555555555555.inference.eastus2.{PUBLIC.api_zone})"),
    ),
)


@check(id="dns.scoring-resolution", title="Scoring host resolves to the workspace private endpoint",
       severity="critical", scope="endpoint",
       facts=("workspace", "network_workspace", "online_endpoints", "dns_resolution", "private_endpoint_inference", "virtual_network",
              "private_dns_zone_groups", "private_dns_record", "private_dns_zone_links"), doc=DOC,
       explained_by=("dns.inference-a-record", "dns.zone-vnet-link", "dns.custom-dns-forwarding", "workspace.private-endpoint-approved"), hops=("scoring:client-resolver", "scoring:private-name"), fix_risk="safe")
def evaluate(ctx):
    workspace = ctx.fact("workspace")
    endpoints, none = endpoints_in_scope(ctx)
    if none:
        yield from none
        return
    if workspace_private_endpoint_ids(workspace):  # the answers do not depend on them: ask while they are read
        ctx.prefetch("dns_resolution", [(scoring_host(e, workspace, ctx.cloud)[0],) for _, e in endpoints if not is_kubernetes(e)])
    pes = workspace_private_endpoints(ctx)
    managed = []
    for name, endpoint in endpoints:
        rid = text(endpoint.get("id")) or ctx.target.endpoint_id(name)
        if is_kubernetes(endpoint):
            yield ctx.skipped(rid, "a Kubernetes online endpoint resolves through its cluster's DNS: out of scope")
        elif not pes:
            yield ctx.skipped(rid, "the workspace has no private endpoint: the scoring host is public by design")
        else:
            managed.append((rid, endpoint, *scoring_host(endpoint, workspace, ctx.cloud)))
    answers = ctx.gather("dns_resolution", [(host,) for _, _, host, _ in managed])
    path = _PrivatePath(ctx, pes)
    for (rid, endpoint, host, source), (answer, error) in zip(managed, answers):
        try:
            answer = read_answer(answer, host) if error is None else None
        except FactError as exc:
            error = exc
        if error is not None:
            yield ctx.errored(rid, error)
        else:
            yield _verdict(ctx, rid, endpoint, host, source, answer, path)


class _PrivatePath:
    """What the workspace private endpoints promise (IPs, VNets) and, on demand, why an answer differs."""

    def __init__(self, ctx, pes):
        self.ctx = ctx
        self.ok = [(pe_id, info) for pe_id, info, error in pes if error is None]
        self.errors = [error for _, _, error in pes if error is not None]
        self.vnet_ids = sorted({info["vnet_id"] for _, info in self.ok if info["vnet_id"]})
        answers = ctx.gather("virtual_network", [(v,) for v in self.vnet_ids])
        self.vnets = {v: value for v, (value, error) in zip(self.vnet_ids, answers) if error is None}
        self.ips = {info["ip"]: info for _, info in self.ok if info["ip"]}
        self._causes = None

    def prefixes(self) -> list[str]:
        return sorted({p for vnet in self.vnets.values() for p in vnet_prefixes(vnet)})

    def vnet_names(self) -> str:
        return ", ".join(az_group_and_name(v)[1] for v in self.vnet_ids) or "the private endpoint's VNet"

    def inside(self, address: str) -> bool:
        for prefix in self.prefixes():
            try:
                if ipaddress.ip_address(address) in ipaddress.ip_network(prefix, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def outside(self, answer: dict) -> bool:
        """Whether the answering resolver is certainly outside the private endpoints' VNets: a known address that is
        not Azure DNS, not inside them, not one of their DNS servers and not a local stub (127.0.0.53 forwards to
        an upstream moediag cannot see)."""
        addresses = _addresses(answer.get("answered_by") or "") or _addresses(answer.get("resolver") or "")
        if not addresses:
            return False
        servers = {s for vnet in self.vnets.values() for s in vnet_dns_servers(vnet)}
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if ip.is_loopback or ip.is_link_local or address in (AZURE_DNS, *servers) or self.inside(address):
                return False
        return True

    def zone_causes(self) -> list[tuple[str, str, Fix | None]]:
        """(kind, text, fix) from dns.inference-a-record and dns.zone-vnet-link (kind `zone`, or `unknown` when
        unreadable), and custom DNS in the VNets (kind `custom_dns`): computed once for all endpoints."""
        if self._causes is None:
            found = []
            for pe_id, info in self.ok:
                for result in (*record_verdicts(self.ctx, pe_id, info),
                               *link_verdicts(self.ctx, pe_id, info)):
                    if result.status in (Status.FAIL, Status.WARN):
                        found.append(("zone", result.message, result.fix))
                    elif result.status == Status.ERROR:
                        found.append(("unknown", f"unknown whether the zone is right: {result.message}", None))
            for vnet_id, vnet in self.vnets.items():
                servers = vnet_dns_servers(vnet)
                if servers:
                    name = az_group_and_name(vnet_id)[1]
                    found.append(("custom_dns", f"VNet {name} uses custom DNS servers ({', '.join(servers)}): without "
                                  "conditional forwarders to Azure DNS they answer the inference names publicly or not "
                                  "at all (dns.custom-dns-forwarding compares them with --azure-dns)",
                                  Fix(*forwarder_fix(self.ctx, name, servers))))
            self._causes = found
        return self._causes


def _verdict(ctx, rid, endpoint, host, source, answer, path):
    where = f"from this machine via {answer['resolver']}" + (" (--dns-server)" if ctx.options.dns_servers else "")
    if answer.get("answered_by") and answer["answered_by"] not in answer["resolver"]:
        where += f" (answered by {answer['answered_by']})"
    chain = " -> ".join(answer["chain"])
    details = {"resolver": answer["resolver"], "answered_by": answer.get("answered_by"), "rcode": answer["rcode"],
               "chain": answer["chain"], "host_from": source}
    expected = {"addresses": sorted(path.ips), "inside": path.prefixes()}
    kw = {"expected": expected, "observed": answer["addresses"] or answer["rcode"], "details": details}
    if answer["rcode"] in NO_VERDICT:
        return ctx.errored(rid, f"{host} could not be resolved {where}: {answer['error']}",
                           reason=unanswered_reason(answer), **kw)
    addresses = answer["addresses"]
    if not addresses:
        return _failed(ctx, rid, f"{host} does not resolve {where} ({answer['rcode']}; {chain})", "missing", answer,
                       path, host, kw)
    public = [a for a in addresses if is_public(a)]
    if public:
        said = f"{host} resolves {where} to public {', '.join(public)} ({chain})"
        if not same_text(props(endpoint).get("publicNetworkAccess"), "Disabled"):
            return ctx.warned(rid, f"{said}: the endpoint accepts public traffic, so scoring works from here, but not "
                                   "through the workspace private endpoint", reason=Reason.INCONCLUSIVE, **kw,
                              fix=(f"Resolve from inside {path.vnet_names()} to check the private path (expect "
                                   f"{_expect(path)})", _from_inside(ctx, host, path)))
        if not ctx.options.dns_servers and path.outside(answer):
            return ctx.skipped(rid, f"{said}: not judged from here: the answer came via {answer['resolver']}, which is "
                                    f"not Azure DNS, not inside {path.vnet_names()} and not one of its DNS servers, so "
                                    "this machine is outside the VNet, where the scoring host is public by design. "
                                    "network.client-vnet-path judges the clients' path from configuration; "
                                    "--dns-server with the VNet's DNS server judges the answer",
                               reason=Reason.INCONCLUSIVE, **kw,
                               fix=(f"Resolve from a client inside {path.vnet_names()} (expect {_expect(path)})",
                                    _from_inside(ctx, host, path)))
        return _failed(ctx, rid, said, "public", answer, path, host, kw)
    if not path.ips:
        if path.errors:
            return ctx.errored(rid, path.errors[0], **kw)
        inside = "inside" if all(path.inside(a) for a in addresses) else "outside"
        return ctx.warned(rid, f"{host} resolves {where} to private {', '.join(addresses)} ({inside} "
                               f"{path.vnet_names()}), but no workspace private endpoint lists an IP for the inference "
                               "name: cannot tell whether it is the right one", reason=Reason.INCONCLUSIVE, **kw,
                          fix=("Recreate the workspace private endpoint with DNS integration (dns.inference-a-record "
                               "gives the commands)", []))
    wrong = [a for a in addresses if a not in path.ips]
    if not wrong:
        pe_names = ", ".join(sorted({path.ips[a]["name"] for a in addresses}))
        return ctx.passed(rid, f"{host} resolves {where} to {', '.join(addresses)}, the IP of private endpoint "
                               f"{pe_names} inside {path.vnet_names()} ({chain})", **kw)
    outside = [a for a in wrong if path.prefixes() and not path.inside(a)]
    said = (f"{host} resolves {where} to private {', '.join(addresses)} ({chain}), but the workspace private endpoint "
            f"has {', '.join(sorted(path.ips))}" + (f"; {', '.join(outside)} is not even inside {path.vnet_names()}"
                                                    if outside else ""))
    return _failed(ctx, rid, said, "wrong", answer, path, host, kw)


def _failed(ctx, rid, said, kind, answer, path, host, kw):
    """A fail naming the causes that fit: what Resource Manager shows wrong first, then where the answer came from."""
    causes = list(path.zone_causes())
    zone_ok = not any(c[0] == "zone" for c in causes)
    if kind == "public":
        outside = ("outside", f"this machine is outside {path.vnet_names()} or does not use its DNS (the answer came via "
                   f"{answer['resolver']}): from there the scoring host is public by design",
                   Fix(f"Resolve from a client inside {path.vnet_names()} (expect {_expect(path)})",
                       _from_inside(ctx, host, path)))
        causes = [outside, *causes] if zone_ok else [*causes, outside]
    elif kind == "missing" and zone_ok:
        reached_zone = any(name.lower().endswith(ctx.cloud.api_zone) for name in answer["chain"][1:])
        causes.append(("elsewhere", "the answer came from a copy of the zone without the record: a custom DNS server "
                       f"hosting {ctx.cloud.api_zone} itself, or another zone of that name linked to the VNet this resolver serves"
                       if reached_zone else
                       "the resolver does not know the scoring host at all: a wrong endpoint name or region, or a "
                       f"resolver without internet DNS that hosts its own {ctx.cloud.inference_domain} zone", None))
    elif kind == "wrong" and zone_ok:
        causes.append(("elsewhere", "the answer comes from another record than the workspace private endpoint's: a "
                       f"stale hand-made record, or another {ctx.cloud.api_zone} zone linked to the VNet this resolver serves", None))
    texts = [t for _, t, _ in causes]
    kw["details"]["causes"] = [{"cause": k, "text": t} for k, t, _ in causes]
    fixes = [fix for _, _, fix in causes if fix is not None]
    commands = list(dict.fromkeys(cmd for fix in fixes for cmd in fix.commands))
    summary = "; then ".join([f.summary for f in fixes[:1]] + [f.summary[:1].lower() + f.summary[1:] for f in fixes[1:2]])
    summary = summary or "Find which resolver answers, and where it gets the zone"
    numbered = " ".join(f"({i}) {t}" for i, t in enumerate(texts, 1))
    return ctx.failed(rid, f"{said}. Likely cause{'s' if len(texts) > 1 else ''}: {numbered}", fix=(summary, commands), **kw)


def _addresses(text: str) -> list[str]:
    """The IP addresses in a resolver's description (`system resolver (192.168.1.1, ...)`, `10.0.0.10:53`)."""
    found = []
    for word in re.split(r"[\s(),]+", text):
        word = word.strip("[]")
        host = word.rsplit(":", 1)[0].strip("[]") if word.count(":") == 1 or "]:" in word else word
        try:
            found.append(str(ipaddress.ip_address(host)))
        except ValueError:
            continue
    return found


def _expect(path) -> str:
    return ", ".join(sorted(path.ips)) or "a private IP"


def _from_inside(ctx, host, path) -> list[Command]:
    """Commands to run on a machine inside the VNet (which VNet, and the answer to expect, are in the summary); the
    host only when it is a host name (it comes from the endpoint's scoringUri)."""
    t = ctx.target
    lookup = [command("nslookup {host}   # on a VM inside the private endpoint's VNet", host=host)] if is_fqdn(host) else []
    return [*lookup, command("moediag check -s {subscription} -g {group} -w {workspace} --select dns   # from inside "
                             "the private endpoint's VNet", subscription=t.subscription_id, group=t.resource_group,
                             workspace=t.workspace)]

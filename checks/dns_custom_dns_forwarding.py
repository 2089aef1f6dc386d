"""dns.custom-dns-forwarding: a VNet's custom DNS servers give the same private answer as Azure DNS."""

from moediag.check import Doc, Example, check
from moediag.clouds import NAMES_NOTE, PUBLIC
from moediag.errors import FactError
from moediag.evidence import az_group_and_name, text
from moediag.facts.dns import (
    AZURE_DNS,
    NO_VERDICT,
    is_kubernetes,
    is_public,
    read_answer,
    scoring_host,
    unanswered_reason,
)
from moediag.facts.network import vnet_dns_servers
from moediag.judge.private_dns import forwarder_fix
from moediag.judge.scope import endpoints_in_scope, workspace_private_endpoints
from moediag.model import Reason

DOC = Doc(
    what=(
        "When the VNet of a workspace private endpoint uses custom DNS servers (`dhcpOptions.dnsServers`), each "
        "endpoint's scoring host is resolved by each of those servers and by Azure DNS (168.63.129.16), and the "
        "answers must be the same private addresses. Only with `--azure-dns` (or `--azure-dns HOST[:PORT]`, e.g. "
        "an Azure DNS Private Resolver inbound endpoint); otherwise skipped, and no packet is sent to Azure DNS. "
        "With `--dns-server` those servers are asked in place of the VNet's."
        + NAMES_NOTE
    ),
    why=(
        "A custom DNS server answers private link names privately only if it forwards them to Azure DNS from a "
        "VNet linked to the private zone. Without a conditional forwarder it resolves the scoring host publicly "
        "(or not at all), and clients that use it cannot reach a network-isolated endpoint, although the private "
        "zone and its links are right."
    ),
    fix=(
        "On each custom DNS server, add conditional forwarders for "
        + " and ".join(f"`{z}`" for z in PUBLIC.forwarded_zones)
        + f" to {AZURE_DNS} (the server must run in a VNet linked to the private zone), or forward to an Azure DNS "
        f"Private Resolver inbound endpoint. Windows DNS: `Add-DnsServerConditionalForwarderZone -Name {PUBLIC.api_domain} "
        f"-MasterServers {AZURE_DNS}`; BIND: a `type forward` zone."
    ),
    run_from=(
        "From inside Azure, in the VNet (or one peered with it): 168.63.129.16 answers only there, and the custom "
        "servers are usually reachable only there. From elsewhere, point `--azure-dns` at a DNS Private Resolver "
        "inbound endpoint and `--dns-server` at the custom servers as reachable from where you run."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns",
           "https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16"),
    examples=(
        Example({"virtual_network": {"id": "/subscriptions/.../virtualNetworks/vnet-ml",
                                     "properties": {"dhcpOptions": {"dnsServers": ["10.0.0.10"]}}},
                 f"ep-main.eastus2.{PUBLIC.inference_domain}": {"168.63.129.16 (--azure-dns)": ["10.0.1.5"],
                                                            "10.0.0.10": ["20.44.17.190"]}},
                f"fail: custom DNS 10.0.0.10 answers 20.44.17.190 for ep-main.eastus2.{PUBLIC.inference_domain}, but "
                "Azure DNS answers 10.0.1.5: the custom DNS of VNet vnet-ml does not forward the inference names to "
                "Azure DNS"),
        Example({"virtual_network": {"id": "/subscriptions/.../virtualNetworks/vnet-ml",
                                     "properties": {"dhcpOptions": {"dnsServers": ["10.0.0.10"]}}},
                 f"ep-main.eastus2.{PUBLIC.inference_domain}": {"168.63.129.16 (--azure-dns)": ["10.0.1.5"],
                                                            "10.0.0.10": ["10.0.1.5"]}},
                "pass: every custom DNS server of VNet vnet-ml (10.0.0.10) answers "
                f"ep-main.eastus2.{PUBLIC.inference_domain} with 10.0.1.5, as Azure DNS does"),
    ),
)


@check(id="dns.custom-dns-forwarding", title="Custom DNS servers forward the inference names to Azure DNS",
       severity="high", scope="endpoint",
       facts=("workspace", "network_workspace", "online_endpoints", "private_endpoint_inference", "virtual_network", "dns_resolution_via"),
       doc=DOC,
       explained_by=(), hops=("scoring:client-resolver",), fix_risk="disruptive")
def evaluate(ctx):
    custom, gaps = _custom_servers(ctx)
    yield from gaps
    if not custom:
        return
    vnet_names = ", ".join(sorted(custom))
    servers = list(ctx.options.dns_servers) or sorted({s for found in custom.values() for s in found})
    if not ctx.options.azure_dns:
        yield ctx.skipped(ctx.workspace_id, f"VNet {vnet_names} uses custom DNS servers, but comparing their answers "
                                            f"with Azure DNS ({AZURE_DNS}) needs --azure-dns (it answers only inside "
                                            "Azure); not asked, so nothing was sent to it", reason=Reason.NOT_REQUESTED)
        return
    workspace = ctx.fact("workspace")
    endpoints, none = endpoints_in_scope(ctx)
    yield from none
    endpoints = [(name, e) for name, e in endpoints if not is_kubernetes(e)]
    if not endpoints and not none:
        yield ctx.skipped(ctx.workspace_id, "only Kubernetes online endpoints here: they resolve through their cluster")
    hosts = [scoring_host(e, workspace, ctx.cloud)[0] for _, e in endpoints]
    asked = [(ctx.options.azure_dns, h) for h in hosts] + [(s, h) for h in hosts for s in servers]
    answers = dict(zip(asked, ctx.gather("dns_resolution_via", asked)))
    for (name, endpoint), host in zip(endpoints, hosts):
        rid = text(endpoint.get("id")) or ctx.target.endpoint_id(name)
        yield _compare(ctx, rid, host, _read(answers[(ctx.options.azure_dns, host)], host),
                       [(s, _read(answers[(s, host)], host)) for s in servers], vnet_names, servers)


def _read(answer: tuple, host: str) -> tuple:
    """(normalised answer, None) or (None, why it is unusable)."""
    value, error = answer
    if error is not None:
        return None, error
    try:
        return read_answer(value, host), None
    except FactError as exc:
        return None, exc


def _custom_servers(ctx) -> tuple[dict[str, list[str]], list]:
    """VNet name -> its custom DNS servers, for the VNets of the workspace private endpoints; and results for gaps."""
    endpoints = workspace_private_endpoints(ctx)
    if not endpoints:
        return {}, [ctx.skipped(ctx.workspace_id, "the workspace has no private endpoint: nothing resolves privately")]
    gaps, vnet_ids = [], []
    for pe_id, info, error in endpoints:
        if error is not None:
            gaps.append(ctx.errored(pe_id, error))
        elif info["vnet_id"] and info["vnet_id"].lower() not in {v.lower() for v in vnet_ids}:
            vnet_ids.append(info["vnet_id"])
    custom = {}
    for vnet_id, (vnet, error) in zip(vnet_ids, ctx.gather("virtual_network", [(v,) for v in vnet_ids])):
        if error is not None:
            gaps.append(ctx.errored(vnet_id, error))
        elif vnet_dns_servers(vnet):
            custom[az_group_and_name(vnet_id)[1]] = vnet_dns_servers(vnet)
    if not custom and not gaps:
        names = ", ".join(az_group_and_name(v)[1] for v in vnet_ids) or "unknown"
        gaps.append(ctx.skipped(ctx.workspace_id, f"VNet {names} uses Azure DNS (no custom DNS servers): "
                                                  "nothing to forward"))
    return custom, gaps


def _shown(answer: dict) -> str:
    return ", ".join(answer.get("addresses") or []) or answer.get("rcode") or "nothing"


def _compare(ctx, rid, host, azure, custom_answers, vnet_names, servers):
    azure_value, azure_error = azure
    details = {"azure_dns": azure_value, "custom_dns": {s: v for s, (v, _) in custom_answers},
               "custom_servers_from": "--dns-server" if ctx.options.dns_servers else "the VNet's dhcpOptions.dnsServers"}
    expected = {"same answer as Azure DNS": _shown(azure_value) if azure_value else None}
    if azure_error is not None:
        return ctx.errored(rid, azure_error, expected=expected, details=details)
    if azure_value["rcode"] in NO_VERDICT:
        return ctx.errored(rid, f"Azure DNS at {ctx.options.azure_dns} gave no answer for {host} "
                                f"({azure_value['error']}): it answers only from inside Azure",
                           reason=unanswered_reason(azure_value),
                           expected=expected, details=details)
    if not azure_value["addresses"] or any(is_public(a) for a in azure_value["addresses"]):
        return ctx.warned(rid, f"Azure DNS at {ctx.options.azure_dns} itself does not answer {host} privately "
                               f"({_shown(azure_value)}): the zone is not linked to the VNet this machine is in, or its "
                               "record is missing (see dns.zone-vnet-link and dns.inference-a-record); forwarding cannot "
                               "be judged", reason=Reason.INCONCLUSIVE, expected=expected, details=details,
                          fix=("Fix the private zone first, then run again", []))
    want = sorted(azure_value["addresses"])
    observed, differing, unread = {}, [], []
    for server, (value, error) in custom_answers:
        if error is not None:
            unread.append((server, error.message, error.kind))
            continue
        if value["rcode"] in NO_VERDICT:
            unread.append((server, value["error"], unanswered_reason(value)))
            continue
        observed[server] = _shown(value)
        if sorted(value["addresses"]) != want:
            differing.append(server)
    if differing:
        return ctx.failed(rid, f"custom DNS {', '.join(f'{s} answers {observed[s]}' for s in differing)} for {host}, "
                               f"but Azure DNS answers {', '.join(want)}: the custom DNS of VNet {vnet_names} does not "
                               "forward the inference names to Azure DNS", expected=expected, observed=observed,
                          details=details, fix=forwarder_fix(ctx, vnet_names, servers))
    if unread:
        server, why, reason = unread[0]
        return ctx.errored(rid, f"custom DNS server {server} gave no answer for {host}: {why}", reason=reason,
                           expected=expected, observed=observed, details=details)
    return ctx.passed(rid, f"every custom DNS server of VNet {vnet_names} ({', '.join(observed)}) answers {host} with "
                           f"{', '.join(want)}, as Azure DNS does", expected=expected, observed=observed, details=details)

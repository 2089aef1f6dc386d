"""Facts from DNS: how names resolve from where moediag runs (or from the servers named).

Also the names themselves: which host an endpoint is scored at, and which record in which private zone
makes it resolve privately (`*.<workspaceId>.inference.<region>` in the cloud's API zone). Every zone and host
name comes from the run's cloud (moediag.clouds): `moediag.clouds.cloud_of(src.options)` in a fact, `ctx.cloud` in a check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from moediag.clouds import Cloud
from moediag.errors import FactError
from moediag.evidence import dig, props, text
from moediag.facts import Source, fact

# Answers (rcode of a resolution fact) that say nothing about the name: the server did not answer, failed or refused.
NO_VERDICT = ("TIMEOUT", "SERVFAIL", "REFUSED", "ERROR")

AZURE_DNS = "168.63.129.16"
# Names that differ between clouds: read them from the run's cloud. (Zones a custom DNS server must forward to
# Azure DNS for managed online endpoints: `cloud.forwarded_zones`; every public name of a workspace:
# `cloud.public_forwarders`.)
_PER_CLOUD = {"API_ZONE": "api_zone", "FORWARDED_ZONES": "forwarded_zones", "NOTEBOOKS_ZONE": "notebooks_zone"}


def __getattr__(name: str):
    """The constants these names once were differ per cloud: say where each is now, at import."""
    if name in _PER_CLOUD:
        raise ImportError(f"moediag.facts.dns.{name} depends on the cloud: use ctx.cloud.{_PER_CLOUD[name]} in a check, "
                          f"cloud_of(src.options).{_PER_CLOUD[name]} in a fact (moediag/clouds.py)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
# The prefix of every private link zone: a DNS forwarder sends the public names on, never such a zone.
PRIVATELINK_PREFIX = "privatelink."


@dataclass(frozen=True)
class InferenceName:
    """The private name under which a workspace's endpoints resolve: `*.<workspaceId>.inference.<region>`."""

    workspace_guid: str
    region: str
    cloud: Cloud

    @property
    def record_name(self) -> str:
        """The A record's name relative to the zone."""
        return f"*.{self.workspace_guid}.inference.{self.region}"

    @property
    def fqdn(self) -> str:
        """The name as the private endpoint lists it in customDnsConfigs."""
        return f"{self.record_name}.{self.cloud.api_domain}"

    def privatelink_host(self, endpoint: str) -> str:
        return f"{endpoint}.{self.workspace_guid}.inference.{self.region}.{self.cloud.api_zone}"


def inference_name(workspace: Any, cloud: Cloud) -> InferenceName:
    """From the workspace's `workspaceId` and `location`, in `cloud`; FactError when either is missing."""
    guid = text(props(workspace).get("workspaceId")).strip().lower()
    region = region_of(workspace)
    if not guid or not region:
        missing = " and ".join(n for n, v in (("properties.workspaceId", guid), ("location", region)) if not v)
        raise FactError("unreadable", f"the workspace body has no {missing}: the inference DNS name cannot be derived")
    return InferenceName(guid, region, cloud)


def region_of(body: Any) -> str:
    """ARM `location` as DNS names use it (`East US 2` -> `eastus2`)."""
    return text(dig(body, "location")).replace(" ", "").lower()


def scoring_host(endpoint: dict[str, Any], workspace: Any, cloud: Cloud) -> tuple[str, str]:
    """(host, where it came from): the host of `scoringUri`, else `<endpoint>.<region>.<cloud's inference suffix>`."""
    uri = text(props(endpoint).get("scoringUri"))
    try:
        host = urlparse(uri).hostname if "://" in uri else None
    except ValueError:  # a malformed URI (bad port, brackets): derive the host instead
        host = None
    if host:
        return host.lower(), "scoringUri"
    region = region_of(endpoint) or region_of(workspace)
    return cloud.scoring_host(text(dig(endpoint, "name")).lower(), region), "derived (no scoringUri yet)"


def is_kubernetes(endpoint: dict[str, Any]) -> bool:
    """Kubernetes online endpoints resolve through the cluster's own DNS: out of scope."""
    return text(dig(endpoint, "kind")).lower() in ("k8s", "kubernetes") or bool(text(props(endpoint).get("compute")))


@fact("dns_resolution", shared=True, pool="dns")
def dns_resolution(src: Source, host: str) -> dict[str, Any]:
    """The answer for `host` (CNAME chain, addresses, response code) and which resolver gave it."""
    return src.dns.resolve(host)


@fact("dns_resolution_via", shared=True, pool="dns")
def dns_resolution_via(src: Source, server: str, host: str) -> dict[str, Any]:
    """The answer for `host` from one named server only (Azure DNS, a VNet's custom DNS server)."""
    try:
        resolver = src.dns.via(server)
    except ValueError as exc:
        raise FactError("unreadable", f"cannot ask DNS server {server!r}: {exc}") from exc
    return resolver.resolve(host)


def is_public(address: str) -> bool:
    """A globally routable address (what public DNS gives); private, shared and link-local ones are not."""
    import ipaddress

    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def unanswered_reason(answer: dict[str, Any]) -> str:
    """The report reason for a resolution that gave no verdict: timed_out, or unreadable."""
    return "timed_out" if answer.get("rcode") == "TIMEOUT" else "unreadable"


RCODES = ("NOERROR", "NXDOMAIN", "NOANSWER", "SERVFAIL", "REFUSED", "TIMEOUT", "ERROR")


def read_answer(value: Any, host: str) -> dict[str, Any]:
    """A recorded resolution (a `dns_resolution` value), checked and normalised; FactError(unreadable) when it
    is not one (a hand-edited or damaged snapshot)."""
    rcode = text(dig(value, "rcode")).upper()
    if rcode not in RCODES:
        raise FactError("unreadable", f"the recorded DNS answer for {host} is not usable (rcode {dig(value, 'rcode')!r})")
    from moediag.facts.network import bare_ip, strings

    return {
        "host": host,
        "resolver": text(value.get("resolver")) or "an unrecorded resolver",
        "answered_by": text(value.get("answered_by")) or None,
        "rcode": rcode,
        "chain": strings(value.get("chain")) or [host],
        "addresses": sorted({ip for ip in map(bare_ip, strings(value.get("addresses"))) if ip}),
        "error": text(value.get("error")) or rcode,
    }

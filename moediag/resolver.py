"""DNS resolution through dnspython, recorded as evidence (the answer *and* who gave it).

Without `--dns-server` the system's resolver configuration answers, exactly as a client on this machine
would see it; with it, every query goes to the named servers only. `via(server)` gives a resolver for one
explicitly named server (Azure DNS with `--azure-dns`, a VNet's custom DNS server), made only when a check
asks for it, with the same timeout.

`resolve(host)` never raises: it returns what happened, in the shape the snapshot stores:
`{host, resolver, answered_by, rcode, chain, addresses, error}` where rcode is NOERROR, NXDOMAIN, NOANSWER
(the name exists without an A record), SERVFAIL / REFUSED (the server answered with that failure), TIMEOUT
(no answer within the lifetime) or ERROR (the query could not be sent or the reply was unusable).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any


def parse_server(text: str) -> tuple[str, int]:
    """`HOST`, `HOST:PORT`, `[v6]:PORT` or a bare IPv6 address, to (address, port)."""
    import ipaddress

    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    ipaddress.ip_address(host)  # dnspython needs addresses; a name would need DNS to find DNS
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port


def _server_text(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Resolver:
    def __init__(self, servers: tuple[str, ...] = (), timeout_s: float = 5.0, limiter: Any = None):
        import dns.nameserver
        import dns.resolver

        self.timeout_s = timeout_s
        # Shared with Resource Manager's bound (--max-concurrency): queries count as requests in flight.
        self._limiter = limiter if limiter is not None else contextlib.nullcontext()
        self._servers = [parse_server(s) for s in servers]
        self._via: dict[str, Resolver] = {}
        self._via_lock = threading.Lock()
        self._config_error: str | None = None
        if self._servers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in self._servers]
            self.description = ", ".join(_server_text(h, p) for h, p in self._servers)
        else:
            try:
                self._resolver = dns.resolver.Resolver()
                shown = ", ".join(str(n) for n in self._resolver.nameservers)
            except dns.resolver.NoResolverConfiguration as exc:  # no /etc/resolv.conf (or no server in it)
                self._resolver = dns.resolver.Resolver(configure=False)
                self._config_error = f"this machine has no usable resolver configuration ({exc})"
                shown = "none configured"
            self.description = f"system resolver ({shown})"
        self._resolver.lifetime = timeout_s
        self._resolver.timeout = max(0.5, timeout_s / 2)

    def via(self, server: str) -> Resolver:
        """A resolver asking only `server` (HOST[:PORT]), same timeout; ValueError for a malformed server."""
        host, port = parse_server(server)
        key = _server_text(host, port)
        with self._via_lock:
            if key not in self._via:
                self._via[key] = Resolver((key,), self.timeout_s, self._limiter)
            return self._via[key]

    def resolve(self, host: str) -> dict[str, Any]:
        """The A answer for `host`: CNAME chain, addresses and response code, or why there is none."""
        import dns.exception
        import dns.resolver

        result: dict[str, Any] = {"host": host, "resolver": self.description, "answered_by": None, "rcode": "NOERROR",
                                  "chain": [host], "addresses": [], "error": None}
        if self._config_error:
            result.update(rcode="ERROR", error=self._config_error)
            return result
        try:
            with self._limiter:
                answer = self._resolver.resolve(host, "A", search=False)
        except dns.resolver.NXDOMAIN as exc:
            responses = list(exc.kwargs.get("responses", {}).values())
            result["chain"] = _chain(host, responses[0]) if responses else [host]
            result.update(rcode="NXDOMAIN", error=f"{result['chain'][-1]} does not exist (NXDOMAIN)")
            return result
        except dns.resolver.NoAnswer as exc:
            response = exc.kwargs.get("response")
            result["chain"] = _chain(host, response) if response is not None else [host]
            result.update(rcode="NOANSWER", error=f"{result['chain'][-1]} exists but has no A record")
            return result
        except dns.resolver.LifetimeTimeout:
            result.update(rcode="TIMEOUT", error=f"no answer from {self.description} within {self._resolver.lifetime:g} s")
            return result
        except dns.resolver.NoNameservers as exc:
            result.update(_no_nameservers(host, exc))
            return result
        except dns.exception.DNSException as exc:
            result.update(rcode="ERROR", error=f"{type(exc).__name__}: {exc}")
            return result
        result["chain"] = _chain(host, answer.response)
        result["addresses"] = sorted({r.address for r in answer})
        result["answered_by"] = _server_text(str(answer.nameserver), int(answer.port)) if answer.nameserver else None
        return result


def _chain(host: str, response: Any) -> list[str]:
    """The names walked: `host`, then each CNAME target in the order the answer section links them."""
    import dns.rdatatype

    targets: dict[str, str] = {}
    for rrset in getattr(response, "answer", None) or []:
        if rrset.rdtype == dns.rdatatype.CNAME:
            for rdata in rrset:
                targets[str(rrset.name).rstrip(".").lower()] = str(rdata.target).rstrip(".")
    chain = [host]
    while chain[-1].lower() in targets and len(chain) < 32:
        chain.append(targets[chain[-1].lower()])
    return chain


def _no_nameservers(host: str, exc: Any) -> dict[str, Any]:
    """Every server failed: say whether they answered with an error code or could not be asked at all."""
    errors = exc.kwargs.get("errors") or []
    codes = sorted({str(err[3]) for err in errors if len(err) > 4 and err[4] is not None})
    texts = "; ".join(f"{err[0]}: {err[3]}" for err in errors) or str(exc).splitlines()[0]
    if codes and all(c in ("SERVFAIL", "REFUSED") for c in codes):
        rcode = "REFUSED" if codes == ["REFUSED"] else "SERVFAIL"
        return {"rcode": rcode, "error": f"the server answered {'/'.join(codes)} for {host} ({texts})"}
    return {"rcode": "ERROR", "error": f"no server could be asked about {host} ({texts})"}

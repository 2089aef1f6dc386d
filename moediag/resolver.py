"""DNS resolution through dnspython, recorded as evidence (the answer *and* who gave it).

Without `--dns-server` the system's resolver configuration answers, exactly as a client on this machine
would see it; with it, every query goes to the named servers only.
"""

from __future__ import annotations

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


class Resolver:
    def __init__(self, servers: tuple[str, ...] = (), timeout_s: float = 5.0):
        import dns.nameserver
        import dns.resolver

        self._servers = [parse_server(s) for s in servers]
        if self._servers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in self._servers]
            self.description = ", ".join(f"{h}:{p}" for h, p in self._servers)
        else:
            self._resolver = dns.resolver.Resolver()
            self.description = "system resolver (" + ", ".join(str(n) for n in self._resolver.nameservers) + ")"
        self._resolver.lifetime = timeout_s
        self._resolver.timeout = max(0.5, timeout_s / 2)

    def resolve(self, host: str) -> dict[str, Any]:
        """The A answer for `host`: CNAME chain, addresses and response code, or why there is none."""
        import dns.exception
        import dns.rdatatype
        import dns.resolver

        result: dict[str, Any] = {"host": host, "resolver": self.description, "rcode": "NOERROR",
                                  "chain": [host], "addresses": [], "error": None}
        try:
            answer = self._resolver.resolve(host, "A", search=False)
        except dns.resolver.NXDOMAIN as exc:
            result["rcode"] = "NXDOMAIN"
            chain = [str(n).rstrip(".") for n in getattr(exc, "qnames", lambda: [])()]
            result["error"] = f"{host} does not exist (NXDOMAIN)"
            if len(chain) > 1:
                result["chain"] = chain
            return result
        except dns.resolver.NoAnswer:
            result.update(rcode="NOANSWER", error=f"{host} exists but has no A record")
            return result
        except dns.resolver.LifetimeTimeout:
            result.update(rcode="TIMEOUT", error=f"no answer from {self.description} within {self._resolver.lifetime:g} s")
            return result
        except dns.resolver.NoNameservers as exc:
            result.update(rcode="SERVFAIL", error=f"no server could answer for {host} ({str(exc).splitlines()[0]})")
            return result
        except dns.exception.DNSException as exc:
            result.update(rcode="ERROR", error=f"{type(exc).__name__}: {exc}")
            return result
        chain = [host]
        for rrset in answer.response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME:
                chain.extend(str(r.target).rstrip(".") for r in rrset)
        result["chain"] = chain
        result["addresses"] = sorted({r.address for r in answer})
        return result

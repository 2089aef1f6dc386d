"""A real DNS server on 127.0.0.1 for tests: UDP and TCP on one ephemeral port, answers from a dict.

Why a real server and not a mocked resolver: moediag's DNS checks are about what a real client sees on
the wire (CNAME chains, NXDOMAIN vs SERVFAIL, timeouts, TCP fallback). Pointing the product at
`--dns-server 127.0.0.1:PORT` exercises dnspython and the product's error handling as they run in the field.

It answers like a recursive resolver would for its data: CNAME chains are followed inside the data and
the answer holds the CNAME(s) then the final records; wildcards follow the DNS closest-encloser rule
(`*.zone` answers `a.zone` and `b.a.zone`, but not `b.x.zone` when `x.zone` exists). Wire format by dnslib.

    with DnsTestServer({"ep.eastus2.inference.ml.azure.com": [("CNAME", "ep.ws.privatelink.api.azureml.ms")],
                        "*.ws.privatelink.api.azureml.ms": [("A", "10.0.1.5")]}) as dns:
        run_moediag("--dns-server", dns.address)
"""

from __future__ import annotations

import ipaddress
import socketserver
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, TXT, A, DNSError, DNSRecord

from serving import Serving

_RDATA = {"A": A, "AAAA": AAAA, "CNAME": CNAME, "TXT": TXT}
_CHECK = {"A": ipaddress.IPv4Address, "AAAA": ipaddress.IPv6Address, "CNAME": str, "TXT": str}
_BEHAVIOURS = {"servfail": RCODE.SERVFAIL, "refused": RCODE.REFUSED, "silent": None}
_MAX_CHAIN = 16


class Query(NamedTuple):
    """One query the server received (compares equal to a plain tuple)."""

    qname: str  # lower case, no trailing dot
    qtype: str  # "A", "AAAA", ...
    transport: str  # "udp" or "tcp"


def _norm(name: str) -> str:
    return str(name).rstrip(".").lower()


class DnsTestServer:
    """A DNS server on 127.0.0.1 answering from `records`: name -> [(rtype, value), ...].

    rtype is A, AAAA, CNAME or TXT; names are case-insensitive, trailing dot optional; `*.zone` is a
    wildcard. Unknown names get NXDOMAIN, existing names without the asked type an empty NOERROR.
    Per-name behaviours (`"*"` for every name, `*.zone` for a subtree): `servfail`, `refused`,
    `silent` (the query is dropped, for client timeouts). A behaviour met anywhere along a CNAME chain
    decides the answer. Answers larger than the client's UDP size are sent truncated (TC) over UDP.
    """

    host = "127.0.0.1"

    def __init__(self, records: Mapping[str, Iterable[tuple[str, str]]] | None = None, *, ttl: int = 10,
                 latency: float = 0.0):
        self.ttl = ttl
        self.latency = latency  # seconds added before every answer (benchmarks)
        self.port: int | None = None
        self._lock = threading.Lock()
        self._records: dict[str, list[tuple[str, str]]] = {}
        self._behaviours: dict[str, str] = {}
        self._log: list[Query] = []
        self._servers: list[socketserver.BaseServer] = []
        self._stopping = threading.Event()
        self.set_records(records or {})

    # lifecycle -----------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """"127.0.0.1:PORT", the form `--dns-server` takes."""
        return f"{self.host}:{self.port}"

    def start(self) -> DnsTestServer:
        """Bind UDP to an ephemeral port, then TCP to the same port (retrying if TCP's is taken)."""
        for _ in range(50):
            udp = _UdpServer((self.host, 0), _UdpHandler)
            try:
                tcp = _TcpServer((self.host, udp.server_address[1]), _TcpHandler)
            except OSError:
                udp.server_close()
                continue
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")
        self.port = udp.server_address[1]
        self._stopping.clear()
        udp.dns = tcp.dns = self
        self._servers = [Serving(udp, f"dnsbed-udp-{self.port}"), Serving(tcp, f"dnsbed-tcp-{self.port}")]
        return self

    def stop(self) -> None:
        """Stop serving and close both sockets (idempotent, returns within a few hundredths of a second)."""
        self._stopping.set()
        for serving in self._servers:
            serving.stop()
        self._servers = []

    def __enter__(self) -> DnsTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # data ------------------------------------------------------------------------------------------

    def set_records(self, records: Mapping[str, Iterable[tuple[str, str]]]) -> None:
        """Replace all records (behaviours are kept)."""
        checked = {_norm(name): [self._checked(rtype, value) for rtype, value in rrs] for name, rrs in records.items()}
        with self._lock:
            self._records = checked

    def add(self, name: str, rtype: str, value: str) -> None:
        record = self._checked(rtype, value)
        with self._lock:
            self._records.setdefault(_norm(name), []).append(record)

    def remove(self, name: str) -> None:
        """Remove every record of `name` (no error if there is none)."""
        with self._lock:
            self._records.pop(_norm(name), None)

    @staticmethod
    def _checked(rtype: str, value: str) -> tuple[str, str]:
        """Fail at setup time, in the test, rather than as a SERVFAIL later."""
        rtype = rtype.upper()
        if rtype not in _CHECK:
            raise ValueError(f"unsupported record type {rtype!r}; use one of {sorted(_CHECK)}")
        try:
            _CHECK[rtype](value)
        except ValueError as error:
            raise ValueError(f"bad {rtype} value {value!r}: {error}") from None
        return rtype, value

    # behaviours ------------------------------------------------------------------------------------

    def servfail(self, name: str = "*") -> None:
        self._set_behaviour(name, "servfail")

    def refused(self, name: str = "*") -> None:
        self._set_behaviour(name, "refused")

    def silent(self, name: str = "*") -> None:
        """Never answer queries for `name`: the client times out."""
        self._set_behaviour(name, "silent")

    def clear_behaviour(self, name: str | None = None) -> None:
        """Answer `name` (every name when None) from the records again."""
        with self._lock:
            if name is None:
                self._behaviours.clear()
            else:
                self._behaviours.pop(_norm(name), None)

    def _set_behaviour(self, name: str, behaviour: str) -> None:
        with self._lock:
            self._behaviours[_norm(name)] = behaviour

    # query log -------------------------------------------------------------------------------------

    @property
    def queries(self) -> list[Query]:
        """Every query received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # answering -------------------------------------------------------------------------------------

    def _handle(self, data: bytes, transport: str) -> bytes | None:
        """Wire query in, wire answer out; None means send nothing."""
        try:
            request = DNSRecord.parse(data)
            question = request.q
        except (DNSError, IndexError):
            return None
        with self._lock:
            self._log.append(Query(_norm(question.qname), QTYPE[question.qtype], transport))
            reply = self._answer(request)
        if reply is None:
            return None
        wire = reply.pack()
        if transport == "udp" and len(wire) > _udp_size(request):
            reply = request.reply()
            reply.header.tc = 1
            wire = reply.pack()
        return wire

    def _answer(self, request: DNSRecord) -> DNSRecord | None:
        reply = request.reply()
        qtype = QTYPE[request.q.qtype]
        name, seen = _norm(request.q.qname), set()
        while True:
            behaviour = self._behaviour(name)
            if behaviour is not None:
                if behaviour == "silent":
                    return None
                reply.rr = []
                reply.header.rcode = _BEHAVIOURS[behaviour]
                return reply
            records = self._find(name)
            if records is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            targets = [value for rtype, value in records if rtype == "CNAME"]
            if not targets or qtype == "CNAME":
                break
            reply.add_answer(self._rr(name, "CNAME", targets[0]))
            name = _norm(targets[0])
            if name in seen or len(seen) >= _MAX_CHAIN:
                reply.rr = []
                reply.header.rcode = RCODE.SERVFAIL  # CNAME loop, as a resolver reports it
                return reply
            seen.add(name)
        for rtype, value in records:
            if rtype == qtype or qtype == "ANY":
                reply.add_answer(self._rr(name, rtype, value))
        return reply

    def _rr(self, owner: str, rtype: str, value: str) -> RR:
        return RR(owner + ".", getattr(QTYPE, rtype), rdata=_RDATA[rtype](value), ttl=self.ttl)

    def _behaviour(self, name: str) -> str | None:
        """Most specific first: the name itself, `*.parent` for each parent, then `*`."""
        labels = name.split(".")
        candidates = [name] + ["*." + ".".join(labels[i:]) for i in range(1, len(labels))] + ["*"]
        return next((self._behaviours[c] for c in candidates if c in self._behaviours), None)

    def _find(self, name: str) -> list[tuple[str, str]] | None:
        """The records answering `name` ([] if it exists without records), or None if it does not exist."""
        if name in self._records:
            return self._records[name]
        if self._exists(name):
            return []  # an empty non-terminal: `zone` when only `a.zone` has records
        labels = name.split(".")
        for i in range(1, len(labels)):
            encloser = ".".join(labels[i:])
            if self._exists(encloser):  # the closest existing ancestor: only its wildcard may answer
                return self._records.get("*." + encloser)
        return None

    def _exists(self, name: str) -> bool:
        return name in self._records or any(owner.endswith("." + name) for owner in self._records)


def _udp_size(request: DNSRecord) -> int:
    """The client's UDP payload limit: EDNS0's advertised size, else the classic 512 bytes."""
    sizes = [rr.rclass for rr in request.ar if rr.rtype == QTYPE.OPT]
    return max(sizes[0], 512) if sizes else 512


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    block_on_close = False
    dns: DnsTestServer


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    dns: DnsTestServer


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        if self.server.dns.latency:
            time.sleep(self.server.dns.latency)
        wire = self.server.dns._handle(data, "udp")
        if wire is not None:
            sock.sendto(wire, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    """Length-prefixed messages, several per connection; a silent name keeps the connection open unanswered."""

    def handle(self) -> None:
        self.request.settimeout(0.05)  # so the handler notices stop() while waiting for the client
        while (header := self._read(2)) is not None:
            message = self._read(struct.unpack("!H", header)[0])
            if message is None:
                return
            wire = self.server.dns._handle(message, "tcp")
            if wire is not None:
                self.request.sendall(struct.pack("!H", len(wire)) + wire)

    def _read(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            if self.server.dns._stopping.is_set():
                return None
            try:
                chunk = self.request.recv(size - len(data))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

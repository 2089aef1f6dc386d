"""Keep a Python process on loopback: block any connection, datagram or name lookup that could leave it.

Why: moediag's tests run the real Azure SDKs and a real DNS client. Those reach for the network on their
own (DefaultAzureCredential probes the instance metadata address 169.254.169.254, a resolver built with
defaults asks the system's name server, a forgotten `base_url` goes to management.azure.com). A test
that does that is wrong even when it passes, so the attempt must be stopped *and* reported.

The guard patches Python's socket layer, so it sees every library that uses `socket`
(urllib3/requests, http.client, asyncio, dnspython, ssl): `socket.socket.connect`, `connect_ex`,
`sendto` and `sendmsg` (`socket.create_connection` and `ssl` go through `connect`), and the name lookups
`getaddrinfo`, `gethostbyname(_ex)` and `gethostbyaddr` (a lookup of a public name is itself a packet to a
name server, before any connection). Allowed: 127.0.0.0/8, ::1 (also IPv4-mapped), the name
'localhost', AF_UNIX and AF_NETLINK sockets. Loopback port 53 is blocked too: that is a local stub resolver
(systemd-resolved, Docker's 127.0.0.11) which forwards off the host; test DNS servers use other ports.
Not seen: C extensions that open their own sockets (c-ares, libcurl) and child processes.

Stdlib only, and never part of the product: the tests install it in their own process (conftest.py) and, through
`subprocess_env()`, in every process they start (tests/guard/sitecustomize.py runs `install_from_env()` before any
moediag code: `MOEDIAG_NETWORK_GUARD=1`, optional `MOEDIAG_NETWORK_GUARD_LOG=FILE`).
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Callable

ENV_FLAG = "MOEDIAG_NETWORK_GUARD"
ENV_LOG = "MOEDIAG_NETWORK_GUARD_LOG"
_MARK = "__netguard__"


class BlockedNetworkError(OSError):
    """Raised at the call site of a blocked attempt; an OSError so code under test sees a network failure."""


class BlockedNameResolution(BlockedNetworkError, socket.gaierror):
    """A blocked name lookup; also a `socket.gaierror`, so callers handle it as "name does not resolve"."""


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and _is_loopback_text(host)


@functools.lru_cache(maxsize=256)  # every connect and datagram asks again, of the same few hosts
def _is_loopback_text(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name other than localhost: we would have to resolve it to know
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_ip_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host)
        return True
    except ValueError:
        return False


def blocked_reason(family: int, address: object) -> str | None:
    """Why sending to `address` on a socket of `family` is blocked, or None when it is allowed."""
    if family in (socket.AF_UNIX, getattr(socket, "AF_NETLINK", -1)):
        return None
    if family not in (socket.AF_INET, socket.AF_INET6):
        return f"socket family {family!r} is not allowed in tests"
    if not isinstance(address, tuple) or len(address) < 2:
        return None  # not an IP address tuple: the real call raises TypeError
    host, port = address[0], address[1]
    if not _is_loopback(host):
        return "not a loopback address" if _is_ip_literal(host) else "host name other than localhost"
    if port == 53:
        return "loopback port 53 is the system's stub resolver, which forwards off the host"
    return None


def _forward_lookup_reason(host: object) -> str | None:
    if host is None or _is_loopback(host) or _is_ip_literal(host):
        return None  # no name server is asked for these
    return "name lookup would ask a name server off loopback"


def _reverse_lookup_reason(host: object) -> str | None:
    return None if _is_loopback(host) else "reverse lookup would ask a name server off loopback"


_SOCKET_METHODS = {  # method -> where its destination address is among the positional arguments
    "connect": lambda args: args[0],
    "connect_ex": lambda args: args[0],
    "sendto": lambda args: args[-1],  # sendto(data, address) or sendto(data, flags, address)
    "sendmsg": lambda args: args[3] if len(args) > 3 else None,  # (buffers, ancdata, flags, address)
}
_LOOKUPS = {  # function -> reason-finder applied to its host argument
    "getaddrinfo": _forward_lookup_reason,
    "gethostbyname": _forward_lookup_reason,
    "gethostbyname_ex": _forward_lookup_reason,
    "gethostbyaddr": _reverse_lookup_reason,
}


def install_network_guard(on_violation: Callable[[BlockedNetworkError], None] | None = None) -> bool:
    """Patch the socket layer for the rest of the process; returns False if a guard is already installed.

    On a violation, `on_violation(error)` is called in the offending thread (record it there: the caller
    may swallow the exception, as SDK background probes do), then `error` is raised at the call site.
    Installing once per process matters: a second copy (the product's) stacked on the test's guard would
    catch violations first and the test would not hear of them.
    """
    if getattr(socket.socket.connect, _MARK, False):
        return False

    def violation(error_type, what: str, reason: str):
        code = socket.EAI_NONAME if error_type is BlockedNameResolution else errno.EACCES
        error = error_type(
            code,
            f"network guard blocked {what}: {reason} (thread {threading.current_thread().name!r})",
        )
        if on_violation is not None:
            on_violation(error)
        return error

    def guard_method(name, original, address_of):
        @functools.wraps(original)
        def guarded(self, *args):
            address = address_of(args)
            reason = None if address is None else blocked_reason(self.family, address)
            if reason:
                raise violation(BlockedNetworkError, f"{name} to {address!r}", reason)
            return original(self, *args)

        setattr(guarded, _MARK, True)
        return guarded

    def guard_lookup(name, original, reason_for):
        @functools.wraps(original)
        def guarded(*args, **kwargs):
            host = args[0] if args else kwargs.get("host")
            reason = reason_for(host)
            if reason:
                raise violation(BlockedNameResolution, f"{name}({host!r})", reason)
            return original(*args, **kwargs)

        return guarded

    for name, address_of in _SOCKET_METHODS.items():
        setattr(socket.socket, name, guard_method(name, getattr(socket.socket, name), address_of))
    for name, reason_for in _LOOKUPS.items():
        setattr(socket, name, guard_lookup(name, getattr(socket, name), reason_for))
    return True


BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guard")


def subprocess_env(environ, log_path: str | None = None) -> dict:
    """`environ` for a child process with the guard on: the flag, and the bootstrap first on PYTHONPATH."""
    env = dict(environ)
    env[ENV_FLAG] = "1"
    if log_path:
        env[ENV_LOG] = log_path
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [BOOTSTRAP, env.get("PYTHONPATH")]))
    return env


def install_from_env(environ=os.environ) -> bool:
    """A child process's startup hook (tests/guard/sitecustomize.py): install the guard when `MOEDIAG_NETWORK_GUARD=1`.

    Each violation is written as one line to stderr and, when `MOEDIAG_NETWORK_GUARD_LOG` names a file,
    appended to that file: the test that started the process reads it, so a violation the product
    swallowed (and reported as "could not check") still fails the test. Returns True if installed.
    """
    if environ.get(ENV_FLAG) != "1":
        return False
    log_path = environ.get(ENV_LOG)

    def report(error: BlockedNetworkError) -> None:
        line = f"{error.strerror}\n"
        sys.stderr.write(f"moediag: {line}")
        if log_path:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(line)

    return install_network_guard(report)

"""Facts from DNS: how names resolve from where moediag runs (or from the servers named)."""

from __future__ import annotations

from typing import Any

from moediag.facts import fact


@fact("dns_resolution")
def dns_resolution(ctx, host: str) -> dict[str, Any]:
    """The answer for `host` (CNAME chain, addresses, response code) and which resolver gave it."""
    return ctx.dns.resolve(host)

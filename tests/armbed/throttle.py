"""Resource Manager's and Resource Graph's throttling, as the bed enforces it when asked (`bed.throttle(...)`).

Resource Manager ("Understand how Azure Resource Manager throttles requests"): a token bucket per subscription
(and one for the tenant, for requests outside any subscription), 250 tokens refilled at 25 a second by default;
every answer says what is left (`x-ms-ratelimit-remaining-subscription-reads`, or `-tenant-reads`); a request that
finds the bucket empty gets 429 TooManyRequests with `Retry-After` (whole seconds until a token is back). The bed
counts every request as a read (moediag sends GETs, and a few read-only POSTs that Azure counts as writes).

Resource Graph ("Guidance for throttled requests"): a quota of queries per window per user (15 per 5 s), told on
every answer by `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss); a query beyond it gets
429 with those headers and Retry-After.

The clock is `time.monotonic` unless given, so tests of the bed itself can run it on a fake one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import arm
from .graph import PATH as GRAPH_PATH

READS_HEADER = "x-ms-ratelimit-remaining-subscription-reads"
TENANT_READS_HEADER = "x-ms-ratelimit-remaining-tenant-reads"


@dataclass
class _Bucket:
    burst: int
    per_s: float
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.per_s)
        self.at = now


@dataclass
class _Window:
    limit: int
    window_s: float
    remaining: int = 0
    resets_at: float = 0.0

    def roll(self, now: float) -> None:
        if now >= self.resets_at:
            self.remaining, self.resets_at = self.limit, now + self.window_s


@dataclass
class Throttle:
    """The bed's enforcement: `admit(method, path)` spends a token (or a query of the quota) and says whether the
    request goes on, with the headers its answer carries."""

    burst: int = 250
    per_s: float = 25.0
    graph_quota: tuple[int, float] = (15, 5.0)
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    window: _Window | None = None
    refused: dict[str, int] = field(default_factory=dict)  # budget -> 429s answered
    admitted: dict[str, int] = field(default_factory=dict)  # budget -> requests let through
    log: list[tuple[float, str, bool]] = field(default_factory=list)  # (time, budget, let through) of every request
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, method: str, path: str) -> tuple[bool, dict[str, str]]:
        key = arm.normalize(path)
        with self._lock:
            now = self.clock()
            if key == arm.normalize(GRAPH_PATH):
                return self._query(now)
            parts = key.split("/")
            sub = parts[2] if len(parts) > 2 and parts[1] == "subscriptions" and parts[2] else "tenant"
            bucket = self.buckets.get(sub)
            if bucket is None:
                bucket = self.buckets[sub] = _Bucket(self.burst, self.per_s, float(self.burst), now)
            bucket.refill(now)
            header = TENANT_READS_HEADER if sub == "tenant" else READS_HEADER
            self.log.append((now, sub, bucket.tokens >= 1))
            if bucket.tokens < 1:
                self.refused[sub] = self.refused.get(sub, 0) + 1
                wait = (1 - bucket.tokens) / bucket.per_s
                return False, {header: "0", "Retry-After": str(max(1, math.ceil(wait)))}
            bucket.tokens -= 1
            self.admitted[sub] = self.admitted.get(sub, 0) + 1
            return True, {header: str(int(bucket.tokens))}

    def spend(self, subscription: str, n: int) -> None:
        """Another client of the same principal spent `n` of the subscription's tokens (moediag is not alone)."""
        with self._lock:
            now = self.clock()
            bucket = self.buckets.setdefault(subscription.lower(), _Bucket(self.burst, self.per_s, float(self.burst), now))
            bucket.refill(now)
            bucket.tokens -= n

    def _query(self, now: float) -> tuple[bool, dict[str, str]]:
        if self.window is None:
            self.window = _Window(*self.graph_quota)
        window = self.window
        window.roll(now)
        if window.remaining < 1:
            self.refused["graph"] = self.refused.get("graph", 0) + 1
            return False, {**self._quota_headers(now), "Retry-After": str(max(1, math.ceil(window.resets_at - now)))}
        window.remaining -= 1
        self.admitted["graph"] = self.admitted.get("graph", 0) + 1
        return True, self._quota_headers(now)

    def _quota_headers(self, now: float) -> dict[str, str]:
        seconds = max(0, math.ceil(self.window.resets_at - now))
        return {"x-ms-user-quota-remaining": str(self.window.remaining),
                "x-ms-user-quota-resets-after": f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"}

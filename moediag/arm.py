"""Reading Azure Resource Manager: one pipeline, raw REST bodies, errors classified.

Every read goes through one azure-core pipeline: the policies azure-mgmt-core's clients build (bearer auth
with ARM challenge handling, retry with Retry-After, sensitive-header cleanup, redacting HTTP logging) minus
automatic provider registration (a write), plus moediag's own guards. Bodies are kept as the JSON Azure sent,
not as SDK models: the body *is* the evidence, snapshots replay it verbatim, and the parsers see the real
quirks (`""` ids, dict-shaped rule lists, missing blocks) instead of whatever a model's deserializer made of
them.

What the pipeline guarantees, whoever calls it (the guards are policies, so no call site can forget them):

- **The token stays with Resource Manager.** A request goes out only to the scheme, host and port of the
  configured endpoint (Resource Graph is the same origin). A `nextLink`, redirect, `Location` or
  `Azure-AsyncOperation` that points anywhere else is refused (`FactError("refused")`, naming the host).
- **Read-only.** GET, and POST only to the read-only actions in `READ_ONLY_POSTS` (getLogs, diagnose, the
  Resource Graph query); anything else is refused before it is sent. Redirects are never followed.
- **Bounded.** No request starts after the run's deadline (`--timeout`); a `Retry-After` beyond it ends
  the read at once (`throttled`); a body still trickling in at the deadline is cut (`timed_out`); a body
  over `MAX_BODY_BYTES` is not read further (`unreadable`).
- **Paced.** Resource Manager's read budget per subscription (a token bucket, `ARM_RATE`) and Resource Graph's
  query quota (`GRAPH_RATE`) are kept on this side too, corrected by the remaining counts every answer carries
  and emptied by a 429's Retry-After: a request waits for its token before it is sent, so a fleet slows down
  before it is throttled (`_RateLimit`). A wait beyond the deadline ends the read at once (`throttled`).

Heavy imports happen in `Arm.__init__`, so `moediag --help` and snapshot replays never pay for them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from moediag.errors import FactError

log = logging.getLogger("moediag.arm")

MAX_BODY_BYTES = 32 * 1024 * 1024  # a response body beyond this is `unreadable` (docs/design.md)
MAX_DEPTH = 64  # JSON nested deeper than this is `unreadable` (real ARM bodies nest about 10 levels)
MAX_PAGES = 1000  # a list whose nextLinks never end is `unreadable`
POLL_INTERVAL_S = 0.5  # between polls of a long-running action when Azure sends no positive Retry-After
_READ_PIECE = 64 * 1024

# Resource Manager's documented read budget per subscription and principal (and per tenant): a token bucket of
# 250 refilled at 25 a second ("Understand how Azure Resource Manager throttles requests"); Resource Graph's
# default user quota: 15 queries per 5-second window. `--arm-rate` overrides the first.
ARM_RATE = (250, 25.0)
GRAPH_RATE = (15, 5.0)
# What is left of the budget, on every answer: the smallest of those present wins.
REMAINING_READS = ("x-ms-ratelimit-remaining-subscription-reads", "x-ms-ratelimit-remaining-subscription-global-reads",
                   "x-ms-ratelimit-remaining-tenant-reads")
GRAPH_REMAINING, GRAPH_RESETS_AFTER = "x-ms-user-quota-remaining", "x-ms-user-quota-resets-after"

# Error codes with which Resource Manager refuses an api-version it does not (or no longer) serve.
RETIRED_API_VERSION_CODES = frozenset({"invalidapiversionparameter", "noregisteredproviderfound"})

# The only POSTs moediag sends: actions that read and change nothing (docs/permissions.md). Matched against
# the whole decoded path, segment by segment, case-insensitively.
_NAME = r"[^/]+"
_WORKSPACE = (rf"/subscriptions/{_NAME}/resourcegroups/{_NAME}/providers/microsoft\.machinelearningservices"
              rf"/workspaces/{_NAME}")
READ_ONLY_POSTS = {
    "getLogs": re.compile(rf"{_WORKSPACE}/onlineendpoints/{_NAME}/deployments/{_NAME}/getlogs", re.IGNORECASE),
    "diagnose": re.compile(rf"{_WORKSPACE}/diagnose", re.IGNORECASE),
    "Resource Graph query": re.compile(r"/providers/microsoft\.resourcegraph/resources", re.IGNORECASE),
}


class StaticTokenCredential:
    """A token obtained elsewhere (`az account get-access-token`, a pipeline's OIDC step).

    Never logged: azure-core's logging policies redact the Authorization header, and this class has
    no repr that shows the token.
    """

    def __init__(self, token: str, lifetime_s: int = 3600):
        self._token = token
        self._expires_on = int(time.time()) + lifetime_s

    def __repr__(self) -> str:
        return "StaticTokenCredential(<redacted>)"

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires_on)

    def get_token_info(self, *scopes: str, options: Any = None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, self._expires_on)


# --- what may be sent where (pure functions, unit-tested) ---------------------------------------------


def origin_of(url: str) -> str | None:
    """`scheme://host:port` of an absolute http(s) URL, default port made explicit; None when the URL names
    no host, carries user info (`https://<resource manager host>@evil.example/` goes to evil.example) or has a
    malformed port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        return None
    return f"{scheme}://{parts.hostname.lower()}:{port or (443 if scheme == 'https' else 80)}"


def shown(url: str | None) -> str:
    """A URL as messages show it: scheme, host, port and path; no user info and no query (it may carry a
    signature)."""
    if not url:
        return "(no URL)"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return repr(url[:200])
    return f"{parts.scheme}://{host}{port}{parts.path}"[:300]


def is_read_only_post(path: str) -> bool:
    """Whether `path` (as sent, percent-encoded) is one of `READ_ONLY_POSTS`. Every segment is decoded on its
    own: an encoded `/`, a dot segment or an empty segment never matches (no path tricks)."""
    segments = [unquote(s) for s in path.split("/")[1:]]
    if not path.startswith("/") or any(s in ("", ".", "..") or "/" in s or "\\" in s for s in segments):
        return False
    decoded = "/" + "/".join(segments)
    return any(pattern.fullmatch(decoded) for pattern in READ_ONLY_POSTS.values())


def refusal(method: str, url: str, origin: str) -> str | None:
    """Why the pipeline must not send `method url` (None: it may). `origin` is Resource Manager's."""
    target = origin_of(url)
    if target != origin:
        return (f"refused to send a request to {shown(url)}: it is not Resource Manager ({origin}), and the "
                "token goes nowhere else (a nextLink, Location or Azure-AsyncOperation pointing there is not "
                "followed)")
    method = method.upper()
    if method == "GET" or (method == "POST" and is_read_only_post(urlsplit(url).path)):
        return None
    return (f"refused to send {method} {urlsplit(url).path}: moediag only reads (GET, and POST only to "
            f"{', '.join(READ_ONLY_POSTS)})")


def retry_after_s(headers: Any) -> float | None:
    """The wait an answer asks for, in seconds, or None: `Retry-After` (seconds or an HTTP date), else
    `retry-after-ms`, else `x-ms-retry-after-ms`. In the order azure-core's RetryPolicy reads them, so the wait
    moediag paces by and reports is the one the retry makes when an answer carries two of them."""
    for name, scale in (("retry-after", 1.0), ("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001)):
        value = headers.get(name)
        if not value:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        if scale == 1.0:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


class _PipelineError(FactError):
    """Raised inside the pipeline, which does not know the caller's name for the read: `_classify` adds it."""


# The deadline of the request the current thread is sending: set by `_DeadlinePolicy` around the rest of the
# pipeline (which runs synchronously in the caller's thread), read by the adapter that reads the body.
_current = threading.local()
# The deadline of the target the current thread reads for (one workspace of a scan): set by `reads_until`
# around a read (`Arm.within`), read by `_DeadlinePolicy` and the retry policy, whatever client sends.
_bound = threading.local()


@contextlib.contextmanager
def reads_until(deadline: float | None) -> Iterator[None]:
    """Every request this thread sends inside the block ends by `deadline` (a `time.monotonic()` instant), besides
    the Arm's own deadline: one workspace's budget in a scan that shares one pipeline, the inventory's."""
    previous = getattr(_bound, "deadline", None)
    _bound.deadline = _earliest(previous, deadline)
    try:
        yield
    finally:
        _bound.deadline = previous


def _earliest(*deadlines: float | None) -> float | None:
    known = [d for d in deadlines if d is not None]
    return min(known) if known else None


class _Within:
    """An `Arm` whose every read ends by `deadline` (`Arm.within`): the same pipeline, bounds and memo-free reads."""

    def __init__(self, arm: Any, deadline: float | None):
        self._arm, self.deadline = arm, _earliest(arm.deadline, deadline)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._arm, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            with reads_until(self.deadline):
                return value(*args, **kwargs)

        return bounded


# --- the policies -------------------------------------------------------------------------------------


def _http_policies(credential: Any, scope: str, retry: dict[str, Any], rate: _RateLimit, limit: _ConcurrencyLimit,
                   deadline: _DeadlinePolicy, origin: str) -> list[Any]:
    """The pipeline of azure-mgmt-resource's ResourceManagementClient, minus auto provider registration (it
    registers resource providers: a write), with redirects off, plus moediag's policies.

    Redirects: `RedirectPolicy.no_redirects()` keeps azure-core's policy in its place but follows nothing.
    Resource Manager does not redirect reads or actions, so a 3xx is a misbehaving proxy or a hostile
    answer; following it would re-send the request (a 307/308 keeps a POST and its body) to a URL the answer
    chose, with the bearer token re-attached by the authentication policy, which comes after the redirect
    policy and so runs again on every hop. `_Guard` turns any 3xx into an error naming its target instead.
    SensitiveHeaderCleanupPolicy stays, as in the SDK's own pipelines (a second line, should redirects ever
    be turned on).

    `_RateLimit` then `_ConcurrencyLimit` come after the retry and authentication policies: every attempt waits
    for a token of its subscription's budget, then for a slot (a request waiting for its token holds no slot).
    `_DeadlinePolicy` and `_Guard` come last, after the retry and authentication policies: they see every
    request exactly as it goes on the wire (each retry, each nextLink page, each poll of a long-running
    action, the typed client's and Resource Graph's requests alike).
    """
    from azure.core.pipeline import policies
    from azure.mgmt.core.policies import (
        ARMChallengeAuthenticationPolicy,
        ARMHttpLoggingPolicy,
    )

    from moediag import __version__

    return [
        policies.RequestIdPolicy(),
        policies.HeadersPolicy(),
        policies.UserAgentPolicy(sdk_moniker=f"moediag/{__version__}"),
        policies.ProxyPolicy(),
        policies.ContentDecodePolicy(),
        policies.RedirectPolicy.no_redirects(),
        _deadline_retry()(deadline.deadline, **retry),
        ARMChallengeAuthenticationPolicy(credential, scope),
        policies.CustomHookPolicy(),
        rate,
        limit,
        policies.NetworkTraceLoggingPolicy(),
        policies.DistributedTracingPolicy(),
        policies.SensitiveHeaderCleanupPolicy(),
        ARMHttpLoggingPolicy(),
        deadline,
        _Guard(origin),
    ]


@functools.cache
def _deadline_retry() -> type:
    """azure-core's RetryPolicy that never sleeps past the run's deadline. Built on first use."""
    from azure.core.pipeline.policies import RetryPolicy

    class DeadlineRetryPolicy(RetryPolicy):
        def __init__(self, deadline: float | None, **kwargs: Any):
            self._deadline = deadline
            super().__init__(**kwargs)

        def sleep(self, settings, transport, response=None):
            deadline = _earliest(self._deadline, getattr(_bound, "deadline", None))
            if deadline is not None:
                wait = (self.get_retry_after(response) if response is not None else None) or self.get_backoff_time(settings)
                remaining = deadline - time.monotonic()
                if wait and wait >= remaining:
                    raise _PipelineError("timed_out", f"a retry would first wait {wait:g} s, more than the "
                                                      f"{max(0.0, remaining):.1f} s left before the run's deadline "
                                                      "(--timeout): not retried")
            super().sleep(settings, transport, response=response)

    return DeadlineRetryPolicy


class _Guard:
    """The last policy before the transport: the token stays with Resource Manager, and moediag only reads.

    Before a request is sent: it must go to Resource Manager's origin, and be a GET or a POST to one of
    `READ_ONLY_POSTS` (else `refused`, nothing sent). When the answer arrives: a redirect (any 3xx) is not
    followed, and a `Location`, `Azure-AsyncOperation` or `Operation-Location` pointing to another origin
    is refused before anything could follow it.
    """

    LINK_HEADERS = ("Location", "Azure-AsyncOperation", "Operation-Location")

    def __init__(self, origin: str):
        self.origin = origin
        self.next = None  # set by azure-core's Pipeline, as for any HTTPPolicy

    def send(self, request):
        http = request.http_request
        why = refusal(http.method, http.url, self.origin)
        if why:
            log.debug("refused: %s %s", http.method, shown(http.url))
            raise _PipelineError("refused", why)
        response = self.next.send(request)
        answer = response.http_response
        status = answer.status_code
        if 300 <= status < 400:
            target = answer.headers.get("Location")
            where = f"to {shown(urljoin(http.url, target))}" if target else "without a Location"
            raise _PipelineError("refused", f"Resource Manager answered {http.method} with HTTP {status}, a redirect "
                                            f"{where}: not followed (Resource Manager does not redirect its reads; "
                                            "the request and the token go nowhere else)", status=status)
        for name in self.LINK_HEADERS:
            link = answer.headers.get(name)
            if link and origin_of(urljoin(http.url, link)) != self.origin:
                raise _PipelineError("refused", f"the answer's {name} header points to {shown(urljoin(http.url, link))}, "
                                                f"not to Resource Manager ({self.origin}): not followed, the token "
                                                "goes nowhere else", status=status)
        return response


class _DeadlinePolicy:
    """Every request within the run's deadline (`--timeout`), and, for a long-running action, its own.

    No request starts after the deadline; each one's connect and read timeouts are cut to the time left; an
    answer that asks to wait (`Retry-After`) longer than is left ends the read at once instead of sleeping
    past the deadline (azure-core's RetryPolicy and ARMPolling would sleep whatever the answer says). The
    deadline is also handed to the adapter that reads the body, which cuts a body still trickling in at the
    deadline. A call may bring an earlier deadline of its own: the `moediag_deadline` keyword (a
    `time.monotonic()` instant) of `pipeline.run` / `send_request`.
    """

    OPTION = "moediag_deadline"

    def __init__(self, deadline: float | None, connect_timeout: float, read_timeout: float):
        self.deadline = deadline
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.next = None

    def send(self, request):
        options = request.context.options
        if self.OPTION in options:  # popped once: retries of the same request keep it in the context
            request.context[self.OPTION] = options.pop(self.OPTION)
        deadline = _deadline_of(request, self.deadline)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _PipelineError("timed_out", "its deadline (--timeout) passed before the request could be sent")
            options["connection_timeout"] = min(options.get("connection_timeout") or self.connect_timeout, remaining)
            options["read_timeout"] = min(options.get("read_timeout") or self.read_timeout, remaining)
        previous = getattr(_current, "deadline", None)
        _current.deadline = deadline
        try:
            response = self.next.send(request)
        finally:
            _current.deadline = previous
        if deadline is not None:
            self._check_wait(response.http_response, deadline - time.monotonic())
        return response

    @staticmethod
    def _check_wait(answer: Any, remaining: float) -> None:
        status = answer.status_code
        if status != 429 and status < 500 and status not in (201, 202):
            return  # nobody waits on this answer
        wait = retry_after_s(answer.headers)
        if not wait or wait <= remaining:
            return
        left = f"more than the {max(0.0, remaining):.1f} s left before the run's deadline (--timeout)"
        if status in (201, 202):
            raise _PipelineError("timed_out", f"the operation asked to be polled again in {wait:g} s (Retry-After), "
                                              f"{left}: not waiting", status=status)
        raise _PipelineError("throttled", f"Resource Manager answered HTTP {status} and asked to retry after {wait:g} s "
                                          f"(Retry-After), {left}: not waiting", status=status)


class _ConcurrencyLimit:
    """Bounds requests in flight (each retry attempt holds a slot) so a run cannot provoke throttling.

    With `per_subscription`, requests under `/subscriptions/<id>` also take one of that subscription's slots
    first (Resource Manager throttles per subscription; a fleet scan must not spend one subscription's budget).
    The order is fixed (subscription, then overall), so the two bounds cannot deadlock.
    """

    def __init__(self, limit: int, per_subscription: int | None = None):
        self._semaphore = threading.BoundedSemaphore(max(1, limit))
        self._per_subscription = max(1, per_subscription) if per_subscription else None
        self._subscriptions: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        self.next = None  # set by azure-core's Pipeline, as for any HTTPPolicy

    def _subscription_slot(self, url: str) -> Any:
        from contextlib import nullcontext

        if self._per_subscription is None:
            return nullcontext()
        parts = urlsplit(url).path.split("/")
        if len(parts) < 3 or parts[1].lower() != "subscriptions" or not parts[2]:
            return nullcontext()
        with self._lock:
            key = parts[2].lower()
            slot = self._subscriptions.get(key)
            if slot is None:
                slot = self._subscriptions[key] = threading.BoundedSemaphore(self._per_subscription)
            return slot

    def send(self, request):
        with self._subscription_slot(request.http_request.url), self._semaphore:
            started = time.monotonic()
            response = self.next.send(request)
            log.debug(
                "%s %s -> %s in %d ms",
                request.http_request.method,
                request.http_request.url.split("?")[0],
                response.http_response.status_code,
                (time.monotonic() - started) * 1000,
            )
            return response


# --- pacing: the budgets of Resource Manager and Resource Graph -----------------------------------------


class TokenBucket:
    """Resource Manager's read budget for one subscription (or the tenant), as this side keeps it: `burst` tokens,
    refilled at `per_s` a second; each request spends one before it is sent.

    Pure: every method takes the time (`time.monotonic()` in a run, a fake clock in tests). The count is corrected
    by what Resource Manager says is left (`observe`: only ever down, never above the local count), and a 429
    empties it until its Retry-After has passed (`block`). The headers tell the count, not the refill rate: a 429
    also says the rate assumed is too high for this identity (or someone else spends the same budget), so it slows
    the refill by `SLOWDOWN` for the rest of the run (never below `MIN_PER_S`): a budget smaller than assumed costs
    a handful of 429s, not one every few requests.
    """

    SLOWDOWN, MIN_PER_S = 0.7, 0.5

    def __init__(self, burst: int, per_s: float, now: float):
        self.burst, self.per_s = max(1, int(burst)), max(1e-6, float(per_s))
        self.assumed_per_s = self.per_s
        self.tokens, self.updated = float(self.burst), now
        self.blocked_until = now
        self.taken = 0  # requests let through so far: `observe` counts those sent after an answer's request

    def rate(self) -> str:
        return f"{self.per_s:.3g}/s"

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.per_s)
            self.updated = now

    def take(self, now: float) -> float:
        """0.0 when a request may go now (its token spent), else the seconds to wait before asking again."""
        self._refill(now)
        if now < self.blocked_until:
            return self.blocked_until - now
        if self.tokens >= 1:
            self.tokens -= 1
            self.taken += 1
            return 0.0
        return self._until_next(now)

    def _until_next(self, now: float) -> float:
        return (1 - self.tokens) / self.per_s

    def observe(self, remaining: int, since: int, now: float, resets_after: float | None = None) -> None:
        """An answer said `remaining` requests are left; `since` requests were let through after its request was
        (the answer did not count them yet)."""
        self._refill(now)
        self.tokens = min(self.tokens, float(remaining - since))

    def block(self, seconds: float, now: float) -> None:
        """A 429: nothing is sent for `seconds` (its Retry-After), and the bucket refills from empty after that,
        more slowly."""
        self._refill(now)
        self.per_s = max(min(self.per_s, self.MIN_PER_S), self.per_s * self.SLOWDOWN)
        self.tokens = min(self.tokens, 0.0)
        self.blocked_until = max(self.blocked_until, now + seconds)
        self.updated = max(self.updated, self.blocked_until)


class QuotaWindow(TokenBucket):
    """Resource Graph's quota as this side keeps it: `limit` queries per `window_s` seconds, the whole quota back
    when the window resets (`x-ms-user-quota-resets-after` says when: hh:mm:ss)."""

    def __init__(self, limit: int, window_s: float, now: float):
        super().__init__(limit, limit / max(1e-6, window_s), now)
        self.window_s = max(1e-6, float(window_s))
        self.resets_at = now + self.window_s

    def rate(self) -> str:
        return f"{self.burst} per {self.window_s:g} s"

    def _refill(self, now: float) -> None:
        if now >= self.resets_at and now >= self.blocked_until:
            self.tokens, self.resets_at = float(self.burst), now + self.window_s

    def _until_next(self, now: float) -> float:
        return max(0.001, self.resets_at - now)

    def observe(self, remaining: int, since: int, now: float, resets_after: float | None = None) -> None:
        super().observe(remaining, since, now)
        if resets_after is not None:
            self.resets_at = now + resets_after

    def block(self, seconds: float, now: float) -> None:
        self.tokens = min(self.tokens, 0.0)
        self.blocked_until = max(self.blocked_until, now + seconds)
        self.resets_at = max(self.resets_at, self.blocked_until)


def hms_seconds(value: str | None) -> float | None:
    """`00:00:03` (Resource Graph's x-ms-user-quota-resets-after) in seconds; None when absent or malformed."""
    match = re.fullmatch(r"\s*(\d+):([0-5]?\d):([0-5]?\d(?:\.\d+)?)\s*", value or "")
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _count(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


GRAPH_KEY, TENANT_KEY = "graph", "tenant"


def budget_key(url: str) -> str:
    """Whose budget a request spends: the subscription in its path (lower case), `graph` for Resource Graph's
    query, else `tenant`."""
    path = urlsplit(url).path.lower().rstrip("/")
    if READ_ONLY_POSTS["Resource Graph query"].fullmatch(path):
        return GRAPH_KEY
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "subscriptions" and parts[2]:
        return parts[2]
    return TENANT_KEY


def budget_name(key: str) -> str:
    """How the progress line and notes name a budget: `sub …1234`, `Resource Graph`, `tenant`."""
    if key == GRAPH_KEY:
        return "Resource Graph"
    return "tenant" if key == TENANT_KEY else f"sub …{key[-4:]}"


class _RateLimit:
    """Paces requests before they are sent, so a run slows down before Resource Manager throttles it.

    One budget per subscription (Resource Manager throttles per subscription and principal; a run has one
    credential), one for requests outside any subscription, and Resource Graph's quota, shared by every workspace
    of the run. Each request attempt (retries included: this policy comes after the retry policy) waits for a token
    of its budget; a wait that would end after the deadline ends the read at once (`throttled`), as a Retry-After
    beyond it does. Every answer corrects the budget (`REMAINING_READS`, Resource Graph's quota headers); a 429
    empties it until its Retry-After. Placed before the concurrency limit, so a request waiting for its token
    holds no slot another subscription could use.

    `on_pacing(text)` hears "pacing: sub …1234 at 25/s" while requests wait for tokens (None once nothing has
    waited for a second): the progress line shows it.
    """

    SHOWN_S = 1.0  # a budget is "pacing" for this long after a request last waited for it
    MAX_SLEEP_S = 0.5  # waits are taken in pieces, so a changed budget (an answer's count, a 429) is seen soon

    def __init__(self, arm_rate: tuple[int, float] = ARM_RATE, graph_rate: tuple[int, float] = GRAPH_RATE,
                 deadline: float | None = None, *, clock: Any = time.monotonic, sleep: Any = time.sleep,
                 on_pacing: Any = None):
        self.arm_rate, self.graph_rate, self.deadline = arm_rate, graph_rate, deadline
        self._clock, self._sleep, self.on_pacing = clock, sleep, on_pacing
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.throttled = 0  # 429 answers seen
        self.waited: dict[str, float] = {}  # budget key -> seconds requests waited for it, in all
        self._paced_at: dict[str, float] = {}
        self._shown: str | None = None
        self.next = None  # set by azure-core's Pipeline, as for any HTTPPolicy

    def bucket(self, key: str) -> TokenBucket:
        with self._lock:
            return self._bucket(key, self._clock())

    def _bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = (QuotaWindow(*self.graph_rate, now) if key == GRAPH_KEY
                                           else TokenBucket(*self.arm_rate, now))
        return bucket

    def send(self, request):
        key = budget_key(request.http_request.url)
        seq = self._acquire(key, _deadline_of(request, self.deadline))
        response = self.next.send(request)
        self._learn(key, seq, response.http_response)
        return response

    def _acquire(self, key: str, deadline: float | None) -> int:
        while True:
            with self._lock:
                now = self._clock()
                bucket = self._bucket(key, now)
                wait = bucket.take(now)
                seq = bucket.taken
                if wait > 0:
                    self._paced_at[key] = now
                text = self._pacing_text(now)
                changed, self._shown = text != self._shown, text
            if changed:
                self._tell(text)
            if wait <= 0:
                return seq
            if deadline is not None and now + wait > deadline:
                raise _PipelineError("throttled", f"the request would first wait {wait:.1f} s for {budget_name(key)}'s "
                                                  f"read budget ({bucket.rate()}), more than the "
                                                  f"{max(0.0, deadline - now):.1f} s left before the run's deadline "
                                                  "(--timeout): not sent")
            step = min(wait, self.MAX_SLEEP_S)
            with self._lock:
                self.waited[key] = self.waited.get(key, 0.0) + step
            self._sleep(step)

    def _learn(self, key: str, seq: int, answer: Any) -> None:
        headers = answer.headers
        if key == GRAPH_KEY:
            remaining, resets = _count(headers.get(GRAPH_REMAINING)), hms_seconds(headers.get(GRAPH_RESETS_AFTER))
        else:
            counts = [c for c in (_count(headers.get(name)) for name in REMAINING_READS) if c is not None]
            remaining, resets = (min(counts) if counts else None), None
        with self._lock:
            now = self._clock()
            bucket = self._bucket(key, now)
            if remaining is not None:
                bucket.observe(remaining, bucket.taken - seq, now, resets)
            if answer.status_code == 429:
                self.throttled += 1
                wait = retry_after_s(headers) or resets or 1.0
                bucket.block(wait, now)
                log.debug("throttled: %s answered 429, waiting %.1f s", budget_name(key), wait)

    def _pacing_text(self, now: float) -> str | None:
        keys = sorted(k for k, at in self._paced_at.items() if now - at <= self.SHOWN_S)
        if not keys:
            return None
        subs = [k for k in keys if k not in (GRAPH_KEY, TENANT_KEY)]
        parts = []
        if subs:
            names = ", ".join(budget_name(k) for k in subs[:3]) + (f" and {len(subs) - 3} more" if len(subs) > 3 else "")
            parts.append(f"{names} at {self._buckets[subs[0]].rate()}")
        parts += [f"{budget_name(k)} at {self._buckets[k].rate()}" for k in keys if k in (GRAPH_KEY, TENANT_KEY)]
        return "pacing: " + "; ".join(parts)

    def _tell(self, text: str | None) -> None:
        if text:
            log.debug(text)
        if self.on_pacing is not None:
            self.on_pacing(text)

    def note(self) -> str | None:
        """What pacing and throttling the run met, for the report's notes (None when neither happened)."""
        with self._lock:
            waited = {k: s for k, s in self.waited.items() if s > 0}
            throttled = self.throttled
            slowed = {k: b.rate() for k, b in self._buckets.items() if b.per_s < b.assumed_per_s and k != GRAPH_KEY}
        if not waited and not throttled:
            return None
        burst, per_s = self.arm_rate
        text = (f"Resource Manager answered 429 (throttled) {throttled} time(s)" if throttled
                else "Resource Manager throttled nothing (no 429)")
        if waited:
            shown = ", ".join(f"{budget_name(k)} {s:.1f} s" for k, s in sorted(waited.items(), key=lambda kv: -kv[1])[:5])
            text += (f"; moediag paced its requests to stay within the read budget ({burst} burst, {per_s:g}/s per "
                     f"subscription; --arm-rate) and waited for it in {len(waited)} budget(s): {shown}")
        if slowed:
            text += ("; after 429s it slowed " + ", ".join(f"{budget_name(k)} to {rate}" for k, rate in sorted(slowed.items()))
                     + " (a smaller budget than assumed: see --arm-rate)")
        return text


def _deadline_of(request: Any, run_deadline: float | None) -> float | None:
    """The earliest of the run's deadline, the request's own (`moediag_deadline`, before or after `_DeadlinePolicy`
    moved it from the options to the context) and the thread's (`reads_until`: one workspace's budget)."""
    own = request.context.options.get(_DeadlinePolicy.OPTION, request.context.get(_DeadlinePolicy.OPTION))
    return _earliest(run_deadline, own, getattr(_bound, "deadline", None))


# --- the transport: bounded bodies ---------------------------------------------------------------------


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _session(max_body_bytes: int, pool_maxsize: int):
    """A requests Session (and the TLS trust to pass per request) that reads the environment once, not on every
    request, and reads bodies through `_bounded_adapter`.

    With `trust_env` requests scans os.environ for proxies and CA bundles on each request (a third of
    the CPU of a 200-endpoint run). Without proxy variables, read the CA bundle once and turn the scan
    off; with proxy variables keep requests' own handling (NO_PROXY and all).
    """
    import os

    import requests

    session = requests.Session()
    # Only encodings the adapter decodes itself, within the size cap (requests would add br/zstd when installed).
    session.headers["Accept-Encoding"] = "gzip, deflate"
    adapter = _bounded_adapter()(max_body_bytes, pool_connections=4, pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    verify: bool | str = True
    if not any(name.lower() in _PROXY_VARIABLES for name in os.environ):
        session.trust_env = False
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return session, verify


@functools.cache
def _bounded_adapter() -> type:
    """A requests HTTPAdapter that reads each body itself, piece by piece as it arrives (one socket read at a
    time), counting decoded bytes: over the cap it stops (`unreadable`), at the deadline of the request it
    stops (`timed_out`), so neither a huge nor a trickling body is ever read without bound. The body read
    is handed back to requests (and azure-core above it) as an in-memory response. Built on first use.
    """
    import io
    import zlib

    import requests
    from urllib3 import HTTPResponse
    from urllib3.exceptions import (
        DecodeError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
    )

    class BoundedAdapter(requests.adapters.HTTPAdapter):
        def __init__(self, max_body_bytes: int, **kwargs: Any):
            self.max_body_bytes = max_body_bytes
            super().__init__(**kwargs)

        def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
            deadline = getattr(_current, "deadline", None)
            response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
            if stream:
                return response
            raw = response.raw
            try:
                body = self._read(raw, deadline, _read_timeout(timeout))
            except BaseException:
                response.close()  # never hand a half-read connection back to the pool
                raise
            raw.release_conn()
            headers = {k: v for k, v in raw.headers.items()
                       if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")}
            response.raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=raw.status,
                                        version=raw.version, reason=raw.reason, preload_content=False,
                                        decode_content=False)
            return response

        def _read(self, raw: Any, deadline: float | None, read_timeout: float | None) -> bytes:
            cap = self.max_body_bytes
            too_big = f"body larger than {_size(cap)} (moediag's cap for one response): not read"
            length = raw.headers.get("Content-Length", "")
            if length.strip().isdigit() and int(length) > cap:
                raise _PipelineError("unreadable", f"{too_big} ({int(length)} bytes announced)")
            decoder = _decoder(raw.headers.get("Content-Encoding", ""))
            pieces, total = [], 0
            while True:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise _PipelineError("timed_out", f"the body was still arriving at the run's deadline "
                                                          f"(--timeout) after {total} bytes: cut")
                    _socket_timeout(raw, min(read_timeout or remaining, remaining))
                try:
                    data = raw.read1(_READ_PIECE, decode_content=False) or b""
                except ReadTimeoutError as exc:
                    if deadline is not None and deadline - time.monotonic() <= 0.05:
                        raise _PipelineError("timed_out", f"the body was still arriving at the run's deadline "
                                                          f"(--timeout) after {total} bytes: cut") from exc
                    raise requests.exceptions.ReadTimeout(exc) from exc
                except ProtocolError as exc:
                    raise requests.exceptions.ChunkedEncodingError(exc) from exc
                except SSLError as exc:
                    raise requests.exceptions.SSLError(exc) from exc
                try:
                    piece = decoder(data, cap - total) if decoder else data
                except zlib.error as exc:
                    raise requests.exceptions.ContentDecodingError(DecodeError(str(exc))) from exc
                total += len(piece)
                if total > cap:
                    raise _PipelineError("unreadable", too_big)
                pieces.append(piece)
                if not data:
                    return b"".join(pieces)

    def _decoder(encoding: str):
        """gzip/deflate, never producing more than `room + 1` bytes per call (a decompression bomb stops at
        the cap); None for an identity body. Another encoding is unreadable (only gzip and deflate are asked)."""
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            return None
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise _PipelineError("unreadable", f"the body is in an encoding moediag did not ask for ({encoding!r})")
        inflate = zlib.decompressobj(wbits=47)  # 32 + 15: a gzip or zlib header, detected

        def decode(data: bytes, room: int) -> bytes:
            if not data:  # end of the body
                rest = inflate.flush()
                if not inflate.eof:
                    raise zlib.error("the compressed body ends early")
                return rest
            return inflate.decompress(data, max(0, room) + 1)

        return decode

    return BoundedAdapter


def _read_timeout(timeout: Any) -> float | None:
    if isinstance(timeout, tuple):
        timeout = timeout[1] if len(timeout) > 1 else timeout[0]
    return float(timeout) if isinstance(timeout, int | float) else None


def _socket_timeout(raw: Any, seconds: float) -> None:
    """Bound the next socket read by the time left (best effort: the connection's socket, while it has one)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.settimeout(max(0.01, seconds))
        except OSError:
            pass


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 else f"{n} bytes"


# --- the door ------------------------------------------------------------------------------------------


class Arm:
    """The one door to Resource Manager for a run."""

    def __init__(
        self,
        credential: Any,
        subscription_id: str,
        endpoint: str,
        *,
        scope: str | None = None,
        request_timeout: float = 20.0,
        retry_budget_s: float = 30.0,
        max_concurrency: int = 16,
        max_per_subscription: int | None = None,
        deadline: float | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        arm_rate: tuple[int, float] = ARM_RATE,
        on_pacing: Any = None,
    ):
        """`deadline`: the `time.monotonic()` instant after which nothing is read (the run's --timeout). `scope`:
        what the token is asked for (the run's cloud's, moediag.clouds; default `<endpoint>/.default`).
        `arm_rate`: each subscription's read budget (burst, per second); `on_pacing`: hears the pacing line."""
        from azure.core import PipelineClient
        from azure.core.pipeline import Pipeline
        from azure.core.pipeline.transport import RequestsTransport

        self.endpoint = endpoint.rstrip("/")
        origin = origin_of(self.endpoint)
        if origin is None:
            raise ValueError(f"not an http(s) URL with a host: {endpoint!r}")
        self.origin, self.deadline = origin, deadline
        session, verify = _session(max_body_bytes, max(10, max_concurrency))
        connect_timeout = min(10.0, request_timeout)
        transport = RequestsTransport(
            session=session,
            session_owner=True,
            connection_verify=verify,
            connection_timeout=connect_timeout,
            read_timeout=request_timeout,
        )
        retry = {
            "retry_total": 4,
            "retry_backoff_factor": 0.5,
            "retry_backoff_max": 8,
            "timeout": retry_budget_s,
        }
        self.rate = _RateLimit(arm_rate, GRAPH_RATE, deadline, on_pacing=on_pacing)
        policies = _http_policies(credential, scope or f"{self.endpoint}/.default", retry, self.rate,
                                  _ConcurrencyLimit(max_concurrency, max_per_subscription),
                                  _DeadlinePolicy(deadline, connect_timeout, request_timeout), origin)
        # Other clients of the run (the typed resource list, Resource Graph) send through the same policies: one
        # credential, one TLS trust, one retry budget, one pace, one concurrency bound, the same guards.
        self.credential, self.policies, self.transport = credential, policies, transport
        self._pipeline = Pipeline(transport, policies)
        self._client = PipelineClient(self.endpoint, pipeline=self._pipeline)

        def client_for(subscription: str) -> Any:
            # imported on first use, by the reader that needs it, not on the way to the first request (60 ms)
            from azure.mgmt.resource.resources import ResourceManagementClient

            return ResourceManagementClient(
                credential, subscription, base_url=self.endpoint, policies=policies, transport=transport
            )

        self._client_for = client_for
        self._clients: dict[str, Any] = {}  # ResourceManagementClient by subscription
        self._clients_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def within(self, deadline: float | None) -> Any:
        """This Arm, with every read ending by `deadline` too (one workspace's budget; the pipeline is shared)."""
        return _Within(self, deadline)

    # --- reads -------------------------------------------------------------------------------

    def get(self, path: str, api_version: str) -> dict[str, Any]:
        """GET one resource (an ARM id or a path under it) and return its body."""
        return self._send("GET", self._url(path, api_version))

    def get_or_none(self, path: str, api_version: str) -> dict[str, Any] | None:
        """GET where a 404 is evidence (the record, the compute does not exist): None instead of an error."""
        try:
            return self.get(path, api_version)
        except FactError as exc:
            if exc.kind == "not_found":
                return None
            raise

    def list(self, path: str, api_version: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """GET a collection, following `nextLink` with azure-core's pager.

        `query`: more query parameters of the first request (`{"$filter": "atScope()"}`); the nextLinks Azure
        sends carry their own.

        Older preview APIs return some collections as a dict keyed by item name instead of
        `{"value": [...]}`; those items come back with their `name` filled in. Any other shape is
        `unreadable`, never an invented or silently shortened list.
        """
        from azure.core.paging import ItemPaged

        first = self._url(path, api_version, query)
        what = self._what(first)
        seen: set[str] = set()

        def get_next(next_link: str | None) -> dict[str, Any]:
            if next_link is not None:
                if next_link in seen or len(seen) >= MAX_PAGES:
                    raise FactError("unreadable", f"{what}: the list's nextLinks do not end (a repeated link, or "
                                                  f"more than {MAX_PAGES} pages)", resource_id=what)
                seen.add(next_link)
            return self._send("GET", next_link or first, what=what)

        def extract_data(body: Any) -> tuple[str | None, Iterator[dict[str, Any]]]:
            return _next_link(body), iter(_items(body, what))

        return list(ItemPaged(get_next, extract_data))

    def post(self, path: str, api_version: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST an action (getLogs, diagnose): read-only actions only, enforced by the pipeline."""
        return self._send("POST", self._url(path, api_version), body if body is not None else {})

    def resources_with_created_time(
        self, subscription: str, resource_group: str, resource_type: str
    ) -> list[dict[str, Any]]:
        """Resource list of a group with `$expand=createdTime` (the typed operation of azure-mgmt-resource)."""
        with self._clients_lock:
            client = self._clients.get(subscription.lower())
            if client is None:
                client = self._clients[subscription.lower()] = self._client_for(subscription)
        try:
            pages = client.resources.list_by_resource_group(
                resource_group,
                filter=f"resourceType eq '{resource_type}'",
                expand="createdTime",
            )
            return [
                {
                    "id": item.id,
                    "name": item.name,
                    "type": item.type,
                    "createdTime": item.created_time.isoformat() if item.created_time else None,
                }
                for item in pages
            ]
        except Exception as exc:  # classified below; anything else is a real bug and re-raised
            raise _classify(exc, f"resources of {resource_group}") from exc

    # --- long-running actions (workspace diagnose) ---------------------------------------------

    def post_long_running(
        self, path: str, api_version: str, body: dict[str, Any] | None, *, timeout_s: float
    ) -> Any:
        """POST an action that answers 202 + Location (or Azure-AsyncOperation), and wait for its result.

        azure-mgmt-core's ARMPolling follows the status links (switching headers as Azure does between polls),
        driven through its public PollingMethod interface (`initialize`, `run`, `status`, `resource`) in the
        caller's thread, so nothing keeps polling after a timeout. It waits Retry-After when Azure sends a
        positive one, else POLL_INTERVAL_S (azure-core reads `Retry-After: 0` as "no value" and would wait its
        default 30 s). `timeout_s` rides with every request of the operation as the pipeline's
        `moediag_deadline`: no poll starts after it, and a Retry-After beyond it ends the wait at once. Returns
        the final body; raises FactError (timed_out when the operation outlives the bound).
        """
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.polling.arm_polling import ARMPolling

        url = self._url(path, api_version)
        what = self._what(url)
        bound = {_DeadlinePolicy.OPTION: time.monotonic() + max(0.0, timeout_s)}
        polling = None
        try:
            initial = self._pipeline.run(HttpRequest("POST", url, json=body if body is not None else {}),
                                         stream=False, **bound)
            if initial.http_response.status_code != 202:  # answered at once (or refused)
                return _checked_body(initial.http_response, what)
            polling = ARMPolling(POLL_INTERVAL_S, **bound)
            polling.initialize(self._client, initial, lambda done: _checked_body(done.http_response, what))
            polling.run()
            return polling.resource()
        except Exception as exc:  # classified below; anything else is a real bug and re-raised
            error = _classify(exc, what)
            if error.kind == "timed_out" and polling is not None:
                why = error.message.removeprefix(f"{what}: ")
                error = FactError("timed_out", f"{what}: the operation did not complete within {timeout_s:.1f} s "
                                               f"(still {_status_of(polling)!r} at the last poll: {why})",
                                  resource_id=what)
            raise error from exc

    # --- plumbing ----------------------------------------------------------------------------

    def _url(self, path: str, api_version: str, query: dict[str, str] | None = None) -> str:
        from urllib.parse import quote

        if not path.startswith("/"):
            path = "/" + path
        extra = "".join(f"&{quote(k, safe='$')}={quote(v, safe='()')}" for k, v in (query or {}).items())
        return f"{self.endpoint}{quote(path, safe='/@:')}?api-version={api_version}{extra}"

    def _what(self, url: str) -> str:
        """How messages name a request: its decoded path under Resource Manager (else the whole URL, shown)."""
        base = url.split("?")[0]
        if base.startswith(self.endpoint) and origin_of(url) == self.origin:
            return unquote(base[len(self.endpoint):]) or "/"
        return shown(url)

    def _send(self, method: str, url: str, body: Any = None, *, what: str | None = None) -> Any:
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
        what = what or self._what(url)
        try:
            response = self._client.send_request(request)
        except Exception as exc:
            raise _classify(exc, what) from exc
        return _checked_body(response, what)


def _status_of(polling: Any) -> str:
    try:
        return str(polling.status())
    except (ValueError, AttributeError):  # azure-core: "set_initial_status was never called"
        return "unknown"


def _checked_body(response: Any, what: str) -> Any:
    """The JSON body of a response, or FactError saying why there is none (HTTP error, not JSON, too deep)."""
    if response.status_code >= 400:
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.core.exceptions import ARMErrorFormat

        raise _classify(HttpResponseError(response=response, error_format=ARMErrorFormat), what)
    if response.status_code == 204 or not response.content:
        return {}
    try:
        body = response.json()
    except RecursionError as exc:
        raise _too_deep(what) from exc
    except ValueError as exc:
        raise FactError("unreadable", f"{what}: the response is not JSON ({exc})", resource_id=what) from exc
    if _depth(body) > MAX_DEPTH:
        raise _too_deep(what)
    return body


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iteratively: no recursion limit to meet)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in node if isinstance(child, dict | list))
    return deepest


def _too_deep(what: str) -> FactError:
    return FactError("unreadable", f"{what}: the response nests JSON deeper than {MAX_DEPTH} levels: not read",
                     resource_id=what)


def _next_link(body: Any) -> str | None:
    if isinstance(body, dict):
        link = body.get("nextLink")
        return link if isinstance(link, str) and link else None
    return None


def _items(body: Any, what: str = "the list") -> list[dict[str, Any]]:
    """The items of one page of a list: `{"value": [objects]}`, a bare list of objects, or (older previews of
    outbound rules) a dict of objects keyed by name. Anything else is `unreadable`: a list is never invented
    from, or silently shortened by, an answer of another shape."""

    def unreadable(why: str) -> FactError:
        return FactError("unreadable", f"{what}: {why}", resource_id=what)

    if isinstance(body, dict) and "value" in body:
        items = body["value"]
        if not isinstance(items, list):
            raise unreadable(f"the list's value is a {_kind(items)}, not a list")
    elif isinstance(body, list):
        items = body
    elif isinstance(body, dict):
        entries = {name: item for name, item in body.items() if name != "nextLink"}
        odd = next((name for name, item in entries.items() if not isinstance(item, dict)), None)
        if odd is not None:
            raise unreadable(f"neither a {{\"value\": [...]}} list nor a dict of objects keyed by name ({odd!r} "
                             f"is a {_kind(entries[odd])})")
        return [{"name": name, **item} if "properties" in item else {"name": name, "properties": item}
                for name, item in entries.items()]
    else:
        raise unreadable(f"the answer is a {_kind(body)}, not a list")
    odd_index = next((i for i, item in enumerate(items) if not isinstance(item, dict)), None)
    if odd_index is not None:
        raise unreadable(f"item {odd_index} of the list is a {_kind(items[odd_index])}, not an object")
    return items


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", type(None): "null", bool: "boolean"}.get(
        type(value), type(value).__name__)


def _classify(exc: Exception, what: str) -> FactError:
    """Turn an SDK exception into the reason a fact could not be read (and which resource it was)."""
    if isinstance(exc, _PipelineError):
        return FactError(exc.kind, f"{what}: {exc.message}", status=exc.status, resource_id=what)
    if isinstance(exc, FactError):
        return exc
    if isinstance(exc, RecursionError):  # a JSON parser met absurd nesting
        return _too_deep(what)
    error = _reason(exc, what)
    error.resource_id = what
    return error


def _reason(exc: Exception, what: str) -> FactError:
    from azure.core import exceptions as ex

    if isinstance(exc, ex.ClientAuthenticationError) and getattr(exc, "response", None) is None:
        # No answer from Resource Manager at all: no credential could get a token (nothing was refused).
        return FactError("no_credential", no_credential_message(exc))
    if isinstance(exc, ex.ClientAuthenticationError) and getattr(exc, "status_code", None) != 403:
        return FactError("unauthorized", f"{what}: credentials were refused ({_first_line(exc)})")
    if isinstance(exc, ex.HttpResponseError):
        status = exc.status_code or 0
        code = getattr(getattr(exc, "error", None), "code", None) or ""
        message = getattr(getattr(exc, "error", None), "message", None) or exc.reason or ""
        if str(code).lower() in RETIRED_API_VERSION_CODES:
            version = _api_version_of(exc)
            return FactError("unreadable", f"{what}: Resource Manager refused api-version {version} ({code}): this "
                                           "moediag reads with an api-version the service does not (or no longer) "
                                           "serve; upgrade moediag", status=status)
        if status == 403:
            return FactError("forbidden", f"{what}: forbidden ({code}) {message}".strip(), status=status)
        if status == 404:
            return FactError("not_found", f"{what}: not found ({code or 'NotFound'})", status=status)
        if status == 401:
            return FactError("unauthorized", f"{what}: credentials were refused ({code})", status=status)
        if status == 429:
            return FactError("throttled", f"{what}: still throttled by Resource Manager after retries", status=status)
        return FactError("unreadable", f"{what}: HTTP {status} {code} {message}".strip(), status=status)
    if isinstance(exc, ex.ServiceResponseTimeoutError | ex.ServiceRequestTimeoutError):
        return FactError("timed_out", f"{what}: no answer in time")
    if isinstance(exc, ex.ServiceRequestError | ex.ServiceResponseError):
        text = _first_line(exc)
        kind = "timed_out" if "timed out" in text.lower() or "timeout" in text.lower() else "unreadable"
        return FactError(kind, f"{what}: {text}")
    if isinstance(exc, ex.ClientAuthenticationError):
        return FactError("unauthorized", f"{what}: {_first_line(exc)}")
    if isinstance(exc, ex.AzureError):
        return FactError("unreadable", f"{what}: {_first_line(exc)}")
    raise exc


def no_credential_message(exc: Exception) -> str:
    """What azure-identity tried, in one line: `AzureCliCredential (Azure CLI not found on path); ...`."""
    tried = []
    for line in str(exc).splitlines():
        name, sep, why = line.strip().partition(":")
        if sep and name.endswith("Credential") and " " not in name:
            tried.append(f"{name} ({why.strip().split('. ')[0].rstrip('.')})")
    return "no Azure credential could get a token" + (f"; tried {'; '.join(tried)}" if tried else
                                                        f" ({_first_line(exc)})")


def _api_version_of(exc: Any) -> str:
    """The api-version of the request an HttpResponseError answers, quoted (or "?" when unknown)."""
    url = getattr(getattr(getattr(exc, "response", None), "request", None), "url", "") or ""
    versions = parse_qs(urlsplit(url).query).get("api-version") or ["?"]
    return repr(versions[0])


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

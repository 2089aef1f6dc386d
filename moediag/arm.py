"""Reading Azure Resource Manager: one pipeline, raw REST bodies, errors classified.

Every read goes through azure-mgmt-resource's client and azure-core's pipeline (bearer auth, ARM
challenge handling, azure-core's RetryPolicy with Retry-After, redacting HTTP logging). Bodies are kept
as the JSON Azure sent, not as SDK models: the body *is* the evidence, snapshots replay it verbatim, and
the parsers see the real quirks (`""` ids, dict-shaped rule lists, missing blocks) instead of whatever a
model's deserializer made of them.

Heavy imports happen in `Arm.__init__`, so `moediag --help` and snapshot replays never pay for them.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any, Iterator

from moediag.errors import FactError

log = logging.getLogger("moediag.arm")

PUBLIC_ARM = "https://management.azure.com"


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


def _http_policies(credential: Any, scope: str, max_concurrency: int, retry: dict[str, Any],
                   max_per_subscription: int | None = None) -> list[Any]:
    """The pipeline of ResourceManagementClient minus auto provider registration (a write)."""
    from azure.core.pipeline import policies
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

    from moediag import __version__

    return [
        policies.RequestIdPolicy(),
        policies.HeadersPolicy(),
        policies.UserAgentPolicy(sdk_moniker=f"moediag/{__version__}"),
        policies.ProxyPolicy(),
        policies.ContentDecodePolicy(),
        policies.RedirectPolicy(),
        policies.RetryPolicy(**retry),
        ARMChallengeAuthenticationPolicy(credential, scope),
        _ConcurrencyLimit(max_concurrency, max_per_subscription),
        policies.NetworkTraceLoggingPolicy(),
        ARMHttpLoggingPolicy(),
    ]


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _session():
    """A requests Session (and the TLS trust to pass per request) that reads the environment once, not on every request.

    With `trust_env` requests scans os.environ for proxies and CA bundles on each request (a third of
    the CPU of a 200-endpoint run). Without proxy variables, read the CA bundle once and turn the scan
    off; with proxy variables keep requests' own handling (NO_PROXY and all).
    """
    import os

    import requests

    session = requests.Session()
    verify: bool | str = True
    if not any(name.lower() in _PROXY_VARIABLES for name in os.environ):
        session.trust_env = False
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return session, verify


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
        from urllib.parse import urlsplit

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


class Arm:
    """The one door to Resource Manager for a run."""

    def __init__(
        self,
        credential: Any,
        subscription_id: str,
        endpoint: str = PUBLIC_ARM,
        *,
        request_timeout: float = 20.0,
        retry_budget_s: float = 30.0,
        max_concurrency: int = 16,
        max_per_subscription: int | None = None,
    ):
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        from azure.mgmt.resource.resources import ResourceManagementClient

        self.endpoint = endpoint.rstrip("/")
        session, verify = _session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(10, max_concurrency))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        transport = RequestsTransport(
            session=session,
            session_owner=True,
            connection_verify=verify,
            connection_timeout=min(10.0, request_timeout),
            read_timeout=request_timeout,
        )
        retry = {
            "retry_total": 4,
            "retry_backoff_factor": 0.5,
            "retry_backoff_max": 8,
            "timeout": retry_budget_s,
        }
        policies = _http_policies(credential, f"{self.endpoint}/.default", max_concurrency, retry, max_per_subscription)
        # Other clients of the run (Resource Graph) send through the same pipeline: one credential, one TLS
        # trust, one retry budget, one concurrency bound.
        self.credential, self.policies, self.transport = credential, policies, transport

        def client_for(subscription: str) -> ResourceManagementClient:
            return ResourceManagementClient(
                credential, subscription, base_url=self.endpoint, policies=policies, transport=transport
            )

        self._client_for = client_for
        self._client = client_for(subscription_id)
        self._clients = {subscription_id.lower(): self._client}
        self._clients_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

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

    def list(self, path: str, api_version: str) -> list[dict[str, Any]]:
        """GET a collection, following `nextLink` with azure-core's pager.

        Older preview APIs return some collections as a dict keyed by item name instead of
        `{"value": [...]}`; those items come back with their `name` filled in.
        """
        from azure.core.paging import ItemPaged

        def get_next(next_link: str | None) -> dict[str, Any]:
            return self._send("GET", next_link or self._url(path, api_version))

        def extract_data(body: Any) -> tuple[str | None, Iterator[dict[str, Any]]]:
            return _next_link(body), iter(_items(body))

        return list(ItemPaged(get_next, extract_data))

    def post(self, path: str, api_version: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST an action (getLogs, diagnose): read-only actions only; see docs/permissions.md."""
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

        azure-mgmt-core's ARMPolling follows the status links (switching headers as Azure does between
        polls); `_bounded_polling` only decides how long to wait: Retry-After when Azure sends a positive
        one, else a short backoff (azure-core reads `Retry-After: 0` as "no value" and would wait 30 s),
        and never past `timeout_s`. Polling runs in the caller's thread, so nothing keeps polling after a
        timeout. Returns the final body; raises FactError (timed_out when the operation outlives the bound).
        """
        from urllib.parse import unquote

        from azure.core.rest import HttpRequest

        url = self._url(path, api_version)
        what = unquote(url.split("?")[0].removeprefix(self.endpoint))
        pipeline_client = self._client._client  # the mgmt client's ARMPipelineClient: what ARMPolling drives
        try:
            initial = pipeline_client.send_request(
                HttpRequest("POST", url, json=body if body is not None else {}), _return_pipeline_response=True
            )
            if initial.http_response.status_code != 202:  # answered at once (or refused)
                return _checked_body(initial.http_response, what)
            polling = _bounded_polling()(max(0.0, timeout_s), what)
            polling.initialize(pipeline_client, initial, lambda done: _checked_body(done.http_response, what))
            polling.run()
            return polling.resource()
        except Exception as exc:  # classified below; anything else is a real bug and re-raised
            raise _classify(exc, what) from exc

    # --- plumbing ----------------------------------------------------------------------------

    def _url(self, path: str, api_version: str) -> str:
        from urllib.parse import quote

        if not path.startswith("/"):
            path = "/" + path
        return f"{self.endpoint}{quote(path, safe='/@:')}?api-version={api_version}"

    def _send(self, method: str, url: str, body: Any = None) -> Any:
        from urllib.parse import unquote

        from azure.core.rest import HttpRequest

        request = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
        what = unquote(url.split("?")[0].removeprefix(self.endpoint))
        try:
            response = self._client.send_request(request)
        except Exception as exc:
            raise _classify(exc, what) from exc
        return _checked_body(response, what)


def _checked_body(response: Any, what: str) -> Any:
    """The JSON body of a response, or FactError saying why there is none (HTTP error, not JSON)."""
    if response.status_code >= 400:
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.core.exceptions import ARMErrorFormat

        raise _classify(HttpResponseError(response=response, error_format=ARMErrorFormat), what)
    if response.status_code == 204 or not response.content:
        return {}
    try:
        return response.json()
    except ValueError as exc:
        raise FactError("unreadable", f"{what}: the response is not JSON ({exc})") from exc


@functools.cache
def _bounded_polling() -> type:
    """ARMPolling that waits Retry-After (when positive) or a short backoff, never past a deadline.

    Built on first use, so importing this module never imports azure-mgmt-core.
    """
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    class BoundedPolling(ARMPolling):
        FIRST_WAIT_S = 0.25
        MAX_WAIT_S = 5.0

        def __init__(self, timeout_s: float, what: str):
            super().__init__(self.FIRST_WAIT_S)
            self._bound = timeout_s
            self._deadline = time.monotonic() + timeout_s
            self._what = what

        def _extract_delay(self) -> float:
            wait = super()._extract_delay()  # Retry-After when positive, else self._timeout (the backoff)
            self._timeout = min(self.MAX_WAIT_S, self._timeout * 2)
            remaining = self._deadline - time.monotonic()
            if remaining <= 0.05:
                raise FactError("timed_out", f"{self._what}: the operation did not complete within {self._bound:.1f} s "
                                             f"(still {self.status()!r} at the last poll)")
            return min(wait, remaining)  # one last poll at the deadline

    return BoundedPolling


def _next_link(body: Any) -> str | None:
    if isinstance(body, dict):
        link = body.get("nextLink")
        return link if isinstance(link, str) and link else None
    return None


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("value"), list):
        return [item for item in body["value"] if isinstance(item, dict)]
    # Dict keyed by name (older previews of outbound rules).
    return [
        {"name": name, **item} if "properties" in item else {"name": name, "properties": item}
        for name, item in body.items()
        if isinstance(item, dict) and name != "nextLink"
    ]


def _classify(exc: Exception, what: str) -> FactError:
    """Turn an SDK exception into the reason a fact could not be read (and which resource it was)."""
    if isinstance(exc, FactError):
        return exc
    error = _reason(exc, what)
    error.resource_id = what
    return error


def _reason(exc: Exception, what: str) -> FactError:
    from azure.core import exceptions as ex

    if isinstance(exc, ex.ClientAuthenticationError) and getattr(exc, "status_code", None) != 403:
        return FactError("unauthorized", f"{what}: credentials were refused ({_first_line(exc)})")
    if isinstance(exc, ex.HttpResponseError):
        status = exc.status_code or 0
        code = getattr(getattr(exc, "error", None), "code", None) or ""
        message = getattr(getattr(exc, "error", None), "message", None) or exc.reason or ""
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


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""ArmTestBed: a loopback HTTPS stand-in for Azure Resource Manager.

Why it exists: moediag's tests drive the *real* azure-core / azure-mgmt clients over *real* TLS,
so retries, paging, long-running-operation polling, timeouts and auth headers are exercised the
way they are against Azure, without ever leaving 127.0.0.1.

What it does, in order, for every request:

1. log it (method, path, query, status, start/finish times; peak concurrency),
2. require `Authorization: Bearer <bed.token>` (else 401 AuthenticationFailed),
3. require `api-version` (else 400 MissingApiVersionParameter),
4. when `bed.throttle(...)` asked for it, spend a token of the subscription's read budget (or a query of Resource
   Graph's quota): 429 with Retry-After when there is none, the remaining count on every answer (throttle.py),
5. hang if `bed.hang(path)` says so, then apply a matching `bed.fault(...)`,
6. answer from a custom route, a long-running operation, or the store (else 404 ResourceNotFound),
7. after `bed.latency` seconds.

Hostile mode (what a compromised or spoofed Resource Manager could answer), for the tests of moediag's
guards: `foreign_origin()` starts a second HTTPS origin on 127.0.0.1 (another port, the same test CA) that
records every request with its headers; `redirect()` answers 3xx to any URL; `collection(...,
next_link_base=...)` and `lro(..., status_base=..., status_header=...)` point nextLinks and the status
links of long-running operations elsewhere; a `Streamed` body trickles in or never ends (see hostile.py).

Paths compare like ARM ids: case-insensitively, after percent-decoding (see `arm.normalize`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import trustme

from serving import Serving

from . import arm
from .throttle import Throttle

Handler = Callable[["BedRequest"], tuple[int, dict, Any]]

SKIPTOKEN = "$skiptoken"


@dataclass
class BedRequest:
    """What a custom route handler sees."""

    method: str
    path: str  # decoded, original case, no query
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None

    @property
    def path_lower(self) -> str:
        return arm.normalize(self.path)

    def param(self, name: str, default: str | None = None) -> str | None:
        """A query parameter, looked up case-insensitively (ARM accepts `$Filter` and `$filter`)."""
        for key, value in self.query.items():
            if key.lower() == name.lower():
                return value
        return default


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # normalized (lower case, decoded)
    query: dict[str, str]
    status: int
    started_at: float  # time.monotonic()
    finished_at: float  # when the answer was ready (latency included), just before it was sent
    headers: dict[str, str] = field(default_factory=dict)  # as received, names lower-cased

    @property
    def path_lower(self) -> str:
        return self.path


@dataclass
class Streamed:
    """A body sent piece by piece, `interval` seconds before each piece: chunked, or with a Content-Length
    when `content_length` is given. `pieces` is called for each answer (a generator may be endless)."""

    pieces: Callable[[], Iterable[bytes]]
    interval: float = 0.0
    content_length: int | None = None
    content_type: str = "application/json; charset=utf-8"


class ForeignOrigin:
    """A second HTTPS origin on 127.0.0.1 (another port, the bed's test CA): the host a hostile answer points to.

    It records every request with all its headers (`requests`) and answers as the bed would, without asking
    for a token, so a client that followed a link here would get plausible evidence: a test that only looked
    at verdicts could be fooled, one that looks at `requests` cannot.
    """

    def __init__(self, bed: ArmTestBed, server: _Server):
        self.bed = bed
        self._server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        self.requests: list[RequestRecord] = []
        self.serving: Serving | None = None  # set by the bed once it serves

    def authorizations(self) -> list[str]:
        """Every Authorization header this origin received (it must stay empty)."""
        with self.bed._lock:
            return [r.headers["authorization"] for r in self.requests if "authorization" in r.headers]

    def _record(self, record: RequestRecord) -> None:
        with self.bed._lock:
            self.requests.append(record)


@dataclass
class _Fault:
    path: str
    status: int
    remaining: int | None
    headers: dict[str, str]
    body: Any
    method: str | None


@dataclass
class _Hang:
    path: str
    seconds: float | None
    remaining: int | None
    method: str | None


@dataclass
class _Collection:
    path: str  # as registered, used in nextLink
    items: list[dict]
    page_size: int | None
    next_link_base: str | None = None


@dataclass
class _Resources:
    items: list[dict]
    page_size: int | None


@dataclass
class _Operation:
    result_body: Any
    polls_left: int
    never_completes: bool
    result_status: int = 200
    status_base: str | None = None
    status_header: str = "Location"
    retry_after: str = "0"


@dataclass
class _Static:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


_FILTER = re.compile(r"^\s*resourceType\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


class ArmTestBed:
    """A TLS server on 127.0.0.1 that answers like ARM from an in-memory store.

    Use as a context manager (or `start()`/`stop()`). Attributes after start: `url`
    (`https://127.0.0.1:PORT`), `ca_path` (PEM of the test CA, for `REQUESTS_CA_BUNDLE`),
    `token` (the only bearer token accepted), `latency` (seconds added to every response),
    `requests` (list of RequestRecord), `max_in_flight`, `errors` (bugs inside the bed).
    """

    def __init__(self, token: str = "moediag-test-token", latency: float = 0.0):
        self.token = token
        self.latency = latency
        self.url = ""
        self.ca_path = ""
        self.requests: list[RequestRecord] = []
        self.arrivals: list[tuple[str, str]] = []  # (method, normalized path), logged as each request arrives
        self.errors: list[str] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.RLock()
        self._released = threading.Event()
        self._store: dict[str, _Static | _Collection | _Resources] = {}
        self._routes: dict[tuple[str, str], Handler] = {}
        self._lros: dict[str, tuple[Any, int, bool, int]] = {}
        self._operations: dict[str, _Operation] = {}
        self._faults: list[_Fault] = []
        self._hangs: list[_Hang] = []
        self._forbidden_scopes: list[str] = []
        self.throttling: Throttle | None = None  # set by throttle(): Resource Manager's and Resource Graph's limits
        self._server: ThreadingHTTPServer | None = None
        self._serving: Serving | None = None
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self._connections: set[socket.socket] = set()
        self._context: ssl.SSLContext | None = None
        self._foreign: ForeignOrigin | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ArmTestBed:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self._tmpdir = tempfile.TemporaryDirectory(prefix="armbed-")
        self.ca_path = os.path.join(self._tmpdir.name, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._context = context
        server = self._listen()
        self._server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        self._released.clear()
        self._serving = Serving(server, "armbed")
        return self

    def _listen(self) -> _Server:
        server = _Server(("127.0.0.1", 0), _RequestHandler)
        server.bed = self
        # Handshakes happen lazily in each connection's own thread, so a stuck client never
        # blocks accept().
        server.socket = self._context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        return server

    def foreign_origin(self) -> ForeignOrigin:
        """The second origin (started on first use; stopped with the bed)."""
        with self._lock:
            if self._foreign is None:
                server = self._listen()
                server.origin = ForeignOrigin(self, server)
                server.origin.serving = Serving(server, "armbed-foreign")
                self._foreign = server.origin
            return self._foreign

    def stop(self) -> None:
        """Stop serving. Hung handlers are released; nothing waits for them to finish."""
        self._released.set()
        if self._foreign is not None:
            self._foreign.serving.stop()
        if self._server is not None:
            self._serving.stop()
            with self._lock:
                connections = list(self._connections)
            for conn in connections:  # wake threads parked on idle keep-alive connections
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._server = self._serving = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> ArmTestBed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Variables for a `moediag` subprocess: merge into os.environ yourself."""
        return {
            "MOEDIAG_ACCESS_TOKEN": self.token,
            "REQUESTS_CA_BUNDLE": self.ca_path,
            "MOEDIAG_ARM_ENDPOINT": self.url,
        }

    # --- the store ---------------------------------------------------------------------------

    def put(self, path: str, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """GET `path` answers `status` with `body` (JSON unless bytes/str)."""
        with self._lock:
            self._store[arm.normalize(path)] = _Static(body, status, dict(headers or {}))

    def clear(self) -> None:
        """Forget every resource, route, operation, fault and hang (the log is kept)."""
        with self._lock:
            self._store.clear()
            self._routes.clear()
            self._lros.clear()
            self._operations.clear()
            self._faults.clear()
            self._hangs.clear()
            self._forbidden_scopes.clear()

    def remove(self, path: str) -> None:
        """Forget `path` (GET then answers 404 ResourceNotFound)."""
        with self._lock:
            self._store.pop(arm.normalize(path), None)

    def get(self, path: str) -> Any:
        """The body stored at `path` (for tests that tweak a scenario after install)."""
        with self._lock:
            entry = self._store[arm.normalize(path)]
        if isinstance(entry, _Static):
            return entry.body
        return entry.items

    def collection(
        self,
        path: str,
        items: list[dict],
        page_size: int | None = None,
        register_items: bool = True,
        next_link_base: str | None = None,
    ) -> None:
        """GET `path` answers `{"value": [...]}`, paged with absolute `nextLink`s when page_size is set.

        Items with an `id` are also served at that id unless register_items is False. `next_link_base`
        (hostile): the nextLinks point to this origin instead of the bed's.
        """
        with self._lock:
            self._store[arm.normalize(path)] = _Collection(arm.scope_of(path), list(items), page_size, next_link_base)
            if register_items:
                for item in items:
                    if isinstance(item, dict) and item.get("id"):
                        self._store[arm.normalize(item["id"])] = _Static(item)

    def resources(self, scope_path: str, items: list[dict], page_size: int | None = None) -> None:
        """Serve `scope_path + "/resources"` like ARM's generic resource list.

        Supports `$filter=resourceType eq '...'` (only that form) and includes `createdTime` /
        `changedTime` only when `$expand` names createdTime, as ARM does.
        """
        with self._lock:
            self._store[arm.normalize(scope_path.rstrip("/") + "/resources")] = _Resources(list(items), page_size)

    def route(self, method: str, path: str, handler: Handler) -> None:
        """A custom handler `handler(BedRequest) -> (status, headers, body)` for method+path."""
        with self._lock:
            self._routes[(method.upper(), arm.normalize(path))] = handler

    def lro(
        self,
        post_path: str,
        result_body: Any,
        polls: int = 2,
        never_completes: bool = False,
        result_status: int = 200,
        status_base: str | None = None,
        status_header: str = "Location",
        retry_after: str = "0",
    ) -> None:
        """POST `post_path` starts a long-running operation (202 + Location + Retry-After: 0).

        Its Location answers 202 `polls` times, then `result_status` with result_body (or 202
        forever when never_completes). Every POST starts a fresh operation. Hostile: `status_base` puts the
        status link on another origin; `status_header="Azure-AsyncOperation"` sends it in that header (the
        Location then stays on the bed); `retry_after` is what every 202 asks to wait.
        """
        with self._lock:
            self._lros[arm.normalize(post_path)] = (result_body, polls, never_completes, result_status,
                                                    status_base, status_header, retry_after)

    def paths(self) -> list[str]:
        """Every registered path (normalized), with its kind: handy when a test gets a 404."""
        with self._lock:
            kinds = {k: type(v).__name__.strip("_").lower() for k, v in self._store.items()}
            kinds.update({k: "lro" for k in self._lros})
            kinds.update({p: f"route {m}" for m, p in self._routes})
        return [f"{kind:10} {path}" for path, kind in sorted(kinds.items())]

    # --- faults ------------------------------------------------------------------------------

    def fault(
        self,
        path: str,
        status: int,
        times: int | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        method: str | None = None,
    ) -> None:
        """Answer `status` (with an ARM error body) for the next `times` requests (None = forever).

        429 carries `Retry-After: 1` unless headers give a wait (in any spelling). Afterwards requests fall through
        to the store. Faults on the same path apply in the order they were added.
        """
        merged = dict(headers or {})
        if status == 429 and not any(k.lower() in ("retry-after", "retry-after-ms", "x-ms-retry-after-ms") for k in merged):
            merged["Retry-After"] = "1"
        with self._lock:
            self._faults.append(
                _Fault(arm.normalize(path), status, times, merged, body, method.upper() if method else None)
            )

    def redirect(self, path: str, location: str, status: int = 302, times: int | None = None,
                 method: str | None = None) -> None:
        """Hostile: requests to `path` answer `status` (301, 302, 303, 307, 308) with `Location: location`."""
        self.fault(path, status, times=times, headers={"Location": location}, body={}, method=method)

    def hang(self, path: str, seconds: float | None = None, times: int | None = None, method: str | None = None) -> None:
        """Requests to `path` stall for `seconds` (None: until the bed stops) before being answered."""
        with self._lock:
            self._hangs.append(_Hang(arm.normalize(path), seconds, times, method.upper() if method else None))

    def forbid_scope(self, scope: str) -> None:
        """Every request at or under `scope` (`/subscriptions/<id>`, a resource group, ...) answers 403
        AuthorizationFailed, as ARM does for an identity with no role there. Cleared by clear_faults()."""
        with self._lock:
            self._forbidden_scopes.append(arm.normalize(scope))

    def throttle(self, burst: int = 250, per_s: float = 25.0, graph_quota: tuple[int, float] = (15, 5.0)) -> Throttle:
        """Enforce Resource Manager's read budget (a token bucket of `burst` refilled at `per_s`, per subscription;
        429 + Retry-After when empty, the remaining reads on every answer) and Resource Graph's quota (`graph_quota`:
        queries per window of seconds). See throttle.py."""
        self.throttling = Throttle(burst, per_s, graph_quota)
        return self.throttling

    def throttled(self) -> list[RequestRecord]:
        """Every answer the bed's throttling (or a 429 fault) gave: 429s in the request log."""
        with self._lock:
            return [r for r in self.requests if r.status == 429]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._hangs.clear()
            self._forbidden_scopes.clear()

    # --- the request log ---------------------------------------------------------------------

    def arrived(self, method: str, path: str) -> int:
        """Requests for `path` that have arrived, answered or not (a hung request is in `requests` only once it is
        answered): what a test waits for before it acts on a request in flight."""
        wanted = (method.upper(), arm.normalize(path))
        with self._lock:
            return sum(1 for seen in self.arrivals if seen == wanted)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests seen, optionally only this method and/or this path (exact, case-insensitive)."""
        key = arm.normalize(path) if path is not None else None
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method.upper()) and (key is None or r.path == key)
            )

    def duplicates(self) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        """GETs that fetched the same thing more than once: `(method, path, query)` keys.

        The key's query leaves out `api-version` (the same resource read with two versions is
        still read twice) and keeps `$skiptoken` (page 2 is not a repeat of page 1). Not counted:
        polls of long-running operations (meant to repeat) and answers that invite a retry
        (429 and 5xx), so an SDK retry is not a duplicate but a second successful read is.
        """
        seen: dict[tuple, int] = {}
        with self._lock:
            records = list(self.requests)
        for r in records:
            if r.method != "GET" or r.status == 429 or r.status >= 500:
                continue
            if r.path.startswith("/operations/"):
                continue
            query = tuple(sorted((k.lower(), v) for k, v in r.query.items() if k.lower() != "api-version"))
            key = (r.method, r.path, query)
            seen[key] = seen.get(key, 0) + 1
        return [key for key, n in seen.items() if n > 1]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.arrivals.clear()
            self.max_in_flight = self._in_flight

    # --- request handling (called from server threads) ---------------------------------------

    def _enter(self, method: str, path: str) -> None:
        with self._lock:
            self.arrivals.append((method.upper(), arm.normalize(path)))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self, record: RequestRecord) -> None:
        with self._lock:
            self._in_flight -= 1
            self.requests.append(record)

    def _take_fault(self, method: str, key: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path == key and (fault.method is None or fault.method == method):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _take_hang(self, method: str, key: str) -> _Hang | None:
        with self._lock:
            for hang in self._hangs:
                if hang.path == key and (hang.method is None or hang.method == method):
                    if hang.remaining is not None:
                        hang.remaining -= 1
                        if hang.remaining <= 0:
                            self._hangs.remove(hang)
                    return hang
        return None

    def _respond(self, req: BedRequest, authenticate: bool = True) -> tuple[int, dict[str, str], Any]:
        auth = req.headers.get("authorization", "")
        if authenticate and (not auth.lower().startswith("bearer ") or auth[7:].strip() != self.token):
            reason = "missing" if not auth else "invalid"
            return (
                401,
                {
                    "WWW-Authenticate": 'Bearer authorization_uri="https://login.windows.net/", '
                    'error="invalid_token", '
                    f'error_description="The access token is {reason}."'
                },
                arm.error_body(
                    "AuthenticationFailed",
                    f"Authentication failed. The 'Authorization' header is {reason}.",
                ),
            )
        if req.param("api-version") is None:
            return (
                400,
                {},
                arm.error_body(
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                ),
            )
        key = req.path_lower
        with self._lock:
            forbidden = any(key == scope or key.startswith(scope + "/") for scope in self._forbidden_scopes)
        if forbidden:
            return 403, {}, arm.authorization_failed(req.method, req.path)
        if self.throttling is None:
            return self._answer(req, key)
        admitted, headers = self.throttling.admit(req.method, req.path)
        if not admitted:
            return 429, headers, arm.error_for_status(429, req.method, req.path)
        status, more, body = self._answer(req, key)
        return status, {**headers, **more}, body

    def _answer(self, req: BedRequest, key: str) -> tuple[int, dict[str, str], Any]:
        hang = self._take_hang(req.method, key)
        if hang is not None:
            self._released.wait(hang.seconds)
        fault = self._take_fault(req.method, key)
        if fault is not None:
            body = fault.body if fault.body is not None else arm.error_for_status(fault.status, req.method, req.path)
            return fault.status, dict(fault.headers), body

        with self._lock:
            handler = self._routes.get((req.method, key))
            lro = self._lros.get(key) if req.method == "POST" else None
            operation = self._operations.get(key)
            entry = self._store.get(key)
        if handler is not None:
            return handler(req)
        if lro is not None:
            return self._start_operation(req, *lro)
        if operation is not None and req.method == "GET":
            return self._poll_operation(req, key, operation)
        if req.method != "GET":
            if entry is not None:
                return 405, {}, arm.error_for_status(405, req.method, req.path)
            return 404, {}, arm.not_found(req.path)
        if entry is None:
            return 404, {}, arm.not_found(req.path)
        if isinstance(entry, _Static):
            return entry.status, dict(entry.headers), entry.body
        if isinstance(entry, _Collection):
            return self._page(req, entry.path, entry.items, entry.page_size, entry.next_link_base)
        return self._list_resources(req, entry)

    def _page(self, req: BedRequest, path: str, items: list, page_size: int | None, base: str | None = None):
        try:
            start = int(req.param(SKIPTOKEN, "0") or 0)
        except ValueError:
            return 400, {}, arm.error_body("InvalidSkipToken", "The $skiptoken is not valid.")
        if not page_size:
            return 200, {}, {"value": items}
        page = items[start : start + page_size]
        body: dict[str, Any] = {"value": page}
        if start + page_size < len(items):
            query = {k: v for k, v in req.query.items() if k.lower() != SKIPTOKEN}
            query[SKIPTOKEN] = str(start + page_size)
            body["nextLink"] = f"{base or self.url}{path}?{urlencode(query, safe='$')}"
        return 200, {}, body

    def _list_resources(self, req: BedRequest, entry: _Resources):
        items = entry.items
        flt = req.param("$filter")
        if flt is not None:
            match = _FILTER.match(flt)
            if not match:
                return (
                    400,
                    {},
                    arm.error_body(
                        "InvalidFilterInQueryString",
                        f"Invalid $filter '{flt}' specified in the query string. "
                        "The test bed supports only resourceType eq '<type>'.",
                    ),
                )
            wanted = match.group(1).lower()
            items = [i for i in items if str(i.get("type", "")).lower() == wanted]
        expand = [e.strip().lower() for e in (req.param("$expand") or "").split(",")]
        if "createdtime" not in expand:
            items = [{k: v for k, v in i.items() if k not in ("createdTime", "changedTime")} for i in items]
        return self._page(req, req.path, items, entry.page_size)

    def _operation_location(self, op_id: str, req: BedRequest, base: str | None = None) -> str:
        return f"{base or self.url}/operations/{op_id}?{urlencode({'api-version': req.param('api-version')})}"

    def _start_operation(self, req: BedRequest, result_body: Any, polls: int, never_completes: bool, result_status: int,
                         status_base: str | None, status_header: str, retry_after: str):
        op_id = str(uuid.uuid4())
        op = _Operation(result_body, polls, never_completes, result_status, status_base, status_header, retry_after)
        with self._lock:
            self._operations[arm.normalize(f"/operations/{op_id}")] = op
        return 202, self._status_headers(op_id, req, op), None

    def _status_headers(self, op_id: str, req: BedRequest, op: _Operation) -> dict[str, str]:
        headers = {"Location": self._operation_location(op_id, req), "Retry-After": op.retry_after}
        headers[op.status_header] = self._operation_location(op_id, req, op.status_base)
        return headers

    def _poll_operation(self, req: BedRequest, key: str, op: _Operation):
        with self._lock:
            done = not op.never_completes and op.polls_left <= 0
            if not done:
                op.polls_left -= 1
        if done:
            return op.result_status, {}, op.result_body
        op_id = key.rsplit("/", 1)[-1]
        return 202, self._status_headers(op_id, req, op), None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    bed: ArmTestBed
    origin: ForeignOrigin | None = None  # set on the foreign origin's server

    def handle_error(self, request, client_address):  # noqa: D401 - quiet, but remember real bugs
        import sys
        import traceback

        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError)):
            return  # client went away (timeouts, closed pools): normal in tests
        self.bed.errors.append(traceback.format_exc())


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like ARM; every answer carries Content-Length
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle + delayed ACK
        # add ~40 ms to every response and would swamp the latency knob.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.bed._lock:
            self.server.bed._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.bed._lock:
                self.server.bed._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # the request log replaces stderr noise
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        bed = self.server.bed
        foreign = self.server.origin
        started = time.monotonic()
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        path = arm.scope_of(split.path)
        received = {k.lower(): v for k, v in self.headers.items()}
        status = 500
        if foreign is None:
            bed._enter(self.command, path)
        try:
            raw = self._read_body()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            req = BedRequest(
                method=self.command,
                path=path,
                query=query,
                headers=received,
                body=raw,
                json=parsed,
            )
            try:
                status, headers, body = bed._respond(req, authenticate=foreign is None)
            except Exception:  # a bug in the bed or a route handler: say so loudly
                import traceback

                bed.errors.append(traceback.format_exc())
                status, headers, body = 500, {}, arm.error_body("InternalServerError", "armbed handler crashed")
            if bed.latency:
                bed._released.wait(bed.latency)
        finally:
            # Logged before the answer is written, so a client that has its response can
            # already see its request in bed.requests.
            record = RequestRecord(self.command, arm.normalize(path), query, status, started, time.monotonic(), received)
            if foreign is None:
                bed._leave(record)
            else:
                foreign._record(record)
        self._write(status, headers, body)

    def _write(self, status: int, headers: dict[str, str], body: Any) -> None:
        if isinstance(body, Streamed):
            self._write_streamed(status, headers, body)
            return
        if body is None:
            payload, ctype = b"", None
        elif isinstance(body, bytes):
            payload, ctype = body, "application/octet-stream"
        elif isinstance(body, str):
            payload, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            payload, ctype = json.dumps(body).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        if ctype and not any(k.lower() == "content-type" for k in headers):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _write_streamed(self, status: int, headers: dict[str, str], body: Streamed) -> None:
        """Piece by piece, `body.interval` apart; stops when the bed stops or the client goes away."""
        released = self.server.bed._released
        chunked = body.content_length is None
        self.close_connection = True  # a body cut short leaves nothing to reuse
        self.send_response(status)
        self.send_header("Content-Type", body.content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(body.content_length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for piece in body.pieces():
                if body.interval and released.wait(body.interval):
                    return
                if released.is_set():
                    return
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client stopped reading (as moediag does at its cap or deadline)
            return

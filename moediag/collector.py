"""Collects facts once each, concurrently, live from Azure or replayed from a snapshot.

Memoisation is by key (fact name plus arguments). A key is computed by whichever thread claims it first:
a prefetch worker, or a check or fact that needs it before any worker got there (computed inline, so a
bounded pool can never deadlock on nested needs). Everyone else waits on the same entry, never longer
than the run's deadline.

Several collectors (one per workspace of a fleet scan) may share one `SharedFacts` memo: facts registered
`shared=True` (identified by their arguments alone, such as a private DNS zone's links) are then read once for
all of them, keyed case-insensitively (Azure ids and DNS names compare so). A fact that is the workspace's but
reads a resource several workspaces may share (its Key Vault, registry, storage account) reads it through
`read_once(key, read)`: once per run by that resource's id, whatever workspace or subscription asks. Without a
shared memo, every fact is memoised per collector, as for a single target.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moediag.errors import FactError
from moediag.facts import FACTS, load_all
from moediag.target import Options, Target
from moediag.threads import DaemonPool

log = logging.getLogger("moediag.collector")

Key = tuple[str, ...]


def key_text(key: Key) -> str:
    """The snapshot's name for a key: `name` or `name|arg1|arg2`."""
    return "|".join(key)


@dataclass
class _Entry:
    done: threading.Event = field(default_factory=threading.Event)
    claimed: bool = False
    value: Any = None
    error: FactError | None = None
    key: Key | None = None  # as the first reader named it (a shared memo's key is lower-cased): what a snapshot says


def _lowered(key: Key) -> Key:
    """A shared fact's key in a fleet's memo: its arguments (ids, names) lower-cased, as Azure compares them."""
    return (key[0], *(arg.lower() for arg in key[1:]))


class SharedFacts:
    """One memo for the `shared` facts of several collectors (the workspaces of a fleet scan)."""

    def __init__(self) -> None:
        self.entries: dict[Key, _Entry] = {}
        self.lock = threading.Lock()

    def recorded(self) -> dict[str, Any]:
        """Every stored shared fact, read once for the whole scan, in the snapshot's `facts` shape."""
        with self.lock:
            items = list(self.entries.items())
        return recorded(items)


def recorded(items: list[tuple[Key, _Entry]]) -> dict[str, Any]:
    """Memo entries in the snapshot's `facts` shape: each read (non-derived) fact's value or error."""
    out: dict[str, Any] = {}
    for key, entry in sorted(items):
        spec = FACTS.get(key[0])  # None: a `read_once` read, recorded as the workspace's fact that made it
        if spec is None or not entry.done.is_set() or spec.derived:
            continue
        out[key_text(entry.key or key)] = ({"error": entry.error.to_json()} if entry.error is not None
                                           else {"value": entry.value})
    return out


def _settle(key: Key, entry: _Entry, produce: Callable[[], Any],
            explained: Callable[[FactError], FactError] = lambda exc: exc) -> None:
    """Fill `entry` with what `produce()` gives or the error it raises, then release everyone waiting on it. A bug
    (any other exception) is this read's `crashed` error, never the end of the run."""
    try:
        entry.value = produce()
    except FactError as exc:
        entry.error = explained(exc)
    except Exception as exc:
        log.debug("read %s crashed", key_text(key), exc_info=True)
        entry.error = FactError("crashed", f"{key_text(key)}: {type(exc).__name__}: {exc}")
    finally:
        entry.done.set()


class Collector:
    def __init__(
        self,
        target: Target,
        options: Options,
        *,
        arm: Any = None,
        dns: Any = None,
        snapshot: dict[str, Any] | None = None,
        workers: int = 32,
        deadline: float | None = None,
        shared: SharedFacts | None = None,
    ):
        load_all()
        self.target = target
        self.options = options
        self._arm = arm
        self._dns = dns
        self._snapshot = snapshot
        self._lowered_keys: dict[str, str] | None = None
        self._entries: dict[Key, _Entry] = {}
        self._lock = threading.Lock()
        self._shared = shared
        self._workers = workers
        self._pools: dict[str, DaemonPool] = {}  # one per FactSpec.pool, made on first use
        self.deadline = deadline if deadline is not None else time.monotonic() + options.timeout_s
        self.interrupted = threading.Event()

    # --- what facts use ----------------------------------------------------------------------

    @property
    def arm(self) -> Any:
        if self._arm is None:
            raise FactError("not_in_snapshot", "Resource Manager is not reachable in this run")
        return self._arm

    @property
    def dns(self) -> Any:
        if self._dns is None:
            raise FactError("not_in_snapshot", "DNS is not queried in this run")
        return self._dns

    def get(self, name: str, *args: str) -> Any:
        """The fact's value, or FactError with the reason it could not be read."""
        key = (name, *args)
        while True:
            entry, mine = self._claim(key)
            if mine:
                self._compute(key, entry)
            elif not self._wait(entry):  # another thread's read: a Ctrl-C is `interrupted` here as for the reader
                raise self._not_waited(key)
            if entry.error is not None:
                if not mine and self._cut_for_another(key, entry):
                    continue  # another workspace's budget ended that read: read it again within this one's
                raise entry.error
            return entry.value

    def try_get(self, name: str, *args: str) -> tuple[Any, FactError | None]:
        try:
            return self.get(name, *args), None
        except FactError as exc:
            return None, exc

    def gather(self, keys: Iterable[Key]) -> list[tuple[Any, FactError | None]]:
        """Several facts at once: all are started in parallel, then awaited in order."""
        keys = list(keys)
        self.prefetch(keys)
        return [self.try_get(*key) for key in keys]

    def read_once(self, key: Key, read: Callable[[], Any]) -> Any:
        """`read()` once per run for `key` (a kind of read and a resource id: `("keyvault", <id>)`) when a fleet
        shares a memo, whichever workspace asks first; the others wait for it (never past the deadline). Alone,
        simply `read()`: the fact around it is memoised already."""
        if self._shared is None:
            return read()
        key = ("@read", *(part.lower() for part in key))
        while True:
            with self._shared.lock:
                entry = self._shared.entries.get(key)
                if entry is None or (entry.done.is_set() and self._timed_out_elsewhere(entry)):
                    entry = self._shared.entries[key] = _Entry()
                mine, entry.claimed = not entry.claimed, True
            if mine:
                _settle(key, entry, read)
            elif not self._wait(entry):
                raise self._not_waited(key)
            if entry.error is not None:
                if not mine and self._timed_out_elsewhere(entry):
                    continue  # another workspace's budget ended that read: read it again within this one's
                raise entry.error
            return entry.value

    def prefetch(self, keys: Iterable[Key]) -> None:
        for key in keys:
            entries, lock, at = self._memo(key)
            with lock:
                if at in entries:
                    continue
                entry = entries[at] = _Entry(key=key)
            self._pool_for(key[0]).submit(lambda key=key, entry=entry: self._run_if_unclaimed(key, entry))

    # --- snapshot ----------------------------------------------------------------------------

    def recorded(self) -> dict[str, Any]:
        """Every stored (non-derived) fact of this collector, in the snapshot's `facts` shape."""
        with self._lock:
            items = list(self._entries.items())
        return recorded(items)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown()

    def _pool_for(self, fact_name: str) -> DaemonPool:
        spec = FACTS.get(fact_name)
        name = spec.pool if spec else "arm"
        with self._lock:
            if name not in self._pools:
                self._pools[name] = DaemonPool(self._workers, name=f"moediag-{name}")
            return self._pools[name]

    # --- internals ---------------------------------------------------------------------------

    def _memo(self, key: Key) -> tuple[dict[Key, _Entry], threading.Lock, Key]:
        """Where `key` is memoised, and under which key: the shared memo for a shared fact of a fleet scan (its
        arguments lower-cased: one zone or VNet named with two casings is one read), else this collector's."""
        spec = FACTS.get(key[0])
        if self._shared is not None and spec is not None and spec.shared:
            return self._shared.entries, self._shared.lock, _lowered(key)
        return self._entries, self._lock, key

    def _cut_for_another(self, key: Key, entry: _Entry) -> bool:
        """A shared read that timed out under another workspace's budget (each workspace of a scan has its own,
        from when it started) while this collector still has time: not this workspace's answer."""
        return self._memo(key)[0] is not self._entries and self._timed_out_elsewhere(entry)

    def _timed_out_elsewhere(self, entry: _Entry) -> bool:
        error = entry.error
        return error is not None and error.kind == "timed_out" and time.monotonic() < self.deadline

    def _claim(self, key: Key) -> tuple[_Entry, bool]:
        entries, lock, at = self._memo(key)
        with lock:
            entry = entries.get(at)
            if entry is None or (entry.done.is_set() and self._cut_for_another(key, entry)):
                entry = entries[at] = _Entry(key=key)
            if entry.claimed:
                return entry, False
            entry.claimed = True
            return entry, True

    def _not_waited(self, key: Key) -> FactError:
        if self.interrupted.is_set():
            return FactError("interrupted", f"{key_text(key)}: collection was interrupted")
        return FactError("timed_out", f"{key_text(key)}: not collected before the run's deadline")

    def _wait(self, entry: _Entry) -> bool:
        """Wait for another thread's read, giving up at the deadline or on Ctrl-C."""
        while not entry.done.is_set():
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or self.interrupted.is_set():
                return False
            entry.done.wait(min(0.1, remaining))
        return True

    def _run_if_unclaimed(self, key: Key, entry: _Entry) -> None:
        with self._memo(key)[1]:
            if entry.claimed:
                return
            entry.claimed = True
        self._compute(key, entry)

    def _compute(self, key: Key, entry: _Entry) -> None:
        def produce() -> Any:
            if self.interrupted.is_set():
                raise FactError("interrupted", f"{key_text(key)}: collection was interrupted")
            if time.monotonic() > self.deadline:
                raise FactError("timed_out", f"{key_text(key)}: the run's deadline passed before it was read")
            return self._produce(key)

        _settle(key, entry, produce, lambda exc: self._explained(key, exc))

    @staticmethod
    def _explained(key: Key, error: FactError) -> FactError:
        """A 403 names the actions this fact needs and a built-in role that grants them."""
        if error.kind != "forbidden" or "granted by the built-in" in error.message:
            return error
        from moediag.permissions import missing_permission_hint

        hint = missing_permission_hint(FACTS[key[0]].permissions)
        if hint:
            return FactError(error.kind, f"{error.message} — {hint}", status=error.status, resource_id=error.resource_id)
        return error

    def _snapshot_keys(self) -> dict[str, str]:
        """The snapshot's keys by their lower-cased text (built on the first fact not found as named)."""
        if self._lowered_keys is None:
            self._lowered_keys = {text.lower(): text for text in self._snapshot or {}}
        return self._lowered_keys

    def _produce(self, key: Key) -> Any:
        spec = FACTS.get(key[0])
        if spec is None:
            raise FactError("crashed", f"unknown fact {key[0]!r}")
        if self._snapshot is not None and not spec.derived:
            stored = self._snapshot.get(key_text(key))
            if stored is None and spec.shared:  # recorded as another workspace named it (another casing)
                stored = self._snapshot.get(self._snapshot_keys().get(key_text(key).lower(), ""))
            if stored is None:
                raise FactError("not_in_snapshot", f"{key_text(key)} was not collected when the snapshot was taken")
            if "error" in stored:
                raise FactError.from_json(stored["error"])
            return stored.get("value")
        return spec.fn(self, *key[1:])

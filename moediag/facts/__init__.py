"""Facts: the evidence checks reason about, each read once per run.

A fact is a function `fn(src, *args) -> JSON value` (`src`: a `Source`, the run's collector), registered under a
name with the Azure actions its read needs and the other facts it builds on. `derived` facts only combine other
facts (no I/O): they are recomputed on replay rather than stored in snapshots. `shared` facts are identified by
their arguments alone (an ARM id, a host name) and never read `src.target`: a fleet scan reads each once for every workspace that
needs it (one private DNS zone serves many workspaces). Alone, a collector treats them like any other fact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol


class Source(Protocol):
    """What a fact provider reads through (the run's collector): the target and options, other facts (memoised,
    concurrent) and the run's doors to Resource Manager and DNS. Checks never see it: they get a CheckContext,
    which reads only the facts they declared."""

    target: Any
    options: Any

    @property
    def arm(self) -> Any: ...

    @property
    def dns(self) -> Any: ...

    def get(self, name: str, *args: str) -> Any: ...

    def try_get(self, name: str, *args: str) -> tuple[Any, Any]: ...

    def gather(self, keys: Iterable[tuple[str, ...]]) -> list[tuple[Any, Any]]: ...

    def prefetch(self, keys: Iterable[tuple[str, ...]]) -> None: ...

    def read_once(self, key: tuple[str, ...], read: Callable[[], Any]) -> Any: ...


@dataclass(frozen=True)
class FactSpec:
    name: str
    fn: Callable[..., Any]
    permissions: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    derived: bool = False
    description: str = ""
    shared: bool = False
    pool: str = "arm"  # which worker pool reads it: DNS queries must not queue behind hundreds of ARM reads


FACTS: dict[str, FactSpec] = {}


def fact(name: str, *, permissions: tuple[str, ...] = (), needs: tuple[str, ...] = (), derived: bool = False,
         shared: bool = False, pool: str = "arm"):
    """Register a fact provider under `name` (`shared`: its arguments fully identify what it reads)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in FACTS:
            raise ValueError(f"fact {name!r} registered twice")
        FACTS[name] = FactSpec(name, fn, tuple(permissions), tuple(needs), derived, (fn.__doc__ or "").strip(), shared,
                               pool)
        return fn

    return register


def permissions_of(fact_names: tuple[str, ...] | list[str]) -> list[str]:
    """Actions needed to read these facts and every fact they build on."""
    load_all()
    seen: set[str] = set()
    actions: set[str] = set()
    stack = list(fact_names)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = FACTS[name]
        actions.update(spec.permissions)
        stack.extend(spec.needs)
    return sorted(actions)


_loaded = False


def load_all() -> None:
    """Import the fact modules (cheap: they import no SDK at module level)."""
    global _loaded
    if _loaded:
        return
    from moediag.facts import (  # noqa: F401
        dns,
        endpoints,
        hub,
        network,
        operations,
        readiness,
        resolvers,
        roles,
        storage,
        subnets,
        vnets,
        workspace,  # registration
    )

    _loaded = True

"""How a check is declared, and what it sees while it runs.

A check is a pure function of facts: `evaluate(ctx)` yields `Result`s, one per resource it judges.
It reads evidence only through `ctx.fact(...)` / `ctx.gather(...)` (names it declared), so it does no
I/O itself, replays offline, and its permissions are known from its facts.

    @check(id="workspace.v1-legacy-mode", title=..., severity="high", scope="workspace",
           facts=("workspace",), doc=Doc(what=..., why=..., fix=...))
    def evaluate(ctx):
        ws = ctx.fact("workspace")
        yield ctx.passed(ctx.workspace_id, "v1 legacy mode is off", expected=False, observed=False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moediag.errors import FactError
from moediag.model import Fix, Reason, Result, Status

SEVERITIES = ("critical", "high", "medium", "low", "info")
SCOPES = ("workspace", "endpoint", "deployment")


@dataclass(frozen=True)
class Example:
    """Evidence a check reads (the fields that matter, as Azure sends them) and the verdict it gets."""

    evidence: Any
    verdict: str  # "<status>: <what the check says>", e.g. "fail: Key Vault kv denies by default ..."


@dataclass(frozen=True)
class Doc:
    """The documentation contract every check fulfils (rendered by `explain` and docs/checks/)."""

    what: str
    why: str
    fix: str
    run_from: str = "Anywhere with Reader access: only Resource Manager is read."
    links: tuple[str, ...] = ()
    examples: tuple[Example, ...] = ()  # at least one that does not pass (tests/test_docs.py)


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: str
    scope: str
    facts: tuple[str, ...]
    doc: Doc
    evaluate: Callable[[CheckContext], Iterable[Result]]
    depends_on: tuple[str, ...] = ()
    extra_permissions: tuple[str, ...] = ()
    origin: str = ""
    # The diagnosis (moediag.diagnosis): which failures explain this check's findings, where on a path they sit,
    # and how risky its fix is (safe, disruptive, destructive).
    explained_by: tuple[Any, ...] = ()
    hops: tuple[str, ...] = ()
    fix_risk: str = "safe"

    @property
    def permissions(self) -> list[str]:
        from moediag.facts import permissions_of

        return sorted(set(permissions_of(self.facts)) | set(self.extra_permissions))

    @property
    def docs_path(self) -> str:
        """Its page in this release's documentation (an absolute URL: reports travel in tickets)."""
        from moediag.links import docs_url

        return docs_url(f"checks/{self.id}.md")


def check(
    *,
    id: str,
    title: str,
    severity: str,
    scope: str,
    facts: tuple[str, ...],
    doc: Doc,
    depends_on: tuple[str, ...] = (),
    extra_permissions: tuple[str, ...] = (),
    explained_by: tuple[Any, ...] = (),
    hops: tuple[str, ...] = (),
    fix_risk: str = "safe",
) -> Callable[[Callable[[CheckContext], Iterable[Result]]], Check]:
    """Declare a check. `explained_by`: check ids (or `diagnosis.Cause`s with a condition) whose failures explain
    this check's findings; `hops`: `scoring:NAME` / `deployment:NAME` hops of moediag.diagnosis.PATHS."""
    from moediag.diagnosis import PATHS, RISKS, Cause

    if severity not in SEVERITIES:
        raise ValueError(f"{id}: severity must be one of {SEVERITIES}")
    if scope not in SCOPES:
        raise ValueError(f"{id}: scope must be one of {SCOPES}")
    if fix_risk not in RISKS:
        raise ValueError(f"{id}: fix_risk must be one of {RISKS}")
    for hop in hops:
        kind, _, name = hop.partition(":")
        if name not in PATHS.get(kind, ()):
            raise ValueError(f"{id}: unknown hop {hop!r}")
    causes = tuple(c if isinstance(c, Cause) else Cause(c) for c in explained_by)

    def wrap(fn: Callable[[CheckContext], Iterable[Result]]) -> Check:
        return Check(id, title, severity, scope, tuple(facts), doc, fn, tuple(depends_on),
                     tuple(extra_permissions), origin=fn.__module__, explained_by=causes, hops=tuple(hops),
                     fix_risk=fix_risk)

    return wrap


class UndeclaredFact(Exception):
    """A check read a fact it did not declare: its permission list would be wrong."""


@dataclass
class CheckContext:
    """What a running check sees: the target, the options, and the facts it declared."""

    check: Check
    collector: Any
    prior: dict[str, list[Result]] = field(default_factory=dict)

    @property
    def target(self):
        return self.collector.target

    @property
    def options(self):
        return self.collector.options

    @property
    def workspace_id(self) -> str:
        return self.target.workspace_id

    @property
    def cloud(self):
        """The run's Azure cloud (a moediag.clouds.Cloud): every zone and host name a check expects or names."""
        from moediag.clouds import cloud_of

        return cloud_of(self.options)

    def fact(self, name: str, *args: str) -> Any:
        """The fact's value; raises FactError (which the runner reports as `error`) when unreadable."""
        self._declared(name)
        return self.collector.get(name, *args)

    def try_fact(self, name: str, *args: str) -> tuple[Any, FactError | None]:
        self._declared(name)
        return self.collector.try_get(name, *args)

    def gather(self, name: str, args_list: Iterable[tuple[str, ...]]) -> list[tuple[Any, FactError | None]]:
        """The same fact for several arguments, read in parallel: [(value, error), ...] in order."""
        self._declared(name)
        return self.collector.gather([(name, *args) for args in args_list])

    def prefetch(self, name: str, args_list: Iterable[tuple[str, ...]]) -> None:
        """Start reading facts the check will need later, so independent reads overlap (a hint: facts the
        check did not declare are left alone)."""
        if name in self.check.facts:
            self.collector.prefetch([(name, *args) for args in args_list])

    def _declared(self, name: str) -> None:
        if name not in self.check.facts:
            raise UndeclaredFact(f"check {self.check.id} reads fact {name!r} without declaring it")

    # --- results -----------------------------------------------------------------------------

    def result(self, status: Status, resource_id: str | None, message: str, **kw: Any) -> Result:
        fix = kw.pop("fix", None)
        if isinstance(fix, tuple):  # (summary, commands) or (summary, commands, risk)
            fix = Fix(fix[0], list(fix[1]), *fix[2:])
        return Result(self.check.id, status, message, resource_id=resource_id, fix=fix, **kw)

    def passed(self, resource_id: str | None, message: str, **kw: Any) -> Result:
        return self.result(Status.PASS, resource_id, message, **kw)

    def failed(self, resource_id: str | None, message: str, **kw: Any) -> Result:
        return self.result(Status.FAIL, resource_id, message, **kw)

    def warned(self, resource_id: str | None, message: str, **kw: Any) -> Result:
        return self.result(Status.WARN, resource_id, message, **kw)

    def skipped(self, resource_id: str | None, message: str, reason: str = Reason.NOT_APPLICABLE, **kw: Any) -> Result:
        return self.result(Status.SKIP, resource_id, message, reason=reason, **kw)

    def errored(self, resource_id: str | None, error: FactError | str, reason: str | None = None, **kw: Any) -> Result:
        """Evidence for this resource could not be read: never a pass."""
        if isinstance(error, FactError):
            return self.result(Status.ERROR, resource_id, error.message, reason=reason or error.kind, **kw)
        return self.result(Status.ERROR, resource_id, error, reason=reason or Reason.UNREADABLE, **kw)

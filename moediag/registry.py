"""The check registry: every check installed under the entry-point group `moediag.checks`.

An entry point may name a Check, a list of Checks, or a module (all Checks defined in it, and for a
package, in its modules). moediag's own checks register the same way (`builtin = moediag.checks`), so a
team's package of extra checks is a peer, not a plug-in of lesser rank.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from types import ModuleType

from moediag.check import Check

GROUP = "moediag.checks"
BUILTIN = "moediag.checks"


class RegistryError(Exception):
    pass


def _checks_in(obj: object) -> list[Check]:
    if isinstance(obj, Check):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [c for item in obj for c in _checks_in(item)]
    if isinstance(obj, ModuleType):
        found = [v for v in vars(obj).values() if isinstance(v, Check)]
        if hasattr(obj, "__path__"):  # a package: its modules, one check per file
            for info in sorted(pkgutil.iter_modules(obj.__path__), key=lambda m: m.name):
                name = f"{obj.__name__}.{info.name}"
                found.extend(_checks_in(_safe(name, lambda name=name: importlib.import_module(name))))
        return found
    return []


# Entry points (or built-in modules) that failed to import: reported as `error` results, never silently
# dropped, so a broken plug-in cannot make a run look complete.
LOAD_ERRORS: list[str] = []


def _safe(origin: str, load) -> object:
    try:
        return load()
    except Exception as exc:
        LOAD_ERRORS.append(f"checks from {origin} could not be loaded: {type(exc).__name__}: {exc}")
        return None


def _entry_point_objects() -> Iterable[tuple[str, object]]:
    from importlib.metadata import entry_points

    seen_builtin = False
    for ep in entry_points(group=GROUP):
        seen_builtin |= ep.value.split(":")[0] == BUILTIN
        yield ep.value, _safe(ep.value, ep.load)
    if not seen_builtin:  # running from a source tree without installed metadata
        yield BUILTIN, _safe(BUILTIN, lambda: importlib.import_module(BUILTIN))


_cache: dict[str, Check] | None = None


def all_checks() -> dict[str, Check]:
    """Every registered check by id, in id order; duplicate ids are a packaging error."""
    global _cache
    if _cache is None:
        checks: dict[str, Check] = {}
        for _origin, obj in _entry_point_objects():
            for chk in _checks_in(obj):
                if chk.id in checks and checks[chk.id] is not chk:
                    raise RegistryError(f"check id {chk.id!r} is registered twice ({checks[chk.id].origin}, {chk.origin})")
                checks[chk.id] = chk
        _cache = dict(sorted(checks.items()))
    return _cache


def matches(check_id: str, patterns: Iterable[str]) -> bool:
    """`dns` matches dns.*, `workspace.` matches workspace.*, a full id matches itself."""
    for pattern in patterns:
        p = pattern.strip().lower()
        if not p:
            continue
        cid = check_id.lower()
        if cid == p or cid.startswith(p.rstrip(".") + "."):
            return True
    return False


def did_you_mean(text: str, checks) -> str:
    """`; did you mean a, b?` with the closest check ids (or their dotted prefixes), or nothing."""
    import difflib

    candidates = sorted(set(checks) | {cid.split(".", 1)[0] for cid in checks})
    close = difflib.get_close_matches(text.strip().lower(), candidates, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


def lookup(check_id: str) -> Check:
    """The check of exactly this id (`explain`); a UsageError naming the closest ids for any other."""
    from moediag.errors import UsageError

    checks = all_checks()
    if check_id not in checks:
        raise UsageError(f"unknown check {check_id!r}{did_you_mean(check_id, checks)} (see `moediag list`)")
    return checks[check_id]


def listing() -> list[dict[str, str]]:
    """Every check as `moediag list -o json` shows it: id, severity, scope, title."""
    return [{"id": c.id, "severity": c.severity, "scope": c.scope, "title": c.title} for c in all_checks().values()]


def select(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[Check]:
    """The checks to run. Unknown patterns are a usage error (a typo must not silently run nothing)."""
    from moediag.errors import UsageError

    checks = all_checks()
    select, ignore = list(select), list(ignore)
    for pattern in select + ignore:
        if not any(matches(cid, [pattern]) for cid in checks):
            raise UsageError(f"no check matches {pattern!r}{did_you_mean(pattern, checks)} (see `moediag list`)")
    chosen = [c for cid, c in checks.items() if (not select or matches(cid, select)) and not matches(cid, ignore)]
    return chosen

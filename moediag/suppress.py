"""Suppressions: accepted risks, listed in `moediag.toml` (working directory) or the file given with `--config`.

    [[suppress]]
    check = "keyvault.trusted-services-bypass"              # a check id (or id prefix, as for --ignore)
    resource = "/subscriptions/.../vaults/kv-ws-prod"       # optional: only this resource (case-insensitive)
    reason = "accepted by SEC-1234"                         # required: why the risk is accepted
    expires = 2027-01-31                                    # optional: last day it applies

The same file may name the client networks whose scoring path network.client-vnet-path analyses (as
`--client-vnet` does; both are used):

    client_vnets = ["/subscriptions/.../resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/vnet-app"]

The checks still run. Afterwards a `fail` or `warn` result that a suppression covers becomes `skip` with
reason `suppressed`; its original status (and reason, if any) and the suppression stay in its evidence
(`suppressed_status`, `suppressed_reason`, `suppression`). An `error` is never suppressed (a check that
could not look at the resource has not found the accepted risk), and a `pass` stays a pass. A suppression
past its `expires` day applies no more: the result keeps its status and the report's notes say it expired.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moediag.errors import UsageError

DEFAULT_FILE = "moediag.toml"
SUPPRESSED = "suppressed"
_KEYS = {"check", "resource", "reason", "expires"}
_SUPPRESSIBLE = ("fail", "warn")


@dataclass(frozen=True)
class Suppression:
    check: str
    reason: str
    resource: str | None = None
    expires: dt.date | None = None
    source: str = DEFAULT_FILE

    def about(self, check_id: str) -> bool:
        from moediag.registry import matches

        return matches(check_id, [self.check])

    def covers(self, result: dict[str, Any]) -> bool:
        from moediag.resource_id import same

        return self.about(result["check_id"]) and (self.resource is None or same(self.resource, result["resource_id"]))

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        where = f" for {self.resource}" if self.resource else ""
        return f"suppression of {self.check}{where} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "resource": self.resource, "reason": self.reason,
                "expires": self.expires.isoformat() if self.expires else None, "source": self.source}


@dataclass(frozen=True)
class Config:
    """What moediag.toml holds: suppressions, and client VNet ids (checked by moediag.arguments.client_vnets)."""

    suppressions: list[Suppression]
    client_vnets: tuple[str, ...] = ()


def load(path: str | None, cwd: Path | None = None) -> list[Suppression]:
    """The suppressions of `--config PATH` (must exist), else of ./moediag.toml if there is one."""
    return load_config(path, cwd).suppressions


def load_config(path: str | None, cwd: Path | None = None) -> Config:
    """All of `--config PATH` (must exist), else of ./moediag.toml if there is one."""
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_FILE
        if not candidate.is_file():
            return Config([])
        path = str(candidate)
        shown = DEFAULT_FILE
    else:
        shown = path
    from moediag.inputs import read_text

    return parse_config(read_text(path, f"config {shown}"), shown)


def parse(text: str, source: str = DEFAULT_FILE) -> list[Suppression]:
    return parse_config(text, source).suppressions


def parse_config(text: str, source: str = DEFAULT_FILE) -> Config:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    from moediag.inputs import MAX_DEPTH, too_deep

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config {source} is not valid TOML: {exc}") from exc
    except RecursionError:
        raise UsageError(f"config {source} is nested too deeply to read") from None
    if too_deep(data, MAX_DEPTH):
        raise UsageError(f"config {source} is nested more than {MAX_DEPTH} levels deep")
    unknown = sorted(set(data) - {"suppress", "client_vnets"})
    if unknown:
        raise UsageError(f"config {source}: unknown setting {unknown[0]!r} (moediag.toml holds [[suppress]] entries "
                         "and client_vnets)")
    entries = data.get("suppress", [])
    if not isinstance(entries, list):
        raise UsageError(f"config {source}: 'suppress' must be a list of [[suppress]] tables")
    vnets = data.get("client_vnets", [])
    if not isinstance(vnets, list) or not all(isinstance(v, str) for v in vnets):
        raise UsageError(f"config {source}: 'client_vnets' must be a list of virtual network ids")
    from moediag.arguments import vnet_id

    vnets = tuple(vnet_id(v, f"client_vnets entry in config {source}:") for v in vnets)
    return Config([_entry(entry, f"config {source}: suppress entry {i + 1}", source) for i, entry in enumerate(entries)],
                  vnets)


def _entry(entry: Any, where: str, source: str) -> Suppression:
    from moediag.registry import all_checks, matches

    if not isinstance(entry, dict):
        raise UsageError(f"{where} must be a table")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
    check, reason, resource, expires = (entry.get(k) for k in ("check", "reason", "resource", "expires"))
    if not isinstance(check, str) or not check.strip():
        raise UsageError(f"{where}: 'check' (a check id) is required")
    if not any(matches(cid, [check]) for cid in all_checks()):
        from moediag.registry import did_you_mean

        raise UsageError(f"{where}: no check matches {check!r}{did_you_mean(check, all_checks())} (see `moediag list`)")
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError(f"{where}: 'reason' is required (why is the risk accepted?)")
    if resource is not None and (not isinstance(resource, str) or not resource.lower().startswith("/subscriptions/")):
        raise UsageError(f"{where}: 'resource' must be an ARM resource id (/subscriptions/...)")
    if isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            raise UsageError(f"{where}: 'expires' must be a date like 2027-01-31, not {expires!r}") from None
    if expires is not None and (not isinstance(expires, dt.date) or isinstance(expires, dt.datetime)):
        raise UsageError(f"{where}: 'expires' must be a date like 2027-01-31")
    return Suppression(check.strip(), reason.strip(), resource.strip() if resource else None, expires, source)


def apply(report: dict[str, Any], suppressions: list[Suppression], today: dt.date | None = None) -> dict[str, Any]:
    """Turn covered fail/warn results into skip/suppressed, note expired suppressions, recount the summary."""
    from moediag.report import summarize

    if not suppressions:
        return report
    today = today or dt.datetime.now(dt.timezone.utc).date()
    active = [s for s in suppressions if not s.expired(today)]
    for result in report["results"]:
        if result["status"] not in _SUPPRESSIBLE:
            continue
        rule = next((s for s in active if s.covers(result)), None)
        if rule is not None:
            _suppress(result, rule)
    ran = {r["check_id"] for r in report["results"]}
    for rule in suppressions:
        if rule.expired(today) and any(rule.about(cid) for cid in ran):
            report.setdefault("notes", []).append(f"{rule.describe()} expired on {rule.expires.isoformat()} and no longer applies")
    report["summary"] = summarize(report["results"])
    return report


def _suppress(result: dict[str, Any], rule: Suppression) -> None:
    result["evidence"]["suppressed_status"] = result["status"]
    if result.get("reason"):
        result["evidence"]["suppressed_reason"] = result["reason"]
    result["evidence"]["suppression"] = rule.to_json()
    result["message"] = f"suppressed ({rule.reason}): {result['message']}"
    result["status"], result["reason"] = "skip", SUPPRESSED

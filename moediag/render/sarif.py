"""SARIF 2.1.0, as GitHub code scanning (`github/codeql-action/upload-sarif`) and other SARIF viewers read it.

One run. `tool.driver.rules`: one rule per check the report ran (id = check id, name, title as the short
description, what it checks as the full description, the `moediag explain` page as help, the docs URL as
`helpUri` when it is an absolute URL), its severity as `defaultConfiguration.level` and as GitHub's
`security-severity`. `results`: one per `fail`, `warn` and `error` (passes and skips are not findings), and one per
suppressed finding, carried with a SARIF `suppressions` entry (`kind: external`, the moediag.toml reason as
justification), so code scanning shows it dismissed rather than gone.

Levels (GitHub shows only error, warning and note):

| moediag | SARIF level |
|---|---|
| fail, critical or high | error |
| fail, medium or low | warning |
| fail, info | note |
| warn | warning (note for an info check) |
| error (could not be evaluated) | warning, message "Could not check (reason): ..." |

An `error` is not given SARIF's `kind: open` (the state it is): with any kind but `fail` SARIF requires level
`none`, which GitHub does not show, and a check that could not look must stay visible.

Locations: the Azure resource id is the logical location (`kind: resource`, fully qualified name = the id).
GitHub rejects a result without a physical location, so each result also names a stable pseudo path, `azure/` and
the resource id in lower case (ARM ids are case-insensitive and ARM does not always spell them the same way),
each segment percent-encoded: e.g. `azure/subscriptions/<id>/resourcegroups/rg-ml/providers/microsoft.keyvault/
vaults/kv-ws-prod`. No such file is in the repository; GitHub lists the alert under that path.

`partialFingerprints["moediagFinding/v1"]`: the SHA-256 (first 32 hex digits) of the check id, the resource id
and the workspace id (both in lower case; in a check report the workspace id is built from the target, so a
`check` and a `scan` of the same workspace agree) and, when one check reports the same resource more than once,
the occurrence number. Never the message, evidence, status or a time: the same finding keeps its alert across
runs, and moves to another alert only when it is about another resource. With `--redact` the masked ids are
deterministic, so fingerprints of redacted runs are stable too.

`invocations[0]`: `exitCode` as `moediag check` exits with the default `--fail-on fail` (absent when the run was
interrupted), `executionSuccessful` false when interrupted, when a check could not be evaluated or a subscription
could not be read; the report's notes and unreadable subscriptions as tool execution notifications.

Text from the report is made inert (`moediag.render.inert`) piece by piece; square brackets in it are escaped
(`\\[`, `\\]`), so no SARIF viewer reads foreign text as an embedded link; only plain-text messages are written
(no `message.markdown`, which GitHub would render as Markdown). A pure function of the report.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from moediag import __version__
from moediag.links import PROJECT_URL
from moediag.render.inert import inert
from moediag.resource_id import last_name

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "moediagFinding/v1"
PSEUDO_ROOT = "azure"
# GitHub: over 9.0 is critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. An info check is no security finding.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
FAIL_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "warning", "info": "note"}
_FINDINGS = ("fail", "warn", "error")
_URL = re.compile(r"^https?://[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+$")  # nothing a viewer could be steered by
_BRACKET = re.compile(r"(\\*)([\[\]])")


def _plain(text: Any) -> str:
    """Foreign text for a plain-text SARIF message: inert, and no bracket left to start an embedded link (SARIF
    3.11.6: `\\[` is a literal bracket; backslashes just before one are doubled so they stay literal too)."""
    return _BRACKET.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), inert(text))


def _json(value: Any) -> str:
    return _plain(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _absolute_url(value: Any) -> str | None:
    return value if isinstance(value, str) and _URL.match(value) else None


def _name(check_id: str) -> str:
    """`keyvault.trusted-services-bypass` -> `KeyvaultTrustedServicesBypass` (SARIF's one-word rule name)."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", check_id) if part)


_PAGES: dict[tuple[str, int], str] = {}


def _page(chk: Any) -> str:
    """The check's `moediag explain` page (built once per check: a scan renders many rules)."""
    key = (chk.id, id(chk))
    if key not in _PAGES:
        from moediag.docs import render_check_doc

        _PAGES[key] = inert(render_check_doc(chk), keep="\n")
    return _PAGES[key]


def _rule(result: dict[str, Any], checks: dict[str, Any]) -> dict[str, Any]:
    check_id, severity = result["check_id"], result["severity"]
    chk = checks.get(check_id)
    rule: dict[str, Any] = {"id": inert(check_id), "name": _name(check_id),
                            "shortDescription": {"text": _plain(result["title"])}}
    if chk is not None:
        page = _page(chk)
        rule["fullDescription"] = {"text": _plain(" ".join(chk.doc.what.split()))}
        rule["help"] = {"text": page, "markdown": page}
    url = _absolute_url(result.get("docs"))
    if url:
        rule["helpUri"] = url
    rule["defaultConfiguration"] = {"level": FAIL_LEVEL.get(severity, "warning")}
    properties: dict[str, Any] = {"tags": ["azure", "azure-machine-learning", "network-isolation"],
                                  "severity": inert(severity)}
    if severity in SECURITY_SEVERITY:
        properties["tags"].insert(0, "security")
        properties["security-severity"] = SECURITY_SEVERITY[severity]
    if chk is not None:
        properties["scope"] = chk.scope
    rule["properties"] = properties
    return rule


def _workspace_id(report: dict[str, Any], result: dict[str, Any]) -> str:
    if result.get("workspace"):
        return str(result["workspace"])
    target = report.get("target") or {}
    if not target:
        return ""
    return (f"/subscriptions/{target.get('subscription_id')}/resourceGroups/{target.get('resource_group')}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{target.get('workspace')}")


def pseudo_path(resource_id: str) -> str:
    """The repository-relative path GitHub lists the alert under: `azure/` and the lower-cased id, encoded."""
    segments = [quote(s, safe="", errors="surrogatepass") for s in resource_id.lower().strip("/").split("/") if s]
    return "/".join([PSEUDO_ROOT, *segments])


def fingerprint(check_id: str, resource_id: str, workspace_id: str, occurrence: int = 1) -> str:
    parts = [check_id, resource_id.lower(), workspace_id.lower()] + ([str(occurrence)] if occurrence > 1 else [])
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _status(result: dict[str, Any]) -> str:
    """The status a finding had before a suppression turned it into a skip."""
    if result["status"] == "skip" and result.get("reason") == "suppressed":
        return str((result.get("evidence") or {}).get("suppressed_status") or "fail")
    return result["status"]


def _level(status: str, severity: str) -> str:
    if status == "fail":
        return FAIL_LEVEL.get(severity, "warning")
    return "note" if severity == "info" and status == "warn" else "warning"


def _message(result: dict[str, Any], status: str, cause: str, chk: Any) -> str:
    evidence = dict(result.get("evidence") or {})
    first = _plain(result["message"])
    if status == "error":
        first = f"Could not check ({_plain(result.get('reason') or 'error')}): {first}"
    lines = [first + cause, "", f"Resource: {_plain(result.get('resource_id') or '-')}"]
    for key in ("expected", "observed"):
        lines.append(f"{key.capitalize()}: {_json(evidence.get(key))}")
    fix = result.get("fix")
    if fix:
        risk = fix.get("risk") or getattr(chk, "fix_risk", None)
        risk = f" (risk: {_plain(risk)})" if risk else ""
        lines += ["", f"Fix{risk}: {_plain(fix['summary'])}"] + [f"  $ {_plain(c)}" for c in fix.get("commands") or []]
    return "\n".join(lines)


def _location(result: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    resource_id = result.get("resource_id") or workspace_id
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": pseudo_path(resource_id or "")},
                                                     "region": {"startLine": 1}}}
    if resource_id:
        name = last_name(resource_id)
        location["logicalLocations"] = [{"name": inert(name), "fullyQualifiedName": inert(resource_id),
                                         "kind": "resource"}]
    return location


def _suppressions(result: dict[str, Any]) -> list[dict[str, Any]]:
    rule = (result.get("evidence") or {}).get("suppression") or {}
    entry: dict[str, Any] = {"kind": "external", "status": "accepted"}
    if rule.get("reason"):
        entry["justification"] = inert(rule["reason"])
    kept = {k: inert(v) for k, v in rule.items() if k in ("check", "resource", "expires", "source") and v}
    if kept:
        entry["properties"] = kept
    return [entry]


def _results(report: dict[str, Any], rules: dict[str, int], checks: dict[str, Any]) -> list[dict[str, Any]]:
    from moediag.diagnosis import step_of
    from moediag.render.junit import caused_by

    by_id = {r.get("id"): r for r in report["results"] if r.get("id")}
    steps = step_of(report)
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for result in report["results"]:
        status = _status(result)
        if status not in _FINDINGS:
            continue
        workspace_id = _workspace_id(report, result)
        resource_id = result.get("resource_id") or ""
        key = (result["check_id"], resource_id.lower(), workspace_id.lower())
        seen[key] = seen.get(key, 0) + 1
        cause = _plain(caused_by(result, by_id, steps)) if status == "fail" else ""
        sarif: dict[str, Any] = {
            "ruleId": inert(result["check_id"]), "ruleIndex": rules[result["check_id"]],
            "level": _level(status, result["severity"]),
            "message": {"text": _message(result, status, cause, checks.get(result["check_id"]))},
            "locations": [_location(result, workspace_id)],
            "partialFingerprints": {FINGERPRINT: fingerprint(result["check_id"], resource_id, workspace_id, seen[key])},
        }
        if result["status"] == "skip":
            sarif["suppressions"] = _suppressions(result)
        properties = {"status": status, "severity": inert(result["severity"])}
        for name, key in (("reason", "reason"), ("id", "resultId"), ("workspace", "workspace")):
            if result.get(name):
                properties[key] = inert(result[name])
        sarif["properties"] = properties
        out.append(sarif)
    return out


def _invocation(report: dict[str, Any]) -> dict[str, Any]:
    from moediag.report import exit_code

    interrupted = bool(report.get("interrupted"))
    code = exit_code(report)
    complete = not (report["summary"].get("error") or report.get("unreadable_subscriptions"))
    invocation: dict[str, Any] = {"executionSuccessful": not interrupted and complete}
    if not interrupted:
        invocation["exitCode"] = code
    else:
        invocation["exitCodeDescription"] = "interrupted: the report holds what finished"
    notes = [{"level": "note", "message": {"text": _plain(note)}} for note in report.get("notes") or []]
    notes += [{"level": "error", "message": {"text": _plain(f"subscription {u.get('subscription_id')} not read: "
                                                            f"{u.get('reason')}")}}
              for u in report.get("unreadable_subscriptions") or []]
    if notes:
        invocation["toolExecutionNotifications"] = notes
    invocation["properties"] = {"mode": inert(report.get("mode") or "live"), "failOn": "fail"}
    return invocation


def sarif_log(report: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log of `report`, as a dict (render() writes it)."""
    from moediag.registry import all_checks

    checks = all_checks()
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for result in report["results"]:
        if result["check_id"] not in index:
            index[result["check_id"]] = len(rules)
            rules.append(_rule(result, checks))
    driver: dict[str, Any] = {"name": "moediag", "version": inert(report.get("tool", {}).get("version") or __version__),
                              "semanticVersion": inert(report.get("tool", {}).get("version") or __version__)}
    driver["informationUri"] = PROJECT_URL
    driver["rules"] = rules
    run: dict[str, Any] = {"tool": {"driver": driver}, "invocations": [_invocation(report)],
                           "results": _results(report, index, checks), "columnKind": "unicodeCodePoints"}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: dict[str, Any], color: bool = False) -> str:
    # One line (the C encoder: `indent=` is the pure-Python one, slow on a fleet). Every value is inert already;
    # the last pass guards the document (json.dumps escapes C0, inert the rest).
    return inert(json.dumps(sarif_log(report), ensure_ascii=False, separators=(",", ":"))) + "\n"

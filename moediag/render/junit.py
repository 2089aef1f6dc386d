"""JUnit XML, as Azure Pipelines' PublishTestResults and GitHub's test reporters read it.

One <testsuite> per check id, one <testcase> per result (classname = check id, name = the resource, as
`vaults/kv` or `workspaces/ws/onlineEndpoints/ep`): a `fail` is a <failure> whose message carries the fix,
an `error` (could not be evaluated) an <error>, a `skip` a <skipped>; a `warn` passes as a test, with the
warning in <system-out>. A scan report's cases are named `resource-group/workspace: resource`. A pure function
of the report: no clock, no host name.

Text from the report is made inert (`moediag.render.inert`) piece by piece, so CI pages show escapes, not the
control sequences a log carried; that also keeps out every character XML 1.0 forbids (C0 controls, lone
surrogates, U+FFFE/U+FFFF), and a last pass over the document guarantees it.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from moediag.render.inert import inert
from moediag.report import resource_label

# Characters XML 1.0 cannot carry at all: the last guard, should any reach the document without passing `inert`.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def _json(value: Any, **kw: Any) -> str:
    return inert(json.dumps(value, ensure_ascii=False, **kw))


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _details(result: dict[str, Any]) -> str:
    """The body of a failure/error/skipped element: what a pipeline shows as the "stack trace"."""
    evidence = dict(result.get("evidence") or {})
    lines = [inert(result["message"]), "", f"resource: {inert(result.get('resource_id') or '-')}",
             f"severity: {inert(result['severity'])}"]
    if result.get("reason"):
        lines.append(f"reason: {inert(result['reason'])}")
    for key in ("expected", "observed"):
        lines.append(f"{key}: {_json(evidence.pop(key, None))}")
    if evidence:
        lines.append(f"evidence: {_json(evidence, sort_keys=True)}")
    fix = result.get("fix")
    if fix:
        lines += ["", f"fix: {inert(fix['summary'])}"] + [f"  $ {inert(command)}" for command in fix.get("commands") or []]
    if result.get("docs"):
        lines.append(f"docs: {inert(result['docs'])}")
    return "\n".join(lines)


def caused_by(result: dict[str, Any], by_id: dict[str, dict[str, Any]], steps: dict[str, int]) -> str:
    """" Caused by: CHECK on RESOURCE (fixed by step N)." for a consequence, naming its root cause(s)."""
    from moediag.diagnosis import roots_of
    from moediag.report import resource_label

    roots = roots_of(result, by_id)
    if not roots:
        return ""
    named = "; ".join(f"{r['check_id']} on {resource_label(r.get('resource_id'))}" for r in roots)
    step = steps.get(result.get("id"))
    return f" Caused by: {named}" + (f" (fixed by step {step})." if step else ".")


def _testcase(suite: ET.Element, result: dict[str, Any], name: str, by_id: dict[str, dict[str, Any]] | None = None,
              steps: dict[str, int] | None = None) -> None:
    case = ET.SubElement(suite, "testcase", name=name, classname=result["check_id"],
                         time=_seconds(result.get("duration_ms") or 0))
    status = result["status"]
    if status == "fail":
        fix = result.get("fix") or {}
        cause = caused_by(result, by_id or {}, steps or {})
        message = result["message"] + (cause or (f" Fix: {fix['summary']}" if fix.get("summary") else ""))
        ET.SubElement(case, "failure", message=message, type=result["severity"]).text = _details(result)
    elif status == "error":
        ET.SubElement(case, "error", message=result["message"], type=result.get("reason") or "error").text = _details(result)
    elif status == "skip":
        ET.SubElement(case, "skipped", message=f"{result.get('reason')}: {result['message']}")
    elif status == "warn":
        ET.SubElement(case, "system-out").text = "WARNING: " + _details(result)


def _counts(results: list[dict[str, Any]]) -> dict[str, str]:
    def n(status: str) -> str:
        return str(sum(1 for r in results if r["status"] == status))

    return {"tests": str(len(results)), "failures": n("fail"), "errors": n("error"), "skipped": n("skip"),
            "time": _seconds(sum(r.get("duration_ms") or 0 for r in results))}


def render(report: dict[str, Any], color: bool = False) -> str:
    suites: dict[str, list[dict[str, Any]]] = {}
    for result in report["results"]:
        suites.setdefault(result["check_id"], []).append(result)
    from moediag.diagnosis import step_of
    from moediag.render.groups import workspace_names

    names = workspace_names(report)  # a scan: cases are named by workspace too
    by_id, steps = {r.get("id"): r for r in report["results"] if r.get("id")}, step_of(report)
    title = f"moediag {report['target']['workspace']}" if "target" in report else "moediag scan"
    root = ET.Element("testsuites", name=title, **_counts(report["results"]))
    if isinstance(report.get("duration_ms"), int):
        root.set("time", _seconds(report["duration_ms"]))
    for index, (check_id, results) in enumerate(suites.items()):
        suite = ET.SubElement(root, "testsuite", name=check_id, id=str(index), package="moediag", **_counts(results))
        seen: dict[str, int] = {}
        for result in results:
            name = resource_label(result.get("resource_id"))
            if result.get("workspace"):
                name = f"{names.get(result['workspace'].lower(), result['workspace'])}: {name}"
            seen[name] = seen.get(name, 0) + 1
            _testcase(suite, result, name if seen[name] == 1 else f"{name} ({seen[name]})", by_id, steps)
    for element in root.iter():
        element.attrib = {k: _xml_text(inert(v)) for k, v in element.attrib.items()}
        if element.text:
            element.text = _xml_text(element.text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

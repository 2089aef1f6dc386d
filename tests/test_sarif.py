"""`-o sarif`: SARIF 2.1.0 for GitHub code scanning (issue 18).

Every report the bed's scenarios produce, the bundled example, and a scan of a small fleet validate against the
official SARIF 2.1.0 JSON Schema (fetched, sha256-checked, by scripts/fetch_sarif_schema.py; never committed).
Rules, levels, locations, fingerprints and suppressions are asserted on what a run really wrote.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest

from armbed import ArmTestBed, broken, custom_dns, healthy, legacy_egress, many_endpoints
from armbed.fleet import fleet
from armbed.scenarios import many_states
from dnsbed import DnsTestServer
from moe import check, moediag
from moediag.engine import TargetRun
from moediag.model import Fix, Reason, Result, Status
from moediag.registry import all_checks
from moediag.render import renderer
from moediag.render.sarif import FINGERPRINT, SECURITY_SEVERITY, fingerprint, pseudo_path
from moediag.report import build_report, finish
from moediag.target import Target

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / ".cache" / "sarif-schema-2.1.0.json"
EXAMPLE = ROOT / "examples" / "broken-workspace.snapshot.json"
SUB = "00000000-1111-2222-3333-444444444444"
KV = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv-ws-prod"
# RFC 3986 relative reference characters: what `format: uri-reference` allows (jsonschema does not check formats).
URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})+$")


@pytest.fixture(scope="module")
def validator():
    if not SCHEMA_PATH.is_file():
        fetch = "python scripts/fetch_sarif_schema.py"
        if os.environ.get("CI") == "true":
            pytest.fail(f"the SARIF 2.1.0 schema is missing at {SCHEMA_PATH}: .ci/run fetches it ({fetch})")
        pytest.skip(f"the SARIF 2.1.0 schema is not fetched yet: run `{fetch}`")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def valid(validator, text: str) -> dict:
    """The SARIF log in `text`, after it passed the official schema and GitHub's location rules."""
    log = json.loads(text)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    [run] = log["runs"]
    for result in run["results"]:
        [location] = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]  # GitHub rejects a result without one
        assert uri.startswith("azure/") and URI_REFERENCE.match(uri), uri
        assert result["ruleId"] == run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"]
    return log


def findings(report: dict) -> list[dict]:
    return [r for r in report["results"] if r["status"] in ("fail", "warn", "error")
            or r.get("reason") == "suppressed"]


# --- every scenario's report, the example and a scan validate ----------------------------------------------------

def _forbidden_vault(bed, scenario):
    bed.forbid_scope(scenario.key_vault_id)  # the identity cannot read the vault: `error` results


SCENARIOS = {
    "healthy": (healthy, None), "broken": (broken, None), "legacy egress": (legacy_egress, None),
    "custom dns that forwards": (lambda: custom_dns(True), None),
    "custom dns that does not forward": (lambda: custom_dns(False), None),
    "many endpoints": (lambda: many_endpoints(3, 2), None), "many states": (many_states, None),
    "vault not readable": (broken, _forbidden_vault),
}


@functools.cache
def scenario_report(name: str) -> tuple[dict, str]:
    """The scenario run against its own bed (JSON report and SARIF from the same run; a scan for "fleet scan"),
    once per test session: each test that reads it pays for it at most once."""
    with tempfile.TemporaryDirectory() as folder, ArmTestBed() as bed, DnsTestServer() as dns:
        path = Path(folder) / "out.sarif"
        if name == "fleet scan":
            the_fleet = fleet(2, 2, 1, missing_records={(0, 0)})
            the_fleet.install(bed)
            dns.set_records(the_fleet.dns_records())
            scope = [a for sub in the_fleet.subscriptions for a in ("-s", sub)]
            run = moediag(bed, "scan", *scope, "--dns-server", dns.address, "-o", "json", "-o", f"sarif={path}")
        else:
            factory, fault = SCENARIOS[name]
            scenario = factory().install(bed)
            dns.set_records(scenario.dns_records())
            if fault:
                fault(bed, scenario)
            run = check(bed, scenario, "--dns-server", dns.address, "--logs", "-o", f"sarif={path}")
        assert run.code in (0, 1, 3), run.stderr
        return run.report, path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [*SCENARIOS, "fleet scan"])
def test_the_sarif_of_every_scenario_report_validates_and_carries_each_finding_once(name, validator):
    report, text = scenario_report(name)
    log = valid(validator, text)
    [run] = log["runs"]
    assert [r["properties"]["resultId"] for r in run["results"]] == [r["id"] for r in findings(report)]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == list(dict.fromkeys(r["check_id"] for r in report["results"]))
    keys = [(r["ruleId"], r["partialFingerprints"][FINGERPRINT]) for r in run["results"]]
    assert len(set(keys)) == len(keys), "two findings share an alert"


def test_a_check_that_could_not_read_its_evidence_is_a_visible_warning_that_says_so(validator):
    report, text = scenario_report("vault not readable")
    errors = [r for r in report["results"] if r["status"] == "error"]
    assert errors, "the forbidden vault gives error results"
    run = valid(validator, text)["runs"][0]
    shown = [r for r in run["results"] if r["properties"]["status"] == "error"]
    assert len(shown) == len(errors)
    assert all(r["level"] == "warning" and r["message"]["text"].startswith("Could not check (") for r in shown)
    assert run["invocations"][0]["executionSuccessful"] is False


def test_a_scan_names_each_workspace_and_its_exit_code(validator):
    report, text = scenario_report("fleet scan")
    run = valid(validator, text)["runs"][0]
    assert run["results"], "the fleet lost a record: there are findings"
    assert all(r["properties"]["workspace"].lower().startswith("/subscriptions/") for r in run["results"])
    assert run["invocations"][0]["exitCode"] == (1 if report["summary"]["fail"] else 0)


# --- the example: rules, levels, locations, fingerprints ------------------------------------------------------

@pytest.fixture(scope="module")
def example_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("example")
    runs = []
    for i in range(2):
        sarif, report = folder / f"{i}.sarif", folder / f"{i}.json"
        run = moediag(None, "check", "--example", "-o", f"sarif={sarif}", "-o", f"json={report}")
        assert run.code == 1, run.stderr
        runs.append((json.loads(report.read_text()), sarif.read_text(encoding="utf-8")))
    return runs


def test_the_example_has_one_rule_per_check_with_its_explain_page_and_severity(example_runs, validator):
    report, text = example_runs[0]
    run = valid(validator, text)["runs"][0]
    checks = all_checks()
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == {r["check_id"] for r in report["results"]}
    for rule in rules:
        chk = checks[rule["id"]]
        assert rule["shortDescription"]["text"] == chk.title.replace("[", "\\[").replace("]", "\\]")
        assert rule["help"]["text"].startswith(f"# {chk.id}\n") and "## How to fix" in rule["help"]["markdown"]
        assert rule["properties"]["security-severity"] == SECURITY_SEVERITY[chk.severity]
        assert float(rule["properties"]["security-severity"]) > 9.0 if chk.severity == "critical" else True
        expected = {"critical": "error", "high": "error", "medium": "warning", "low": "warning"}[chk.severity]
        assert rule["defaultConfiguration"]["level"] == expected
        assert rule["helpUri"] == next(r["docs"] for r in report["results"] if r["check_id"] == rule["id"])
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("moediag", report["tool"]["version"])
    assert driver["informationUri"].startswith("https://")


def test_the_examples_seven_failures_are_seven_results_at_their_resources_with_the_fix(example_runs, validator):
    report, text = example_runs[0]
    run = valid(validator, text)["runs"][0]
    fails = [r for r in report["results"] if r["status"] == "fail"]
    assert len(fails) == len(run["results"]) == 7
    for result, sarif in zip(fails, run["results"]):
        [location] = sarif["locations"]
        [logical] = location["logicalLocations"]
        assert (logical["fullyQualifiedName"], logical["kind"]) == (result["resource_id"], "resource")
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == pseudo_path(result["resource_id"]) and unquote(uri) == "azure" + result["resource_id"].lower()
        assert sarif["level"] == ("error" if result["severity"] in ("critical", "high") else "warning")
        assert "\nFix (risk: " in sarif["message"]["text"]
        for command in result["fix"]["commands"]:
            assert f"  $ {command}" in sarif["message"]["text"].replace("\\[", "[").replace("\\]", "]")
    assert run["invocations"][0] == {"executionSuccessful": True, "exitCode": 1,
                                     "properties": {"mode": "snapshot", "failOn": "fail"}}


def test_fingerprints_are_the_same_across_runs_and_change_with_the_resource(example_runs, tmp_path):
    (_, first), (_, second) = example_runs
    assert first == second  # nothing in it depends on the clock or the run
    before = {r["ruleId"]: r["partialFingerprints"][FINGERPRINT] for r in json.loads(first)["runs"][0]["results"]}
    assert before["keyvault.trusted-services-bypass"] == fingerprint("keyvault.trusted-services-bypass", KV.upper(),
                                                                     f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/"
                                                                     "Microsoft.MachineLearningServices/workspaces/ws-prod")
    moved = tmp_path / "moved.json"
    moved.write_text(EXAMPLE.read_text().replace("kv-ws-prod", "kv-ws-other"))
    run = moediag(None, "check", "--snapshot", str(moved), "-o", "sarif")
    after = {r["ruleId"]: r["partialFingerprints"][FINGERPRINT] for r in json.loads(run.stdout)["runs"][0]["results"]}
    assert after.keys() == before.keys()
    changed = {rule for rule in before if before[rule] != after[rule]}
    assert changed == {"keyvault.trusted-services-bypass"}


def test_render_writes_the_same_sarif_as_check_did(example_runs, tmp_path):
    report, text = example_runs[0]
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report))
    run = moediag(None, "render", str(saved), "-o", "sarif")
    assert run.code == 0 and run.stdout == text


def test_a_suppressed_finding_is_a_sarif_suppression_with_its_reason_and_keeps_its_alert(example_runs, tmp_path,
                                                                                        validator):
    config = tmp_path / "moediag.toml"
    config.write_text('[[suppress]]\ncheck = "keyvault.trusted-services-bypass"\nreason = "accepted by SEC-1234"\n')
    run = moediag(None, "check", "--example", "--config", str(config), "-o", "sarif")
    assert run.code == 1, run.stderr
    results = valid(validator, run.stdout)["runs"][0]["results"]
    [vault] = [r for r in results if r["ruleId"] == "keyvault.trusted-services-bypass"]
    assert vault["suppressions"] == [{"kind": "external", "status": "accepted", "justification": "accepted by SEC-1234",
                                      "properties": {"check": "keyvault.trusted-services-bypass",
                                                     "source": str(config)}}]
    assert vault["level"] == "error" and vault["properties"]["status"] == "fail"
    unsuppressed = json.loads(example_runs[0][1])["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in results] == [r["partialFingerprints"] for r in unsuppressed]
    assert sum(1 for r in results if "suppressions" in r) == 1


def test_with_redact_no_subscription_id_reaches_the_sarif_and_fingerprints_stay_stable():
    first = moediag(None, "check", "--example", "--redact", "-o", "sarif")
    second = moediag(None, "check", "--example", "--redact", "-o", "sarif")
    run = json.loads(first.stdout)["runs"][0]
    found = json.dumps([run["results"], run["invocations"]])  # the rules' help is moediag's documentation
    assert first.code == 1 and SUB not in found and "00000000-0000-0000-0000-" in found
    assert first.stdout == second.stdout


def test_sarif_is_refused_where_the_command_has_no_such_format():
    run = moediag(None, "diff", str(EXAMPLE), str(EXAMPLE), "-o", "sarif")
    assert run.code == 2 and "unknown output format 'sarif'" in run.stderr and run.stderr.count("\n") == 1


# --- levels of each status, in process ----------------------------------------------------------------------------

def _result(check_id: str, status: str, severity: str, resource_id: str | None, **kw) -> Result:
    r = Result(check_id, Status(status), f"{check_id} is {status}", resource_id=resource_id, **kw)
    r.title, r.severity, r.docs, r.duration_ms = f"Title of {check_id}", severity, f"docs/checks/{check_id}.md", 1
    return r


def test_each_status_and_severity_gets_the_level_github_shows():
    results = [
        _result("keyvault.trusted-services-bypass", "fail", "high", KV, fix=Fix("Allow trusted services", ["az x"])),
        _result("workspace.diagnose", "fail", "medium", KV + "x", fix=Fix("Fix it", [])),
        _result("deployment.logs", "warn", "high", KV + "/d"),
        _result("dns.scoring-resolution", "error", "critical", None, reason=Reason.TIMED_OUT),
        _result("acr.sku-premium", "skip", "high", None, reason=Reason.NOT_APPLICABLE),
        _result("workspace.v1-legacy-mode", "pass", "high", KV),
    ]
    report = finish(build_report("check", [TargetRun(Target(SUB, "rg-ml", "ws-prod"), results=results)], mode="live"))
    run = json.loads(renderer("sarif")(report, False))["runs"][0]
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [
        ("keyvault.trusted-services-bypass", "error"), ("workspace.diagnose", "warning"),
        ("deployment.logs", "warning"), ("dns.scoring-resolution", "warning")]
    no_resource = run["results"][3]["locations"][0]  # an error without a resource: the workspace is the place
    assert no_resource["logicalLocations"][0]["fullyQualifiedName"].endswith("/workspaces/ws-prod")
    assert run["results"][3]["message"]["text"].startswith("Could not check (timed_out): ")
    assert run["invocations"][0]["exitCode"] == 1 and run["invocations"][0]["executionSuccessful"] is False


def test_an_interrupted_run_has_no_exit_code_and_is_not_successful_and_its_notes_are_notifications(validator):
    results = [_result("keyvault.trusted-services-bypass", "fail", "high", KV, fix=Fix("x", []))]
    report = finish(build_report("check", [TargetRun(Target(SUB, "rg-ml", "ws-prod"), results=results)], mode="live",
                                 interrupted=True, notes=["interrupted after 3 s: 26 checks did not finish"]))
    invocation = valid(validator, renderer("sarif")(report, False))["runs"][0]["invocations"][0]
    assert "exitCode" not in invocation and invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [
        {"level": "note", "message": {"text": "interrupted after 3 s: 26 checks did not finish"}}]


def test_a_report_full_of_hostile_text_still_validates(validator):
    h = "\x1b]8;;https://evil.example\x07[x](https://evil)\u202e\ud800 ]]> <script> \\["
    results = [_result("keyvault.trusted-services-bypass", "fail", "high", f"{KV}{h}", expected=h, observed={h: h},
                       fix=Fix(h, [h], risk="safe")),
               _result("deployment.logs", "error", "high", None, reason=h)]
    report = finish(build_report("check", [TargetRun(Target(SUB, h, h), results=results)], mode="live", notes=[h]))
    log = valid(validator, renderer("sarif")(report, False))
    assert "\x1b" not in json.dumps(log, ensure_ascii=False) and "\\u202e" in log["runs"][0]["results"][0]["message"]["text"]


def test_the_schema_fetch_refuses_a_tarball_whose_digest_is_not_the_pinned_one():
    import importlib.util
    import io
    import tarfile

    spec = importlib.util.spec_from_file_location("fetch_sarif_schema", ROOT / "scripts" / "fetch_sarif_schema.py")
    fetch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b'{"properties": {"version": {"enum": ["2.1.0"]}}}'
        member = tarfile.TarInfo(fetch.MEMBER)
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    with pytest.raises(SystemExit, match="expected 748e2c3d"):
        fetch.schema_from(buffer.getvalue())


def test_a_docs_url_becomes_helpUri_only_when_it_is_a_plain_absolute_url():
    results = [_result("keyvault.trusted-services-bypass", "fail", "high", KV, fix=Fix("x", [])),
               _result("workspace.diagnose", "fail", "medium", KV, fix=Fix("x", []))]
    results[0].docs = "https://moediag.example/v0.1.0/checks/keyvault.trusted-services-bypass.html"
    results[1].docs = "https://evil.example/\x1b]8;;x\x07"
    report = finish(build_report("check", [TargetRun(Target(SUB, "rg-ml", "ws-prod"), results=results)], mode="live"))
    first, second = json.loads(renderer("sarif")(report, False))["runs"][0]["tool"]["driver"]["rules"]
    assert first["helpUri"] == results[0].docs and "helpUri" not in second


def test_the_pseudo_path_is_a_lower_case_relative_uri_whatever_the_resource_is_called():
    assert pseudo_path(KV) == "azure" + KV.lower()
    assert pseudo_path("/subscriptions/x/vaults/a b[1]%?#\u00e9") == "azure/subscriptions/x/vaults/a%20b%5B1%5D%25%3F%23%C3%A9"

"""Reports that travel: several formats from one run, JUnit for CI, Markdown for tickets, offline re-rendering,
and exit codes a pipeline can gate on without hiding tool errors."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from armbed import broken, healthy
from armbed.scenarios import Deployment, Endpoint
from moe import moediag, target_args, validate_report
from moediag.engine import TargetRun
from moediag.model import Fix, Reason, Result, Status
from moediag.render import renderer
from moediag.render.mermaid import elements_of
from moediag.report import build_report, exit_code, invalid
from moediag.target import Target

ROOT = Path(__file__).resolve().parent.parent
JUNIT = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))
FORMATS = {"table": "txt", "json": "json", "junit": "xml", "markdown": "md"}
SUB = "00000000-1111-2222-3333-444444444444"


def result(check_id: str, status: str, message: str = "what was seen", **kw) -> Result:
    kw.setdefault("resource_id", f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv")
    if status in ("skip", "error"):
        kw.setdefault("reason", Reason.FORBIDDEN if status == "error" else Reason.NOT_APPLICABLE)
    if status in ("fail", "warn"):
        kw.setdefault("fix", Fix("Do the right thing", ["az do --it"]))
    r = Result(check_id, Status(status), message, **kw)
    r.title, r.severity, r.docs, r.duration_ms = f"Title of {check_id}", "high", f"docs/checks/{check_id}.md", 12
    return r


def report_of(*results: Result) -> dict:
    run = TargetRun(Target(SUB, "rg-ml", "ws-prod"), results=list(results), endpoints=["ep-main"])
    return build_report("check", [run], mode="live")


def junit_of(report: dict) -> ET.Element:
    xml = renderer("junit")(report, False)
    JUNIT.validate(xml)
    return ET.fromstring(xml)


def run_all_formats(bed, dns_server, scenario, out: Path, *args: str):
    """One live `moediag check` writing the table to stdout and JSON, JUnit and Markdown to files."""
    scenario.install(bed)
    dns_server.set_records(scenario.dns_records())
    files = {fmt: out / f"report.{ext}" for fmt, ext in FORMATS.items()}
    run = moediag(bed, "check", *target_args(scenario), "--dns-server", dns_server.address, "-o", "table",
                  *(f"-o{fmt}={path}" for fmt, path in files.items() if fmt != "table"), *args)
    return run, files


# --- several formats from one run ------------------------------------------------------------------------

def test_one_run_writes_table_json_junit_and_markdown_that_agree(bed, dns_server, tmp_path):
    run, files = run_all_formats(bed, dns_server, broken(), tmp_path)
    assert run.code == 1, run.stderr
    report = json.loads(files["json"].read_text())
    validate_report(report)
    summary, results = report["summary"], report["results"]
    assert summary["fail"] >= 4

    xml = files["junit"].read_text()
    JUNIT.validate(xml)
    root = ET.fromstring(xml)
    assert {k: int(root.get(k)) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": len(results), "failures": summary["fail"], "errors": summary["error"], "skipped": summary["skip"]}
    assert sorted(c.get("classname") for c in root.iter("testcase")) == sorted(r["check_id"] for r in results)

    markdown = files["markdown"].read_text()
    assert f"moediag {report['tool']['version']}" in markdown and "ws-prod" in markdown
    assert f"{summary['fail']} failed" in markdown and "```mermaid" in markdown
    for failed in (r for r in results if r["status"] == "fail"):
        assert f"`{failed['check_id']}`" in markdown
        for command in failed["fix"]["commands"]:
            assert command in markdown

    assert f"Summary: {summary['fail']} fail" in run.stdout
    assert all(r["check_id"] in run.stdout for r in results if r["status"] in ("fail", "error", "warn"))
    assert f"Passed: {summary['pass']} (-v lists them)" in run.stdout


def test_render_of_the_saved_report_reproduces_every_format_byte_for_byte(bed, dns_server, tmp_path):
    first, files = run_all_formats(bed, dns_server, broken(), tmp_path)
    bed.stop()  # render never needs Azure
    again = {fmt: tmp_path / f"again.{ext}" for fmt, ext in FORMATS.items()}
    run = moediag(None, "render", str(files["json"]), *(f"-o{fmt}={path}" for fmt, path in again.items()))
    assert run.code == 0 and run.stderr == ""
    files["table"].write_text(first.stdout)  # the original run wrote its table to stdout
    for fmt in FORMATS:
        assert again[fmt].read_bytes() == files[fmt].read_bytes(), fmt
    assert moediag(None, "render", str(files["json"]), "-o", "table").stdout == first.stdout


def test_render_reads_a_report_from_standard_input(tmp_path):
    report = json.dumps(report_of(result("keyvault.trusted-services-bypass", "fail")))
    proc = subprocess.run([sys.executable, "-m", "moediag", "render", "-", "-o", "junit"], input=report,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and ET.fromstring(proc.stdout).get("failures") == "1"


@pytest.mark.parametrize("content, fragment", [
    ('{"schema_version": "1", "tool": {"na', "not valid JSON"),
    ('{"tool": {}}', "not a moediag report"),
    ('{"schema_version": "2", "results": []}', "schema_version '2'"),
    ('{"schema_version": "1", "tool": {"name": "moediag", "version": "1"}}', "'target' is missing"),
])
def test_render_refuses_a_report_it_cannot_trust_with_one_line_and_exit_2(tmp_path, content, fragment):
    path = tmp_path / "report.json"
    path.write_text(content)
    run = moediag(None, "render", str(path), "-o", "markdown")
    assert run.code == 2 and run.stdout == ""
    [line] = run.stderr.strip().splitlines()
    assert fragment in line and "Traceback" not in run.stderr


def test_render_of_a_missing_file_is_exit_2(tmp_path):
    run = moediag(None, "render", str(tmp_path / "nope.json"))
    assert run.code == 2 and "cannot read report" in run.stderr


def _mutations():
    """(name, change) pairs that make a valid report invalid by docs/report.schema.json."""
    def parent(report, path):
        for key in path[:-1]:
            report = report[key]
        return report

    def drop(path):
        return lambda report: parent(report, path).pop(path[-1])

    def put(path, value):
        return lambda report: parent(report, path).__setitem__(path[-1], value)

    return [
        ("no results", drop(["results"])), ("no summary", drop(["summary"])), ("no tool version", drop(["tool", "version"])),
        ("endpoints not a list", put(["target", "endpoints"], "ep")), ("bad mode", put(["mode"], "dry")),
        ("negative count", put(["summary", "pass"], -1)), ("count as text", put(["summary", "fail"], "1")),
        ("status unknown", put(["results", 0, "status"], "ok")), ("severity unknown", put(["results", 0, "severity"], "huge")),
        ("check id malformed", put(["results", 0, "check_id"], "Bad Id")), ("empty message", put(["results", 0, "message"], "")),
        ("evidence without observed", drop(["results", 0, "evidence", "observed"])),
        ("fail without fix", put(["results", 0, "fix"], None)), ("skip without reason", put(["results", 1, "reason"], None)),
        ("fix commands not strings", put(["results", 0, "fix", "commands"], [1])),
        ("duration not an integer", put(["results", 0, "duration_ms"], 1.5)), ("notes not strings", put(["notes"], [3])),
        ("interrupted not a boolean", put(["interrupted"], "no")), ("cloud not a name", put(["cloud"], [])),
    ]


@pytest.mark.parametrize("name, change", _mutations(), ids=[m[0] for m in _mutations()])
def test_render_rejects_whatever_the_schema_rejects(name, change):
    report = report_of(result("keyvault.trusted-services-bypass", "fail"), result("acr.sku-premium", "skip"))
    assert invalid(report) is None
    validate_report(report)
    broken_report = copy.deepcopy(report)
    change(broken_report)
    with pytest.raises(jsonschema.ValidationError):
        validate_report(broken_report)
    assert invalid(broken_report)


@pytest.mark.parametrize("where", ["root_causes", "plan"])
def test_render_rejects_a_diagnosis_naming_something_that_is_not_an_id_even_what_cannot_be_hashed(tmp_path, where):
    from moe import moediag

    report = json.loads(moediag(None, "check", "--example", "-o", "json").stdout)
    if where == "root_causes":
        report["diagnosis"]["root_causes"] = [["a list"]]
    else:
        report["diagnosis"]["plan"][0]["results"] = [{"a": "dict"}]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    run = moediag(None, "render", str(path), "-o", "table")
    assert run.code == 2 and len(run.stderr.splitlines()) == 1 and "must be ids of results" in run.stderr


def test_render_also_rejects_a_summary_that_does_not_match_the_results():
    report = report_of(result("keyvault.trusted-services-bypass", "fail"))
    report["summary"]["fail"] = 0
    assert "summary" in invalid(report)


# --- JUnit ---------------------------------------------------------------------------------------------

def test_junit_has_one_case_per_result_failures_with_the_fix_errors_and_skips():
    report = report_of(result("keyvault.trusted-services-bypass", "fail", "bypass is None"),
                       result("acr.sku-premium", "error", "forbidden to read the registry"),
                       result("workspace.diagnose", "skip", "not requested"),
                       result("deployment.isolation-method", "warn", "both methods"),
                       result("workspace.v1-legacy-mode", "pass", "off"))
    root = junit_of(report)
    cases = {c.get("classname"): c for c in root.iter("testcase")}
    assert len(cases) == 5 and [s.get("name") for s in root.iter("testsuite")] == [r["check_id"] for r in report["results"]]
    failure = cases["keyvault.trusted-services-bypass"].find("failure")
    assert failure.get("message") == "bypass is None Fix: Do the right thing"
    assert "$ az do --it" in failure.text and f"/subscriptions/{SUB}/" in failure.text
    error = cases["acr.sku-premium"].find("error")
    assert error.get("message") == "forbidden to read the registry" and error.get("type") == "forbidden"
    assert cases["workspace.diagnose"].find("skipped").get("message") == "not_applicable: not requested"
    warned = cases["deployment.isolation-method"]
    assert warned.find("failure") is None and warned.find("system-out").text.startswith("WARNING: both methods")
    assert list(cases["workspace.v1-legacy-mode"]) == []
    assert cases["keyvault.trusted-services-bypass"].get("name") == "vaults/kv"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("5", "1", "1", "1")


def test_junit_stays_valid_xml_with_control_characters_and_repeated_resources():
    report = report_of(result("deployment.logs", "fail", "log says \x1b[31mOOMKilled\x1b[0m & <exit 137>"),
                       result("deployment.logs", "fail", "again", resource_id=None),
                       result("deployment.logs", "pass", "fine", resource_id=None))
    root = junit_of(report)
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["vaults/kv", "(no resource)", "(no resource) (2)"]
    assert "\\x1b[31mOOMKilled" in root.find(".//failure").get("message")


# --- Markdown and its picture ----------------------------------------------------------------------------

def test_markdown_shows_failures_and_errors_with_evidence_and_fix_and_folds_passes():
    report = report_of(result("keyvault.trusted-services-bypass", "fail", "bypass is None", observed={"bypass": "None"}),
                       result("acr.sku-premium", "error", "forbidden"),
                       result("workspace.v1-legacy-mode", "pass", "v1 legacy mode is off"))
    md = renderer("markdown")(report, False)
    assert md.startswith("## moediag: ws-prod\n")
    failures, errors = md.index("### Failures (1)"), md.index("### Could not be evaluated (1)")
    assert failures < errors < md.index("<details>")
    assert '"bypass": "None"' in md and "```sh\naz do --it\n```" in md
    folded = md[md.index("<details>"):]
    assert "<summary>✅ 1 passed</summary>" in folded and "v1 legacy mode is off" in folded
    assert "v1 legacy mode is off" not in md[:md.index("<details>")]


def test_markdown_text_cannot_break_out_of_its_table_cell_or_code_span():
    report = report_of(result("workspace.v1-legacy-mode", "pass", "a | b <script>x</script> `tick`"),
                       result("keyvault.trusted-services-bypass", "fail", "x", fix=Fix("f", ["echo ```"])))
    md = renderer("markdown")(report, False)
    row = next(line for line in md.splitlines() if "workspace.v1-legacy-mode" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 4 and "<script>" not in md  # three cells, no raw HTML
    assert "````sh\necho ```\n````" in md


def mermaid_of(md: str) -> str:
    return md.split("```mermaid\n", 1)[1].split("\n```", 1)[0]


def test_the_mermaid_picture_marks_each_element_with_the_worst_status_about_it():
    report = report_of(result("keyvault.trusted-services-bypass", "fail"),
                       result("workspace.associated-resources", "pass"),  # about the vault too, by resource type
                       result("dns.scoring-resolution", "error", resource_id=None),
                       result("acr.sku-premium", "pass"), result("acr.egress-connection-approved", "skip"),
                       result("thirdparty.custom-rule", "warn", resource_id=None))
    diagram = mermaid_of(renderer("markdown")(report, False))
    classes = dict(re.findall(r"^  class (\S+) st_(\w+)$", diagram, re.M))
    by_element = {element: status for members, status in classes.items() for element in members.split(",")}
    assert by_element["kv"] == "fail" and by_element["acr"] == "pass"
    assert by_element["client"] == by_element["scoring"] == "error"
    assert by_element["workspace"] == "warn"  # unknown checks fall under the workspace
    assert by_element["zone"] == by_element["vnet"] == by_element["storage"] == "unchecked"
    assert 'kv["Key Vault<br/>FAIL: 1 of 2 results"]' in diagram and 'vnet["VNet<br/>not checked"]' in diagram
    assert diagram.startswith("flowchart LR\n") and "classDef st_unchecked" in diagram and "stroke-dasharray" in diagram


@pytest.mark.parametrize("check_id, resource, element", [
    ("dns.inference-a-record", None, "zone"), ("dns.zone-vnet-link", None, "vnet"),
    ("dns.custom-dns-forwarding", None, "client"), ("workspace.private-endpoint-age", None, "pe"),
    ("workspace.managed-network-provisioned", None, "mnet"), ("workspace.outbound-rules-active", None, "mnet"),
    ("endpoint.traffic-assignment", None, "endpoint"), ("deployment.logs", None, "deployment"),
    ("workspace.v1-legacy-mode", None, "workspace"),
    ("workspace.associated-resources", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/st",
     "storage"),
])
def test_checks_map_to_the_element_they_are_about(check_id, resource, element):
    assert element in elements_of({"check_id": check_id, "resource_id": resource})


# --- exit codes ----------------------------------------------------------------------------------------

def docs_exit_table() -> list[tuple[str, dict[str, int]]]:
    """The --fail-on table of docs/exit-codes.md: (situation, {fail-on value: code})."""
    text = (ROOT / "docs" / "exit-codes.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| Worst results"))
    values = re.findall(r"`--fail-on (\w+)`", header)
    rows = text.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    table = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        table.append((cells[0], dict(zip(values, map(int, cells[1:])))))
    return table


SITUATIONS = {  # the docs' row -> statuses present in the run
    "only pass and skip": ("pass", "skip"),
    "a warn": ("pass", "warn"),
    "a fail": ("pass", "fail"),
    "an error": ("pass", "error"),
    "a warn and an error": ("warn", "error"),
    "a fail and an error": ("fail", "error"),
}


def test_the_docs_table_covers_every_situation_and_every_fail_on_value():
    table = docs_exit_table()
    assert [situation for situation, _ in table] == list(SITUATIONS)
    assert all(set(codes) == {"fail", "warn", "never"} for _, codes in table)


@pytest.mark.parametrize("situation, codes", docs_exit_table())
def test_exit_code_follows_the_docs_table(situation, codes):
    report = report_of(*(result("workspace.v1-legacy-mode", s) for s in SITUATIONS[situation]))
    assert {fail_on: exit_code(report, fail_on) for fail_on in codes} == codes


def both_egress_methods():
    """deployment.isolation-method warns: a legacy-egress deployment in a workspace with a managed network."""
    blue = Deployment("blue", egress_public_network_access="Disabled")
    return healthy(endpoints=[Endpoint("ep-main", {"blue": 100}, [blue])])


LIVE = {  # the docs' row -> a scenario giving it (only the checks named run), and a fault on the Key Vault
    "only pass and skip": (healthy(), None),
    "a warn": (both_egress_methods(), None),
    "a fail": (healthy(v1_legacy_mode=True), None),
    "an error": (healthy(), 403),
    "a warn and an error": (both_egress_methods(), 403),
    "a fail and an error": (healthy(v1_legacy_mode=True), 403),
}


@pytest.mark.parametrize("situation, codes", docs_exit_table())
def test_real_runs_exit_as_the_docs_table_says(bed, situation, codes, tmp_path):
    """A live run for --fail-on fail, then its snapshot replayed for the other values (faster, same verdicts)."""
    scenario, fault = LIVE[situation]
    scenario.install(bed)
    if fault:
        bed.fault(scenario.key_vault_id, fault)
    snap = tmp_path / "snap.json"
    select = ["--select", "workspace.v1-legacy-mode", "--select", "keyvault", "--select", "deployment.isolation-method"]
    live = moediag(bed, "check", *target_args(scenario), *select, "--save-snapshot", str(snap), "-o", "json")
    statuses = {r["status"] for r in live.report["results"]}
    assert statuses & {"warn", "fail", "error"} == set(SITUATIONS[situation]) - {"pass", "skip"}, statuses
    seen = {"fail": live.code}
    for fail_on in set(codes) - {"fail"}:
        seen[fail_on] = moediag(None, "check", "--snapshot", str(snap), *select, "--fail-on", fail_on, "-o", "json").code
    assert seen == codes


def test_fail_on_is_a_usage_error_when_unknown():
    run = moediag(None, "check", "--snapshot", str(ROOT / "examples" / "broken-workspace.snapshot.json"), "--fail-on", "sometimes")
    assert run.code == 2 and "sometimes" in run.stderr


# --- the CI examples -------------------------------------------------------------------------------------

def documented_commands(path: Path) -> list[list[str]]:
    """Every `moediag ...` command in the code blocks of a docs page, continuation lines joined."""
    import shlex

    commands, pending = [], None
    for line in path.read_text().splitlines():
        text = line.strip()
        if pending is None and re.match(r"^(- run: |run: )?moediag ", text):
            pending = re.sub(r"^(- run: |run: )", "", text)
        elif pending is not None:
            pending += " " + text
        if pending is not None and not pending.endswith("\\"):
            commands.append(shlex.split(pending.split("  # ")[0], posix=True))
            pending = None
        elif pending is not None:
            pending = pending[:-1]
    return commands


def test_every_moediag_command_in_the_ci_examples_is_a_valid_invocation():
    from moediag.arguments import outputs as parse_outputs
    from moediag.cli import cli

    commands = documented_commands(ROOT / "docs" / "ci.md")
    assert sum(1 for c in commands if c[1] == "check") >= 2 and any(c[1] == "render" for c in commands)
    for argv in commands:
        command = cli.get_command(None, argv[1])
        assert command is not None, argv
        ctx = command.make_context(argv[1], argv[2:])  # raises on an unknown flag or a bad choice
        if "outputs" in ctx.params:
            formats = dict(parse_outputs(ctx.params["outputs"]))
            if argv[1] == "check":
                assert {"junit", "markdown", "json"} <= set(formats), argv

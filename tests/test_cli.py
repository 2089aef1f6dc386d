"""The command line as users meet it: defaults like az, one-line errors with documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from armbed import broken, healthy
from moe import SCHEMA, check, moediag, target_args

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "broken-workspace.snapshot.json")


def one_line_error(run) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]


def test_version_and_list():
    assert moediag(None, "--version").stdout.strip().startswith("moediag ")
    rows = json.loads(moediag(None, "list", "-o", "json").stdout)
    assert {"id", "severity", "scope", "title"} <= set(rows[0])
    assert "workspace.v1-legacy-mode" in [r["id"] for r in rows]


def test_explain_prints_what_why_fix_and_permissions():
    out = moediag(None, "explain", "keyvault.trusted-services-bypass").stdout
    for section in ("## What it checks", "## Why it breaks the endpoint", "## How to fix", "## Permissions"):
        assert section in out
    assert "Microsoft.KeyVault/vaults/read" in out


def test_explain_an_unknown_check_is_a_one_line_usage_error():
    run = moediag(None, "explain", "no.such-check")
    assert run.code == 2 and "unknown check" in one_line_error(run)


@pytest.mark.parametrize("command", ["check", "scan", "render", "diff", "list", "explain", "permissions", "schema", "mcp"])
def test_every_command_s_help_ends_with_examples_of_itself(command):
    run = moediag(None, command, "--help")
    assert run.code == 0
    tail = run.stdout.rstrip().split("\n\n")[-1].splitlines()
    assert tail[0].strip() == "Examples:" and all(line.strip().startswith(f"moediag {command}") for line in tail[1:])


@pytest.mark.parametrize("argv", [["list"], ["scan", "--help"]])
def test_help_and_list_do_not_import_any_azure_sdk(argv):
    program = (f"import sys; sys.argv={['moediag', *argv]!r}\n"
               "from moediag.cli import main\n"
               "try: main()\n"
               "except SystemExit: pass\n"
               "heavy=[m for m in sys.modules if m.startswith(('azure', 'dns', 'rich'))]\n"
               "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", program], check=True, capture_output=True, timeout=30)


@pytest.mark.parametrize("args, fragment", [
    (["check", "--bogus"], "No such option"),
    (["check", "-s", "not-a-guid", "-g", "rg", "-w", "ws"], "malformed subscription id"),
    (["check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg"], "no workspace"),
    (["check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg", "-w", "a/b"], "malformed workspace name"),
    (["check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg", "-w", "ws", "--select", "nope"], "no check matches"),
    (["check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg", "-w", "ws", "-o", "yaml"], "unknown output format"),
    (["check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg", "-w", "ws", "-o", "json", "-o", "table"], "at most one"),
])
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    run = moediag(None, *args)
    assert run.code == 2
    assert fragment in one_line_error(run)


def test_an_unknown_workspace_is_exit_2_with_one_line(bed):
    scenario = healthy().install(bed)
    run = moediag(bed, "check", "-s", scenario.subscription_id, "-g", scenario.resource_group, "-w", "nope", "-o", "json")
    assert run.code == 2 and "workspace 'nope' not found" in one_line_error(run)
    assert run.stdout == ""


def test_refused_credentials_are_exit_2_saying_how_to_log_in(bed):
    scenario = healthy().install(bed)
    run = check(bed, scenario, env={"MOEDIAG_ACCESS_TOKEN": "wrong-token"})
    assert run.code == 2 and "az login" in one_line_error(run)


def test_an_unknown_endpoint_named_with_e_is_exit_2(bed):
    scenario = healthy().install(bed)
    run = check(bed, scenario, "-e", "ghost")
    assert run.code == 2 and "ghost" in one_line_error(run)


def test_group_and_workspace_come_from_az_defaults_and_subscription_from_the_profile(bed, tmp_path):
    scenario = healthy().install(bed)
    (tmp_path / "config").write_text("[defaults]\ngroup = rg-ml\nworkspace = ws-prod\n")
    profile = {"subscriptions": [{"id": "99999999-1111-2222-3333-444444444444", "isDefault": False},
                                 {"id": scenario.subscription_id, "isDefault": True}]}
    (tmp_path / "azureProfile.json").write_text("\ufeff" + json.dumps(profile), encoding="utf-8")
    run = moediag(bed, "check", "--select", "workspace.v1-legacy-mode", "-o", "json",
                  env={"AZURE_CONFIG_DIR": str(tmp_path)})
    assert run.code == 0, run.stderr
    assert run.report["target"]["workspace"] == "ws-prod"
    assert run.report["target"]["subscription_id"] == scenario.subscription_id


def test_subscription_flag_beats_the_environment_which_beats_the_profile(bed, tmp_path):
    scenario = healthy().install(bed)
    run = moediag(bed, "check", "-g", "rg-ml", "-w", "ws-prod", "--select", "workspace.v1-legacy-mode", "-o", "json",
                  env={"AZURE_SUBSCRIPTION_ID": scenario.subscription_id})
    assert run.code == 0 and run.report["target"]["subscription_id"] == scenario.subscription_id


def test_an_unreadable_az_config_is_a_one_line_error(tmp_path):
    (tmp_path / "config").write_text("this is [not an ini file\n")
    run = moediag(None, "check", "-s", "00000000-1111-2222-3333-444444444444", env={"AZURE_CONFIG_DIR": str(tmp_path)})
    assert run.code == 2 and "cannot read" in one_line_error(run)


def test_json_output_is_only_the_report_and_a_file_output_is_written_whole(bed, tmp_path, dns_server):
    scenario = broken().install(bed)
    dns_server.set_records(scenario.dns_records())
    out = tmp_path / "report.json"
    run = moediag(bed, "check", *target_args(scenario), "--dns-server", dns_server.address, "-o", f"json={out}", "-o", "json")
    assert json.loads(run.stdout) == json.loads(out.read_text())
    assert run.stderr == ""  # not a terminal: no progress


def test_the_bundled_example_replays_offline_with_failures_and_exit_1():
    run = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "json", env={"MOEDIAG_ARM_ENDPOINT": "https://10.255.255.1"})
    assert run.code == 1
    assert run.report["mode"] == "snapshot" and run.report["summary"]["fail"] >= 4
    assert run.report["summary"]["error"] == 0, [r for r in run.report["results"] if r["status"] == "error"]


def test_the_table_leads_with_the_root_causes_each_with_its_fix():
    out = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "table").stdout
    lines = out.splitlines()
    assert lines[3].startswith("Root causes (5), in the order to fix them:")
    assert next(line for line in lines[4:] if line and not line.startswith(" ")).startswith("1. ✗ FAIL")
    assert "$ az keyvault update -n kv-ws-prod -g rg-ml --bypass AzureServices" in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_at_80_columns_no_prose_line_is_longer_and_the_last_24_lines_name_every_root_cause():
    run = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "json")
    roots = [r for r in run.report["results"] if r["id"] in run.report["diagnosis"]["root_causes"]]
    table = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "table", env={"COLUMNS": "80"}).stdout
    prose = [line for line in table.splitlines() if not line.lstrip().startswith("$ ")]
    assert max(len(line) for line in prose) <= 80
    tail = "\n".join(table.splitlines()[-24:])
    assert len(roots) == 5 and all(root["check_id"] in tail for root in roots)


def test_commands_are_never_wrapped_or_split():
    table = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "table", env={"COLUMNS": "60"}).stdout
    report = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "json").report
    shown = {line.strip()[2:] for line in table.splitlines() if line.lstrip().startswith("$ ")}
    for step in report["diagnosis"]["plan"]:
        assert set(step["commands"]) <= shown


def test_passes_are_one_count_line_and_verbose_lists_them():
    quiet = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "table").stdout
    loud = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "table", "-v").stdout
    assert "Passed: 17 (-v lists them)" in quiet and "✓ PASS" not in quiet
    assert loud.count("✓ PASS") == 17


@pytest.mark.parametrize("env, coloured", [({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
                                           ({}, False)])
def test_force_color_colours_a_pipe_and_no_color_wins(env, coloured, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = moediag(None, "check", "--snapshot", EXAMPLE, "-o", "table", env=env).stdout
    assert ("\x1b[" in out) == coloured


def test_the_bundled_example_and_the_report_schema_ship_with_the_package():
    from moediag.cli import data_file

    run = moediag(None, "check", "--example", "-o", "json")
    assert run.code == 1 and run.report["mode"] == "snapshot" and run.report["summary"]["error"] == 0
    schema = moediag(None, "schema")
    assert schema.code == 0 and json.loads(schema.stdout) == SCHEMA
    assert os.path.realpath(EXAMPLE) == os.path.realpath(data_file("broken-workspace.snapshot.json"))


def test_every_result_links_to_its_page_in_this_release_s_documentation_and_the_base_is_configurable():
    from moediag import __version__

    for result in moediag(None, "check", "--example", "-o", "json").report["results"]:
        assert result["docs"] == f"https://github.com/moediag/moediag/blob/v{__version__}/docs/checks/{result['check_id']}.md"
    mirror = moediag(None, "check", "--example", "-o", "junit", env={"MOEDIAG_DOCS_BASE": "https://docs.example.org/moediag/"})
    assert 'https://docs.example.org/moediag/checks/dns.inference-a-record.md' in mirror.stdout
    bad = moediag(None, "check", "--example", env={"MOEDIAG_DOCS_BASE": "docs/"})
    assert bad.code == 2 and bad.stderr.strip() == "moediag: error: MOEDIAG_DOCS_BASE must be an http(s):// URL, not 'docs/'"
    bad_scan = moediag(None, "scan", "--snapshot", "fleet.json", env={"MOEDIAG_DOCS_BASE": "docs/"})
    assert bad_scan.code == 2 and bad_scan.stderr == bad.stderr


def test_example_and_snapshot_together_are_one_line_and_exit_2():
    run = moediag(None, "check", "--example", "--snapshot", EXAMPLE)
    assert run.code == 2 and run.stderr.strip() == "moediag: error: give --example or --snapshot, not both"


def test_with_no_credential_at_all_it_is_one_line_naming_what_was_tried_and_exit_2(tmp_path):
    # Developer credentials only (no managed identity probe leaves the machine), no az on the PATH, an empty home.
    env = {"AZURE_TOKEN_CREDENTIALS": "dev", "PATH": str(tmp_path), "HOME": str(tmp_path),
           "AZURE_CONFIG_DIR": str(tmp_path / "az")}
    run = moediag(None, "check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg-ml", "-w", "ws-prod",
                  "--dns-server", "127.0.0.1:5399", env=env, process=True)
    assert run.code == 2, run.stderr
    [line] = run.stderr.strip().splitlines()  # azure-identity's own log lines stay silent without --debug
    assert line.startswith("moediag: error: no Azure credential could get a token; tried ")
    assert "AzureCliCredential (Azure CLI not found on path)" in line and "az login" in line
    assert "refused" not in line  # nothing was refused: nothing was obtained


@pytest.mark.parametrize("args, suggestion", [
    (["explain", "keyvault.trusted-service-bypass"], "did you mean keyvault.trusted-services-bypass?"),
    (["check", "--example", "--select", "dns.zone-link"], "did you mean dns.zone-vnet-link?"),
    (["check", "--example", "--ignore", "workspce"], "did you mean workspace, "),
])
def test_an_unknown_check_id_or_prefix_suggests_the_closest_ones(args, suggestion):
    run = moediag(None, *args)
    assert run.code == 2 and suggestion in run.stderr and len(run.stderr.strip().splitlines()) == 1

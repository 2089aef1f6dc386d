"""`check` and `scan` are one run path: the same runner per target, the same report builder.

These run in process (click's CliRunner): the bed serves HTTPS on loopback and the network guard is on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from armbed.fleet import fleet
from moediag import registry
from moediag.cli import cli
from moediag.engine import Budget, unreadable_target
from moediag.errors import FactError
from moediag.report import invalid

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "broken-workspace.snapshot.json"
BROKEN_PLUGIN = "checks from acme_checks could not be loaded: ImportError: needs a module that is not installed"


@pytest.fixture
def in_process(bed, monkeypatch):
    """moediag in this process, reading the bed."""
    for name, value in bed.env().items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str) -> tuple[int, dict]:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, json.loads(result.stdout)

    return invoke


@pytest.fixture
def broken_plugin(monkeypatch):
    monkeypatch.setattr(registry, "LOAD_ERRORS", [BROKEN_PLUGIN])


def test_a_check_module_that_failed_to_load_is_an_error_of_a_check_run(broken_plugin):
    result = CliRunner().invoke(cli, ["check", "--snapshot", str(EXAMPLE), "-o", "json"], catch_exceptions=False)
    report = json.loads(result.stdout)
    [load] = [r for r in report["results"] if r["check_id"] == "moediag.load-error"]
    assert (load["status"], load["reason"], load["message"]) == ("error", "crashed", BROKEN_PLUGIN)
    assert invalid(report) is None


def test_a_check_module_that_failed_to_load_is_an_error_of_every_workspace_of_a_scan(broken_plugin, in_process,
                                                                                     bed, dns_server):
    the_fleet = fleet(1, 2, 1).install(bed)
    dns_server.set_records(the_fleet.dns_records())
    code, report = in_process("scan", "-s", the_fleet.subscriptions[0], "--dns-server", dns_server.address,
                              "-o", "json", "--select", "workspace.v1-legacy-mode")
    assert code == 3 and invalid(report) is None
    loads = [r for r in report["results"] if r["check_id"] == "moediag.load-error"]
    assert sorted(r["workspace"] for r in loads) == sorted(s.workspace_arm_id for s in the_fleet.scenarios)
    assert all(t["summary"]["error"] == 1 and t["summary"]["pass"] == 1 for t in report["targets"])


def test_check_and_scan_build_their_reports_with_the_same_blocks(in_process, bed, dns_server):
    the_fleet = fleet(1, 1, 1).install(bed)
    dns_server.set_records(the_fleet.dns_records())
    [scenario] = the_fleet.scenarios
    dns = ["--dns-server", dns_server.address]
    _, checked = in_process("check", "-s", scenario.subscription_id, "-g", scenario.resource_group,
                            "-w", scenario.workspace, "-o", "json", "--select", "workspace.", *dns)
    assert list(checked) == ["schema_version", "tool", "target", "mode", "cloud", "interrupted", "notes", "summary",
                             "results", "duration_ms", "diagnosis"]
    _, scanned = in_process("scan", "-s", scenario.subscription_id, "-o", "json", "--select", "workspace.", *dns)
    assert list(scanned) == ["schema_version", "tool", "kind", "scope", "inventory", "mode", "cloud", "interrupted", "notes",
                             "summary", "targets", "unreadable_subscriptions", "results", "duration_ms", "diagnosis", "groups"]
    strip = {"duration_ms", "workspace"}
    assert ([{k: v for k, v in r.items() if k not in strip} for r in scanned["results"]]
            == [{k: v for k, v in r.items() if k not in strip} for r in checked["results"]])


@pytest.mark.parametrize("kind, meaning", [("not_found", "missing"), ("unauthorized", "refused"),
                                           ("forbidden", "refused"), ("not_in_snapshot", "absent"),
                                           ("throttled", None), ("timed_out", None)])
def test_an_unreadable_workspace_is_classified_once_for_every_command(kind, meaning):
    assert unreadable_target(FactError(kind, "why")) == meaning


def test_one_budget_bounds_every_part_of_a_run():
    budget = Budget(60.0, started=100.0)
    assert budget.deadline == 160.0
    assert budget.request_timeout_s == 20.0 and budget.retry_budget_s == 36.0 and budget.dns_timeout_s == 5.0
    short = Budget(2.0)
    assert short.request_timeout_s == 1.0 and short.retry_budget_s == 1.2 and short.dns_timeout_s < 1.0


def test_timeout_bounds_each_target_from_its_start_and_total_timeout_the_whole_run():
    each = Budget(60.0, started=100.0)
    assert each.total_deadline is None and each.run_read_deadline is None and not each.expired()
    assert each.deadline_from(500.0) == 560.0  # a workspace that starts late gets its whole budget
    capped = Budget(60.0, 90.0, started=100.0)
    assert capped.deadline == 160.0 and capped.deadline_from(150.0) == 190.0  # what is left of the total
    assert capped.total_deadline == 190.0 and capped.run_read_deadline == 189.5
    assert Budget(60.0, 30.0, started=100.0).deadline == 130.0  # check: the smaller bound wins
    assert Budget(5.0, 1.0).read_margin_s == 0.1 and Budget(5.0, 0.0).expired()


@pytest.mark.parametrize("args, fragment", [
    (["--dns-server", "dns.example.com:99999"], "bad --dns-server"),
    (["--azure-dns", "not a server"], "bad --azure-dns"),
    (["--arm-endpoint", "http://127.0.0.1:1"], "--arm-endpoint must be an https:// URL"),
    (["-o", "yaml"], "unknown output format"),
])
def test_command_line_input_is_refused_at_the_edge_before_anything_is_read(args, fragment, bed):
    from moe import moediag

    run = moediag(bed, "check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg-ml", "-w", "ws-prod", *args)
    assert run.code == 2 and fragment in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert bed.requests == []  # nothing was read

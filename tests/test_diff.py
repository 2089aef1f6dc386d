"""`moediag diff OLD NEW`: it worked yesterday; what changed? Exactly the planted change, with its verdict."""

from __future__ import annotations

import json

import pytest

from armbed import healthy
from moe import check, moediag

RECORD, RULES, APPROVED = "dns.inference-a-record", "workspace.outbound-rules-active", "workspace.private-endpoint-approved"


def snapshot_of(bed, dns_server, scenario, path) -> str:
    scenario.install(bed)
    dns_server.set_records(scenario.dns_records())
    run = check(bed, scenario, "--dns-server", dns_server.address, "--save-snapshot", str(path))
    assert run.code in (0, 1, 3), run.stderr
    return str(path)


@pytest.fixture(scope="module")
def before(tmp_path_factory):
    """The healthy workspace's snapshot, recorded once for the module's tests (they only read it)."""
    from armbed import ArmTestBed
    from dnsbed import DnsTestServer

    with ArmTestBed() as bed, DnsTestServer() as dns_server:
        path = snapshot_of(bed, dns_server, healthy(), tmp_path_factory.mktemp("diff") / "before.json")
        assert bed.errors == []
    return path


# (planted change, the check whose verdict it changes, the JSON path in the body it read, old value, new value)
CHANGES = {
    "a record's IP": (dict(inference_record_ip="10.0.1.99"), RECORD, ".properties.aRecords[0].ipv4Address",
                      "10.0.1.5", "10.0.1.99"),
    "a rule gone inactive": (dict(rule_status_overrides={"__SYS_PE_acrwsprod_registry": "Inactive"}), RULES,
                             ".properties.status", "Active", "Inactive"),
    "a connection rejected": (dict(pec_status="Rejected"), APPROVED,
                              ".properties.privateLinkServiceConnectionState.status", "Approved", "Rejected"),
}


@pytest.mark.parametrize("name", CHANGES)
def test_a_planted_change_is_reported_with_its_verdict_and_exits_1(name, before, bed, dns_server, tmp_path):
    overrides, check_id, path, old, new = CHANGES[name]
    after = snapshot_of(bed, dns_server, healthy(**overrides), tmp_path / "after.json")
    run = moediag(None, "diff", before, after, "--select", check_id, "-o", "json")
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    [change] = report["changes"]
    assert (change["check_id"], change["old_status"], change["new_status"], change["direction"]) == (
        check_id, "pass", "fail", "worse")
    found = [(c["path"].split("]", 1)[-1] if c["path"].startswith("$[") else c["path"], c["old"], c["new"])
             for c in change["fact_changes"]]
    assert any(p.endswith(path) and (o, n) == (old, new) for p, o, n in found), found
    assert change["evidence_changes"], "the result's own evidence shows the change too"
    assert report["summary"] == {"worse": 1, "better": 0, "appeared": 0, "disappeared": 0}


def test_the_same_change_backwards_is_better_and_exits_0(before, bed, dns_server, tmp_path):
    after = snapshot_of(bed, dns_server, healthy(pec_status="Rejected"), tmp_path / "after.json")
    run = moediag(None, "diff", after, before, "--select", APPROVED, "-o", "json")
    assert run.code == 0 and json.loads(run.stdout)["summary"]["better"] == 1


def test_identical_inputs_report_nothing_and_exit_0(before):
    run = moediag(None, "diff", before, before, "-o", "json")
    report = json.loads(run.stdout)
    assert run.code == 0 and report["changes"] == report["appeared"] == report["disappeared"] == []
    table = moediag(None, "diff", before, before, "-o", "table")
    assert table.code == 0 and "No verdict changed" in table.stdout


def test_two_reports_diff_on_their_evidence_and_a_deleted_deployment_disappears(before, bed, dns_server, tmp_path):
    from armbed import Endpoint

    old = tmp_path / "old.json"
    moediag(None, "check", "--snapshot", before, "-o", f"json={old}")
    gone = healthy(endpoints=[Endpoint("ep-main", traffic={}, deployments=[])])
    after = snapshot_of(bed, dns_server, gone, tmp_path / "after.json")
    new = tmp_path / "new.json"
    moediag(None, "check", "--snapshot", after, "-o", f"json={new}")
    report = json.loads(moediag(None, "diff", str(old), str(new), "-o", "json").stdout)
    assert any(r["resource_id"].endswith("/deployments/blue") for r in report["disappeared"])
    assert all("fact_changes" not in c for c in report["changes"])  # reports carry no bodies


def test_the_table_and_markdown_say_what_changed_and_stay_inert(before, bed, dns_server, tmp_path):
    after = snapshot_of(bed, dns_server, healthy(pec_status="Rejected"), tmp_path / "after.json")
    table = moediag(None, "diff", before, after, "--select", APPROVED, "-o", "table").stdout
    assert "✗ WORSE workspace.private-endpoint-approved" in table and "pass -> fail" in table
    assert "'Approved' -> 'Rejected'" in table
    markdown = moediag(None, "diff", before, after, "--select", APPROVED, "-o", "markdown").stdout
    assert markdown.startswith("## moediag diff") and "| worse |" in markdown


@pytest.mark.parametrize("content, fragment", [("{}", "neither a moediag report nor a moediag snapshot"),
                                               ("[1", "not valid JSON")])
def test_input_it_cannot_read_is_one_line_and_exit_2(tmp_path, content, fragment, before):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    run = moediag(None, "diff", before, str(bad))
    assert run.code == 2 and fragment in run.stderr and len(run.stderr.strip().splitlines()) == 1

"""Snapshots: what a run read, saved, then replayed with no network at all to the same verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from armbed import broken
from moe import check, moediag

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "broken-workspace.snapshot.json"


def verdicts(report: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "duration_ms"} for r in report["results"]]


def test_save_then_replay_gives_identical_results_with_the_network_guard_on(bed, tmp_path, dns_server):
    scenario = broken().install(bed)
    dns_server.set_records(scenario.dns_records())
    snap = tmp_path / "snap.json"
    live = check(bed, scenario, "--dns-server", dns_server.address, "--save-snapshot", str(snap))
    bed.stop()  # replay must not need Resource Manager at all
    replay = moediag(None, "check", "--snapshot", str(snap), "-o", "json")
    assert replay.code == live.code == 1
    assert verdicts(replay.report) == verdicts(live.report)
    assert replay.report["target"] == live.report["target"]


def test_a_snapshot_holds_no_token(bed, tmp_path):
    scenario = broken().install(bed)
    snap = tmp_path / "snap.json"
    check(bed, scenario, "--save-snapshot", str(snap), "--debug")
    assert bed.token not in snap.read_text()


def test_the_snapshot_is_versioned_and_documented_keys_are_present(bed, tmp_path):
    scenario = broken().install(bed)
    snap = tmp_path / "snap.json"
    check(bed, scenario, "--save-snapshot", str(snap))
    data = json.loads(snap.read_text())
    assert data["format"] == "moediag-snapshot" and data["version"] == 1
    assert data["target"]["workspace"] == "ws-prod"
    assert data["facts"]["workspace"]["value"]["name"] == "ws-prod"


@pytest.mark.parametrize("content, fragment", [
    ('{"format": "moediag-snapshot", "version": 1, "target": {"subscr', "not valid JSON"),
    ("[]", "not a moediag snapshot"),
    ('{"format": "moediag-snapshot", "version": 99, "target": {}, "facts": {}}', "version 99"),
    ('{"format": "moediag-snapshot", "version": 1, "target": {}, "facts": {}}', "no valid target"),
    ('{"format": "moediag-snapshot", "version": 1, "target": {"subscription_id": "00000000-1111-2222-3333-444444444444",'
     ' "resource_group": "g", "workspace": "w"}, "facts": {"workspace": 3}}', "malformed facts"),
    ('{"format": "moediag-snapshot", "version": 1, "target": {"subscription_id": "s", "resource_group": "g",'
     ' "workspace": "w"}, "facts": {}}', "no valid target"),
])
def test_a_corrupt_truncated_or_future_snapshot_is_a_one_line_exit_2(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    run = moediag(None, "check", "--snapshot", str(path), "-o", "json")
    assert run.code == 2 and fragment in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert run.stdout == ""


def test_a_missing_snapshot_file_is_exit_2(tmp_path):
    run = moediag(None, "check", "--snapshot", str(tmp_path / "nope.json"))
    assert run.code == 2 and "cannot read snapshot" in run.stderr


def test_a_fact_absent_from_the_snapshot_is_an_error_never_a_pass(tmp_path, bed):
    scenario = broken().install(bed)
    snap = tmp_path / "snap.json"
    check(bed, scenario, "--save-snapshot", str(snap))
    data = json.loads(snap.read_text())
    del data["facts"][next(k for k in data["facts"] if k.startswith("keyvault"))]
    snap.write_text(json.dumps(data))
    [kv] = moediag(None, "check", "--snapshot", str(snap), "-o", "json").results("keyvault.trusted-services-bypass")
    assert (kv["status"], kv["reason"]) == ("error", "not_in_snapshot")


def test_a_snapshot_whose_endpoint_list_is_not_a_list_gives_reasoned_errors_not_a_traceback(tmp_path):
    data = json.loads(open(EXAMPLE).read())
    data["facts"]["online_endpoints"] = {"value": 3}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data))
    run = moediag(None, "check", "--snapshot", str(path), "-o", "json")
    assert "Traceback" not in run.stderr and run.code in (1, 3)
    [traffic] = run.results("endpoint.traffic-assignment")
    assert (traffic["status"], traffic["reason"]) == ("error", "unreadable")

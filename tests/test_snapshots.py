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


# --- scan snapshots: the inventory and every workspace's facts, replayed offline ---------------------------

SCAN_VERDICT_BLOCKS = ("targets", "groups", "inventory", "notes", "unreadable_subscriptions", "scope", "summary", "cloud")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """One live scan of a small fleet (a zone missing the records of two workspaces in two subscriptions, a third
    subscription the identity cannot see), saved as a snapshot; the bed is stopped before any test replays it."""
    from armbed import ArmTestBed
    from armbed.fleet import fleet
    from dnsbed import DnsTestServer

    out = tmp_path_factory.mktemp("scan-snapshot")
    the_fleet = fleet(2, 1, 1, hidden=1, missing_records={(0, 0), (1, 0)})
    with ArmTestBed() as bed, DnsTestServer() as dns:
        the_fleet.install(bed)
        dns.set_records(the_fleet.dns_records())
        scope = [a for sub in the_fleet.subscriptions + the_fleet.hidden for a in ("-s", sub)]
        live = moediag(bed, "scan", *scope, "--dns-server", dns.address, "-o", "json",
                       "--save-snapshot", str(out / "fleet.snapshot.json"))
    assert live.code == 1, live.stderr
    return the_fleet, live.report, out / "fleet.snapshot.json"


def test_a_scan_snapshot_replays_offline_to_the_same_verdicts_groups_and_visibility(scanned):
    the_fleet, live, snap = scanned
    replay = moediag(None, "scan", "--snapshot", str(snap), "-o", "json")  # the bed is gone: no network at all
    assert replay.code == 1, replay.stderr
    report = replay.report
    assert report["kind"] == "scan" and report["mode"] == "snapshot"
    assert verdicts(report) == verdicts(live)
    assert {k: report[k] for k in SCAN_VERDICT_BLOCKS} == {k: live[k] for k in SCAN_VERDICT_BLOCKS}
    [zone] = report["groups"]  # the shared zone, grouped over both workspaces again
    assert sorted(zone["workspaces"]) == sorted(s.workspace_arm_id for s in the_fleet.scenarios)
    assert report["unreadable_subscriptions"][0]["subscription_id"] == the_fleet.hidden[0]


def test_a_scan_snapshot_holds_the_inventory_rows_shared_facts_once_and_no_token(scanned):
    the_fleet, _, snap = scanned
    data = json.loads(snap.read_text())
    assert (data["format"], data["version"], data["kind"]) == ("moediag-snapshot", 2, "scan")
    assert data["scope"]["subscriptions"] == the_fleet.subscriptions + the_fleet.hidden
    assert {row["id"] for row in data["inventory"]["rows"]} >= {s.workspace_arm_id for s in the_fleet.scenarios}
    assert [t["target"]["workspace"] for t in data["targets"]] == [s.workspace for s in the_fleet.scenarios]
    zone = the_fleet.scenarios[0].zone_id()
    assert f"private_dns_zone_links|{zone}" in data["shared_facts"]  # the zone both workspaces use: once
    assert not any(k in t["facts"] for t in data["targets"] for k in data["shared_facts"])
    assert all("workspace" in t["facts"] for t in data["targets"])  # each workspace's own body, with it
    assert "moediag-test-token" not in snap.read_text()


def test_scan_snapshot_flags_must_agree_with_the_snapshot(scanned, tmp_path):
    the_fleet, _, snap = scanned
    same = moediag(None, "scan", "--snapshot", str(snap), *[a for s in the_fleet.subscriptions + the_fleet.hidden
                                                              for a in ("-s", s)], "-o", "json")
    assert same.code == 1, same.stderr
    other = moediag(None, "scan", "--snapshot", str(snap), "-s", "00000000-1111-2222-3333-444444444444")
    assert other.code == 2 and "does not match the snapshot's scope" in other.stderr
    as_check = moediag(None, "check", "--snapshot", str(snap))
    assert as_check.code == 2 and "is the snapshot of a scan: replay it with `moediag scan --snapshot`" in as_check.stderr
    as_scan = moediag(None, "scan", "--snapshot", str(EXAMPLE))
    assert as_scan.code == 2 and "is the snapshot of a check: replay it with `moediag check --snapshot`" in as_scan.stderr
    for run in (other, as_check, as_scan):
        assert len(run.stderr.strip().splitlines()) == 1 and run.stdout == ""


def _scan_snapshot(**changes):
    base = {"format": "moediag-snapshot", "version": 2, "kind": "scan",
            "scope": {"kind": "tenant", "subscriptions": [], "management_groups": []},
            "inventory": {"rows": [], "pages": 1}, "shared_facts": {}, "targets": []}
    return json.dumps({**base, **changes})


@pytest.mark.parametrize("content, fragment", [
    (_scan_snapshot()[:-30], "not valid JSON"),
    (_scan_snapshot(kind="fleet"), "has kind 'fleet'"),
    (_scan_snapshot(scope={"kind": "tenant"}), "no valid scope"),
    (_scan_snapshot(inventory={"rows": [3]}), "no valid inventory"),
    (_scan_snapshot(targets={"a": 1}), "no valid targets"),
    (_scan_snapshot(targets=[{"target": {"subscription_id": "x", "resource_group": "g", "workspace": "w"}}]),
     "no valid target (targets[0])"),
    (_scan_snapshot(targets=[{"target": {"subscription_id": "00000000-1111-2222-3333-444444444444",
                                         "resource_group": "g", "workspace": "w"}, "facts": {"workspace": 3}}]),
     "malformed facts (targets[0])"),
    (_scan_snapshot(shared_facts={"zone": {"error": {"kind": 1}}}), "malformed fact error (shared_facts)"),
])
def test_a_corrupt_scan_snapshot_is_a_one_line_exit_2(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    run = moediag(None, "scan", "--snapshot", str(path), "-o", "json")
    assert run.code == 2 and fragment in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stdout == ""


def test_diff_of_two_scan_snapshots_names_the_workspace_and_the_changed_body(scanned, tmp_path):
    the_fleet, _, snap = scanned
    data = json.loads(snap.read_text())
    changed = the_fleet.scenarios[1]
    [entry] = [t for t in data["targets"] if t["target"]["workspace"] == changed.workspace]
    entry["facts"]["workspace"]["value"]["properties"]["v1LegacyMode"] = True  # planted: v1 mode switched on
    after = tmp_path / "after.snapshot.json"
    after.write_text(json.dumps(data))
    run = moediag(None, "diff", str(snap), str(after), "-o", "json")
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    [change] = report["changes"]
    assert (change["check_id"], change["resource_id"], change["old_status"], change["new_status"]) == (
        "workspace.v1-legacy-mode", changed.workspace_arm_id, "pass", "fail")
    assert change["fact_changes"] == [{"fact": "workspace", "path": "$.value.properties.v1LegacyMode", "old": False,
                                       "new": True}]  # that workspace's body, not the other's
    assert report["old"]["kind"] == report["new"]["kind"] == "scan"
    same = moediag(None, "diff", str(snap), str(snap), "-o", "json")
    assert same.code == 0 and json.loads(same.stdout)["changes"] == []


def test_a_redacted_scan_snapshot_holds_no_subscription_id_and_replays_to_the_redacted_verdicts(bed, dns_server, tmp_path):
    from armbed.fleet import fleet

    the_fleet = fleet(1, 1, 1, missing_records={(0, 0)}).install(bed)
    dns_server.set_records(the_fleet.dns_records())
    snap = tmp_path / "redacted.snapshot.json"
    live = moediag(bed, "scan", "-s", the_fleet.subscriptions[0], "--dns-server", dns_server.address, "--redact",
                   "-o", "json", "--save-snapshot", str(snap))
    assert live.code == 1, live.stderr
    assert the_fleet.subscriptions[0] not in snap.read_text() and the_fleet.subscriptions[0] not in live.stdout
    bed.stop()
    replay = moediag(None, "scan", "--snapshot", str(snap), "-o", "json")
    assert replay.code == 1, replay.stderr
    assert verdicts(replay.report) == verdicts(live.report) and replay.report["groups"] == live.report["groups"]

"""`moediag scan`: a fleet found by Azure Resource Graph, checked workspace by workspace, reported as one.

The acceptance fleet: 3 subscriptions, 30 workspaces, 150 online endpoints, one private DNS zone shared by all
(in the first subscription's rg-dns), which lost the inference records of 12 workspaces across the three
subscriptions; plus individual faults (a Key Vault without the trusted-services bypass, traffic sent to a deleted
deployment, v1 legacy mode) and a fourth subscription the identity cannot read. moediag runs as a user runs it
(its real entry point against the ARM test bed, whose Resource Graph endpoint answers from the scenarios; a
subprocess where a signal is sent, and for the acceptance fleet, whose scan runs while the other tests do).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from armbed.fleet import fleet, peak_in_flight_by_subscription
from armbed.graph import PATH as GRAPH
from moe import SCHEMA_VALIDATOR, moediag
from moe import start as moe_start
from moediag.collector import Collector, SharedFacts
from moediag.facts import FACTS, fact
from moediag.report import exit_code, invalid
from moediag.target import Options, Target
from netguard import subprocess_env

A_RECORD, SCORING = "dns.inference-a-record", "dns.scoring-resolution"
MISSING = {(k, i) for k in range(3) for i in range(4)}  # the shared zone lost these workspaces' records
KV, TRAFFIC, V1 = (0, 5), (1, 6), (2, 7)


def scan(bed, the_fleet, *args, dns, scope=None, start=False, **kw):
    """`moediag scan` over the fleet's subscriptions (and any hidden ones), JSON on stdout; `dns` serves the hub
    VNets' view (a DnsTestServer, or an address already serving it). `start`: a process not waited for (Started)."""
    if not isinstance(dns, str):
        dns.set_records(the_fleet.dns_records())
        dns = dns.address
    if scope is None:
        scope = [a for sub in the_fleet.subscriptions + the_fleet.hidden for a in ("-s", sub)]
    return (moe_start if start else moediag)(bed, "scan", *scope, "--dns-server", dns, "-o", "json", *args, **kw)


def acceptance_fleet():
    acls = {"bypass": "None", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []}

    def deleted_green(s):
        endpoints = list(s.endpoints)
        endpoints[0].traffic = {"blue": 50, "green": 50}
        return s.replace(endpoints=endpoints)

    return fleet(3, 10, 5, hidden=1, missing_records=MISSING, overrides={
        KV: lambda s: s.replace(kv_network_acls=acls),
        TRAFFIC: deleted_green,
        V1: lambda s: s.replace(v1_legacy_mode=True),
    })


def failing(report, check_id):
    return sorted(r["resource_id"] for r in report["results"] if r["check_id"] == check_id and r["status"] == "fail")


@pytest.fixture(scope="module", autouse=True)
def _acceptance_scan(tmp_path_factory):
    """The acceptance fleet's scan, started as its own process when this module's first test starts: it runs while
    the tests above the acceptance section do, so the tests at the end of the file, which read it, find it done.
    A run that selects none of them kills it."""
    from armbed import ArmTestBed
    from dnsbed import DnsTestServer

    out = tmp_path_factory.mktemp("scan")
    the_fleet = acceptance_fleet()
    with ArmTestBed() as bed, DnsTestServer() as dns:
        the_fleet.install(bed)
        started = scan(bed, the_fleet, "-o", f"table={out / 'scan.txt'}", "-o", f"junit={out / 'scan.xml'}",
                       "-o", f"markdown={out / 'scan.md'}", dns=dns, start=True)
        try:
            yield the_fleet, bed, started, out
        finally:
            started.stop()
        assert bed.errors == []


@pytest.fixture(scope="module")
def acceptance(_acceptance_scan):
    """(the fleet, its bed, the scan's Run, the folder of its table, JUnit and Markdown outputs)."""
    the_fleet, bed, started, out = _acceptance_scan
    return the_fleet, bed, started.wait(), out


# --- partial visibility, scopes and refusals ------------------------------------------------------------

def test_a_subscription_resource_manager_refuses_is_listed_and_exits_3(bed, dns_server):
    the_fleet = fleet(2, 2, 1).install(bed)
    refused = the_fleet.subscriptions[1]
    bed.forbid_scope(f"/subscriptions/{refused}")  # Resource Graph still lists its workspaces
    run = scan(bed, the_fleet, dns=dns_server)
    assert run.code == 3, run.stderr
    report = run.report
    [entry] = report["unreadable_subscriptions"]
    assert entry["subscription_id"] == refused and "AuthorizationFailed" in entry["reason"]
    refused_results = [r for r in report["results"] if refused in r["workspace"]]
    assert [(r["check_id"], r["status"], r["reason"]) for r in refused_results] == [
        ("scan.workspace-readable", "error", "forbidden")] * 2
    readable = [t for t in report["targets"] if t["subscription_id"] == the_fleet.subscriptions[0]]
    assert len(readable) == 2 and all(t["summary"]["pass"] > 10 for t in readable)


def test_only_unreadable_subscriptions_still_exit_3(bed, dns_server):
    the_fleet = fleet(1, 1, 1, hidden=1).install(bed)
    report = scan(bed, the_fleet, dns=dns_server).report
    assert report["summary"]["fail"] == report["summary"]["error"] == 0
    assert exit_code(report, "fail") == exit_code(report, "never") == 3


def test_a_workspace_deleted_since_resource_graph_indexed_it_is_skipped(bed, dns_server):
    the_fleet = fleet(1, 2, 1).install(bed)
    gone = the_fleet.scenarios[1]
    bed.remove(gone.workspace_arm_id)
    run = scan(bed, the_fleet, dns=dns_server)
    assert run.code == 0, run.stdout
    [result] = [r for r in run.report["results"] if r["workspace"] == gone.workspace_arm_id]
    assert (result["status"], result["reason"]) == ("skip", "not_found")


def test_management_group_and_tenant_scopes(bed, dns_server):
    the_fleet = fleet(2, 1, 1, hidden=1).install(bed)
    by_group = scan(bed, the_fleet, scope=["--management-group", "mg-ml-platform"], dns=dns_server)
    tenant = scan(bed, the_fleet, scope=[], dns=dns_server.address)
    for run in (by_group, tenant):
        assert run.code == 0, run.stderr
        assert len(run.report["targets"]) == 2 and run.report["unreadable_subscriptions"] == []
    first, second = the_fleet.graph.queries[0], the_fleet.graph.queries[-1]
    assert first["managementGroups"] == ["mg-ml-platform"] and "subscriptions" not in first
    assert "subscriptions" not in second and "managementGroups" not in second
    assert by_group.report["scope"]["kind"] == "management_groups" and tenant.report["scope"]["kind"] == "tenant"


def test_endpoints_come_from_resource_manager_when_the_graph_has_none(bed, dns_server):
    the_fleet = fleet(1, 2, 3).install(bed)
    the_fleet.graph.rows = [r for r in the_fleet.graph.rows if not r["type"].endswith("/onlineendpoints")]
    report = scan(bed, the_fleet, dns=dns_server).report
    assert report["inventory"]["endpoints"] == 0
    assert [len(t["endpoints"]) for t in report["targets"]] == [3, 3]


@pytest.mark.parametrize("status, fragment", [(403, "Resource Graph refused the query"),
                                              (401, "Azure refused the credentials")])
def test_a_refused_inventory_query_is_exit_2_with_one_line(bed, dns_server, status, fragment):
    the_fleet = fleet(1, 1, 1).install(bed)
    bed.fault(GRAPH, status, method="POST")
    run = scan(bed, the_fleet, dns=dns_server)
    assert run.code == 2 and run.stdout == ""
    [line] = run.stderr.strip().splitlines()
    assert fragment in line


@pytest.mark.parametrize("args, fragment", [
    (["-s", "not-a-guid"], "malformed subscription id"),
    (["-s", "2aac6f3c-7ded-5885-a92d-873110dc8823", "--management-group", "mg"], "not both"),
])
def test_scope_usage_errors_are_exit_2(args, fragment):
    run = moediag(None, "scan", *args)
    assert run.code == 2 and fragment in run.stderr


def test_suppressions_recount_the_workspace_summaries(bed, dns_server, tmp_path):
    acls = {"bypass": "None", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []}
    the_fleet = fleet(1, 2, 1, overrides={(0, 1): lambda s: s.replace(kv_network_acls=acls)}).install(bed)
    config = tmp_path / "moediag.toml"
    config.write_text('[[suppress]]\ncheck = "keyvault.trusted-services-bypass"\nreason = "accepted by SEC-1"\n')
    run = scan(bed, the_fleet, "--config", str(config), dns=dns_server)
    assert run.code == 0, run.stdout
    report = run.report
    assert invalid(report) is None
    assert all(t["summary"]["fail"] == 0 for t in report["targets"])


# --- concurrency: overall and per subscription ------------------------------------------------------------

def test_requests_in_flight_stay_within_the_overall_and_per_subscription_bounds(bed, dns_server):
    # 3 subscriptions x 2 allowed = 6 wanted at once > the overall 5; two workspaces per subscription already
    # want more than 2 requests at once each (every workspace reads in parallel), so a third adds only time
    the_fleet = fleet(3, 2, 1).install(bed)
    bed.latency = 0.03
    run = scan(bed, the_fleet, "--max-per-subscription", "2", "--max-concurrency", "5", dns=dns_server)
    assert run.code == 0, run.stdout[-2000:]
    peaks = peak_in_flight_by_subscription(bed.requests)
    assert set(peaks) == set(the_fleet.subscriptions)
    assert max(peaks.values()) <= 2, peaks
    assert 2 < bed.max_in_flight <= 5  # several subscriptions at once, never more than the overall bound


# --- the engine: one memo for what workspaces share ------------------------------------------------------

def test_collectors_share_shared_facts_and_keep_their_own():
    calls = []
    for name, shared in (("test_shared_fact", True), ("test_own_fact", False)):
        if name not in FACTS:
            def read(ctx, arg, name=name):
                calls.append((name, ctx.target.workspace, arg))
                time.sleep(0.02)
                return arg
            fact(name, shared=shared)(read)
    memo = SharedFacts()
    collectors = [Collector(Target("00000000-1111-2222-3333-444444444444", "rg", f"ws{i}"), Options(timeout_s=5),
                            shared=memo, workers=2) for i in range(4)]
    threads = [threading.Thread(target=lambda c=c: [c.get("test_shared_fact", "zone"), c.get("test_own_fact", "x")])
               for c in collectors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c[0] for c in calls].count("test_shared_fact") == 1
    assert sorted(c[1] for c in calls if c[0] == "test_own_fact") == ["ws0", "ws1", "ws2", "ws3"]
    alone = Collector(Target("00000000-1111-2222-3333-444444444444", "rg", "ws9"), Options(timeout_s=5), workers=1)
    assert alone.get("test_shared_fact", "zone") == "zone" and len(calls) == 6  # without a memo: its own read
    for c in [*collectors, alone]:
        c.close()


# --- the command line ------------------------------------------------------------------------------------

def test_permissions_know_what_a_scan_needs():
    plain = moediag(None, "permissions").stdout
    for_scan = moediag(None, "permissions", "--scan").stdout
    role = json.loads(moediag(None, "permissions", "--scan", "-o", "role", "-s", "00000000-1111-2222-3333-444444444444").stdout)
    assert "Microsoft.ResourceGraph/resources/read" not in plain
    assert "Microsoft.ResourceGraph/resources/read  (Reader)" in for_scan.splitlines()
    assert "Microsoft.ResourceGraph/resources/read" in role["Actions"]
    assert set(plain.split()) <= set(for_scan.split())


def test_ctrl_c_during_a_scan_writes_the_report_marked_interrupted_and_exits_130(bed, dns_server, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    the_fleet = fleet(1, 3, 1).install(bed)
    dns_server.set_records(the_fleet.dns_records())
    hung = the_fleet.scenarios[0]
    bed.hang(hung.key_vault_id)
    out = tmp_path / "scan.json"
    env = subprocess_env(dict(os.environ, **bed.env()))
    proc = subprocess.Popen([sys.executable, "-m", "moediag", "scan", "-s", the_fleet.subscriptions[0], "--dns-server",
                             dns_server.address, "-o", f"json={out}", "--timeout", "30"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while bed.arrived("GET", hung.key_vault_id) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 130, stderr
    report = json.loads(out.read_text())
    assert report["interrupted"] is True and invalid(report) is None
    [kv] = [r for r in report["results"] if r["check_id"] == "keyvault.trusted-services-bypass"
            and r["workspace"] == hung.workspace_arm_id]
    assert (kv["status"], kv["reason"]) == ("error", "interrupted")
    assert "Traceback" not in stderr


def test_same_named_workspaces_in_two_subscriptions_are_told_apart_in_every_format(bed, dns_server, tmp_path):
    import xml.etree.ElementTree as ET

    def prod(s):
        return s.replace(workspace="ws-prod", resource_group="rg-ml", v1_legacy_mode=True)

    the_fleet = fleet(2, 1, 1, overrides={(0, 0): prod, (1, 0): prod}).install(bed)
    out = {fmt: tmp_path / f"scan.{fmt}" for fmt in ("table", "markdown", "junit")}
    run = scan(bed, the_fleet, *(f"-o{fmt}={path}" for fmt, path in out.items()), "--select", "workspace.v1-legacy-mode",
               dns=dns_server)
    assert run.code == 1, run.stderr
    subs = [s[:8] for s in the_fleet.subscriptions]
    names = [f"rg-ml/ws-prod (subscription {sub}…)" for sub in subs]
    for fmt in ("table", "markdown"):
        text = out[fmt].read_text()
        assert all(name in text for name in names), (fmt, text)
    cases = {case.get("name") for case in ET.fromstring(out["junit"].read_text()).iter("testcase")}
    assert len(cases) == 2 and all(any(name in case for case in cases) for name in names)
    assert {r["workspace"] for r in run.report["results"]} == {s.workspace_arm_id for s in the_fleet.scenarios}


def test_jsonl_streams_a_line_per_workspace_that_agrees_with_the_report(bed, dns_server, tmp_path):
    the_fleet = fleet(2, 2, 1, overrides={(1, 0): lambda s: s.replace(v1_legacy_mode=True)}).install(bed)
    lines_path = tmp_path / "scan.jsonl"
    run = scan(bed, the_fleet, "-o", f"jsonl={lines_path}", dns=dns_server)
    assert run.code == 1, run.stderr
    lines = [json.loads(line) for line in lines_path.read_text().splitlines()]
    assert sorted(line["workspace_id"] for line in lines) == sorted(s.workspace_arm_id for s in the_fleet.scenarios)
    report = run.report
    for line in lines:
        mine = [r for r in report["results"] if r["workspace"] == line["workspace_id"]]
        assert [r["check_id"] for r in line["results"]] == [r["check_id"] for r in mine]
        assert line["summary"] == next(t["summary"] for t in report["targets"] if t["workspace_id"] == line["workspace_id"])


def test_a_scan_killed_half_way_leaves_a_valid_jsonl_of_the_workspaces_it_finished(bed, dns_server, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    the_fleet = fleet(1, 4, 1).install(bed)
    dns_server.set_records(the_fleet.dns_records())
    hung = the_fleet.scenarios[-1]
    bed.hang(hung.key_vault_id)  # one workspace never finishes
    lines_path = tmp_path / "scan.jsonl"
    env = subprocess_env(dict(os.environ, **bed.env()))
    proc = subprocess.Popen([sys.executable, "-m", "moediag", "scan", "-s", the_fleet.subscriptions[0], "--dns-server",
                             dns_server.address, "-o", f"jsonl={lines_path}", "-o", "json=/dev/null",
                             "--timeout", "60", "--max-workspaces", "4"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not lines_path.exists() or lines_path.read_text().count("\n") < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up: what is on disk must stand on its own
    proc.wait(timeout=10)
    text = lines_path.read_text()
    assert text.endswith("\n") and text.count("\n") == 3
    finished = [json.loads(line) for line in text.splitlines()]
    assert hung.workspace_arm_id not in {line["workspace_id"] for line in finished}


def test_partial_visibility_is_said_out_loud_with_the_workspaces_seen_per_subscription(bed, dns_server):
    the_fleet = fleet(2, 1, 1, hidden=1).install(bed)
    the_fleet.graph.rows = [r for r in the_fleet.graph.rows
                            if not (r["type"].lower().endswith("/workspaces") and r["subscriptionId"] == the_fleet.subscriptions[1])]
    report = scan(bed, the_fleet, dns=dns_server).report
    inventory = report["inventory"]
    assert inventory["limited_to_readable"] is True
    assert inventory["workspaces_by_subscription"] == {the_fleet.subscriptions[0]: 1, the_fleet.subscriptions[1]: 0}
    assert any("limited to what this identity can read" in n for n in report["notes"])
    assert any(the_fleet.subscriptions[1] in n and "hold no workspace" in n for n in report["notes"])
    assert [u["subscription_id"] for u in report["unreadable_subscriptions"]] == the_fleet.hidden


# --- budgets: --timeout per workspace, --total-timeout for the whole scan ---------------------------------

@pytest.fixture
def sdks_loaded():
    """The Azure SDKs a live scan loads, already imported: the --total-timeout counts from the scan's start, and this
    test's one-second bounds are about the scan, not about how long a cold interpreter takes to import them."""
    import azure.mgmt.resource.resources  # noqa: F401
    import azure.mgmt.resourcegraph  # noqa: F401

    import moediag.arm  # noqa: F401
    import moediag.resolver  # noqa: F401


def not_passing(report, workspace_id):
    return sorted((r["check_id"], r["status"], r["reason"]) for r in report["results"]
                  if r["workspace"] == workspace_id and r["status"] in ("error", "fail"))


def test_timeout_bounds_each_workspace_from_its_start_so_a_hung_one_ends_alone(bed, dns_server, sdks_loaded):
    the_fleet = fleet(1, 2, 1).install(bed)
    hung, *others = the_fleet.scenarios
    bed.hang(hung.key_vault_id)  # its Key Vault (and the role assignments under it) never answer
    # one workspace at a time: under one global bound the workspaces after the hung one would be cut too
    run = scan(bed, the_fleet, "--timeout", "1", "--max-workspaces", "1", dns=dns_server)
    assert run.code == 3, run.stderr
    report = run.report
    assert ("keyvault.trusted-services-bypass", "error", "timed_out") in not_passing(report, hung.workspace_arm_id)
    assert {reason for _, _, reason in not_passing(report, hung.workspace_arm_id)} == {"timed_out"}
    for s in others:  # each had its own second, from when it started: finished, nothing cut
        assert not_passing(report, s.workspace_arm_id) == []
        assert next(t for t in report["targets"] if t["workspace_id"] == s.workspace_arm_id)["summary"]["pass"] > 20
    assert bed.arrived("GET", hung.key_vault_id) == 1


def test_total_timeout_cuts_the_scan_and_names_the_workspaces_not_evaluated(bed, dns_server, tmp_path, sdks_loaded):
    the_fleet = fleet(1, 3, 1).install(bed)
    hung, *late = the_fleet.scenarios
    bed.hang(hung.key_vault_id)
    lines = tmp_path / "scan.jsonl"
    run = scan(bed, the_fleet, "--timeout", "30", "--total-timeout", "1", "--max-workspaces", "1",
               "-o", f"jsonl={lines}", dns=dns_server)
    assert run.code == 3, run.stderr  # not evaluated is never green
    report = run.report
    assert invalid(report) is None and len(report["targets"]) == 3  # complete and valid, every workspace listed
    assert ("keyvault.trusted-services-bypass", "error", "timed_out") in not_passing(report, hung.workspace_arm_id)
    for s in late:
        [result] = [r for r in report["results"] if r["workspace"] == s.workspace_arm_id]
        assert (result["status"], result["reason"]) == ("error", "timed_out")
        assert result["message"] == f"workspace {s.workspace} was not evaluated: the --total-timeout (1 s) passed before its turn"
    [note] = [n for n in report["notes"] if "not evaluated" in n]
    assert note.endswith(", ".join(f"rg-ml/{s.workspace}" for s in late))
    assert not any(s.workspace_arm_id.lower() in r.path.lower() for s in late for r in bed.requests)
    written = [json.loads(line) for line in lines.read_text().splitlines()]  # what finished, each line valid
    assert [line["workspace_id"] for line in written] == [hung.workspace_arm_id]


# --- visibility per management group ---------------------------------------------------------------------

def test_workspaces_are_counted_per_management_group_and_subscriptions_that_returned_nothing_listed(bed, dns_server,
                                                                                                   tmp_path):
    import copy

    from armbed.fleet import TENANT_ROOT

    the_fleet = fleet(3, 1, 1, hidden=1)
    ml, empty, sandbox = the_fleet.subscriptions
    root = {"name": TENANT_ROOT, "displayName": "Tenant Root Group"}
    the_fleet.chains[sandbox] = [{"name": "mg-sandbox", "displayName": "Sandbox"}, root]
    the_fleet.install(bed)  # ml and empty under mg-ml-platform, sandbox under mg-sandbox, both under the root
    the_fleet.graph.rows = [r for r in the_fleet.graph.rows
                            if not (r["type"].lower().endswith("/workspaces") and r["subscriptionId"] == empty)]
    out = {fmt: tmp_path / f"scan.{fmt}" for fmt in ("table", "markdown")}
    run = scan(bed, the_fleet, *(f"-o{fmt}={path}" for fmt, path in out.items()), "--select", "workspace.v1-legacy-mode",
               scope=[], dns=dns_server)
    assert run.code == 0, run.stderr
    report = run.report
    inventory = report["inventory"]
    assert inventory["subscriptions_without_workspaces"] == [empty]
    assert inventory["management_groups"] == [
        {"name": TENANT_ROOT, "display_name": "Tenant Root Group", "parent": None,
         "subscriptions": sorted([ml, empty, sandbox]), "workspaces": 2},
        {"name": "mg-ml-platform", "display_name": "ML platform", "parent": TENANT_ROOT,
         "subscriptions": sorted([ml, empty]), "workspaces": 1},
        {"name": "mg-sandbox", "display_name": "Sandbox", "parent": TENANT_ROOT, "subscriptions": [sandbox],
         "workspaces": 1}]
    assert the_fleet.hidden[0] not in json.dumps(inventory)  # what the identity cannot see is not guessed at
    table = out["table"].read_text()
    assert ("Workspaces seen per management group (only what this identity can read):\n"
            f"  Tenant Root Group ({TENANT_ROOT}): 2 workspace(s) in 3 subscription(s)\n"
            "    ML platform (mg-ml-platform): 1 workspace(s) in 2 subscription(s)\n"
            "    Sandbox (mg-sandbox): 1 workspace(s) in 1 subscription(s)\n") in table
    assert f"hold no workspace this identity can see: {empty}" in table
    markdown = out["markdown"].read_text()
    assert "| &nbsp;&nbsp;`Sandbox (mg-sandbox)` | 1 | 1 |" in markdown
    for change in (lambda g: g.pop("parent"), lambda g: g.__setitem__("workspaces", -1),
                   lambda g: g.__setitem__("subscriptions", [1])):  # the schema and the validator agree
        broken = copy.deepcopy(report)
        change(broken["inventory"]["management_groups"][0])
        assert not SCHEMA_VALIDATOR.is_valid(broken)  # docs/report.schema.json refuses it
        assert "inventory.management_groups[0]" in invalid(broken)


def test_a_management_group_in_scope_that_shows_no_subscription_is_said(bed, dns_server):
    the_fleet = fleet(1, 1, 1).install(bed)
    the_fleet.graph.management_groups["mg-empty"] = []
    report = scan(bed, the_fleet, scope=["--management-group", "mg-empty", "--management-group", "mg-ml-platform"],
                  dns=dns_server).report
    groups = {g["name"]: g for g in report["inventory"]["management_groups"]}
    assert groups["mg-empty"] == {"name": "mg-empty", "display_name": "mg-empty", "parent": None, "subscriptions": [],
                                  "workspaces": 0}
    assert groups["mg-ml-platform"]["workspaces"] == 1
    assert any(n.endswith("management group(s) in scope show no subscription this identity can see: mg-empty")
               for n in report["notes"])


# --- the acceptance fleet (last: its scan, started with the module, has run meanwhile) -------------------------

def test_every_fault_of_the_fleet_is_found_and_nothing_else(acceptance):
    the_fleet, _, run, _ = acceptance
    assert run.code == 1, run.stderr
    report = run.report  # validated against docs/report.schema.json
    assert invalid(report) is None and report["kind"] == "scan"
    assert len(report["targets"]) == 30 and sum(len(t["endpoints"]) for t in report["targets"]) == 150
    assert report["inventory"]["workspaces"] == 30 and report["inventory"]["endpoints"] == 150

    missing = [the_fleet.scenario(k, i) for k, i in sorted(MISSING)]
    assert failing(report, A_RECORD) == sorted(s.inference_record_id for s in missing)
    assert failing(report, SCORING) == sorted(s.endpoint_id(e.name) for s in missing for e in s.endpoints)
    kv, traffic, v1 = the_fleet.scenario(*KV), the_fleet.scenario(*TRAFFIC), the_fleet.scenario(*V1)
    assert failing(report, "keyvault.trusted-services-bypass") == [kv.key_vault_id]
    assert failing(report, "endpoint.traffic-assignment") == [traffic.endpoint_id(traffic.endpoints[0].name)]
    assert failing(report, "workspace.v1-legacy-mode") == [v1.workspace_arm_id]
    assert {r["check_id"] for r in report["results"] if r["status"] == "fail"} == {
        A_RECORD, SCORING, "keyvault.trusted-services-bypass", "endpoint.traffic-assignment", "workspace.v1-legacy-mode"}
    assert report["summary"]["error"] == 0

    [hidden] = the_fleet.hidden
    assert report["unreadable_subscriptions"] == [
        {"subscription_id": hidden, "reason": report["unreadable_subscriptions"][0]["reason"]}]
    assert "not visible to this identity" in report["unreadable_subscriptions"][0]["reason"]


def test_each_result_names_its_workspace_and_the_summaries_add_up(acceptance):
    the_fleet, _, run, _ = acceptance
    report = run.report
    ids = {s.workspace_arm_id for s in the_fleet.scenarios}
    assert {t["workspace_id"] for t in report["targets"]} == ids
    assert {r["workspace"] for r in report["results"]} == ids
    for status, total in report["summary"].items():
        assert sum(t["summary"][status] for t in report["targets"]) == total
    v1 = next(t for t in report["targets"] if t["workspace_id"] == the_fleet.scenario(*V1).workspace_arm_id)
    assert v1["summary"]["fail"] == 1 and v1["endpoints"] == [e.name for e in the_fleet.scenario(*V1).endpoints]


def test_what_workspaces_share_is_read_once(acceptance):
    the_fleet, bed, _, _ = acceptance
    zone = the_fleet.scenarios[0].zone_id()
    assert bed.count("GET", f"{zone}/virtualNetworkLinks") == 1  # one zone, 30 workspaces
    for k, sub in enumerate(the_fleet.subscriptions):
        s = the_fleet.scenario(k, 0)
        assert bed.count("GET", s.vnet_id) == 1  # one hub VNet per subscription, 10 workspaces each
        assert bed.count("GET", f"/subscriptions/{sub}/resourceGroups/rg-net/resources") == 1
    for s in the_fleet.scenarios:  # each workspace's own record: read once, none twice
        assert bed.count("GET", s.inference_record_id) == 1
        assert bed.count("GET", s.workspace_arm_id) == 1
    assert bed.duplicates() == []
    assert not any(r.path.startswith(f"/subscriptions/{the_fleet.hidden[0]}") for r in bed.requests)


def test_one_resource_graph_query_paged_with_its_skip_token(acceptance):
    the_fleet, bed, _, _ = acceptance
    queries = the_fleet.graph.queries
    rows = 30 + 150 + 3  # workspaces, endpoints, visible subscriptions (the hidden one is left out)
    assert len(queries) == -(-rows // the_fleet.page_size) == bed.count("POST", GRAPH)
    assert len({q["query"] for q in queries}) == 1
    assert "$skipToken" not in queries[0]["options"] and all(q["options"].get("$skipToken") for q in queries[1:])
    assert sorted(queries[0]["subscriptions"]) == sorted(the_fleet.subscriptions + the_fleet.hidden)
    assert all(q["options"]["resultFormat"] == "objectArray" for q in queries)


def test_the_table_has_a_line_per_workspace_and_the_shared_zone_once(acceptance):
    the_fleet, _, _, out = acceptance
    table = (out / "scan.txt").read_text()
    for s in the_fleet.scenarios:
        [row] = [line for line in table.splitlines() if line.startswith(f"{s.workspace} ")]
        assert s.subscription_id in row and row.split()[3] == "5"  # endpoints
    heads = [line for line in table.splitlines() if line.startswith("✗ FAIL") and A_RECORD in line]
    assert heads == [f"✗ FAIL   {A_RECORD} · shared resource privateDnsZones/privatelink.api.azureml.ms · "
                     "12 workspace(s), 12 resource(s) · critical"]
    assert f"shared: {the_fleet.scenarios[0].zone_id()}" in table
    singles = [line for line in table.splitlines() if line.startswith("✗ FAIL") and "keyvault." in line]
    assert singles == ["✗ FAIL   keyvault.trusted-services-bypass · 1 workspace(s), 1 resource(s) · high"]
    assert f"? {the_fleet.hidden[0]}: not visible to this identity" in table
    assert table.rstrip().endswith("Workspaces: 30 scanned, 15 with failures; 1 subscription(s) not read")


def test_junit_and_markdown_render_the_scan_and_render_reproduces_them(acceptance, tmp_path):
    from pathlib import Path

    import xmlschema

    _, _, run, out = acceptance
    xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd"))).validate((out / "scan.xml").read_text())
    markdown = (out / "scan.md").read_text()
    assert markdown.startswith("## moediag scan: 30 workspace(s)")
    assert markdown.count(f"`{A_RECORD}` on shared `privateDnsZones/privatelink.api.azureml.ms`: 12 workspace(s)") == 1
    saved = tmp_path / "scan.json"
    saved.write_text(run.stdout)
    # one render writes the three formats (the saved report is loaded and checked once, as for one format)
    rendered = {name: tmp_path / name for name in ("scan.txt", "scan.md", "scan.xml")}
    again = moediag(None, "render", str(saved), "-o", f"table={rendered['scan.txt']}",
                    "-o", f"markdown={rendered['scan.md']}", "-o", f"junit={rendered['scan.xml']}")
    assert again.code == 0, again.stderr
    for name, path in rendered.items():
        assert path.read_text() == (out / name).read_text(), name


def test_the_scan_report_groups_a_root_cause_shared_by_many_workspaces(acceptance):
    the_fleet, _, run, _ = acceptance
    report = run.report
    [zone] = [g for g in report["groups"] if g["check_id"] == A_RECORD]
    assert zone["shared_resource"].lower().endswith("/privatednszones/privatelink.api.azureml.ms")
    assert sorted(w.lower() for w in zone["workspaces"]) == sorted(
        the_fleet.scenario(*k).workspace_arm_id.lower() for k in MISSING)
    roots = set(report["diagnosis"]["root_causes"])
    assert set(zone["root_causes"]) <= roots and len(zone["root_causes"]) == len(MISSING)
    scoring = {r["id"] for r in report["results"] if r["check_id"] == SCORING and r["status"] == "fail"}
    assert scoring <= set(zone["results"])  # what the missing records explain belongs to the group


def test_the_schema_accepts_a_scan_report_and_requires_its_blocks(acceptance):
    report = acceptance[2].report
    # shallow copies of what each case changes: the report is large, the rest is shared unchanged
    for key in ("targets", "unreadable_subscriptions"):
        broken = {k: v for k, v in report.items() if k != key}
        assert not SCHEMA_VALIDATOR.is_valid(broken)  # docs/report.schema.json refuses it
        assert key in invalid(broken)
    first = report["targets"][0]
    broken = {**report, "targets": [{**first, "summary": {**first["summary"], "pass": first["summary"]["pass"] + 1}},
                                     *report["targets"][1:]]}
    assert "targets[0].summary" in invalid(broken)

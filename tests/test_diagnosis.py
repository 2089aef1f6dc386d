"""A diagnosis, not a list: one cause with several symptoms is one root cause, one plan step, one blocked hop.

Each scenario is served by the ARM test bed and its DNS view by the loopback DNS server; moediag runs in process.
"""

from __future__ import annotations

import pytest

from armbed import Deployment, Endpoint, healthy
from moe import check
from moediag import diagnosis
from moediag.diagnosis import Cause, Meta

PE_AGE, RECORD, LINK, SCORING = ("workspace.private-endpoint-age", "dns.inference-a-record", "dns.zone-vnet-link",
                                 "dns.scoring-resolution")
NETWORK, RULES, DEPLOYMENT, KV = ("workspace.managed-network-provisioned", "workspace.outbound-rules-active",
                                  "deployment.provisioning-state", "keyvault.trusted-services-bypass")
CLOSED_VAULT = {"bypass": "None", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []}


def failed_blue():
    return [Endpoint("ep-main", traffic={"blue": 100}, deployments=[Deployment("blue", provisioning_state="Failed")])]


SCENARIOS = {
    "old private endpoint": healthy(pe_created_time="2021-12-01T10:00:00.0000000Z", inference_record_ip=None),
    "missing record": healthy(inference_record_ip=None),
    "zone not linked": healthy(zone_linked=False),
    "network not provisioned": healthy(managed_network_status="Inactive", endpoints=failed_blue()),
    "key vault closed": healthy(kv_network_acls=CLOSED_VAULT, endpoints=failed_blue()),
}


def diagnose(bed, dns_server, scenario, *args: str) -> dict:
    scenario.install(bed)
    dns_server.set_records(scenario.dns_records())
    run = check(bed, scenario, "--dns-server", dns_server.address, "--logs", *args)
    return run.report


def by_check(report: dict, check_id: str) -> list[dict]:
    return [r for r in report["results"] if r["check_id"] == check_id]


def reaches(report: dict, result: dict, root_id: str) -> bool:
    """`result` leads to `root_id` through caused_by."""
    index = {r["id"]: r for r in report["results"]}
    todo, seen = list(result["caused_by"]), set()
    while todo:
        rid = todo.pop()
        if rid == root_id:
            return True
        if rid not in seen:
            seen.add(rid)
            todo += index[rid]["caused_by"]
    return False


def path(report: dict, kind: str) -> dict:
    return next(p for p in report["diagnosis"]["paths"] if p["kind"] == kind)


@pytest.fixture(scope="module")
def reports():
    """One run per scenario, shared by the tests that read them."""
    from armbed import ArmTestBed
    from dnsbed import DnsTestServer

    out = {}
    for name, scenario in SCENARIOS.items():
        with ArmTestBed() as bed, DnsTestServer() as dns:
            out[name] = diagnose(bed, dns, scenario)
    return out


@pytest.mark.parametrize("name, root, symptoms, risk, blocked", [
    ("old private endpoint", PE_AGE, [RECORD, SCORING], "destructive", ("scoring", "private-endpoint")),
    ("missing record", RECORD, [SCORING], "safe", ("scoring", "zone-record")),
    ("zone not linked", LINK, [SCORING], "safe", ("scoring", "zone-link")),
    ("network not provisioned", NETWORK, [RULES, DEPLOYMENT], "disruptive", ("deployment", "outbound-network")),
    ("key vault closed", KV, [DEPLOYMENT], "safe", ("deployment", "key-vault")),
])
def test_one_cause_is_one_root_cause_one_plan_step_and_the_blocked_hop(reports, name, root, symptoms, risk, blocked):
    report = reports[name]
    diag = report["diagnosis"]
    [cause] = by_check(report, root)
    assert diag["root_causes"] == [cause["id"]], [r["check_id"] for r in report["results"] if r["id"] in diag["root_causes"]]
    for symptom in symptoms:
        found = by_check(report, symptom)
        assert found and all(r["status"] != "pass" for r in found), (symptom, [r["status"] for r in found])
        for result in found:
            assert reaches(report, result, cause["id"]), (symptom, result["status"], result["caused_by"])
    [step] = diag["plan"]
    assert step["results"][0] == cause["id"] and step["risk"] == risk
    assert {r["id"] for s in symptoms for r in by_check(report, s)} <= set(step["results"])
    assert step["commands"] == cause["fix"]["commands"]
    kind, hop = blocked
    assert path(report, kind)["blocked_at"] == hop


def test_an_old_private_endpoint_is_never_fixed_by_adding_the_record_by_hand(reports):
    report = reports["old private endpoint"]
    [step] = report["diagnosis"]["plan"]
    assert not any("record-set" in command for command in step["commands"])
    assert any("private-endpoint delete" in command for command in step["commands"])


def test_independent_causes_each_stay_a_root_cause_with_their_own_step(bed, dns_server):
    report = diagnose(bed, dns_server, healthy(zone_linked=False, kv_network_acls=CLOSED_VAULT, endpoints=failed_blue()))
    roots = [r["check_id"] for r in report["results"] if r["id"] in report["diagnosis"]["root_causes"]]
    assert sorted(roots) == sorted([LINK, KV])
    assert len(report["diagnosis"]["plan"]) == 2
    assert path(report, "scoring")["blocked_at"] == "zone-link"
    assert path(report, "deployment")["blocked_at"] == "key-vault"


def test_a_healthy_workspace_has_no_root_cause_and_no_blocked_path(bed, dns_server):
    report = diagnose(bed, dns_server, healthy())
    assert report["diagnosis"]["root_causes"] == [] and report["diagnosis"]["plan"] == []
    assert [p["blocked_at"] for p in report["diagnosis"]["paths"]] == [None, None]
    assert all(r["caused_by"] == [] for r in report["results"])


def test_every_result_has_a_unique_id_and_every_link_points_at_a_result(reports):
    for report in reports.values():
        ids = [r["id"] for r in report["results"]]
        assert len(ids) == len(set(ids))
        assert all(c in ids for r in report["results"] for c in r["caused_by"])
        assert all(r in ids for s in report["diagnosis"]["plan"] for r in s["results"])


def test_hops_nothing_verified_say_what_was_assumed(bed, dns_server):
    # Only the Key Vault's checks run: nothing looks at the storage hop (endpoint.identity-roles would).
    report = diagnose(bed, dns_server, healthy(kv_network_acls=CLOSED_VAULT, endpoints=failed_blue()),
                      "--select", KV, "--select", DEPLOYMENT)
    hops = path(report, "deployment")["hops"]
    storage = next(h for h in hops if h["name"] == "storage")
    assert storage["status"] == "unknown" and storage["assumed"].startswith("not verified: assumed that")


# --- the linking rules, on plain results ---------------------------------------------------------------------------

WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"


def plain(check_id: str, status: str, resource: str = WS, **kw) -> dict:
    return {"check_id": check_id, "status": status, "resource_id": resource, "reason": kw.pop("reason", None),
            "fix": {"summary": f"fix {check_id}", "commands": [f"az fix {check_id}"]}, **kw}


def test_a_finding_about_one_endpoint_never_explains_another_endpoint():
    meta = {"a": Meta(), "b": Meta(explained_by=(Cause("a"),))}
    results = [plain("a", "fail", f"{WS}/onlineEndpoints/one"), plain("b", "fail", f"{WS}/onlineEndpoints/two"),
               plain("b", "fail", f"{WS}/onlineEndpoints/one/deployments/blue")]
    diagnosis.assign_ids(results)
    diagnosis.link(results, meta)
    assert results[1]["caused_by"] == [] and results[2]["caused_by"] == [results[0]["id"]]


def test_declared_cycles_never_make_a_loop_and_a_condition_limits_what_a_cause_explains():
    meta = {"a": Meta(explained_by=(Cause("b"),)), "b": Meta(explained_by=(Cause("a"),)),
            "c": Meta(explained_by=(Cause("a", lambda f: f["message"] == "about secrets"),))}
    results = [plain("a", "fail"), plain("b", "fail"), plain("c", "fail", message="about secrets"),
               plain("c", "fail", f"{WS}/x", message="about python")]
    diagnosis.assign_ids(results)
    diagnosis.link(results, meta)
    assert not (results[0]["caused_by"] and results[1]["caused_by"])  # never each other's cause
    assert results[2]["caused_by"] == [results[0]["id"]] and results[3]["caused_by"] == []


def test_the_same_fix_for_two_root_causes_is_one_step():
    meta = {"a": Meta()}
    results = [plain("a", "fail", f"{WS}/onlineEndpoints/one"), plain("a", "fail", f"{WS}/onlineEndpoints/two")]
    for r in results:
        r["fix"] = {"summary": "the same", "commands": ["az same"]}
    diagnosis.assign_ids(results)
    diagnosis.link(results, meta)
    [step] = diagnosis.diagnose(results, meta, {"": []})["plan"]
    assert step["results"] == [r["id"] for r in results] and step["step"] == 1


def test_built_in_checks_declare_causes_that_exist_and_form_no_cycle():
    from moediag.registry import all_checks

    checks = all_checks()
    meta = diagnosis.meta_of(checks.values())
    order = diagnosis._check_order(meta)
    for cid, m in meta.items():
        for cause in m.explained_by:
            assert cause.check_id in checks, (cid, cause.check_id)
            assert order.index(cause.check_id) < order.index(cid), f"{cause.check_id} -> {cid} closes a cycle"


# --- every rendering is a rendering of the diagnosis ---------------------------------------------------------------

def example_report() -> dict:
    from pathlib import Path

    from moe import moediag

    example = Path(__file__).resolve().parent.parent / "examples" / "broken-workspace.snapshot.json"
    return moediag(None, "check", "--snapshot", str(example), "-o", "json").report


def test_markdown_starts_with_the_root_causes_and_the_plan():
    from moediag.render import renderer

    report = example_report()
    markdown = renderer("markdown")(report, False)
    diagnosis_at, failures_at = markdown.index("### Diagnosis"), markdown.index("### Failures")
    assert diagnosis_at < markdown.index("```mermaid") < failures_at
    plan = markdown[diagnosis_at:failures_at]
    for step in report["diagnosis"]["plan"]:
        assert f"{step['step']}\\. " in plan and step["risk"] in plan
        assert all(command in plan for command in step["commands"])


def test_the_mermaid_diagram_marks_the_blocking_hop_of_each_path():
    from moediag.render import mermaid

    report = example_report()
    diagram = mermaid.render(report)
    assert "class pe,workspace st_blocked" in diagram
    assert 'BLOCKS scoring of ep-main' in diagram and "BLOCKS deployment of ep-main/blue" in diagram


def test_a_consequence_junit_failure_names_its_root_cause():
    import xml.etree.ElementTree as ET

    from moediag.render import renderer

    xml = ET.fromstring(renderer("junit")(example_report(), False))
    [scoring] = [c for c in xml.iter("testcase") if c.get("classname") == SCORING]
    message = scoring.find("failure").get("message")
    assert "Caused by: workspace.private-endpoint-age on privateEndpoints/pe-ws (fixed by step 2)." in message


# --- fixes that do no harm ------------------------------------------------------------------------------------------

def test_a_zone_record_holding_another_approved_private_endpoints_ip_is_a_shared_zone_conflict_not_a_rewrite(
        bed, dns_server, tmp_path):
    import json

    from moe import add_private_endpoint
    from moe import check as run_check
    from moediag import session
    from moediag.registry import all_checks

    scenario = healthy()
    scenario.install(bed)
    dns_server.set_records(scenario.dns_records())
    snap = tmp_path / "snap.json"
    run_check(bed, scenario, "--dns-server", dns_server.address, "--select", RECORD, "--save-snapshot", str(snap))
    data = json.loads(snap.read_text())
    facts = data["facts"]
    add_private_endpoint(facts, "pe-ws-spoke", inference_ip="10.9.1.5")
    record_key = next(k for k in facts if k.startswith("private_dns_record|"))
    facts[record_key]["value"]["properties"]["aRecords"] = [{"ipv4Address": "10.9.1.5"}]  # the spoke registered last

    report = session.replay(data, [all_checks()[RECORD]], 10).report
    conflict = next(r for r in report["results"] if r["status"] == "fail")
    assert "another approved private endpoint" in conflict["message"] and "pe-ws-spoke" in conflict["message"]
    assert conflict["fix"]["risk"] == "destructive"
    assert not any("add-record" in c or "remove-record" in c for c in conflict["fix"]["commands"])
    assert "its own" in conflict["fix"]["summary"] and "peering" in conflict["fix"]["summary"]

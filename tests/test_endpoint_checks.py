"""The endpoint and deployment checks of the runbook end to end, on the ARM test bed through the real Azure SDK
over HTTPS: a workspace of endpoints in several states, request economy and paging, -d/-e selection, unreadable
lists, the getLogs action (forbidden, hanging) and real recorded bodies. Each check's verdicts case by case
(traffic and mirror rules, provisioning states, public access, isolation method, log findings) are fixture cases in
tests/fixtures/checks/ (in process).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from armbed import Deployment, Endpoint, healthy, many_endpoints
from armbed.scenarios import many_states
from moe import check

ENDPOINT_CHECKS = ["endpoint.traffic-assignment", "endpoint.provisioning-state", "endpoint.public-network-access"]
DEPLOYMENT_CHECKS = ["deployment.provisioning-state", "deployment.isolation-method", "deployment.logs"]
ALL = ENDPOINT_CHECKS + DEPLOYMENT_CHECKS
GET_LOGS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/getLogs/action"
EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "arm-examples" / "Microsoft.MachineLearningServices"


def select(*ids):
    return [a for cid in ids for a in ("--select", cid)]


def by_resource(run, check_id):
    """{"<endpoint>" or "<endpoint>/<deployment>": status} of one check."""
    out = {}
    for r in run.results(check_id):
        tail = r["resource_id"].split("/onlineEndpoints/")[-1]
        out[tail.replace("/deployments/", "/")] = r["status"]
    return out


def one(run, check_id, resource_tail):
    [result] = [r for r in run.results(check_id) if r["resource_id"].endswith(resource_tail)]
    return result


def endpoints_with(*deployments, traffic=None, **endpoint_knobs):
    deps = list(deployments) or [Deployment("blue")]
    return [Endpoint("ep-main", traffic=traffic if traffic is not None else {"blue": 100}, deployments=deps,
                     **endpoint_knobs)]


# --- the acceptance workspace --------------------------------------------------------------------


def test_several_endpoints_give_exactly_the_expected_status_per_resource_and_exit_1(bed):
    scenario = many_states().install(bed)
    run = check(bed, scenario, *select(*ALL))
    assert run.code == 1
    assert by_resource(run, "endpoint.traffic-assignment") == {
        "ep-healthy": "pass", "ep-deleted": "fail", "ep-zero": "fail", "ep-failed": "pass", "ep-updating": "pass"}
    assert by_resource(run, "endpoint.provisioning-state") == {
        "ep-healthy": "pass", "ep-deleted": "pass", "ep-zero": "pass", "ep-failed": "pass", "ep-updating": "warn"}
    assert set(run.statuses("endpoint.public-network-access")) == {"pass"}
    assert by_resource(run, "deployment.provisioning-state") == {
        "ep-healthy/blue": "pass", "ep-deleted/blue": "pass", "ep-zero/blue": "pass", "ep-failed/blue": "fail",
        "ep-updating/blue": "warn"}
    assert set(run.statuses("deployment.isolation-method")) == {"pass"}
    assert by_resource(run, "deployment.logs") == {
        "ep-healthy/blue": "skip", "ep-deleted/blue": "skip", "ep-zero/blue": "skip", "ep-failed/blue": "fail",
        "ep-updating/blue": "pass"}  # read because it is not Succeeded; nothing known in it


def test_each_endpoint_and_each_deployment_is_requested_once_per_run(bed):
    scenario = many_states().install(bed)
    check(bed, scenario, "--logs")
    assert bed.duplicates() == []
    ws = scenario.workspace_arm_id
    assert bed.count("GET", f"{ws}/onlineEndpoints") == 3  # 5 endpoints in pages of 2, each page once
    for e in scenario.endpoints:
        assert bed.count("GET", scenario.endpoint_id(e.name)) == 0  # the list carried the bodies
        assert bed.count("GET", scenario.endpoint_id(e.name) + "/deployments") == 1
        for d in e.deployments:
            assert bed.count("GET", scenario.deployment_id(e.name, d.name)) == 0
            assert bed.count("POST", scenario.deployment_id(e.name, d.name) + "/getLogs") == 2  # two containers


def test_named_endpoints_are_each_read_once_by_id(bed):
    scenario = many_states().install(bed)
    run = check(bed, scenario, "-e", "ep-zero", "-e", "ep-failed", *select(*ALL))
    assert by_resource(run, "endpoint.traffic-assignment") == {"ep-zero": "fail", "ep-failed": "pass"}
    assert bed.count("GET", scenario.endpoint_id("ep-zero")) == 1
    assert bed.count("GET", f"{scenario.workspace_arm_id}/onlineEndpoints") == 0
    assert bed.duplicates() == []


def test_every_page_of_endpoints_and_deployments_gets_its_results(bed):
    scenario = many_endpoints(count=7, deployments_each=3, endpoints_page_size=3).install(bed)
    run = check(bed, scenario, *select("endpoint.provisioning-state", "deployment.provisioning-state"))
    assert run.code == 0
    assert len(run.results("endpoint.provisioning-state")) == 7
    assert len(set(r["resource_id"] for r in run.results("deployment.provisioning-state"))) == 21


def test_a_workspace_without_endpoints_skips_every_endpoint_check(bed):
    scenario = healthy(endpoints=[]).install(bed)
    run = check(bed, scenario, *select(*ALL))
    assert run.code == 0
    for cid in ALL:
        [result] = run.results(cid)
        assert (result["status"], result["resource_id"]) == ("skip", scenario.workspace_arm_id)


def test_traffic_is_judged_against_all_deployments_even_when_one_is_named(bed):
    deps = [Deployment("blue"), Deployment("green")]
    scenario = healthy(endpoints=endpoints_with(*deps, traffic={"blue": 50, "green": 50})).install(bed)
    run = check(bed, scenario, "-d", "blue", *select("endpoint.traffic-assignment", "deployment.provisioning-state"))
    assert run.statuses("endpoint.traffic-assignment") == ["pass"]
    assert by_resource(run, "deployment.provisioning-state") == {"ep-main/blue": "pass"}


# --- -d NAME ------------------------------------------------------------------------------------


def test_a_deployment_name_only_some_endpoints_have_skips_the_others(bed):
    endpoints = [Endpoint("ep-a", traffic={"blue": 100}, deployments=[Deployment("blue")]),
                 Endpoint("ep-b", traffic={"green": 100}, deployments=[Deployment("green")])]
    scenario = healthy(endpoints=endpoints).install(bed)
    run = check(bed, scenario, "-d", "blue", *select(*DEPLOYMENT_CHECKS))
    assert by_resource(run, "deployment.provisioning-state") == {"ep-a/blue": "pass", "ep-b": "skip"}
    skip = one(run, "deployment.provisioning-state", "/onlineEndpoints/ep-b")
    assert skip["message"] == "endpoint ep-b has no deployment named blue"
    assert bed.duplicates() == [] and bed.count("GET", scenario.deployment_id("ep-a", "blue")) == 0


def test_a_deployment_name_no_endpoint_has_is_a_usage_error(bed):
    scenario = many_states().install(bed)
    run = check(bed, scenario, "-d", "purple")
    assert run.code == 2 and run.stdout == ""
    assert "deployment 'purple' not found" in run.stderr and "ep-healthy" in run.stderr


def test_a_deployment_name_is_not_declared_missing_when_a_list_was_unreadable(bed):
    scenario = many_states().install(bed)
    bed.fault(scenario.endpoint_id("ep-zero") + "/deployments", 403)
    run = check(bed, scenario, "-d", "purple", *select("deployment.provisioning-state"))
    assert run.code == 3
    assert by_resource(run, "deployment.provisioning-state")["ep-zero"] == "error"


# --- unreadable lists -------------------------------------------------------------------------


def test_unreadable_endpoints_are_an_error_for_every_endpoint_check(bed):
    scenario = healthy().install(bed)
    bed.fault(f"{scenario.workspace_arm_id}/onlineEndpoints", 403)
    run = check(bed, scenario, *select(*ALL))
    assert run.code == 3
    for cid in ALL:
        [result] = run.results(cid)
        assert (result["status"], result["reason"]) == ("error", "forbidden"), cid


# --- deployment.logs ----------------------------------------------------------------------------


def test_no_logs_skips_every_deployment_as_not_requested_and_reads_nothing(bed):
    scenario = many_states().install(bed)
    run = check(bed, scenario, "--no-logs", *select("deployment.logs"))
    assert {(r["status"], r["reason"]) for r in run.results("deployment.logs")} == {("skip", "not_requested")}
    assert len(run.results("deployment.logs")) == 5
    assert bed.count("POST") == 0


def test_logs_that_cannot_be_read_are_an_error_naming_the_action_not_a_pass(bed):
    scenario = healthy(endpoints=endpoints_with(Deployment("blue", provisioning_state="Failed"))).install(bed)
    bed.fault(scenario.deployment_id("ep-main", "blue") + "/getLogs", 403, method="POST")
    run = check(bed, scenario, *select("deployment.logs"))
    [result] = run.results("deployment.logs")
    assert (result["status"], result["reason"]) == ("error", "forbidden")
    assert GET_LOGS in result["message"]
    assert run.code == 3


def test_a_log_read_that_hangs_is_an_error_within_the_timeout(bed):
    scenario = healthy(endpoints=endpoints_with(Deployment("blue", provisioning_state="Failed"))).install(bed)
    bed.hang(scenario.deployment_id("ep-main", "blue") + "/getLogs", method="POST")
    started = time.monotonic()
    run = check(bed, scenario, "--timeout", "1.5", *select("deployment.logs"))
    assert time.monotonic() - started < 1.5 + 1
    assert bed.arrived("POST", scenario.deployment_id("ep-main", "blue") + "/getLogs") >= 1
    [result] = run.results("deployment.logs")
    assert result["status"] == "error" and result["reason"] == "timed_out"


# --- real recorded shapes ----------------------------------------------------------------------


def _example(name):
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not here (only CI has ../shared/arm-examples)")
    return json.loads(path.read_text())


def test_recorded_2022_endpoint_and_deployments_are_judged(bed):
    recording = _example("OnlineDeployments_List_and_OnlineEndpoints_Get__2022-02-01-preview__recording_excerpt_"
                         "test_online_deployment_end.json")
    deployments = next(e["ResponseBody"] for e in recording["Entries"] if e["RequestUri"].split("?")[0].endswith("/deployments"))
    endpoint = next(e["ResponseBody"] for e in recording["Entries"] if "/deployments" not in e["RequestUri"])
    scenario = healthy(endpoints=[]).install(bed)
    name = endpoint["name"]
    bed.collection(f"{scenario.workspace_arm_id}/onlineEndpoints", [endpoint], register_items=False)
    bed.collection(scenario.endpoint_id(name) + "/deployments", deployments["value"], register_items=False)
    run = check(bed, scenario, *select(*ALL))
    assert run.statuses("endpoint.traffic-assignment") == ["pass"]  # {"<deployment>": 100}
    assert run.statuses("endpoint.provisioning-state") == ["pass"]
    assert run.statuses("endpoint.public-network-access") == ["fail"]  # Enabled, workspace Disabled: unsupported
    assert run.statuses("deployment.provisioning-state") == ["pass"]
    assert run.statuses("deployment.isolation-method") == ["pass"]  # egressPublicNetworkAccess Enabled
    assert run.statuses("deployment.logs") == ["skip"]
    assert one(run, "deployment.isolation-method", f"/deployments/{name}")["resource_id"] == scenario.deployment_id(name, name)


def test_the_2025_spec_endpoint_example_is_judged_without_crashing(bed):
    example = _example("OnlineEndpoints_Get__2025-12-01.json")["responses"]["200"]["body"]
    scenario = healthy(endpoints=[]).install(bed)
    bed.collection(f"{scenario.workspace_arm_id}/onlineEndpoints", [example], register_items=False)
    bed.collection(scenario.endpoint_id(example["name"]) + "/deployments", [], register_items=False)
    run = check(bed, scenario, *select(*ENDPOINT_CHECKS))
    assert run.statuses("endpoint.traffic-assignment") == ["fail"]  # {"string": 1}: no such deployment, sum 1
    assert run.statuses("endpoint.provisioning-state") == ["warn"]  # Creating
    pna = run.results("endpoint.public-network-access")[0]
    assert pna["status"] == "fail" and "default" in pna["message"]  # absent: the default, Enabled

"""The endpoint and deployment checks of the runbook, each against healthy, broken and unreadable evidence.

Every test runs moediag as a subprocess against the ARM test bed, through the real Azure SDK over HTTPS.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from armbed import Deployment, Endpoint, healthy, many_endpoints
from armbed.scenarios import HEALTHY_STORAGE_INIT_LOG, many_states
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


def test_the_report_names_each_resource_by_id_with_what_was_expected_and_seen(bed):
    scenario = many_states().install(bed)
    run = check(bed, scenario, *select(*ALL))
    for result in run.report["results"]:
        assert result["resource_id"].startswith(scenario.endpoint_id(""))
    deleted = one(run, "endpoint.traffic-assignment", "/onlineEndpoints/ep-deleted")
    assert deleted["resource_id"] == scenario.endpoint_id("ep-deleted")
    assert deleted["evidence"]["observed"]["traffic"] == {"blue": 50, "green": 50}
    assert deleted["evidence"]["observed"]["deployments"] == ["blue"]
    assert "green" in deleted["message"] and "summing to 100" in deleted["evidence"]["expected"]
    failed = one(run, "deployment.provisioning-state", "ep-failed/deployments/blue")
    assert failed["resource_id"] == scenario.deployment_id("ep-failed", "blue")
    assert (failed["evidence"]["expected"], failed["evidence"]["observed"]) == ("Succeeded", "Failed")
    assert "az ml online-deployment get-logs -e ep-failed -n blue -g rg-ml -w ws-prod --lines 300" in failed["fix"]["commands"]


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


# --- endpoint.traffic-assignment -----------------------------------------------------------------


def test_traffic_on_a_deleted_deployment_fails_with_a_fix_naming_the_real_deployment_and_the_header(bed):
    scenario = many_states().install(bed)
    run = check(bed, scenario, *select("endpoint.traffic-assignment"))
    deleted = one(run, "endpoint.traffic-assignment", "ep-deleted")
    assert deleted["fix"]["commands"] == ['az ml online-endpoint update -n ep-deleted -g rg-ml -w ws-prod --traffic blue=100']
    assert "azureml-model-deployment: blue" in deleted["fix"]["summary"]
    zero = one(run, "endpoint.traffic-assignment", "ep-zero")
    assert zero["evidence"]["problems"] == ["traffic-no-positive-share", "traffic-sum-not-100"]
    assert zero["fix"]["commands"] == ['az ml online-endpoint update -n ep-zero -g rg-ml -w ws-prod --traffic blue=100']


TRAFFIC_CASES = {  # endpoint: (traffic, mirrorTraffic, status, problem); each has deployments blue and green
    "ep-split": ({"blue": 70, "green": 30}, {}, "pass", None),
    "ep-mirror": ({"blue": 100}, {"green": 10}, "pass", None),
    "ep-sixty": ({"blue": 60}, {}, "fail", "traffic-sum-not-100"),
    "ep-empty": ({}, {}, "fail", "traffic-no-positive-share"),
    "ep-mirror-60": ({"blue": 100}, {"green": 60}, "fail", "mirror-above-50"),
    "ep-mirror-gone": ({"blue": 100}, {"gone": 10}, "fail", "mirror-names-missing-deployment"),
}


def test_traffic_and_mirror_rules(bed):
    endpoints = [Endpoint(name, traffic=traffic, mirror_traffic=mirror, deployments=[Deployment("blue"), Deployment("green")])
                 for name, (traffic, mirror, _, _) in TRAFFIC_CASES.items()]
    scenario = healthy(endpoints=endpoints).install(bed)
    run = check(bed, scenario, *select("endpoint.traffic-assignment"))
    assert by_resource(run, "endpoint.traffic-assignment") == {name: case[2] for name, case in TRAFFIC_CASES.items()}
    for name, (_, _, _, problem) in TRAFFIC_CASES.items():
        if problem:
            result = one(run, "endpoint.traffic-assignment", f"/onlineEndpoints/{name}")
            assert problem in result["evidence"]["problems"]
            assert all(f"-n {name} -g rg-ml -w ws-prod" in c for c in result["fix"]["commands"])


def test_mirroring_too_much_or_to_a_missing_deployment_is_fixed_with_mirror_traffic(bed):
    endpoints = endpoints_with(Deployment("blue"), Deployment("green"), mirror_traffic={"green": 60, "gone": 5})
    scenario = healthy(endpoints=endpoints).install(bed)
    [result] = check(bed, scenario, *select("endpoint.traffic-assignment")).results("endpoint.traffic-assignment")
    assert result["fix"]["commands"] == ["az ml online-endpoint update -n ep-main -g rg-ml -w ws-prod --mirror-traffic 'gone=0 green=50'"]


def test_existing_shares_are_scaled_to_100_in_the_fix(bed):
    deps = [Deployment("blue"), Deployment("green")]
    scenario = healthy(endpoints=endpoints_with(*deps, traffic={"blue": 20, "green": 20, "old": 60})).install(bed)
    [result] = check(bed, scenario, *select("endpoint.traffic-assignment")).results("endpoint.traffic-assignment")
    assert result["status"] == "fail"
    assert result["fix"]["commands"] == ["az ml online-endpoint update -n ep-main -g rg-ml -w ws-prod --traffic 'blue=50 green=50'"]


def test_an_endpoint_before_its_first_deployment_is_not_applicable(bed):
    scenario = healthy(endpoints=[Endpoint("ep-new")]).install(bed)
    [result] = check(bed, scenario, *select("endpoint.traffic-assignment")).results("endpoint.traffic-assignment")
    assert (result["status"], result["reason"]) == ("skip", "not_applicable")


def test_traffic_with_unreadable_deployments_is_an_error_and_other_endpoints_are_still_judged(bed):
    scenario = many_states().install(bed)
    bed.fault(scenario.endpoint_id("ep-zero") + "/deployments", 403)
    run = check(bed, scenario, *select("endpoint.traffic-assignment"))
    zero = one(run, "endpoint.traffic-assignment", "ep-zero")
    assert (zero["status"], zero["reason"]) == ("error", "forbidden")
    assert "onlineEndpoints/deployments/read" in zero["message"]
    assert by_resource(run, "endpoint.traffic-assignment")["ep-healthy"] == "pass"


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


# --- provisioning states -------------------------------------------------------------------------


DEPLOYMENT_STATES = {"Succeeded": "pass", "Failed": "fail", "Canceled": "fail", "Creating": "warn",
                     "Updating": "warn", "Scaling": "warn", "Deleting": "warn"}


def test_deployment_provisioning_state(bed):
    deps = [Deployment(state.lower(), provisioning_state=state) for state in DEPLOYMENT_STATES]
    scenario = healthy(endpoints=endpoints_with(*deps, traffic={"succeeded": 100})).install(bed)
    run = check(bed, scenario, *select("deployment.provisioning-state"))
    assert by_resource(run, "deployment.provisioning-state") == {
        f"ep-main/{state.lower()}": status for state, status in DEPLOYMENT_STATES.items()}
    for state, status in DEPLOYMENT_STATES.items():
        result = one(run, "deployment.provisioning-state", f"/deployments/{state.lower()}")
        assert result["evidence"]["observed"] == state
        if status != "pass":
            assert all(f"-e ep-main -n {state.lower()} -g rg-ml -w ws-prod" in c for c in result["fix"]["commands"])


def test_endpoint_provisioning_state(bed):
    states = {"Succeeded": "pass", "Failed": "fail", "Updating": "warn", "Creating": "warn"}
    endpoints = [Endpoint(f"ep-{state.lower()}", traffic={"blue": 100}, deployments=[Deployment("blue")],
                          provisioning_state=state) for state in states]
    scenario = healthy(endpoints=endpoints).install(bed)
    run = check(bed, scenario, *select("endpoint.provisioning-state"))
    assert by_resource(run, "endpoint.provisioning-state") == {f"ep-{k.lower()}": v for k, v in states.items()}
    failed = one(run, "endpoint.provisioning-state", "/ep-failed")
    assert f"az monitor activity-log list --resource-id {scenario.endpoint_id('ep-failed')} --status Failed --offset 1d" \
        in failed["fix"]["commands"]


def test_a_deployment_without_a_provisioning_state_is_unreadable_not_a_pass(bed):
    scenario = healthy().install(bed)
    path = scenario.endpoint_id("ep-main") + "/deployments"
    body = copy.deepcopy(bed.get(path))
    del body[0]["properties"]["provisioningState"]
    bed.collection(path, body)
    [result] = check(bed, scenario, *select("deployment.provisioning-state")).results("deployment.provisioning-state")
    assert (result["status"], result["reason"]) == ("error", "unreadable")


def test_unreadable_endpoints_are_an_error_for_every_endpoint_check(bed):
    scenario = healthy().install(bed)
    bed.fault(f"{scenario.workspace_arm_id}/onlineEndpoints", 403)
    run = check(bed, scenario, *select(*ALL))
    assert run.code == 3
    for cid in ALL:
        [result] = run.results(cid)
        assert (result["status"], result["reason"]) == ("error", "forbidden"), cid


# --- endpoint.public-network-access --------------------------------------------------------------


@pytest.mark.parametrize("workspace_access, expected", [
    ("Disabled", {"ep-closed": "pass", "ep-open": "fail"}),  # not a supported combination
    ("Enabled", {"ep-closed": "pass", "ep-open": "pass"})])
def test_public_network_access(bed, workspace_access, expected):
    endpoints = [Endpoint("ep-closed", public_network_access="Disabled"), Endpoint("ep-open", public_network_access="Enabled")]
    scenario = healthy(public_network_access=workspace_access, endpoints=endpoints).install(bed)
    run = check(bed, scenario, *select("endpoint.public-network-access"))
    assert by_resource(run, "endpoint.public-network-access") == expected
    opened = one(run, "endpoint.public-network-access", "/ep-open")
    assert opened["evidence"]["observed"] == {"endpoint": "Enabled", "workspace": workspace_access}
    if opened["status"] == "fail":
        assert opened["fix"]["commands"] == [
            "az ml online-endpoint update -n ep-open -g rg-ml -w ws-prod --set public_network_access=disabled"]


def test_an_open_endpoint_with_an_unreadable_workspace_is_an_error(bed):
    scenario = healthy(endpoints=endpoints_with(public_network_access="Enabled")).install(bed)
    bed.fault(scenario.workspace_arm_id, 403)
    [result] = check(bed, scenario, *select("endpoint.public-network-access")).results("endpoint.public-network-access")
    assert (result["status"], result["reason"]) == ("error", "forbidden")


# --- deployment.isolation-method -----------------------------------------------------------------


@pytest.mark.parametrize("isolation, expected", [
    ("AllowOnlyApprovedOutbound", {"legacy": "warn", "current": "pass", "enabled": "pass"}),
    ("AllowInternetOutbound", {"legacy": "warn", "current": "pass", "enabled": "pass"}),
    ("Disabled", {"legacy": "pass", "current": "pass", "enabled": "pass"}),
    (None, {"legacy": "pass", "current": "pass", "enabled": "pass"})])
def test_isolation_method(bed, isolation, expected):
    deps = [Deployment("legacy", egress_public_network_access="Disabled"), Deployment("current"),
            Deployment("enabled", egress_public_network_access="Enabled")]
    scenario = healthy(isolation_mode=isolation, endpoints=endpoints_with(*deps, traffic={"legacy": 100})).install(bed)
    run = check(bed, scenario, *select("deployment.isolation-method"))
    assert by_resource(run, "deployment.isolation-method") == {f"ep-main/{d}": s for d, s in expected.items()}
    legacy = one(run, "deployment.isolation-method", "/deployments/legacy")
    if legacy["status"] == "warn":
        assert "cannot be changed after creation" in legacy["message"]
        commands = legacy["fix"]["commands"]
        assert commands[0].startswith("az ml online-deployment create -e ep-main -n legacy-v2 -g rg-ml -w ws-prod")
        assert commands[1] == "az ml online-endpoint update -n ep-main -g rg-ml -w ws-prod --traffic 'legacy=0 legacy-v2=100'"


def test_isolation_method_with_an_unreadable_workspace_is_an_error_only_where_it_matters(bed):
    deps = [Deployment("blue", egress_public_network_access="Disabled"), Deployment("green")]
    scenario = healthy(endpoints=endpoints_with(*deps)).install(bed)
    bed.fault(scenario.workspace_arm_id, 403)
    run = check(bed, scenario, *select("deployment.isolation-method"))
    assert by_resource(run, "deployment.isolation-method") == {"ep-main/blue": "error", "ep-main/green": "pass"}


# --- deployment.logs ----------------------------------------------------------------------------


def test_no_logs_skips_every_deployment_as_not_requested_and_reads_nothing(bed):
    scenario = many_states().install(bed)
    run = check(bed, scenario, "--no-logs", *select("deployment.logs"))
    assert {(r["status"], r["reason"]) for r in run.results("deployment.logs")} == {("skip", "not_requested")}
    assert len(run.results("deployment.logs")) == 5
    assert bed.count("POST") == 0


def test_logs_of_all_deployments_pass_when_nothing_known_is_found(bed):
    scenario = healthy().install(bed)
    [result] = check(bed, scenario, "--logs", *select("deployment.logs")).results("deployment.logs")
    assert result["status"] == "pass"
    assert result["evidence"]["containers_read"] == ["InferenceServer", "StorageInitializer"]


def test_the_import_error_of_a_failed_deployment_is_in_the_evidence_with_its_fix(bed):
    scenario = many_states().install(bed)
    run = check(bed, scenario, *select("deployment.logs"))
    failed = one(run, "deployment.logs", "ep-failed/deployments/blue")
    assert failed["status"] == "fail" and "lightgbm" in failed["message"]
    assert failed["evidence"]["observed"] == ["[InferenceServer] ModuleNotFoundError: No module named 'lightgbm'"]
    [finding] = failed["evidence"]["findings"]
    assert (finding["pattern"], finding["container"]) == ("python-import", "InferenceServer")
    assert failed["fix"]["summary"].startswith("Add lightgbm to the environment")
    assert "az ml online-deployment update -e ep-failed -n blue -g rg-ml -w ws-prod -f <deployment.yml>" in failed["fix"]["commands"]


def test_a_storage_permission_failure_names_the_endpoint_identity_and_the_storage_account(bed):
    log = HEALTHY_STORAGE_INIT_LOG + "2024-02-12T09:18:42.001Z | ERROR | AuthorizationPermissionMismatch\n"
    deps = [Deployment("blue", provisioning_state="Failed", logs={"InferenceServer": "", "StorageInitializer": log})]
    scenario = healthy(endpoints=endpoints_with(*deps)).install(bed)
    [result] = check(bed, scenario, *select("deployment.logs")).results("deployment.logs")
    assert result["status"] == "fail"
    principal = bed.get(f"{scenario.workspace_arm_id}/onlineEndpoints")[0]["identity"]["principalId"]
    assert (f'az role assignment create --assignee-object-id {principal} --assignee-principal-type ServicePrincipal '
            f'--role "Storage Blob Data Reader" --scope {scenario.storage_id}') in result["fix"]["commands"]
    assert ("az ml online-deployment get-logs -e ep-main -n blue -g rg-ml -w ws-prod --lines 300 "
            "--container storage-initializer") in result["fix"]["commands"]


def test_known_failure_lines_in_a_healthy_deployment_warn(bed):
    logs = {"InferenceServer": "Liveness probe failed: context deadline exceeded\n", "StorageInitializer": ""}
    scenario = healthy(endpoints=endpoints_with(Deployment("blue", logs=logs))).install(bed)
    [result] = check(bed, scenario, "--logs", *select("deployment.logs")).results("deployment.logs")
    assert result["status"] == "warn" and result["evidence"]["findings"][0]["pattern"] == "probe-failure"


def test_a_failed_deployment_whose_logs_match_nothing_known_warns_with_the_last_lines(bed):
    logs = {"InferenceServer": "starting\nsomething odd happened\n", "StorageInitializer": ""}
    deps = [Deployment("blue", provisioning_state="Failed", logs=logs)]
    scenario = healthy(endpoints=endpoints_with(*deps)).install(bed)
    [result] = check(bed, scenario, *select("deployment.logs")).results("deployment.logs")
    assert (result["status"], result["reason"]) == ("warn", "inconclusive")
    assert result["evidence"]["last_lines"]["InferenceServer"] == ["starting", "something odd happened"]


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

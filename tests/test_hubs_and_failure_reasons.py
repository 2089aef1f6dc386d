"""Issue 15: a project's network is its hub's; a failed deployment says why; logs that name the package index or the
model download. End to end through the HTTPS ARM test bed (in process), nothing leaving loopback: what is read from
the hub, and which results explain which. The verdicts on a hub or project alone are fixture cases in
tests/fixtures/checks/ (in process)."""

from __future__ import annotations

import pytest

from armbed import Deployment, Endpoint, healthy
from armbed.scenarios import HEALTHY_INFERENCE_LOG, HEALTHY_STORAGE_INIT_LOG
from moe import check

ML_READ = "Microsoft.MachineLearningServices/workspaces/read"
NETWORK_CHECKS = ("workspace.managed-network-provisioned", "workspace.outbound-rules-active",
                  "workspace.private-endpoint-approved", "workspace.private-endpoint-age")


def select(*ids: str) -> list[str]:
    return [a for cid in ids for a in ("--select", cid)]


def only(run, check_id: str) -> dict:
    [result] = run.results(check_id)
    return result


def project(**overrides):
    """Workspace ws-prod is a project of hub hub-prod, which holds the managed network and the private endpoint."""
    return healthy(hub="hub-prod", **overrides)


def gets_only(bed) -> None:
    assert bed.requests and {r.method for r in bed.requests} == {"GET"}, {(r.method, r.path) for r in bed.requests}


# --- hubs and projects ---------------------------------------------------------------------------------------


def test_a_projects_managed_network_verdict_comes_from_its_hub(bed):
    scenario = project().install(bed)
    run = check(bed, scenario, *select(*NETWORK_CHECKS))
    assert run.code == 0, run.stderr
    for cid in NETWORK_CHECKS:
        for result in run.results(cid):
            assert result["status"] == "pass", result
            assert "read from hub hub-prod" in result["message"] or "hub hub-prod" in result["message"], result
    assert only(run, "workspace.managed-network-provisioned")["evidence"]["observed"]["hub"] == scenario.hub_arm_id
    hub_reads = [r for r in bed.requests if r.path == scenario.hub_arm_id.lower()]
    assert len(hub_reads) == 1  # read once, whichever checks need it
    assert any(r.path == f"{scenario.hub_arm_id}/outboundrules".lower() for r in bed.requests)
    assert not any(r.path == f"{scenario.workspace_arm_id}/outboundrules".lower() for r in bed.requests)
    gets_only(bed)


def test_an_unreadable_hub_is_an_error_never_a_pass(bed):
    scenario = project().install(bed)
    bed.fault(scenario.hub_arm_id, 403)
    run = check(bed, scenario, *select(*NETWORK_CHECKS))
    assert run.code == 3, run.stderr
    for cid in NETWORK_CHECKS:
        [result] = run.results(cid)
        assert result["status"] != "pass"
        if cid == "workspace.outbound-rules-active":  # its prerequisite (the network's status) could not be judged
            assert result["status"] == "skip" and result["reason"] == "dependency_failed", result
            continue
        assert result["status"] == "error" and result["reason"] == "forbidden", result
        assert "project of hub hub-prod" in result["message"] and ML_READ in result["message"], result["message"]
    gets_only(bed)


# --- why a deployment failed -----------------------------------------------------------------------------------


def failed(code: str, message: str, **overrides):
    deployment = Deployment("blue", provisioning_state="Failed",
                            operation_error={"code": "DeploymentFailed", "message": "The deployment failed.",
                                             "details": [{"code": code, "message": message}]})
    return healthy(endpoints=[Endpoint("ep-main", traffic={"blue": 100}, deployments=[deployment])], **overrides)


def test_a_failed_deployment_names_its_error_code_and_the_hop_it_points_at_from_a_get(bed):
    scenario = failed("WorkspaceManagedNetworkNotReady", "Managed network is not ready.",
                      managed_network_status="Inactive").install(bed)
    run = check(bed, scenario, "--no-logs", *select("deployment.provisioning-state",
                                                   "workspace.managed-network-provisioned"))
    result = only(run, "deployment.provisioning-state")
    assert result["status"] == "fail"
    assert result["evidence"]["error_code"] == "WorkspaceManagedNetworkNotReady"
    assert result["evidence"]["points_at"] == "deployment:outbound-network"
    assert "WorkspaceManagedNetworkNotReady, the workspace's managed network was not provisioned" in result["message"]
    assert result["fix"]["commands"][0] == "az ml workspace provision-network -g rg-ml -n ws-prod"
    [network] = run.results("workspace.managed-network-provisioned")
    assert network["id"] in result["caused_by"]
    deployment_path = next(p for p in run.report["diagnosis"]["paths"] if p["kind"] == "deployment")
    assert deployment_path["blocked_at"] == "outbound-network"
    assert any(r.path == scenario.operation_path("ep-main", "blue").lower() for r in bed.requests)
    gets_only(bed)


def test_an_error_code_links_only_the_causes_that_explain_it(bed):
    acls = {"bypass": "None", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []}
    scenario = failed("ImageBuildFailure", "Image build failed. The build log is available in the workspace blob store.",
                      image_build_compute=None, kv_network_acls=acls).install(bed)
    run = check(bed, scenario, "--no-logs", *select("deployment.provisioning-state", "workspace.image-build-compute",
                                                   "keyvault.trusted-services-bypass"))
    result = only(run, "deployment.provisioning-state")
    assert result["evidence"]["points_at"] == "deployment:image-build"
    causes = {r["id"]: r["check_id"] for r in run.report["results"] if r["id"] in result["caused_by"]}
    assert "workspace.image-build-compute" in causes.values()
    assert "keyvault.trusted-services-bypass" not in causes.values()
    assert only(run, "keyvault.trusted-services-bypass")["status"] == "fail"  # failing, but no cause of this one


# --- logs: the package index and the model download ------------------------------------------------------------

PIP_BLOCKED = """\
2024-02-12 09:31:38,902 I [1] azmlinfsrv - Installing extra requirements from /var/azureml-app/requirements.txt
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'ConnectTimeoutError(<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f3c2a1b>, 'Connection to pypi.org timed out. (connect timeout=15)')': /simple/lightgbm/
ERROR: Could not find a version that satisfies the requirement lightgbm==4.3.0 (from versions: none)
ERROR: No matching distribution found for lightgbm==4.3.0
"""

MODEL_BLOCKED = """\
2024-02-12T09:18:40.115Z | INFO | Starting model download
2024-02-12T09:18:41.902Z | ERROR | Failed to download model azureml://models/churn-model/versions/1
"""


@pytest.mark.parametrize("logs, pattern", [
    ({"InferenceServer": PIP_BLOCKED, "StorageInitializer": HEALTHY_STORAGE_INIT_LOG}, "package-index-unreachable"),
    ({"InferenceServer": HEALTHY_INFERENCE_LOG, "StorageInitializer": MODEL_BLOCKED}, "model-download"),
])
def test_a_blocked_package_index_or_model_download_is_explained_by_the_managed_network(bed, logs, pattern):
    deployment = Deployment("blue", provisioning_state="Failed", logs=logs)
    scenario = healthy(managed_network_status="Inactive",
                       endpoints=[Endpoint("ep-main", traffic={"blue": 100}, deployments=[deployment])]).install(bed)
    run = check(bed, scenario, *select("deployment.logs", "workspace.managed-network-provisioned"))
    result = only(run, "deployment.logs")
    assert result["status"] == "fail"
    assert [f["pattern"] for f in result["evidence"]["findings"]] == [pattern]
    [network] = run.results("workspace.managed-network-provisioned")
    assert result["caused_by"] == [network["id"]]
    if pattern == "package-index-unreachable":
        assert ("az ml workspace outbound-rule set -g rg-ml -w ws-prod --rule allow-pypi-org --type fqdn "
                "--destination pypi.org") in result["fix"]["commands"]
    assert {r.method for r in bed.requests} == {"GET", "POST"}
    assert all(r.path.endswith("/getlogs") for r in bed.requests if r.method == "POST")

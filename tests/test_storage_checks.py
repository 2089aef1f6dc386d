"""Issue 15 (storage and public access combinations), end to end: storage.network-access,
deployment.egress-to-private-resources and endpoint.public-network-access's selected IPs, judged on realistic bodies
served by the ARM test bed (a storage account with its firewall, private endpoint connections and private endpoints),
linked in the diagnosis and placed on the deployment path. Every read is a GET (getLogs the only POST). Each check's
verdicts case by case (resource instance rules, unreadable or placeholder references, public egress) are fixture
cases in tests/fixtures/checks/ (in process)."""

from __future__ import annotations

import json
from pathlib import Path

from armbed import Deployment, Endpoint, healthy, legacy_egress
from armbed.scenarios import HEALTHY_STORAGE_INIT_LOG
from moe import check, moediag

STORAGE, EGRESS, PNA = "storage.network-access", "deployment.egress-to-private-resources", "endpoint.public-network-access"
LOGS, STATE = "deployment.logs", "deployment.provisioning-state"
CLOSED_LOG = (HEALTHY_STORAGE_INIT_LOG + "2024-02-12T09:18:42.001Z | ERROR | This request is not authorized to perform "
              "this operation. ErrorCode:AuthorizationFailure\n")


def only(run, check_id: str) -> dict:
    [result] = run.results(check_id)
    return result


def reads_only(bed) -> None:
    """Nothing but GETs, and the read-only getLogs POST, reached the bed."""
    assert {(r.method, r.path.rsplit("/", 1)[-1].lower() if r.method != "GET" else "") for r in bed.requests} <= {
        ("GET", ""), ("POST", "getlogs")}


def failed_legacy(flag: str = "Disabled", logs: dict | None = None) -> list[Endpoint]:
    logs = logs or {"StorageInitializer": CLOSED_LOG, "InferenceServer": ""}
    return [Endpoint("ep-main", traffic={"blue": 100}, deployments=[
        Deployment("blue", provisioning_state="Failed", egress_public_network_access=flag, logs=logs)])]


# --- storage.network-access ------------------------------------------------------------------------------------------


def test_healthy_managed_and_legacy_workspaces_reach_their_storage(bed):
    for scenario in (healthy(), legacy_egress()):
        scenario.install(bed)
        bed.reset_log()
        result = only(check(bed, scenario, "--select", STORAGE), STORAGE)
        assert result["status"] == "pass" and result["resource_id"] == scenario.storage_id, result["message"]
        assert ("outbound rules" if scenario.isolation_mode != "Disabled" else "approved private endpoints") in result["message"]
        reads_only(bed)
        if scenario.isolation_mode == "Disabled":  # the group ids come from the storage's private endpoints
            assert all(bed.count("GET", scenario.storage_pe_id(g)) == 1 for g in ("blob", "file"))
        assert bed.count("GET", scenario.storage_id) == 1


def test_a_closed_storage_explains_the_storage_network_log_and_the_failed_deployment(bed):
    scenario = legacy_egress(storage_private_endpoints={"blob": "Approved", "file": "Pending"},
                             endpoints=failed_legacy()).install(bed)
    report = check(bed, scenario, "--logs").report
    reads_only(bed)
    by = {r["check_id"]: r for r in report["results"] if r["check_id"] in (STORAGE, LOGS, STATE)}
    storage, logs, state = by[STORAGE], by[LOGS], by[STATE]
    assert storage["status"] == "fail" and "no approved private endpoint for file" in storage["message"]
    pending = f"{scenario.storage_id}/privateEndpointConnections/pe-{scenario.storage_name}-file.{scenario.workspace_id[:8]}-file"
    assert any(c.startswith(f"az network private-endpoint-connection approve --id {pending}") for c in storage["fix"]["commands"])
    assert logs["status"] == "fail" and storage["id"] in logs["caused_by"]
    assert state["status"] == "fail" and storage["id"] in state["caused_by"]
    diagnosis = report["diagnosis"]
    assert storage["id"] in diagnosis["root_causes"] and logs["id"] not in diagnosis["root_causes"]
    [deployment_path] = [p for p in diagnosis["paths"] if p["kind"] == "deployment"]
    hop = next(h for h in deployment_path["hops"] if h["name"] == "storage")
    assert hop["status"] == "fail" and storage["id"] in hop["results"]
    assert deployment_path["blocked_at"] == "storage"
    step = next(s for s in diagnosis["plan"] if s["results"][0] == storage["id"])
    assert logs["id"] in step["results"] and state["id"] in step["results"] and step["risk"] == "safe"


def test_a_closed_storage_under_a_managed_network_needs_active_rules(bed):
    rule = "__SYS_PE_stwsprod_file"
    scenario = healthy(rule_status_overrides={rule: "Inactive"}, storage_private_endpoints={}).install(bed)
    run = check(bed, scenario, "--select", STORAGE, "--select", "workspace.outbound-rules-active")
    storage = only(run, STORAGE)
    assert storage["status"] == "fail" and f"{rule} is Inactive" in storage["message"]
    assert storage["fix"]["risk"] == "disruptive"
    assert "az ml workspace provision-network -g rg-ml -n ws-prod" in storage["fix"]["commands"]
    rules = [r for r in run.report["results"] if r["check_id"] == "workspace.outbound-rules-active" and r["status"] == "fail"]
    assert rules and all(r["id"] in storage["caused_by"] for r in rules)


# --- deployment.egress-to-private-resources --------------------------------------------------------------------------


def test_public_egress_against_a_private_workspace_fails_and_explains_the_failed_deployment(bed):
    scenario = legacy_egress(endpoints=failed_legacy("Enabled", logs={"StorageInitializer": CLOSED_LOG}),
                             legacy_egress=None).install(bed)
    report = check(bed, scenario, "--logs").report
    reads_only(bed)
    by = {r["check_id"]: r for r in report["results"] if r["check_id"] in (EGRESS, STATE, LOGS)}
    egress, state, logs = by[EGRESS], by[STATE], by[LOGS]
    assert egress["status"] == "fail" and egress["resource_id"] == scenario.deployment_id("ep-main", "blue")
    for private in ("workspace ws-prod (publicNetworkAccess Disabled)", "registry acrwsprod", "storage account stwsprod"):
        assert private in egress["message"]
    assert ("az ml online-deployment create -e ep-main -n blue-v2 -g rg-ml -w ws-prod -f <deployment.yml> "
            "--set egress_public_network_access=disabled") in egress["fix"]["commands"]
    assert egress["id"] in state["caused_by"] and egress["id"] in logs["caused_by"]
    step = next(s for s in report["diagnosis"]["plan"] if s["results"][0] == egress["id"])
    assert step["risk"] == "destructive"
    [deployment_path] = [p for p in report["diagnosis"]["paths"] if p["kind"] == "deployment"]
    hops = {h["name"]: h for h in deployment_path["hops"]}
    assert egress["id"] in hops["isolation-mode"]["results"] and egress["id"] in hops["outbound-network"]["results"]
    assert deployment_path["blocked_at"] == "isolation-mode"


# --- permissions -----------------------------------------------------------------------------------------------------


def test_the_custom_role_and_the_permissions_page_carry_the_new_reads():
    role = json.loads(moediag(None, "permissions", "-o", "role", "-s", "00000000-1111-2222-3333-444444444444").stdout)
    assert {"Microsoft.Storage/storageAccounts/read", "Microsoft.Network/privateEndpoints/read"} <= set(role["Actions"])
    page = (Path(__file__).resolve().parent.parent / "docs" / "permissions.md").read_text()
    row = next(line for line in page.splitlines() if line.startswith(f"| `{STORAGE}`"))
    assert "Microsoft.Storage/storageAccounts/read" in row and "Microsoft.Network/privateEndpoints/read" in row


# --- the live read path: response shapes, 404 fallbacks, references and errors the facts turn into evidence ---
# (the verdicts themselves are fixture cases too; these prove what the facts read and shape from Resource Manager)


def test_unreadable_storage_evidence_is_an_error_naming_the_action(bed):
    scenario = legacy_egress().install(bed)
    bed.fault(scenario.storage_id, 403)
    result = only(check(bed, scenario, "--select", STORAGE), STORAGE)
    assert (result["status"], result["reason"]) == ("error", "forbidden")
    assert "Microsoft.Storage/storageAccounts/read" in result["message"]
    bed.clear_faults()
    bed.fault(scenario.storage_pe_id("file"), 403)
    result = only(check(bed, scenario, "--select", STORAGE), STORAGE)
    assert (result["status"], result["reason"]) == ("error", "forbidden")
    assert "Microsoft.Network/privateEndpoints/read" in result["message"]


def test_a_placeholder_storage_reference_is_unreadable_not_a_pass(bed):
    scenario = healthy(storage_account="Sanitized").install(bed)
    result = only(check(bed, scenario, "--select", STORAGE), STORAGE)
    assert (result["status"], result["reason"]) == ("error", "unreadable") and "'Sanitized'" in result["message"]

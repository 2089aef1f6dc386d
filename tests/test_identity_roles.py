"""endpoint.identity-roles and workspace.network-approver-role, end to end through the HTTPS ARM test bed.

The bed lists role assignments only with `$filter=atScope()` (the assignments at a resource and above it), pages
them with nextLink, and serves realistic built-in and custom role definitions; nothing leaves loopback. More
verdicts (a notAction that removes the pull, ...) are fixture cases in tests/fixtures/checks/ (in process).
"""

from __future__ import annotations

from armbed import Deployment, Endpoint, healthy, legacy_egress
from armbed import bodies as b
from moe import check

IDENTITY, APPROVER = "endpoint.identity-roles", "workspace.network-approver-role"
UAI_PRINCIPAL = "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
CUSTOM_PULLER = "11112222-3333-4444-5555-666677778888"


def _uai(scenario, name: str = "id-scoring") -> dict:
    uai_id = (f"/subscriptions/{scenario.subscription_id}/resourceGroups/{scenario.resource_group}/providers/"
              f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}")
    return {"type": "UserAssigned", "tenantId": scenario.tenant_id,
            "userAssignedIdentities": {uai_id: {"principalId": UAI_PRINCIPAL,
                                                "clientId": "9a2e4c6b-8d0f-4a1b-9c3d-5e7f9a1b3c5d"}}}


def _authorization_requests(bed) -> list:
    return [r for r in bed.requests if "/microsoft.authorization/" in r.path.lower()]


def test_a_healthy_workspace_passes_both_with_only_paged_atscope_gets(bed):
    scenario = healthy().install(bed)
    run = check(bed, scenario, "--select", IDENTITY, "--select", APPROVER)
    assert run.code == 0, run.stderr
    assert run.statuses(IDENTITY) == ["pass"]
    assert run.statuses(APPROVER) == ["pass", "pass", "pass"]  # registry, Key Vault, storage
    reads = _authorization_requests(bed)
    assert reads and all(r.method == "GET" for r in bed.requests)
    listings = [r for r in reads if r.path.lower().endswith("/roleassignments")]
    assert listings and all(r.query.get("$filter") == "atScope()" for r in listings)
    assert any("$skipToken" in r.query for r in listings)  # the pages after the first were followed
    assert bed.duplicates() == []


def test_a_user_assigned_identity_with_a_wildcard_custom_role_and_an_access_policy_vault_passes(bed):
    scenario = healthy()
    rg = f"/subscriptions/{scenario.subscription_id}/resourceGroups/{scenario.resource_group}"
    puller = b.custom_role(scenario, CUSTOM_PULLER, "ML image puller", ["Microsoft.ContainerRegistry/*"],
                           not_actions=["Microsoft.ContainerRegistry/registries/delete"])
    mg = "/providers/Microsoft.Management/managementGroups/mg-ml"
    scenario = scenario.replace(
        endpoints=[Endpoint("ep-main", traffic={"blue": 100}, deployments=[Deployment("blue")], identity=_uai(scenario))],
        custom_roles=[puller], kv_rbac=False,
        kv_access_policies=[{"tenantId": scenario.tenant_id, "objectId": UAI_PRINCIPAL,
                             "permissions": {"keys": [], "secrets": ["Get", "List"], "certificates": []}}],
        role_assignments=[*b.healthy_role_assignments(scenario),
                          b.role_assignment(scenario, rg, CUSTOM_PULLER, UAI_PRINCIPAL),
                          # inherited from a management group, its role id without the subscription prefix
                          b.role_assignment(scenario, mg, b.STORAGE_BLOB_DATA_READER, UAI_PRINCIPAL, tenant_form=True)],
    ).install(bed)
    run = check(bed, scenario, "--select", IDENTITY)
    [result] = run.results(IDENTITY)
    assert result["status"] == "pass", result["message"]
    assert "user-assigned identity id-scoring" in result["message"]
    observed = result["evidence"]["observed"]
    assert observed["containerRegistry"]["granting_roles"] == ["ML image puller"]
    assert observed["keyVault"]["secret_permissions_of_the_principal"] == ["get", "list"]
    assert not any("kv-ws-prod/providers" in r.path for r in _authorization_requests(bed))  # policies, not RBAC


def test_a_403_on_the_assignments_is_an_error_naming_the_permission_never_a_pass(bed):
    scenario = healthy().install(bed)
    bed.fault(f"{scenario.registry_id}/providers/Microsoft.Authorization/roleAssignments", 403)
    run = check(bed, scenario, "--select", IDENTITY, "--select", APPROVER)
    assert run.code == 3
    [identity] = run.results(IDENTITY)
    assert identity["status"] == "error" and identity["reason"] == "forbidden"
    assert "Microsoft.Authorization/roleAssignments/read" in identity["message"]
    approver = {r["resource_id"]: r for r in run.results(APPROVER)}
    assert approver[scenario.registry_id]["status"] == "error"
    assert "Microsoft.Authorization/roleAssignments/read" in approver[scenario.registry_id]["message"]
    assert approver[scenario.storage_id]["status"] == "pass"


def test_a_missing_acr_pull_explains_the_image_pull_failure_on_the_deployment_path(bed):
    scenario = healthy()
    logs = {"InferenceServer": "",
            "StorageInitializer": "Error: failed to pull image acrwsprod.azurecr.io/azureml/azureml_0f3c:latest: "
                                  "unauthorized: authentication required\n"}
    scenario = scenario.replace(
        endpoints=[Endpoint("ep-main", traffic={"blue": 100},
                            deployments=[Deployment("blue", provisioning_state="Failed", logs=logs)])],
        role_assignments=[a for a in b.healthy_role_assignments(scenario)
                          if a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] != b.ACR_PULL],
    ).install(bed)
    run = check(bed, scenario, "--select", IDENTITY, "--select", "deployment.")
    [identity] = run.results(IDENTITY)
    assert identity["status"] == "fail" and "AcrPull" in identity["fix"]["commands"][0]
    [logs_result] = run.results("deployment.logs")
    [state] = run.results("deployment.provisioning-state")
    assert identity["id"] in logs_result["caused_by"]
    assert identity["id"] in state["caused_by"] + logs_result["caused_by"]
    diagnosis = run.report["diagnosis"]
    assert identity["id"] in diagnosis["root_causes"] and logs_result["id"] not in diagnosis["root_causes"]
    [path] = [p for p in diagnosis["paths"] if p["kind"] == "deployment"]
    hops = {h["name"]: h for h in path["hops"]}
    assert identity["id"] in hops["registry"]["results"] and path["blocked_at"] == "registry"


def test_a_missing_approver_role_explains_the_inactive_outbound_rules(bed):
    scenario = healthy()
    scenario = scenario.replace(
        rule_status_overrides={f"__SYS_PE_{scenario.storage_name}_blob": "Inactive"},
        role_assignments=[a for a in b.healthy_role_assignments(scenario)
                          if a["properties"]["principalId"] != b.WORKSPACE_PRINCIPAL],
    ).install(bed)
    run = check(bed, scenario, "--select", APPROVER, "--select", "workspace.outbound-rules-active")
    assert run.code == 1
    approver = {r["resource_id"]: r for r in run.results(APPROVER)}
    storage = approver[scenario.storage_id]
    assert storage["status"] == "fail" and "__SYS_PE_stwsprod_blob" in storage["message"]
    assert storage["fix"]["commands"][0] == (
        f"az role assignment create --assignee-object-id {b.WORKSPACE_PRINCIPAL} --assignee-principal-type "
        f"ServicePrincipal --role 'Azure AI Enterprise Network Connection Approver' --scope {scenario.storage_id}")
    assert approver[scenario.registry_id]["status"] == "warn"  # its rule is Active: approved some other way
    [rule] = [r for r in run.results("workspace.outbound-rules-active") if r["status"] == "fail"]
    assert rule["caused_by"] == [storage["id"]]
    assert run.report["diagnosis"]["root_causes"] == [storage["id"]]


def test_the_approver_role_is_not_applicable_without_a_managed_network(bed):
    scenario = legacy_egress().install(bed)
    run = check(bed, scenario, "--select", APPROVER)
    assert run.statuses(APPROVER) == ["skip"]
    assert not _authorization_requests(bed)

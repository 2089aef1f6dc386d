"""Pre-flight readiness: what must hold before `az ml online-deployment create`, for each isolation mode.

Every test runs moediag as a subprocess against the ARM test bed, through the real Azure SDK over HTTPS.
"""

from __future__ import annotations

import time

import pytest

from armbed import Deployment, Endpoint, healthy, legacy_egress
from moe import check

READINESS = ["workspace.managed-network-provisioned", "workspace.outbound-rules-active",
             "workspace.private-endpoint-approved", "acr.sku-premium", "workspace.image-build-compute",
             "workspace.associated-resources", "workspace.public-network-access", "workspace.diagnose"]
SELECT = [a for cid in READINESS for a in ("--select", cid)]


def no_isolation(**overrides):
    """No managed VNet, no legacy deployment, no private endpoint anywhere: a public workspace."""
    settings = dict(isolation_mode="Disabled", managed_network_status=None, private_endpoint=False,
                    public_network_access="Enabled", acr_public_network_access="Enabled", acr_default_action="Allow",
                    acr_private_endpoint=False,
                    endpoints=[Endpoint("ep-main", traffic={"blue": 100}, public_network_access="Enabled",
                                        deployments=[Deployment("blue")])])
    return healthy(**{**settings, **overrides})


def statuses(run) -> dict[str, list[str]]:
    return {cid: sorted(set(run.statuses(cid))) for cid in READINESS}


def only(run, check_id: str) -> dict:
    [result] = run.results(check_id)
    return result


# --- the isolation mode decides what applies ---------------------------------------------------------

MANAGED = {"workspace.managed-network-provisioned": ["pass"], "workspace.outbound-rules-active": ["pass"],
           "workspace.private-endpoint-approved": ["pass"], "acr.sku-premium": ["pass"],
           "workspace.image-build-compute": ["pass"], "workspace.associated-resources": ["pass"],
           "workspace.public-network-access": ["pass"], "workspace.diagnose": ["skip"]}


@pytest.mark.parametrize("scenario, expected", [
    (healthy(isolation_mode="AllowOnlyApprovedOutbound"), MANAGED),
    (healthy(isolation_mode="AllowInternetOutbound"), MANAGED),
    (legacy_egress(), {**MANAGED, "workspace.managed-network-provisioned": ["skip"],
                       "workspace.outbound-rules-active": ["skip"]}),
    (no_isolation(), {**MANAGED, "workspace.managed-network-provisioned": ["skip"],
                      "workspace.outbound-rules-active": ["skip"], "workspace.private-endpoint-approved": ["skip"],
                      "acr.sku-premium": ["skip"], "workspace.image-build-compute": ["skip"]}),
], ids=["managed-approved-outbound", "managed-internet-outbound", "legacy", "none"])
def test_each_isolation_mode_gives_its_own_set_of_applicable_checks_and_skips(bed, scenario, expected):
    run = check(bed, scenario.install(bed), *SELECT)
    assert run.code == 0, run.stderr
    assert statuses(run) == expected
    for result in run.report["results"]:
        if result["status"] == "skip":
            assert result["reason"] in ("not_applicable", "not_requested"), result


def test_a_skip_for_the_mode_says_which_mode_it_found(bed):
    run = check(bed, legacy_egress().install(bed), "--select", "workspace.managed-network-provisioned")
    skip = only(run, "workspace.managed-network-provisioned")
    assert "legacy per-deployment method" in skip["message"] and "blue" in skip["message"]
    run = check(bed, no_isolation(isolation_mode=None).install(bed), "--select", "workspace.outbound-rules-active")
    assert "no outbound network isolation" in only(run, "workspace.outbound-rules-active")["message"]


# --- managed network provisioned -----------------------------------------------------------------------


@pytest.mark.parametrize("status, seen", [(None, "never been provisioned"), ("Inactive", "'Inactive'")])
def test_a_managed_network_that_is_not_provisioned_fails_with_the_provision_command(bed, status, seen):
    scenario = healthy(managed_network_status=status).install(bed)
    run = check(bed, scenario, "--select", "workspace.managed-network-provisioned", "--select",
                "workspace.outbound-rules-active")
    assert run.code == 1
    result = only(run, "workspace.managed-network-provisioned")
    assert result["status"] == "fail" and seen in result["message"]
    assert result["resource_id"] == scenario.workspace_arm_id
    assert result["evidence"]["observed"] == {"isolationMode": "AllowOnlyApprovedOutbound", "status": status}
    assert result["fix"]["commands"] == ["az ml workspace provision-network -g rg-ml -n ws-prod"]
    assert "30" in result["fix"]["summary"]  # how long it takes
    rules = only(run, "workspace.outbound-rules-active")
    assert (rules["status"], rules["reason"]) == ("skip", "dependency_failed")


# --- outbound rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["value", "dict"])
def test_one_inactive_required_rule_fails_naming_the_rule_in_either_response_shape(bed, shape):
    rule = "__SYS_PE_kv-ws-prod_vault"
    scenario = healthy(rule_status_overrides={rule: "Inactive"}, outbound_rules_shape=shape).install(bed)
    run = check(bed, scenario, "--select", "workspace.outbound-rules-active")
    assert run.code == 1
    result = only(run, "workspace.outbound-rules-active")
    assert result["status"] == "fail" and rule in result["message"]
    assert result["resource_id"].endswith(f"/outboundRules/{rule}")
    assert result["evidence"]["observed"]["status"] == "Inactive"
    assert result["fix"]["commands"] == [
        f"az ml workspace outbound-rule show --rule {rule} --workspace-name ws-prod -g rg-ml",
        "az ml workspace provision-network -g rg-ml -n ws-prod"]


def test_the_stable_list_carries_the_rule_error_into_the_evidence(bed):
    scenario = healthy(rule_status_overrides={"__SYS_PE_acrwsprod_registry": "Inactive"}).install(bed)
    result = only(check(bed, scenario, "--select", "workspace.outbound-rules-active"), "workspace.outbound-rules-active")
    assert result["evidence"]["observed"]["errorInformation"] == "The outbound rule has not been provisioned."


def test_all_active_rules_pass_once_for_the_workspace_and_rules_are_read_once(bed):
    scenario = healthy().install(bed)
    run = check(bed, scenario, "--select", "workspace.outbound-rules-active", "--select", "acr.sku-premium")
    result = only(run, "workspace.outbound-rules-active")
    assert result["status"] == "pass" and len(result["evidence"]["observed"]) == 5  # storage has blob and file rules
    assert bed.count("GET", scenario.workspace_arm_id + "/outboundRules") == 1
    assert bed.duplicates() == []


def test_without_the_rules_list_the_workspace_body_is_the_evidence(bed):
    scenario = healthy(rule_status_overrides={"__SYS_PE_stwsprod_blob": "Inactive"}).install(bed)
    bed.remove(scenario.workspace_arm_id + "/outboundRules")
    result = only(check(bed, scenario, "--select", "workspace.outbound-rules-active"), "workspace.outbound-rules-active")
    assert result["status"] == "fail" and "__SYS_PE_stwsprod_blob" in result["message"]


def test_unreadable_rules_are_an_error_not_a_pass(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.workspace_arm_id + "/outboundRules", 403)
    result = only(check(bed, scenario, "--select", "workspace.outbound-rules-active"), "workspace.outbound-rules-active")
    assert (result["status"], result["reason"]) == ("error", "forbidden")
    assert "outboundRules/read" in result["message"]


def test_approved_outbound_without_a_private_endpoint_rule_to_the_registry_fails(bed):
    scenario = healthy().install(bed)
    rules = bed.get(scenario.workspace_arm_id + "/outboundRules")
    bed.collection(scenario.workspace_arm_id + "/outboundRules", [r for r in rules if "registry" not in r["name"]])
    result = only(check(bed, scenario, "--select", "workspace.outbound-rules-active"), "workspace.outbound-rules-active")
    assert result["status"] == "fail" and result["resource_id"] == scenario.registry_id
    assert f"--service-resource-id {scenario.registry_id} --subresource-target registry" in result["fix"]["commands"][0]


# --- workspace private endpoint connections ------------------------------------------------------------


@pytest.mark.parametrize("status", ["Pending", "Rejected"])
def test_a_workspace_connection_that_is_not_approved_fails_with_the_approve_command(bed, status):
    scenario = healthy(pec_status=status).install(bed)
    run = check(bed, scenario, "--select", "workspace.private-endpoint-approved")
    assert run.code == 1
    result = only(run, "workspace.private-endpoint-approved")
    connection = f"{scenario.workspace_arm_id}/privateEndpointConnections/{scenario.workspace_pec_name}"
    assert result["status"] == "fail" and result["resource_id"] == connection
    assert result["evidence"]["observed"]["status"] == status
    assert result["fix"]["commands"][0].startswith(f"az network private-endpoint-connection approve --id {connection} ")


def test_a_disconnected_workspace_connection_fails_with_commands_to_recreate_the_private_endpoint(bed):
    scenario = healthy(pec_status="Disconnected").install(bed)
    result = only(check(bed, scenario, "--select", "workspace.private-endpoint-approved"),
                  "workspace.private-endpoint-approved")
    assert result["status"] == "fail" and "cannot be approved" in result["fix"]["summary"]
    assert result["fix"]["commands"][0] == "az network private-endpoint delete -g rg-net -n pe-ws"
    assert any("dns-zone-group create -g rg-net --endpoint-name pe-ws" in c for c in result["fix"]["commands"])


def test_a_private_only_endpoint_with_a_pending_private_endpoint_warns_and_approving_it_comes_first(bed):
    scenario = healthy(pec_status="Pending").install(bed)
    run = check(bed, scenario, "--select", "workspace.public-network-access")
    result = only(run, "workspace.public-network-access")
    assert result["status"] == "warn" and result["resource_id"] == scenario.endpoint_id("ep-main")
    assert result["evidence"]["observed"]["workspace"]["publicNetworkAccess"] == "Disabled"
    first, *_, last = result["fix"]["commands"]
    assert first.startswith("az network private-endpoint-connection approve --id /subscriptions/")  # never public only
    assert last == "az ml online-endpoint update -n ep-main -g rg-ml -w ws-prod --set public_network_access=enabled"
    assert result["fix"]["summary"].startswith("Approve the workspace's private endpoint connection")


# --- registry tier -------------------------------------------------------------------------------------


def test_a_standard_registry_behind_a_private_endpoint_fails_with_the_upgrade_command(bed):
    scenario = healthy(acr_sku="Standard").install(bed)
    run = check(bed, scenario, "--select", "acr.sku-premium")
    assert run.code == 1
    result = only(run, "acr.sku-premium")
    assert result["status"] == "fail" and result["resource_id"] == scenario.registry_id
    assert result["evidence"]["observed"]["sku"] == "Standard"
    assert result["fix"]["commands"] == ["az acr update -n acrwsprod -g rg-ml --sku Premium"]


def test_the_managed_network_rule_alone_makes_the_registry_private(bed):
    scenario = healthy(acr_sku="Standard", acr_private_endpoint=False).install(bed)
    result = only(check(bed, scenario, "--select", "acr.sku-premium"), "acr.sku-premium")
    assert result["status"] == "fail" and "__SYS_PE_acrwsprod_registry" in result["message"]


def test_a_standard_registry_reached_publicly_is_not_judged(bed):
    scenario = no_isolation(acr_sku="Standard").install(bed)
    result = only(check(bed, scenario, "--select", "acr.sku-premium"), "acr.sku-premium")
    assert (result["status"], result["reason"]) == ("skip", "not_applicable")


def test_when_unreadable_deployments_hide_the_mode_the_registry_tier_is_an_error(bed):
    scenario = no_isolation(acr_sku="Standard").install(bed)
    bed.fault(scenario.endpoint_id("ep-main") + "/deployments", 403)
    result = only(check(bed, scenario, "--select", "acr.sku-premium"), "acr.sku-premium")
    assert (result["status"], result["reason"]) == ("error", "forbidden")


# --- image builds --------------------------------------------------------------------------------------


def test_a_private_registry_without_image_build_compute_fails_with_commands_for_this_workspace(bed):
    scenario = healthy(image_build_compute=None).install(bed)
    run = check(bed, scenario, "--select", "workspace.image-build-compute")
    assert run.code == 1
    result = only(run, "workspace.image-build-compute")
    assert result["status"] == "fail" and "acrwsprod" in result["message"]
    assert result["evidence"]["observed"]["imageBuildCompute"] is None
    assert result["fix"]["commands"] == [
        "az ml compute create -n image-builder --type AmlCompute --min-instances 0 --max-instances 2 -g rg-ml -w ws-prod",
        "az ml workspace update -n ws-prod -g rg-ml --image-build-compute image-builder"]


def test_an_image_build_compute_that_does_not_exist_fails(bed):
    scenario = healthy(image_build_compute_exists=False).install(bed)
    result = only(check(bed, scenario, "--select", "workspace.image-build-compute"), "workspace.image-build-compute")
    assert result["status"] == "fail" and result["resource_id"] == scenario.compute_id
    assert result["fix"]["commands"][0].startswith("az ml compute create -n cpu-cluster ")


def test_an_unreadable_image_build_compute_is_an_error(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.compute_id, 403)
    result = only(check(bed, scenario, "--select", "workspace.image-build-compute"), "workspace.image-build-compute")
    assert (result["status"], result["reason"]) == ("error", "forbidden")


# --- associated resources ------------------------------------------------------------------------------


def test_an_empty_container_registry_warns_and_the_registry_checks_say_why_they_skip(bed):
    scenario = healthy(container_registry="").install(bed)
    run = check(bed, scenario, "--select", "workspace.associated-resources", "--select", "acr.sku-premium",
                "--select", "workspace.image-build-compute")
    assert run.code == 0, run.stderr
    [registry] = [r for r in run.results("workspace.associated-resources") if r["status"] != "pass"]
    assert registry["status"] == "warn" and "containerRegistry is ''" in registry["message"]
    assert registry["fix"]["commands"][0].startswith("az ml workspace update -n ws-prod -g rg-ml --container-registry ")
    for check_id in ("acr.sku-premium", "workspace.image-build-compute"):
        result = only(run, check_id)
        assert result["status"] == "skip" and "containerRegistry is empty" in result["message"]


def test_placeholder_and_foreign_ids_are_reasoned_results_per_resource(bed):
    foreign = "/subscriptions/99999999-1111-2222-3333-444444444444/resourceGroups/rg-x/providers/Microsoft.KeyVault/vaults/kv-x"
    other_group = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-shared/providers/Microsoft.Storage/storageAccounts/stshared"
    scenario = healthy(key_vault=foreign, storage_account=other_group, application_insights="Sanitized").install(bed)
    run = check(bed, scenario, "--select", "workspace.associated-resources")
    by_property = {r["evidence"]["property"]: r for r in run.results("workspace.associated-resources")}
    vault, storage, insights = by_property["keyVault"], by_property["storageAccount"], by_property["applicationInsights"]
    assert vault["status"] == "fail" and vault["resource_id"] == foreign and "99999999" in vault["message"]
    assert storage["status"] == "pass" and "rg-shared" in storage["message"]
    assert (insights["status"], insights["reason"], insights["evidence"]["observed"]) == ("error", "unreadable", "Sanitized")
    assert by_property["containerRegistry"]["status"] == "pass"
    assert run.code == 1


# --- Azure's own diagnosis -----------------------------------------------------------------------------


def test_diagnose_is_not_run_unless_asked(bed):
    scenario = healthy().install(bed)
    result = only(check(bed, scenario, "--select", "workspace.diagnose"), "workspace.diagnose")
    assert (result["status"], result["reason"]) == ("skip", "not_requested")
    assert bed.count("POST", scenario.workspace_arm_id + "/diagnose") == 0


def test_include_diagnose_folds_each_finding_into_the_report_with_azures_wording(bed):
    error = {"code": "KeyVaultNotReachable", "level": "Error", "message": "Key Vault kv-ws-prod denies the workspace."}
    scenario = healthy(dns_servers=["10.0.0.10"], diagnose_polls=2,
                       diagnose_results={"keyVaultResults": [error], "9": []}).install(bed)  # "9": a stray key seen live
    run = check(bed, scenario, "--select", "workspace.diagnose", "--include-diagnose")
    assert run.code == 1
    by_code = {r["evidence"]["code"]: r for r in run.results("workspace.diagnose")}
    assert set(by_code) == {"CustomDNSInUse", "KeyVaultNotReachable"}
    dns = by_code["CustomDNSInUse"]
    assert dns["status"] == "warn" and dns["evidence"]["area"] == "dns"
    assert dns["evidence"]["azure_message"].startswith("We have detected an on-premise dns server")
    vault = by_code["KeyVaultNotReachable"]
    assert vault["status"] == "fail" and vault["resource_id"] == scenario.key_vault_id_as_referenced
    assert vault["evidence"]["level"] == "Error" and "denies the workspace" in vault["message"]
    assert vault["fix"]["commands"] == ["az ml workspace diagnose -n ws-prod -g rg-ml"]
    assert bed.count("POST", scenario.workspace_arm_id + "/diagnose") == 1


def test_a_diagnose_without_findings_passes(bed):
    scenario = healthy().install(bed)
    result = only(check(bed, scenario, "--select", "workspace.diagnose", "--include-diagnose"), "workspace.diagnose")
    assert result["status"] == "pass" and len(result["evidence"]["observed"]["categories"]) == 9


def test_a_diagnose_that_never_completes_is_an_error_within_the_timeout(bed):
    scenario = healthy(diagnose_never_completes=True).install(bed)
    started = time.monotonic()
    run = check(bed, scenario, "--select", "workspace.diagnose", "--select", "workspace.v1-legacy-mode",
                "--include-diagnose", "--timeout", "2")
    assert time.monotonic() - started < 2 + 1  # the run's timeout (in process: no interpreter start-up)
    assert bed.count("GET") >= 1  # it was polled, in vain
    result = only(run, "workspace.diagnose")
    assert (result["status"], result["reason"]) == ("error", "timed_out")
    assert "did not complete" in result["message"]
    assert run.statuses("workspace.v1-legacy-mode") == ["pass"]
    assert run.code == 3


def test_a_forbidden_diagnose_is_an_error_naming_the_action(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.workspace_arm_id + "/diagnose", 403, method="POST")
    result = only(check(bed, scenario, "--select", "workspace.diagnose", "--include-diagnose"), "workspace.diagnose")
    assert (result["status"], result["reason"]) == ("error", "forbidden")
    assert "workspaces/diagnose/action" in result["message"]


# --- offline replay ------------------------------------------------------------------------------------


def test_the_isolation_mode_is_recomputed_from_a_snapshot(bed, tmp_path):
    from moe import moediag

    scenario = legacy_egress(acr_sku="Standard").install(bed)
    path = tmp_path / "snap.json"
    live = check(bed, scenario, *SELECT, "--save-snapshot", str(path))
    replay = moediag(None, "check", "--snapshot", str(path), "-o", "json", *SELECT)
    assert statuses(replay) == statuses(live)
    assert "isolation_mode" not in path.read_text()  # derived: not stored
    assert only(replay, "acr.sku-premium")["status"] == "fail"

"""Pre-flight readiness: what must hold before `az ml online-deployment create`, for each isolation mode.

These tests run moediag against the ARM test bed, through the real Azure SDK over HTTPS: which checks apply per
isolation mode across the whole set, dependencies between checks, request economy, the diagnose operation (POST,
polling, timeout) and snapshot replay. Each check's verdicts case by case are in tests/fixtures/checks/ (in process).
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


# --- managed network provisioned -----------------------------------------------------------------------


def test_a_managed_network_never_provisioned_fails_and_the_outbound_rules_wait_for_it(bed):
    """The verdicts of each check are fixture cases; here the run: exit 1, and the rules' check skips on the
    failed provisioning rather than judging rules that cannot exist yet."""
    scenario = healthy(managed_network_status=None).install(bed)
    run = check(bed, scenario, "--select", "workspace.managed-network-provisioned", "--select",
                "workspace.outbound-rules-active")
    assert run.code == 1
    result = only(run, "workspace.managed-network-provisioned")
    assert result["status"] == "fail" and "never been provisioned" in result["message"]
    assert result["fix"]["commands"] == ["az ml workspace provision-network -g rg-ml -n ws-prod"]
    rules = only(run, "workspace.outbound-rules-active")
    assert (rules["status"], rules["reason"]) == ("skip", "dependency_failed")


# --- outbound rules ------------------------------------------------------------------------------------


def test_all_active_rules_pass_once_for_the_workspace_and_rules_are_read_once(bed):
    scenario = healthy().install(bed)
    run = check(bed, scenario, "--select", "workspace.outbound-rules-active", "--select", "acr.sku-premium")
    result = only(run, "workspace.outbound-rules-active")
    assert result["status"] == "pass" and len(result["evidence"]["observed"]) == 5  # storage has blob and file rules
    assert bed.count("GET", scenario.workspace_arm_id + "/outboundRules") == 1
    assert bed.duplicates() == []


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


# --- the live read path: response shapes, 404 fallbacks, references and errors the facts turn into evidence ---
# (the verdicts themselves are fixture cases too; these prove what the facts read and shape from Resource Manager)


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


def test_when_unreadable_deployments_hide_the_mode_the_registry_tier_is_an_error(bed):
    scenario = no_isolation(acr_sku="Standard").install(bed)
    bed.fault(scenario.endpoint_id("ep-main") + "/deployments", 403)
    result = only(check(bed, scenario, "--select", "acr.sku-premium"), "acr.sku-premium")
    assert (result["status"], result["reason"]) == ("error", "forbidden")


def test_an_unreadable_image_build_compute_is_an_error(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.compute_id, 403)
    result = only(check(bed, scenario, "--select", "workspace.image-build-compute"), "workspace.image-build-compute")
    assert (result["status"], result["reason"]) == ("error", "forbidden")

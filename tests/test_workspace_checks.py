"""The workspace checks of the runbook, each against healthy, broken and unreadable evidence.

Every test runs moediag as a subprocess against the ARM test bed, through the real Azure SDK over HTTPS.
"""

from __future__ import annotations

import pytest

from armbed import Deployment, Endpoint, broken, healthy
from moe import check

ALL = ["workspace.v1-legacy-mode", "workspace.private-endpoint-age", "keyvault.trusted-services-bypass",
       "acr.egress-connection-approved"]


def test_a_healthy_workspace_passes_every_workspace_check_and_exits_0(bed):
    scenario = healthy().install(bed)
    run = check(bed, scenario, "--select", "workspace.", "--select", "keyvault", "--select", "acr.egress-connection-approved")
    assert run.code == 0, run.stderr
    assert run.statuses("workspace.v1-legacy-mode") == ["pass"]
    assert run.statuses("workspace.private-endpoint-age") == ["pass"]
    assert run.statuses("keyvault.trusted-services-bypass") == ["pass"]
    assert run.statuses("acr.egress-connection-approved") == ["skip"]  # no legacy-isolated deployment


def test_the_broken_workspace_fails_each_check_with_a_fix_naming_real_resources_and_exits_1(bed):
    scenario = broken().install(bed)
    run = check(bed, scenario, *[a for cid in ALL for a in ("--select", cid)])
    assert run.code == 1

    [v1] = run.results("workspace.v1-legacy-mode")
    assert v1["status"] == "fail" and v1["evidence"] == {"expected": False, "observed": True}
    assert v1["fix"]["commands"] == [f"az resource update --ids {scenario.workspace_arm_id} "
                                     "--set properties.v1LegacyMode=false"]  # never the retired v1 CLI

    [age] = run.results("workspace.private-endpoint-age")
    assert age["status"] == "fail" and age["resource_id"].endswith("/privateEndpoints/pe-ws")
    assert age["evidence"]["observed"].startswith("2021-12-01")
    assert any("private-endpoint delete -g rg-net -n pe-ws" in c for c in age["fix"]["commands"])

    [kv] = run.results("keyvault.trusted-services-bypass")
    assert kv["status"] == "fail" and kv["evidence"]["observed"]["bypass"] == "None"
    assert kv["fix"]["commands"] == ["az keyvault update -n kv-ws-prod -g rg-ml --bypass AzureServices"]

    [acr] = run.results("acr.egress-connection-approved")
    assert acr["status"] == "fail" and acr["evidence"]["observed"] == "Pending"
    assert "approve --id /subscriptions/" in acr["fix"]["commands"][0]


def test_the_workspace_is_read_once_however_many_checks_need_it(bed):
    scenario = broken().install(bed)
    check(bed, scenario)
    assert bed.count("GET", scenario.workspace_arm_id) == 1
    assert bed.duplicates() == []


@pytest.mark.parametrize("knob, expected", [(None, "pass"), (False, "pass"), (True, "fail")])
def test_v1_legacy_mode_absent_means_off(bed, knob, expected):
    scenario = healthy(v1_legacy_mode=knob).install(bed)
    assert check(bed, scenario, "--select", "workspace.v1-legacy-mode").statuses("workspace.v1-legacy-mode") == [expected]


def test_a_forbidden_key_vault_is_an_error_naming_the_action_and_the_rest_still_runs(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.key_vault_id, 403)
    run = check(bed, scenario, "--select", "keyvault", "--select", "workspace.v1-legacy-mode")
    [kv] = run.results("keyvault.trusted-services-bypass")
    assert kv["status"] == "error" and kv["reason"] == "forbidden"
    assert "Microsoft.KeyVault/vaults/read" in kv["message"]
    assert run.statuses("workspace.v1-legacy-mode") == ["pass"]
    assert run.code == 3


def test_a_missing_key_vault_is_an_error_not_a_pass(bed):
    scenario = healthy().install(bed)
    bed.remove(scenario.key_vault_id)
    [kv] = check(bed, scenario, "--select", "keyvault").results("keyvault.trusted-services-bypass")
    assert (kv["status"], kv["reason"]) == ("error", "not_found")


def test_a_key_vault_without_firewall_passes(bed):
    scenario = healthy(kv_network_acls=None).install(bed)
    assert check(bed, scenario, "--select", "keyvault").statuses("keyvault.trusted-services-bypass") == ["pass"]


@pytest.mark.parametrize("raw", ["", "Sanitized", None])
def test_an_unusable_key_vault_id_is_a_reasoned_error(bed, raw):
    scenario = healthy(key_vault=raw).install(bed)
    [kv] = check(bed, scenario, "--select", "keyvault").results("keyvault.trusted-services-bypass")
    assert kv["status"] == "error" and kv["reason"] == "unreadable" and "keyVault" in kv["message"]


def test_private_endpoint_age_falls_back_to_the_workspace_creation_time(bed):
    scenario = healthy().install(bed)
    bed.fault(f"/subscriptions/{scenario.subscription_id}/resourceGroups/rg-net/resources", 403)
    [age] = check(bed, scenario, "--select", "workspace.private-endpoint-age").results("workspace.private-endpoint-age")
    assert age["status"] == "pass" and "workspace creationTime" in age["evidence"]["observed"]


def test_private_endpoint_age_unreadable_without_a_lower_bound_is_an_error(bed):
    scenario = healthy(creation_time=None).install(bed)
    bed.fault(f"/subscriptions/{scenario.subscription_id}/resourceGroups/rg-net/resources", 403)
    [age] = check(bed, scenario, "--select", "workspace.private-endpoint-age").results("workspace.private-endpoint-age")
    assert (age["status"], age["reason"]) == ("error", "forbidden")


def test_private_endpoint_age_without_any_private_endpoint_is_not_applicable(bed):
    scenario = healthy(private_endpoint=False).install(bed)
    [age] = check(bed, scenario, "--select", "workspace.private-endpoint-age").results("workspace.private-endpoint-age")
    assert (age["status"], age["reason"]) == ("skip", "not_applicable")


@pytest.mark.parametrize("status, expected", [("Approved", "pass"), ("Pending", "fail"), ("Rejected", "fail")])
def test_egress_connection_status_decides_for_legacy_deployments(bed, status, expected):
    endpoints = [Endpoint("ep-main", traffic={"blue": 100},
                          deployments=[Deployment("blue", egress_public_network_access="Disabled")])]
    scenario = healthy(isolation_mode="Disabled", managed_network_status=None, legacy_egress=status,
                       endpoints=endpoints).install(bed)
    run = check(bed, scenario, "--select", "acr.egress-connection-approved")
    assert run.statuses("acr.egress-connection-approved") == [expected]


def test_egress_check_with_a_forbidden_registry_is_an_error(bed):
    endpoints = [Endpoint("ep-main", traffic={"blue": 100},
                          deployments=[Deployment("blue", egress_public_network_access="Disabled")])]
    scenario = healthy(legacy_egress="Approved", endpoints=endpoints).install(bed)
    bed.fault(scenario.registry_id, 403)
    [acr] = check(bed, scenario, "--select", "acr.egress-connection-approved").results("acr.egress-connection-approved")
    assert (acr["status"], acr["reason"]) == ("error", "forbidden")


def test_egress_check_with_unreadable_deployments_is_an_error_not_a_skip(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.endpoint_id("ep-main") + "/deployments", 403)
    [acr] = check(bed, scenario, "--select", "acr.egress-connection-approved").results("acr.egress-connection-approved")
    assert (acr["status"], acr["reason"]) == ("error", "forbidden")

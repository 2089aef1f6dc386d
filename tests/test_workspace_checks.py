"""The workspace checks of the runbook end to end, on the ARM test bed through the real Azure SDK over HTTPS: a
healthy and a broken workspace with their exit codes, one read of the workspace, a forbidden Key Vault beside
checks that still run. Each check's verdicts case by case are fixture cases in tests/fixtures/checks/ (in process).
"""

from __future__ import annotations

import pytest

from armbed import broken, healthy
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


# --- the live read path: response shapes, 404 fallbacks, references and errors the facts turn into evidence ---
# (the verdicts themselves are fixture cases too; these prove what the facts read and shape from Resource Manager)


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

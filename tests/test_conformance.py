"""Real Azure responses (official examples and recorded responses in ../shared/arm-examples), served by the
test bed in place of the scenario's own bodies: the parsers must read them, quirks included.

Only CI and developers have ../shared beside the repo; elsewhere these tests skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from armbed import healthy
from moe import check

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "arm-examples"


def example(relative: str) -> dict:
    path = EXAMPLES / relative
    if not path.exists():
        pytest.skip(f"{path} is not here (only CI and developers have ../shared/arm-examples)")
    return json.loads(path.read_text(encoding="utf-8"))


def recorded(relative: str, method: str, uri_part: str) -> dict:
    """The response body of the first recorded entry whose method and URI match."""
    for entry in example(relative)["Entries"]:
        if entry["RequestMethod"] == method and uri_part in entry["RequestUri"]:
            return entry["ResponseBody"]
    raise AssertionError(f"no {method} {uri_part} in {relative}")


def no_crash(run) -> None:
    assert not [r for r in run.report["results"] if r["reason"] == "crashed"], run.stdout


def test_outbound_rules_as_a_dict_keyed_by_name_from_a_real_recording(bed):
    scenario = healthy().install(bed)
    body = recorded("Microsoft.MachineLearningServices/ManagedNetworkSettingsRule_List__2022-12-01-preview__"
                    "recording_excerpt_list_show_remove_rules.json", "GET", "/outboundRules")
    bed.put(f"{scenario.workspace_arm_id}/outboundRules", body)
    run = check(bed, scenario, "--select", "workspace.outbound-rules-active")
    no_crash(run)
    results = run.results("workspace.outbound-rules-active")
    assert {r["status"] for r in results} == {"fail"}  # every recorded rule is Inactive
    assert any("__SYS_PE_" in json.dumps(r) for r in results)


def test_the_recorded_2026_workspace_without_managed_network_status(bed):
    scenario = healthy().install(bed)
    body = recorded("Microsoft.MachineLearningServices/Workspaces_Get__2024-10-01-preview__recording_excerpt_online_endpoint_e2e_2026.json",
                    "GET", "/workspaces/")
    bed.put(scenario.workspace_arm_id, body)
    run = check(bed, scenario, "--select", "workspace.v1-legacy-mode", "--select", "workspace.associated-resources",
                "--select", "workspace.managed-network-provisioned")
    no_crash(run)
    assert run.statuses("workspace.v1-legacy-mode") == ["pass"]
    assert run.statuses("workspace.managed-network-provisioned") == ["skip"]  # isolationMode Disabled
    storage = [r for r in run.results("workspace.associated-resources") if "storageAccount" in json.dumps(r)]
    assert storage and storage[0]["status"] in ("error", "warn")  # "Sanitized" is no resource id


def test_the_recorded_workspace_with_an_empty_container_registry(bed):
    scenario = healthy().install(bed)
    body = recorded("Microsoft.MachineLearningServices/Workspaces_Get_and_ProvisionManagedNetwork__2023-04-01-preview__"
                    "recording_excerpt_provision_network.json", "GET", "/workspaces/")
    bed.put(scenario.workspace_arm_id, body)
    run = check(bed, scenario, "--select", "workspace.", "--select", "acr.", "--select", "keyvault")
    no_crash(run)
    assert run.statuses("workspace.managed-network-provisioned") == ["fail"]  # status Inactive
    registry = [r for r in run.results("workspace.associated-resources") if "containerRegistry" in json.dumps(r)]
    assert registry and registry[0]["status"] == "warn"


@pytest.mark.parametrize("relative, code", [
    ("Microsoft.KeyVault/Vaults_Get__2025-05-01.json", "200"),  # no networkAcls: no firewall
    ("Microsoft.KeyVault/Vaults_CreateOrUpdate_WithNetworkAcls__2025-05-01.json", "200"),  # bypass AzureServices
])
def test_key_vault_examples_pass_the_trusted_services_check(bed, relative, code):
    scenario = healthy().install(bed)
    bed.put(scenario.key_vault_id, example(relative)["responses"][code]["body"])
    assert check(bed, scenario, "--select", "keyvault").statuses("keyvault.trusted-services-bypass") == ["pass"]


def test_the_official_registry_example_is_read_without_error(bed):
    scenario = healthy().install(bed)
    bed.put(scenario.registry_id, example("Microsoft.ContainerRegistry/Registries_Get__2025-04-01.json")["responses"]["200"]["body"])
    run = check(bed, scenario, "--select", "acr.", "--select", "workspace.image-build-compute")
    no_crash(run)
    assert not [r for r in run.report["results"] if r["status"] == "error"]


def test_a_real_diagnose_result_with_a_stray_key_is_tolerated(bed):
    entries = example("Microsoft.MachineLearningServices/Workspaces_Diagnose__2023-08-01-preview__"
                      "recording_test_workspace_diagnosis_assets.json")["Entries"]
    final = next(e["ResponseBody"] for e in reversed(entries) if e["StatusCode"] == 200 and e["ResponseBody"])
    scenario = healthy().install(bed)
    bed.lro(f"{scenario.workspace_arm_id}/diagnose", final, polls=1)
    run = check(bed, scenario, "--select", "workspace.diagnose", "--include-diagnose")
    no_crash(run)
    assert run.statuses("workspace.diagnose") and "error" not in run.statuses("workspace.diagnose")


def test_an_older_private_endpoint_without_ip_configurations(bed, dns_server):
    scenario = healthy().install(bed)
    body = example("Microsoft.Network/PrivateEndpoints_Get__2020-06-01.json")["responses"]["200"]["body"]
    bed.put(scenario.private_endpoint_id, body)
    dns_server.set_records(scenario.dns_records())
    run = check(bed, scenario, "--select", "dns", "--dns-server", dns_server.address)
    no_crash(run)
    assert "pass" not in run.statuses("dns.inference-a-record")  # this PE is not the workspace's: never a pass

"""The ARM test bed, proven with the real Azure SDK over real HTTPS on 127.0.0.1.

These tests are the specification of the bed: if the SDK can read, page, retry, time out and poll
against it the way it does against Azure, product tests built on it mean something.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import requests
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.core.rest import HttpRequest
from azure.mgmt.resource.resources import ResourceManagementClient

from armbed import ArmTestBed, StaticTokenCredential, WorkspaceScenario, broken, healthy, many_endpoints

SUB = "00000000-1111-2222-3333-444444444444"
KV = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv-ws-prod"


@pytest.fixture
def bed():
    with ArmTestBed() as bed:
        yield bed
        assert bed.errors == [], "the bed itself crashed:\n" + "\n".join(bed.errors)


@pytest.fixture
def scenario(bed) -> WorkspaceScenario:
    return healthy().install(bed)


def make_client(bed: ArmTestBed, token: str | None = None, **kwargs) -> ResourceManagementClient:
    kwargs.setdefault("retry_total", 0)
    return ResourceManagementClient(
        StaticTokenCredential(token or bed.token),
        SUB,
        base_url=bed.url,
        connection_verify=bed.ca_path,
        **kwargs,
    )


def raw_get(client: ResourceManagementClient, url: str) -> dict:
    response = client.send_request(HttpRequest("GET", url))
    response.raise_for_status()
    return response.json()


# --- serving resources -------------------------------------------------------------------------


def test_sdk_reads_a_resource_by_id(bed, scenario):
    with make_client(bed) as client:
        ws = client.resources.get_by_id(scenario.workspace_arm_id, api_version="2024-10-01")
    assert ws.name == "ws-prod"
    assert ws.properties["workspaceId"] == scenario.workspace_id
    assert ws.properties["managedNetwork"]["status"]["status"] == "Active"


def test_ids_match_case_insensitively_and_after_percent_decoding(bed, scenario):
    from azure.mgmt.privatedns import PrivateDnsManagementClient

    with make_client(bed) as client:
        vault = client.resources.get_by_id(scenario.ref("key_vault"), api_version="2025-05-01")
    dns = PrivateDnsManagementClient(
        StaticTokenCredential(bed.token), SUB, base_url=bed.url, connection_verify=bed.ca_path
    )
    with dns:
        record = dns.record_sets.get("RG-DNS", "privatelink.api.azureml.ms", "A", scenario.inference_record_name)
    assert "Microsoft.Keyvault" in scenario.ref("key_vault")  # the workspace's odd casing ...
    assert vault.name == "kv-ws-prod"  # ... still finds the vault
    assert [a.ipv4_address for a in record.a_records] == ["10.0.1.5"]
    assert bed.requests[-1].path.endswith("/a/*.11111111-2222-3333-4444-555555555555.inference.eastus2")


def test_unknown_resource_is_arm_resource_not_found(bed):
    with make_client(bed) as client, pytest.raises(ResourceNotFoundError) as caught:
        client.resources.get_by_id(KV, api_version="2025-05-01")
    assert caught.value.status_code == 404
    assert caught.value.error.code == "ResourceNotFound"
    assert "'Microsoft.KeyVault/vaults/kv-ws-prod' under resource group 'rg-ml'" in caught.value.error.message


def test_api_version_is_required(bed, scenario):
    with make_client(bed) as client:
        response = client.send_request(HttpRequest("GET", scenario.workspace_arm_id))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_resource_list_filters_by_type_and_expands_created_time(bed, scenario):
    with make_client(bed) as client:
        expanded = list(
            client.resources.list_by_resource_group(
                "rg-net", filter="resourceType eq 'microsoft.network/privateEndpoints'", expand="createdTime"
            )
        )
        plain = list(client.resources.list_by_resource_group("rg-net"))
    assert [r.name for r in expanded] == ["pe-ws"]
    assert expanded[0].created_time.isoformat().startswith("2023-05-09T01:30:00")
    assert len(plain) == 3 and all(r.created_time is None for r in plain)  # no $expand: no createdTime


def test_resource_list_rejects_filters_it_does_not_understand(bed, scenario):
    with make_client(bed) as client, pytest.raises(HttpResponseError) as caught:
        list(client.resources.list_by_resource_group("rg-net", filter="tagName eq 'x'"))
    assert caught.value.status_code == 400


def test_collections_page_with_absolute_next_links(bed):
    scenario = many_endpoints(count=25).install(bed)
    url = f"{scenario.workspace_arm_id}/onlineEndpoints?api-version=2025-12-01"
    names, pages = [], 0
    with make_client(bed) as client:
        while url:
            page = raw_get(client, url)
            pages += 1
            names += [e["name"] for e in page["value"]]
            url = page.get("nextLink")
            assert url is None or url.startswith(bed.url + "/subscriptions/")
    assert pages == 3  # page size 10
    assert names == [f"ep-{i:03d}" for i in range(25)]
    assert bed.duplicates() == []  # pages differ by $skiptoken: not repeats


def test_sdk_pager_follows_next_link(bed):
    items = [
        {"id": f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe{i}",
         "name": f"pe{i}", "type": "Microsoft.Network/privateEndpoints", "location": "eastus2",
         "createdTime": "2024-01-01T00:00:00Z"}
        for i in range(7)
    ]
    bed.resources(f"/subscriptions/{SUB}/resourceGroups/rg-net", items, page_size=3)
    with make_client(bed) as client:
        names = [r.name for r in client.resources.list_by_resource_group("rg-net", expand="createdTime")]
    assert names == [f"pe{i}" for i in range(7)]
    assert bed.count("GET", f"/subscriptions/{SUB}/resourceGroups/rg-net/resources") == 3


def test_custom_route_answers_get_logs_with_tail(bed, scenario):
    url = scenario.deployment_id("ep-main", "blue") + "/getLogs?api-version=2025-12-01"
    with make_client(bed) as client:
        response = client.send_request(HttpRequest("POST", url, json={"containerType": "StorageInitializer", "tail": 1}))
    assert response.status_code == 200
    assert response.json()["content"].strip().endswith("Model download succeeded (3 files, 1.2 MB)")
    assert response.json()["content"].count("\n") == 1


# --- auth and faults ---------------------------------------------------------------------------


def test_wrong_token_is_401_without_a_challenge_loop(bed, scenario):
    with make_client(bed, token="someone-else") as client, pytest.raises(ClientAuthenticationError) as caught:
        client.resources.get_by_id(scenario.workspace_arm_id, api_version="2024-10-01")
    assert caught.value.status_code == 401
    assert caught.value.error.code == "AuthenticationFailed"
    assert bed.count() == 1


def test_missing_token_is_401(bed, scenario):
    response = requests.get(f"{bed.url}{scenario.workspace_arm_id}?api-version=1", verify=bed.ca_path, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"


def test_fault_answers_forbidden_then_falls_through(bed, scenario):
    bed.fault(scenario.key_vault_id, 403, times=1)
    with make_client(bed) as client:
        with pytest.raises(HttpResponseError) as caught:
            client.resources.get_by_id(scenario.key_vault_id, api_version="2025-05-01")
        vault = client.resources.get_by_id(scenario.key_vault_id, api_version="2025-05-01")
    assert caught.value.status_code == 403
    assert caught.value.error.code == "AuthorizationFailed"
    assert "'Microsoft.KeyVault/vaults/read'" in caught.value.error.message
    assert vault.properties["networkAcls"]["bypass"] == "AzureServices"


def test_fault_can_target_one_method_and_names_the_action(bed, scenario):
    get_logs = scenario.deployment_id("ep-main", "blue") + "/getLogs"
    bed.fault(get_logs, 403, method="POST")
    with make_client(bed) as client:
        denied = client.send_request(HttpRequest("POST", get_logs + "?api-version=2025-12-01", json={}))
        other_method = client.send_request(HttpRequest("GET", get_logs + "?api-version=2025-12-01"))
    assert denied.status_code == 403
    assert "'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/getLogs/action'" in denied.text()
    assert other_method.status_code == 404  # only POST is faulted; nothing is stored for GET


def test_throttling_is_retried_after_retry_after(bed, scenario):
    bed.fault(scenario.workspace_arm_id, 429, times=1)  # Retry-After: 1
    with make_client(bed, retry_total=2) as client:
        ws = client.resources.get_by_id(scenario.workspace_arm_id, api_version="2024-10-01")
    assert ws.name == "ws-prod"
    first, second = bed.requests
    assert (first.status, second.status) == (429, 200)
    assert second.started_at - first.finished_at >= 0.9  # azure-core waited as told
    assert bed.duplicates() == []  # a retry after 429 is not a duplicate read


def test_server_errors_persist_until_the_fault_runs_out(bed, scenario):
    bed.fault(scenario.workspace_arm_id, 500, times=2, headers={"Retry-After": "0"})
    with make_client(bed) as client:
        for _ in range(2):
            with pytest.raises(HttpResponseError) as caught:
                client.resources.get_by_id(scenario.workspace_arm_id, api_version="2024-10-01")
            assert caught.value.error.code == "InternalServerError"
        assert client.resources.get_by_id(scenario.workspace_arm_id, api_version="2024-10-01").name == "ws-prod"


def test_hung_request_ends_in_a_client_timeout_quickly(bed, scenario):
    bed.hang(scenario.workspace_arm_id)
    started = time.monotonic()
    with make_client(bed, read_timeout=1) as client, pytest.raises(ServiceResponseError):
        client.resources.get_by_id(scenario.workspace_arm_id, api_version="2024-10-01")
    assert time.monotonic() - started < 3


def test_stopping_the_bed_does_not_wait_for_hung_handlers():
    bed = ArmTestBed().start()
    bed.hang("/subscriptions/x")
    headers = {"Authorization": f"Bearer {bed.token}"}
    def hung_get():
        with contextlib.suppress(requests.RequestException):  # the bed hangs up on it (mid-headers or mid-body): expected
            requests.get(f"{bed.url}/subscriptions/x?api-version=1", headers=headers, verify=bed.ca_path, timeout=10)

    client = threading.Thread(target=hung_get, daemon=True)
    client.start()
    while bed.max_in_flight == 0:
        time.sleep(0.01)
    started = time.monotonic()
    bed.stop()
    assert time.monotonic() - started < 1
    client.join(timeout=5)  # its end is this test's, not a warning in whichever test runs next


# --- long-running operations -------------------------------------------------------------------


def test_sdk_poller_follows_location_until_done(bed):
    move = f"/subscriptions/{SUB}/resourceGroups/rg-ml/validateMoveResources"
    bed.lro(move, None, polls=2, result_status=204)
    with make_client(bed) as client:
        # Retry-After: 0 is falsy to azure-core, which then waits its default 30 s between polls:
        # callers that want fast polls must pass polling_interval themselves.
        poller = client.resources.begin_validate_move_resources(
            "rg-ml",
            {"resources": [KV], "targetResourceGroup": f"/subscriptions/{SUB}/resourceGroups/rg-net"},
            polling_interval=0,
        )
        assert poller.result(timeout=5) is None
    assert poller.status() == "Succeeded"
    assert bed.count("POST", move) == 1
    polls = [r for r in bed.requests if r.path.startswith("/operations/")]
    assert [r.status for r in polls] == [202, 202, 204]


def poll(client: ResourceManagementClient, response, max_polls: int):
    """Follow Location the way a careful client would, giving up after max_polls."""
    for _ in range(max_polls):
        if response.status_code != 202:
            return response
        assert response.headers["Retry-After"] == "0"
        response = client.send_request(HttpRequest("GET", response.headers["Location"]))
    return response


def test_workspace_diagnose_is_a_long_running_post(bed, scenario):
    url = scenario.workspace_arm_id + "/diagnose?api-version=2025-12-01"
    with make_client(bed) as client:
        response = poll(client, client.send_request(HttpRequest("POST", url, json={"value": {}})), max_polls=5)
    assert response.status_code == 200
    assert set(response.json()["value"]) >= {"dnsResolutionResults", "otherResults"}


def test_diagnose_that_never_completes_keeps_answering_202(bed):
    scenario = healthy(diagnose_never_completes=True).install(bed)
    url = scenario.workspace_arm_id + "/diagnose?api-version=2025-12-01"
    with make_client(bed) as client:
        response = poll(client, client.send_request(HttpRequest("POST", url, json={"value": {}})), max_polls=5)
    assert response.status_code == 202


# --- the request log ---------------------------------------------------------------------------


def test_request_log_counts_and_finds_duplicate_reads(bed, scenario):
    with make_client(bed) as client:
        for _ in range(2):
            client.resources.get_by_id(scenario.workspace_arm_id, api_version="2024-10-01")
        client.resources.get_by_id(scenario.key_vault_id, api_version="2025-05-01")
    assert bed.count() == 3
    assert bed.count("GET", scenario.workspace_arm_id.upper()) == 2
    assert bed.requests[0].query == {"api-version": "2024-10-01"}
    assert bed.duplicates() == [("GET", scenario.workspace_arm_id.lower(), ())]
    bed.reset_log()
    assert bed.count() == 0 and bed.duplicates() == []


def test_latency_is_added_and_concurrency_is_measured(bed, scenario):
    bed.latency = 0.2
    with make_client(bed) as client:
        threads = [
            threading.Thread(target=client.resources.get_by_id, args=(rid,), kwargs={"api_version": "2024-10-01"})
            for rid in (scenario.workspace_arm_id, scenario.key_vault_id, scenario.registry_id, scenario.storage_id)
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    assert all(r.finished_at - r.started_at >= 0.2 for r in bed.requests)
    assert bed.max_in_flight >= 2
    assert elapsed < 0.8  # served in parallel, not one after another


def test_env_points_a_subprocess_at_the_bed(bed):
    env = bed.env()
    assert env == {
        "MOEDIAG_ACCESS_TOKEN": "moediag-test-token",
        "REQUESTS_CA_BUNDLE": bed.ca_path,
        "MOEDIAG_ARM_ENDPOINT": bed.url,
    }
    with open(bed.ca_path) as pem:
        assert pem.read().startswith("-----BEGIN CERTIFICATE-----")


def test_certificate_is_valid_for_localhost_too(bed, scenario):
    url = bed.url.replace("127.0.0.1", "localhost") + scenario.workspace_arm_id + "?api-version=1"
    response = requests.get(url, headers={"Authorization": f"Bearer {bed.token}"}, verify=bed.ca_path, timeout=5)
    assert response.status_code == 200


# --- the workspace scenario ----------------------------------------------------------------------


def test_healthy_scenario_references_resolve(bed, scenario):
    """Every id the workspace and its private endpoint point at can be fetched."""
    with make_client(bed) as client:
        ws = raw_get(client, scenario.workspace_arm_id + "?api-version=2024-10-01")
        pe_id = ws["properties"]["privateEndpointConnections"][0]["properties"]["privateEndpoint"]["id"]
        pe = raw_get(client, pe_id + "?api-version=2025-07-01")
        nic = raw_get(client, pe["properties"]["networkInterfaces"][0]["id"] + "?api-version=2025-07-01")
        vnet_id = pe["properties"]["subnet"]["id"].split("/subnets/")[0]
        vnet = raw_get(client, vnet_id + "?api-version=2025-07-01")
        groups = raw_get(client, pe_id + "/privateDnsZoneGroups?api-version=2025-07-01")
        zone_id = groups["value"][0]["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"]
        links = raw_get(client, zone_id + "/virtualNetworkLinks?api-version=2024-06-01")
        for key in ("keyVault", "containerRegistry", "storageAccount", "applicationInsights"):
            raw_get(client, ws["properties"][key] + "?api-version=2023-01-01")
        raw_get(client, scenario.compute_id + "?api-version=2025-12-01")
        rules = raw_get(client, scenario.workspace_arm_id + "/outboundRules?api-version=2025-12-01")
    inference_ip = next(c["ipAddresses"][0] for c in pe["properties"]["customDnsConfigs"] if ".inference." in c["fqdn"])
    nic_ips = [c["properties"]["privateIPAddress"] for c in nic["properties"]["ipConfigurations"]]
    assert inference_ip == "10.0.1.5" and inference_ip in nic_ips
    assert vnet["properties"]["addressSpace"]["addressPrefixes"] == ["10.0.0.0/16"]
    assert zone_id.endswith("/privateDnsZones/privatelink.api.azureml.ms")
    assert links["value"][0]["properties"]["virtualNetwork"]["id"] == vnet_id
    assert {r["properties"]["status"] for r in rules["value"]} == {"Active"}
    assert bed.duplicates() == []


def test_knobs_change_the_bodies(bed):
    scenario = healthy(
        v1_legacy_mode=None,
        container_registry="",
        storage_account="Sanitized",
        managed_network_status=None,
        outbound_rules_shape="dict",
        rule_status_overrides={"__SYS_PE_acrwsprod_registry": "Inactive"},
        zone_group=False,
        inference_record_ip=None,
    ).install(bed)
    with make_client(bed) as client:
        props = raw_get(client, scenario.workspace_arm_id + "?api-version=2024-10-01")["properties"]
        rules = raw_get(client, scenario.workspace_arm_id + "/outboundRules?api-version=2022-12-01-preview")
        groups = raw_get(client, scenario.private_endpoint_id + "/privateDnsZoneGroups?api-version=2025-07-01")
        missing = client.send_request(HttpRequest("GET", scenario.inference_record_id + "?api-version=2024-06-01"))
    assert "v1LegacyMode" not in props and "status" not in props["managedNetwork"]
    assert (props["containerRegistry"], props["storageAccount"]) == ("", "Sanitized")
    assert rules["__SYS_PE_acrwsprod_registry"]["status"] == "Inactive"
    assert groups == {"value": []}
    assert missing.status_code == 404


def test_broken_scenario_has_the_classic_failures(bed):
    scenario = broken().install(bed)
    with make_client(bed) as client:
        ws = raw_get(client, scenario.workspace_arm_id + "?api-version=2024-10-01")
        kv = raw_get(client, scenario.key_vault_id + "?api-version=2025-05-01")
        acr = raw_get(client, scenario.registry_id + "?api-version=2025-04-01")
        blue = raw_get(client, scenario.deployment_id("ep-main", "blue") + "?api-version=2025-12-01")
        ep = raw_get(client, scenario.endpoint_id("ep-main") + "?api-version=2025-12-01")
        pes = list(
            client.resources.list_by_resource_group(
                "rg-net", filter="resourceType eq 'Microsoft.Network/privateEndpoints'", expand="createdTime"
            )
        )
    assert ws["properties"]["v1LegacyMode"] is True
    assert kv["properties"]["networkAcls"]["bypass"] == "None"
    assert pes[0].created_time.date().isoformat() == "2021-12-01"
    egress = [
        p for p in acr["properties"]["privateEndpointConnections"]
        if p["properties"]["privateLinkServiceConnectionState"]["description"]
        == "Egress for Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    ]
    assert egress[0]["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
    assert blue["properties"]["egressPublicNetworkAccess"] == "Disabled"
    assert ep["properties"]["traffic"] == {"blue": 50, "green": 50}
    assert bed.count() == 6
    assert "*.11111111-2222-3333-4444-555555555555.inference.eastus2.privatelink.api.azureml.ms" not in scenario.dns_records()


def test_dns_records_describe_the_private_resolution_chain():
    records = healthy().dns_records()
    wsid = "11111111-2222-3333-4444-555555555555"
    assert records["ep-main.eastus2.inference.ml.azure.com"] == [
        ("CNAME", f"ep-main.{wsid}.inference.eastus2.privatelink.api.azureml.ms")
    ]
    assert records[f"*.{wsid}.inference.eastus2.privatelink.api.azureml.ms"] == [("A", "10.0.1.5")]
    unlinked = healthy(zone_linked=False).dns_records()
    assert unlinked[f"*.{wsid}.inference.eastus2.privatelink.api.azureml.ms"] == [("A", "20.44.17.190")]

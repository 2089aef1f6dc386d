"""Sovereign clouds (`--cloud`): one table of names, the run's cloud everywhere, and the cloud kept with the run.

Azure US Government and Azure operated by 21Vianet (China) have their own Resource Manager, sign-in authority,
private DNS zones and scoring host suffixes. The table (moediag/clouds.py) is checked against the Azure SDK's own
endpoints and the bed's names (tests/armbed/scenarios.py CLOUD_NAMES, from Microsoft's private endpoint DNS page);
end to end, a workspace of each cloud is judged by its own zone names against the HTTPS bed, reading only.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from armbed import CLOUD_NAMES, china, healthy, us_government
from moe import check, moediag
from moediag import clouds
from moediag.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
DNS_CHECKS = ("dns.inference-a-record", "dns.zone-vnet-link", "dns.scoring-resolution")


# --- the table ------------------------------------------------------------------------------------------------


def test_the_issue_names_the_zones_and_hosts_of_each_cloud():
    gov, cn = clouds.named("AzureUSGovernment"), clouds.named("AzureChinaCloud")
    assert (gov.api_zone, gov.notebooks_zone, gov.inference_domain) == (
        "privatelink.api.ml.azure.us", "privatelink.notebooks.usgovcloudapi.net", "inference.ml.azure.us")
    assert (cn.api_zone, cn.notebooks_zone, cn.inference_domain) == (
        "privatelink.api.ml.azure.cn", "privatelink.notebooks.chinacloudapi.cn", "inference.ml.azure.cn")
    assert clouds.PUBLIC.scoring_host("ep-main", "eastus2") == "ep-main.eastus2.inference.ml.azure.com"


@pytest.mark.parametrize("name", list(clouds.CLOUDS))
def test_the_table_agrees_with_the_azure_sdk_and_the_bed(name):
    """Resource Manager and token scope as azure-mgmt-core has them, the authority as azure-identity has it, the
    DNS names as Azure serves them (the bed)."""
    from azure.core import AzureClouds
    from azure.identity import AzureAuthorityHosts
    from azure.mgmt.core.tools import get_arm_endpoints

    sdk = {"AzureCloud": (AzureClouds.AZURE_PUBLIC_CLOUD, AzureAuthorityHosts.AZURE_PUBLIC_CLOUD),
           "AzureUSGovernment": (AzureClouds.AZURE_US_GOVERNMENT, AzureAuthorityHosts.AZURE_GOVERNMENT),
           "AzureChinaCloud": (AzureClouds.AZURE_CHINA_CLOUD, AzureAuthorityHosts.AZURE_CHINA)}
    cloud, (sdk_cloud, authority) = clouds.named(name), sdk[name]
    endpoints = get_arm_endpoints(sdk_cloud)
    assert cloud.resource_manager + "/" == endpoints["resource_manager"]
    assert [cloud.credential_scope] == endpoints["credential_scopes"]
    assert cloud.authority == authority
    assert (cloud.api_domain, cloud.notebooks_domain, cloud.inference_domain) == CLOUD_NAMES[name]
    # a forwarder sends the public names on, never a privatelink zone
    assert cloud.api_domain in cloud.public_forwarders and cloud.inference_domain in cloud.public_forwarders
    assert not [z for z in cloud.public_forwarders if z.startswith("privatelink.")]


def _names_of_every_cloud() -> list[str]:
    """Every name, host, zone and URL the table holds (the authority and the names of every cloud)."""
    found = set()
    for cloud in clouds.CLOUDS.values():
        found |= {cloud.name, cloud.resource_manager.split("//", 1)[1],
                  cloud.credential_scope.split("//", 1)[1].split("/")[0],
                  cloud.authority, cloud.api_domain, cloud.notebooks_domain, cloud.instances_domain,
                  cloud.inference_domain}
    return sorted(found)


def test_no_cloud_s_name_is_written_outside_the_table():
    """moediag and the checks take every such name from the run's cloud: a name written elsewhere would be the
    public cloud's answer in US Government or China."""
    pattern = re.compile("|".join(re.escape(n) for n in _names_of_every_cloud()), re.IGNORECASE)
    table = ROOT / "moediag" / "clouds.py"
    sources = {path: path.read_text(encoding="utf-8")
               for path in [*(ROOT / "moediag").rglob("*.py"), *(ROOT / "checks").rglob("*.py")] if path != table}
    assert len(sources) > 50
    offenders = [f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
                 for path, source in sorted(sources.items()) if pattern.search(source)
                 for i, line in enumerate(source.splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_the_old_constants_say_where_the_names_are_now():
    with pytest.raises(ImportError, match=r"ctx\.cloud\.api_zone"):
        from moediag.facts.dns import API_ZONE  # noqa: F401


# --- choosing the cloud ---------------------------------------------------------------------------------------


@pytest.fixture
def az_config(tmp_path, monkeypatch):
    """An az config directory; returns a function writing its `[cloud]` section."""
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path))
    for name in ("MOEDIAG_CLOUD", "MOEDIAG_ARM_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)

    def configure(cloud: str) -> None:
        (tmp_path / "config").write_text(f"[cloud]\nname = {cloud}\n\n[defaults]\ngroup = rg-ml\n", encoding="utf-8")

    return configure


def test_the_cloud_is_the_flag_then_the_environment_then_az_s_then_the_public_one(az_config, monkeypatch):
    from moediag import arguments

    assert arguments.cloud(None) == "AzureCloud"
    az_config("AzureChinaCloud")
    assert arguments.cloud(None) == "AzureChinaCloud"
    monkeypatch.setenv("MOEDIAG_CLOUD", "azureusgovernment")  # az accepts any case
    assert arguments.cloud(None) == "AzureUSGovernment"
    assert arguments.cloud("AzureCloud") == "AzureCloud"


def test_an_arm_endpoint_of_a_sovereign_cloud_chooses_that_cloud_and_a_contradiction_is_refused(az_config):
    from moediag import arguments

    assert arguments.cloud(None, "https://management.usgovcloudapi.net/") == "AzureUSGovernment"
    assert arguments.arm_endpoint(None, "AzureChinaCloud") == "https://management.chinacloudapi.cn"
    assert arguments.cloud("AzureUSGovernment", "https://127.0.0.1:8443") == "AzureUSGovernment"  # a bed, a proxy
    with pytest.raises(UsageError, match="Resource Manager of AzureChinaCloud, not of --cloud AzureCloud"):
        arguments.cloud("AzureCloud", "https://management.chinacloudapi.cn")


def test_an_unknown_cloud_is_a_one_line_usage_error_naming_the_three(bed, az_config):
    run = moediag(bed, "check", "-s", healthy().subscription_id, "-g", "rg-ml", "-w", "ws-prod", "--cloud", "AzureMars")
    assert run.code == 2 and bed.count() == 0
    assert run.stderr.strip() == ("moediag: error: unknown cloud 'AzureMars' (choose from AzureCloud, "
                                  "AzureUSGovernment, AzureChinaCloud)")
    az_config("AzureStackHub")
    run = moediag(bed, "scan", "--subscription", healthy().subscription_id)
    assert run.code == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "the az CLI is set to cloud 'AzureStackHub', which moediag does not know" in run.stderr


def test_the_token_is_asked_for_the_cloud_s_resource_manager_wherever_the_requests_go(bed, monkeypatch):
    """--arm-endpoint (here the bed) moves the requests, not the token's audience."""
    from moediag import session
    from moediag.engine import Budget

    scopes, seen_authority = [], []

    class Recording:
        def get_token(self, *wanted, **kw):
            from azure.core.credentials import AccessToken

            scopes.extend(wanted)
            return AccessToken(bed.token, int(time.time()) + 3600)

    def credential(cloud=None):
        seen_authority.append(cloud.authority)
        return Recording()

    scenario = us_government().install(bed)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bed.ca_path)
    monkeypatch.setattr(session, "credential", credential)
    arm = session.live_arm(Budget(10), bed.url, scenario.subscription_id, 2, cloud_name="AzureUSGovernment")
    try:
        assert arm.get(scenario.workspace_arm_id, "2024-10-01")["name"] == "ws-prod"
    finally:
        arm.close()
    assert set(scopes) == {"https://management.core.usgovcloudapi.net/.default"}
    assert seen_authority == ["login.microsoftonline.us"]


# --- end to end against the bed -------------------------------------------------------------------------------


def _dns_run(bed, dns_server, scenario, *args):
    scenario.install(bed)
    dns_server.set_records(scenario.dns_records("vnet"))
    return check(bed, scenario, "--dns-server", dns_server.address, *args)


def test_a_healthy_us_government_workspace_passes_with_its_own_zone_and_reads_only(bed, dns_server):
    scenario = us_government()
    run = _dns_run(bed, dns_server, scenario, "--cloud", "AzureUSGovernment")
    report = run.report
    assert run.code == 0, [(r["check_id"], r["status"], r["message"]) for r in report["results"]
                           if r["status"] not in ("pass", "skip")]
    assert report["cloud"] == "AzureUSGovernment"
    for check_id in DNS_CHECKS:
        assert run.statuses(check_id) == ["pass"], run.results(check_id)
    [record] = run.results("dns.inference-a-record")
    assert record["message"].startswith("zone privatelink.api.ml.azure.us holds *.11111111-2222-3333-4444-"
                                        "555555555555.inference.usgovvirginia -> 10.0.1.5")
    [scoring] = run.results("dns.scoring-resolution")
    assert scoring["evidence"]["chain"] == [
        "ep-main.usgovvirginia.inference.ml.azure.us",
        "ep-main.11111111-2222-3333-4444-555555555555.inference.usgovvirginia.privatelink.api.ml.azure.us"]
    assert bed.count() > 0 and bed.count("GET") == bed.count()


def test_a_china_workspace_whose_zone_has_the_public_cloud_s_name_fails_naming_the_china_zone(bed, dns_server):
    scenario = china(api_zone_name="privatelink.api.azureml.ms")
    run = _dns_run(bed, dns_server, scenario, "--cloud", "AzureChinaCloud", "--select", "dns")
    assert run.code == 1 and run.report["cloud"] == "AzureChinaCloud"
    [record] = run.results("dns.inference-a-record")
    assert record["status"] == "fail"
    assert "registers in no privatelink.api.ml.azure.cn zone" in record["message"]
    assert any("--zone-name privatelink.api.ml.azure.cn" in c for c in record["fix"]["commands"])
    assert any("privatelink.api.ml.azure.cn" in c and "az graph query" in c for c in record["fix"]["commands"]), record["fix"]
    [scoring] = run.results("dns.scoring-resolution")
    assert scoring["status"] == "fail" and scoring["evidence"]["chain"][0] == "ep-main.chinaeast2.inference.ml.azure.cn"
    assert "privatelink.api.ml.azure.cn" in scoring["message"]
    assert bed.count("GET") == bed.count()


def test_judged_as_the_public_cloud_a_china_workspace_s_own_zone_is_the_wrong_one(bed, dns_server):
    """The cloud decides what is expected: the same healthy China workspace fails when judged as AzureCloud."""
    run = _dns_run(bed, dns_server, china(), "--select", "dns.inference-a-record")
    [record] = run.results("dns.inference-a-record")
    assert run.report["cloud"] == "AzureCloud"
    assert record["status"] == "fail" and "registers in no privatelink.api.azureml.ms zone" in record["message"]


def test_the_cloud_is_kept_in_the_snapshot_and_a_replay_judges_by_it(bed, dns_server, tmp_path):
    saved = tmp_path / "gov.snapshot.json"
    live = _dns_run(bed, dns_server, us_government(), "--cloud", "AzureUSGovernment", "--select", "dns",
                    "--save-snapshot", str(saved))
    assert json.loads(saved.read_text())["options"]["cloud"] == "AzureUSGovernment"
    replay = moediag(None, "check", "--snapshot", str(saved), "--select", "dns", "-o", "json")
    assert replay.report["cloud"] == "AzureUSGovernment"
    assert [(r["check_id"], r["status"], r["message"]) for r in replay.report["results"]] == \
        [(r["check_id"], r["status"], r["message"]) for r in live.report["results"]]
    table = moediag(None, "check", "--snapshot", str(saved), "--select", "dns", "-o", "table").stdout
    assert "endpoint(s) · AzureUSGovernment · replayed from snapshot" in " ".join(table.split("\n\n")[0].split())
    markdown = moediag(None, "check", "--snapshot", str(saved), "--select", "dns", "-o", "markdown").stdout
    assert "replayed from a snapshot, AzureUSGovernment" in markdown
    wrong = moediag(None, "check", "--snapshot", str(saved), "--cloud", "AzureCloud")
    assert wrong.code == 2
    assert wrong.stderr.strip() == ("moediag: error: --cloud AzureCloud does not match the snapshot's cloud "
                                    "'AzureUSGovernment'")


@pytest.mark.parametrize("cloud, shown", [("AzureGermanCloud", "'AzureGermanCloud'"), ([], "[]"), ({"a": 1}, "{")])
def test_a_snapshot_naming_an_unknown_cloud_or_no_name_at_all_is_refused_in_one_line(tmp_path, cloud, shown):
    data = json.loads((ROOT / "moediag" / "data" / "broken-workspace.snapshot.json").read_text())
    data.setdefault("options", {})["cloud"] = cloud
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    run = moediag(None, "check", "--snapshot", str(path))
    assert run.code == 2 and f"was read in cloud {shown}" in run.stderr and len(run.stderr.splitlines()) == 1


@pytest.mark.parametrize("cloud", ["AzureGermanCloud", [], {"a": 1}])
def test_a_report_naming_an_unknown_cloud_or_no_name_at_all_is_not_rendered(tmp_path, cloud):
    report = json.loads(moediag(None, "check", "--example", "-o", "json").stdout)
    report["cloud"] = cloud
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    run = moediag(None, "render", str(path), "-o", "table")
    assert run.code == 2 and len(run.stderr.splitlines()) == 1 and "cloud" in run.stderr


def test_the_bundled_example_from_before_clouds_replays_as_the_public_cloud():
    run = moediag(None, "check", "--example", "-o", "json")
    assert run.report["cloud"] == "AzureCloud"


def test_a_scan_of_china_workspaces_judges_each_by_the_china_zone_and_records_the_cloud(bed, dns_server):
    from armbed.fleet import fleet

    in_china = {(0, i): (lambda s: s.replace(cloud="AzureChinaCloud", location="chinaeast2")) for i in range(2)}
    the_fleet = fleet(1, 2, 1, overrides=in_china).install(bed)
    dns_server.set_records(the_fleet.dns_records())
    run = moediag(bed, "scan", "-s", the_fleet.subscriptions[0], "--cloud", "AzureChinaCloud", "--select", "dns",
                  "--dns-server", dns_server.address, "-o", "json")
    report = run.report
    assert report["cloud"] == "AzureChinaCloud" and len(report["targets"]) == 2
    records = [r for r in report["results"] if r["check_id"] == "dns.inference-a-record"]
    assert [r["status"] for r in records] == ["pass", "pass"]
    assert all(r["message"].startswith("zone privatelink.api.ml.azure.cn holds") for r in records)
    assert bed.count("POST") == bed.count("POST", "/providers/Microsoft.ResourceGraph/resources")  # reads only

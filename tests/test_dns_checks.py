"""The DNS checks end to end: the private zone, its VNet link, custom DNS forwarding, and what the scoring host
resolves to, read from the ARM test bed and asked of real resolvers (timeouts, SERVFAIL, what is and is not sent).
Each check's verdicts case by case are fixture cases in tests/fixtures/checks/dns.*.json (in process).

moediag runs (in process, or as a subprocess where a test needs one) against the ARM test bed and a real DNS server on 127.0.0.1 (dnspython on the
wire, nothing mocked). `scenario.dns_records(via)` is what a resolver would answer: "vnet" (the VNet's DNS),
"azure" (Azure DNS inside the VNet) or "public" (from outside).
"""

from __future__ import annotations

import time

import pytest

from armbed import custom_dns, healthy
from dnsbed import DnsTestServer
from moe import check, moediag
from netguard import ENV_FLAG, ENV_LOG

A_RECORD, LINK, SCORING, FORWARDING = ("dns.inference-a-record", "dns.zone-vnet-link", "dns.scoring-resolution",
                                       "dns.custom-dns-forwarding")
WSID = "11111111-2222-3333-4444-555555555555"
RECORD = f"*.{WSID}.inference.eastus2"
HOST = "ep-main.eastus2.inference.ml.azure.com"
PRIVATELINK = f"ep-main.{WSID}.inference.eastus2.privatelink.api.azureml.ms"


def guard(guarded_env):
    """Only the guard's variables of `guarded_env` (the rest would override the bed's CA bundle and URL)."""
    return {ENV_FLAG: guarded_env[ENV_FLAG], ENV_LOG: guarded_env[ENV_LOG], "PYTHONPATH": guarded_env["PYTHONPATH"]}


@pytest.fixture
def azure_dns():
    """A second loopback server standing in for Azure DNS (168.63.129.16 is never asked in tests)."""
    with DnsTestServer() as server:
        yield server


def dns_check(bed, dns, scenario, *args, via="vnet", records=None, install=True, **kw):
    """Install the scenario (unless a test installed and tweaked it), serve its DNS view on `dns`, and run the
    DNS checks against both."""
    if install:
        scenario.install(bed)
    dns.set_records(scenario.dns_records(via) if records is None else records)
    return check(bed, scenario, "--select", "dns", "--dns-server", dns.address, *args, **kw)


def one(run, check_id):
    [result] = run.results(check_id)
    return result


def causes(result):
    return [c["cause"] for c in result["evidence"]["causes"]]


# --- healthy ----------------------------------------------------------------------------------------------


def test_a_healthy_private_path_passes_and_says_which_resolver_answered_and_the_chain(bed, dns_server):
    run = dns_check(bed, dns_server, healthy())
    assert run.code == 0, run.stdout
    assert one(run, A_RECORD)["status"] == "pass"
    assert one(run, LINK)["status"] == "pass"
    scoring = one(run, SCORING)
    assert scoring["status"] == "pass" and scoring["resource_id"].endswith("/onlineEndpoints/ep-main")
    assert f"from this machine via {dns_server.address}" in scoring["message"]
    assert scoring["evidence"]["chain"] == [HOST, PRIVATELINK]
    assert scoring["evidence"]["observed"] == ["10.0.1.5"]
    assert scoring["evidence"]["expected"] == {"addresses": ["10.0.1.5"], "inside": ["10.0.0.0/16"]}
    assert (one(run, FORWARDING)["status"], one(run, FORWARDING)["reason"]) == ("skip", "not_applicable")


def test_the_dns_checks_read_each_resource_once(bed, dns_server):
    scenario = healthy()
    dns_check(bed, dns_server, scenario)
    assert bed.duplicates() == []
    assert dns_server.queries == [(HOST, "A", "udp")]


# --- what the scoring host resolves to from here ---------------------------------------------------------------


def test_a_silent_resolver_is_an_error_timed_out_and_the_run_stays_within_its_timeout(bed, dns_server):
    dns_server.silent()
    started = time.monotonic()
    run = dns_check(bed, dns_server, healthy(), "--timeout", "1.5")
    assert time.monotonic() - started < 1.5 + 1  # the resolver gives up after 0.5 s (a third of --timeout)
    assert dns_server.queries  # it asked, and waited
    scoring = one(run, SCORING)
    assert (scoring["status"], scoring["reason"]) == ("error", "timed_out")
    assert dns_server.address in scoring["message"]
    assert run.code == 3


def test_servfail_is_an_error_not_a_verdict(bed, dns_server):
    dns_server.servfail()
    scoring = one(dns_check(bed, dns_server, healthy()), SCORING)
    assert (scoring["status"], scoring["reason"]) == ("error", "unreadable") and "SERVFAIL" in scoring["message"]


def test_a_workspace_without_private_endpoint_has_nothing_private_to_resolve(bed, dns_server):
    run = dns_check(bed, dns_server, healthy(private_endpoint=False))
    assert {r["status"] for r in run.report["results"]} == {"skip"}
    assert dns_server.queries == []


# --- custom DNS against Azure DNS ------------------------------------------------------------------------------


def test_custom_dns_without_a_forwarder_fails_against_azure_dns_with_the_forwarders_to_add(bed, dns_server, azure_dns):
    scenario = custom_dns(forwards=False)
    azure_dns.set_records(scenario.dns_records("azure"))
    run = dns_check(bed, dns_server, scenario, "--azure-dns", azure_dns.address)
    forwarding = one(run, FORWARDING)
    assert forwarding["status"] == "fail" and forwarding["resource_id"].endswith("/onlineEndpoints/ep-main")
    assert "answers 20.44.17.190" in forwarding["message"] and "Azure DNS answers 10.0.1.5" in forwarding["message"]
    forwarder = "Add-DnsServerConditionalForwarderZone -Name api.azureml.ms -MasterServers 168.63.129.16"
    assert forwarding["fix"]["commands"][0].startswith(forwarder)
    assert any("inference.ml.azure.com" in c for c in forwarding["fix"]["commands"])
    assert azure_dns.queries == [(HOST, "A", "udp")]
    scoring = one(run, SCORING)
    assert scoring["status"] == "fail" and causes(scoring) == ["outside", "custom_dns"]


def test_without_azure_dns_custom_dns_is_skipped_and_nothing_is_sent_to_168_63_129_16(bed, dns_server, guarded_env):
    # guarded_env fails this test if the subprocess tried to reach anything off loopback, 168.63.129.16 included.
    run = dns_check(bed, dns_server, custom_dns(forwards=False), env=guard(guarded_env))
    forwarding = one(run, FORWARDING)
    assert (forwarding["status"], forwarding["reason"]) == ("skip", "not_requested")
    assert "--azure-dns" in forwarding["message"] and "nothing was sent" in forwarding["message"]


def test_a_silent_azure_dns_is_an_error_timed_out(bed, dns_server, azure_dns):
    azure_dns.silent()
    run = dns_check(bed, dns_server, custom_dns(forwards=False), "--azure-dns", azure_dns.address, "--timeout", "1.5")
    forwarding = one(run, FORWARDING)
    assert (forwarding["status"], forwarding["reason"]) == ("error", "timed_out")


def test_without_custom_dns_azure_dns_is_not_asked(bed, dns_server, azure_dns):
    run = dns_check(bed, dns_server, healthy(), "--azure-dns", azure_dns.address)
    assert (one(run, FORWARDING)["status"], one(run, FORWARDING)["reason"]) == ("skip", "not_applicable")
    assert azure_dns.queries == []


def test_azure_dns_without_a_value_means_168_63_129_16_and_a_bad_value_is_a_usage_error(monkeypatch):
    from click.testing import CliRunner

    from moediag import session
    from moediag.cli import cli
    from moediag.errors import UsageError

    seen = []

    def capture(options, *args, **kw):
        seen.append(options)
        raise UsageError("stop here")  # nothing is collected, nothing is sent

    monkeypatch.setattr(session, "live_source", capture)
    target = ["check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg-ml", "-w", "ws-prod"]
    CliRunner().invoke(cli, [*target, "--azure-dns", "--timeout", "5"])
    CliRunner().invoke(cli, [*target, "--azure-dns", "127.0.0.1:5399"])
    CliRunner().invoke(cli, target)
    assert [o.azure_dns for o in seen] == ["168.63.129.16", "127.0.0.1:5399", None]
    bad = moediag(None, *target, "--azure-dns", "dns.example.com")
    assert bad.code == 2 and "bad --azure-dns" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# --- offline replay and documentation ------------------------------------------------------------------------------


def test_dns_answers_are_in_the_snapshot_so_a_replay_gives_the_same_verdicts_offline(bed, dns_server, azure_dns, tmp_path,
                                                                                      guarded_env):
    scenario = custom_dns(forwards=False)
    azure_dns.set_records(scenario.dns_records("azure"))
    snap = tmp_path / "snap.json"
    live = dns_check(bed, dns_server, scenario, "--azure-dns", azure_dns.address, "--save-snapshot", str(snap))
    replay = moediag(None, "check", "--snapshot", str(snap), "--select", "dns", "-o", "json", env=guard(guarded_env))

    def verdicts(run):
        return [(r["check_id"], r["status"], r["message"]) for r in run.report["results"]]

    assert verdicts(replay) == verdicts(live)
    assert {one(live, c)["status"] for c in (SCORING, FORWARDING)} == {"fail"}


@pytest.mark.parametrize("check_id, where", [(A_RECORD, "Anywhere"), (LINK, "Anywhere"), (SCORING, "inside the VNet"),
                                             (FORWARDING, "--azure-dns")])
def test_explain_says_where_each_dns_check_must_run_from(check_id, where):
    out = moediag(None, "explain", check_id).stdout
    section = out.split("## Where to run it from", 1)[1].split("##", 1)[0]
    assert where in section


def test_two_copies_of_the_inference_zone_for_one_workspace_warn_naming_both(bed, dns_server, tmp_path):
    import json as jsonlib

    from moe import add_private_endpoint
    from moediag import session
    from moediag.registry import all_checks

    snap = tmp_path / "snap.json"
    dns_check(bed, dns_server, healthy(), "--save-snapshot", str(snap))
    data = jsonlib.loads(snap.read_text())
    facts = data["facts"]
    _, spoke_id = add_private_endpoint(facts, "pe-ws-spoke")
    groups = facts[f"private_dns_zone_groups|{spoke_id}"]  # the spoke registers in a copy of the zone
    hub_zone = next(c["properties"]["privateDnsZoneId"] for g in groups["value"]
                    for c in g["properties"]["privateDnsZoneConfigs"] if c["name"].startswith("privatelink-api"))
    spoke_zone = hub_zone.replace("/resourceGroups/rg-dns/", "/resourceGroups/rg-spoke-dns/")
    for g in groups["value"]:
        for c in g["properties"]["privateDnsZoneConfigs"]:
            c["properties"]["privateDnsZoneId"] = c["properties"]["privateDnsZoneId"].replace(hub_zone, spoke_zone)
    facts[f"private_dns_zone_links|{spoke_zone}"] = facts[f"private_dns_zone_links|{hub_zone}"]

    report = session.replay(data, [all_checks()[LINK]], 10).report
    [copies] = [r for r in report["results"] if r["status"] == "warn"]
    assert "2 different zones named privatelink.api.azureml.ms" in copies["message"]
    assert hub_zone in copies["message"] and spoke_zone in copies["message"] and "pe-ws-spoke" in copies["message"]
    assert sorted(copies["evidence"]["observed"]["zones"]) == sorted([hub_zone, spoke_zone])


# --- the live read path: response shapes, 404 fallbacks, references and errors the facts turn into evidence ---
# (the verdicts themselves are fixture cases too; these prove what the facts read and shape from Resource Manager)


def test_the_inference_ip_comes_from_the_network_interface_when_the_endpoint_does_not_list_it(bed, dns_server):
    scenario = healthy().install(bed)
    bed.get(scenario.private_endpoint_id)["properties"]["customDnsConfigs"] = []
    nic = bed.get(scenario.nic_id)
    for config in nic["properties"]["ipConfigurations"]:
        config["properties"]["privateIPAddress"] += "/28"  # the prefix form real NICs report
    run = dns_check(bed, dns_server, scenario, install=False)
    assert one(run, A_RECORD)["status"] == "pass" and one(run, A_RECORD)["evidence"]["expected"]["ip"] == "10.0.1.5"
    assert one(run, SCORING)["status"] == "pass"


def test_an_unreadable_private_endpoint_leaves_every_dns_check_without_a_pass(bed, dns_server):
    scenario = healthy()
    scenario.install(bed)
    bed.fault(scenario.private_endpoint_id, 403)
    run = dns_check(bed, dns_server, scenario, install=False)
    for check_id in (A_RECORD, LINK, SCORING):
        assert (one(run, check_id)["status"], one(run, check_id)["reason"]) == ("error", "forbidden"), check_id

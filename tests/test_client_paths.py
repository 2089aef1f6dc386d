"""The scoring path from client networks (issue 16), end to end against the ARM test bed: `--client-vnet` and
`client_vnets` in moediag.toml, network.client-vnet-path and dns.resolver-forwarding in the diagnosis, and only
GETs. The check logic per hop (peerings, resolvers, rulesets, custom DNS) is in
tests/fixtures/checks/network.client-vnet-path.json (in process, fast)."""

from __future__ import annotations

import pytest

from armbed import healthy, us_government
from armbed.clients import ClientNetwork, Peer, Resolver, Rule, Ruleset, Vnet, vnet_id
from moe import check, moediag
from moediag.clouds import AZURE_CLOUD, AZURE_US_GOVERNMENT

PATH = "network.client-vnet-path"
SELECT = ("--select", PATH, "--select", "dns.resolver-forwarding", "--select", "dns.zone-vnet-link")


def spoke(**vnet) -> ClientNetwork:
    """vnet-app (10.1.0.0/16) peered both ways with the private endpoint's VNet."""
    return ClientNetwork(vnets=[Vnet("vnet-app", "10.1.0.0/16", peers=[Peer("vnet-ml")], **vnet)],
                         pe_peers=[Peer("vnet-app")])


def run_for(bed, scenario, *args, **kw):
    scenario.install(bed)
    app = vnet_id(scenario, "vnet-app", scenario.client_network)
    return check(bed, scenario, *SELECT, "--client-vnet", app, *args, **kw), app


def only_gets(bed) -> None:
    assert bed.requests and {r.method for r in bed.requests} == {"GET"}, {(r.method, r.path) for r in bed.requests}


def test_a_spoke_whose_vnet_the_zone_is_not_linked_to_is_the_root_cause_on_the_scoring_path(bed):
    run, app = run_for(bed, healthy(client_network=spoke()))
    [result] = run.results(PATH)
    assert result["status"] == "fail" and result["resource_id"] == app
    assert "blocked at DNS" in result["message"] and "not linked to VNet vnet-app" in result["message"]
    assert result["fix"]["commands"][0].startswith("az network private-dns link vnet create -g rg-dns -z "
                                                   "privatelink.api.azureml.ms -n vnet-app-link -v " + app)
    diagnosis = run.report["diagnosis"]
    assert diagnosis["root_causes"] == [result["id"]]
    [scoring] = [p for p in diagnosis["paths"] if p["kind"] == "scoring"]
    assert scoring["blocked_at"] == "client-network"
    assert run.code == 1
    only_gets(bed)


def test_a_peering_connected_in_one_direction_only_blocks_at_reachability_and_names_the_missing_side(bed):
    network = ClientNetwork(vnets=[Vnet("vnet-app", "10.1.0.0/16", peers=[Peer("vnet-ml", state="Initiated")],
                                        zone_linked=True)])
    run, _ = run_for(bed, healthy(client_network=network))
    [result] = run.results(PATH)
    assert result["status"] == "fail" and "blocked at network reachability" in result["message"]
    assert "vnet-ml has no peering to vnet-app" in result["message"]
    assert [c.split(" --remote-vnet")[0] for c in result["fix"]["commands"]] == [
        "az network vnet peering create -g rg-net --vnet-name vnet-ml -n vnet-ml-to-vnet-app"]
    assert run.report["diagnosis"]["root_causes"] == [result["id"]]
    only_gets(bed)


def test_a_client_vnet_whose_path_is_complete_passes_through_a_resolver_and_its_ruleset(bed):
    network = ClientNetwork(
        vnets=[Vnet("vnet-hub", "10.2.0.0/16", zone_linked=True, resource_group="rg-hub"),
               Vnet("vnet-app", "10.1.0.0/16", peers=[Peer("vnet-ml")])],
        pe_peers=[Peer("vnet-app")], resolvers=[Resolver("dnspr-hub", "vnet-hub", "10.2.0.4")],
        rulesets=[Ruleset("rs-hub", ["vnet-app"], [Rule(f"{zone}.", ["10.2.0.4"])
                                                   for zone in AZURE_CLOUD.public_forwarders])])
    run, _ = run_for(bed, healthy(client_network=network))
    assert run.statuses(PATH) == ["pass"] and run.statuses("dns.resolver-forwarding") == ["pass"]
    assert "ruleset rs-hub forwards api.azureml.ms to 10.2.0.4" in run.results(PATH)[0]["message"]
    assert run.code == 0 and run.report["diagnosis"]["root_causes"] == []
    only_gets(bed)


def test_client_vnets_in_moediag_toml_are_analysed_like_the_flag(bed, tmp_path):
    scenario = healthy(client_network=spoke(zone_linked=True)).install(bed)
    app = vnet_id(scenario, "vnet-app", scenario.client_network)
    (tmp_path / "moediag.toml").write_text(f'client_vnets = ["{app}"]\n')
    run = check(bed, scenario, "--select", PATH, cwd=tmp_path)
    assert [r["resource_id"] for r in run.results(PATH)] == [app] and run.statuses(PATH) == ["pass"]


@pytest.mark.parametrize("value", ["vnet-app", "/subscriptions/not-a-guid/resourceGroups/rg/providers/"
                                   "Microsoft.Network/virtualNetworks/v",
                                   "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/"
                                   "Microsoft.Network/privateEndpoints/pe"])
def test_a_malformed_client_vnet_is_one_line_and_exit_2(value):
    run = moediag(None, "check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg", "-w", "ws",
                  "--client-vnet", value)
    assert run.code == 2 and "bad --client-vnet" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_a_malformed_client_vnets_entry_in_moediag_toml_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "moediag.toml").write_text('client_vnets = ["vnet-app"]\n')
    run = moediag(None, "check", "-s", "00000000-1111-2222-3333-444444444444", "-g", "rg", "-w", "ws", cwd=tmp_path)
    assert run.code == 2 and "client_vnets" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_the_client_vnets_and_resolvers_are_in_the_snapshot_and_replay_the_same_verdicts(bed, tmp_path):
    snap = tmp_path / "snap.json"
    live, _ = run_for(bed, healthy(client_network=spoke()), "--save-snapshot", str(snap))
    replay = moediag(None, "check", "--snapshot", str(snap), *SELECT, "-o", "json")

    def verdicts(run):
        return [(r["check_id"], r["status"], r["message"]) for r in run.report["results"]]

    assert verdicts(replay) == verdicts(live) and "fail" in {s for _, s, _ in verdicts(live)}
    again = moediag(None, "check", "--snapshot", str(snap), "--client-vnet", live.results(PATH)[0]["resource_id"])
    assert again.code == 2 and "--client-vnet reads live" in again.stderr


def test_a_spoke_relying_on_a_privatelink_rule_is_explained_by_the_ruleset_one_root_cause_one_step(bed):
    network = ClientNetwork(
        vnets=[Vnet("vnet-hub", "10.2.0.0/16", zone_linked=True, resource_group="rg-hub"),
               Vnet("vnet-app", "10.1.0.0/16", peers=[Peer("vnet-ml")])],
        pe_peers=[Peer("vnet-app")], resolvers=[Resolver("dnspr-hub", "vnet-hub", "10.2.0.4")],
        rulesets=[Ruleset("rs-hub", ["vnet-app"], [Rule("privatelink.api.azureml.ms.", ["10.2.0.4"])])])
    run, _ = run_for(bed, healthy(client_network=network))
    [forwarding] = run.results("dns.resolver-forwarding")
    [path] = run.results(PATH)
    assert forwarding["status"] == path["status"] == "fail"
    assert "never the privatelink one" in forwarding["message"] and path["caused_by"] == [forwarding["id"]]
    diagnosis = run.report["diagnosis"]
    assert diagnosis["root_causes"] == [forwarding["id"]]
    [step] = diagnosis["plan"]
    assert step["results"] == [forwarding["id"], path["id"]]
    assert any("--domain-name api.azureml.ms." in c for c in step["commands"])
    only_gets(bed)


HUB_LINKED = Vnet("vnet-hub", "10.2.0.0/16", zone_linked=True, resource_group="rg-hub")
RESOLVER = Resolver("dnspr-hub", "vnet-hub", "10.2.0.4")


def test_in_us_government_the_spoke_s_rules_and_zone_are_that_cloud_s(bed):
    """The names forwarded and the zone linked are the run's cloud's: a ruleset forwarding the public cloud's names
    leaves a US Government spoke without its own."""
    gov = AZURE_US_GOVERNMENT
    network = ClientNetwork(
        vnets=[HUB_LINKED, Vnet("vnet-app", "10.1.0.0/16", peers=[Peer("vnet-ml")])], pe_peers=[Peer("vnet-app")],
        resolvers=[RESOLVER], rulesets=[Ruleset("rs-hub", ["vnet-app"], [Rule(f"{AZURE_CLOUD.api_domain}.",
                                                                               ["10.2.0.4"])])])
    run, _ = run_for(bed, us_government(client_network=network), "--cloud", gov.name)
    [path] = run.results(PATH)
    assert path["status"] == "fail" and f"zone {gov.api_zone} is not linked to VNet vnet-app" in path["message"]
    assert f"forwards {' or '.join(gov.forwarded_zones)}" in path["message"]
    [forwarding] = run.results("dns.resolver-forwarding")
    assert forwarding["status"] == "fail" and gov.api_domain in forwarding["message"]
    assert any(f"--domain-name {gov.api_domain}." in c for c in forwarding["fix"]["commands"])
    only_gets(bed)


def test_scan_analyses_the_client_vnets_of_the_flag_for_every_workspace_and_refuses_them_with_a_snapshot(
        bed, dns_server, tmp_path):
    from armbed.fleet import fleet

    the_fleet = fleet(1, 1, 1, overrides={(0, 0): lambda s: s.replace(client_network=spoke())}).install(bed)
    [scenario] = the_fleet.scenarios
    app = vnet_id(scenario, "vnet-app", scenario.client_network)
    run = moediag(bed, "scan", "-s", scenario.subscription_id, *SELECT, "--client-vnet", app, "-o", "json",
                  "--dns-server", dns_server.address)
    [result] = run.results(PATH)
    assert result["status"] == "fail" and result["resource_id"] == app and "not linked to VNet vnet-app" in result["message"]
    assert run.code == 1
    assert {(r.method, r.path) for r in bed.requests if r.method != "GET"} == {
        ("POST", "/providers/microsoft.resourcegraph/resources")}  # the inventory query, a read
    replay = moediag(None, "scan", "--snapshot", str(tmp_path / "any.json"), "--client-vnet", app)
    assert replay.code == 2 and replay.stderr.strip() == (
        "moediag: error: --client-vnet reads live: a snapshot replays the client VNets it was taken with")

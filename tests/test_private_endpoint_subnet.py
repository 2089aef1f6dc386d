"""network.private-endpoint-subnet end to end, on the ARM test bed: the subnet, its NSG and route table are read
(GETs only, each once), a blocking NSG rule or route is the diagnosis's root cause on the scoring path with a fix,
and a healthy subnet passes. The check's logic case by case is in tests/fixtures/checks/."""

from __future__ import annotations

from armbed import healthy
from moe import check

SUBNET_CHECK = "network.private-endpoint-subnet"
# The checks on the scoring path that read with GET only (workspace.diagnose and deployment logs POST).
SCORING = ("--select", "dns", "--select", "network", "--select", "endpoint",
           "--select", "workspace.private-endpoint-approved")


def run_on(bed, dns_server, scenario):
    scenario.install(bed)
    dns_server.set_records(scenario.dns_records())
    return check(bed, scenario, "--dns-server", dns_server.address, *SCORING)


def test_an_nsg_denying_443_is_the_root_cause_blocking_the_scoring_path(bed, dns_server):
    scenario = healthy(pe_subnet_policies="Enabled",
                       pe_nsg_rules=[("deny-https-in", 150, "Deny", "*", "443"),
                                     ("allow-https-from-vnet", 200, "Allow", "VirtualNetwork", "443")])
    run = run_on(bed, dns_server, scenario)
    report = run.report
    [result] = run.results(SUBNET_CHECK)
    assert result["status"] == "fail" and result["resource_id"] == scenario.private_endpoint_id
    assert "NSG nsg-pe rule deny-https-in (priority 150) denies TCP 443 to 10.0.1.5 from 10.0.0.0/16" in result["message"]
    assert result["fix"]["risk"] == "safe"
    assert any("az network nsg rule create -g rg-net --nsg-name nsg-pe" in c and "--priority 149" in c
               for c in result["fix"]["commands"])
    assert report["diagnosis"]["root_causes"] == [result["id"]]
    [step] = report["diagnosis"]["plan"]
    assert step["results"][0] == result["id"] and step["commands"] == result["fix"]["commands"]
    [path] = [p for p in report["diagnosis"]["paths"] if p["kind"] == "scoring"]
    assert path["blocked_at"] == "private-endpoint-subnet"
    assert {r.method for r in bed.requests} == {"GET"}, {(r.method, r.path) for r in bed.requests}
    assert bed.count("GET", scenario.subnet_id) == 1 and bed.count("GET", scenario.pe_nsg_id) == 1


def test_a_route_as_broad_as_the_vnet_to_an_appliance_blocks_with_a_disruptive_fix(bed, dns_server):
    scenario = healthy(pe_subnet_policies="RouteTableEnabled",
                       pe_routes=[("default-to-firewall", "0.0.0.0/0", "VirtualAppliance", "10.0.0.4"),
                                  ("vnet-to-firewall", "10.0.0.0/16", "VirtualAppliance", "10.0.0.4")])
    run = run_on(bed, dns_server, scenario)
    [result] = run.results(SUBNET_CHECK)
    assert result["status"] == "fail" and "route vnet-to-firewall (10.0.0.0/16 -> VirtualAppliance 10.0.0.4)" in \
        result["message"]
    assert result["fix"]["risk"] == "disruptive"
    [path] = [p for p in run.report["diagnosis"]["paths"] if p["kind"] == "scoring"]
    assert path["blocked_at"] == "private-endpoint-subnet"
    assert bed.count("GET", scenario.pe_nsg_id) == 0  # RouteTableEnabled: the NSG does not apply, so is not read
    assert {r.method for r in bed.requests} == {"GET"}


def test_with_policies_off_only_the_subnet_is_read(bed, dns_server):
    scenario = healthy()
    run = run_on(bed, dns_server, scenario)
    [result] = run.results(SUBNET_CHECK)
    assert result["status"] == "pass" and "network policies are off" in result["message"]
    assert bed.count("GET", scenario.pe_nsg_id) == 0 and bed.count("GET", scenario.pe_route_table_id) == 0

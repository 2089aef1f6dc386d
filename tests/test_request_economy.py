"""Every resource is read once per run, and concurrency stays within its bound (request counts, not timings)."""

from __future__ import annotations

from armbed import many_endpoints
from moe import check


def test_twenty_endpoints_are_checked_with_zero_duplicate_requests(bed, dns_server):
    scenario = many_endpoints(count=20, deployments_each=2).install(bed)
    dns_server.set_records(scenario.dns_records())
    run = check(bed, scenario, "--dns-server", dns_server.address)
    assert run.code in (0, 1, 3), run.stderr
    assert bed.duplicates() == []
    assert bed.count("GET", scenario.workspace_arm_id) == 1
    for endpoint in scenario.endpoints:
        assert bed.count("GET", scenario.endpoint_id(endpoint.name)) == 0  # bodies come from the list
    assert len(run.report["target"]["endpoints"]) == 20


def test_requests_in_flight_never_exceed_max_concurrency(bed):
    scenario = many_endpoints(count=12, deployments_each=1).install(bed)
    bed.latency = 0.05
    check(bed, scenario, "--max-concurrency", "3")
    assert 1 <= bed.max_in_flight <= 3

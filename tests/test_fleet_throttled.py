"""A fleet read under Resource Manager's throttling: each resource once, paced below the bed's budget.

The bed can enforce Resource Manager's read budget (a token bucket per subscription, 429 + Retry-After when it is
empty, the remaining reads on every answer) and Resource Graph's quota (tests/armbed/throttle.py). The fleet here
is a platform team's layout in small: ten workspaces in one subscription share one Key Vault, one registry and one
storage account, and their private endpoints, the VNet and the zones are held in a hub subscription. The scan runs
in this process with a tiny budget, so pacing shows in a second.
"""

from __future__ import annotations

import time

import pytest

from armbed.fleet import fleet
from armbed.throttle import READS_HEADER, Throttle
from moe import moediag

BURST, PER_S = 20, 50.0


# --- the bed enforces ---------------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bed_answers_429_with_retry_after_once_a_subscriptions_bucket_is_empty():
    clock = Clock()
    bed = Throttle(burst=2, per_s=0.5, clock=clock)
    one, other = "/subscriptions/aaaa/resourceGroups/rg", "/subscriptions/bbbb/resourceGroups/rg"
    assert bed.admit("GET", one) == (True, {READS_HEADER: "1"})
    assert bed.admit("GET", one) == (True, {READS_HEADER: "0"})
    assert bed.admit("GET", one) == (False, {READS_HEADER: "0", "Retry-After": "2"})  # one token per 2 s
    assert bed.admit("GET", other)[0]  # budgets are per subscription
    clock.now = 2.0
    assert bed.admit("GET", one)[0]
    assert bed.refused == {"aaaa": 1} and bed.admitted == {"aaaa": 3, "bbbb": 1}


def test_the_bed_keeps_resource_graphs_quota_per_window_with_its_headers():
    clock = Clock()
    bed = Throttle(graph_quota=(2, 5.0), clock=clock)
    graph = "/providers/Microsoft.ResourceGraph/resources"
    assert bed.admit("POST", graph) == (True, {"x-ms-user-quota-remaining": "1", "x-ms-user-quota-resets-after": "00:00:05"})
    clock.now = 2.0
    assert bed.admit("POST", graph)[1]["x-ms-user-quota-resets-after"] == "00:00:03"
    admitted, headers = bed.admit("POST", graph)
    assert not admitted and headers["Retry-After"] == "3" and headers["x-ms-user-quota-remaining"] == "0"
    clock.now = 5.0
    assert bed.admit("POST", graph) == (True, {"x-ms-user-quota-remaining": "1", "x-ms-user-quota-resets-after": "00:00:05"})


# --- moediag stays under it, and reads what workspaces share once -------------------------------------------

@pytest.fixture(scope="module")
def shared_fleet():
    """One in-process scan of ten workspaces sharing their resources, under a budget of 20 burst, 50/s."""
    from armbed import ArmTestBed
    from dnsbed import DnsTestServer

    the_fleet = fleet(1, 10, 1, hub=True, share=10, missing_records={(0, 3)})
    with ArmTestBed() as bed, DnsTestServer() as dns:
        the_fleet.install(bed)
        dns.set_records(the_fleet.dns_records())
        throttle = bed.throttle(BURST, PER_S)
        started = time.monotonic()
        run = moediag(bed, "scan", "-s", the_fleet.subscriptions[0], "--dns-server", dns.address, "-o", "json",
                      "--arm-rate", f"{BURST}/{PER_S:g}")
        wall = time.monotonic() - started
        yield the_fleet, bed, throttle, run.code, run.stderr, run.report, wall  # the report validated once
        assert bed.errors == []


def test_ten_workspaces_sharing_a_key_vault_registry_storage_and_hub_read_each_resource_once(shared_fleet):
    the_fleet, bed, _, code, stderr, report, _ = shared_fleet
    assert code == 1, stderr  # the one missing record
    first = the_fleet.scenarios[0]
    assert {s.key_vault_id for s in the_fleet.scenarios} == {first.key_vault_id}  # what the fleet shares
    assert {s.private_endpoint_id.split("/")[2] for s in the_fleet.scenarios} == {the_fleet.hub_subscription}
    for shared in (first.key_vault_id, first.registry_id, first.storage_id, first.vnet_id,
                   f"{first.zone_id()}/virtualNetworkLinks"):
        assert bed.count("GET", shared) == 1, shared
    for s in the_fleet.scenarios:
        assert bed.count("GET", s.private_endpoint_id) == 1
    assert bed.duplicates() == []  # no GET path twice (pages of a list are told apart by their skip token)
    assert len(report["targets"]) == 10


def test_the_scan_stays_under_the_beds_budget_and_takes_about_what_it_allows(shared_fleet):
    the_fleet, bed, throttle, _, _, report, wall = shared_fleet
    assert bed.throttled() == [] and throttle.refused == {}
    hub, workload = the_fleet.hub_subscription, the_fleet.subscriptions[0]
    assert set(throttle.admitted) >= {hub, workload}
    # the budget made it wait: each subscription's requests beyond the burst at PER_S a second
    bound = max((n - BURST) / PER_S for n in throttle.admitted.values())
    assert bound > 0.3 and wall >= bound
    notes = report["notes"]
    assert any("Resource Manager throttled nothing (no 429)" in n and "paced its requests" in n for n in notes), notes


def test_read_once_reads_a_shared_resource_once_whatever_the_casing_and_shares_its_error():
    import threading

    from moediag.collector import Collector, SharedFacts
    from moediag.errors import FactError
    from moediag.target import Options, Target

    reads = []

    def read(what):
        def go():
            reads.append(what)
            time.sleep(0.02)
            if what == "gone":
                raise FactError("not_found", "the vault is gone")
            return {"id": what}
        return go

    memo = SharedFacts()
    ids = ["/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
           "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Keyvault/vaults/KV"]
    collectors = [Collector(Target("00000000-1111-2222-3333-444444444444", "rg", f"ws{i}"), Options(timeout_s=5),
                            shared=memo, workers=1) for i in range(4)]
    seen, errors = [], []

    def use(c, i):
        seen.append(c.read_once(("keyVault", ids[i % 2]), read(ids[i % 2])))
        try:
            c.read_once(("keyVault", "gone"), read("gone"))
        except FactError as exc:
            errors.append(exc.kind)

    threads = [threading.Thread(target=use, args=(c, i)) for i, c in enumerate(collectors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reads) == 2 and len(seen) == 4 and len({id(body) for body in seen}) == 1
    assert errors == ["not_found"] * 4
    alone = Collector(Target("00000000-1111-2222-3333-444444444444", "rg", "ws9"), Options(timeout_s=5), workers=1)
    alone.read_once(("keyVault", ids[0]), read(ids[0]))
    assert len(reads) == 3  # a single workspace has no fleet memo: its fact's own memo is enough
    for c in [*collectors, alone]:
        c.close()


def test_a_shared_fact_named_with_another_casing_replays_from_the_snapshot_that_recorded_it_once():
    from moediag.collector import Collector
    from moediag.target import Options, Target

    recorded = {"private_endpoint|/subscriptions/HUB/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe":
                {"value": {"name": "pe"}}}
    replay = Collector(Target("00000000-1111-2222-3333-444444444444", "rg", "ws1"), Options(timeout_s=5),
                       snapshot=recorded, workers=1)
    same = replay.get("private_endpoint", "/subscriptions/hub/resourcegroups/rg-net/providers/microsoft.network/"
                                          "privateendpoints/pe")
    assert same == {"name": "pe"}
    _, error = replay.try_get("private_endpoint", "/subscriptions/hub/resourceGroups/rg-net/providers/x/y/other")
    assert error.kind == "not_in_snapshot"
    replay.close()

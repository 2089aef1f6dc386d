"""Hypothesis: mutated REST bodies never crash a check, and never turn a failing verdict into a pass.

The bodies come from real runs against the test-bed scenarios (saved as snapshots), then are mutated
the way real responses go wrong: keys missing, `null`, `""`, `"Sanitized"`, wrong types, odd casing.
The checks then run in-process on the replay collector: no network at all.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from armbed import ArmTestBed, broken, healthy
from dnsbed import DnsTestServer
from moe import check
from moediag.collector import Collector
from moediag.model import Status
from moediag.registry import all_checks
from moediag.runner import run_checks
from moediag.target import Options, Target

EXAMPLES = int(os.environ.get("MOEDIAG_FUZZ_EXAMPLES", "60"))
GARBAGE = [None, "", "Sanitized", 0, -1, True, [], {}, "string", {"properties": None}, [None], "\u0000"]


def _snapshot(factory, tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("fuzz") / "snap.json"
    with ArmTestBed() as bed, DnsTestServer() as dns:
        scenario = factory().install(bed)
        dns.set_records(scenario.dns_records())
        check(bed, scenario, "--dns-server", dns.address, "--logs", "--save-snapshot", str(path))
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> dict[str, dict]:
    return {"broken": _snapshot(broken, tmp_path_factory), "healthy": _snapshot(healthy, tmp_path_factory)}


def evaluate(snapshot: dict, facts: dict) -> list:
    # one fact worker: a replay reads nothing over the network, so more workers add only thread start-up (half the
    # time of an example) and change no verdict
    collector = Collector(Target.from_json(snapshot["target"]), Options(timeout_s=10, **_options(snapshot)),
                          snapshot=facts, workers=1)
    try:
        return run_checks(list(all_checks().values()), collector).results
    finally:
        collector.close()


def _options(snapshot: dict) -> dict:
    stored = snapshot.get("options") or {}
    return {"dns_servers": tuple(stored.get("dns_servers") or ()), "logs": stored.get("logs", "auto")}


def paths(value, prefix=()):
    """Every (path) inside a JSON value, so a mutation can land anywhere."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, prefix + (index,))


def mutate(value, path, how):
    """Return a copy of `value` with the node at `path` deleted, replaced by garbage, or re-cased."""
    value = copy.deepcopy(value)
    if not path:
        return how[1] if how[0] == "replace" else value
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how[0] == "delete":
        del parent[last]
    elif how[0] == "replace":
        parent[last] = how[1]
    elif how[0] == "case" and isinstance(parent[last], str):
        parent[last] = parent[last].swapcase()
    return value


mutations = st.one_of(st.just(("delete",)), st.just(("case",)), st.tuples(st.just("replace"), st.sampled_from(GARBAGE)))


def readable_facts(snapshot):
    return sorted(k for k, v in snapshot["facts"].items() if "value" in v)


def no_crash(results):
    crashed = [r for r in results if r.reason == "crashed"]
    assert not crashed, [(r.check_id, r.message) for r in crashed]


@pytest.mark.parametrize("name", ["broken", "healthy"])
def test_deep_mutations_never_crash_a_check(snapshots, name):
    snapshot = snapshots[name]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        key = data.draw(st.sampled_from(readable_facts(snapshot)))
        value = snapshot["facts"][key]["value"]
        path = data.draw(st.sampled_from(list(paths(value))))
        how = data.draw(mutations)
        facts = dict(snapshot["facts"], **{key: {"value": mutate(value, path, how)}})
        no_crash(evaluate(snapshot, facts))

    run()


def test_garbage_in_place_of_a_whole_body_never_turns_a_failing_check_into_a_pass(snapshots):
    snapshot = snapshots["broken"]
    baseline = evaluate(snapshot, snapshot["facts"])
    failing = {r.check_id for r in baseline if r.status == Status.FAIL}
    assert len(failing) >= 4

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(key=st.sampled_from(readable_facts(snapshot)), garbage=st.sampled_from(GARBAGE))
    def run(key, garbage):
        facts = dict(snapshot["facts"], **{key: {"value": garbage}})
        results = evaluate(snapshot, facts)
        no_crash(results)
        for check_id in failing:
            verdicts = {r.status for r in results if r.check_id == check_id}
            assert verdicts != {Status.PASS}, f"{key} := {garbage!r} turned {check_id} into a pass"

    run()

"""A hostile Resource Manager: the token stays with it, moediag only reads, and every read is bounded.

What a compromised or spoofed answer could try, and what moediag must do instead:
- point a redirect, a nextLink, a Location or an Azure-AsyncOperation at another host: the token never
  goes there (the bed's second origin records every request it gets: none), the read is `error` (refused);
- steer a read into a write (a 307 from getLogs to listKeys): nothing but GET and the three read-only POSTs
  ever reaches any origin;
- stall the run (Retry-After: 3600, a body trickling in byte by byte, a body that never ends, JSON nested
  100000 deep): each ends as an error within --timeout and the caps, never a hang, a crash or a pass.

The pipeline's guards are tested in process against the bed (real HTTPS, fast); the acceptance cases run
the real CLI in a subprocess (`moe.check`) and read both origins' request logs.
"""

from __future__ import annotations

import gzip
import json
import re
import time

import pytest
from azure.core.pipeline import Pipeline
from azure.core.rest import HttpRequest

from armbed import ArmTestBed, Deployment, Endpoint, bodies, healthy
from armbed.fleet import fleet
from armbed.hostile import endless_list, nested_arrays, trickle
from moe import check, moediag
from moediag.arm import (
    MAX_DEPTH,
    Arm,
    StaticTokenCredential,
    _items,
    is_read_only_post,
    origin_of,
    refusal,
    retry_after_s,
)
from moediag.errors import FactError
from moediag.facts.endpoints import keep_tail

ARM = "https://management.azure.com:443"
WS = ("/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-ml/providers/"
      "Microsoft.MachineLearningServices/workspaces/ws-prod")
ML_API = "2025-12-01"

# What may reach Resource Manager: reads, and the three read-only actions (the tests' own list, not the product's).
_READ_ONLY_POST = re.compile(r".*/workspaces/[^/]+/(onlineendpoints/[^/]+/deployments/[^/]+/getlogs|diagnose)"
                             r"|/providers/microsoft\.resourcegraph/resources")


def not_reads(bed: ArmTestBed) -> list[tuple[str, str]]:
    """Requests the bed received that are neither a GET nor one of the read-only POSTs."""
    return [(r.method, r.path) for r in bed.requests
            if not (r.method == "GET" or (r.method == "POST" and _READ_ONLY_POST.fullmatch(r.path)))]


def assert_token_stayed_home(bed: ArmTestBed) -> None:
    foreign = bed.foreign_origin()
    assert foreign.authorizations() == []
    assert [(r.method, r.path) for r in foreign.requests] == []
    assert not_reads(bed) == []


def refused_result(run, check_id: str, foreign_url: str) -> dict:
    """The one result of `check_id`: an error, reason refused, naming the foreign origin; the run exits 3."""
    [result] = run.results(check_id)
    assert (result["status"], result["reason"]) == ("error", "refused"), result
    assert foreign_url in result["message"], result["message"]
    assert run.code == 3, run.stderr
    return result


# --- pure rules: where a request may go, and what it may be ------------------------------------------------


@pytest.mark.parametrize("url, origin", [
    ("https://management.azure.com/subscriptions/x", ARM),
    ("HTTPS://Management.Azure.com:443/x", ARM),
    ("https://127.0.0.1:8443/x?api-version=1", "https://127.0.0.1:8443"),
    ("https://management.azure.com@evil.example/x", None),  # user info: the host is evil.example
    ("https://user:pw@management.azure.com/x", None),
    ("https://management.azure.com:99999/x", None),
    ("ftp://management.azure.com/x", None),
    ("/relative/path", None),
])
def test_an_origin_is_scheme_host_and_port_and_user_info_never_passes(url, origin):
    assert origin_of(url) == origin


@pytest.mark.parametrize("url", [
    "https://management.azure.com.evil.example/subscriptions/x",
    "https://evil.example/subscriptions/x",
    "https://management.azure.com:8443/subscriptions/x",
    "http://management.azure.com/subscriptions/x",
    "https://management.azure.com@evil.example/subscriptions/x",
])
def test_a_request_to_any_other_origin_is_refused_naming_it(url):
    why = refusal("GET", url, ARM)
    assert why and "not Resource Manager" in why
    assert re.sub(r"^\w+://([^/@]*@)?", "", url).split("/")[0].split("@")[-1] in why  # the host it would go to


@pytest.mark.parametrize("method, path", [
    ("GET", f"{WS}/onlineEndpoints"),
    ("POST", f"{WS}/onlineEndpoints/ep-main/deployments/blue/getLogs"),
    ("POST", f"{WS}/diagnose"),
    ("POST", "/providers/Microsoft.ResourceGraph/resources"),
    ("post", f"{WS.lower()}/DIAGNOSE"),
])
def test_reads_and_the_three_read_only_actions_may_be_sent(method, path):
    assert refusal(method, f"https://management.azure.com{path}?api-version=1", ARM) is None


@pytest.mark.parametrize("method, path", [
    ("PUT", f"{WS}/onlineEndpoints/ep-main"),
    ("PATCH", WS),
    ("DELETE", f"{WS}/onlineEndpoints/ep-main/deployments/blue"),
    ("HEAD", WS),
    ("POST", f"{WS}/listKeys"),
    ("POST", f"{WS}/onlineEndpoints/ep-main/listKeys"),
    ("POST", f"{WS}/onlineEndpoints/ep-main/deployments/blue"),
    ("POST", f"{WS}/provisionManagedNetwork"),
    ("POST", "/subscriptions/s/providers/Microsoft.MachineLearningServices/register"),
    ("POST", f"{WS}/onlineEndpoints/ep-main/deployments/blue/getLogs/../../../../listKeys"),
    ("POST", f"{WS}/onlineEndpoints/ep-main/deployments/blue%2F..%2F..%2F..%2F..%2FlistKeys%2F/getLogs"),
    ("POST", f"{WS}/onlineEndpoints/ep-main/deployments//getLogs"),
    ("POST", f"{WS}/diagnose/"),
    ("POST", f"{WS}/diagnoseX"),
])
def test_anything_else_is_refused_naming_the_method_and_path(method, path):
    why = refusal(method, f"https://management.azure.com{path}?api-version=1", ARM)
    assert why and why.startswith(f"refused to send {method.upper()} ") and "only reads" in why


def test_an_encoded_slash_or_dot_segment_never_makes_a_read_only_post():
    assert is_read_only_post(f"{WS}/diagnose")
    assert not is_read_only_post(f"{WS}/./diagnose")
    assert not is_read_only_post(f"{WS}%2Fdiagnose")
    assert not is_read_only_post(f"{WS}/onlineEndpoints/e/deployments/d%2Fx/getLogs")


@pytest.mark.parametrize("headers, wait", [
    ({"Retry-After": "3600"}, 3600.0),
    ({"Retry-After": "0"}, 0.0),
    ({"retry-after-ms": "1500"}, 1.5),
    ({"x-ms-retry-after-ms": "250"}, 0.25),
    ({"Retry-After": "1", "retry-after-ms": "100"}, 1.0),  # both: Retry-After, as azure-core's RetryPolicy waits
    ({"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}, "far"),
    ({"Retry-After": "soon"}, None),
    ({}, None),
])
def test_the_wait_an_answer_asks_for_is_read_in_its_three_spellings_as_the_retry_reads_them(headers, wait):
    got = retry_after_s({k.lower(): v for k, v in headers.items()} | headers)
    assert got > 10**9 if wait == "far" else got == wait


# --- pure rules: list shapes and log tails ------------------------------------------------------------------


@pytest.mark.parametrize("body, why", [
    ({"value": {"a": {}}}, "value is a object, not a list"),
    ({"value": None}, "value is a null, not a list"),
    ({"value": [{"name": "a"}, "b"]}, "item 1 of the list is a string"),
    ({"value": [[]]}, "item 0 of the list is a list"),
    ([{"name": "a"}, 3], "item 1 of the list is a int"),
    ({"rule-a": {"type": "FQDN"}, "garbage": "x"}, "'garbage' is a string"),
    ({"nextLink": "https://x", "count": 3}, "'count' is a int"),
    ("not a list", "the answer is a string"),
    (42, "the answer is a int"),
])
def test_a_list_of_another_shape_is_unreadable_never_invented_or_shortened(body, why):
    with pytest.raises(FactError) as caught:
        _items(body, "/x/outboundRules")
    assert caught.value.kind == "unreadable" and why in caught.value.message


def test_the_dict_keyed_rules_of_older_previews_are_still_read_when_every_entry_is_an_object():
    # The shape of ManagedNetworkSettingsRule_List 2022-12-01-preview (recorded): a dict keyed by rule name.
    body = {"added-fqdnrule": {"type": "FQDN", "destination": "test.com", "status": "Inactive"},
            "__SYS_PE_kv_vault": {"properties": {"type": "PrivateEndpoint", "status": "Active"}}}
    assert _items(body) == [
        {"name": "added-fqdnrule", "properties": {"type": "FQDN", "destination": "test.com", "status": "Inactive"}},
        {"name": "__SYS_PE_kv_vault", "properties": {"type": "PrivateEndpoint", "status": "Active"}},
    ]
    assert _items({}) == [] and _items({"value": []}) == []


def test_a_log_tail_over_the_cap_keeps_its_end_cut_at_a_line_boundary_and_says_how_much_was_cut():
    lines = [f"line {i:04d} password=hunter{i}\n" for i in range(1000)]
    text = "".join(lines)
    kept = keep_tail(text, 1000)
    note, _, rest = kept.partition("\n")
    assert rest and text.endswith(rest) and len(rest.encode()) <= 1000
    assert rest.splitlines(keepends=True) == lines[-len(rest.splitlines()):]  # whole lines only
    cut = len(text.encode()) - len(rest.encode())
    assert f"first {cut} bytes ({1000 - len(rest.splitlines())} lines) were cut" in note
    assert keep_tail(text, len(text)) == text


def test_a_last_line_longer_than_the_cap_is_dropped_whole_never_halved():
    kept = keep_tail("short\n" + "x" * 50, 20)
    assert kept.endswith("]\n") and "x" not in kept and "(2 lines)" in kept


# --- the pipeline, in process against the bed --------------------------------------------------------------


@pytest.fixture
def make_arm(bed, monkeypatch):
    """`make_arm(deadline_s=None, **Arm kwargs)`: an Arm on the bed, the way a run builds it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bed.ca_path)
    made = []

    def make(deadline_s: float | None = None, **kwargs) -> Arm:
        kwargs.setdefault("request_timeout", 5.0)
        kwargs.setdefault("retry_budget_s", 5.0)
        deadline = None if deadline_s is None else time.monotonic() + deadline_s
        arm = Arm(StaticTokenCredential(bed.token), "00000000-1111-2222-3333-444444444444", bed.url,
                  deadline=deadline, **kwargs)
        made.append(arm)
        return arm

    yield make
    for arm in made:
        arm.close()


def failure(call) -> FactError:
    with pytest.raises(FactError) as caught:
        call()
    return caught.value


def test_a_foreign_next_link_is_refused_and_the_foreign_origin_hears_nothing(bed, make_arm):
    foreign = bed.foreign_origin()
    bed.collection(f"{WS}/onlineEndpoints", [{"name": "a"}, {"name": "b"}], page_size=1, next_link_base=foreign.url)
    error = failure(lambda: make_arm().list(f"{WS}/onlineEndpoints", ML_API))
    assert error.kind == "refused" and foreign.url in error.message
    assert error.message.startswith(f"{WS}/onlineEndpoints: ")  # named as the list the link came from
    assert_token_stayed_home(bed)


def test_a_redirect_is_never_followed_not_even_to_resource_manager_itself(bed, make_arm):
    bed.put(f"{WS}/elsewhere", {"name": "moved"})
    bed.redirect(WS, f"{bed.url}{WS}/elsewhere?api-version={ML_API}", 301)
    error = failure(lambda: make_arm().get(WS, ML_API))
    assert error.kind == "refused" and "HTTP 301, a redirect to" in error.message and "/elsewhere" in error.message
    assert bed.count(path=f"{WS}/elsewhere") == 0


def test_a_redirected_post_is_never_followed_into_a_write_action(bed, make_arm):
    logs = f"{WS}/onlineEndpoints/ep-main/deployments/blue/getLogs"
    bed.route("POST", logs, lambda req: (200, {}, {"content": "fine"}))
    bed.redirect(logs, f"{bed.url}{WS}/listKeys?api-version={ML_API}", 307, method="POST")
    error = failure(lambda: make_arm().post(logs, ML_API, {"containerType": "InferenceServer", "tail": 10}))
    assert error.kind == "refused" and "HTTP 307" in error.message
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in bed.requests] == [("POST", "getlogs")]


@pytest.mark.parametrize("method, path", [("PUT", WS), ("DELETE", WS), ("PATCH", WS), ("POST", f"{WS}/listKeys")])
def test_any_pipeline_built_from_the_runs_policies_refuses_a_write_before_sending_it(bed, make_arm, method, path):
    arm = make_arm()
    with pytest.raises(FactError) as caught:  # no call site to forget anything: a bare Pipeline of the same policies
        Pipeline(arm.transport, arm.policies).run(HttpRequest(method, f"{bed.url}{path}?api-version={ML_API}"))
    assert caught.value.kind == "refused" and f"{method} {path}" in caught.value.message
    assert bed.requests == []


def test_a_foreign_location_on_a_long_running_action_is_refused_before_any_poll(bed, make_arm):
    foreign = bed.foreign_origin()
    for header in ("Location", "Azure-AsyncOperation"):
        bed.lro(f"{WS}/diagnose", {"value": {}}, polls=1, status_base=foreign.url, status_header=header)
        error = failure(lambda: make_arm().post_long_running(f"{WS}/diagnose", ML_API, {"value": {}}, timeout_s=5))
        assert error.kind == "refused" and f"{header} header points to {foreign.url}" in error.message
    assert_token_stayed_home(bed)
    assert bed.count("GET") == 0  # not even the Location that stayed on Resource Manager was polled


def test_no_request_starts_after_the_deadline(bed, make_arm):
    error = failure(lambda: make_arm(deadline_s=-1).get(WS, ML_API))
    assert error.kind == "timed_out" and bed.requests == []


def test_a_retry_after_beyond_the_deadline_ends_the_read_at_once_as_throttled_saying_the_wait(bed, make_arm):
    bed.fault(WS, 429, headers={"Retry-After": "3600"})
    started = time.monotonic()
    error = failure(lambda: make_arm(deadline_s=10).get(WS, ML_API))
    assert time.monotonic() - started < 2
    assert error.kind == "throttled" and "retry after 3600 s" in error.message and bed.count() == 1


def test_a_retry_backoff_beyond_the_deadline_is_not_slept(bed, make_arm):
    bed.fault(WS, 500)  # no Retry-After: azure-core backs off 0 s, then 1 s, 2 s, ...
    started = time.monotonic()
    error = failure(lambda: make_arm(deadline_s=0.6).get(WS, ML_API))
    assert time.monotonic() - started < 0.6
    assert error.kind == "timed_out" and "a retry would first wait" in error.message


def test_a_body_trickling_in_is_cut_at_the_deadline(bed, make_arm):
    bed.put(WS, trickle({"name": "ws-prod", "properties": {"v1LegacyMode": False}}, interval=0.1))
    started = time.monotonic()
    error = failure(lambda: make_arm(deadline_s=0.8).get(WS, ML_API))
    elapsed = time.monotonic() - started
    assert 0.7 < elapsed < 1.5, elapsed
    assert error.kind == "timed_out" and "still arriving" in error.message


def test_a_body_that_never_ends_stops_at_the_cap(bed, make_arm):
    bed.put(f"{WS}/onlineEndpoints", endless_list({"name": "ep", "properties": {}}))
    error = failure(lambda: make_arm(max_body_bytes=256 * 1024).list(f"{WS}/onlineEndpoints", ML_API))
    assert error.kind == "unreadable" and "body larger than 262144 bytes" in error.message


def test_a_body_announced_over_the_cap_is_not_read_at_all(bed, make_arm):
    bed.put(WS, {"name": "x" * 300_000})
    error = failure(lambda: make_arm(max_body_bytes=256 * 1024).get(WS, ML_API))
    assert error.kind == "unreadable" and "announced" in error.message


def test_a_compressed_body_is_read_and_its_decoded_size_is_what_the_cap_counts(bed, make_arm):
    body = {"name": "ws-prod", "properties": {"description": "x" * 1_000_000}}
    bed.put(WS, gzip.compress(json.dumps(body).encode()), headers={"Content-Type": "application/json",
                                                                   "Content-Encoding": "gzip"})
    assert make_arm().get(WS, ML_API) == body
    error = failure(lambda: make_arm(max_body_bytes=256 * 1024).get(WS, ML_API))  # ~1 KB on the wire, 1 MB inside
    assert error.kind == "unreadable" and "body larger than" in error.message


@pytest.mark.parametrize("depth", [100_000, MAX_DEPTH + 1])
def test_json_nested_absurdly_deep_is_unreadable_not_a_crash(bed, make_arm, depth):
    bed.put(WS, nested_arrays(depth), headers={"Content-Type": "application/json"})
    error = failure(lambda: make_arm().get(WS, ML_API))
    assert error.kind == "unreadable" and f"deeper than {MAX_DEPTH} levels" in error.message


def test_a_retired_api_version_is_an_error_naming_it_and_saying_to_upgrade(bed, make_arm):
    for code in ("InvalidApiVersionParameter", "NoRegisteredProviderFound"):
        bed.fault(WS, 400, times=1, body={"error": {"code": code, "message": "The api-version '2019-01-01' is invalid."}})
        error = failure(lambda: make_arm().get(WS, "2019-01-01"))
        assert error.kind == "unreadable" and "refused api-version '2019-01-01'" in error.message
        assert code in error.message and "upgrade moediag" in error.message


def test_a_long_running_action_with_retry_after_zero_is_polled_promptly(bed, make_arm):
    bed.lro(f"{WS}/diagnose", {"value": {"otherResults": []}}, polls=2)  # every 202 says Retry-After: 0
    started = time.monotonic()
    assert make_arm().post_long_running(f"{WS}/diagnose", ML_API, {"value": {}}, timeout_s=20) == {
        "value": {"otherResults": []}}
    assert time.monotonic() - started < 4  # azure-core alone would wait 30 s per poll
    assert [r.status for r in bed.requests if r.method == "GET"] == [202, 202, 200]


def test_a_long_running_action_is_never_polled_past_its_timeout(bed, make_arm):
    bed.lro(f"{WS}/diagnose", None, never_completes=True)
    started = time.monotonic()
    error = failure(lambda: make_arm().post_long_running(f"{WS}/diagnose", ML_API, {"value": {}}, timeout_s=0.8))
    assert time.monotonic() - started < 1.5
    assert error.kind == "timed_out" and "did not complete within 0.8 s (still 'InProgress'" in error.message
    polled = [r for r in bed.requests if r.method == "GET"]
    assert polled and all(r.started_at - bed.requests[0].started_at < 0.8 for r in polled)


def test_a_long_running_action_asking_to_wait_beyond_its_timeout_ends_at_once(bed, make_arm):
    bed.lro(f"{WS}/diagnose", None, polls=3, retry_after="3600")
    started = time.monotonic()
    error = failure(lambda: make_arm().post_long_running(f"{WS}/diagnose", ML_API, {"value": {}}, timeout_s=10))
    assert time.monotonic() - started < 1
    assert error.kind == "timed_out" and "polled again in 3600 s" in error.message


def test_a_resource_graph_row_that_is_not_an_object_is_unreadable_not_skipped(bed, make_arm):
    from moediag.graph import Graph

    rows = [{"id": WS, "type": "microsoft.machinelearningservices/workspaces"}, "junk"]
    bed.route("POST", "/providers/Microsoft.ResourceGraph/resources",
              lambda req: (200, {}, {"totalRecords": 2, "count": 2, "resultTruncated": "false", "data": rows}))
    error = failure(lambda: Graph(make_arm()).query("resources | where type =~ 'x'"))
    assert error.kind == "unreadable" and "row 1 of page 1" in error.message


# --- end to end: the real CLI against a hostile bed --------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_read_redirected_to_another_host_is_an_error_and_the_token_stays_home(bed, status):
    scenario = healthy().install(bed)
    foreign = bed.foreign_origin()
    bed.redirect(scenario.key_vault_id, f"{foreign.url}{scenario.key_vault_id}?api-version=2023-07-01", status)
    run = check(bed, scenario, "--select", "keyvault")
    result = refused_result(run, "keyvault.trusted-services-bypass", foreign.url)
    assert f"HTTP {status}" in result["message"]
    assert_token_stayed_home(bed)


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_getlogs_post_redirected_to_another_host_is_an_error_and_the_token_stays_home(bed, status):
    scenario = healthy().install(bed)
    foreign = bed.foreign_origin()
    logs = f"{scenario.deployment_id('ep-main', 'blue')}/getLogs"
    bed.redirect(logs, f"{foreign.url}{logs}?api-version={ML_API}", status, method="POST")
    run = check(bed, scenario, "--select", "deployment.logs", "--logs")
    refused_result(run, "deployment.logs", foreign.url)
    assert_token_stayed_home(bed)


@pytest.mark.parametrize("target", ["/listKeys", ""])  # a POST action that returns secrets; the deployment (PUT/DELETE)
def test_a_getlogs_redirect_to_a_write_action_is_not_followed(bed, target):
    scenario = healthy().install(bed)
    deployment = scenario.deployment_id("ep-main", "blue")
    bed.redirect(f"{deployment}/getLogs", f"{bed.url}{deployment}{target}?api-version={ML_API}", 307, method="POST")
    run = check(bed, scenario, "--select", "deployment.logs", "--logs")
    [result] = run.results("deployment.logs")
    assert (result["status"], result["reason"], run.code) == ("error", "refused", 3)
    assert "HTTP 307" in result["message"] and f"{deployment}{target}" in result["message"]
    assert bed.count("POST") == 2  # the two containers' getLogs, redirected and not followed
    assert_token_stayed_home(bed)


def test_a_next_link_to_another_host_is_an_error_not_a_shorter_list(bed):
    endpoints = [Endpoint(f"ep-{i}", traffic={"blue": 100}, deployments=[Deployment("blue")]) for i in range(3)]
    scenario = healthy(endpoints=endpoints).install(bed)
    foreign = bed.foreign_origin()
    path = f"{scenario.workspace_arm_id}/onlineEndpoints"
    bed.collection(path, bed.get(path), page_size=1, next_link_base=foreign.url)
    run = check(bed, scenario, "--select", "endpoint.provisioning-state")
    refused_result(run, "endpoint.provisioning-state", foreign.url)
    assert_token_stayed_home(bed)


@pytest.mark.parametrize("header", ["Location", "Azure-AsyncOperation"])
def test_a_diagnose_whose_status_link_points_to_another_host_is_an_error(bed, header):
    scenario = healthy().install(bed)
    foreign = bed.foreign_origin()
    bed.lro(f"{scenario.workspace_arm_id}/diagnose", bodies.diagnose_result(scenario), polls=2,
            status_base=foreign.url, status_header=header)
    run = check(bed, scenario, "--select", "workspace.diagnose", "--include-diagnose")
    result = refused_result(run, "workspace.diagnose", foreign.url)
    assert f"{header} header" in result["message"]
    assert_token_stayed_home(bed)


def test_the_first_workspace_read_asking_to_wait_an_hour_ends_within_the_timeout(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.workspace_arm_id, 429, headers={"Retry-After": "3600"})
    started = time.monotonic()
    run = check(bed, scenario, "--select", "workspace.v1-legacy-mode", "--timeout", "8")
    assert time.monotonic() - started < 8 + 3  # the bound plus interpreter start-up
    [result] = run.results("workspace.v1-legacy-mode")
    assert (result["status"], result["reason"], run.code) == ("error", "throttled", 3)
    assert "3600 s" in result["message"]


def test_a_body_trickling_in_byte_by_byte_ends_at_the_deadline(bed):
    scenario = healthy().install(bed)
    bed.put(scenario.key_vault_id, trickle(bed.get(scenario.key_vault_id), interval=0.1))
    started = time.monotonic()
    run = check(bed, scenario, "--select", "keyvault", "--select", "workspace.v1-legacy-mode", "--timeout", "1")
    assert time.monotonic() - started < 1 + 1  # the bound (in process: no interpreter start-up)
    [result] = run.results("keyvault.trusted-services-bypass")
    assert (result["status"], result["reason"]) == ("error", "timed_out")
    assert "still arriving" in result["message"]  # cut by the read itself, just before the checks are given up
    assert run.statuses("workspace.v1-legacy-mode") == ["pass"] and run.code == 3


def test_a_list_body_that_never_ends_is_unreadable_at_32_mb(bed):
    scenario = healthy().install(bed)
    bed.put(f"{scenario.workspace_arm_id}/onlineEndpoints", endless_list(bodies.endpoint(scenario, scenario.endpoints[0])))
    run = check(bed, scenario, "--select", "endpoint.provisioning-state", "--timeout", "30")
    [result] = run.results("endpoint.provisioning-state")
    assert (result["status"], result["reason"], run.code) == ("error", "unreadable", 3)
    assert "body larger than 32 MB" in result["message"]


def test_a_log_tail_over_a_megabyte_is_kept_as_its_last_lines_with_a_note(bed, tmp_path):
    lines = [f"2026-01-01T00:00:{i % 60:02d} worker {i}: " + "." * 10_000 + "\n" for i in range(120)]  # 1.2 MB
    blue = Deployment("blue", provisioning_state="Failed", logs={"InferenceServer": "".join(lines),
                                                                  "StorageInitializer": "ok\n"})
    scenario = healthy(endpoints=[Endpoint("ep-main", traffic={"blue": 100}, deployments=[blue])]).install(bed)
    snapshot = tmp_path / "snap.json"
    run = check(bed, scenario, "--select", "deployment.logs", "--save-snapshot", str(snapshot))
    assert run.statuses("deployment.logs") == ["warn"]  # nothing known in the lines: read, not an error
    facts = json.loads(snapshot.read_text())["facts"]
    [text] = [v["value"] for k, v in facts.items() if k.startswith("deployment_logs|") and "InferenceServer" in k]
    note, _, kept = text.partition("\n")
    assert note.startswith("[moediag: this log tail was") and "cut at a line boundary" in note
    assert len(kept.encode()) <= 1024 * 1024 and kept.endswith(lines[-1]) and kept.startswith("2026-")


def test_a_scan_whose_inventory_is_asked_to_wait_an_hour_stops_within_the_timeout(bed):
    the_fleet = fleet(1, 1, 1).install(bed)
    bed.fault("/providers/Microsoft.ResourceGraph/resources", 429, headers={"Retry-After": "3600"}, method="POST")
    started = time.monotonic()
    run = moediag(bed, "scan", "-s", the_fleet.subscriptions[0], "-o", "json", "--timeout", "6")
    assert time.monotonic() - started < 6 + 3
    assert run.code == 2 and "3600 s" in run.stderr and "Traceback" not in run.stderr


def test_a_scan_whose_inventory_is_redirected_to_another_host_stops_without_following(bed):
    the_fleet = fleet(1, 1, 1).install(bed)
    foreign = bed.foreign_origin()
    graph = "/providers/Microsoft.ResourceGraph/resources"
    bed.redirect(graph, f"{foreign.url}{graph}?api-version=2024-04-01", 307, method="POST")
    run = moediag(bed, "scan", "-s", the_fleet.subscriptions[0], "-o", "json")
    assert run.code == 2 and foreign.url in run.stderr and "Traceback" not in run.stderr
    assert_token_stayed_home(bed)

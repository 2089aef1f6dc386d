"""Rate-aware reading: each subscription's read budget and Resource Graph's quota, kept on moediag's side.

The buckets are pure (the time is passed in) and the pacing policy takes its clock and its sleep: every test here
runs on a fake clock, nothing sleeps.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from requests.structures import CaseInsensitiveDict

from moediag.arm import (
    ARM_RATE,
    GRAPH_RATE,
    QuotaWindow,
    TokenBucket,
    _PipelineError,
    _RateLimit,
    budget_key,
    hms_seconds,
)

SUB = "0a1b2c3d-0000-4000-8000-00000000abcd"


# --- the token bucket -------------------------------------------------------------------------------------

def test_resource_managers_documented_budget_is_the_default():
    assert ARM_RATE == (250, 25.0) and GRAPH_RATE == (15, 5.0)


def test_a_full_bucket_lets_its_burst_through_then_paces_at_the_refill_rate():
    bucket = TokenBucket(5, 2.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token every 1/2 s
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.taken == 6


def test_the_bucket_refills_to_its_burst_and_no_further():
    bucket = TokenBucket(3, 10.0, now=0.0)
    for _ in range(3):
        bucket.take(0.0)
    bucket.take(100.0)
    assert bucket.tokens == 2  # refilled to 3 (not 1000), one spent


def test_what_resource_manager_says_is_left_lowers_the_count_never_raises_it():
    bucket = TokenBucket(250, 25.0, now=0.0)
    bucket.take(0.0)
    bucket.observe(remaining=10, since=0, now=0.0)  # another tool spent most of this subscription's budget
    assert bucket.tokens == 10
    bucket.observe(remaining=200, since=0, now=0.0)
    assert bucket.tokens == 10


def test_requests_sent_after_the_answered_one_are_taken_off_what_it_says_is_left():
    bucket = TokenBucket(250, 25.0, now=0.0)
    bucket.observe(remaining=3, since=5, now=0.0)  # five more went out before this answer came back
    assert bucket.tokens == -2
    assert bucket.take(0.0) == pytest.approx(3 / 25)  # back to one token takes 3 refills


def test_a_429_empties_the_bucket_until_its_retry_after_has_passed_then_refills_it_more_slowly():
    bucket = TokenBucket(250, 25.0, now=0.0)
    bucket.block(2.0, now=1.0)
    assert bucket.take(1.0) == pytest.approx(2.0)
    assert bucket.take(2.9) == pytest.approx(0.1)
    assert bucket.per_s == pytest.approx(17.5)  # the budget is smaller than assumed, or shared: 30 % slower
    assert bucket.take(3.0) == pytest.approx(1 / 17.5)  # it refills from empty once the wait is over
    assert bucket.take(3.06) == 0.0


def test_every_429_slows_the_refill_again_but_never_below_half_a_request_a_second():
    bucket = TokenBucket(250, 25.0, now=0.0)
    for _ in range(20):
        bucket.block(1.0, now=0.0)
    assert bucket.per_s == 0.5 and bucket.rate() == "0.5/s"


# --- Resource Graph's quota window ------------------------------------------------------------------------

def test_resource_graph_allows_its_quota_per_window_then_waits_for_the_reset():
    window = QuotaWindow(15, 5.0, now=0.0)
    assert all(window.take(0.0) == 0.0 for _ in range(15))
    assert window.take(1.0) == pytest.approx(4.0)
    assert window.take(5.0) == 0.0  # the whole quota is back


def test_resource_graphs_quota_headers_set_what_is_left_and_when_it_resets():
    window = QuotaWindow(15, 5.0, now=0.0)
    window.take(0.0)
    window.observe(remaining=0, since=0, now=0.0, resets_after=hms_seconds("00:00:03"))
    assert window.take(1.0) == pytest.approx(2.0)
    assert window.take(3.0) == 0.0


@pytest.mark.parametrize("text, seconds", [("00:00:03", 3.0), ("00:01:00", 60.0), ("01:00:00.5", 3600.5),
                                           ("", None), (None, None), ("3", None), ("00:61:00", None)])
def test_resets_after_is_read_as_hh_mm_ss(text, seconds):
    assert hms_seconds(text) == seconds


@pytest.mark.parametrize("url, key", [
    (f"https://management.azure.com/subscriptions/{SUB.upper()}/resourceGroups/rg?api-version=1", SUB),
    ("https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01", "graph"),
    ("https://management.azure.com/providers/Microsoft.Authorization/roleDefinitions/x?api-version=1", "tenant"),
])
def test_each_request_spends_its_own_subscriptions_budget(url, key):
    assert budget_key(url) == key


# --- the pacing policy ------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Answer:
    """What the next policy hands back: a status and headers, case-insensitive as azure-core's (all a pacing
    policy reads)."""

    def __init__(self, status: int = 200, headers: dict | None = None):
        self.http_response = SimpleNamespace(status_code=status, headers=CaseInsensitiveDict(headers or {}))


def request_to(url: str, deadline: float | None = None):
    options = {"moediag_deadline": deadline} if deadline is not None else {}
    return SimpleNamespace(http_request=SimpleNamespace(url=url, method="GET"),
                           context=SimpleNamespace(options=options, get=lambda name, default=None: default))


def pacer(answers, rate=(2, 1.0), deadline=None, lines=None):
    clock = FakeClock()
    policy = _RateLimit(rate, (3, 5.0), deadline, clock=clock, sleep=clock.sleep,
                        on_pacing=lines.append if lines is not None else None)
    policy.next = SimpleNamespace(send=lambda request: answers.pop(0) if answers else Answer())
    return policy, clock


URL = f"https://management.azure.com/subscriptions/{SUB}/resourceGroups/rg-ml?api-version=2024-01-01"


def test_requests_beyond_the_burst_wait_for_their_token_before_they_are_sent():
    lines: list = []
    policy, clock = pacer([], rate=(2, 1.0), lines=lines)
    for _ in range(4):
        policy.send(request_to(URL))
    assert sum(clock.slept) == pytest.approx(2.0)  # two immediately, then one a second
    assert lines[0] == "pacing: sub …abcd at 1/s"
    assert "waited for it in 1 budget(s): sub …abcd 2.0 s" in policy.note()


def test_the_remaining_reads_header_slows_the_run_before_it_is_throttled():
    answers = [Answer(200, {"x-ms-ratelimit-remaining-subscription-reads": "40",
                            "x-ms-ratelimit-remaining-subscription-global-reads": "0"})]
    policy, clock = pacer(answers, rate=(250, 25.0))
    policy.send(request_to(URL))
    policy.send(request_to(URL))  # the smallest count (the global one) wins: none left
    assert sum(clock.slept) == pytest.approx(1 / 25)
    assert policy.throttled == 0


def test_a_429_makes_every_request_of_that_subscription_wait_its_retry_after():
    policy, clock = pacer([Answer(429, {"Retry-After": "3"})], rate=(250, 25.0))
    policy.send(request_to(URL))
    other = f"https://management.azure.com/subscriptions/{'1' * 8}-0000-4000-8000-000000000000/x?api-version=1"
    policy.send(request_to(other))  # another subscription's budget is untouched
    assert clock.slept == []
    policy.send(request_to(URL))
    assert sum(clock.slept) == pytest.approx(3.0 + 1 / 17.5)
    assert policy.throttled == 1 and policy.note().startswith("Resource Manager answered 429 (throttled) 1 time(s)")
    assert policy.note().endswith("after 429s it slowed sub …abcd to 17.5/s (a smaller budget than assumed: see "
                                  "--arm-rate)")


def test_a_wait_beyond_the_deadline_ends_the_read_as_throttled_without_sleeping():
    policy, clock = pacer([Answer(429, {"Retry-After": "60"})], rate=(250, 25.0), deadline=110.0)
    policy.send(request_to(URL))
    with pytest.raises(_PipelineError) as caught:
        policy.send(request_to(URL))
    assert caught.value.kind == "throttled" and "before the run's deadline" in caught.value.message
    assert clock.slept == []


def test_a_requests_own_deadline_bounds_its_wait_too():
    policy, clock = pacer([Answer(429, {"Retry-After": "5"})], rate=(250, 25.0))
    policy.send(request_to(URL))
    with pytest.raises(_PipelineError):
        policy.send(request_to(URL, deadline=clock.now + 1))


def test_resource_graph_queries_are_paced_by_the_user_quota_headers():
    graph = "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
    lines: list = []
    policy, clock = pacer([Answer(200, {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:02"})],
                          lines=lines)
    policy.send(request_to(graph))
    policy.send(request_to(graph))
    assert sum(clock.slept) == pytest.approx(2.0)
    assert lines[0] == "pacing: Resource Graph at 3 per 5 s"


def test_a_run_that_never_waited_and_was_never_throttled_has_no_note():
    policy, _ = pacer([])
    policy.send(request_to(URL))
    assert policy.note() is None


# --- the setting ------------------------------------------------------------------------------------------

def test_arm_rate_is_burst_over_per_second_from_the_flag_or_the_environment(monkeypatch):
    from moediag.arguments import arm_rate

    monkeypatch.delenv("MOEDIAG_ARM_RATE", raising=False)
    assert arm_rate(None) == (250, 25.0)
    assert arm_rate("50/2.5") == (50, 2.5)
    monkeypatch.setenv("MOEDIAG_ARM_RATE", "100/10")
    assert arm_rate(None) == (100, 10.0) and arm_rate("20/4") == (20, 4.0)  # the flag wins


@pytest.mark.parametrize("value", ["25", "0/5", "10/0", "10/nan", "a/b", "10/-1", "/", "250/25/1"])
def test_a_malformed_arm_rate_is_a_one_line_usage_error(value):
    from moe import moediag

    run = moediag(None, "scan", "--arm-rate", value)
    assert run.code == 2 and "--arm-rate must be BURST/PER_SECOND" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_progress_line_says_when_the_run_paces_and_stops_saying_it(monkeypatch):
    import io
    import sys

    from moediag import cli

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setenv("COLUMNS", "200")
    printer = cli._progress_printer("workspace(s)")
    printer.pacing("pacing: sub …1234 at 25/s")
    printer(["ws-a"])
    assert stderr.getvalue().endswith("pacing: sub …1234 at 25/s · waiting for 1 workspace(s): ws-a")
    printer.pacing("pacing: sub …\x1b]0;x\x07 at 25/s")  # a subscription id comes from Azure: inert on the terminal
    assert "\x1b]" not in stderr.getvalue() and "\x07" not in stderr.getvalue()
    printer.pacing(None)
    assert stderr.getvalue().endswith("\r\x1b[2Kwaiting for 1 workspace(s): ws-a")

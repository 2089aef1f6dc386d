"""The engine's promises, on hand-made checks and facts replayed from memory (no network)."""

from __future__ import annotations

import threading
import time

import pytest

from moediag.check import Check, Doc, check
from moediag.collector import Collector
from moediag.errors import FactError
from moediag.facts import FACTS, fact
from moediag.model import Status
from moediag.registry import _checks_in, matches
from moediag.runner import run_checks
from moediag.target import Options, Target

TARGET = Target("00000000-1111-2222-3333-444444444444", "rg", "ws")
DOC = Doc(what="w" * 30, why="y" * 30, fix="f" * 30)


def replay(facts: dict, timeout: float = 5) -> Collector:
    return Collector(TARGET, Options(timeout_s=timeout), snapshot=facts)


def make(id: str, fn, facts=("workspace",), depends_on=()) -> Check:
    return check(id=id, title=id, severity="low", scope="workspace", facts=facts, doc=DOC, depends_on=depends_on)(fn)


def statuses(outcome) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in outcome.results:
        out.setdefault(r.check_id, []).append(r.status.value)
    return out


def test_a_crashing_check_is_an_error_and_the_others_still_report():
    def boom(ctx):
        raise RuntimeError("bug")
        yield

    def fine(ctx):
        yield ctx.passed(ctx.workspace_id, "ok", expected=1, observed=1)

    outcome = run_checks([make("t.boom", boom), make("t.fine", fine)], replay({"workspace": {"value": {}}}))
    assert statuses(outcome) == {"t.boom": ["error"], "t.fine": ["pass"]}
    assert outcome.results[0].reason == "crashed" and "RuntimeError: bug" in outcome.results[0].message


def test_unreadable_evidence_becomes_an_error_with_the_reason_never_a_pass():
    def reads(ctx):
        ctx.fact("workspace")
        yield ctx.passed(ctx.workspace_id, "should not happen")

    facts = {"workspace": {"error": {"kind": "forbidden", "message": "no", "status": 403}}}
    [result] = run_checks([make("t.reads", reads)], replay(facts)).results
    assert (result.status, result.reason) == (Status.ERROR, "forbidden")


def test_a_check_reading_an_undeclared_fact_is_a_crash_so_its_permissions_stay_true():
    def sneaky(ctx):
        ctx.fact("keyvault")
        yield ctx.passed(None, "x")

    [result] = run_checks([make("t.sneaky", sneaky)], replay({"workspace": {"value": {}}})).results
    assert result.reason == "crashed" and "without declaring" in result.message


def test_a_check_whose_prerequisite_failed_is_skipped_naming_it():
    def fails(ctx):
        yield ctx.failed(ctx.workspace_id, "bad", fix=("x", []))

    def later(ctx):
        yield ctx.passed(ctx.workspace_id, "ok")

    outcome = run_checks([make("t.first", fails), make("t.second", later, depends_on=("t.first",))],
                         replay({"workspace": {"value": {}}}))
    second = [r for r in outcome.results if r.check_id == "t.second"][0]
    assert (second.status, second.reason) == (Status.SKIP, "dependency_failed") and "t.first" in second.message


def test_a_check_that_outlives_the_deadline_is_an_error_and_the_run_ends_on_time():
    release = threading.Event()

    def hangs(ctx):
        release.wait(10)
        yield ctx.passed(None, "late")

    started = time.monotonic()
    [result] = run_checks([make("t.hangs", hangs)], replay({}, timeout=0.5)).results
    release.set()
    assert time.monotonic() - started < 2
    assert (result.status, result.reason) == (Status.ERROR, "timed_out")


def test_a_check_that_yields_nothing_is_an_error():
    [result] = run_checks([make("t.silent", lambda ctx: iter(()))], replay({})).results
    assert result.status == Status.ERROR


def test_each_fact_is_computed_once_even_when_many_threads_want_it_at_once():
    calls = []
    name = "test_counted_fact"
    if name not in FACTS:
        @fact(name)
        def counted(ctx, arg):
            calls.append(arg)
            time.sleep(0.05)
            return arg.upper()

    collector = Collector(TARGET, Options(timeout_s=5))
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(collector.get(name, "x"))) for _ in range(16)]
    collector.prefetch([(name, "x")])
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["x"] and answers == ["X"] * 16


def test_a_fact_provider_bug_is_reported_as_a_crashed_fact():
    name = "test_buggy_fact"
    if name not in FACTS:
        fact(name)(lambda ctx: 1 / 0)
    collector = Collector(TARGET, Options(timeout_s=5))
    value, error = collector.try_get(name)
    assert value is None and error.kind == "crashed" and "ZeroDivisionError" in error.message


def test_a_forbidden_fact_names_the_action_and_a_role_that_grants_it():
    name = "test_forbidden_fact"
    if name not in FACTS:
        @fact(name, permissions=("Microsoft.KeyVault/vaults/read",))
        def forbidden(ctx):
            raise FactError("forbidden", "/x: forbidden")

    _, error = Collector(TARGET, Options(timeout_s=5)).try_get(name)
    assert "Microsoft.KeyVault/vaults/read (granted by the built-in Reader role)" in error.message


@pytest.mark.parametrize("pattern, hit", [("dns", True), ("dns.", True), ("dns.zone-vnet-link", True),
                                           ("dn", False), ("workspace", False)])
def test_select_patterns_are_ids_or_dotted_prefixes(pattern, hit):
    assert matches("dns.zone-vnet-link", [pattern]) is hit


def test_a_third_party_entry_point_may_name_a_check_a_list_or_a_module():
    import types

    one = make("acme.one", lambda ctx: iter(()))
    module = types.ModuleType("acme_checks")
    module.ONE = one
    assert _checks_in(one) == [one] and _checks_in([one]) == [one] and _checks_in(module) == [one]


def test_installed_checks_are_found_through_the_entry_point_group():
    from importlib.metadata import entry_points

    assert any(ep.value == "moediag.checks" for ep in entry_points(group="moediag.checks"))


def test_a_check_module_that_fails_to_import_is_reported_not_dropped(tmp_path, monkeypatch):
    import importlib
    import sys

    from moediag import registry

    package = tmp_path / "acme_broken_checks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text("raise ImportError('needs a module that is not installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "LOAD_ERRORS", [])
    try:
        assert registry._checks_in(importlib.import_module("acme_broken_checks")) == []
        [message] = registry.LOAD_ERRORS
        assert "acme_broken_checks.bad" in message and "needs a module" in message
    finally:
        sys.modules.pop("acme_broken_checks", None)

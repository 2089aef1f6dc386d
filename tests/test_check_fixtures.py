"""Per-check fixture tests, in process and in milliseconds: evidence in, verdicts out (like Ruff's fixtures).

Each `tests/fixtures/checks/<check id>.json` holds cases: the facts a run would have read (snapshot-shaped:
`{"fact|args": {"value": ...}}` or `{"error": {"kind", "message"}}`), and the results the check must give,
in order, each compared on the fields it names (`status`, `reason`, `resource_id`, `message` (whole),
`message_contains`, `fix_contains`, ...; a dotted name compares a nested field, e.g. `evidence.chain`,
`evidence.causes.cause` or `fix.commands`). A check's Doc examples quote verdicts that a case expects word for word.
The check runs through the real engine and runner from a replayed source: no network, no mocks.
`python -m moediag.dev new-check ID` writes one of these beside each new check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moediag import session
from moediag.engine import Budget, TargetRun
from moediag.registry import all_checks
from moediag.target import Options, Target

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checks"
DEFAULT_TARGET = {"subscription_id": "00000000-1111-2222-3333-444444444444", "resource_group": "rg-ml",
                  "workspace": "ws-prod"}


def _cases():
    for path in sorted(FIXTURES.glob("*.json")):
        fixture = json.loads(path.read_text(encoding="utf-8"))
        for case in fixture["cases"]:
            yield pytest.param(fixture, case, id=f"{fixture['check']}:{case['name']}")


def _verdicts(fixture: dict, case: dict) -> list[dict]:
    target = Target.from_json({**DEFAULT_TARGET, **fixture.get("target", {}), **case.get("target", {})})
    options = Options(**{"timeout_s": 10.0, **case.get("options", {})})
    source = session.Source(options, facts=case["facts"])
    chk = all_checks()[fixture["check"]]
    report = session.run("check", [chk], [TargetRun(target)], source, Budget(10.0), mode="snapshot").report
    return report["results"]


def _field(result: dict, dotted: str):
    """`result["evidence"]["chain"]` for "evidence.chain"; a step over a list takes it from each item
    ("evidence.causes.cause": every cause's name, in order); None where a step is missing."""
    value = result
    for step in dotted.split("."):
        if isinstance(value, list):
            value = [item.get(step) if isinstance(item, dict) else None for item in value]
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value


@pytest.mark.parametrize("fixture, case", list(_cases()))
def test_the_check_gives_the_fixture_verdicts(fixture, case):
    results = _verdicts(fixture, case)
    expected = case["expect"]
    assert len(results) == len(expected), [(r["status"], r["message"]) for r in results]
    for got, want in zip(results, expected):
        for key, value in want.items():
            if key == "message_contains":
                assert value in got["message"], got["message"]
            elif key == "fix_contains":
                assert any(value in command for command in got["fix"]["commands"]), got["fix"]
            else:
                assert _field(got, key) == value, (key, got)
        if got["status"] != "pass":
            assert got["reason"] or got["status"] in ("fail", "warn")
        if got["status"] == "fail":
            assert got["fix"] and got["fix"]["summary"], "a failure names its fix"


def test_every_built_in_check_has_a_fixture():
    built_in = {cid for cid, chk in all_checks().items() if chk.origin.startswith("moediag.checks.")}
    assert built_in and not {cid for cid in built_in if not (FIXTURES / f"{cid}.json").exists()}


@pytest.mark.parametrize("chk", list(all_checks().values()), ids=list(all_checks()))
def test_each_doc_example_verdict_is_one_a_fixture_case_expects_word_for_word(chk):
    """The verdicts a check's page shows are what it really says: a fixture case of the check expects each of them
    (`status` and the whole `message`), so a changed message fails here until the page (Doc.examples) follows."""
    path = FIXTURES / f"{chk.id}.json"
    if not path.exists():
        pytest.skip(f"{chk.id} has no fixture (a third-party check)")
    fixture = json.loads(path.read_text(encoding="utf-8"))
    expected = {f"{want['status']}: {want['message']}" for case in fixture["cases"] for want in case["expect"]
                if "message" in want}
    for example in chk.doc.examples:
        assert example.verdict in expected, (f"{chk.id}: no case in {path.name} expects the documented verdict "
                                             f"{example.verdict!r} (give the case that shows it a \"message\")")


def test_every_fixture_names_a_registered_check_and_covers_pass_and_a_non_pass():
    for path in FIXTURES.glob("*.json"):
        fixture = json.loads(path.read_text(encoding="utf-8"))
        assert fixture["check"] in all_checks(), path
        assert path.stem == fixture["check"], f"{path.name} should be named after its check"
        statuses = {want["status"] for case in fixture["cases"] for want in case["expect"]}
        assert "pass" in statuses and statuses - {"pass"}, f"{path.name} needs a passing and a non-passing case"

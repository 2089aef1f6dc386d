"""Every check carries its documentation, and docs/checks/ is exactly what the metadata says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moediag.check import SCOPES, SEVERITIES
from moediag.docs import SECTIONS, render_check_doc, with_checks_table
from moediag.registry import all_checks

DOCS = Path(__file__).resolve().parent.parent / "docs" / "checks"
CHECKS = list(all_checks().values())


@pytest.mark.parametrize("chk", CHECKS, ids=[c.id for c in CHECKS])
def test_each_check_documents_what_why_fix_and_where_to_run_from(chk):
    for name in ("what", "why", "fix", "run_from"):
        assert len(getattr(chk.doc, name).strip()) > 20, f"{chk.id}: Doc.{name} is missing or too thin"
    assert chk.severity in SEVERITIES and chk.scope in SCOPES and chk.title
    assert chk.permissions, f"{chk.id}: no permissions derived from its facts"
    rendered = render_check_doc(chk)
    for section in SECTIONS:
        assert f"## {section}" in rendered


@pytest.mark.parametrize("chk", CHECKS, ids=[c.id for c in CHECKS])
def test_the_docs_page_matches_the_metadata(chk):
    page = DOCS / f"{chk.id}.md"
    assert page.exists(), f"missing {page}: run python -m moediag.docs docs/checks"
    assert page.read_text(encoding="utf-8") == render_check_doc(chk), f"{page} is stale: run python -m moediag.docs docs/checks"


def test_no_orphan_docs_pages():
    ids = {c.id for c in CHECKS}
    assert {p.stem for p in DOCS.glob("*.md")} <= ids


VERDICT_STATUSES = ("pass", "fail", "warn", "skip", "error")


@pytest.mark.parametrize("chk", CHECKS, ids=[c.id for c in CHECKS])
def test_each_check_shows_evidence_and_the_verdict_it_gets_at_least_once_not_passing(chk):
    examples = chk.doc.examples
    assert examples, f"{chk.id}: Doc.examples is empty"
    statuses = []
    for example in examples:
        json.dumps(example.evidence)  # the page renders it as JSON: it must be JSON-serialisable
        status, colon, said = example.verdict.partition(":")
        assert colon and status in VERDICT_STATUSES and said.startswith(" ") and said.strip(), (
            f"{chk.id}: a verdict reads '<status>: <message>', status one of {VERDICT_STATUSES}: {example.verdict!r}")
        statuses.append(status)
    assert set(statuses) - {"pass"}, f"{chk.id}: no example shows a verdict other than pass"


def test_each_check_lives_in_its_own_module():
    origins = [c.origin for c in CHECKS]
    assert len(origins) == len(set(origins))


def test_the_readme_lists_every_registered_check():
    readme = (DOCS.parent.parent / "README.md").read_text(encoding="utf-8")
    assert with_checks_table(readme, CHECKS) == readme, "README's table of checks is stale: run python -m moediag.docs"


def test_docs_permissions_page_is_generated_from_the_registry():
    from moediag.permissions import render_permissions_doc

    page = (DOCS.parent / "permissions.md").read_text(encoding="utf-8")
    assert page == render_permissions_doc(CHECKS), "docs/permissions.md is stale: run python -m moediag.docs"

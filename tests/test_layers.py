"""Layers point one way: checks -> judge -> evidence/facts; no check imports another check or an I/O module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKS = sorted((ROOT / "checks").glob("*.py"))
IO_MODULES = ("moediag.arm", "moediag.resolver", "moediag.graph", "moediag.collector", "moediag.session",
              "moediag.engine", "moediag.cli", "azure", "dns", "requests", "socket", "subprocess")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", CHECKS, ids=[p.stem for p in CHECKS])
def test_a_check_imports_no_other_check_and_no_io_module(path):
    found = imports(path)
    assert not {m for m in found if m.startswith("moediag.checks")}, "a check imports another check"
    assert not {m for m in found if m.split(".")[0] in IO_MODULES or m.startswith(IO_MODULES)}, found


@pytest.mark.parametrize("path", sorted((ROOT / "moediag" / "judge").glob("*.py")) + [ROOT / "moediag" / "evidence.py"],
                         ids=lambda p: p.stem)
def test_shared_helpers_read_nothing_themselves(path):
    found = imports(path)
    assert not {m for m in found if m.startswith(IO_MODULES)}, found


def test_facts_never_reach_into_the_checks_side():
    for path in (ROOT / "moediag" / "facts").glob("*.py"):
        found = imports(path)
        assert not {m for m in found if m.startswith(("moediag.judge", "moediag.checks", "moediag.check"))}, path

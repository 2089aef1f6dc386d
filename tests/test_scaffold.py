"""Adding a check is one command: `python -m moediag.dev new-check ID`, then the tests pass with no hand edits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from moediag.dev import new_check

ROOT = Path(__file__).resolve().parent.parent


def _copy_of_the_tree(tmp_path: Path) -> Path:
    """The tracked files of this tree, with `moediag/checks` pointing at `checks/` as the installed package does."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    copy = tmp_path / "tree"
    for name in filter(None, (f.decode() for f in files)):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    (copy / "moediag" / "checks").symlink_to(copy / "checks", target_is_directory=True)
    return copy


def test_a_scaffolded_check_passes_the_check_tests_with_no_other_edit(tmp_path):
    copy = _copy_of_the_tree(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(copy))
    made = subprocess.run([sys.executable, "-m", "moediag.dev", "new-check", "acme.trivial-thing"], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert (copy / "checks" / "acme_trivial_thing.py").exists()
    assert (copy / "docs" / "checks" / "acme.trivial-thing.md").exists()
    assert "`acme.trivial-thing`" in (copy / "README.md").read_text(encoding="utf-8")
    tests = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "tests/test_docs.py",
                            "tests/test_check_fixtures.py", "-k", "acme or readme or permissions or orphan"],
                           cwd=copy, env=env, capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "acme.trivial-thing:unhealthy] PASSED" in tests.stdout and "acme.trivial-thing] PASSED" in tests.stdout


@pytest.mark.parametrize("bad", ["Acme", "acme", "acme..x", "acme.x_y", "workspace.v1-legacy-mode"])
def test_a_malformed_or_taken_id_is_refused_and_nothing_is_written(tmp_path, bad):
    (tmp_path / "checks").mkdir()
    with pytest.raises(ValueError):
        new_check(bad, root=tmp_path)
    assert list((tmp_path / "checks").iterdir()) == []

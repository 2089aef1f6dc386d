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
    """The tracked files of this tree, with `moediag/checks` pointing at `checks/` as the installed package does.

    The package's bytecode comes along (copy2 keeps each source's time, so it stays valid): the two processes
    this test starts need not compile moediag again, which took about a second."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    copy = tmp_path / "tree"
    for name in filter(None, (f.decode() for f in files)):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    for cache in [*(ROOT / "moediag").rglob("__pycache__"), *(ROOT / "checks").glob("__pycache__")]:
        if (copy / cache.parent.relative_to(ROOT)).is_dir():
            shutil.copytree(cache, copy / cache.relative_to(ROOT), dirs_exist_ok=True)
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
    tests = subprocess.run([sys.executable, "-m", "pytest", "-v", "-n", "0", "-p", "no:cacheprovider", "tests/test_docs.py",
                            "tests/test_check_fixtures.py", "-k", "acme or readme or permissions or orphan"],
                           cwd=copy, env={**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},  # these tests need no plugin
                           capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "acme.trivial-thing:unhealthy] PASSED" in tests.stdout and "acme.trivial-thing] PASSED" in tests.stdout


@pytest.mark.parametrize("bad", ["Acme", "acme", "acme..x", "acme.x_y", "workspace.v1-legacy-mode"])
def test_a_malformed_or_taken_id_is_refused_and_nothing_is_written(tmp_path, bad):
    (tmp_path / "checks").mkdir()
    with pytest.raises(ValueError):
        new_check(bad, root=tmp_path)
    assert list((tmp_path / "checks").iterdir()) == []


def test_new_check_writes_a_check_and_its_fixture_in_process(tmp_path):
    (tmp_path / "checks").mkdir()
    written = new_check("acme.in-process", root=tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "checks/acme_in_process.py", "tests/fixtures/checks/acme.in-process.json"]
    source = written[0].read_text()
    compile(source, str(written[0]), "exec")  # a module Python accepts, as written
    assert 'id="acme.in-process"' in source and "examples=(Example(" in source


def test_the_dev_command_says_how_to_call_it_and_refuses_a_bad_id(capsys):
    from moediag.dev import main

    assert main(["new-check"]) == 2 and "usage: python -m moediag.dev new-check ID" in capsys.readouterr().err
    assert main(["new-check", "Not An Id"]) == 2 and "malformed check id" in capsys.readouterr().err


def test_the_docs_are_written_from_the_registry_in_process(tmp_path):
    from moediag.docs import write_all
    from moediag.registry import all_checks

    written = write_all(str(tmp_path / "docs" / "checks"))
    pages = {p.name for p in (tmp_path / "docs" / "checks").glob("*.md")}
    assert pages == {f"{cid}.md" for cid in all_checks()}
    assert (tmp_path / "docs" / "permissions.md").exists() and len(written) == len(pages) + 1

"""Bad input never makes a traceback; outputs are written, not replaced; signals and closed pipes keep the contract.

Each refusal is exit 2 with exactly one line on stderr (`moediag: error: ...`), decided before the run starts when
it can be known then, with nothing written half-way. Most cases run in process (`main()` with the real argv
handling); signals, closed pipes and the real stdout encoding run `moediag` as a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from armbed import healthy
from moe import Run, moediag, target_args

from moediag.cli import main
from moediag.redact import Redactor
from moediag.render import FORMATS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "broken-workspace.snapshot.json"
DIAGNOSE_EXAMPLE = Path("/work/shared/arm-examples/Microsoft.MachineLearningServices/Workspaces_Diagnose__2025-12-01.json")
EXAMPLES = int(os.environ.get("MOEDIAG_FUZZ_EXAMPLES", "60"))


@pytest.fixture
def moe(capsys, monkeypatch):
    """`moe(*args, stdin=b"...")`: moediag's real entry point in this process; returns a Run."""

    def run(*args, stdin: bytes | None = None) -> Run:
        monkeypatch.setattr(sys, "argv", ["moediag", *map(str, args)])
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capsys.readouterr()
        return Run(exited.value.code or 0, out, err)

    return run


def one_line_error(run: Run) -> str:
    """The run was refused as documented: exit 2, one line on stderr, nothing on stdout, no traceback."""
    assert run.code == 2, (run.code, run.stderr)
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("moediag: error: "), run.stderr
    assert "Traceback" not in run.stderr + run.stdout and run.stdout == ""
    return lines[0]


def listing(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` with its content (temp files included)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def write_snapshot(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = [value]
    return value


# --- 1. output paths: written, not replaced; refused before the run -----------------------------------------


@pytest.fixture
def live(bed, monkeypatch):
    """A live target on the bed, its credentials in this process's environment: any read shows in bed.requests."""
    scenario = healthy().install(bed)
    for name, value in bed.env().items():
        monkeypatch.setenv(name, value)
    return [*target_args(scenario), "--dns-server", "127.0.0.1:9"]


@pytest.mark.parametrize("outputs, fragment", [
    (["-o", "json={tmp}"], "is a directory"),
    (["-o", "json={tmp}/new/"], "names a directory"),
    (["-o", "json={tmp}/missing/report.json"], "missing does not exist"),
    (["-o", "json={tmp}/file.txt/report.json"], "file.txt is not a directory"),
    (["-o", "json={tmp}/a.json", "-o", "markdown={tmp}/./a.json"], "name the same file"),
    (["-o", "json=a.json", "-o", "markdown={tmp}/a.json"], "name the same file"),  # relative and absolute
    (["-o", "json={tmp}/a.json", "--save-snapshot", "{tmp}/a.json"], "name the same file"),
    (["-o", "json={tmp}/link.json", "-o", "junit={tmp}/target.json"], "name the same file"),
    (["-o", "json={tmp}/target.json", "-o", "json={tmp}/target.json"], "name the same file"),
], ids=["directory", "trailing-slash", "missing-directory", "file-as-directory", "same-path", "relative-and-absolute",
        "output-and-snapshot", "link-and-target", "twice"])
def test_an_output_path_that_cannot_be_written_is_exit_2_before_anything_is_read_or_written(
        moe, live, bed, tmp_path, monkeypatch, outputs, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("keep")
    (tmp_path / "target.json").write_text("old")
    (tmp_path / "link.json").symlink_to("target.json")
    before = listing(tmp_path)
    run = moe("check", *live, *[arg.format(tmp=tmp_path) for arg in outputs])
    assert fragment in one_line_error(run)
    assert bed.requests == []  # nothing read from Azure
    assert listing(tmp_path) == before  # nothing written, nothing created


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any directory")
def test_a_directory_without_write_permission_is_exit_2_before_the_run(moe, live, bed, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        run = moe("check", *live, "-o", f"json={locked}/report.json")
        assert "is not writable" in one_line_error(run) and bed.requests == []
    finally:
        locked.chmod(0o700)


def test_an_output_naming_the_snapshot_being_replayed_is_refused_and_the_snapshot_kept(moe, tmp_path):
    snap = write_snapshot(tmp_path / "snap.json", example())
    before = snap.read_bytes()
    run = moe("check", "--snapshot", snap, "-o", f"markdown={tmp_path}/../{tmp_path.name}/snap.json")
    assert "which this run reads" in one_line_error(run)
    assert snap.read_bytes() == before


def test_render_refuses_to_overwrite_the_report_it_reads(moe, tmp_path):
    report = tmp_path / "report.json"
    assert moe("check", "--snapshot", EXAMPLE, "-o", f"json={report}").code == 1
    before = report.read_bytes()
    assert "which this run reads" in one_line_error(moe("render", report, "-o", f"markdown={report}"))
    assert report.read_bytes() == before


def test_an_existing_report_is_replaced_whole_and_keeps_its_permissions(moe, tmp_path):
    out = tmp_path / "report.json"
    out.write_text("old")
    out.chmod(0o640)
    run = moe("check", "--snapshot", EXAMPLE, "-o", f"json={out}")
    assert run.code == 1 and run.stderr == ""
    assert json.loads(out.read_text())["mode"] == "snapshot"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temp file left beside it


def test_a_symlinked_output_writes_its_target_and_the_link_stays(moe, tmp_path):
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "latest.json"
    target.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    assert moe("check", "--snapshot", EXAMPLE, "-o", f"json={link}").code == 1
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["mode"] == "snapshot"


def test_a_fifo_output_is_written_through_to_its_reader(moe, tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert moe("check", "--snapshot", EXAMPLE, "-o", f"json={fifo}").code == 1
    reader.join(10)
    assert json.loads(received[0])["mode"] == "snapshot"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not a file that replaced it


@pytest.fixture
def no_replacing_devices(monkeypatch):
    """Writing to a device must never go through a temp file and a rename: were it to regress, this test would
    otherwise replace /dev/null itself (the suite may run as root). Any attempt fails the test instead."""
    real_replace, real_mkstemp = os.replace, tempfile.mkstemp

    def replace(src, dst, *a, **kw):
        assert not str(dst).startswith("/dev/"), f"tried to replace {dst}"
        return real_replace(src, dst, *a, **kw)

    def mkstemp(*a, dir=None, **kw):
        assert not str(dir).startswith("/dev"), f"tried to make a temp file in {dir}"
        return real_mkstemp(*a, dir=dir, **kw)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def test_a_character_device_output_is_written_through_not_replaced(moe, no_replacing_devices, tmp_path):
    before = os.stat("/dev/null")
    run = moe("check", "--snapshot", EXAMPLE, "-o", "json=/dev/null", "--save-snapshot", str(tmp_path / "s.json"))
    assert run.code == 1 and run.stderr == ""
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_output_that_fails_while_written_is_one_line_exit_2_and_the_other_outputs_are_still_written(
        moe, no_replacing_devices, tmp_path):
    out = tmp_path / "report.md"
    run = moe("check", "--snapshot", EXAMPLE, "-o", "json=/dev/full", "-o", f"markdown={out}")
    assert "cannot write /dev/full: No space left on device" in one_line_error(run)
    assert out.read_text().startswith("#")


def test_a_write_that_fails_half_way_leaves_the_old_file_and_no_temp_file(moe, tmp_path, monkeypatch):
    out = tmp_path / "report.json"
    out.write_text("the old report")

    def full_disk(src, dst, *a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    run = moe("check", "--snapshot", EXAMPLE, "-o", f"json={out}")
    assert "No space left on device" in one_line_error(run)
    assert listing(tmp_path) == {"report.json": b"the old report"}


# --- what outputs cannot carry: lone surrogates from evidence, a stdout without UTF-8 ------------------


SURROGATE = "None\udc80"


def surrogate_snapshot(path: Path) -> Path:
    """The example with a lone surrogate (as the JSON escape `\\udc80`) in evidence that reaches the report."""
    data = example()
    data["facts"]["keyvault"]["value"]["properties"]["networkAcls"]["bypass"] = SURROGATE
    return write_snapshot(path, data)


def keyvault_result(report: dict) -> dict:
    [result] = [r for r in report["results"] if r["check_id"] == "keyvault.trusted-services-bypass"]
    return result


def test_lone_surrogates_in_evidence_reach_every_output_escaped_and_the_json_reads_back_the_same(tmp_path):
    snap = surrogate_snapshot(tmp_path / "snap.json")
    files = {fmt: tmp_path / f"report.{fmt}" for fmt in FORMATS}
    run = moediag(None, "check", "--snapshot", str(snap), "-o", "json", *[f"-o{f}={p}" for f, p in files.items()],
                  "--save-snapshot", str(tmp_path / "again.json"))
    assert run.code == 1 and run.stderr == ""
    assert keyvault_result(run.report)["evidence"]["observed"]["bypass"] == SURROGATE  # stdout: the JSON escape
    assert keyvault_result(json.loads(files["json"].read_bytes()))["evidence"]["observed"]["bypass"] == SURROGATE
    assert json.loads((tmp_path / "again.json").read_text())["facts"]["keyvault"] == json.loads(snap.read_text())["facts"]["keyvault"]
    for fmt in ("table", "markdown"):
        assert "None\\udc80" in files[fmt].read_text(encoding="utf-8")  # text formats: the escape, as text
    assert "None\\xdc80" in files["junit"].read_text(encoding="utf-8")  # XML 1.0 cannot carry it either
    for fmt in ("table", "markdown", "junit"):  # standard output carries them as the files do
        shown = moediag(None, "render", str(files["json"]), "-o", fmt)
        assert shown.code == 0 and shown.stderr == "" and shown.stdout == files[fmt].read_text(encoding="utf-8")


def test_a_report_with_lone_surrogates_renders_again_byte_for_byte(moe, tmp_path):
    snap = surrogate_snapshot(tmp_path / "snap.json")
    first = tmp_path / "first.json"
    assert moe("check", "--snapshot", snap, "-o", f"json={first}").code == 1
    again = tmp_path / "again.json"
    assert moe("render", first, "-o", f"json={again}").code == 0
    assert again.read_bytes() == first.read_bytes() and b"None\\udc80" in first.read_bytes()


@pytest.mark.xfail(reason="moediag.redact hashes secrets as strict UTF-8: a lone surrogate in a secret-named field "
                          "raises UnicodeEncodeError (redact.py belongs to the secrets work; use 'surrogatepass')")
def test_a_lone_surrogate_in_a_secret_named_field_is_masked_not_a_crash():
    assert Redactor(ids=False)({"password": "hunter2\udc80hunter2"})["password"].startswith("[redacted:")


def test_with_a_stdout_that_cannot_encode_the_report_the_json_stays_valid_and_the_table_readable(tmp_path):
    snap = surrogate_snapshot(tmp_path / "snap.json")
    utf8 = moediag(None, "check", "--snapshot", str(snap), "-o", "json")
    ascii_json = moediag(None, "check", "--snapshot", str(snap), "-o", "json", env={"PYTHONIOENCODING": "ascii"})
    assert ascii_json.code == 1 and ascii_json.stderr == "" and ascii_json.stdout.isascii()
    def verdicts(run):
        return [(r["check_id"], r["status"], r["message"], r["evidence"]) for r in run.report["results"]]

    assert verdicts(ascii_json) == verdicts(utf8)
    assert keyvault_result(ascii_json.report)["evidence"]["observed"]["bypass"] == SURROGATE
    table = moediag(None, "check", "--snapshot", str(snap), "-o", "table", env={"PYTHONIOENCODING": "ascii"})
    assert table.code == 1 and table.stderr == "" and "\\u2717 FAIL" in table.stdout and "None\\udc80" in table.stdout

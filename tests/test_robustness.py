"""Bad input never makes a traceback; outputs are written, not replaced; signals and closed pipes keep the contract.

Each refusal is exit 2 with exactly one line on stderr (`moediag: error: ...`), decided before the run starts when
it can be known then, with nothing written half-way. Most cases run in process (`main()` with the real argv
handling); signals, closed pipes and the real stdout encoding run `moediag` as a subprocess.
"""

from __future__ import annotations

import codecs
import copy
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from armbed import healthy
from moe import Run, moediag, quiet_dns, target_args
from moediag import snapshot as snapshots
from moediag.cli import main
from moediag.collector import Collector
from moediag.errors import UsageError
from moediag.inputs import MAX_DEPTH, parse_json
from moediag.redact import Redactor
from moediag.registry import all_checks
from moediag.render import FORMATS, renderer
from moediag.report import invalid
from moediag.runner import run_checks
from moediag.target import Options, Target

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


def test_scan_refuses_an_output_path_before_asking_resource_graph(moe, live, bed, tmp_path):
    run = moe("scan", "-s", "00000000-1111-2222-3333-444444444444", "--dns-server", "127.0.0.1:9",
              "-o", f"json={tmp_path}")
    assert "is a directory" in one_line_error(run) and bed.requests == []


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
    assert "None\\udc80" in files["junit"].read_text(encoding="utf-8")  # XML 1.0 cannot carry it either
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


# --- 2. bad input: snapshots, reports, moediag.toml, flags --------------------------------------------

DEEP_JSON = ("[" * 100_000 + "]" * 100_000).encode()
HOSTILE_FILES = {
    "nested 100000 deep": (DEEP_JSON, "nested too deeply"),
    "nested one level past the limit": (json.dumps(nested(MAX_DEPTH + 20)).encode(), "levels deep"),
    "binary": (bytes(range(256)) * 4, "not text"),
    "not UTF-8": (b'{"format": "\xff\xfe\xfa"}', "not UTF-8 text"),
    "UTF-16 with a byte order mark": ('{"format": "moediag-snapshot"}'.encode("utf-16"), "is UTF-16 text"),
    "UTF-16 without a byte order mark": ('{"format": "moediag-snapshot"}'.encode("utf-16-le"), "not text"),
    "UTF-32": ('{"format": "moediag-snapshot"}'.encode("utf-32"), "is UTF-32 text"),
    "an integer of 5000 digits": (b'{"version": ' + b"9" * 5000 + b"}", "not valid JSON"),
    "empty": (b"", "not valid JSON"),
}


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_a_hostile_snapshot_is_one_line_exit_2(moe, tmp_path, name):
    content, fragment = HOSTILE_FILES[name]
    (tmp_path / "snap.json").write_bytes(content)
    assert fragment in one_line_error(moe("check", "--snapshot", tmp_path / "snap.json", "-o", f"json={tmp_path}/r.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.json"]


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_a_hostile_report_given_to_render_is_one_line_exit_2(moe, tmp_path, name):
    content, fragment = HOSTILE_FILES[name]
    (tmp_path / "report.json").write_bytes(content)
    assert fragment in one_line_error(moe("render", tmp_path / "report.json", "-o", "table"))
    assert fragment in one_line_error(moe("render", "-", "-o", "table", stdin=content))


@pytest.mark.parametrize("content, fragment", [
    ("[[suppress]]\ncheck = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
    ("x = " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", "levels deep"),
    ('[[suppress]]\ncheck = "keyvault"\nreason = "\\udc80"\n', "not valid TOML"),
    (bytes(range(256)), "not text"),
    ("[[suppress]]\ncheck = 'keyvault'\n".encode("utf-16"), "is UTF-16 text"),
])
def test_a_hostile_moediag_toml_is_one_line_exit_2_before_the_run(moe, tmp_path, monkeypatch, content, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "moediag.toml").write_bytes(content if isinstance(content, bytes) else content.encode())
    run = moe("check", "--snapshot", EXAMPLE, "-o", f"json={tmp_path}/r.json")
    assert fragment in one_line_error(run) and "moediag.toml" in run.stderr
    assert not (tmp_path / "r.json").exists()


def test_a_utf8_byte_order_mark_is_read_as_utf8(moe, tmp_path):
    snap = tmp_path / "snap.json"
    snap.write_bytes(codecs.BOM_UTF8 + EXAMPLE.read_bytes())
    assert moe("check", "--snapshot", snap, "-o", "json").code == 1


@pytest.mark.parametrize("change, fragment", [
    (lambda d: d["target"].update(endpoints="ep-main"), "no valid target"),
    (lambda d: d["target"].update(deployment=["blue"]), "no valid target"),
    (lambda d: d["target"].update(workspace="ws/../other"), "no valid target"),
    (lambda d: d["target"].update(subscription_id="not-a-guid"), "no valid target"),
    (lambda d: d["options"].update(dns_servers=5), "malformed options"),
    (lambda d: d["options"].update(dns_servers=[5]), "malformed options"),
    (lambda d: d["options"].update(logs="some"), "malformed options"),
    (lambda d: d["options"].update(include_diagnose="yes"), "malformed options"),
    (lambda d: d["facts"].update(keyvault={"error": {"kind": "forbidden", "message": "no", "resource_id": ["x"]}}),
     "malformed fact error"),
    (lambda d: d["facts"].update(keyvault={"error": {"kind": "forbidden", "message": "no", "status": "403"}}),
     "malformed fact error"),
    (lambda d: d.update(version=True), "version True"),
    (lambda d: d.update(version="x" * 1000), "version 'xxx"),
], ids=["endpoints", "deployment", "workspace", "subscription", "dns-servers", "dns-server", "logs", "diagnose",
        "error-resource", "error-status", "version-bool", "version-long"])
def test_a_snapshot_with_fields_of_the_wrong_shape_is_one_line_exit_2(moe, tmp_path, change, fragment):
    data = example()
    change(data)
    line = one_line_error(moe("check", "--snapshot", write_snapshot(tmp_path / "s.json", data), "-o", "json"))
    assert fragment in line and len(line) < 300


# Any character at all, surrogates included. Not text()'s default alphabet: that is the characters UTF-8 can
# encode, which Hypothesis works out by encoding every code point (3 to 7 s in each process of a fresh clone).
ANY_CHARACTER = st.characters(exclude_categories=())

# A real report, mutated the way hostile files go wrong: wrong types, huge numbers, nested garbage, surrogates.
GARBAGE = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 2**64, 10**300, 1.5, 1e308, float("inf"), float("nan"), "", "x",
                     "\udc80", "a\ud800b", "scan", "fail", "error", [], {}, [None], {"": None}, "\x1b[31m\n"])
    | st.integers(min_value=-(2**70), max_value=2**70) | st.text(ANY_CHARACTER, max_size=12),
    st.recursive(st.none() | st.integers() | st.text(ANY_CHARACTER, max_size=4),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(ANY_CHARACTER, max_size=4), inner,
                                                                             max_size=3),
                 max_leaves=12),
    st.integers(min_value=1, max_value=MAX_DEPTH + 40).map(nested),
)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def mutate(value, path, how, garbage):
    value = copy.deepcopy(value)
    if not path:
        return garbage
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if how == "delete":
        del parent[path[-1]]
    elif how == "wrap":
        parent[path[-1]] = [parent[path[-1]]]
    else:
        parent[path[-1]] = garbage
    return value


@pytest.fixture(scope="module")
def real_report() -> dict:
    from moediag import session
    from moediag.registry import select

    report = session.replay(snapshots.load(EXAMPLE), select((), ()), 10).report
    assert invalid(report) is None
    return report


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_render_never_crashes_on_a_hostile_report_it_either_refuses_it_or_renders_it(real_report, data):
    report = real_report
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(list(paths(report))))
        report = mutate(report, where, data.draw(st.sampled_from(["delete", "replace", "wrap"])), data.draw(GARBAGE))
    try:  # what `moediag render` does with the file: parse (bounded), then validate
        loaded = parse_json(json.dumps(report), "report", max_depth=MAX_DEPTH + 8)
    except UsageError:
        return
    problem = invalid(loaded)
    assert problem is None or (isinstance(problem, str) and problem)
    if problem is None:
        for fmt in FORMATS:
            for shown in (loaded, Redactor(ids=True)(loaded)):
                snapshots.encode(renderer(fmt)(shown, False), json_text=fmt == "json")


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_replaying_a_hostile_snapshot_is_exit_2_or_a_valid_report(data):
    """Mutations of the snapshot's frame (target, options, fact entries and errors), not of the REST bodies
    inside (tests/test_fuzz_parsers.py holds the checks to those)."""
    snapshot = example()
    frame = [p for p in paths(snapshot) if len(p) <= 4 and not (len(p) >= 3 and p[0] == "facts" and p[2] == "value")]
    for _ in range(data.draw(st.integers(1, 2))):
        where = data.draw(st.sampled_from(frame))
        snapshot = mutate(snapshot, where, data.draw(st.sampled_from(["delete", "replace", "wrap"])), data.draw(GARBAGE))
        frame = [p for p in paths(snapshot) if len(p) <= 4 and not (len(p) >= 3 and p[0] == "facts" and p[2] == "value")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snap.json"
        path.write_text(json.dumps(snapshot), encoding="utf-8")
        try:
            loaded = snapshots.load(path)
        except UsageError as exc:
            assert "\n" not in str(exc)
            return
    from moediag import session
    from moediag.errors import TargetUnreadable
    from moediag.registry import select

    try:
        report = session.replay(loaded, select((), ()), 10).report
    except TargetUnreadable as exc:  # no workspace in it: exit 2 with one line, as for a missing workspace
        assert "\n" not in str(exc)
        return
    assert invalid(report) is None
    crashed = [r for r in report["results"] if r["reason"] == "crashed"]
    assert not crashed, crashed
    for fmt in FORMATS:
        snapshots.encode(renderer(fmt)(report, False), json_text=fmt == "json")


def test_a_snapshot_at_the_depth_limit_replays_redacts_and_renders(tmp_path):
    data = example()
    data["facts"]["keyvault"]["value"]["properties"]["networkAcls"]["bypass"] = nested(MAX_DEPTH - 8)
    loaded = snapshots.load(write_snapshot(tmp_path / "deep.json", data))
    from moediag import session
    from moediag.registry import select

    report = session.replay(loaded, select((), ()), 10).report
    report = Redactor(ids=True)(report)
    assert invalid(report) is None and keyvault_result(report)["status"] == "fail"
    for fmt in FORMATS:
        renderer(fmt)(report, False)


@pytest.mark.parametrize("args, fragment", [
    (["check", "--snapshot", EXAMPLE, "--timeout", "abc"], "'abc' is not a valid float range"),
    (["check", "--snapshot", EXAMPLE, "--timeout", "nan"], "'nan' is not a number of seconds"),
    (["check", "--snapshot", EXAMPLE, "--timeout", "0"], "is not in the range"),
    (["scan", "--timeout", "nan"], "'nan' is not a number of seconds"),
    (["check", "--snapshot", EXAMPLE, "-o", "json="], "a path is needed after '='"),
    (["check", "--snapshot", EXAMPLE, "-o", "=report.json"], "unknown output format ''"),
    (["check", "--snapshot", EXAMPLE, "-o", "json", "-o", "table"], "at most one"),
    (["check", "--snapshot", EXAMPLE, "--max-concurrency", "0"], "--max-concurrency"),
    (["check", "--snapshot", EXAMPLE, "--fail-on", "maybe"], "--fail-on"),
    (["check", "--snapshot", "/nonexistent/snap.json"], "cannot read snapshot"),
    (["check", "--snapshot", "/"], "is a directory"),
    (["check", "--snapshot", EXAMPLE, "--config", "/"], "is a directory"),
    (["check", "--snapshot", EXAMPLE, "--config", "/nonexistent/moediag.toml"], "cannot read config"),
    (["check", "--snapshot", EXAMPLE, "-w", "other"], "does not match the snapshot"),
    (["check", "--snapshot", EXAMPLE, "-o", "json=/nonexistent\n\x1b[2J/r.json"], "/nonexistent\\n\\x1b[2J"),
    (["render"], "Missing argument"),
    (["render", "/"], "cannot read report /"),
    (["render", EXAMPLE], "not a moediag report"),
], ids=lambda a: " ".join(map(str, a)) if isinstance(a, list) else None)
def test_a_bad_flag_is_one_line_exit_2(moe, args, fragment):
    assert fragment in one_line_error(moe(*args))


# --- workspace.diagnose: an answer without the documented shape is an error, never a pass --------------


def diagnose_results(answer) -> list:
    snap = example()
    facts = {"workspace": snap["facts"]["workspace"], "diagnose": {"value": answer}}
    collector = Collector(Target.from_json(snap["target"]), Options(include_diagnose=True, timeout_s=10), snapshot=facts)
    try:
        return run_checks([all_checks()["workspace.diagnose"]], collector).results
    finally:
        collector.close()


@pytest.mark.parametrize("answer", [
    {}, {"value": None}, {"value": []}, {"value": "done"}, {"value": {}}, {"value": {"9": []}},
    {"value": {"status": "Succeeded"}}, {"value": {"keyVaultResults": None}}, {"value": {"keyVaultResults": {}}},
    {"value": {"keyVaultResults": "none"}}, {"status": "Succeeded"},
], ids=repr)
def test_a_diagnose_answer_without_the_documented_shape_is_an_error_never_a_pass(answer):
    results = diagnose_results(answer)
    assert results and all((r.status.value, r.reason) == ("error", "unreadable") for r in results), results


@pytest.mark.parametrize("finding", [None, "KeyVaultNotReachable", 3, [], {}, {"code": "X", "message": "m"},
                                     {"code": "X", "level": 2, "message": "m"}], ids=repr)
def test_a_diagnose_finding_that_cannot_be_read_is_an_error_and_the_other_findings_still_count(finding):
    results = diagnose_results({"value": {"dnsResolutionResults": [finding],
                                          "keyVaultResults": [{"code": "KV", "level": "Error", "message": "denied"}],
                                          "storageAccountResults": []}})
    assert sorted((r.status.value, r.reason) for r in results) == [("error", "unreadable"), ("fail", None)]


def test_a_category_that_is_not_a_list_is_an_error_beside_the_findings_of_the_others():
    results = diagnose_results({"value": {"keyVaultResults": {"code": "KV"}, "dnsResolutionResults": []}})
    assert [(r.status.value, r.reason) for r in results] == [("error", "unreadable")]


@pytest.mark.skipif(not DIAGNOSE_EXAMPLE.exists(), reason="needs the shared ARM examples")
def test_the_documented_diagnose_answer_still_reads_as_before():
    body = json.loads(DIAGNOSE_EXAMPLE.read_text())["responses"]["200"]["body"]
    [result] = diagnose_results(body)
    assert result.status.value == "warn" and "CustomDNSInUse" in result.message
    assert [r.status.value for r in diagnose_results({"value": {"keyVaultResults": [], "9": []}})] == ["pass"]
    a_finding_naming_our_keys = {"code": "C", "level": "Warning", "message": "m", "area": "spoofed", "category": "x",
                                 "observed": "spoofed", "hint": "kept"}
    [result] = diagnose_results({"value": {"KeyVaultResults": [a_finding_naming_our_keys]}})
    evidence = result.to_json()["evidence"]
    assert (evidence["area"], evidence["category"], evidence["observed"]) == ("keyvault", "keyVaultResults", "Warning: C")
    assert evidence["hint"] == "kept"


# --- 3. signals and pipes -------------------------------------------------------------------------------


def wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_sigterm_during_collection_writes_the_reports_marked_interrupted_and_exits_143(bed, tmp_path, guarded_env):
    scenario = healthy().install(bed)
    bed.hang(scenario.key_vault_id)
    out, table = tmp_path / "report.json", tmp_path / "report.txt"
    proc = subprocess.Popen([sys.executable, "-m", "moediag", "check", *target_args(scenario), "-o", f"json={out}",
                             "-o", f"table={table}", "--timeout", "30", "--dns-server", quiet_dns()],
                            env={**guarded_env, **bed.env()}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: bed.arrived("GET", scenario.key_vault_id) > 0)  # the checks are running, one read hangs
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and stdout == ""
    report = json.loads(out.read_text())
    assert report["interrupted"] is True
    assert (keyvault_result(report)["status"], keyvault_result(report)["reason"]) == ("error", "interrupted")
    assert "interrupted" in table.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".log")) == ["report.json", "report.txt"]


def test_sigterm_while_waiting_for_the_workspace_still_writes_a_report_and_exits_143(bed, tmp_path, guarded_env):
    scenario = healthy().install(bed)
    bed.hang(scenario.workspace_arm_id)
    out = tmp_path / "report.json"
    proc = subprocess.Popen([sys.executable, "-m", "moediag", "check", *target_args(scenario), "-o", f"json={out}",
                             "--timeout", "30", "--dns-server", quiet_dns()],
                            env={**guarded_env, **bed.env()}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: bed.arrived("GET", scenario.workspace_arm_id) > 0)  # counted on arrival; never answered
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr
    assert json.loads(out.read_text())["interrupted"] is True


def closed_pipe_run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    """`moediag ARGS` whose standard output is a pipe nobody reads any more (`| head` that has exited)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "moediag", *args], stdout=write, stderr=subprocess.PIPE,
                              env=env, timeout=60, check=False)
    finally:
        os.close(write)


def test_a_closed_stdout_keeps_the_runs_exit_code_writes_the_other_outputs_and_says_nothing(tmp_path, guarded_env):
    out = tmp_path / "report.json"
    proc = closed_pipe_run(["check", "--snapshot", str(EXAMPLE), "-o", "table", "-o", f"json={out}"], guarded_env)
    assert proc.returncode == 1  # what the run found (a check failed), not 0 or 120
    assert proc.stderr == b""  # no BrokenPipeError, no "Exception ignored"
    assert json.loads(out.read_text())["summary"]["fail"] >= 4


@pytest.mark.parametrize("args", [["list"], ["explain", "workspace.diagnose"], ["render", "{report}", "-o", "markdown"],
                                  ["check", "--snapshot", "{snap}", "-o", "json=/dev/stdout"]])
def test_other_commands_to_a_closed_stdout_exit_as_usual_without_complaint(tmp_path, guarded_env, args):
    report = tmp_path / "report.json"  # written in this process: only the run under test needs the closed pipe
    assert moediag(None, "check", "--snapshot", str(EXAMPLE), "-o", f"json={report}").code == 1
    proc = closed_pipe_run([a.format(report=report, snap=EXAMPLE) for a in args], guarded_env)
    assert proc.stderr == b"" and proc.returncode == (1 if args[0] == "check" else 0)


def test_head_reading_one_line_of_a_long_report_leaves_the_exit_code_and_stderr_alone(guarded_env):
    writer = subprocess.Popen([sys.executable, "-m", "moediag", "check", "--snapshot", str(EXAMPLE), "-o", "table"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=guarded_env)
    head = subprocess.run(["head", "-c", "1"], stdin=writer.stdout, capture_output=True, timeout=30, check=False)
    writer.stdout.close()
    stderr = writer.stderr.read()
    writer.stderr.close()
    assert writer.wait(timeout=30) == 1 and stderr == b""
    assert head.stdout == b"m"

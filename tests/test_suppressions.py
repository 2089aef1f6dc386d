"""Suppressions: accepted risks stay visible in the report as `skip`/`suppressed`, expire, and never hide errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from armbed import broken, healthy
from moe import check, moediag, target_args
from moediag import suppress
from moediag.errors import UsageError

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "broken-workspace.snapshot.json")
KV = "keyvault.trusted-services-bypass"
ONLY = ["--select", KV, "--select", "workspace.v1-legacy-mode"]


def config(tmp_path: Path, text: str, name: str = "moediag.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def entry(check: str = KV, reason: str = "accepted by SEC-1234", **extra: str) -> str:
    lines = ["[[suppress]]", f'check = "{check}"', f'reason = "{reason}"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def test_a_suppressed_failure_stays_in_the_report_as_a_skip_with_its_reason_and_original_status(bed, tmp_path):
    scenario = broken().install(bed)
    run = check(bed, scenario, *ONLY, "--config", str(config(tmp_path, entry(expires="2999-12-31"))))
    [kv] = run.results(KV)
    assert (kv["status"], kv["reason"]) == ("skip", "suppressed")
    assert kv["message"].startswith("suppressed (accepted by SEC-1234): ")
    assert kv["evidence"]["suppressed_status"] == "fail"
    assert kv["evidence"]["suppression"] == {"check": KV, "resource": None, "reason": "accepted by SEC-1234",
                                             "expires": "2999-12-31", "source": str(tmp_path / "moediag.toml")}
    assert kv["fix"] is not None  # still says how to fix it, should the risk be revisited
    assert run.report["summary"]["skip"] == 1 and run.report["summary"]["fail"] == 1  # v1 legacy mode still fails


def test_moediag_toml_in_the_working_directory_is_read_without_flags_and_gates_green(bed, tmp_path):
    scenario = broken().install(bed)
    config(tmp_path, entry() + entry("workspace.v1-legacy-mode", "migrating in Q3"))
    run = moediag(bed, "check", *target_args(scenario), *ONLY, "-o", "json", cwd=tmp_path)
    assert run.statuses(KV) == ["skip"] and run.statuses("workspace.v1-legacy-mode") == ["skip"]
    assert run.code == 0
    assert run.results(KV)[0]["evidence"]["suppression"]["source"] == "moediag.toml"


def test_a_suppression_for_one_resource_matches_its_id_case_insensitively_and_nothing_else(bed, tmp_path):
    scenario = broken().install(bed)
    other = scenario.key_vault_id.replace("kv-ws-prod", "kv-other")
    path = config(tmp_path, entry(resource=f'"{scenario.key_vault_id.upper()}"'), "mine.toml")
    assert check(bed, scenario, *ONLY, "--config", str(path)).statuses(KV) == ["skip"]
    path = config(tmp_path, entry(resource=f'"{other}"'), "other.toml")
    assert check(bed, scenario, *ONLY, "--config", str(path)).statuses(KV) == ["fail"]


def test_an_expired_suppression_no_longer_applies_and_the_report_says_so(bed, tmp_path):
    scenario = broken().install(bed)
    run = check(bed, scenario, *ONLY, "--config", str(config(tmp_path, entry(expires="2020-01-31"))))
    assert run.statuses(KV) == ["fail"] and run.code == 1
    [note] = run.report["notes"]
    assert KV in note and "expired on 2020-01-31" in note and "accepted by SEC-1234" in note


def test_the_expiry_day_itself_still_applies():
    rule = suppress.Suppression(KV, "ok", expires=dt.date(2030, 5, 1))
    assert not rule.expired(dt.date(2030, 5, 1)) and rule.expired(dt.date(2030, 5, 2))


def test_an_error_is_never_suppressed_so_a_broken_run_never_looks_green(bed, tmp_path):
    scenario = healthy().install(bed)
    bed.fault(scenario.key_vault_id, 403)
    run = check(bed, scenario, *ONLY, "--fail-on", "never", "--config", str(config(tmp_path, entry())))
    assert run.statuses(KV) == ["error"] and run.code == 3


def test_a_passing_check_stays_a_pass_under_a_suppression(bed, tmp_path):
    scenario = healthy().install(bed)
    run = check(bed, scenario, *ONLY, "--config", str(config(tmp_path, entry())))
    assert run.statuses(KV) == ["pass"] and run.code == 0


def test_suppressions_show_in_the_table_and_the_markdown_as_skips(tmp_path):
    path = str(config(tmp_path, entry()))
    table = moediag(None, "check", "--snapshot", EXAMPLE, "--select", KV, "--config", path, "-o", "table").stdout
    assert "Skipped: 1 (1 suppressed)" in table and "Fix in this order" not in table
    table = moediag(None, "check", "--snapshot", EXAMPLE, "--select", KV, "--config", path, "-o", "table", "-v").stdout
    assert "- SKIP keyvault.trusted-services-bypass" in table and "suppressed (accepted by SEC-1234)" in table
    markdown = moediag(None, "check", "--snapshot", EXAMPLE, "--select", KV, "--config", path, "-o", "markdown").stdout
    assert "`suppressed`" in markdown and "Failures" not in markdown


@pytest.mark.parametrize("text, fragment", [
    ("[[suppress]\n", "not valid TOML"),
    ("[[suppress]]\ncheck = 'keyvault.trusted-services-bypass'\n", "'reason' is required"),
    ("[[suppress]]\nreason = 'x'\n", "'check' (a check id) is required"),
    ("[[suppress]]\ncheck = 'keyvault.no-such-check'\nreason = 'x'\n", "no check matches 'keyvault.no-such-check'"),
    ("[[suppress]]\ncheck = 'keyvault'\nreason = 'x'\nexpire = 2027-01-01\n", "unknown key 'expire'"),
    ("[[suppress]]\ncheck = 'keyvault'\nreason = 'x'\nexpires = 'next year'\n", "'expires' must be a date"),
    ("[[suppress]]\ncheck = 'keyvault'\nreason = 'x'\nexpires = 2027-01-01T10:00:00\n", "'expires' must be a date"),
    ("[[suppress]]\ncheck = 'keyvault'\nreason = 'x'\nresource = 'kv-ws-prod'\n", "must be an ARM resource id"),
    ("[[supress]]\ncheck = 'keyvault'\n", "unknown setting 'supress'"),
])
def test_a_malformed_config_says_what_is_wrong_and_where(text, fragment):
    with pytest.raises(UsageError) as caught:
        suppress.parse(text, "moediag.toml")
    assert fragment in str(caught.value) and str(caught.value).startswith("config moediag.toml")


def test_a_malformed_config_is_a_one_line_exit_2_before_anything_runs(tmp_path):
    run = moediag(None, "check", "--snapshot", EXAMPLE, "--config", str(config(tmp_path, "[[suppress]]\nreason = 1\n")),
                  "-o", "json")
    assert run.code == 2 and run.stdout == ""
    [line] = run.stderr.strip().splitlines()
    assert "'check' (a check id) is required" in line and "Traceback" not in run.stderr


def test_a_missing_config_named_with_config_is_exit_2(tmp_path):
    run = moediag(None, "check", "--snapshot", EXAMPLE, "--config", str(tmp_path / "nope.toml"))
    assert run.code == 2 and "cannot read config" in run.stderr


def test_no_moediag_toml_means_no_suppressions(tmp_path):
    assert suppress.load(None, cwd=tmp_path) == []
    with pytest.raises(UsageError):
        suppress.load(str(tmp_path / "missing.toml"))


def test_ignore_still_leaves_checks_out_of_the_run_entirely(tmp_path):
    run = moediag(None, "check", "--snapshot", EXAMPLE, "--ignore", KV, "-o", "json")
    assert run.results(KV) == []

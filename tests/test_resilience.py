"""The worst day: throttling, faults, hangs, Ctrl-C. moediag keeps going and says what it could not see."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from armbed import healthy
from moe import check, target_args
from netguard import subprocess_env


def test_throttled_twice_then_fine_is_healthy_and_the_retries_show_in_debug(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.key_vault_id, 429, times=2, headers={"retry-after-ms": "100"})  # Azure's millisecond form
    run = check(bed, scenario, "--select", "keyvault", "--debug")
    assert run.statuses("keyvault.trusted-services-bypass") == ["pass"]
    assert run.stderr.count("-> 429") == 2 and "-> 200" in run.stderr
    assert run.stderr.count("answered 429, waiting 0.1 s") == 2  # the wait the retry makes, said as it makes it
    assert bed.token not in run.stderr + run.stdout


def test_a_resource_that_stays_throttled_is_an_error_throttled_within_the_budget(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.key_vault_id, 429, headers={"Retry-After": "0.2"})
    started = time.monotonic()
    run = check(bed, scenario, "--select", "keyvault", "--select", "workspace.v1-legacy-mode", "--timeout", "10")
    assert time.monotonic() - started < 5  # the retries' waits, not the whole --timeout
    assert 2 <= bed.count("GET", scenario.key_vault_id) <= 5  # retried, a bounded number of times
    [kv] = run.results("keyvault.trusted-services-bypass")
    assert (kv["status"], kv["reason"]) == ("error", "throttled")
    assert run.statuses("workspace.v1-legacy-mode") == ["pass"] and run.code == 3


def test_a_server_error_then_success_is_retried_to_a_verdict(bed):
    scenario = healthy().install(bed)
    bed.fault(scenario.key_vault_id, 500, times=1)
    assert check(bed, scenario, "--select", "keyvault").statuses("keyvault.trusted-services-bypass") == ["pass"]


def test_a_hanging_resource_ends_as_timed_out_and_the_run_keeps_its_deadline(bed):
    scenario = healthy().install(bed)
    bed.hang(scenario.key_vault_id)
    started = time.monotonic()
    run = check(bed, scenario, "--select", "keyvault", "--select", "workspace.v1-legacy-mode", "--timeout", "1.5")
    elapsed = time.monotonic() - started
    assert bed.arrived("GET", scenario.key_vault_id) >= 1  # it did wait on the hanging read
    assert 1.0 < elapsed < 1.5 + 1, elapsed  # the bound (in process: no interpreter start-up)
    [kv] = run.results("keyvault.trusted-services-bypass")
    assert (kv["status"], kv["reason"]) == ("error", "timed_out")
    assert run.statuses("workspace.v1-legacy-mode") == ["pass"]


def test_check_accepts_total_timeout_and_the_smaller_bound_ends_the_run(bed):
    scenario = healthy().install(bed)
    bed.hang(scenario.key_vault_id)
    started = time.monotonic()
    run = check(bed, scenario, "--select", "keyvault", "--select", "workspace.v1-legacy-mode", "--timeout", "60",
                "--total-timeout", "1")  # a second is ample for the one read that answers (in process)
    assert time.monotonic() - started < 1 + 3  # the 1 s bound (not --timeout 60) plus start-up ends the run
    assert run.code == 3, run.stderr
    verdicts = {(r["check_id"], r["status"], r["reason"]) for r in json.loads(run.stdout)["results"]}
    assert verdicts == {("keyvault.trusted-services-bypass", "error", "timed_out"),
                        ("workspace.v1-legacy-mode", "pass", None)}


def test_ctrl_c_during_collection_writes_the_reports_marked_interrupted_and_exits_130(bed, tmp_path):
    scenario = healthy().install(bed)
    bed.hang(scenario.key_vault_id)
    out = tmp_path / "report.json"
    env = subprocess_env(dict(os.environ, **bed.env()))
    proc = subprocess.Popen([sys.executable, "-m", "moediag", "check", *target_args(scenario), "-o", f"json={out}",
                             "--timeout", "30"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while bed.arrived("GET", scenario.key_vault_id) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 130, stderr
    report = json.loads(out.read_text())
    assert report["interrupted"] is True
    [kv] = [r for r in report["results"] if r["check_id"] == "keyvault.trusted-services-bypass"]
    assert (kv["status"], kv["reason"]) == ("error", "interrupted")
    assert "Traceback" not in stderr


def test_a_default_run_only_reads(bed):
    scenario = healthy().install(bed)
    check(bed, scenario)
    methods = {(r.method, r.path.rsplit("/", 1)[-1]) for r in bed.requests if r.method != "GET"}
    assert methods <= {("POST", "getlogs")}, methods

"""Running moediag as a user would, against the ARM test bed: in-process (fast) or as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema

from armbed import ArmTestBed, WorkspaceScenario
from dnsbed import DnsTestServer

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "report.schema.json").read_text())


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict:
        report = json.loads(self.stdout)
        jsonschema.validate(report, SCHEMA)
        return report

    def results(self, check_id: str) -> list[dict]:
        return [r for r in self.report["results"] if r["check_id"] == check_id]

    def statuses(self, check_id: str) -> list[str]:
        return [r["status"] for r in self.results(check_id)]


def target_args(scenario: WorkspaceScenario) -> list[str]:
    return ["-s", scenario.subscription_id, "-g", scenario.resource_group, "-w", scenario.workspace]


def moediag(bed: ArmTestBed | None, *args: str, env: dict | None = None, timeout: float = 60, cwd=None) -> Run:
    """`moediag ARGS` in a subprocess, with the bed's token, CA and URL and the network guard on.

    The guard reports to a log file; any line in it fails the calling test (nothing may leave loopback).
    """
    full_env = dict(os.environ)
    if bed is not None:
        full_env.update(bed.env())
    full_env.update(env or {})
    full_env.setdefault("MOEDIAG_NETWORK_GUARD", "1")
    with tempfile.NamedTemporaryFile("r", suffix=".netguard.log") as guard_log:
        full_env.setdefault("MOEDIAG_NETWORK_GUARD_LOG", guard_log.name)
        proc = subprocess.run([sys.executable, "-m", "moediag", *args], env=full_env, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd)
        violations = guard_log.read()
    assert not violations, f"moediag tried to leave loopback:\n{violations}"
    return Run(proc.returncode, proc.stdout, proc.stderr)


_quiet_dns: DnsTestServer | None = None


def quiet_dns() -> str:
    """A loopback DNS server that knows no name (NXDOMAIN), for runs whose test is not about DNS.

    Without `--dns-server` moediag would ask this machine's resolver, which tests must never do.
    """
    global _quiet_dns
    if _quiet_dns is None:
        _quiet_dns = DnsTestServer().start()
    return _quiet_dns.address


def check(bed: ArmTestBed, scenario: WorkspaceScenario, *args: str, **kw) -> Run:
    """`moediag check` on the scenario's workspace, JSON on stdout (DNS from a loopback server)."""
    dns = [] if "--dns-server" in args else ["--dns-server", quiet_dns()]
    return moediag(bed, "check", *target_args(scenario), "-o", "json", *dns, *args, **kw)

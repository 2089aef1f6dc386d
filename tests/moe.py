"""Running moediag as a user would, against the ARM test bed: in-process (fast) or as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jsonschema

from armbed import ArmTestBed, WorkspaceScenario

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
    """`moediag ARGS` in a subprocess, with the bed's token, CA and URL and the network guard on."""
    full_env = dict(os.environ)
    if bed is not None:
        full_env.update(bed.env())
    full_env.update(env or {})
    full_env.setdefault("MOEDIAG_NETWORK_GUARD", "1")
    proc = subprocess.run([sys.executable, "-m", "moediag", *args], env=full_env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def check(bed: ArmTestBed, scenario: WorkspaceScenario, *args: str, **kw) -> Run:
    """`moediag check` on the scenario's workspace, JSON on stdout."""
    return moediag(bed, "check", *target_args(scenario), "-o", "json", *args, **kw)

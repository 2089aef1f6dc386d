"""Running moediag as a user would, against the ARM test bed: in-process (fast) or as a subprocess."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema

from armbed import ArmTestBed, WorkspaceScenario
from dnsbed import DnsTestServer
from netguard import ENV_LOG, subprocess_env

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "report.schema.json").read_text())
_VALIDATOR_CLASS = jsonschema.validators.validator_for(SCHEMA)
_VALIDATOR_CLASS.check_schema(SCHEMA)
SCHEMA_VALIDATOR = _VALIDATOR_CLASS(SCHEMA)  # built once: jsonschema.validate() rebuilds and rechecks it on each call


def validate_report(report) -> None:
    """`jsonschema.validate(report, SCHEMA)` (the same best-matching error) without re-checking the schema."""
    error = jsonschema.exceptions.best_match(SCHEMA_VALIDATOR.iter_errors(report))
    if error is not None:
        raise error


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    _validated: str | None = field(default=None, repr=False, compare=False)

    @property
    def report(self) -> dict:
        """stdout parsed (a fresh dict on every read: tests may change it), validated against the schema once."""
        report = json.loads(self.stdout)
        if self._validated != self.stdout:
            validate_report(report)
            self._validated = self.stdout
        return report

    def results(self, check_id: str) -> list[dict]:
        return [r for r in self.report["results"] if r["check_id"] == check_id]

    def statuses(self, check_id: str) -> list[str]:
        return [r["status"] for r in self.results(check_id)]


def target_args(scenario: WorkspaceScenario) -> list[str]:
    return ["-s", scenario.subscription_id, "-g", scenario.resource_group, "-w", scenario.workspace]


# What only a real process shows: --debug's logging set-up, signals, the real stdout's encoding (PYTHONIOENCODING
# in `env` also asks for a process) and pipes.
NEEDS_A_PROCESS = ("--debug",)


def moediag(bed: ArmTestBed | None, *args: str, env: dict | None = None, timeout: float = 60, cwd=None,
            process: bool = False) -> Run:
    """`moediag ARGS` as a user runs it, with the bed's token, CA and URL, nothing leaving loopback.

    In this process by default (the CLI's own `main`, stdout and stderr captured, exit code from SystemExit):
    the network guard of the test session applies. With `process=True` (or an argument only a real process
    shows) in a subprocess whose guard reports to a log file; any line in it fails the calling test.
    """
    full_env = dict(bed.env()) if bed is not None else {}
    full_env.update(env or {})
    if process or any(a in NEEDS_A_PROCESS for a in args) or "PYTHONIOENCODING" in full_env:
        return _subprocess(args, {**os.environ, **full_env}, timeout, cwd)
    return _in_process(args, full_env, cwd)


def _subprocess(args, full_env: dict, timeout: float, cwd) -> Run:
    with tempfile.NamedTemporaryFile("r", suffix=".netguard.log") as guard_log:
        full_env = subprocess_env(full_env, full_env.get(ENV_LOG) or guard_log.name)
        proc = subprocess.run([sys.executable, "-m", "moediag", *args], env=full_env, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd)
        violations = guard_log.read()
    assert not violations, f"moediag tried to leave loopback:\n{violations}"
    return Run(proc.returncode, proc.stdout, proc.stderr)


class _Captured(io.StringIO):
    def isatty(self) -> bool:
        return False


def _in_process(args, full_env: dict, cwd) -> Run:
    from moediag.cli import main

    saved_env = {name: os.environ.get(name) for name in full_env}
    saved = sys.argv, sys.stdout, sys.stderr, os.getcwd()
    saved_signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    out, err = _Captured(), _Captured()
    os.environ.update({k: str(v) for k, v in full_env.items()})
    sys.argv, sys.stdout, sys.stderr = ["moediag", *args], out, err
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.stdout, sys.stderr = saved[:3]
        os.chdir(saved[3])
        for sig, handler in saved_signals.items():
            signal.signal(sig, handler)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return Run(code, out.getvalue(), err.getvalue())


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


def add_private_endpoint(facts: dict, name: str, inference_ip: str | None = None) -> tuple[str, str]:
    """Snapshot facts with a second, approved workspace private endpoint `name` beside the first (same subnet and
    zone groups; `inference_ip`: its own IP for the inference name). Returns (the first's id, the new one's id)."""
    import copy

    pe_id = next(k.split("|", 1)[1] for k in facts if k.startswith("private_endpoint|"))
    new_id = pe_id[: pe_id.rindex("/") + 1] + name
    body = copy.deepcopy(facts[f"private_endpoint|{pe_id}"])
    body["value"].update(id=new_id, name=name)
    if inference_ip:
        for config in body["value"]["properties"]["customDnsConfigs"]:
            config["ipAddresses"] = [inference_ip]
    facts[f"private_endpoint|{new_id}"] = body
    facts[f"private_dns_zone_groups|{new_id}"] = copy.deepcopy(facts[f"private_dns_zone_groups|{pe_id}"])
    connections = facts["workspace"]["value"]["properties"]["privateEndpointConnections"]
    connection = copy.deepcopy(connections[0])
    connection["properties"]["privateEndpoint"]["id"] = new_id
    connections.append(connection)
    return pe_id, new_id

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
    return Started(args, full_env, cwd).wait(timeout)


class Started:
    """`moediag ARGS` running in a subprocess, its network guard reporting to a file: `wait()` gives its Run.

    Output goes to files, not pipes: a scan's report is megabytes, more than a pipe holds before the process
    blocks on writing it while nobody reads."""

    def __init__(self, args, full_env: dict, cwd=None) -> None:
        self._guard_log = tempfile.NamedTemporaryFile("r", suffix=".netguard.log")
        self._out, self._err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        env = subprocess_env(full_env, full_env.get(ENV_LOG) or self._guard_log.name)
        self._proc = subprocess.Popen([sys.executable, "-m", "moediag", *args], env=env, stdout=self._out,
                                      stderr=self._err, text=True, cwd=cwd)
        self._run: Run | None = None

    def wait(self, timeout: float = 60) -> Run:
        if self._run is None:
            try:
                code = self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.stop()
                raise
            self._out.seek(0)
            self._err.seek(0)
            self._run = Run(code, self._out.read(), self._err.read())
            violations = self._guard_log.read()
            self._close()
            assert not violations, f"moediag tried to leave loopback:\n{violations}"
        return self._run

    def stop(self) -> None:
        """Kill it if it still runs (a run nobody waited for) and let go of its files."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close()

    def _close(self) -> None:
        for file in (self._guard_log, self._out, self._err):
            file.close()


def start(bed: ArmTestBed | None, *args: str, env: dict | None = None, cwd=None) -> Started:
    """`moediag ARGS` as `moediag(..., process=True)` runs it, without waiting: for a long run that can go on while
    other tests do."""
    return Started(args, {**os.environ, **(bed.env() if bed is not None else {}), **(env or {})}, cwd)


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

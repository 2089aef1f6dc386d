"""The command line, shaped like `az ml` so on-call habits carry over.

Exit codes (docs/exit-codes.md): 0 nothing failed; 1 a check failed (with --fail-on warn: or warned; with
never: no 1); 2 usage error or bad input (a flag, a snapshot, report or moediag.toml, an output path: one line
on stderr, before the run when it can be known), an output that could not be written, or the target could not
be read at all; 3 nothing counted as failed but a check could not be evaluated (whatever --fail-on says);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM): the requested reports are written, marked interrupted.
Standard output closed by its reader (`moediag check | head -1`) is no error: the other outputs are still
written and the exit code is still the run's.
Heavy imports (Azure SDKs, dnspython) happen only inside the commands that need them.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import sys

import click

from moediag import __version__, arguments, clouds
from moediag.arguments import data_file
from moediag.errors import TargetUnreadable, UsageError, one_line

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
_TERMINATED: list[int] = []  # the SIGTERM seen (see _on_sigterm)
OUTPUT_HELP = ("table, json, junit, markdown or sarif, to stdout or to PATH (repeatable; at most one to stdout). "
               "Default: table on a terminal, else json.")


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"moediag: error: {one_line(message)}", err=True)
    sys.exit(code)


def _color(stream) -> bool:
    """Colour on a terminal; NO_COLOR (any value) turns it off, FORCE_COLOR (non-empty) on (https://no-color.org,
    https://force-color.org): NO_COLOR wins."""
    if "NO_COLOR" in os.environ:
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _width(stream) -> int:
    """Where the table's prose wraps: the terminal's width, else COLUMNS, else 100."""
    if hasattr(stream, "isatty") and stream.isatty():
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
            if columns > 0:  # a terminal that has no size yet (a new pty) says 0
                return columns
        except (OSError, ValueError):
            pass
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 100


class _Seconds(click.FloatRange):
    """A FloatRange that also refuses `nan` (every comparison with nan is false, so a range lets it through)."""

    def convert(self, value, param, ctx):
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


class _ExamplesLast(click.Command):
    """`--help` ends with the command's examples (the block of its docstring that starts with `Examples:`), where a
    reader looks after the options."""

    def _parts(self) -> tuple[str, str]:
        text = inspect.cleandoc(self.help or "")
        at = text.find("\b\nExamples:")
        return (text, "") if at < 0 else (text[:at].rstrip(), text[at:])

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text, examples = self._parts()
        self.help = text
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = text + ("\n\n" + examples if examples else "")

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        examples = self._parts()[1]
        if examples:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(examples)
        super().format_epilog(ctx, formatter)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="moediag", message="%(prog)s %(version)s")
def cli() -> None:
    """Diagnose network-isolated Azure Machine Learning managed online endpoints."""


cli.command_class = _ExamplesLast


# Options `check` and `scan` share (click makes a new parameter each time one is applied).
CLIENT_VNET = click.option(
    "--client-vnet", "client_vnets", multiple=True, metavar="VNET_ID",
    help="A client network whose scoring path to analyse from configuration (repeatable; also client_vnets in "
         "moediag.toml). Default: the VNets linked to the private zone and the private endpoint's VNet.")
SELECT = click.option("--select", multiple=True, metavar="PREFIX", help="Run only checks with this id or id prefix (repeatable).")
IGNORE = click.option("--ignore", multiple=True, metavar="PREFIX", help="Skip checks with this id or id prefix (repeatable).")
OUTPUT = click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=PATH]", help=OUTPUT_HELP)
FAIL_ON = click.option("--fail-on", type=click.Choice(["fail", "warn", "never"]), default="fail", show_default=True,
                       help="What makes exit code 1. A check that could not be evaluated still exits 3 (docs/exit-codes.md).")
CONFIG = click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
                      help="Suppressions of accepted risks (TOML). Default: ./moediag.toml when it exists.")
REDACT = click.option("--redact", is_flag=True,
                      help="Mask subscription, tenant and principal ids (every GUID), e-mail addresses and secret-looking "
                           "values in the report, every rendering and the snapshot.")
MAX_CONCURRENCY = click.option("--max-concurrency", type=click.IntRange(1, 64), default=16, show_default=True,
                               help="Requests to Resource Manager in flight at once.")
ARM_ENDPOINT = click.option("--arm-endpoint", metavar="URL",
                            help="Resource Manager URL (default: the cloud's; a proxy, a test bed). The token is still "
                                 "asked for the cloud's Resource Manager. Env: MOEDIAG_ARM_ENDPOINT.")
ARM_RATE = click.option("--arm-rate", metavar="BURST/PER_SECOND",
                        help="Each subscription's read budget, kept before Resource Manager has to throttle (default "
                             "250/25, its documented one). Env: MOEDIAG_ARM_RATE.")
CLOUD = click.option("--cloud", metavar="NAME",
                     help=f"{', '.join(clouds.CLOUDS)}: its Resource Manager, token scope, private DNS zones and "
                          f"scoring hosts. Default: {clouds.CLOUD_ENV}, else az's configured cloud (az cloud set), else "
                          f"{clouds.DEFAULT}.")
DNS_SERVER = click.option("--dns-server", "dns_servers", multiple=True, metavar="HOST[:PORT]",
                          help="Send every DNS query to these servers only (repeatable). Default: the system resolver.")
AZURE_DNS = click.option("--azure-dns", "azure_dns", is_flag=False, flag_value="168.63.129.16", default=None,
                         metavar="[HOST[:PORT]]",
                         help="Compare custom DNS answers with Azure DNS (168.63.129.16, or the server given; reachable "
                              "only from inside Azure). Without it no query is sent there.")
LOGS = click.option("--logs/--no-logs", "logs", default=None,
                    help="Read container logs of every deployment (--logs) or of none (--no-logs). Default: only unhealthy ones.")
DEBUG = click.option("--debug", is_flag=True, help="Log every request to stderr (tokens are never logged).")
LOG_MODES = {None: "auto", True: "all", False: "none"}


def _options(*decorators):
    """Several click options as one decorator, in the order given."""
    def apply(fn):
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn
    return apply


VERBOSE = click.option("-v", "--verbose", is_flag=True,
                       help="The table lists every pass and skip, and each consequence's message (else counts).")
REPORTING = _options(SELECT, IGNORE, OUTPUT, FAIL_ON, CONFIG, REDACT, VERBOSE)
READING = _options(CLOUD, ARM_ENDPOINT, ARM_RATE, DNS_SERVER, AZURE_DNS, LOGS)


@cli.command("check")
@click.option("-s", "--subscription", help="Subscription id (default: AZURE_SUBSCRIPTION_ID, then az's default).")
@click.option("-g", "--resource-group", help="Resource group of the workspace (default: az configure --defaults group=).")
@click.option("-w", "--workspace-name", help="Workspace name (default: az configure --defaults workspace=).")
@click.option("-e", "--endpoint-name", "endpoints", multiple=True, help="Online endpoint to check (repeatable; default: all).")
@click.option("-d", "--deployment-name", help="Only this deployment of the endpoints.")
@REPORTING
@click.option("--timeout", type=_Seconds(1, 3600), default=60.0, show_default=True,
              help="Seconds the whole run may take; evidence not read by then is reported as an error.")
@click.option("--total-timeout", type=_Seconds(1, 3600), default=None, metavar="SECONDS",
              help="As for scan; a check's one workspace starts with the run, so it bounds the run as --timeout does "
                   "(the smaller wins).")
@MAX_CONCURRENCY
@READING
@CLIENT_VNET
@click.option("--include-diagnose", is_flag=True,
              help="Also run Azure's workspace diagnose (a long-running, read-only POST; waited for up to --timeout).")
@click.option("--save-snapshot", type=click.Path(dir_okay=False), help="Write every fact read to FILE (JSON, no secrets).")
@click.option("--snapshot", "snapshot_path", type=click.Path(dir_okay=False), help="Replay a saved snapshot: no network at all.")
@click.option("--example", is_flag=True,
              help="Replay the bundled example (a broken workspace, shipped with moediag): no network, no credentials.")
@DEBUG
def check_command(subscription, resource_group, workspace_name, endpoints, deployment_name, select, ignore, outputs,
                  timeout, total_timeout, max_concurrency, cloud, arm_endpoint, arm_rate, dns_servers, azure_dns, logs,
                  include_diagnose, save_snapshot, snapshot_path, example, debug, fail_on, config_path, redact,
                  verbose, client_vnets) -> None:
    """Run the checks against a workspace and its online endpoints.

    \b
    Examples:
      moediag check -g rg-ml -w ws-prod                     # every endpoint of the workspace
      moediag check -g rg-ml -w ws-prod -e ep-main -o json  # one endpoint, the JSON report on stdout
      moediag check --example                               # the bundled broken workspace, offline
    """
    from moediag import session
    from moediag import snapshot as snapshots

    redactor = _start(debug, redact)
    try:
        snapshot_path = arguments.snapshot_path(snapshot_path, example)
        formats, checks, config = _selection(outputs, select, ignore, config_path)
        suppressions = config.suppressions
        arguments.paths(formats, [(f"--save-snapshot {save_snapshot}", save_snapshot)] if save_snapshot else [],
                     [(f"--snapshot {snapshot_path}", snapshot_path), (f"--config {config_path}", config_path)])
        request = session.CheckRequest(
            checks, subscription=subscription, resource_group=resource_group, workspace=workspace_name,
            endpoints=tuple(endpoints), deployment=deployment_name, timeout=timeout, total_timeout=total_timeout,
            max_concurrency=max_concurrency, arm_endpoint=arm_endpoint, dns_servers=tuple(dns_servers),
            azure_dns=azure_dns, logs=LOG_MODES[logs], include_diagnose=include_diagnose, snapshot_path=snapshot_path,
            save_snapshot=bool(save_snapshot), cloud=cloud, arm_rate=arm_rate,
            # moediag.toml's client VNets are for live reads; the flag with a snapshot is refused
            client_vnets=tuple(client_vnets) + (() if snapshot_path else config.client_vnets))
        with _progress() as progress:
            result = session.check(request, progress, on_pacing=progress.pacing if progress else None)
        result.report, result.snapshot = session.for_output(result.report, result.snapshot, suppressions, redactor)
        if save_snapshot and result.snapshot is not None:
            snapshots.write_json(save_snapshot, result.snapshot)
        _write_outputs(result.report, formats, verbose)
    except (UsageError, TargetUnreadable) as exc:
        _fail(redactor.text(str(exc)) if redactor else str(exc))
        return

    _exit(result.report, fail_on)


@cli.command("scan")
@click.option("-s", "--subscription", "subscriptions", multiple=True, metavar="ID",
              help="Scan these subscriptions (repeatable or comma-separated). Default: every subscription the "
                   "identity can see.")
@click.option("--management-group", "management_groups", multiple=True, metavar="NAME",
              help="Scan the subscriptions under these management groups (repeatable or comma-separated).")
@REPORTING
@click.option("--timeout", type=_Seconds(1, 7200), default=300.0, show_default=True,
              help="Seconds each workspace may take, counted from when it starts (the inventory gets as long); "
                   "evidence not read by then is reported as an error.")
@click.option("--total-timeout", type=_Seconds(1, 86400), default=None, metavar="SECONDS",
              help="Seconds the whole scan may take, inventory included; workspaces not started by then are reported "
                   "as not evaluated (exit 3).")
@MAX_CONCURRENCY
@click.option("--max-per-subscription", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Requests in flight to any one subscription (Resource Manager throttles per subscription).")
@click.option("--max-workspaces", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Workspaces checked at once.")
@READING
@CLIENT_VNET
@click.option("--save-snapshot", type=click.Path(dir_okay=False),
              help="Write every fact read, and the Resource Graph inventory, to FILE (JSON, no secrets).")
@click.option("--snapshot", "snapshot_path", type=click.Path(dir_okay=False),
              help="Replay a saved scan snapshot: no network at all.")
@DEBUG
def scan_command(subscriptions, management_groups, select, ignore, outputs, fail_on, config_path, redact, verbose, timeout,
                 total_timeout, max_concurrency, max_per_subscription, max_workspaces, cloud, arm_endpoint, arm_rate,
                 dns_servers, azure_dns, logs, client_vnets, save_snapshot, snapshot_path, debug) -> None:
    """Find the workspaces in scope with Azure Resource Graph and run the checks on each: one aggregate report.

    \b
    Examples:
      moediag scan                                  # every workspace the credential can read
      moediag scan -s SUB1 -s SUB2 -o jsonl=fleet.jsonl -o markdown=fleet.md
      moediag scan --management-group platform --fail-on warn
      moediag scan -s SUB1 --save-snapshot fleet.snapshot.json   # replay it offline: scan --snapshot FILE
    """
    from moediag import scan as scans
    from moediag import snapshot as snapshots
    from moediag.render import FORMATS
    from moediag.render.jsonl import Stream
    from moediag.session import for_output
    from moediag.target import Options

    redactor = _start(debug, redact)
    streams: list = []
    try:
        formats, checks, config = _selection(outputs, select, ignore, config_path, choices=(*FORMATS, "jsonl"))
        suppressions = config.suppressions
        arguments.paths(formats, [(f"--save-snapshot {save_snapshot}", save_snapshot)] if save_snapshot else [],
                        [(f"--snapshot {snapshot_path}", snapshot_path), (f"--config {config_path}", config_path)])
        scope = arguments.scope(subscriptions, management_groups)
        if snapshot_path:
            arguments.no_client_vnets_with_snapshot(client_vnets)
            data = snapshots.load(snapshot_path, "scan")
            arguments.same_scope(data["scope"], scope)
            arguments.snapshot_cloud(data.get("options") or {}, cloud)
        else:
            run_cloud = arguments.cloud(cloud, arm_endpoint)
            options = Options(dns_servers=arguments.dns_servers(dns_servers), azure_dns=arguments.azure_dns(azure_dns),
                              client_vnets=arguments.client_vnets(tuple(client_vnets), config.client_vnets),
                              timeout_s=timeout, logs=LOG_MODES[logs], cloud=run_cloud)
            endpoint = arguments.arm_endpoint(arm_endpoint, run_cloud)
            rate = arguments.arm_rate(arm_rate)
        # -o jsonl: a line per workspace as it finishes, so a scan cut short still leaves what it finished
        streams = [Stream(path, suppressions, redactor) for fmt, path in formats if fmt == "jsonl"]
        formats = [(fmt, path) for fmt, path in formats if fmt != "jsonl"]
        common = {"parallel_workspaces": max_workspaces, "total_timeout_s": total_timeout,
                  "save_snapshot": bool(save_snapshot), "on_done": _each(streams)}
        with _progress("workspace(s)") as progress:
            if snapshot_path:
                result = scans.replay(data, checks, timeout_s=timeout, progress=progress, **common)
            else:
                result = scans.run(checks, options, scope, arm_endpoint=endpoint, max_concurrency=max_concurrency,
                                   max_per_subscription=max_per_subscription, progress=progress, **common,
                                   arm_rate=rate, on_pacing=progress.pacing if progress else None)
        report, snapshot = for_output(result.report, result.snapshot, suppressions, redactor)
        if save_snapshot and snapshot is not None:
            snapshots.write_json(save_snapshot, snapshot)
        _write_outputs(report, formats, verbose)
    except (UsageError, TargetUnreadable) as exc:
        _fail(redactor.text(str(exc)) if redactor else str(exc))
        return
    finally:
        for stream in streams:
            stream.close()

    _exit(report, fail_on)


def _each(callbacks: list):
    """One callback calling each of `callbacks` (None when there are none)."""
    if not callbacks:
        return None
    return lambda item: [callback(item) for callback in callbacks]


def _start(debug: bool, redact: bool):
    """--debug logging on (else the Azure SDKs say nothing: what went wrong is moediag's one line), and the --redact
    masker (or None)."""
    import logging

    azure = logging.getLogger("azure")
    if debug:
        azure.propagate = True
        _enable_debug_logging()
    else:
        azure.propagate = False  # azure-identity logs each credential it tried at WARNING: Python would print them
        if not any(isinstance(h, logging.NullHandler) for h in azure.handlers):
            azure.addHandler(logging.NullHandler())
    return _redactor(redact)


def _selection(outputs, select, ignore, config_path, choices: tuple[str, ...] | None = None) -> tuple[list, list, object]:
    """The output formats (of `choices`, default every renderer's), the checks to run and moediag.toml (suppressions,
    client VNets): UsageError for any."""
    from moediag import registry, suppress

    arguments.docs_base()
    return arguments.outputs(outputs, choices), registry.select(select, ignore), suppress.load_config(config_path)


@contextlib.contextmanager
def _progress(noun: str = "check(s)"):
    """The progress line on stderr while evidence is collected (only on a terminal), else None."""
    printer = _progress_printer(noun) if sys.stderr.isatty() else None
    try:
        yield printer
    finally:
        if printer:
            printer.close()


def _exit(report: dict, fail_on: str) -> None:
    from moediag.report import exit_code

    if report.get("interrupted"):
        sys.exit(_interrupted_code())
    sys.exit(exit_code(report, fail_on))


def _redactor(redact: bool):
    """Secrets are always scrubbed; ids and e-mail addresses only with --redact."""
    from moediag.redact import from_environment

    return from_environment(ids=redact)


def _write_outputs(report: dict, formats: list[tuple[str, str | None]], verbose: bool = False) -> None:
    """Every output, each whole or not at all; one that cannot be written does not stop the others (then
    UsageError). Standard output closed by its reader (`| head`) is not an error: the rest is written."""
    from moediag.render import JSON_FORMATS, render_as
    from moediag.snapshot import write_text

    problems = []
    for fmt, path in formats:
        if path:
            try:
                write_text(path, render_as(fmt, report, False, width=_width(None), verbose=verbose),
                           json_text=fmt in JSON_FORMATS)
            except UsageError as exc:
                problems.append(str(exc))
        else:
            color = _color(sys.stdout)  # click strips colour off a pipe unless told: FORCE_COLOR tells it
            _echo_stdout(render_as(fmt, report, color, width=_width(sys.stdout), verbose=verbose),
                         json_text=fmt in JSON_FORMATS, color=color)
    if problems:
        more = f" (and {len(problems) - 1} more output(s) not written)" if len(problems) > 1 else ""
        raise UsageError(problems[0] + more)


def _echo_stdout(text: str, *, json_text: bool = False, color: bool | None = None) -> None:
    """`text` on standard output in its encoding, what the encoding cannot carry escaped (moediag.snapshot.encode)."""
    from moediag.snapshot import encode

    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        click.echo(encode(text, encoding, json_text=json_text).decode(encoding), nl=False, color=color)
    except BrokenPipeError:
        _stdout_gone()


def _echo(text: str) -> None:
    """A line on standard output (`list`, `explain`, `permissions`), as `_echo_stdout` writes it."""
    _echo_stdout(text + "\n")


def _stdout_gone() -> None:
    """The reader of standard output went away: what is still buffered for it, and anything written later, goes
    to /dev/null, so the interpreter does not complain at exit ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test's captured stream)
        pass


class _progress_printer:
    """Which checks (or workspaces, for a scan) are still waiting for evidence: one line on stderr, rewritten in
    place, only on a terminal (and cleared at the end, so the report starts on a clean screen)."""

    def __init__(self, noun: str = "check(s)") -> None:
        import threading

        self._noun = noun
        self._lock = threading.Lock()
        self._shown = ""
        self._text, self._pacing = "collecting evidence…", None
        self._show()

    def __call__(self, pending: list[str]) -> None:
        from moediag.render.inert import inert

        shown = ", ".join(pending[:4]) + (f" and {len(pending) - 4} more" if len(pending) > 4 else "")
        self._text = inert(f"waiting for {len(pending)} {self._noun}: {shown}") if pending else "done"
        self._show()

    def pacing(self, text: str | None) -> None:
        """The run is pacing its reads ("pacing: sub …1234 at 25/s"; None: no longer): shown first on the line."""
        from moediag.render.inert import inert

        self._pacing = inert(text) if text else None
        self._show()

    def _show(self) -> None:
        width = max(20, _width(sys.stderr) - 1)
        text = f"{self._pacing} · {self._text}" if self._pacing else self._text
        line = text if len(text) <= width else text[: width - 1] + "…"
        with self._lock:
            if line != self._shown:
                self._shown = line
                sys.stderr.write(f"\r\x1b[2K{line}")
                sys.stderr.flush()

    def close(self) -> None:
        with self._lock:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def _enable_debug_logging() -> None:
    import logging

    from moediag.redact import LogScrubber

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(LogScrubber())  # debug output is output too: no secret in it
    # One line per request attempt (method, path, status, time: moediag.arm), so a retry shows as a second line;
    # azure-core's multi-line request and response dumps stay off.
    logging.getLogger("moediag").setLevel(logging.DEBUG)


@cli.command("render")
@click.argument("report_path", metavar="REPORT.json")
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=PATH]",
              help=OUTPUT_HELP)
@click.option("--redact", is_flag=True, help="Mask ids and secrets first (as `check --redact` does).")
@VERBOSE
def render_command(report_path: str, outputs: tuple[str, ...], redact: bool, verbose: bool) -> None:
    """Render a saved JSON report (`-` reads standard input) again, without touching Azure.

    Each format comes out byte for byte as `moediag check` wrote it from the same report.

    \b
    Examples:
      moediag render moediag.json -o markdown=ticket.md
      moediag render - -o table < report.json
    """
    from moediag.report import load

    redactor = _redactor(redact)
    try:
        formats = arguments.outputs(outputs)
        arguments.paths(formats, [], [(f"the report {report_path}", report_path)] if report_path != "-" else [])
        report = load(report_path)
        _write_outputs(redactor(report) if redactor else report, formats, verbose)
    except UsageError as exc:
        _fail(str(exc))


@cli.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the report (`-o json`), the contract support tooling parses.

    \b
    Examples:
      moediag schema > report.schema.json
    """
    from pathlib import Path

    _echo_stdout(Path(data_file("report.schema.json")).read_text(encoding="utf-8"))


@cli.command("diff")
@click.argument("old_path", metavar="OLD")
@click.argument("new_path", metavar="NEW")
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=PATH]",
              help="table, json or markdown, to stdout or to PATH (repeatable; at most one to stdout).")
@SELECT
@IGNORE
def diff_command(old_path: str, new_path: str, outputs: tuple[str, ...], select, ignore) -> None:
    """What changed between two reports or two snapshots (of a check or a scan): verdicts that changed, worse
    first, with the evidence fields that changed; resources that appeared or disappeared.

    Snapshots are replayed offline (every selected check), so a diff of two snapshots also shows what changed
    in the bodies each changed check read. Exit 1 when a verdict got worse, else 0; 2 for input it cannot read.

    \b
    Examples:
      moediag diff yesterday.snapshot.json today.snapshot.json
      moediag diff before.json after.json -o markdown=diff.md
    """
    from moediag import diff as diffs
    from moediag import registry
    from moediag.render import diffs as views

    renderers = {"table": views.table, "json": views.as_json, "markdown": views.markdown}
    try:
        formats = arguments.outputs(outputs, choices=tuple(renderers))
        arguments.paths(formats, [], [("OLD", old_path), ("NEW", new_path)])
        checks = registry.select(select, ignore)
        (old, old_facts), (new, new_facts) = diffs.load_side(old_path, checks), diffs.load_side(new_path, checks)
        report = diffs.diff(old, new, old_facts, new_facts, {c.id: c.facts for c in checks})
        redactor = _redactor(False)
        report = redactor(report)
        _write_with(report, formats, renderers)
    except UsageError as exc:
        _fail(str(exc))
        return
    sys.exit(diffs.exit_code(report))


def _write_with(report: dict, formats: list[tuple[str, str | None]], renderers: dict) -> None:
    """A report that is not a check or scan report (a diff), in the formats its own renderers give."""
    from moediag.snapshot import write_text

    for fmt, path in formats:
        if path:
            write_text(path, renderers[fmt](report, False), json_text=fmt == "json")
        else:
            color = _color(sys.stdout)
            _echo_stdout(renderers[fmt](report, color), json_text=fmt == "json", color=color)


@cli.command("mcp")
@CLOUD
@click.option("--arm-endpoint", metavar="URL",
              help="Resource Manager URL every check_workspace call reads (and sends the token to). "
                   "Env: MOEDIAG_ARM_ENDPOINT.")
@DNS_SERVER
@AZURE_DNS
@MAX_CONCURRENCY
@click.option("--redact", is_flag=True, help="Mask ids and e-mail addresses in every tool's reply, whatever the call asks.")
@DEBUG
def mcp_command(cloud, arm_endpoint, dns_servers, azure_dns, max_concurrency, redact, debug) -> None:
    """Serve the Model Context Protocol over stdio for assistants: read-only tools list_checks, explain_check,
    check_workspace, render_report and diff_reports (README, "Assistants (MCP)").

    Where requests go is set here, not by the assistant: a tool call cannot change the cloud, the Resource Manager
    endpoint or the DNS servers. Needs the MCP SDK: pip install 'moediag[mcp]'.

    \b
    Examples:
      moediag mcp                                # in an MCP client's config: {"command": "moediag", "args": ["mcp"]}
      moediag mcp --redact --dns-server 10.0.0.4 # ids masked in every reply; DNS asked of the hub's resolver
    """
    _start(debug, False)
    try:
        from moediag import mcp_server
    except ModuleNotFoundError as exc:
        if exc.name not in ("mcp", "pydantic") and not str(exc.name).startswith("mcp."):
            raise
        _fail("moediag mcp needs the MCP Python SDK: pip install 'moediag[mcp]'")
        return
    try:
        arguments.docs_base()  # the reports' links: a bad MOEDIAG_DOCS_BASE is one line before serving
        run_cloud = arguments.cloud(cloud, arm_endpoint)
        options = mcp_server.ServerOptions(arguments.arm_endpoint(arm_endpoint, run_cloud),
                                           arguments.dns_servers(dns_servers), arguments.azure_dns(azure_dns),
                                           max_concurrency, redact, cloud=cloud)
    except UsageError as exc:
        _fail(str(exc))
        return
    mcp_server.serve(options, debug)


@cli.command("list")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_command(output: str) -> None:
    """List the registered checks.

    \b
    Examples:
      moediag list
      moediag list -o json | jq -r '.[].id'
    """
    from moediag import registry

    checks = registry.all_checks().values()
    if output == "json":
        import json

        _echo(json.dumps(registry.listing(), indent=2))
        return
    width = max((len(c.id) for c in checks), default=10)
    for c in checks:
        _echo(f"{c.id.ljust(width)}  {c.severity:<8}  {c.scope:<10}  {c.title}")


@cli.command("explain")
@click.argument("check_id")
def explain_command(check_id: str) -> None:
    """What a check verifies, why it breaks the endpoint, how to fix it, and what it needs.

    \b
    Examples:
      moediag explain keyvault.trusted-services-bypass
      moediag explain dns.zone-link     # a near miss suggests the closest ids
    """
    from moediag import registry
    from moediag.docs import render_check_doc

    try:
        chk = registry.lookup(check_id)
    except UsageError as exc:
        _fail(str(exc))
        return
    _echo_stdout(render_check_doc(chk))


@cli.command("permissions")
@click.option("--select", multiple=True, metavar="PREFIX", help="Only the actions these checks need (repeatable).")
@click.option("--ignore", multiple=True, metavar="PREFIX", help="Leave these checks out (repeatable).")
@click.option("-o", "--output", type=click.Choice(["list", "json", "role"]), default="list", show_default=True,
              help="list: one action per line; json: per check; role: a custom role definition for az.")
@click.option("-s", "--subscription", help="Assignable scope of the role (default: as for check).")
@click.option("--scan", "for_scan", is_flag=True,
              help="Also what `moediag scan` needs: Microsoft.ResourceGraph/resources/read, to find the fleet.")
def permissions_command(select, ignore, output, subscription, for_scan) -> None:
    """The Azure actions the selected checks need (least privilege).

    \b
    Examples:
      moediag permissions
      moediag permissions --select dns -o role -s SUB > role.json   # a custom role to create with az role definition create
    """
    import json

    from moediag import permissions, registry

    try:
        checks = registry.select(select, ignore)
        if output == "role":
            from moediag.target import az_default_subscription

            sub = subscription or os.environ.get("AZURE_SUBSCRIPTION_ID") or az_default_subscription()
            _echo(json.dumps(permissions.role_definition(checks, sub, scan=for_scan), indent=2))
        elif output == "json":
            per_check = {c.id: c.permissions for c in checks}
            _echo(json.dumps({**per_check, **({"scan": permissions.SCAN_ACTIONS} if for_scan else {})}, indent=2))
        else:
            for action in permissions.actions_for(checks, scan=for_scan):
                _echo(f"{action}  ({permissions.builtin_role_for(action)})")
    except UsageError as exc:
        _fail(str(exc))


_NO_HANDLER = object()


def _on_sigterm(signum, frame) -> None:
    """SIGTERM (a CI job cancelled, a container stopped) is handled like Ctrl-C: the run stops, the requested
    reports are written marked interrupted, and the exit code says which signal it was (143)."""
    _TERMINATED.append(signum)
    raise KeyboardInterrupt


def _interrupted_code() -> int:
    return EXIT_TERMINATED if _TERMINATED else EXIT_INTERRUPTED


def _interrupted() -> None:
    click.echo("moediag: terminated" if _TERMINATED else "moediag: interrupted", err=True)
    sys.exit(_interrupted_code())


def main() -> None:
    import signal

    _TERMINATED.clear()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an in-process caller): signals are its business
        previous = _NO_HANDLER
    try:
        code = cli.main(standalone_mode=False, prog_name="moediag")
        sys.exit(code if isinstance(code, int) else 0)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "moediag"
        _fail(f"{exc.format_message()} (see `{command} --help`)")
    except (click.Abort, KeyboardInterrupt):
        _interrupted()
    except click.ClickException as exc:
        _fail(exc.format_message())
    finally:
        if previous is not _NO_HANDLER:
            signal.signal(signal.SIGTERM, previous)  # in-process callers (tests) get their handler back


if __name__ == "__main__":
    main()

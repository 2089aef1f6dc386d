"""`moediag mcp`: the Model Context Protocol over stdio, so an assistant can triage with moediag.

Five read-only tools, each the CLI command of the same purpose without its files:

- `list_checks` (`moediag list -o json`), `explain_check` (`moediag explain`);
- `check_workspace` (`moediag check ... -o json`): the same request (session.CheckRequest), validated by the same
  code (moediag.arguments, moediag.target), run by the same engine, finished by the same suppressions and
  redaction (session.for_output); the JSON report comes back as structured content and as the JSON text
  `-o json` writes;
- `render_report` (`moediag render`) and `diff_reports` (`moediag diff`): reports (or snapshots, for a diff) given
  inline as JSON objects or as paths of saved files.

The rules are the CLI's. A bad argument, an unknown workspace or a missing credential is a tool error whose text
is the CLI's one line (`moediag: error: ...`), never a traceback. Secrets are always scrubbed, ids masked with
`redact` (or for every tool with `moediag mcp --redact`). Nothing is written: no tool takes an output path or
saves a snapshot. Where requests go (the Resource Manager endpoint, which receives the token; DNS servers) is
the server's own configuration, from its flags and MOEDIAG_ARM_ENDPOINT, never a tool argument: an assistant
reads untrusted text (tickets, web pages, logs), and a tool argument that chose a destination would let that
text choose where the token goes. Standard output belongs to the protocol: the SDK points file descriptor 1 at
standard error while it serves, and moediag logs only to standard error.

The SDK (`pip install 'moediag[mcp]'`) is imported only by `moediag mcp`, never by the other commands.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from moediag import __version__
from moediag.errors import TargetUnreadable, UsageError, one_line
from moediag.render import FORMATS

INSTRUCTIONS = (
    "moediag diagnoses Azure Machine Learning managed online endpoints in network-isolated workspaces (private "
    "endpoints, private DNS, managed VNet, identities, storage, registries). Start with check_workspace; each "
    "failure names the resource, what was expected, what was seen and a fix. explain_check tells what a check "
    "verifies and how to fix it. Every tool only reads."
)
RenderFormat = Literal[FORMATS]  # the formats of `moediag render -o` (sarif too, where this moediag has it)


@dataclass(frozen=True)
class ServerOptions:
    """What the person who configured the server chose (`moediag mcp` flags): where requests go, and whether
    every report is redacted whatever a tool call asks."""

    arm_endpoint: str | None = None
    dns_servers: tuple[str, ...] = ()
    azure_dns: str | None = None
    max_concurrency: int = 16
    redact: bool = False
    cloud: str | None = None


Strings = Annotated[list[str] | None, Field(description="Check ids or id prefixes, e.g. dns or workspace.v1-legacy-mode")]
ReportInput = Annotated[dict[str, Any] | str, Field(
    description="A moediag report as returned by check_workspace (the JSON object), or the path of a saved one")]
SideInput = Annotated[dict[str, Any] | str, Field(
    description="A moediag report or snapshot (the JSON object), or the path of a saved one")]
Redact = Annotated[bool, Field(description="Also mask subscription, tenant and principal ids and e-mail addresses "
                                           "(secrets are always masked)")]


class Tools:
    """The tools, as plain methods: each returns a CallToolResult (a result, or the CLI's one-line error)."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options

    def list_checks(self, select: Strings = None, ignore: Strings = None) -> CallToolResult:
        """Every check moediag runs: id, severity, scope and title (what `moediag list -o json` prints)."""
        from moediag import registry

        def listing() -> dict[str, Any]:
            chosen = {c.id for c in registry.select(select or (), ignore or ())}
            return {"checks": [row for row in registry.listing() if row["id"] in chosen]}

        return self._reply(listing)

    def explain_check(self, check_id: Annotated[str, Field(description="A check id, e.g. dns.zone-vnet-link")]
                      ) -> CallToolResult:
        """What a check verifies, why it breaks the endpoint, how to fix it and the Azure permissions it needs
        (Markdown, as `moediag explain` prints it)."""
        from moediag import registry
        from moediag.docs import render_check_doc

        return self._reply(lambda: render_check_doc(registry.lookup(check_id)))

    def check_workspace(
        self,
        subscription: Annotated[str | None, Field(description="Subscription id (default: AZURE_SUBSCRIPTION_ID, then az's default)")] = None,
        resource_group: Annotated[str | None, Field(description="Resource group of the workspace (default: az configure --defaults group=)")] = None,
        workspace: Annotated[str | None, Field(description="Workspace name (default: az configure --defaults workspace=)")] = None,
        endpoints: Annotated[list[str] | None, Field(description="Online endpoints to check (default: all)")] = None,
        deployment: Annotated[str | None, Field(description="Only this deployment of the endpoints")] = None,
        client_vnets: Annotated[list[str] | None, Field(
            description="Client virtual network ids whose scoring path to analyse from configuration (default: the "
                        "VNets linked to the private zone and the private endpoint's VNet)")] = None,
        select: Strings = None,
        ignore: Strings = None,
        timeout: Annotated[float, Field(ge=1, le=3600, description="Seconds the whole run may take")] = 60.0,
        logs: Annotated[Literal["auto", "all", "none"], Field(
            description="Container logs to read: auto (only unhealthy deployments), all, none")] = "auto",
        include_diagnose: Annotated[bool, Field(description="Also run Azure's workspace diagnose (a long-running, read-only POST)")] = False,
        snapshot: Annotated[str | None, Field(description="Replay the snapshot saved at this path (no network)")] = None,
        example: Annotated[bool, Field(description="Replay the bundled example, a broken workspace (no network, no credentials)")] = False,
        config: Annotated[str | None, Field(description="Suppressions file (TOML; default: ./moediag.toml of the server when it exists)")] = None,
        redact: Redact = False,
    ) -> CallToolResult:
        """Run moediag's checks on a workspace and its online endpoints, read live from Azure Resource Manager
        (read-only) or replayed from a snapshot: the JSON report of `moediag check -o json` (summary, results
        with evidence and fixes, diagnosis)."""
        from moediag import arguments, registry, session, suppress

        redactor = self._redactor(redact)

        def run() -> dict[str, Any]:
            path = arguments.snapshot_path(snapshot, example)
            checks, suppressions = registry.select(select or (), ignore or ()), suppress.load(config)
            where = self.options  # where requests go: the server's configuration, never the call's
            request = session.CheckRequest(
                checks, subscription=subscription, resource_group=resource_group, workspace=workspace,
                endpoints=tuple(endpoints or ()), deployment=deployment, client_vnets=tuple(client_vnets or ()),
                timeout=timeout, logs=logs,
                include_diagnose=include_diagnose, snapshot_path=path, max_concurrency=where.max_concurrency,
                arm_endpoint=where.arm_endpoint, dns_servers=where.dns_servers, azure_dns=where.azure_dns,
                cloud=where.cloud)
            report, _ = session.for_output(session.check(request).report, None, suppressions, redactor)
            return report

        return self._reply(run, redactor)

    def render_report(
        self,
        report: ReportInput,
        format: Annotated[RenderFormat, Field(description="Output format, as `moediag render -o FORMAT`")] = "markdown",
        verbose: Annotated[bool, Field(description="The table lists every pass and skip too")] = False,
        redact: Redact = False,
    ) -> CallToolResult:
        """A moediag report rendered as `moediag render -o FORMAT` writes it (table, markdown, junit, json...)."""
        from moediag.render import render_as
        from moediag.report import checked

        redactor = self._redactor(redact)

        def render() -> str:
            return render_as(format, redactor(checked(*_loaded(report, "report"))), False, width=100, verbose=verbose)

        return self._reply(render, redactor)

    def diff_reports(
        self,
        old: SideInput,
        new: SideInput,
        format: Annotated[Literal["json", "table", "markdown"], Field(description="Output format")] = "json",
        select: Strings = None,
        ignore: Strings = None,
        redact: Redact = False,
    ) -> CallToolResult:
        """What changed between two reports or two snapshots (as `moediag diff`): verdicts that changed, worse
        first, with the evidence that changed; resources that appeared or disappeared."""
        from moediag import diff as diffs
        from moediag import registry
        from moediag.render import diffs as views

        redactor = self._redactor(redact)
        renderers = {"table": views.table, "json": views.as_json, "markdown": views.markdown}

        def run() -> dict[str, Any] | str:
            checks = registry.select(select or (), ignore or ())
            (before, old_facts), (after, new_facts) = (diffs.side(*_loaded(old, "old"), checks),
                                                       diffs.side(*_loaded(new, "new"), checks))
            report = redactor(diffs.diff(before, after, old_facts, new_facts, {c.id: c.facts for c in checks}))
            return report if format == "json" else renderers[format](report, False)

        return self._reply(run, redactor)

    # --- replies ---------------------------------------------------------------------------------------------

    def _redactor(self, redact: bool):
        from moediag.redact import from_environment

        return from_environment(ids=redact or self.options.redact)

    def _reply(self, produce, redactor=None) -> CallToolResult:
        """What `produce()` returns as the tool's result: a dict as structured content and the JSON text `-o json`
        writes, a string as text; a UsageError or TargetUnreadable as a tool error, the CLI's one line."""
        try:
            value = produce()
        except (UsageError, TargetUnreadable) as exc:
            message = redactor.text(str(exc)) if redactor is not None else str(exc)
            return CallToolResult(content=[TextContent(type="text", text=f"moediag: error: {one_line(message)}")],
                                  is_error=True)
        if isinstance(value, str):
            return CallToolResult(content=[TextContent(type="text", text=wire_safe(value))])
        from moediag.render.json import render

        return CallToolResult(content=[TextContent(type="text", text=wire_safe(render(value)))],
                              structured_content=wire_safe(value))


def _loaded(value: dict[str, Any] | str, what: str) -> tuple[Any, str]:
    """(parsed JSON, its name in messages) of a tool's report argument: the object given, or the file at a path."""
    from moediag.inputs import MAX_DEPTH, parse_json, read_text, too_deep

    if isinstance(value, str):
        if value == "-":
            raise UsageError(f"{what}: give a report object or a file path (the server's standard input is the protocol)")
        return parse_json(read_text(value, value), value, max_depth=MAX_DEPTH + 8), value
    if too_deep(value, MAX_DEPTH + 8):
        raise UsageError(f"the {what} given is nested more than {MAX_DEPTH + 8} levels deep")
    return value, f"the {what} given"


def wire_safe(value: Any) -> Any:
    """`value` with every lone surrogate (evidence can hold them: a `\\udc80` escape in an Azure body) written as
    its escape: the protocol's UTF-8 JSON cannot carry one, and one such string would fail the whole reply."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8") if _has_surrogate(value) else value
    if isinstance(value, dict):
        return {wire_safe(k): wire_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_safe(v) for v in value]
    return value


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)
TOOLS = {  # name -> (title, reaches Azure: an "open world")
    "list_checks": ("List moediag checks", False),
    "explain_check": ("Explain a moediag check", False),
    "check_workspace": ("Check an Azure ML workspace's online endpoints", True),
    "render_report": ("Render a moediag report", False),
    "diff_reports": ("Diff two moediag reports or snapshots", False),
}


def build(options: ServerOptions, log_level: str = "WARNING") -> MCPServer:
    """The server with its five tools, each annotated read-only."""
    server = MCPServer("moediag", version=__version__, instructions=INSTRUCTIONS, log_level=log_level)
    tools = Tools(options)
    for name, (title, open_world) in TOOLS.items():
        annotations = READ_ONLY.model_copy(update={"title": title, "open_world_hint": open_world})
        server.add_tool(getattr(tools, name), name=name, title=title, annotations=annotations)
    return server


def serve(options: ServerOptions, debug: bool = False) -> None:
    """Serve over stdio until the client closes standard input."""
    build(options, "DEBUG" if debug else "WARNING").run("stdio")
    sys.stderr.flush()


__all__ = ["ServerOptions", "Tools", "build", "serve", "wire_safe"]

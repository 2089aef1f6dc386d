"""`moediag mcp` as an assistant meets it: the official MCP SDK's own client launches the server over stdio (one
process for the module, the network guard on inside it) against the ARM test bed, lists the tools, runs a check,
parses the report. Error paths that need no protocol run the same tools in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from armbed import ArmTestBed, broken
from moe import check, moediag, quiet_dns, validate_report
from netguard import subprocess_env

if TYPE_CHECKING:
    from mcp import Client

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "broken-workspace.snapshot.json")
TOOLS = {"list_checks", "explain_check", "check_workspace", "render_report", "diff_reports"}


class Server:
    """A `moediag mcp` process and the SDK's client connected to it over stdio, called from synchronous tests."""

    def __init__(self, portal, client: Client) -> None:
        self.portal, self.client = portal, client

    def call(self, tool: str, **arguments):
        return self.portal.call(self.client.call_tool, tool, arguments)

    def tools(self):
        return self.portal.call(self.client.list_tools).tools


@pytest.fixture(scope="module")
def bed():
    with ArmTestBed() as bed:
        yield bed
        assert bed.errors == [], "the bed itself crashed:\n" + "\n".join(bed.errors)


@pytest.fixture(scope="module")
def scenario(bed):
    return broken().install(bed)


@pytest.fixture(scope="module")
def server(bed):
    # The SDK is imported here, not at the top: a second of imports only the worker that runs these tests pays.
    import anyio.from_thread
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    with tempfile.NamedTemporaryFile("r", suffix=".netguard.log") as guard_log, \
            tempfile.TemporaryFile("w+") as stderr, anyio.from_thread.start_blocking_portal() as portal:
        env = subprocess_env({**os.environ, **bed.env()}, guard_log.name)
        params = StdioServerParameters(command=sys.executable, args=["-m", "moediag", "mcp", "--dns-server", quiet_dns()],
                                       env=env)
        with portal.wrap_async_context_manager(Client(stdio_client(params, errlog=stderr), read_timeout_seconds=60)) as client:
            yield Server(portal, client)
        stderr.seek(0)
        logged = stderr.read()
        assert guard_log.read() == "", "moediag mcp tried to leave loopback"
    assert "Traceback" not in logged, logged


def text(result) -> str:
    [block] = result.content
    return block.text


def test_the_five_tools_are_listed_and_annotated_read_only(server):
    tools = {tool.name: tool for tool in server.tools()}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False, tool.name
        assert tool.description and tool.annotations.title
    assert tools["check_workspace"].annotations.open_world_hint is True  # it reads Azure; the others do not
    arguments = tools["check_workspace"].input_schema["properties"]
    assert {"subscription", "resource_group", "workspace", "endpoints", "select", "ignore", "timeout", "redact",
            "snapshot"} <= set(arguments)
    assert not {"arm_endpoint", "dns_server", "dns_servers", "save_snapshot", "output"} & set(arguments)


def test_an_unknown_workspace_is_a_tool_error_with_the_cli_line(server, bed, scenario):
    result = server.call("check_workspace", subscription=scenario.subscription_id,
                         resource_group=scenario.resource_group, workspace="nope")
    cli = moediag(bed, "check", "-s", scenario.subscription_id, "-g", scenario.resource_group, "-w", "nope")
    assert result.is_error and result.structured_content is None
    assert text(result) == cli.stderr.strip()
    assert text(result).startswith("moediag: error: workspace 'nope' not found")


def test_check_workspace_returns_the_json_report_the_cli_gives(server, bed, scenario):
    result = server.call("check_workspace", subscription=scenario.subscription_id,
                         resource_group=scenario.resource_group, workspace=scenario.workspace)
    assert not result.is_error, text(result)
    report = result.structured_content
    validate_report(report)
    assert json.loads(text(result)) == report  # the text is the JSON `-o json` writes
    cli = check(bed, scenario).report
    verdicts = {(r["check_id"], r["resource_id"]): r["status"] for r in report["results"]}
    assert verdicts == {(r["check_id"], r["resource_id"]): r["status"] for r in cli["results"]}
    assert report["summary"] == cli["summary"] and report["summary"]["fail"] > 0
    assert report["mode"] == "live" and report["target"]["workspace"] == scenario.workspace
    assert all(r.method == "GET" or r.path.endswith(("/getLogs", "/diagnose")) for r in bed.requests)


def test_explain_and_list_say_what_the_cli_says(server):
    assert text(server.call("explain_check", check_id="dns.zone-vnet-link")) == \
        moediag(None, "explain", "dns.zone-vnet-link").stdout
    unknown = server.call("explain_check", check_id="dns.zone-link")
    assert unknown.is_error and text(unknown) == moediag(None, "explain", "dns.zone-link").stderr.strip()
    listed = server.call("list_checks", select=["dns"]).structured_content["checks"]
    assert listed == [row for row in json.loads(moediag(None, "list", "-o", "json").stdout) if row["id"].startswith("dns.")]


def test_render_and_diff_take_reports_inline_or_by_path(server, tmp_path):
    report = server.call("check_workspace", example=True, redact=True).structured_content
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report))
    markdown = text(server.call("render_report", report=report, format="markdown"))
    assert markdown == moediag(None, "render", str(saved), "-o", "markdown").stdout
    assert "00000000-1111-2222-3333-444444444444" not in markdown  # redacted in the check, so in every rendering

    diff = server.call("diff_reports", old=EXAMPLE, new=report)
    assert not diff.is_error, text(diff)
    assert diff.structured_content["kind"] == "diff" and diff.structured_content["summary"]["worse"] == 0
    bad = server.call("render_report", report={"schema_version": "1.1"})
    assert bad.is_error and text(bad).startswith("moediag: error: report the report given is invalid: ")


# --- in this process: the same tools, no protocol ------------------------------------------------------------

@pytest.fixture
def tools():
    from moediag.mcp_server import ServerOptions, Tools

    return Tools(ServerOptions(dns_servers=("127.0.0.1:5399",)))


@pytest.mark.parametrize("arguments, line", [
    ({"subscription": "not-a-guid", "resource_group": "rg", "workspace": "ws"}, "moediag: error: malformed subscription id 'not-a-guid'"),
    ({"example": True, "snapshot": EXAMPLE}, "moediag: error: give --example or --snapshot, not both"),
    ({"example": True, "select": ["dns.zone-link"]}, "did you mean dns.zone-vnet-link?"),
    ({"snapshot": "/nonexistent/x.json"}, "moediag: error: cannot read snapshot /nonexistent/x.json"),
    ({"subscription": "00000000-1111-2222-3333-444444444444", "resource_group": "rg", "workspace": "ws",
      "client_vnets": ["/subscriptions/x/bad"]}, "moediag: error: bad --client-vnet '/subscriptions/x/bad'"),
])
def test_bad_arguments_are_tool_errors_with_the_cli_line(tools, arguments, line):
    result = tools.check_workspace(**arguments)
    assert result.is_error and line in text(result) and "\n" not in text(result)


def test_no_credential_at_all_is_a_tool_error_saying_how_to_log_in(tools, monkeypatch, tmp_path):
    monkeypatch.delenv("MOEDIAG_ACCESS_TOKEN", raising=False)
    for name, value in {"AZURE_TOKEN_CREDENTIALS": "dev", "PATH": str(tmp_path), "HOME": str(tmp_path),
                        "AZURE_CONFIG_DIR": str(tmp_path / "az"), "MOEDIAG_ARM_ENDPOINT": "https://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    from moediag.mcp_server import ServerOptions, Tools

    result = Tools(ServerOptions(arm_endpoint="https://127.0.0.1:9", dns_servers=("127.0.0.1:5399",))).check_workspace(
        subscription="00000000-1111-2222-3333-444444444444", resource_group="rg-ml", workspace="ws-prod", timeout=5)
    assert result.is_error and text(result).startswith("moediag: error: no Azure credential could get a token")
    assert "az login" in text(result) and "\n" not in text(result)


def test_server_redact_masks_ids_whatever_the_call_asks():
    from moediag.mcp_server import ServerOptions, Tools

    result = Tools(ServerOptions(redact=True)).check_workspace(example=True, redact=False)
    assert "00000000-1111-2222-3333-444444444444" not in text(result)
    assert result.structured_content["target"]["subscription_id"] != "00000000-1111-2222-3333-444444444444"


def test_evidence_with_a_lone_surrogate_still_makes_a_reply_the_protocol_can_carry():
    from mcp.types import CallToolResult

    from moediag.mcp_server import wire_safe

    reply = CallToolResult(content=[], structured_content=wire_safe({"name\udc80": ["ep\udc80"], "n": 1}))
    assert json.loads(reply.model_dump_json(by_alias=True))["structuredContent"] == {"name\\udc80": ["ep\\udc80"], "n": 1}


def test_without_the_sdk_it_says_how_to_install_it_in_one_line_and_exits_2(monkeypatch):
    import moediag as package

    monkeypatch.delattr(package, "mcp_server", raising=False)
    monkeypatch.delitem(sys.modules, "moediag.mcp_server", raising=False)
    monkeypatch.setitem(sys.modules, "mcp", None)
    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)  # imported by an earlier test: found first
    run = moediag(None, "mcp")
    assert run.code == 2
    assert run.stderr.strip() == "moediag: error: moediag mcp needs the MCP Python SDK: pip install 'moediag[mcp]'"


@pytest.mark.parametrize("args, env, line", [
    (["--arm-endpoint", "http://127.0.0.1:1"], {}, "moediag: error: --arm-endpoint must be an https:// URL"),
    (["--dns-server", "127.0.0.1:99999"], {}, "moediag: error: bad --dns-server '127.0.0.1:99999'"),
    ([], {"MOEDIAG_DOCS_BASE": "nope"}, "moediag: error: MOEDIAG_DOCS_BASE must be an http(s):// URL"),
])
def test_bad_server_options_are_one_line_before_serving(args, env, line):
    run = moediag(None, "mcp", *args, env=env)
    assert run.code == 2 and run.stderr.strip().startswith(line) and len(run.stderr.strip().splitlines()) == 1


def test_no_other_command_imports_the_sdk():
    program = ("import sys\nfrom moediag.cli import main\n"
               "for argv in (['--version'], ['list'], ['mcp', '--help']):\n"
               "    sys.argv = ['moediag', *argv]\n"
               "    try: main()\n"
               "    except SystemExit: pass\n"
               "heavy = [m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'pydantic', 'anyio')]\n"
               "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", program], check=True, capture_output=True, timeout=30)

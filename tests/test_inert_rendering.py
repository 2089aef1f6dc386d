"""Untrusted text is rendered inert: whatever a resource name, an Azure message, a log line or a fix holds, the
table (colour on and off) and the Markdown carry no control character, escape sequence or bidi override from it,
the Markdown and its Mermaid picture keep their structure, JUnit stays valid XML, and JSON parses back to the
same report.

Reports are built in process with hostile text in every field a renderer prints, and compared with the same
report built with a benign word in its place: the document must have the same shape.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from moe import moediag
from moediag.engine import TargetRun
from moediag.model import Fix, Reason, Result, Status
from moediag.render import renderer
from moediag.render.inert import inert
from moediag.render.markdown import _cell, _code, _text
from moediag.render.mermaid import _label
from moediag.render.sarif import _plain as _sarif_text
from moediag.report import build_report, finish
from moediag.shell import command
from moediag.target import Target

EXAMPLES = int(os.environ.get("MOEDIAG_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
SUB = "00000000-1111-2222-3333-444444444444"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # click.style's own sequences: the only escapes the coloured table may hold
# What must never be printed raw (the layout's own newline aside), written out here rather than taken from the code.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                       "\ud800-\udfff\ufffe\uffff]")

ATTACKS = ["\x1b[31mred\x1b[0m", "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07", "\x1b]0;title\x07", "\x9b2J",
           "ok\rFAIL", "a\x08\x08b", "\x00", "\x7f", "\u202eevil\u202c", "\u2066x\u2069", "a\u2028b\u2029c",
           "\ud800", "\udfff", "\ufffe\uffff", "\n\n# heading", "| a | b |", "`", "```", "````sh", "~~~", "<script>x</script>",
           "</details>", "<img src=x onerror=alert(1)>", "&#x202e;", "&lt;b&gt;", "[x](https://evil)", "![i](x)",
           "\"]; end; x[\"", "%%{init: {}}%%", "#quot;", "*bold* _it_ ~~s~~ $x$", "- item", "1. item", "---", "\\|",
           "a\\", "    indented", "\t"]
SPECIAL = list("\x1b\r\n\x00\x08\x07\x7f\x85\x9b\u202a\u202e\u2066\u2069\u200e\u061c\u2028\u2029\ud800\udfff\ufffe"
               "\uffff|`\"'<>&#;[]{}()%$\\*_~-=+!: ")
text = st.one_of(st.sampled_from(ATTACKS),
                 st.text(st.one_of(st.characters(exclude_categories=()), st.sampled_from(SPECIAL)), max_size=24),
                 st.lists(st.sampled_from(ATTACKS + SPECIAL), min_size=1, max_size=5).map("".join))


@functools.cache
def junit_schema() -> xmlschema.XMLSchema:
    """The JUnit schema, compiled on first use (half a second: not at collection, in every worker)."""
    return xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))


def _id(name: str) -> str:
    """`name` as a segment of a resource id: a slash (or nothing) would give the id another shape, so another label
    and grouping, which is not what these tests are about."""
    return name.replace("/", "_") or "_"


def _result(check_id: str, status: str, message: str, resource_id: str | None, **kw) -> Result:
    r = Result(check_id, Status(status), message, resource_id=resource_id, **kw)
    r.title, r.severity, r.docs, r.duration_ms = f"Title of {check_id}", "high", f"docs/checks/{check_id}.md", 7
    return r


def results_about(h: str, rg: str) -> list[Result]:
    """One result of each status, with `h` in every field a renderer prints."""
    base = f"/subscriptions/{SUB}/resourceGroups/{_id(rg)}/providers"
    ws = f"{base}/Microsoft.MachineLearningServices/workspaces/{_id(h)}"
    vault = f"{base}/Microsoft.KeyVault/vaults/{_id(h)}"
    return [
        _result("keyvault.trusted-services-bypass", "fail", f"Key Vault {h} denies: {h}", vault,
                expected=h, observed={"bypass": h, "lines": [h, h]}, details={"map": {h: h}},
                fix=Fix(f"Let {h} through", [command("az keyvault update -n {name} -g {group}", name=h, group=rg), h])),
        _result("deployment.logs", "warn", h, f"{ws}/onlineEndpoints/{_id(h)}/deployments/{_id(h)}",
                expected="no known failure", observed=[f"[InferenceServer] {h}"],
                details={"last_lines": {"InferenceServer": [h, h]}}, fix=Fix(h, [])),
        _result("dns.scoring-resolution", "error", f"could not resolve {h}", f"{ws}/onlineEndpoints/{_id(h)}",
                reason=Reason.TIMED_OUT, expected={"addresses": [h]}, observed=None),
        _result("acr.sku-premium", "skip", f"registry {h} is public", None, reason=Reason.NOT_APPLICABLE),
        _result("workspace.v1-legacy-mode", "pass", f"v1 legacy mode is off on {h}", ws, expected=False, observed=False),
    ]


def single(h: str) -> dict:
    """A check report about a workspace named `h`, with its diagnosis (so the plan and paths carry `h` too)."""
    run = TargetRun(Target(h, h, h), results=results_about(h, h), endpoints=[_id(h), "ep-b"])  # as its results name it
    return finish(build_report("check", [run], mode="snapshot", notes=[h, f"note {h}"]))


def fleet(h: str) -> dict:
    """A scan of two workspaces (one named `h`) failing on one shared Key Vault, plus a subscription not read."""
    mine, other = Target(SUB, _id(h), _id(h), ("ep-a",)), Target(SUB, "rg-b", "ws-b", ("ep-b",))
    runs = [TargetRun(t, results=results_about(h, h if t is mine else "rg-b"), endpoints=list(t.endpoints))
            for t in (mine, other)]
    return finish(build_report("scan", runs, mode="live", notes=[h], scope={"subscriptions": [SUB]},
                               inventory={"source": h}, unreadable_subscriptions=[{"subscription_id": h, "reason": h}]))


def raw_controls(output: str) -> list[str]:
    """Characters in `output` raw that must be shown escaped."""
    return FORBIDDEN.findall(output)


# --- the function ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, shown", [
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"), ("a\rb\nc\td", "a\\rb\\nc\\td"), ("\x00\x07\x08\x7f", "\\x00\\x07\\x08\\u007f"),
    ("\x9b\x85", "\\u009b\\u0085"), ("\u202eabc\u202c", "\\u202eabc\\u202c"), ("\u2066\u2069\u200f", "\\u2066\\u2069\\u200f"),
    ("a\u2028b\u2029", "a\\u2028b\\u2029"), ("\ud800", "\\ud800"), ("\ufffe", "\\ufffe")])
def test_control_characters_and_direction_overrides_are_shown_escaped(raw, shown):
    assert inert(raw) == shown


@pytest.mark.parametrize("plain", ["kv-prod", "Zürich – 東京 🙂", "C:\\path\\x", "a | b <c> `d`", "\u05e9\u05dc\u05d5\u05dd"])
def test_ordinary_text_is_left_as_it_is(plain):
    assert inert(plain) == plain


def test_only_the_layout_characters_named_are_kept():
    assert inert("{\n  \"a\": \"\u202e\"\n}", keep="\n") == "{\n  \"a\": \"\\u202e\"\n}"


def test_markdown_cells_escape_the_pipe_inside_code_spans_as_gfm_tables_read_it():
    assert _cell("a|b") == "`a\\|b`" and _code("a|b") == "`a|b`"
    assert _cell("x\\|y") == "x\\\\\\|y"  # no portable code-span spelling of `\|` in a cell: escaped text instead
    row = " | ".join([_cell("a|b"), _cell("x\\|y")])
    html = MarkdownIt("commonmark").enable("table").render(f"| a | b |\n|---|---|\n| {row} |\n")
    assert "<td><code>a|b</code></td>" in html and "<td>x\\|y</td>" in html


def test_markdown_prose_escapes_what_would_start_markup():
    assert _text("- item") == "\\- item" and _text("1. x") == "1\\. x" and _text("&#x202e; <b>") == "\\&\\#x202e; \\<b\\>"
    assert _text("a\nb") == "a\\\\nb"


def test_mermaid_labels_keep_letters_and_write_the_rest_as_entity_codes():
    assert _label("ws-prod 1") == "ws-prod 1"
    assert _label('a"];b\n`#') == "a#quot;#93;#59;b#92;n#96;#35;"


# --- the renderers, hostile text everywhere ----------------------------------------------------------------------

BENIGN = "benign"


def markdown_shape(md: str) -> list:
    """The document's structure as a GFM parser sees it: blocks (tables cell by cell, headings, fences, HTML
    blocks, lists) and, inside each, the kinds of inline element (code spans, emphasis, HTML, links)."""
    shape = []
    for tok in MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(md):
        if tok.type == "inline":
            # a code span or escaped text: both inert (a cell's `\\|` has no portable code-span spelling)
            kinds = ["text" if c.type in ("text", "text_special", "code_inline") else c.type for c in tok.children or []]
            shape.append([k for i, k in enumerate(kinds) if not (k == "text" and i and kinds[i - 1] == "text")])
        else:
            shape.append((tok.type, tok.tag, tok.info if tok.type == "fence" else ""))
    return shape


def mermaid_of(md: str) -> list[str]:
    return md.split("```mermaid\n", 1)[1].split("\n```", 1)[0].splitlines()


@FUZZ
@given(h=text)
@example(h="\x1b]8;;https://evil.example\x07click me\x1b]8;;\x07\r\x1b[2K✓ PASS")
@example(h="x`|`y\n```\n</details><script>alert(1)</script>")
def test_hostile_text_in_a_report_leaves_no_raw_control_character_in_the_table(h):
    from moediag.render.table import render as table

    def unwrapped(report, color):  # prose wraps to the terminal: compare the layout, not where lines fold
        return table(report, color, width=10**6)

    for report in (single(h), fleet(h)):
        plain = unwrapped(report, False)
        assert raw_controls(plain) == [] and raw_controls(renderer("table")(report, False)) == []
        assert plain.count("\n") == unwrapped(single(BENIGN) if "target" in report else fleet(BENIGN), False).count("\n")
        assert inert(h) in plain  # shown, escaped
        coloured = unwrapped(report, True)
        assert "\x1b" not in SGR.sub("", coloured)  # every ESC starts one of the renderer's own SGR sequences
        assert SGR.sub("", coloured) == plain


@FUZZ
@given(h=text)
@example(h="x`|`y\n```\n</details><script>alert(1)</script>")
@example(h="\\|")
@example(h='"]; click ws "javascript:alert(1)"; x["')
def test_hostile_text_in_a_report_keeps_the_markdown_and_its_picture_in_shape(h):
    assume(inert(h).split())  # blank text makes a blank paragraph: a shape of its own, and nothing injected
    for build in (single, fleet):
        md, benign = renderer("markdown")(build(h), False), renderer("markdown")(build(BENIGN), False)
        assert raw_controls(md) == []
        assert md.count("\n") == benign.count("\n")
        assert markdown_shape(md) == markdown_shape(benign)
    md, benign = renderer("markdown")(single(h), False), renderer("markdown")(single(BENIGN), False)
    picture, expected = mermaid_of(md), mermaid_of(benign)
    assert len(picture) == len(expected)
    nodes = [line for line in picture if re.fullmatch(r'    \w+\["[^"]*"\]', line)]
    assert len(nodes) == len([line for line in expected if re.fullmatch(r'    \w+\["[^"]*"\]', line)]) == 12
    assert not any("`" in line or "%%" in line for line in picture)


@FUZZ
@given(h=text)
@example(h="\x00\x1b\ud800\ufffe\uffff]]>&<")
def test_hostile_text_in_a_report_keeps_junit_valid_and_visible(h):
    for build in (single, fleet):
        report = build(h)
        xml = renderer("junit")(report, False)
        junit_schema().validate(xml)
        root = ET.fromstring(xml)
        assert len(list(root.iter("testcase"))) == len(report["results"])
        failure = next(root.iter("failure"))
        assert inert(f"Key Vault {h} denies: {h}") in failure.get("message")


@FUZZ
@given(h=text)
def test_hostile_text_in_a_report_round_trips_through_json_with_nothing_raw(h):
    for report in (single(h), fleet(h)):
        out = renderer("json")(report, False)
        assert raw_controls(out) == []
        assert json.loads(out) == report


@functools.cache
def benign_sarif_shape(build) -> list:
    return sarif_shape(json.loads(renderer("sarif")(build(BENIGN), False)))


def sarif_shape(log: dict) -> list:
    run = log["runs"][0]
    return [[rule["id"] for rule in run["tool"]["driver"]["rules"]],
            [(r["ruleId"], r["level"], len(r["locations"]), "suppressions" in r) for r in run["results"]]]


@FUZZ
@given(h=text)
@example(h="[click](https://evil.example) \\[x\\](1) \x1b]8;;https://evil\x07")
@example(h="\ud800\u202e</script>")
def test_hostile_text_in_a_report_keeps_sarif_in_shape_inert_and_free_of_embedded_links(h):
    """The shape is the benign report's (whose SARIF tests/test_sarif.py validates against the schema)."""
    for build in (single, fleet):
        out = renderer("sarif")(build(h), False)
        assert raw_controls(out) == []
        log = json.loads(out)
        assert sarif_shape(log) == benign_sarif_shape(build)
        for result in log["runs"][0]["results"]:
            message = result["message"]["text"]
            assert raw_controls(message) == []  # the values themselves are inert, not only the file
            assert not re.search(r"(?<!\\)(?:\\\\)*[\[\]]", message), message  # every bracket escaped: no link
            uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            assert re.fullmatch(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})+", uri), uri
        failure = log["runs"][0]["results"][0]["message"]["text"]
        assert _sarif_text(f"Key Vault {h} denies: {h}") in failure


def test_an_error_line_quoting_foreign_text_shows_it_escaped():
    run = moediag(None, "render", "/nonexistent/report\x1b]0;owned\x07\x1b[2J.json")
    assert run.code == 2 and run.stderr.count("\n") == 1
    assert "\x1b" not in run.stderr and "\\x1b]0;owned\\x07\\x1b[2J" in run.stderr


def test_a_replayed_snapshot_with_hostile_names_writes_every_format_inert_and_whole(tmp_path):
    """End to end: the Key Vault's name in the evidence carries escape sequences, an override and a lone surrogate."""
    example = Path(__file__).resolve().parent.parent / "examples" / "broken-workspace.snapshot.json"
    hostile = "kv\x1b]0;owned\x07\x1b[2J\u202e\ud800 $(id)"
    snapshot = json.loads(example.read_text().replace("kv-ws-prod", json.dumps(hostile)[1:-1]))
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(snapshot))
    files = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "junit", "markdown")}
    run = moediag(None, "check", "--snapshot", str(path), "-o", "table", *(f"-o{f}={p}" for f, p in files.items()),
                  env={"MOEDIAG_ARM_ENDPOINT": "https://10.255.255.1"})
    assert run.code == 1, run.stderr
    assert raw_controls(run.stdout) == [] and raw_controls(files["markdown"].read_text()) == []
    assert "kv\\x1b]0;owned\\x07\\x1b[2J\\u202e\\ud800 $(id)" in run.stdout
    report = json.loads(files["json"].read_text())
    vault = next(r for r in report["results"] if r["check_id"] == "keyvault.trusted-services-bypass")
    assert shlex.split(vault["fix"]["commands"][0])[4] == hostile  # one word, exactly the name
    junit_schema().validate(files["junit"].read_text())

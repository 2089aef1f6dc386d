"""Which built-in role grants an action: named in every `forbidden` result so the fix is one request away."""

from __future__ import annotations


def builtin_role_for(action: str) -> str:
    """The least-privileged built-in role that grants `action` (Reader grants every */read)."""
    lowered = action.lower()
    if lowered.endswith("/read"):
        return "Reader"
    if lowered.startswith("microsoft.machinelearningservices/"):
        return "AzureML Data Scientist"
    return "Contributor"


def missing_permission_hint(actions: list[str] | tuple[str, ...]) -> str:
    if not actions:
        return ""
    parts = [f"{a} (granted by the built-in {builtin_role_for(a)} role)" for a in actions]
    return "needs " + "; ".join(parts)


def actions_for(checks) -> list[str]:
    """Every Azure action the given checks' evidence needs (derived from their facts)."""
    return sorted({action for chk in checks for action in chk.permissions})


def role_definition(checks, subscription_id: str | None) -> dict:
    """A custom role ready for `az role definition create --role-definition @role.json`."""
    scope = f"/subscriptions/{subscription_id}" if subscription_id else "/subscriptions/<subscription-id>"
    return {
        "Name": "moediag diagnostics reader",
        "IsCustom": True,
        "Description": "Read-only access moediag needs to diagnose Azure Machine Learning online endpoints "
                       "(reads, plus the read-only actions getLogs and diagnose).",
        "Actions": actions_for(checks),
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": [scope],
    }


def render_permissions_doc(checks) -> str:
    """docs/permissions.md, generated from the checks' metadata so it cannot drift."""
    lines = [
        "# Permissions",
        "",
        "moediag only reads. Every check declares the facts it reads, and every fact the Azure actions its read",
        "needs, so this page and `moediag permissions` are derived from the code. The built-in **Reader** role",
        "grants every `*/read` action below; the two POST actions (`getLogs`, `diagnose`) read and change",
        "nothing, and are granted by **AzureML Data Scientist** (or a custom role: `moediag permissions -o role`).",
        "",
        "| Check | Actions |",
        "|---|---|",
    ]
    for chk in checks:
        lines.append(f"| `{chk.id}` | {'<br>'.join(f'`{a}`' for a in chk.permissions)} |")
    lines += ["", "## All actions", "", *[f"- `{a}` ({builtin_role_for(a)})" for a in actions_for(checks)], "",
              "## A custom role", "", "```sh",
              "moediag permissions -o role -s <subscription-id> > moediag-role.json",
              "az role definition create --role-definition @moediag-role.json",
              "az role assignment create --role 'moediag diagnostics reader' --assignee <principal> \\",
              "    --scope /subscriptions/<subscription-id>",
              "```", ""]
    return "\n".join(lines)

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


# Why an action that is not obviously about the endpoint is read (shown in docs/permissions.md).
WHY = {
    "Microsoft.Authorization/roleAssignments/read": (
        "endpoint.identity-roles and workspace.network-approver-role list the role assignments that apply at the "
        "workspace's registry, storage account and Key Vault and at each private endpoint rule's target "
        "(`$filter=atScope()`: the resource and every scope above it), to see whether the endpoint's identity may pull "
        "images, read the model and read secrets, and whether the workspace's identity may approve private endpoint "
        "connections. Without it those checks are errors, never passes."),
    "Microsoft.Authorization/roleDefinitions/read": (
        "the same two checks read the definitions of the roles those assignments name, to judge each role by its "
        "actions and data actions (custom roles, wildcards and notActions), not by its name."),
}

# What `moediag scan` needs beyond the checks' own actions: the Resource Graph query that finds the fleet.
SCAN_ACTIONS = ["Microsoft.ResourceGraph/resources/read"]


def actions_for(checks, scan: bool = False) -> list[str]:
    """Every Azure action the given checks' evidence needs (derived from their facts); with `scan`, and the fleet
    inventory's."""
    return sorted({action for chk in checks for action in chk.permissions} | set(SCAN_ACTIONS if scan else ()))


def role_definition(checks, subscription_id: str | None, scan: bool = False) -> dict:
    """A custom role ready for `az role definition create --role-definition @role.json`."""
    scope = f"/subscriptions/{subscription_id}" if subscription_id else "/subscriptions/<subscription-id>"
    return {
        "Name": "moediag diagnostics reader",
        "IsCustom": True,
        "Description": "Read-only access moediag needs to diagnose Azure Machine Learning online endpoints "
                       "(reads, plus the read-only actions getLogs and diagnose).",
        "Actions": actions_for(checks, scan),
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
    lines += ["", "## All actions", "", *[f"- `{a}` ({builtin_role_for(a)})" for a in actions_for(checks)], ""]
    why = [a for a in actions_for(checks) if a in WHY]
    if why:
        lines += ["## Why moediag reads these", "", *[f"- `{a}`: {WHY[a]}" for a in why], ""]
    lines += ["## A custom role", "", "```sh",
              "moediag permissions -o role -s <subscription-id> > moediag-role.json",
              "az role definition create --role-definition @moediag-role.json",
              "az role assignment create --role 'moediag diagnostics reader' --assignee <principal> \\",
              "    --scope /subscriptions/<subscription-id>",
              "```", "",
              "## Scanning a fleet", "",
              "`moediag scan` finds the workspaces with one Azure Resource Graph query, which needs",
              *[f"`{a}` ({builtin_role_for(a)})" for a in SCAN_ACTIONS],
              "on every subscription to scan (Resource Graph returns only what the identity may read: a subscription",
              "without it is listed in the report as not read). Then it reads each workspace with the actions above.",
              "Assign the role on each subscription, or add a management group to its `AssignableScopes` and assign",
              "it there once for all the subscriptions under it:", "", "```sh",
              "moediag permissions --scan -o role -s <subscription-id> > moediag-role.json",
              "az role definition create --role-definition @moediag-role.json",
              "az role assignment create --role 'moediag diagnostics reader' --assignee <principal> \\",
              "    --scope /subscriptions/<subscription-id>",
              "```", ""]
    return "\n".join(lines)

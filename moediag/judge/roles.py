"""Whether a principal may do something on a resource, judged from role assignments and role definitions.

Roles are judged by what they allow, never by their names: a custom role with `Microsoft.ContainerRegistry/*`
pulls images as well as AcrPull does, and a role whose `notActions` remove the pull does not, whatever it is
called. Azure's rules, as implemented here: an action is allowed by a permission block when one of its `actions`
(or `dataActions`) matches it and none of the same block's `notActions` (`notDataActions`) does; `*` matches any
run of characters (`*`, `*/read`, `Microsoft.Storage/*`); names compare case-insensitively; a role allows what
any of its blocks allows. Deny assignments and Entra group membership are not read (Microsoft Graph is out of
reach): an assignment to a group that would grant is reported as such, never as the principal's own.

For checks that declare the facts `role_assignments` and `role_definition`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from moediag.errors import FactError
from moediag.evidence import dig, listed, props, text
from moediag.facts.roles import ASSIGNMENTS_READ, definition_key, scope_key
from moediag.resource_id import last_name

# Built-in role definition ids (the same in every cloud), for fix commands and messages.
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
NETWORK_CONNECTION_APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"  # Azure AI Enterprise Network Connection Approver


READ_NOTE = ("role assignments that apply at the resource ($filter=atScope(): the resource and every scope above it, "
             "resource group, subscription, management groups and root); not read: deny assignments, the members of "
             "groups, ABAC conditions (not evaluated)")


@lru_cache(maxsize=512)
def _pattern(pattern: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in pattern.strip().split("*")), re.IGNORECASE)


def matches(pattern: Any, action: str) -> bool:
    """Whether an `actions` entry (wildcards allowed) covers `action`."""
    return isinstance(pattern, str) and bool(pattern.strip()) and _pattern(pattern).fullmatch(action) is not None


def allows(definition: Any, action: str, data: bool = False) -> bool | None:
    """Whether a role definition allows `action` (a data action with `data`); None when the body has no
    readable `permissions` list (an odd or partial body: not evidence either way)."""
    blocks = props(definition).get("permissions")
    if not isinstance(blocks, list):
        return None
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    for block in blocks:
        if not isinstance(block, dict):
            continue
        granted = block.get(allow) if isinstance(block.get(allow), list) else []
        removed = block.get(deny) if isinstance(block.get(deny), list) else []
        if any(matches(p, action) for p in granted) and not any(matches(p, action) for p in removed):
            return True
    return False


def role_guid(definition_id: Any) -> str:
    """The GUID at the end of a role definition id, lower case ('' when there is none)."""
    return last_name(text(definition_id)).lower()


@dataclass
class Access:
    """What the assignments at one resource say about one principal and one need.

    `verdict`: `granted`, `conditional` (only through an assignment with an ABAC condition moediag cannot
    evaluate), `group` (only through an assignment to a group, whose members moediag cannot read), `missing`, or
    `unread` (`error` says why: a scope or a role definition that could not be read).
    """

    verdict: str
    scope: str
    roles: list[str] = field(default_factory=list)  # the roles that grant (or would, for a group / condition)
    assignments: list[dict[str, Any]] = field(default_factory=list)  # the principal's own, as evidence
    error: FactError | None = None

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict, "scope": self.scope, "granting_roles": self.roles,
                               "assignments_of_the_principal": self.assignments, "read": READ_NOTE}
        if self.error is not None:
            out["unreadable"] = f"{self.error.kind}: {self.error.message}"
        return out


def read_scopes(ctx, scopes: list[str]) -> dict[str, tuple[list[dict[str, Any]] | None, FactError | None]]:
    """The role assignments that apply at each scope (read in parallel), by `scope_key`."""
    keys = list(dict.fromkeys(scope_key(s) for s in scopes))
    out = {}
    for key, (value, error) in zip(keys, ctx.gather("role_assignments", [(k,) for k in keys])):
        if error is None:
            try:
                value = listed(value, f"the role assignments at {key}")
            except FactError as exc:
                value, error = None, exc
        out[key] = (value, error)
    return out


def access(ctx, scopes: dict[str, tuple[list[dict[str, Any]] | None, FactError | None]], scope: str,
           principal: str, action: str, data: bool = False) -> Access:
    """Whether `principal` may do `action` on the resource `scope`, from the assignments read by `read_scopes`."""
    assignments, error = scopes[scope_key(scope)]
    if error is not None:
        if error.kind == "forbidden" and ASSIGNMENTS_READ not in error.message:
            error = FactError(error.kind, f"{error.message} (needs {ASSIGNMENTS_READ})", status=error.status,
                              resource_id=error.resource_id)
        return Access("unread", scope, error=error)
    mine = [a for a in assignments or [] if text(props(a).get("principalId")).lower() == principal.lower()]
    groups = [a for a in assignments or [] if text(props(a).get("principalType")).lower() == "group"]
    shown = []
    definitions = _definitions(ctx, mine)
    granted, conditional, unread = [], [], []
    for assignment in mine:
        p = props(assignment)
        definition, why = definitions.get(role_guid(p.get("roleDefinitionId")), (None, None))
        name = _role_name(definition, p.get("roleDefinitionId"))
        verdict = None if why is not None else allows(definition, action, data)
        shown.append({"role": name, "roleDefinitionId": p.get("roleDefinitionId"), "scope": p.get("scope"),
                      "condition": p.get("condition"), "allows": verdict})
        if verdict is None:
            unread.append(why or FactError("unreadable", f"role definition {p.get('roleDefinitionId')}: no "
                                                         "permissions list in its body"))
        elif verdict:
            (conditional if text(p.get("condition")).strip() else granted).append(name)
    if granted:
        return Access("granted", scope, granted, shown)
    if unread:
        return Access("unread", scope, [], shown, unread[0])
    if conditional:
        return Access("conditional", scope, conditional, shown)
    group_roles = _group_roles(ctx, groups, action, data)
    if group_roles:
        return Access("group", scope, group_roles, shown)
    return Access("missing", scope, [], shown)


def _definitions(ctx, assignments: list[dict[str, Any]]) -> dict[str, tuple[Any, FactError | None]]:
    """Role definitions of these assignments by GUID, each read once (ids come with and without the
    `/subscriptions/<id>` prefix: the GUID is what names a role)."""
    ids: dict[str, str] = {}
    for a in assignments:
        rid = text(props(a).get("roleDefinitionId"))
        if rid and role_guid(rid):
            ids.setdefault(role_guid(rid), definition_key(rid))
    answers = ctx.gather("role_definition", [(key,) for key in ids.values()])
    return dict(zip(ids, answers))


def _group_roles(ctx, groups: list[dict[str, Any]], action: str, data: bool) -> list[str]:
    definitions = _definitions(ctx, groups)
    found = []
    for a in groups:
        definition, why = definitions.get(role_guid(props(a).get("roleDefinitionId")), (None, None))
        if why is None and allows(definition, action, data):
            found.append(f"{_role_name(definition, props(a).get('roleDefinitionId'))} (to group "
                         f"{text(props(a).get('principalId'))})")
    return found


def _role_name(definition: Any, definition_id: Any) -> str:
    return text(props(definition).get("roleName")) or role_guid(definition_id) or "an unnamed role"


def principal_of(identity: Any) -> str | None:
    return text(dig(identity, "principalId")) or None

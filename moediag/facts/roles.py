"""Facts about Azure role-based access: the role assignments that apply at a resource, and role definitions.

Both are shared: their arguments (a scope, a role definition id) fully identify what is read, so a fleet scan
reads a registry's assignments once for every workspace that uses it. Callers pass keys made by `scope_key` /
`definition_key` (lower case: ARM ids compare case-insensitively, and the same registry is named
`Microsoft.ContainerRegistry/...` by one body and `microsoft.containerregistry/...` by another).
"""

from __future__ import annotations

from typing import Any

from moediag.facts import Source, fact

AUTHORIZATION_API = "2022-04-01"  # stable; the version the REST reference documents for both reads
ASSIGNMENTS_READ = "Microsoft.Authorization/roleAssignments/read"
DEFINITIONS_READ = "Microsoft.Authorization/roleDefinitions/read"


def scope_key(resource_id: str) -> str:
    """The fact argument for a scope: its id, lower case, without a trailing slash."""
    return resource_id.strip().rstrip("/").lower()


def definition_key(definition_id: str) -> str:
    """The fact argument for a role definition id (as an assignment names it), lower case."""
    return definition_id.strip().rstrip("/").lower()


@fact("role_assignments", permissions=(ASSIGNMENTS_READ,), shared=True)
def role_assignments(src: Source, scope: str) -> list[dict[str, Any]]:
    """Every role assignment that applies at `scope`, for every principal (paged with `nextLink`).

    `GET {scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`: per the REST reference,
    `atScope()` returns the assignments at the scope *and above it* (its resource group, subscription,
    management groups and the root), which is exactly "what applies here"; assignments below the scope (on a
    child resource) are left out, as they should be. The other filter, `principalId eq '...'`, returns one
    principal's assignments at, above *and below* the scope (a grant on one blob container would then look like
    one on the account), and does not show the groups a principal may hold a role through. Items carry
    `properties.{roleDefinitionId, principalId, principalType, scope, condition}`.
    """
    return src.arm.list(f"{scope}/providers/Microsoft.Authorization/roleAssignments", AUTHORIZATION_API,
                        {"$filter": "atScope()"})


@fact("role_definition", permissions=(DEFINITIONS_READ,), shared=True)
def role_definition(src: Source, definition_id: str) -> dict[str, Any]:
    """A role definition by id (`GET {roleDefinitionId}`): `properties.roleName` and
    `properties.permissions[].{actions, notActions, dataActions, notDataActions}`."""
    return src.arm.get(definition_id, AUTHORIZATION_API)

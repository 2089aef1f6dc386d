"""endpoint.identity-roles: the endpoint's identity may pull its image, read its model and read the workspace's secrets."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.errors import FactError
from moediag.evidence import dig, props, require_props, text
from moediag.facts.roles import ASSIGNMENTS_READ
from moediag.judge.roles import (
    ACR_PULL,
    KEY_VAULT_SECRETS_USER,
    STORAGE_BLOB_DATA_READER,
    access,
    read_scopes,
)
from moediag.judge.scope import endpoints_in_scope
from moediag.model import Reason
from moediag.shell import command

PULL = "Microsoft.ContainerRegistry/registries/pull/read"
BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
# (workspace property, what, action, data action?, built-in role granting it (name, id))
NEEDS = (
    ("containerRegistry", "pull images from the workspace registry", PULL, False, ("AcrPull", ACR_PULL)),
    ("storageAccount", "read the model and code from the workspace storage", BLOB_READ, True,
     ("Storage Blob Data Reader", STORAGE_BLOB_DATA_READER)),
    ("keyVault", "read the workspace Key Vault's secrets", GET_SECRET, True,
     ("Key Vault Secrets User", KEY_VAULT_SECRETS_USER)),
)
EXPECTED = ("the identity may pull from the workspace registry (AcrPull or a role allowing "
            f"{PULL}), read blobs of the workspace storage (Storage Blob Data Reader or a role with data action "
            f"{BLOB_READ}) and read the workspace Key Vault's secrets (Key Vault Secrets User or a role with data "
            f"action {GET_SECRET}; with access policies, a policy granting secrets get)")

DOC = Doc(
    what=(
        "For each online endpoint in scope, its identity (the system-assigned one, `identity.principalId`, or each "
        "user-assigned one in `identity.userAssignedIdentities`) may: pull images from the workspace container "
        "registry (a role allowing `Microsoft.ContainerRegistry/registries/pull/read`: AcrPull, or a custom role "
        "with `Microsoft.ContainerRegistry/*`, ...), read blobs of the workspace storage account (a role with the "
        "data action `Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read`: Storage Blob Data "
        "Reader, ...), and read the workspace Key Vault's secrets (a role with the data action "
        "`Microsoft.KeyVault/vaults/secrets/getSecret/action`, Key Vault Secrets User, when the vault uses Azure RBAC "
        "(`enableRbacAuthorization`); an access policy for the principal granting secrets `get` when it does not). "
        "Roles are judged by their actions, never by their names: wildcards are honoured and `notActions` / "
        "`notDataActions` subtracted. The assignments are read once per resource with "
        "`GET {resource}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`, which answers every "
        "assignment at the resource and at each scope above it (resource group, subscription, management groups, "
        "root); an assignment on a child (one blob container) is not one on the account. The role definitions they "
        "name are read by id. Not read: deny assignments, Entra group membership (a role granted to a group is a "
        "warning, as moediag cannot see whether the identity is a member), ABAC conditions (a role granted only "
        "under a condition is a warning), and the registry's ABAC repository permissions mode. One result per "
        "endpoint and identity; a scope or role definition that cannot be read is an error, never a pass."
    ),
    why=(
        "The deployment's containers run as the endpoint's identity: the image is pulled with it, the storage "
        "initializer downloads the model with it, and secrets are fetched with it. Without the role the "
        "deployment fails with an image pull refused by the registry (`unauthorized`, `pull access denied`) or a "
        "storage `AuthorizationPermissionMismatch`. With a system-assigned identity Azure Machine Learning grants "
        "AcrPull on the registry and Storage Blob Data Reader on the storage when the endpoint is created, if the "
        "identity creating it may assign roles; a grant that is missing anyway (the creator could not assign it, or "
        "it was removed since) fails the same way, so its absence fails here too. The Key Vault's secrets are not "
        "granted to a system-assigned identity by the platform and are needed only when the deployment reads them "
        "(secret injection, scoring code): for a system-assigned identity their absence is a warning. A "
        "user-assigned identity is granted nothing: all three must be assigned, and each one missing fails."
    ),
    fix=(
        "Assign the missing role to the identity's principal (object) id on the resource: `az role assignment "
        "create --assignee-object-id P --assignee-principal-type ServicePrincipal --role AcrPull --scope REGISTRY` "
        "(Storage Blob Data Reader on the storage account, Key Vault Secrets User on the vault), or, for a vault "
        "with access policies, `az keyvault set-policy -n KV --object-id P --secret-permissions get list`. Then "
        "update (or recreate) the deployment so it starts again with the role."
    ),
    run_from="Anywhere with Reader access: only Resource Manager is read (Reader includes "
             "Microsoft.Authorization/roleAssignments/read and roleDefinitions/read).",
    links=(
        "https://learn.microsoft.com/azure/machine-learning/concept-endpoints-online-auth",
        "https://learn.microsoft.com/azure/machine-learning/how-to-access-resources-from-endpoints-managed-identities",
        "https://learn.microsoft.com/rest/api/authorization/role-assignments/list-for-scope",
    ),
    examples=(Example({"identity": {"type": "SystemAssigned", "principalId": "0d7e6f5a-4b3c-4d2e-8f1a-9b8c7d6e5f4a"},
                       "role assignments at acrwsprod": [{"properties": {
                           "principalId": "0d7e6f5a-4b3c-4d2e-8f1a-9b8c7d6e5f4a",
                           "roleDefinitionId": ".../roleDefinitions/... (a custom role: actions */read, notActions "
                                               "Microsoft.ContainerRegistry/registries/pull/read)"}}]},
                      "fail: the system-assigned identity of endpoint ep-main (principal "
                      "0d7e6f5a-4b3c-4d2e-8f1a-9b8c7d6e5f4a) cannot pull images from the workspace registry acrwsprod "
                      "(no role allowing Microsoft.ContainerRegistry/registries/pull/read)"),),
)


@check(id="endpoint.identity-roles", title="The endpoint's identity holds the roles its deployments need",
       severity="high", scope="endpoint",
       facts=("workspace", "online_endpoints", "keyvault", "role_assignments", "role_definition"), doc=DOC,
       hops=("deployment:registry", "deployment:storage", "deployment:key-vault"), fix_risk="safe")
def evaluate(ctx):
    endpoints, none = endpoints_in_scope(ctx)
    yield from none
    if not endpoints:
        return
    workspace = props(ctx.fact("workspace"))
    targets = {prop: resource_id.parse(workspace.get(prop)) for prop, *_ in NEEDS}
    vault, vault_error = ctx.try_fact("keyvault") if targets["keyVault"] else (None, None)
    rbac_vault, vault_note = _vault_mode(vault, vault_error)
    scopes = read_scopes(ctx, [t.text for prop, t in targets.items() if t and (prop != "keyVault" or rbac_vault)])
    for name, endpoint in endpoints:
        eid = text(endpoint.get("id")) or ctx.target.endpoint_id(name)
        identities, problem = _identities(endpoint.get("identity"))
        if problem:
            yield ctx.errored(eid, f"endpoint {name}: {problem}", reason=Reason.UNREADABLE, expected=EXPECTED,
                              observed=endpoint.get("identity"))
            continue
        for label, kind, principal in identities:
            yield _verdict(ctx, name, eid, label, kind, principal, targets, scopes, vault, vault_error, rbac_vault,
                           vault_note)


def _identities(identity):
    """[(label, SystemAssigned|UserAssigned, principal id)], or a problem saying why they cannot be read."""
    if not isinstance(identity, dict):
        return [], "the endpoint body carries no identity block"
    kinds = [k.strip().lower() for k in text(identity.get("type")).split(",")]
    found = []
    if "systemassigned" in kinds:
        if not text(identity.get("principalId")):
            return [], "its system-assigned identity has no principalId"
        found.append(("system-assigned identity", "SystemAssigned", identity["principalId"]))
    if "userassigned" in kinds:
        uais = identity.get("userAssignedIdentities")
        if not isinstance(uais, dict) or not uais:
            return [], "its identity is UserAssigned but lists no userAssignedIdentities"
        for uai_id, uai in sorted(uais.items()):
            principal = text(dig(uai, "principalId"))
            if not principal:
                return [], f"user-assigned identity {uai_id} has no principalId"
            label = f"user-assigned identity {resource_id.last_name(uai_id)}"
            found.append((label, "UserAssigned", principal))
    if not found:
        return [], f"its identity type is {identity.get('type')!r}: no identity to run the deployment as"
    return found, None


def _vault_mode(vault, error):
    """(True: RBAC / False: access policies / None: unknown, a note)."""
    if error is not None:
        return None, error
    try:
        p = require_props(vault, "Key Vault")
    except FactError as exc:
        return None, exc
    return p.get("enableRbacAuthorization") is True, None


def _verdict(ctx, name, eid, label, kind, principal, targets, scopes, vault, vault_error, rbac_vault, vault_note):
    who = f"the {label} of endpoint {name} (principal {principal})"
    missing, warnings, unread, granted, details = [], [], [], [], {"principal_id": principal, "identity": kind}
    commands = []
    for prop, what, action, data, (role, _) in NEEDS:
        target = targets[prop]
        if target is None:
            details[prop] = {"verdict": "not judged",
                             "why": f"the workspace's {prop} is {props(ctx.fact('workspace')).get(prop)!r}, not a "
                                    "resource id (see workspace.associated-resources)"}
            continue
        if prop == "keyVault" and rbac_vault is not True:
            outcome = _access_policy(vault, vault_note, principal, target)
            details[prop] = outcome
            verdict = outcome["verdict"]
        else:
            got = access(ctx, scopes, target.text, principal, action, data)
            details[prop] = got.evidence()
            verdict = got.verdict
            if got.error is not None:
                unread.append((what, target.name, got.error))
        optional = prop == "keyVault" and kind == "SystemAssigned"
        if verdict == "granted":
            granted.append(what)
        elif verdict == "missing":
            (warnings if optional else missing).append(f"cannot {what} {target.name} ({_lacking(prop, action, data, rbac_vault)})")
            commands.append(_fix(prop, principal, role, target, rbac_vault))
        elif verdict in ("group", "conditional"):
            how = "a role assigned to a group (moediag cannot read its members)" if verdict == "group" else \
                "a role whose assignment carries a condition moediag does not evaluate"
            warnings.append(f"may {what} {target.name} only through {how}")
        elif verdict == "unread" and prop == "keyVault" and rbac_vault is not True:
            unread.append((what, target.name, vault_note if isinstance(vault_note, FactError) else
                           FactError("unreadable", "the Key Vault could not be read")))
    fix = None
    if commands:
        fix = ("Grant the endpoint's identity what it lacks on the workspace's resources, then update the "
               "deployments so they start again with it", commands)
    base = {"expected": EXPECTED, "observed": details}
    if missing:
        extra = f"; not evaluated: {_unread_text(unread)}" if unread else ""
        return ctx.failed(eid, f"{who} " + "; ".join(missing) + extra, fix=fix, **base)
    if unread:
        what, target, error = unread[0]
        return ctx.errored(eid, f"{who}: could not tell whether it may {what} {target}: {error.message}"
                           + _needs(error), reason=error.kind, **base)
    if warnings:
        if kind == "SystemAssigned" and commands:
            warnings[-1] += (" (a system-assigned identity needs it only when its deployments read the vault's "
                             "secrets)")
        return ctx.warned(eid, f"{who} " + "; ".join(warnings), reason=Reason.INCONCLUSIVE, fix=fix, **base)
    unjudged = [prop for prop, *_ in NEEDS if targets[prop] is None]
    note = f" (not judged: the workspace's {', '.join(unjudged)}, not a resource id)" if unjudged else ""
    if not granted:  # nothing to judge is never a pass (workspace.associated-resources reports the references)
        return ctx.skipped(eid, f"{who}: nothing to judge{note}", **base)
    return ctx.passed(eid, f"{who} may " + ", ".join(granted) + note, **base)


def _needs(error: FactError) -> str:
    if error.kind == "forbidden" and "Microsoft.Authorization" not in error.message:
        return f" (needs {ASSIGNMENTS_READ})"
    return ""


def _unread_text(unread) -> str:
    return "; ".join(f"whether it may {what} {target} ({error.kind})" for what, target, error in unread)


def _lacking(prop, action, data, rbac_vault) -> str:
    if prop == "keyVault" and rbac_vault is False:
        return "no access policy granting secrets get"
    return f"no role allowing {'data action ' if data else ''}{action}"


def _access_policy(vault, vault_note, principal, target) -> dict:
    """The verdict of a vault that does not use RBAC: an access policy for the principal granting secrets get."""
    if vault_note is not None or not isinstance(vault, dict):
        return {"verdict": "unread", "mode": "unknown"}
    policies = props(vault).get("accessPolicies")
    mine = [p for p in policies if isinstance(p, dict) and text(p.get("objectId")).lower() == principal.lower()] \
        if isinstance(policies, list) else []
    secrets = sorted({text(s).lower() for p in mine for s in (dig(p, "permissions", "secrets") or [])
                      if isinstance(s, str)})
    verdict = "granted" if {"get", "all"} & set(secrets) else "missing"
    return {"verdict": verdict, "mode": "access policies (enableRbacAuthorization is not true)",
            "secret_permissions_of_the_principal": secrets}


def _fix(prop, principal, role, target, rbac_vault):
    if prop == "keyVault" and rbac_vault is False:
        return command("az keyvault set-policy -n {vault} --object-id {principal} --secret-permissions get list",
                       vault=target.name, principal=principal)
    return command("az role assignment create --assignee-object-id {principal} --assignee-principal-type "
                   "ServicePrincipal --role {role} --scope {scope}", principal=principal, role=role,
                   scope=target.text)

"""workspace.network-approver-role: the workspace identity may approve the managed network's private endpoints."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.evidence import dig, outbound_rule_items, props, same_text, text
from moediag.judge.roles import NETWORK_CONNECTION_APPROVER, access, read_scopes
from moediag.model import Reason
from moediag.shell import command

APPROVER = "Azure AI Enterprise Network Connection Approver"
RANK = {"granted": 0, "conditional": 1, "group": 2, "unread": 3, "missing": 4}

DOC = Doc(
    what=(
        "In a workspace managed network (`managedNetwork.isolationMode` AllowInternetOutbound or "
        "AllowOnlyApprovedOutbound), the workspace's identity (its system-assigned identity, or the user-assigned "
        "one named by `primaryUserAssignedIdentity`) holds, on the target of every private endpoint outbound rule "
        "(`properties.type` PrivateEndpoint, `destination.serviceResourceId`), a role that may approve private "
        "endpoint connections of that resource type: the built-in Azure AI Enterprise Network Connection Approver "
        f"(`{NETWORK_CONNECTION_APPROVER}`) or any role allowing `<type>/privateEndpointConnectionsApproval/action` or "
        "`<type>/privateEndpointConnections/write` (e.g. `Microsoft.Storage/storageAccounts/"
        "privateEndpointConnectionsApproval/action`). Roles are judged by their actions (the approver role itself "
        "covers only the resource types it lists), wildcards honoured and `notActions` subtracted. The assignments "
        "are read at each target with `$filter=atScope()` (the target and every scope above it). One result per "
        "target; fails when a rule to it is not Active, warns when its rules are Active anyway (approved by hand: a "
        "new rule or a re-provisioning would stay inactive). Not applicable without a managed network or without "
        "private endpoint rules."
    ),
    why=(
        "Creating a managed network's private endpoint creates a private endpoint connection on the target "
        "resource, which the workspace's identity approves. Without a role that may approve it, the connection "
        "stays Pending and the outbound rule inactive: deployments cannot reach the storage, Key Vault or registry "
        "behind it. The approver role is no longer granted automatically in every setup (hubs, user-assigned "
        "workspace identities, resources in other resource groups)."
    ),
    fix=(
        f"Assign `{APPROVER}` to the workspace identity on the target (or its resource group): `az role assignment "
        f"create --assignee-object-id P --assignee-principal-type ServicePrincipal --role \"{APPROVER}\" --scope "
        "TARGET`, then provision the managed network again (`az ml workspace provision-network -g RG -n WS`)."
    ),
    run_from="Anywhere with Reader access: only Resource Manager is read (Reader includes "
             "Microsoft.Authorization/roleAssignments/read and roleDefinitions/read).",
    links=(
        "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network",
        "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning",
    ),
    examples=(Example({"identity": {"type": "SystemAssigned", "principalId": "6b2f6c1e-3d4a-4b5c-9d8e-7f6a5b4c3d2e"},
                       "outbound rule __SYS_PE_stwsprod_blob": {"type": "PrivateEndpoint", "status": "Inactive",
                                                                "destination": {"serviceResourceId": ".../stwsprod"}},
                       "role assignments at stwsprod": []},
                      "fail: the workspace system-assigned identity (principal 6b2f6c1e-3d4a-4b5c-9d8e-7f6a5b4c3d2e) "
                      "holds no role that may approve private endpoint connections on stwsprod "
                      "(Microsoft.Storage/storageAccounts): outbound rule __SYS_PE_stwsprod_blob cannot be approved "
                      "and stay inactive"),),
)


@check(id="workspace.network-approver-role",
       title="The workspace identity may approve its managed network's private endpoints", severity="high",
       scope="workspace", facts=("workspace", "isolation_mode", "outbound_rules", "role_assignments",
                                 "role_definition"),
       doc=DOC, hops=("deployment:outbound-network",), fix_risk="disruptive")
def evaluate(ctx):
    mode = ctx.fact("isolation_mode")
    if mode["mode"] != "managed":
        yield ctx.skipped(ctx.workspace_id, f"not applicable: {mode['summary']}")
        return
    rules = outbound_rule_items(ctx.fact("outbound_rules"))
    if rules is None:
        yield ctx.errored(ctx.workspace_id, "the outbound rules came back in a shape moediag cannot read",
                          reason=Reason.UNREADABLE, expected="a list of outbound rules", observed=None)
        return
    by_target: dict[str, tuple[resource_id.ResourceId, list[dict]]] = {}
    for rule in rules:
        if not same_text(props(rule).get("type"), "PrivateEndpoint"):
            continue
        target = resource_id.parse(dig(props(rule), "destination", "serviceResourceId"))
        if target is None:
            yield ctx.errored(text(rule.get("id")) or ctx.workspace_id,
                              f"private endpoint rule {text(rule.get('name'))!r} names no target resource id",
                              reason=Reason.UNREADABLE, expected="destination.serviceResourceId",
                              observed=props(rule).get("destination"))
            continue
        by_target.setdefault(target.text.lower(), (target, []))[1].append(rule)
    if not by_target:
        yield ctx.skipped(ctx.workspace_id, "not applicable: the managed network has no private endpoint rules")
        return
    workspace = ctx.fact("workspace")
    principal, who = _workspace_principal(workspace)
    if principal is None:
        yield ctx.errored(ctx.workspace_id, f"the workspace's identity cannot be read: {who}",
                          reason=Reason.UNREADABLE, expected="a workspace identity with a principalId",
                          observed=workspace.get("identity") if isinstance(workspace, dict) else None)
        return
    scopes = read_scopes(ctx, [target.text for target, _ in by_target.values()])
    for target, target_rules in by_target.values():
        yield _verdict(ctx, target, target_rules, principal, who, scopes)


def _workspace_principal(workspace):
    """(principal id, how it is named) of the identity the managed network approves with."""
    identity = workspace.get("identity") if isinstance(workspace, dict) else None
    if not isinstance(identity, dict):
        return None, "the workspace body has no identity block"
    kinds = [k.strip().lower() for k in text(identity.get("type")).split(",")]
    primary = text(props(workspace).get("primaryUserAssignedIdentity"))
    uais = identity.get("userAssignedIdentities") if isinstance(identity.get("userAssignedIdentities"), dict) else {}
    if "userassigned" in kinds and (primary or ("systemassigned" not in kinds and len(uais) == 1)):
        uai_id = primary or next(iter(uais))
        found = next((v for k, v in uais.items() if resource_id.same(k, uai_id)), None)
        principal = text(dig(found, "principalId"))
        name = resource_id.last_name(uai_id)
        return (principal or None), (f"user-assigned identity {name}" if principal else
                                     f"its primary user-assigned identity {name} has no principalId")
    if "systemassigned" in kinds and text(identity.get("principalId")):
        return identity["principalId"], "system-assigned identity"
    return None, f"identity type {identity.get('type')!r} names no principal"


def _verdict(ctx, target, rules, principal, who, scopes):
    t = ctx.target
    kind = target.type
    approve, write = f"{kind}/privateEndpointConnectionsApproval/action", f"{kind}/privateEndpointConnections/write"
    got = access(ctx, scopes, target.text, principal, approve)
    if got.verdict != "granted":  # either action approves: keep the more favourable answer
        got = min(got, access(ctx, scopes, target.text, principal, write), key=lambda a: RANK[a.verdict])
    states = {text(r.get("name")) or "<unnamed>": props(r).get("status") for r in rules}
    inactive = sorted(name for name, status in states.items() if not same_text(status, "Active"))
    observed = {"principal_id": principal, "identity": who, "rules": states, **got.evidence()}
    expected = f"a role allowing {approve} or {write} (e.g. {APPROVER})"
    subject = f"the workspace {who} (principal {principal})"
    if got.verdict == "granted":
        return ctx.passed(target.text, f"{subject} may approve private endpoint connections on {target.name} "
                                       f"({', '.join(got.roles)})", expected=expected, observed=observed)
    if got.verdict == "unread":
        return ctx.errored(target.text, f"could not tell whether {subject} may approve private endpoint "
                                        f"connections on {target.name}: {got.error.message}",
                           reason=got.error.kind, expected=expected, observed=observed)
    if got.verdict in ("group", "conditional"):
        how = "a role assigned to a group (moediag cannot read its members)" if got.verdict == "group" else \
            "a role whose assignment carries a condition moediag does not evaluate"
        return ctx.warned(target.text, f"{subject} may approve private endpoint connections on {target.name} only "
                                       f"through {how}: {', '.join(got.roles)}", reason=Reason.INCONCLUSIVE,
                          expected=expected, observed=observed)
    fix = (f"Grant the workspace identity {APPROVER} on {target.name}, then provision the managed network again",
           [command("az role assignment create --assignee-object-id {principal} --assignee-principal-type "
                    "ServicePrincipal --role {role} --scope {scope}", principal=principal, role=APPROVER,
                    scope=target.text),
            command("az ml workspace provision-network -g {group} -n {workspace}", group=t.resource_group,
                    workspace=t.workspace)])
    lacking = f"{subject} holds no role that may approve private endpoint connections on {target.name} ({kind})"
    if inactive:
        return ctx.failed(target.text, f"{lacking}: outbound rule{'s' if len(inactive) > 1 else ''} "
                                       f"{', '.join(inactive)} cannot be approved and stay inactive",
                          expected=expected, observed=observed, fix=fix)
    return ctx.warned(target.text, f"{lacking}; its rules ({', '.join(sorted(states))}) are Active, approved some "
                                   "other way, but a new rule or a re-provisioning would stay inactive",
                      reason=Reason.INCONCLUSIVE, expected=expected, observed=observed, fix=fix)

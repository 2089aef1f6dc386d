"""storage.network-access: deployments can reach the workspace storage account under the workspace's isolation."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.evidence import dig, outbound_rule_items, props, require_props, same_text, text
from moediag.judge.storage import (
    STORAGE_GROUPS,
    connection_endpoint,
    connection_status,
    endpoint_groups,
    storage_access,
)
from moediag.shell import Placeholder, command

MANAGED_MODES = ("AllowOnlyApprovedOutbound", "AllowInternetOutbound")
EXPECTED = ("open to all networks, or a private path for both blob and file (approved private endpoints; Active "
            "managed-network private endpoint rules), or a resource instance rule for the workspace / the trusted "
            "services exception while public access is Enabled")

DOC = Doc(
    what=(
        "The workspace storage account (`properties.storageAccount` of the workspace) can be reached by its "
        "deployments. It passes when the account accepts every network (`publicNetworkAccess` Enabled or absent, "
        "`networkAcls.defaultAction` Allow or no `networkAcls`). Otherwise it needs a path for both the `blob` and "
        "the `file` sub-resources: without a workspace managed network, approved private endpoint connections on "
        "the account (their group ids read from each private endpoint, "
        "`properties.privateLinkServiceConnections[].properties.groupIds`); with one, `PrivateEndpoint` outbound "
        "rules to the account that are `Active`. While public access is `Enabled` with the firewall denying by "
        "default, a resource instance rule for the workspace (`networkAcls.resourceAccessRules[].resourceId`) or "
        "the trusted-services exception (`bypass` contains `AzureServices`) also lets it through; with public "
        "access `Disabled` only private endpoints do (the firewall's exceptions apply to the public endpoint only). "
        "An account reference that is absent or a placeholder (`\"\"`, `\"Sanitized\"`), or a private endpoint "
        "whose group ids cannot be read when they decide, is an error, never a pass."
    ),
    why=(
        "A deployment's storage initializer downloads the model and code from the workspace storage account before "
        "the container starts. When the account's firewall refuses the deployment's network, the download fails "
        "(`AuthorizationFailure`, \"This request is not authorized to perform this operation\") and the deployment "
        "fails or times out while provisioning."
    ),
    fix=(
        "Give the deployments a path: approve the pending private endpoint connections, or create private endpoints "
        "for `blob` and `file` (legacy isolation); add the private endpoint outbound rules and provision the managed "
        "network (`az ml workspace provision-network -g RG -n WS`); or, with public access Enabled, add a resource "
        "instance rule for the workspace: `az storage account network-rule add --resource-id WS_ID --tenant-id "
        "TENANT -g RG --account-name SA`."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet#secure-azure-storage-accounts",
           "https://learn.microsoft.com/azure/storage/common/storage-network-security",
           "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network"),
    examples=(Example({"id": "/subscriptions/.../storageAccounts/stwsprod",
                       "properties": {"publicNetworkAccess": "Disabled",
                                      "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
                                      "privateEndpointConnections": []}},
                      "fail: storage account stwsprod accepts only private access (publicNetworkAccess Disabled, "
                      "firewall default action Deny) and has no approved private endpoint for blob, file: deployments "
                      "cannot download their model and code (a resource instance rule or the trusted-services "
                      "exception would not help while public network access is Disabled)"),),
)


@check(id="storage.network-access", title="Deployments can reach the workspace storage account", severity="critical",
       scope="workspace", facts=("workspace", "storage_account", "outbound_rules", "private_endpoint"), doc=DOC,
       explained_by=("workspace.managed-network-provisioned", "workspace.outbound-rules-active"),
       hops=("deployment:storage",), fix_risk="safe")
def evaluate(ctx):
    workspace = ctx.fact("workspace")
    raw = props(workspace).get("storageAccount")
    parsed = resource_id.parse(raw)
    if parsed is None:
        shown = "absent" if raw is None else repr(raw)
        yield ctx.errored(ctx.workspace_id, f"the workspace's storageAccount is {shown}, not a resource id: which "
                                            "storage account deployments read cannot be told", reason="unreadable",
                          expected="a storage account id", observed=raw)
        return
    body, error = ctx.try_fact("storage_account")
    if error is not None:
        yield ctx.errored(parsed.text, error, expected=EXPECTED, observed=None)
        return
    require_props(body, "storage account")
    access = storage_access(body, parsed.text)
    sid, name = access.id, access.name
    if not access.public_known:
        yield ctx.errored(sid, f"storage account {name} has an unexpected publicNetworkAccess {access.public!r}",
                          reason="unreadable", expected=EXPECTED, observed=access.observed())
        return
    if access.open:
        yield ctx.passed(sid, f"storage account {name} accepts every network ({access.describe()})",
                         expected=EXPECTED, observed=access.observed())
        return
    mode = dig(props(workspace), "managedNetwork", "isolationMode")
    managed = any(same_text(mode, m) for m in MANAGED_MODES)
    exceptions = access.exceptions_for(ctx.workspace_id)
    private = _managed_paths(ctx, access) if managed else _legacy_paths(ctx, access)
    observed = {**access.observed(), "workspace isolationMode": mode, **private["observed"]}
    if access.public_disabled:
        closed = f"storage account {name} accepts only private access ({access.describe()})"
    elif access.perimeter:
        closed = f"storage account {name} is secured by a network security perimeter ({access.describe()})"
    else:
        closed = f"storage account {name} denies public networks by default ({access.describe()})"
    if exceptions:
        yield ctx.passed(sid, f"{closed}, and lets the workspace through with {' and '.join(exceptions)}",
                         expected=EXPECTED, observed=observed)
        return
    missing = [g for g in STORAGE_GROUPS if g not in private["groups"]]
    if not missing:
        yield ctx.passed(sid, f"{closed}; deployments reach blob and file through {private['via']}",
                         expected=EXPECTED, observed=observed)
        return
    if private["unread"]:
        yield ctx.errored(sid, f"{closed}; whether {private['via']} cover {', '.join(missing)} could not be read: "
                               + "; ".join(private["unread"]), reason=private["reason"], expected=EXPECTED,
                          observed=observed)
        return
    if access.perimeter:
        yield ctx.warned(sid, f"{closed}: a network security perimeter decides public access, which moediag does not "
                              f"read, and no private path covers {', '.join(missing)}", reason="inconclusive",
                         expected=EXPECTED, observed=observed,
                         fix=("Make sure the perimeter admits the workspace, or give deployments private endpoints "
                              "for blob and file", [_show(sid)]))
        return
    inactive = [f"{r['name']} is {r['status'] or 'in no state'}" for r in private.get("inactive", [])]
    yield ctx.failed(sid, f"{closed} and has no {private['missing_text']} for {', '.join(missing)}"
                          + (f" ({'; '.join(inactive)})" if inactive else "") + ": deployments cannot "
                          "download their model and code"
                          + ("" if not access.public_disabled else
                             " (a resource instance rule or the trusted-services exception would not help while public "
                             "network access is Disabled)"),
                     expected=EXPECTED, observed=observed, fix=_fix(ctx, access, managed, missing, private))


def _managed_paths(ctx, access) -> dict:
    """Private endpoint outbound rules of the managed network that point at the account."""
    evidence, error = ctx.try_fact("outbound_rules")
    rules = outbound_rule_items(evidence) if error is None else None
    if rules is None:
        why = error.message if error is not None else "the outbound rules came back in a shape moediag cannot read"
        return {"groups": set(), "via": "the managed network's outbound rules", "unread": [why],
                "reason": error.kind if error is not None else "unreadable", "observed": {}, "inactive": [],
                "missing_text": "Active private endpoint outbound rule"}
    active, inactive = set(), []
    for rule in rules:
        p = props(rule)
        destination = p.get("destination")
        if not same_text(p.get("type"), "PrivateEndpoint") or not isinstance(destination, dict):
            continue
        if not resource_id.same(destination.get("serviceResourceId"), access.id):
            continue
        group = text(destination.get("subresourceTarget")).strip().lower()
        if same_text(p.get("status"), "Active"):
            active.add(group)
        else:
            inactive.append({"name": text(rule.get("name")), "subresourceTarget": group, "status": p.get("status")})
    return {"groups": active, "via": "Active private endpoint outbound rules of the managed network", "unread": [],
            "reason": None, "inactive": inactive, "missing_text": "Active private endpoint outbound rule",
            "observed": {"outbound rules to the account": {"active": sorted(active), "not active": inactive}}}


def _legacy_paths(ctx, access) -> dict:
    """Approved private endpoint connections on the account, with the group ids of their private endpoints."""
    approved = [c for c in access.connections if same_text(connection_status(c), "Approved")]
    others = [{"id": text(c.get("id")), "name": text(c.get("name")), "status": connection_status(c) or None}
              for c in access.connections if not same_text(connection_status(c), "Approved")]
    ids = list(dict.fromkeys(pe for c in approved if (pe := connection_endpoint(c))))
    groups: set[str] = set()
    unread, reason, seen = [], None, {}
    for pe_id, (body, error) in zip(ids, ctx.gather("private_endpoint", [(pe,) for pe in ids])):
        if error is not None:
            unread.append(f"private endpoint {pe_id}: {error.message}")
            reason = reason or error.kind
            continue
        found = endpoint_groups(body, access.id)
        seen[pe_id] = sorted(found)
        groups |= found
    return {"groups": groups, "via": "approved private endpoints", "unread": unread, "reason": reason,
            "pending": others, "missing_text": "approved private endpoint",
            "observed": {"approved private endpoints (group ids)": seen, "other connections": others}}


def _fix(ctx, access, managed: bool, missing: list[str], private: dict):
    t = ctx.target
    group, account = (resource_id.parse(access.id).resource_group if resource_id.parse(access.id) else
                      Placeholder("resource-group")), access.name
    if managed:
        commands = [command("az ml workspace outbound-rule set --rule {rule} --type private_endpoint "
                            "--service-resource-id {target} --subresource-target {sub} --workspace-name {workspace} "
                            "-g {rg}", rule=f"storage-{sub}", target=access.id, sub=sub, workspace=t.workspace,
                            rg=t.resource_group)
                    for sub in missing if sub not in {r["subresourceTarget"] for r in private.get("inactive", [])}]
        commands += [command("az ml workspace outbound-rule show --rule {rule} --workspace-name {workspace} -g {rg}",
                             rule=r["name"], workspace=t.workspace, rg=t.resource_group)
                     for r in private.get("inactive", []) if r["name"]]
        commands.append(command("az ml workspace provision-network -g {rg} -n {workspace}", rg=t.resource_group,
                                workspace=t.workspace))
        summary = (f"Give the managed network Active private endpoint rules to {account} for "
                   f"{', '.join(missing)}, then provision it")
        return summary, commands, "disruptive"
    pending = [c for c in private.get("pending", []) if same_text(c["status"], "Pending") and c["id"]]
    commands = [command("az network private-endpoint-connection approve --id {cid} --description {why}", cid=c["id"],
                        why="Approved for Azure Machine Learning deployments") for c in pending]
    commands += [command("az network private-endpoint create -g {rg} -n {pe} --subnet {subnet} "
                         "--private-connection-resource-id {sid} --group-id {sub} --connection-name {pe}",
                         rg=Placeholder("network-rg"), pe=Placeholder(f"pe-{sub}-name"),
                         subnet=Placeholder("subnet id"), sid=access.id, sub=sub) for sub in missing]
    summary = (("Approve the pending private endpoint connections on " + account + ", or c") if pending else "C") + (
        f"reate private endpoints to {account} for {', '.join(missing)} (with their privatelink DNS zones)")
    if not access.public_disabled:
        tenant = text(dig(ctx.fact("workspace"), "identity", "tenantId")) or Placeholder("tenant-id")
        commands.append(command("az storage account network-rule add --resource-id {wid} --tenant-id {tenant} "
                                "-g {rg} --account-name {sa}", wid=ctx.workspace_id, tenant=tenant, rg=group,
                                sa=account))
        summary += "; or let the workspace through the firewall with a resource instance rule (the last command)"
    return summary, commands


def _show(sid: str):
    return command("az storage account show --ids {sid} --query {query}", sid=sid,
                   query="{publicNetworkAccess: publicNetworkAccess, networkAcls: networkAcls}")

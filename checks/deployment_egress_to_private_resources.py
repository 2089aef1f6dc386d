"""deployment.egress-to-private-resources: a legacy deployment with public egress cannot reach private-only resources."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.errors import FactError
from moediag.evidence import dig, props, same_text
from moediag.judge.scope import deployments_in_scope, recreate_deployment
from moediag.judge.storage import storage_access

MANAGED_MODES = ("AllowOnlyApprovedOutbound", "AllowInternetOutbound")
EXPECTED = ("egressPublicNetworkAccess Disabled when the workspace, its registry or its storage accept only private "
            "access (without a workspace managed network)")

DOC = Doc(
    what=(
        "Without a workspace managed network (the legacy outbound method), a deployment with "
        "`properties.egressPublicNetworkAccess` = `Enabled` reaches the workspace's resources over public networks. "
        "It fails when one of them accepts only private access: the workspace (`publicNetworkAccess` Disabled), its "
        "container registry (`publicNetworkAccess` Disabled, or `networkRuleSet.defaultAction` Deny) or its storage "
        "account (`publicNetworkAccess` Disabled, or a firewall denying by default without a resource instance rule "
        "for the workspace or the trusted-services exception). A deployment with `Disabled` passes. Under a workspace "
        "managed network the flag no longer applies: `Disabled` warns (it must not be set), `Enabled` (the value Azure "
        "reports by default) is not applicable. A deployment without the flag is not applicable."
    ),
    why=(
        "With egress enabled the deployment has no private path: it pulls its image from the registry and downloads "
        "its model from storage through their public endpoints. Resources that accept only private access refuse it, "
        "so the deployment fails by design (image pull or model download errors). The flag cannot be changed after "
        "the deployment is created."
    ),
    fix=(
        "Create a new deployment with `egress_public_network_access: disabled` (`az ml online-deployment create -e E "
        "-n NEW -f deployment.yml --set egress_public_network_access=disabled`), approve the registry's egress "
        "connection if asked, move the traffic to it, then delete the old one; or move the workspace to a managed "
        "network (`az ml workspace update --managed-network allow_only_approved_outbound`, then `az ml workspace "
        "provision-network`) and create deployments without the flag."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/concept-secure-online-endpoint#secure-outbound-access-with-legacy-network-isolation-method",
           "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network"),
    examples=(Example({"deployment": {"name": "blue", "properties": {"egressPublicNetworkAccess": "Enabled"}},
                       "workspace": {"properties": {"publicNetworkAccess": "Disabled"}}},
                      "fail: deployment blue of endpoint ep-main has egressPublicNetworkAccess Enabled (no private path, "
                      "no workspace managed network), but workspace ws-prod (publicNetworkAccess Disabled) accepts "
                      "only private access: the deployment fails by design"),),
)


@check(id="deployment.egress-to-private-resources", title="Deployments with public egress do not need private-only resources",
       severity="high", scope="deployment", facts=("online_endpoints", "deployments", "workspace", "registry",
                                                     "storage_account"), doc=DOC,
       explained_by=(), hops=("deployment:isolation-mode", "deployment:outbound-network"), fix_risk="destructive")
def evaluate(ctx):
    found, gaps = deployments_in_scope(ctx)
    yield from gaps
    private = None  # the resources that accept only private access, read once when a deployment needs them
    for ref in found:
        e, d, did = ref.endpoint_name, ref.name, ref.id
        flag = props(ref.deployment).get("egressPublicNetworkAccess")
        if flag is None:
            yield ctx.skipped(did, f"deployment {d} of endpoint {e} does not set egressPublicNetworkAccess")
            continue
        workspace, error = ctx.try_fact("workspace")
        if error is not None:
            yield ctx.errored(did, error, expected=EXPECTED, observed={"egressPublicNetworkAccess": flag})
            continue
        mode = dig(props(workspace), "managedNetwork", "isolationMode")
        observed = {"egressPublicNetworkAccess": flag, "workspace managedNetwork.isolationMode": mode}
        if any(same_text(mode, m) for m in MANAGED_MODES):
            if same_text(flag, "Disabled"):
                yield ctx.warned(did, f"deployment {d} of endpoint {e} sets the legacy egressPublicNetworkAccess=Disabled, "
                                      f"which no longer applies: workspace {ctx.target.workspace} has a managed virtual "
                                      f"network ({mode}) that governs its outbound traffic",
                                 expected=EXPECTED, observed=observed, fix=recreate_deployment(ctx, ref, with_flag=False))
            else:
                yield ctx.skipped(did, f"deployment {d} of endpoint {e}: egressPublicNetworkAccess {flag} (the default) "
                                       f"does not apply, the workspace's managed virtual network ({mode}) governs its "
                                       "outbound traffic")
            continue
        if same_text(flag, "Disabled"):
            yield ctx.passed(did, f"deployment {d} of endpoint {e} reaches the workspace's resources privately "
                                  "(egressPublicNetworkAccess Disabled, the legacy per-deployment network)",
                             expected=EXPECTED, observed=observed)
            continue
        if not same_text(flag, "Enabled"):
            yield ctx.errored(did, f"deployment {d} of endpoint {e} has an unexpected egressPublicNetworkAccess {flag!r}",
                              reason="unreadable", expected=EXPECTED, observed=observed)
            continue
        if private is None:
            private = _private_only(ctx, workspace)
        closed, unread, seen = private
        observed["resources"] = seen
        if closed:
            yield ctx.failed(did, f"deployment {d} of endpoint {e} has egressPublicNetworkAccess Enabled (no private "
                                  f"path, no workspace managed network), but {'; '.join(closed)} accept"
                                  f"{'s' if len(closed) == 1 else ''} only private access: the deployment fails by design",
                             expected=EXPECTED, observed=observed, fix=recreate_deployment(ctx, ref, with_flag=True))
        elif unread:
            first = unread[0]
            yield ctx.errored(did, f"deployment {d} of endpoint {e} has egressPublicNetworkAccess Enabled; whether the "
                                   f"workspace's resources accept public access could not be read: "
                                   + "; ".join(f"{what}: {err.message}" for what, err in unread),
                              reason=first[1].kind, expected=EXPECTED, observed=observed)
        else:
            yield ctx.passed(did, f"deployment {d} of endpoint {e} has egressPublicNetworkAccess Enabled, and the "
                                  f"workspace's resources it reaches ({', '.join(seen)}) accept public access",
                             expected=EXPECTED, observed=observed)


def _private_only(ctx, workspace):
    """([what accepts only private access], [(what, error) that could not be read], {what: settings})."""
    closed, unread, seen = [], [], {}
    p = props(workspace)
    ws_access = p.get("publicNetworkAccess")
    seen["workspace"] = {"publicNetworkAccess": ws_access}
    if same_text(ws_access, "Disabled"):
        closed.append(f"workspace {ctx.target.workspace} (publicNetworkAccess Disabled)")
    registry_ref = resource_id.parse(p.get("containerRegistry"))
    if registry_ref is not None:  # none yet ("" until the first image is built): nothing to refuse the deployment
        registry, error = ctx.try_fact("registry")
        if error is not None:
            unread.append((f"registry {registry_ref.name}", error))
        else:
            rp = props(registry)
            public, default = rp.get("publicNetworkAccess"), dig(rp, "networkRuleSet", "defaultAction")
            seen["registry"] = {"publicNetworkAccess": public, "networkRuleSet.defaultAction": default}
            if same_text(public, "Disabled") or same_text(default, "Deny"):
                how = "publicNetworkAccess Disabled" if same_text(public, "Disabled") else "firewall default action Deny"
                closed.append(f"registry {registry_ref.name} ({how})")
    storage_ref = resource_id.parse(p.get("storageAccount"))
    if storage_ref is None:
        shown = "absent" if p.get("storageAccount") is None else repr(p.get("storageAccount"))
        unread.append(("the storage account", FactError("unreadable", f"the workspace's storageAccount is {shown}, "
                                                                      "not a resource id")))
    else:
        storage, error = ctx.try_fact("storage_account")
        if error is not None:
            unread.append((f"storage account {storage_ref.name}", error))
        else:
            access = storage_access(storage, storage_ref.text)
            seen["storage"] = access.observed()
            if access.private_only(ctx.workspace_id):
                closed.append(f"storage account {access.name} ({access.describe()})")
    return closed, unread, seen


"""deployment.isolation-method: a deployment must not mix the legacy egress flag with a workspace managed VNet."""

from moediag.check import Doc, Example, check
from moediag.errors import FactError
from moediag.evidence import dig, props, require_props, same_text
from moediag.judge.scope import deployments_in_scope, recreate_deployment

MANAGED_MODES = ("AllowOnlyApprovedOutbound", "AllowInternetOutbound")
EXPECTED = "egressPublicNetworkAccess not set (or Enabled) when the workspace has a managed virtual network"

DOC = Doc(
    what=(
        "A deployment with `egressPublicNetworkAccess` = `Disabled` (the legacy outbound isolation method: one "
        "managed network per deployment) is not in a workspace that has a managed virtual network "
        "(`managedNetwork.isolationMode` `AllowOnlyApprovedOutbound` or `AllowInternetOutbound`, the current "
        "method). Deployments without the flag, or in a workspace without a managed network, pass."
    ),
    why=(
        "The two outbound methods do not combine: with a workspace managed VNet the deployment's traffic is meant "
        "to leave through that network's private endpoints and rules, and the legacy flag must not be set at all. "
        "A deployment that sets it anyway takes the legacy path (its own network, the registry's egress "
        "connection) and ignores the outbound rules you configured."
    ),
    fix=(
        "The flag cannot be changed after a deployment is created: create a new deployment without "
        "`egress_public_network_access`, move the traffic to it (`az ml online-endpoint update -n E --traffic "
        "\"new=100\"`), then delete the old one."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-managed-network",
           "https://learn.microsoft.com/azure/machine-learning/concept-secure-online-endpoint"),
    examples=(
        Example({"workspace": {"properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}},
                 "deployment": {"id": "/subscriptions/.../onlineEndpoints/ep-main/deployments/blue",
                                "properties": {"egressPublicNetworkAccess": "Disabled"}}},
                "warn: deployment blue of endpoint ep-main sets egressPublicNetworkAccess=Disabled (legacy method) "
                "in workspace ws-prod, which has a managed virtual network (AllowOnlyApprovedOutbound): the flag "
                "must not be set with a workspace managed VNet, and it cannot be changed after creation"),
        Example({"deployment": {"id": "/subscriptions/.../onlineEndpoints/ep-main/deployments/blue",
                                "properties": {"provisioningState": "Succeeded"}}},
                "pass: deployment blue of endpoint ep-main does not use the legacy egress flag "
                "(egressPublicNetworkAccess not set)"),
    ),
)


@check(id="deployment.isolation-method", title="Deployments use one outbound isolation method, not both",
       severity="medium", scope="deployment", facts=("online_endpoints", "deployments", "workspace"), doc=DOC,
       explained_by=(), hops=("deployment:isolation-mode",), fix_risk="destructive")
def evaluate(ctx):
    found, gaps = deployments_in_scope(ctx)
    yield from gaps
    t = ctx.target
    for ref in found:
        e, d, did = ref.endpoint_name, ref.name, ref.id
        flag = props(ref.deployment).get("egressPublicNetworkAccess")
        if not same_text(flag, "Disabled"):
            yield ctx.passed(did, f"deployment {d} of endpoint {e} does not use the legacy egress flag "
                                  f"(egressPublicNetworkAccess {flag if flag is not None else 'not set'})",
                             expected=EXPECTED, observed={"egressPublicNetworkAccess": flag})
            continue
        workspace, error = ctx.try_fact("workspace")  # read only when it can change the verdict
        if error is None:  # a body without properties is not a workspace without a managed network
            try:
                require_props(workspace, "workspace")
            except FactError as exc:
                error = exc
        if error is not None:
            yield ctx.errored(did, f"deployment {d} uses the legacy egress flag, but whether the workspace has a "
                                   f"managed network could not be read: {error.message}", reason=error.kind,
                              expected=EXPECTED, observed={"egressPublicNetworkAccess": flag})
            continue
        mode = dig(props(workspace), "managedNetwork", "isolationMode")
        observed = {"egressPublicNetworkAccess": flag, "workspace managedNetwork.isolationMode": mode}
        if not any(same_text(mode, m) for m in MANAGED_MODES):
            yield ctx.passed(did, f"deployment {d} of endpoint {e} uses the legacy outbound method consistently "
                                  f"(workspace isolationMode {mode or 'not set'})", expected=EXPECTED, observed=observed)
            continue
        yield ctx.warned(
            did, f"deployment {d} of endpoint {e} sets egressPublicNetworkAccess=Disabled (legacy method) in workspace "
                 f"{t.workspace}, which has a managed virtual network ({mode}): the flag must not be set with a "
                 "workspace managed VNet, and it cannot be changed after creation",
            expected=EXPECTED, observed=observed,
            fix=recreate_deployment(ctx, ref, with_flag=False))

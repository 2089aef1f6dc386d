"""acr.egress-connection-approved: legacy-isolated deployments pull images through an approved connection."""

from moediag.check import Doc, Example, check
from moediag.evidence import az_group_and_name, dig, listed, props, require_props, same_text, text
from moediag.judge.scope import endpoint_deployments
from moediag.shell import command

EGRESS_DESCRIPTION = "Egress for Microsoft.MachineLearningServices/workspaces/onlineEndpoints"

DOC = Doc(
    what=(
        "Where a deployment uses the legacy isolation method (`egressPublicNetworkAccess` = `Disabled`), the "
        "workspace container registry has a private endpoint connection described "
        f"`{EGRESS_DESCRIPTION}` and it is `Approved`. Not applicable when no deployment uses that method."
    ),
    why=(
        "With the legacy method each deployment gets its own managed network and reaches the registry through "
        "a private endpoint that Azure requests for it. Until that connection is approved, the deployment "
        "cannot download its image and stays in Creating, then fails."
    ),
    fix=(
        "Approve the pending connection on the registry: `az network private-endpoint-connection approve "
        "--id <connection id> --description Approved` (or in the portal: registry → Networking → Private access)."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/concept-secure-online-endpoint",),
    examples=(
        Example({"deployment": {"name": "blue", "properties": {"egressPublicNetworkAccess": "Disabled"}},
                 "registry": {"id": "/subscriptions/.../registries/acrwsprod",
                              "properties": {"privateEndpointConnections":
                                                 [{"name": "11111111-2222-3333-4444-555555555555-acrwsprod-egress",
                                                   "properties":
                                                       {"privateLinkServiceConnectionState":
                                                            {"status": "Pending",
                                                             "description": EGRESS_DESCRIPTION}}}]}}},
                "fail: the registry's egress connection 11111111-2222-3333-4444-555555555555-acrwsprod-egress is "
                "Pending: deployments blue cannot pull their images"),
        Example({"deployment": {"name": "blue", "properties": {"egressPublicNetworkAccess": "Disabled"}},
                 "registry": {"id": "/subscriptions/.../registries/acrwsprod",
                              "properties": {"privateEndpointConnections":
                                                 [{"name": "11111111-2222-3333-4444-555555555555-acrwsprod-egress",
                                                   "properties":
                                                       {"privateLinkServiceConnectionState":
                                                            {"status": "Approved",
                                                             "description": EGRESS_DESCRIPTION}}}]}}},
                "pass: the registry's egress connection for deployments blue is Approved"),
    ),
)


@check(id="acr.egress-connection-approved", title="Registry egress connection for legacy-isolated deployments is approved",
       severity="critical", scope="deployment", facts=("workspace", "online_endpoints", "deployments", "registry"), doc=DOC,
       explained_by=(), hops=("deployment:outbound-network", "deployment:registry"), fix_risk="safe")
def evaluate(ctx):
    _, per_endpoint = endpoint_deployments(ctx)
    legacy = [d for deployments, _ in per_endpoint.values() for d in deployments
              if same_text(props(d).get("egressPublicNetworkAccess"), "Disabled")]
    unread = [(name, error) for name, (_, error) in per_endpoint.items() if error is not None]
    if not legacy:
        for name, error in unread:
            yield ctx.errored(ctx.target.endpoint_id(name), error)
        if not unread:
            yield ctx.skipped(ctx.workspace_id, "no deployment uses the legacy isolation method "
                                                "(egressPublicNetworkAccess=Disabled)")
        return
    registry = ctx.fact("registry")
    registry_id = registry.get("id") if isinstance(registry, dict) else None
    names = ", ".join(sorted(text(d.get("name")) for d in legacy))
    connections = listed(require_props(registry, "registry").get("privateEndpointConnections") or [],
                         "the registry's privateEndpointConnections")
    egress = [c for c in connections
              if text(dig(c, "properties", "privateLinkServiceConnectionState", "description")) == EGRESS_DESCRIPTION]
    if not egress:
        yield ctx.failed(registry_id, f"deployments {names} use the legacy isolation method, but the registry has no "
                                      f"private endpoint connection described {EGRESS_DESCRIPTION!r}",
                         expected=f"an Approved connection described {EGRESS_DESCRIPTION!r}", observed="none",
                         fix=("Recreate the deployment so Azure requests the egress connection again, then approve it", []))
        return
    _, registry_name = az_group_and_name(registry_id)
    for connection in egress:
        status = dig(connection, "properties", "privateLinkServiceConnectionState", "status")
        cid = connection.get("id") or registry_id
        if same_text(status, "Approved"):
            yield ctx.passed(cid, f"the registry's egress connection for deployments {names} is Approved",
                             expected="Approved", observed=status)
        else:
            yield ctx.failed(cid, f"the registry's egress connection {connection.get('name')} is {status or 'in no state'}: "
                                  f"deployments {names} cannot pull their images",
                             expected="Approved", observed=status,
                             fix=(f"Approve the connection on registry {registry_name}",
                                  [command('az network private-endpoint-connection approve --id {cid} '
                                           '--description "Approved for online endpoints"', cid=cid)]))

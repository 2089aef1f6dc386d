"""workspace.public-network-access: the workspace's inbound setting, and whether endpoints can be scored with it."""

from moediag.check import Doc, Example, check
from moediag.evidence import dig, props, same_text, text, workspace_private_endpoint_ids
from moediag.shell import Placeholder, command

DOC = Doc(
    what=(
        "Reports the workspace's inbound setting (`publicNetworkAccess`, and its approved private endpoints) "
        "beside each online endpoint's `publicNetworkAccess` (absent means `Enabled`). It warns only on a "
        "contradiction that blocks scoring: an endpoint that accepts requests only through the workspace's "
        "private endpoint (`Disabled`) while the workspace has no approved private endpoint. Other combinations "
        "pass, with the settings as evidence."
    ),
    why=(
        "With public network access disabled, an endpoint is scored only through the workspace's private "
        "endpoint. Without an approved one there is no way in: every scoring request fails, from the VNet and "
        "from the internet alike."
    ),
    fix=(
        "Give the workspace an approved private endpoint (with DNS integration) in the clients' VNet, or let the "
        "endpoint accept public traffic: `az ml online-endpoint update -n ENDPOINT -g RG -w WS --set "
        "public_network_access=enabled`."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/concept-secure-online-endpoint#secure-inbound-scoring-requests",),
    examples=(
        Example({"workspace": {"properties": {"publicNetworkAccess": "Disabled",
                                              "privateEndpointConnections":
                                                  [{"name": "ws-prod.pe-ws-1111",
                                                    "properties":
                                                        {"privateLinkServiceConnectionState":
                                                             {"status": "Pending"}}}]}},
                 "endpoint": {"name": "ep-main", "properties": {"publicNetworkAccess": "Disabled"}}},
                "warn: endpoint ep-main accepts scoring only through the workspace's private endpoint, but the "
                "workspace has no approved one (workspace publicNetworkAccess Disabled, 0 approved private "
                "endpoint(s)): no client can score it"),
        Example({"workspace": {"properties": {"publicNetworkAccess": "Disabled",
                                              "privateEndpointConnections":
                                                  [{"name": "ws-prod.pe-ws-1111",
                                                    "properties":
                                                        {"privateLinkServiceConnectionState":
                                                             {"status": "Approved"}}}]}},
                 "endpoint": {"name": "ep-main", "properties": {"publicNetworkAccess": "Disabled"}}},
                "pass: endpoint ep-main is scored only through the workspace's private endpoint; workspace "
                "publicNetworkAccess Disabled, 1 approved private endpoint(s)"),
    ),
)


@check(id="workspace.public-network-access", title="Workspace and endpoint inbound settings allow scoring",
       severity="medium", scope="endpoint", facts=("workspace", "online_endpoints"), doc=DOC,
       explained_by=(), hops=("scoring:public-access",), fix_risk="disruptive")
def evaluate(ctx):
    workspace = ctx.fact("workspace")
    approved = [pe_id or text(c.get("name")) for c, pe_id in workspace_private_endpoint_ids(workspace)
                if same_text(dig(c, "properties", "privateLinkServiceConnectionState", "status"), "Approved")]
    inbound = {"publicNetworkAccess": props(workspace).get("publicNetworkAccess"), "approved_private_endpoints": approved}
    described = (f"workspace publicNetworkAccess {inbound['publicNetworkAccess'] or 'absent'}, "
                 f"{len(approved)} approved private endpoint(s)")
    listed = ctx.fact("online_endpoints")
    endpoints = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else None
    if endpoints is None:
        yield ctx.errored(ctx.workspace_id, "the online endpoints came back in a shape moediag cannot read",
                          reason="unreadable", expected="a list of endpoints", observed=type(listed).__name__)
        return
    if not endpoints:
        yield ctx.passed(ctx.workspace_id, f"{described}; no online endpoint to compare with",
                         expected="endpoint settings consistent with the workspace's", observed={"workspace": inbound})
        return
    for endpoint in endpoints:
        yield _verdict(ctx, endpoint, inbound, described)


def _verdict(ctx, endpoint: dict, inbound: dict, described: str):
    t = ctx.target
    name = text(endpoint.get("name"))
    eid = text(endpoint.get("id")) or t.endpoint_id(name)
    raw = props(endpoint).get("publicNetworkAccess")
    observed = {"workspace": inbound, "endpoint": {"publicNetworkAccess": raw}}
    expected = "an endpoint with public access disabled has an approved workspace private endpoint to be scored through"
    if not same_text(raw, "Disabled"):
        shown = raw or "absent (Enabled)"
        return ctx.passed(eid, f"endpoint {name} accepts public scoring (publicNetworkAccess {shown}); {described}",
                          expected=expected, observed=observed)
    if inbound["approved_private_endpoints"]:
        return ctx.passed(eid, f"endpoint {name} is scored only through the workspace's private endpoint; {described}",
                          expected=expected, observed=observed)
    pending = [c for c, _ in workspace_private_endpoint_ids(ctx.fact("workspace"))
               if not same_text(dig(c, "properties", "privateLinkServiceConnectionState", "status"), "Approved")]
    public = command("az ml online-endpoint update -n {name} -g {group} -w {workspace} "
                     "--set public_network_access=enabled", name=name, group=t.resource_group, workspace=t.workspace)
    if pending:  # a private endpoint exists: approving it is the fix; opening the endpoint is never the only one
        ids = [text(c.get("id")) or None for c in pending]
        fix = ("Approve the workspace's private endpoint connection (the first command); opening public scoring (the "
               "last) is the alternative only if scoring is meant to be public",
               [*(command("az network private-endpoint-connection approve --id {conn} --description {why}", conn=cid,
                          why="Approved for online endpoint scoring") for cid in ids), public])
    else:
        fix = ("Create a workspace private endpoint in the clients' VNet (with DNS integration); allow public scoring "
               "(the last command) only if scoring is meant to be public",
               [command("az network private-endpoint create -g {group} -n {pe} --subnet {subnet} --group-id amlworkspace "
                        "--private-connection-resource-id {wid} --connection-name {pe}", group=Placeholder("network-rg"),
                        pe=Placeholder("pe-name"), subnet=Placeholder("clients subnet id"), wid=ctx.workspace_id),
                public])
    return ctx.warned(eid, f"endpoint {name} accepts scoring only through the workspace's private endpoint, but the "
                           f"workspace has no approved one ({described}): no client can score it",
                      expected=expected, observed=observed, fix=fix)

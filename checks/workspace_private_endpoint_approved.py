"""workspace.private-endpoint-approved: clients reach a private workspace only through approved connections."""

from moediag.check import Doc, Example, check
from moediag.evidence import (
    az_group_and_name,
    dig,
    props,
    same_text,
    text,
    workspace_private_endpoint_ids,
)
from moediag.judge.scope import network_home
from moediag.shell import command

DOC = Doc(
    what=(
        "Each private endpoint connection of the workspace (`properties.privateEndpointConnections[]`) has "
        "`privateLinkServiceConnectionState.status` `Approved`. `Pending`, `Rejected` or `Disconnected` fail. "
        "Not applicable when the workspace has no private endpoint. A project uses its hub's private endpoints: "
        "they are read from the hub's body (the message says so)."
    ),
    why=(
        "Scoring requests to an endpoint with public network access disabled travel through the workspace's "
        "private endpoint. Until its connection is approved (a private endpoint created by someone without "
        "rights on the workspace waits for manual approval), nothing flows through it: requests from the VNet "
        "time out or are refused."
    ),
    fix=(
        "Approve the connection on the workspace: `az network private-endpoint-connection approve --id "
        "<connection id> --description \"Approved\"` (portal: workspace → Networking → Private endpoint "
        "connections). A `Disconnected` connection cannot be approved: delete the private endpoint and create it "
        "again; so too a `Rejected` one where Azure refuses to approve it again."
    ),
    links=("https://learn.microsoft.com/azure/private-link/manage-private-endpoint",
           "https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link"),
    examples=(
        Example({"name": "ws-prod",
                 "properties": {"privateEndpointConnections": [{"name": "ws-prod.pe-ws-1111",
                                                                "properties":
                                                                    {"privateEndpoint":
                                                                         {"id":
                                                                              "/subscriptions/.../privateEndpoints/pe-ws"},
                                                                     "privateLinkServiceConnectionState":
                                                                         {"status": "Pending", "description": ""}}}]}},
                "fail: private endpoint connection ws-prod.pe-ws-1111 to workspace ws-prod is Pending: traffic "
                "through private endpoint pe-ws does not reach the workspace or its endpoints"),
        Example({"name": "ws-prod",
                 "properties": {"privateEndpointConnections": [{"name": "ws-prod.pe-ws-1111",
                                                                "properties":
                                                                    {"privateEndpoint":
                                                                         {"id":
                                                                              "/subscriptions/.../privateEndpoints/pe-ws"},
                                                                     "privateLinkServiceConnectionState":
                                                                         {"status": "Approved",
                                                                          "description": "Auto-Approved"}}}]}},
                "pass: private endpoint connection ws-prod.pe-ws-1111 is Approved"),
    ),
)


@check(id="workspace.private-endpoint-approved", title="Workspace private endpoint connections are approved",
       severity="high", scope="workspace", facts=("workspace", "network_workspace"), doc=DOC,
       explained_by=(), hops=("scoring:private-endpoint",), fix_risk="safe")
def evaluate(ctx):
    home = network_home(ctx)
    connections = workspace_private_endpoint_ids(home.body)
    if not connections:
        owner = f"its hub {home.name}" if home.from_hub else "the workspace"
        yield ctx.skipped(ctx.workspace_id, f"{owner} has no private endpoint connection: nothing to approve")
        return
    for connection, pe_id in connections:
        result = _verdict(ctx, home, connection, pe_id)
        result.message += home.note
        yield result


def _verdict(ctx, home, connection: dict, pe_id: str | None):
    state = dig(props(connection), "privateLinkServiceConnectionState") or {}
    status = dig(state, "status")
    name = text(connection.get("name")) or "<unnamed>"
    cid = text(connection.get("id")) or f"{home.id}/privateEndpointConnections/{name}"
    observed = {"status": status, "description": dig(state, "description"), "privateEndpoint": pe_id}
    if same_text(status, "Approved"):
        return ctx.passed(cid, f"private endpoint connection {name} is Approved", expected="Approved", observed=observed)
    if not isinstance(status, str) or not status.strip():
        return ctx.errored(cid, f"private endpoint connection {name} carries no status: cannot tell whether it is approved",
                           reason="unreadable", expected="Approved", observed=observed)
    approve = command('az network private-endpoint-connection approve --id {cid} '
                      '--description "Approved for online endpoint scoring"', cid=cid)
    group, pe_name = az_group_and_name(pe_id)
    recreate = [command("az network private-endpoint delete -g {group} -n {name}", group=group, name=pe_name),
                command("az network private-endpoint create -g {group} -n {name} --vnet-name <vnet> --subnet <subnet> "
                        "--private-connection-resource-id {workspace_id} --group-id amlworkspace --connection-name {name}",
                        group=group, name=pe_name, workspace_id=home.id),
                command("az network private-endpoint dns-zone-group create -g {group} --endpoint-name {name} -n default "
                        "--private-dns-zone {zone} --zone-name {zone}",
                        group=group, name=pe_name, zone=ctx.cloud.api_zone)]
    if same_text(status, "Pending"):
        fix = (f"Approve the connection on {'hub' if home.from_hub else 'workspace'} {home.name}", [approve])
    elif same_text(status, "Rejected"):
        fix = ("Approve the rejected connection; if Azure refuses, delete the private endpoint and create it again",
               [approve, *recreate])
    else:
        fix = (f"A {status} connection cannot be approved: delete the private endpoint and create it again", recreate)
    return ctx.failed(cid, f"private endpoint connection {name} to {'hub' if home.from_hub else 'workspace'} {home.name} is {status}: "
                           "traffic through private endpoint "
                           f"{pe_name if pe_id else '(unknown)'} does not reach the workspace or its endpoints",
                      expected="Approved", observed=observed, fix=fix)

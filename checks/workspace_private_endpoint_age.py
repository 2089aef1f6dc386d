"""workspace.private-endpoint-age: private endpoints made before 2022-05-24 lack the inference DNS entries."""

from datetime import datetime, timezone

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.evidence import dig, parse_time, props, workspace_private_endpoint_ids
from moediag.judge.scope import network_home
from moediag.shell import Placeholder, command

CUTOFF = datetime(2022, 5, 24, tzinfo=timezone.utc)
PE_TYPE = "Microsoft.Network/privateEndpoints"

DOC = Doc(
    what=(
        "Every private endpoint of the workspace was created on or after 2022-05-24. The creation time comes "
        "from Resource Manager's resource list (`$expand=createdTime`); when that is missing, the workspace's "
        "own `creationTime` is a lower bound (a private endpoint to a workspace cannot predate it). A project uses "
        "its hub's private endpoints: they, and the hub's `creationTime`, are read from the hub's body."
    ),
    why=(
        "Workspace private endpoints created before 2022-05-24 were not set up for managed online endpoints: "
        "their DNS configuration lacks the `*.<workspaceId>.inference.<region>` names, so scoring requests "
        "from the VNet cannot reach the endpoint."
    ),
    fix=(
        "Delete the workspace private endpoint and create it again, with a private DNS zone group so the "
        "records are registered (`az network private-endpoint create ... --group-id amlworkspace` then "
        "`az network private-endpoint dns-zone-group create ...`)."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-secure-online-endpoint",),
    examples=(
        Example({"workspace": {"properties": {"privateEndpointConnections":
                                                  [{"properties":
                                                        {"privateEndpoint":
                                                             {"id": "/subscriptions/.../privateEndpoints/pe-ws"}}}]}},
                 "createdTime": {"/subscriptions/.../privateendpoints/pe-ws": "2021-12-01T08:00:00+00:00"}},
                "fail: private endpoint pe-ws was created 2021-12-01, before 2022-05-24: it lacks the DNS "
                "configuration online endpoints need"),
        Example({"workspace": {"properties": {"privateEndpointConnections":
                                                  [{"properties":
                                                        {"privateEndpoint":
                                                             {"id": "/subscriptions/.../privateEndpoints/pe-ws"}}}]}},
                 "createdTime": {"/subscriptions/.../privateendpoints/pe-ws": "2023-05-09T01:30:00+00:00"}},
                "pass: private endpoint pe-ws was created 2023-05-09"),
    ),
)


@check(id="workspace.private-endpoint-age", title="Workspace private endpoints are recent enough for online endpoints",
       severity="high", scope="workspace", facts=("workspace", "created_times", "private_endpoint", "network_workspace"),
       doc=DOC,
       explained_by=(), hops=("scoring:private-endpoint",), fix_risk="destructive")
def evaluate(ctx):
    home = network_home(ctx)
    workspace = home.body
    endpoints = workspace_private_endpoint_ids(workspace)
    if not endpoints:
        owner = f"its hub {home.name}" if home.from_hub else "the workspace"
        yield ctx.skipped(ctx.workspace_id, f"{owner} has no private endpoint: nothing to age-check")
        return
    ws_created = parse_time(props(workspace).get("creationTime"))
    parsed = [(conn, pe_id, resource_id.parse(pe_id)) for conn, pe_id in endpoints]
    groups = sorted({(p.subscription, p.resource_group) for _, _, p in parsed if p})
    listings = dict(zip(groups, ctx.gather("created_times", [(s, g, PE_TYPE) for s, g in groups])))
    # Only to fill the fix's --vnet-name/--subnet with real names; the verdict does not depend on it.
    bodies = dict(zip([p.text for _, _, p in parsed if p], ctx.gather("private_endpoint", [(p.text,) for _, _, p in parsed if p])))
    for conn, pe_id, pid in parsed:
        rid = pe_id or conn.get("id")
        if pid is None:
            yield ctx.errored(rid, f"private endpoint connection {conn.get('name')!r} names no valid private endpoint id "
                                   f"({pe_id!r})", reason="unreadable")
            continue
        times, error = listings[(pid.subscription, pid.resource_group)]
        created = parse_time(times.get(pid.text.lower()) if isinstance(times, dict) else None)
        result = _verdict(ctx, home, pid, created, ws_created, error, _subnet(bodies[pid.text][0]))
        result.message += home.note
        yield result


def _subnet(body) -> tuple[str, str]:
    """(VNet name, subnet name) of a private endpoint body, or placeholders when it could not be read."""
    subnet = resource_id.parse(dig(props(body), "subnet", "id"))
    if subnet is None or len(subnet.names) < 2:
        return Placeholder("vnet"), Placeholder("subnet")
    return subnet.names[0], subnet.names[1]


def _verdict(ctx, home, pid, created, ws_created, error, subnet):
    expected = f"created on or after {CUTOFF.date()}"
    vnet_name, subnet_name = subnet
    fix = ("Recreate the workspace private endpoint with a private DNS zone group",
           [command("az network private-endpoint delete -g {group} -n {name}", group=pid.resource_group, name=pid.name),
            command("az network private-endpoint create -g {group} -n {name} --vnet-name {vnet} --subnet {subnet} "
                    "--private-connection-resource-id {workspace_id} --group-id amlworkspace --connection-name {name}",
                    group=pid.resource_group, name=pid.name, vnet=vnet_name, subnet=subnet_name,
                    workspace_id=home.id),
            command("az network private-endpoint dns-zone-group create -g {group} --endpoint-name {name} "
                    "-n default --private-dns-zone {zone} --zone-name {zone}",
                    group=pid.resource_group, name=pid.name, zone=ctx.cloud.api_zone)])
    if created is not None:
        if created >= CUTOFF:
            return ctx.passed(pid.text, f"private endpoint {pid.name} was created {created.date()}",
                              expected=expected, observed=created.isoformat())
        return ctx.failed(pid.text, f"private endpoint {pid.name} was created {created.date()}, before {CUTOFF.date()}: "
                                    "it lacks the DNS configuration online endpoints need",
                          expected=expected, observed=created.isoformat(), fix=fix)
    if ws_created is not None and ws_created >= CUTOFF:
        how = "its creation time is not in the resource list" if error is None else f"the resource list was unreadable ({error.message})"
        return ctx.passed(pid.text, f"private endpoint {pid.name}: {how}, but the {'hub' if home.from_hub else 'workspace'} was created "
                                    f"{ws_created.date()}, so the endpoint cannot be older",
                          expected=expected, observed=f"on or after {ws_created.date()} (workspace creationTime)")
    if error is not None:
        return ctx.errored(pid.text, error, expected=expected, observed=None)
    return ctx.warned(pid.text, f"cannot tell when private endpoint {pid.name} was created: Resource Manager gave no "
                                "createdTime and the workspace has no creationTime after the cutoff",
                      reason="inconclusive", expected=expected,
                      observed=f"workspace creationTime {ws_created.isoformat() if ws_created else 'absent'}",
                      fix=("Look up the creation time in the Activity Log, or recreate the private endpoint if unsure", []))

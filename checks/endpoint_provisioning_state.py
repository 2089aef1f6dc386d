"""endpoint.provisioning-state: an endpoint that is not Succeeded refuses new deployments."""

from moediag.check import Doc, Example, check
from moediag.judge.scope import endpoints_in_scope, provisioning_result
from moediag.shell import command

DOC = Doc(
    what=(
        "Each online endpoint's `properties.provisioningState` is `Succeeded`. `Failed` and `Canceled` fail; "
        "`Creating`, `Updating` and `Deleting` warn (an operation is in progress: look again when it ends)."
    ),
    why=(
        "While an endpoint is being created or updated it refuses new deployments and traffic changes; an "
        "endpoint that failed to provision has no working scoring route (often its identity, or the workspace's "
        "private endpoint and DNS, was not ready)."
    ),
    fix=(
        "Wait for an operation in progress to end. For a failed endpoint read the failed operation in the Activity "
        "Log (`az monitor activity-log list --resource-id <endpoint id> --status Failed --offset 1d`), fix the "
        "cause and apply the endpoint again (`az ml online-endpoint update -n E -g RG -w WS -f endpoint.yml`)."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",),
    examples=(
        Example({"id": "/subscriptions/.../onlineEndpoints/ep-main", "properties": {"provisioningState": "Failed"}},
                "fail: endpoint ep-main is Failed: it has no working scoring route and refuses deployments"),
        Example({"id": "/subscriptions/.../onlineEndpoints/ep-main", "properties": {"provisioningState": "Updating"}},
                "warn: endpoint ep-main is Updating: it refuses new deployments until the operation ends; look again"
                " when the operation ends"),
    ),
)


@check(id="endpoint.provisioning-state", title="Endpoints provisioned successfully", severity="high",
       scope="endpoint", facts=("online_endpoints", "workspace"), doc=DOC,
       explained_by=("workspace.v1-legacy-mode", "workspace.private-endpoint-age"), hops=("scoring:endpoint",), fix_risk="disruptive")
def evaluate(ctx):
    endpoints, gaps = endpoints_in_scope(ctx)
    yield from gaps
    t = ctx.target
    for name, endpoint in endpoints:
        eid = t.endpoint_id(name)
        where = command("-n {name} -g {group} -w {workspace}", name=name, group=t.resource_group, workspace=t.workspace)
        yield provisioning_result(
            ctx, eid, f"endpoint {name}", endpoint,
            failed_means="it has no working scoring route and refuses deployments",
            waiting_means="it refuses new deployments until the operation ends",
            failed_fix=("Read why the last operation failed, fix the cause, then update the endpoint again",
                        [command("az monitor activity-log list --resource-id {eid} --status Failed --offset 1d", eid=eid),
                         command("az ml online-endpoint update {where} -f <endpoint.yml>", where=where)]),
            show=command("az ml online-endpoint show {where}", where=where))

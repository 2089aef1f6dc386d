"""deployment.provisioning-state: a deployment that did not provision cannot serve."""

from moediag.check import Doc, check
from moediag.judge.scope import deployments_in_scope, provisioning_result
from moediag.shell import command

DOC = Doc(
    what=(
        "Each deployment's `properties.provisioningState` is `Succeeded`. `Failed` and `Canceled` fail; "
        "`Creating`, `Updating`, `Scaling` and `Deleting` warn (an operation is in progress: look again when it "
        "ends)."
    ),
    why=(
        "Only a deployment that provisioned has running instances behind the endpoint. Requests routed to a "
        "failed deployment are answered with errors; in an isolated workspace the cause is most often in the "
        "container logs (an image that could not be pulled, a model that could not be downloaded, a scoring "
        "script that crashed in init())."
    ),
    fix=(
        "Read the container logs (`az ml online-deployment get-logs -e E -n D -g RG -w WS --lines 300`, and "
        "`--container storage-initializer`), or let moediag read them (check `deployment.logs`), fix the cause, "
        "then update the deployment again."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",),
)


@check(id="deployment.provisioning-state", title="Deployments provisioned successfully", severity="critical",
       scope="deployment", facts=("online_endpoints", "deployments"), doc=DOC,
       explained_by=("workspace.v1-legacy-mode", "workspace.managed-network-provisioned", "workspace.outbound-rules-active", "keyvault.trusted-services-bypass", "acr.egress-connection-approved", "acr.sku-premium", "workspace.image-build-compute", "deployment.isolation-method", "endpoint.identity-roles", "deployment.logs"), hops=("deployment:provisioning",), fix_risk="disruptive")
def evaluate(ctx):
    found, gaps = deployments_in_scope(ctx)
    yield from gaps
    t = ctx.target
    for ref in found:
        e, d = ref.endpoint_name, ref.name
        where = command("-e {e} -n {d} -g {group} -w {workspace}", e=e, d=d, group=t.resource_group,
                        workspace=t.workspace)
        yield provisioning_result(
            ctx, ref.id, f"deployment {d} of endpoint {e}", ref.deployment,
            failed_means="it serves no requests", waiting_means="an operation is in progress",
            failed_fix=("Read the container logs for the cause (see deployment.logs), fix it, then update the "
                        "deployment again",
                        [command("az ml online-deployment get-logs {where} --lines 300", where=where),
                         command("az ml online-deployment get-logs {where} --lines 300 --container storage-initializer",
                                 where=where),
                         command("az ml online-deployment update {where} -f <deployment.yml>", where=where)]),
            show=command("az ml online-deployment show {where}", where=where))

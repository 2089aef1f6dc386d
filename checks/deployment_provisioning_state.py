"""deployment.provisioning-state: a deployment that did not provision cannot serve; a failed one says why."""

import re

from moediag.check import Doc, Example, check
from moediag.clouds import PUBLIC
from moediag.diagnosis import Cause
from moediag.evidence import (
    dig,
    error_additional_info,
    error_codes,
    error_messages,
    operation_error,
    provisioning_phase,
    text,
)
from moediag.judge.scope import deployments_in_scope, provisioning_result
from moediag.shell import Placeholder, command

# What a failed deployment's error code means, the deployment-path hop it points at, and where the fix is.
# code: (hop, what it means, the fix's summary)
REASONS = {
    "ImageBuildFailure": (
        "image-build", "the environment's image could not be built",
        "Read the image build log (the error message names its path in the workspace storage) and fix the "
        "environment; when the registry is private, builds run on the workspace's image build compute, which must "
        "be set and able to reach the registry and the package index"),
    "ImageBuildComputeNotValid": (
        "image-build", "the workspace's image build compute is missing or not usable",
        "Set the workspace's image build compute to a compute cluster that exists in the workspace"),
    "WorkspaceManagedNetworkNotReady": (
        "outbound-network", "the workspace's managed network was not provisioned when the deployment was created",
        "Provision the managed network, wait for it to finish, then update (or recreate) the deployment"),
    "SecretsInjectionError": (
        "key-vault", "the deployment could not read the secrets it needs from the workspace Key Vault",
        "Let the endpoint's identity read the vault's secrets (Key Vault Secrets User, or an access policy) and "
        "let trusted Azure services through the vault's firewall (see keyvault.trusted-services-bypass), then "
        "update the deployment"),
    "RequestDisallowedByPolicy": (
        "isolation-mode", "an Azure Policy assignment denied the deployment",
        "Read the policy assignment the error names; change the deployment (or the workspace's isolation) to "
        "comply, or ask its owner for an exemption, then update the deployment"),
    "OutOfQuota": (
        "provisioning", "the subscription has no quota left for the deployment's instance type in this region",
        "Request more quota for the instance type's VM family, or use another instance type or fewer instances"),
    "ResourceNotReady": (
        "container-start", "the container did not become ready (it crashed, or its probes failed)",
        "Read the container logs (see deployment.logs), fix what they show, then update the deployment"),
    "DeploymentTimeout": (
        "container-start", "the deployment did not finish in time (usually an image pull or an init() that never "
                           "completed)",
        "Read the container logs (see deployment.logs): an image that cannot be pulled or a model that cannot be "
        "downloaded points at the network; a slow init() needs longer probes"),
}
_KNOWN = {code.lower(): code for code in REASONS}
_IN_TEXT = re.compile(r"\b(" + "|".join(REASONS) + r")\b", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"(?:/[\w.()-]+)*/providers/Microsoft\.Authorization/policyAssignments/[\w.-]+", re.IGNORECASE)
_ASSIGNMENTS = "/providers/microsoft.authorization/policyassignments/"

IMAGE = ("ImageBuildFailure", "ImageBuildComputeNotValid")
NETWORK = ("WorkspaceManagedNetworkNotReady",)
SECRETS = ("SecretsInjectionError",)
START = ("ResourceNotReady", "DeploymentTimeout")
NOT_NETWORK = ("OutOfQuota", "RequestDisallowedByPolicy")


def _code_is(*codes: str):
    """A condition on a provisioning-state finding: its error code is one of these, or no code could be read (then
    any configuration failure may explain it, as before codes were read)."""
    def holds(finding) -> bool:
        code = (finding.get("evidence") or {}).get("error_code")
        return code is None or code in codes
    return holds


def _code_is_not(*codes: str):
    def holds(finding) -> bool:
        return (finding.get("evidence") or {}).get("error_code") not in codes
    return holds


CAUSES = (
    Cause("workspace.v1-legacy-mode", _code_is_not(*NOT_NETWORK)),
    Cause("workspace.managed-network-provisioned", _code_is(*NETWORK, *START, *IMAGE)),
    Cause("workspace.outbound-rules-active", _code_is(*NETWORK, *START, *SECRETS, *IMAGE)),
    Cause("keyvault.trusted-services-bypass", _code_is(*SECRETS)),
    Cause("acr.egress-connection-approved", _code_is(*START, *IMAGE)),
    Cause("acr.sku-premium", _code_is(*START, *IMAGE)),
    Cause("workspace.image-build-compute", _code_is(*IMAGE)),
    Cause("deployment.isolation-method", _code_is_not(*NOT_NETWORK)),
    Cause("storage.network-access", _code_is(*START)),
    Cause("deployment.egress-to-private-resources", _code_is(*NETWORK, *START, *IMAGE)),
    Cause("endpoint.identity-roles", _code_is(*START, *IMAGE, *SECRETS)),
    "deployment.logs",
)

DOC = Doc(
    what=(
        "Each deployment's `properties.provisioningState` is `Succeeded`. `Failed` and `Canceled` fail; "
        "`Creating`, `Updating`, `Scaling` and `Deleting` warn (an operation is in progress: look again when it "
        "ends). For a failed deployment it reads why: the deployment body carries no error itself, but records in "
        "`properties.properties.AzureAsyncOperationUri` the status resource of its latest operation "
        "(`GET /subscriptions/S/providers/Microsoft.MachineLearningServices/locations/L/mfeOperationsStatus/ID`, a "
        "plain read, no POST); its `error.code` (or a known code among its `details`) is put in the evidence "
        "(`error_code`) with the deployment-path hop it points at (`points_at`): `ImageBuildFailure` and "
        "`ImageBuildComputeNotValid` the image build, `WorkspaceManagedNetworkNotReady` the outbound network, "
        "`SecretsInjectionError` the Key Vault, `RequestDisallowedByPolicy` the isolation settings (the policy "
        "assignment is named), `OutOfQuota` provisioning itself, `ResourceNotReady` and `DeploymentTimeout` the "
        "container start. A deployment that records no operation, or whose operation Resource Manager no longer "
        "keeps (404), still fails, with the reason unknown and the container logs as the place to look."
    ),
    why=(
        "Only a deployment that provisioned has running instances behind the endpoint. Requests routed to a "
        "failed deployment are answered with errors; in an isolated workspace the cause is a network path "
        "(managed network not provisioned, a Key Vault or registry the deployment cannot reach), an image that "
        "could not be built, a policy, or the quota; the error code says which, and the container logs say the rest."
    ),
    fix=(
        "Depends on the error code: provision the managed network, set the image build compute, let the identity "
        "and trusted services into the Key Vault, comply with the policy, get quota; otherwise read the container "
        "logs (`az ml online-deployment get-logs -e E -n D -g RG -w WS --lines 300`, and "
        "`--container storage-initializer`), or let moediag read them (check `deployment.logs`). Then update the "
        "deployment again."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",
           "https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations"),
    examples=(Example({"properties": {"provisioningState": "Failed",
                                      "properties": {"AzureAsyncOperationUri": f"{PUBLIC.resource_manager}/subscriptions"
                                                     "/S/providers/Microsoft.MachineLearningServices/locations/eastus2/"
                                                     "mfeOperationsStatus/od:1:2?api-version=2025-12-01"}},
                       "operation": {"status": "Failed", "error": {"code": "WorkspaceManagedNetworkNotReady",
                                                                   "message": "Managed network of workspace ws-prod is not ready. Provision it before creating deployments."}}},
                      "fail: deployment blue of endpoint ep-main is Failed: it serves no requests: "
                      "WorkspaceManagedNetworkNotReady, the workspace's managed network was not provisioned when the "
                      "deployment was created (Azure: Managed network of workspace ws-prod is not ready. Provision it "
                      "before creating deployments.)"),
              Example({"id": "/subscriptions/.../onlineEndpoints/ep-main/deployments/blue",
                       "properties": {"provisioningState": "Succeeded"}},
                      "pass: deployment blue of endpoint ep-main is Succeeded")),
)


@check(id="deployment.provisioning-state", title="Deployments provisioned successfully", severity="critical",
       scope="deployment", facts=("online_endpoints", "deployments", "workspace", "deployment_operation",
                                  "network_workspace"), doc=DOC,
       explained_by=CAUSES, hops=("deployment:provisioning",), fix_risk="disruptive")
def evaluate(ctx):
    found, gaps = deployments_in_scope(ctx)
    yield from gaps
    t = ctx.target
    failed = [ref for ref in found if provisioning_phase(ref.deployment)[0] == "failed"]
    operations = dict(zip([ref.id for ref in failed],
                          ctx.gather("deployment_operation", [(ref.endpoint_name, ref.name) for ref in failed])))
    for ref in found:
        e, d = ref.endpoint_name, ref.name
        where = command("-e {e} -n {d} -g {group} -w {workspace}", e=e, d=d, group=t.resource_group,
                        workspace=t.workspace)
        logs_fix = ("Read the container logs for the cause (see deployment.logs), fix it, then update the "
                    "deployment again",
                    [command("az ml online-deployment get-logs {where} --lines 300", where=where),
                     command("az ml online-deployment get-logs {where} --lines 300 --container storage-initializer",
                             where=where),
                     command("az ml online-deployment update {where} -f <deployment.yml>", where=where)])
        result = provisioning_result(
            ctx, ref.id, f"deployment {d} of endpoint {e}", ref.deployment,
            failed_means="it serves no requests", waiting_means="an operation is in progress",
            failed_fix=logs_fix, show=command("az ml online-deployment show {where}", where=where))
        if ref.id in operations:
            result = _with_reason(ctx, ref, result, operations[ref.id], logs_fix)
        yield result


def _with_reason(ctx, ref, result, operation, logs_fix):
    """The failure, with why Azure says it failed (the latest operation's error) where that can be read."""
    value, error = operation
    details = {"error_code": None, "points_at": None}
    if error is not None:
        details["operation"] = f"{error.kind}: {error.message}"
        result.message += f"; why could not be read ({error.message}): read the container logs"
    elif value is None:
        details["operation"] = "the deployment records no operation (no AzureAsyncOperationUri)"
        result.message += "; the deployment records no operation that says why: read the container logs"
    elif not isinstance(value, dict) or value.get("status") is None:
        details["operation"] = "Resource Manager no longer keeps the deployment's latest operation (404)"
        result.message += "; its latest operation is no longer kept by Resource Manager: read the container logs"
    else:
        status = value["status"]
        failure = operation_error(status)
        details["operation_status"] = dig(status, "status")
        if failure is None:
            result.message += f"; its latest operation ({text(dig(status, 'status')) or 'no status'}) names no error"
        else:
            _explain(ctx, ref, result, failure, details, logs_fix)
    result.details = {**(result.details or {}), **details}
    return result


def _explain(ctx, ref, result, failure, details, logs_fix):
    codes = error_codes(failure)
    messages = error_messages(failure)
    known = next((_KNOWN[c.lower()] for c in codes if c.lower() in _KNOWN), None)
    if known is None:
        hit = next((m for m in map(_IN_TEXT.search, messages) if m), None)
        known = _KNOWN[hit.group(1).lower()] if hit else None
    azure_says = messages[0][:400] if messages else ""
    details.update({"error_codes": codes, "error_message": azure_says})
    if known is None:
        shown = codes[0] if codes else "no code"
        result.message += (f": Azure's error is {shown}" + (f" ({azure_says})" if azure_says else "")
                           + ", which moediag does not map to a cause: read the container logs")
        details["error_code"] = codes[0] if codes else None
        return
    hop, meaning, summary = REASONS[known]
    details.update({"error_code": known, "points_at": f"deployment:{hop}"})
    result.message += f": {known}, {meaning}" + (f" (Azure: {azure_says})" if azure_says else "")
    commands = _commands(ctx, ref, known, failure, details, logs_fix)
    if known == "RequestDisallowedByPolicy" and details.get("policy_assignment"):
        result.message += f"; policy assignment {details['policy_assignment']}"
    result.fix = type(result.fix)(summary, commands) if result.fix is not None else None


def _commands(ctx, ref, code, failure, details, logs_fix):
    t = ctx.target
    logs = list(logs_fix[1])
    update = logs[-1]
    if code in IMAGE:
        return [command("az ml workspace show -g {group} -n {workspace} --query image_build_compute",
                        group=t.resource_group, workspace=t.workspace),
                command("az ml workspace update -g {group} -n {workspace} --image-build-compute {compute}",
                        group=t.resource_group, workspace=t.workspace, compute=Placeholder("compute cluster name")),
                update]
    if code in NETWORK:
        home, _ = ctx.try_fact("network_workspace")
        group, name = ((home["resource_group"], home["name"]) if isinstance(home, dict)
                       else (t.resource_group, t.workspace))
        return [command("az ml workspace provision-network -g {group} -n {workspace}", group=group, workspace=name),
                update]
    if code in SECRETS:
        workspace, _ = ctx.try_fact("workspace")
        vault = dig(workspace, "properties", "keyVault")
        vault = vault if isinstance(vault, str) and vault.lower().startswith("/subscriptions/") else Placeholder("key vault id")
        principal = dig(ref.endpoint, "identity", "principalId")
        principal = principal if isinstance(principal, str) and principal else Placeholder("principal id")
        return [command("az role assignment list --assignee {principal} --scope {vault} -o table",
                        principal=principal, vault=vault),
                command("az keyvault show --ids {vault} --query properties.networkAcls", vault=vault), update]
    if code == "RequestDisallowedByPolicy":
        assignment = _policy_assignment(failure)
        if assignment:
            details["policy_assignment"] = assignment
            cut = assignment.lower().rfind(_ASSIGNMENTS)
            scope, name = (assignment[:cut], assignment[cut + len(_ASSIGNMENTS):]) if cut >= 0 else ("", "")
            if not name:  # the error named the assignment, not its id
                return [command("az policy assignment show -n {name}", name=assignment), update]
            return [command("az policy assignment show -n {name} --scope {scope}", name=name, scope=scope), update]
        return [command("az policy state list --resource {deployment} --filter \"complianceState eq 'NonCompliant'\"",
                        deployment=ref.id), update]
    if code == "OutOfQuota":
        return [command("az ml compute list-usage -g {group} -w {workspace} -o table", group=t.resource_group,
                        workspace=t.workspace), update]
    return logs


def _policy_assignment(failure) -> str | None:
    """The id (else the name) of the policy assignment a RequestDisallowedByPolicy error names."""
    for info in error_additional_info(failure):
        for key in ("policyAssignmentId", "policyAssignmentName"):
            value = text(info.get(key)).strip()
            if value and (key.endswith("Name") or _ASSIGNMENT.fullmatch(value)):
                return value
    for message in error_messages(failure):
        found = _ASSIGNMENT.search(message)
        if found:
            return found.group(0)
    return None

"""deployment.logs: what the containers of an unhealthy deployment say, with the fix where the pattern is known."""

from moediag.check import Doc, Example, check
from moediag.diagnosis import Cause
from moediag.errors import FactError
from moediag.evidence import dig, props, provisioning_phase
from moediag.judge.scope import deployments_in_scope
from moediag.logpatterns import last_lines, scan
from moediag.model import Reason
from moediag.shell import command

TAIL = 300
# (containerType of getLogs, --container of az ml online-deployment get-logs)
CONTAINERS = (("InferenceServer", "inference-server"), ("StorageInitializer", "storage-initializer"))
EXPECTED = f"no known failure in the last {TAIL} lines of the InferenceServer and StorageInitializer logs"



def _patterns(*ids: str):
    """A condition on a logs finding: it shows one of these log patterns (moediag.logpatterns ids)."""
    def shows(finding) -> bool:
        found = (finding.get("evidence") or {}).get("findings") or []
        return any(isinstance(f, dict) and f.get("pattern") in ids for f in found)
    return shows


REGISTRY = _patterns("registry-firewall", "registry-unauthorized", "registry-manifest-unknown", "image-pull")
NETWORK = _patterns("storage-network", "name-resolution")
PACKAGE_INDEX = _patterns("package-index-unreachable")
MODEL_DOWNLOAD = _patterns("model-download")
# Which configuration failures explain what the containers say (a closed Key Vault does not explain an import error).
LOG_CAUSES = (
    Cause("acr.egress-connection-approved", REGISTRY), Cause("acr.sku-premium", REGISTRY),
    Cause("workspace.image-build-compute", REGISTRY),
    Cause("workspace.managed-network-provisioned", NETWORK), Cause("workspace.outbound-rules-active", NETWORK),
    Cause("keyvault.trusted-services-bypass", _patterns("storage-network", "storage-permission", "name-resolution",
                                                        "python-traceback")),
    Cause("storage.network-access", _patterns("storage-network")),
    Cause("deployment.egress-to-private-resources", _patterns("storage-network", "registry-firewall", "image-pull",
                                                                "name-resolution")),
    Cause("workspace.managed-network-provisioned", PACKAGE_INDEX),
    Cause("workspace.outbound-rules-active", PACKAGE_INDEX),
    Cause("workspace.managed-network-provisioned", MODEL_DOWNLOAD),
    Cause("workspace.outbound-rules-active", MODEL_DOWNLOAD),
    # The endpoint's identity lacks AcrPull / blob read: a refused pull or a storage permission error (not a firewall).
    Cause("endpoint.identity-roles", _patterns("registry-unauthorized", "image-pull", "storage-permission")),
)

DOC = Doc(
    what=(
        f"Reads the last {TAIL} lines of the `InferenceServer` and `StorageInitializer` container logs (the "
        "`getLogs` action) of every deployment that is not `Succeeded` (of every deployment with `--logs`; of "
        "none with `--no-logs`) and looks for the lines that explain a failure: Python import errors, model "
        "files not found, storage authorization or firewall refusals, image pulls refused by the registry or "
        "missing from it, host names that do not resolve, a package index (pip, conda) that cannot be reached, a "
        "model the storage initializer could not download, out-of-memory kills, failed health probes. Matching "
        "lines are in the result's evidence. Fails when they are found in an unhealthy deployment, warns when "
        "they are found in a healthy one; a failed deployment whose logs match nothing known warns with the "
        "last lines. Logs that cannot be read are an error, never a pass."
    ),
    why=(
        "A deployment's provisioning state says that it failed, not why. In a network-isolated workspace the "
        "why is usually in these two logs: the storage initializer cannot download the model (identity or "
        "firewall), or the inference server cannot start the scoring script (a package missing because it "
        "could not be installed without internet access, a host it calls that does not resolve)."
    ),
    fix=(
        "Depends on what the log says: each known pattern comes with its fix (a role assignment for the "
        "endpoint's identity, an outbound rule, a larger instance type, a package in the environment, ...). "
        "Read more with `az ml online-deployment get-logs -e E -n D -g RG -w WS --lines 300 "
        "[--container storage-initializer]`."
    ),
    run_from=(
        "Anywhere: only Resource Manager is read. Reading logs is an action, not a read: Reader does not grant "
        "it (AzureML Data Scientist does)."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",),
    examples=(
        Example({"deployment": {"id": "/subscriptions/.../onlineEndpoints/ep-main/deployments/blue",
                                "properties": {"provisioningState": "Failed"}},
                 "getLogs StorageInitializer": "2024-02-12T09:18:41.902Z | ERROR | Download failed: This request is "
                                               "not authorized to perform this operation.\n"
                                               "ErrorCode:AuthorizationFailure"},
                "fail: deployment blue of endpoint ep-main (Failed): its logs show storage refused the request from "
                "this network: the storage account's firewall denied the download: the deployment's outbound path "
                "(managed VNet private endpoint or the legacy per-deployment network) does not reach the account "
                "privately"),
    ),
)


@check(id="deployment.logs", title="Deployment container logs show no known failure", severity="high",
       scope="deployment", facts=("online_endpoints", "deployments", "deployment_logs", "workspace"), doc=DOC,
       explained_by=LOG_CAUSES, hops=("deployment:container-start",), fix_risk="disruptive")
def evaluate(ctx):
    found, gaps = deployments_in_scope(ctx)
    yield from gaps
    mode = ctx.options.logs
    todo = []
    for ref in found:
        if mode == "none":
            yield ctx.skipped(ref.id, f"logs of deployment {ref.name} were not requested (--no-logs)",
                              reason=Reason.NOT_REQUESTED)
        elif mode != "all" and provisioning_phase(ref.deployment)[0] == "succeeded":
            yield ctx.skipped(ref.id, f"deployment {ref.name} of endpoint {ref.endpoint_name} is Succeeded: logs are "
                                      "read only for unhealthy deployments (--logs reads them all)")
        else:
            todo.append(ref)
    keys = [(ref.endpoint_name, ref.name, container, str(TAIL)) for ref in todo for container, _ in CONTAINERS]
    answers = iter(ctx.gather("deployment_logs", keys))
    for ref in todo:
        yield _verdict(ctx, ref, {container: next(answers) for container, _ in CONTAINERS})


def _verdict(ctx, ref, logs):
    t = ctx.target
    e, d, did = ref.endpoint_name, ref.name, ref.id
    phase, state = provisioning_phase(ref.deployment)
    unread = {c: error if error is not None else FactError("unreadable", f"getLogs gave a {type(value).__name__}, not text")
              for c, (value, error) in logs.items() if error is not None or not isinstance(value, str)}
    texts = {c: value for c, (value, error) in logs.items() if c not in unread}
    findings = [f for c, content in texts.items() for f in scan(content, c)]
    get_logs = {c: command("az ml online-deployment get-logs -e {e} -n {d} -g {group} -w {workspace} --lines {tail}"
                           + ("" if c == "InferenceServer" else " --container {container}"),
                           e=e, d=d, group=t.resource_group, workspace=t.workspace, tail=TAIL, container=flag)
                for c, flag in CONTAINERS}
    details = {"provisioningState": state, "containers_read": sorted(texts),
               "unreadable": {c: f"{err.kind}: {err.message}" for c, err in unread.items()}}
    if findings:
        known = _known_names(ctx, ref)
        details["findings"] = [f.to_json(known) for f in findings]
        commands = list(dict.fromkeys([c for f in findings for c in f.commands(known)]
                                      + [get_logs[c] for c in dict.fromkeys(f.container for f in findings)]))
        summary = findings[0].fix(known) + (f" (and {len(findings) - 1} more finding(s) in the evidence)"
                                             if len(findings) > 1 else "")
        observed = [f"[{f.container}] {line}" for f in findings for line in f.lines]
        message = (f"deployment {d} of endpoint {e} ({state}): its logs show "
                   + "; ".join(f.explanation(known) for f in findings))
        judge = ctx.failed if phase != "succeeded" else ctx.warned
        return judge(did, message, expected=EXPECTED, observed=observed, details=details, fix=(summary, commands))
    if unread:
        container, error = next(iter(unread.items()))
        return ctx.errored(did, f"the {container} log of deployment {d} (endpoint {e}) could not be read: "
                                f"{error.message}", reason=error.kind, expected=EXPECTED, observed=None, details=details)
    lines = sum(len(content.splitlines()) for content in texts.values())
    if phase == "failed":
        details["last_lines"] = {c: last_lines(content) for c, content in texts.items()}
        return ctx.warned(did, f"deployment {d} of endpoint {e} is {state}, but the last {lines} log lines match no "
                               "known failure: read them (the last ones are in the evidence)",
                          reason=Reason.INCONCLUSIVE, expected=EXPECTED, observed="no known pattern", details=details,
                          fix=("Read the full container logs", list(get_logs.values())))
    return ctx.passed(did, f"deployment {d} of endpoint {e}: {lines} log lines read, no known failure",
                      expected=EXPECTED, observed="no known pattern", details=details)


def _known_names(ctx, ref):
    """Names a fix command may carry: only real ones (a placeholder stays a placeholder)."""
    t = ctx.target
    names = {"endpoint": ref.endpoint_name, "deployment": ref.name, "resource_group": t.resource_group,
             "workspace": t.workspace}
    principal = dig(ref.endpoint, "identity", "principalId")
    if isinstance(principal, str) and principal:
        names["principal_id"] = principal
    workspace, _ = ctx.try_fact("workspace")  # only for names: a fix without them keeps its placeholders
    for key, prop in (("storage_id", "storageAccount"), ("registry_id", "containerRegistry")):
        value = props(workspace).get(prop)
        if isinstance(value, str) and value.lower().startswith("/subscriptions/"):
            names[key] = value
    return names

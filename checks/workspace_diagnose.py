"""workspace.diagnose: Azure's own workspace diagnosis, folded into the report (opt-in: it is long-running)."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.evidence import props, text
from moediag.model import Reason
from moediag.shell import command

# Azure's result category -> (moediag area, the workspace property naming the resource it is about)
CATEGORIES = {
    "userDefinedRouteResults": ("network", None),
    "networkSecurityRuleResults": ("network", None),
    "resourceLockResults": ("workspace", None),
    "dnsResolutionResults": ("dns", None),
    "storageAccountResults": ("storage", "storageAccount"),
    "keyVaultResults": ("keyvault", "keyVault"),
    "containerRegistryResults": ("acr", "containerRegistry"),
    "applicationInsightsResults": ("workspace", "applicationInsights"),
    "otherResults": ("workspace", None),
}
LEVELS = {"error": "fail", "warning": "warn", "information": "pass", "info": "pass"}

DOC = Doc(
    what=(
        "Runs Azure's workspace diagnose (`POST .../diagnose`, a read-only long-running action; only with "
        "`--include-diagnose`), waits for it up to the run's timeout, and reports each finding as a result: "
        "`Error` fails, `Warning` warns, `Information` passes. Azure's code, level and message are kept as "
        "evidence; each category maps to moediag's areas (DNS, network, storage, Key Vault, registry, workspace) "
        "and the finding names the resource it is about. A diagnose that does not finish in time is an error."
    ),
    why=(
        "Azure's diagnose sees what moediag cannot read from Resource Manager alone: user-defined routes and "
        "network security rules that block the workspace's dependencies, resource locks, DNS answers seen "
        "from Azure's side. Its findings often name the very cause of a deployment stuck in Creating."
    ),
    fix=(
        "Follow each finding's message (its links lead to the fix). Run it again with "
        "`az ml workspace diagnose -n WS -g RG` after fixing."
    ),
    run_from=("Anywhere with rights to run the diagnose action (AzureML Data Scientist or Contributor; it changes "
              "nothing). It takes from a few seconds to minutes; raise --timeout if it does not finish."),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-workspace-diagnostic-api",),
    examples=(
        Example({"workspace": {"properties": {"keyVault": "/subscriptions/.../vaults/kv-ws-prod"}},
                 "diagnose": {"value": {"keyVaultResults": [{"code": "KeyVaultNotReachable",
                                                             "level": "Error",
                                                             "message":
                                                                 "Key Vault kv-ws-prod denies the workspace."}]}}},
                "fail: Azure's diagnose (keyVaultResults): KeyVaultNotReachable [Error] Key Vault kv-ws-prod denies "
                "the workspace."),
        Example({"diagnose": {"value": {"dnsResolutionResults": [{"code": "CustomDNSInUse",
                                                                  "level": "Warning",
                                                                  "message":
                                                                      "We have detected an on-premise dns server is "
                                                                      "configured. Please make sure conditional "
                                                                      "forwarding is configured correctly according "
                                                                      "to doc "
                                                                      "https://go.microsoft.com/fwlink/?linkid=2160846"}]}}},
                "warn: Azure's diagnose (dnsResolutionResults): CustomDNSInUse [Warning] We have detected an "
                "on-premise dns server is configured. Please make sure conditional forwarding is configured "
                "correctly according to doc https://go.microsoft.com/fwlink/?linkid=2160846"),
    ),
)


@check(id="workspace.diagnose", title="Azure's workspace diagnose finds no problem", severity="medium",
       scope="workspace", facts=("workspace", "diagnose"), doc=DOC,
       explained_by=(), hops=(), fix_risk="safe")
def evaluate(ctx):
    if not ctx.options.include_diagnose:
        yield ctx.skipped(ctx.workspace_id, "Azure's workspace diagnose is a long-running operation: run with "
                                            "--include-diagnose to include it", reason=Reason.NOT_REQUESTED)
        return
    body = ctx.fact("diagnose")
    value = body.get("value") if isinstance(body, dict) and isinstance(body.get("value"), dict) else body
    categories = [k for k, v in value.items() if isinstance(v, list)] if isinstance(value, dict) else []
    if not categories:  # not even an empty result list: no evidence that nothing was found
        yield ctx.errored(ctx.workspace_id, "Azure's workspace diagnose answered without any result list",
                          reason="unreadable", expected="a dict of *Results lists", observed=body)
        return
    workspace = props(ctx.fact("workspace"))
    findings = [(category, finding) for category in categories for finding in value[category]]
    for category, finding in findings:
        yield _result(ctx, workspace, category, finding)
    if not findings:
        yield ctx.passed(ctx.workspace_id, f"Azure's workspace diagnose reported no finding ({len(categories)} categories)",
                         expected="no finding", observed={"categories": sorted(categories)})


def _result(ctx, workspace: dict, category: str, finding):
    area, prop = CATEGORIES.get(category, ("workspace", None))
    if not isinstance(finding, dict):
        finding = {"message": str(finding)}
    code, level, message = text(finding.get("code")), text(finding.get("level")), text(finding.get("message"))
    parsed = resource_id.parse(workspace.get(prop)) if prop else None
    rid = parsed.text if parsed else ctx.workspace_id
    status = LEVELS.get(level.strip().lower(), "warn")
    said = f"Azure's diagnose ({category}): {code or 'no code'} [{level or 'no level'}] {message or '(no message)'}"
    details = {"area": area, "category": category, "code": code, "level": level, "azure_message": message,
               **{k: v for k, v in finding.items() if k not in ("code", "level", "message")}}
    evidence = {"expected": "no Error or Warning finding", "observed": f"{level}: {code}", "details": details}
    t = ctx.target
    if status == "fail":
        return ctx.failed(rid, said, **evidence,
                          fix=(f"Follow Azure's finding: {message or code}",
                               [command("az ml workspace diagnose -n {workspace} -g {group}",
                                        workspace=t.workspace, group=t.resource_group)]))
    return (ctx.warned if status == "warn" else ctx.passed)(rid, said, **evidence)

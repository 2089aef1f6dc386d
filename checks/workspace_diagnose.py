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
        "and the finding names the resource it is about. A diagnose that does not finish in time is an error; so is "
        "an answer without Azure's result lists, a category that is not a list, or a finding without a level "
        "(unreadable: never a pass)."
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
    value = _categories_of(body)
    known = {name.lower(): name for name in CATEGORIES}
    lists = {key: items for key, items in value.items() if isinstance(items, list)}
    if not any(key.lower() in known for key in lists):  # no evidence that nothing was found
        yield ctx.errored(ctx.workspace_id, "Azure's workspace diagnose answered without any of its result lists "
                          f"({', '.join(CATEGORIES)})", reason=Reason.UNREADABLE,
                          expected="{\"value\": {\"<category>Results\": [...]}}", observed=body)
        return
    workspace = props(ctx.fact("workspace"))
    unreadable = [(known[key.lower()], items) for key, items in value.items()
                  if key.lower() in known and not isinstance(items, list)]
    for category, items in unreadable:  # there, but not a list: it may hide findings
        yield ctx.errored(_resource(ctx, workspace, category), f"Azure's workspace diagnose answered {category} "
                          "that is not a list of findings", reason=Reason.UNREADABLE, expected="a list of findings",
                          observed=items)
    findings = [(known.get(key.lower(), key), finding) for key, items in lists.items() for finding in items]
    for category, finding in findings:
        yield _result(ctx, workspace, category, finding)
    if not findings and not unreadable:
        yield ctx.passed(ctx.workspace_id, f"Azure's workspace diagnose reported no finding ({len(lists)} categories)",
                         expected="no finding", observed={"categories": sorted(lists)})


def _categories_of(body) -> dict:
    """The dict of result lists: `body.value` as documented, or the body itself when Azure left out `value`."""
    if isinstance(body, dict) and isinstance(body.get("value"), dict):
        return body["value"]
    if isinstance(body, dict) and any(key in CATEGORIES for key in body):
        return body
    return {}


def _resource(ctx, workspace: dict, category: str) -> str:
    """The resource a category's findings are about (the workspace when it names none)."""
    prop = CATEGORIES.get(category, ("workspace", None))[1]
    parsed = resource_id.parse(workspace.get(prop)) if prop else None
    return parsed.text if parsed else ctx.workspace_id


def _result(ctx, workspace: dict, category: str, finding):
    area = CATEGORIES.get(category, ("workspace", None))[0]
    rid = _resource(ctx, workspace, category)
    if not isinstance(finding, dict) or not isinstance(finding.get("level"), str):
        return ctx.errored(rid, f"a finding of Azure's diagnose ({category}) could not be read: it has no level",
                           reason=Reason.UNREADABLE, expected='{"code": ..., "level": "Error|Warning|Information", '
                           '"message": ...}', observed=finding)
    code, level, message = text(finding.get("code")), text(finding.get("level")), text(finding.get("message"))
    status = LEVELS.get(level.strip().lower(), "warn")
    said = f"Azure's diagnose ({category}): {code or 'no code'} [{level or 'no level'}] {message or '(no message)'}"
    details = {"area": area, "category": category, "code": code, "level": level, "azure_message": message}
    # Azure's other keys too, but none may pass for moediag's own (nor for the evidence's expected/observed).
    details.update({k: v for k, v in finding.items() if k not in {*details, "message", "expected", "observed"}})
    evidence = {"expected": "no Error or Warning finding", "observed": f"{level}: {code}", "details": details}
    t = ctx.target
    if status == "fail":
        return ctx.failed(rid, said, **evidence,
                          fix=(f"Follow Azure's finding: {message or code}",
                               [command("az ml workspace diagnose -n {workspace} -g {group}",
                                        workspace=t.workspace, group=t.resource_group)]))
    return (ctx.warned if status == "warn" else ctx.passed)(rid, said, **evidence)

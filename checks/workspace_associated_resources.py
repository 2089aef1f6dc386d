"""workspace.associated-resources: the workspace's registry, vault, storage and App Insights ids are usable."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.evidence import require_props
from moediag.shell import command

# (property, what it is, expected type, optional, how to point the workspace elsewhere)
RESOURCES = (
    ("containerRegistry", "container registry", "Microsoft.ContainerRegistry/registries", True, "--container-registry"),
    ("keyVault", "Key Vault", "Microsoft.KeyVault/vaults", False, None),
    ("storageAccount", "storage account", "Microsoft.Storage/storageAccounts", False, None),
    ("applicationInsights", "Application Insights", "Microsoft.Insights/components", True, "--application-insights"),
)

DOC = Doc(
    what=(
        "The workspace's `containerRegistry`, `keyVault`, `storageAccount` and `applicationInsights` are ARM ids "
        "of the expected type that sit in the workspace's subscription (another resource group is fine; ids "
        "compare case-insensitively, so `Microsoft.Keyvault` passes). An empty registry or Application Insights "
        "is a warning (Azure creates the registry on the first image build); an empty Key Vault or storage, or "
        "any value that is not a resource id (responses carry `\"\"` and placeholders such as `Sanitized`), is an "
        "error: the other checks cannot follow it."
    ),
    why=(
        "Deployments pull their image from the registry, their secrets from the Key Vault and their model from "
        "storage. A resource in another subscription cannot be reached by the workspace's managed identity and "
        "private endpoints as set up, and a registry created on demand is a Basic one, outside any private network, "
        "so network isolation blocks the first deployment that needs an image."
    ),
    fix=(
        "Point the workspace at resources in its own subscription: `az ml workspace update -n WS -g RG "
        "--container-registry <registry id> --update-dependent-resources` (likewise `--application-insights`). The "
        "storage account and Key Vault cannot be changed after the workspace is created: create the workspace "
        "again with resources in its subscription."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/concept-workspace#associated-resources",),
    examples=(
        Example({"id": "/subscriptions/00000000-1111-2222-3333-444444444444/.../workspaces/ws-prod",
                 "properties": {"containerRegistry": "/subscriptions/99999999-8888-7777-6666-555555555555/.../registries/acrwsprod"}},
                "fail: the workspace's container registry acrwsprod is in subscription "
                "99999999-8888-7777-6666-555555555555, not the workspace's (00000000-1111-2222-3333-444444444444)"),
        Example({"id": "/subscriptions/.../workspaces/ws-prod", "properties": {"containerRegistry": ""}},
                "warn: the workspace has no container registry (containerRegistry is ''): Azure creates a Basic "
                "registry on the first image build, outside any private network"),
    ),
)


@check(id="workspace.associated-resources", title="Associated resources are valid ids in the workspace's subscription",
       severity="medium", scope="workspace", facts=("workspace",), doc=DOC,
       explained_by=(), hops=(), fix_risk="disruptive")
def evaluate(ctx):
    workspace = require_props(ctx.fact("workspace"), "workspace")
    for prop, label, rtype, optional, flag in RESOURCES:
        yield _verdict(ctx, workspace.get(prop), prop, label, rtype, optional, flag)


def _verdict(ctx, raw, prop, label, rtype, optional, flag):
    wid, t = ctx.workspace_id, ctx.target
    kw = {"expected": f"a {rtype} id in subscription {t.subscription_id}", "details": {"property": prop}}
    update = command("az ml workspace update -n {workspace} -g {group} {flag} "
                     "/subscriptions/{subscription}/resourceGroups/<group>/providers/{rtype}/<name> "
                     "--update-dependent-resources", workspace=t.workspace, group=t.resource_group, flag=flag,
                     subscription=t.subscription_id, rtype=rtype) if flag else None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        shown = "null or absent" if raw is None else repr(raw)
        if not optional:
            return ctx.errored(wid, f"the workspace's {prop} is {shown}: a workspace always has a {label}, so the "
                                    "response is incomplete and the checks that need it cannot run",
                               reason="unreadable", observed=raw, **kw)
        note = (" Azure creates a Basic registry on the first image build, outside any private network"
                if prop == "containerRegistry" else " deployments with Application Insights enabled cannot log to it")
        return ctx.warned(wid, f"the workspace has no {label} ({prop} is {shown}):{note}",
                          observed=raw, **kw,
                          fix=(f"Point the workspace's {prop} at a {rtype} in subscription {t.subscription_id}", [update]))
    parsed = resource_id.parse(raw)
    if parsed is None:
        return ctx.errored(wid, f"the workspace's {prop} is {raw!r}, not a resource id: the {label} cannot be checked",
                           reason="unreadable", observed=raw, **kw)
    observed = {"id": parsed.text, "subscription": parsed.subscription, "resource_group": parsed.resource_group}
    if not parsed.is_type(rtype):
        return ctx.warned(parsed.text, f"the workspace's {prop} names a {parsed.type}, not a {rtype}",
                          observed=observed, **kw)
    if parsed.subscription.lower() != t.subscription_id.lower():
        fix = ((f"Point the workspace's {prop} at a {rtype} in subscription {t.subscription_id}", [update]) if update else
               (f"The {label} cannot be changed after creation: create the workspace again with a {label} in "
                f"subscription {t.subscription_id}", []))
        return ctx.failed(parsed.text, f"the workspace's {label} {parsed.name} is in subscription {parsed.subscription}, "
                                       f"not the workspace's ({t.subscription_id})",
                          observed=observed, **kw, fix=fix)
    where = ("the workspace's resource group" if parsed.resource_group.lower() == t.resource_group.lower()
             else f"resource group {parsed.resource_group}")
    return ctx.passed(parsed.text, f"{label} {parsed.name} is in the workspace's subscription, {where}",
                      observed=observed, **kw)

"""workspace.outbound-rules-active: the managed network's required outbound rules are all Active."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.diagnosis import Cause
from moediag.evidence import dig, outbound_rule_items, props, same_text, text
from moediag.judge.scope import network_home
from moediag.shell import Command, command

# Rules the workspace cannot do without; `Recommended` ones are optional.
REQUIRED_CATEGORIES = ("Required", "Dependency", "UserDefined")
# The workspace's associated resources the managed network reaches through private endpoint rules.
PRIVATE_TARGETS = (("storageAccount", "storage account", "blob"), ("keyVault", "Key Vault", "vault"),
                   ("containerRegistry", "container registry", "registry"))

DOC = Doc(
    what=(
        "Every required outbound rule of the workspace's managed network is `Active`: rules of category "
        "`Required` or `Dependency` (among them the `__SYS_PE_*` private endpoints to the workspace's storage, "
        "Key Vault and container registry) and every user-defined rule; `Recommended` rules are optional. "
        "With `AllowOnlyApprovedOutbound` a private endpoint rule to each of storage, Key Vault and registry "
        "must exist. The rules are read from `GET .../outboundRules` (both the stable `{\"value\": [...]}` "
        "shape and the older previews' dict keyed by rule name), or from the workspace's "
        "`managedNetwork.outboundRules` where that list does not exist. Not applicable without a managed network; "
        "skipped when the network itself is not provisioned (see workspace.managed-network-provisioned). A "
        "project's rules are its hub's: they are read from the hub (the message says so) and fixed there."
    ),
    why=(
        "Deployments in a managed network reach storage (model and code), Key Vault (secrets) and the registry "
        "(the image) only through these rules. An inactive rule is a path that does not exist: the deployment "
        "fails to download its model or image, or times out starting."
    ),
    fix=(
        "Read the rule's error (`az ml workspace outbound-rule show --rule RULE --workspace-name WS -g RG`), fix "
        "its cause (a private endpoint rule stays inactive while its connection waits for approval on the target "
        "resource), then provision the network again: `az ml workspace provision-network -g RG -n WS`."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#manage-outbound-rules",),
    examples=(
        Example({"workspace": {"properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound",
                                                                 "status": {"status": "Active"}}}},
                 "outboundRules": [{"name": "__SYS_PE_acrwsprod_registry",
                                    "properties": {"type": "PrivateEndpoint",
                                                   "category": "Required",
                                                   "status": "Inactive",
                                                   "destination":
                                                       {"serviceResourceId": "/subscriptions/.../registries/acrwsprod",
                                                        "subresourceTarget": "registry"},
                                                   "errorInformation":
                                                       "Private endpoint connection of __SYS_PE_acrwsprod_registry is"
                                                       " pending approval on the target resource"}}]},
                "fail: required outbound rule __SYS_PE_acrwsprod_registry is Inactive (Private endpoint connection "
                "of __SYS_PE_acrwsprod_registry is pending approval on the target resource): deployments have no "
                "path to acrwsprod"),
    ),
)


@check(id="workspace.outbound-rules-active", title="Required outbound rules of the managed network are active",
       severity="critical", scope="workspace", facts=("workspace", "isolation_mode", "outbound_rules", "network_workspace"),
       doc=DOC,
       depends_on=("workspace.managed-network-provisioned",),
       explained_by=("workspace.managed-network-provisioned",
                     Cause("workspace.network-approver-role", lambda finding: _is_private_endpoint_rule(finding))),
       hops=("deployment:outbound-network",), fix_risk="disruptive")
def evaluate(ctx):
    mode = ctx.fact("isolation_mode")
    if mode["mode"] != "managed":
        yield ctx.skipped(ctx.workspace_id, f"not applicable: {mode['summary']}")
        return
    evidence = ctx.fact("outbound_rules")
    rules = outbound_rule_items(evidence)
    if rules is None:
        yield ctx.errored(ctx.workspace_id, "the outbound rules came back in a shape moediag cannot read",
                          reason="unreadable", expected="Active", observed=evidence)
        return
    home = network_home(ctx)
    required = [r for r in rules if _is_required(r)]
    problems = [result for rule in required for result in _rule_verdict(ctx, home, rule)]
    if same_text(mode["isolation_mode"], "AllowOnlyApprovedOutbound"):
        problems += list(_missing_private_endpoint_rules(ctx, home, rules))
    if not problems:
        names = sorted(text(r.get("name")) for r in required)
        yield ctx.passed(ctx.workspace_id, f"all {len(required)} required outbound rules are Active (read from "
                                           f"{evidence.get('source') or 'the rules list'})",
                         expected="Active", observed={name: "Active" for name in names})
    for problem in problems:
        problem.message += home.note
        yield problem


def _is_required(rule: dict) -> bool:
    category = props(rule).get("category")
    return category is None or any(same_text(category, c) for c in REQUIRED_CATEGORIES)


def _rule_verdict(ctx, home, rule: dict):
    p = props(rule)
    name = text(rule.get("name")) or "<unnamed>"
    rid = text(rule.get("id")) or f"{home.id}/outboundRules/{name}"
    status = p.get("status")
    observed = {"status": status, "type": p.get("type"), "category": p.get("category"),
                "destination": p.get("destination"), "errorInformation": p.get("errorInformation")}
    if same_text(status, "Active"):
        return
    if not isinstance(status, str) or not status.strip():
        yield ctx.errored(rid, f"outbound rule {name} carries no status: cannot tell whether it is active",
                          reason="unreadable", expected="Active", observed=observed)
        return
    summary = "Read the rule's error, fix its cause, then provision the managed network again"
    if same_text(p.get("type"), "PrivateEndpoint"):
        summary += f"; a private endpoint rule stays {status} while its connection waits for approval on {_destination_text(p)}"
    error = f" ({p['errorInformation']})" if text(p.get("errorInformation")) else ""
    yield ctx.failed(rid, f"required outbound rule {name} is {status}{error}: deployments have no path to "
                          f"{_destination_text(p)}",
                     expected="Active", observed=observed,
                     fix=(summary, [command("az ml workspace outbound-rule show --rule {name} --workspace-name {workspace} "
                                            "-g {group}", name=name, workspace=home.name, group=home.resource_group),
                                    _provision(home)]))


def _missing_private_endpoint_rules(ctx, home, rules: list[dict]):
    """AllowOnlyApprovedOutbound creates a private endpoint rule to storage, Key Vault and registry (a project's are
    its hub's, to the hub's resources, which its projects share)."""
    targets = [dig(props(r), "destination", "serviceResourceId") for r in rules
               if same_text(props(r).get("type"), "PrivateEndpoint")]
    workspace = props(home.body)
    for prop, label, subresource in PRIVATE_TARGETS:
        parsed = resource_id.parse(workspace.get(prop))
        if parsed is None or any(resource_id.same(parsed.text, target) for target in targets):
            continue  # an unusable reference is workspace.associated-resources' finding
        rule = f"__SYS_PE_{parsed.name}_{subresource}"
        yield ctx.failed(parsed.text, f"the managed network (AllowOnlyApprovedOutbound) has no private endpoint rule "
                                      f"to the workspace's {label} {parsed.name}: deployments cannot reach it",
                         expected=f"a PrivateEndpoint outbound rule to {parsed.name}", observed="none",
                         fix=(f"Add the private endpoint rule to {parsed.name}, then provision the managed network again",
                              [command("az ml workspace outbound-rule set --rule {rule} --type private_endpoint "
                                       "--service-resource-id {target} --subresource-target {subresource} "
                                       "--workspace-name {workspace} -g {group}", rule=rule, target=parsed.text,
                                       subresource=subresource, workspace=home.name, group=home.resource_group),
                               _provision(home)]))


def _provision(home) -> Command:
    return command("az ml workspace provision-network -g {group} -n {workspace}", group=home.resource_group,
                   workspace=home.name)


def _destination_text(p: dict) -> str:
    destination = p.get("destination")
    if isinstance(destination, str):
        return destination
    target = dig(destination, "serviceResourceId") or dig(destination, "serviceTag")
    parsed = resource_id.parse(target)
    return parsed.name if parsed else text(target) or "its destination"


def _is_private_endpoint_rule(finding: dict) -> bool:
    """A finding about an inactive private endpoint rule (its connection waits for approval on the target)."""
    observed = (finding.get("evidence") or {}).get("observed")
    return isinstance(observed, dict) and same_text(observed.get("type"), "PrivateEndpoint")

"""workspace.managed-network-provisioned: a managed VNet must be provisioned before deployments are created."""

from moediag.check import Doc, Example, check
from moediag.evidence import dig, props, same_text
from moediag.judge.scope import network_home
from moediag.shell import command

PROVISION_NOTE = "provisioning takes several minutes, up to about 30; the command waits until it is done"

DOC = Doc(
    what=(
        "Where the workspace has a managed virtual network (`managedNetwork.isolationMode` "
        "`AllowInternetOutbound` or `AllowOnlyApprovedOutbound`), `managedNetwork.status.status` is `Active`. "
        "An absent status with isolation enabled means the network was never provisioned. Not applicable to "
        "workspaces without a managed network (legacy per-deployment isolation, or none). A project (`kind` "
        "`Project`) uses its hub's managed network: it is judged on the hub's body (`properties.hubResourceId`), "
        "the message says so, and the fix provisions the hub's network; a hub that cannot be read is an error."
    ),
    why=(
        "Azure creates a workspace's managed network lazily: on the first compute, or when asked to. Online "
        "deployments do not trigger it, so a deployment created before the network is provisioned has no "
        "private path to storage, Key Vault and the registry, and fails while pulling its model or image."
    ),
    fix=(
        "Provision the managed network and wait for it to finish before creating deployments: "
        f"`az ml workspace provision-network -g RG -n WS` ({PROVISION_NOTE})."
    ),
    links=(
        "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network",
        "https://learn.microsoft.com/azure/machine-learning/how-to-secure-online-endpoint",
    ),
    examples=(
        Example({"name": "ws-prod", "properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}},
                "fail: workspace ws-prod's managed network (AllowOnlyApprovedOutbound) has never been provisioned "
                "(no managedNetwork.status): online deployments created now fail"),
        Example({"name": "ws-prod",
                 "properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound",
                                                   "status": {"status": "Active"}}}},
                "pass: the managed network (AllowOnlyApprovedOutbound) is provisioned (Active)"),
    ),
)


@check(id="workspace.managed-network-provisioned", title="Workspace managed network is provisioned",
       severity="critical", scope="workspace", facts=("workspace", "isolation_mode", "network_workspace"),
       doc=DOC,
       explained_by=(), hops=("deployment:outbound-network",), fix_risk="disruptive")
def evaluate(ctx):
    mode = ctx.fact("isolation_mode")
    wid, t = ctx.workspace_id, ctx.target
    if mode["mode"] != "managed":
        yield ctx.skipped(wid, f"not applicable: {mode['summary']}")
        return
    home = network_home(ctx)
    status = dig(props(home.body), "managedNetwork", "status", "status")
    observed = {"isolationMode": mode["isolation_mode"], "status": status}
    if home.from_hub:
        observed["hub"] = home.id
    if same_text(status, "Active"):
        yield ctx.passed(wid, f"the managed network ({mode['isolation_mode']}) is provisioned (Active){home.note}",
                         expected="Active", observed=observed)
        return
    why = ("has never been provisioned (no managedNetwork.status)" if status is None
           else f"is {status!r}, not provisioned")
    owner = f"hub {home.name} of project {t.workspace}" if home.from_hub else f"workspace {t.workspace}"
    yield ctx.failed(wid, f"{owner}'s managed network ({mode['isolation_mode']}) {why}: "
                          f"online deployments created now fail{home.note}",
                     expected="Active", observed=observed,
                     fix=(f"Provision the managed network before creating deployments ({PROVISION_NOTE})",
                          [command("az ml workspace provision-network -g {group} -n {workspace}",
                                   group=home.resource_group, workspace=home.name)]))

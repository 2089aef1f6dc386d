"""workspace.v1-legacy-mode: v1 legacy mode blocks the v2 network isolation managed endpoints rely on."""

from moediag.check import Doc, Example, check
from moediag.evidence import require_props
from moediag.shell import command

DOC = Doc(
    what="The workspace property `v1LegacyMode` is `false` (an absent property means `false`).",
    why=(
        "With v1 legacy mode on, the workspace keeps the v1 API surface and its network isolation: "
        "managed online endpoints cannot use the v2 private endpoint and managed network path, so "
        "deployments fail or the endpoint is unreachable from the VNet."
    ),
    fix=(
        "Turn v1 legacy mode off with an ARM update of `properties.v1LegacyMode` (`az resource update --ids WS "
        "--set properties.v1LegacyMode=false`, or a REST PATCH of the workspace). The v1 CLI extension "
        "(azure-cli-ml) that had a flag for it is retired (support ended 2025-09-30): moediag never suggests it. "
        "Check with your network security team first: the change alters how the workspace is reached, and takes "
        "30 to 60 minutes or more to apply."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-configure-network-isolation-with-v2",),
    examples=(Example({"id": "/subscriptions/.../workspaces/ws-prod", "properties": {"v1LegacyMode": True}},
                      "fail: workspace ws-prod has v1 legacy mode on: managed online endpoints cannot use v2 network "
                      "isolation"),
              Example({"properties": {}}, "pass: v1LegacyMode is absent, which means off")),
)


@check(id="workspace.v1-legacy-mode", title="Workspace v1 legacy mode is off", severity="high",
       scope="workspace", facts=("workspace",), doc=DOC,
       explained_by=(), hops=("scoring:private-endpoint", "deployment:isolation-mode"), fix_risk="disruptive")
def evaluate(ctx):
    workspace = ctx.fact("workspace")
    wid = ctx.workspace_id
    value = require_props(workspace, "workspace").get("v1LegacyMode")
    if value is None:
        yield ctx.passed(wid, "v1LegacyMode is absent, which means off", expected=False, observed=None)
    elif value is False:
        yield ctx.passed(wid, "v1 legacy mode is off", expected=False, observed=False)
    elif value is True:
        t = ctx.target
        yield ctx.failed(
            wid,
            f"workspace {t.workspace} has v1 legacy mode on: managed online endpoints cannot use v2 network isolation",
            expected=False,
            observed=True,
            fix=("Turn v1 legacy mode off with an ARM update (agree it with your network security team first; it "
                 "takes 30 to 60+ minutes to apply)",
                 [command("az resource update --ids {wid} --set properties.v1LegacyMode=false", wid=wid)]),
        )
    else:
        yield ctx.errored(wid, f"v1LegacyMode has an unexpected value {value!r}; cannot tell whether it is on",
                          reason="unreadable", expected=False, observed=value)

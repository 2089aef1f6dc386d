"""endpoint.public-network-access: is scoring open to the internet, and does that match the workspace?"""

from moediag.check import Doc, Example, check
from moediag.errors import FactError
from moediag.evidence import props, require_props, same_text, text
from moediag.judge.scope import endpoints_in_scope
from moediag.shell import command

DOC = Doc(
    what=(
        "Reports whether each endpoint accepts scoring requests from the internet (`properties.publicNetworkAccess`; "
        "an absent value is the service default, `Enabled`). Passes when it is `Disabled`, or `Enabled` on a "
        "workspace that is itself public; warns when it is `Enabled` on a workspace whose own public network "
        "access is `Disabled`."
    ),
    why=(
        "The endpoint's inbound setting is independent of the workspace's. A workspace locked behind a private "
        "endpoint with an endpoint left `Enabled` serves scoring to the internet: a mix users rarely intend, and "
        "one that hides DNS problems (clients reach the public address instead of the private one)."
    ),
    fix=(
        "If scoring should be private, disable public access on the endpoint: `az ml online-endpoint update -n E "
        "-g RG -w WS --set public_network_access=disabled`; clients then reach it through the workspace's "
        "private endpoint."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-secure-online-endpoint",),
    examples=(
        Example({"workspace": {"name": "ws-prod", "properties": {"publicNetworkAccess": "Disabled"}},
                 "endpoint": {"name": "ep-main", "properties": {"publicNetworkAccess": "Enabled"}}},
                "warn: endpoint ep-main accepts scoring from the internet (Enabled) although workspace ws-prod "
                "disables public network access"),
        Example({"workspace": {"name": "ws-prod", "properties": {"publicNetworkAccess": "Disabled"}},
                 "endpoint": {"name": "ep-main", "properties": {"publicNetworkAccess": "Disabled"}}},
                "pass: endpoint ep-main accepts scoring only through the workspace's private endpoint"),
    ),
)


@check(id="endpoint.public-network-access", title="Endpoint inbound access matches the workspace's isolation",
       severity="medium", scope="endpoint", facts=("online_endpoints", "workspace"), doc=DOC,
       explained_by=(), hops=("scoring:public-access",), fix_risk="disruptive")
def evaluate(ctx):
    endpoints, gaps = endpoints_in_scope(ctx)
    yield from gaps
    workspace, ws_error = ctx.try_fact("workspace")
    if ws_error is None:  # a body without properties says nothing about the workspace's access: never "public"
        try:
            require_props(workspace, "workspace")
        except FactError as exc:
            ws_error = exc
    ws_access = props(workspace).get("publicNetworkAccess")
    t = ctx.target
    for name, endpoint in endpoints:
        eid = t.endpoint_id(name)
        raw = props(endpoint).get("publicNetworkAccess")
        observed = {"endpoint": raw, "workspace": ws_access}
        expected = "Disabled when the workspace's public network access is Disabled"
        if same_text(raw, "Disabled"):
            yield ctx.passed(eid, f"endpoint {name} accepts scoring only through the workspace's private endpoint",
                             expected=expected, observed=observed)
            continue
        if raw is not None and not same_text(raw, "Enabled"):
            yield ctx.errored(eid, f"endpoint {name} has an unexpected publicNetworkAccess {raw!r}",
                              reason="unreadable", expected=expected, observed=observed)
            continue
        how = "Enabled" if raw is not None else "not reported, so the default, Enabled"
        if ws_error is not None:
            yield ctx.errored(eid, f"endpoint {name} is open to the internet ({how}), but whether the workspace is "
                                   f"private could not be read: {ws_error.message}", reason=ws_error.kind,
                              expected=expected, observed=observed)
        elif same_text(ws_access, "Disabled"):
            yield ctx.warned(eid, f"endpoint {name} accepts scoring from the internet ({how}) although workspace "
                                  f"{t.workspace} disables public network access", expected=expected, observed=observed,
                             fix=("If scoring should be private, disable public access on the endpoint",
                                  [command("az ml online-endpoint update -n {name} -g {group} -w {workspace} "
                                           "--set public_network_access=disabled",
                                           name=name, group=t.resource_group, workspace=t.workspace)]))
        else:
            yield ctx.passed(eid, f"endpoint {name} accepts scoring from the internet ({how}), as does workspace "
                                  f"{t.workspace} (publicNetworkAccess {text(ws_access) or 'not reported'})",
                             expected=expected, observed=observed)

"""endpoint.public-network-access: is scoring open to the internet, and does that match the workspace?"""

from moediag.check import Doc, Example, check
from moediag.errors import FactError
from moediag.evidence import dig, props, require_props, same_text, text
from moediag.judge.scope import endpoints_in_scope
from moediag.shell import command

DOC = Doc(
    what=(
        "Reports whether each endpoint accepts scoring requests from the internet (`properties.publicNetworkAccess`; "
        "an absent value is the service default, `Enabled`). Passes when it is `Disabled`, or `Enabled` on a "
        "workspace that is itself public. A workspace limited to selected IP addresses (`publicNetworkAccess` "
        "`Enabled` with a non-empty `ipAllowlist`, or `networkAcls.defaultAction` `Deny` with `ipRules`) applies "
        "its list to its endpoints: an `Enabled` endpoint passes, and the message names the addresses scoring is "
        "limited to. Fails when an endpoint is `Enabled` on a workspace whose own public network access is "
        "`Disabled`: that combination is not supported."
    ),
    why=(
        "The endpoint's inbound setting must agree with the workspace's. A workspace locked behind a private "
        "endpoint with an endpoint left `Enabled` is an unsupported combination: Azure documents that public access "
        "to an endpoint needs public access to its workspace, so scoring from the internet is refused while the "
        "setting suggests otherwise, and it hides DNS problems (clients try the public address instead of the "
        "private one). A workspace limited to selected IPs limits its endpoints' public scoring to the same list: "
        "clients outside it are refused."
    ),
    fix=(
        "If scoring should be private, disable public access on the endpoint: `az ml online-endpoint update -n E "
        "-g RG -w WS --set public_network_access=disabled`; clients then reach it through the workspace's "
        "private endpoint. If it should be public, enable public access on the workspace (for all networks or "
        "selected IPs) instead. With selected IPs, add the clients' addresses to the workspace's list."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-secure-online-endpoint",
           "https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link#enable-public-access-only-from-internet-ip-ranges"),
    examples=(Example({"endpoint": {"name": "ep-main", "properties": {"publicNetworkAccess": "Enabled"}},
                       "workspace": {"properties": {"publicNetworkAccess": "Disabled"}}},
                      "fail: endpoint ep-main accepts scoring from the internet (Enabled) although workspace ws-prod "
                      "disables public network access: not a supported combination (public scoring needs a public "
                      "workspace)"),
              Example({"workspace": {"name": "ws-prod", "properties": {"publicNetworkAccess": "Disabled"}},
                       "endpoint": {"name": "ep-main", "properties": {"publicNetworkAccess": "Disabled"}}},
                      "pass: endpoint ep-main accepts scoring only through the workspace's private endpoint")),
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
    allowed = selected_ips(workspace)
    t = ctx.target
    for name, endpoint in endpoints:
        eid = t.endpoint_id(name)
        raw = props(endpoint).get("publicNetworkAccess")
        observed = {"endpoint": raw, "workspace": ws_access}
        if allowed:
            observed["workspace selected IPs"] = allowed
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
            yield ctx.failed(eid, f"endpoint {name} accepts scoring from the internet ({how}) although workspace "
                                  f"{t.workspace} disables public network access: not a supported combination (public "
                                  "scoring needs a public workspace)", expected=expected, observed=observed,
                             fix=("If scoring should be private, disable public access on the endpoint; if it should be "
                                  "public, enable public access on the workspace instead",
                                  [command("az ml online-endpoint update -n {name} -g {group} -w {workspace} "
                                           "--set public_network_access=disabled",
                                           name=name, group=t.resource_group, workspace=t.workspace)]))
        elif allowed:
            yield ctx.passed(eid, f"endpoint {name} accepts scoring from the internet ({how}), limited to the IP "
                                  f"addresses workspace {t.workspace} allows: {', '.join(allowed)}",
                             expected=expected, observed=observed)
        else:
            yield ctx.passed(eid, f"endpoint {name} accepts scoring from the internet ({how}), as does workspace "
                                  f"{t.workspace} (publicNetworkAccess {text(ws_access) or 'not reported'})",
                             expected=expected, observed=observed)


def selected_ips(workspace) -> list[str]:
    """The workspace's selected IP addresses while its public access is on: `ipAllowlist`, or the `ipRules` of a
    `networkAcls` that denies by default (newer API versions); [] when every network is allowed."""
    p = props(workspace)
    if same_text(p.get("publicNetworkAccess"), "Disabled"):
        return []
    listed = [ip.strip() for ip in p.get("ipAllowlist") or [] if isinstance(ip, str) and ip.strip()]
    if same_text(dig(p, "networkAcls", "defaultAction"), "Deny"):
        rules = dig(p, "networkAcls", "ipRules")
        listed += [r["value"].strip() for r in rules if isinstance(r, dict) and isinstance(r.get("value"), str)
                   and r["value"].strip()] if isinstance(rules, list) else []
    return list(dict.fromkeys(listed))

"""Facts for the pre-flight readiness checks: isolation mode, outbound rules, computes, Azure's own diagnosis."""

from __future__ import annotations

import time
from typing import Any

from moediag.errors import FactError
from moediag.evidence import dig, listed, props, require_props, same_text, text
from moediag.facts import Source, fact
from moediag.facts.workspace import ML_API
from moediag.resource_id import last_name

ML = "Microsoft.MachineLearningServices/workspaces"


@fact("isolation_mode", needs=("workspace", "network_workspace", "online_endpoints", "deployments"), derived=True)
def isolation_mode(src: Source) -> dict[str, Any]:
    """How deployments reach the workspace's resources: `managed`, `legacy` or `none`.

    `managed`: the workspace has a managed VNet (`managedNetwork.isolationMode` AllowInternetOutbound or
    AllowOnlyApprovedOutbound); decided from the workspace alone, deployments are not read.
    `legacy`: no managed VNet, and some deployment has `egressPublicNetworkAccess` = Disabled (its own VNet).
    `none`: neither. `unread` names endpoints whose deployments could not be read: with it, `none` may
    really be `legacy` (checks that care say so rather than guess). A project's managed network is its hub's
    (`read_from` names the hub, and the summary says so).
    """
    home = src.get("network_workspace")
    hub = home["name"] if home.get("from_hub") else None
    raw = dig(require_props(home["body"], f"hub {hub}" if hub else "workspace"), "managedNetwork", "isolationMode")
    value: dict[str, Any] = {"isolation_mode": raw if isinstance(raw, str) else None,
                             "legacy_deployments": [], "unread": {}, "read_from": hub}
    if isinstance(raw, str) and raw.strip() and not same_text(raw, "Disabled"):
        owner = f"the workspace's hub {hub} has" if hub else "the workspace has"
        return {**value, "mode": "managed", "summary": f"{owner} a managed virtual network ({raw})"}
    try:
        endpoints = listed(src.get("online_endpoints"), "the online endpoint list")
    except FactError as error:
        endpoints, value["unread"]["*"] = [], {"kind": error.kind, "message": error.message}
    names = [text(e.get("name")) for e in endpoints]
    for name, (deployments, error) in zip(names, src.gather([("deployments", n) for n in names])):
        try:
            if error is not None:
                raise error
            deployments = listed(deployments, f"the deployment list of {name}")
        except FactError as unread:
            value["unread"][name] = {"kind": unread.kind, "message": unread.message}
            continue
        value["legacy_deployments"] += [
            text(d.get("id")) or src.target.deployment_id(name, text(d.get("name")))
            for d in deployments
            if same_text(props(d).get("egressPublicNetworkAccess"), "Disabled")
        ]
    shown = ("Disabled" if raw is not None else "absent") + (f", read from hub {hub}" if hub else "")
    if value["legacy_deployments"]:
        names = ", ".join(last_name(d) for d in value["legacy_deployments"])
        return {**value, "mode": "legacy",
                "summary": f"no workspace managed virtual network (isolationMode {shown}); deployments {names} "
                           "use the legacy per-deployment method (egressPublicNetworkAccess Disabled)"}
    unsure = " (deployments of some endpoints could not be read)" if value["unread"] else ""
    return {**value, "mode": "none",
            "summary": f"no outbound network isolation: no workspace managed virtual network (isolationMode {shown}) "
                       f"and no deployment with egressPublicNetworkAccess Disabled{unsure}"}


@fact("outbound_rules", permissions=(f"{ML}/outboundRules/read",), needs=("workspace", "network_workspace"))
def outbound_rules(src: Source) -> dict[str, Any]:
    """The managed network's outbound rules: `{"source": ..., "rules": [{name, properties}, ...]}`.

    Read from the rules list (`GET .../outboundRules`), the resource Azure keeps them in: each rule there
    carries its `errorInformation`, which the copy inside the workspace body lacks. Older previews answer
    it as a dict keyed by rule name instead of `{"value": [...]}`; `src.arm.list` reads both. Where the
    list does not exist (404: an API or workspace without it), the workspace body's
    `managedNetwork.outboundRules` (a dict keyed by name) is the evidence. A project's rules are its hub's (read
    once per run for all the hub's projects).
    """
    home = src.get("network_workspace")
    hub = f" of hub {home['name']}" if home.get("from_hub") else ""
    path = f"{home['id']}/outboundRules"
    try:
        return {"source": f"outboundRules{hub}", "rules": src.read_once(("list", path), lambda: src.arm.list(path, ML_API))}
    except FactError as exc:
        if exc.kind != "not_found":
            raise
    inline = dig(props(home["body"]), "managedNetwork", "outboundRules")
    rules = []
    if isinstance(inline, dict):
        rules = [{"name": name, "properties": rule} for name, rule in inline.items() if isinstance(rule, dict)]
    elif isinstance(inline, list):
        rules = [rule for rule in inline if isinstance(rule, dict)]
    return {"source": f"{'hub' if hub else 'workspace'} managedNetwork.outboundRules{hub}", "rules": rules}


@fact("compute", permissions=(f"{ML}/computes/read",))
def compute(src: Source, name: str) -> dict[str, Any] | None:
    """A workspace compute's REST body; None when it does not exist (that is evidence)."""
    return src.arm.get_or_none(f"{src.target.workspace_id}/computes/{name}", ML_API)


# Seconds kept back from the run's deadline, so a diagnose that never ends is reported by its check.
DIAGNOSE_MARGIN_S = 1.0


@fact("diagnose", permissions=(f"{ML}/diagnose/action",))
def diagnose(src: Source) -> dict[str, Any]:
    """Azure's own workspace diagnosis: a long-running POST (read-only), waited for until the run's deadline."""
    remaining = src.deadline - time.monotonic() - DIAGNOSE_MARGIN_S
    body = src.arm.post_long_running(f"{src.target.workspace_id}/diagnose", ML_API, {"value": {}}, timeout_s=remaining)
    return body if isinstance(body, dict) else {"value": body}

"""Facts for the pre-flight readiness checks: isolation mode, outbound rules, computes, Azure's own diagnosis."""

from __future__ import annotations

import time
from typing import Any

from moediag.errors import FactError
from moediag.evidence import dig, listed, props, require_props, same_text, text
from moediag.facts import Source, fact
from moediag.facts.workspace import ML_API

ML = "Microsoft.MachineLearningServices/workspaces"


@fact("isolation_mode", needs=("workspace", "online_endpoints", "deployments"), derived=True)
def isolation_mode(src: Source) -> dict[str, Any]:
    """How deployments reach the workspace's resources: `managed`, `legacy` or `none`.

    `managed`: the workspace has a managed VNet (`managedNetwork.isolationMode` AllowInternetOutbound or
    AllowOnlyApprovedOutbound); decided from the workspace alone, deployments are not read.
    `legacy`: no managed VNet, and some deployment has `egressPublicNetworkAccess` = Disabled (its own VNet).
    `none`: neither. `unread` names endpoints whose deployments could not be read: with it, `none` may
    really be `legacy` (checks that care say so rather than guess).
    """
    raw = dig(require_props(src.get("workspace"), "workspace"), "managedNetwork", "isolationMode")
    value: dict[str, Any] = {"isolation_mode": raw if isinstance(raw, str) else None,
                             "legacy_deployments": [], "unread": {}}
    if isinstance(raw, str) and raw.strip() and not same_text(raw, "Disabled"):
        return {**value, "mode": "managed", "summary": f"the workspace has a managed virtual network ({raw})"}
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
    shown = "Disabled" if raw is not None else "absent"
    if value["legacy_deployments"]:
        names = ", ".join(d.rsplit("/", 1)[-1] for d in value["legacy_deployments"])
        return {**value, "mode": "legacy",
                "summary": f"no workspace managed virtual network (isolationMode {shown}); deployments {names} "
                           "use the legacy per-deployment method (egressPublicNetworkAccess Disabled)"}
    unsure = " (deployments of some endpoints could not be read)" if value["unread"] else ""
    return {**value, "mode": "none",
            "summary": f"no outbound network isolation: no workspace managed virtual network (isolationMode {shown}) "
                       f"and no deployment with egressPublicNetworkAccess Disabled{unsure}"}


@fact("outbound_rules", permissions=(f"{ML}/outboundRules/read",), needs=("workspace",))
def outbound_rules(src: Source) -> dict[str, Any]:
    """The managed network's outbound rules: `{"source": ..., "rules": [{name, properties}, ...]}`.

    Read from the rules list (`GET .../outboundRules`), the resource Azure keeps them in: each rule there
    carries its `errorInformation`, which the copy inside the workspace body lacks. Older previews answer
    it as a dict keyed by rule name instead of `{"value": [...]}`; `src.arm.list` reads both. Where the
    list does not exist (404: an API or workspace without it), the workspace body's
    `managedNetwork.outboundRules` (a dict keyed by name) is the evidence.
    """
    try:
        return {"source": "outboundRules", "rules": src.arm.list(f"{src.target.workspace_id}/outboundRules", ML_API)}
    except FactError as exc:
        if exc.kind != "not_found":
            raise
    inline = dig(props(src.get("workspace")), "managedNetwork", "outboundRules")
    rules = []
    if isinstance(inline, dict):
        rules = [{"name": name, "properties": rule} for name, rule in inline.items() if isinstance(rule, dict)]
    elif isinstance(inline, list):
        rules = [rule for rule in inline if isinstance(rule, dict)]
    return {"source": "workspace managedNetwork.outboundRules", "rules": rules}


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

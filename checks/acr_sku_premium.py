"""acr.sku-premium: a registry reached through a private endpoint must be Premium."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.evidence import (
    az_group_and_name,
    dig,
    outbound_rule_items,
    props,
    require_props,
    same_text,
    text,
)
from moediag.shell import command

DOC = Doc(
    what=(
        "The workspace container registry's `sku.name` is `Premium` whenever it is reached through a private "
        "endpoint: it has private endpoint connections, the workspace's managed network has a private endpoint "
        "rule to it, or deployments use the legacy per-deployment isolation (each gets a private endpoint to the "
        "registry). Not applicable to a registry reached over its public endpoint, or when the workspace has no "
        "registry yet (`containerRegistry` empty)."
    ),
    why=(
        "Private endpoints (and network rules) are a Premium feature of Azure Container Registry. With a Basic "
        "or Standard registry the private endpoint the deployment needs cannot be created or stays unusable, so "
        "image pulls fail and the deployment never starts."
    ),
    fix="Upgrade the registry: `az acr update -n REGISTRY -g RG --sku Premium` (no downtime; Premium costs more).",
    links=("https://learn.microsoft.com/azure/container-registry/container-registry-private-link",
           "https://learn.microsoft.com/azure/container-registry/container-registry-skus"),
    examples=(
        Example({"workspace": {"properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}},
                 "registry": {"id": "/subscriptions/.../registries/acrwsprod",
                              "sku": {"name": "Standard"},
                              "properties": {"privateEndpointConnections": []}},
                 "outboundRules": [{"name": "__SYS_PE_acrwsprod_registry",
                                    "properties": {"type": "PrivateEndpoint",
                                                   "destination":
                                                       {"serviceResourceId":
                                                            "/subscriptions/.../registries/acrwsprod"}}}]},
                "fail: registry acrwsprod is Standard but is reached through a private endpoint (managed network "
                "rule __SYS_PE_acrwsprod_registry): private endpoints need the Premium tier, so image pulls fail"),
        Example({"registry": {"id": "/subscriptions/.../registries/acrwsprod",
                              "sku": {"name": "Premium"},
                              "properties": {"privateEndpointConnections":
                                                 [{"name": "pe-acr.c3a1b2d4-5e6f-4789-9abc-def012345678"}]}}},
                "pass: registry acrwsprod is Premium, as its private endpoints need"),
    ),
)


@check(id="acr.sku-premium", title="Container registry behind a private endpoint is Premium", severity="high",
       scope="workspace", facts=("workspace", "registry", "isolation_mode", "outbound_rules"), doc=DOC,
       explained_by=(), hops=("deployment:registry",), fix_risk="safe")
def evaluate(ctx):
    if not text(require_props(ctx.fact("workspace"), "workspace").get("containerRegistry")).strip():
        yield ctx.skipped(ctx.workspace_id, "the workspace has no container registry yet (containerRegistry is empty): "
                                            "see workspace.associated-resources")
        return
    registry = ctx.fact("registry")
    require_props(registry, "registry")
    rid = text(registry.get("id")) or None
    mode = ctx.fact("isolation_mode")
    reasons, unknown = _private_paths(ctx, registry, rid, mode)
    if not reasons and unknown:
        kind, message = unknown
        yield ctx.errored(rid, f"cannot tell whether the registry is reached through a private endpoint: {message}",
                          reason=kind)
        return
    if not reasons:
        yield ctx.skipped(rid, f"the registry is reached over its public endpoint (no private endpoint connection, "
                               f"and {mode['summary']})")
        return
    sku = dig(registry, "sku", "name")
    observed = {"sku": sku, "private_paths": reasons}
    group, name = az_group_and_name(rid)
    if same_text(sku, "Premium"):
        yield ctx.passed(rid, f"registry {name} is Premium, as its private endpoints need", expected="Premium", observed=observed)
    elif not isinstance(sku, str) or not sku:
        yield ctx.errored(rid, f"registry {name} carries no sku.name: cannot tell its tier", reason="unreadable",
                          expected="Premium", observed=observed)
    else:
        yield ctx.failed(rid, f"registry {name} is {sku} but is reached through a private endpoint ({'; '.join(reasons)}): "
                              "private endpoints need the Premium tier, so image pulls fail",
                         expected="Premium", observed=observed,
                         fix=(f"Upgrade registry {name} to Premium",
                              [command("az acr update -n {name} -g {group} --sku Premium", name=name, group=group)]))


def _private_paths(ctx, registry: dict, rid: str | None, mode: dict) -> tuple[list[str], tuple[str, str] | None]:
    """Why the registry is reached privately, and (kind, message) of evidence that could not be read."""
    reasons, unknown = [], None
    listed = props(registry).get("privateEndpointConnections")
    connections = [text(c.get("name")) for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
    if connections:
        reasons.append(f"private endpoint connections {', '.join(connections)}")
    elif listed is not None and not isinstance(listed, list):  # not "no connections": unreadable ones
        unknown = ("unreadable", f"the registry's privateEndpointConnections is a {type(listed).__name__}, not a list")
    if mode["mode"] == "legacy":
        reasons.append(mode["summary"])
    elif mode["mode"] == "managed":
        rules, error = ctx.try_fact("outbound_rules")
        names = [text(r.get("name")) for r in outbound_rule_items(rules) or []
                 if same_text(props(r).get("type"), "PrivateEndpoint")
                 and resource_id.same(dig(props(r), "destination", "serviceResourceId"), rid)]
        if names:
            reasons.append(f"managed network rule {', '.join(names)}")
        if error is not None:
            unknown = (error.kind, f"the managed network's outbound rules could not be read ({error.message})")
    elif mode["unread"]:
        first = next(iter(mode["unread"].values()))
        unknown = (first["kind"], f"{mode['summary']}: {first['message']}")
    return reasons, unknown

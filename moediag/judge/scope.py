"""What the checks judge, found the way every check needs it: the endpoints and deployments in scope (with -e/-d),
the workspace's private endpoints with what each provides for inference, a provisioning state's verdict.

These take the running check's context (`moediag.check.CheckContext`: facts the check declared), never the
collector: they belong to the checks' side of the line, facts to the other.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from moediag.errors import FactError
from moediag.evidence import (
    listed,
    props,
    provisioning_phase,
    text,
    workspace_kind,
    workspace_private_endpoint_ids,
)
from moediag.shell import Command, Placeholder, command, is_map_key


def endpoint_deployments(ctx) -> tuple[list[dict[str, Any]], dict[str, tuple[list[dict[str, Any]], FactError | None]]]:
    """The endpoints in scope and, per endpoint name, its deployments in scope (or why they could not be read).

    With -d only the deployment of that name (names compare case-insensitively, as ARM's do).
    Raises FactError when the endpoints themselves could not be listed.
    """
    endpoints = listed(ctx.fact("online_endpoints"), "the online endpoint list")
    names = [text(e.get("name")) for e in endpoints]
    wanted = (ctx.target.deployment or "").lower()
    per_endpoint = {}
    for name, (found, error) in zip(names, deployment_lists(ctx, names)):
        if wanted:
            found = [d for d in found if text(d.get("name")).lower() == wanted]
        per_endpoint[name] = (found, error)
    return endpoints, per_endpoint


def deployment_lists(ctx, endpoint_names: list[str]) -> list[tuple[list[dict[str, Any]], FactError | None]]:
    """Every deployment of each endpoint (read in parallel, no -d filter): [(deployments, error), ...] in order."""
    out = []
    for value, error in ctx.gather("deployments", [(n,) for n in endpoint_names]):
        if error is None:
            try:
                value = listed(value, "the deployment list")
            except FactError as exc:
                value, error = None, exc
        out.append((value or [], error))
    return out


def hub_skip(ctx) -> list[Any]:
    """A skip when the workspace is a hub: a hub has no online endpoints of its own (they belong to its projects).
    Only for checks that declare `workspace`; an unreadable workspace is left to the engine (it reads it first)."""
    if "workspace" not in ctx.check.facts:
        return []
    workspace, error = ctx.try_fact("workspace")
    if error is not None or workspace_kind(workspace) != "Hub":
        return []
    return [ctx.skipped(ctx.workspace_id, f"not applicable: workspace {ctx.target.workspace} is a hub, and a hub has "
                                          "no online endpoints of its own (they belong to its projects: run moediag "
                                          "on a project)")]


def endpoints_in_scope(ctx) -> tuple[list[tuple[str, dict[str, Any]]], list[Any]]:
    """(name, body) of each endpoint in scope, and a skip result when there is none to judge (none, or a hub)."""
    hub = hub_skip(ctx)
    if hub:
        return [], hub
    endpoints = [(text(e.get("name")), e) for e in listed(ctx.fact("online_endpoints"), "the online endpoint list")]
    if endpoints:
        return endpoints, []
    return [], [ctx.skipped(ctx.workspace_id, f"workspace {ctx.target.workspace} has no online endpoints")]


class InScope(NamedTuple):
    """A deployment in scope: its body, its endpoint's body, both names, and its resource id."""

    endpoint: dict[str, Any]
    deployment: dict[str, Any]
    endpoint_name: str
    name: str
    id: str


def deployments_in_scope(ctx) -> tuple[list[InScope], list[Any]]:
    """The deployments in scope, and one result per endpoint whose deployments cannot be judged:
    an error when they could not be read, a skip when it has none (or none named -d); for a hub, one skip."""
    hub = hub_skip(ctx)
    if hub:
        return [], hub
    endpoints, per_endpoint = endpoint_deployments(ctx)
    if not endpoints:
        return [], endpoints_in_scope(ctx)[1]
    found, gaps = [], []
    wanted = ctx.target.deployment
    for endpoint in endpoints:
        e = text(endpoint.get("name"))
        deployments, error = per_endpoint[e]
        if error is not None:
            gaps.append(ctx.errored(ctx.target.endpoint_id(e), error))
        elif not deployments:
            gaps.append(ctx.skipped(ctx.target.endpoint_id(e), f"endpoint {e} has no deployment named {wanted}"
                                    if wanted else f"endpoint {e} has no deployments yet"))
        for deployment in deployments:
            d = text(deployment.get("name"))
            found.append(InScope(endpoint, deployment, e, d, ctx.target.deployment_id(e, d)))
    return found, gaps


def provisioning_result(ctx, rid: str, label: str, body: Any, *, failed_means: str, waiting_means: str,
                        failed_fix: tuple[str, list[Command]], show: Command):
    """The verdict on a body's provisioningState: Succeeded passes, Failed/Canceled fail, an operation in progress
    (or a state nobody knows) warns, no state at all is unreadable. `show` is the `az ... show` command."""
    phase, state = provisioning_phase(body)
    kw = {"expected": "Succeeded", "observed": state}
    if phase == "succeeded":
        return ctx.passed(rid, f"{label} is Succeeded", **kw)
    if phase == "failed":
        return ctx.failed(rid, f"{label} is {state}: {failed_means}", fix=failed_fix, **kw)
    if phase == "in_progress":
        return ctx.warned(rid, f"{label} is {state}: {waiting_means}; look again when the operation ends",
                          reason="inconclusive", fix=("Wait for the operation to end, then run moediag again",
                                                      [command("{show} --query provisioning_state", show=show)]),
                          **kw)
    if phase == "absent":
        return ctx.errored(rid, f"{label} has no provisioningState", reason="unreadable", **kw)
    return ctx.warned(rid, f"{label} is in a state moediag does not know: {state!r}", reason="inconclusive",
                      fix=("Look at it in the studio or with az", [show]), **kw)


class NetworkHome(NamedTuple):
    """The workspace whose body holds the network truth (the hub of a project, else the workspace itself)."""

    id: str
    name: str
    resource_group: str
    body: dict[str, Any]
    from_hub: bool
    kind: str

    @property
    def note(self) -> str:
        """` (read from hub H)` for a project's results judged on its hub's body, else nothing."""
        return f" (read from hub {self.name})" if self.from_hub else ""


def network_home(ctx) -> NetworkHome:
    """From the `network_workspace` fact (which the check declares); raises FactError when it cannot be read."""
    value = ctx.fact("network_workspace")
    return NetworkHome(value["id"], value["name"], value["resource_group"], value["body"], bool(value["from_hub"]),
                       value["kind"])


def workspace_private_endpoints(ctx) -> list[tuple[str, dict[str, Any] | None, FactError | None]]:
    """(id, private_endpoint_inference or None, why unreadable) for each private endpoint of the workspace (of its
    hub, for a project: a project uses its hub's private endpoints).

    For checks declaring `network_workspace` and `private_endpoint_inference`; an empty list means the workspace
    has no private endpoint. A connection naming no usable endpoint id is an `unreadable` entry.
    """
    pairs = workspace_private_endpoint_ids(network_home(ctx).body)
    ids = [pe_id for _, pe_id in pairs if pe_id]
    ctx.prefetch("private_dns_zone_groups", [(pe_id,) for pe_id in ids])  # keyed by the id alone: read alongside
    answers = dict(zip(ids, ctx.gather("private_endpoint_inference", [(pe_id,) for pe_id in ids])))
    out: list[tuple[str, dict[str, Any] | None, FactError | None]] = []
    for connection, pe_id in pairs:
        if pe_id is None:
            why = f"private endpoint connection {connection.get('name')!r} names no private endpoint"
            out.append((text(connection.get("id")) or ctx.workspace_id, None, FactError("unreadable", why)))
        else:
            out.append((pe_id, *answers[pe_id]))
    return out


def recreate_deployment(ctx, ref, *, with_flag: bool) -> tuple[str, list[Command]]:
    """The fix for a deployment whose egress setting cannot change after creation (deployment.isolation-method,
    deployment.egress-to-private-resources): a new deployment (egress disabled, or without the flag under a managed
    network), the traffic moved (when the name can be written into --traffic), the old one deleted; with the flag,
    moving the workspace to a managed network is the alternative."""
    t = ctx.target
    e, d = ref.endpoint_name, ref.name
    where = command("-g {group} -w {workspace}", group=t.resource_group, workspace=t.workspace)
    traffic = props(ref.endpoint).get("traffic")
    share = traffic.get(d) if isinstance(traffic, dict) else None
    share = share if isinstance(share, int) and not isinstance(share, bool) and share > 0 else Placeholder("its share")
    move = ([command("az ml online-endpoint update -n {e} {where} --traffic {traffic}", e=e, where=where,
                     traffic=f"{d}=0 {d}-v2={share}")] if is_map_key(d) else [])
    create = (command("az ml online-deployment create -e {e} -n {d}-v2 {where} -f <deployment.yml> "
                      "--set egress_public_network_access=disabled", e=e, d=d, where=where) if with_flag else
              command("az ml online-deployment create -e {e} -n {d}-v2 {where} -f <deployment.yml>  "
                      "# the YAML without egress_public_network_access", e=e, d=d, where=where))
    commands = [create, *move, command("az ml online-deployment delete -e {e} -n {d} {where} --yes", e=e, d=d,
                                       where=where)]
    moved = "" if move else (" (its name cannot be written into a --traffic value: move the traffic in the studio or "
                             "with the endpoint's YAML)")
    if not with_flag:
        return ("Create a new deployment without egress_public_network_access, move the traffic to it, then delete "
                "this one" + moved, commands)
    commands += [command("az ml workspace update -n {workspace} -g {group} --managed-network allow_only_approved_outbound",
                         workspace=t.workspace, group=t.resource_group),
                 command("az ml workspace provision-network -g {group} -n {workspace}", group=t.resource_group,
                         workspace=t.workspace)]
    return ("Create a new deployment with egress public network access disabled, move the traffic to it, then delete "
            "this one" + moved + "; or move the workspace to a managed network (the last two commands) and recreate "
            "the deployment without the flag", commands)

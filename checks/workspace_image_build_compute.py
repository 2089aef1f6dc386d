"""workspace.image-build-compute: with a private registry, images are built on a workspace compute."""

from moediag import resource_id
from moediag.check import Doc, Example, check
from moediag.evidence import (
    az_group_and_name,
    dig,
    props,
    require_props,
    same_text,
    text,
)
from moediag.shell import Command, command

SUGGESTED_NAME = "image-builder"
BUILD_COMPUTE_TYPES = ("AmlCompute", "ComputeInstance")

DOC = Doc(
    what=(
        "When the workspace container registry is not publicly reachable (`publicNetworkAccess` `Disabled`, or "
        "its firewall denies by default), the workspace's `imageBuildCompute` names a compute cluster, and that "
        "compute exists in the workspace. Not applicable when the registry is publicly reachable, or when the "
        "workspace has no registry yet (`containerRegistry` empty)."
    ),
    why=(
        "Azure Machine Learning builds a deployment's image with ACR Tasks, which cannot reach a registry behind "
        "a private endpoint or firewall. It then builds on the compute named by `imageBuildCompute`; with none "
        "(or one that no longer exists) every deployment that needs a custom image fails at the build step."
    ),
    fix=(
        "Create a small CPU compute cluster (it scales to zero) and name it as the image build compute: "
        f"`az ml compute create -n {SUGGESTED_NAME} --type AmlCompute --min-instances 0 --max-instances 2 -g RG -w WS` "
        f"then `az ml workspace update -n WS -g RG --image-build-compute {SUGGESTED_NAME}`."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet#enable-azure-container-registry-acr",),
    examples=(
        Example({"workspace": {"name": "ws-prod",
                               "properties": {"containerRegistry": "/subscriptions/.../registries/acrwsprod",
                                              "imageBuildCompute": None}},
                 "registry": {"id": "/subscriptions/.../registries/acrwsprod",
                              "properties": {"publicNetworkAccess": "Disabled"}}},
                "fail: registry acrwsprod is private (publicNetworkAccess Disabled) but workspace ws-prod has no "
                "imageBuildCompute: images for deployments cannot be built"),
        Example({"workspace": {"name": "ws-prod",
                               "properties": {"containerRegistry": "/subscriptions/.../registries/acrwsprod",
                                              "imageBuildCompute": "cpu-cluster"}},
                 "registry": {"id": "/subscriptions/.../registries/acrwsprod",
                              "properties": {"publicNetworkAccess": "Disabled"}},
                 "compute": {"name": "cpu-cluster",
                             "properties": {"computeType": "AmlCompute", "provisioningState": "Succeeded"}}},
                "pass: images are built on AmlCompute cpu-cluster (registry acrwsprod is private: "
                "publicNetworkAccess Disabled)"),
    ),
)


@check(id="workspace.image-build-compute", title="Images can be built when the registry is private",
       severity="high", scope="workspace", facts=("workspace", "registry", "compute"), doc=DOC,
       explained_by=(), hops=("deployment:image-build",), fix_risk="safe")
def evaluate(ctx):
    workspace = require_props(ctx.fact("workspace"), "workspace")
    wid, t = ctx.workspace_id, ctx.target
    if not text(workspace.get("containerRegistry")).strip():
        yield ctx.skipped(wid, "the workspace has no container registry yet (containerRegistry is empty): "
                               "see workspace.associated-resources")
        return
    registry = ctx.fact("registry")
    require_props(registry, "registry")
    _, registry_name = az_group_and_name(registry.get("id"))
    private = _why_private(registry)
    if not private:
        yield ctx.skipped(wid, f"registry {registry_name} is publicly reachable: ACR Tasks build the images there")
        return
    raw = workspace.get("imageBuildCompute")
    parsed = resource_id.parse(raw)
    name = parsed.name if parsed else text(raw).strip()
    expected = "imageBuildCompute names an existing compute cluster"
    if not name:
        yield ctx.failed(wid, f"registry {registry_name} is private ({private}) but workspace {t.workspace} has no "
                              "imageBuildCompute: images for deployments cannot be built",
                         expected=expected, observed={"imageBuildCompute": raw, "registry": private},
                         fix=("Create a compute cluster for image builds and name it in the workspace",
                              [_create(SUGGESTED_NAME, t),
                               command("az ml workspace update -n {workspace} -g {group} --image-build-compute {name}",
                                       workspace=t.workspace, group=t.resource_group, name=SUGGESTED_NAME)]))
        return
    compute = ctx.fact("compute", name)
    cid = f"{wid}/computes/{name}"
    if compute is None:
        yield ctx.failed(cid, f"imageBuildCompute names compute {name}, which does not exist in workspace {t.workspace}: "
                              "images for deployments cannot be built",
                         expected=expected, observed={"imageBuildCompute": raw, "exists": False, "registry": private},
                         fix=(f"Create compute cluster {name} (or name an existing one)", [_create(name, t)]))
        return
    compute_type, state = props(compute).get("computeType"), props(compute).get("provisioningState")
    observed = {"imageBuildCompute": raw, "computeType": compute_type, "provisioningState": state, "registry": private}
    if not any(same_text(compute_type, c) for c in BUILD_COMPUTE_TYPES) or same_text(state, "Failed"):
        yield ctx.warned(cid, f"imageBuildCompute {name} is a {compute_type} in state {state}: image builds may fail "
                              f"(they need a healthy {' or '.join(BUILD_COMPUTE_TYPES)})",
                         expected=expected, observed=observed)
        return
    yield ctx.passed(cid, f"images are built on {compute_type} {name} (registry {registry_name} is private: {private})",
                     expected=expected, observed=observed)


def _why_private(registry: dict) -> str:
    """Why the registry is not publicly reachable, or "" when it is."""
    p = props(registry)
    if same_text(p.get("publicNetworkAccess"), "Disabled"):
        return "publicNetworkAccess Disabled"
    if same_text(dig(p, "networkRuleSet", "defaultAction"), "Deny"):
        return "its firewall denies by default"
    return ""


def _create(name: str, t) -> Command:
    return command("az ml compute create -n {name} --type AmlCompute --min-instances 0 --max-instances 2 "
                   "-g {group} -w {workspace}", name=name, group=t.resource_group, workspace=t.workspace)

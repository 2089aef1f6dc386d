"""endpoint.traffic-assignment: scoring requests can be routed to a deployment that exists."""

from moediag.check import Doc, Example, check
from moediag.evidence import props, provisioning_phase, text
from moediag.judge.scope import deployment_lists, endpoints_in_scope
from moediag.shell import Placeholder, command, is_map_key

HEADER = "azureml-model-deployment"
EXPECTED = "traffic shares over existing deployments summing to 100, at least one above 0; mirrored traffic at most 50 in all, to existing deployments"

DOC = Doc(
    what=(
        "The endpoint's `properties.traffic` (deployment name to percent) gives a positive share to at least one "
        "deployment, names only deployments that exist, and sums to 100; its `mirrorTraffic` sums to at most 50 "
        "and names only deployments that exist. An endpoint with no deployment and no traffic yet is not "
        "applicable (a new endpoint before its first deployment)."
    ),
    why=(
        "A scoring request without the `azureml-model-deployment` header is routed by the traffic map. When no "
        "deployment has a share, or a share points at a deployment that was deleted, those requests fail even "
        "though every deployment is healthy. Shares that do not sum to 100 are a map the service did not mean."
    ),
    fix=(
        "Give the traffic to existing deployments: `az ml online-endpoint update -n E -g RG -w WS --traffic "
        "\"blue=100\"`. Stop mirroring to a missing deployment with `--mirror-traffic \"green=0\"`. A client can "
        "also pick a deployment per request with the `azureml-model-deployment: <deployment>` header."
    ),
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-safely-rollout-online-endpoints",),
    examples=(
        Example({"endpoint": {"name": "ep-main", "properties": {"traffic": {"blue": 50, "green": 50}}},
                 "deployments": [{"name": "blue", "properties": {"provisioningState": "Succeeded"}}]},
                "fail: endpoint ep-main: traffic names deployment green, which does not exist (deleted?)"),
        Example({"endpoint": {"name": "ep-main", "properties": {"traffic": {"blue": 100}}},
                 "deployments": [{"name": "blue", "properties": {"provisioningState": "Succeeded"}}]},
                "pass: endpoint ep-main routes its traffic to existing deployments (blue=100)"),
    ),
)


@check(id="endpoint.traffic-assignment", title="Endpoint traffic goes to deployments that exist",
       severity="critical", scope="endpoint", facts=("online_endpoints", "deployments", "workspace"), doc=DOC,
       explained_by=("deployment.provisioning-state",), hops=("scoring:endpoint",), fix_risk="disruptive")
def evaluate(ctx):
    endpoints, gaps = endpoints_in_scope(ctx)
    yield from gaps
    # The whole list of each endpoint, even with -d: a share on any of its deployments counts.
    answers = deployment_lists(ctx, [name for name, _ in endpoints])
    for (_, endpoint), (deployments, error) in zip(endpoints, answers):
        yield _verdict(ctx, endpoint, deployments, error)


def _shares(raw):
    """{name: int} or None when the map is not one (non-integer shares are unreadable, not zero)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return None
    out = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            number = float(value)
        except ValueError:
            return None
        if number != int(number):
            return None
        out[str(name)] = int(number)
    return out


def _verdict(ctx, endpoint, deployments, error):
    name = text(endpoint.get("name"))
    eid = ctx.target.endpoint_id(name)
    if error is not None:
        return ctx.errored(eid, error)
    existing = {text(d.get("name")).lower(): d for d in deployments}
    traffic, mirror = _shares(props(endpoint).get("traffic")), _shares(props(endpoint).get("mirrorTraffic"))
    observed = {"traffic": props(endpoint).get("traffic"), "mirrorTraffic": props(endpoint).get("mirrorTraffic"),
                "deployments": sorted(text(d.get("name")) for d in existing.values())}
    if traffic is None or mirror is None:
        return ctx.errored(eid, f"endpoint {name}: the traffic map is not a map of deployment names to whole percents",
                           reason="unreadable", expected=EXPECTED, observed=observed)
    if not existing and not any(traffic.values()) and not any(mirror.values()):
        return ctx.skipped(eid, f"endpoint {name} has no deployments yet: there is no traffic to assign",
                           expected=EXPECTED, observed=observed)
    problems = _problems(traffic, mirror, existing)
    if not problems:
        shares = ", ".join(f"{k}={v}" for k, v in traffic.items() if v)
        return ctx.passed(eid, f"endpoint {name} routes its traffic to existing deployments ({shares})",
                          expected=EXPECTED, observed=observed)
    t = ctx.target
    base = command("az ml online-endpoint update -n {name} -g {group} -w {workspace}", name=name,
                   group=t.resource_group, workspace=t.workspace)
    changes = []
    if any(p.startswith("traffic") for p, _ in problems):
        changes.append(("--traffic", _suggested(traffic, existing)))
    mirror_fix = _mirror_fix(mirror, existing)
    if mirror_fix:
        changes.append(("--mirror-traffic", mirror_fix))
    # A `name=percent ...` value holds only plain names: another name could add or change a share.
    commands = [command("{base} {option} {shares}", base=base, option=option, shares=_spelled(shares))
                for option, shares in changes if all(isinstance(k, Placeholder) or is_map_key(k) for k, _ in shares)]
    unwritable = "" if len(commands) == len(changes) else (
        " (a deployment name here cannot be written into a --traffic value: set the shares in the studio or in the "
        "endpoint's YAML)")
    pick = _preferred(existing)
    header = (f"; or send each request with the header `{HEADER}: {pick}` to reach a deployment directly"
              if pick else "")
    return ctx.failed(eid, f"endpoint {name}: " + "; ".join(message for _, message in problems),
                      expected=EXPECTED, observed=observed,
                      details={"problems": [key for key, _ in problems]},
                      fix=("Assign the traffic to existing deployments" + header + unwritable, commands))


def _spelled(shares):
    """`blue=90 green=10`: the value of --traffic / --mirror-traffic (one shell word once quoted)."""
    return " ".join(f"{k}={v}" for k, v in shares)


def _problems(traffic, mirror, existing):
    problems = []
    missing = [k for k in traffic if k.lower() not in existing]
    if missing:
        problems.append(("traffic-names-missing-deployment",
                         f"traffic names {_names(missing)} (deleted?)"))
    if any(v < 0 for v in traffic.values()):
        problems.append(("traffic-negative-share", "traffic has a negative share"))
    live = [k for k, v in traffic.items() if v > 0 and k.lower() in existing]
    if not live:
        problems.append(("traffic-no-positive-share",
                         "no existing deployment has a share of the traffic: requests without the "
                         f"{HEADER} header cannot be routed"))
    total = sum(traffic.values())
    if total != 100 and traffic:
        problems.append(("traffic-sum-not-100", f"the shares sum to {total}, not 100"))
    mirror_missing = [k for k in mirror if k.lower() not in existing]
    if mirror_missing:
        problems.append(("mirror-names-missing-deployment", f"mirrored traffic names {_names(mirror_missing)}"))
    mirror_total = sum(mirror.values())
    if mirror_total > 50 or any(v < 0 for v in mirror.values()):
        problems.append(("mirror-above-50", f"mirrored traffic sums to {mirror_total}; at most 50 is allowed"))
    return problems


def _names(names):
    """`deployment green, which does not exist` / `deployments green, red, which do not exist`."""
    if len(names) == 1:
        return f"deployment {names[0]}, which does not exist"
    return f"deployments {', '.join(names)}, which do not exist"


def _preferred(existing):
    """A healthy deployment to route to: the first Succeeded one, else the first one."""
    ready = [text(d.get("name")) for d in existing.values() if provisioning_phase(d)[0] == "succeeded"]
    every = [text(d.get("name")) for d in existing.values()]
    return (ready or every or [""])[0]


def _suggested(traffic, existing):
    """The existing positive shares scaled to 100 (largest remainder), else 100 on a preferred deployment:
    [(name, percent), ...]."""
    kept = {k: v for k, v in traffic.items() if v > 0 and k.lower() in existing}
    if not kept:
        pick = _preferred(existing)
        return [(pick or Placeholder("deployment"), 100)]
    total = sum(kept.values())
    exact = {k: v * 100 / total for k, v in kept.items()}
    scaled = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - scaled[k], reverse=True)[: 100 - sum(scaled.values())]:
        scaled[k] += 1
    return list(scaled.items())


def _mirror_fix(mirror, existing):
    """Zero for mirrors to missing deployments; existing mirrors capped so that they sum to at most 50:
    [(name, percent), ...], empty when nothing needs to change."""
    changes = {k: 0 for k in mirror if k.lower() not in existing}
    kept = {k: max(0, v) for k, v in mirror.items() if k.lower() in existing}
    if sum(kept.values()) > 50 or any(v < 0 for v in mirror.values()):
        budget = 50
        for k, v in kept.items():
            changes[k] = min(v, budget)
            budget -= changes[k]
    return list(changes.items())

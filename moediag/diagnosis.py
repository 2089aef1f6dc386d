"""From a list of findings to a diagnosis: which root cause breaks which path, and one plan to fix it.

A pure function of the report's results and what checks declare about themselves:

- `explained_by`: the checks whose failures explain this check's findings (a missing zone record explains the
  scoring host not resolving). A `Cause` may carry a condition on the finding it explains (a closed Key Vault
  explains a deployment log about secrets, not one about a missing Python module). A check skipped because
  its prerequisite failed (`depends_on`) is explained by that prerequisite's failure.
- `hops`: where on a path the check's findings sit (`scoring:zone-record`, `deployment:key-vault`).
- the fix risk of its findings (`safe`, `disruptive`, `destructive`), on the check or on one result's fix.

Links only join results of the same workspace, and a finding about one endpoint (or deployment) only explains
findings about that endpoint (or deployment) or the workspace. A result with nothing explaining it is a root
cause (failures only); the plan fixes root causes only, once each, causes before what they explain, and every
consequence points at the step that repairs it. Paths, like a network path analyser's: ordered hops from the
client (or the deployment's needs), each with its status and the results it rests on, the first failing hop
named; a hop nothing looked at says what was assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

RISKS = ("safe", "disruptive", "destructive")

# The hops of each path, in order: a scoring request from the client's resolver to the deployment's container,
# and what a deployment needs, from the isolation mode to its container starting.
PATHS = {
    "scoring": ("client-resolver", "private-name", "zone-record", "zone-link", "client-network",
                "private-endpoint-subnet", "private-endpoint", "public-access", "endpoint"),
    "deployment": ("isolation-mode", "outbound-network", "registry", "storage", "key-vault", "image-build",
                   "provisioning", "container-start"),
}
HOP_TEXT = {
    "client-resolver": "the client's resolver answers the scoring host",
    "private-name": "the scoring host is a CNAME to its privatelink name",
    "zone-record": "the private DNS zone holds the workspace's inference record",
    "zone-link": "the zone is linked to the client's VNet",
    "client-network": "the client VNets' DNS answers privately and a peering carries their traffic to the private endpoint",
    "private-endpoint-subnet": "the private endpoint's subnet lets TCP 443 from the clients reach it (NSG, routes)",
    "private-endpoint": "the workspace private endpoint is approved and usable",
    "public-access": "the endpoint's inbound access matches the workspace's isolation",
    "endpoint": "the endpoint is provisioned and sends traffic to deployments that exist",
    "isolation-mode": "the deployment uses one outbound isolation method",
    "outbound-network": "the outbound network (managed VNet or legacy egress) is ready",
    "registry": "images can be pulled from the workspace registry",
    "storage": "the model and code can be read from storage",
    "key-vault": "secrets can be read from the workspace Key Vault",
    "image-build": "images can be built",
    "provisioning": "the deployment provisioned",
    "container-start": "the containers started without a known failure",
}
# The order fixes are applied in, by the hop a root cause sits on: the workspace's own network first (v1 legacy
# mode, its private endpoint, DNS), then what deployments need, then the endpoint and its deployments themselves
# (recreated or updated last, once what they depend on is right).
FIX_ORDER = ("isolation-mode", "private-endpoint", "private-endpoint-subnet", "zone-record", "zone-link",
             "client-network", "client-resolver", "private-name", "public-access", "outbound-network", "registry",
             "storage", "key-vault", "image-build", "endpoint", "provisioning", "container-start")
_WORST = ("fail", "error", "warn", "pass", "skip")  # a skip says less than a pass, not something worse
LINKED = ("fail", "warn")  # findings that can have a cause (besides skips whose prerequisite failed)


@dataclass(frozen=True)
class Cause:
    """`check_id`'s failures explain a finding, when `when(finding)` holds (any finding, without a condition)."""

    check_id: str
    when: Callable[[dict[str, Any]], bool] | None = None

    def explains(self, finding: dict[str, Any]) -> bool:
        return self.when is None or bool(self.when(finding))


@dataclass(frozen=True)
class Meta:
    """What the diagnosis needs to know of a check."""

    explained_by: tuple[Cause, ...] = ()
    depends_on: tuple[str, ...] = ()
    hops: tuple[str, ...] = ()
    risk: str = "safe"
    severity: str = "medium"


def meta_of(checks: Iterable[Any]) -> dict[str, Meta]:
    """Meta for each registered Check."""
    return {c.id: Meta(tuple(c.explained_by), tuple(c.depends_on), tuple(c.hops), c.fix_risk, c.severity)
            for c in checks}


def result_id(result: dict[str, Any]) -> str:
    """A result's id before de-duplication: its check and the resource it is about."""
    return f"{result['check_id']}@{result.get('resource_id') or result.get('workspace') or '-'}"


def assign_ids(results: list[dict[str, Any]]) -> None:
    """Give every result an `id`, unique within the report and stable across runs of the same evidence."""
    seen: dict[str, int] = {}
    for result in results:
        base = result_id(result)
        seen[base] = seen.get(base, 0) + 1
        result["id"] = base if seen[base] == 1 else f"{base}#{seen[base]}"


def _scope(result: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(workspace, endpoint, deployment) a result is about; endpoint and deployment None when it is wider."""
    rid = str(result.get("resource_id") or "")
    parts = rid.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    endpoint = deployment = None
    if "onlineendpoints" in lowered:
        i = lowered.index("onlineendpoints")
        endpoint = lowered[i + 1] if i + 1 < len(lowered) else None
        if "deployments" in lowered[i:]:
            j = lowered.index("deployments", i)
            deployment = lowered[j + 1] if j + 1 < len(lowered) else None
    return str(result.get("workspace") or "").lower(), endpoint, deployment


def _covers(cause: dict[str, Any], finding: dict[str, Any]) -> bool:
    """A cause about the workspace covers every finding of that workspace; one about an endpoint (deployment)
    covers findings about that endpoint (deployment) only."""
    cw, ce, cd = _scope(cause)
    fw, fe, fd = _scope(finding)
    if cw != fw:
        return False
    if ce is not None and ce != fe:
        return False
    return cd is None or cd == fd


def _check_order(meta: dict[str, Meta]) -> list[str]:
    """Check ids, every cause before what it explains (a topological order; a cycle's back edge is ignored)."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(cid: str) -> None:
        if state.get(cid) == 2:
            return
        if state.get(cid) == 1:
            return  # a cycle: the edge back is dropped, so links can never form a loop
        state[cid] = 1
        m = meta.get(cid, Meta())
        for cause in sorted({c.check_id for c in m.explained_by} | set(m.depends_on)):
            if cause in meta:
                visit(cause)
        state[cid] = 2
        order.append(cid)

    for cid in sorted(meta):
        visit(cid)
    return order


def link(results: list[dict[str, Any]], meta: dict[str, Meta]) -> None:
    """Fill each result's `caused_by` with the ids of the failures that explain it."""
    rank = {cid: i for i, cid in enumerate(_check_order(meta))}
    failing: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        if result["status"] == "fail":
            failing.setdefault(result["check_id"], []).append(result)
    for result in results:
        result["caused_by"] = []
        m = meta.get(result["check_id"])
        if m is None:
            continue
        mine = rank.get(result["check_id"], -1)
        causes: list[str] = []
        if result["status"] in LINKED:
            causes += [c.check_id for c in m.explained_by if c.explains(result)]
        if result["status"] == "skip" and result.get("reason") == "dependency_failed":
            causes += list(m.depends_on)
        for cid in dict.fromkeys(causes):
            if rank.get(cid, len(rank)) >= mine:
                continue  # only causes that come earlier: no loops, whatever plug-ins declare
            result["caused_by"] += [c["id"] for c in failing.get(cid, []) if _covers(c, result) and c is not result]


def diagnose(results: list[dict[str, Any]], meta: dict[str, Meta], endpoints: dict[str, list[tuple[str, list[str]]]]
             ) -> dict[str, Any]:
    """The report's `diagnosis` block (ids and links must be assigned first).

    `endpoints`: per workspace id (lower case, '' for a single-workspace report), its endpoints and their
    deployments: [(endpoint, [deployment, ...]), ...].
    """
    by_id = {r["id"]: r for r in results}
    rank = {cid: i for i, cid in enumerate(_check_order(meta))}
    severity = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    roots = [r for r in results if r["status"] == "fail" and not r["caused_by"]]

    def fix_position(result: dict[str, Any]) -> int:
        hops = [h.partition(":")[2] for h in meta.get(result["check_id"], Meta()).hops]
        return min((FIX_ORDER.index(h) for h in hops if h in FIX_ORDER), default=len(FIX_ORDER))

    roots.sort(key=lambda r: (fix_position(r), rank.get(r["check_id"], len(rank)),
                              severity.get(meta.get(r["check_id"], Meta()).severity, 9), r["id"]))
    plan = _plan(roots, results, by_id, meta)
    return {"root_causes": [r["id"] for r in roots], "paths": _paths(results, meta, endpoints), "plan": plan}


def _explains(results: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Cause id -> the ids of the results it directly explains (the reverse of caused_by), in report order."""
    out: dict[str, list[str]] = {}
    for r in results:
        for cause in r.get("caused_by") or ():
            out.setdefault(cause, []).append(r["id"])
    return out


def _consequences(root_id: str, explains: dict[str, list[str]], order: dict[str, int]) -> list[str]:
    """Every result that `root_id` explains, directly or through others, in report order."""
    reached, todo = set(), list(explains.get(root_id, ()))
    while todo:
        rid = todo.pop()
        if rid not in reached and rid != root_id:
            reached.add(rid)
            todo += explains.get(rid, ())
    return sorted(reached, key=order.__getitem__)


def _plan(roots: list[dict[str, Any]], results: list[dict[str, Any]], by_id: dict[str, dict[str, Any]],
          meta: dict[str, Meta]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    index: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    explains, order = _explains(results), {r["id"]: i for i, r in enumerate(results)}
    for root in roots:
        fix = root.get("fix") or {}
        commands = tuple(fix.get("commands") or ())
        key = (str(fix.get("summary") or ""), commands)
        risk = fix.get("risk") or meta.get(root["check_id"], Meta()).risk
        fixed = [root["id"], *_consequences(root["id"], explains, order)]
        step = index.get(key)
        if step is None:  # the same fix for two root causes (one zone record for two endpoints) is one step
            step = index[key] = {"results": [], "summary": key[0], "commands": list(commands), "risk": risk}
            steps.append(step)
        elif RISKS.index(risk) > RISKS.index(step["risk"]):
            step["risk"] = risk
        step["results"] += [i for i in fixed if i not in step["results"]]
    for number, step in enumerate(steps, 1):
        step["step"] = number
    return steps


def roots_of(result: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The root causes `result` leads to through `caused_by` (for renderers: "caused by ..."), in link order."""
    roots, todo, seen = [], list(result.get("caused_by") or ()), set()
    while todo:
        rid = todo.pop(0)
        if rid in seen or rid not in by_id:
            continue
        seen.add(rid)
        cause = by_id[rid]
        if cause.get("caused_by"):
            todo += cause["caused_by"]
        else:
            roots.append(cause)
    return roots


def step_of(report: dict[str, Any]) -> dict[str, int]:
    """Result id -> the plan step that fixes it (for renderers: "fixed by step N")."""
    plan = (report.get("diagnosis") or {}).get("plan") or []
    return {rid: step["step"] for step in plan for rid in step["results"]}


def _paths(results: list[dict[str, Any]], meta: dict[str, Meta],
           endpoints: dict[str, list[tuple[str, list[str]]]]) -> list[dict[str, Any]]:
    # Results indexed once by (workspace, path:hop, endpoint) (None: about the whole workspace): a fleet has
    # thousands of results and hundreds of paths, and a path reads only its own endpoint's and the workspace's.
    on_hop: dict[tuple[str, str, str | None], list[tuple[str | None, dict[str, Any]]]] = {}
    for r in results:
        hops = meta.get(r["check_id"], Meta()).hops
        if hops:
            workspace, endpoint, deployment = _scope(r)
            for hop in hops:
                on_hop.setdefault((workspace, hop, endpoint), []).append((deployment, r))
    roots = {r["id"] for r in results if r["status"] == "fail" and not r.get("caused_by")}
    paths = []
    for workspace, eps in endpoints.items():
        for endpoint, deployments in eps:
            paths.append(_path(on_hop, roots, workspace, "scoring", endpoint, None))
            paths += [_path(on_hop, roots, workspace, "deployment", endpoint, d) for d in deployments]
    return paths


def _path(on_hop: dict[tuple[str, str, str | None], list[tuple[str | None, dict[str, Any]]]], roots: set[str],
          workspace: str, kind: str, endpoint: str, deployment: str | None) -> dict[str, Any]:
    pe, pd = endpoint.lower(), deployment.lower() if deployment else None
    hops = []
    for hop in PATHS[kind]:
        key = f"{kind}:{hop}"
        candidates = on_hop.get((workspace, key, None), []) + on_hop.get((workspace, key, pe), [])
        mine = [r for rd, r in candidates if rd is None or pd is None or rd == pd]
        statuses = [r["status"] for r in mine]
        status = next((s for s in _WORST if s in statuses), "unknown")
        entry: dict[str, Any] = {"name": hop, "status": status, "results": [r["id"] for r in mine]}
        if status in ("unknown", "skip", "error"):
            entry["assumed"] = f"not verified: assumed that {HOP_TEXT.get(hop, hop)}"
        hops.append(entry)
    # The hop that blocks is where a root cause sits (a scoring host that does not resolve is a symptom of the
    # record the zone lacks); without a root cause on the path, the first failing hop.
    blocked = next((h["name"] for h in hops if h["status"] == "fail" and roots.intersection(h["results"])),
                   next((h["name"] for h in hops if h["status"] == "fail"), None))
    path: dict[str, Any] = {"endpoint": endpoint, "deployment": deployment, "kind": kind, "hops": hops,
                            "blocked_at": blocked}
    if workspace:
        path["workspace"] = workspace
    return path

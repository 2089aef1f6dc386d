"""How a run reads, and the run itself: `check` and `scan` both end in `run()` (moediag.engine underneath).

A *source* is what collectors read from: live (one `Arm` pipeline, one resolver, one memo of shared facts for
every target of the run) or a snapshot (no network at all). `check()` is what `moediag check` runs between parsing
its flags and writing its outputs; the MCP server's `check_workspace` tool runs the same (moediag.mcp_server).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moediag import snapshot as snapshots
from moediag.engine import TOKEN_ENV, Budget, Plan, TargetRun, not_evaluated, run_targets
from moediag.errors import FactError
from moediag.target import Options, Target


@dataclass(frozen=True)
class CheckRequest:
    """What a check of one workspace is asked: the flags of `moediag check`, or the arguments of the MCP tool.

    Values are as given (None: the default, from the environment or `az`); `check()` validates them with
    moediag.arguments and moediag.target, one UsageError line for the first that is wrong. `checks` are selected
    already (registry.select).
    """

    checks: list
    subscription: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    endpoints: tuple[str, ...] = ()
    deployment: str | None = None
    timeout: float = 60.0
    total_timeout: float | None = None  # as --timeout for a check: its one workspace starts with the run
    max_concurrency: int = 16
    arm_endpoint: str | None = None
    dns_servers: tuple[str, ...] = ()
    client_vnets: tuple[str, ...] = ()  # --client-vnet and moediag.toml's client_vnets (live reads only)
    azure_dns: str | None = None
    logs: str = "auto"
    include_diagnose: bool = False
    snapshot_path: str | None = None
    save_snapshot: bool = False
    cloud: str | None = None
    arm_rate: str | None = None  # --arm-rate BURST/PER_SECOND (else MOEDIAG_ARM_RATE, else 250/25)


@dataclass
class RunResult:
    report: dict[str, Any]
    snapshot: dict[str, Any] | None = None


def credential(cloud: Any = None) -> Any:
    """MOEDIAG_ACCESS_TOKEN, else azure-identity's chain signing in at the cloud's authority (`cloud`: a
    moediag.clouds.Cloud; default the public cloud)."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        from moediag.arm import StaticTokenCredential

        return StaticTokenCredential(token.strip())
    from azure.identity import DefaultAzureCredential

    from moediag import clouds

    return DefaultAzureCredential(exclude_interactive_browser_credential=True,
                                  authority=(cloud or clouds.PUBLIC).authority)


def live_arm(budget: Budget, arm_endpoint: str, subscription_id: str, max_concurrency: int,
             max_per_subscription: int | None = None, cloud_name: str | None = None,
             arm_rate: tuple[int, float] | None = None, on_pacing: Callable[[str | None], None] | None = None):
    """The run's one door to Resource Manager (at `arm_endpoint`, from arguments.arm_endpoint; its timeouts and
    deadline from the budget).

    Reads end a little before a deadline (`Budget.read_margin_s`), so a read cut short says why (throttled for an
    hour, a body still arriving) before the checks waiting on it are given up: no request starts after that, a
    Retry-After beyond it is not waited for, a body still arriving at it is cut. The Arm itself ends every read at
    the `--total-timeout` when there is one; each target's collector reads through `Arm.within` its own deadline
    (`Source.collector`), and the Resource Graph inventory within its own (`moediag.scan`). The token is asked
    for the run's cloud (`cloud_name`), wherever --arm-endpoint sends the requests.

    `arm_rate`: each subscription's read budget (burst, per second; default Resource Manager's documented one),
    kept by pacing every request of the run; `on_pacing` hears when the run paces (the progress line).
    """
    from moediag import clouds
    from moediag.arm import ARM_RATE, Arm

    cloud = clouds.named(cloud_name or clouds.DEFAULT)
    return Arm(credential(cloud), subscription_id, arm_endpoint, scope=cloud.credential_scope,
               request_timeout=budget.request_timeout_s,
               retry_budget_s=budget.retry_budget_s, max_concurrency=max_concurrency,
               max_per_subscription=max_per_subscription, deadline=budget.run_read_deadline,
               arm_rate=arm_rate or ARM_RATE, on_pacing=on_pacing)


def live_resolver(options: Options, budget: Budget, max_concurrency: int):
    """DNS queries in flight are bounded like Resource Manager's requests, but on their own budget (another
    service, no ARM throttling), so 200 scoring hosts do not queue behind 200 deployment lists. The servers were
    checked at the edge (arguments.dns_servers)."""
    from moediag.resolver import Resolver

    return Resolver(options.dns_servers, timeout_s=budget.dns_timeout_s,
                    limiter=threading.BoundedSemaphore(max(1, max_concurrency)))


@dataclass
class Source:
    """Where the collectors of a run read: a live Arm + resolver (+ the shared memo), or snapshot facts."""

    options: Options
    arm: Any = None
    dns: Any = None
    facts: dict[str, Any] | None = None
    workers: int = 8
    shared: Any = None
    read_margin_s: float = 0.5  # reads end this long before a target's deadline (Budget.read_margin_s)
    target_facts: dict[str, dict[str, Any]] | None = None  # a scan snapshot: each workspace's own (by lower-cased id)

    def collector(self, target: Target, deadline: float):
        """The collector of one target, reading until `deadline` (its budget, from when it started)."""
        from collections import ChainMap

        from moediag.collector import Collector

        if self.facts is not None:  # a replay waits on nothing: a few workers, not one per request in flight
            facts = self.facts if self.target_facts is None else ChainMap(
                self.target_facts.get(target.workspace_id.lower(), {}), self.facts)  # its own, then the shared ones
            return Collector(target, self.options, snapshot=facts, deadline=deadline, workers=4)
        return Collector(target, self.options, arm=self.arm.within(deadline - self.read_margin_s), dns=self.dns,
                         workers=self.workers, deadline=deadline, shared=self.shared)

    def close(self) -> None:
        if self.arm is not None:
            self.arm.close()

    def notes(self) -> list[str]:
        """What the reading itself met, for the report (the pacing and the 429s of the run)."""
        note = self.arm.rate.note() if self.arm is not None else None
        return [note] if note else []


def live_source(options: Options, budget: Budget, arm_endpoint: str, subscription_id: str,
                max_concurrency: int, *, max_per_subscription: int | None = None, workers: int | None = None,
                fleet: bool = False, arm_rate: tuple[int, float] | None = None,
                on_pacing: Callable[[str | None], None] | None = None) -> Source:
    """A live source; a `fleet` one shares one memo of `shared` facts between its targets' collectors."""
    from moediag.collector import SharedFacts

    arm = live_arm(budget, arm_endpoint, subscription_id, max_concurrency, max_per_subscription, options.cloud,
                   arm_rate, on_pacing)
    return Source(options, arm=arm, dns=live_resolver(options, budget, max_concurrency),
                  workers=workers or max(8, max_concurrency * 4), shared=SharedFacts() if fleet else None,
                  read_margin_s=budget.read_margin_s)


def replay_source(snapshot: dict[str, Any], timeout_s: float) -> tuple[Target, Source]:
    """The target and the source of a saved snapshot (its collection options, this run's timeout)."""
    target = Target.from_json(snapshot["target"])
    return target, Source(stored_options(snapshot, timeout_s), facts=snapshot["facts"])


def stored_options(snapshot: dict[str, Any], timeout_s: float) -> Options:
    """The collection options a snapshot was taken with, and this run's timeout."""
    stored = snapshot.get("options") or {}
    return Options(dns_servers=tuple(stored.get("dns_servers") or ()), azure_dns=stored.get("azure_dns"),
                   client_vnets=tuple(stored.get("client_vnets") or ()),
                   logs=stored.get("logs", "auto"), include_diagnose=bool(stored.get("include_diagnose")),
                   timeout_s=timeout_s,
                   cloud=stored.get("cloud") or Options.cloud)  # snapshots from before --cloud: public-cloud reads


def options_json(options: Options) -> dict[str, Any]:
    return {"dns_servers": list(options.dns_servers), "client_vnets": list(options.client_vnets),
            "azure_dns": options.azure_dns, "logs": options.logs, "include_diagnose": options.include_diagnose,
            "cloud": options.cloud}


def run(kind: str, checks: list, runs: list[TargetRun], source: Source, budget: Budget, *, mode: str = "live",
        parallel: int = 1, save_snapshot: bool = False, progress: Callable[[list[str]], None] | None = None,
        on_done: Callable[[TargetRun], None] | None = None, **blocks: Any) -> RunResult:
    """Run `checks` on every target and build the report (`kind` check: exactly one target, strict about it)."""
    from moediag.report import build_report

    plan = Plan(checks, source.collector, budget, parallel=parallel, strict=kind == "check",
                budget_per_target=kind == "scan", record=save_snapshot, progress=progress, on_done=on_done)
    try:
        interrupted = run_targets(plan, runs)
    finally:
        source.close()
    notes = [*(blocks.pop("notes", None) or []), *source.notes()]
    skipped = not_evaluated(runs)
    if skipped:
        notes.append(f"{len(skipped)} workspace(s) not evaluated, the --total-timeout passed before their turn: "
                     + ", ".join(run.label for run in skipped))
    report = build_report(kind, runs, mode=mode, interrupted=interrupted, notes=notes, cloud=source.options.cloud,
                          **blocks)
    report["duration_ms"] = int((time.monotonic() - budget.started) * 1000)
    snap = None
    if save_snapshot and kind == "check":
        [one] = runs
        snap = snapshots.build(one.target.to_json(), options_json(source.options), one.recorded or {})
    return RunResult(report, snap)


def check(request: CheckRequest, progress: Callable[[list[str]], None] | None = None,
          on_pacing: Callable[[str | None], None] | None = None) -> RunResult:
    """One workspace, read live or replayed from `request.snapshot_path`: the report (not yet finished by
    `for_output`) and, when asked, the snapshot. UsageError for input that is wrong, TargetUnreadable for a
    workspace that cannot be read at all. `on_pacing` hears the pacing line (see live_arm)."""
    from moediag import arguments
    from moediag.target import resolve_target

    budget = Budget(request.timeout, request.total_timeout)
    if request.snapshot_path:
        arguments.no_client_vnets_with_snapshot(request.client_vnets)
        data = snapshots.load(request.snapshot_path)
        arguments.same_target(data["target"], request.subscription, request.resource_group, request.workspace)
        arguments.snapshot_cloud(data.get("options") or {}, request.cloud)
        target, source = replay_source(data, request.timeout)
        mode = "snapshot"
    else:
        target = resolve_target(request.subscription, request.resource_group, request.workspace,
                                tuple(request.endpoints), request.deployment)
        cloud = arguments.cloud(request.cloud, request.arm_endpoint)
        options = Options(dns_servers=arguments.dns_servers(tuple(request.dns_servers)),
                          client_vnets=arguments.client_vnets(tuple(request.client_vnets)),
                          azure_dns=arguments.azure_dns(request.azure_dns), timeout_s=request.timeout,
                          logs=request.logs, include_diagnose=request.include_diagnose, cloud=cloud)
        source = live_source(options, budget, arguments.arm_endpoint(request.arm_endpoint, cloud),
                             target.subscription_id, request.max_concurrency,
                             arm_rate=arguments.arm_rate(request.arm_rate), on_pacing=on_pacing)
        mode = "live"
    return run("check", request.checks, [TargetRun(target)], source, budget, mode=mode,
               save_snapshot=request.save_snapshot, progress=progress)


def for_output(report: dict[str, Any], snapshot: dict[str, Any] | None, suppressions: list,
               redactor: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """After the checks ran and before anything leaves moediag (a file, stdout, an MCP reply): suppressions, then
    redaction (once, for every output)."""
    from moediag import suppress
    from moediag.report import finish

    report = finish(suppress.apply(report, suppressions))  # summaries recounted, ids, causes and the diagnosis
    if redactor is not None:
        report = redactor(report)
        snapshot = redactor(snapshot) if snapshot is not None else None
    return report, snapshot


def replay(snapshot: dict[str, Any], checks: list, timeout_s: float = 60.0) -> RunResult:
    """Run `checks` on a loaded snapshot, offline (what `check --snapshot` does, without the CLI around it)."""
    target, source = replay_source(snapshot, timeout_s)
    return run("check", checks, [TargetRun(target)], source, Budget(timeout_s), mode="snapshot")


__all__ = ["CheckRequest", "FactError", "RunResult", "Source", "check", "credential", "for_output", "live_source",
           "replay", "replay_source", "run"]

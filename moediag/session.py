"""How a run reads, and the run itself: `check` and `scan` both end in `run()` (moediag.engine underneath).

A *source* is what collectors read from: live (one `Arm` pipeline, one resolver, one memo of shared facts for
every target of the run) or a snapshot (no network at all).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moediag import snapshot as snapshots
from moediag.engine import TOKEN_ENV, Budget, Plan, TargetRun, run_targets
from moediag.errors import FactError
from moediag.target import Options, Target


@dataclass
class RunResult:
    report: dict[str, Any]
    snapshot: dict[str, Any] | None = None


def credential() -> Any:
    token = os.environ.get(TOKEN_ENV)
    if token:
        from moediag.arm import StaticTokenCredential

        return StaticTokenCredential(token.strip())
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def live_arm(budget: Budget, arm_endpoint: str, subscription_id: str, max_concurrency: int,
             max_per_subscription: int | None = None, arm_rate: tuple[int, float] | None = None,
             on_pacing: Callable[[str | None], None] | None = None):
    """The run's one door to Resource Manager (at `arm_endpoint`, from arguments.arm_endpoint; its timeouts and
    deadline from the budget).

    Reads end a little before the run's deadline (`Budget.read_deadline`), so a read cut short says why
    (throttled for an hour, a body still arriving) before the checks waiting on it are given up: no request
    starts after that, a Retry-After beyond it is not waited for, a body still arriving at it is cut. That bounds
    every read of the run, the first workspace read and the Resource Graph inventory included.

    `arm_rate`: each subscription's read budget (burst, per second; default Resource Manager's documented one),
    kept by pacing every request of the run; `on_pacing` hears when the run paces (the progress line).
    """
    from moediag.arm import ARM_RATE, Arm

    return Arm(credential(), subscription_id, arm_endpoint, request_timeout=budget.request_timeout_s,
               retry_budget_s=budget.retry_budget_s, max_concurrency=max_concurrency,
               max_per_subscription=max_per_subscription, deadline=budget.read_deadline,
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

    def collector(self, target: Target, deadline: float):
        from moediag.collector import Collector

        if self.facts is not None:  # a replay waits on nothing: a few workers, not one per request in flight
            return Collector(target, self.options, snapshot=self.facts, deadline=deadline, workers=4)
        return Collector(target, self.options, arm=self.arm, dns=self.dns, workers=self.workers, deadline=deadline,
                         shared=self.shared)

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

    arm = live_arm(budget, arm_endpoint, subscription_id, max_concurrency, max_per_subscription, arm_rate, on_pacing)
    return Source(options, arm=arm, dns=live_resolver(options, budget, max_concurrency),
                  workers=workers or max(8, max_concurrency * 4), shared=SharedFacts() if fleet else None)


def replay_source(snapshot: dict[str, Any], timeout_s: float) -> tuple[Target, Source]:
    """The target and the source of a saved snapshot (its collection options, this run's timeout)."""
    target = Target.from_json(snapshot["target"])
    stored = snapshot.get("options") or {}
    options = Options(
        dns_servers=tuple(stored.get("dns_servers") or ()),
        azure_dns=stored.get("azure_dns"),
        logs=stored.get("logs", "auto"),
        include_diagnose=bool(stored.get("include_diagnose")),
        timeout_s=timeout_s,
    )
    return target, Source(options, facts=snapshot["facts"])


def options_json(options: Options) -> dict[str, Any]:
    return {"dns_servers": list(options.dns_servers), "azure_dns": options.azure_dns, "logs": options.logs,
            "include_diagnose": options.include_diagnose}


def run(kind: str, checks: list, runs: list[TargetRun], source: Source, budget: Budget, *, mode: str = "live",
        parallel: int = 1, save_snapshot: bool = False, progress: Callable[[list[str]], None] | None = None,
        on_done: Callable[[TargetRun], None] | None = None, **blocks: Any) -> RunResult:
    """Run `checks` on every target and build the report (`kind` check: exactly one target, strict about it)."""
    from moediag.report import build_report

    plan = Plan(checks, source.collector, budget, parallel=parallel, strict=kind == "check", record=save_snapshot,
                progress=progress, on_done=on_done)
    try:
        interrupted = run_targets(plan, runs)
    finally:
        source.close()
    notes = [*(blocks.pop("notes", None) or []), *source.notes()]
    report = build_report(kind, runs, mode=mode, interrupted=interrupted, notes=notes, **blocks)
    report["duration_ms"] = int((time.monotonic() - budget.started) * 1000)
    snap = None
    if save_snapshot and kind == "check":
        [one] = runs
        snap = snapshots.build(one.target.to_json(), options_json(source.options), one.recorded or {})
    return RunResult(report, snap)


def replay(snapshot: dict[str, Any], checks: list, timeout_s: float = 60.0) -> RunResult:
    """Run `checks` on a loaded snapshot, offline (what `check --snapshot` does, without the CLI around it)."""
    target, source = replay_source(snapshot, timeout_s)
    return run("check", checks, [TargetRun(target)], source, Budget(timeout_s), mode="snapshot")


__all__ = ["FactError", "RunResult", "Source", "credential", "live_source", "replay", "replay_source", "run"]

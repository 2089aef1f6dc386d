"""One `moediag check` run: build the collector (live or replayed), run the checks, build the report."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from moediag import snapshot as snapshots
from moediag.errors import FactError, TargetUnreadable, UsageError
from moediag.target import Options, Target

ARM_ENDPOINT_ENV = "MOEDIAG_ARM_ENDPOINT"
TOKEN_ENV = "MOEDIAG_ACCESS_TOKEN"


@dataclass
class RunResult:
    report: dict[str, Any]
    snapshot: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def credential() -> Any:
    token = os.environ.get(TOKEN_ENV)
    if token:
        from moediag.arm import StaticTokenCredential

        return StaticTokenCredential(token.strip())
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def live_arm(options: Options, arm_endpoint: str | None, subscription_id: str, max_concurrency: int,
             max_per_subscription: int | None = None, deadline: float | None = None):
    """The run's one door to Resource Manager (its endpoint validated, timeouts derived from --timeout).

    `deadline` (a `time.monotonic()` instant; default: --timeout from now) is the run's. Reads end a little
    before it (`read_margin_s`), so a read cut short says why (throttled for an hour, a body still arriving)
    before the checks waiting on it are given up: no request starts after that, a Retry-After beyond it is not
    waited for, a body still arriving at it is cut. That bounds every read of the run, the first workspace
    read and the Resource Graph inventory included.
    """
    from moediag.arm import PUBLIC_ARM, Arm, origin_of

    endpoint = arm_endpoint or os.environ.get(ARM_ENDPOINT_ENV) or PUBLIC_ARM
    if not endpoint.startswith("https://") or origin_of(endpoint) is None:
        raise UsageError(f"--arm-endpoint must be an https:// URL, not {endpoint!r}")
    request_timeout = max(1.0, min(20.0, options.timeout_s / 2))
    if deadline is None:
        deadline = time.monotonic() + options.timeout_s
    return Arm(credential(), subscription_id, endpoint, request_timeout=request_timeout,
               retry_budget_s=max(1.0, options.timeout_s * 0.6), max_concurrency=max_concurrency,
               max_per_subscription=max_per_subscription, deadline=deadline - read_margin_s(options.timeout_s))


def read_margin_s(timeout_s: float) -> float:
    """How long before the run's deadline Resource Manager reads end: half a second, less for a short run."""
    return min(0.5, max(0.0, timeout_s) * 0.1)


def live_resolver(options: Options, limiter: Any = None):
    from moediag.resolver import Resolver

    try:
        return Resolver(options.dns_servers, timeout_s=min(5.0, options.timeout_s / 3), limiter=limiter)
    except ValueError as exc:
        raise UsageError(f"bad --dns-server: {exc}") from exc


def live_collector(target: Target, options: Options, arm_endpoint: str | None, max_concurrency: int):
    from moediag.collector import Collector

    deadline = time.monotonic() + options.timeout_s  # one deadline for the reads and the checks waiting on them
    arm = live_arm(options, arm_endpoint, target.subscription_id, max_concurrency, deadline=deadline)
    return Collector(target, options, arm=arm, dns=live_resolver(options, dns_limit(max_concurrency)),
                     workers=max(8, max_concurrency * 4), deadline=deadline)


def dns_limit(max_concurrency: int) -> threading.BoundedSemaphore:
    """DNS queries in flight: bounded like Resource Manager's requests, but on their own budget (another
    service, no ARM throttling), so 200 scoring hosts do not queue behind 200 deployment lists."""
    return threading.BoundedSemaphore(max(1, max_concurrency))


def replay_collector(snapshot: dict[str, Any], timeout_s: float):
    from moediag.collector import Collector

    target = Target.from_json(snapshot["target"])
    stored = snapshot.get("options") or {}
    options = Options(
        dns_servers=tuple(stored.get("dns_servers") or ()),
        azure_dns=stored.get("azure_dns"),
        logs=stored.get("logs", "auto"),
        include_diagnose=bool(stored.get("include_diagnose")),
        timeout_s=timeout_s,
    )
    return Collector(target, options, snapshot=snapshot["facts"])


def options_json(options: Options) -> dict[str, Any]:
    return {"dns_servers": list(options.dns_servers), "azure_dns": options.azure_dns, "logs": options.logs,
            "include_diagnose": options.include_diagnose}


def stop_if_target_unreadable(collector) -> None:
    """Wait for the workspace alone (every chain of reads starts there anyway); exit 2 if it cannot be read.

    The endpoint list is prefetched alongside, so checks start after one round trip, not two.
    """
    collector.prefetch([("workspace",), ("online_endpoints",)])
    _, error = collector.try_get("workspace")
    target = collector.target
    if error is None or error.kind not in ("not_found", "unauthorized", "not_in_snapshot"):
        return
    if error.kind == "not_found":
        raise TargetUnreadable(f"workspace {target.workspace!r} not found in resource group "
                               f"{target.resource_group!r} of subscription {target.subscription_id}")
    if error.kind == "unauthorized":
        raise TargetUnreadable(f"Azure refused the credentials ({error.message}); run `az login`, "
                               f"or set {TOKEN_ENV} to a token from `az account get-access-token`")
    raise TargetUnreadable(f"the snapshot has no workspace: {error.message}")


def endpoint_names_of(collector) -> list[str]:
    """The endpoint names for the report's target block; an endpoint named with -e that does not exist is exit 2."""
    target = collector.target
    endpoints, error = collector.try_get("online_endpoints")
    if error is not None:
        if error.kind == "not_found" and target.endpoints:
            raise TargetUnreadable(error.message)
        return list(target.endpoints)
    names = [e.get("name", "?") for e in endpoints if isinstance(e, dict)] if isinstance(endpoints, list) else []
    if target.deployment:
        ensure_deployment_exists(collector, names)
    return names


def ensure_deployment_exists(collector, endpoint_names: list[str]) -> None:
    """`-d NAME` that no endpoint has is a typo, not a finding: stop with exit 2 (when every list was read)."""
    target = collector.target
    answers = collector.gather([("deployments", name) for name in endpoint_names])
    if any(error is not None or not isinstance(value, list) for value, error in answers):
        return  # cannot tell: the checks report the unreadable lists
    wanted = target.deployment.lower()
    if any(isinstance(d, dict) and str(d.get("name", "")).lower() == wanted for value, _ in answers for d in value):
        return
    where = f"endpoints {', '.join(endpoint_names)}" if endpoint_names else "no online endpoints"
    raise TargetUnreadable(f"deployment {target.deployment!r} not found: workspace {target.workspace!r} has "
                           f"{where}, and none has a deployment of that name")


def load_error_results(collector) -> list:
    """Checks that could not even be loaded are errors of the run, not absent lines."""
    from moediag.model import Reason, Result, Status
    from moediag.registry import LOAD_ERRORS

    return [Result("moediag.load-error", Status.ERROR, message, reason=Reason.CRASHED, title="Checks could be loaded",
                   severity="high", docs="docs/checks/") for message in LOAD_ERRORS]


def run(checks: list, collector, *, mode: str, save_snapshot: bool,
        progress: Callable[[list[str]], None] | None = None) -> RunResult:
    from moediag.report import build_report
    from moediag.runner import run_checks

    started = time.monotonic()
    try:
        try:
            stop_if_target_unreadable(collector)
        except KeyboardInterrupt:  # before any check started: every check says it was interrupted
            collector.interrupted.set()
            outcome = run_checks(checks, collector, interrupted=True)
        else:
            outcome = run_checks(checks, collector, progress=progress)
        endpoint_names = endpoint_names_of(collector)
    finally:
        collector.close()
    report = build_report(collector.target.to_json(), load_error_results(collector) + outcome.results, mode=mode,
                          interrupted=outcome.interrupted, endpoints=endpoint_names)
    report["duration_ms"] = int((time.monotonic() - started) * 1000)
    snap = None
    if save_snapshot:
        snap = snapshots.build(collector.target.to_json(), options_json(collector.options), collector.recorded())
    return RunResult(report, snap)


__all__ = ["FactError", "RunResult", "credential", "live_collector", "replay_collector", "run"]

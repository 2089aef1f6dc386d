"""moediag's benchmark: wall time against the critical path, request economy, scale, start-up, memory.

    .venv/bin/python benchmarks/run.py            # the full table (about a minute)
    .venv/bin/python benchmarks/run.py --quick    # 20 endpoints only
    .venv/bin/python benchmarks/run.py --fleet    # only the fleet scan (3 subscriptions, 30 workspaces)

Everything runs on loopback: the ARM test bed (HTTPS) and the DNS test server, each answer delayed by
--delay seconds (default 0.1). moediag runs as a user runs it, in a subprocess; its peak RSS comes from
wait4(). The "serial" column runs the same checks with --max-concurrency 1 (one request at a time) in
the same session, so the gain is a ratio measured on the same machine minutes apart. The fleet case runs
`moediag scan` over 3 subscriptions, 30 workspaces and 150 endpoints sharing one private DNS zone, and reads the
peak in-flight requests per subscription from the test bed's log (the bound is --max-per-subscription).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from armbed import ArmTestBed, WorkspaceScenario, many_endpoints  # noqa: E402
from armbed.fleet import fleet, peak_in_flight_by_subscription  # noqa: E402
from dnsbed import DnsTestServer  # noqa: E402
from netguard import subprocess_env  # noqa: E402

EXAMPLE = ROOT / "examples" / "broken-workspace.snapshot.json"


@dataclass
class Measured:
    wall: float
    peak_rss_mb: float
    code: int
    requests: int
    duplicates: int
    max_in_flight: int


def pages(count: int, size: int | None) -> int:
    return 1 if not size or count <= size else math.ceil(count / size)


def critical_depth(s: WorkspaceScenario) -> int:
    """The longest chain of requests that must wait for one another in a run over scenario `s`.

    Workspace chain: workspace -> private endpoint -> (VNet | NIC), and workspace -> zone groups ->
    (record | links): 3. Endpoint chain: the endpoint list's pages one after another, then each
    endpoint's deployment pages, then the logs of unhealthy deployments (auto mode). DNS chain: the
    endpoint list, then the scoring host's resolution.
    """
    endpoint_pages = pages(len(s.endpoints), s.endpoints_page_size)
    deployment_pages = max((pages(len(e.deployments), s.deployments_page_size) for e in s.endpoints), default=1)
    unhealthy = any(d.provisioning_state != "Succeeded" for e in s.endpoints for d in e.deployments)
    return max(3, endpoint_pages + deployment_pages + int(unhealthy), endpoint_pages + 1)


def run_moediag(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "moediag", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1, 3):
        raise SystemExit(f"moediag failed ({proc.returncode}): {stderr}")
    return wall, usage.ru_maxrss / 1024, proc.returncode


def measure(scenario: WorkspaceScenario, delay: float, extra: list[str]) -> Measured:
    with ArmTestBed() as bed, DnsTestServer(latency=delay) as dns:
        scenario.install(bed)
        dns.set_records(scenario.dns_records())
        bed.latency = delay
        env = subprocess_env(dict(os.environ, **bed.env(), NO_COLOR="1"))
        args = ["check", "-s", scenario.subscription_id, "-g", scenario.resource_group, "-w", scenario.workspace,
                "--dns-server", dns.address, "-o", "json", "--timeout", "300", *extra]
        wall, rss, code = run_moediag(args, env)
        return Measured(wall, rss, code, len(bed.requests), len(bed.duplicates()), bed.max_in_flight)


def measure_fleet(delay: float, per_subscription: int = 8, concurrency: int = 16) -> dict:
    """One `moediag scan` of the acceptance-sized fleet (one shared zone missing 12 records)."""
    the_fleet = fleet(3, 10, 5, missing_records={(k, i) for k in range(3) for i in range(4)})
    with ArmTestBed() as bed, DnsTestServer(latency=delay) as dns:
        the_fleet.install(bed)
        dns.set_records(the_fleet.dns_records())
        bed.latency = delay
        env = subprocess_env(dict(os.environ, **bed.env(), NO_COLOR="1"))
        args = ["scan", *(a for sub in the_fleet.subscriptions for a in ("-s", sub)), "--dns-server", dns.address,
                "-o", "json", "--max-per-subscription", str(per_subscription), "--max-concurrency", str(concurrency)]
        wall, rss, _ = run_moediag(args, env)
        peaks = peak_in_flight_by_subscription(bed.requests)
        return {"wall": wall, "rss": rss, "requests": len(bed.requests), "duplicates": len(bed.duplicates()),
                "graph": bed.count("POST", "/providers/Microsoft.ResourceGraph/resources"),
                "in_flight": bed.max_in_flight, "per_subscription": max(peaks.values()), "bound": per_subscription,
                "concurrency": concurrency, "workspaces": len(the_fleet.scenarios), "endpoints": the_fleet.endpoints}


def print_fleet(delay: float) -> None:
    header = ("fleet", "requests", "graph", "dups", "wall s", "in-flight", "per-sub peak", "peak RSS MB")
    rows = []
    for per_subscription in (8, 2):
        m = measure_fleet(delay, per_subscription)
        rows.append((f"3 subs x 10 ws x 5 eps, --max-per-subscription {per_subscription}", m["requests"], m["graph"],
                     m["duplicates"], f"{m['wall']:.2f}", f"{m['in_flight']}/{m['concurrency']}",
                     f"{m['per_subscription']}/{m['bound']}", f"{m['rss']:.0f}"))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))


def median_of(repeat: int, run) -> Measured:
    """The run with the median wall time of `repeat` runs: one run on a shared 2-core machine is noise."""
    runs = sorted((run() for _ in range(max(1, repeat))), key=lambda m: m.wall)
    return runs[len(runs) // 2]


def startup(args: list[str], repeat: int = 5) -> float:
    env = dict(os.environ, NO_COLOR="1")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "moediag", *args], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added to every ARM and DNS answer")
    parser.add_argument("--quick", action="store_true", help="only the 20-endpoint scenario")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is shown")
    parser.add_argument("--fleet", action="store_true", help="only the fleet scan (3 subscriptions, 30 workspaces)")
    opts = parser.parse_args()
    if opts.fleet:
        print_fleet(opts.delay)
        return 0

    print(f"start-up (median of 5): --version {startup(['--version']):.3f} s · list {startup(['list']):.3f} s · "
          f"check --snapshot example {startup(['check', '--snapshot', str(EXAMPLE), '-o', 'json']):.3f} s")

    sizes = [20] if opts.quick else [20, 200]
    header = ("scenario", "requests", "dups", "depth", "bound s", "wall s", "wall/bound", "serial s", "gain",
              "in-flight", "peak RSS MB")
    rows = []
    walls = {}
    for count in sizes:
        scenario = many_endpoints(count=count, deployments_each=2, endpoints_page_size=100, deployments_page_size=10)
        floor = median_of(opts.repeat, lambda scenario=scenario: measure(scenario, 0.0, []))
        fast = median_of(opts.repeat, lambda scenario=scenario: measure(scenario, opts.delay, []))
        serial = measure(scenario, opts.delay, ["--max-concurrency", "1"])
        depth = critical_depth(scenario)
        bound = 1.5 * depth * opts.delay + floor.wall
        walls[count] = fast.wall
        rows.append((f"{count} endpoints x 2", fast.requests, fast.duplicates, depth, f"{bound:.2f}", f"{fast.wall:.2f}",
                     f"{fast.wall / bound:.2f}", f"{serial.wall:.2f}", f"{serial.wall / fast.wall:.1f}x",
                     fast.max_in_flight, f"{fast.peak_rss_mb:.0f}"))
        print(f"  {count} endpoints: start-up and loopback floor (no delay) {floor.wall:.2f} s", file=sys.stderr)

    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))
    if 200 in walls:
        print(f"scale: 200 endpoints took {walls[200] / walls[20]:.2f}x the time of 20 (target <= 3)")
    if not opts.quick:
        print_fleet(opts.delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""moediag's benchmark: wall time against the critical path, request economy, scale, start-up, memory.

    .venv/bin/python benchmarks/run.py            # the full table (about a minute)
    .venv/bin/python benchmarks/run.py --quick    # 20 endpoints only
    .venv/bin/python benchmarks/run.py --fleet    # only the fleet scan (3 subscriptions, 30 workspaces)
    .venv/bin/python benchmarks/run.py --fleet-throttled   # 300 workspaces, 10 subscriptions + a hub, throttled bed

Everything runs on loopback: the ARM test bed (HTTPS) and the DNS test server, each answer delayed by
--delay seconds (default 0.1). moediag runs as a user runs it, in a subprocess; its peak RSS comes from
wait4(). The "serial" column runs the same checks with --max-concurrency 1 (one request at a time) in
the same session, so the gain is a ratio measured on the same machine minutes apart. The fleet case runs
`moediag scan` over 3 subscriptions, 30 workspaces and 150 endpoints sharing one private DNS zone, and reads the
peak in-flight requests per subscription from the test bed's log (the bound is --max-per-subscription).

The throttled fleet case (`--fleet-throttled`) runs `moediag scan` over 300 workspaces in 10 subscriptions whose
private endpoints, VNet and zones are held in an 11th, hub subscription, each 10 workspaces sharing one Key Vault,
registry and storage account, against a bed that enforces a token bucket per subscription (429 + Retry-After when
empty) and Resource Graph's quota. It checks that every planted fault is found, counts the 429s and the shared
resources read twice, and compares the wall time with the least time the buckets allow: for each subscription,
its requests beyond the burst at the refill rate; the busiest subscription (the hub) bounds the scan. "reading" is the time from the first request Resource Manager
received to the last (wall time without start-up, the inventory's CPU, and building and writing the report).
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
from armbed.graph import PATH as GRAPH_PATH  # noqa: E402
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


# The planted faults of the throttled fleet: (subscription, workspace) indexes.
MISSING_RECORDS = {(k, 3) for k in range(10)} | {(0, 17), (5, 29)}  # the hub's zone lost these inference records
SHARED_KV_OPEN = (1, 10)  # this workspace's group of 10 shares a Key Vault without the trusted-services bypass
TRAFFIC_TO_DELETED, V1_LEGACY = (1, 6), (0, 7)


def throttled_fleet(subscriptions: int, workspaces: int, endpoints: int, share: int):
    acls = {"bypass": "None", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []}

    def deleted_green(s):
        endpoints = list(s.endpoints)
        endpoints[0].traffic = {"blue": 50, "green": 50}
        return s.replace(endpoints=endpoints)

    k, i = SHARED_KV_OPEN
    open_kv = {(k, j): (lambda s: s.replace(kv_network_acls=acls)) for j in range(i - i % share, i - i % share + share)}
    return fleet(subscriptions, workspaces, endpoints, hub=True, share=share, page_size=200,
                 missing_records={(k, i) for k, i in MISSING_RECORDS if k < subscriptions and i < workspaces},
                 overrides={**open_kv, TRAFFIC_TO_DELETED: deleted_green, V1_LEGACY: lambda s: s.replace(v1_legacy_mode=True)})


def planted(the_fleet) -> dict[str, set[str]]:
    """What the scan must find: failing resource ids per check."""
    subs = len(the_fleet.subscriptions)
    workspaces = len(the_fleet.scenarios) // subs
    at = [(k, i) for k, i in MISSING_RECORDS if k < subs and i < workspaces]
    missing = [the_fleet.scenario(k, i) for k, i in at]
    traffic, v1 = the_fleet.scenario(*TRAFFIC_TO_DELETED), the_fleet.scenario(*V1_LEGACY)
    return {"dns.inference-a-record": {s.inference_record_id for s in missing},
            "dns.scoring-resolution": {s.endpoint_id(e.name) for s in missing for e in s.endpoints},
            "keyvault.trusted-services-bypass": {the_fleet.scenario(*SHARED_KV_OPEN).key_vault_id},
            "endpoint.traffic-assignment": {traffic.endpoint_id(traffic.endpoints[0].name)},
            "workspace.v1-legacy-mode": {v1.workspace_arm_id}}


def measure_fleet_throttled(delay: float, burst: int, per_s: float, subscriptions: int = 10, workspaces: int = 30,
                            endpoints: int = 2, share: int = 10, arm_rate: str | None = None,
                            max_workspaces: int = 8) -> dict:
    """One `moediag scan` of the hub-held fleet against a bed that throttles like Resource Manager."""
    import json

    the_fleet = throttled_fleet(subscriptions, workspaces, endpoints, share)
    with ArmTestBed() as bed, DnsTestServer(latency=delay) as dns:
        the_fleet.install(bed)
        dns.set_records(the_fleet.dns_records())
        bed.latency = delay
        throttle = bed.throttle(burst, per_s)
        env = subprocess_env(dict(os.environ, **bed.env(), NO_COLOR="1"))
        rate = ["--arm-rate", arm_rate] if arm_rate else []
        args = ["scan", *(a for sub in the_fleet.subscriptions for a in ("-s", sub)), "--dns-server", dns.address,
                "-o", "json", "--timeout", "900", "--max-workspaces", str(max_workspaces), *rate]
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "moediag", *args], env=env, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - started
        if proc.returncode not in (0, 1, 3):
            raise SystemExit(f"moediag failed ({proc.returncode}): {proc.stderr}")
        report = json.loads(proc.stdout)
        found = {check: {r["resource_id"] for r in report["results"] if r["check_id"] == check and r["status"] == "fail"}
                 for check in {r["check_id"] for r in report["results"]}}
        found = {check: ids for check, ids in found.items() if ids}
        per_budget = {sub: throttle.admitted.get(sub, 0) + throttle.refused.get(sub, 0)
                      for sub in set(throttle.admitted) | set(throttle.refused)}
        arm_budgets = {sub: n for sub, n in per_budget.items() if sub != "graph"}
        bound = max(max(0.0, (n - burst) / per_s) for n in arm_budgets.values())
        hub = the_fleet.hub_subscription
        shared = {s.key_vault_id for s in the_fleet.scenarios} | {s.registry_id for s in the_fleet.scenarios} \
            | {s.storage_id for s in the_fleet.scenarios}
        times = [t for t, _, _ in throttle.log]
        return {"wall": wall, "bound": bound, "reading": max(times) - min(times), "requests": len(bed.requests), "throttled": len(bed.throttled()),
                "duplicates": len(bed.duplicates()), "shared": len(shared),
                "shared_reads": sum(bed.count("GET", rid) for rid in shared),
                "hub_requests": per_budget.get(hub, 0), "busiest_workload": max(n for sub, n in arm_budgets.items() if sub != hub),
                "graph": bed.count("POST", GRAPH_PATH), "workspaces": len(the_fleet.scenarios),
                "subscriptions": subscriptions, "all_found": found == planted(the_fleet), "found": found,
                "errors": report["summary"]["error"], "notes": report["notes"], "code": proc.returncode}


def print_fleet_throttled(delay: float, burst: int, per_s: float, small: bool = False, max_workspaces: int = 8,
                          told: bool = True) -> None:
    size = dict(subscriptions=2, workspaces=20) if small else {}
    m = measure_fleet_throttled(delay, burst, per_s, arm_rate=f"{burst}/{per_s:g}" if told else None,
                                max_workspaces=max_workspaces, **size)
    header = ("fleet (throttled bed)", "requests", "hub reqs", "429s", "dups", "shared read", "faults found", "bound s",
              "reading s", "wall s", "wall/bound")
    row = (f"{m['subscriptions']} subs + hub x {m['workspaces']} ws, bucket {burst}/{per_s:g}, "
           f"--max-workspaces {max_workspaces}" + ("" if told else ", moediag not told (default --arm-rate)"), m["requests"],
           m["hub_requests"], m["throttled"], m["duplicates"], f"{m['shared_reads']}/{m['shared']}",
           "all" if m["all_found"] else "MISSING", f"{m['bound']:.1f}", f"{m['reading']:.1f}", f"{m['wall']:.1f}",
           f"{m['wall'] / m['bound']:.2f}")
    widths = [max(len(str(r[i])) for r in [header, row]) for i in range(len(header))]
    for line in (header, row):
        print("  ".join(str(cell).rjust(width) for cell, width in zip(line, widths)))
    print(f"exit {m['code']}, {m['errors']} error result(s); busiest workload subscription {m['busiest_workload']} "
          f"requests; Resource Graph queries {m['graph']}")
    for note in m["notes"]:
        print(f"note: {note}")
    if not m["all_found"]:
        print(f"found: {m['found']}")


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
    parser.add_argument("--fleet-throttled", action="store_true",
                        help="only the throttled fleet scan (10 subscriptions + a hub, 300 workspaces)")
    parser.add_argument("--bucket", default="50/10", metavar="BURST/PER_SECOND",
                        help="the throttled bed's token bucket per subscription (default 50/10: Resource Manager's "
                             "250/25 scaled down so the buckets, not this machine's CPU, bound the run)")
    parser.add_argument("--small", action="store_true", help="the throttled fleet with 2 subscriptions x 20 workspaces")
    parser.add_argument("--max-workspaces", type=int, default=8, help="moediag scan's --max-workspaces (throttled fleet)")
    parser.add_argument("--untold", action="store_true",
                        help="moediag runs with its default --arm-rate (250/25), not the bed's bucket: only the "
                             "headers and 429s tell it")
    opts = parser.parse_args()
    if opts.fleet:
        print_fleet(opts.delay)
        return 0
    if opts.fleet_throttled:
        burst, _, per_s = opts.bucket.partition("/")
        print_fleet_throttled(opts.delay, int(burst), float(per_s), small=opts.small, max_workspaces=opts.max_workspaces,
                              told=not opts.untold)
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

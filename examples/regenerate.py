"""Rebuild examples/broken-workspace.snapshot.json from the test bed's `broken()` scenario.

Run after adding a check that reads new facts:  .venv/bin/python examples/regenerate.py
Nothing leaves loopback: the test bed and DNS server run on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from armbed import ArmTestBed, broken  # noqa: E402
from dnsbed import DnsTestServer  # noqa: E402


def main() -> int:
    out = HERE / "broken-workspace.snapshot.json"
    with ArmTestBed() as bed, DnsTestServer() as dns:
        scenario = broken().install(bed)
        dns.set_records(scenario.dns_records())
        env = dict(os.environ, **bed.env(), MOEDIAG_NETWORK_GUARD="1")
        args = [sys.executable, "-m", "moediag", "check", "-s", scenario.subscription_id, "-g", scenario.resource_group,
                "-w", scenario.workspace, "--dns-server", dns.address, "-o", "json=/dev/null", "--save-snapshot", str(out)]
        code = subprocess.run(args, env=env).returncode
    print(f"wrote {out} (moediag exited {code})")
    return 0 if code in (0, 1, 3) else code


if __name__ == "__main__":
    sys.exit(main())

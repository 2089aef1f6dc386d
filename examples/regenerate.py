"""Rebuild examples/broken-workspace.snapshot.json from the test bed's `broken()` scenario.

Run after adding a check that reads new facts:  .venv/bin/python examples/regenerate.py
Nothing leaves loopback: the test bed and DNS server run on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from armbed import ArmTestBed, broken  # noqa: E402
from dnsbed import DnsTestServer  # noqa: E402
from netguard import subprocess_env  # noqa: E402


def main() -> int:
    out = HERE / "broken-workspace.snapshot.json"
    with ArmTestBed() as bed, DnsTestServer() as dns:
        scenario = broken().install(bed)
        dns.set_records(scenario.dns_records())
        env = subprocess_env(dict(os.environ, **bed.env()))
        with tempfile.TemporaryDirectory() as tmp:
            args = [sys.executable, "-m", "moediag", "check", "-s", scenario.subscription_id, "-g",
                    scenario.resource_group, "-w", scenario.workspace, "--dns-server", dns.address,
                    "-o", f"json={Path(tmp) / 'report.json'}", "--save-snapshot", str(out)]
            code = subprocess.run(args, env=env).returncode
    # The example is replayed anywhere: it names no test-bed address. Its DNS answers came from the loopback server
    # standing in for the VNet's resolver; they are recorded as Azure DNS's, which a client in the VNet asks.
    text = out.read_text(encoding="utf-8").replace(dns.address, "168.63.129.16")
    snapshot = json.loads(text)
    snapshot["options"]["dns_servers"] = []
    out.write_text(json.dumps(snapshot, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} (moediag exited {code})")
    return 0 if code in (0, 1, 3) else code


if __name__ == "__main__":
    sys.exit(main())

"""Progress goes to stderr only on a terminal, naming the checks still waiting for evidence."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

from armbed import healthy
from moe import quiet_dns, target_args
from netguard import subprocess_env


def test_on_a_terminal_stderr_shows_which_checks_are_still_waiting(bed):
    scenario = healthy().install(bed)
    bed.latency = 0.05  # checks finish one by one, each a change of the progress line
    master, slave = pty.openpty()
    env = subprocess_env(dict(os.environ, **bed.env()))
    proc = subprocess.Popen([sys.executable, "-m", "moediag", "check", *target_args(scenario), "--dns-server", quiet_dns(),
                             "-o", "json"], env=env, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    stdout, _ = proc.communicate(timeout=30)
    os.close(master)
    assert b"waiting for" in seen and b"check(s)" in seen
    assert stdout.startswith(b"{")  # the report itself stays clean on stdout

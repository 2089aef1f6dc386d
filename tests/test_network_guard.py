"""Specification of the network guard: nothing a test does, or starts, may leave loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import dns.message
import dns.query
import pytest

from netguard import ENV_LOG, BlockedNetworkError, blocked_reason

TESTS_DIR = Path(__file__).parent


def test_connecting_to_a_private_address_is_blocked_and_recorded(expect_network_violation):
    with expect_network_violation() as caught, socket.socket() as sock:
        with pytest.raises(BlockedNetworkError):
            sock.connect(("10.255.255.1", 443))
        with pytest.raises(BlockedNetworkError):
            sock.connect_ex(("10.255.255.1", 443))
    assert len(caught) == 2 and "10.255.255.1" in caught[0].strerror


def test_the_instance_metadata_probe_is_blocked(expect_network_violation):
    with expect_network_violation() as caught, pytest.raises(BlockedNetworkError):
        socket.create_connection(("169.254.169.254", 80), timeout=1)
    assert "169.254.169.254" in caught[0].strerror


def test_udp_to_azure_dns_is_blocked_with_sendto_and_sendmsg(expect_network_violation):
    with expect_network_violation() as caught, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(BlockedNetworkError):
            sock.sendto(b"query", ("168.63.129.16", 53))
        with pytest.raises(BlockedNetworkError):
            sock.sendmsg([b"query"], [], 0, ("168.63.129.16", 53))
    assert len(caught) == 2


def test_a_dns_query_to_azure_dns_through_dnspython_is_blocked(expect_network_violation):
    with expect_network_violation(), pytest.raises(OSError):
        dns.query.udp(dns.message.make_query("example.com", "A"), "168.63.129.16", timeout=1)


def test_a_public_host_name_is_blocked_before_it_is_resolved(expect_network_violation):
    with expect_network_violation() as caught:
        with pytest.raises(socket.gaierror):  # what callers expect from a name that does not resolve
            socket.create_connection(("example.com", 443), timeout=1)
        with pytest.raises(BlockedNetworkError), socket.socket() as sock:
            sock.connect(("example.com", 443))  # connect() would resolve it inside the C library
    assert all("example.com" in v.strerror for v in caught) and len(caught) == 2


def test_a_violation_swallowed_in_a_background_thread_is_still_recorded(expect_network_violation):
    def sdk_probe():  # like DefaultAzureCredential probing IMDS and ignoring the failure
        try:
            socket.create_connection(("169.254.169.254", 80), timeout=1)
        except OSError:
            pass

    with expect_network_violation() as caught:
        thread = threading.Thread(target=sdk_probe, name="imds-probe")
        thread.start()
        thread.join()
    assert "imds-probe" in caught[0].strerror and "sdk_probe" in caught[0].where


def test_loopback_connections_and_datagrams_are_allowed():
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()):
            pass
        with socket.create_connection(("localhost", server.getsockname()[1])):
            pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, socket.socket(
        socket.AF_INET, socket.SOCK_DGRAM
    ) as sender:
        receiver.bind(("127.0.0.1", 0))
        sender.sendto(b"ping", receiver.getsockname())
        assert receiver.recv(16) == b"ping"


def test_unix_sockets_are_allowed(tmp_path):
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)


@pytest.mark.parametrize(
    "family, address, allowed",
    [
        (socket.AF_INET, ("127.0.0.1", 8443), True),
        (socket.AF_INET, ("127.8.9.10", 8443), True),
        (socket.AF_INET, ("localhost", 8443), True),
        (socket.AF_INET6, ("::1", 8443, 0, 0), True),
        (socket.AF_INET6, ("::ffff:127.0.0.1", 8443, 0, 0), True),
        (socket.AF_INET, ("10.0.1.5", 443), False),
        (socket.AF_INET, ("0.0.0.0", 443), False),
        (socket.AF_INET6, ("::ffff:10.0.1.5", 443, 0, 0), False),
        (socket.AF_INET6, ("2001:db8::1", 443, 0, 0), False),
        (socket.AF_INET, ("management.azure.com", 443), False),
        (socket.AF_INET, ("127.0.0.53", 53), False),  # systemd-resolved: forwards off the host
        (socket.AF_INET, ("127.0.0.11", 53), False),  # Docker's embedded DNS: same
    ],
)
def test_only_loopback_destinations_are_allowed(family, address, allowed):
    assert (blocked_reason(family, address) is None) is allowed


def test_expect_network_violation_insists_on_a_violation(expect_network_violation):
    with pytest.raises(pytest.fail.Exception, match="nothing was blocked"):
        with expect_network_violation():
            pass


def test_test_environment_has_no_azure_identity():
    assert not [name for name in os.environ if name.startswith(("IDENTITY_", "MSI_"))]
    assert [name for name in os.environ if name.startswith("AZURE_")] == ["AZURE_CONFIG_DIR"]
    assert os.listdir(os.environ["AZURE_CONFIG_DIR"]) == []
    assert os.environ["NO_COLOR"] == "1"


def test_a_guarded_subprocess_blocks_and_reports_through_the_log(guarded_env):
    """A child started with guarded_env has the guard before its own code runs (tests/guard/sitecustomize.py)."""
    program = textwrap.dedent(
        """
        import socket
        assert socket.socket.connect is not socket._socket.socket.connect
        try:
            socket.create_connection(("169.254.169.254", 80), timeout=1)
        except OSError:
            pass  # swallowed, as a product would when it reports "could not check"
        """
    )
    result = subprocess.run([sys.executable, "-c", program], env=guarded_env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    log = Path(guarded_env[ENV_LOG])
    assert "169.254.169.254" in log.read_text() and "169.254.169.254" in result.stderr
    log.unlink()  # consumed: the violation was on purpose


def test_the_product_carries_no_network_guard():
    env = {k: v for k, v in os.environ.items() if k not in ("MOEDIAG_NETWORK_GUARD", "PYTHONPATH")}
    program = ("import importlib.util, socket, moediag.cli; assert importlib.util.find_spec('moediag.netguard') is None; "
               "assert socket.socket.connect is socket._socket.socket.connect")
    subprocess.run([sys.executable, "-c", program], env=env, check=True, timeout=30)


def test_a_swallowed_violation_fails_the_test_and_credentials_are_hidden(tmp_path):
    """End to end, in a separate pytest run: a probe swallowed in a thread still fails its test."""
    for module in ("conftest.py", "dnsbed.py", "netguard.py", "serving.py"):
        shutil.copy(TESTS_DIR / module, tmp_path / module)
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            import os, socket, threading

            def test_swallowed_probe():
                def probe():
                    try:
                        socket.create_connection(("169.254.169.254", 80), timeout=1)
                    except OSError:
                        pass
                t = threading.Thread(target=probe); t.start(); t.join()

            def test_secret_is_hidden():
                assert "AZURE_CLIENT_SECRET" not in os.environ and "IDENTITY_ENDPOINT" not in os.environ
            """
        )
    )
    env = dict(os.environ, AZURE_CLIENT_SECRET="leak", IDENTITY_ENDPOINT="http://169.254.169.254/x",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # hypothesis' plugin alone costs a second
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed" in result.stdout
    assert "FAILED test_inner.py::test_swallowed_probe" in result.stdout and "169.254.169.254" in result.stdout

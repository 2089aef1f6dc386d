"""Safety for every test session: nothing leaves loopback, no real Azure identity is used.

- The network guard (tests/netguard.py) is installed for the whole session. A blocked attempt raises
  `BlockedNetworkError` where it happens and is recorded here, so the test fails even when an SDK
  swallowed the exception in a background thread. Tests that violate on purpose wrap the attempt in
  `expect_network_violation()`.
- Subprocesses cannot be patched from here: run them with `env=guarded_env` (or `netguard.subprocess_env`),
  which puts tests/guard/sitecustomize.py first on PYTHONPATH: it installs the guard before any moediag code
  runs and reports each violation to the file named by `MOEDIAG_NETWORK_GUARD_LOG`; a non-empty file fails the
  test. The product itself knows nothing of the guard.
- Azure identity variables are removed and the az CLI config dir is an empty one, so no test can pick
  up the developer's or the CI runner's credentials.
"""

from __future__ import annotations

import contextlib
import os
import signal
import traceback

import pytest

from dnsbed import DnsTestServer
from netguard import BlockedNetworkError, install_network_guard, subprocess_env

VIOLATIONS: list[BlockedNetworkError] = []  # appended from any thread; list.append is atomic


def _record(error: BlockedNetworkError) -> None:
    error.where = "".join(traceback.format_stack(limit=14)[:-3])  # the offending caller, not the guard
    VIOLATIONS.append(error)


def _take_violations(start: int = 0) -> list[BlockedNetworkError]:
    taken = VIOLATIONS[start:]
    del VIOLATIONS[start : start + len(taken)]
    return taken


def _describe(violations: list[BlockedNetworkError]) -> str:
    return "\n\n".join(f"{v.strerror}\n{v.where}" for v in violations)


def pytest_configure(config: pytest.Config) -> None:
    install_network_guard(_record)
    # A runner that starts the suite in the background (`cmd &` without job control, nohup) ignores SIGINT, and
    # an ignored signal stays ignored in every process the tests start: the Ctrl-C tests would wait in vain.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if not hasattr(config, "workerinput"):  # once per run: in xdist's controller, or the only process
        _compile_moediag()
    _no_example_database()


def _no_example_database() -> None:
    """Every property test is derandomized (the same examples on every run), so Hypothesis's example database
    adds only its reads and writes: 8 s of a run where it had grown. Its own CI profile turns it off as well."""
    from hypothesis import settings

    settings.register_profile("moediag-tests", settings(settings.default, database=None))
    settings.load_profile("moediag-tests")


def _compile_moediag() -> None:
    """Bytecode for moediag, written once before the test processes start. The suite starts moediag in several
    processes (xdist's workers, the subprocess tests); where PYTHONDONTWRITEBYTECODE is set (CI sandboxes often
    set it) each would otherwise compile every module again. Up-to-date files are left alone."""
    import compileall

    import moediag
    import moediag.checks

    for package in (moediag, moediag.checks):
        compileall.compile_dir(os.path.dirname(package.__file__), quiet=2, workers=1)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Session-fixture teardowns and threads outliving the last test can violate too: fail the run. And the suite
    runs as root on CI: a regression that replaced /dev/null with a file (an output "written atomically" over a
    device) would break the machine for everything after it, so it fails the run loudly."""
    import stat

    if not stat.S_ISCHR(os.stat(os.devnull).st_mode):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\n{os.devnull} is no longer a character device: a test replaced it")
    if VIOLATIONS:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nnetwork guard: blocked after the last test:\n{_describe(_take_violations())}")


@pytest.fixture(autouse=True, scope="session")
def _no_real_azure_identity(tmp_path_factory: pytest.TempPathFactory):
    """Every AZURE_*, IDENTITY_* and MSI_* variable is identity or cloud config: remove them all."""
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith(("AZURE_", "IDENTITY_", "MSI_")):
                env.delenv(name)
        env.setenv("AZURE_CONFIG_DIR", str(tmp_path_factory.mktemp("empty-azure-config")))
        env.setenv("NO_COLOR", "1")
        env.setenv("COLUMNS", "100")  # the table wraps its prose to COLUMNS: the same in every runner and worker
        env.delenv("FORCE_COLOR", raising=False)
        env.delenv("MOEDIAG_CLOUD", raising=False)  # the cloud of a run is each test's to choose
        yield


def _fail_if_violations(what: str) -> None:
    if VIOLATIONS:
        pytest.fail(f"network guard: {what}\n{_describe(_take_violations())}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_network_violations():
    """Fail the test for any blocked attempt during it, its fixtures, or threads it started."""
    _fail_if_violations("blocked before this test started (a thread left by an earlier test?)")
    yield
    _fail_if_violations("this test (or its teardown) tried to leave loopback")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Checked right after the test body too, so a test that "passed" is reported FAILED, not passed+error."""
    result = yield
    _fail_if_violations("this test tried to leave loopback")
    return result


@pytest.fixture
def expect_network_violation():
    """`with expect_network_violation() as caught:` for tests that violate on purpose.

    `caught` is filled, on exit, with the violations that happened inside the block; they are taken off
    the record so the test does not fail for them. The block must cause at least one. Join any thread
    you started inside the block.
    """

    @contextlib.contextmanager
    def expect():
        start, caught = len(VIOLATIONS), []
        try:
            yield caught
        finally:
            caught.extend(_take_violations(start))
        if not caught:
            pytest.fail("expected a blocked network attempt, but nothing was blocked", pytrace=False)

    return expect


@pytest.fixture
def guarded_env(tmp_path):
    """Environment for a subprocess (`subprocess.run(..., env=guarded_env)`) with the guard switched on.

    Needs the product to call `install_from_env()` at startup. The test fails if the process reported
    a violation; a test that violates on purpose reads and deletes `guarded_env[ENV_LOG]`.
    """
    log = tmp_path / "network-guard.log"
    yield subprocess_env(os.environ, str(log))
    if log.exists() and log.read_text().strip():
        pytest.fail(f"network guard: the subprocess tried to leave loopback\n{log.read_text()}", pytrace=False)


@pytest.fixture
def dns_server():
    """A started, empty `DnsTestServer`; fill it with `set_records()` / `add()`."""
    with DnsTestServer() as server:
        yield server


@pytest.fixture
def bed():
    """A started ARM test bed (HTTPS on 127.0.0.1) that must not crash itself."""
    from armbed import ArmTestBed

    with ArmTestBed() as bed:
        yield bed
        assert bed.errors == [], "the bed itself crashed:\n" + "\n".join(bed.errors)

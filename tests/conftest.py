"""Hypothesis profiles: `ci` (fixed seed, modest counts; the default), `dev`, `fuzz` (50x).

Also: `--runslow` (tests marked `slow` are skipped unless it is given or `-m` selects
them), the `watchdog` fixture (a per-test time limit), and the hostile-input case
counts at the end of the run.
"""
import faulthandler
import os
import signal
import sys

import pytest
from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("ci", derandomize=True, print_blob=True, **_common)
settings.register_profile("dev", **_common)
settings.register_profile("fuzz", max_examples=5000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="run the tests marked slow (large arrays, minutes)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: needs --runslow or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# Seconds a test may take before it counts as hung (NDPOOL_TEST_TIMEOUT overrides).
TIMEOUT = int(os.environ.get("NDPOOL_TEST_TIMEOUT", "300"))
_terminal = []     # the real stderr, which output capture does not swallow


def pytest_configure(config):
    _terminal.append(os.fdopen(os.dup(sys.stderr.fileno()), "w"))


def pytest_unconfigure(config):
    # else the copy is left to the interpreter's exit: a ResourceWarning under -X dev
    while _terminal:
        _terminal.pop().close()


@pytest.fixture
def watchdog():
    """Fail a test that runs longer than TIMEOUT; if it is stuck where Python cannot
    interrupt it (in a kernel), dump every thread's traceback and exit the process."""
    def hung(signum, frame):
        raise TimeoutError(f"the test ran longer than {TIMEOUT} s (hung?)")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(TIMEOUT)
    faulthandler.dump_traceback_later(TIMEOUT + 60, exit=True,
                                      file=_terminal[0] if _terminal else sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def pytest_terminal_summary(terminalreporter):
    table = sys.modules.get("api_table")
    counts = getattr(table, "CASES", None)
    if not counts:
        return
    terminalreporter.section("hostile-input calls tried per function")
    width = max(map(len, counts))
    for name in sorted(counts):
        terminalreporter.write_line(f"{name:<{width}}  {counts[name]:>7}")
    terminalreporter.write_line(f"{'total':<{width}}  {sum(counts.values()):>7}")


@pytest.fixture(autouse=True)
def _threads_on_small_arrays(monkeypatch):
    """Tests use small arrays; a tiny grain makes them run the multi-threaded paths, and
    up to 8 threads on any machine (workers=3 or 8 must split the work differently
    even where fewer cores would cap it)."""
    import ndpool._threads
    monkeypatch.setattr(ndpool._threads, "GRAIN", 16)
    cores = ndpool._threads._cores()
    monkeypatch.setattr(ndpool._threads, "_cores", lambda: max(cores, 8))

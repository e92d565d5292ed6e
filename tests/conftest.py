"""Hypothesis profiles: `ci` (fixed seed, modest counts; the default), `dev`, `fuzz` (50x)."""
import os

import pytest

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("ci", derandomize=True, print_blob=True, **_common)
settings.register_profile("dev", **_common)
settings.register_profile("fuzz", max_examples=5000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _threads_on_small_arrays(monkeypatch):
    """Tests use small arrays; a tiny grain makes them run the multi-threaded paths."""
    import ndpool._threads
    monkeypatch.setattr(ndpool._threads, "GRAIN", 16)

"""Shared hypothesis settings for the differential suites."""
from hypothesis import HealthCheck, settings


def examples(n):
    """Settings for n examples under the default `ci` profile (conftest.py), scaled
    with the loaded profile's max_examples (so `fuzz` runs 50 times as many)."""
    return settings(max_examples=max(1, n * settings.default.max_examples // 100),
                    deadline=None, suppress_health_check=[
                        HealthCheck.filter_too_much, HealthCheck.too_slow,
                        HealthCheck.data_too_large])

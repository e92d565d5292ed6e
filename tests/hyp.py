"""Shared hypothesis settings and input layouts for the differential suites."""
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def examples(n):
    """Settings for n examples under the default `ci` profile (conftest.py), scaled
    with the loaded profile's max_examples (so `fuzz` runs 50 times as many)."""
    return settings(max_examples=max(1, n * settings.default.max_examples // 100),
                    deadline=None, suppress_health_check=[
                        HealthCheck.filter_too_much, HealthCheck.too_slow,
                        HealthCheck.data_too_large])


# Memory layouts an input is given in: the same values, other strides or byte order.
LAYOUTS = ("c", "fortran", "reversed", "swapped")


def in_layout(x, layout):
    """x's values, read-only, in ``layout``: "c" (a C-contiguous copy), "fortran",
    "reversed" (negative strides on every axis) or "swapped" (non-native byte
    order)."""
    if layout == "fortran":
        x = np.asfortranarray(x)
    elif layout == "reversed":
        x = np.flip(np.flip(x).copy())
    elif layout == "swapped":
        x = x.astype(x.dtype.newbyteorder())
    else:
        x = x.copy()
    x.flags.writeable = False
    return x


def drawn_layout(draw, x):
    """in_layout(x, a layout drawn with hypothesis' ``draw``)."""
    return in_layout(x, draw(st.sampled_from(LAYOUTS)))

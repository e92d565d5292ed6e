"""Validation of method parameters that are not window sizes (p, alpha, r, rng...)."""
import numbers

import numpy as np


def positive_real(value, name, *, allow_zero=False):
    """A finite real number > 0 (or >= 0)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {rule}, got {value!r}")
    return value


def fraction(value, name):
    """A number or array of numbers in [0, 1]."""
    arr = np.asarray(value)
    if isinstance(value, (bool, np.bool_)) or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a number or an array of numbers in [0, 1], "
                        f"got {value!r}")
    arr = arr.astype(np.float64)
    if not np.all((arr >= 0) & (arr <= 1)):
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return arr


def generator(rng):
    """A numpy Generator from a Generator, a seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)) and rng < 0:
        raise ValueError(f"rng must be a non-negative integer seed, got {rng}")
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, (bool, np.bool_)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an integer seed or None, "
                    f"got {type(rng).__name__}")

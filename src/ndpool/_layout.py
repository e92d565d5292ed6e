"""Which axes are pooled, and how an N-D array is seen by the 1-D pass kernels.

The rules (DESIGN section 2):

* ``axes`` given: exactly those axes are pooled, per-axis parameters follow
  their order.
* otherwise, if a per-axis parameter is a sequence of length k, the last k
  axes that are not ``channel_axis`` are pooled (``(2, 2)`` on NCHW);
* otherwise every axis except ``channel_axis`` is pooled (``2`` on HxWxC with
  ``channel_axis=-1``).

Pooled axes are returned in ascending order, with the per-axis parameters
permuted to match, so that indices are always ``np.ravel_multi_index`` over the
pooled axes in array order.
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from ._planning import is_sequence


def normalize_axis(axis, ndim, name):
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an integer axis, got {axis!r}")
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} "
                         f"dimension{'s' if ndim != 1 else ''}")
    return axis % ndim


def _sequence_length(params):
    """The common length of the sequence-valued parameters, or None if all are scalars."""
    lengths = {name: len(v) for name, v in params.items() if is_sequence(v)}
    if not lengths:
        return None
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{n} has {k}" for n, k in lengths.items())
        raise ValueError(f"per-axis parameters disagree on the number of pooled axes: {desc}")
    empty = [n for n, k in lengths.items() if k == 0]
    if empty:
        raise ValueError(f"{empty[0]} is an empty sequence: give an integer, or one entry "
                         f"per pooled axis")
    return next(iter(lengths.values()))


def _named(params):
    """The sequence-valued parameters' names, for messages ("kernel_size has 3 entries")."""
    return " and ".join(n for n, v in params.items() if is_sequence(v))


def resolve_axes(ndim, axes, channel_axis, params):
    """Return (pooled axes ascending, permutation to apply to per-axis sequences).

    ``params`` maps parameter names to their raw values (int, sequence or str).
    """
    channel = None if channel_axis is None else normalize_axis(channel_axis, ndim, "channel_axis")
    if axes is not None:
        if not is_sequence(axes):
            axes = (axes,)
        norm = [normalize_axis(a, ndim, "axes") for a in axes]
        if len(set(norm)) != len(norm):
            raise ValueError(f"axes must not repeat an axis, got {tuple(axes)!r}")
        if channel is not None and channel in norm:
            raise ValueError(f"channel_axis={channel_axis} cannot also be a pooled axis "
                             f"(axes={tuple(axes)!r})")
        if not norm:
            raise ValueError("axes must name at least one axis to pool")
        k = _sequence_length(params)
        if k is not None and k != len(norm):
            raise ValueError(f"{_named(params)}: {k} entries, one per pooled axis, but axes names "
                             f"{len(norm)} axes: {tuple(axes)!r}")
    else:
        candidates = [a for a in range(ndim) if a != channel]
        k = _sequence_length(params)
        if k is None:
            norm = candidates
        elif k > len(candidates):
            raise ValueError(f"{_named(params)}: {k} entries, one per pooled axis, but the array "
                             f"has only "
                             f"{len(candidates)} axes that can be pooled (ndim={ndim}"
                             + (f", channel_axis={channel_axis})" if channel is not None else ")"))
        else:
            norm = candidates[len(candidates) - k:]
        if not norm:
            raise ValueError(f"nothing to pool: the array has {ndim} dimensions"
                             + (f" and channel_axis={channel_axis}" if channel is not None else ""))
    order = sorted(range(len(norm)), key=norm.__getitem__)
    return tuple(norm[i] for i in order), order


def permute(values, order):
    """Reorder a per-axis tuple to follow ascending axes."""
    return tuple(values[i] for i in order)


def three_d(shape, axis):
    """The (outer, n, inner) shape of a C-contiguous array seen around ``axis``."""
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])

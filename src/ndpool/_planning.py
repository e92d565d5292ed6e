"""Per-axis window planning: all shape arithmetic and parameter validation.

Every rectangular pooling method reduces, for each output position, a product of
one interval per pooled axis.  This module plans those intervals for one axis at
a time, in Python integers, before any kernel runs.  A plan says, for every
output position ``o`` along the axis,

* ``start[o]``: the first *valid* tap (an index into the axis, ``0 <= start < n``),
* ``count[o]``: how many valid taps the window has (0 only for a dilated window
  that falls entirely into padding),
* ``padded[o]``: how many taps lie in the padded extent ``[-before, n + after)``,
  the divisor PyTorch's ``count_include_pad=True`` uses,

so that a kernel only ever reads ``x[start + j * dilation]`` for ``j < count``.
"""
from __future__ import annotations

import functools
import math
import numbers
import operator
from dataclasses import dataclass

import numpy as np

# Window arithmetic is done in int64 when every quantity provably fits, and in
# Python integers (object arrays) otherwise, so a kernel_size of 2**62 is either
# planned exactly or rejected, never wrapped.
_INT64_SAFE = 2**62
# The largest size parameter accepted: no axis is longer, and it fits a kernel's intp.
MAX_SIZE = 2**63 - 1


# A plan of more output positions than this keeps no tables: they cost 32 bytes
# per position (an axis of 2**28 outputs would need 8 GiB), so they are computed
# for the range of outputs a band of the call needs (``windows``, ``part``), and
# the call runs in bands (ndpool._bands).
LAZY_OUTPUTS = 2**20


@dataclass(frozen=True)
class AxisPlan:
    n: int              # input length along the axis
    out: int            # output length
    kernel: int
    stride: int         # 0 for irregular windows (adaptive bins, fractional, intervals)
    dilation: int
    before: int         # padding before the first element
    after: int          # padding after the last element
    # (start, count, padded, skip), each (out,) or (planes, out); None: a regular
    # grid whose tables are computed on demand (lazy), never stored.
    tables: tuple = None

    shared = False      # set by the plan caches (see ``shared``)

    @property
    def lazy(self):
        return self.tables is None

    @property
    def start(self):    # (out,) intp, first valid tap
        return self._tables()[0]

    @property
    def count(self):    # (out,) intp, number of valid taps
        return self._tables()[1]

    @property
    def padded(self):   # (out,) float64, taps inside the padded extent
        return self._tables()[2]

    @property
    def skip(self):     # (out,) intp, kernel taps clipped before the first valid one
        return self._tables()[3]

    def _tables(self):
        return self.tables if self.tables is not None else self.windows(0, self.out)

    def eager(self):
        """This plan with its tables (computed once, if it is lazy)."""
        if self.tables is not None:
            return self
        return AxisPlan(self.n, self.out, self.kernel, self.stride, self.dilation,
                        self.before, self.after, self.windows(0, self.out))

    def windows(self, o0, o1):
        """(start, count, padded, skip) of the outputs ``[o0, o1)``."""
        if self.tables is not None:
            return tuple(t[..., o0:o1] for t in self.tables)
        return _windows(self.n, o0, o1, self.kernel, self.stride, self.dilation,
                        self.before, self.after)

    def part(self, o0, o1, lo=None, hi=None):
        """(lo, hi, plan): the outputs ``[o0, o1)`` planned on the input slab ``[lo, hi)``.

        The slab defaults to the one their valid taps span.  Starts are shifted
        to the slab and ``before`` re-based, so evenly spaced windows stay evenly
        spaced; divisors and skipped taps are the whole plan's.
        """
        start, count, padded, skip = self.windows(o0, o1)
        valid = count > 0
        if lo is None:
            if valid.any():
                lo = int(start[valid].min())
                hi = int((start + (count - 1) * self.dilation + 1)[valid].max())
            else:               # only empty windows: any one-element slab will do
                lo, hi = 0, min(self.n, 1)
        start = np.where(valid, start - lo, 0).astype(np.intp)
        before = self.before + lo - o0 * self.stride if self.stride else 0
        tables = (start, *(np.ascontiguousarray(t) for t in (count, padded, skip)))
        return lo, hi, AxisPlan(hi - lo, o1 - o0, self.kernel, self.stride, self.dilation,
                                before, self.after if o1 == self.out else 0, tables)

    @functools.cached_property
    def regular(self):
        """The range [lo, hi) of windows that are whole and evenly spaced ((0, 0): none).

        Cached, like ``has_empty``: a plan is immutable and shared by every call
        that hits the plan cache.
        """
        full = np.flatnonzero(self.count == self.kernel) if self.stride else ()
        if len(full) == 0:
            return 0, 0
        return int(full[0]), int(full[-1]) + 1

    @functools.cached_property
    def has_empty(self):
        """Whether some window holds no element (dilated, entirely in the padding)."""
        if not self.out:
            return False
        if self.tables is not None:
            return bool(self.count.min() == 0)
        # Only windows reaching into the padding can be empty: the first ones whose
        # first tap is < 0, the last ones whose last tap is >= n.
        eff = self.dilation * (self.kernel - 1) + 1
        left = min(self.out, -(-self.before // self.stride))
        right = max(left, min(self.out, (self.n - eff + self.before) // self.stride + 1))
        step = 2**16
        return any(bool((self.windows(o, min(o + step, b))[1] == 0).any())
                   for a, b in ((0, left), (right, self.out)) for o in range(a, b, step))


def as_size(value, name, *, minimum=1):
    """An integer parameter: Python or NumPy int, not bool, not float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} "
                        f"of type {type(value).__name__}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if value > MAX_SIZE:
        raise ValueError(f"{name} must be at most 2**63 - 1 (the longest an array axis can "
                         f"be), got {value}")
    return value


def check_output(shape, name, itemsize=8):
    """Reject an output shape no array could have, naming the parameter that asked for it.

    (NumPy would say "array is too big" or raise MemoryError, naming nothing.)
    """
    if math.prod(shape) * itemsize > MAX_SIZE:
        raise ValueError(f"{name} asks for an output of shape {tuple(shape)}, more bytes "
                         f"than an array can hold")


def is_sequence(value):
    """A per-axis sequence (list, tuple, 1-D array...), as opposed to one scalar."""
    if isinstance(value, (str, numbers.Number, np.generic)):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim > 0
    return hasattr(value, "__iter__")


def per_axis(value, k, name, *, minimum=1, allow=()):
    """Broadcast an int, or check a sequence of length k, into a tuple of sizes.

    Strings in ``allow`` (such as "same") pass through unchanged.
    """
    if isinstance(value, str):
        if value in allow:
            return (value,) * k
        raise ValueError(f"{name} must be an integer, a sequence of integers"
                         + (f" or one of {allow}" if allow else "")
                         + f", got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim > 1:
        raise ValueError(f"{name} must be an integer or a 1-D sequence, "
                         f"got an array of shape {value.shape}")
    if not is_sequence(value):
        return (as_size(value, name, minimum=minimum),) * k
    items = tuple(value)
    if len(items) != k:
        raise ValueError(f"{name} must have one entry per pooled axis ({k}), "
                         f"got {len(items)}: {value!r}")
    return tuple(as_size(v, f"{name}[{i}]", minimum=minimum)
                 for i, v in enumerate(items))


def output_length(n, kernel, stride, padding, dilation, ceil_mode, *, name="x"):
    """PyTorch's rule for the pooled length of one axis, with symmetric padding."""
    eff = dilation * (kernel - 1) + 1
    out = (n + 2 * padding - eff + (stride - 1 if ceil_mode else 0)) // stride + 1
    # In ceil mode the last window must start inside the input or the left padding.
    if ceil_mode and out > 0 and (out - 1) * stride >= n + padding:
        out -= 1
    return out


def plan_axis(n, kernel, stride, padding, dilation, ceil_mode, *, axis, lazy=False):
    """Plan the windows of one axis of length ``n`` (cached: plans are immutable).

    ``padding`` is an int (both sides, PyTorch's limit ``padding <= kernel // 2``),
    "valid" (0) or "same" (TensorFlow: ``out = ceil(n / stride)``, the odd padding
    element after).  ``axis`` only names the axis in error messages.  With
    ``lazy``, a plan of more than LAZY_OUTPUTS windows keeps no tables: for
    callers that run in bands (``AxisPlan.part``), never reading whole tables.
    """
    return _plan_axis(n, kernel, stride, padding, dilation, bool(ceil_mode), axis, lazy)


# Planning costs ~15 us of small-array NumPy work per axis, which dominated
# calls on small inputs; a loop pooling same-shaped arrays plans once.
@functools.lru_cache(maxsize=512)
def _plan_axis(n, kernel, stride, padding, dilation, ceil_mode, axis, lazy=False):
    eff = dilation * (kernel - 1) + 1
    if padding == "same":
        if ceil_mode:
            raise ValueError("ceil_mode=True cannot be combined with padding='same', "
                             "whose output length is already ceil(n / stride)")
        out = -(-n // stride)
        total = max((out - 1) * stride + eff - n, 0)
        before, after = total // 2, total - total // 2
    else:
        if padding == "valid":
            padding = 0
        if padding > kernel // 2:
            raise ValueError(
                f"padding must be at most half the kernel size on axis {axis}: "
                f"got padding={padding} with kernel_size={kernel}")
        out = output_length(n, kernel, stride, padding, dilation, ceil_mode)
        before = after = padding
    if out < 1 and n > 0:
        raise ValueError(
            f"the window does not fit axis {axis}: length {n} with kernel_size={kernel}, "
            f"dilation={dilation}, padding={padding} gives output length {out} < 1")
    out = max(out, 0)
    if n == 0:
        # An empty axis pools to an empty axis (PyTorch rejects it; NumPy users
        # expect empty in, empty out).
        out = 0
    if lazy and out > LAZY_OUTPUTS:
        return AxisPlan(n, out, kernel, stride, dilation, before, after)
    tables = _windows(n, 0, out, kernel, stride, dilation, before, after)
    for a in tables:
        a.flags.writeable = False   # shared by every call that hits the cache
    return shared(AxisPlan(n, out, kernel, stride, dilation, before, after, tables))


# Every cache of plans (this module's and the window specs'), for ``clear_plan_caches``.
_PLAN_CACHES = [_plan_axis]


def clear_plan_caches():
    """Forget every cached plan (after changing LAZY_OUTPUTS, in the tests)."""
    for cache in _PLAN_CACHES:
        cache.cache_clear()


def _windows(n, o0, o1, kernel, stride, dilation, before, after):
    """(start, count, padded, skip) of the windows ``o0 <= o < o1`` of a regular grid."""
    big = max(n, kernel * dilation, o1 * stride, before, after) >= _INT64_SAFE
    dt = object if big else np.int64
    lo = np.arange(o0, o1, dtype=np.int64).astype(dt) * stride - before   # raw first tap
    d = dilation
    first = np.maximum(0, (-lo + d - 1) // d)                # first tap at >= 0
    last = np.minimum(kernel, (n - 1 - lo) // d + 1)         # one past the last tap < n
    count = np.maximum(last - first, 0)
    start = np.where(count > 0, lo + first * d, 0)
    padded = np.minimum(kernel, (n + after - 1 - lo) // d + 1)
    skip = np.where(count > 0, first, 0)
    return (start.astype(np.intp), count.astype(np.intp), padded.astype(np.float64),
            skip.astype(np.intp))


def plan_axes(shape, axes, kernel_size, stride, padding, dilation, ceil_mode, *, lazy=False):
    """Validate per-axis parameters and plan every pooled axis.

    ``kernel_size`` etc. are already tuples with one entry per pooled axis.
    """
    return [plan_axis(shape[ax], k, s, p, d, ceil_mode, axis=ax, lazy=lazy)
            for ax, k, s, p, d in zip(axes, kernel_size, stride, padding, dilation)]


def plan_intervals(n, start, count):
    """A plan of arbitrary contiguous windows ``[start, start + count)`` inside the axis.

    Used by adaptive, global and fractional pooling, whose windows are not a
    regular kernel/stride grid.  ``stride`` is 0 to say so.
    """
    start = np.asarray(start, np.intp)
    count = np.asarray(count, np.intp)
    kernel = int(count.max()) if len(count) else 1
    tables = (start, count, count.astype(np.float64), np.zeros(len(count), np.intp))
    for a in tables:
        a.flags.writeable = False
    return AxisPlan(n, len(count), kernel, 0, 1, 0, 0, tables)


@functools.lru_cache(maxsize=512)
def plan_bins(n, out, *, axis=0):
    """PyTorch's adaptive bins: ``[floor(o n / out), ceil((o + 1) n / out))``, exactly."""
    if n == 0 and out > 0:
        raise ValueError(f"cannot pool the empty axis {axis} to output size {out}")
    if out > 0 and n % out == 0:
        # Equal disjoint bins are a regular grid (kernel = stride = n / out): the
        # same windows, and the kernels' evenly spaced fast path.
        return _plan_axis(n, n // out, n // out, 0, 1, False, axis)
    o = np.arange(out, dtype=object if n * (out + 1) >= _INT64_SAFE else np.int64)
    start = (o * n) // out
    end = -((-(o + 1) * n) // out)
    return shared(plan_intervals(n, start, end - start))


def shared(plan):
    """Mark a plan as held by a cache, so that its identity outlives a call
    (ndpool._engine keeps the kernel arguments of small calls by plan identity)."""
    object.__setattr__(plan, "shared", True)
    return plan

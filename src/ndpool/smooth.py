"""Smooth pooling between average and max: Lp, power mean (GeM), SoftPool, log-sum-exp.

Each has an exact per-window kernel that works relative to the window's own
largest value (``m (sum (x/m)^p)^(1/p)``, ``m + log(...)``), so no intermediate
overflows or underflows whatever the magnitudes or p: large p really tends to
max pooling.  Where the values allow, each is instead one elementwise pass
(a power or an exp per element, not per tap) and a compiled window sum or mean,
window by window only where that is as exact; the other windows take the
kernel's value.  NaN propagates through every method.

Window parameters (``kernel_size, stride, padding, dilation, ceil_mode,
axes, channel_axis, workers``) mean exactly what they mean for
:func:`ndpool.max_pool`.  Results are float: float16/32/64 input keeps its
dtype (computed in float64), bool and integer input gives float64.
"""
from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._dask import dask_aware
from . import _bands, _engine, _gather
from ._dtypes import mean_dtype
from ._params import positive_real
from ._spec import WindowSpec, check_out, deliver
from ._threads import resolve_workers

__all__ = ["lp_pool", "power_mean_pool", "softpool", "lse_pool"]


def _as_float(values, spec):
    """A float64 result in the method's float dtype (float64 for bool/int input)."""
    return values.astype(mean_dtype(spec.x.dtype), copy=False)


def _finish(values, spec, out):
    """Deliver a core's result, into ``out`` if given."""
    return deliver(values, check_out(out, spec.out_shape, mean_dtype(spec.x.dtype)))


@dask_aware
def lp_pool(x, p, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
            axes=None, channel_axis=None, out=None, workers=None):
    """Lp pooling: ``(sum |x|^p) ** (1/p)`` over each window (p=2: L2 pooling).

    Equals ``torch.nn.functional.lp_pool1d/2d/3d`` for ``x >= 0`` (torch raises
    negative values to ``p`` without taking the absolute value first).  One
    difference in ceil_mode: torch scales a partial last window's sum by
    ``kernel area / taps``; ndpool sums the taps the window really holds.
    p=1 is sum pooling of ``|x|``; p -> inf tends to max pooling of ``|x|``.

    Sermanet, Chintala & LeCun, "Convolutional neural networks applied to
    house numbers digit classification", ICPR 2012.

    Parameters
    ----------
    x : array_like
    p : float > 0
    kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis, out, workers
        As for :func:`ndpool.max_pool`.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.lp_pool(np.array([[3.0, 4.0], [0.0, 0.0]]), 2, 2)
    array([[5.]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _finish(_bands.run("lp_pool", spec, resolve_workers(workers), {"p": p}), spec, out)


def _lp(spec, nthreads, p):
    p = positive_real(p, "p")
    fast = _power_fast(spec, spec.x, nthreads, p, mean=False)
    if fast is not None:
        return _as_float(fast, spec)
    return _as_float(_gather.float_reduce(spec.x, spec.axes, spec.plans, _gather.LP, p,
                                          nthreads), spec)


# ---- the power sums as one elementwise pass and a compiled window sum -------------------
#
# (sum t)^(1/p) with t = |x|^p (Lp) or x^p (power mean) needs no per-window scaling
# when no t and no window sum can overflow, and no nonzero t is subnormal (where it
# would lose digits): then the elementwise power, the fused window sum (or mean) of
# the float64 powers and one root per output give the per-window kernel's values to
# rounding, at a fraction of its cost (one power per element instead of per tap).
# The dtype's range decides for every dtype but float64, whose data decide.  For
# p = 1, 2, 3 (a product, not a pow) the power is taken inside the compiled sweep
# (smooth.pyx) as the window's rows are added: no float64 copy of x at all.
_FAST_HI, _FAST_LO = 2.0**1000, 2.0**-960


def _power_fast(spec, x, nthreads, p, *, mean, eps=None):
    """Window power sums/means, rooted, in float64; None where the kernel must scale.

    ``eps``: the power mean's clamp, applied slab by slab (x itself is never copied
    whole).
    """
    if p < 1 or x.size == 0 or any(plan.start.ndim != 1 for plan in spec.plans):
        return None       # p < 1: the geometric-mean limit needs the kernel's formula
    taps = math.prod(int(plan.count.max()) if plan.out else 1 for plan in spec.plans)
    dt = x.dtype
    if dt.kind == "f" and dt.itemsize == 8:
        with np.errstate(invalid="ignore"):
            mag = np.abs(x)
            hi = float(np.fmax.reduce(mag, axis=None))           # NaN ignored
            if math.isinf(hi):                                     # the largest finite one
                hi = float(np.fmax.reduce(mag, axis=None, where=np.isfinite(mag),
                                          initial=0.0))
            low = float(np.fmin.reduce(mag, axis=None, where=mag > 0, initial=1.0))
    elif dt.kind == "f":
        hi, low = float(np.finfo(dt).max), float(np.finfo(dt).smallest_subnormal)
    else:
        hi, low = (1.0, 1.0) if dt.kind == "b" else (float(max(-int(np.iinfo(dt).min),
                                                             int(np.iinfo(dt).max))), 1.0)
    if eps:                                       # after the clamp: every value >= eps
        hi, low = max(hi, eps), eps
    if (hi > 0 and p * math.log2(hi) + math.log2(max(taps, 1)) >= math.log2(_FAST_HI)) \
            or p * math.log2(low) <= math.log2(_FAST_LO):
        return None
    if p in (1, 2, 3):               # the power taken as the rows are added: one sweep
        divisors = [plan.count.astype(np.float64) for plan in spec.plans] if mean else None
        fused = _engine.window_smooth(x, spec.axes, spec.plans, _engine.SMOOTH_POWER,
                                      divisors=divisors, p=int(p), absval=not mean,
                                      lo=-math.inf if eps is None else eps, nthreads=nthreads)
        if fused is not None:
            return _root(fused[0], p)

    def power(part, plans, threads, scratch):
        sub = WindowSpec.from_plans(part, spec.axes, plans, spec.channel_axis)
        return _power_slab(part, sub, threads, p, mean, eps, scratch)
    return _by_slabs(x, spec, power, nthreads)


def _by_slabs(x, spec, compute, nthreads):
    """The result of ``compute(part, plans, threads, scratch)`` over slabs of ``x`` of
    about _SLAB elements: split along the leading unpooled axes, then along the output
    rows of the first pooled axis (``plans``: the spec's plans, the first cut to the
    slab).  Several slabs run at once, one thread each: most of their work is NumPy's
    elementwise passes, which one kernel call's threads cannot share.

    ``scratch(name, shape, dtype)`` is an uninitialised array that the slabs of one
    thread share (the result of ``compute`` is copied out before the next slab): the
    slab-sized float64 temporaries are then allocated once per thread and call, not
    once per slab, and their pages are faulted in once.  Nothing outlives the call.
    """
    result = np.empty(spec.out_shape, mean_dtype(spec.x.dtype))
    # Every thread keeps its slab's temporaries (a few float64 copies of a slab) until
    # the call ends: with many threads the slabs shrink, so that all of them together
    # stay near an eighth of x's elements (as float64, a fraction of x's bytes).
    budget = min(_SLAB, max(2**12, x.size // (8 * max(nthreads, 1))))
    tasks = []
    for slab in _slabs(x.shape, spec.axes, budget):
        xs = x[slab]
        for (lo, hi), (o0, o1), plans in _row_slabs(xs.shape, spec.axes, spec.plans, budget):
            rows = [slice(None)] * x.ndim
            rows[spec.axes[0]] = slice(lo, hi)
            out_rows = list(slab) + [slice(None)] * (x.ndim - len(slab))
            out_rows[spec.axes[0]] = slice(o0, o1)
            tasks.append((xs[tuple(rows)], plans, tuple(out_rows)))
    local = threading.local()

    def one(task, threads):
        part, plans, where = task
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = _Scratch()
        result[where] = compute(part, plans, threads, scratch)

    if nthreads > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(min(nthreads, len(tasks))) as pool:
            for done in [pool.submit(one, task, 1) for task in tasks]:
                done.result()
    else:
        for task in tasks:
            one(task, nthreads)
    return result


class _Scratch:
    """Named buffers of one thread, grown on demand; ``self(name, shape, dtype)``."""

    def __init__(self):
        self.buffers = {}

    def __call__(self, name, shape, dtype):
        dtype = np.dtype(dtype)
        n = math.prod(shape)
        buf = self.buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.size < n:
            buf = self.buffers[name] = np.empty(max(n, 1), dtype)
        return buf[:n].reshape(shape)


def _row_slabs(shape, axes, plans, budget):
    """Along the first pooled axis: ((input rows), (output rows), plans) of slabs of
    about ``budget`` input elements; the first plan is cut to the slab's rows."""
    a, plan = axes[0], plans[0]
    per_row = math.prod(shape) // max(shape[a], 1)
    if math.prod(shape) <= budget or plan.has_empty or plan.out <= 1:
        yield (0, shape[a]), (0, plan.out), plans
        return
    step = max(1, budget // max(per_row * max(plan.stride, 1), 1))
    for o0 in range(0, plan.out, step):
        o1 = min(o0 + step, plan.out)
        lo, hi, cut = plan.part(o0, o1)
        yield (lo, hi), (o0, o1), [cut] + list(plans[1:])


# The elementwise powers are float64; computing them a slab of leading (unpooled)
# axes at a time keeps the extra memory at about _SLAB elements, not a copy of x.
_SLAB = 2**18


def _slabs(shape, axes, budget):
    """Index tuples (of slices, so no axis is dropped) covering ``shape`` in slabs of
    about ``budget`` elements, split along the leading axes before the first pooled one."""
    lead = min(axes)
    tail = [math.prod(shape[i:]) for i in range(len(shape) + 1)]
    d = next((i for i in range(lead + 1) if tail[i] <= budget), lead)
    if d == 0:
        yield (slice(None),)
        return
    rows = max(1, budget // max(tail[d], 1))
    for head in np.ndindex(*shape[:d - 1]):
        for s in range(0, shape[d - 1], rows):
            yield tuple(slice(h, h + 1) for h in head) + (slice(s, s + rows),)


def _power_slab(x, spec, nthreads, p, mean, eps, scratch):
    """(sum or mean of x^p over each window)^(1/p), in float64, for one slab of x."""
    t = scratch("t", x.shape, np.float64)
    if eps is not None:
        np.maximum(x, eps, out=t, dtype=np.float64)   # eps exactly, as the kernel computes
    elif not mean:
        np.abs(x, out=t, dtype=np.float64)
    else:
        np.copyto(t, x)
    with np.errstate(invalid="ignore", over="ignore"):
        if p == 2:
            np.multiply(t, t, out=t)
        elif p == 3:
            np.multiply(np.multiply(t, t), t, out=t)
        elif p != 1:
            if mean and not float(p).is_integer() and t.dtype.kind == "f":
                np.copyto(t, np.nan, where=t < 0)   # no real power (-inf too): NaN, documented
            np.power(t, p, out=t)
        if mean:
            from .window import _avg
            tspec = WindowSpec.from_plans(t, spec.axes, spec.plans, spec.channel_axis)
            s = _avg(tspec, nthreads, count_include_pad=False, dtype=np.float64)
        else:
            s = _engine.window_sum(t, spec.axes, spec.plans, nthreads=nthreads,
                                   acc=np.dtype(np.float64))
    return _root(s, p)


def _root(s, p):
    """s^(1/p) in place where it can be; an odd p keeps the sign (a power mean's
    negative sum: its real root)."""
    with np.errstate(invalid="ignore", over="ignore"):
        if p == 1:
            return s
        if p == 2:
            return np.sqrt(s, out=s)
        if p == 3:
            return np.cbrt(s, out=s)
        if float(p).is_integer() and int(p) % 2 == 1:
            return np.copysign(np.power(np.abs(s), 1.0 / p), s)
        return np.power(s, 1.0 / p, out=s)


@dask_aware
def power_mean_pool(x, p, kernel_size, stride=None, padding=0, dilation=1,
                    ceil_mode=False, *, eps=None, axes=None, channel_axis=None, out=None,
                    workers=None):
    """Power-mean pooling, "power average" / GeM: ``(mean x^p) ** (1/p)`` per window.

    The mean is over the elements the window holds (padding is not counted),
    so p=1 equals ``avg_pool(..., count_include_pad=False)`` and p -> inf tends
    to max pooling.  With ``eps`` the input is first clamped to ``[eps, inf)``
    as in GeM; without it, negative values raised to a non-integer p give NaN.

    Radenović, Tolias & Chum, "Fine-tuning CNN image retrieval with no human
    annotation", TPAMI 2018 (generalized mean pooling).

    Negative values under a non-integer p give NaN (use ``eps``); under an odd
    integer p a negative mean has its real, negative root.

    Parameters
    ----------
    x : array_like
    p : float > 0
    eps : float, optional
        Clamp the input from below (GeM uses 1e-6).
    kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis, out, workers
        As for :func:`ndpool.max_pool`.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.power_mean_pool(np.array([[1.0, 1.0], [1.0, 5.0]]), 3, 2)  # (128 / 4) ** (1/3)
    array([[3.1748021]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _finish(_bands.run("power_mean_pool", spec, resolve_workers(workers),
                              {"p": p, "eps": eps}), spec, out)


def _power_mean(spec, nthreads, p, eps=None):
    p = positive_real(p, "p")
    x = spec.x
    if eps is not None:
        eps = positive_real(eps, "eps", allow_zero=True)
    values = _power_fast(spec, x, nthreads, p, mean=True, eps=eps)
    if values is None:
        if eps is not None:      # eps exactly, as the kernel computes
            x = np.maximum(x, eps, dtype=np.float64)
        values = _gather.float_reduce(x, spec.axes, spec.plans, _gather.POWER_MEAN, p,
                                      nthreads)
    return _as_float(values, spec)


def _softpool(spec, nthreads):
    fast = _softpool_fast(spec, nthreads)
    if fast is not None:
        return _as_float(fast, spec)
    return _as_float(_gather.float_reduce(spec.x, spec.axes, spec.plans, _gather.SOFTPOOL,
                                          0.0, nthreads), spec)


# SoftPool as unshifted window sums.  sum(e^x x) / sum(e^x) needs no shift by the
# window's maximum while every e^x, e^x x and their sums are finite normal numbers,
# which is so for every window whose values lie within about +-600.  A window for
# which this fails (values beyond, infinities, NaN) takes the per-window kernel's
# value instead (a -inf, which weighs nothing there, makes e^x x NaN here).  The
# choice is made window by window, on the window's own values: a window's result
# never depends on the rest of the array (its batch, its chunks).  For float32 and
# float64 x, e^x, the products x e^x, both sums, their ratio and the test are one
# compiled sweep (smooth.pyx, which takes e^x as it reads each row): over the whole
# array where the float64 result is no larger than x (_whole_sweep), else slab by
# slab.  Other dtypes, and windows spanning more than _engine._EXP_ROWS rows, take
# e^x from the engine a slab at a time and the same sweep for the rest.
_SOFT_MIN = 2.0**-900


def _softpool_fast(spec, nthreads):
    x = spec.x
    if x.size == 0 or any(plan.start.ndim != 1 or plan.has_empty for plan in spec.plans):
        return None
    if _whole_sweep(spec):
        whole = _softpool_whole(x, spec.axes, spec.plans, nthreads,
                                dtype=mean_dtype(x.dtype))
        if whole is not None:
            return whole
    return _by_slabs(x, spec, lambda part, plans, threads, scratch: _softpool_slab(
        part, spec.axes, plans, threads, scratch), nthreads)


def _whole_sweep(spec):
    """Whether SoftPool and log-sum-exp run as one compiled sweep over the whole
    array rather than on slabs: where their float64 result is no larger than x.
    The sweep's result is a new float64 array whose pages are cleared as it is
    written, and the slabs write into buffers each thread reuses; with stride 1
    (a result as large as x, in float64) one sweep took 40 ms and the slabs 31
    on the catalogue input, with stride 2 16.4 against 17.3 (one thread)."""
    return 8 * math.prod(spec.out_shape) <= spec.x.nbytes


def _softpool_whole(x, axes, plans, nthreads, scratch=None, dtype=np.float64):
    """SoftPool of float32 and float64 x in one compiled sweep that takes e^x as it
    reads each row (no float64 copy of x), the per-window kernel's values where the
    unshifted sums fail; None where the sweep does not apply.  The whole array, in
    ``dtype`` (float32: the float64 values rounded in the sweep, and no float64
    result array), or one slab with its thread's ``scratch``."""
    fused = _engine.window_smooth(x, axes, plans, _engine.SMOOTH_SOFT, r=1.0,
                                  tiny=_SOFT_MIN, empty=scratch, dtype=dtype,
                                  nthreads=nthreads)
    if fused is None:
        return None
    out, bad = fused
    return _patch(out, bad, x, axes, plans, _gather.SOFTPOOL, 0.0, nthreads)


def _patch(out, bad, x, axes, plans, kind, param, nthreads):
    """out with the windows marked in ``bad`` (None: none) taken from the per-window
    kernel ``kind``."""
    if bad is not None and bad.any():
        which = np.flatnonzero(bad)
        np.put(out, which, _gather.float_reduce_at(x, axes, plans, kind, param, which,
                                                   nthreads))
    return out


def _softpool_slab(x, axes, plans, nthreads, scratch):
    """SoftPool of one slab: unshifted sums, the kernel's values where they fail."""
    f64 = np.dtype(np.float64)
    swept = _softpool_whole(x, axes, plans, nthreads, scratch)
    if swept is not None:
        return swept
    with np.errstate(over="ignore", invalid="ignore"):
        w = _engine.exp(x, out=scratch("w", x.shape, f64), nthreads=nthreads)
        # x e^x taken as the rows are added, the ratio and the test in the same sweep
        fused = _engine.window_smooth(x, axes, plans, _engine.SMOOTH_SOFT, e=w,
                                      tiny=_SOFT_MIN, empty=scratch, nthreads=nthreads)
        if fused is not None:
            out, bad = fused
        else:
            v = np.multiply(x, w, out=scratch("v", x.shape, f64), dtype=f64)
            s0 = _engine.window_sum(w, axes, plans, nthreads=nthreads, acc=f64)
            s1 = _engine.window_sum(v, axes, plans, nthreads=nthreads, acc=f64)
            bad = ~((s0 >= _SOFT_MIN) & (s0 < np.inf) & np.isfinite(s1))
            out = np.divide(s1, s0, out=s1)
    # x = -inf: 0 * -inf = NaN, its window fails
    return _patch(out, bad, x, axes, plans, _gather.SOFTPOOL, 0.0, nthreads)


def _lse(spec, nthreads, r):
    r = positive_real(r, "r")
    x = spec.x
    if x.size and all(plan.start.ndim == 1 and not plan.has_empty for plan in spec.plans):
        values = _lse_whole(x, spec.axes, spec.plans, nthreads, r) if _whole_sweep(spec) \
            else None
        if values is None:
            values = _by_slabs(x, spec, lambda part, plans, threads, scratch: _lse_slab(
                part, spec.axes, plans, threads, r, scratch), nthreads)
    else:
        values = _gather.float_reduce(x, spec.axes, spec.plans, _gather.LSE, r, nthreads)
    return _as_float(values, spec)


# Log-sum-exp as one compiled window mean.  L = log(mean(e^(r x))) / r, unshifted, is
# exact to about (n + 2) eps / r absolute (the exps' and the mean's rounding, carried
# by the log) while every e^(r x) and their mean are finite normal numbers.  That is
# as good as the shifted per-window kernel, whose error has the same (n + 2) eps / r
# term, once r max(|L|, m - L) >= 1/4 (m the window maximum): the error is then a few
# n eps relative to |L| or to the window's spread.  Other windows (flat windows near
# 0, r -> 0 where the kernel's expm1/log1p keep the mean's digits, values beyond
# the exponent range, infinities, NaN) take the kernel's value.  The choice is made
# window by window on the window's own values.  The compiled sweep (smooth.pyx)
# takes each window's mean of e^(r x) and its largest e^(r x) = e^(r m) together,
# and tests r (m - L) >= 1/4 as max e^(r x) >= e^(1/4) mean: no second pass over x
# for m, and no log but the result's.
_LSE_MARGIN = 0.25


def _lse_whole(x, axes, plans, nthreads, r, scratch=None, dtype=None):
    """Log-sum-exp pooling of float32 and float64 x in one compiled sweep that takes
    e^(r x) as it reads each row, with _lse_slab's tests; None where it does not
    apply.  The whole array, in the method's dtype, or one slab with its thread's
    ``scratch``, in ``dtype``."""
    counts = [plan.count.astype(np.float64) for plan in plans]
    # log(mean) / r taken in the sweep, row by row, and written in the result's
    # dtype: the float64 quotient rounded once (as np.put rounds the kernel's values)
    fused = _engine.window_smooth(x, axes, plans, _engine.SMOOTH_EXP_MAX, r=r,
                                  divisors=counts, tiny=_SOFT_MIN,
                                  ratio=math.exp(_LSE_MARGIN), empty=scratch,
                                  log_scale=r, dtype=dtype or mean_dtype(x.dtype),
                                  nthreads=nthreads)
    if fused is None:
        return None
    out, bad = fused
    return _patch(out, bad, x, axes, plans, _gather.LSE, r, nthreads)


def _lse_slab(x, axes, plans, nthreads, r, scratch):
    """Log-sum-exp pooling of one slab, in float64."""
    from .window import _avg
    swept = _lse_whole(x, axes, plans, nthreads, r, scratch, np.float64)
    if swept is not None:                 # e^(r x) taken in the sweep
        return swept
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        v = _engine.exp(x, r, out=scratch("v", x.shape, np.float64), nthreads=nthreads)
        counts = [plan.count.astype(np.float64) for plan in plans]
        # the mean of e^(r x), tested against the window's largest e^(r x) = e^(r m)
        fused = _engine.window_smooth(x, axes, plans, _engine.SMOOTH_EXP_MAX, e=v,
                                      divisors=counts, tiny=_SOFT_MIN,
                                      ratio=math.exp(_LSE_MARGIN), empty=scratch,
                                      log_scale=r, nthreads=nthreads)
        if fused is not None:                 # log(mean) / r taken in the sweep
            out, bad = fused
            return _patch(out, bad, x, axes, plans, _gather.LSE, r, nthreads)
        vspec = WindowSpec.from_plans(v, axes, plans, None)
        out = _avg(vspec, nthreads, count_include_pad=False, dtype=np.float64)
        good = (out >= _SOFT_MIN) & (out < np.inf)
        np.log(out, out=out)                                       # r L
        big = _engine.extremum(x, axes, plans, is_min=False, nthreads=nthreads)
        spread = np.multiply(big, r, dtype=np.float64)             # r m
        np.subtract(spread, out, out=spread)                       # r (m - L)
        np.maximum(spread, np.abs(out), out=spread)
        bad = ~(good & (spread >= _LSE_MARGIN))
        np.divide(out, r, out=out)
    return _patch(out, bad, x, axes, plans, _gather.LSE, r, nthreads)


@dask_aware
def softpool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             axes=None, channel_axis=None, out=None, workers=None):
    """SoftPool: the softmax-weighted mean ``sum(e^x x) / sum(e^x)`` of each window.

    Inputs of any magnitude (x = 1000) neither overflow nor lose the window's
    largest values: a window whose values lie within about +-600 is summed
    as it stands (one exp per element and one compiled sweep), any other
    window has its maximum subtracted first (one exp per tap).  The choice is
    made per window on its own values, so a window's result never depends on
    the rest of the array.  NaN propagates; a window whose maximum is +-inf
    gives that value.

    Stergiou, Poppe & Kalliatakis, "Refining activation downsampling with
    SoftPool", ICCV 2021.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.softpool(np.array([[0.0, 0.0], [0.0, 1000.0]]), 2)
    array([[1000.]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _finish(_bands.run("softpool", spec, resolve_workers(workers), {}), spec, out)


@dask_aware
def lse_pool(x, r, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             axes=None, channel_axis=None, out=None, workers=None):
    """Log-sum-exp pooling: ``(1/r) log(mean(e^(r x)))`` over each window.

    r -> 0 tends to average pooling, r -> inf to max pooling.  A window whose
    ``e^(r x)`` are finite normal numbers and whose result is not within
    ``1/(4r)`` of both 0 and its maximum is one exp per element and a window
    mean (error a few ``(n + 2) eps`` relative).  Any other window is computed as
    ``m + log1p(mean(expm1(r (x - m)))) / r`` with m the window maximum, so
    large ``r * x`` never overflows and r -> 0 keeps the mean's digits.  The
    choice is made per window, on its own values.

    Pinheiro & Collobert, "From image-level to pixel-level labeling with
    convolutional networks", CVPR 2015.

    Parameters
    ----------
    r : float > 0
        Sharpness.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([1.0, 3.0])
    >>> ndpool.lse_pool(x, 1e-6, 2).round(4), ndpool.lse_pool(x, 1e3, 2).round(2)
    (array([2.]), array([3.]))
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _finish(_bands.run("lse_pool", spec, resolve_workers(workers), {"r": r}), spec, out)

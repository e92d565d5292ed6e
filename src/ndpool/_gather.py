"""Geometry for the gather kernels (non-separable reductions), built from plans.

Every axis gets a row in each plan table: pooled axes their window plans,
unpooled axes a one-tap window starting at ``o``, so the kernel needs no
notion of layout.
"""
from __future__ import annotations

import math

import numpy as np

from ._dtypes import kernel_view
from ._kernels import gather as _g
from ._threads import threads_for

SOFTPOOL, LSE, STOCH_EXPECT, LP, POWER_MEAN = 0, 1, 2, 3, 4   # codes of gather.pyx


class Geometry:
    def __init__(self, shape, axes, plans):
        ndim = len(shape)
        by_axis = dict(zip(axes, plans))
        oshape = [by_axis[a].out if a in by_axis else shape[a] for a in range(ndim)]
        width = max(oshape + [1])
        self.starts = np.zeros((ndim, width), np.intp)
        self.counts = np.ones((ndim, width), np.intp)
        self.skips = np.zeros((ndim, width), np.intp)
        self.dil = np.ones(ndim, np.intp)
        self.kstride = np.zeros(ndim, np.intp)
        self.pstride = np.zeros(ndim, np.intp)
        kprod = pprod = 1
        self.max_taps = 1
        for a in reversed(range(ndim)):
            if a in by_axis:
                p = by_axis[a]
                self.starts[a, :p.out] = p.start
                self.counts[a, :p.out] = p.count
                self.skips[a, :p.out] = p.skip
                self.dil[a] = p.dilation
                self.kstride[a], self.pstride[a] = kprod, pprod
                kprod *= p.kernel
                pprod *= p.n
                self.max_taps *= int(p.count.max()) if p.out else 1
            else:
                self.starts[a, :shape[a]] = np.arange(shape[a])
        self.kernel_taps = kprod
        self.oshape = np.asarray(oshape, np.intp)
        self.istride = np.asarray([math.prod(shape[a + 1:]) for a in range(ndim)], np.intp)
        self.size = math.prod(oshape)

    def args(self):
        return (self.oshape, self.starts, self.counts, self.skips, self.dil,
                self.istride, self.kstride, self.pstride)

    def threads(self, nthreads):
        return threads_for(nthreads, self.size * self.max_taps)


def _flat(x):
    return kernel_view(x).reshape(-1)


def median(x, axes, plans, nthreads):
    """Window medians in the kernel type of ``x`` (flattened output)."""
    kx = _flat(x)
    g = Geometry(x.shape, axes, plans)
    out = np.zeros(g.size, kx.dtype)
    if g.size:
        _g.median(kx, out, *g.args(), g.max_taps, g.threads(nthreads))
    return out.reshape(tuple(g.oshape))


def float_reduce(x, axes, plans, method, param, nthreads):
    """SoftPool / LSE / stochastic expectation / Lp / power mean of every window, in float64."""
    kx = _flat(x)
    g = Geometry(x.shape, axes, plans)
    out = np.zeros(g.size, np.float64)
    if g.size:
        _g.float_reduce(kx, out, method, float(param), *g.args(), g.max_taps,
                        g.threads(nthreads))
    return out.reshape(tuple(g.oshape))


def float_reduce_at(x, axes, plans, method, param, which, nthreads):
    """float_reduce's values of the windows at flat output indices ``which`` only."""
    kx = _flat(x)
    g = Geometry(x.shape, axes, plans)
    which = np.ascontiguousarray(which, np.intp)
    out = np.zeros(which.size, np.float64)
    if which.size:
        _g.float_reduce_at(kx, out, which, method, float(param), *g.args(), g.max_taps,
                           threads_for(nthreads, which.size * g.max_taps))
    return out


def stochastic_sample(x, axes, plans, u, nthreads):
    """One activation-weighted draw per window, and its pooled flat index."""
    kx = _flat(x)
    g = Geometry(x.shape, axes, plans)
    out = np.zeros(g.size, kx.dtype)
    index = np.full(g.size, -1, np.intp)
    if g.size:
        _g.stochastic_sample(kx, out, index, np.ascontiguousarray(u, np.float64).reshape(-1),
                             *g.args(), g.max_taps, g.threads(nthreads))
    shape = tuple(g.oshape)
    return out.reshape(shape), index.reshape(shape)


def weighted(x, axes, plans, weights, nthreads):
    """Per window, ``weights @ taps`` for every row of ``weights`` (kernel-shaped rows).

    Returns an array of the output shape plus one trailing axis of len(weights).
    """
    kx = _flat(x)
    g = Geometry(x.shape, axes, plans)
    w = np.ascontiguousarray(weights, np.float64).reshape(len(weights), g.kernel_taps)
    out = np.zeros((g.size, len(w)), np.float64)
    if g.size:
        _g.weighted(kx, out, w, *g.args(), g.max_taps, g.threads(nthreads))
    return out.reshape(tuple(g.oshape) + (len(w),))

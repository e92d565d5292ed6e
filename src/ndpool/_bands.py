"""Bands: one window call cut along one axis into slabs that are pooled one by one.

A band is an output range ``[o0, o1)`` along one axis and the input slab its
windows read; its plan is the global plan's windows for that range, shifted to
the slab (``AxisPlan.part``), so the kernels see the same windows with the same
taps in the same order as in the whole-array call, and the results are
identical bit for bit.  Two users:

* :mod:`ndpool._dask`, where every chunk of a dask array is a band
  (:func:`axis_layout` places the band boundaries at input chunk boundaries).
* :func:`run`, for in-memory window calls:

  - an axis with a lazy plan (more than ``_planning.LAZY_OUTPUTS`` windows,
    whose tables would cost 32 bytes per window) always runs in bands of
    ``LAZY_BAND`` windows, each band computing its own tables;
  - the cores that keep temporaries several times the size of their output
    (max/min pooling with indices, stochastic sampling unless its kernel
    draws the uniforms itself, mixed, gated and tree pooling) cut a call
    whose output exceeds 4 MiB into up to 64 bands, so the temporaries are
    those of one band.  Smaller calls run whole.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._uniforms import Draws, take


# ---- the layout of one axis's bands ---------------------------------------------------------

def ends(plan):
    """One past the last tap of every window (start for empty windows)."""
    return plan.start + np.maximum(plan.count - 1, 0) * plan.dilation + (plan.count > 0)


@dataclass(frozen=True)
class AxisLayout:
    """Where the output chunks of one pooled axis read: output and input boundaries."""
    outs: tuple     # output chunk starts (first is 0)
    ins: tuple      # input piece starts B_k (first is 0)
    n: int          # input length
    m: int          # output length
    halo: int       # right halo every non-last piece gets

    @property
    def out_chunks(self):
        return tuple(np.diff(list(self.outs) + [self.m]).tolist())

    @property
    def in_chunks(self):
        return tuple(np.diff(list(self.ins) + [self.n]).tolist())

    def slab(self, k):
        """(input start, input stop) of the slab task k sees."""
        lo = self.ins[k]
        last = k == len(self.ins) - 1
        hi = self.n if last else min(self.ins[k + 1] + self.halo, self.n)
        return lo, hi

    def outputs(self, k):
        o1 = self.outs[k + 1] if k + 1 < len(self.outs) else self.m
        return self.outs[k], o1


def axis_layout(plan, chunks):
    n, m = plan.n, plan.out
    if m == 0 or n == 0 or len(chunks) == 1:
        return AxisLayout((0,), (0,), n, m, 0)
    valid = plan.count > 0
    last_tap = ends(plan)
    idx = np.flatnonzero(valid)
    # Halo: how far a window reaches past the first tap of the next window.
    halo = 0
    if len(idx) > 1:
        halo = int(max(0, (last_tap[idx[:-1]] - plan.start[idx[1:]]).max()))
    minlen = max(halo, 1)
    starts_valid = plan.start[idx]
    # From window o on, the smallest first tap; up to window o, the largest end.
    first_from = np.minimum.accumulate(np.where(valid, plan.start, n)[::-1])[::-1]
    end_upto = np.maximum.accumulate(np.where(valid, last_tap, 0))
    outs, ins = [0], [0]
    for b in np.cumsum(chunks)[:-1].tolist():
        j = int(np.searchsorted(starts_valid, b))
        if j >= len(idx):
            continue
        o = int(idx[j])
        if plan.skip[o] or not 0 < o < m:
            continue                  # this window starts in the padding
        if o <= outs[-1]:
            continue
        # Every window from o on must start at or after B (starts never decrease).
        B = int(plan.start[o])
        if B >= n or B - ins[-1] < minlen:
            continue
        if first_from[o] < B or end_upto[o - 1] > B + halo:
            continue
        outs.append(o)
        ins.append(B)
    while len(ins) > 1 and n - ins[-1] < minlen:
        outs.pop()
        ins.pop()
    return AxisLayout(tuple(outs), tuple(ins), n, m, halo if len(ins) > 1 else 0)


def local_plan(plan, layout, k):
    """The plan of output chunk k, in the coordinates of its slab."""
    return plan.part(*layout.outputs(k), *layout.slab(k))[2]


# ---- the cores, per public function ------------------------------------------------------

def run_core(name, spec, nthreads, p, u=None):
    """What the in-memory function computes after planning, on ``spec``.

    Returns the values, or (values, indices) where the function returns indices.
    """
    from . import _engine, _methods, mixing, rank, smooth, window
    if name in ("max_pool", "min_pool", "adaptive_max_pool"):
        is_min = name == "min_pool"
        if p.get("return_indices"):
            return _engine.arg_extremum(spec.x, spec.axes, spec.plans, is_min=is_min,
                                        nthreads=nthreads)
        return _engine.extremum(spec.x, spec.axes, spec.plans, is_min=is_min,
                                nthreads=nthreads)
    if name == "sum_pool":
        return window._sum(spec, nthreads)
    if name == "avg_pool":
        return window._avg(spec, nthreads, p["count_include_pad"], p["divisor_override"])
    if name == "adaptive_avg_pool":
        return window._avg(spec, nthreads)
    if name == "lp_pool":
        return smooth._lp(spec, nthreads, p["p"])
    if name == "power_mean_pool":
        return smooth._power_mean(spec, nthreads, p["p"], p["eps"])
    if name == "softpool":
        return smooth._softpool(spec, nthreads)
    if name == "lse_pool":
        return smooth._lse(spec, nthreads, p["r"])
    if name == "median_pool":
        return rank._median(spec, nthreads)
    if name == "mixed_pool":
        return mixing._mixed(spec, nthreads, p["alpha"])
    if name == "adaptive_pool":
        kwargs = {k: v for k, v in p.items() if k != "method"}
        return _methods.reduce(p["method"], spec, nthreads, kwargs)
    if name == "gated_pool":
        return mixing._gated(spec, nthreads, p["gate"])
    if name == "tree_pool":
        return mixing._tree(spec, nthreads, p["leaves"], p["gates"])
    if name == "stochastic_pool":
        return rank._stochastic(spec, nthreads, p["mode"], u, p["return_indices"])
    raise AssertionError(name)


def globalize(index, local_ns, offsets, global_ns):
    """Flat indices into a slab's pooled sub-shape -> into the whole array's."""
    index = np.asarray(index)
    ok = index >= 0
    if not ok.any():
        return index
    coords = np.unravel_index(np.where(ok, index, 0), local_ns)
    coords = [c + o for c, o in zip(coords, offsets)]
    flat = np.ravel_multi_index(coords, global_ns)
    return np.where(ok, flat, index).astype(np.intp, copy=False)


# ---- in-memory banding ------------------------------------------------------------------

#: Calls whose output is larger than this (counting 8 bytes per element) are cut.
WHOLE_BYTES = 2**22
#: The target output of one band (8 bytes per element), and the most bands a call gets.
BAND_BYTES = 2**18
MAX_BANDS = 64
#: Along an axis whose plan is lazy (ndpool._planning.LAZY_OUTPUTS), a band's
#: tables cover at most this many outputs (2 MiB of tables).
LAZY_BAND = 2**16


def is_long(spec):
    """Whether a pooled axis has a lazy plan, so the call must run in bands."""
    return any(plan.lazy for plan in spec.plans)


def run(name, spec, nthreads, p, rng=None):
    """``run_core(name, ...)`` band by band; the same result as one whole call.

    ``rng`` (a Generator) draws ``stochastic_pool``'s uniforms, one float64
    per output element in C order.  Bands of the first axis whose output is
    longer than 1 are contiguous runs of that order, so they draw their own
    uniforms in band order: the same sequence as one draw of the whole output.
    Bands of a later axis (a lazy plan's) take theirs from one whole draw.
    With PCG64 or PCG64DXSM the numbers are not drawn here: a run of them is
    described (_uniforms.Draws) and the fused sampling kernel computes them as
    it goes, so a call it serves is not cut for memory.
    """
    from . import _engine
    sample = name == "stochastic_pool" and p["mode"] == "sample"
    out_shape = spec.out_shape
    words = take(rng, math.prod(out_shape)) if sample else None
    # Drawn in the kernel (PCG64, and the fused sweep), the uniforms are not a
    # temporary, and the call needs no bands for memory.
    drawn = words is not None and _engine.fuses(spec.x, spec.axes, spec.plans)
    cut = _cut(name, spec, p, out_shape, memory=not drawn)
    if cut is None:
        u = None
        if sample:
            u = (Draws(words, 0, out_shape) if words is not None
                 else rng.random(out_shape))
        return run_core(name, spec, nthreads, p, u)
    axis, bands = cut
    whole_u = None
    if sample and any(m > 1 for m in out_shape[:axis]):
        whole_u = (Draws(words, 0, out_shape).array(nthreads) if words is not None
                   else rng.random(out_shape))
    results = None
    for band, where, indexing in bands:
        u = None
        if whole_u is not None:
            u = whole_u[where]
        elif sample and words is not None:   # a contiguous run of the C order
            first = where[axis].start * math.prod(out_shape[axis + 1:])
            u = Draws(words, first, band.out_shape)
        elif sample:
            u = rng.random(band.out_shape)
        parts = run_core(name, band, nthreads, p, u)
        parts = parts if isinstance(parts, tuple) else (parts,)
        if results is None:
            results = tuple(np.empty(out_shape, a.dtype) for a in parts)
        for i, (res, part) in enumerate(zip(results, parts)):
            if i == 1 and indexing is not None:
                part = globalize(part, *indexing)
            res[where] = part
    return results if len(results) > 1 else results[0]


# The cores whose temporaries are several times their output: cut for memory too.
_MEMORY_BANDED = ("max_pool", "min_pool", "stochastic_pool", "mixed_pool", "gated_pool",
                  "tree_pool")


def _cut(name, spec, p, out_shape, memory=True):
    """(axis, bands) or None (run whole); bands yield (spec, output slice, indexing).
    ``memory``: whether the call may be cut to bound its temporaries."""
    size = math.prod(out_shape)
    if size == 0 or spec.x.size == 0:
        return None
    lazy = [i for i, plan in enumerate(spec.plans) if plan.lazy]
    if lazy:
        i = lazy[0]
        axis, m = spec.axes[i], spec.plans[i].out
        count = max(-(-m // LAZY_BAND), min(m, MAX_BANDS, -(-size * 8 // BAND_BYTES)))
        return axis, _pooled_bands(spec, axis, count)
    if not memory or name not in _MEMORY_BANDED or size * 8 <= WHOLE_BYTES:
        return None
    per_channel = np.ndim(p.get("alpha", 0)) > 0     # mixed_pool's alpha per channel
    axis = next((ax for ax, m in enumerate(out_shape)
                 if m > 1 and not (per_channel and ax == spec.channel_axis)), None)
    if axis is None:
        return None
    count = min(out_shape[axis], MAX_BANDS, -(-size * 8 // BAND_BYTES))
    if count < 2:
        return None
    if axis in spec.axes:
        return axis, _pooled_bands(spec, axis, count)
    return axis, _plain_bands(spec, axis, count)


def _slice(axis, lo, hi):
    return (slice(None),) * axis + (slice(lo, hi),)


def _plain_bands(spec, axis, count):
    """Bands along an axis that is not pooled: input and output cut alike."""
    from ._spec import WindowSpec
    bounds = np.linspace(0, spec.x.shape[axis], count + 1).astype(np.int64).tolist()
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        where = _slice(axis, lo, hi)
        band = WindowSpec.from_plans(spec.x[where], spec.axes, spec.plans, spec.channel_axis)
        yield band, where, None


def _pooled_bands(spec, axis, count):
    """Bands of the outputs of a pooled axis, each on the input slab its windows read."""
    from ._spec import WindowSpec
    i = spec.axes.index(axis)
    plan = spec.plans[i]
    bounds = np.linspace(0, plan.out, count + 1).astype(np.int64).tolist()
    global_ns = [pl.n for pl in spec.plans]
    for o0, o1 in zip(bounds[:-1], bounds[1:]):
        if o1 == o0:
            continue
        lo, hi, local = plan.part(o0, o1)
        plans = list(spec.plans)
        plans[i] = local
        band = WindowSpec.from_plans(spec.x[_slice(axis, lo, hi)], spec.axes, plans,
                                     spec.channel_axis)
        offsets = [lo if j == i else 0 for j in range(len(plans))]
        yield band, _slice(axis, o0, o1), ([pl.n for pl in plans], offsets, global_ns)

"""The window engine: plans in, kernels run, one pass per pooled axis.

Max, min and sum are separable: the reduction over an N-D window equals the
reduction, axis by axis, of 1-D reductions.  Passes go from the last pooled
axis to the first, so on ties (and for NaN) the winner is the one a row-major
scan of the window would pick, which is what PyTorch's indices report.
"""
from __future__ import annotations

import math

import numpy as np

from ._dtypes import accum_dtype, extreme_values, kernel_view
from ._kernels import window as _k
from ._layout import three_d
from ._threads import threads_for


def _passes(shape, axes, plans):
    """Yield (axis, plan, shape after this pass), last pooled axis first."""
    shape = list(shape)
    for ax, plan in sorted(zip(axes, plans), key=lambda t: -t[0]):
        shape[ax] = plan.out
        yield ax, plan, tuple(shape)


def _tables(plan, outer):
    """A plan's (start, count) tables and how many consecutive rows share a table row.

    Regular plans have one table row for every plane; per-plane plans (one row
    per plane, planes leading) give each block of ``outer // rows`` rows its own.
    """
    start = plan.start if plan.start.ndim == 2 else plan.start[None]
    count = plan.count if plan.count.ndim == 2 else plan.count[None]
    return start, count, max(outer // len(start), 1)


_UNIT_START = np.zeros(1, np.intp)
_UNIT_COUNT = np.ones(1, np.intp)
_UNIT_DIV = np.ones(1, np.float64)


def _groups(axes, plans):
    """Pooled axes, last first, in runs of up to three adjacent axes (ascending inside).

    Per-plane plans (one table row per plane) always run alone, on the
    one-axis kernels.
    """
    todo = sorted(zip(axes, plans), key=lambda t: -t[0])
    groups = []
    while todo:
        group = [todo.pop(0)]
        while (todo and len(group) < 3 and todo[0][0] == group[-1][0] - 1
               and group[-1][1].start.ndim == 1 and todo[0][1].start.ndim == 1):
            group.append(todo.pop(0))
        groups.append(group[::-1])
    return groups


def _regular(plan):
    """The range [lo, hi) of a plan's windows that are whole and evenly spaced."""
    full = np.flatnonzero(plan.count == plan.kernel) if plan.stride else ()
    if len(full) == 0:
        return 0, 0
    return int(full[0]), int(full[-1]) + 1


def _fused_args(x, group):
    """The 5-D views' shapes and the plan arguments of a fused D x H x W sweep."""
    first, last = group[0][0], group[-1][0]
    outer = math.prod(x.shape[:first])
    inner = math.prod(x.shape[last + 1:])
    slots = [None] * (3 - len(group)) + [p for _, p in group]   # (D, H, W) plans
    # The array's real lengths: a plan may cover only a prefix (block_reduce's trim).
    ins = [1] * (3 - len(group)) + [x.shape[ax] for ax, _ in group]
    outs = [1 if p is None else p.out for p in slots]
    d, h, w = slots
    lo, hi = _regular(w)
    args = []
    for p in (d, h):
        args += ([_UNIT_START, _UNIT_COUNT, 1] if p is None
                 else [p.start, p.count, p.dilation])
    # No whole window, no regular sweep: a kernel of 2**62 taps must not be looped over.
    args += [w.start, w.count, w.dilation, lo, hi, w.stride, -w.before, w.kernel if hi > lo else 0]
    return (outer, *ins, inner), (outer, *outs, inner), args


def _run(kernels, x, axes, plans, nthreads, dtype, dest, **kw):
    """Reduce every pooled axis, fused where axes are adjacent; the last step writes ``dest``."""
    single, fused = kernels
    groups = _groups(axes, plans)
    for i, group in enumerate(groups):
        shape = list(x.shape)
        for ax, plan in group:
            shape[ax] = plan.out
        y = dest if i == len(groups) - 1 and dest is not None else np.empty(shape, dtype)
        ax, plan = group[0]
        if plan.start.ndim == 2:
            outer, n, inner = three_d(x.shape, ax)
            single(x.reshape(outer, n, inner), y.reshape(outer, plan.out, inner),
                   *_tables(plan, outer), plan.dilation,
                   nthreads=threads_for(nthreads, x.size), **kw)
        elif y.size and x.size:
            xs, ys, args = _fused_args(x, group)
            fused(x.reshape(xs), y.reshape(ys), *args,
                  nthreads=threads_for(nthreads, x.size), **kw)
        x = y
    return x


def window_mean(x, axes, plans, divisors, dtype, *, nthreads, dest=None):
    """Window means in one fused sweep when the pooled axes are adjacent, else None.

    ``divisors`` holds one float64 vector per pooled axis; a window's divisor
    is their product, taken in axis order.
    """
    groups = _groups(axes, plans)
    # float16 results keep the one rounding of the sum-then-divide path.
    if len(groups) != 1 or plans[0].start.ndim != 1 or dtype not in (np.float32, np.float64):
        return None
    kx = kernel_view(x)
    shape = list(x.shape)
    for ax, plan in zip(axes, plans):
        shape[ax] = plan.out
    y = dest if dest is not None else np.empty(shape, dtype)
    if y.size and kx.size:
        xs, ys, args = _fused_args(kx, groups[0])
        divs = [_UNIT_DIV] * (3 - len(divisors)) + [np.ascontiguousarray(d, np.float64)
                                                     for d in divisors]
        _k.mean_fused(kx.reshape(xs), y.reshape(ys), *args, *divs,
                      threads_for(nthreads, kx.size))
    return y


def extremum(x, axes, plans, *, is_min, nthreads, dest=None):
    """Window max (or min) of ``x`` in its own dtype."""
    kx = kernel_view(x)
    dest = _kernel_dest(dest, kx.dtype)
    y = _run((_k.extremum_pass, _k.extremum_fused), kx, axes, plans, nthreads, kx.dtype,
             dest, is_min=is_min)
    y = _from_kernel(y, x.dtype)
    _fill_empty(y, axes, plans, extreme_values(x.dtype)[1 if is_min else 0])
    return y


def arg_extremum(x, axes, plans, *, is_min, nthreads):
    """Window max (or min) and the flat index of the winner in the pooled sub-shape."""
    kx = kernel_view(x)
    idx = None
    stride = 1
    for ax, plan, shape in _passes(kx.shape, axes, plans):
        y = np.empty(shape, kx.dtype)
        yi = np.empty(shape, np.intp)
        outer, n, inner = three_d(kx.shape, ax)
        m = plan.out
        _k.arg_extremum_pass(
            kx.reshape(outer, n, inner),
            None if idx is None else idx.reshape(outer, n, inner),
            y.reshape(outer, m, inner), yi.reshape(outer, m, inner),
            *_tables(plan, outer), plan.dilation, stride, is_min,
            threads_for(nthreads, kx.size))
        kx, idx = y, yi
        stride *= plan.n
    y = _from_kernel(kx, x.dtype)
    _fill_empty(y, axes, plans, extreme_values(x.dtype)[1 if is_min else 0])
    _fill_empty(idx, axes, plans, -1)
    return y, idx


def window_sum(x, axes, plans, *, nthreads, acc=None):
    """Window sums of ``x`` in its accumulator dtype (int64, uint64 or float64)."""
    kx = kernel_view(x)
    acc = acc or accum_dtype(x.dtype)
    y = _run((_k.sum_pass, _k.sum_fused), kx, axes, plans, nthreads, acc, None)
    _fill_empty(y, axes, plans, 0)
    return y


def _kernel_dest(dest, dtype):
    """Let the last pass write straight into ``out=`` when the types agree."""
    if dest is not None and dest.dtype == dtype and dest.flags.c_contiguous:
        return dest
    return None


def _from_kernel(y, dtype):
    """Back from the kernel type to ``dtype``, always in native byte order."""
    dtype = dtype.newbyteorder("=")
    if y.dtype == dtype:
        return y
    if dtype.kind == "b":
        return y.view(np.bool_)
    return y.astype(dtype)


def pooled_grid(ndim, axes, vectors):
    """Broadcastable per-axis vectors: ``vectors[i]`` laid along ``axes[i]``."""
    grids = []
    for ax, v in zip(axes, vectors):
        shape = [1] * ndim
        shape[ax] = len(v)
        grids.append(np.asarray(v).reshape(shape))
    return grids


def _fill_empty(y, axes, plans, value):
    """Windows that hold no input element (dilated windows in the padding)."""
    if not any(p.has_empty for p in plans if p.count.ndim == 1):
        return
    empty = np.zeros((1,) * y.ndim, bool)
    for g in pooled_grid(y.ndim, axes, [p.count == 0 for p in plans]):
        empty = empty | g
    np.copyto(y, value, where=empty, casting="unsafe")

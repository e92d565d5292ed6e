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
from ._kernels import smooth as _s
from ._kernels import window as _k
from ._layout import three_d
from ._threads import threads_for
from ._uniforms import Draws


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


_UNIT_START = _k.table_view(np.zeros(1, np.intp))   # also the unit axis's skipped taps
_UNIT_COUNT = _k.table_view(np.ones(1, np.intp))
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


def _fused_args(shape, group):
    """The 5-D views' shapes and the plan arguments of a fused D x H x W sweep."""
    first, last = group[0][0], group[-1][0]
    outer = math.prod(shape[:first])
    inner = math.prod(shape[last + 1:])
    slots = [None] * (3 - len(group)) + [p for _, p in group]   # (D, H, W) plans
    # The array's real lengths: a plan may cover only a prefix (block_reduce's trim).
    ins = [1] * (3 - len(group)) + [shape[ax] for ax, _ in group]
    outs = [1 if p is None else p.out for p in slots]
    d, h, w = slots
    lo, hi = w.regular
    view = _k.table_view
    args = []
    for p in (d, h):
        args += ([_UNIT_START, _UNIT_COUNT, 1] if p is None
                 else [view(p.start), view(p.count), p.dilation])
    # No whole window, no regular sweep: a kernel of 2**62 taps must not be looped over.
    args += [view(w.start), view(w.count), w.dilation, lo, hi, w.stride, -w.before,
             w.kernel if hi > lo else 0]
    return (outer, *ins, inner), (outer, *outs, inner), args


def _steps(shape, axes, plans):
    """The passes of a call: (shape after it, fused 5-D arguments or None, group)."""
    steps = []
    for group in _groups(axes, plans):
        out = list(shape)
        for ax, plan in group:
            out[ax] = plan.out
        fused = None if group[0][1].start.ndim == 2 else _fused_args(shape, group)
        steps.append((tuple(out), fused, group))
        shape = tuple(out)
    return steps


# The steps of small calls, by shape, axes and plan identities.  Each entry
# holds its plans, so no id in a key can be reused while the entry exists.
# Planning the steps costs several microseconds, a third of a call on a
# (1, 3, 32, 32) input.  Only plans held by the plan caches (``shared``) are
# kept: plans made for one call (bands, fractional samples) would only fill it.
_STEPS = {}
_STEPS_MAX = 256
_STEPS_ELEMENTS = 2**16


def _cached_steps(shape, axes, plans):
    if (math.prod(shape) > _STEPS_ELEMENTS
            or not all(p.shared for p in plans)):
        return _steps(shape, axes, plans)
    key = (shape, tuple(axes), tuple(map(id, plans)))
    hit = _STEPS.get(key)
    if hit is not None:
        return hit[1]
    steps = _steps(shape, axes, plans)
    if len(_STEPS) >= _STEPS_MAX:
        _STEPS.clear()
    _STEPS[key] = (tuple(plans), steps)
    return steps


def _run(kernels, x, axes, plans, nthreads, dtype, dest, *flags):
    """Reduce every pooled axis, fused where axes are adjacent; the last step writes ``dest``.

    ``flags`` are the kernels' arguments before ``nthreads`` (``is_min``), passed
    by position: keyword parsing is a measurable part of a small call.
    """
    single, fused_kernel = kernels
    steps = _cached_steps(x.shape, axes, plans)
    for i, (shape, fused, group) in enumerate(steps):
        y = dest if i == len(steps) - 1 and dest is not None else np.empty(shape, dtype)
        if fused is None:
            ax, plan = group[0]
            outer, n, inner = three_d(x.shape, ax)
            single(x.reshape(outer, n, inner), y.reshape(outer, plan.out, inner),
                   *_tables(plan, outer), plan.dilation, *flags,
                   threads_for(nthreads, x.size))
        elif y.size and x.size:
            xs, ys, args = fused
            fused_kernel(x.reshape(xs), y.reshape(ys), *args, *flags,
                         threads_for(nthreads, x.size))
        x = y
    return x


def window_mean(x, axes, plans, divisors, dtype, *, nthreads, dest=None):
    """Window means in one fused sweep when the pooled axes are adjacent, else None.

    ``divisors`` holds one float64 vector per pooled axis; a window's divisor
    is their product, taken in axis order.
    """
    steps = _cached_steps(x.shape, axes, plans)
    # float16 results keep the one rounding of the sum-then-divide path.
    if len(steps) != 1 or steps[0][1] is None or dtype not in (np.float32, np.float64):
        return None
    kx = kernel_view(x)
    shape, (xs, ys, args), _ = steps[0]
    y = dest if dest is not None else np.empty(shape, dtype)
    if y.size and kx.size:
        divs = [_UNIT_DIV] * (3 - len(divisors)) + [np.ascontiguousarray(d, np.float64)
                                                     for d in divisors]
        _k.mean_fused(kx.reshape(xs), y.reshape(ys), *args, *divs,
                      threads_for(nthreads, kx.size))
    return y


def window_mixed(x, axes, plans, divisors, dtype, alpha=0.0, *, gate=None, nthreads):
    """``s * max + (1 - s) * mean`` per window in one fused sweep when the pooled axes
    are adjacent, else None.  ``s``: the float ``alpha``, or with ``gate`` (float64
    weights of the kernel's shape over the pooled axes, ascending) each window's
    ``sigmoid(gate . taps)``, padding taps adding nothing.  Means as
    window_mean's with ``divisors``; empty windows are left to the caller.
    """
    steps = _cached_steps(x.shape, axes, plans)
    if len(steps) != 1 or steps[0][1] is None or dtype not in (np.float32, np.float64):
        return None
    kx = kernel_view(x)
    shape, (xs, ys, args), group = steps[0]
    y = np.empty(shape, dtype)
    if y.size and kx.size:
        divs = [_UNIT_DIV] * (3 - len(divisors)) + [np.ascontiguousarray(d, np.float64)
                                                     for d in divisors]
        if gate is None:
            w, skips = _NO_GATE, [_UNIT_START] * 3
        else:
            w = np.ascontiguousarray(gate, np.float64)
            w, skips = w.reshape((1,) * (3 - len(group)) + w.shape), _skip_tables(group)
        _k.mixed_fused(kx.reshape(xs), y.reshape(ys), *args, *divs, w, *skips, float(alpha),
                       threads_for(nthreads, kx.size))
    return y


_NO_GATE = np.empty((0, 0, 0), np.float64)


def _skip_tables(group):
    """The fused sweep's (D, H, W) tables of taps each window skips at its start
    (padding), for the pooled axes ``group`` of a step (missing axes: none)."""
    slots = [None] * (3 - len(group)) + [p for _, p in group]
    return [_UNIT_START if p is None else _k.table_view(p.skip) for p in slots]


# smooth_fused's operations (smooth.pyx)
SMOOTH_POWER, SMOOTH_SOFT, SMOOTH_EXP_MAX = 0, 1, 2
_NO_E = np.empty((1, 1, 1, 1, 1), np.float64)
_NO_BAD = np.empty((1, 1, 1, 1, 1), np.uint8)
_NO_Y = np.empty((1, 1, 1, 1, 1), np.float64)
_NO_Y32 = np.empty((1, 1, 1, 1, 1), np.float32)


#: The most input rows a window may span (dilation's gaps included) for
#: window_smooth to take the exp in its sweep: each thread keeps that many rows of
#: e^(r x) (each row as float64).
_EXP_ROWS = 16


def window_smooth(x, axes, plans, op, *, e=None, r=None, divisors=None, p=1, absval=False,
                  lo=-math.inf, tiny=0.0, ratio=1.0, empty=None, log_scale=None,
                  dtype=np.float64, nthreads):
    """A smooth pool's window sums in one fused sweep (smooth.pyx's smooth_fused),
    in float64 or finished (below), when the pooled axes are adjacent and no window
    is empty; else None.

    ``op``: SMOOTH_POWER (the sums of ``v ** p``, p in 1, 2, 3, ``v = |x|`` if
    ``absval`` else ``x``, then ``max(v, lo)``), SMOOTH_SOFT (``sum(x e) / sum(e)``)
    or SMOOTH_EXP_MAX (the mean of ``e``), with ``e`` a float64 array of x's shape
    (``exp(x)``, ``exp(r x)``), or instead ``r``: x float32 or float64, and ``e^(r x)``
    taken in the sweep, row by row as it reads x (None where x is another dtype or
    its windows span more than _EXP_ROWS rows: the caller then passes ``e``).
    ``divisors`` as window_mean's: the sums are divided by them (SMOOTH_EXP_MAX:
    multiplied by the product of their reciprocals, within two ulps of the
    quotient, which log-sum-exp's error of (n + 2) ulps absorbs, see smooth.py;
    the division was 6% of its call).  Returns (result, bad): ``bad`` is None
    when no window is marked, else a boolean array of the result's shape
    (SMOOTH_SOFT, SMOOTH_EXP_MAX: the windows whose value the caller must take
    from the shifted per-window kernel; ``tiny`` and ``ratio`` are the tests'
    bounds, see smooth.pyx).  ``empty(name, shape, dtype)``, if given, makes the
    result ("y", float64) and the flags ("bad", uint8) in place of np.empty
    (and np.zeros for the flags): uninitialised C-contiguous arrays the caller
    may reuse.

    The result may be finished in the sweep, each row while it is in cache:
    with ``log_scale`` (SMOOTH_EXP_MAX) it is ``log(mean) / log_scale``,
    log-sum-exp's value (_vexp.h's log, the quotient rounded once), and
    ``dtype`` float32 (SMOOTH_SOFT, or with ``log_scale``) writes the float64
    values rounded to float32, without a float64 result array.  ``bad`` still
    marks windows by their sums.
    """
    steps = _cached_steps(x.shape, axes, plans)
    if (len(steps) != 1 or steps[0][1] is None
            or any(plan.has_empty for plan in plans)):
        return None
    inside = r is not None
    if inside and (x.dtype not in (np.float32, np.float64) or math.prod(
            (int(plan.count.max(initial=1)) - 1) * plan.dilation + 1
            for plan in plans[:-1]) > _EXP_ROWS):
        return None
    kx = kernel_view(x)
    shape, (xs, ys, args), _ = steps[0]
    # flags made here are zeros, whose pages are cleared only where the kernel
    # writes them: rows with a marked window (most calls mark none)
    zeroed = empty is None
    if empty is None:
        def empty(name, shape, dtype):
            return (np.zeros if name == "bad" else np.empty)(shape, dtype)
    dtype = np.dtype(dtype)
    to32 = dtype == np.float32
    if to32 and not (op == SMOOTH_SOFT or log_scale is not None):
        raise AssertionError("float32 results are finished ones")
    finish = 1 if to32 else 2 if log_scale is not None else 0
    y = empty("y", shape, dtype)
    bad = None if op == SMOOTH_POWER else empty("bad", shape, np.uint8)
    nbad = 0
    if y.size and kx.size:
        mean = 0 if divisors is None else 2 if op == SMOOTH_EXP_MAX else 1
        divs = [np.ascontiguousarray(d, np.float64) for d in (divisors if mean else ())]
        if mean == 2:                 # multiplied by the reciprocals: see the docstring
            divs = [np.divide(1.0, d) for d in divs]
        divs = [_UNIT_DIV] * (3 - len(divs)) + divs
        nbad = _s.smooth_fused(kx.reshape(xs), _NO_E if e is None else e.reshape(xs),
                               _NO_Y if to32 else y.reshape(ys),
                               _NO_BAD if bad is None else bad.reshape(ys),
                               y.reshape(ys) if to32 else _NO_Y32,
                               *args, *divs, mean, op, p, absval, lo, tiny, ratio,
                               inside, float(r) if inside else 1.0, finish,
                               float(log_scale) if log_scale is not None else 1.0,
                               zeroed, threads_for(nthreads, kx.size))
    return y, (bad.view(np.bool_) if nbad else None)


def _as_rows(x, writeable=False):
    """``x`` as a 2-D view of contiguous rows (its trailing contiguous run, the rest
    merged into one strided axis), or None where no such view exists."""
    item = x.itemsize
    run, k = 1, x.ndim
    while k and (x.shape[k - 1] == 1 or x.strides[k - 1] == run * item):
        run *= x.shape[k - 1]
        k -= 1
    lead = [(n, st) for n, st in zip(x.shape[:k], x.strides[:k]) if n != 1]
    if any(st != n2 * st2 for (_, st), (n2, st2) in zip(lead, lead[1:])):
        return None
    step = lead[-1][1] if lead else run * item
    return np.lib.stride_tricks.as_strided(x, (math.prod(n for n, _ in lead), run),
                                           (step, item), writeable=writeable)


def _numpy_has_avx512():
    """Whether NumPy's float64 exp and log are its AVX-512 loops on this CPU (its
    other builds call libm once per element): NumPy's own runtime dispatch table."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:                                         # NumPy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return False
    return bool(features.get("AVX512F"))


#: Where NumPy's float64 exp is AVX-512 code it is as fast as or faster than
#: _vexp.h's loop (on an AMD EPYC that exposes AVX-512, 2**21 float64 elements:
#: 1.8 ms against 2.1 with _vexp.h's AVX-512 clone), so exp below takes NumPy's;
#: elsewhere NumPy calls libm per element (about 6 ns) and it takes the compiled
#: one.  (SoftPool's and log-sum-exp's sweep takes _vexp.h's exp inside, on rows
#: in cache, and log-sum-exp's log on each finished row, on every machine.)
#: Both are within an ulp or two of the exact result; which one ran is fixed
#: per machine, as NumPy's own choice is.
NUMPY_SIMD_EXP = _numpy_has_avx512()


def _row_views(x, out):
    """(rows of x, the same rows of out) as 2-D views with contiguous rows of 64 or
    more elements, for the compiled elementwise kernels; None where there are none."""
    rows = _as_rows(x) if x.size else None
    if rows is None or rows.shape[1] < 64:
        return None
    dest = _as_rows(out, writeable=True)
    if (dest is None or dest.shape != rows.shape) and out.flags.c_contiguous:
        dest = out.reshape(rows.shape)     # x's rows are strided, out's are not
    return (rows, dest) if dest is not None and dest.shape == rows.shape else None


def exp(x, r=1.0, *, out=None, nthreads=1):
    """``e^(r x)`` elementwise in float64 (``r x`` rounded to float64 first), into
    ``out`` if given (float64, x's shape; it may be ``x`` itself).

    float32 and float64 arrays whose rows are at least 64 elements long take
    smooth.pyx's compiled exp (within 1 ulp of libm's, vectorised, on
    ``nthreads`` threads) unless NUMPY_SIMD_EXP; other arrays NumPy's.
    Overflow gives inf silently.
    """
    if out is None:
        out = np.empty(x.shape, np.float64)
    views = (_row_views(x, out) if x.dtype in (np.float32, np.float64)
             and not NUMPY_SIMD_EXP else None)
    if views is None:
        with np.errstate(over="ignore"):
            if r == 1.0:
                return np.exp(x, out=out, dtype=np.float64)
            np.multiply(x, r, out=out, dtype=np.float64)
            return np.exp(out, out=out)
    _s.exp_rows(views[0], float(r), views[1], threads_for(nthreads, x.size))
    return out


def compiled_exp(x, r, *, out, nthreads=1):
    """``e^(r x)`` by _vexp.h's exp, whatever NUMPY_SIMD_EXP says, for kernels'
    twins that must give their bits: x (float32 or float64) and out (float64,
    may be x) 2-D with contiguous rows of the same shape."""
    _s.exp_rows(x, float(r), out, threads_for(nthreads, x.size))
    return out


def window_weighted(x, axes, plans, weights, *, nthreads):
    """Per window, ``weights @ taps`` for each kernel-shaped row of ``weights``, in float64,
    in one fused sweep when the pooled axes are adjacent, else None.

    ``weights`` is (K, *kernel) over the pooled axes in ascending order; the result
    has the output shape plus a trailing axis of K (a view: each response is
    contiguous in memory).  Padding taps add nothing.
    """
    y = _weighted_sweep(x, axes, plans, weights, len(weights), np.float64, False, nthreads)
    return None if y is None else np.moveaxis(y, 0, -1)


def window_tree(x, axes, plans, weights, dtype, *, nthreads):
    """Tree pooling (mixing.tree_pool) in one fused sweep when the pooled axes are
    adjacent and ``dtype`` (the result's) is float32 or float64, else None.

    ``weights``: the L - 1 gates, then the L leaves, as window_weighted's; each
    output row's responses stay in the thread's buffer, where the tree is
    evaluated as mixing._tree evaluates the window_weighted responses (the same
    bits).  Empty windows are left to the caller.
    """
    if dtype not in (np.float32, np.float64):
        return None
    y = _weighted_sweep(x, axes, plans, weights, 1, dtype, True, nthreads)
    return None if y is None else y[0]


def _weighted_sweep(x, axes, plans, weights, lead, dtype, tree, nthreads):
    """window.pyx's weighted_fused into a new (lead, *out_shape) array of ``dtype``,
    or None where the pooled axes are not adjacent."""
    steps = _cached_steps(x.shape, axes, plans)
    if len(steps) != 1 or steps[0][1] is None:
        return None
    kx = kernel_view(x)
    shape, (xs, ys, args), group = steps[0]
    nk = len(weights)
    w = np.ascontiguousarray(weights, np.float64)
    w = w.reshape((nk,) + (1,) * (3 - len(group)) + w.shape[1:])
    y = np.empty((lead,) + shape, dtype)
    if y.size and kx.size:
        skips = _skip_tables(group)
        (ds, dc, dd, hs, hc, hd, ws, wc, wd, *regular) = args
        _k.weighted_fused(kx.reshape(xs), y.reshape((lead,) + ys), ds, dc, skips[0], dd,
                          hs, hc, skips[1], hd, ws, wc, skips[2], wd, *regular, w, tree,
                          threads_for(nthreads, kx.size * nk))
    elif y.size:
        y[...] = 0
    return y


def fuses(x, axes, plans):
    """Whether the window sweeps over x's pooled axes are one fused call (the
    pooled axes adjacent), which is when the *_fused kernels apply."""
    steps = _cached_steps(x.shape, axes, plans)
    return len(steps) == 1 and steps[0][1] is not None


_NO_U = np.empty((1, 1, 1, 1, 1), np.float64)
_NO_GEN = np.empty(0, np.uint64)


def stochastic_sample(x, axes, plans, u, *, with_index, nthreads):
    """Stochastic pooling's draws (and their pooled flat indices, or None) in one
    sweep when the pooled axes are adjacent, else None.  ``u``: one uniform per
    output, float64, output-shaped, or a _uniforms.Draws that the kernel draws
    itself."""
    if not fuses(x, axes, plans):
        return None
    steps = _cached_steps(x.shape, axes, plans)
    kx = kernel_view(x)
    shape, (xs, ys, args), _ = steps[0]
    y = np.empty(shape, kx.dtype)
    index = np.empty(shape if with_index else (1,) * 5, np.intp)
    if y.size:
        (ds, dc, dd, hs, hc, hd, ws, wc, wd, wlo, whi, wstride, *_rest) = args
        drawn = isinstance(u, Draws)
        _k.stochastic_fused(kx.reshape(xs), y.reshape(ys),
                            index.reshape(ys if with_index else (1,) * 5),
                            _NO_U if drawn else np.ascontiguousarray(u, np.float64).reshape(ys),
                            u.words if drawn else _NO_GEN, u.first if drawn else 0,
                            ds, dc, dd, hs, hc, hd, ws, wc, wd, wlo, whi, wstride,
                            with_index, 0.0,
                            int(np.max(dc, initial=0)) * int(np.max(hc, initial=0)),
                            threads_for(nthreads, y.size * 8))
    return _from_kernel(y, x.dtype), (index if with_index else None)


def extremum(x, axes, plans, *, is_min, nthreads, dest=None):
    """Window max (or min) of ``x`` in its own dtype."""
    kx = kernel_view(x)
    dest = _kernel_dest(dest, kx.dtype)
    y = _run((_k.extremum_pass, _k.extremum_fused), kx, axes, plans, nthreads, kx.dtype,
             dest, is_min)
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
        lo, hi = plan.regular if plan.start.ndim == 1 else (0, 0)
        _k.arg_extremum_pass(
            kx.reshape(outer, n, inner),
            None if idx is None else idx.reshape(outer, n, inner),
            y.reshape(outer, m, inner), yi.reshape(outer, m, inner),
            *_tables(plan, outer), plan.dilation, stride, is_min,
            lo, hi, -plan.before, plan.stride, plan.kernel if hi > lo else 0,
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

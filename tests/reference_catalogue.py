"""Slow, obviously-correct NumPy references for the smooth, rank and mixing catalogue.

One generic window enumerator (the same planning as reference.py, whose `plan_axis`
and `_normalize` it reuses) visits every output position with np.ndindex and lists
each window's valid taps: the value, its flat index in the pooled sub-shape and its
position in the kernel.  Every method is then a few lines straight from its paper's
formula, evaluated with Python / float64 scalars.  Pooled `axes` must be given in
ascending order (per-axis parameters follow them).  No argument validation; it must
never import ndpool.
"""
import itertools
import math
from fractions import Fraction

import numpy as np

from reference import _extreme_start, _normalize, plan_axis


class Window:
    """The valid taps of one window, in row-major scan order."""

    def __init__(self, values, flats, kpos, padded):
        self.values = values    # Python scalars: bool, int (exact) or float
        self.flats = flats      # flat indices into the pooled sub-shape
        self.kpos = kpos        # per tap, its index tuple in the kernel
        self.padded = padded    # taps inside the padded extent (avg's divisor)


def windows(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
            axes=None):
    """Return (output shape, pooled axes, iterator of (output position, Window))."""
    x = np.asarray(x)
    axes, k, s, p, d = _normalize(x, kernel_size, stride, padding, dilation, axes)
    pooled_shape = tuple(x.shape[a] for a in axes)
    plans = [plan_axis(n, *args, ceil_mode)
             for n, args in zip(pooled_shape, zip(k, s, p, d))]
    out_shape = list(x.shape)
    for a, (o, _, _) in zip(axes, plans):
        out_shape[a] = o
    out_shape = tuple(out_shape)

    def generate():
        for opos in np.ndindex(*out_shape):
            per_axis, padded = [], 1
            for i, a in enumerate(axes):
                n, (_, before, after) = pooled_shape[i], plans[i]
                taps = [(opos[a] * s[i] - before + j * d[i], j) for j in range(k[i])]
                per_axis.append([(q, j) for q, j in taps if 0 <= q < n])
                padded *= sum(-before <= q < n + after for q, _ in taps)
            values, flats, kpos = [], [], []
            for combo in itertools.product(*per_axis):
                full = list(opos)
                for a, (q, _) in zip(axes, combo):
                    full[a] = q
                values.append(x[tuple(full)].item())
                qs = tuple(q for q, _ in combo)
                flats.append(int(np.ravel_multi_index(qs, pooled_shape)) if qs else 0)
                kpos.append(tuple(j for _, j in combo))
            yield opos, Window(values, flats, kpos, padded)

    return out_shape, axes, generate()


def float_dtype(dtype):
    """The float-valued methods' result dtype: floats kept, bool and ints give float64."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _pool(x, reduce, window_args, out_dtype=None):
    x = np.asarray(x)
    out_shape, axes, gen = windows(x, **window_args)
    out = np.empty(out_shape, float_dtype(x.dtype) if out_dtype is None else out_dtype)
    with np.errstate(all="ignore"):
        for opos, w in gen:
            out[opos] = reduce(w, opos)
    return out


def _args(kernel_size, stride, padding, dilation, ceil_mode, axes):
    return dict(kernel_size=kernel_size, stride=stride, padding=padding,
                dilation=dilation, ceil_mode=ceil_mode, axes=axes)


def _f64(values):
    return [np.float64(v) for v in values]


def _has_nan(values):
    return any(isinstance(v, float) and math.isnan(v) for v in values)


# ---- smooth: Lp, power mean, SoftPool, log-sum-exp --------------------------------

def lp_pool(x, p, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
            axes=None):
    """(sum_i |x_i|^p)^(1/p) over the window's elements (padding adds nothing)."""
    def reduce(w, _):
        total = np.float64(0.0)
        for v in _f64(w.values):
            total += np.abs(v) ** np.float64(p)
        return total ** np.float64(1.0 / p)
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes))


def power_mean_pool(x, p, kernel_size, stride=None, padding=0, dilation=1,
                    ceil_mode=False, eps=None, axes=None):
    """((1/n) sum_i x_i^p)^(1/p), n the window's element count; x clamped at eps if given."""
    def reduce(w, _):
        if not w.values:
            return 0.0
        vals = _f64(w.values)
        if eps is not None:
            vals = [np.maximum(v, np.float64(eps)) for v in vals]
        total = np.float64(0.0)
        for v in vals:
            # A negative value (-inf included; C's pow(-inf, 2.5) would say +inf)
            # under a non-integer p has no real power: NaN, as documented.
            if v < 0 and float(p) != int(p):
                return np.nan
            total += np.power(v, np.float64(p))
        mean = total / np.float64(len(vals))
        if mean < 0 and float(p) == int(p) and int(p) % 2 == 1:
            return -np.power(-mean, np.float64(1.0 / p))      # odd p: the real root
        return np.power(mean, np.float64(1.0 / p))
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes))


def softpool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
             axes=None):
    """sum softmax(w) * w, softmax taken with the window maximum subtracted.

    e^(v - m) v with v = -inf is its limit 0; a window whose maximum is +-inf gives it.
    """
    def reduce(w, _):
        if not w.values:
            return 0.0
        vals = _f64(w.values)
        if _has_nan(w.values):
            return np.nan
        m = max(vals)
        if np.isinf(m):
            return m
        num = den = np.float64(0.0)
        for v in vals:
            if v == -np.inf:
                continue
            e = np.exp(v - m)
            num += e * v
            den += e
        return num / den
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes))


def lse_pool(x, r, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
             axes=None):
    """(1/r) log((1/n) sum_i e^(r x_i)) = m + (1/r) log((1/n) sum_i e^(r (x_i - m)))."""
    r = np.float64(r)

    def reduce(w, _):
        if not w.values:
            return 0.0
        vals = _f64(w.values)
        if _has_nan(w.values):
            return np.nan
        m = max(vals)
        if np.isinf(m):
            return m
        total = np.float64(0.0)
        for v in vals:
            total += np.exp(r * (v - m))
        return m + np.log(total / np.float64(len(vals))) / r
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes))


# ---- rank: median, stochastic ----------------------------------------------------

def median_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                axes=None):
    """np.median of each window for floats; ints and bool: the even-count midpoint
    rounded towards -inf (Python integers, so it never overflows); empty windows 0."""
    x = np.asarray(x)

    def reduce(w, _):
        if not w.values:
            return 0
        if x.dtype.kind == "f":
            return np.median(np.array(w.values, dtype=x.dtype))
        vals = sorted(int(v) for v in w.values)
        n = len(vals)
        if n % 2:
            return vals[n // 2]
        return (vals[n // 2 - 1] + vals[n // 2]) // 2
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes),
                 out_dtype=x.dtype)


def stochastic_expectation(x, kernel_size, stride=None, padding=0, dilation=1,
                           ceil_mode=False, axes=None):
    """sum_i p_i a_i = sum(a^2) / sum(a) with a = max(x, 0), in exact rational
    arithmetic, correctly rounded once; 0 without mass; NaN spreads. Finite x only."""
    def reduce(w, _):
        if _has_nan(w.values):
            return np.nan
        a = [Fraction(max(v, 0)) for v in w.values]
        s1 = sum(a, Fraction(0))
        return 0.0 if s1 == 0 else float(sum(v * v for v in a) / s1)
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes))


def stochastic_probabilities(x, kernel_size, stride=None, padding=0, dilation=1,
                             ceil_mode=False, axes=None):
    """{output position: {flat index: p_i}} with p_i = a_i / sum(a), a = max(x, 0)."""
    _, _, gen = windows(x, **_args(kernel_size, stride, padding, dilation, ceil_mode, axes))
    result = {}
    for opos, w in gen:
        a = [max(float(v), 0.0) for v in w.values]
        total = sum(a)
        result[opos] = {f: (ai / total if total else 0.0) for f, ai in zip(w.flats, a)}
    return result


def window_taps(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                axes=None):
    """{output position: (values, flat indices)} of every window."""
    _, _, gen = windows(x, **_args(kernel_size, stride, padding, dilation, ceil_mode, axes))
    return {opos: (w.values, w.flats) for opos, w in gen}


# ---- mixing: mixed, gated, tree (Lee, Gallagher & Tu 2016) ------------------------

def _max_avg(w, dtype):
    """max_pool's and avg_pool's (count_include_pad=True) values, as float64.

    An empty window blends to 0 (ndpool's rule for the mixing family): both are 0 here.
    """
    if not w.values:
        return np.float64(0.0), np.float64(0.0)
    if _has_nan(w.values):
        mx = np.float64(np.nan)
    else:
        mx = np.float64(max(w.values))
    if dtype.kind in "biu":
        avg = np.float64(sum(int(v) for v in w.values) / w.padded)
    else:
        avg = sum(_f64(w.values), np.float64(0.0)) / np.float64(w.padded)
    return mx, avg


def _sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


def _dot(weights, w):
    """weights . window, padding taps meeting their weights as zeros."""
    total = np.float64(0.0)
    for v, kp in zip(_f64(w.values), w.kpos):
        total += np.float64(weights[kp]) * v
    return total


def mixed_pool(x, alpha, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, axes=None, channel_axis=None):
    """alpha * max + (1 - alpha) * avg; a vector alpha is indexed by the channel."""
    x = np.asarray(x)
    alpha = np.asarray(alpha, np.float64)

    def reduce(w, opos):
        a = alpha if alpha.ndim == 0 else alpha[opos[channel_axis]]
        mx, avg = _max_avg(w, x.dtype)
        return a * mx + (1 - a) * avg
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes))


def gated_pool(x, gate, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, axes=None):
    """s * max + (1 - s) * avg with s = sigmoid(gate . window)."""
    x = np.asarray(x)
    gate = np.asarray(gate, np.float64)

    def reduce(w, _):
        s = _sigmoid(_dot(gate, w))
        mx, avg = _max_avg(w, x.dtype)
        return s * mx + (1 - s) * avg
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes))


def tree_pool(x, leaves, gates, kernel_size, stride=None, padding=0, dilation=1,
              ceil_mode=False, axes=None):
    """Lee et al. 2016: a leaf m gives v_m . window; internal node i (heap order,
    children 2i+1 and 2i+2, nodes L-1 .. 2L-2 the leaves) gives
    sigmoid(w_i . window) f_left + (1 - sigmoid(w_i . window)) f_right; the root is node 0.
    Empty windows give 0."""
    leaves = np.asarray(leaves, np.float64)
    gates = np.asarray(gates, np.float64)
    n_internal = len(gates)

    def node(i, w):
        if i >= n_internal:
            return _dot(leaves[i - n_internal], w)
        s = _sigmoid(_dot(gates[i], w))
        return s * node(2 * i + 1, w) + (1 - s) * node(2 * i + 2, w)

    def reduce(w, _):
        return node(0, w) if w.values else 0.0
    return _pool(x, reduce, _args(kernel_size, stride, padding, dilation, ceil_mode, axes))


# ---- corner pooling ---------------------------------------------------------------

def running_max(a, axis, direction):
    """max over a[i:] along axis (direction +1) or over a[:i + 1] (-1); NaN spreads."""
    a = np.moveaxis(a, axis, 0)
    r = (np.maximum.accumulate(a[::-1], axis=0)[::-1] if direction > 0
         else np.maximum.accumulate(a, axis=0))
    return np.moveaxis(r, 0, axis)


CORNERS = {"top_left": (1, 1), "top_right": (1, -1),
           "bottom_left": (-1, 1), "bottom_right": (-1, -1)}

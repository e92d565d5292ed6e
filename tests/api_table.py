"""How to call every public function: one row per function (or variant of one).

The hostile-input and thread suites (test_hostile.py, test_threads.py) run
whatever ``ndpool.__all__`` holds.  Each public name needs at least one row here
saying what a minimal valid call looks like, which of its parameters are sizes
or real numbers (the ones to attack), and how to compute the expected result:
an oracle from reference.py / reference_catalogue.py / reference_roi.py /
reference_spectral.py, or a few lines of NumPy.  A public name without a row
fails ``test_every_public_function_has_a_row``.

An oracle is called as ``oracle(x, kw)`` with the input array and every keyword
of the call; it raises :class:`NoOracle` for a keyword it does not model (then
only the checks that need no expected value run).  Rows whose function is not
(yet) in ``ndpool.__all__`` are ignored.
"""
from __future__ import annotations

import decimal
import math
from collections import Counter
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import reference_catalogue as cat
from reference import reference_pool, reference_unpool


# Calls tried per public function, reported at the end of the run (conftest.py).
CASES = Counter()


class NoOracle(Exception):
    """The oracle does not model this call; compare nothing."""


@dataclass(frozen=True)
class Row:
    func: str                       # the public name
    params: dict                    # keywords of the minimal valid call, besides the array
    oracle: Optional[Callable] = None
    variant: str = ""               # tells rows of one function apart
    shape: tuple = (4, 6)           # a valid input shape for the minimal call
    sizes: dict = field(default_factory=dict)   # integer parameter -> its least valid value
    reals: dict = field(default_factory=dict)   # real parameter -> a valid value
    arrays: Optional[Callable] = None   # x -> further array keywords (indices, gates...)
    first: str = "x"                # the name of the array argument, for error messages
    exact: bool = True              # layout-only changes give bit-identical results
    wrap: Optional[Callable] = None     # x -> the first argument (a list of levels...)
    random: bool = False            # draws from rng (the row passes a fixed seed)
    any_dtype: bool = False         # may accept complex, object... (then: the oracle's result)
    rtol: float = 1.0               # scales the float tolerance (BLAS sums in float32...)

    @property
    def id(self):
        return f"{self.func}[{self.variant}]" if self.variant else self.func

    def keywords(self, x, **changes):
        """All keywords of the call on ``x``, with ``changes`` applied (None removes one)."""
        kw = dict(self.params)
        if self.arrays is not None:
            kw.update(self.arrays(np.asarray(x)))
        kw.update(changes)
        return {k: v for k, v in kw.items() if v is not DROP}

    def first_arg(self, x):
        return x if self.wrap is None else self.wrap(x)


DROP = object()   # Row.keywords(x, name=DROP) leaves a keyword out

# Parameters that change nothing in the result, and so never stop an oracle.
NEUTRAL = {"workers", "out"}
WINDOW = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "axes")
WINDOW_SIZES = {"kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1, "workers": 1}
HUGE = 10**4    # oracles enumerate taps in Python: never beyond this many per axis


def _entries(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return list(value)
    return [value]


def _modelled(kw, known):
    unknown = set(kw) - set(known) - NEUTRAL
    if unknown:
        raise NoOracle(sorted(unknown))
    for name in ("kernel_size", "dilation", "output_size", "levels"):
        for v in _entries(kw.get(name, 1)):
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > HUGE:
                raise NoOracle(f"{name}={v} is too large to enumerate")


def _window(kw, *extra):
    _modelled(kw, WINDOW + extra)
    return {k: v for k, v in kw.items() if k in WINDOW}


def _mean_dtype(dtype):
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


# ---- window family ---------------------------------------------------------------

def pool_oracle(method):
    extra = ("count_include_pad", "divisor_override", "return_indices")

    def oracle(x, kw):
        args = _window(kw, *extra)
        args.update({k: kw[k] for k in extra if k in kw})
        return reference_pool(x, method, **args)
    return oracle


def _unpool_indices(x, kernel=2):
    """Indices of each window's first tap in the default max_unpool output (all axes)."""
    out = tuple(kernel * n for n in x.shape)
    return {"indices": np.ravel_multi_index(tuple(kernel * g for g in np.indices(x.shape)),
                                            out).astype(np.intp)}


def unpool_oracle(x, kw):
    _modelled(kw, ("kernel_size", "stride", "padding", "indices", "output_size"))
    k = _entries(kw["kernel_size"]) * (x.ndim if not isinstance(kw["kernel_size"],
                                                                (list, tuple)) else 1)
    s = k if kw.get("stride") is None else _entries(kw["stride"]) * (
        x.ndim if not isinstance(kw["stride"], (list, tuple)) else 1)
    p = _entries(kw.get("padding", 0)) * (x.ndim if not isinstance(kw.get("padding", 0),
                                                                   (list, tuple)) else 1)
    if kw.get("output_size") is not None:
        sizes = list(kw["output_size"])[-x.ndim:]
    else:
        sizes = [(n - 1) * si - 2 * pi + ki if n else 0
                 for n, ki, si, pi in zip(x.shape, k, s, p)]
    return reference_unpool(x, kw["indices"], sizes, axes=tuple(range(x.ndim)))


# ---- smooth, rank and mixing catalogue -----------------------------------------------

def catalogue_oracle(ref, *scalars, keywords=()):
    """An oracle calling reference_catalogue's ``ref(x, *scalars, **window, **keywords)``."""
    def oracle(x, kw):
        args = _window(kw, *scalars, *keywords)
        args.update({k: kw[k] for k in keywords if k in kw})
        return ref(x, *[kw[s] for s in scalars], **args)
    return oracle


def stochastic_oracle(x, kw):
    args = _window(kw, "mode")
    if kw.get("mode") != "expectation":
        raise NoOracle("sampling")
    try:
        return cat.stochastic_expectation(x, **args)
    except OverflowError:
        raise NoOracle("the exact reference takes finite values only") from None


def power_oracle(mean):
    """Lp pooling (``mean=False``: (sum |x|^p)^(1/p)) or power-mean pooling
    (((1/n) sum max(x, eps)^p)^(1/p), the real root of a negative mean for odd p),
    in 400-digit decimal arithmetic, so no magnitude of x or p under- or overflows
    (reference_catalogue's float64 formulas do, where ndpool's scaled ones do not)."""
    def oracle(x, kw):
        p, eps = kw["p"], kw.get("eps")
        args = _window(kw, "p", "eps") if mean else _window(kw, "p")
        if not (isinstance(p, (int, float)) and not isinstance(p, bool) and 0 < p < math.inf):
            raise NoOracle("p")
        shape, _, gen = cat.windows(x, **args)
        out = np.empty(shape, _mean_dtype(x.dtype))
        for pos, w in gen:
            out[pos] = _decimal_power(w.values, p, eps, mean)
        return out
    return oracle


def _decimal_power(values, p, eps, mean):
    vals = [float(v) for v in values]
    if not vals:
        return 0.0
    if any(math.isnan(v) for v in vals):
        return math.nan
    if eps is not None:
        vals = [max(v, float(eps)) for v in vals]
    if not mean:
        vals = [abs(v) for v in vals]
    if any(math.isinf(v) for v in vals):
        raise NoOracle("infinite values")
    odd = float(p).is_integer() and int(p) % 2 == 1
    if any(v < 0 for v in vals) and not float(p).is_integer():
        return math.nan
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = 400, decimal.MAX_EMAX, decimal.MIN_EMIN
        try:
            big_p = decimal.Decimal(p)
            total = sum(decimal.Decimal(v) ** big_p for v in vals)
            if mean:
                total = total / len(vals)
            if total == 0:
                return 0.0
            if total < 0:
                return -float((-total) ** (1 / big_p)) if odd else math.nan
            return float(total ** (1 / big_p))
        except (decimal.Overflow, decimal.InvalidOperation, OverflowError):
            raise NoOracle("beyond decimal's exponent range") from None


def lse_oracle(x, kw):
    """(1/r) log((1/n) sum e^(r x_i)) in 400-digit decimal arithmetic, so that r -> 0
    keeps its limit, the mean (reference_catalogue's float64 formula rounds e^(r d)
    to 1 and returns the maximum there)."""
    r = kw["r"]
    if not (isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r < math.inf):
        raise NoOracle("r")
    shape, _, gen = cat.windows(x, **_window(kw, "r"))
    out = np.empty(shape, _mean_dtype(x.dtype))
    for pos, w in gen:
        out[pos] = _decimal_lse([float(v) for v in w.values], r)
    return out


def _decimal_lse(vals, r):
    if not vals:
        return 0.0
    if any(math.isnan(v) for v in vals):
        return math.nan
    m = max(vals)
    if math.isinf(m):
        return m                               # +inf dominates; all -inf stays -inf
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = 400, decimal.MAX_EMAX, decimal.MIN_EMIN
        big_r, big_m = decimal.Decimal(r), decimal.Decimal(m)
        total = sum(((big_r * (decimal.Decimal(v) - big_m)).exp() for v in vals
                     if v != -math.inf), decimal.Decimal(0))
        return float(big_m + (total / len(vals)).ln() / big_r)


def _kernel_weights(x, count, kernel=2, seed=0):
    """``count`` weight arrays of the kernel's shape over every axis of ``x``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (count,) + (kernel,) * x.ndim)


def _gate(x):
    return {"gate": _kernel_weights(x, 1)[0]}


def _tree(x):
    return {"leaves": _kernel_weights(x, 2, seed=1), "gates": _kernel_weights(x, 1, seed=2)}


# ---- windows planned elsewhere: adaptive, global, fractional --------------------------

def bins(n, out):
    """PyTorch's adaptive bins [floor(o n / out), ceil((o + 1) n / out))."""
    return [(o * n // out, -(-(o + 1) * n // out)) for o in range(out)]


def _max_scan(block, dtype):
    """(max, flat index in the block) with PyTorch's rule: first max, last NaN wins."""
    best, where = None, -1
    for i, v in enumerate(block.ravel().tolist()):
        nan = isinstance(v, float) and math.isnan(v)
        if where < 0 or v > best or nan:
            best, where = v, i
    return best, where


def interval_pool(x, axes, intervals, method, with_indices=False):
    """Reduce x over products of per-axis [start, end) intervals; other axes carried."""
    out_shape = list(x.shape)
    for a, iv in zip(axes, intervals):
        out_shape[a] = len(iv)
    dtype = x.dtype.newbyteorder("=") if method == "max" else _mean_dtype(x.dtype)
    out = np.zeros(out_shape, dtype)
    idx = np.full(out_shape, -1, np.intp)
    pooled = [x.shape[a] for a in axes]
    for pos in np.ndindex(*out_shape):
        where = list(pos)
        for a, iv in zip(axes, intervals):
            where[a] = slice(*iv[pos[a]])
        block = x[tuple(where)]
        if block.size == 0:
            raise NoOracle("an empty window")
        if method == "max":
            out[pos], flat = _max_scan(block, x.dtype)
            local = np.unravel_index(flat, block.shape)
            idx[pos] = np.ravel_multi_index(
                [iv[pos[a]][0] + local[a] for a, iv in zip(axes, intervals)], pooled)
        else:
            with np.errstate(all="ignore"):
                out[pos] = np.sum(block, dtype=np.float64) / block.size
    return (out, idx) if with_indices else out


def _output_sizes(x, output_size):
    """Pooled axes and lengths for an adaptive output_size (int: all axes; else last k)."""
    if isinstance(output_size, (list, tuple)):
        axes = list(range(x.ndim - len(output_size), x.ndim))
        sizes = [x.shape[a] if s is None else s for a, s in zip(axes, output_size)]
    else:
        axes, sizes = list(range(x.ndim)), [output_size] * x.ndim
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
               for s in sizes):
        raise NoOracle("output_size")
    return axes, sizes


def adaptive_oracle(method, with_indices=False):
    def oracle(x, kw):
        _modelled(kw, ("output_size", "method", "return_indices"))
        if kw.get("method", method) != method:
            raise NoOracle("method")
        axes, sizes = _output_sizes(x, kw["output_size"])
        return interval_pool(x, axes, [bins(x.shape[a], s) for a, s in zip(axes, sizes)],
                             method, with_indices)
    return oracle


def global_oracle(method):
    def oracle(x, kw):
        _modelled(kw, ("method", "keepdims"))
        if kw.get("method", method) != method:
            raise NoOracle("method")
        axes = list(range(x.ndim))
        y = interval_pool(x, axes, [[(0, n)] for n in x.shape], method)
        return y if kw.get("keepdims") else y.reshape(())[()]
    return oracle


def pyramid_pool_oracle(x, kw):
    _modelled(kw, ("levels", "method"))
    if kw.get("method", "max") != "max":
        raise NoOracle("method")
    parts = []
    for level in kw["levels"] if isinstance(kw["levels"], (list, tuple)) else [kw["levels"]]:
        axes = list(range(x.ndim))
        parts.append(interval_pool(x, axes, [bins(n, level) for n in x.shape], "max").ravel())
    return np.concatenate(parts)


def strip_oracle(x, kw):
    _modelled(kw, ("method",))
    if kw.get("method", "avg") != "avg":
        raise NoOracle("method")
    strips = []
    for keep in range(x.ndim):
        intervals = [[(i, i + 1) for i in range(n)] if a == keep else [(0, n)]
                     for a, n in enumerate(x.shape)]
        strips.append(interval_pool(x, list(range(x.ndim)), intervals, "avg"))
    return strips


def _fraction_samples(x):
    """Zero samples: window 0 starts at 0 and the last at n - k on every axis."""
    return {"samples": np.zeros(x.ndim)}


def fractional_oracle(with_indices):
    def oracle(x, kw):
        _modelled(kw, ("kernel_size", "output_size", "samples", "return_indices"))
        k, out = kw["kernel_size"], kw["output_size"]
        if not (type(k) is int and out == 2 and not np.any(kw["samples"])):
            raise NoOracle("only kernel_size=k, output_size=2, zero samples")
        intervals = [[(0, k), (n - k, n)] for n in x.shape]
        return interval_pool(x, list(range(x.ndim)), intervals, "max", with_indices)
    return oracle


# ---- corner family ----------------------------------------------------------------------

running_max, CORNERS = cat.running_max, cat.CORNERS


def _corner_dirs(x, kw):
    _modelled(kw, ("corner",))
    corner = kw.get("corner", "top_left")
    if corner not in CORNERS or x.ndim != 2 or x.size == 0:
        raise NoOracle("corner")
    return CORNERS[corner]


def corner_oracle(x, kw):
    d = _corner_dirs(x, kw)
    dt = x.dtype.newbyteorder("=")
    return np.add(running_max(x, 0, d[0]), running_max(x, 1, d[1]), dtype=dt)


def cascade_oracle(x, kw):
    d = _corner_dirs(x, kw)
    dt = x.dtype.newbyteorder("=")
    rows = running_max(np.add(x, running_max(x, 1, d[1]), dtype=dt), 0, d[0])
    cols = running_max(np.add(x, running_max(x, 0, d[0]), dtype=dt), 1, d[1])
    return np.add(rows, cols, dtype=dt)


def center_oracle(x, kw):
    _modelled(kw, ())
    dt = x.dtype.newbyteorder("=")
    if x.size == 0:
        return x.astype(dt)
    total = None
    for a in range(x.ndim):
        part = np.broadcast_to(np.max(x, axis=a, keepdims=True), x.shape)
        total = part.astype(dt) if total is None else np.add(total, part, dtype=dt)
    return total


# ---- scikit-image compatibility: block_reduce, pyramid -----------------------------------

def block_reduce_oracle(func):
    def oracle(x, kw):
        from skimage.measure import block_reduce
        _modelled(kw, ("block_size", "func", "cval", "func_kwargs"))
        return block_reduce(x, block_size=kw.get("block_size", 2), func=kw.get("func", func),
                            cval=kw.get("cval", 0), func_kwargs=kw.get("func_kwargs"))
    return oracle


def _rounded_mean(values, dtype):
    """The mean of a block in ``dtype``: floats via float64, integers rounded half to even."""
    if dtype.kind == "f":
        return np.float64(sum(np.float64(v) for v in values)) / len(values)
    total = sum(int(v) for v in values)
    return round(Fraction(total, len(values)))


def pyramid_oracle(x, kw):
    """pyramid(method="mean"): each level the block means of the previous, cut blocks
    averaging the elements they hold."""
    _modelled(kw, ("factor", "levels"))
    factor, limit = kw.get("factor", 2), kw.get("levels")
    if not isinstance(factor, int) or x.dtype.kind == "b" or (limit is not None
                                                               and not _int(limit)):
        raise NoOracle("factor, levels or dtype")
    dtype = x.dtype.newbyteorder("=")
    levels = [x]
    while (limit is None or len(levels) < limit) and any(n > 1 for n in levels[-1].shape):
        prev = levels[-1]
        shape = tuple(-(-n // factor) for n in prev.shape)
        level = np.empty(shape, dtype)
        for pos in np.ndindex(*shape):
            block = prev[tuple(slice(i * factor, (i + 1) * factor) for i in pos)]
            level[pos] = _rounded_mean(block.ravel().tolist(), dtype)
        levels.append(level)
    return levels


def _int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


# ---- regions of interest: roi_pool, roi_align, adaptive_feature_pool ----------------------

def _boxes(x):
    """Two boxes, [batch_index, x1, y1, x2, y2]: inside, and half outside the map."""
    n = x.shape[0] if x.ndim else 0
    return {"boxes": np.array([[0, 0.5, 1.0, 5.0, 4.0],
                               [max(n - 1, 0), 2.0, -1.5, 9.4, 5.6]])}


def _roi_types(dtype):
    """(computation type, result type): floats compute in float32/64, the rest in float64."""
    if dtype.kind == "f":
        return (np.float32 if dtype.itemsize <= 4 else np.float64), dtype.newbyteorder("=")
    return np.float64, np.dtype(np.float64)


def roi_oracle(kind):
    def oracle(x, kw):
        import reference_roi
        known = {"pool": ("boxes", "output_size", "spatial_scale"),
                 "align": ("boxes", "output_size", "spatial_scale", "sampling_ratio", "aligned"),
                 "fused": ("boxes", "output_size", "spatial_scale", "method", "sampling_ratio",
                           "aligned")}[kind]
        _modelled(kw, known)
        rois = np.asarray(kw["boxes"], np.float64)
        size = kw["output_size"]
        ph, pw = (size, size) if _int(size) else tuple(size)
        if not (rois.ndim == 2 and rois.shape[1] == 5 and _int(ph) and _int(pw)):
            raise NoOracle("boxes or output_size")
        levels = x if kind == "fused" else [x]
        ctype, rtype = _roi_types(np.result_type(*[a.dtype for a in levels]))
        maps = [np.asarray(a).astype(ctype) for a in levels]
        scale, ratio, aligned = (kw.get("spatial_scale", 1.0), kw.get("sampling_ratio", -1),
                                 kw.get("aligned", False))
        if kind == "pool":
            out = reference_roi.roi_pool(maps[0], rois, ph, pw, scale)
        elif kind == "align":
            out = reference_roi.roi_align(maps[0], rois, ph, pw, scale, ratio, aligned)
        else:
            scale = list(scale) if isinstance(scale, (list, tuple)) else [scale] * len(maps)
            out = reference_roi.adaptive_feature_pool(maps, rois, ph, pw, scale,
                                                      kw.get("method", "max"), ratio, aligned)
        return out.astype(rtype)
    return oracle


def _pyramid_levels(x):
    """A two-level pyramid from x: x itself and every other pixel of it (a strided view)."""
    a = np.asarray(x)
    return [x, a[..., ::2, ::2]] if a.ndim >= 2 else [x]


# ---- anti-aliased, wavelet and second-order pooling --------------------------------------------

def _every_axis(x, value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * x.ndim


def spectral_oracle(kind):
    def oracle(x, kw):
        import reference_spectral as ref
        _modelled(kw, ("kernel_size", "stride", "max_kernel_size", "padding_mode", "wavelet"))
        axes = tuple(range(x.ndim))
        if x.ndim == 0 or x.size == 0:
            raise NoOracle("no axes, or nothing to filter")
        if kind == "wavelet":
            wavelet = kw.get("wavelet", "haar")
            y = ref.haar_pool(x, axes) if wavelet == "haar" else ref.wavelet_pool(x, wavelet, axes)
        else:
            ks, ss = (_every_axis(x, kw.get("kernel_size", 3)), _every_axis(x, kw.get("stride", 2)))
            if not all(_int(v) and 0 < v <= HUGE for v in ks + ss):
                raise NoOracle("sizes")
            mode = kw.get("padding_mode", "reflect")
            if kind == "blur":
                y = ref.blur_pool(x, ks, ss, mode, axes)
            else:
                mk = _every_axis(x, kw.get("max_kernel_size", 2))
                y = ref.max_blur_pool(x, ks, ss, mk, mode, axes)
        return y.astype(_mean_dtype(x.dtype))
    return oracle


def second_order_oracle(kind):
    def oracle(x, kw):
        import reference_spectral as ref
        _modelled(kw, ("channel_axis", "normalize", "beta", "keepdims"))
        if x.ndim < 2 or not _int(kw["channel_axis"]):
            raise NoOracle("layout")
        channel = kw["channel_axis"] % x.ndim
        axes = tuple(a for a in range(x.ndim) if a != channel)
        if kind == "bilinear":
            if np.isnan(x).any():      # the reference's normalisation turns NaN into 0
                raise NoOracle("NaN")
            y = ref.bilinear_pool(x, None, channel, axes, kw.get("normalize", True))
        else:
            y = ref.attention_pool(x, None, kw.get("beta", 1.0), channel, axes,
                                   kw.get("keepdims", False))
        return np.asarray(y).astype(_mean_dtype(x.dtype))
    return oracle


# ---- the table ----------------------------------------------------------------------------

SIZES = dict(WINDOW_SIZES)
WINDOW_REALS = {}

ROWS = [
    Row("max_pool", {"kernel_size": 2}, pool_oracle("max"), sizes=SIZES),
    Row("max_pool", {"kernel_size": 2, "return_indices": True}, pool_oracle("max"),
        variant="indices", sizes={"kernel_size": 1}),
    Row("min_pool", {"kernel_size": 2}, pool_oracle("min"), sizes=SIZES),
    Row("min_pool", {"kernel_size": 2, "return_indices": True}, pool_oracle("min"),
        variant="indices", sizes={"kernel_size": 1}),
    Row("avg_pool", {"kernel_size": 2}, pool_oracle("avg"),
        sizes=dict(SIZES, divisor_override=1)),
    Row("avg_pool", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                     "count_include_pad": False}, pool_oracle("avg"), variant="ceil"),
    Row("sum_pool", {"kernel_size": 2}, pool_oracle("sum"), sizes=SIZES),
    Row("max_unpool", {"kernel_size": 2}, unpool_oracle, arrays=_unpool_indices,
        sizes={"kernel_size": 1, "stride": 1, "padding": 0, "workers": 1}),
    Row("lp_pool", {"p": 2.0, "kernel_size": 2}, power_oracle(mean=False),
        sizes=SIZES, reals={"p": 2.0}),
    Row("power_mean_pool", {"p": 3.0, "kernel_size": 2, "eps": 1e-6}, power_oracle(mean=True),
        sizes=SIZES, reals={"p": 3.0, "eps": 1e-6}),
    Row("power_mean_pool", {"p": 2.5, "kernel_size": 2}, power_oracle(mean=True),
        variant="no-eps", reals={"p": 2.5}),
    Row("softpool", {"kernel_size": 2}, catalogue_oracle(cat.softpool), sizes=SIZES),
    Row("lse_pool", {"r": 1.5, "kernel_size": 2}, lse_oracle,
        sizes=SIZES, reals={"r": 1.5}),
    Row("median_pool", {"kernel_size": 2}, catalogue_oracle(cat.median_pool), sizes=SIZES),
    Row("stochastic_pool", {"kernel_size": 2, "mode": "expectation"}, stochastic_oracle,
        sizes=SIZES),
    Row("stochastic_pool", {"kernel_size": 2, "rng": 7}, variant="sample", sizes=SIZES,
        random=True),
    Row("mixed_pool", {"alpha": 0.25, "kernel_size": 2},
        catalogue_oracle(cat.mixed_pool, "alpha"), sizes=SIZES, reals={"alpha": 0.25}),
    Row("gated_pool", {"kernel_size": 2}, catalogue_oracle(cat.gated_pool, "gate"),
        arrays=_gate, sizes=SIZES),
    Row("tree_pool", {"kernel_size": 2}, catalogue_oracle(cat.tree_pool, "leaves", "gates"),
        arrays=_tree, sizes=SIZES),
    Row("adaptive_max_pool", {"output_size": 2}, adaptive_oracle("max"),
        sizes={"output_size": 0, "workers": 1}),
    Row("adaptive_max_pool", {"output_size": (3, 4), "return_indices": True},
        adaptive_oracle("max", with_indices=True), variant="indices"),
    Row("adaptive_avg_pool", {"output_size": (3, 4)}, adaptive_oracle("avg"),
        sizes={"output_size": 0, "workers": 1}),
    Row("adaptive_pool", {"output_size": 3, "method": "max"}, adaptive_oracle("max"),
        sizes={"output_size": 0, "workers": 1}),
    Row("global_pool", {}, global_oracle("avg"), sizes={"workers": 1}),
    Row("global_max_pool", {}, global_oracle("max"), sizes={"workers": 1}),
    Row("global_avg_pool", {"keepdims": True}, global_oracle("avg"), sizes={"workers": 1}),
    Row("spatial_pyramid_pool", {"levels": (1, 2)}, pyramid_pool_oracle,
        sizes={"levels": 1, "workers": 1}),
    Row("strip_pool", {}, strip_oracle, sizes={"workers": 1}),
    Row("fractional_max_pool", {"kernel_size": 2, "output_size": 2},
        fractional_oracle(False), arrays=_fraction_samples,
        sizes={"kernel_size": 1, "output_size": 1, "workers": 1}),
    Row("fractional_max_pool", {"kernel_size": 2, "output_size": 2, "return_indices": True},
        fractional_oracle(True), variant="indices", arrays=_fraction_samples),
    Row("fractional_max_pool", {"output_size": 3, "method": "graham", "rng": 3},
        variant="graham", sizes={"output_size": 1}, random=True),
    Row("fractional_max_pool", {"output_ratio": 0.5, "method": "graham",
                                "pseudo_random": False, "overlapping": True, "rng": 3},
        variant="graham-random", reals={"output_ratio": 0.5}, random=True),
    Row("corner_pool", {"corner": "top_left"}, corner_oracle, sizes={"workers": 1}),
    Row("corner_pool", {"corner": "bottom_right"}, corner_oracle, variant="bottom_right"),
    Row("center_pool", {}, center_oracle, sizes={"workers": 1}),
    Row("cascade_corner_pool", {"corner": "top_right"}, cascade_oracle,
        sizes={"workers": 1}),
    Row("block_reduce", {"block_size": 2}, block_reduce_oracle(np.sum), first="image",
        sizes={"block_size": 1, "workers": 1}, any_dtype=True),
    Row("block_reduce", {"block_size": (2, 3), "func": np.mean}, block_reduce_oracle(np.mean),
        variant="mean", first="image", any_dtype=True),
    Row("block_reduce", {"block_size": 3, "func": np.max, "cval": -1},
        block_reduce_oracle(np.max), variant="max", first="image", any_dtype=True),
    Row("block_reduce", {"block_size": (3, 4), "func": np.median},
        block_reduce_oracle(np.median), variant="median", first="image", any_dtype=True),
    Row("pyramid", {"factor": 2}, pyramid_oracle, first="image",
        sizes={"factor": 2, "levels": 1}),
    Row("roi_pool", {"output_size": 2}, roi_oracle("pool"), shape=(2, 3, 6, 8), arrays=_boxes,
        sizes={"output_size": 1, "workers": 1}, reals={"spatial_scale": 0.75}),
    Row("roi_align", {"output_size": (2, 3), "sampling_ratio": 2}, roi_oracle("align"),
        shape=(2, 3, 6, 8), arrays=_boxes,
        sizes={"output_size": 1, "sampling_ratio": -2**63, "workers": 1},
        reals={"spatial_scale": 0.75}),
    Row("roi_align", {"output_size": 3, "sampling_ratio": -1, "aligned": True},
        roi_oracle("align"), variant="adaptive-aligned", shape=(2, 3, 6, 8), arrays=_boxes),
    Row("adaptive_feature_pool", {"output_size": 2, "spatial_scale": (1.0, 0.5)},
        roi_oracle("fused"), shape=(2, 3, 6, 8), arrays=_boxes, first="levels",
        wrap=_pyramid_levels, sizes={"output_size": 1, "workers": 1}),
    Row("adaptive_feature_pool", {"output_size": (3, 2), "spatial_scale": 0.5, "method": "sum",
                                  "sampling_ratio": 1}, roi_oracle("fused"), variant="sum",
        shape=(2, 3, 6, 8), arrays=_boxes, first="levels", wrap=_pyramid_levels),
    Row("blur_pool", {}, spectral_oracle("blur"),
        sizes={"kernel_size": 1, "stride": 1, "workers": 1}),
    Row("blur_pool", {"kernel_size": (2, 4), "stride": 3, "padding_mode": "circular"},
        spectral_oracle("blur"), variant="circular"),
    Row("max_blur_pool", {}, spectral_oracle("max_blur"),
        sizes={"kernel_size": 1, "stride": 1, "max_kernel_size": 1, "workers": 1}),
    Row("wavelet_pool", {}, spectral_oracle("wavelet"), sizes={"workers": 1}),
    Row("wavelet_pool", {"wavelet": "db2"}, spectral_oracle("wavelet"), variant="db2",
        exact=False, rtol=100.0),
    Row("bilinear_pool", {"channel_axis": 0}, second_order_oracle("bilinear"), shape=(3, 4, 6),
        exact=False, rtol=10.0),
    Row("attention_pool", {"channel_axis": 0}, second_order_oracle("attention"),
        shape=(3, 4, 6), exact=False, rtol=10.0, reals={"beta": 1.0}),
]

# The names that are public but are not pooling functions of an array.
NOT_POOLING = {"show_config"}


def rows_for(public):
    """The rows whose function is public, in table order."""
    return [r for r in ROWS if r.func in public]

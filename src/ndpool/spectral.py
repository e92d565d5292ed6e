"""Pooling by low-pass filtering: blur pooling, max-blur pooling and wavelet pooling.

All three are separable linear filters followed by subsampling, so they run
as one compiled pass per pooled axis (:mod:`ndpool._kernels.filters`).  Each
axis gets a table listing, for every output position, its input rows and
their weights, with the boundary rule folded in; the kernel never sees a
boundary; two adjacent pooled axes (an image's rows and columns) are
filtered in one pass.  Results are float: float16/32/64 input keeps its
dtype, bool and integer input gives float64.  float16 and float32 are
filtered in float32, as a float32 convolution is (the weights are positive
and sum to one, so each output is within a few float32 ulps of the exact
value); float64, bool and integers in float64.  NaN propagates to every
output whose filter reaches it.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from . import _engine
from ._dtypes import as_array, kernel_view, mean_dtype
from ._kernels import filters as _f
from ._layout import permute, resolve_axes, three_d
from ._planning import per_axis, plan_axis
from ._threads import clamp, resolve_workers

__all__ = ["blur_pool", "max_blur_pool", "wavelet_pool"]

PADDING_MODES = ("reflect", "replicate", "circular", "zeros")


# ---- the separable driver ---------------------------------------------------------

# A fused pair of axes keeps a few rows along w per thread: pair only up to this size.
PAIR_LIMIT = 1 << 15
SMALL_INNER = 8   # as in _kernels/filters.pyx: below, a pass parallelises over lines


def _steps(shape, axes, tables):
    """The passes, last pooled axis first: adjacent (h, w) pairs where an input row along
    w is small enough to accumulate (one pass instead of two), else single axes."""
    todo = sorted(zip(axes, tables), key=lambda t: -t[0])
    steps = []
    while todo:
        ax, taps = todo.pop(0)
        if todo and todo[0][0] == ax - 1 and math.prod(shape[ax:]) <= PAIR_LIMIT:
            steps.append((todo.pop(0), (ax, taps)))
        else:
            steps.append(((ax, taps),))
    return steps


def _filter(x, axes, tables, nthreads, spans=None):
    """Filter every pooled axis; the result in float32 (float16/32 input) or float64.

    ``spans`` maps the axes of the first pass (see :func:`_steps`) to the
    number of rows each tap's max covers (max-blur pooling).  Unpooled trailing
    axes keep their length, so the pairing decisions made on ``x``'s shape hold.
    """
    spans = spans or {}
    real = np.float64 if mean_dtype(x.dtype) == np.float64 else np.float32
    y = kernel_view(x)
    for step in _steps(y.shape, axes, tables):
        shape = list(y.shape)
        for ax, taps in step:
            shape[ax] = len(taps.count)
        z = np.empty(shape, real)
        args = []
        for ax, taps in step:
            args += [taps.index, taps.weight, taps.count, taps.kern, taps.lo, taps.hi,
                     taps.step, taps.offset, spans.get(ax, 1)]
        if len(step) == 2:
            h = step[0][0]
            outer, inner = math.prod(y.shape[:h]), math.prod(y.shape[h + 2:])
            _f.taps_pair(y.reshape(outer, y.shape[h], y.shape[h + 1], inner),
                         z.reshape(outer, shape[h], shape[h + 1], inner), *args,
                         clamp(nthreads, outer * shape[h]))
        else:
            outer, n, inner = three_d(y.shape, step[0][0])
            m = shape[step[0][0]]
            work = outer * (m if inner >= SMALL_INNER else inner)
            _f.taps_pass(y.reshape(outer, n, inner), z.reshape(outer, m, inner), *args,
                         clamp(nthreads, work))
        y, spans = z, {}
    return y


def _first_pass_axes(shape, axes, tables):
    return [ax for ax, _ in _steps(shape, axes, tables)[0]]


def _result(y, x):
    """The working float array ``y`` in the dtype the rule gives ``x``."""
    return y.astype(mean_dtype(x.dtype), copy=False)


class Taps(NamedTuple):
    """One axis's filter: output o is ``sum_j weight[o, j] * x[index[o, j]]``, j < count[o].

    Outputs ``[lo, hi)`` are regular: their taps are ``o * step + offset + j``
    with the weights ``kern[j]``, which lets the kernel vectorise across them.
    """
    index: np.ndarray    # (m, K) intp, in [0, n)
    weight: np.ndarray   # (m, K) float64
    count: np.ndarray    # (m,) intp
    kern: np.ndarray     # (K,) float64
    lo: int
    hi: int
    step: int
    offset: int


def _taps(index, weight, kern, step, offset):
    """Compact the live taps (index >= 0) of every row to its front; find the regular rows."""
    live = index >= 0
    order = np.argsort(~live, axis=1, kind="stable")
    index = np.take_along_axis(index, order, axis=1)
    weight = np.take_along_axis(weight, order, axis=1)
    count = live.sum(axis=1).astype(np.intp)
    index = np.ascontiguousarray(np.where(index >= 0, index, 0), np.intp)
    weight = np.ascontiguousarray(
        np.where(np.arange(index.shape[1]) < count[:, None], weight, 0.0), np.float64)
    kern = np.ascontiguousarray(kern, np.float64)
    o = np.arange(len(count))
    regular = ((count == len(kern))
               & (index == o[:, None] * step + offset + np.arange(len(kern))).all(axis=1)
               & (weight == kern).all(axis=1))
    found = np.flatnonzero(regular)
    lo, hi = (int(found[0]), int(found[-1]) + 1) if len(found) else (0, 0)
    if not regular[lo:hi].all():
        lo = hi = 0
    for a in (index, weight, count, kern):
        a.flags.writeable = False   # shared by every call that hits the cache
    return Taps(index, weight, count, kern, lo, hi, step, offset)


def _boundary(raw, n, mode):
    """Map tap positions ``raw`` (any integers) into ``[0, n)``; -1 marks a zero tap."""
    if mode == "reflect":            # torch's ReflectionPad: the edge is not repeated
        period = 2 * (n - 1)
        if period == 0:
            return np.zeros_like(raw)
        r = np.mod(raw, period)
        return np.where(r < n, r, period - r)
    if mode == "replicate":
        return np.clip(raw, 0, n - 1)
    if mode == "circular":
        return np.mod(raw, n)
    return np.where((raw >= 0) & (raw < n), raw, -1)   # zeros


# ---- blur pooling -----------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def binomial(k):
    """The normalised binomial filter of length k: row k-1 of Pascal's triangle / 2**(k-1).

    Python's int / int division is correctly rounded, so every weight is the
    float nearest to the exact value, for any k.
    """
    total = 2 ** (k - 1)
    w = np.array([math.comb(k - 1, j) / total for j in range(k)])
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=256)
def _blur_table(n, k, stride, mode):
    out = (n - 1) // stride + 1 if n else 0
    raw = (np.arange(out)[:, None] * stride - (k - 1) // 2) + np.arange(k)[None, :]
    index = _boundary(raw, n, mode) if out else raw
    weight = np.broadcast_to(binomial(k), index.shape)
    return _taps(index, weight, binomial(k), stride, -((k - 1) // 2))


def _check_mode(padding_mode):
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")


def _check_blur_fits(n, k, ax, what="length"):
    # (k - 1) / 2 padding on each side must be shorter than the axis: torch's
    # rule for reflection padding, applied to every mode.
    if n and k > 2 * n - 1:
        raise ValueError(f"kernel_size={k} is too big for axis {ax} of {what} {n}: "
                         f"it must be at most 2 * {n} - 1 = {2 * n - 1}")


def _blur_setup(x, kernel_size, stride, axes, channel_axis, extra=None):
    x = as_array(x)
    raw = {"kernel_size": kernel_size, "stride": stride, **(extra or {})}
    pooled, order = resolve_axes(x.ndim, axes, channel_axis, raw)
    k = len(pooled)
    sizes = {name: permute(per_axis(v, k, name), order) for name, v in raw.items()}
    return x, pooled, sizes


def blur_pool(x, kernel_size=3, stride=2, padding_mode="reflect", *, axes=None,
              channel_axis=None, workers=None):
    """Blur pooling (anti-aliased downsampling): a binomial low-pass filter, then subsampling.

    Zhang, "Making convolutional networks shift-invariant again", ICML 2019
    (BlurPool).  Each pooled axis is filtered depthwise with the normalised
    binomial filter of length ``kernel_size`` (``[1, 1] / 2``, ``[1, 2, 1] / 4``,
    ``[1, 3, 3, 1] / 8``, ...: the N-D filter is their outer product) and
    every ``stride``-th output is kept.

    The padding follows the paper's reference implementation (antialiased-cnns,
    ``BlurPool`` with its default ``pad_type='reflect'``): before filtering,
    each pooled axis is padded by ``(kernel_size - 1) // 2`` elements before
    and ``kernel_size // 2`` after, by reflection about the edge element
    without repeating it (``torch.nn.ReflectionPad``, ``np.pad(mode="reflect")``),
    and the filter is applied without further padding.  An axis of length
    ``n`` therefore gives ``ceil(n / stride)`` outputs; output ``o`` is
    centred on input ``o * stride`` (for even kernels, between it and the
    next).  The result equals antialiased-cnns' ``BlurPool(C, filt_size=k,
    stride=s)`` (for the lengths 1 to 7 it ships; the tests compare them in
    1-, 2- and 3-D), and extends it to any kernel length and any number of
    pooled axes.

    Parameters
    ----------
    x : (..., N_1, ..., N_k, ...) array_like
        Bool, integer or float16/32/64 input, any layout.
    kernel_size : int or sequence of int, optional
        Filter length per pooled axis, >= 1 and at most ``2 * n - 1`` on an
        axis of length ``n`` (so the padding is shorter than the axis, torch's
        limit for reflection).  1 is plain subsampling ``x[::stride]``.  A
        sequence of length k pools the last k axes that are not
        ``channel_axis``; an int pools every axis except ``channel_axis``.
    stride : int or sequence of int, optional
        Subsampling step per pooled axis, >= 1 (1 blurs without subsampling).
    padding_mode : {"reflect", "replicate", "circular", "zeros"}, optional
        How the axis is extended (torch's vocabulary): "reflect" (the
        reference implementation's default), "replicate" (antialiased-cnns'
        ``'repl'``), "circular" (periodic) or "zeros" (its ``'zero'``).
    axes : int or sequence of int, optional
        The axes to pool, overriding the rules above.
    channel_axis : int, optional
        An axis never pooled.
    workers : int, optional
        Threads: None or -1 for every available core, n for at most n.  The
        result does not depend on it.

    Returns
    -------
    pooled : ndarray
        ``ceil(n / stride)`` along each pooled axis.  float16/32/64 input keeps
        its dtype (float16 is filtered in float32); bool and integer input
        gives float64.  A NaN reaches every output whose filter covers it (or
        its reflection).

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.blur_pool(np.array([0., 0., 4., 4., 4., 4.]))   # [1, 2, 1] / 4, reflect
    array([0., 3., 4.])
    >>> nchw = np.ones((2, 3, 32, 32), np.float32)
    >>> ndpool.blur_pool(nchw, (4, 4)).shape                    # filt_size=4, stride 2
    (2, 3, 16, 16)
    """
    _check_mode(padding_mode)
    x, pooled, sizes = _blur_setup(x, kernel_size, stride, axes, channel_axis)
    for ax, k in zip(pooled, sizes["kernel_size"]):
        _check_blur_fits(x.shape[ax], k, ax)
    tables = [_blur_table(x.shape[ax], k, s, padding_mode)
              for ax, k, s in zip(pooled, sizes["kernel_size"], sizes["stride"])]
    return _result(_filter(x, pooled, tables, resolve_workers(workers)), x)


def max_blur_pool(x, kernel_size=3, stride=2, max_kernel_size=2, padding_mode="reflect", *,
                  axes=None, channel_axis=None, workers=None):
    """MaxBlurPool: max pooling with stride 1, then :func:`blur_pool`.

    Zhang, "Making convolutional networks shift-invariant again", ICML 2019.
    The paper replaces ``MaxPool(k, stride=s)`` by a dense max
    (``max_kernel_size``, stride 1, no padding), which is shift-equivariant,
    followed by an anti-aliasing blur that subsamples by ``stride``; its
    reference networks use ``nn.MaxPool2d(kernel_size=2, stride=1)`` then
    ``BlurPool(C, filt_size=k, stride=2)``, which is this function's default
    up to the blur length (``kernel_size=3``, as kornia's ``MaxBlurPool2D``;
    the paper compares lengths 2, 3 and 5).  The blur pads by reflection as
    in :func:`blur_pool`.  The max is fused into the blur's pass (each tap
    reads the max of its window), so no full-size intermediate is written.

    Parameters
    ----------
    x : array_like
    kernel_size, stride, padding_mode
        The blur, as for :func:`blur_pool`; ``kernel_size`` is limited by the
        length after the max (``n - max_kernel_size + 1``).
    max_kernel_size : int or sequence of int, optional
        The stride-1 max window per pooled axis, at most the axis length.
    axes, channel_axis, workers
        As for :func:`blur_pool`.

    Returns
    -------
    pooled : ndarray
        ``ceil((n - max_kernel_size + 1) / stride)`` along each pooled axis
        (64 for n = 128 with the defaults); dtype as for :func:`blur_pool`
        (float64 for bool and integer input, whose max is taken exactly).
        NaN propagates through the max, then through the blur.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([0., 8., 0., 0., 8., 0., 0.])
    >>> ndpool.max_pool(x, 2, stride=1)
    array([8., 8., 0., 8., 8., 0.])
    >>> ndpool.max_blur_pool(x)                 # [1, 2, 1] / 4 of that, reflect, stride 2
    array([8., 4., 6.])
    """
    _check_mode(padding_mode)
    x, pooled, sizes = _blur_setup(x, kernel_size, stride, axes, channel_axis,
                                   {"max_kernel_size": max_kernel_size})
    plans, tables = [], []
    for ax, k, s, mk in zip(pooled, sizes["kernel_size"], sizes["stride"],
                            sizes["max_kernel_size"]):
        n = x.shape[ax]
        if n and mk > n:
            raise ValueError(f"max_kernel_size={mk} does not fit axis {ax} of length {n}")
        plans.append(plan_axis(n, mk, 1, 0, 1, False, axis=ax))
        m = plans[-1].out
        _check_blur_fits(m, k, ax, what="length after the max")
        tables.append(_blur_table(m, k, s, padding_mode))
    nthreads = resolve_workers(workers)
    # The max is separable: the axes of the first filter pass take theirs inside
    # it (each tap the max of max_kernel_size rows); the others get a max pass first.
    first = _first_pass_axes(x.shape, pooled, tables)
    rest = [(ax, plan) for ax, plan in zip(pooled, plans) if ax not in first]
    peaks = x
    if rest:
        peaks = _engine.extremum(x, [ax for ax, _ in rest], [p for _, p in rest],
                                 is_min=False, nthreads=nthreads)
    spans = {ax: plan.kernel for ax, plan in zip(pooled, plans) if ax in first}
    return _result(_filter(peaks, pooled, tables, nthreads, spans), x)


# ---- wavelet pooling --------------------------------------------------------------

_HAAR = (math.sqrt(0.5), math.sqrt(0.5))
_HAAR_MEAN, _HAAR_SUM = (0.5, 0.5), (1.0, 1.0)


def _wavelet(wavelet):
    """(decomposition low-pass filter, the pywt.Wavelet if its transform must round-trip).

    The second element is None for "haar" and for every wavelet whose
    PyWavelets transform reconstructs perfectly (all of PyWavelets' discrete
    wavelets but "dmey", the FIR approximation of Meyer's wavelet).
    """
    if isinstance(wavelet, str) and wavelet == "haar":
        return _HAAR, None
    if not isinstance(wavelet, str) and not hasattr(wavelet, "dec_lo"):
        raise TypeError(f"wavelet must be a wavelet name or a pywt.Wavelet, "
                        f"got {type(wavelet).__name__}")
    try:
        import pywt
    except ImportError:
        raise ImportError(f"wavelet={wavelet!r} needs PyWavelets (pip install PyWavelets); "
                          f"only 'haar' is built in") from None
    if isinstance(wavelet, str):
        if wavelet not in pywt.wavelist(kind="discrete"):
            raise ValueError(f"wavelet must be 'haar' or a discrete wavelet of PyWavelets "
                             f"(pywt.wavelist(kind='discrete')), got {wavelet!r}")
        wavelet = pywt.Wavelet(wavelet)
    banks = tuple(tuple(float(v) for v in f) for f in wavelet.filter_bank)
    if not banks[0]:
        raise ValueError(f"wavelet {wavelet.name!r} has an empty decomposition filter")
    return banks[0], (None if _reconstructs(banks) else wavelet)


@functools.lru_cache(maxsize=64)
def _reconstructs(banks):
    """Does this filter bank's periodized transform invert itself (to 1e-9)?"""
    import pywt
    w = pywt.Wavelet("custom", filter_bank=banks)
    x = np.random.default_rng(0).standard_normal(4 * max(len(f) for f in banks))
    r = pywt.idwt(*pywt.dwt(x, w, mode="periodization"), w, mode="periodization")
    return r.shape == x.shape and bool(np.abs(r - x).max() < 1e-9)


def _round_trip(y, wavelet, axes):
    """The paper's literal second level: transform, inverse transform, crop (PyWavelets)."""
    if y.size == 0:
        return y
    import pywt
    coeffs = pywt.dwtn(y, wavelet, mode="periodization", axes=axes)
    r = pywt.idwtn(coeffs, wavelet, mode="periodization", axes=axes)
    return np.ascontiguousarray(r[tuple(slice(0, n) for n in y.shape)], y.dtype)


@functools.lru_cache(maxsize=256)
def _wavelet_table(n, lowpass):
    """PyWavelets' ``dwt(..., mode="periodization")`` approximation, as a taps table.

    Coefficient ``o`` is ``sum_j f[j] * x[(F // 2 + 2 o - j) mod n']`` where an
    odd axis is first extended by repeating its last element (``n' = n + 1``);
    the taps are listed in ascending order (the filter reversed).
    """
    f = np.asarray(lowpass)[::-1]             # taps in ascending order
    even = n + n % 2
    out = even // 2
    offset = len(f) // 2 - (len(f) - 1)
    raw = 2 * np.arange(out)[:, None] + offset + np.arange(len(f))[None, :]
    index = np.minimum(np.mod(raw, even), n - 1) if out else raw
    weight = np.broadcast_to(f, index.shape)
    return _taps(index, weight, f, 2, offset)


def wavelet_pool(x, wavelet="haar", *, axes=None, channel_axis=None, workers=None):
    """Wavelet pooling: keep the second-level wavelet reconstruction, halving each axis.

    Williams & Li, "Wavelet pooling for convolutional neural networks", ICLR
    2018.  The paper decomposes the features to the second level of the fast
    wavelet transform, discards the first level's detail subbands, and
    reconstructs from the second level's subbands (approximation and
    details), which halves every pooled axis.

    By perfect reconstruction, that inverse transform returns exactly the
    first-level approximation subband, so ndpool computes it directly: one
    strided pass per pooled axis with the wavelet's decomposition low-pass
    filter (for Haar, ``(a + b) / sqrt(2)`` per pair, i.e. 2-D windows sum to
    ``(a + b + c + d) / 2``; each pair of Haar axes is computed as a pairwise
    mean then a pairwise sum, so the 1/2 is not rounded twice and whole
    numbers stay exact).  This equals the paper's round trip through
    PyWavelets (``pywt.idwtn(pywt.dwtn(pywt.dwtn(x, w)["aa"], w), w)``, the
    tests' oracle) to rounding, with the transform in ``mode="periodization"``:
    the only extension mode in which every level halves the axis exactly, as
    the paper's pooling by a factor of 2 requires.  An odd axis is extended by
    repeating its last element (PyWavelets' rule), giving ``ceil(n / 2)``.
    The one PyWavelets wavelet without perfect reconstruction, "dmey" (an FIR
    approximation of Meyer's wavelet, off by up to 1e-2), gets the literal
    second-level round trip, through PyWavelets, after the compiled first level.

    Parameters
    ----------
    x : (..., N_1, ..., N_k, ...) array_like
        Bool, integer or float16/32/64 input, any layout.
    wavelet : str or pywt.Wavelet, optional
        "haar" is built in (compiled, no dependency).  Any other discrete
        wavelet of PyWavelets ("db2", "sym4", "bior2.2", "coif1", ...) or a
        ``pywt.Wavelet`` needs PyWavelets to be installed.
    axes : int or sequence of int, optional
        The axes to pool; by default every axis except ``channel_axis`` (pass
        ``axes=(-2, -1)`` for a batch of NCHW feature maps).
    channel_axis : int, optional
        An axis never pooled.
    workers : int, optional
        Threads: None or -1 for every available core, n for at most n.

    Returns
    -------
    pooled : ndarray
        ``ceil(n / 2)`` along each pooled axis.  float16/32/64 input keeps its
        dtype, bool and integer input gives float64.  A NaN reaches every
        output whose filter covers it.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[1., 3., 0., 2.],
    ...               [5., 7., 4., 6.]])
    >>> ndpool.wavelet_pool(x)                 # Haar: each 2x2 block's sum / 2
    array([[8., 6.]])
    >>> ndpool.wavelet_pool(np.zeros((8, 3, 32, 32), np.float32), axes=(-2, -1)).shape
    (8, 3, 16, 16)
    """
    lowpass, round_trip = _wavelet(wavelet)
    x = as_array(x)
    pooled, _ = resolve_axes(x.ndim, axes, channel_axis, {})
    if lowpass is _HAAR:
        # (1/sqrt 2)^2 per pair of axes is exactly 1/2: a pairwise mean on one axis and
        # a pairwise sum on the next round once, not once per axis (whole numbers stay
        # whole), and a mean never overflows; an odd axis out keeps 1/sqrt 2.
        filters = [_HAAR_MEAN if i % 2 == 0 else _HAAR_SUM for i in range(len(pooled))]
        if len(pooled) % 2:
            filters[-1] = _HAAR
    else:
        filters = [lowpass] * len(pooled)
    tables = [_wavelet_table(x.shape[ax], f) for ax, f in zip(pooled, filters)]
    y = _filter(x, pooled, tables, resolve_workers(workers))
    if round_trip is not None:
        y = _round_trip(y, round_trip, pooled)
    return _result(y, x)


"""scikit-image compatibility: a drop-in ``block_reduce`` and image pyramids.

``block_reduce`` returns what ``skimage.measure.block_reduce`` (0.26) returns
for any ``func``.  For the NumPy reductions it knows, the window kernels (or,
for the median, a sorting network of NumPy ufuncs) reduce the full blocks;
the few partial blocks at the far edges, which scikit-image pads with
``cval``, are recomputed by ``func`` itself on a padded copy of the edge slab
only.  Any other callable, and any call with ``func_kwargs``, runs
scikit-image's own algorithm (pad, block view, ``func(..., axis=tuple)``).
"""
from __future__ import annotations

import functools
import itertools
import math
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._dask import dask_aware
from . import _engine
from ._dtypes import as_array, mean_dtype, sum_dtype
from ._layout import normalize_axis
from ._planning import MAX_SIZE, as_size, is_sequence, plan_axis
from ._threads import resolve_workers

__all__ = ["block_reduce", "pyramid"]

# The reductions with a fast path, by identity (np.amax is a distinct object).
_FAST = ((np.sum, "sum"), (np.nansum, "nansum"), (np.mean, "mean"), (np.nanmean, "nanmean"),
         (np.max, "max"), (np.amax, "max"), (np.min, "min"), (np.amin, "min"),
         (np.nanmax, "nanmax"), (np.nanmin, "nanmin"), (np.median, "median"))
_BOUNDARIES = ("pad", "trim", "exact")
_METHODS = ("mean", "max", "min", "sum", "median")
_NETWORK_MAX = 64   # larger median blocks: a partition of the stacked taps


@dask_aware
def block_reduce(image, block_size=2, func=np.sum, cval=0, func_kwargs=None, *,
                 boundary="pad", channel_axis=None, workers=None):
    """Downsample an image by applying ``func`` to non-overlapping blocks.

    A drop-in replacement for ``skimage.measure.block_reduce``: with the
    default keywords it returns what scikit-image 0.26 returns (same shape,
    dtype and values) for any ``func``, ``cval`` and ``func_kwargs``, faster.

    Parameters
    ----------
    image : (M[, ...]) array_like
        N-dimensional input image (0-D to any dimension), of any dtype NumPy
        reduces; bool, integer and float16/32/64 images take the fast paths.
    block_size : int or sequence of int
        Down-sampling factor along each axis (an int is used for every axis).
        A list or array is accepted as well as a tuple (scikit-image raises
        TypeError for them).  With ``channel_axis``, a sequence may also omit
        the channel axis.  Bools are rejected (scikit-image reads ``(True, 2)``
        as ``(1, 2)``).
    func : callable
        Called as ``func(blocks, axis=tuple_of_block_axes, **func_kwargs)``.
        ``np.sum``, ``np.mean``, ``np.max``/``np.amax``, ``np.min``/``np.amin``,
        ``np.median``, ``np.nansum``, ``np.nanmean``, ``np.nanmax`` and
        ``np.nanmin`` run compiled kernels when ``func_kwargs`` is empty.
    cval : scalar
        Value of the padding that completes partial blocks when
        ``boundary="pad"``.  It is cast to the image dtype exactly as
        ``np.pad`` casts it (so ``cval=-1`` on uint8 pads with 255), and is only
        used when some block is partial.
    func_kwargs : dict, optional
        Extra keyword arguments for ``func``, e.g. ``{"dtype": np.uint8}``
        (which makes ``np.sum`` wrap in uint8, as in scikit-image).
    boundary : {"pad", "trim", "exact"}, optional
        What to do with blocks cut by the end of an axis: "pad" (default,
        scikit-image) pads them with ``cval``; "trim" drops them (astropy and
        dask); "exact" raises ValueError unless every axis is divisible.
    channel_axis : int, optional
        An axis never reduced (block size 1).
    workers : int, optional
        Threads for the kernels: None or -1 for every available core, n for at
        most n.  The result does not depend on it.

    Returns
    -------
    ndarray
        ``ceil(M / block)`` (``floor`` with "trim") along each axis, with the
        dtype ``func`` gives (``np.sum``: int64/uint64 for bool and integer
        input, ``np.mean`` and ``np.median``: float64 for them; floats keep
        their dtype; max/min keep the input dtype).  A 0-D image gives what
        ``func`` gives on it (a NumPy scalar for the NumPy reductions).

    Raises
    ------
    ValueError
        A block size < 1, a ``block_size`` sequence of the wrong length, an
        unknown ``boundary``, or a non-divisible axis with "exact".
    TypeError
        A non-integer block size, a non-callable ``func``, or ``func_kwargs``
        that is not a mapping.

    Notes
    -----
    Exactness.  Max, min, their nan-versions, median and every integer or
    bool sum and mean equal scikit-image's bit for bit (integer sums wrap
    modulo 2**64 exactly as ``np.sum`` does).  For float input, ``np.sum``,
    ``np.mean``, ``np.nansum`` and ``np.nanmean`` accumulate in float64 and
    round once, while NumPy accumulates in the input precision in an order
    that depends on the memory layout (scikit-image's own result changes when
    the same image is stored in Fortran order).  Both agree whenever NumPy's
    partial sums are exact in the input precision (small integers, multiples
    of a power of two...); otherwise they differ by a few units in the last
    place of the input dtype relative to the sum of the block's absolute
    values, ours being the more accurate.  Blocks whose
    partial sums overflow the input precision in NumPy's order (inf) may be
    finite here.  The sign of a zero max/min of a block holding both 0.0 and
    -0.0 may differ.  Integer means of 64-bit images (or blocks of more than
    2**21 elements) that a float64 sum cannot hold exactly, and any call with
    ``func_kwargs``, take scikit-image's path, so they are exact too.

    Examples
    --------
    >>> import numpy as np
    >>> from ndpool import block_reduce
    >>> image = np.arange(3 * 3 * 4).reshape(3, 3, 4)
    >>> block_reduce(image, block_size=(3, 3, 1), func=np.mean)
    array([[[16., 17., 18., 19.]]])
    >>> block_reduce(image, (1, 3, 4), np.max)[:, 0, 0]
    array([11, 23, 35])
    >>> x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
    >>> block_reduce(x, 2, np.max, cval=-1)      # the pad is 255 in uint8
    array([[  5, 255]], dtype=uint8)
    >>> block_reduce(x, [2, 2], np.sum, boundary="trim")
    array([[12]], dtype=uint64)
    >>> block_reduce(np.ones((4, 4, 3)), 2, np.mean, channel_axis=-1).shape
    (2, 2, 3)
    """
    image = _as_image(image)
    channel = (None if channel_axis is None
               else normalize_axis(channel_axis, image.ndim, "channel_axis"))
    block = _block_shape(block_size, image.ndim, channel, "block_size")
    if not callable(func):
        raise TypeError(f"func must be callable, got {func!r}")
    if func_kwargs is None:
        func_kwargs = {}
    elif not isinstance(func_kwargs, Mapping):
        raise TypeError(f"func_kwargs must be a dict of keyword arguments for func, "
                        f"got {type(func_kwargs).__name__}")
    if not isinstance(boundary, str) or boundary not in _BOUNDARIES:
        raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")
    nthreads = resolve_workers(workers)
    if boundary == "exact":
        for ax, (n, b) in enumerate(zip(image.shape, block)):
            if n % b:
                raise ValueError(f"boundary='exact': axis {ax} of length {n} is not "
                                 f"divisible by its block size {b}")
    trim = boundary == "trim"
    if not trim:
        padded = math.prod(-(-n // b) * b for n, b in zip(image.shape, block))
        if image.size and padded * image.dtype.itemsize > np.iinfo(np.intp).max:
            raise ValueError(f"block_size {block} pads image {image.shape} to more bytes than "
                             f"an array can hold (partial blocks are padded with cval, as in "
                             f"scikit-image); use a smaller block_size or boundary='trim'")
    name = None if func_kwargs else next((n for f, n in _FAST if func is f), None)
    if name is not None and _fast_ok(image, block, trim):
        result = _fast(image, name, func, block, trim, cval, nthreads)
        if result is not None:
            return result
    if trim:
        image = image[tuple(slice(0, n - n % b) for n, b in zip(image.shape, block))]
    return _blockwise(image, block, func, cval, func_kwargs)


@dask_aware
def pyramid(image, factor=2, method="mean", *, levels=None, channel_axis=None):
    """The multiscale pyramid of an image: the image, then each level reduced by ``factor``.

    Level ``i + 1`` is level ``i`` reduced over non-overlapping blocks of
    ``factor`` with the compiled kernels, down to the level where every
    reduced axis has length 1 (or until ``levels`` arrays), as image viewers
    and OME-NGFF multiscale stores expect.

    Parameters
    ----------
    image : (M[, ...]) array_like
        Bool, integer or float16/32/64 image of any dimension.
    factor : int or sequence of int, optional
        Reduction factor per axis, as ``block_size`` of :func:`block_reduce`.
        At least one axis must have a factor > 1.
    method : {"mean", "max", "min", "sum", "median"}, optional
        The reduction of each block.
    levels : int, optional
        The most arrays to return (the input counts as one).  By default the
        pyramid continues until every reduced axis has length 1.
    channel_axis : int, optional
        An axis never reduced (factor 1).

    Returns
    -------
    list of ndarray
        Largest first; element 0 is the input array itself (not a copy).
        Each level has ``ceil(n / factor)`` along each reduced axis: a block
        cut by the end of an axis reduces over the elements it holds (no
        padding enters a mean, a max or a median).

    Notes
    -----
    Dtypes: "max", "min", "mean" and "median" keep the input dtype at every
    level; "sum" follows ``np.sum`` (int64/uint64 for bool and integers).
    Integer and bool images stay exact: block sums are accumulated in 64-bit
    integers (never wrapping in the image dtype), and the mean, and the
    median of an even count, are rounded to the nearest integer with ties to
    even (``np.rint``), in integer arithmetic.  A 64-bit image whose block
    sums could overflow is averaged in Python integers (slowly, exactly).
    Float means are accumulated in float64 and rounded once to the input
    dtype; float medians are ``np.median``'s.  NaN propagates.  Each level is
    computed from the previous (rounded) one, so level 2 of an integer image
    may differ by one from rounding the mean of its 4x4 blocks directly.

    Examples
    --------
    >>> import numpy as np
    >>> from ndpool import pyramid
    >>> x = np.array([[1, 2, 3], [4, 5, 7]], dtype=np.uint8)
    >>> levels = pyramid(x)
    >>> [level.shape for level in levels]
    [(2, 3), (1, 2), (1, 1)]
    >>> levels[1]         # (1+2+4+5)/4 = 3, (3+7)/2 = 5
    array([[3, 5]], dtype=uint8)
    >>> levels[2]         # (3+5)/2 = 4
    array([[4]], dtype=uint8)
    >>> [a.shape for a in pyramid(np.zeros((8, 6, 3)), method="max", channel_axis=-1)]
    [(8, 6, 3), (4, 3, 3), (2, 2, 3), (1, 1, 3)]
    >>> len(pyramid(np.zeros((64, 64)), levels=3))
    3
    """
    x = as_array(image, "image")
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    channel = (None if channel_axis is None
               else normalize_axis(channel_axis, x.ndim, "channel_axis"))
    block = _block_shape(factor, x.ndim, channel, "factor")
    if x.ndim and max(block) == 1:
        raise ValueError(f"factor must be > 1 on at least one axis, got {factor!r}")
    if levels is not None:
        levels = as_size(levels, "levels")
    nthreads = resolve_workers(None)
    out = [x]
    while ((levels is None or len(out) < levels)
           and any(n > 1 for n, b in zip(out[-1].shape, block) if b > 1)):
        out.append(_level(out[-1], block, method, nthreads))
    return out


# ---- parameters ---------------------------------------------------------------------

def _as_image(image):
    if isinstance(image, np.ndarray):
        return image
    arr = np.asarray(image)
    if arr.dtype == object:
        raise TypeError(f"image must be an array of numbers, got {type(image).__name__}")
    return arr


def _block_shape(size, ndim, channel, name):
    """One positive int per axis (1 on the channel axis), checked in scikit-image's order.

    As in scikit-image, a wrong length is found first, then a size < 1, then a
    size that is not an integer.
    """
    if isinstance(size, np.ndarray) and size.ndim == 0:
        size = size[()]
    free = ndim - (channel is not None)
    if is_sequence(size):
        sizes = list(size)
        labels = [f"{name}[{i}]" for i in range(len(sizes))]
        if channel is not None and len(sizes) == free:
            sizes.insert(channel, 1)
            labels.insert(channel, name)
        elif len(sizes) != ndim:
            allowed = f"{ndim}" + (f", or {free} leaving out channel_axis" if channel is not None
                                   else "")
            raise ValueError(f"{name} must be an integer or have one entry per axis of the "
                             f"image ({allowed}), got {len(sizes)}: {size!r}")
    else:
        sizes, labels = [size], [name]
    for v, label in zip(sizes, labels):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{label} must be an integer, got {v!r}")
        if v < 1:
            raise ValueError(f"{label} must be >= 1 (use skimage.transform.resize to "
                             f"up-sample), got {v!r}")
    for v, label in zip(sizes, labels):
        if not isinstance(v, numbers.Integral):
            raise TypeError(f"{label} must be an integer, got {v!r}")
        if v > MAX_SIZE:
            raise ValueError(f"{label} must be at most 2**63 - 1 (the longest an array axis "
                             f"can be), got {v!r}")
    if not is_sequence(size):
        return tuple(1 if a == channel else int(size) for a in range(ndim))
    block = tuple(int(v) for v in sizes)
    if channel is not None and block[channel] != 1:
        raise ValueError(f"{name} must be 1 on channel_axis={channel}, got {block[channel]}")
    return block


# ---- scikit-image's algorithm, for any func -------------------------------------------

def _blocks(image, block):
    """The block view of scikit-image's ``view_as_blocks`` (same shape and strides)."""
    shape = tuple(n // b for n, b in zip(image.shape, block)) + tuple(block)
    strides = tuple(s * b for s, b in zip(image.strides, block)) + image.strides
    return as_strided(image, shape, strides)


def _blockwise(image, block, func, cval, kwargs):
    """Pad the partial blocks with ``cval`` and apply ``func`` over the block axes."""
    pad = [(0, -n % b) for n, b in zip(image.shape, block)]
    if any(after for _, after in pad):
        image = np.pad(image, pad, mode="constant", constant_values=cval)
    axis = tuple(range(image.ndim, 2 * image.ndim))
    return func(_blocks(image, block), axis=axis, **kwargs)


# ---- fast paths -----------------------------------------------------------------------

def _fast_ok(image, block, trim):
    dt = image.dtype
    return (dt.kind in "biuf" and dt.itemsize <= 8 and image.ndim > 0 and max(block) > 1
            and all((n - n % b if trim else n) > 0 for n, b in zip(image.shape, block)))


def _fast(x, name, func, block, trim, cval, nthreads):
    """Kernels over every block, then the partial ones redone by ``func`` itself.

    Returns None where the kernels cannot be exact (the caller falls back).
    """
    axes = [a for a, b in enumerate(block) if b > 1]
    plans = [plan_axis(x.shape[a] - (x.shape[a] % block[a] if trim else 0), block[a],
                       block[a], 0, 1, not trim, axis=a) for a in axes]
    interior = tuple(slice(0, n // b) for n, b in zip(x.shape, block))
    if name == "median":
        shape = [n // b if trim else -(-n // b) for n, b in zip(x.shape, block)]
        y = _median_blocks(x, block, shape, interior)
    elif name.endswith(("max", "min")):
        y = _extreme(x, name, axes, plans, interior, nthreads)
    else:
        y = _sum_mean(x, name, axes, plans, interior, math.prod(block), nthreads)
    if y is not None and not trim:
        for src, dst in _edges(x.shape, axes, plans):
            y[dst] = _blockwise(x[src], block, func, cval, {})
    return y


def _edges(shape, axes, plans):
    """(input index, output index) of disjoint slabs that hold every partial block."""
    src, dst = [slice(None)] * len(shape), [slice(None)] * len(shape)
    for a, p in zip(axes, plans):
        if p.count[-1] < p.kernel:
            last = (p.out - 1) * p.kernel
            s, d = src.copy(), dst.copy()
            s[a], d[a] = slice(last, None), slice(p.out - 1, None)
            yield tuple(s), tuple(d)
            if p.out == 1:
                return   # every later slab would be empty
            src[a], dst[a] = slice(0, last), slice(0, p.out - 1)


def _extreme(x, name, axes, plans, interior, nthreads):
    is_min = name.endswith("min")
    y = _engine.extremum(x, axes, plans, is_min=is_min, nthreads=nthreads)
    if name.startswith("nan") and x.dtype.kind == "f" and np.isnan(y).any():
        # Some block holds NaN: redo them all without it, NaN where nothing is left.
        nan = np.isnan(x)
        y = _engine.extremum(np.where(nan, np.inf if is_min else -np.inf, x), axes, plans,
                             is_min=is_min, nthreads=nthreads)
        left = _engine.extremum(~nan, axes, plans, is_min=False, nthreads=nthreads)
        y[~left] = np.nan
        if not left[interior].all():
            warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=4)
    return y


def _sum_mean(x, name, axes, plans, interior, k, nthreads):
    mean = name.endswith("mean")
    is_float = x.dtype.kind == "f"
    if mean and not is_float and not _sums_below(x, k, 2**53):
        return None   # NumPy's float64 sum could round: let NumPy do it
    f64 = np.dtype(np.float64)
    if mean and not is_float:
        # Exact sums, each divided by the block size in the kernel: the quotients
        # NumPy's sum / count gives, without a float64 sum array and a pass over it.
        y = _engine.window_mean(x, axes, plans, [np.full(p.out, float(p.kernel))
                                                 for p in plans], f64, nthreads=nthreads)
        if y is not None:
            return y
    acc = _engine.window_sum(x, axes, plans, nthreads=nthreads,
                             acc=f64 if mean or is_float else None)
    count = k
    if name.startswith("nan") and is_float and np.isnan(acc).any():
        nan = np.isnan(x)
        acc = _engine.window_sum(np.where(nan, 0, x), axes, plans, nthreads=nthreads, acc=f64)
        if mean:
            count = k - _engine.window_sum(nan, axes, plans, nthreads=nthreads)
            if not count[interior].all():
                warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=4)
    if is_float:
        acc += 0.0   # NumPy's sums start from +0.0: a block of -0.0 sums to +0.0
    if mean:
        with np.errstate(invalid="ignore", divide="ignore"):
            acc /= count
        return acc.astype(mean_dtype(x.dtype), copy=False)
    return acc.astype(sum_dtype(x.dtype), copy=False)


def _sums_below(x, k, limit):
    """Whether sums of k elements of the integer array x stay below limit in magnitude.

    Decided from the dtype's range when that suffices, else from the data's.
    """
    if x.dtype.kind == "b":
        return k < limit
    info = np.iinfo(x.dtype)
    if max(-int(info.min), int(info.max)) * k < limit:
        return True
    return x.size == 0 or max(-int(x.min()), int(x.max())) * k < limit


# ---- median: a sorting network over the block's taps -----------------------------------

@functools.lru_cache(maxsize=None)
def _network(k):
    """Comparators of Batcher's odd-even merge sort on k wires (any k >= 1)."""
    pairs, p = [], 1
    while p < k:
        q = p
        while q >= 1:
            for j in range(q % p, k - q, 2 * q):
                for i in range(min(q, k - j - q)):
                    if (i + j) // (2 * p) == (i + j + q) // (2 * p):
                        pairs.append((i + j, i + j + q))
            q //= 2
        p *= 2
    return tuple(pairs)


def _middle(x, block):
    """(lower middle, upper middle, maximum) of the taps of every block of x.

    x is divisible into blocks.  NaN propagates into the maximum (np.maximum
    and np.minimum spread it to both outputs of a comparator).
    """
    k = math.prod(block)
    taps = [x[tuple(slice(o, None, b) for o, b in zip(offsets, block))]
            for offsets in itertools.product(*(range(b) for b in block))]
    if k <= _NETWORK_MAX:
        for i, j in _network(k):
            taps[i], taps[j] = np.minimum(taps[i], taps[j]), np.maximum(taps[i], taps[j])
        return taps[(k - 1) // 2], taps[k // 2], taps[-1]
    part = np.partition(np.stack(taps, axis=-1), sorted({(k - 1) // 2, k // 2, k - 1}), axis=-1)
    lo = part[..., (k - 1) // 2]
    return lo, lo if k % 2 else part[..., k // 2], part[..., -1]


def _numpy_median(lo, hi, top, dtype, out):
    """Write np.median of the blocks into out: ``mean([lo, hi])`` (or ``mean([lo])``).

    np.mean sums from +0.0 in float64 for integers, float32 for float16, else
    in the dtype; a block holding NaN gives NaN.
    """
    is_float = dtype.kind == "f"
    work = np.dtype(np.float32 if is_float and dtype.itemsize == 2 else out.dtype)
    m = out if out.dtype == work else np.empty(out.shape, work)
    if lo is hi:
        np.add(lo, 0, out=m, dtype=work)     # (0 + x) / 1: -0.0 becomes +0.0
    else:
        np.add(lo, hi, out=m, dtype=work)
        if is_float:
            m += 0
        m *= 0.5                             # == / 2, exactly
    if is_float:
        np.copyto(m, np.nan, where=np.isnan(top))
    if m is not out:
        out[...] = m


# The network keeps every tap of a block as an array of the output's size; above
# this many bytes of taps, the full blocks are taken in bands (up to 64) of block rows.
_MEDIAN_BAND_BYTES = 2**20


def _median_blocks(x, block, shape, interior):
    """np.median of every full block; the partial ones are left for the caller."""
    y = np.empty(shape, x.dtype.newbyteorder("=") if x.dtype.kind == "f" else np.float64)
    full = x[tuple(slice(0, n - n % b) for n, b in zip(x.shape, block))]
    out = y[interior]
    taps = math.prod(block) * out.size * x.dtype.itemsize
    axis = next((a for a, n in enumerate(out.shape) if n > 1), None)
    if axis is None or taps <= _MEDIAN_BAND_BYTES:
        _numpy_median(*_middle(full, block), x.dtype, out)
        return y
    count = min(out.shape[axis], 64, -(-taps // _MEDIAN_BAND_BYTES))
    bounds = np.linspace(0, out.shape[axis], count + 1).astype(np.int64).tolist()
    lead = (slice(None),) * axis
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        src = full[lead + (slice(lo * block[axis], hi * block[axis]),)]
        _numpy_median(*_middle(src, block), x.dtype, out[lead + (slice(lo, hi),)])
    return y


# ---- pyramid levels ---------------------------------------------------------------------

def _level(x, block, method, nthreads):
    """One pyramid step: blocks of ``block``, partial blocks over the elements they hold."""
    axes = [a for a, b in enumerate(block) if b > 1 and x.shape[a] > 1]
    plans = [plan_axis(x.shape[a], block[a], block[a], 0, 1, True, axis=a) for a in axes]
    shape = list(x.shape)
    for a, p in zip(axes, plans):
        shape[a] = p.out
    dtype = sum_dtype(x.dtype) if method == "sum" else x.dtype.newbyteorder("=")
    if x.size == 0:
        return np.empty(shape, dtype)
    if method in ("max", "min"):
        return _engine.extremum(x, axes, plans, is_min=method == "min", nthreads=nthreads)
    if method == "sum":
        return _engine.window_sum(x, axes, plans, nthreads=nthreads).astype(dtype, copy=False)
    block = tuple(block[a] if a in axes else 1 for a in range(x.ndim))
    if method == "median":
        y = np.empty(shape, dtype)
        for src, dst, bs in _regions(x.shape, block):
            lo, hi, top = _middle(x[src], bs)
            if x.dtype.kind == "f":
                _numpy_median(lo, hi, top, x.dtype, y[dst])
            else:
                y[dst] = _round_half_even_midpoint(lo, hi)
        return y
    count = 1
    for g in _engine.pooled_grid(x.ndim, axes, [p.count for p in plans]):
        count = count * g
    if x.dtype.kind == "f":
        total = _engine.window_sum(x, axes, plans, nthreads=nthreads)
        return (total / count).astype(dtype)
    return _rounded_mean(x, axes, plans, block, shape, count, nthreads).astype(dtype)


def _regions(shape, block):
    """(input index, output index, block shape) of the regions of equal block shape."""
    per_axis = []
    for n, b in zip(shape, block):
        full, rem = divmod(n, b)
        per_axis.append([(slice(0, full * b), slice(0, full), b)] * bool(full)
                        + [(slice(full * b, n), slice(full, full + 1), rem)] * bool(rem))
    for parts in itertools.product(*per_axis):
        yield tuple(zip(*parts)) if parts else ((), (), ())


def _round_half_even_midpoint(lo, hi):
    """(lo + hi) / 2 rounded to the nearest integer, ties to even, without overflow."""
    if lo is hi:
        return lo
    if lo.dtype.kind == "b":
        lo, hi = lo.view(np.uint8), hi.view(np.uint8)
    floor = (lo >> 1) + (hi >> 1) + (lo & hi & 1)
    return floor + ((lo ^ hi) & floor & 1)


def _rounded_mean(x, axes, plans, block, shape, count, nthreads):
    """Integer block means rounded half to even, exactly.

    While block sums stay below 2**52 in magnitude, float64 holds them exactly and
    ``rint(sum / count)`` is exact: a tie is representable, and any other quotient
    lies at least 1 / (2 count) from a half-integer, farther than float64's error.
    """
    k = math.prod(block)
    if _sums_below(x, k, 2**52):
        total = _engine.window_sum(x, axes, plans, nthreads=nthreads, acc=np.dtype(np.float64))
        total /= count
        return np.rint(total, out=total)
    if _sums_below(x, k, 2**63):
        total = _engine.window_sum(x, axes, plans, nthreads=nthreads)
        count = count.astype(total.dtype)
    else:   # int64 / uint64 block sums could wrap: sum Python integers instead
        total = np.empty(shape, object)
        for src, dst, bs in _regions(x.shape, block):
            total[dst] = _blocks(x[src].astype(object), bs).sum(
                axis=tuple(range(x.ndim, 2 * x.ndim)))
        count = np.broadcast_to(count, shape).astype(object)
    q, r = total // count, total % count   # (np.divmod has no object loop)
    return q + ((2 * r > count) | ((2 * r == count) & (q % 2 == 1)))

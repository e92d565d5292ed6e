"""Pooling across channels: bilinear (second-order) pooling and attention (Hopfield) pooling.

Both reduce every position's channel vector against another vector (a second
map's, or a query): the arrays are viewed as (batch, channels, positions) or
(batch, positions, channels), whichever the memory layout gives without a
copy. Bilinear pooling's kernel is a matrix product, handed to ``np.matmul``
(BLAS, multi-threaded by the BLAS library); attention pooling's are compiled
kernels (``_kernels/positions.pyx``) on every core. Neither takes
``workers``. The pooled axes (positions) are ``axes`` if given, else every
axis except ``channel_axis``; the other axes are batch axes and are carried
through. Results are float: float16/32/64 input keeps its dtype (float16 is
computed in float32), bool and integer input gives float64.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._dtypes import as_array, mean_dtype
from ._kernels import positions as _positions
from ._layout import normalize_axis, resolve_axes
from ._threads import resolve_workers, threads_for

__all__ = ["bilinear_pool", "attention_pool"]


class _Layout:
    """Pooled (position) axes, batch axes and the channel axis of an array."""

    def __init__(self, x, axes, channel_axis):
        if channel_axis is None:
            raise TypeError("channel_axis is required: the axis holding the channel "
                            "vectors (1 for NCHW, -1 for NHWC)")
        self.channel = normalize_axis(channel_axis, x.ndim, "channel_axis")
        self.pooled, _ = resolve_axes(x.ndim, axes, self.channel, {})
        self.batch = [a for a in range(x.ndim) if a not in self.pooled and a != self.channel]
        self.shape = x.shape
        self.positions = math.prod(x.shape[a] for a in self.pooled)
        # Channels after every pooled axis (channels-last): positions-major.
        self.channels_last = self.channel > max(self.pooled)

    def matrices(self, x, dtype):
        """``x`` as (B, C, P), or (B, P, C) when channels-last, in ``dtype``.

        A plain reshape when the batch, channel and pooled axes are already in
        that order in a contiguous array; a copy otherwise.
        """
        middle = list(self.pooled) + [self.channel] if self.channels_last else \
            [self.channel] + list(self.pooled)
        order = self.batch + list(middle)
        nbatch = math.prod(self.shape[a] for a in self.batch)
        t = np.asarray(x, dtype=dtype).transpose(order)
        c = x.shape[self.channel]
        p = self.positions
        return t.reshape((nbatch, p, c) if self.channels_last else (nbatch, c, p))

    def check_partner(self, y, name):
        """``y`` must match ``x`` on every axis but the channel axis."""
        if y.ndim != len(self.shape) or any(
                y.shape[a] != self.shape[a] for a in range(y.ndim) if a != self.channel):
            raise ValueError(f"{name} must have the shape of x except along channel_axis "
                             f"{self.channel}: x has shape {self.shape}, {name} has shape "
                             f"{y.shape}")

    def check_positions(self):
        if self.positions == 0:
            raise ValueError(f"nothing to pool: the pooled axes {tuple(self.pooled)} of "
                             f"x (shape {self.shape}) hold no position")


def _work_dtype(result):
    """float16 is computed in float32; float32 and float64 as themselves."""
    return np.dtype(np.float32) if result.itemsize <= 4 else np.dtype(np.float64)


def bilinear_pool(x, y=None, *, axes=None, channel_axis, normalize=True):
    """Bilinear pooling: the mean outer product of channel vectors over positions.

    Lin, RoyChowdhury & Maji, "Bilinear CNN models for fine-grained visual
    recognition", ICCV 2015.  With ``x_p`` (Cx channels) and ``y_p`` (Cy
    channels) the feature vectors of two maps at position ``p``::

        B = (1 / P) * sum_p outer(x_p, y_p)          # (Cx, Cy)
        B = sign(B) * sqrt(|B|);  B = B / ||B||_F    # when normalize=True

    ``y=None`` uses ``x`` itself (symmetric B, second-order pooling).  The
    paper sums over positions; the mean (sum / P) keeps features comparable
    across image sizes and is removed by the normalisation anyway.  The
    normalised matrix, flattened (``B.reshape(*batch, -1)``), is the paper's
    "signed square root and L2 normalised" bilinear vector.

    The sum over positions is a matrix product (``X @ Y.T`` per sample,
    ``P * Cx * Cy`` multiply-adds), so it runs on BLAS through ``np.matmul``
    and costs more than a pooling pass whenever ``Cx * Cy`` is large; no
    window kernel can do better.  float32 input is multiplied in float32
    (BLAS sgemm), float64 in float64.

    Parameters
    ----------
    x : (..., C_x, ...) array_like
        Bool, integer or float16/32/64 feature maps, any layout.
    y : (..., C_y, ...) array_like, optional
        A second map with the shape of ``x`` except along ``channel_axis``.
    axes : int or sequence of int, optional
        The position axes to pool; by default every axis except
        ``channel_axis`` (pass ``axes=(-2, -1)`` for a batch of NCHW maps).
        Other axes are batch axes.
    channel_axis : int
        The axis of the channel vectors (required).
    normalize : bool, optional
        Apply the signed square root and the L2 (Frobenius) normalisation of
        each sample's matrix.  A zero matrix stays zero.

    Returns
    -------
    pooled : (*batch, C_x, C_y) ndarray
        The batch axes in their order, then the channels of ``x`` and of
        ``y``.  float16/32/64 keeps its dtype (two inputs: the wider), bool
        and integer input gives float64.  The products are accumulated in
        float64 and rounded once; a float16 value beyond 65504 becomes inf
        (without ``normalize``).  A NaN at position p, channel c of
        ``x`` makes row c NaN (column c for ``y``); with ``normalize`` the
        whole sample's matrix becomes NaN.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[1., 2.], [3., 4.]])          # 2 positions x 2 channels
    >>> ndpool.bilinear_pool(x, channel_axis=-1, normalize=False)   # (x0 x0' + x1 x1') / 2
    array([[ 5.,  7.],
           [ 7., 10.]])
    >>> nchw = np.ones((8, 16, 7, 7), np.float32)
    >>> b = ndpool.bilinear_pool(nchw, channel_axis=1, axes=(2, 3))
    >>> b.shape, float(np.linalg.norm(b[0]))
    ((8, 16, 16), 1.0)
    """
    x = as_array(x)
    layout = _Layout(x, axes, channel_axis)
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    result = mean_dtype(x.dtype)
    if y is not None:
        y = as_array(y, "y")
        layout.check_partner(y, "y")
        result = np.result_type(result, mean_dtype(y.dtype))
    layout.check_positions()
    work = _work_dtype(result)
    xm = layout.matrices(x, work)
    ym = xm if y is None else layout.matrices(y, work)
    if layout.channels_last:      # (B, P, C): X.T @ Y
        b = np.matmul(xm.transpose(0, 2, 1), ym)
    else:                         # (B, C, P): X @ Y.T
        b = np.matmul(xm, ym.transpose(0, 2, 1))
    b /= layout.positions
    if normalize:
        # ||sign(b) sqrt|b| ||^2 = sum |b|: the norm needs no second pass over roots.
        norm = np.sqrt(np.abs(b).sum(axis=(1, 2), keepdims=True))
        b = np.sign(b) * np.sqrt(np.abs(b))
        np.divide(b, norm, out=b, where=norm != 0)   # NaN norms divide: NaN stays NaN
    batch_shape = tuple(x.shape[a] for a in layout.batch)
    with np.errstate(over="ignore"):     # a float16 result may round to inf (documented)
        return b.reshape(batch_shape + b.shape[1:]).astype(result, copy=False)


def attention_pool(x, query=None, beta=1.0, *, axes=None, channel_axis, keepdims=False):
    """Attention (Hopfield) pooling: a softmax-weighted average of the positions.

    Ramsauer et al., "Hopfield networks is all you need", ICLR 2021
    (arXiv 2008.02217, 2020), the ``HopfieldPooling`` layer: one update of a
    modern Hopfield network whose stored patterns are the channel vectors
    ``x_p`` of the pooled positions, retrieved from the state pattern (query)
    ``q``::

        a = softmax_p(beta * q . x_p)        # over the pooled positions
        out = sum_p a_p * x_p                # one channel vector per sample

    ``query=None`` uses each sample's mean channel vector, so the pooling needs
    no learned parameter; ``beta = 0`` is average pooling and a large ``beta``
    tends to the single position that best matches the query. The softmax is
    shifted by its maximum (stable for any magnitude). The mean query with the
    largest magnitude (for the scaling), the scores ``q . x_p`` and the
    weighted sum are compiled kernels on every core; the scores, the softmax
    and the sum run in float64. Scores are computed for chunks of positions
    whose scores take at most 512 KiB (twice: for the largest score, then for
    the weighted sum; once when one chunk holds them all), so a call allocates
    little beyond its result; ``x`` itself is copied (in the working float
    type) only when it is not a C-contiguous array in (batch, channel,
    position) or (batch, position, channel) order (the weighted sum is a
    compiled kernel over unit-stride rows).

    Parameters
    ----------
    x : (..., C, ...) array_like
        Bool, integer or float16/32/64 feature maps, any layout.
    query : (C,) or result-shaped array_like, optional
        One query for every sample, or one per sample with the result's
        shape (``keepdims=False``).  Defaults to the mean over positions.
    beta : float, optional
        Inverse temperature, any finite real.
    axes : int or sequence of int, optional
        The position axes to pool; by default every axis except
        ``channel_axis`` (pass ``axes=(-2, -1)`` for a batch of NCHW maps).
    channel_axis : int
        The axis of the channel vectors (required).
    keepdims : bool, optional
        Keep the pooled axes with length 1, as :func:`ndpool.global_pool`.

    Returns
    -------
    pooled : ndarray
        ``x`` without its pooled axes (length 1 with ``keepdims``).
        float16/32/64 keeps its dtype, bool and integer input gives float64.
        A NaN anywhere in a sample's positions (or its query) makes that
        sample's result NaN; so can infinite inputs.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[1., 0.], [0., 1.], [0., 1.]])        # 3 positions x 2 channels
    >>> ndpool.attention_pool(x, [0., 1.], beta=np.log(2.), channel_axis=-1)
    array([0.2, 0.8])
    >>> ndpool.attention_pool(x, beta=0.0, channel_axis=-1)   # the mean
    array([0.33333333, 0.66666667])
    >>> nchw = np.ones((8, 16, 7, 7), np.float32)
    >>> ndpool.attention_pool(nchw, channel_axis=1, axes=(2, 3)).shape
    (8, 16)
    """
    x = as_array(x)
    layout = _Layout(x, axes, channel_axis)
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(f"beta must be a real number, got {beta!r}")
    beta = float(beta)
    if not math.isfinite(beta):
        raise ValueError(f"beta must be finite, got {beta!r}")
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"keepdims must be True or False, got {keepdims!r}")
    result = mean_dtype(x.dtype)
    work = _work_dtype(result)
    # The result's axes: batch and channel in their order.
    kept = sorted(layout.batch + [layout.channel])
    out_shape = tuple(x.shape[a] for a in kept)
    q = None if query is None else _query(query, x, layout, kept, out_shape, work)
    layout.check_positions()
    xm = layout.matrices(x, work)
    pooled = _attend(xm, q, beta, layout.channels_last)
    # (B, C) -> the kept axes in array order
    inter = layout.batch + [layout.channel]
    res = pooled.reshape(tuple(x.shape[a] for a in inter))
    res = res.transpose(np.argsort([kept.index(a) for a in inter]))
    if keepdims:
        res = np.expand_dims(res, tuple(layout.pooled))
    return np.ascontiguousarray(res, dtype=result)


# Positions are taken in chunks of about this many bytes of temporaries (float64
# scores per position across the samples), so they stay small for any input.
# Where every score fits in one chunk, the scores are computed once and kept
# (float32 (8, 64, 128, 128) has 1 MiB of them, two chunks).
_CHUNK_BYTES = 2**19


def _attend(xm, q, beta, channels_last):
    """``sum_p softmax_p(beta q . x_p) x_p`` per sample, (B, C) float64, for any magnitude.

    ``q=None`` takes each sample's mean channel vector.  The first read of x
    (positions.position_stats, compiled, on every core) gives the sums and
    the largest magnitudes together.  float32 data's mean is its float64 sum
    over the positions, rounded once; float64 data's is NumPy's pairwise mean
    (a float64 sum in order loses accuracy with the number of positions, the
    pairwise one hardly).

    x and q are divided by powers of two at least their largest magnitudes (per
    sample; exact), so no product overflows; the scale f = beta |q|max |x|max
    multiplies the shifted scores, which are <= 0.  A scale that overflows is
    the beta -> inf limit: equal weights on the best-matching positions.

    The scores are computed in chunks of positions, twice: for the largest
    score, then for the weights and the weighted sum; when one chunk holds
    every position, once, and kept.  The scores are float64 sums of float64
    products (positions.position_scores, compiled, on every core: BLAS's
    threads, still spinning after a matrix-vector product, slowed the
    OpenMP kernels after it to half speed on two cores, measured).  Dividing
    the query by x's power of two instead of x gives the same products (both
    are exact scalings), so where that quotient is a normal float64 the
    kernel does not divide, and a chunk's only temporaries are its scores
    (about _CHUNK_BYTES).  The weighted sum is a
    compiled float64 kernel (positions.position_sum); a float32 x is converted,
    not scaled (no float64 sum of float32 values can overflow), a float64 x is
    scaled and the sum scaled back.  Infinite or NaN inputs give NaN
    (documented), without warnings.
    """
    nb, npos = len(xm), xm.shape[1 if channels_last else 2]
    nc = xm.shape[2 if channels_last else 1]
    xm = np.ascontiguousarray(xm)
    threads = threads_for(resolve_workers(None), xm.size)
    sums, peaks = np.zeros((nb, nc)), np.zeros((nb, nc))
    _positions.position_stats(xm, sums, peaks, channels_last, threads)
    if q is None:
        q = ((sums / npos).astype(xm.dtype) if xm.dtype == np.float32
             else xm.mean(axis=1 if channels_last else 2))

    with np.errstate(invalid="ignore", over="ignore", divide="ignore", under="ignore"):
        xa = _pow2_bound(peaks.max(axis=1) if nc else np.ones(nb), xm.dtype)
        qa = _pow2_bound(np.abs(q).max(axis=1) if q.size else np.ones(len(q)), q.dtype)
        qs = np.ascontiguousarray(q / qa.astype(q.dtype)[:, None], dtype=np.float64)
        folded = qs / xa[:, None]
        fold = bool(np.all((folded == 0) == (qs == 0))
                    and np.all((np.abs(folded) >= np.finfo(np.float64).tiny) | (folded == 0))
                    and np.all(np.isfinite(folded)))
        # the query divided by x's power of two, or x divided by it in the kernel
        qv, qdiv = (folded, np.ones(nb)) if fold else (qs, xa)
        step = max(1, min(npos, _CHUNK_BYTES // (8 * max(nb, 1))))
        chunks = [(p0, min(p0 + step, npos)) for p0 in range(0, npos, step)]

        def chunk_scores(p0, p1):
            s = np.empty((nb, p1 - p0))
            _positions.position_scores(xm, qv, qdiv, s, channels_last, p0, threads)
            return s

        whole = chunk_scores(0, npos) if len(chunks) == 1 else None
        top = np.full(nb, -np.inf)
        for p0, p1 in chunks:
            top = np.maximum(top, (chunk_scores(p0, p1) if whole is None else whole).max(axis=1))
        f = beta * qa * xa
        hard = np.isinf(f)
        any_hard = bool(hard.any())
        wide = xm.dtype == np.float64
        divisors = xa if wide else np.ones(nb)
        total = np.zeros(nb)
        acc = np.zeros((nb, xm.shape[2 if channels_last else 1]))
        for p0, p1 in chunks:
            s = chunk_scores(p0, p1) if whole is None else whole
            s -= top[:, None]
            if any_hard:
                s[~hard] *= f[~hard, None]
            else:
                s *= f[:, None]
            np.exp(s, out=s)
            if any_hard:          # beta q.x overflows: only the best matches keep weight
                s[hard] = s[hard] == 1.0
            total += s.sum(axis=1)
            _positions.position_sum(xm, s, divisors, acc, channels_last, p0, threads)
            del s               # before the next chunk's scores: one chunk at a time
        acc /= total[:, None]
        return acc * xa[:, None] if wide else acc


def _pow2_bound(a, dtype):
    """A power of two >= ``a / 2`` in ``dtype`` (float64 array; 1 for 0, inf and NaN kept).

    The least power of two >= a, or the largest power of two of the dtype when
    that is larger than the dtype can hold.
    """
    a = np.asarray(a, np.float64)
    mant, expo = np.frexp(a)            # a = mant * 2**expo, 0.5 <= mant < 1
    expo = np.minimum(expo - (mant == 0.5), np.finfo(dtype).maxexp - 1)
    bound = np.ldexp(np.ones_like(a), expo)
    return np.where(a == 0, 1.0, np.where(np.isfinite(a), bound, a))


def _query(query, x, layout, kept, out_shape, work):
    """The query as (B, C): one vector for all samples, or one per sample."""
    q = np.asarray(query)
    if q.dtype.kind not in "biuf":
        raise TypeError(f"query must be numeric, got dtype {q.dtype}")
    c = x.shape[layout.channel]
    nbatch = math.prod(x.shape[a] for a in layout.batch)
    if q.shape == (c,):
        return np.broadcast_to(q.astype(work), (nbatch, c))
    if q.shape == out_shape:
        inter = layout.batch + [layout.channel]
        return q.transpose([kept.index(a) for a in inter]).reshape(nbatch, c).astype(work)
    raise ValueError(f"query must have one entry per channel ({c},) or the result's shape "
                     f"{out_shape}, got shape {q.shape}")

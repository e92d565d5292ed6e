"""Corner, center and cascade corner pooling (CornerNet and CenterNet).

Law & Deng, "CornerNet: detecting objects as paired keypoints", ECCV 2018;
Duan et al., "CenterNet: keypoint triplets for object detection", ICCV 2019.

A corner is named by the direction each pooled axis looks in: for the
top-left corner of an object, a pixel looks down (rows below it, itself
included) and right (columns to its right).  Each directional pool is a
running maximum; the corner pool adds the per-axis running maxima.  These
networks apply each direction to a different learned feature map; here every
direction reads ``x`` (pass ``x`` per direction yourself to reproduce a
network's head).  The output has the input's shape and dtype; NaN propagates.
"""
from __future__ import annotations

import math

import numpy as np

from ._dtypes import as_array, kernel_view
from ._engine import _from_kernel
from ._kernels import window as _k
from ._layout import resolve_axes, three_d
from ._threads import resolve_workers, threads_for

__all__ = ["corner_pool", "center_pool", "cascade_corner_pool"]

# +1: look towards higher indices (down, right); -1: towards lower (up, left).
CORNERS = {"top_left": (1, 1), "top_right": (1, -1),
           "bottom_left": (-1, 1), "bottom_right": (-1, -1)}


def _running_max(x, axis, direction, nthreads):
    """Directional running maximum along one axis, in x's dtype."""
    kx = kernel_view(x)
    y = np.empty_like(kx)
    outer, n, inner = three_d(kx.shape, axis)
    if kx.size:
        _k.running_max_pass(kx.reshape(outer, n, inner), y.reshape(outer, n, inner),
                            direction > 0, threads_for(nthreads, kx.size))
    return _from_kernel(y, x.dtype)


def _pooled_axes(x, axes, channel_axis):
    # No window parameters: every non-channel axis unless ``axes`` says otherwise.
    return resolve_axes(x.ndim, axes, channel_axis, {})[0]


def _directions(corner, k):
    if isinstance(corner, str):
        if corner not in CORNERS:
            raise ValueError(f"corner must be one of {sorted(CORNERS)} or a tuple of "
                             f"+1/-1 per pooled axis, got {corner!r}")
        if k != 2:
            raise ValueError(f"corner={corner!r} names a 2-D corner but {k} axes are "
                             f"pooled; pass a tuple of +1/-1 per pooled axis")
        return CORNERS[corner]
    dirs = tuple(corner)
    if len(dirs) != k or any(d not in (1, -1) for d in dirs):
        raise ValueError(f"corner must hold +1 or -1 for each of the {k} pooled axes, "
                         f"got {corner!r}")
    return dirs


_MODES = {"corner": 0, "cascade": 1, "center": 2}
_FUSED_ROW = 2**16    # elements of an image row (W * inner) the one-sweep kernel takes


def _fused(x, pooled, mode, dirs, nthreads):
    """The whole pool in one compiled sweep per image (``corner_fused``), or None.

    For two adjacent pooled axes of float32/float64 input with at least one image
    per thread; the same arithmetic as the separate passes, without their
    intermediate arrays."""
    if len(pooled) != 2 or pooled[1] != pooled[0] + 1 or x.size == 0 \
            or x.dtype.type not in (np.float32, np.float64):
        return None
    a = pooled[0]
    outer = math.prod(x.shape[:a])
    inner = math.prod(x.shape[a + 2:])
    if outer < min(nthreads, 2) * 2 and x.nbytes > _WHOLE_BYTES:
        return None              # one large image: the passes share it between threads
    if x.shape[a + 1] * inner > _FUSED_ROW or x.shape[a] * inner > _FUSED_ROW * 16:
        return None              # each thread keeps 26 rows and a column in buffers
    kx = kernel_view(x)
    y = np.empty(x.shape, _sum_dtype(x))
    shape3 = (outer, x.shape[a], x.shape[a + 1] * inner)
    _k.corner_fused(kx.reshape(shape3), y.reshape(shape3), inner, _MODES[mode],
                    dirs[0] > 0, dirs[1] > 0, threads_for(nthreads, x.size))
    return _from_kernel(y, x.dtype)


def _sum_dtype(x):
    # The sum of two pools stays in x's dtype (as in the networks, which are float).
    return x.dtype.newbyteorder("=")


def corner_pool(x, corner="top_left", *, axes=None, channel_axis=None, workers=None):
    """Corner pooling: the sum over pooled axes of directional running maxima.

    Parameters
    ----------
    x : array_like
    corner : {"top_left", "top_right", "bottom_left", "bottom_right"} or tuple
        For two pooled axes (rows, then columns), a corner name; for any number,
        a tuple with +1 (look towards higher indices) or -1 per pooled axis.
    axes, channel_axis, workers
        As for :func:`ndpool.max_pool`; with neither, every axis is pooled.

    Returns
    -------
    ndarray, same shape and dtype as ``x`` (integer sums wrap like NumPy's).

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[0, 3, 0], [0, 0, 0], [5, 0, 1]])
    >>> ndpool.corner_pool(x, "top_left")   # max below (incl.) + max to the right (incl.)
    array([[ 8,  6,  1],
           [ 5,  0,  1],
           [10,  1,  2]])
    """
    x = as_array(x)
    pooled = _pooled_axes(x, axes, channel_axis)
    dirs = _directions(corner, len(pooled))
    nthreads = resolve_workers(workers)
    total = _fused(x, pooled, "corner", dirs, nthreads)
    if total is None:
        for ax, d in zip(pooled, dirs):
            total = _add_part(total, x, ax, d, (), nthreads)
    return total


def center_pool(x, *, axes=None, channel_axis=None, workers=None):
    """Center pooling (CenterNet): the sum over pooled axes of each line's maximum.

    For an image, ``out[i, j] = max(x[i, :]) + max(x[:, j])``: a center
    keypoint looks along its whole row and its whole column.

    Two adjacent float axes are pooled in one compiled sweep per image (using
    ``workers``); other layouts take one NumPy reduction per axis.  Where a
    line's maximum is a zero held with both signs, which zero it is (and so
    the sign of a zero sum) is not specified: the sweep keeps the last in its
    scan, NumPy's reduction an order of its own.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.center_pool(np.array([[1, 2], [3, 0]]))   # row maxima 2, 3; column maxima 3, 2
    array([[5, 4],
           [6, 5]])
    """
    x = as_array(x)
    nthreads = resolve_workers(workers)
    pooled = _pooled_axes(x, axes, channel_axis)
    total = _fused(x, pooled, "center", (1, 1), nthreads)
    if total is not None:
        return total
    for ax in pooled:
        line_max = np.max(x, axis=ax, keepdims=True) if x.size else x
        if total is None:
            total = np.empty(x.shape, _sum_dtype(x))
            np.copyto(total, line_max)
        else:
            np.add(total, line_max, out=total)      # broadcast: no copy of the maxima
    return total


def cascade_corner_pool(x, corner="top_left", *, axes=None, channel_axis=None,
                        workers=None):
    """Cascade corner pooling (CenterNet): look along a boundary, then inside.

    For each pooled axis ``a`` the input is first pooled along the *other*
    axes (finding the boundary maximum) and added to ``x``, and that sum is
    pooled along ``a``; the results are summed over ``a``.  For two axes with
    directional pools T (rows) and L (columns):
    ``T(x + L(x)) + L(x + T(x))``, CenterNet's composition with every branch
    reading ``x``.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[0.0, 1.0], [2.0, 0.0]])
    >>> ndpool.cascade_corner_pool(x, "top_left")
    array([[6., 4.],
           [8., 0.]])
    """
    x = as_array(x)
    pooled = _pooled_axes(x, axes, channel_axis)
    dirs = _directions(corner, len(pooled))
    nthreads = resolve_workers(workers)
    total = _fused(x, pooled, "cascade", dirs, nthreads)
    if total is not None:
        return total
    for ax, d in zip(pooled, dirs):
        others = tuple((bx, e) for bx, e in zip(pooled, dirs) if bx != ax)
        total = _add_part(total, x, ax, d, others, nthreads)
    return total


# ---- parts computed in bands ------------------------------------------------------------
#
# Each function here sums "parts" R_a(x + sum_b R_b(x)), R the directional running
# maximum along one axis (corner pooling has no b terms).  A part of a large
# input is computed in bands along another axis c, and added into the output band
# by band, so the call allocates its output and a few bands.  If c is one of the
# b axes, R_c runs band by band in its scan direction with a carry: the previous
# band's edge running maximum is put in front of the band as one extra slice, so
# the kernel performs exactly the recurrence of the whole-axis pass.

_WHOLE_BYTES = 2**20      # inputs up to this size are not cut
_BANDS = 16


def _slab(axis, lo, hi):
    return (slice(None),) * axis + (slice(lo, hi),)


def _band_axis(x, a):
    """The axis other than ``a`` to cut into bands; None to compute whole.

    The first axis long enough for every band is preferred: its bands are
    contiguous slabs, copied nowhere and swept with unit stride (the longest
    axis otherwise).
    """
    if x.nbytes <= _WHOLE_BYTES or x.ndim < 2:
        return None
    others = [ax for ax in range(x.ndim) if ax != a]
    c = next((ax for ax in others if x.shape[ax] >= _BANDS),
             max(others, key=lambda ax: x.shape[ax]))
    return c if x.shape[c] > 1 else None


def _carried_running_max(xb, c, e, carry, nthreads):
    """R_c of one band given the running maximum just beyond it; and the new carry."""
    n = xb.shape[c]
    if carry is not None:
        xb = np.concatenate([xb, carry] if e > 0 else [carry, xb], axis=c)
    r = _running_max(xb, c, e, nthreads)
    if carry is not None:
        r = r[_slab(c, 0, n)] if e > 0 else r[_slab(c, 1, n + 1)]
    edge = r[_slab(c, 0, 1)] if e > 0 else r[_slab(c, n - 1, n)]
    return r, edge.copy()


def _part(xb, a, d, terms, nthreads, carried=None):
    """R_a(xb + sum of R_b(xb) over ``terms``); ``carried`` computes the R_c term."""
    s = xb
    for b, e in terms:
        r = carried(xb, e) if carried is not None and b == carried.axis else \
            _running_max(xb, b, e, nthreads)
        s = np.add(s, r, dtype=_sum_dtype(xb))
    return _running_max(s, a, d, nthreads)


class _Carry:
    """R_c band by band, remembering the running maximum at the last band's edge."""

    def __init__(self, axis, nthreads):
        self.axis, self.nthreads, self.edge = axis, nthreads, None

    def __call__(self, xb, e):
        r, self.edge = _carried_running_max(xb, self.axis, e, self.edge, self.nthreads)
        return r


def _add_part(total, x, a, d, terms, nthreads):
    """``total + R_a(x + sum R_b(x))`` (the part itself if ``total`` is None), in place."""
    c = _band_axis(x, a)
    if c is None:
        part = _part(x, a, d, terms, nthreads)
        return part if total is None else np.add(total, part, dtype=_sum_dtype(x))
    if total is None:
        total = np.empty(x.shape, _sum_dtype(x))
        first = True
    else:
        first = False
    bounds = np.linspace(0, x.shape[c], min(_BANDS, x.shape[c]) + 1).astype(np.int64)
    bands = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    e = dict(terms).get(c)
    if e is not None and e > 0:      # R_c looks towards higher indices: scan from the end
        bands.reverse()
    carried = _Carry(c, nthreads) if e is not None else None
    for lo, hi in bands:
        where = _slab(c, lo, hi)
        part = _part(x[where], a, d, terms, nthreads, carried)
        if first:
            total[where] = part
        else:
            np.add(total[where], part, out=total[where])
    return total

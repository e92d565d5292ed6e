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
    total = None
    for ax, d in zip(pooled, dirs):
        part = _running_max(x, ax, d, nthreads)
        total = part if total is None else np.add(total, part, dtype=_sum_dtype(x))
    return total


def center_pool(x, *, axes=None, channel_axis=None, workers=None):
    """Center pooling (CenterNet): the sum over pooled axes of each line's maximum.

    For an image, ``out[i, j] = max(x[i, :]) + max(x[:, j])``: a center
    keypoint looks along its whole row and its whole column.

    ``workers`` is checked as everywhere else, but unused: each line maximum is
    one NumPy reduction, a single memory-bound pass.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.center_pool(np.array([[1, 2], [3, 0]]))   # row maxima 2, 3; column maxima 3, 2
    array([[5, 4],
           [6, 5]])
    """
    x = as_array(x)
    resolve_workers(workers)
    pooled = _pooled_axes(x, axes, channel_axis)
    total = None
    for ax in pooled:
        line_max = np.max(x, axis=ax, keepdims=True) if x.size else x
        part = np.broadcast_to(line_max, x.shape)
        total = part.copy() if total is None else np.add(total, part, dtype=_sum_dtype(x))
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
    dtype = _sum_dtype(x)
    total = None
    for a, (ax, d) in enumerate(zip(pooled, dirs)):
        inner = x
        for bx, e in zip(pooled, dirs):
            if bx != ax:
                inner = np.add(inner, _running_max(x, bx, e, nthreads), dtype=dtype)
        part = _running_max(inner, ax, d, nthreads)
        total = part if total is None else np.add(total, part, dtype=dtype)
    return total

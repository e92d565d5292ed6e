"""Shape-changing pooling: adaptive, global, spatial pyramid and strip pooling.

These differ from regular pooling only in how windows are planned: adaptive
bins ``[floor(o n / out), ceil((o + 1) n / out))`` (PyTorch's rule, in exact
integer arithmetic), one window per axis for global pooling.  Every method of
the catalogue that reduces windows runs on them by name (``method=``), through
the same cores as the regular window functions: "max", "min", "sum", "avg",
"lp" (p=), "power_mean" (p=, eps=), "softpool", "lse" (r=), "median",
"mixed" (alpha=).
"""
from __future__ import annotations

import math

import numpy as np

from ._dask import dask_aware, is_dask_array
from . import _engine, _methods
from ._dtypes import as_array
from ._layout import resolve_axes
from ._planning import as_size, check_output, is_sequence, plan_bins, plan_intervals
from ._spec import WindowSpec
from ._threads import resolve_workers

__all__ = ["adaptive_max_pool", "adaptive_avg_pool", "adaptive_pool", "global_pool",
           "global_max_pool", "global_avg_pool", "spatial_pyramid_pool", "strip_pool"]


def _sizes(output_size, x, axes, channel_axis):
    """Pooled axes and their output lengths; a None entry keeps the input's length."""
    x = as_array(x)
    pooled, order = resolve_axes(x.ndim, axes, channel_axis, {"output_size": output_size})
    k = len(pooled)
    given = list(output_size) if is_sequence(output_size) else [output_size] * k
    given = [given[i] for i in order]
    sizes = [x.shape[ax] if s is None else as_size(s, "output_size", minimum=0)
             for ax, s in zip(pooled, given)]
    shape = list(x.shape)
    for ax, s in zip(pooled, sizes):
        shape[ax] = s
    check_output(shape, "output_size")
    return x, pooled, sizes


def _adaptive_spec(x, output_size, axes, channel_axis):
    x, pooled, sizes = _sizes(output_size, x, axes, channel_axis)
    plans = [plan_bins(x.shape[ax], s, axis=ax) for ax, s in zip(pooled, sizes)]
    channel = None if channel_axis is None else channel_axis % x.ndim
    return WindowSpec.from_plans(x, pooled, plans, channel)


@dask_aware
def adaptive_pool(x, output_size, method="max", *, axes=None, channel_axis=None,
                  workers=None, **method_kwargs):
    """Pool to a given output size with any method, as PyTorch's adaptive pooling does.

    Parameters
    ----------
    x : array_like
    output_size : int, None or sequence of int/None
        Output length per pooled axis (an int applies to every pooled axis); a
        None entry keeps that axis's length.  The pooled axes follow the usual
        rules: a sequence of length k pools the last k non-channel axes.
    method : str
        "max", "min", "sum", "avg", "lp", "power_mean", "softpool", "lse",
        "median" or "mixed"; its own parameters are passed as keywords
        (``p=``, ``r=``, ``alpha=``, ``eps=``).  Each behaves as its window
        function does (e.g. the median of integers keeps the dtype, rounding an
        even count's midpoint down, as :func:`ndpool.median_pool`).
    axes, channel_axis, workers
        As for :func:`ndpool.max_pool`.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.arange(1, 17).reshape(4, 4)
    >>> ndpool.adaptive_pool(x, (3, 3), "max")       # bins [0,2) [1,3) [2,4)
    array([[ 6,  7,  8],
           [10, 11, 12],
           [14, 15, 16]])
    >>> ndpool.adaptive_pool(x, (1, None), "lp", p=2).round(2)   # sqrt(1 + 25 + 81 + 169), ...
    array([[16.61, 18.33, 20.1 , 21.91]])
    """
    spec = _adaptive_spec(x, output_size, axes, channel_axis)
    return _methods.reduce(method, spec, resolve_workers(workers), method_kwargs)


@dask_aware
def adaptive_max_pool(x, output_size, *, axes=None, channel_axis=None,
                      return_indices=False, workers=None):
    """Adaptive max pooling (``torch.nn.functional.adaptive_max_pool1d/2d/3d`` in N-D).

    Indices, with ``return_indices=True``, are flat indices into the pooled
    sub-shape, as for :func:`ndpool.max_pool`.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> v, i = ndpool.adaptive_max_pool(np.array([3, 1, 4, 1, 5]), 2, return_indices=True)
    >>> v, i                                  # bins [0, 3) and [2, 5)
    (array([4, 5]), array([2, 4]))
    """
    spec = _adaptive_spec(x, output_size, axes, channel_axis)
    nthreads = resolve_workers(workers)
    if return_indices:
        return _engine.arg_extremum(spec.x, spec.axes, spec.plans, is_min=False,
                                    nthreads=nthreads)
    return _methods.reduce("max", spec, nthreads, {})


@dask_aware
def adaptive_avg_pool(x, output_size, *, axes=None, channel_axis=None, workers=None):
    """Adaptive average pooling (``torch.nn.functional.adaptive_avg_pool1d/2d/3d`` in N-D).

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.adaptive_avg_pool(np.arange(1.0, 6.0), 2)      # bins [0, 3) and [2, 5)
    array([2., 4.])
    """
    spec = _adaptive_spec(x, output_size, axes, channel_axis)
    return _methods.reduce("avg", spec, resolve_workers(workers), {})


@dask_aware
def global_pool(x, method="avg", *, axes=None, channel_axis=None, keepdims=False,
                workers=None, **method_kwargs):
    """Reduce the pooled axes entirely with any method (global average/max pooling).

    Without ``axes``, every axis except ``channel_axis`` is pooled, so for a
    batch of NCHW feature maps pass ``axes=(-2, -1)``.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> fmap = np.arange(24.0).reshape(2, 3, 2, 2)           # N, C, H, W
    >>> ndpool.global_pool(fmap, "max", axes=(-2, -1))
    array([[ 3.,  7., 11.],
           [15., 19., 23.]])
    >>> ndpool.global_pool(fmap, axes=(-2, -1), keepdims=True).shape
    (2, 3, 1, 1)
    """
    x = as_array(x)
    pooled, _ = resolve_axes(x.ndim, axes, channel_axis, {})
    spec = _adaptive_spec(x, 1, pooled, None)
    spec.channel_axis = None if channel_axis is None else channel_axis % x.ndim
    result = _methods.reduce(method, spec, resolve_workers(workers), method_kwargs)
    if keepdims:
        return result
    return result.squeeze(axis=pooled)[()]   # a NumPy scalar when nothing is left, like np.max


def global_max_pool(x, *, axes=None, channel_axis=None, keepdims=False, workers=None):
    """Global max pooling: :func:`global_pool` with ``method="max"``.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> int(ndpool.global_max_pool(np.array([[1, 7], [3, 2]])))
    7
    """
    return global_pool(x, "max", axes=axes, channel_axis=channel_axis, keepdims=keepdims,
                       workers=workers)


def global_avg_pool(x, *, axes=None, channel_axis=None, keepdims=False, workers=None):
    """Global average pooling: :func:`global_pool` with ``method="avg"``.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> img = np.zeros((4, 6, 3)); img[..., 0] = 1                 # H, W, C
    >>> ndpool.global_avg_pool(img, channel_axis=-1)
    array([1., 0., 0.])
    """
    return global_pool(x, "avg", axes=axes, channel_axis=channel_axis, keepdims=keepdims,
                       workers=workers)


def spatial_pyramid_pool(x, levels=(1, 2, 4), method="max", *, axes=None,
                         channel_axis=None, workers=None, **method_kwargs):
    """Spatial pyramid pooling: adaptive pools at several grid sizes, concatenated.

    He, Zhang, Ren & Sun, "Spatial pyramid pooling in deep convolutional
    networks for visual recognition", ECCV 2014.

    Each level ``L`` pools the pooled axes to an ``L x ... x L`` grid (or a
    per-axis tuple); the grids are flattened in row-major order and joined
    level by level.  The result keeps the unpooled axes in their order and
    adds one trailing feature axis of length ``sum(prod(level))``, whatever the
    input's size: the fixed-length vector the paper feeds to its classifier.
    A dask array gives a lazy dask array (the adaptive pools are distributed).

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> fmap = np.random.default_rng(0).random((8, 256, 13, 17))  # N, C, H, W
    >>> ndpool.spatial_pyramid_pool(fmap, (1, 2, 4), axes=(-2, -1)).shape
    (8, 256, 21)
    """
    levels = list(levels) if is_sequence(levels) else [levels]
    if not levels:
        raise ValueError("levels must name at least one pyramid level")
    x = x if is_dask_array(x) else as_array(x)    # dask: lazy adaptive pools, joined lazily
    pooled, _ = resolve_axes(x.ndim, axes, channel_axis, {})
    others = [a for a in range(x.ndim) if a not in pooled]
    sizes = []
    for level in levels:
        size = list(level) if is_sequence(level) else [level] * len(pooled)
        size = [as_size(s, "levels", minimum=1) for s in size]
        if len(size) != len(pooled):
            raise ValueError(f"levels entry {level!r} must have one entry per pooled "
                             f"axis ({len(pooled)})")
        check_output([math.prod(size)] + [x.shape[a] for a in others], "levels")
        sizes.append(size)
    nested = (method in ("max", "min") and not method_kwargs and not is_dask_array(x))
    grids = {}
    for size in sorted(sizes, key=math.prod, reverse=True):    # finest first
        key = tuple(size)
        if key in grids:
            continue
        grid = _from_finer(x, pooled, key, grids, method == "min", workers) if nested else None
        if grid is None:
            grid = adaptive_pool(x, size, method, axes=pooled, channel_axis=channel_axis,
                                 workers=workers, **method_kwargs)
        grids[key] = grid
    parts = []
    for size in sizes:
        flat = grids[tuple(size)].transpose(others + list(pooled))
        parts.append(flat.reshape(flat.shape[:len(others)] + (-1,)))
    return np.concatenate(parts, axis=-1)


def _nested_bins(n, fine, coarse, axis):
    """The plan, over a finer level's bins, of a coarser level's bins when each coarse
    bin is exactly a run of whole fine bins (else None)."""
    fp, cp = plan_bins(n, fine, axis=axis), plan_bins(n, coarse, axis=axis)
    fs, fe = fp.start, fp.start + fp.count
    cs, ce = cp.start, cp.start + cp.count
    lo = np.searchsorted(fs, cs, "left")        # bins are sorted by start and by end
    hi = np.searchsorted(fe, ce, "right")
    if np.any(hi <= lo) or np.any(fs[np.minimum(lo, len(fs) - 1)] != cs) \
            or np.any(fe[np.maximum(hi - 1, 0)] != ce):
        return None
    # Consecutive adaptive bins touch or overlap, so the run covers the coarse bin.
    return plan_intervals(fine, lo, hi - lo)


def _from_finer(x, pooled, size, grids, is_min, workers):
    """A max (or min) pyramid level as the max of a finer level's bins, when its bins
    are unions of those bins (levels 1, 2, 4 of a length divisible by 4).

    The maximum of maxima is the maximum, but on ties the element that wins may
    differ from the one a direct scan picks, which shows in the sign of a zero
    and in a NaN's payload: a float level with a zero or NaN is pooled directly.
    """
    for fine, grid in grids.items():
        plans = [_nested_bins(x.shape[ax], f, c, ax) for ax, f, c in zip(pooled, fine, size)]
        if any(p is None for p in plans):
            continue
        level = _engine.extremum(grid, pooled, plans, is_min=is_min,
                                 nthreads=resolve_workers(workers))
        if level.dtype.kind == "f" and np.any((level == 0) | np.isnan(level)):
            return None
        return level
    return None


def strip_pool(x, method="avg", *, axes=None, channel_axis=None, combine=False,
               workers=None, **method_kwargs):
    """Strip pooling: pool each pooled axis's long, thin strips.

    Hou, Zhang, Cheng & Feng, "Strip pooling: rethinking spatial pooling for
    scene parsing", CVPR 2020.

    For every pooled axis ``a`` the strip result reduces all the *other*
    pooled axes and keeps ``a`` (for an image: one value per row, and one per
    column), keeping dims.  With ``combine=True`` the strips are broadcast
    back to the input's shape and summed, as the paper's strip pooling module
    does before its 1x1 convolution.  A dask array gives lazy dask arrays.

    Returns
    -------
    list of ndarray, one per pooled axis (ascending), or one ndarray if ``combine``.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.arange(6.0).reshape(2, 3)
    >>> rows, cols = ndpool.strip_pool(x)
    >>> rows.ravel(), cols.ravel()
    (array([1., 4.]), array([1.5, 2.5, 3.5]))
    >>> ndpool.strip_pool(x, combine=True)
    array([[2.5, 3.5, 4.5],
           [5.5, 6.5, 7.5]])
    """
    x = x if is_dask_array(x) else as_array(x)    # dask: lazy global pools, summed lazily
    pooled, _ = resolve_axes(x.ndim, axes, channel_axis, {})
    if len(pooled) < 2:
        raise ValueError(f"strip_pool needs at least two pooled axes, got axes {pooled}")
    strips = [global_pool(x, method, axes=[a for a in pooled if a != keep],
                          channel_axis=channel_axis, keepdims=True, workers=workers,
                          **method_kwargs)
              for keep in pooled]
    if not combine:
        return strips
    total = strips[0]
    for s in strips[1:]:
        total = total + s
    return np.broadcast_to(total, x.shape).copy()

"""The window family: max, min, average and sum pooling, and max-unpooling.

PyTorch semantics (torch 2.13 CPU is the oracle) in any number of dimensions,
on NumPy arrays laid out channels-first or channels-last.
"""
from __future__ import annotations

import math

import numpy as np

from ._dask import dask_aware
from . import _bands, _engine
from ._docs import doc
from ._dtypes import as_array, mean_dtype, sum_dtype
from ._kernels import unpool as _unpool_k
from ._layout import permute, resolve_axes
from ._planning import as_size, check_output, per_axis
from ._spec import WindowSpec, check_out, deliver
from ._threads import resolve_workers, threads_for

__all__ = ["max_pool", "min_pool", "avg_pool", "sum_pool", "max_unpool"]


def _direct_dest(out, x):
    """``out`` may be written by a kernel only if it cannot alias the input."""
    if out is not None and not np.may_share_memory(out, x):
        return out
    return None


def _extremum(x, kernel_size, stride, padding, dilation, ceil_mode, axes,
              channel_axis, return_indices, out, workers, is_min):
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode,
                      axes, channel_axis)
    out = check_out(out, spec.out_shape, spec.x.dtype.newbyteorder("="))
    nthreads = resolve_workers(workers)
    name = "min_pool" if is_min else "max_pool"
    if return_indices:    # in bands: the per-axis passes keep values and indices
        values, indices = _bands.run(name, spec, nthreads, {"return_indices": True})
        return deliver(values, out), indices
    if _bands.is_long(spec):
        return deliver(_bands.run(name, spec, nthreads, {}), out)
    values = _engine.extremum(spec.x, spec.axes, spec.plans, is_min=is_min,
                              nthreads=nthreads, dest=_direct_dest(out, spec.x))
    return deliver(values, out)


@dask_aware
@doc("max")
def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             axes=None, channel_axis=None, return_indices=False, out=None, workers=None):
    return _extremum(x, kernel_size, stride, padding, dilation, ceil_mode, axes,
                     channel_axis, return_indices, out, workers, is_min=False)


@dask_aware
@doc("min")
def min_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             axes=None, channel_axis=None, return_indices=False, out=None, workers=None):
    return _extremum(x, kernel_size, stride, padding, dilation, ceil_mode, axes,
                     channel_axis, return_indices, out, workers, is_min=True)


@dask_aware
@doc("sum")
def sum_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             axes=None, channel_axis=None, out=None, workers=None):
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode,
                      axes, channel_axis)
    out = check_out(out, spec.out_shape, sum_dtype(spec.x.dtype))
    return deliver(_bands.run("sum_pool", spec, resolve_workers(workers), {}), out)


def _max(spec, nthreads):
    return _engine.extremum(spec.x, spec.axes, spec.plans, is_min=False, nthreads=nthreads)


def _min(spec, nthreads):
    return _engine.extremum(spec.x, spec.axes, spec.plans, is_min=True, nthreads=nthreads)


def _sum(spec, nthreads):
    acc = _engine.window_sum(spec.x, spec.axes, spec.plans, nthreads=nthreads)
    return acc.astype(sum_dtype(spec.x.dtype), copy=False)


@dask_aware
@doc("avg")
def avg_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
             count_include_pad=True, divisor_override=None, *, axes=None,
             channel_axis=None, out=None, workers=None):
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode,
                      axes, channel_axis)
    out = check_out(out, spec.out_shape, mean_dtype(spec.x.dtype))
    nthreads = resolve_workers(workers)
    if _bands.is_long(spec):
        return deliver(_bands.run("avg_pool", spec, nthreads, {
            "count_include_pad": count_include_pad, "divisor_override": divisor_override}), out)
    return _avg(spec, nthreads, count_include_pad, divisor_override, out=out)


def _avg(spec, nthreads, count_include_pad=True, divisor_override=None, *, out=None,
         dtype=None):
    if divisor_override is not None:
        divisor_override = as_size(divisor_override, "divisor_override")
        divisors = [np.full(spec.plans[0].out, float(divisor_override))]
        divisors += [np.ones(p.out) for p in spec.plans[1:]]
    else:
        divisors = [p.padded if count_include_pad else p.count.astype(np.float64)
                    for p in spec.plans]
    dtype = np.dtype(dtype or mean_dtype(spec.x.dtype))
    dest = out if (out is not None and out.flags.c_contiguous
                   and not np.may_share_memory(out, spec.x)) else None
    with np.errstate(invalid="ignore", divide="ignore"):
        result = _engine.window_mean(spec.x, spec.axes, spec.plans, divisors, dtype,
                                     nthreads=nthreads, dest=dest)
        if result is None:   # pooled axes not adjacent: sums, then one division
            acc = _engine.window_sum(spec.x, spec.axes, spec.plans, nthreads=nthreads,
                                     acc=np.dtype(np.float64))
            divisor = 1.0
            for g in _engine.pooled_grid(acc.ndim, spec.axes, divisors):
                divisor = divisor * g
            result = np.empty(spec.out_shape, dtype)
            np.divide(acc, divisor, out=result, casting="unsafe")
    # A window without elements averages to 0 (PyTorch's guard), never 0/0.
    _engine._fill_empty(result, spec.axes, spec.plans, 0)
    return deliver(result, out)


@dask_aware
def max_unpool(x, indices, kernel_size, stride=None, padding=0, output_size=None, *,
               axes=None, channel_axis=None, workers=None):
    """Scatter pooled maxima back to their positions; the rest is zero.

    The inverse of ``max_pool(..., return_indices=True)`` as in PyTorch's
    ``max_unpool1d/2d/3d``, in any number of dimensions.

    Parameters
    ----------
    x : ndarray
        Pooled values.
    indices : ndarray of int, same shape as ``x``
        Flat indices into the pooled sub-shape of the output, as returned by
        ``max_pool(..., return_indices=True)``; -1 (an empty window) is skipped.
    kernel_size, stride, padding : int or sequence of int
        The parameters of the pooling being undone.
    output_size : sequence of int, optional
        The pooled axes' output lengths (or the whole output shape).  By
        default ``(n - 1) * stride - 2 * padding + kernel_size`` per axis; as in
        PyTorch, a given size must lie strictly within ``stride`` of that.  Where
        the default works out to 0 or less for a non-empty ``x``, ndpool raises
        ValueError (PyTorch returns an empty array for 0, ignoring the indices).
    axes, channel_axis, workers
        As for :func:`max_pool`.

    Returns
    -------
    ndarray
        Same dtype as ``x``; unpooled axes unchanged.  Where two windows
        report the same index, the later one in row-major order wins.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[1, 5, 2, 0], [3, 4, 8, 6]], dtype=np.float32)
    >>> v, i = ndpool.max_pool(x, (2, 2), return_indices=True)
    >>> ndpool.max_unpool(v, i, (2, 2))
    array([[0., 5., 0., 0.],
           [0., 0., 8., 0.]], dtype=float32)
    """
    x = as_array(x)
    x = x.astype(x.dtype.newbyteorder("="), copy=False)   # moved as raw words below
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must have an integer dtype, got {idx.dtype}")
    if idx.shape != x.shape:
        raise ValueError(f"indices has shape {idx.shape} but x has shape {x.shape}")
    pooled, others, sizes, _ = unpool_geometry(x.shape, x.dtype.itemsize, kernel_size, stride,
                                               padding, output_size, axes, channel_axis)
    plane = math.prod(sizes)
    if idx.size and (idx.min() < -1 or idx.max() >= plane):
        raise ValueError(f"indices must lie in [0, {plane}) (the pooled output plane "
                         f"of shape {tuple(sizes)}) or be -1, got values in "
                         f"[{idx.min()}, {idx.max()}]")
    moved = list(others) + list(pooled)
    planes = int(np.prod([x.shape[a] for a in others], dtype=np.int64))
    word = np.dtype(f"u{x.dtype.itemsize}")
    kin = int(np.prod([x.shape[a] for a in pooled], dtype=np.int64))
    xv = np.ascontiguousarray(x.transpose(moved)).view(word).reshape(planes, kin)
    iv = np.ascontiguousarray(idx.transpose(moved), dtype=np.intp).reshape(planes, kin)
    res = np.zeros((planes, plane), word)
    _unpool_k.scatter(xv, iv, res, threads_for(resolve_workers(workers), xv.size))
    res = res.view(x.dtype.newbyteorder("=")).reshape([x.shape[a] for a in others] + sizes)
    return np.ascontiguousarray(res.transpose(np.argsort(moved)))


def unpool_geometry(shape, itemsize, kernel_size, stride, padding, output_size, axes,
                    channel_axis):
    """(pooled axes, other axes, output sizes of the pooled axes, (kernel, stride,
    padding) per pooled axis in ascending order) of a max_unpool call, validated."""
    if stride is None:
        stride = kernel_size
    raw = {"kernel_size": kernel_size, "stride": stride, "padding": padding}
    pooled, order = resolve_axes(len(shape), axes, channel_axis, raw)
    k = len(pooled)
    kernel_size, stride, padding = (
        permute(per_axis(v, k, name, minimum=m), order)
        for v, name, m in ((kernel_size, "kernel_size", 1), (stride, "stride", 1),
                           (padding, "padding", 0)))
    # An empty axis unpools to an empty axis, as it pools to one.
    default = [(shape[ax] - 1) * s - 2 * p + kk if shape[ax] else 0
               for ax, kk, s, p in zip(pooled, kernel_size, stride, padding)]
    sizes = _unpool_sizes(output_size, default, stride, pooled, order, len(shape))
    if any(s < 1 and shape[ax] for s, ax in zip(sizes, pooled)):
        raise ValueError(f"kernel_size, stride and padding give max_unpool an output size "
                         f"{tuple(sizes)}: (n - 1) * stride - 2 * padding + kernel_size "
                         f"must be positive on every axis")
    others = [a for a in range(len(shape)) if a not in pooled]
    check_output([shape[a] for a in others] + list(sizes),
                 "output_size" if output_size is not None else "kernel_size, stride, padding",
                 itemsize)
    return list(pooled), others, list(sizes), (kernel_size, stride, padding)


def _unpool_sizes(output_size, default, stride, pooled, order, ndim):
    if output_size is None:
        sizes = default
    else:
        given = [as_size(s, "output_size", minimum=0) for s in output_size]
        if len(given) == ndim and len(given) != len(pooled):
            given = [given[a] for a in pooled]
        elif len(given) == len(pooled):
            given = list(permute(given, order))
        else:
            raise ValueError(f"output_size must have {len(pooled)} entries (one per "
                             f"pooled axis) or {ndim} (the whole shape), got {len(given)}")
        for g, d, s in zip(given, default, stride):
            if not d - s < g < d + s:
                raise ValueError(f"output_size {tuple(given)} is invalid: each entry must "
                                 f"lie strictly between default - stride and default + "
                                 f"stride around {tuple(default)}")
        sizes = given
    return [int(s) for s in sizes]


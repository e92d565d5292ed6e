"""Fractional max pooling (Graham, "Fractional max-pooling", 2014), two ways.

* ``method="torch"``: PyTorch's ``FractionalMaxPool2d/3d``.  A fixed kernel;
  window ``i`` of a plane starts at ``int((i + u) a) - int(u a)`` with
  ``a = (n - k) / (out - 1)`` computed in the input's float precision, and the
  last window starts at ``n - k``.  Every plane (every index of the unpooled
  axes) has its own ``u`` per pooled axis.  Given the same samples the
  result equals torch's bit for bit.  ``out + k - 1 <= n`` is required
  (torch's 3-D version also refuses equality; ndpool, like torch's 2-D
  version, accepts it).
* ``method="graham"``: the paper's sequences as TensorFlow's
  ``fractional_max_pool`` generates them, one sequence per pooled axis shared
  by every plane: pseudo-random ``ceil(a (i + u))`` boundaries with
  ``a = n / out``, or random increments of ``n // out`` and ``n // out + 1``;
  regions disjoint, or overlapping by one element.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _engine
from ._dtypes import as_array
from ._layout import permute, resolve_axes
from ._params import generator
from ._planning import AxisPlan, as_size, is_sequence, per_axis, plan_intervals
from ._threads import resolve_workers

__all__ = ["fractional_max_pool"]


def _ratios(output_ratio, k):
    values = list(output_ratio) if is_sequence(output_ratio) else [output_ratio] * k
    if len(values) != k:
        raise ValueError(f"output_ratio must have one entry per pooled axis ({k}), "
                         f"got {len(values)}")
    for r in values:
        if isinstance(r, (bool, np.bool_)) or not isinstance(r, numbers.Real) \
                or not 0 < r < 1:
            raise ValueError(f"output_ratio entries must lie in (0, 1), got {output_ratio!r}")
    return values


def _output_sizes(x, pooled, order, output_size, output_ratio):
    if (output_size is None) == (output_ratio is None):
        raise ValueError("give exactly one of output_size and output_ratio")
    k = len(pooled)
    if output_size is not None:
        return list(permute(per_axis(output_size, k, "output_size"), order))
    ratios = permute(_ratios(output_ratio, k), order)
    sizes = [int(x.shape[ax] * r) for ax, r in zip(pooled, ratios)]
    if min(sizes) < 1:
        raise ValueError(f"output_ratio {output_ratio!r} gives an empty output for "
                         f"shape {x.shape}")
    return sizes


def _samples(samples, rng, shape, name="samples"):
    if samples is None:
        return generator(rng).random(shape)
    s = np.asarray(samples)
    if s.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of numbers in [0, 1), got dtype {s.dtype}")
    if s.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} (one value per plane and "
                         f"pooled axis), got {s.shape}")
    if not np.all((s >= 0) & (s < 1)):
        raise ValueError(f"{name} must lie in [0, 1)")
    return s


def _torch_starts(u, n, out, k, ftype):
    """PyTorch's window starts for every plane: u is (planes,) in precision ``ftype``."""
    starts = np.empty((len(u), out), np.intp)
    if out > 1:
        u = u.astype(ftype)
        alpha = ftype(n - k) / ftype(out - 1)
        i = np.arange(out - 1, dtype=ftype)
        # Each product rounds to ftype as torch's scalar_t arithmetic does; the
        # truncation is C's static_cast<int>.
        starts[:, :-1] = (((i[None, :] + u[:, None]) * alpha).astype(np.int64)
                          - (u * alpha).astype(np.int64)[:, None])
    starts[:, -1] = n - k
    return starts


def _graham_bounds(n, out, u, pseudo_random, rng):
    """Region boundaries (out + 1 of them, from 0 to n) for one axis."""
    if pseudo_random:
        alpha = n / out
        k = n // out
        max_u = min((k + 2) / alpha - 1, (n + 1 - k) / alpha - (out - 1))
        # u in (0, u_max]: at u = 0 a whole-number alpha would give an empty first
        # region (TensorFlow draws from [0, u_max) and can hit it).
        inner = np.ceil(alpha * (np.arange(1, out) + (1 - u) * max_u)).astype(np.int64)
        return np.concatenate([[0], inner - 1, [n]])
    steps = np.full(out, n // out, np.int64)
    steps[:n % out] += 1
    return np.concatenate([[0], np.cumsum(generator(rng).permutation(steps))])


def fractional_max_pool(x, kernel_size=None, output_size=None, output_ratio=None, *,
                        samples=None, rng=None, method="torch", pseudo_random=True,
                        overlapping=False, return_indices=False, axes=None,
                        channel_axis=None, workers=None):
    """Fractional max pooling: downsample by a non-integer factor with random regions.

    Parameters
    ----------
    x : array_like
    kernel_size : int or sequence of int
        The window (``method="torch"`` only; graham regions have no fixed size).
    output_size : int or sequence of int, optional
    output_ratio : float or sequence of float in (0, 1), optional
        Exactly one of the two; ``int(n * ratio)`` outputs per axis (PyTorch's rule).
    samples : array_like, optional
        The uniform variates in [0, 1).  torch: shape ``(*planes, k)``, one per
        plane (the unpooled axes, in order) and pooled axis, in ascending axis
        order (PyTorch's 2-D ``_random_samples`` list W before H, reverse its last
        axis).  graham (pseudo-random): shape ``(k,)``; ``s`` becomes
        ``u = (1 - s) u_max`` in ``(0, u_max]`` (TensorFlow draws ``[0, u_max)``,
        whose ``u = 0`` can leave a region empty).  Drawn from ``rng`` when not given.
    rng : numpy.random.Generator or int seed, optional
    method : {"torch", "graham"}
    pseudo_random, overlapping : bool
        graham only: pseudo-random or random sequences; regions that share
        their boundary element (TensorFlow's ``overlapping``).
    return_indices : bool
        Also return flat indices into the pooled sub-shape, as :func:`ndpool.max_pool`.
    axes, channel_axis, workers
        As for :func:`ndpool.max_pool`.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.arange(25.0).reshape(5, 5)      # x[r, c] = 5 r + c
    >>> # a = (5 - 2) / (3 - 1) = 1.5; with u = 0.5 the windows start at 0, 2, 3
    >>> ndpool.fractional_max_pool(x, 2, output_size=3, samples=[0.5, 0.5])
    array([[ 6.,  8.,  9.],
           [16., 18., 19.],
           [21., 23., 24.]])
    """
    x = as_array(x)
    if method not in ("torch", "graham"):
        raise ValueError(f"method must be 'torch' or 'graham', got {method!r}")
    raw = {"kernel_size": kernel_size, "output_size": output_size,
           "output_ratio": output_ratio}
    pooled, order = resolve_axes(x.ndim, axes, channel_axis,
                                 {k: v for k, v in raw.items() if v is not None})
    sizes = _output_sizes(x, pooled, order, output_size, output_ratio)
    if method == "torch":
        plans, moved = _torch_plans(x, pooled, order, kernel_size, sizes, samples, rng)
    else:
        if kernel_size is not None:
            raise ValueError("method='graham' takes no kernel_size: its regions are "
                             "generated")
        plans, moved = _graham_plans(x, pooled, sizes, samples, rng, pseudo_random,
                                     overlapping), None
    nthreads = resolve_workers(workers)
    xs = x if moved is None else np.ascontiguousarray(np.moveaxis(x, pooled, moved))
    ax = pooled if moved is None else moved
    if return_indices:
        values, indices = _engine.arg_extremum(xs, ax, plans, is_min=False,
                                               nthreads=nthreads)
    else:
        values = _engine.extremum(xs, ax, plans, is_min=False, nthreads=nthreads)
    if moved is not None:
        values = np.ascontiguousarray(np.moveaxis(values, moved, pooled))
        if return_indices:
            indices = np.ascontiguousarray(np.moveaxis(indices, moved, pooled))
    return (values, indices) if return_indices else values


def _torch_plans(x, pooled, order, kernel_size, sizes, samples, rng):
    """Per-plane plans, with the pooled axes moved last (planes first)."""
    if kernel_size is None:
        raise ValueError("method='torch' needs kernel_size")
    k = len(pooled)
    kernel = permute(per_axis(kernel_size, k, "kernel_size"), order)
    for ax, kk, out in zip(pooled, kernel, sizes):
        if out + kk - 1 > x.shape[ax]:
            raise ValueError(f"kernel_size {kk} with output size {out} does not fit axis "
                             f"{ax} of length {x.shape[ax]}: need out + kernel - 1 <= n")
    planes = [x.shape[a] for a in range(x.ndim) if a not in pooled]
    u = _samples(samples, rng, planes + [k]).reshape(math.prod(planes), k)
    ftype = np.float32 if x.dtype in (np.float32, np.float16) else np.float64
    plans = []
    for i, (ax, kk, out) in enumerate(zip(pooled, kernel, sizes)):
        start = _torch_starts(u[:, i], x.shape[ax], out, kk, ftype)
        count = np.full_like(start, kk)
        plans.append(AxisPlan(x.shape[ax], out, kk, 0, 1, 0, 0,
                              (start, count, count.astype(np.float64), np.zeros_like(start))))
    moved = list(range(x.ndim - k, x.ndim))
    return plans, moved


def _graham_plans(x, pooled, sizes, samples, rng, pseudo_random, overlapping):
    k = len(pooled)
    if pseudo_random:
        u = _samples(samples, rng, (k,))
    elif samples is not None:
        raise ValueError("samples apply to pseudo-random sequences only "
                         "(pseudo_random=True)")
    plans = []
    for i, (ax, out) in enumerate(zip(pooled, sizes)):
        n = x.shape[ax]
        as_size(out, "output_size")
        if out > n:
            raise ValueError(f"output size {out} exceeds axis {ax} of length {n}")
        bounds = _graham_bounds(n, out, u[i] if pseudo_random else None, pseudo_random,
                                rng)
        end = np.minimum(bounds[1:] + (1 if overlapping else 0), n)
        plans.append(plan_intervals(n, bounds[:-1], end - bounds[:-1]))
    return plans

"""Mixed, gated and tree pooling: learned or fixed blends of max and average pooling.

Lee, Gallagher & Tu, "Generalizing pooling functions in convolutional neural
networks: mixed, gated, and tree", AISTATS 2016; mixed pooling also in Yu et
al., "Mixed pooling for convolutional neural networks", RSKT 2014.

Window parameters mean exactly what they mean for :func:`ndpool.max_pool`;
the average is :func:`ndpool.avg_pool` with its defaults (padding counts in
the divisor).  Results are float (float64 for bool and integer input).
Weights (``gate``, ``leaves``, ``gates``) have the kernel's shape over the
pooled axes in ascending axis order, and meet padding as zeros, like a
convolution.  Max and average are blended in float64 and rounded once; NaN
propagates; a window that holds no element (dilated, all padding) gives 0.
"""
from __future__ import annotations

import numpy as np

from ._dask import dask_aware
from . import _bands, _engine, _gather
from ._dtypes import mean_dtype
from ._params import fraction
from ._spec import WindowSpec
from ._threads import resolve_workers
from .window import _avg, _max

__all__ = ["mixed_pool", "gated_pool", "tree_pool"]


def _sigmoid(z):
    """``1 / (1 + e^-z)`` of a float64 array of the caller's (the output-sized
    temporaries cost more than the arithmetic), in place where ``z`` is
    C-contiguous (else in a contiguous copy); returns the result.  Below
    z = -709.78, e^-z overflows to inf and the result is 0 (not a subnormal
    number), as at z = -inf; NaN stays NaN: z is negated as a product with -1
    (e^(r z), r = -1), which passes a NaN operand on, not by flipping the sign
    bit.  The exp is always _vexp.h's, never NumPy's: gated pooling's sweep
    (window.pyx's mixed_fused) takes the same sigmoid per row (_mix.h's
    nd_sigmoid), and every layout gives the same bits, a NaN's sign aside
    (where a blend meets two NaNs, NumPy's loops pass on either one, by the
    element's position, so that sign is not part of the result).  An exp is
    faster than a tanh (the symmetric form ``(1 + tanh(z / 2)) / 2``; with
    NumPy's, 2**21 outputs took 3.1 ms instead of 4.4 ms), and for z < 0 the exp
    form keeps its relative accuracy, where 1 + tanh cancels."""
    z = np.ascontiguousarray(z, np.float64)
    rows = z.reshape(1, -1)
    _engine.compiled_exp(rows, -1.0, out=rows)
    z += 1.0
    np.divide(1.0, z, out=z)
    return z


def _mix(s, a, b):
    """``s * a + (1 - s) * b``, rounded as written, into ``a`` (a float64 array of
    the caller's); ``s`` may broadcast against it."""
    rest = 1 - s
    with np.errstate(invalid="ignore"):        # inf * 0 where a window holds inf
        rest = np.multiply(rest, b, out=rest if np.shape(rest) == b.shape else None)
        a *= s
        a += rest
    return a


# Elements per piece of _by_pieces: a few float64 arrays of this many stay in a
# core's L2 cache through the NumPy passes of a sigmoid and a blend.
_PIECE = 2**17


def _by_pieces(func, arrays):
    """``func(*pieces)`` over aligned pieces of _PIECE elements of C-contiguous arrays
    of one size (flat views, so ``func`` writes through).  For elementwise ``func``
    the result is that of one call on the whole arrays, bit for bit, with each
    piece's passes in cache instead of each pass over memory: tree pooling's
    gates, blends and cast of the catalogue input (2**21 outputs, two leaves)
    took 7.4 ms instead of 9.5 ms (adjacent axes now evaluate the tree in the
    responses' sweep instead: _engine.window_tree).  One thread: Python threads
    started right after a kernel call compete with its OpenMP threads, which
    spin for a while before they sleep (tried: 2 threads were slower on 2
    cores)."""
    assert all(a.flags.c_contiguous for a in arrays)      # else reshape would copy
    flat = [a.reshape(-1) for a in arrays]
    for lo in range(0, flat[0].size, _PIECE):
        func(*(f[lo:lo + _PIECE] for f in flat))


def _weighted(spec, weights, nthreads):
    """Window responses to kernel-shaped filters: the engine's fused sweep when the
    pooled axes are adjacent, else the general gather (the same bits either way)."""
    resp = _engine.window_weighted(spec.x, spec.axes, spec.plans, weights, nthreads=nthreads)
    if resp is None:
        resp = _gather.weighted(spec.x, spec.axes, spec.plans, weights, nthreads)
    return resp


def _max_and_avg(spec, nthreads):
    """Both pools in float64, so a blend rounds once, at the end."""
    return (_max(spec, nthreads).astype(np.float64),
            _avg(spec, nthreads, dtype=np.float64))


def _blend(s, mx, av, spec):
    """``s * max + (1 - s) * avg`` in the method's float dtype; empty windows give 0."""
    out = _mix(s, mx, av)
    _engine._fill_empty(out, spec.axes, spec.plans, 0)
    return out.astype(mean_dtype(spec.x.dtype), copy=False)


def _mixed_or_gated(spec, nthreads, alpha=0.0, gate=None):
    """``s * max + (1 - s) * avg`` for a scalar ``alpha`` or a per-channel one, or
    with ``gate`` (float64, the kernel's shape) ``s = sigmoid(gate . window)``:
    the engine's one sweep when the pooled axes are adjacent and ``alpha`` is a
    scalar (max, sum and the gate's response from the same reads, the same
    bits), else the pools, the gate's response and its sigmoid as separate
    passes blended in NumPy."""
    if np.ndim(alpha) == 0:
        out = _engine.window_mixed(spec.x, spec.axes, spec.plans,
                                   [p.padded for p in spec.plans],
                                   mean_dtype(spec.x.dtype), alpha, gate=gate,
                                   nthreads=nthreads)
        if out is not None:
            _engine._fill_empty(out, spec.axes, spec.plans, 0)
            return out
    s = alpha if gate is None else _sigmoid(_weighted(spec, gate[None], nthreads)[..., 0])
    mx, av = _max_and_avg(spec, nthreads)
    return _blend(s, mx, av, spec)


def _along_channel(values, spec, name):
    """A per-channel vector reshaped to broadcast along the spec's channel axis."""
    if values.ndim == 0:
        return values
    if spec.channel_axis is None:
        raise ValueError(f"a per-channel {name} needs channel_axis")
    ax = spec.channel_axis
    if values.shape != (spec.x.shape[ax],):
        raise ValueError(f"{name} must be a scalar or have one entry per channel "
                         f"({spec.x.shape[ax]}), got shape {values.shape}")
    shape = [1] * spec.x.ndim
    shape[ax] = -1
    return values.reshape(shape)


@dask_aware
def mixed_pool(x, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               *, axes=None, channel_axis=None, workers=None):
    """Mixed pooling: ``alpha * max_pool + (1 - alpha) * avg_pool``.

    Parameters
    ----------
    alpha : float in [0, 1], or one value per channel (needs ``channel_axis``)

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.mixed_pool(np.array([[1.0, 2.0], [3.0, 6.0]]), 0.5, 2)   # (6 + 3) / 2
    array([[4.5]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _bands.run("mixed_pool", spec, resolve_workers(workers), {"alpha": alpha})


def _mixed(spec, nthreads, alpha):
    a = _along_channel(fraction(alpha, "alpha"), spec, "alpha")
    return _mixed_or_gated(spec, nthreads, alpha=a)


def _kernel_weights(w, spec, name, *, stacked):
    """Weights of the kernel's shape (with a leading stack axis if ``stacked``)."""
    w = np.asarray(w)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real array, got dtype {w.dtype}")
    want = tuple(spec.kernel_size)
    got = w.shape[1:] if stacked else w.shape
    if got != want:
        lead = "(n, " if stacked else "("
        raise ValueError(f"{name} must have the kernel's shape {lead}"
                         f"{', '.join(map(str, want))}), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite")
    return w.astype(np.float64).reshape((-1,) + want)


@dask_aware
def gated_pool(x, gate, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               *, axes=None, channel_axis=None, workers=None):
    """Gated pooling: ``s * max_pool + (1 - s) * avg_pool`` with ``s = sigmoid(gate . window)``.

    The gate is a learned mask of the kernel's shape; its response to each
    window decides, per window, how much of the max to use (Lee et al. 2016,
    the "one gate per layer" variant).

    Parameters
    ----------
    gate : ndarray, the kernel's shape

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> ndpool.gated_pool(x, np.zeros((2, 2)), 2)     # s = 1/2: mixed pooling
    array([[4.5]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _bands.run("gated_pool", spec, resolve_workers(workers), {"gate": gate})


def _gated(spec, nthreads, gate):
    w = _kernel_weights(gate, spec, "gate", stacked=False)
    return _mixed_or_gated(spec, nthreads, gate=w[0])


@dask_aware
def tree_pool(x, leaves, gates, kernel_size, stride=None, padding=0, dilation=1,
              ceil_mode=False, *, axes=None, channel_axis=None, workers=None):
    """Tree pooling: a binary tree of learned pooling filters mixed by learned gates.

    Leaf m responds ``v_m . window``; an internal node i (heap order: children
    2i+1 and 2i+2, leaves after the ``L - 1`` internal nodes) outputs
    ``s_i f_left + (1 - s_i) f_right`` with ``s_i = sigmoid(w_i . window)``;
    the root is the result (Lee et al. 2016, eq. for f_m).

    Parameters
    ----------
    leaves : (L, *kernel) ndarray, L a power of two >= 2
    gates : (L - 1, *kernel) ndarray

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> leaves = np.stack([np.full((2, 2), 0.25), np.eye(2)])   # mean, trace
    >>> ndpool.tree_pool(x, leaves, np.zeros((1, 2, 2)), 2)     # (3 + 7) / 2
    array([[5.]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _bands.run("tree_pool", spec, resolve_workers(workers),
                      {"leaves": leaves, "gates": gates})


def _tree(spec, nthreads, leaves, gates):
    v = _kernel_weights(leaves, spec, "leaves", stacked=True)
    w = _kernel_weights(gates, spec, "gates", stacked=True)
    n = len(v)
    if n < 2 or n & (n - 1):
        raise ValueError(f"leaves must hold a power of two >= 2 filters, got {n}")
    if len(w) != n - 1:
        raise ValueError(f"gates must hold len(leaves) - 1 = {n - 1} filters, got {len(w)}")
    filters = np.concatenate([w, v])              # gates 0..n-2, then the leaves
    out = _engine.window_tree(spec.x, spec.axes, spec.plans, filters,
                              mean_dtype(spec.x.dtype), nthreads=nthreads)
    if out is not None:                           # the sweep evaluated it, row by row
        _engine._fill_empty(out, spec.axes, spec.plans, 0)
        return out
    resp = _weighted(spec, filters, nthreads)
    # views from window_weighted, copies from the gather
    node = [np.ascontiguousarray(resp[..., i]) for i in range(2 * n - 1)]
    out = np.empty(spec.out_shape, mean_dtype(spec.x.dtype))

    def evaluate(out, *piece):
        """The tree on one piece of every response: node i = the blend of its
        children by its gate (into its left child's piece), children first; the
        root rounded into ``out``."""
        piece = list(piece)
        for i in range(n - 2, -1, -1):
            piece[i] = _mix(_sigmoid(piece[i]), piece[2 * i + 1], piece[2 * i + 2])
        out[...] = piece[0]

    _by_pieces(evaluate, [out] + node)
    _engine._fill_empty(out, spec.axes, spec.plans, 0)
    return out

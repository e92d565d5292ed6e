"""Slow, obviously-correct NumPy reference for the window-pooling contract.

Everything here is a literal transcription of DESIGN.md sections 2-3 (PyTorch semantics):
loop over every output position, enumerate every tap of its window, reduce with Python
scalars. No argument validation; it must never import ndpool.
"""
import itertools
import math

import numpy as np


def _per_axis(value, naxes):
    if isinstance(value, (int, np.integer)):
        return [int(value)] * naxes
    return [int(v) for v in value]


def plan_axis(n, k, s, p, d, ceil_mode):
    """Return (out, before, after) for one axis; p is an int, "same" or "valid"."""
    eff = d * (k - 1) + 1
    if p == "same":
        out = -(-n // s)
        total = max((out - 1) * s + eff - n, 0)
        return out, total // 2, total - total // 2
    if p == "valid":
        p = 0
    out = (n + 2 * p - eff + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out, p, p


def _normalize(x, kernel_size, stride, padding, dilation, axes):
    if axes is None:
        naxes = x.ndim if isinstance(kernel_size, (int, np.integer)) else len(kernel_size)
        axes = tuple(range(x.ndim - naxes, x.ndim))
    axes = tuple(sorted(a % x.ndim for a in axes))
    k = _per_axis(kernel_size, len(axes))
    s = k if stride is None else _per_axis(stride, len(axes))
    if isinstance(padding, str):
        p = [padding] * len(axes)
    else:
        p = _per_axis(padding, len(axes))
    d = _per_axis(dilation, len(axes))
    return axes, k, s, p, d


def _wrap_int(total, dtype):
    """Wrap a Python int into dtype the way np.sum's modular accumulation does."""
    bits = np.dtype(dtype).itemsize * 8
    total %= 1 << bits
    if np.dtype(dtype).kind == "i" and total >= 1 << (bits - 1):
        total -= 1 << bits
    return total


def _sum_dtype(dtype):
    return np.sum(np.zeros(1, dtype)).dtype


def _extreme_start(dtype, method):
    """Initial 'best' for max/min: the identity of the reduction."""
    if dtype.kind == "b":
        return method == "min"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return int(info.min) if method == "max" else int(info.max)
    return -math.inf if method == "max" else math.inf


def _isnan(v):
    return isinstance(v, float) and math.isnan(v)


@np.errstate(all="ignore")  # inf - inf is NaN here, as in any implementation
def reference_pool(x, method, kernel_size, stride=None, padding=0, dilation=1,
                   ceil_mode=False, count_include_pad=True, divisor_override=None,
                   axes=None, return_indices=False):
    x = np.asarray(x)
    axes, k, s, p, d = _normalize(x, kernel_size, stride, padding, dilation, axes)
    pooled_shape = tuple(x.shape[a] for a in axes)
    plans = [plan_axis(n, *args, ceil_mode)
             for n, args in zip(pooled_shape, zip(k, s, p, d))]

    out_shape = list(x.shape)
    for a, (o, _, _) in zip(axes, plans):
        out_shape[a] = o
    if method in ("max", "min"):
        out_dtype = x.dtype
    elif method == "sum":
        out_dtype = _sum_dtype(x.dtype)
    else:
        out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    out = np.empty(out_shape, out_dtype)
    idx_out = np.empty(out_shape, np.intp)

    for opos in np.ndindex(*out_shape):
        # Per pooled axis: all tap positions, and which of them lie inside the input.
        taps, padded_counts = [], []
        for i, a in enumerate(axes):
            n, (_, before, after) = pooled_shape[i], plans[i]
            pos = [opos[a] * s[i] - before + j * d[i] for j in range(k[i])]
            taps.append([q for q in pos if 0 <= q < n])
            padded_counts.append(sum(-before <= q < n + after for q in pos))
        window = list(itertools.product(*taps))  # row-major scan order

        def element(t):
            full = list(opos)
            for a, q in zip(axes, t):
                full[a] = q
            v = x[tuple(full)]
            return v.item()

        if method in ("max", "min"):
            best = _extreme_start(x.dtype, method)
            idx = -1
            for t in window:
                v = element(t)
                if idx == -1:
                    idx = np.ravel_multi_index(t, pooled_shape)
                better = v > best if method == "max" else v < best
                if better or _isnan(v):
                    best, idx = v, np.ravel_multi_index(t, pooled_shape)
            out[opos] = best
            idx_out[opos] = idx
        elif x.dtype.kind in "biu":
            total = sum(int(element(t)) for t in window)
            if method == "sum":
                out[opos] = _wrap_int(total, out_dtype)
            else:
                out[opos] = _divide(total, window, padded_counts, taps,
                                    count_include_pad, divisor_override)
        else:
            total = np.float64(0.0)
            for t in window:
                total = total + np.float64(element(t))
            if method == "sum":
                out[opos] = total
            else:
                out[opos] = _divide(total, window, padded_counts, taps,
                                    count_include_pad, divisor_override)

    if return_indices and method in ("max", "min"):
        return out, idx_out
    return out


def _divide(total, window, padded_counts, taps, count_include_pad, divisor_override):
    if not window:
        return 0.0
    if divisor_override is not None:
        divisor = divisor_override
    elif count_include_pad:
        divisor = math.prod(padded_counts)
    else:
        divisor = math.prod(len(t) for t in taps)
    if isinstance(total, int):
        return total / divisor  # Python int / int is correctly rounded
    return np.float64(total) / np.float64(divisor)


def reference_pool_with_indices(x, method, kernel_size, **kwargs):
    return reference_pool(x, method, kernel_size, return_indices=True, **kwargs)


def reference_unpool(x, indices, output_shape_of_pooled_axes, axes):
    x = np.asarray(x)
    axes = tuple(sorted(a % x.ndim for a in axes))
    out_shape = list(x.shape)
    for a, n in zip(axes, output_shape_of_pooled_axes):
        out_shape[a] = n
    out = np.zeros(out_shape, x.dtype)
    for ipos in np.ndindex(*x.shape):
        flat = int(indices[ipos])
        if flat == -1:
            continue
        target = list(ipos)
        for a, q in zip(axes, np.unravel_index(flat, output_shape_of_pooled_axes)):
            target[a] = q
        out[tuple(target)] = x[ipos]
    return out

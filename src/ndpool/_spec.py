"""A validated window call: the array, its pooled axes and their per-axis plans.

Every window-family function starts here, so validation happens once, in one
place, before any kernel runs.
"""
from __future__ import annotations

import functools

import numpy as np

from ._dtypes import as_array
from ._layout import normalize_axis, permute, resolve_axes
from ._planning import _PLAN_CACHES, per_axis, plan_axes


class WindowSpec:
    """A validated call: the array, its pooled axes and their per-axis plans."""

    def __init__(self, x, kernel_size, stride, padding, dilation, ceil_mode,
                 axes, channel_axis):
        self.x = as_array(x)
        if stride is None:
            stride = kernel_size
        key = _cache_key(self.x.shape, kernel_size, stride, padding, dilation, ceil_mode,
                         axes, channel_axis)
        resolved = (_resolve_cached(*key) if key is not None else
                    _resolve(self.x.shape, kernel_size, stride, padding, dilation,
                             ceil_mode, axes, channel_axis))
        (self.axes, self.channel_axis, self.kernel_size, self.stride, self.padding,
         self.dilation, self.ceil_mode, plans) = resolved
        self.plans = list(plans)

    @classmethod
    def from_plans(cls, x, axes, plans, channel_axis=None):
        """A spec whose windows were planned elsewhere (adaptive, global, fractional)."""
        spec = cls.__new__(cls)
        spec.x, spec.axes, spec.plans, spec.channel_axis = x, tuple(axes), list(plans), channel_axis
        spec.kernel_size = tuple(p.kernel for p in plans)
        spec.stride = tuple(p.stride for p in plans)
        spec.padding = tuple(p.before for p in plans)
        spec.dilation = tuple(p.dilation for p in plans)
        spec.ceil_mode = False
        return spec

    @property
    def out_shape(self):
        shape = list(self.x.shape)
        for ax, plan in zip(self.axes, self.plans):
            shape[ax] = plan.out
        return tuple(shape)


def _resolve(shape, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis):
    """Validate the parameters of a call on an array of ``shape`` and plan its axes."""
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    ndim = len(shape)
    raw = {"kernel_size": kernel_size, "stride": stride,
           "padding": padding, "dilation": dilation}
    axes, order = resolve_axes(ndim, axes, channel_axis, raw)
    channel_axis = (None if channel_axis is None
                    else normalize_axis(channel_axis, ndim, "channel_axis"))
    k = len(axes)
    sizes = [
        per_axis(kernel_size, k, "kernel_size"),
        per_axis(stride, k, "stride"),
        per_axis(padding, k, "padding", minimum=0, allow=("same", "valid")),
        per_axis(dilation, k, "dilation"),
    ]
    kernel_size, stride, padding, dilation = (permute(v, order) for v in sizes)
    # Lazy plans for axes of very many windows: every window function runs
    # them in bands (ndpool._bands.run), each band with its own tables.
    plans = plan_axes(shape, axes, kernel_size, stride, padding, dilation,
                      bool(ceil_mode), lazy=True)
    return (axes, channel_axis, kernel_size, stride, padding, dilation, bool(ceil_mode),
            tuple(plans))


# A loop pooling many same-shaped arrays validates and plans once: on a
# (1, 3, 32, 32) input this halves the cost of a call.  Only parameters of
# exact built-in types are cached, so that ``True`` never stands for ``1`` nor
# ``2.0`` for ``2`` (both are errors, and must stay errors).
_resolve_cached = functools.lru_cache(maxsize=256)(_resolve)
_PLAN_CACHES.append(_resolve_cached)


def _plain(value):
    """``value`` as a hashable key of exact built-in types, or _UNCACHEABLE."""
    t = type(value)
    if t is int or t is str or value is None:
        return value
    if t is tuple or t is list:
        for v in value:
            if type(v) is not int and type(v) is not str:
                return _UNCACHEABLE
        return tuple(value)
    return _UNCACHEABLE


_UNCACHEABLE = object()


def _cache_key(shape, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis):
    if type(ceil_mode) is not bool:
        return None
    key = [shape]
    for v in (kernel_size, stride, padding, dilation):
        v = _plain(v)
        if v is _UNCACHEABLE:
            return None
        key.append(v)
    key.append(ceil_mode)
    for v in (axes, channel_axis):
        v = _plain(v)
        if v is _UNCACHEABLE or type(v) is str:
            return None
        key.append(v)
    return tuple(key)


def check_out(out, shape, dtype, name="out"):
    """``out=`` must be a writeable ndarray of exactly the result's shape and dtype."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, the result has shape {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype}, the result has dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return out


def deliver(result, out):
    if out is None:
        return result
    if result is not out:
        np.copyto(out, result)
    return out

"""A validated window call: the array, its pooled axes and their per-axis plans.

Every window-family function starts here, so validation happens once, in one
place, before any kernel runs.
"""
from __future__ import annotations

import numpy as np

from ._dtypes import as_array
from ._layout import normalize_axis, permute, resolve_axes
from ._planning import per_axis, plan_axes


class WindowSpec:
    """A validated call: the array, its pooled axes and their per-axis plans."""

    def __init__(self, x, kernel_size, stride, padding, dilation, ceil_mode,
                 axes, channel_axis):
        self.x = as_array(x)
        if stride is None:
            stride = kernel_size
        if not isinstance(ceil_mode, (bool, np.bool_)):
            raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
        raw = {"kernel_size": kernel_size, "stride": stride,
               "padding": padding, "dilation": dilation}
        self.axes, order = resolve_axes(self.x.ndim, axes, channel_axis, raw)
        self.channel_axis = (None if channel_axis is None
                             else normalize_axis(channel_axis, self.x.ndim, "channel_axis"))
        k = len(self.axes)
        sizes = {
            "kernel_size": per_axis(kernel_size, k, "kernel_size"),
            "stride": per_axis(stride, k, "stride"),
            "padding": per_axis(padding, k, "padding", minimum=0, allow=("same", "valid")),
            "dilation": per_axis(dilation, k, "dilation"),
        }
        sizes = {name: permute(v, order) for name, v in sizes.items()}
        self.kernel_size = sizes["kernel_size"]
        self.stride = sizes["stride"]
        self.padding = sizes["padding"]
        self.dilation = sizes["dilation"]
        self.ceil_mode = bool(ceil_mode)
        # Lazy plans for axes of very many windows: every window function runs
        # them in bands (ndpool._bands.run), each band with its own tables.
        self.plans = plan_axes(self.x.shape, self.axes, sizes["kernel_size"],
                               sizes["stride"], sizes["padding"], sizes["dilation"],
                               bool(ceil_mode), lazy=True)

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

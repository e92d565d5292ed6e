"""Smooth pooling between average and max: Lp, power mean (GeM), SoftPool, log-sum-exp.

All four are computed per window on the gather kernels, relative to the
window's own largest value (``m (sum (x/m)^p)^(1/p)``, ``m + log(...)``), so
no intermediate overflows or underflows whatever the magnitudes or p: large
p really tends to max pooling.  NaN propagates through every method.

Window parameters (``kernel_size, stride, padding, dilation, ceil_mode,
axes, channel_axis, workers``) mean exactly what they mean for
:func:`ndpool.max_pool`.  Results are float: float16/32/64 input keeps its
dtype (computed in float64), bool and integer input gives float64.
"""
from __future__ import annotations

import numpy as np

from ._dask import dask_aware
from . import _gather
from ._dtypes import mean_dtype
from ._params import positive_real
from ._spec import WindowSpec, check_out, deliver
from ._threads import resolve_workers

__all__ = ["lp_pool", "power_mean_pool", "softpool", "lse_pool"]


def _as_float(values, spec):
    """A float64 result in the method's float dtype (float64 for bool/int input)."""
    return values.astype(mean_dtype(spec.x.dtype), copy=False)


def _finish(values, spec, out):
    """Deliver a core's result, into ``out`` if given."""
    return deliver(values, check_out(out, spec.out_shape, mean_dtype(spec.x.dtype)))


@dask_aware
def lp_pool(x, p, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
            axes=None, channel_axis=None, out=None, workers=None):
    """Lp pooling: ``(sum |x|^p) ** (1/p)`` over each window (p=2: L2 pooling).

    Equals ``torch.nn.functional.lp_pool1d/2d/3d`` for ``x >= 0`` (torch raises
    negative values to ``p`` without taking the absolute value first).  One
    difference in ceil_mode: torch scales a partial last window's sum by
    ``kernel area / taps``; ndpool sums the taps the window really holds.
    p=1 is sum pooling of ``|x|``; p -> inf tends to max pooling of ``|x|``.

    Sermanet, Chintala & LeCun, "Convolutional neural networks applied to
    house numbers digit classification", ICPR 2012.

    Parameters
    ----------
    x : array_like
    p : float > 0
    kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis, out, workers
        As for :func:`ndpool.max_pool`.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.lp_pool(np.array([[3.0, 4.0], [0.0, 0.0]]), 2, 2)
    array([[5.]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _finish(_lp(spec, resolve_workers(workers), p), spec, out)


def _lp(spec, nthreads, p):
    p = positive_real(p, "p")
    return _as_float(_gather.float_reduce(spec.x, spec.axes, spec.plans, _gather.LP, p,
                                          nthreads), spec)


@dask_aware
def power_mean_pool(x, p, kernel_size, stride=None, padding=0, dilation=1,
                    ceil_mode=False, *, eps=None, axes=None, channel_axis=None, out=None,
                    workers=None):
    """Power-mean pooling, "power average" / GeM: ``(mean x^p) ** (1/p)`` per window.

    The mean is over the elements the window holds (padding is not counted),
    so p=1 equals ``avg_pool(..., count_include_pad=False)`` and p -> inf tends
    to max pooling.  With ``eps`` the input is first clamped to ``[eps, inf)``
    as in GeM; without it, negative values raised to a non-integer p give NaN.

    Radenović, Tolias & Chum, "Fine-tuning CNN image retrieval with no human
    annotation", TPAMI 2018 (generalized mean pooling).

    Negative values under a non-integer p give NaN (use ``eps``); under an odd
    integer p a negative mean has its real, negative root.

    Parameters
    ----------
    x : array_like
    p : float > 0
    eps : float, optional
        Clamp the input from below (GeM uses 1e-6).
    kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis, out, workers
        As for :func:`ndpool.max_pool`.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.power_mean_pool(np.array([[1.0, 1.0], [1.0, 5.0]]), 3, 2)  # (128 / 4) ** (1/3)
    array([[3.1748021]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _finish(_power_mean(spec, resolve_workers(workers), p, eps), spec, out)


def _power_mean(spec, nthreads, p, eps=None):
    p = positive_real(p, "p")
    x = spec.x
    if eps is not None:
        eps = positive_real(eps, "eps", allow_zero=True)
        x = np.maximum(x, eps, dtype=np.float64)   # eps exactly, as the kernel computes
    values = _gather.float_reduce(x, spec.axes, spec.plans, _gather.POWER_MEAN, p, nthreads)
    return _as_float(values, spec)


def _softpool(spec, nthreads):
    return _as_float(_gather.float_reduce(spec.x, spec.axes, spec.plans, _gather.SOFTPOOL,
                                          0.0, nthreads), spec)


def _lse(spec, nthreads, r):
    r = positive_real(r, "r")
    return _as_float(_gather.float_reduce(spec.x, spec.axes, spec.plans, _gather.LSE, r,
                                          nthreads), spec)


@dask_aware
def softpool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             axes=None, channel_axis=None, out=None, workers=None):
    """SoftPool: the softmax-weighted mean ``sum(e^x x) / sum(e^x)`` of each window.

    Computed with each window's maximum subtracted first, so inputs of any
    magnitude (x = 1000) neither overflow nor lose the window's largest
    values.  NaN propagates; a window whose maximum is +-inf gives that value.

    Stergiou, Poppe & Kalliatakis, "Refining activation downsampling with
    SoftPool", ICCV 2021.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> ndpool.softpool(np.array([[0.0, 0.0], [0.0, 1000.0]]), 2)
    array([[1000.]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _finish(_softpool(spec, resolve_workers(workers)), spec, out)


@dask_aware
def lse_pool(x, r, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             axes=None, channel_axis=None, out=None, workers=None):
    """Log-sum-exp pooling: ``(1/r) log(mean(e^(r x)))`` over each window.

    r -> 0 tends to average pooling, r -> inf to max pooling.  Computed as
    ``m + log(mean(e^(r (x - m)))) / r`` with m the window maximum, so large
    ``r * x`` never overflows.

    Pinheiro & Collobert, "From image-level to pixel-level labeling with
    convolutional networks", CVPR 2015.

    Parameters
    ----------
    r : float > 0
        Sharpness.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([1.0, 3.0])
    >>> ndpool.lse_pool(x, 1e-6, 2).round(4), ndpool.lse_pool(x, 1e3, 2).round(2)
    (array([2.]), array([3.]))
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    return _finish(_lse(spec, resolve_workers(workers), r), spec, out)

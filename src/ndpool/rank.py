"""Order-statistic and sampling pooling: median and stochastic pooling.

Neither is separable.  Median runs on the gather kernels; stochastic sampling
over adjacent pooled axes reads each window in place on the engine's plan
tables (``window.stochastic_fused``), on any other layout it gathers, with the
same draws.  Window parameters mean exactly what they mean for
:func:`ndpool.max_pool`.
"""
from __future__ import annotations

from ._dask import dask_aware
from . import _bands, _engine, _gather
from ._dtypes import mean_dtype
from ._params import generator
from ._spec import WindowSpec, check_out, deliver
from ._threads import resolve_workers
from ._uniforms import Draws

__all__ = ["median_pool", "stochastic_pool"]


@dask_aware
def median_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
                axes=None, channel_axis=None, out=None, workers=None):
    """Median pooling: the median of the elements each window holds.

    Float input gives exactly ``np.median`` of the window (the mean of the two
    middle values for an even count; NaN if the window holds NaN).  The input
    dtype is kept, so for bool and integer input an even count's midpoint is
    rounded down (towards -inf), computed without overflow.  Padding is not
    an element; a window that holds none gives 0.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[1, 9, 2, 2], [3, 4, 7, 5]])
    >>> ndpool.median_pool(x, 2)          # medians 3.5 -> 3 and 3.5 -> 3
    array([[3, 3]])
    >>> ndpool.median_pool(x.astype(float), 2)
    array([[3.5, 3.5]])
    """
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    out = check_out(out, spec.out_shape, spec.x.dtype.newbyteorder("="))
    return deliver(_bands.run("median_pool", spec, resolve_workers(workers), {}), out)


def _median(spec, nthreads):
    values = _gather.median(spec.x, spec.axes, spec.plans, nthreads)
    return _engine._from_kernel(values, spec.x.dtype)


@dask_aware
def stochastic_pool(x, kernel_size, stride=None, *, mode="sample", rng=None, padding=0,
                    dilation=1, ceil_mode=False, axes=None, channel_axis=None,
                    return_indices=False, workers=None):
    """Stochastic pooling: draw each window's output with probability proportional to it.

    With ``a = max(x, 0)`` (the rectified activations the method assumes) the
    probability of tap i is ``p_i = a_i / sum(a)``.

    * ``mode="sample"`` (training): one draw per window from ``p``; the output
      is the drawn element, in the input dtype.  A window whose activations
      are all <= 0 has no mass: it outputs 0 and its index is a uniform draw.
    * ``mode="expectation"`` (test time): ``sum(p_i a_i) = sum(a^2) / sum(a)``,
      0 for a window without mass; a float result.

    NaN propagates (the sample is the window's last NaN).  Draws use one
    uniform variate per window, the numbers of ``rng.random(output_shape)``
    (drawn on ``workers`` threads when the bit generator can jump ahead, as
    NumPy's default PCG64 can), so a seed reproduces the result for any
    ``workers``, and ``rng`` is left as that one call would leave it.

    Zeiler & Fergus, "Stochastic pooling for regularization of deep
    convolutional neural networks", ICLR 2013.

    Parameters
    ----------
    mode : {"sample", "expectation"}
    rng : numpy.random.Generator or int seed, optional
    return_indices : bool
        With ``mode="sample"``, also return the flat index of each draw in the
        pooled sub-shape (as :func:`ndpool.max_pool` does).
    kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis, workers
        As for :func:`ndpool.max_pool`.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.array([[0.0, 1.0], [0.0, 3.0]])
    >>> ndpool.stochastic_pool(x, 2, mode="expectation")     # (1 + 9) / 4
    array([[2.5]])
    >>> ndpool.stochastic_pool(x, 2, rng=0).item() in (1.0, 3.0)
    True
    """
    if mode not in ("sample", "expectation"):
        raise ValueError(f"mode must be 'sample' or 'expectation', got {mode!r}")
    if return_indices and mode != "sample":
        raise ValueError("return_indices=True needs mode='sample'")
    spec = WindowSpec(x, kernel_size, stride, padding, dilation, ceil_mode, axes, channel_axis)
    rng = generator(rng) if mode == "sample" else None
    return _bands.run("stochastic_pool", spec, resolve_workers(workers),
                      {"mode": mode, "return_indices": return_indices}, rng)


def _stochastic(spec, nthreads, mode, u, return_indices=False):
    """Expectation, or one draw per window from the uniforms ``u`` (output-shaped)."""
    if mode == "expectation":
        values = _gather.float_reduce(spec.x, spec.axes, spec.plans, _gather.STOCH_EXPECT,
                                      0.0, nthreads)
        return values.astype(mean_dtype(spec.x.dtype), copy=False)
    fused = _engine.stochastic_sample(spec.x, spec.axes, spec.plans, u,
                                      with_index=return_indices, nthreads=nthreads)
    if fused is not None:
        values, index = fused
    else:
        if isinstance(u, Draws):
            u = u.array(nthreads)
        values, index = _gather.stochastic_sample(spec.x, spec.axes, spec.plans, u, nthreads)
        values = _engine._from_kernel(values, spec.x.dtype)
    return (values, index) if return_indices else values

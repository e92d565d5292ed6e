"""Which axes are pooled (DESIGN section 2), checked on output shapes and values."""
import numpy as np
import pytest

import ndpool
from ndpool._layout import resolve_axes


@pytest.mark.parametrize("ndim,axes,channel,params,expect", [
    (4, None, None, {"k": (2, 2)}, (2, 3)),          # NCHW, PyTorch style
    (3, None, -1, {"k": 2}, (0, 1)),                  # HWC, scikit-image style
    (3, None, None, {"k": 2}, (0, 1, 2)),             # int pools everything
    (4, None, -1, {"k": (2, 2)}, (1, 2)),             # NHWC: last two non-channel axes
    (4, None, 1, {"k": (2, 2)}, (2, 3)),
    (5, (1, 3), None, {"k": (2, 3)}, (1, 3)),
    (5, (3, 1), None, {"k": (2, 3)}, (1, 3)),         # given order, returned ascending
    (3, -1, None, {"k": 2}, (2,)),
    (4, None, None, {"k": 2, "s": (1, 2, 1)}, (1, 2, 3)),  # any sequence decides
])
def test_resolve_axes(ndim, axes, channel, params, expect):
    assert resolve_axes(ndim, axes, channel, params)[0] == expect


def test_axes_order_permutes_parameters():
    x = np.arange(2 * 6 * 8).reshape(2, 6, 8).astype(float)
    a = ndpool.max_pool(x, (2, 4), axes=(1, 2))
    b = ndpool.max_pool(x, (4, 2), axes=(2, 1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 3, 2)


@pytest.mark.parametrize("kwargs,match", [
    (dict(axes=(0, 0)), "repeat"),
    (dict(axes=(5,)), "out of range"),
    (dict(axes=(0,), channel_axis=0), "cannot also be"),
    (dict(axes=()), "at least one"),
    (dict(axes=1.0), "integer"),
    (dict(channel_axis=3), "out of range"),
])
def test_bad_axes(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ndpool.max_pool(np.zeros((4, 4, 3)), 2, **kwargs)


def test_sequence_longer_than_poolable_axes():
    with pytest.raises(ValueError, match="only 1 axes"):
        ndpool.max_pool(np.zeros((4, 3)), (2, 2), channel_axis=1)


def test_disagreeing_sequences():
    with pytest.raises(ValueError, match="disagree"):
        ndpool.max_pool(np.zeros((4, 4, 4)), (2, 2), stride=(1, 1, 1))


@pytest.mark.parametrize("pooled", [1, 2, 3, 4, 5])
def test_any_number_of_pooled_axes_and_batches(pooled):
    rng = np.random.default_rng(pooled)
    x = rng.integers(-50, 50, (2, 3) + (4,) * pooled).astype(np.int16)
    got = ndpool.max_pool(x, (2,) * pooled)
    # Non-overlapping 2-blocks: reshape-and-reduce is an independent oracle.
    shape = x.shape[:2] + sum(((2, 2) for _ in range(pooled)), ())
    expect = x.reshape(shape).max(axis=tuple(range(3, 3 + 2 * pooled, 2)))
    np.testing.assert_array_equal(got, expect)


def test_channels_last_equals_channels_first():
    rng = np.random.default_rng(0)
    nchw = rng.standard_normal((2, 5, 9, 7)).astype(np.float32)
    nhwc = np.ascontiguousarray(np.moveaxis(nchw, 1, -1))
    for f in (ndpool.max_pool, ndpool.avg_pool, ndpool.sum_pool, ndpool.min_pool):
        a = f(nchw, (3, 2), stride=(2, 1), padding=1)
        b = f(nhwc, (3, 2), stride=(2, 1), padding=1, channel_axis=-1)
        np.testing.assert_array_equal(a, np.moveaxis(b, -1, 1))

"""Bad input: ValueError or TypeError naming the argument, before any kernel runs."""
import numpy as np
import pytest

import ndpool

X = np.zeros((2, 3, 8, 8), np.float32)

BAD = [
    (dict(kernel_size=0), ValueError, "kernel_size"),
    (dict(kernel_size=-1), ValueError, "kernel_size"),
    (dict(kernel_size=2.5), TypeError, "kernel_size"),
    (dict(kernel_size=True), TypeError, "kernel_size"),
    (dict(kernel_size=(2, 2, 2, 2, 2)), ValueError, "only 4 axes"),
    (dict(kernel_size=2**62), ValueError, "does not fit"),
    (dict(kernel_size=(2, 2), stride=0), ValueError, "stride"),
    (dict(kernel_size=(2, 2), stride=(1, 1, 1)), ValueError, "disagree"),
    (dict(kernel_size=(2, 2), padding=2), ValueError, "padding"),
    (dict(kernel_size=(3, 3), padding=-1), ValueError, "padding"),
    (dict(kernel_size=(3, 3), padding="full"), ValueError, "padding"),
    (dict(kernel_size=(3, 3), padding="same", ceil_mode=True), ValueError, "ceil_mode"),
    (dict(kernel_size=(2, 2), dilation=0), ValueError, "dilation"),
    (dict(kernel_size=(9, 9)), ValueError, "does not fit"),
    (dict(kernel_size=(2, 2), ceil_mode="yes"), TypeError, "ceil_mode"),
    (dict(kernel_size=(2, 2), workers=0), ValueError, "workers"),
    (dict(kernel_size=(2, 2), workers=1.5), TypeError, "workers"),
]


@pytest.mark.parametrize("func", [ndpool.max_pool, ndpool.min_pool, ndpool.avg_pool,
                                  ndpool.sum_pool])
@pytest.mark.parametrize("kwargs,exc,match", BAD)
def test_bad_parameters(func, kwargs, exc, match):
    before = X.copy()
    with pytest.raises(exc, match=match):
        func(X, **kwargs)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("dtype", [np.complex64, object, "M8[s]", "U3",
                                   [("a", "f4")], np.longdouble])
def test_unsupported_dtypes(dtype):
    if np.dtype(dtype).itemsize <= 8 and np.dtype(dtype).kind == "f":
        pytest.skip("longdouble is double on this platform")
    x = np.zeros((4, 4), dtype=dtype)
    with pytest.raises(TypeError, match="dtype"):
        ndpool.max_pool(x, 2)


def test_divisor_override_must_be_positive_int():
    with pytest.raises(ValueError, match="divisor_override"):
        ndpool.avg_pool(X, (2, 2), divisor_override=0)
    with pytest.raises(TypeError, match="divisor_override"):
        ndpool.avg_pool(X, (2, 2), divisor_override=1.5)


@pytest.mark.parametrize("out,match", [
    (np.zeros((2, 3, 4, 4), np.float64), "dtype"),
    (np.zeros((2, 3, 4, 5), np.float32), "shape"),
    ([0.0], "numpy.ndarray"),
])
def test_bad_out(out, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ndpool.max_pool(X, (2, 2), out=out)


def test_read_only_out():
    out = np.zeros((2, 3, 4, 4), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ndpool.max_pool(X, (2, 2), out=out)


def test_unpool_bad_indices():
    v, i = ndpool.max_pool(np.arange(16.0).reshape(4, 4), 2, return_indices=True)
    with pytest.raises(ValueError, match="indices must lie"):
        ndpool.max_unpool(v, i + 100, 2)
    with pytest.raises(TypeError, match="indices"):
        ndpool.max_unpool(v, i.astype(float), 2)
    with pytest.raises(ValueError, match="shape"):
        ndpool.max_unpool(v, i[:1], 2)
    with pytest.raises(ValueError, match="output_size"):
        ndpool.max_unpool(v, i, 2, output_size=(9, 4))

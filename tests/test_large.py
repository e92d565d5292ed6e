"""More than 2**31 elements (issue 7; slow, run by `make fuzz`).

Kernels must index with Py_ssize_t: an int32 offset or index would wrap past
2**31 and read, write or report the wrong element.  The input is a 2 GiB uint8
array of shape (R, W) = (2**15 + 2, 2**16 + 4); a few values are planted in its
last rows, whose elements have flat indices above (R - 1) W > 2**31 - 1, and
found again.

A second input is one axis of 2**31 + 6 elements: its plan is lazy (tables
would cost 32 bytes per output position, 32 GiB here; DEFECT D12 of the
issue-7 report) and the calls run in bands of 2**16 outputs.
"""
import numpy as np
import pytest

import ndpool

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("watchdog")]

R, W = 2**15 + 2, 2**16 + 4
PLANTED = {(R - 2, W - 2): 100, (R - 2, W - 1): 200, (R - 1, W - 2): 50,  # the last 2x2 block
           (R - 1, W - 5): 201, (R - 1, W - 12): 7, (R - 1, W - 11): 7, (0, 5): 9}


@pytest.fixture(scope="module")
def big():
    x = np.zeros((R, W), np.uint8)
    assert x.size > 2**31
    for where, v in PLANTED.items():
        x[where] = v
    yield x
    assert {w: int(x[w]) for w in PLANTED} == PLANTED, "the input was modified"
    assert np.count_nonzero(x) == len(PLANTED), "the input was modified"


def test_max_pool(big):
    y = ndpool.max_pool(big, (2, 2))
    assert y.shape == (R // 2, W // 2) and y.dtype == np.uint8
    assert (y[-1, -1], y[-1, -3], y[-1, -6], y[0, 2]) == (200, 201, 7, 9)
    assert np.count_nonzero(y) == 4


def test_max_pool_indices(big):
    values, indices = ndpool.max_pool(big, (2, 2**16), return_indices=True)
    assert values.shape == (R // 2, 1)              # columns [0, 2**16) = [0, W - 4)
    assert values[-1, 0] == 201 and indices[-1, 0] == (R - 1) * W + W - 5     # > 2**31
    assert values[0, 0] == 9 and indices[0, 0] == 5
    assert np.count_nonzero(values) == 2


def test_max_pool_indices_in_bands(big):
    """A 4 GiB index output: pooled in bands (ndpool._bands), indices made global."""
    values, indices = ndpool.max_pool(big, (2, 2), return_indices=True)
    assert values.shape == indices.shape == (R // 2, W // 2)
    assert values[-1, -1] == 200 and indices[-1, -1] == (R - 2) * W + W - 1
    assert values[-1, -3] == 201 and indices[-1, -3] == (R - 1) * W + W - 5
    assert values[0, 2] == 9 and indices[0, 2] == 5
    assert indices[-1, 0] == (R - 2) * W                  # ties: the first tap, > 2**31
    assert np.count_nonzero(values) == 4
    del indices


def test_avg_and_sum_pool(big):
    y = ndpool.avg_pool(big, (2, 8))
    assert y.shape == (R // 2, W // 8) and y.dtype == np.float64
    assert y[-1, -1] == (201 + 7 + 7) / 16 and y[0, 0] == 9 / 16
    s = ndpool.sum_pool(big, (2, 2**12))
    assert s.dtype == np.uint64 and s[-1, -1] == 215 and s[0, 0] == 9 and s.sum() == 224


def test_median_pool(big):
    y = ndpool.median_pool(big, (2, 2))
    assert y.shape == (R // 2, W // 2)
    assert y[-1, -1] == 75                           # taps 100, 200, 50, 0: (50 + 100) // 2
    assert y[-1, (W - 12) // 2] == 3                 # taps 0, 0, 7, 7: (0 + 7) // 2
    assert np.count_nonzero(y) == 2


def test_one_long_axis():
    n = 2**31 + 6
    x = np.zeros(n, np.uint8)
    x[n - 1], x[n - 4], x[n - 3], x[3] = 5, 9, 7, 1
    y = ndpool.max_pool(x, 2)
    assert y.shape == (n // 2,) and (y[-1], y[-2], y[1]) == (5, 9, 1)
    assert np.count_nonzero(y) == 3
    del y
    m = ndpool.median_pool(x, 2)                  # (0 + 5) // 2, (9 + 7) // 2, (0 + 1) // 2
    assert (m[-1], m[-2], m[1]) == (2, 8, 0) and np.count_nonzero(m) == 2

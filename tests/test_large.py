"""More than 2**31 elements (issue 7; slow, run by `make fuzz`).

Kernels must index with Py_ssize_t: an int32 offset or index would wrap past
2**31 and read, write or report the wrong element.  The input is a 2 GiB uint8
array of shape (2, N), N = 2**30 + 4; a few values are planted in its second row,
whose elements have flat indices N..2N-1 > 2**31 - 1, and found again.
"""
import numpy as np
import pytest

import ndpool

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("watchdog")]

N = 2**30 + 4
PLANTED = {(0, N - 2): 100, (0, N - 1): 200, (1, N - 2): 50,   # the last 2x2 window
           (1, N - 5): 201, (1, N - 12): 7, (1, N - 11): 7, (1, 5): 9}


@pytest.fixture(scope="module")
def big():
    x = np.zeros((2, N), np.uint8)
    for where, v in PLANTED.items():
        x[where] = v
    yield x
    assert {w: int(x[w]) for w in PLANTED} == PLANTED, "the input was modified"
    assert np.count_nonzero(x) == len(PLANTED), "the input was modified"


def test_max_pool(big):
    y = ndpool.max_pool(big, (2, 2))
    assert y.shape == (1, N // 2) and y.dtype == np.uint8
    assert (y[0, -1], y[0, -3], y[0, -6], y[0, 2]) == (200, 201, 7, 9)
    assert np.count_nonzero(y) == 4


def test_max_pool_indices(big):
    values, indices = ndpool.max_pool(big, (2, 2**16), return_indices=True)
    assert values.shape == (1, N // 2**16)          # the last window is [N-4-2**16, N-4)
    assert values[0, -1] == 201 and indices[0, -1] == 2 * N - 5     # > 2**31
    assert values[0, 0] == 9 and indices[0, 0] == N + 5


def test_avg_and_sum_pool(big):
    y = ndpool.avg_pool(big, (2, 8))
    assert y.shape == (1, N // 8) and y.dtype == np.float64
    assert y[0, -1] == (201 + 7 + 7) / 16 and y[0, 0] == 9 / 16
    s = ndpool.sum_pool(big, (2, 2**12))
    assert s.dtype == np.uint64 and s[0, -1] == 215 and s[0, 0] == 9 and s.sum() == 224


def test_median_pool(big):
    y = ndpool.median_pool(big, (2, 2))
    assert y.shape == (1, N // 2)
    assert y[0, -1] == 75                            # taps 100, 200, 50, 0: (50 + 100) // 2
    assert y[0, (N - 12) // 2] == 3                  # taps 0, 0, 7, 7: (0 + 7) // 2
    assert np.count_nonzero(y) == 2

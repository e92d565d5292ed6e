"""pyramid: level shapes, dtypes, and values against a per-block Python oracle."""
import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyp import examples
from ndpool.blockreduce import pyramid

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
          np.int64, np.uint64, np.float16, np.float32, np.float64]
METHODS = ["mean", "max", "min", "sum", "median"]


def round_half_even(q):
    """A Fraction to the nearest integer, ties to even (Python's round)."""
    return round(q)


def oracle_block(values, method, dtype):
    """The reduction of one block's elements (a 1-D array of the level's dtype)."""
    if method in ("max", "min"):
        return getattr(np, method)(values)
    if method == "sum":
        acc = np.float64 if dtype.kind == "f" else None
        return np.sum(values, dtype=acc)
    if dtype.kind == "f":
        if method == "median":
            return np.median(values)
        return np.sum(values.astype(np.float64)) / len(values)
    ints = sorted(int(v) for v in values)
    if method == "mean":
        return round_half_even(Fraction(sum(ints), len(ints)))
    mid = len(ints) // 2
    return ints[mid] if len(ints) % 2 else round_half_even(Fraction(ints[mid - 1] + ints[mid], 2))


def oracle_level(x, block, method):
    shape = tuple(-(-n // b) for n, b in zip(x.shape, block))
    dtype = np.sum(x[:0]).dtype if method == "sum" else x.dtype
    out = np.zeros(shape, dtype)
    for o in itertools.product(*map(range, shape)):
        window = x[tuple(slice(i * b, (i + 1) * b) for i, b in zip(o, block))]
        out[o] = oracle_block(window.ravel(), method, x.dtype)
    return out


@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, (12, 9, 6, 4)[ndim - 1]),
                                min_size=ndim, max_size=ndim)))
    factor = draw(st.integers(2, 3) | st.lists(st.integers(1, 4), min_size=ndim,
                                               max_size=ndim).filter(lambda f: max(f) > 1))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind == "b":
        x = rng.random(shape) < 0.5
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    else:
        x = (rng.integers(-8, 8, shape, endpoint=True) / 4).astype(dtype)
        if draw(st.booleans()):
            x.flat[rng.integers(0, x.size)] = np.nan
    return x, factor


@examples(150)
@given(cases(), st.sampled_from(METHODS))
def test_levels_match_the_oracle(case, method):
    x, factor = case
    levels = pyramid(x, factor, method)
    block = (factor,) * x.ndim if isinstance(factor, int) else tuple(factor)
    assert levels[0] is x
    for prev, level in zip(levels, levels[1:]):
        want = oracle_level(prev, block, method)
        assert level.dtype == want.dtype and level.shape == want.shape
        if x.dtype.kind == "f" and method == "sum":
            np.testing.assert_allclose(level, want, rtol=2e-3 if x.dtype == np.float16 else 1e-6)
        else:
            np.testing.assert_array_equal(level, want)
    last = levels[-1].shape
    assert all(n == 1 for n, b in zip(last, block) if b > 1)
    assert len(levels) == 1 + max(steps(n, b) for n, b in zip(x.shape, block))


def steps(n, b):
    """How many ceil-divisions by b take n down to 1 (0 for b == 1)."""
    count = 0
    while b > 1 and n > 1:
        n, count = -(-n // b), count + 1
    return count


def test_shapes_channel_axis_and_levels():
    x = np.zeros((100, 60, 3), np.uint8)
    shapes = [a.shape for a in pyramid(x, channel_axis=-1)]
    assert shapes == [(100, 60, 3), (50, 30, 3), (25, 15, 3), (13, 8, 3), (7, 4, 3),
                      (4, 2, 3), (2, 1, 3), (1, 1, 3)]
    assert [a.shape for a in pyramid(x, (4, 2), channel_axis=2, levels=3)] == \
        [(100, 60, 3), (25, 30, 3), (7, 15, 3)]
    assert [a.shape for a in pyramid(x, (2, 1, 1))][-1] == (1, 60, 3)
    assert len(pyramid(x, levels=1)) == 1
    assert [a.shape for a in pyramid(np.zeros(()))] == [()]
    assert [a.shape for a in pyramid(np.zeros((1, 1)))] == [(1, 1)]
    assert [a.shape for a in pyramid(np.zeros((0, 5)))] == [(0, 5), (0, 3), (0, 2), (0, 1)]


def test_integer_means_are_exact_and_never_wrap():
    x = np.array([[255, 255, 254], [255, 254, 0]], np.uint8)
    assert pyramid(x)[1].tolist() == [[255, 127]]          # 254.75 -> 255; 127 exactly
    assert pyramid(np.array([1, 2, 3, 4, 5, 6], np.int8))[1].tolist() == [2, 4, 6]  # ties to even
    assert pyramid(np.array([-1, -2, -3, -4], np.int8))[1].tolist() == [-2, -4]
    big = np.iinfo(np.int64).max
    x = np.array([big, big - 1, big, big, -big, -big - 1], np.int64)
    assert pyramid(x)[1].tolist() == [big - 1, big, -big - 1]    # ties to even, in Python ints
    u = np.array([2**64 - 1, 2**64 - 3], np.uint64)
    assert pyramid(u)[1].tolist() == [2**64 - 2]
    assert pyramid(np.array([True, False, True, True]))[1].tolist() == [False, True]


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
@pytest.mark.parametrize("bits", [40, 58, 62])   # float64, int64 and Python-int sums
def test_integer_mean_paths(dtype, bits):
    x = np.random.default_rng(bits).integers(0, 2**bits, (7, 6), dtype=dtype)
    x[1, ::2] = 2**bits - 1 - np.arange(3, dtype=dtype)
    levels = pyramid(x, (2, 3))
    for prev, level in zip(levels, levels[1:]):
        np.testing.assert_array_equal(level, oracle_level(prev, (2, 3), "mean"))


def test_float_levels_keep_their_dtype():
    for dtype in (np.float16, np.float32, np.float64):
        x = np.arange(16, dtype=dtype).reshape(4, 4)
        for method in METHODS:
            assert all(a.dtype == dtype for a in pyramid(x, method=method))
    assert pyramid(np.ones((4, 4), np.uint8), method="sum")[1].dtype == np.uint64


def test_input_not_modified_and_layouts():
    base = np.random.default_rng(0).integers(0, 1000, (9, 14)).astype(np.int32)
    for x in (base[::-1], np.asfortranarray(base), base[:, ::2]):
        before = x.copy()
        for method in METHODS:
            got = pyramid(x, method=method)
            want = pyramid(np.ascontiguousarray(x), method=method)
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(method="avg"), ValueError, "method"),
    (dict(factor=1), ValueError, "factor"),
    (dict(factor=0), ValueError, "factor"),
    (dict(factor=2.5), TypeError, "factor"),
    (dict(factor=(2, 2, 2)), ValueError, "factor"),
    (dict(levels=0), ValueError, "levels"),
    (dict(levels=2.0), TypeError, "levels"),
    (dict(channel_axis=2), ValueError, "channel_axis"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        pyramid(np.zeros((4, 4)), **kwargs)


def test_bad_dtype():
    with pytest.raises(TypeError, match="image"):
        pyramid(np.zeros((4, 4), complex))

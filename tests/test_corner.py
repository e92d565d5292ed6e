"""Corner, center and cascade corner pooling against NumPy running maxima."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndpool
from hyp import examples
from reference_catalogue import CORNERS, running_max


@examples(60)
@given(st.integers(1, 9), st.integers(1, 9), st.sampled_from(sorted(CORNERS)),
       st.sampled_from([np.float32, np.float64, np.int16, np.uint8]), st.integers(1, 3),
       st.integers(0, 2**31))
def test_corner_and_cascade(h, w, corner, dtype, workers, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((2, h, w, 3)) * 20).astype(dtype)
    before = x.copy()
    d0, d1 = CORNERS[corner]
    got = ndpool.corner_pool(x, corner, axes=(1, 2), workers=workers)
    want = (running_max(x, 1, d0) + running_max(x, 2, d1)).astype(dtype)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == dtype
    casc = ndpool.cascade_corner_pool(x, corner, axes=(1, 2))
    want = (running_max(x + running_max(x, 2, d1), 1, d0)
            + running_max(x + running_max(x, 1, d0), 2, d1))
    np.testing.assert_array_equal(casc, want.astype(dtype))
    np.testing.assert_array_equal(x, before)


def test_center_pool_and_channels_last():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7, 3))
    got = ndpool.center_pool(x, channel_axis=-1)
    want = x.max(axis=1, keepdims=True) + x.max(axis=0, keepdims=True)
    np.testing.assert_array_equal(got, want)


def test_nd_corner_tuple_and_nan():
    x = np.random.default_rng(1).standard_normal((4, 5, 6))
    got = ndpool.corner_pool(x, (1, -1, 1))
    want = running_max(x, 0, 1) + running_max(x, 1, -1) + running_max(x, 2, 1)
    np.testing.assert_allclose(got, want)
    x[2, 0, 0] = np.nan            # on the axis-0 line through (0, 0, 0)
    assert np.isnan(ndpool.corner_pool(x, (1, 1, 1))[0, 0, 0])


@pytest.mark.parametrize("corner,match", [("middle", "corner must be"),
                                          ((1, 0), "\\+1 or -1"), ((1, 1, 1), "\\+1 or -1")])
def test_bad_corner(corner, match):
    with pytest.raises(ValueError, match=match):
        ndpool.corner_pool(np.zeros((3, 3)), corner)


def test_named_corner_needs_two_axes():
    with pytest.raises(ValueError, match="2-D corner"):
        ndpool.corner_pool(np.zeros((3, 3, 3)), "top_left")


def _bytes(a):
    return a.dtype.str + a.tobytes().hex()


@examples(60)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=4), st.data(),
       st.sampled_from([np.float32, np.float64, np.float16, np.int8, np.bool_]),
       st.integers(1, 5), st.integers(0, 2**31))
def test_large_inputs_pool_in_bands_exactly(shape, data, dtype, bands, seed):
    """Large inputs are pooled in bands (a carried running maximum across bands):
    the same bytes as the whole computation, NaN, -0.0 and wrapping included."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 9).astype(dtype)
    if dtype in (np.float32, np.float64, np.float16):
        x[rng.random(shape) < 0.1] = np.nan
        x[rng.random(shape) < 0.1] = -0.0
    k = data.draw(st.integers(1, len(shape)), label="pooled axes")
    axes = tuple(sorted(data.draw(st.permutations(range(len(shape))), label="axes")[:k]))
    dirs = tuple(data.draw(st.sampled_from([1, -1])) for _ in axes)
    calls = [lambda: ndpool.corner_pool(x, dirs, axes=axes),
             lambda: ndpool.cascade_corner_pool(x, dirs, axes=axes),
             lambda: ndpool.center_pool(x, axes=axes)]
    with np.errstate(over="ignore"):
        whole = [f() for f in calls]
        mp = pytest.MonkeyPatch()
        mp.setattr(ndpool.corner, "_WHOLE_BYTES", 0)
        mp.setattr(ndpool.corner, "_BANDS", bands)
        try:
            banded = [f() for f in calls]
        finally:
            mp.undo()
    assert [_bytes(b) for b in banded] == [_bytes(w) for w in whole]


@examples(80)
@given(st.lists(st.integers(1, 9), min_size=2, max_size=4), st.data(),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**31))
def test_one_sweep_equals_the_separate_passes(shape, data, dtype, seed):
    """Two adjacent float axes are pooled in one compiled sweep (corner._fused):
    the same bytes as the separate running-maximum passes, NaN and -0.0 included.
    Center pooling's line maxima come from NumPy's max in the passes, whose
    choice between tied zeros of both signs depends on the line's length (its
    reduction order), so there the zeros compare as equal values."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 9).astype(dtype)
    x[rng.random(shape) < 0.1] = np.nan
    x[rng.random(shape) < 0.1] = -0.0
    x[rng.random(shape) < 0.1] = 0.0
    a = data.draw(st.integers(0, len(shape) - 2), label="first pooled axis")
    dirs = tuple(data.draw(st.sampled_from([1, -1])) for _ in range(2))
    workers = data.draw(st.integers(1, 3), label="workers")
    calls = [lambda: ndpool.corner_pool(x, dirs, axes=(a, a + 1), workers=workers),
             lambda: ndpool.cascade_corner_pool(x, dirs, axes=(a, a + 1), workers=workers),
             lambda: ndpool.center_pool(x, axes=(a, a + 1), workers=workers)]
    fused = [f() for f in calls]
    mp = pytest.MonkeyPatch()
    mp.setattr(ndpool.corner, "_fused", lambda *args: None)
    try:
        passes = [f() for f in calls]
    finally:
        mp.undo()
    assert [_bytes(b) for b in fused[:2]] == [_bytes(p) for p in passes[:2]]
    assert fused[2].dtype == passes[2].dtype
    np.testing.assert_array_equal(fused[2], passes[2])


@pytest.mark.parametrize("shape", [(2, 21, 37), (3, 17, 8), (1, 9, 130), (20, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dirs", [(1, 1), (1, -1), (-1, 1), (-1, -1)])
def test_row_scans_in_blocks_equal_the_passes(shape, dtype, dirs):
    """The one sweep scans unit-inner rows eight or four at a time, a block of
    columns per step (_scan.h); rows and columns left over are scanned one by
    one.  These shapes leave both over, in both directions, and still give the
    passes' bytes, signed zeros included, and NaN in the same places.  (Which
    of two NaNs a sum returns is the compiler's choice of operand order, so
    NaN payloads are compared where they are not summed: the default NaN in
    test_one_sweep_equals_the_separate_passes.)"""
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 9).astype(dtype)
    x[rng.random(shape) < 0.05] = np.nan
    x[rng.random(shape) < 0.1] = -0.0
    x[rng.random(shape) < 0.1] = 0.0
    axes = (len(shape) - 2, len(shape) - 1)
    fused = [ndpool.corner_pool(x, dirs, axes=axes),
             ndpool.cascade_corner_pool(x, dirs, axes=axes)]
    mp = pytest.MonkeyPatch()
    mp.setattr(ndpool.corner, "_fused", lambda *args: None)
    try:
        passes = [ndpool.corner_pool(x, dirs, axes=axes),
                  ndpool.cascade_corner_pool(x, dirs, axes=axes)]
    finally:
        mp.undo()
    for f, p in zip(fused, passes):
        assert 0 < np.isnan(p).sum() < p.size
        np.testing.assert_array_equal(np.isnan(f), np.isnan(p))
        assert _bytes(f[~np.isnan(f)]) == _bytes(p[~np.isnan(p)])


def _picked_running_max(a, axis, direction):
    """The kernels' running maximum, one step at a time: the new element if it is
    greater than the maximum so far or is NaN, else the maximum so far (a tie
    keeps the earlier zero's sign, the first NaN keeps its payload)."""
    a = np.moveaxis(a, axis, 0)
    r = np.empty_like(a)
    order = range(len(a) - 1, -1, -1) if direction > 0 else range(len(a))
    acc = None
    for i in order:
        acc = a[i].copy() if acc is None else np.where((a[i] > acc) | np.isnan(a[i]),
                                                       a[i], acc)
        r[i] = acc
    return np.moveaxis(r, 0, axis)


@examples(60)
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from(sorted(CORNERS)),
       st.sampled_from([np.float32, np.float64]), st.integers(1, 3),
       st.integers(0, 2**31))
def test_fused_rows_scan_byte_for_byte(h, w, corner, dtype, workers, seed):
    """Unit-inner rows (NCHW planes) take the fused sweep and its vector scans
    along W (blocks of 8 rows and 8 or 4 columns, the rest serially): corner
    and cascade pooling give the bytes of step-by-step running maxima, with
    ties between +0 and -0 and NaNs of several payloads in most rows."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([0.0, -0.0, 1.0, -1.0, 2.0], dtype), (2, 3, h, w))
    ibits = np.dtype(f"u{x.itemsize}")
    nan = np.array(np.nan, dtype).view(ibits)
    payloads = (nan | rng.integers(1, 255, x.shape).astype(ibits)).view(dtype)
    holes = rng.random(x.shape) < 0.05
    x[holes] = payloads[holes]
    d0, d1 = CORNERS[corner]
    got = ndpool.corner_pool(x, corner, axes=(2, 3), workers=workers)
    t, l = _picked_running_max(x, 2, d0), _picked_running_max(x, 3, d1)
    # A sum of two NaNs may carry either payload (compilers take float sums as
    # commutative): there, NaN is all that is asked; every other byte is exact.
    both = np.isnan(t) & np.isnan(l)
    assert np.isnan(got[both]).all()
    assert _bytes(np.where(both, 0, got)) == _bytes(np.where(both, 0, t + l))
    got = ndpool.cascade_corner_pool(x, corner, axes=(2, 3), workers=workers)
    want = (_picked_running_max(x + l, 2, d0) + _picked_running_max(x + t, 3, d1))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert _bytes(np.where(np.isnan(got), 0, got)) == _bytes(np.where(np.isnan(want), 0,
                                                                      want))

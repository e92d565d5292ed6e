"""Behaviour the differential suites do not pin down: out=, dtypes, odd inputs, threads."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hyp import examples
import ndpool
from ndpool._threads import available_cores, resolve_workers


def test_out_is_filled_and_returned():
    x = np.random.default_rng(0).standard_normal((3, 8, 8)).astype(np.float32)
    for f, dt in ((ndpool.max_pool, np.float32), (ndpool.avg_pool, np.float32),
                  (ndpool.sum_pool, np.float32)):
        out = np.full((3, 4, 4), 7, dt)
        assert f(x, (2, 2), out=out) is out
        np.testing.assert_array_equal(out, f(x, (2, 2)))


def test_out_non_contiguous_and_overlapping():
    x = np.arange(64, dtype=np.float64).reshape(8, 8)
    big = np.zeros((4, 8))
    out = big[:, ::2]
    ndpool.max_pool(x, 2, out=out)
    np.testing.assert_array_equal(out, ndpool.max_pool(x, 2))
    expect = ndpool.max_pool(x, 2)
    ndpool.max_pool(x, 2, out=x[:4, :4])           # overlaps its own input
    np.testing.assert_array_equal(x[:4, :4], expect)


@pytest.mark.parametrize("dtype,sum_dt,avg_dt", [
    (np.bool_, np.int64, np.float64), (np.int8, np.int64, np.float64),
    (np.uint8, np.uint64, np.float64), (np.int32, np.int64, np.float64),
    (np.uint64, np.uint64, np.float64), (np.float16, np.float16, np.float16),
    (np.float32, np.float32, np.float32), (np.float64, np.float64, np.float64),
])
def test_dtype_rules(dtype, sum_dt, avg_dt):
    x = np.ones((4, 4), dtype)
    assert ndpool.max_pool(x, 2).dtype == dtype
    assert ndpool.min_pool(x, 2).dtype == dtype
    assert ndpool.sum_pool(x, 2).dtype == sum_dt
    assert ndpool.sum_pool(x, 2).dtype == np.sum(x[:2, :2]).dtype
    assert ndpool.avg_pool(x, 2).dtype == avg_dt
    assert ndpool.avg_pool(x, 2).dtype == np.mean(x[:2, :2]).dtype


def test_integer_sums_do_not_wrap():
    x = np.full((4, 4), 255, np.uint8)
    assert ndpool.sum_pool(x, 4)[0, 0] == 255 * 16
    y = np.full((2, 2), np.iinfo(np.int16).min, np.int16)
    assert ndpool.sum_pool(y, 2)[0, 0] == 4 * np.iinfo(np.int16).min
    assert ndpool.avg_pool(y, 2)[0, 0] == np.iinfo(np.int16).min


def test_nan_propagates_and_last_nan_is_reported():
    x = np.array([[1.0, np.nan], [np.nan, 4.0]])
    v, i = ndpool.max_pool(x, 2, return_indices=True)
    assert np.isnan(v[0, 0]) and i[0, 0] == 2
    v, i = ndpool.min_pool(x, 2, return_indices=True)
    assert np.isnan(v[0, 0]) and i[0, 0] == 2


def test_empty_dilated_window():
    v, i = ndpool.max_pool(np.array([1.0, 2.0]), 2, stride=1, padding=1, dilation=3,
                           return_indices=True)
    assert v.tolist() == [-np.inf] and i.tolist() == [-1]
    assert ndpool.avg_pool(np.array([1.0, 2.0]), 2, 1, 1, 3,
                           count_include_pad=False).tolist() == [0.0]
    assert ndpool.max_pool(np.array([1, 2], np.int8), 2, 1, 1, 3).tolist() == [-128]


def test_zero_size_arrays():
    assert ndpool.max_pool(np.zeros((0, 4)), 2).shape == (0, 2)
    assert ndpool.avg_pool(np.zeros((3, 0, 4)), (2, 2)).shape == (3, 0, 2)
    v, i = ndpool.max_pool(np.zeros((0, 4)), 2, return_indices=True)
    assert v.shape == i.shape == (0, 2)
    assert ndpool.max_unpool(v, i, 2).shape == (0, 4)


def test_scalar_input_rejected():
    with pytest.raises(ValueError, match="nothing to pool"):
        ndpool.max_pool(np.float32(3), 2)


@pytest.mark.parametrize("make", [
    lambda a: np.asfortranarray(a),
    lambda a: a[::-1, ::-1],
    lambda a: a.astype(a.dtype.newbyteorder()),
    lambda a: np.lib.stride_tricks.as_strided(a[:1], a.shape, (0,) + a.strides[1:]),
])
def test_odd_layouts(make):
    base = np.random.default_rng(1).integers(0, 100, (6, 9)).astype(np.float32)
    x = make(base)
    x.flags.writeable = False
    before = x.copy()
    ref = np.ascontiguousarray(x).astype(np.float32)
    for f in (ndpool.max_pool, ndpool.avg_pool, ndpool.sum_pool):
        np.testing.assert_array_equal(f(x, (3, 2), 1), f(ref, (3, 2), 1))
    np.testing.assert_array_equal(x, before)


def test_lists_are_accepted():
    assert ndpool.max_pool([[1, 2], [3, 4]], 2).tolist() == [[4]]


def test_workers_bit_identical():
    x = np.random.default_rng(2).standard_normal((3, 17, 33, 5)).astype(np.float32)
    for f in (ndpool.avg_pool, ndpool.max_pool):
        ref = f(x, (3, 3), 2, 1, channel_axis=-1, workers=1)
        for w in (2, 3, 8, None, -1):
            np.testing.assert_array_equal(f(x, (3, 3), 2, 1, channel_axis=-1, workers=w), ref)


def test_workers_resolution(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert available_cores() == 1
    assert resolve_workers(None) == 1
    assert resolve_workers(5) == 5          # explicit beats OMP_NUM_THREADS
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert resolve_workers(-1) == available_cores() >= 1
    # never more threads than cores (conftest lets tests see at least 8)
    assert resolve_workers(10**6) == ndpool._threads._cores() >= 8


def test_unpool_roundtrip_channels_last():
    rng = np.random.default_rng(3)
    x = rng.random((2, 6, 8, 3)) + 1  # positive: re-pooling the zeros keeps the maxima
    v, i = ndpool.max_pool(x, 2, channel_axis=-1, axes=(1, 2), return_indices=True)
    u = ndpool.max_unpool(v, i, 2, axes=(1, 2))
    assert u.shape == x.shape
    # every kept maximum is back in place; everything else is zero
    np.testing.assert_array_equal(ndpool.max_pool(u, 2, axes=(1, 2)), v)
    assert np.count_nonzero(u) == v.size


def test_unpool_skips_empty_windows():
    v, i = ndpool.max_pool(np.array([1.0, 2.0]), 2, stride=1, padding=1, dilation=3,
                           return_indices=True)
    assert i.tolist() == [-1]
    assert ndpool.max_unpool(v, i, 2, stride=1, output_size=(2,)).tolist() == [0.0, 0.0]


def _signed_bytes(a):
    """Values with the sign of zero and NaN-ness made visible, for exact comparison."""
    a = np.asarray(a, np.float64)
    return np.isnan(a).tobytes() + np.signbit(a).tobytes() + np.nan_to_num(a).tobytes()


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("is_min", [False, True])
def test_long_windows_keep_the_scan_winner(seed, is_min):
    """Windows of 32 taps or more along a contiguous row are reduced in lanes; where
    the result is a zero or a NaN, the winner must still be the element an in-order
    scan picks (torch's): windows full of +0.0, -0.0 and NaN, against torch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 300))
    k = int(rng.integers(32, 40))
    s = int(rng.integers(1, 5))
    x = rng.choice(np.array([0.0, -0.0, -1.0, 1.0 if seed % 2 else -2.0, np.nan]),
                   size=(3, n), p=[0.3, 0.3, 0.2, 0.15, 0.05]).astype(np.float32)
    sign = -1 if is_min else 1
    want = sign * torch.nn.functional.max_pool1d(torch.from_numpy(sign * x)[None], k, s)[0]
    f = ndpool.min_pool if is_min else ndpool.max_pool
    got = f(x, k, s, axes=-1)
    assert _signed_bytes(got) == _signed_bytes(want.numpy())
    # adaptive bins and global pooling reach the same loops through their tables
    full = (ndpool.global_pool(x, "min" if is_min else "max", axes=-1))
    want_full = sign * (sign * torch.from_numpy(x)).amax(dim=-1)
    assert np.array_equal(np.isnan(full), np.isnan(want_full.numpy()))


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("is_min", [False, True])
def test_long_windows_over_several_rows_keep_the_scan_winner(seed, is_min):
    """Windows of 32 or more taps along contiguous rows, over several rows (global
    max pooling of a plane): their float rows are folded first, out of scan
    order, and a result that is a zero or a NaN is taken again in order.  The
    bits must be torch's in-order scan's, on windows whose maxima are zeros or
    NaNs of either sign (which one wins shows in the sign bit), dense or
    sparse (sparse ones are where the first in scan order and the first in a
    column-first order part), and on random normals."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    dtype = np.float32 if seed % 2 else np.float64
    h, w = int(rng.integers(2, 12)), int(rng.integers(32, 120))
    kh, kw = int(rng.integers(2, h + 1)), int(rng.integers(32, w + 1))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 9)))
    values = np.array([0.0, -0.0, -1.0, -2.0, np.nan, -np.nan])
    p = [[0.3, 0.3, 0.2, 0.15, 0.025, 0.025],      # dense zeros, some NaN
         [0.03, 0.03, 0.47, 0.47, 0.0, 0.0],       # sparse zeros: the maxima
         [0.0, 0.0, 0.49, 0.49, 0.01, 0.01],       # sparse NaNs
         None][seed % 4]
    sign = -1 if is_min else 1
    if p is None:
        x = rng.standard_normal((2, 3, h, w)).astype(dtype)     # no rescan at all
    else:
        x = sign * rng.choice(values, size=(2, 3, h, w), p=p).astype(dtype)
    f = ndpool.min_pool if is_min else ndpool.max_pool
    bits = np.uint32 if dtype == np.float32 else np.uint64
    for kernel, step in (((kh, kw), stride), ((h, w), None)):
        want = sign * torch.nn.functional.max_pool2d(torch.from_numpy(sign * x), kernel, step)
        got = f(x, kernel, step, axes=(-2, -1))
        assert got.view(bits).tobytes() == want.numpy().view(bits).tobytes()


@pytest.mark.parametrize("seed", range(8))
def test_spatial_pyramid_from_finer_levels_is_exact(seed):
    """A max pyramid level whose bins are unions of a finer level's bins is taken from
    that level; it must give the bytes of the level pooled directly, zeros' signs and
    NaN included (those levels are pooled directly)."""
    rng = np.random.default_rng(seed)
    h, w = 8 * int(rng.integers(1, 6)), 4 * int(rng.integers(1, 9))
    # Negative values with a few zeros of either sign: the zeros are the maxima, and
    # which one a bin reports depends on the order of the scan.
    x = -rng.integers(1, 4, (2, 3, h, w)).astype(np.float32)
    zeros = rng.random(x.shape) < (0.03 if seed % 2 else 0.3)
    x[zeros] = np.where(rng.random(zeros.sum()) < 0.5, -0.0, 0.0)
    if seed % 3 == 0:
        x[rng.random(x.shape) < 0.01] = np.nan
    levels = (1, 2, (4, 2), 4, 8)
    for method in ("max", "min"):
        got = ndpool.spatial_pyramid_pool(x, levels, method, axes=(-2, -1))
        want = np.concatenate([
            ndpool.adaptive_pool(x, lv, method, axes=(-2, -1)).reshape(2, 3, -1)
            for lv in levels], axis=-1)
        assert _signed_bytes(got) == _signed_bytes(want)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_window_means_add_their_taps_in_order(dtype, workers):
    """Average pooling adds a window's taps in float64 one after another, input row
    by input row, left to right, then divides once, whatever path the kernel takes
    (the long windows of a global or strip mean are summed several output rows side
    by side, each still in order).  The reference is np.cumsum over each window's
    taps, which is sequential: with values of sixteen orders of magnitude, whose
    float64 sums round, a sum in any other order (pairwise, in SIMD lanes) differs
    in the last bits and fails the bitwise comparison."""
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((3, 5, 37, 41))
         * 10.0 ** rng.integers(-8, 9, (3, 5, 37, 41))).astype(dtype)
    x64 = x.astype(np.float64)

    def in_order(windows, count):           # windows (..., kh, kw): row-major taps
        flat = windows.reshape(windows.shape[:-2] + (-1,))
        return (np.cumsum(flat, axis=-1)[..., -1] / count).astype(dtype)

    # the global mean (one window per plane; 15 planes: groups of four and the rest)
    got = ndpool.global_avg_pool(x, axes=(-2, -1), workers=workers)
    np.testing.assert_array_equal(got, in_order(x64, 37 * 41))
    # a power of two of taps (the quotient is a product by its reciprocal)
    got = ndpool.global_avg_pool(x[..., :32, :32], axes=(-2, -1), workers=workers)
    np.testing.assert_array_equal(got, in_order(x64[..., :32, :32], 1024))
    # long windows of two rows, several per row, strided
    win = sliding_window_view(x64, (2, 35), axis=(-2, -1))[..., :, ::3, :, :]
    got = ndpool.avg_pool(x, (2, 35), stride=(1, 3), workers=workers)
    np.testing.assert_array_equal(got, in_order(win, 70))
    # clipped windows at both ends (padding not counted): the edge windows too
    pad = np.pad(x64, [(0, 0)] * 3 + [(16, 16)])
    valid = np.pad(np.ones(41), 16)
    win = sliding_window_view(pad, 33, axis=-1)[..., ::4, :]
    counts = sliding_window_view(valid, 33)[::4].sum(axis=-1)
    got = ndpool.avg_pool(x, (1, 33), stride=(1, 4), padding=(0, 16),
                          count_include_pad=False, workers=workers)
    np.testing.assert_array_equal(got, in_order(win[..., None, :], counts))


@examples(200)
@given(n=st.integers(1, 70), k=st.integers(1, 5), s=st.integers(1, 3), d=st.integers(1, 2),
       pad=st.integers(0, 2), outer=st.integers(1, 5),
       dtype=st.sampled_from([np.float32, np.float64]), is_min=st.booleans(),
       with_xi=st.booleans(), nthreads=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_regular_windows_with_indices_pick_as_the_tables_do(n, k, s, d, pad, outer, dtype,
                                                           is_min, with_xi, nthreads, seed):
    """arg_extremum_pass takes a row's whole, evenly spaced windows of single float
    elements side by side (_argfold.h's nd_arg_regular_*), the rest from the plan's
    tables.  With the regular range given and with none, every value (zeros'
    signs and NaNs included) and every index must be the same: rows drawn from
    +-0, +-1 and NaN make ties and NaNs in most windows, so a pick out of order
    (a later tie, the first of two NaNs) shows; xi are the indices an earlier
    pass would have recorded."""
    from ndpool import _engine
    from ndpool._kernels import window as _k
    from ndpool._spec import WindowSpec
    assume(d * (k - 1) < n + 2 * pad and 2 * pad <= k)
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([0.0, -0.0, 1.0, -1.0, np.nan]), size=(outer, n),
                   p=[0.25, 0.25, 0.2, 0.2, 0.1]).astype(dtype)
    plan = WindowSpec(x, k, s, pad, d, False, (1,), None).plans[0]
    lo, hi = plan.regular
    xi = rng.integers(0, 1000, (outer, n, 1)).astype(np.intp) if with_xi else None
    got = []
    for a, b in ((lo, hi), (0, 0)):
        y = np.empty((outer, plan.out, 1), dtype)
        yi = np.empty((outer, plan.out, 1), np.intp)
        _k.arg_extremum_pass(x.reshape(outer, n, 1), xi, y, yi, *_engine._tables(plan, outer),
                             plan.dilation, 7, is_min, a, b, -plan.before, plan.stride,
                             plan.kernel if b > a else 0, nthreads)
        got.append((_signed_bytes(y), yi.tobytes()))
    assert got[0] == got[1]

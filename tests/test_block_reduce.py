"""block_reduce against skimage.measure.block_reduce: same values, dtype, shape and errors."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import ndpool.blockreduce
from hyp import examples
from ndpool.blockreduce import _network, block_reduce

skimage_measure = pytest.importorskip("skimage.measure")
sk_block_reduce = skimage_measure.block_reduce

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
          np.int64, np.uint64, np.float16, np.float32, np.float64]
FAST = [np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.median,
        np.nansum, np.nanmean, np.nanmax, np.nanmin]
FLOAT_SUMS = (np.sum, np.mean, np.nansum, np.nanmean)
CVALS = [0, 1, -1, 2, 0.5, -2.5, 300, np.nan, np.inf, -np.inf, True]


def peak_to_peak(a, axis):
    return np.ptp(a, axis=axis)


def first_moment(a, axis, scale=1.0):
    return np.mean(a.astype(np.float64), axis=axis) * scale


CUSTOM = [(peak_to_peak, None), (np.std, None), (np.sum, {"dtype": np.uint8}),
          (np.mean, {"dtype": np.float32}), (np.max, {"keepdims": False}),
          (first_moment, {"scale": 0.5}), (np.prod, None), (np.any, None)]


def call(f, *args, **kw):
    """f's result, or the type of the exception it raised; warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return f(*args, **kw)
        except Exception as e:  # compared by type
            return type(e)


def both(x, block, func, **kw):
    """(skimage's result or exception type, ndpool's)."""
    return [call(f, x, block, func, **kw) for f in (sk_block_reduce, block_reduce)]


def assert_same(got, want):
    """Same type (NumPy scalar or array), dtype, shape and values (NaN == NaN)."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, type):   # both raised
        return
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert np.shape(got) == np.shape(want)
    assert np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"), (got, want)


@st.composite
def images(draw, dtypes=DTYPES, exact_sums=True, max_ndim=5):
    """An image of 0..max_ndim axes (lengths 0..7) and one block size per axis.

    Values come from a drawn seed (fast for big arrays): the full integer range or
    small integers; with exact_sums, floats are small multiples of 0.5 so that every
    block sum is exact in every float dtype and the comparison can be bit for bit;
    NaN and +-inf are sprinkled in.
    """
    ndim = draw(st.integers(0, max_ndim))
    longest = (7, 7, 7, 5, 4, 3)[ndim]
    shape = tuple(draw(st.lists(st.integers(0, longest), min_size=ndim, max_size=ndim)))
    block = tuple(draw(st.lists(st.integers(1, 3) | st.integers(4, 9),
                                min_size=ndim, max_size=ndim)))
    assume(math.prod(block) <= 512)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    small = draw(st.booleans())
    if dtype.kind == "b":
        x = rng.random(shape) < 0.5
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = (max(int(info.min), -3), 3) if small else (int(info.min), int(info.max))
        x = rng.integers(lo, hi, shape, dtype=dtype, endpoint=True)
    elif exact_sums:
        x = (rng.integers(-4, 4, shape, endpoint=True) / 2).astype(dtype)
    else:
        big = 60 if dtype.itemsize == 2 else 1e3   # no float16 block sum overflows
        x = (rng.uniform(-big, big, shape) * 10.0 ** -rng.integers(0, 4, shape)).astype(dtype)
    if dtype.kind == "f" and x.size and draw(st.booleans()):
        specials = [np.nan] + [np.inf, -np.inf] * exact_sums
        x.flat[rng.integers(0, x.size, 1 + x.size // 8)] = rng.choice(specials, 1 + x.size // 8)
    return x, block


def block_arg(draw, block):
    """block_size as a user writes it: an int when all equal, else a tuple."""
    if block and len(set(block)) == 1 and draw(st.booleans()):
        return block[0]
    return block


@examples(2000)
@given(images(), st.sampled_from(FAST), st.sampled_from(CVALS), st.data())
def test_fast_funcs_match_skimage(case, func, cval, data):
    x, block = case
    if x.dtype == np.float16 and func in FLOAT_SUMS:   # keep float16 block sums exact
        assume(math.prod(block) <= 256)
        cval = 1 if cval == 300 else cval
    want, got = both(x, block_arg(data.draw, block), func, cval=cval)
    assert_same(got, want)


@examples(200)
@given(images(max_ndim=3), st.sampled_from(CUSTOM), st.sampled_from(CVALS))
def test_any_callable_and_func_kwargs_match_skimage(case, func_and_kwargs, cval):
    x, block = case
    func, kwargs = func_and_kwargs
    want, got = both(x, block, func, cval=cval, func_kwargs=kwargs)
    assert_same(got, want)


@examples(200)
@given(images(dtypes=[np.float16, np.float32, np.float64], exact_sums=False, max_ndim=3),
       st.sampled_from(FLOAT_SUMS), st.sampled_from([0, 1.5, -7.25, np.nan]))
def test_float_sums_within_a_few_ulps(case, func, cval):
    """Float sums and means: float64 accumulation vs NumPy's, a few ulps of sum(|x|)."""
    x, block = case
    want, got = both(x, block, func, cval=cval)
    if isinstance(want, type):
        assert got is want
        return
    assert got.dtype == want.dtype and np.shape(got) == np.shape(want)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    scale = sk_block_reduce(np.nan_to_num(np.abs(x.astype(np.float64))), block, np.sum,
                            cval=0 if np.isnan(cval) else abs(cval))
    k = math.prod(block)
    if func in (np.mean, np.nanmean):
        scale = scale / k
    eps = np.finfo(x.dtype).eps
    tol = 2 * k * eps * scale + np.finfo(x.dtype).smallest_subnormal * k
    finite = ~np.isnan(want)
    assert np.all(np.abs(got[finite].astype(np.float64) - want[finite]) <= tol[finite])


def test_float_sum_ulp_difference_is_real_and_small():
    """The documented difference: NumPy sums float32 blocks in float32, in layout order."""
    x = np.random.default_rng(0).standard_normal((64, 64, 3)).astype(np.float32)
    want = sk_block_reduce(x, (2, 2, 1), np.mean)
    got = block_reduce(x, (2, 2, 1), np.mean)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=4 * np.finfo(np.float32).eps * 4)
    exact = np.mean(x.reshape(32, 2, 32, 2, 3).astype(np.float64), axis=(1, 3))
    assert np.abs(got - exact).max() <= np.abs(want - exact).max()
    # scikit-image's own float32 result depends on the memory layout
    fortran = sk_block_reduce(np.asfortranarray(x), (2, 2, 1), np.mean)
    assert not np.array_equal(fortran, want)


def test_integer_sums_wrap_like_numpy():
    x = np.array([2**62, 2**62, 2**62, -5, 7], np.int64)
    for cval in (0, 2**62, -1):
        assert_same(block_reduce(x, 2, np.sum, cval=cval),
                    sk_block_reduce(x, 2, np.sum, cval=cval))
    u = np.array([2**63, 2**63, 5], np.uint64)
    assert_same(block_reduce(u, 2, np.sum), sk_block_reduce(u, 2, np.sum))
    assert_same(block_reduce(u, 2, np.sum, func_kwargs={"dtype": np.uint8}),
                sk_block_reduce(u, 2, np.sum, func_kwargs={"dtype": np.uint8}))


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_int64_means_that_float64_cannot_hold(dtype):
    info = np.iinfo(dtype)
    x = np.array([info.max, info.max - 1, 3, info.max, 1, 2, 5], dtype)
    for func in (np.mean, np.median, np.nanmean):
        assert_same(block_reduce(x, 2, func), sk_block_reduce(x, 2, func))
        assert_same(block_reduce(x, 3, func, cval=7), sk_block_reduce(x, 3, func, cval=7))


@pytest.mark.parametrize("cval", [-1, 300, 0.5, -0.5, 2.7, 1e10, True])
@pytest.mark.parametrize("func", [np.max, np.min, np.sum, np.mean, np.median])
def test_cval_is_cast_like_np_pad(cval, func):
    x = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(block_reduce(x, 2, func, cval=cval), sk_block_reduce(x, 2, func, cval=cval))


def test_cval_unused_when_blocks_tile():
    x = np.arange(16.0).reshape(4, 4)
    assert_same(block_reduce(x, 2, np.max, cval="not a number"), sk_block_reduce(x, 2, np.max))
    with pytest.raises(ValueError):
        block_reduce(x, 3, np.max, cval="not a number")


@pytest.mark.parametrize("func", FAST)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_zero_dimensional_image(func, dtype):
    x = np.array(5, dtype)
    for block in (2, ()):
        assert_same(block_reduce(x, block, func), sk_block_reduce(x, block, func))


@pytest.mark.parametrize("layout", ["fortran", "negative", "strided", "readonly", "swapped"])
@pytest.mark.parametrize("func", FAST + [peak_to_peak])
def test_layouts(layout, func):
    base = np.random.default_rng(1).integers(-50, 50, (9, 10, 3)).astype(np.int16)
    x = {"fortran": np.asfortranarray(base), "negative": base[::-1, :, ::-1],
         "strided": base[::2, 1::2], "readonly": base.copy(),
         "swapped": base.astype(">i2")}[layout]
    x.flags.writeable = layout != "readonly"
    before = x.copy()
    assert_same(block_reduce(x, (2, 3, 1), func, cval=4),
                sk_block_reduce(x, (2, 3, 1), func, cval=4))
    np.testing.assert_array_equal(x, before)


def test_nan_functions_warn_like_numpy():
    x = np.array([[np.nan, np.nan, 1.0, 2.0]] * 2)
    for func in (np.nanmax, np.nanmin, np.nanmean):
        with pytest.warns(RuntimeWarning):
            got = block_reduce(x, 2, func)
        with pytest.warns(RuntimeWarning):
            want = sk_block_reduce(x, 2, func)
        assert_same(got, want)


def test_median_network_sorts():
    """Batcher's network sorts every 0/1 input (so every input) for k up to 16."""
    for k in range(1, 17):
        wires = list(((np.arange(2**k)[:, None] >> np.arange(k)) & 1).T)
        for i, j in _network(k):
            wires[i], wires[j] = np.minimum(wires[i], wires[j]), np.maximum(wires[i], wires[j])
        assert (np.diff(np.stack(wires), axis=0) >= 0).all()


@pytest.mark.parametrize("block", [(8, 9), (3, 30), (11, 1), (5, 5)])  # > 64 taps: partition
def test_large_median_blocks(block):
    x = np.random.default_rng(2).standard_normal((23, 20)).astype(np.float32)
    x[3, 4] = np.nan
    for arr in (x, np.nan_to_num(x * 10).astype(np.int32)):
        assert_same(block_reduce(arr, block, np.median), sk_block_reduce(arr, block, np.median))


@examples(200)
@given(images(max_ndim=4), st.booleans(), st.integers(1, 64))
def test_median_in_bands_matches_skimage(case, trim, band_bytes):
    """Large medians take the full blocks in bands of block rows; forced here."""
    x, block = case
    trimmed = x[tuple(slice(0, n - n % b) for n, b in zip(x.shape, block))]
    mp = pytest.MonkeyPatch()
    mp.setattr(ndpool.blockreduce, "_MEDIAN_BAND_BYTES", band_bytes)
    try:
        got = call(block_reduce, x, block, np.median, boundary="trim" if trim else "pad")
    finally:
        mp.undo()
    assert_same(got, call(sk_block_reduce, trimmed if trim else x, block, np.median))


# ---- keywords beyond scikit-image -------------------------------------------------------

@examples(150)
@given(images(dtypes=[np.uint8, np.int32, np.float32], max_ndim=4),
       st.sampled_from(FAST + [peak_to_peak]))
def test_trim_reduces_the_trimmed_image(case, func):
    x, block = case
    trimmed = x[tuple(slice(0, n - n % b) for n, b in zip(x.shape, block))]
    assert_same(call(block_reduce, x, block, func, boundary="trim"),
                call(sk_block_reduce, trimmed, block, func))


def test_exact_boundary():
    x = np.arange(24).reshape(4, 6)
    assert_same(block_reduce(x, (2, 3), np.max, boundary="exact"),
                sk_block_reduce(x, (2, 3), np.max))
    with pytest.raises(ValueError, match="axis 1 of length 6 is not divisible by its block"):
        block_reduce(x, (2, 4), np.max, boundary="exact")
    with pytest.raises(ValueError, match="boundary"):
        block_reduce(x, 2, boundary="crop")


@pytest.mark.parametrize("func", [np.max, np.mean, np.median, peak_to_peak])
def test_channel_axis(func):
    x = np.random.default_rng(3).integers(0, 255, (3, 7, 5), dtype=np.uint8)
    want = sk_block_reduce(x, (1, 2, 2), func)
    for block in (2, (2, 2), [2, 2], (1, 2, 2), np.array([2, 2])):
        assert_same(block_reduce(x, block, func, channel_axis=0), want)
    last = np.moveaxis(x, 0, -1)
    assert_same(block_reduce(last, 2, func, channel_axis=-1),
                sk_block_reduce(last, (2, 2, 1), func))
    with pytest.raises(ValueError, match="must be 1 on channel_axis"):
        block_reduce(x, (2, 2, 2), func, channel_axis=0)
    with pytest.raises(ValueError, match="channel_axis"):
        block_reduce(x, 2, func, channel_axis=3)


@pytest.mark.parametrize("func", [np.sum, np.mean, np.max, np.nanmin, np.median])
def test_workers_do_not_change_the_result(func):
    x = np.random.default_rng(4).standard_normal((65, 33, 3)).astype(np.float32)
    results = [block_reduce(x, (3, 2, 1), func, workers=w) for w in (1, 2, 3, None, -1)]
    for r in results[1:]:
        assert r.tobytes() == results[0].tobytes()
    with pytest.raises(ValueError, match="workers"):
        block_reduce(x, 2, func, workers=0)


def test_list_and_array_block_size_accepted():
    x = np.arange(20.0).reshape(4, 5)
    want = sk_block_reduce(x, (2, 2), np.mean)
    for block in ([2, 2], np.array([2, 2]), np.array(2), (np.int64(2), np.uint8(2))):
        assert_same(block_reduce(x, block, np.mean), want)


# ---- errors: scikit-image's exception types, clearer messages ------------------------------

BAD_BLOCKS = [(2,), (1, 1, 1), 0, -1, (2, 0), (0, "a"), 2.0, (2.0, 2), 2.5, (2, 2.5),
              True, "a", None, (2, None), 1j]


@pytest.mark.parametrize("shape", [(4, 4), (3, 5)])
@pytest.mark.parametrize("block", BAD_BLOCKS, ids=repr)
def test_bad_block_size_raises_like_skimage(shape, block):
    x = np.ones(shape)
    want, got = both(x, block, np.sum)
    assert isinstance(want, type) and issubclass(want, Exception)
    assert got is want
    with pytest.raises(want, match="block_size"):
        block_reduce(x, block, np.sum)


def test_bool_block_size_rejected():
    """A deliberate difference: scikit-image reads (True, 2) as (1, 2)."""
    with pytest.raises(TypeError, match="block_size"):
        block_reduce(np.ones((4, 4)), (True, 2))


def test_other_bad_arguments():
    x = np.ones((4, 4))
    with pytest.raises(TypeError, match="func must be callable"):
        block_reduce(x, 2, "mean")
    with pytest.raises(TypeError, match="func_kwargs"):
        block_reduce(x, 2, np.sum, func_kwargs=[("dtype", np.uint8)])
    with pytest.raises(TypeError, match="image"):
        block_reduce([[1, None], [2, 3]], 2)
    with pytest.raises(TypeError):   # the same error NumPy gives skimage
        block_reduce(x, 2, np.sum, func_kwargs={"axis": 0})


def test_non_numeric_dtypes_take_skimage_path():
    x = (np.arange(12) + 1j).reshape(3, 4)
    assert_same(block_reduce(x, 2, np.sum), sk_block_reduce(x, 2, np.sum))
    x = np.arange(12, dtype=object).reshape(3, 4)
    assert_same(block_reduce(x, 2, np.max), sk_block_reduce(x, 2, np.max))

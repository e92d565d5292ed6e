"""roi_pool, roi_align and adaptive_feature_pool against the loop-by-loop reference_roi.

Random maps and boxes (inside, partly or wholly outside the map, degenerate,
reversed, corners on rounding ties), every sampling_ratio mode, aligned on and
off, both layouts, every dtype class; exact hand-computed values; NaN; errors.
"""

import io
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndpool
import ndpool.roi as roi
import reference_roi as ref
from guarded import guarded_copy, guarded_empty
from hyp import examples
from switches import under_each
from ndpool._kernels import roi as kernels

FLOATS = [np.float16, np.float32, np.float64]
DTYPES = FLOATS + [np.int16, np.bool_]
# The reference repeats the kernels' operations in the same type and order, so
# results agree to the last bit in a default build; the tolerance only leaves
# room for a compiler that contracts a * b + c into an FMA (-march=native).
RTOL = {np.dtype(np.float16): 1e-3, np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-13}


# ---- cases -----------------------------------------------------------------------

def coordinate(limit):
    """Box coordinates around [0, limit]: integers, quarter pixels (ties after
    scaling) and arbitrary float32 values, reaching outside the map."""
    return st.one_of(st.integers(-4, limit + 4).map(float),
                     st.integers(-16, 4 * limit + 16).map(lambda v: v / 4),
                     st.floats(-4, limit + 4, width=32))


@st.composite
def box_rows(draw, n, h, w, scale, max_boxes=6):
    rows = []
    for _ in range(draw(st.integers(0, max_boxes))):
        b = draw(st.integers(0, n - 1))
        xs = [draw(coordinate(int(w / scale))) for _ in range(2)]
        ys = [draw(coordinate(int(h / scale))) for _ in range(2)]
        kind = draw(st.sampled_from(["ordered", "ordered", "as drawn", "degenerate"]))
        if kind == "ordered":
            xs, ys = sorted(xs), sorted(ys)
        elif kind == "degenerate":
            xs[1] = xs[0]
        rows.append([b, xs[0], ys[0], xs[1], ys[1]])
    return np.array(rows, np.float64).reshape(-1, 5)


@st.composite
def maps(draw, dtype, n=None, c=None):
    n = n or draw(st.integers(1, 3))
    c = c or draw(st.sampled_from([1, 2, 3, 4, 9]))   # 9: channels-first may run transposed
    h, w = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        x = rng.standard_normal((n, c, h, w)) * 4
    elif dt.kind == "b":
        x = rng.random((n, c, h, w)) < 0.5
    else:
        x = rng.integers(0, 100, (n, c, h, w))
    return x.astype(dt)


@st.composite
def roi_cases(draw, dtype):
    x = draw(maps(dtype))
    n, _, h, w = x.shape
    scale = draw(st.sampled_from([1.0, 1.0, 0.5, 0.25, 2.0, 1 / 3, 0.7]))
    rois = draw(box_rows(n, h, w, scale))
    size = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    channels_last = draw(st.booleans())
    return x, rois, size, scale, channels_last


def pair(size):
    return (size, size) if isinstance(size, int) else size


def layout(x, channels_last):
    """The map as ndpool is given it: NCHW, or NHWC when channels_last."""
    return np.moveaxis(x, 1, -1) if channels_last else x


def check(got, want, dtype, channels_last):
    """Compare ndpool's output with the reference's (always NCHW, computation type)."""
    dtype = np.dtype(dtype)
    out_dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    assert got.dtype == out_dtype
    if channels_last:
        got = np.moveaxis(got, -1, 1)
    assert got.shape == want.shape
    want = want.astype(out_dtype)
    # the largest finite value sets the scale (an infinite one would pass anything)
    scale = max(1.0, float(np.max(np.abs(want[np.isfinite(want)]), initial=0)))
    np.testing.assert_allclose(got, want, rtol=RTOL[out_dtype],
                               atol=RTOL[out_dtype] * scale)


def kernel_input(x):
    return x.astype(ref.compute_type(x.dtype))


# ---- differential tests --------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=[np.dtype(d).name for d in DTYPES])
@examples(30)
@given(data=st.data())
def test_roi_pool_matches_reference(dtype, data):
    x, rois, size, scale, last = data.draw(roi_cases(dtype))
    got = ndpool.roi_pool(layout(x, last), rois, size, scale,
                          channel_axis=-1 if last else 1)
    check(got, ref.roi_pool(kernel_input(x), rois, *pair(size), scale), dtype, last)


@pytest.mark.parametrize("dtype", DTYPES, ids=[np.dtype(d).name for d in DTYPES])
@examples(30)
@given(data=st.data(), sampling_ratio=st.sampled_from([-1, 0, 1, 2, 3]),
       aligned=st.booleans())
def test_roi_align_matches_reference(dtype, data, sampling_ratio, aligned):
    x, rois, size, scale, last = data.draw(roi_cases(dtype))
    got = ndpool.roi_align(layout(x, last), rois, size, scale, sampling_ratio, aligned,
                           channel_axis=-1 if last else 1)
    want = ref.roi_align(kernel_input(x), rois, *pair(size), scale, sampling_ratio, aligned)
    check(got, want, dtype, last)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@examples(20)
@given(data=st.data(), method=st.sampled_from(["max", "sum"]),
       sampling_ratio=st.sampled_from([-1, 0, 2]), aligned=st.booleans(),
       nlevels=st.integers(1, 3))
def test_adaptive_feature_pool_matches_reference(dtype, data, method, sampling_ratio,
                                                 aligned, nlevels):
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    levels = [data.draw(maps(dtype, n, c)) for _ in range(nlevels)]
    scales = [data.draw(st.sampled_from([1.0, 0.5, 0.25])) for _ in range(nlevels)]
    rois = data.draw(box_rows(n, 12, 12, 0.5))
    size = data.draw(st.integers(1, 3))
    last = data.draw(st.booleans())
    got = ndpool.adaptive_feature_pool([layout(m, last) for m in levels], rois, size, method,
                                       spatial_scale=scales, sampling_ratio=sampling_ratio,
                                       aligned=aligned, channel_axis=-1 if last else 1)
    want = ref.adaptive_feature_pool(levels, rois, size, size, scales, method,
                                     sampling_ratio, aligned)
    check(got, want, dtype, last)


@examples(60)
@given(data=st.data(), sampling_ratio=st.sampled_from([-1, 2]), aligned=st.booleans(),
       transposed=st.sampled_from([None, True, False]))
def test_layouts_threads_and_box_formats_agree_bit_for_bit(data, sampling_ratio, aligned,
                                                            transposed):
    """Every layout, thread count, box format and input memory layout gives the same
    bits, also with channels-first work forced onto (or off) the transposed path."""
    x, rois, size, scale, _ = data.draw(roi_cases(np.float32))
    rois = rois[np.argsort(rois[:, 0], kind="stable")]     # the list form is by image
    per_image = [rois[rois[:, 0] == i, 1:] for i in range(x.shape[0])]
    calls = [(ndpool.roi_align, dict(sampling_ratio=sampling_ratio, aligned=aligned)),
             (ndpool.roi_pool, {})]
    expected = [fn(x, rois, size, scale, workers=1, **kw) for fn, kw in calls]
    # a strided, byte-swapped, read-only view of the same values
    odd = np.empty(x.shape[:3] + (2 * x.shape[3],), x.dtype.newbyteorder())
    odd[..., ::2] = x
    view = odd[..., ::2]
    view.flags.writeable = False
    with pytest.MonkeyPatch.context() as mp:
        if transposed is not None:
            mp.setattr(roi, "_run_channels_last", lambda last, *_: last or transposed)
        for (fn, kw), want in zip(calls, expected):
            np.testing.assert_array_equal(fn(x, rois, size, scale, workers=3, **kw), want)
            np.testing.assert_array_equal(fn(x, per_image, size, scale, **kw), want)
            np.testing.assert_array_equal(fn(view, rois, size, scale, **kw), want)
            last = fn(np.moveaxis(x, 1, -1), rois, size, scale, channel_axis=-1, **kw)
            np.testing.assert_array_equal(np.moveaxis(last, -1, 1), want)


def simd_levels():
    """The variants of _roi.h's loops this machine runs (kernels.SIMD values)."""
    return range(kernels.SIMD_MAX + 1)


def at_each_simd_level(call):
    """call() with every variant of _roi.h's loops the machine has; the results."""
    return under_each(kernels, "SIMD", simd_levels(), call)


def poisoned_numpy():
    """numpy for roi.py, but ``empty`` fills its arrays with 0xFF bytes (NaN in every
    float type), so that an output element no kernel writes cannot pass for the right
    value left behind by an earlier call."""
    def empty(shape, dtype=float, *args, **kwargs):
        a = np.empty(shape, dtype, *args, **kwargs)
        a.view(np.uint8)[...] = 0xFF
        return a
    return types.SimpleNamespace(**{**vars(np), "empty": empty})


# channel counts around the vector blocks of every variant: blocks of four vectors
# (16, 32 or 64 float32; 8, 16 or 32 float64), of one vector, and single channels
WIDE = [5, 8, 12, 16, 17, 31, 32, 33, 64, 71, 80]


@examples(40)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       transposed=st.booleans(), sampling_ratio=st.sampled_from([-1, 2]),
       aligned=st.booleans(), method=st.sampled_from(["max", "sum"]),
       group=st.sampled_from([1, 2, None]))
def test_wide_channels_match_the_reference_in_every_simd_variant(
        data, dtype, transposed, sampling_ratio, aligned, method, group):
    """Maps of 5 to 80 channels (every vector block of every variant of _roi.h's bin
    loops) with NaN and infinities among the values: each variant the machine runs
    gives the same bits, and they match the reference.  Channels-first maps go
    through the transposes of groups of images (``group`` images of the first
    level at a time, or the default's all) or the planes' loops; the boxes come
    in any image order, and some images (and groups) have none."""
    native = ndpool.show_config(file=io.StringIO())["native_build"]
    c = data.draw(st.sampled_from(WIDE))
    x = data.draw(maps(dtype, data.draw(st.integers(1, 3)), c))
    x.flat[data.draw(st.lists(st.integers(0, x.size - 1), max_size=4))] = np.nan
    x.flat[data.draw(st.lists(st.integers(0, x.size - 1), max_size=2))] = np.inf
    n, _, h, w = x.shape
    rois = data.draw(box_rows(n, h, w, 1.0, max_boxes=8))
    size = data.draw(st.integers(1, 3))
    last = data.draw(st.booleans())
    second = np.ascontiguousarray(x[..., ::2, ::2])
    scales = [1.0, 0.5]
    kw = dict(channel_axis=-1 if last else 1)
    calls = [
        (lambda: ndpool.roi_pool(layout(x, last), rois, size, **kw),
         lambda: ref.roi_pool(x, rois, size, size, 1.0)),
        (lambda: ndpool.roi_align(layout(x, last), rois, size, 1.0, sampling_ratio, aligned,
                                  **kw),
         lambda: ref.roi_align(x, rois, size, size, 1.0, sampling_ratio, aligned)),
        (lambda: ndpool.adaptive_feature_pool(
            [layout(x, last), layout(second, last)], rois, size, method,
            spatial_scale=scales, sampling_ratio=sampling_ratio, aligned=aligned, **kw),
         lambda: ref.adaptive_feature_pool([x, second], rois, size, size, scales, method,
                                           sampling_ratio, aligned)),
    ]
    with pytest.MonkeyPatch.context() as mp, np.errstate(invalid="ignore"):
        mp.setattr(roi, "_run_channels_last", lambda last, *_: last or transposed)
        mp.setattr(roi, "np", poisoned_numpy())
        if group:
            mp.setattr(roi, "_GROUP_BYTES", group * c * h * w * x.itemsize)
        for call, reference in calls:
            got = at_each_simd_level(call)
            for other in got[1:]:
                np.testing.assert_array_equal(other, got[0])
            want = reference()
            check(got[0], want, dtype, last)
            if not native:       # the reference's operations in its order: the same bits
                np.testing.assert_array_equal(got[0], layout(want, last))


@pytest.mark.parametrize("group", [1, 2, 3, None])
@pytest.mark.parametrize("fn", ["roi_pool", "roi_align", "adaptive_feature_pool"])
def test_groups_of_images_pool_every_box_once(group, fn):
    """A channels-first map of five images goes through its transposes ``group``
    images at a time (or all at once): boxes on images 0, 2 and 3 in mixed order,
    images 1 and 4 (and so some groups) without boxes, every output written (the
    outputs start as NaN) and equal to the reference's."""
    x = np.random.default_rng(group or 0).standard_normal((5, 16, 6, 7))
    rois = np.array([[3, 0, 0, 6, 5], [0, 1, 1, 3, 4], [2, 2, 0, 6, 2], [0, 0, 2, 5, 5],
                     [3, 4, 3, 5, 4]], np.float64)
    calls = {
        "roi_pool": (lambda: ndpool.roi_pool(x, rois, 2),
                     lambda: ref.roi_pool(x, rois, 2, 2, 1.0)),
        "roi_align": (lambda: ndpool.roi_align(x, rois, 2, sampling_ratio=2),
                      lambda: ref.roi_align(x, rois, 2, 2, 1.0, 2, False)),
        "adaptive_feature_pool": (
            lambda: ndpool.adaptive_feature_pool([x, x[..., ::2, ::2]], rois, 2, "sum",
                                                 spatial_scale=[1, 0.5]),
            lambda: ref.adaptive_feature_pool([x, x[..., ::2, ::2].copy()], rois, 2, 2,
                                              [1, 0.5], "sum", -1, False))}
    call, reference = calls[fn]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(roi, "_run_channels_last", lambda last, *_: True)
        mp.setattr(roi, "np", poisoned_numpy())
        if group:
            mp.setattr(roi, "_GROUP_BYTES", group * x[0].nbytes)
        got = call()
    np.testing.assert_array_equal(got, reference())


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 9, 5), (1, 32, 32), (3, 33, 65),
                                   (2, 64, 4096), (1, 70, 31), (2, 49, 64), (1, 8, 8),
                                   (1, 4, 4), (1, 7, 1030), (1, 1030, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layout_transpose_kernel(shape, dtype):
    """The tiled NCHW <-> NHWC transpose the channels-first path runs through: whole
    tiles, partial tiles and blocks, rows of a multiple of 4 KiB, for any thread
    count, with roi.pyx's own tiles and (where the machine has AVX) _roi.h's."""
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    for threads in (1, 2, 3):
        def call():
            y = np.full(shape[:1] + shape[:0:-1], np.nan, dtype)
            kernels.transpose(x, y, threads)
            return y
        for y in at_each_simd_level(call):
            np.testing.assert_array_equal(y, x.transpose(0, 2, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [9, 17, 64, 71])
def test_region_kernels_stay_inside_the_map(dtype, c):
    """The transpose's blocks and the bin loops' vectors read and write only inside
    their arrays: the input map (and the transpose's output) end a page before an
    unreadable one, and boxes cover the last pixel."""
    rng = np.random.default_rng(c)
    n, h, w = 2, 7, 9
    values = rng.standard_normal((n, h, w, c)).astype(dtype)
    x = guarded_copy(values)
    rois = np.array([[1, 0, 0, w - 1, h - 1], [1, w - 3, h - 4, w + 2, h + 1],
                     [0, 2, 1, 5, 6]], np.float64)
    want_pool = ref.roi_pool(np.moveaxis(values, -1, 1), rois, 3, 3, 1.0)
    want_align = ref.roi_align(np.moveaxis(values, -1, 1), rois, 3, 3, 1.0, 2, False)
    for got in at_each_simd_level(lambda: ndpool.roi_pool(x, rois, 3, channel_axis=-1)):
        check(got, want_pool, dtype, True)
    for got in at_each_simd_level(lambda: ndpool.roi_align(x, rois, 3, sampling_ratio=2,
                                                           channel_axis=-1)):
        check(got, want_align, dtype, True)
    y = guarded_empty((n, c, h * w), dtype)
    for t in at_each_simd_level(lambda: kernels.transpose(x.reshape(n, h * w, c), y, 2)
                                or y.copy()):
        np.testing.assert_array_equal(t, values.reshape(n, h * w, c).transpose(0, 2, 1))


# ---- exact values -------------------------------------------------------------------

def ramp(h, w):
    """x[0, 0, i, j] = 100 i + j: bilinear interpolation reproduces it exactly."""
    return (100.0 * np.arange(h)[:, None] + np.arange(w)).reshape(1, 1, h, w)


def test_roi_align_aligned_shifts_by_half_a_pixel():
    x = ramp(8, 8)
    box = np.array([[0, 1.0, 2.0, 5.0, 6.0]])       # x in [1, 5], y in [2, 6]
    # aligned: sample centres at box coordinates - 0.5, so a bin's mean is its centre - 0.5
    got = ndpool.roi_align(x, box, 2, sampling_ratio=2, aligned=True)[0, 0]
    centres_y, centres_x = np.array([3.0, 5.0]) - 0.5, np.array([2.0, 4.0]) - 0.5
    np.testing.assert_allclose(got, 100 * centres_y[:, None] + centres_x, rtol=0, atol=1e-12)
    legacy = ndpool.roi_align(x, box, 2, sampling_ratio=2, aligned=False)[0, 0]
    np.testing.assert_allclose(legacy, got + 100 * 0.5 + 0.5, rtol=0, atol=1e-12)


def test_roi_align_adaptive_grid_is_ceil_of_bin_size():
    # a 5-pixel box in 2 bins: ceil(2.5) = 3 samples per axis, at 0.5/3 + k * 2.5/3 ...
    x = ramp(1, 16) ** 2                         # not linear: the sample positions matter
    box = np.array([[0, 3.0, 0.0, 8.0, 0.0]])
    got = ndpool.roi_align(x, box, (1, 2), sampling_ratio=-1)[0, 0, 0]
    for pw in range(2):
        xs = 3.0 + pw * 2.5 + (np.arange(3) + 0.5) * 2.5 / 3
        lo = np.floor(xs).astype(int)
        vals = (lo + 1 - xs) * lo ** 2 + (xs - lo) * (lo + 1) ** 2
        assert got[pw] == pytest.approx(vals.mean(), rel=1e-12)
    assert ndpool.roi_align(x, box, (1, 2), sampling_ratio=0)[0, 0, 0] == pytest.approx(got)


def test_roi_align_samples_outside_count_as_zero_but_in_the_divisor():
    x = np.ones((1, 1, 4, 4))
    # x from -6 to 2 with sampling_ratio=4 per single bin: samples at -5, -3, -1, 1;
    # -5 and -3 lie beyond -1 and add 0, -1 is clamped to column 0, 1 is inside.
    got = ndpool.roi_align(x, np.array([[0, -6.0, 0.0, 2.0, 4.0]]), 1, sampling_ratio=4)
    assert got.item() == pytest.approx(2 / 4)
    # a box entirely outside the map pools zeros
    far = ndpool.roi_align(x, np.array([[0, 10.0, 10.0, 12.0, 12.0]]), 2)
    assert not far.any()


def test_roi_align_degenerate_boxes():
    x = ramp(6, 6)
    point = np.array([[0, 2.0, 3.0, 2.0, 3.0]])
    # legacy: a point becomes a 1 x 1 box starting there
    np.testing.assert_allclose(ndpool.roi_align(x, point, 1), ramp(6, 6)[..., 3:4, 2:3] + 50.5)
    # aligned, adaptive: no extent, no samples, 0
    assert ndpool.roi_align(x, point, 1, aligned=True).item() == 0
    # aligned, fixed grid: every sample sits on the point (shifted by -0.5)
    assert ndpool.roi_align(x, point, 1, sampling_ratio=2, aligned=True).item() == \
        pytest.approx(100 * 2.5 + 1.5)
    # reversed box, aligned: samples walk backwards from x1
    rev = np.array([[0, 4.0, 4.0, 2.0, 2.0]])
    got = ndpool.roi_align(x, rev, 1, sampling_ratio=1, aligned=True).item()
    assert got == pytest.approx(100 * 2.5 + 2.5)


def test_roi_pool_rounds_half_away_from_zero_and_clips():
    x = ramp(6, 6)
    # 0.5 * 3 = 1.5 rounds to 2 (np.round would give 2), 0.5 * 5 = 2.5 rounds to 3 (not 2)
    got = ndpool.roi_pool(x, np.array([[0, 3.0, 3.0, 5.0, 5.0]]), 1, spatial_scale=0.5)
    assert got.item() == 100 * 3 + 3
    # -0.5 rounds to -1; the box [-1, 0] is clipped to column 0
    got = ndpool.roi_pool(x + 7, np.array([[0, -0.5, 0.0, 0.0, 0.0]]), (1, 2))
    np.testing.assert_array_equal(got[0, 0, 0], [0, 7])   # bin [-1, 0) is empty -> 0
    # a box past the map's end has empty bins
    got = ndpool.roi_pool(x, np.array([[0, 4.0, 0.0, 9.0, 0.0]]), (1, 3))
    np.testing.assert_array_equal(got[0, 0, 0], [5, 0, 0])


def test_roi_pool_bins_floor_and_ceil_overlap():
    x = ramp(1, 8)
    # 5 pixels in 2 bins of 2.5: [floor 0, ceil 2.5) = [0, 3), [2, 5)
    got = ndpool.roi_pool(x, np.array([[0, 1.0, 0.0, 5.0, 0.0]]), (1, 2))
    np.testing.assert_array_equal(got[0, 0, 0], [3, 5])


def test_nan_and_infinities():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 3, 3] = -np.inf
    box = np.array([[0, 0.0, 0.0, 3.0, 3.0]])
    pooled = ndpool.roi_pool(x, box, 2)[0, 0]
    assert np.isnan(pooled[0, 0]) and pooled[0, 1] == 0 and pooled[1, 1] == 0
    assert ndpool.roi_pool(np.full((1, 1, 2, 2), -np.inf), box, 1).item() == -np.inf
    aligned = ndpool.roi_align(x, np.array([[0, 0.0, 0.0, 1.0, 1.0]]), 1, sampling_ratio=1)
    assert np.isnan(aligned.item())             # sample at (0.5, 0.5) touches (1, 1)
    far = ndpool.roi_align(x, np.array([[0, 2.0, 0.0, 3.0, 1.0]]), 1, sampling_ratio=1)
    assert far.item() == 0                      # (0.5, 2.5) does not
    two = np.array([[0, 0.0, 0.0, 1.0, 1.0], [0, 2.0, 0.0, 3.0, 1.0]])
    for method in ("max", "sum"):
        fused = ndpool.adaptive_feature_pool([x, np.ones((1, 1, 4, 4))], two, 1, method,
                                             spatial_scale=1.0, sampling_ratio=1)
        assert np.isnan(fused[0].item()) and fused[1].item() == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_in_every_layout(dtype):
    """NaN propagates alike on both kernel paths (channels-first, and channels-last
    with its channel loops in _roi.h) and in the reference, with enough channels to
    fill the vectors: a bin with a NaN in one channel is NaN in that channel only."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 40, 12, 12)).astype(dtype)
    x[rng.random(x.shape) < 0.03] = np.nan
    x[rng.random(x.shape) < 0.01] = -np.inf
    rois = np.column_stack([rng.integers(0, 2, 30), rng.uniform(-2, 8, (30, 2)),
                            rng.uniform(4, 14, (30, 2))]).astype(dtype)
    want = ref.roi_pool(x, rois, 3, 3, 1.0)
    assert np.isnan(want).any() and not np.isnan(want).all()
    for fn, kw in [(ndpool.roi_pool, {}), (ndpool.roi_align, dict(sampling_ratio=2))]:
        got = {}
        for path in (False, True):
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(roi, "_run_channels_last", lambda last, *_: last or path)
                got[path] = fn(x, rois, 3, **kw)
        last = np.moveaxis(fn(np.moveaxis(x, 1, -1), rois, 3, channel_axis=-1, **kw), -1, 1)
        np.testing.assert_array_equal(got[True], got[False])
        np.testing.assert_array_equal(last, got[False])
        if fn is ndpool.roi_pool:
            np.testing.assert_array_equal(got[True], want)


def test_adaptive_feature_pool_infers_scales_like_multiscale_roi_align():
    rng = np.random.default_rng(0)
    levels = [rng.random((2, 3, 32 // 2**i, 30 // 2**i)) for i in range(3)]
    boxes = [np.array([[1.0, 2.0, 20.0, 25.0]]), np.array([[0.0, 0.0, 63.0, 63.0],
                                                           [10.0, 5.0, 12.0, 40.0]])]
    inferred = ndpool.adaptive_feature_pool(levels, boxes, 3, "sum", image_size=(64, 60))
    given = ndpool.adaptive_feature_pool(levels, boxes, 3, "sum",
                                         spatial_scale=[0.5, 0.25, 0.125])
    np.testing.assert_array_equal(inferred, given)
    each = [ndpool.roi_align(m, boxes, 3, s) for m, s in zip(levels, [0.5, 0.25, 0.125])]
    np.testing.assert_array_equal(given, each[0] + each[1] + each[2])
    np.testing.assert_array_equal(
        ndpool.adaptive_feature_pool(levels, boxes, 3, image_size=(64, 60)),
        np.maximum(np.maximum(each[0], each[1]), each[2]))
    with pytest.raises(ValueError, match="power-of-two"):
        ndpool.adaptive_feature_pool([levels[0]], boxes, 3, image_size=(64, 120))


def test_shapes_dtypes_and_empty_inputs():
    x = np.ones((2, 3, 5, 7), np.float16)
    boxes = np.array([[1, 0.0, 0.0, 4.0, 4.0]])
    assert ndpool.roi_align(x, boxes, (2, 3)).shape == (1, 3, 2, 3)
    assert ndpool.roi_align(x, boxes, (2, 3)).dtype == np.float16
    assert ndpool.roi_pool(x.astype(np.int32), boxes, 2).dtype == np.float64
    nhwc = ndpool.roi_pool(np.moveaxis(x, 1, -1), boxes, (2, 3), channel_axis=3)
    assert nhwc.shape == (1, 2, 3, 3)
    for fn in (ndpool.roi_pool, ndpool.roi_align):
        assert fn(x, np.zeros((0, 5)), 2).shape == (0, 3, 2, 2)
        assert fn(x, [], 2).shape == (0, 3, 2, 2)
        assert fn(x, [np.zeros((0, 4)), boxes[:, 1:]], 2).shape == (1, 3, 2, 2)
        assert not fn(np.ones((1, 2, 0, 4)), np.array([[0, 0, 0, 1, 1]]), 2).any()
        assert fn(np.ones((1, 0, 3, 3)), np.array([[0, 0, 0, 1, 1]]), 2).shape == (1, 0, 2, 2)
    before = x.copy()
    ndpool.roi_align(x, boxes, 2)
    np.testing.assert_array_equal(x, before)


# ---- errors ---------------------------------------------------------------------------

X = np.zeros((2, 1, 4, 4))
GOOD = np.array([[0, 0.0, 0.0, 2.0, 2.0]])


@pytest.mark.parametrize("fn", [roi.roi_pool, roi.roi_align])
@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.zeros((4, 4)), GOOD, 2), {}, ValueError, "4-D"),
    ((X, GOOD, 2), {"channel_axis": 2}, ValueError, "channel_axis"),
    ((X, GOOD[:, 1:], 2), {}, ValueError, r"\(K, 5\)"),
    ((X, [GOOD], 2), {}, ValueError, r"boxes\[0\] must have shape \(L, 4\)"),
    ((X, np.array([[2, 0, 0, 1, 1]]), 2), {}, ValueError, "batch index"),
    ((X, np.array([[-1, 0, 0, 1, 1]]), 2), {}, ValueError, "batch index"),
    ((X, np.array([[0.5, 0, 0, 1, 1]]), 2), {}, ValueError, "batch index"),
    ((X, [GOOD[:, 1:]] * 3, 2), {}, ValueError, "batch index 2,"),
    ((X, np.array([[0, 0, np.nan, 1, 1]]), 2), {}, ValueError, "finite"),
    ((X, np.array([[0, 0, 0, np.inf, 1]]), 2), {}, ValueError, "finite"),
    ((X.astype(np.float32), np.array([[0, 0, 0, 1e300, 1]]), 2), {}, ValueError, "finite"),
    ((X, GOOD.astype(complex), 2), {}, TypeError, "boxes"),
    ((X, GOOD, 0), {}, ValueError, "output_size"),
    ((X, GOOD, (2, -1)), {}, ValueError, "output_size"),
    ((X, GOOD, 2.5), {}, TypeError, "output_size"),
    ((X, GOOD, 2, 0.0), {}, ValueError, "spatial_scale"),
    ((X, GOOD, 2, -1.0), {}, ValueError, "spatial_scale"),
    ((X, GOOD, 2, np.inf), {}, ValueError, "spatial_scale"),
    ((X.astype(complex), GOOD, 2), {}, TypeError, "dtype"),
])
def test_bad_arguments(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)


def test_bad_roi_align_and_feature_pool_arguments():
    with pytest.raises(TypeError, match="sampling_ratio"):
        ndpool.roi_align(X, GOOD, 2, sampling_ratio=1.5)
    with pytest.raises(TypeError, match="aligned"):
        ndpool.roi_align(X, GOOD, 2, aligned=1)
    with pytest.raises(ValueError, match="sampling grid"):
        ndpool.roi_align(X, np.array([[0, 0, 0, 1e11, 1]]), 2)
    with pytest.raises(ValueError, match="2\\*\\*31"):
        ndpool.roi_pool(X, np.array([[0, 0, 0, 1e11, 1]]), 2)
    with pytest.raises(ValueError, match="method"):
        ndpool.adaptive_feature_pool([X], GOOD, 2, "avg", spatial_scale=1.0)
    with pytest.raises(ValueError, match="at least one"):
        ndpool.adaptive_feature_pool([], GOOD, 2, spatial_scale=1.0)
    with pytest.raises(TypeError, match="levels"):
        ndpool.adaptive_feature_pool(X, GOOD, 2, spatial_scale=1.0)
    with pytest.raises(ValueError, match="spatial_scale or|image_size"):
        ndpool.adaptive_feature_pool([X], GOOD, 2)
    with pytest.raises(ValueError, match="not both"):
        ndpool.adaptive_feature_pool([X], GOOD, 2, spatial_scale=1.0, image_size=(4, 4))
    with pytest.raises(ValueError, match="2 entries for 1 levels"):
        ndpool.adaptive_feature_pool([X], GOOD, 2, spatial_scale=[1.0, 0.5])
    with pytest.raises(ValueError, match="must agree"):
        ndpool.adaptive_feature_pool([X, X[:1]], GOOD, 2, spatial_scale=1.0)
    with pytest.raises(ValueError, match="spatial_scale\\[1\\]"):
        ndpool.adaptive_feature_pool([X, X], GOOD, 2, spatial_scale=[1.0, 0.0])

"""Differential tests: ndpool's window family against the NumPy oracle, in N-D, all dtypes."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import ndpool
from ndpool._kernels import window
from guarded import guarded_copy, guarded_empty  # noqa: E402
from hyp import examples  # noqa: E402
from switches import machine_settings, under_each  # noqa: E402
from reference import plan_axis, reference_pool, reference_unpool


DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
          np.int64, np.uint64, np.float16, np.float32, np.float64]
FUNCS = {"max": ndpool.max_pool, "min": ndpool.min_pool,
         "sum": ndpool.sum_pool, "avg": ndpool.avg_pool}
RTOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-6}


@st.composite
def nd_cases(draw, method, dtypes=DTYPES, for_unpool=False):
    """An N-D input, its pooled axes, and ndpool / reference arguments for one call.

    Three layouts: `axes` given explicitly; a kernel sequence of length k (the last k
    non-channel axes are pooled); all-int parameters (every non-channel axis is pooled).
    for_unpool: no dilation and integer padding, so that the input's size is a valid
    max_unpool output_size (torch's rule: within one stride of the default size).
    """
    mode = draw(st.sampled_from(["axes", "sequence", "int"]))
    npool = draw(st.integers(1, 4))
    nbatch = 0 if mode == "int" else draw(st.integers(0, 2))
    has_channel = mode != "axes" and draw(st.booleans())
    ndim = npool + nbatch + has_channel
    channel = draw(st.integers(0, ndim - 1)) if has_channel else None
    if mode == "axes":
        pooled = sorted(draw(st.lists(st.integers(0, ndim - 1), min_size=npool,
                                      max_size=npool, unique=True)))
    else:
        pooled = [a for a in range(ndim) if a != channel][-npool:]
    max_len = {1: 12, 2: 7, 3: 5, 4: 4}[npool]
    shape = [draw(st.integers(1, max_len)) if a in pooled else draw(st.integers(1, 3))
             for a in range(ndim)]

    def per_axis(strategy):
        if mode == "int" or draw(st.booleans()):  # broadcast one int
            return draw(strategy)
        return draw(st.lists(strategy, min_size=npool, max_size=npool))

    def expand(v):
        return [v] * npool if isinstance(v, int) else v

    k = draw(st.integers(1, 3)) if mode == "int" else draw(
        st.lists(st.integers(1, 3 if npool > 2 else 4), min_size=npool, max_size=npool))
    stride = draw(st.none() | st.just(per_axis(st.integers(1, 3))))
    dilation = 1 if for_unpool else per_axis(st.integers(1, 3))
    padding = "int"
    if not for_unpool and draw(st.booleans()):
        padding = draw(st.sampled_from(["same", "valid"]))
    if padding == "int":
        if mode == "int" or draw(st.booleans()):
            padding = draw(st.integers(0, min(expand(k)) // 2))
        else:
            padding = [draw(st.integers(0, ki // 2)) for ki in k]
    # ndpool refuses ceil_mode with "same", whose length is already ceil(n / stride)
    ceil_mode = padding != "same" and draw(st.booleans())
    pads = [padding] * npool if isinstance(padding, str) else expand(padding)
    per_axis_args = zip(expand(k), expand(k if stride is None else stride), pads,
                        expand(dilation))
    assume(all(plan_axis(shape[a], *args, ceil_mode)[0] >= 1
               for a, args in zip(pooled, per_axis_args)))

    if mode == "axes":  # sometimes negative, still in ascending order
        axes = tuple(a - ndim if draw(st.booleans()) else a for a in pooled)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["wide", "ties", "special"]))
    x = make_data(rng, shape, dtype, method, kind)
    args = dict(kernel_size=k, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=ceil_mode)
    layout = {"axes": axes} if mode == "axes" else {"channel_axis": channel}
    if mode != "axes" and channel is not None and draw(st.booleans()):
        layout["channel_axis"] = channel - ndim
    if method == "avg":
        args.update(count_include_pad=draw(st.booleans()),
                    divisor_override=draw(st.none() | st.integers(1, 7)))
    return dict(x=x, method=method, args=args, layout=layout, pooled=tuple(pooled))


def make_data(rng, shape, dtype, method, kind):
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if kind == "ties":
            return rng.integers(max(info.min, -2), min(info.max, 2), shape, dtype,
                                endpoint=True)
        x = rng.integers(info.min, info.max, shape, dtype, endpoint=True)
        if kind == "special":  # extremes, so that sums wrap in the input dtype
            x[rng.random(shape) < 0.3] = info.min
            x[rng.random(shape) < 0.3] = info.max
        return x
    if kind == "wide":
        return (10 * rng.standard_normal(shape)).astype(dtype)
    x = rng.integers(-3, 3, shape).astype(dtype)
    if kind == "special":
        x[x == -3] = -np.inf
        if method in ("max", "min"):  # sums get -inf only, else most would be NaN
            x[x == 2] = np.inf
        x[rng.random(shape) < 0.2] = np.nan
    return x


def call(case, x=None, **extra):
    x = case["x"] if x is None else x
    return FUNCS[case["method"]](x, **case["args"], **case["layout"], **extra)


def reference(case, x=None, **extra):
    x = case["x"] if x is None else x
    return reference_pool(x, case["method"], **case["args"], axes=case["pooled"], **extra)


def assert_close(got, want, case):
    """Exact for integer results; floats within rtol of |want| + the window's sum of |x|."""
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    if want.dtype.kind != "f" or case["method"] in ("max", "min"):
        np.testing.assert_array_equal(got, want)
        return
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    # Summation order may differ; the rounding error is bounded by eps * sum(|x|).
    abs_case = dict(case, method="sum", args={k: v for k, v in case["args"].items()
                                             if k not in ("count_include_pad",
                                                          "divisor_override")})
    magnitude = reference(abs_case, x=np.abs(case["x"].astype(np.float64)))
    rtol = RTOL[want.dtype]
    err = np.abs(got[finite].astype(np.float64) - want[finite].astype(np.float64))
    bound = rtol * (np.abs(want[finite].astype(np.float64)) + magnitude[finite])
    assert np.all(err <= bound), (got, want)


@pytest.mark.parametrize("method", ["max", "min"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@examples(20)
@given(data=st.data())
def test_extremum_with_indices(method, dtype, data):
    case = data.draw(nd_cases(method, dtypes=[dtype]), label="case")
    want_v, want_i = reference(case, return_indices=True)
    got_v, got_i = call(case, return_indices=True)
    assert got_v.dtype == case["x"].dtype and got_i.dtype == np.intp
    np.testing.assert_array_equal(got_v, want_v)
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_array_equal(call(case), want_v)


@pytest.mark.parametrize("method", ["sum", "avg"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@examples(20)
@given(data=st.data())
def test_sum_and_avg(method, dtype, data):
    case = data.draw(nd_cases(method, dtypes=[dtype]), label="case")
    assert_close(call(case), reference(case), case)


@examples(150)
@given(nd_cases("max", dtypes=[np.int16, np.float32, np.float64], for_unpool=True))
def test_max_unpool_roundtrip(case):
    values, idx = call(case, return_indices=True)
    pooled_shape = [case["x"].shape[a] for a in case["pooled"]]
    args = case["args"]
    got = ndpool.max_unpool(values, idx, args["kernel_size"], args["stride"],
                            args["padding"], output_size=pooled_shape, axes=case["pooled"])
    want = reference_unpool(values, idx, pooled_shape, case["pooled"])
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def _enlarged(case, target):
    """The same call on a bigger array (output lengths only grow, so it stays valid)."""
    x = case["x"]
    m = max(1, int((target / x.size) ** (1 / x.ndim)))
    rng = np.random.default_rng(x.size)
    big = make_data(rng, [n * m for n in x.shape], x.dtype, case["method"], "special")
    return dict(case, x=big)


@examples(40)
@given(st.sampled_from(list(FUNCS)).flatmap(nd_cases))
def test_workers_bit_identical(case):
    case = _enlarged(case, 60_000)
    extra = {"return_indices": True} if case["method"] in ("max", "min") else {}
    results = [as_tuple(call(case, workers=w, **extra)) for w in (1, 2, 3)]
    for result in results[1:]:
        for a, b in zip(results[0], result):
            assert a.dtype == b.dtype
            assert a.tobytes() == b.tobytes()


def _layouts(x):
    """Views and copies of x holding the same values in unusual memory layouts."""
    strided = np.empty(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    strided[..., ::2] = x
    flipped = x[::-1].copy()[::-1]
    readonly = x.copy()
    readonly.flags.writeable = False
    swapped = x.astype(x.dtype.newbyteorder())
    return {"fortran": np.asfortranarray(x), "strided": strided[..., ::2],
            "negative": flipped, "readonly": readonly, "byteswapped": swapped}


@examples(50)
@given(st.sampled_from(list(FUNCS)).flatmap(nd_cases))
def test_memory_layouts(case):
    case = _enlarged(case, 3_000)
    extra = {"return_indices": True} if case["method"] in ("max", "min") else {}
    base = as_tuple(call(case, **extra))
    for name, x in _layouts(case["x"]).items():
        before = x.copy()
        for a, b in zip(base, as_tuple(call(case, x=x, **extra))):
            # byte order is checked in test_byteswapped_input_gives_native_output
            assert a.dtype == b.dtype.newbyteorder("="), name
            assert a.tobytes() == b.astype(a.dtype).tobytes(), name
        assert x.tobytes() == before.tobytes(), f"{name} input modified"


@pytest.mark.parametrize("method", list(FUNCS))
@pytest.mark.parametrize("dtype", [np.int16, np.uint32, np.float32, np.float64])
def test_byteswapped_input_gives_native_output(method, dtype):
    # NumPy's reductions (np.max, np.sum, np.mean) return native byte order.
    x = np.arange(24, dtype=np.dtype(dtype).newbyteorder()).reshape(4, 6)
    kwargs = {"return_indices": True} if method in ("max", "min") else {}
    for r in as_tuple(FUNCS[method](x, 2, **kwargs)):
        assert r.dtype.isnative, r.dtype


def test_integer_sum_wraps_like_numpy_and_avg_does_not():
    # Four int8 127s: np.sum gives 508 as int64; the mean is 127.0 (no wrap in int8).
    x = np.full((2, 2), 127, np.int8)
    assert ndpool.sum_pool(x, 2).tolist() == [[508]]
    assert ndpool.avg_pool(x, 2).tolist() == [[127.0]]
    big = np.array([np.iinfo(np.int64).max, 1])
    assert ndpool.sum_pool(big, 2).item() == np.sum(big)  # wraps, exactly as np.sum does


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_dtypes(dtype):
    x = np.ones((4, 4), dtype)
    assert ndpool.max_pool(x, 2).dtype == x.dtype
    assert ndpool.min_pool(x, 2).dtype == x.dtype
    assert ndpool.sum_pool(x, 2).dtype == np.sum(x).dtype
    assert ndpool.avg_pool(x, 2).dtype == (x.dtype if x.dtype.kind == "f" else np.float64)


def _wide_exponents(rng, shape, dtype):
    """Signed values over ~2**-60 .. 2**60 with NaN, infinities and signed zeros: float64
    sums of these depend on the order of the taps, and ties on which tap wins."""
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-60, 60, shape))
    x[rng.random(shape) < 0.05] = 0.0
    x[rng.random(shape) < 0.05] = -0.0
    x = x.astype(dtype)
    if x.dtype.kind == "f":
        x[rng.random(shape) < 0.03] = np.nan
        x[rng.random(shape) < 0.02] = -np.inf
        x[rng.random(shape) < 0.02] = np.inf
    return x


@examples(60)
@given(data=st.data())
def test_small_windows_bit_exact(data):
    """Windows of 2 or 3 taps along W over 1-3 rows: 2 x 2 windows (H x W, or D x W of
    a volume) take a one-pass kernel path, 2- and 3-tap rows of pixels a path that
    stores each output once.

    max/min are compared bit for bit (which NaN, which zero) with the reference's
    row-major scan; avg, without padding, with the float64 sum ((a + b) + c) + ... of
    strided slices in row-major order, divided once: an oracle in which the tap
    order is written out.
    """
    dtype = np.dtype(data.draw(st.sampled_from([np.float32, np.float64, np.int64])))
    volume = data.draw(st.booleans())
    last = data.draw(st.booleans())                     # channels-last layout
    c = data.draw(st.integers(1, 9))
    sizes = [data.draw(st.integers(2, 12)) for _ in range(3 if volume else 2)]
    kw, kh = data.draw(st.integers(2, 3)), data.draw(st.integers(1, 3))
    kernel = ([1, kh, kw] if data.draw(st.booleans()) else [kh, 1, kw]) if volume else [kh, kw]
    stride = [data.draw(st.integers(1, 3)) for _ in kernel]
    dilation = [data.draw(st.integers(1, 2)) for _ in kernel]
    padding = data.draw(st.sampled_from([0, 1])) if min(kernel) >= 2 else 0
    ceil_mode = data.draw(st.booleans())
    shape = [2] + (sizes + [c] if last else [c] + sizes)
    pooled = tuple(range(1, 1 + len(sizes))) if last else tuple(range(2, 2 + len(sizes)))
    assume(all(plan_axis(shape[a], k, s, padding, d, ceil_mode)[0] >= 1
               for a, k, s, d in zip(pooled, kernel, stride, dilation)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = _wide_exponents(rng, shape, dtype)
    if dtype.kind == "i":
        x = rng.integers(-2**62, 2**62, shape)
    args = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=ceil_mode)
    layout = dict(channel_axis=-1 if last else 1)
    for method in ("max", "min"):
        got = FUNCS[method](x, **args, **layout)
        want = reference_pool(x, method, **args, axes=pooled)
        assert got.tobytes() == want.tobytes(), method
    if padding or ceil_mode:
        return
    taps = []
    for offsets in np.ndindex(*kernel):
        index = [slice(None)] * x.ndim
        for a, k, o, s, d in zip(pooled, kernel, offsets, stride, dilation):
            n = plan_axis(shape[a], k, s, 0, d, False)[0]
            index[a] = slice(o * d, o * d + (n - 1) * s + 1, s)
        taps.append(x[tuple(index)].astype(np.float64))
    total = taps[0]
    for t in taps[1:]:
        total = total + t
    want = (total / np.prod(kernel)).astype(np.float32 if dtype == np.float32 else np.float64)
    got = ndpool.avg_pool(x, **args, **layout)
    assert got.dtype == want.dtype
    # Which NaN an inf - inf or a NaN operand gives is the hardware's (and NumPy's
    # operand order), not the method's: NaNs are compared by position only.
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    assert got[~nan].tobytes() == want[~nan].tobytes()


def _pixel_pair_case(data, dtypes, channels, widths=(2, 21)):
    """An integer (batch, [D,] H, W, C) input whose windows are two pixels along W at
    stride 2 over 2-4 folded rows, with padding and ceil_mode drawn: (x, pooled axes,
    kernel_size / stride / padding / ceil_mode arguments)."""
    dtype = np.dtype(data.draw(st.sampled_from(dtypes)))
    volume = data.draw(st.booleans())
    c = data.draw(st.integers(*channels))
    sizes = [data.draw(st.integers(2, 6)) for _ in range(2 if volume else 1)]
    sizes.append(data.draw(st.integers(*widths)))
    kernel = [data.draw(st.integers(1, 2)) for _ in sizes[:-1]] + [2]
    assume(np.prod(kernel) > 2)                         # two or more rows are folded
    stride = [data.draw(st.integers(1, 2)) for _ in sizes[:-1]] + [2]
    pad = data.draw(st.sampled_from([0, 1]))
    padding = [pad if k >= 2 else 0 for k in kernel]
    ceil_mode = data.draw(st.booleans())
    shape = [data.draw(st.integers(1, 2))] + sizes + [c]
    pooled = tuple(range(1, 1 + len(sizes)))
    assume(all(plan_axis(shape[a], k, s, p, 1, ceil_mode)[0] >= 1
               for a, k, s, p in zip(pooled, kernel, stride, padding)))
    info = np.iinfo(dtype)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    args = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    return x, pooled, args


@examples(60)
@given(data=st.data())
def test_folded_pixel_pairs_equal_the_reference(data):
    """Integer pixels of 2 to 6 elements, windows of two pixels along W at stride 2
    over 2-4 folded rows: the pass along W picks within the folded row in place and
    copies every other pixel out with 8- or 16-byte moves (pixels of at most 16
    bytes), the last pixels exactly.  Padding and ceil_mode add edge windows, which
    read the folded row before it is overwritten; odd widths leave a pixel over."""
    x, pooled, args = _pixel_pair_case(
        data, [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
               np.uint64], (2, 6))
    before = x.copy()
    for method in ("max", "min"):
        got = FUNCS[method](x, **args, channel_axis=-1)
        want = reference_pool(x, method, **args, axes=pooled)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), method
    np.testing.assert_array_equal(x, before)


def _extrema_through_each_loop(flag, x, pooled, args):
    """Channels-last max and min of x, bit for bit against the reference, through each
    setting of window's ``flag`` (PAIRS_VBMI, QUADS_AVX512) this machine runs: False
    (window.pyx's own loop) and, where the machine has the instructions, True.  The
    flag is put back whatever happens, and x must come out unchanged."""
    before = x.copy()

    def extrema():
        return [FUNCS[method](x, **args, channel_axis=-1) for method in ("max", "min")]

    settings = machine_settings(window, flag)
    for setting, got in zip(settings, under_each(window, flag, settings, extrema)):
        for method, y in zip(("max", "min"), got):
            want = reference_pool(x, method, **args, axes=pooled)
            assert y.dtype == want.dtype, (method, setting)
            assert y.tobytes() == want.tobytes(), (method, setting)
    assert x.tobytes() == before.tobytes()


@examples(60)
@given(data=st.data())
def test_byte_pixel_pairs_equal_the_reference(data):
    """One-byte pixels of 1 to 17 elements, windows of two pixels along W at stride 2
    over 2-4 rows, rows long enough for several steps of _pairs.h's permutations
    (whole vectors while 64 output bytes remain, then masked steps; used for 2 to 16
    elements on machines with AVX-512 VBMI), and the same through window.pyx's own
    pass, which such machines otherwise skip."""
    x, pooled, args = _pixel_pair_case(data, [np.int8, np.uint8], (1, 17), (2, 300))
    _extrema_through_each_loop("PAIRS_VBMI", x, pooled, args)


def _pool_against_guard_pages(values, methods):
    """2 x 2 pools of a (1, 2, width, channels) input over axes (1, 2), the input
    (a copy of ``values``) and the ``out=`` array each ending a page before an
    unreadable one, bit for bit against the reference."""
    width, channels = values.shape[2:]
    x = guarded_copy(values)
    y = guarded_empty((1, 1, width // 2, channels), values.dtype)
    for method in methods:
        got = FUNCS[method](x, 2, axes=(1, 2), out=y)
        want = reference_pool(x, method, kernel_size=2, axes=(1, 2))
        assert got is y and got.tobytes() == want.tobytes(), method


@pytest.mark.parametrize("channels", [1, 3, 4, 5, 16])
@pytest.mark.parametrize("width", [2, 40, 43, 64, 130, 1001])
def test_byte_pixel_pairs_stay_inside_their_rows(channels, width):
    # The input's last row and the output's last pixel each end a page before an
    # unreadable one: _pairs.h's whole-vector steps read ahead and store past their
    # windows only while enough of the row is left, and its masked last steps touch
    # only their windows' bytes (a step past the end would fault, not pass).
    values = np.random.default_rng(width * channels).integers(
        0, 256, (1, 2, width, channels), dtype=np.uint8)
    _pool_against_guard_pages(values, ("max",))


def _two_by_two_geometry(data, shape, pooled):
    """Arguments of 2 x 2 windows over the pooled axes of ``shape`` (two pooled axes:
    H x W; three: D x W or H x W of a volume), stride 1-3, dilation 1-2, padding
    and ceil_mode drawn; cases without an output are rejected."""
    volume = len(pooled) == 3
    kernel = ([2, 1, 2] if data.draw(st.booleans()) else [1, 2, 2]) if volume else [2, 2]
    stride = [data.draw(st.integers(1, 3)) for _ in kernel]
    dilation = [data.draw(st.integers(1, 2)) for _ in kernel]
    padding = [data.draw(st.sampled_from([0, 1])) if k == 2 else 0 for k in kernel]
    ceil_mode = data.draw(st.booleans())
    assume(all(plan_axis(shape[a], k, s, p, d, ceil_mode)[0] >= 1
               for a, k, s, p, d in zip(pooled, kernel, stride, padding, dilation)))
    return dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=ceil_mode)


@examples(60)
@given(data=st.data())
def test_wide_float_pixel_quads_equal_the_reference(data):
    """2 x 2 windows (H x W, or D x W of a volume) of float pixels of 8 to 40
    elements, with stride, dilation, padding and ceil_mode: _quads.h's AVX-512 loop
    takes pixels of 64 bytes or more (16 float32, 8 float64 elements) on machines
    with AVX-512F, and window.pyx's own loop the rest and, forced, all of them.
    Both are compared bit for bit (which NaN, which zero) with the reference's
    row-major scan."""
    dtype = np.dtype(data.draw(st.sampled_from([np.float32, np.float64])))
    volume = data.draw(st.booleans())
    c = data.draw(st.integers(8, 40))
    sizes = [data.draw(st.integers(2, 7)) for _ in range(3 if volume else 2)]
    shape = [data.draw(st.integers(1, 2))] + sizes + [c]
    pooled = tuple(range(1, 1 + len(sizes)))
    args = _two_by_two_geometry(data, shape, pooled)
    x = _wide_exponents(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))),
                        shape, dtype)
    _extrema_through_each_loop("QUADS_AVX512", x, pooled, args)


@pytest.mark.parametrize("dtype, channels", [(np.float32, 16), (np.float32, 17),
                                             (np.float32, 31), (np.float64, 8),
                                             (np.float64, 13)])
@pytest.mark.parametrize("width", [2, 3, 8])
def test_float_pixel_quads_stay_inside_their_pixels(dtype, channels, width):
    # As the byte pairs above: the input's last pixel and the output's each end a page
    # before an unreadable one, so that a masked step of _quads.h that read or wrote
    # a lane past the pixel's elements would fault.
    values = np.random.default_rng(width * channels).standard_normal(
        (1, 2, width, channels)).astype(dtype)
    _pool_against_guard_pages(values, ("max", "min"))


@examples(60)
@given(data=st.data())
def test_folded_pair_means_equal_the_reference(data):
    """Means of integer pixels of 1 to 6 elements over windows of two pixels along W
    at stride 2 and 2-4 folded rows: the folded row (int32 for 8- and 16-bit input,
    else float64) takes each pair's sum in its first pixel in place, and the sums are
    divided on the way out.  Padding with count_include_pad adds edge windows of the
    same divisor (they read the row before it is overwritten); without it, and with
    a divisor_override that is not a power of two, the other divisions.  Sums of
    integers are exact in any order, so the means equal the reference's one correct
    rounding bit for bit."""
    x, pooled, args = _pixel_pair_case(
        data, [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32], (1, 6))
    args["count_include_pad"] = data.draw(st.booleans(), label="count_include_pad")
    args["divisor_override"] = data.draw(st.sampled_from([None, None, 3, 8]),
                                         label="divisor_override")
    before = x.copy()
    got = ndpool.avg_pool(x, **args, axes=pooled)
    want = reference_pool(x, "avg", **args, axes=pooled)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    np.testing.assert_array_equal(x, before)


@examples(60)
@given(data=st.data())
def test_byte_pair_means_equal_the_reference(data):
    """Means of one-byte pixels of 1 to 5 elements over windows of two pixels along W
    at stride 2 and 2 or 4 rows, into float64, with rows long enough for several of
    _pairs.h's steps (64 bytes of each row, then the last windows one at a time;
    taken for 1 to 4 elements and two rows when every window along W is whole and
    the divisor a power of two, on machines with AVX-512BW), and the same through
    the fold and pair pass, which those machines otherwise skip there.  Padding,
    ceil_mode, count_include_pad and divisor_override make the cases each path
    leaves to the other.  Exact sums, one rounding: bit for bit."""
    x, pooled, args = _pixel_pair_case(data, [np.int8, np.uint8], (1, 5), (2, 300))
    args["count_include_pad"] = data.draw(st.booleans(), label="count_include_pad")
    args["divisor_override"] = data.draw(st.sampled_from([None, None, None, 3, 8]),
                                         label="divisor_override")
    before = x.copy()
    want = reference_pool(x, "avg", **args, axes=pooled)
    for got in under_each(window, "PAIRS_MEAN_BW", machine_settings(window, "PAIRS_MEAN_BW"),
                          lambda: ndpool.avg_pool(x, **args, axes=pooled)):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert x.tobytes() == before.tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("kernel", [(1, 2, 2), (2, 1, 2)], ids=["HxW", "DxW"])
@pytest.mark.parametrize("width", [2, 14, 20, 28, 30, 56, 62, 64, 66, 1001])
def test_byte_pair_means_stay_inside_their_rows(dtype, channels, kernel, width):
    # 2 x 2 means (H x W, or D x W) of a (1, 2, 2, width, channels) volume whose last
    # row, and the float64 output's last element, each end a page before an
    # unreadable one.  _pairs.h's mean steps read 64 bytes of each row only while
    # that many are left in it, and store only their windows' outputs: a read or
    # write past either end would fault, not pass.  The widths leave 7 to 31 bytes
    # of windows after the whole steps (steps of 32, 16, 8 and 8 pixels for 1 to 4
    # channels), or none, and 1001 a pixel over.  Against the reference, bit for
    # bit, through both settings of the switch.
    info = np.iinfo(dtype)
    values = np.random.default_rng(width * channels).integers(
        info.min, info.max, (1, 2, 2, width, channels), dtype=dtype, endpoint=True)
    x = guarded_copy(values)
    y = guarded_empty((1, 2 // kernel[0], 2 // kernel[1], width // 2, channels), np.float64)
    want = reference_pool(x, "avg", kernel_size=kernel, axes=(1, 2, 3))
    for got in under_each(window, "PAIRS_MEAN_BW", machine_settings(window, "PAIRS_MEAN_BW"),
                          lambda: ndpool.avg_pool(x, kernel, axes=(1, 2, 3), out=y)):
        assert got is y and got.tobytes() == want.tobytes()


@examples(60)
@given(data=st.data())
def test_runs_of_two_by_two_mean_rows_equal_the_reference(data):
    """2 x 2 means (H x W, or D x W of a volume) of floats and int64, channels first or
    last, over several workers: mean_fused hands a plane's consecutive output rows to
    one call while their windows' rows are equally far apart and their divisor is the
    same; padding with count_include_pad=False, ceil_mode and divisor_override make
    edge rows that must start a new call.  Integer-valued data make every sum exact in
    any order, so the means equal the reference's bit for bit."""
    dtype = np.dtype(data.draw(st.sampled_from([np.float32, np.float64, np.int64])))
    volume = data.draw(st.booleans())
    last = data.draw(st.booleans())
    c = data.draw(st.integers(1, 5))
    sizes = [data.draw(st.integers(2, 13)) for _ in range(3 if volume else 2)]
    shape = [data.draw(st.integers(1, 3))] + (sizes + [c] if last else [c] + sizes)
    pooled = tuple(range(1, 1 + len(sizes))) if last else tuple(range(2, 2 + len(sizes)))
    args = _two_by_two_geometry(data, shape, pooled)
    x = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).integers(
        -1000, 1000, shape).astype(dtype)
    args.update(count_include_pad=data.draw(st.booleans()),
                divisor_override=data.draw(st.sampled_from([None, None, 3, 8])))
    want = reference_pool(x, "avg", **args, axes=pooled)
    for workers in (1, 2, 3):
        got = ndpool.avg_pool(x, **args, axes=pooled, workers=workers)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), workers


@pytest.mark.parametrize("dtype", [np.uint8, np.int32])
def test_large_block_means_stream_out_exactly(dtype):
    # Outputs of 16 MiB or more are written past the cache (non-temporal stores):
    # 2 x 2 block means of RGB images, int32 and float64 folded rows, against
    # NumPy's mean of the blocks (exact sums of integers, one rounding).
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (1, 1400, 2050, 3), dtype=dtype)
    h, w = x.shape[1] // 2, x.shape[2] // 2
    assert h * w * 3 * 8 >= 2**24
    got = ndpool.block_reduce(x[0], (2, 2, 1), np.mean)
    want = x[0].reshape(h, 2, w, 2, 3).mean(axis=(1, 3))
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    # padding: whole windows inside, clipped ones at both ends of each row
    # (zeros padded on, divisor 4 everywhere: count_include_pad)
    got = ndpool.avg_pool(x, 2, padding=1, axes=(1, 2))
    z = np.pad(x.astype(np.int64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = z.reshape(1, h + 1, 2, w + 1, 2, 3).mean(axis=(2, 4))
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("rows", [16383, 16385])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
def test_tall_pair_means_do_not_wrap(rows, dtype):
    # A window of `rows` x 2 pixels: below 16384 rows of 16-bit values the folded row
    # is int32, whose pairs' sums reach 2 * 16383 * 65535 < 2**31; from 16384 on it
    # is float64 (in int32, 16385 rows of 65535 would wrap).  Extreme values and
    # random ones, against NumPy's exact mean.
    info = np.iinfo(dtype)
    rng = np.random.default_rng(rows)
    for x in (np.full((rows, 4, 3), info.max, dtype), np.full((rows, 4, 3), info.min, dtype),
              rng.integers(info.min, info.max, (rows, 4, 3), dtype=dtype, endpoint=True)):
        got = ndpool.avg_pool(x, (rows, 2), axes=(0, 1))
        want = x.astype(np.int64).reshape(1, rows, 2, 2, 3).sum(axis=(1, 3)) / (2 * rows)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()

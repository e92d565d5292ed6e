"""Differential tests of the smooth, rank and mixing catalogue against reference_catalogue.

Random N-D shapes (1-3 pooled axes, batch axes, channel_axis, explicit axes in any
order), every window parameter and every dtype class; plus the methods' limits,
torch's lp_pool, statistics of stochastic sampling, and bad parameters.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import ndpool
import reference_catalogue as ref
from hyp import examples, in_layout
from reference import plan_axis

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
          np.int64, np.uint64, np.float16, np.float32, np.float64]
DTYPE_IDS = [np.dtype(d).name for d in DTYPES]
FLOATS = [np.float16, np.float32, np.float64]
# One rounding of a float64 result into the output dtype, with a little slack.
RTOL = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 3e-7, np.dtype(np.float64): 1e-12}


# ---- cases -----------------------------------------------------------------------

@st.composite
def cases(draw, dtype, *, kinds=("wide", "ties", "special"), nan=True, inf=True,
          max_kernel=3):
    """An N-D input, its layout and window parameters for ndpool and for the reference.

    Three layouts: `axes` given (in any order, per-axis parameters following it,
    channel_axis sometimes given too); a kernel sequence of length k (the last k
    non-channel axes are pooled); all-int parameters (every non-channel axis).
    """
    mode = draw(st.sampled_from(["axes", "sequence", "int"]))
    npool = draw(st.integers(1, 3))
    nbatch = 0 if mode == "int" else draw(st.integers(0, 2))
    has_channel = draw(st.booleans())
    ndim = npool + nbatch + has_channel
    channel = draw(st.integers(0, ndim - 1)) if has_channel else None
    others = [a for a in range(ndim) if a != channel]
    if mode == "axes":
        order = draw(st.permutations(others))[:npool]   # the order ndpool is given
    else:
        order = others[-npool:]
    pooled = sorted(order)
    max_len = {1: 10, 2: 6, 3: 4}[npool]
    shape = [draw(st.integers(1, max_len)) if a in pooled else draw(st.integers(1, 3))
             for a in range(ndim)]

    def per_axis(strategy, broadcast=None):
        if broadcast is None:
            broadcast = mode == "int" or draw(st.booleans())
        if broadcast:
            return draw(strategy)
        return draw(st.lists(strategy, min_size=npool, max_size=npool))

    def expand(v):
        return [v] * npool if isinstance(v, (int, str)) else list(v)

    k = per_axis(st.integers(1, max_kernel), broadcast=mode == "int" or (
        mode == "axes" and draw(st.booleans())))
    stride = draw(st.none() | st.just(per_axis(st.integers(1, 3))))
    dilation = per_axis(st.integers(1, 2 if npool > 1 else 3))
    if draw(st.integers(0, 3)) == 0:
        padding = draw(st.sampled_from(["same", "valid"]))
    elif mode == "int" or draw(st.booleans()):
        padding = draw(st.integers(0, min(expand(k)) // 2))
    else:
        padding = [draw(st.integers(0, ki // 2)) for ki in expand(k)]
    ceil_mode = padding != "same" and draw(st.booleans())

    # Per-axis values keyed by axis, then listed in ascending axis order for the reference.
    by_axis = {a: dict(k=kk, s=ss, p=pp, d=dd) for a, kk, ss, pp, dd in zip(
        order, expand(k), expand(k if stride is None else stride), expand(padding),
        expand(dilation))}
    asc = {name: [by_axis[a][name] for a in pooled] for name in "kspd"}
    assume(all(plan_axis(shape[a], by_axis[a]["k"], by_axis[a]["s"], by_axis[a]["p"],
                         by_axis[a]["d"], ceil_mode)[0] >= 1 for a in pooled))

    if mode == "axes":
        layout = {"axes": tuple(a - ndim if draw(st.booleans()) else a for a in order)}
        if channel is not None and draw(st.booleans()):
            layout["channel_axis"] = channel
    else:
        layout = {"channel_axis": channel}
    if layout.get("channel_axis") is not None and draw(st.booleans()):
        layout["channel_axis"] = channel - ndim

    dtype = np.dtype(dtype)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = make_data(rng, shape, dtype, draw(st.sampled_from(kinds)), nan=nan, inf=inf)
    args = dict(kernel_size=k, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=ceil_mode)
    ref_args = dict(kernel_size=asc["k"], stride=None if stride is None else asc["s"],
                    padding=padding if isinstance(padding, str) else asc["p"],
                    dilation=asc["d"], ceil_mode=ceil_mode, axes=tuple(pooled))
    variant = draw(st.sampled_from(["c", "c", "fortran", "reversed", "swapped"]))
    return dict(x=x, args=args, layout=layout, ref_args=ref_args, channel=channel,
                kernel_shape=tuple(asc["k"]), variant=variant)


def make_data(rng, shape, dtype, kind, *, nan=True, inf=True):
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if kind == "ties":
            return rng.integers(max(info.min, -2), min(info.max, 2), shape, dtype,
                                endpoint=True)
        x = rng.integers(info.min, info.max, shape, dtype, endpoint=True)
        if kind == "special":
            x[rng.random(shape) < 0.3] = info.min
            x[rng.random(shape) < 0.3] = info.max
        return x
    if kind == "wide":
        return (10 * rng.standard_normal(shape)).astype(dtype)
    x = rng.integers(-3, 3, shape).astype(dtype)
    if kind == "special":
        if inf:
            x[x == -3] = -np.inf
            x[x == 2] = np.inf
        if nan:
            x[rng.random(shape) < 0.1] = np.nan
    return x


def as_input(case):
    """The case's array in its memory layout variant, read-only (same values)."""
    return in_layout(case["x"], case["variant"])


def call(func, case, *params, **extra):
    """Call ndpool on a read-only copy of the case's input, checking it is untouched."""
    x = as_input(case)
    before = x.copy()
    result = func(x, *params, **case["args"], **case["layout"], **extra)
    np.testing.assert_array_equal(x, before)
    return result


def finite_scale(x):
    """The largest finite |x|, as a float (1 if none or all zero)."""
    a = np.abs(np.asarray(x, np.float64))
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size and a.max() > 0 else 1.0


def assert_close(got, want, atol=0.0):
    """Same dtype and shape; same NaN and inf pattern; finite values within one
    rounding into the output dtype plus `atol` (float64 error of a cancelling sum)."""
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    g, w = got.astype(np.float64), want.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"NaN\n{got}\n{want}")
    inf = np.isinf(w) | np.isinf(g)
    np.testing.assert_array_equal(g[inf], w[inf], err_msg=f"inf\n{got}\n{want}")
    fin = np.isfinite(w) & np.isfinite(g)
    err = np.abs(g[fin] - w[fin])
    tiny = float(np.finfo(want.dtype).smallest_subnormal)   # one ulp near zero
    bound = RTOL[want.dtype] * np.abs(w[fin]) + atol + tiny
    bad = err > bound
    assert not bad.any(), (f"got {g[fin][bad][:5]} want {w[fin][bad][:5]}\n{got}\n{want}")


# ---- smooth ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_lp_pool(dtype, data):
    case = data.draw(cases(dtype), label="case")
    p = data.draw(st.sampled_from([0.5, 1, 1.5, 2, 3, 4.5]), label="p")
    want = ref.lp_pool(case["x"], p, **case["ref_args"])
    got = call(ndpool.lp_pool, case, p)
    assert_close(got, want, atol=1e-13 * finite_scale(case["x"]))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_power_mean_pool(dtype, data):
    case = data.draw(cases(dtype), label="case")
    # Odd integer p on signed data would make the sign of a cancelling mean decide
    # between a number and NaN; every other p is well conditioned.
    eps = data.draw(st.none() | st.sampled_from([0.0, 1e-6, 0.5]), label="eps")
    choices = [0.5, 1, 1.5, 2, 2.5, 4] + ([3, 0.25] if eps is not None else [])
    p = data.draw(st.sampled_from(choices), label="p")
    want = ref.power_mean_pool(case["x"], p, **case["ref_args"], eps=eps)
    got = call(ndpool.power_mean_pool, case, p, eps=eps)
    assert_close(got, want, atol=1e-13 * finite_scale(case["x"]))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_softpool(dtype, data):
    case = data.draw(cases(dtype), label="case")
    want = ref.softpool(case["x"], **case["ref_args"])
    got = call(ndpool.softpool, case)
    assert_close(got, want, atol=1e-13 * finite_scale(case["x"]))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_lse_pool(dtype, data):
    case = data.draw(cases(dtype), label="case")
    r = data.draw(st.sampled_from([0.1, 0.5, 1.0, 3.0, 10.0]), label="r")
    want = ref.lse_pool(case["x"], r, **case["ref_args"])
    got = call(ndpool.lse_pool, case, r)
    # log of a mean in [1/n, 1] is well conditioned: absolute error ~ n eps / r
    assert_close(got, want, atol=1e-13 * finite_scale(case["x"]) + 1e-13 / r)


# ---- rank ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_median_pool(dtype, data):
    case = data.draw(cases(dtype, max_kernel=4), label="case")
    want = ref.median_pool(case["x"], **case["ref_args"])
    got = call(ndpool.median_pool, case)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)   # exact, NaN where np.median gives NaN


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_stochastic_expectation(dtype, data):
    case = data.draw(cases(dtype, inf=False), label="case")
    want = ref.stochastic_expectation(case["x"], **case["ref_args"])
    got = call(ndpool.stochastic_pool, case, mode="expectation")
    assert_close(got, want, atol=0.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_stochastic_sample_draws_from_the_window(dtype, data):
    """Every draw is an element of its window with a_i > 0, reported by its index;
    a window without mass gives 0 and a uniform index; NaN: the last NaN."""
    case = data.draw(cases(dtype, inf=False), label="case")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    values, index = call(ndpool.stochastic_pool, case, rng=seed, return_indices=True)
    x = case["x"]
    assert values.dtype == x.dtype and index.dtype == np.intp
    pooled = case["ref_args"]["axes"]
    taps = ref.window_taps(x, **case["ref_args"])
    assert values.shape == ref.windows(x, **case["ref_args"])[0]
    for opos, (vals, flats) in taps.items():
        v, i = values[opos], int(index[opos])
        if not vals:
            continue                       # empty windows: no element to draw
        nan_at = [f for w, f in zip(vals, flats) if isinstance(w, float) and math.isnan(w)]
        if nan_at:
            assert np.isnan(v) and i == nan_at[-1], (opos, vals, v, i)
            continue
        assert i in flats, (opos, flats, i)
        drawn = vals[flats.index(i)]
        if any(w > 0 for w in vals):
            assert drawn > 0 and v == drawn, (opos, vals, v, i)
            # the index addresses the drawn element of the input
            full = list(opos)
            for a, q in zip(pooled, np.unravel_index(i, [x.shape[a] for a in pooled])):
                full[a] = q
            assert x[tuple(full)] == v
        else:
            assert v == 0, (opos, vals, v)
    # mode="sample" without indices gives the same values for the same seed
    again = call(ndpool.stochastic_pool, case, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(again, values)


def test_stochastic_expectation_of_large_activations_is_finite():
    """sum(p_i a_i) of finite activations is at most max(a): no overflow of sum(a^2)."""
    x = np.array([1e200, 1e200, 3e300, 1e300, 1e-300, 0.0, 2e300, 2e300])
    got = ndpool.stochastic_pool(x, 2, mode="expectation")
    want = ref.stochastic_expectation(x, [2], axes=(0,))
    np.testing.assert_array_equal(want, [1e200, 2.5e300, 1e-300, 2e300])
    assert_close(got, want)


def test_stochastic_infinite_activation_takes_all_the_mass():
    x = np.array([np.inf, 1.0, 2.0, np.inf, np.inf, 3.0])
    for seed in range(20):
        v, i = ndpool.stochastic_pool(x, 3, rng=seed, return_indices=True)
        assert np.isinf(v).all() and i[0] == 0 and i[1] in (3, 4)
    np.testing.assert_array_equal(ndpool.stochastic_pool(x, 3, mode="expectation"),
                                  [np.inf, np.inf])


# ---- mixing ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_mixed_pool(dtype, data):
    case = data.draw(cases(dtype), label="case")
    channel_axis = case["layout"].get("channel_axis")
    if channel_axis is not None and data.draw(st.booleans(), label="per channel"):
        nc = case["x"].shape[case["channel"]]
        alpha = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.25, 0.7, 1.0]) |
                                            st.floats(0, 1), min_size=nc, max_size=nc)))
    else:
        alpha = data.draw(st.sampled_from([0.0, 1.0, 0.5]) | st.floats(0, 1), label="alpha")
    want = ref.mixed_pool(case["x"], alpha, **case["ref_args"], channel_axis=case["channel"])
    got = call(ndpool.mixed_pool, case, alpha)
    assert_close(got, want, atol=1e-13 * finite_scale(case["x"]))


def _weights(data, shape, n=None):
    full = shape if n is None else (n,) + shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="wseed"))
    w = rng.standard_normal(full)
    if data.draw(st.booleans(), label="int weights"):
        w = np.round(w * 2)
    return w.astype(data.draw(st.sampled_from([np.float64, np.float32, np.int64])))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_gated_pool(dtype, data):
    case = data.draw(cases(dtype, nan=False, inf=False), label="case")
    scale = finite_scale(case["x"])
    gate = _weights(data, case["kernel_shape"])
    if data.draw(st.booleans(), label="moderate gate"):
        gate = gate / scale       # responses of order 1, not saturated sigmoids
    want = ref.gated_pool(case["x"], gate, **case["ref_args"])
    got = call(ndpool.gated_pool, case, gate)
    # an error e in the response moves the result by at most e/4 * (max - avg)
    assert_close(got, want, atol=1e-12 * scale * (1 + np.abs(gate).sum() * scale))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(6)
@given(data=st.data())
def test_tree_pool(dtype, data):
    case = data.draw(cases(dtype, nan=False, inf=False), label="case")
    depth = data.draw(st.sampled_from([1, 2, 2, 3]), label="depth")
    scale = finite_scale(case["x"])
    leaves = _weights(data, case["kernel_shape"], 2 ** depth)
    gates = _weights(data, case["kernel_shape"], 2 ** depth - 1)
    if data.draw(st.booleans(), label="moderate gates"):
        gates = gates / scale
    want = ref.tree_pool(case["x"], leaves, gates, **case["ref_args"])
    got = call(ndpool.tree_pool, case, leaves, gates)
    v, w = np.abs(leaves).sum(), np.abs(gates).sum()
    assert_close(got, want, atol=1e-12 * scale * (1 + v) * (1 + w * scale))


# ---- lp_pool against torch -------------------------------------------------------

@examples(25)
@given(data=st.data())
def test_lp_pool_equals_torch(data):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    nd = data.draw(st.integers(1, 3 if hasattr(F, "lp_pool3d") else 2), label="nd")
    k = data.draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd), label="k")
    s = data.draw(st.none() | st.lists(st.integers(1, 3), min_size=nd, max_size=nd),
                  label="stride")
    spatial = [data.draw(st.integers(ki, ki + 5), label="n") for ki in k]
    shape = [data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))] + spatial
    p = data.draw(st.sampled_from([1, 1.5, 2, 3, 4.0]), label="p")
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = np.abs(rng.standard_normal(shape)).astype(dtype)
    x[rng.random(shape) < 0.2] = 0
    func = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: getattr(F, "lp_pool3d", None)}[nd]
    tk = k[0] if nd == 1 else tuple(k)       # torch's lp_pool1d multiplies by an int
    ts = None if s is None else (s[0] if nd == 1 else tuple(s))
    want = func(torch.from_numpy(x), p, tk, ts).numpy()
    got = ndpool.lp_pool(x, p, k, s)
    assert got.dtype == x.dtype and got.shape == want.shape
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-3)


def test_lp_pool_takes_the_absolute_value():
    x = np.array([[-3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(ndpool.lp_pool(x, 2, 2), [[5.0]], rtol=1e-15)
    np.testing.assert_allclose(ndpool.lp_pool(x, 1, 2), [[7.0]], rtol=1e-15)
    np.testing.assert_allclose(ndpool.lp_pool(x, 3, 2), [[(27 + 64) ** (1 / 3)]], rtol=1e-15)
    assert ndpool.lp_pool(np.array([-128, 127], np.int8), 1, 2).tolist() == [255.0]


# ---- limits ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(5)
@given(data=st.data())
def test_power_mean_p1_is_avg_pool_without_padding(dtype, data):
    case = data.draw(cases(dtype, inf=False), label="case")
    got = call(ndpool.power_mean_pool, case, 1)
    want = call(ndpool.avg_pool, case, count_include_pad=False)
    assert_close(got, want, atol=1e-13 * finite_scale(case["x"]))


@examples(5)
@given(data=st.data())
def test_power_mean_and_lp_p1_are_exact_on_whole_numbers(data):
    # Sums of small whole numbers are exact in any order, so p = 1 must give avg_pool's
    # and sum_pool's values to the last bit (a scaled sum x / max|x| would not).
    case = data.draw(cases(np.int32, inf=False), label="case")
    case = dict(case, x=case["x"].astype(np.float64))
    got = call(ndpool.power_mean_pool, case, 1)
    want = call(ndpool.avg_pool, case, count_include_pad=False)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(call(ndpool.lp_pool, case, 1),
                                  call(ndpool.sum_pool, dict(case, x=np.abs(case["x"]))))


def test_power_mean_p1_falls_back_to_the_scaled_sum_on_overflow():
    big = np.array([1e308, 1e308, 5e307])
    np.testing.assert_allclose(ndpool.power_mean_pool(big, 1, 3), [2.5 / 3 * 1e308], rtol=1e-15)


@pytest.mark.parametrize("p", [64, 1000])
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_power_mean_large_p_tends_to_max(p, dtype):
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 2.0, (2, 3, 9, 10)).astype(dtype)
    kw = dict(stride=2, padding=1)
    got = ndpool.power_mean_pool(x, p, (3, 3), **kw).astype(np.float64)
    mx = ndpool.max_pool(x, (3, 3), **kw).astype(np.float64)
    n = ndpool.sum_pool(np.ones(x.shape), (3, 3), **kw)          # elements per window
    tol = RTOL[np.dtype(dtype)]
    assert np.all(got <= mx * (1 + tol))
    assert np.all(got >= mx * n ** (-1.0 / p) * (1 - tol))      # mean >= max^p / n
    assert np.all(got >= mx * (1 - np.log(9) / p - tol))


@pytest.mark.parametrize("dtype", FLOATS + [np.int16], ids=lambda d: np.dtype(d).name)
def test_lse_small_r_tends_to_avg(dtype):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2, 11, 12))
    x = (x * 3).astype(dtype) if np.dtype(dtype).kind == "i" else x.astype(dtype)
    kw = dict(kernel_size=(3, 3), stride=(2, 2), padding=1, ceil_mode=True)
    avg = ndpool.avg_pool(x, count_include_pad=False, **kw).astype(np.float64)
    for r in (1e-4, 1e-6):
        got = ndpool.lse_pool(x, r, **kw)
        assert got.dtype == (x.dtype if x.dtype.kind == "f" else np.float64)
        # lse - avg = r var / 2 + O(r^2): at most r * 9 / 2 here; plus rounding
        atol = 4.5 * r + 1e-8 + RTOL[got.dtype] * 3
        np.testing.assert_allclose(got.astype(np.float64), avg, rtol=0, atol=atol)


@pytest.mark.parametrize("scale", [1.0, 1000.0])
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_lse_large_r_tends_to_max_without_overflow(scale, dtype):
    rng = np.random.default_rng(4)
    x = (scale * rng.uniform(-1, 1, (3, 10, 9))).astype(dtype)
    kw = dict(kernel_size=(3, 3), stride=(2, 2), padding=1)
    mx = ndpool.max_pool(x, **kw).astype(np.float64)
    n = ndpool.sum_pool(np.ones(x.shape), **kw)
    for r in (1e3, 1e6, 1e12):            # r * x up to 1e15: exp would overflow
        got = ndpool.lse_pool(x, r, **kw).astype(np.float64)
        assert np.all(np.isfinite(got))
        tol = RTOL[np.dtype(dtype)] * np.abs(mx)
        assert np.all(got <= mx + tol)
        assert np.all(got >= mx - np.log(n) / r - tol)   # mean >= e^(r m) / n


@examples(60)
@given(data=st.data())
def test_lse_fast_path_is_as_exact_as_the_kernel(data):
    # The unshifted window mean of e^(r x) (smooth._lse_slab) against the shifted
    # per-window kernel.  Where it is used, r max(|L|, m - L) >= 1/4 bounds its
    # error by a few (n + 2) eps relative to |L| + (m - L); flat windows near zero and
    # r -> 0 must fall back to the kernel.  Fails if that fallback is dropped.
    from ndpool import _gather, smooth
    from ndpool._spec import WindowSpec
    shape = data.draw(st.lists(st.integers(1, 9), min_size=2, max_size=3), label="shape")
    k = data.draw(st.integers(1, 3), label="k")
    r = 10.0 ** data.draw(st.floats(-14, 6), label="log10 r")
    scale = 10.0 ** data.draw(st.floats(-6, 3), label="log10 scale")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = scale * rng.standard_normal(shape)
    x[rng.random(shape) < 0.3] = data.draw(st.sampled_from([0.0, scale, -scale]))
    spec = WindowSpec(x, k, 1, k // 2, 1, False, None, None)
    want = _gather.float_reduce(x, spec.axes, spec.plans, _gather.LSE, r, 1)
    got = smooth._lse_slab(x, spec.axes, spec.plans, 1, r, smooth._Scratch())
    m = ndpool.max_pool(x, k, 1, k // 2)
    eps = np.finfo(np.float64).eps
    tol = 16 * (k ** x.ndim + 2) * eps * (np.abs(want) + (m - want))
    assert np.all(np.abs(got - want) <= tol)


@pytest.mark.parametrize("dtype", FLOATS + [np.int16], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("big", [1000, -1000])
def test_softpool_has_no_overflow(big, dtype):
    # one dominant element per 2x2 window, the others 800 below: e^-800 is 0 in float64
    x = np.full((2, 6, 8), big - 800, np.float64)
    x[:, ::2, ::2] = big
    x[1] = big                      # equal windows: exactly big as well
    x[1, 4:, 4::2] = -big           # windows mixing +1000 and -1000
    x = x.astype(dtype)
    got = ndpool.softpool(x, (2, 2))
    assert got.dtype == (x.dtype if x.dtype.kind == "f" else np.float64)
    want = np.full((2, 3, 4), big, got.dtype)
    want[1, 2:, 2:] = abs(big)
    np.testing.assert_array_equal(got, want)
    # any mixture of +-1000 against the reference
    rng = np.random.default_rng(5)
    y = (1000 * rng.uniform(-1, 1, (2, 7, 7))).astype(dtype)
    got = ndpool.softpool(y, (3, 3), stride=2, padding=1)
    assert np.all(np.isfinite(got))
    want = ref.softpool(y, [3, 3], [2, 2], [1, 1], [1, 1], axes=(1, 2))
    assert_close(got, want, atol=1e-13 * 1000)


def test_softpool_documented_values():
    got = ndpool.softpool(np.array([[0.0, 1.0], [2.0, 3.0]]), 2)
    w = np.exp([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(got, [[(w * [0, 1, 2, 3]).sum() / w.sum()]], rtol=1e-15)
    x = np.array([np.nan, 1, np.inf, 1, -np.inf, 1, -np.inf, -np.inf, np.inf, -np.inf])
    assert_close(ndpool.softpool(x, 2), np.array([np.nan, np.inf, 1.0, -np.inf, np.inf]))


# ---- median ----------------------------------------------------------------------

@pytest.mark.parametrize("kernel", [(2, 2), (1, 2), (2, 4), (3, 3), (2, 3)])
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_median_equals_np_median_over_windows(kernel, dtype):
    rng = np.random.default_rng(sum(kernel))
    x = rng.integers(-4, 5, (2, 9, 10)).astype(dtype)      # many ties
    x[0] = (100 * rng.standard_normal((9, 10))).astype(dtype)
    x[1, rng.random((9, 10)) < 0.05] = np.nan
    x[1, 0, :3] = [np.inf, -np.inf, np.inf]
    view = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))
    with np.errstate(invalid="ignore"):                 # -inf + inf in np.median
        want = np.median(view.reshape(view.shape[:3] + (-1,)), axis=-1)
    got = ndpool.median_pool(x, kernel, stride=1)
    assert got.dtype == want.dtype == x.dtype
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got).any()


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.uint64],
                         ids=lambda d: np.dtype(d).name)
def test_median_int_rounds_down_without_overflow(dtype):
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    pairs = [(hi, hi), (hi, hi - 1), (lo, lo), (lo, lo + 1), (lo, hi), (hi, lo),
             (0, hi), (0, 1), (3, 4), (lo + 1, hi), (hi - 2, hi)]
    if lo < 0:
        pairs += [(-3, -4), (-1, 0), (-1, 2), (-7, 4)]
    x = np.array(pairs, dtype)
    got = ndpool.median_pool(x, 2, axes=1)
    assert got.dtype == x.dtype
    want = [(a + b) // 2 for a, b in pairs]        # Python ints: floor, no overflow
    assert got[:, 0].tolist() == want
    # four elements: the two middle ones
    quad = np.array([[hi, lo, hi - 1, hi], [lo, lo, hi, 0]], dtype)
    got = ndpool.median_pool(quad, 4, axes=1)
    assert got[:, 0].tolist() == [(hi - 1 + hi) // 2, (lo + 0) // 2]


def test_median_bool_and_documented_example():
    x = np.array([[False, True, True, True], [True, False, False, False]])
    assert ndpool.median_pool(x, (1, 2)).tolist() == [[False, True], [False, False]]
    assert ndpool.median_pool(x, (2, 2)).tolist() == [[False, False]]
    assert ndpool.median_pool(x, (1, 4)).tolist() == [[True], [False]]
    assert ndpool.median_pool(x, (1, 3)).dtype == np.bool_
    y = np.array([[1, 9, 2, 2], [3, 4, 7, 5]])
    assert ndpool.median_pool(y, 2).tolist() == [[3, 3]]
    assert ndpool.median_pool(-y, 2).tolist() == [[-4, -4]]
    np.testing.assert_array_equal(ndpool.median_pool(y.astype(float), 2), [[3.5, 3.5]])


# ---- stochastic ------------------------------------------------------------------

def _stochastic_input(seed=11):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 5, 61, 67)).astype(np.float32)
    x[:, :, :20] = np.maximum(x[:, :, :20], 0) * (rng.random((3, 5, 20, 67)) < 0.3)
    return x


def test_stochastic_sample_reproducible_for_any_workers():
    x = _stochastic_input()
    kw = dict(kernel_size=(3, 3), stride=2, padding=1, return_indices=True)
    v1, i1 = ndpool.stochastic_pool(x, rng=1234, workers=1, **kw)
    for workers in (1, 2, 3, None):
        for rng in (1234, np.random.default_rng(1234)):
            v, i = ndpool.stochastic_pool(x, rng=rng, workers=workers, **kw)
            assert v.dtype == x.dtype and i.dtype == np.intp
            assert v.tobytes() == v1.tobytes() and i.tobytes() == i1.tobytes()
    v2, i2 = ndpool.stochastic_pool(x, rng=4321, **kw)
    assert not np.array_equal(i1, i2)       # another seed, other draws
    # a Generator is advanced: two calls with one generator differ
    g = np.random.default_rng(5)
    a = ndpool.stochastic_pool(x, rng=g, **kw)[1]
    b = ndpool.stochastic_pool(x, rng=g, **kw)[1]
    assert not np.array_equal(a, b)
    # return_indices points at the drawn element (windows without mass give 0)
    drawn = np.take_along_axis(x.reshape(3, 5, -1), i1.reshape(3, 5, -1), -1).reshape(v1.shape)
    mass = drawn > 0
    np.testing.assert_array_equal(drawn[mass], v1[mass])
    assert np.all(v1[~mass] == 0) and (~mass).any() and mass.any()


def _frequency_check(counts, probs, n):
    """Every category within 6 binomial sigmas of n p (at most 1 in 1e8 per category
    for a correct sampler, and the seed is fixed); categories with p = 0 never drawn;
    and Pearson's chi-square below its 1e-6 quantile."""
    probs = np.asarray(probs, np.float64)
    expect = n * probs
    sigma = np.sqrt(n * probs * (1 - probs))
    assert np.all(counts[probs == 0] == 0), (counts, probs)
    assert np.all(np.abs(counts - expect) <= 6 * sigma + 1e-9), (counts, expect)
    pos = probs > 0
    chi2 = (((counts[pos] - expect[pos]) ** 2) / expect[pos]).sum()
    df = pos.sum() - 1
    # Wilson-Hilferty: the 1 - 1e-6 quantile of chi-square(df) is below this
    bound = df * (1 - 2 / (9 * df) + 4.76 * math.sqrt(2 / (9 * df))) ** 3 if df else 0
    assert chi2 <= bound, (chi2, bound, counts, expect)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64,
                                   np.uint8, np.int8, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_stochastic_sample_frequencies(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        window = np.array([[True, False, True], [True, False, True]])
    elif dtype.kind == "u":
        window = np.array([[3, 0, 1], [0, 2, 4]])
    elif dtype.kind == "i":
        window = np.array([[3, 0, 1], [-2, 2, 4]])
    else:
        window = np.array([[3, 0, 1], [-2, 2, 0.5]])
    n = 40000
    x = np.broadcast_to(window.astype(dtype), (n, 2, 3))      # read-only, strided
    values, index = ndpool.stochastic_pool(x, (2, 3), rng=2024, return_indices=True)
    assert values.shape == (n, 1, 1) and values.dtype == dtype
    a = np.maximum(window.astype(np.float64), 0).ravel()
    counts = np.bincount(index.ravel(), minlength=6)
    assert counts.sum() == n and len(counts) == 6
    _frequency_check(counts, a / a.sum(), n)
    np.testing.assert_array_equal(values.ravel(), window.ravel()[index.ravel()])


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint16, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_stochastic_window_without_mass(dtype):
    """All activations <= 0: output 0, index a uniform draw among the window's elements."""
    dtype = np.dtype(dtype)
    window = np.zeros((2, 3)) if dtype.kind in "bu" else np.array([[0, -1, -5], [0, -2, -3]])
    n = 30000
    x = np.broadcast_to(window.astype(dtype), (n, 2, 3))
    values, index = ndpool.stochastic_pool(x, (2, 3), rng=99, return_indices=True)
    assert values.dtype == dtype and not values.any()
    _frequency_check(np.bincount(index.ravel(), minlength=6), np.full(6, 1 / 6), n)
    exp = ndpool.stochastic_pool(x[:5], (2, 3), mode="expectation")
    assert exp.dtype == np.float64 and not exp.any()
    # with padding the uniform draw is over the elements only, never over padding
    y = np.broadcast_to(np.zeros(3, dtype), (n, 3))
    values, index = ndpool.stochastic_pool(y, 3, stride=3, padding=1, axes=1, rng=7,
                                           return_indices=True)
    assert values.shape == (n, 1)
    _frequency_check(np.bincount(index.ravel(), minlength=3)[:3], [0.5, 0.5, 0.0], n)


def test_stochastic_nan_and_documented_values():
    x = np.array([1.0, np.nan, 2.0, np.nan, 0.0, 3.0])
    v, i = ndpool.stochastic_pool(x, 4, stride=2, rng=0, return_indices=True)
    assert np.isnan(v).all() and i.tolist() == [3, 3]
    e = ndpool.stochastic_pool(x, 2, mode="expectation")
    assert np.isnan(e[:2]).all() and e[2] == 3.0
    x = np.array([[0.0, 1.0], [0.0, 3.0]])
    np.testing.assert_array_equal(ndpool.stochastic_pool(x, 2, mode="expectation"), [[2.5]])
    e = ndpool.stochastic_pool(np.array([-1, 2, 3, -4], np.int64), 4, mode="expectation")
    assert e.dtype == np.float64 and e.tolist() == [13 / 5]
    big = np.array([np.iinfo(np.int64).max] * 2 + [1, 0], np.int64)
    e = ndpool.stochastic_pool(big, 2, mode="expectation")
    assert e.tolist() == [float(np.iinfo(np.int64).max), 1.0]


# ---- mixing ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_mixed_is_alpha_max_plus_one_minus_alpha_avg(dtype, layout):
    rng = np.random.default_rng(8)
    x = (20 * rng.standard_normal((2, 4, 9, 8))).astype(dtype)
    if layout == "nhwc":
        x = np.moveaxis(x, 1, -1)
    caxis = 1 if layout == "nchw" else -1
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, channel_axis=caxis,
              axes=(1, 2) if layout == "nhwc" else (2, 3))
    mx = ndpool.max_pool(x, **kw).astype(np.float64)
    av = ndpool.avg_pool(x, **kw).astype(np.float64)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    for alpha in (0.0, 1.0, 0.3, np.float32(0.75), np.array([0.0, 0.25, 1.0, 0.6])):
        got = ndpool.mixed_pool(x, alpha, **kw)
        a = np.asarray(alpha, np.float64)
        if a.ndim:
            a = a.reshape((1, 4, 1, 1) if layout == "nchw" else (1, 1, 1, 4))
        want = (a * mx + (1 - a) * av).astype(out_dtype)
        # avg_pool's result is rounded to the output dtype; mixed_pool blends the
        # unrounded average (test_mixed_and_gated_round_once), so allow one rounding.
        assert_close(got, want, atol=2 * np.finfo(out_dtype).eps * finite_scale(x))


@pytest.mark.parametrize("window,alpha,dtype", [
    ([-0.5732421875, -0.5771484375, 0.11517333984375], 0.75, np.float16),
    ([-0.4505867660045624, 1.9154901504516602, -2.1027815341949463], 0.1, np.float32),
])
def test_mixed_and_gated_round_once(window, alpha, dtype):
    """max and avg blend in float64 and are rounded once to the output dtype, like every
    float-valued method: here max and avg nearly cancel, so an avg rounded to float16 /
    float32 first is hundreds of ulps off."""
    x = np.array(window, dtype)
    want = ref.mixed_pool(x, alpha, 3)
    assert_close(ndpool.mixed_pool(x, alpha, 3), want)
    gate = np.full(3, np.log(alpha / (1 - alpha)) / x.astype(np.float64).sum())
    assert_close(ndpool.gated_pool(x, gate, 3), ref.gated_pool(x, gate, 3))


def test_mixed_pool_blends_infinities_without_a_warning():
    """A per-channel alpha blends in NumPy (_mix): alpha = 1 over a window holding
    inf gives 1 * inf + 0 * inf = NaN (so does alpha = 0; 0 < alpha < 1 gives
    inf), as the formula reads and as the kernel's blend gives, and no
    RuntimeWarning (0 * inf is expected here)."""
    x = np.zeros((1, 3, 4, 4))
    x[0, :, 0, 0] = np.inf
    alpha = np.array([1.0, 0.5, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ndpool.mixed_pool(x, alpha, 2, axes=(2, 3), channel_axis=1)
        scalar = ndpool.mixed_pool(x[:, :1], 1.0, 2, axes=(2, 3), channel_axis=1)
    assert np.isnan(got[0, 0, 0, 0]) and np.isnan(scalar[0, 0, 0, 0])
    assert got[0, 1, 0, 0] == np.inf and np.isnan(got[0, 2, 0, 0])
    assert np.all(got[..., 1:] == 0) and np.all(got[..., 1:, :] == 0)


def test_gate_sigmoid_keeps_its_relative_accuracy_in_both_tails():
    """The gates' sigmoid against the reference's two-branch form, to a few ulps
    relative from z = -700 to z = 40, and exactly at 0, +-inf and NaN (below
    z = -709.78, e^-z overflows and the result is 0, not a subnormal number).  (The form 0.5 (1 + tanh(z / 2)) fails this for z < 0:
    1 + tanh(z / 2) cancels, 1e-2 relative at z = -30, 0 from z = -38 on.)"""
    from ndpool.mixing import _sigmoid
    z = np.concatenate([np.linspace(-700, 40, 4001), [-1e-300, 0.0, 1e-300]])
    got = _sigmoid(z.copy())
    want = np.array([ref._sigmoid(v) for v in z])
    assert np.all(want > 0)
    np.testing.assert_allclose(got, want, rtol=8 * np.finfo(float).eps, atol=0)
    special = _sigmoid(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -800.0]))
    np.testing.assert_array_equal(special, [0.5, 0.5, 1.0, 0.0, np.nan, 0.0])


def _same_bits_on_every_row_path(func, x, got):
    """``func`` (_engine.exp or _kernel_log) gives ``got`` (its result on the 1-D ``x``) for
    strided rows, in place and on two threads alike."""
    from ndpool import _engine
    wide = x[:44000].reshape(40, 1100)
    part = wide[3:37:2, 5:1000]
    assert _engine._as_rows(part).shape == part.shape       # the compiled path, strided
    np.testing.assert_array_equal(func(part), got[:44000].reshape(40, 1100)[3:37:2, 5:1000])
    inplace = part.copy()
    assert func(inplace, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, func(part))
    np.testing.assert_array_equal(func(wide, nthreads=2), func(wide, nthreads=1))


@pytest.mark.parametrize("numpy_simd", [False, True], ids=["vexp", "numpy"])
def test_engine_exp_is_within_two_ulps_of_libm_over_its_whole_range(numpy_simd, monkeypatch):
    """The compiled exp behind SoftPool, log-sum-exp and the gates (_vexp.h) against
    Python's math.exp (libm), element by element: within 2 ulps of it (the kernel's
    own bound is 1 ulp, libm's half an ulp) from the overflow threshold down into
    the subnormal numbers; exact at 0, +-inf, NaN (sign kept) and beyond the range;
    e^(r x) with r x rounded to float64 as NumPy's product rounds it; the same
    bits for strided rows, in place, from float32 and on any number of threads.
    Both ways _engine.exp can go (NUMPY_SIMD_EXP: NumPy's exp where it is AVX-512
    code, else the kernel) are held to it on every machine."""
    from ndpool import _engine
    monkeypatch.setattr(_engine, "NUMPY_SIMD_EXP", numpy_simd)
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-746.0, 709.78, 20000), rng.uniform(-3, 3, 20000),
                        np.linspace(-0.36, 0.36, 4001), [709.78, -708.39, -745.13]])
    got = _engine.exp(x)
    want = np.array([math.exp(v) for v in x])
    tiny = np.finfo(float).smallest_subnormal
    np.testing.assert_array_less(np.abs(got - want),
                                 2 * np.maximum(np.spacing(want), tiny) + tiny / 2)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 709.79, -745.2,
                        1e308, -1e308] * 8)
    sgot = _engine.exp(special)
    np.testing.assert_array_equal(sgot[:10], [1, 1, np.inf, 0, np.nan, np.nan, np.inf, 0,
                                              np.inf, 0])
    assert list(np.signbit(sgot[4:6])) == [False, True]
    for r in (-1.0, 0.37, 2.0):
        scaled = np.multiply(x, r)
        np.testing.assert_array_equal(_engine.exp(x, r), _engine.exp(scaled))
    _same_bits_on_every_row_path(_engine.exp, x, got)
    f = rng.standard_normal((3, 700)).astype(np.float32) * 40
    np.testing.assert_array_equal(_engine.exp(f, 1.5), _engine.exp(f.astype(np.float64), 1.5))


def _kernel_log(x, *, out=None, nthreads=1):
    """smooth.pyx's log_rows (_vexp.h's log) on x's rows, as _engine.exp takes exp_rows."""
    from ndpool import _engine
    from ndpool._kernels import smooth as _s
    out = np.empty(x.shape, np.float64) if out is None else out
    views = _engine._row_views(x, out)
    assert views is not None
    _s.log_rows(*views, nthreads)
    return out


def test_kernel_log_is_within_two_ulps_of_libm_over_its_whole_range():
    """The compiled log of log-sum-exp's sweep (_vexp.h's nd_log, here through
    log_rows) against math.log (libm), element by element: within 2 ulps over
    normal and subnormal numbers of every binade, near 1 (where log's relative
    error is hardest to keep) and around sqrt(2) (where the kernel changes
    binade); 0 -> -inf, x < 0 -> NaN, inf -> inf, NaN kept; the same bits for
    strided rows, in place and on any number of threads."""
    rng = np.random.default_rng(6)
    tiny = np.finfo(float).smallest_subnormal
    x = np.concatenate([2.0 ** rng.uniform(-1074, 1024, 20000),
                        rng.uniform(0.5, 2.0, 20000),
                        1 + np.linspace(-1e-3, 1e-3, 4001),
                        np.sqrt(2) * (1 + np.linspace(-1e-12, 1e-12, 101)),
                        [tiny, 2 * tiny, np.finfo(float).tiny, np.finfo(float).max, 1.0]])
    x = x[np.isfinite(x) & (x > 0)]
    got = _kernel_log(x)
    want = np.array([math.log(v) for v in x])
    np.testing.assert_array_less(np.abs(got - want), 2 * np.spacing(np.abs(want)) + 1e-300)
    assert got[-1] == 0.0
    special = np.array([0.0, -0.0, -1.0, -tiny, np.inf, -np.inf, np.nan, 1.0] * 10)
    sgot = _kernel_log(special)
    np.testing.assert_array_equal(sgot[:8], [-np.inf, -np.inf, np.nan, np.nan, np.inf,
                                             np.nan, np.nan, 0.0])
    _same_bits_on_every_row_path(_kernel_log, x, got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8],
                         ids=lambda d: np.dtype(d).name)
def test_gated_with_zero_gate_is_mixed_half(dtype):
    rng = np.random.default_rng(9)
    x = (20 * rng.standard_normal((2, 3, 10, 7))).astype(dtype)
    for kw in (dict(kernel_size=(2, 2)),
               dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True),
               dict(kernel_size=(3, 3), padding="same", dilation=2)):
        gate = np.zeros(kw["kernel_size"])
        got = ndpool.gated_pool(x, gate, **kw)
        want = ndpool.mixed_pool(x, 0.5, **kw)
        assert_close(got, want, atol=1e-13 * finite_scale(x))


def test_gated_weights_follow_ascending_axes_and_padding_is_zero():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    gate = np.zeros((2, 3))
    gate[0, 2] = 1.0            # the tap at kernel position (0, 2) of axes (0, 1)
    # axes given as (1, 0): the kernel (3, 2) is per axis 1 then 0, i.e. (2, 3) ascending
    got = ndpool.gated_pool(x, gate, (3, 2), axes=(1, 0), stride=(3, 2))
    s = 1 / (1 + np.exp(-x[0, 2]))
    mx, av = x[:2, :3].max(), x[:2, :3].mean()
    np.testing.assert_allclose(got[0, 0], s * mx + (1 - s) * av, rtol=1e-14)
    # padding taps meet the weights as zeros: only the valid taps respond
    y = np.array([[5.0, 7.0]])
    g = np.array([[10.0, 1.0, 100.0]])
    got = ndpool.gated_pool(y, g, (1, 3), stride=1, padding=(0, 1))
    z = np.array([1.0 * 5 + 100 * 7, 10 * 5 + 1 * 7])
    s = 1 / (1 + np.exp(-z))
    av = np.array([12 / 3, 12 / 3])
    np.testing.assert_allclose(got[0], s * 7 + (1 - s) * av, rtol=1e-14)


def test_tree_heap_order():
    """Saturated gates route the root to one leaf: gates[i] is internal node i, its
    children are nodes 2i+1 (s = 1) and 2i+2 (s = 0), leaf m is node L - 1 + m."""
    rng = np.random.default_rng(10)
    y = np.abs(rng.standard_normal((2, 6, 6))) + 0.1       # every window sum > 0
    leaves = rng.standard_normal((4, 2, 2))
    blocks = y.reshape(2, 3, 2, 3, 2)                        # disjoint 2x2 windows
    resp = np.einsum("bihjw,mhw->mbij", blocks, leaves)     # each leaf's response
    for signs, leaf in [((1, 1, 1), 0), ((1, -1, 1), 1), ((-1, 1, 1), 2),
                        ((-1, 1, -1), 3)]:
        gates = np.array([sign * 1e4 * np.ones((2, 2)) for sign in signs])
        got = ndpool.tree_pool(y, leaves, gates, (2, 2))
        np.testing.assert_allclose(got, resp[leaf], rtol=1e-13, atol=1e-13)
    # depth 1 with zero gates: the mean of the two leaves; depth 2: of all four
    got = ndpool.tree_pool(y, leaves[:2], np.zeros((1, 2, 2)), (2, 2))
    np.testing.assert_allclose(got, resp[:2].mean(0), rtol=1e-13, atol=1e-13)
    got = ndpool.tree_pool(y, leaves, np.zeros((3, 2, 2)), (2, 2))
    np.testing.assert_allclose(got, resp.mean(0), rtol=1e-13, atol=1e-13)
    # the documented example
    z = np.array([[1.0, 2.0], [3.0, 6.0]])
    lv = np.stack([np.full((2, 2), 0.25), np.eye(2)])
    np.testing.assert_allclose(ndpool.tree_pool(z, lv, np.zeros((1, 2, 2)), 2), [[5.0]])



@pytest.mark.parametrize("axes", [(2, 3), (1, 3)], ids=["adjacent", "apart"])
def test_tree_in_pieces_equals_the_whole_arrays(axes, monkeypatch):
    """Tree pooling evaluates its gates and blends on pieces of the responses
    (mixing._by_pieces), each into its left child's piece.  An output of several
    pieces and a ragged last one, depth 2, must give the bytes of the same
    passes over the whole arrays; the gather kernel's strided responses (axes
    apart) too."""
    from ndpool import mixing
    rng = np.random.default_rng(21)
    x = rng.standard_normal((3, 7, 301, 347)).astype(np.float32)
    leaves = rng.standard_normal((4, 2, 3))
    gates = rng.standard_normal((3, 2, 3))
    got = ndpool.tree_pool(x, leaves, gates, (2, 3), axes=axes)
    assert got.size > 2 * mixing._PIECE and got.size % mixing._PIECE
    monkeypatch.setattr(mixing, "_PIECE", got.size)
    want = ndpool.tree_pool(x, leaves, gates, (2, 3), axes=axes)
    assert got.dtype == want.dtype == np.float32
    assert got.tobytes() == want.tobytes()


# ---- threads ---------------------------------------------------------------------

@pytest.mark.parametrize("method", ["lp", "power_mean", "softpool", "lse", "median",
                                    "expectation", "mixed", "gated", "tree"])
@pytest.mark.parametrize("dtype", [np.float32, np.int16], ids=lambda d: np.dtype(d).name)
def test_bit_identical_for_any_workers(method, dtype):
    rng = np.random.default_rng(12)
    x = (10 * rng.standard_normal((3, 4, 45, 38))).astype(dtype)
    k = (3, 2)
    w = rng.standard_normal((7,) + k)
    call = {
        "lp": lambda **kw: ndpool.lp_pool(x, 2.5, k, **kw),
        "power_mean": lambda **kw: ndpool.power_mean_pool(x, 3, k, eps=1e-6, **kw),
        "softpool": lambda **kw: ndpool.softpool(x, k, **kw),
        "lse": lambda **kw: ndpool.lse_pool(x, 2.0, k, **kw),
        "median": lambda **kw: ndpool.median_pool(x, k, **kw),
        "expectation": lambda **kw: ndpool.stochastic_pool(x, k, mode="expectation", **kw),
        "mixed": lambda **kw: ndpool.mixed_pool(x, [0.1, 0.5, 0.9, 1.0], k, channel_axis=1,
                                                **kw),
        "gated": lambda **kw: ndpool.gated_pool(x, w[0], k, **kw),
        "tree": lambda **kw: ndpool.tree_pool(x, w[:4], w[4:], k, **kw),
    }[method]
    kw = dict(stride=(2, 1), padding=(1, 1), ceil_mode=True)
    first = call(workers=1, **kw)
    for workers in (2, 3, None):
        again = call(workers=workers, **kw)
        assert again.dtype == first.dtype and again.tobytes() == first.tobytes()


# ---- bad parameters --------------------------------------------------------------

X = np.zeros((2, 3, 6, 6), np.float32)
K = (2, 2)
G = np.zeros(K)
LV = np.zeros((2,) + K)
GT = np.zeros((1,) + K)

BAD = [
    (ndpool.lp_pool, (0, K), {}, ValueError, r"\bp\b"),
    (ndpool.lp_pool, (-1, K), {}, ValueError, r"\bp\b"),
    (ndpool.lp_pool, (np.nan, K), {}, ValueError, r"\bp\b"),
    (ndpool.lp_pool, (np.inf, K), {}, ValueError, r"\bp\b"),
    (ndpool.lp_pool, ("2", K), {}, TypeError, r"\bp\b"),
    (ndpool.lp_pool, (None, K), {}, TypeError, r"\bp\b"),
    (ndpool.power_mean_pool, (0, K), {}, ValueError, r"\bp\b"),
    (ndpool.power_mean_pool, (-2.5, K), {}, ValueError, r"\bp\b"),
    (ndpool.power_mean_pool, (np.nan, K), {}, ValueError, r"\bp\b"),
    (ndpool.power_mean_pool, (3, K), dict(eps=-1e-6), ValueError, r"\beps\b"),
    (ndpool.power_mean_pool, (3, K), dict(eps=np.nan), ValueError, r"\beps\b"),
    (ndpool.lse_pool, (0, K), {}, ValueError, r"\br\b"),
    (ndpool.lse_pool, (-1.0, K), {}, ValueError, r"\br\b"),
    (ndpool.lse_pool, (np.nan, K), {}, ValueError, r"\br\b"),
    (ndpool.lse_pool, ([1.0], K), {}, TypeError, r"\br\b"),
    (ndpool.mixed_pool, (-0.1, K), {}, ValueError, "alpha"),
    (ndpool.mixed_pool, (1.5, K), {}, ValueError, "alpha"),
    (ndpool.mixed_pool, (np.nan, K), {}, ValueError, "alpha"),
    (ndpool.mixed_pool, ("a", K), {}, (TypeError, ValueError), "alpha"),
    (ndpool.mixed_pool, (np.array([0.5, 0.5, 1.2]), K), dict(channel_axis=1),
     ValueError, "alpha"),
    (ndpool.mixed_pool, (np.array([0.5, 0.5]), K), dict(channel_axis=1), ValueError,
     "alpha"),
    (ndpool.mixed_pool, (np.full(3, 0.5), K), {}, ValueError, "alpha"),
    (ndpool.mixed_pool, (np.full((3, 1), 0.5), K), dict(channel_axis=1), ValueError,
     "alpha"),
    (ndpool.gated_pool, (np.zeros((2, 3)), K), {}, ValueError, "gate"),
    (ndpool.gated_pool, (np.zeros((1, 2, 2)), K), {}, ValueError, "gate"),
    (ndpool.gated_pool, (np.zeros(4), K), {}, ValueError, "gate"),
    (ndpool.gated_pool, (np.full(K, np.nan), K), {}, ValueError, "gate"),
    (ndpool.gated_pool, (np.zeros(K, complex), K), {}, TypeError, "gate"),
    (ndpool.tree_pool, (np.zeros((2, 3, 2)), GT, K), {}, ValueError, "leaves"),
    (ndpool.tree_pool, (np.zeros((3,) + K), np.zeros((2,) + K), K), {}, ValueError,
     "leaves"),
    (ndpool.tree_pool, (np.zeros((1,) + K), np.zeros((0,) + K), K), {}, ValueError,
     "leaves"),
    (ndpool.tree_pool, (np.zeros((6,) + K), np.zeros((5,) + K), K), {}, ValueError,
     "leaves"),
    (ndpool.tree_pool, (np.zeros(K), GT, K), {}, ValueError, "leaves"),
    (ndpool.tree_pool, (LV, np.zeros((2,) + K), K), {}, ValueError, "gates"),
    (ndpool.tree_pool, (np.zeros((4,) + K), GT, K), {}, ValueError, "gates"),
    (ndpool.tree_pool, (LV, np.zeros((1, 3, 3)), K), {}, ValueError, "gates"),
    (ndpool.tree_pool, (LV, np.full((1,) + K, np.inf), K), {}, ValueError, "gates"),
    (ndpool.tree_pool, (LV.astype(object), GT, K), {}, TypeError, "leaves"),
    (ndpool.stochastic_pool, (K,), dict(mode="max"), ValueError, "mode"),
    (ndpool.stochastic_pool, (K,), dict(mode="Sample"), ValueError, "mode"),
    (ndpool.stochastic_pool, (K,), dict(mode=None), ValueError, "mode"),
    (ndpool.stochastic_pool, (K,), dict(rng="seed"), TypeError, "rng"),
    (ndpool.stochastic_pool, (K,), dict(rng=1.5), TypeError, "rng"),
    (ndpool.stochastic_pool, (K,), dict(rng=True), TypeError, "rng"),
    (ndpool.stochastic_pool, (K,), dict(rng=np.random.RandomState(0)), TypeError, "rng"),
    (ndpool.stochastic_pool, (K,), dict(mode="expectation", return_indices=True),
     ValueError, "return_indices"),
    (ndpool.median_pool, (0,), {}, ValueError, "kernel_size"),
    (ndpool.softpool, ((2, 2),), dict(padding=2), ValueError, "padding"),
]


@pytest.mark.parametrize("func,args,kwargs,exc,match", BAD,
                         ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD)])
def test_bad_parameters(func, args, kwargs, exc, match):
    x = X.copy()
    with pytest.raises(exc, match=match):
        func(x, *args, **kwargs)
    np.testing.assert_array_equal(x, X)


CATALOGUE = [
    (ndpool.lp_pool, (2,)), (ndpool.power_mean_pool, (2,)), (ndpool.softpool, ()),
    (ndpool.lse_pool, (1.0,)), (ndpool.median_pool, ()), (ndpool.stochastic_pool, ()),
    (ndpool.mixed_pool, (0.5,)), (ndpool.gated_pool, (G,)), (ndpool.tree_pool, (LV, GT)),
]


@pytest.mark.parametrize("func,params", CATALOGUE, ids=[c[0].__name__ for c in CATALOGUE])
def test_rejects_bad_dtypes_and_leaves_input_untouched(func, params):
    with pytest.raises(TypeError, match="dtype"):
        func(np.zeros((4, 4), complex), *params, K)
    x = np.random.default_rng(0).standard_normal((2, 5, 6))
    before = x.copy()
    func(x, *params, K)
    np.testing.assert_array_equal(x, before)


# ---- the elementwise-power path of lp_pool / power_mean_pool ------------------------------

@pytest.mark.parametrize("slab", [7, 40, 2**18])
@pytest.mark.parametrize("shape,kw", [
    ((5, 3, 40, 30), dict(kernel_size=3, stride=2, padding=1)),
    ((41, 37), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0), ceil_mode=True)),
    ((23, 19, 4), dict(kernel_size=2, stride=1, dilation=2, axes=(0, 1))),
    ((50,), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ((7, 31, 29), dict(kernel_size=3, stride=1, padding=1, channel_axis=0)),
    ((9, 8), dict(kernel_size=3, stride=1, padding=1, dilation=3)),
])
def test_power_sums_in_slabs_match_the_per_window_kernel(monkeypatch, shape, kw, slab):
    """The powers are computed a slab of rows at a time (overlapping input rows where
    windows overlap): any slab size gives the per-window scaled kernel's values."""
    from ndpool import _gather, smooth
    from ndpool._spec import WindowSpec
    monkeypatch.setattr(smooth, "_SLAB", slab)
    x = np.random.default_rng(len(shape)).standard_normal(shape) * 5
    spec = WindowSpec(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0),
                      kw.get("dilation", 1), kw.get("ceil_mode", False), kw.get("axes"),
                      kw.get("channel_axis"))
    for p, eps, code in [(2.5, None, _gather.LP), (3, 1e-6, _gather.POWER_MEAN),
                         (2, None, _gather.POWER_MEAN), (3, None, _gather.POWER_MEAN)]:
        xin = x if eps is None else np.maximum(x, eps)
        want = _gather.float_reduce(xin, spec.axes, spec.plans, code, p, 1)
        if code == _gather.LP:
            got = ndpool.lp_pool(x, p, **kw)
        else:
            got = ndpool.power_mean_pool(x, p, eps=eps, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True,
                                   err_msg=f"p={p} eps={eps}")


@pytest.mark.parametrize("slab", [7, 40, 2**18])
@pytest.mark.parametrize("scale", [1.0, 100.0, 1000.0])
@pytest.mark.parametrize("shape,kw", [
    ((5, 3, 40, 30), dict(kernel_size=3, stride=2, padding=1)),
    ((41, 37), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0), ceil_mode=True)),
    ((7, 31, 29), dict(kernel_size=3, stride=1, padding=1, channel_axis=0)),
    ((50,), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
])
def test_softpool_without_a_shift_matches_the_per_window_kernel(
        monkeypatch, shape, kw, scale, slab):
    """Unshifted sums where they are finite and normal, the kernel's per-window shift
    where not (scale 1000: values beyond +-709): the same values, in any slab."""
    from ndpool import _gather, smooth
    from ndpool._spec import WindowSpec
    monkeypatch.setattr(smooth, "_SLAB", slab)
    x = np.random.default_rng(len(shape)).standard_normal(shape) * scale
    spec = WindowSpec(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0), 1,
                      kw.get("ceil_mode", False), None, kw.get("channel_axis"))
    want = _gather.float_reduce(x, spec.axes, spec.plans, _gather.SOFTPOOL, 0.0, 1)
    np.testing.assert_allclose(ndpool.softpool(x, **kw), want, rtol=0, atol=1e-14 * scale)


def test_softpool_of_a_window_does_not_depend_on_the_rest_of_the_array():
    """Each window's path is chosen on its own values: pooling an image alone or in a
    batch with an image of huge values gives the same bits."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((1, 9, 9))
    b = 1e4 * rng.standard_normal((1, 9, 9))           # takes the per-window kernel
    both = ndpool.softpool(np.concatenate([a, b]), 3, 2, 1, axes=(1, 2))
    np.testing.assert_array_equal(both[:1], ndpool.softpool(a, 3, 2, 1, axes=(1, 2)))
    np.testing.assert_array_equal(both[1:], ndpool.softpool(b, 3, 2, 1, axes=(1, 2)))
    x = np.array([0.0, -np.inf, 2.0, np.inf, 1.0, np.nan, 3.0, 800.0])
    np.testing.assert_array_equal(ndpool.softpool(x, 2),
                                  [0.0, np.inf, np.nan, 800.0])


def _bits(a):
    """The bytes of a float array with each NaN made the same NaN.  Where both
    operands of a product or a sum are NaN, the CPU passes one of them on, and
    NumPy's own loops pass on either one depending on an element's position
    (its vector body or its scalar tail), so the sign of a NaN built from two
    NaNs of different signs is not part of a blend's result."""
    a = np.array(a, copy=True)
    a[np.isnan(a)] = np.nan
    return a.tobytes()


def _fused_and_separate(sweep, calls):
    """(results of ``calls``, their results with ``_engine.<sweep>`` declining, so
    that the method takes its separate passes, which serve the layouts the sweep
    does not); None where a call raises ValueError (the window does not fit)."""
    try:
        fused = [f() for f in calls]
    except ValueError:
        return None
    mp = pytest.MonkeyPatch()
    mp.setattr(ndpool._engine, sweep, lambda *a, **k: None)
    try:
        with np.errstate(invalid="ignore"):
            return fused, [f() for f in calls]
    finally:
        mp.undo()


def _adjacent_case(data):
    """A random input, 1-3 adjacent pooled axes with every window parameter, and a
    generator; (x, kernel, axes, window keywords, rng)."""
    ndim = data.draw(st.integers(1, 4), label="ndim")
    shape = tuple(data.draw(st.integers(1, 7)) for _ in range(ndim))
    k = data.draw(st.integers(1, min(ndim, 3)), label="pooled")
    first = data.draw(st.integers(0, ndim - k), label="first pooled axis")
    axes = tuple(range(first, first + k))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(k))
    kw = dict(stride=tuple(data.draw(st.integers(1, 3)) for _ in range(k)),
              padding=tuple(data.draw(st.integers(0, kk // 2)) for kk in kernel),
              dilation=tuple(data.draw(st.integers(1, 3)) for _ in range(k)),
              ceil_mode=data.draw(st.booleans()))
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int16, np.uint8, np.bool_]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    return x, kernel, axes, kw, rng


@examples(150)
@given(data=st.data())
def test_fused_window_responses_equal_the_gather_kernel(data):
    """Gated and tree pooling take their window responses from the engine's fused
    sweep when the pooled axes are adjacent; the general gather kernel, which
    serves every other layout, must give the same bits (taps in the same order,
    padding adding nothing, dilation, ceil mode and edge windows included)."""
    from ndpool import _engine, _gather
    from ndpool._spec import WindowSpec
    x, kernel, axes, kw, rng = _adjacent_case(data)
    dtype = x.dtype.type
    shape = x.shape
    if dtype in (np.float32, np.float64):
        x[rng.random(shape) < 0.05] = np.nan
    weights = rng.standard_normal((data.draw(st.integers(1, 3)),) + kernel)
    try:
        spec = WindowSpec(x, kernel, kw["stride"], kw["padding"], kw["dilation"],
                          kw["ceil_mode"], axes, None)
    except ValueError:            # the window does not fit this shape
        return
    fused = _engine.window_weighted(spec.x, spec.axes, spec.plans, weights, nthreads=2)
    assert fused is not None
    general = _gather.weighted(spec.x, spec.axes, spec.plans, weights, 2)
    assert fused.shape == general.shape and fused.dtype == general.dtype
    assert fused.tobytes() == general.tobytes()


@pytest.mark.parametrize("nk", [1, 3])
@pytest.mark.parametrize("kw_, stride", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 2), (6, 4),
                                         (7, 1), (7, 5)])
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_fused_window_responses_on_wide_rows(nk, kw_, stride, dilation):
    """Wide rows, so that most windows are whole: their taps go one to three at a
    time (window._wsum_taps), read in place or from the row split into its
    phases (several filters, stride <= 8).  Every grouping of 1 to 7 taps must
    add in the gather kernel's order: the same bits."""
    from ndpool import _engine, _gather
    from ndpool._spec import WindowSpec
    rng = np.random.default_rng(kw_ * 100 + stride * 10 + dilation)
    x = rng.standard_normal((2, 4, 61)).astype(np.float32)
    weights = rng.standard_normal((nk, 2, kw_))
    spec = WindowSpec(x, (2, kw_), stride, (1, kw_ // 2), dilation, False, (1, 2), None)
    fused = _engine.window_weighted(spec.x, spec.axes, spec.plans, weights, nthreads=2)
    general = _gather.weighted(spec.x, spec.axes, spec.plans, weights, 2)
    assert fused.tobytes() == general.tobytes()


@examples(150)
@given(data=st.data())
def test_fused_stochastic_draws_equal_the_gather_kernel(data):
    """Stochastic sampling over adjacent pooled axes runs window by window on the
    engine's tables (window.stochastic_fused); the gather kernel, which serves
    every other layout, must draw the same taps: values and indices, bit for bit,
    with NaN, infinities, windows without mass, padding, dilation and ceil mode."""
    from ndpool import _engine, _gather
    from ndpool._spec import WindowSpec
    x, kernel, axes, kw, rng = _adjacent_case(data)
    dtype = x.dtype.type
    shape = x.shape
    if dtype in (np.float32, np.float64):
        for special in (np.nan, np.inf, -np.inf, 0.0):
            x[rng.random(shape) < 0.05] = special
    try:
        spec = WindowSpec(x, kernel, kw["stride"], kw["padding"], kw["dilation"],
                          kw["ceil_mode"], axes, None)
    except ValueError:            # the window does not fit this shape
        return
    u = rng.random(spec.out_shape)
    u[rng.random(u.shape) < 0.1] = 0.0
    fused = _engine.stochastic_sample(spec.x, spec.axes, spec.plans, u, with_index=True,
                                      nthreads=2)
    assert fused is not None
    values, index = _gather.stochastic_sample(spec.x, spec.axes, spec.plans, u, 2)
    values = _engine._from_kernel(values, x.dtype)
    assert fused[0].dtype == values.dtype and fused[0].shape == values.shape
    assert fused[0].tobytes() == values.tobytes()
    assert fused[1].tobytes() == index.tobytes()
    alone = _engine.stochastic_sample(spec.x, spec.axes, spec.plans, u, with_index=False,
                                      nthreads=1)
    assert alone[1] is None and alone[0].tobytes() == values.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
@pytest.mark.parametrize("kernel, stride, inner", [((3, 3), 2, 1), ((2, 2), 2, 1),
                                                   ((3, 3), 1, 1), ((3, 3), 2, 3)])
def test_stochastic_draws_at_exact_ties_equal_the_gather_kernel(dtype, kernel, stride, inner):
    """Targets u * s that equal a running sum exactly: integer activations (many
    zeros and negatives) and u in {0, 1/4, 1/2, 3/4}, so that u * s is exact and
    often a window's partial sum.  The draw is the first tap whose running sum
    passes the target (strictly), never a tap without mass: the fused sweep
    (four windows at a time for single channels) and the gather kernel agree, bit
    for bit, with wide rows so that the four-window path runs."""
    from ndpool import _engine, _gather
    from ndpool._spec import WindowSpec
    rng = np.random.default_rng(7)
    x = rng.integers(-2, 4, (3, 11, 41, inner)).astype(dtype)
    x[rng.random(x.shape) < 0.3] = 0
    spec = WindowSpec(x, kernel, stride, 1, 1, False, (1, 2), None)
    u = rng.choice([0.0, 0.25, 0.5, 0.75], spec.out_shape)
    fused = _engine.stochastic_sample(spec.x, spec.axes, spec.plans, u, with_index=True,
                                      nthreads=2)
    values, index = _gather.stochastic_sample(spec.x, spec.axes, spec.plans, u, 2)
    assert fused[0].tobytes() == _engine._from_kernel(values, x.dtype).tobytes()
    assert fused[1].tobytes() == index.tobytes()
    drawn = np.take_along_axis(x.reshape(3, -1, inner), index.reshape(3, -1, inner), axis=1)
    has_mass = ndpool.max_pool(x, kernel, stride, 1, axes=(1, 2)).reshape(drawn.shape) > 0
    assert (drawn[has_mass] > 0).all()          # a window with mass never draws a tap without


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, stride, dilation", [
    ((3, 3), 2, 1), ((2, 2), 2, 1), ((3, 3), 1, 1), ((3, 3), 3, 1), ((3, 3), 2, 2),
    ((1, 9), 1, 1), ((2, 5), 2, 1), ((3, 25), 1, 1)])
def test_stochastic_draws_eight_windows_at_a_time_equal_the_gather_kernel(
        dtype, kernel, stride, dilation):
    """Single-channel float windows go eight at a time through _draw.h (one window
    per vector lane; step 1 and 2 by vector loads, other steps lane by lane),
    the last block of a row overlapping the one before, and a block with a
    NaN, an infinity, a window without mass or a float64 sum that overflows is
    drawn window by window, as are windows of more than 64 taps (3 x 25).  Wide
    rows with a few of each: values and indices equal the gather kernel's, bit
    for bit, with and without indices."""
    from ndpool import _engine, _gather
    from ndpool._spec import WindowSpec
    for seed in range(4):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((2, 9, 203)).astype(dtype)
        x[:, 4, 40:80] = -np.abs(x[:, 4, 40:80])         # windows without mass
        for special in (np.nan, np.inf, -np.inf):
            x[rng.random(x.shape) < 0.003] = special
        if dtype == np.float64:
            x[:, 6, 100:140] = 1e308                     # finite taps, sums overflow
        spec = WindowSpec(x, kernel, stride, (kernel[0] // 2, kernel[1] // 2), dilation,
                          False, (1, 2), None)
        u = rng.random(spec.out_shape)
        values, index = _gather.stochastic_sample(spec.x, spec.axes, spec.plans, u, 2)
        values = _engine._from_kernel(values, x.dtype)
        for nthreads in (1, 2):
            fused = _engine.stochastic_sample(spec.x, spec.axes, spec.plans, u,
                                              with_index=True, nthreads=nthreads)
            assert fused[0].tobytes() == values.tobytes()
            assert fused[1].tobytes() == index.tobytes()
        alone = _engine.stochastic_sample(spec.x, spec.axes, spec.plans, u,
                                          with_index=False, nthreads=2)
        assert alone[0].tobytes() == values.tobytes()


@pytest.mark.skipif(not __import__("ndpool._kernels.variates").
                    _kernels.variates.HAVE_PCG, reason="no 128-bit integers in this build")
@examples(60)
@given(data=st.data())
def test_stochastic_kernel_drawing_its_uniforms_equals_it_given_them(data):
    """With a _uniforms.Draws the sampling sweep computes its uniforms itself, a row
    at a time per thread from the stream's state at its first output: the result
    (values and indices) must be the one it gives with the same numbers as an
    array, for any first draw, thread count (chunks start mid-stream), layout
    (channels-last: several uniforms a window row) and dtype."""
    from ndpool import _engine, _uniforms
    from ndpool._spec import WindowSpec
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int16]))
    inner = data.draw(st.sampled_from([1, 1, 3]))
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(3, 12)),
             data.draw(st.integers(3, 30)), inner)
    k = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    stride = data.draw(st.integers(1, 2))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    spec = WindowSpec(x, k, stride, 0, 1, True, (1, 2), None)
    bits = data.draw(st.sampled_from([np.random.PCG64, np.random.PCG64DXSM]))
    words = _uniforms.take(np.random.Generator(bits(seed)), 10**6)
    drawn = _uniforms.Draws(words, data.draw(st.integers(0, 10**5)), spec.out_shape)
    nthreads, with_index = data.draw(st.integers(1, 3)), data.draw(st.booleans())
    got = _engine.stochastic_sample(spec.x, spec.axes, spec.plans, drawn,
                                    with_index=with_index, nthreads=nthreads)
    want = _engine.stochastic_sample(spec.x, spec.axes, spec.plans, drawn.array(1),
                                     with_index=with_index, nthreads=1)
    assert got[0].tobytes() == want[0].tobytes()
    assert (got[1] is None) == (not with_index)
    if with_index:
        assert got[1].tobytes() == want[1].tobytes()


@examples(100)
@given(data=st.data())
def test_mixed_and_gated_sweep_equal_the_separate_pools(data):
    """Mixed and gated pooling over adjacent axes take max and mean from one sweep
    (window.mixed_fused) and blend in the kernel; the separate pools blended in
    NumPy, which serve every other layout, must give the same bytes (a NaN's
    sign aside, see _bits)."""
    x, kernel, axes, kw, rng = _adjacent_case(data)
    if x.dtype.kind == "f":
        x[rng.random(x.shape) < 0.05] = np.nan
        x[rng.random(x.shape) < 0.05] = np.inf
    alpha = data.draw(st.sampled_from([0.0, 0.3, 1.0]), label="alpha")
    gate = rng.standard_normal(kernel)
    results = _fused_and_separate("window_mixed", [
        lambda: ndpool.mixed_pool(x, alpha, kernel, axes=axes, **kw),
        lambda: ndpool.gated_pool(x, gate, kernel, axes=axes, **kw)])
    if results is None:           # the window does not fit this shape
        return
    for f, s in zip(*results):
        assert f.dtype == s.dtype and f.shape == s.shape
        assert _bits(f) == _bits(s)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window", [((3, 3), 2, 1, 1), ((2, 2), 2, 0, 1), ((3, 3), 1, 1, 1),
                                    ((3, 3), 2, 1, 2), ((4, 3), 3, 1, 1)],
                         ids=["3s2p1", "2s2", "3s1p1", "3s2p1d2", "4x3s3p1"])
def test_mixed_and_gated_row_loops_equal_the_separate_passes(window, dtype):
    """The sweep folds rows of single elements with _mix.h's loops (vectorised,
    with the stride, the taps and the dilation as constants for the usual
    windows: 3 or 2 taps at stride 2, 3 at stride 1); max, sum, the gate's
    response, its sigmoid and the blend must keep the bits of the separate
    passes (NaN and inf included, a NaN's sign aside, see _bits; rows long
    enough for the vector loops)."""
    kernel, stride, padding, dilation = window
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 3, 23, 71)) * 4).astype(dtype)
    x[rng.random(x.shape) < 0.01] = np.nan
    x[rng.random(x.shape) < 0.01] = -np.inf
    gate = rng.standard_normal(kernel)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    fused, separate = _fused_and_separate("window_mixed", [
        lambda: ndpool.mixed_pool(x, 0.3, kernel, **kw),
        lambda: ndpool.gated_pool(x, gate, kernel, **kw)])
    for f, s in zip(fused, separate):
        assert f.dtype == s.dtype == dtype
        assert _bits(f) == _bits(s)


@examples(100)
@given(data=st.data())
def test_tree_sweep_equals_the_separate_passes(data):
    """Tree pooling over adjacent axes is evaluated row by row in the responses'
    sweep (window.pyx's weighted_fused with ``tree``); the responses, sigmoids and
    blends as separate passes (mixing._tree's pieces), which serve every other
    layout, must give the same bytes (a NaN's sign aside, see _bits): depths
    1-3, NaN and inf, every window parameter, and the usual window on rows long
    enough for the vector loops."""
    x, kernel, axes, kw, rng = _adjacent_case(data)
    if data.draw(st.booleans(), label="long rows"):
        x = (rng.standard_normal((2, 9, 70)) * 3).astype(data.draw(
            st.sampled_from([np.float32, np.float64]), label="dtype"))
        kernel, axes, kw = (3, 3), (1, 2), dict(stride=2, padding=1)
    if x.dtype.kind == "f":
        x[rng.random(x.shape) < 0.05] = np.nan
        x[rng.random(x.shape) < 0.05] = np.inf
    n = 2 ** data.draw(st.integers(1, 3), label="depth")
    leaves = rng.standard_normal((n,) + kernel)
    gates = rng.standard_normal((n - 1,) + kernel)
    results = _fused_and_separate("window_tree", [
        lambda: ndpool.tree_pool(x, leaves, gates, kernel, axes=axes, **kw)])
    if results is None:           # the window does not fit this shape
        return
    (fused,), (separate,) = results
    assert fused.dtype == separate.dtype and fused.shape == separate.shape
    assert _bits(fused) == _bits(separate)


@examples(80)
@given(data=st.data())
def test_fused_smooth_sweep_matches_the_per_window_kernel(data):
    """smooth.pyx's one-sweep sums (the transform taken as a window's input rows are
    added, two rows at a time, then the pass along W) against the per-window
    kernel: 1-3 adjacent pooled axes, pixels of 1-4 elements after them, strides
    1-3 (2 has its own loop), kernels 1-4 (2 and 3 have their own), dilation,
    padding, ceil_mode, and values that make some SoftPool and log-sum-exp windows
    fall back.  Fails if a row of a pair, a tap, a divisor or a window's test is
    dropped."""
    from ndpool import _engine, _gather
    from ndpool._spec import WindowSpec
    k = data.draw(st.integers(1, 3), label="pooled axes")
    lead = data.draw(st.integers(0, 2), label="batch axes")
    inner = data.draw(st.integers(1, 4), label="pixel")
    pooled = tuple(data.draw(st.integers(1, 12)) for _ in range(k))
    shape = tuple(data.draw(st.integers(1, 3)) for _ in range(lead)) + pooled
    if inner > 1:
        shape += (inner,)
    axes = tuple(range(lead, lead + k))
    kernel = tuple(data.draw(st.integers(1, 4)) for _ in range(k))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(k))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(k))
    padding = tuple(data.draw(st.integers(0, kk // 2)) for kk in kernel)
    ceil = data.draw(st.booleans(), label="ceil_mode")
    assume(all(n + 2 * p >= d * (kk - 1) + 1
               for n, p, d, kk in zip(pooled, padding, dilation, kernel)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int16]), label="dtype")
    scale = data.draw(st.sampled_from([1.0, 30.0, 800.0]), label="scale")
    x = (scale * rng.standard_normal(shape)).astype(dtype)
    kw = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
              ceil_mode=ceil, axes=axes)
    spec = WindowSpec(x, kernel, stride, padding, dilation, ceil, axes, None)
    assume(not any(plan.has_empty for plan in spec.plans))
    # the one-sweep path is the one taken
    assert _engine.window_smooth(x, axes, spec.plans, _engine.SMOOTH_POWER,
                                 nthreads=1) is not None
    xf = x.astype(np.float64)

    def want(code, param, values=xf):
        return _gather.float_reduce(values, spec.axes, spec.plans, code, param, 1)

    rtol = RTOL[np.dtype(np.float32 if dtype == np.float32 else np.float64)]

    def close(got, want, msg, atol=1e-300):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=msg)

    for p in (1, 2, 3):
        close(ndpool.lp_pool(x, p, **kw), want(_gather.LP, p), f"lp p={p}")
        if scale < 800:     # compared as powers: a root of a sum that cancels is not
            close(ndpool.power_mean_pool(x, p, **kw).astype(np.float64) ** p,
                  want(_gather.POWER_MEAN, p) ** p, f"power mean p={p}",
                  atol=1e-12 * scale ** p)
    close(ndpool.power_mean_pool(x, 3, eps=0.5, **kw),
          want(_gather.POWER_MEAN, 3, np.maximum(xf, 0.5)), "power mean eps")
    close(ndpool.softpool(x, **kw), want(_gather.SOFTPOOL, 0.0), "softpool",
          atol=1e-13 * scale)
    for r in (0.1, 3.0):
        got, ref_ = ndpool.lse_pool(x, r, **kw), want(_gather.LSE, r)
        m = ndpool.max_pool(xf, **kw)
        bound = (64 * np.finfo(np.float64).eps + rtol) * (np.abs(ref_) + (m - ref_)) + 1e-300
        assert np.all(np.abs(got - ref_) <= bound), f"lse r={r}"


@pytest.mark.parametrize("p", [1, 3])
@pytest.mark.parametrize("kernel", [2, 3, (2, 3, 2)])
def test_power_mean_of_negative_zeros_is_negative_zero(p, kernel):
    # IEEE: a sum of -0.0 is -0.0, -0.0 / n is -0.0, and the odd root of -0.0 is
    # -0.0; the one-sweep path adds the window's rows two at a time, and must not
    # start the first pair from +0.0.
    k = (kernel,) * 2 if isinstance(kernel, int) else kernel
    x = np.full((2,) + tuple(3 * kk for kk in k), -0.0)
    axes = tuple(range(1, 1 + len(k)))
    y = ndpool.power_mean_pool(x, p, k, axes=axes)
    assert y.size and np.all(y == 0) and np.all(np.signbit(y))

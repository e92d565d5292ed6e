"""blur_pool, max_blur_pool and wavelet_pool against reference_spectral (and torch, PyWavelets).

Random N-D shapes (1-3 pooled axes, batch axes, channel_axis, explicit axes in any
order), every dtype, every padding mode, memory layouts (Fortran, negative strides,
byte-swapped, read-only); the papers' special cases; NaN; bad parameters.
"""
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndpool
import reference_spectral as ref
from hyp import drawn_layout, examples
from ndpool import spectral
from ndpool.spectral import blur_pool, max_blur_pool, wavelet_pool

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
          np.int64, np.uint64, np.float16, np.float32, np.float64]
DTYPE_IDS = [np.dtype(d).name for d in DTYPES]
MODES = list(ref.NP_PAD)
# float32 passes round once per pooled axis; float16 once more at the end.
EPS = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-13}


def result_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


# ---- cases -----------------------------------------------------------------------

@st.composite
def layouts(draw, *, max_len=None, min_len=1):
    """Shape, pooled axes (ascending), and the keywords that pool exactly them.

    Modes: "axes" (given in a random order), "sequence" (per-axis parameters of
    length k: the last k non-channel axes), "int" (every non-channel axis).
    """
    mode = draw(st.sampled_from(["axes", "sequence", "int"]))
    npool = draw(st.integers(1, 3))
    nbatch = 0 if mode == "int" else draw(st.integers(0, 2))
    has_channel = draw(st.booleans())
    ndim = npool + nbatch + has_channel
    channel = draw(st.integers(0, ndim - 1)) if has_channel else None
    others = [a for a in range(ndim) if a != channel]
    order = list(draw(st.permutations(others))[:npool]) if mode == "axes" else others[-npool:]
    pooled = sorted(order)
    top = max_len or {1: 12, 2: 7, 3: 5}[npool]
    shape = tuple(draw(st.integers(min_len, top)) if a in pooled else draw(st.integers(1, 3))
                  for a in range(ndim))
    kw = {}
    if mode == "axes":
        kw["axes"] = tuple(a - ndim if draw(st.booleans()) else a for a in order)
    if channel is not None and (mode != "axes" or draw(st.booleans())):
        kw["channel_axis"] = channel - ndim if draw(st.booleans()) else channel
    return dict(shape=shape, pooled=pooled, order=order, mode=mode, kw=kw)


def per_axis(draw, layout, strategy_for):
    """A per-axis parameter as ndpool takes it, and listed in ascending axis order.

    ``strategy_for(axes)`` draws a value valid on all of ``axes``.
    """
    pooled, order, mode = layout["pooled"], layout["order"], layout["mode"]
    if mode == "int" or (mode == "axes" and draw(st.booleans())):
        v = draw(strategy_for(pooled))
        return v, [v] * len(pooled)
    given_ = [draw(strategy_for([a])) for a in order]
    by_axis = dict(zip(order, given_))
    return given_, [by_axis[a] for a in pooled]


def make_data(rng, shape, dtype, *, special=True):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype, endpoint=True)
    x = (10 * rng.standard_normal(shape)).astype(dtype)
    if special and rng.random() < 0.3:
        x[rng.random(shape) < 0.05] = np.nan
        x[rng.random(shape) < 0.05] = np.inf
        x[rng.random(shape) < 0.05] = -np.inf
    return x


def scale(x):
    a = np.abs(np.asarray(x, np.float64))
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else 1.0


def assert_close(got, want, dtype, x, npool):
    """Result dtype and shape; same NaN / inf pattern; values within the passes' rounding."""
    assert got.dtype == result_dtype(dtype), (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    g = got.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(want))
    inf = np.isinf(want) | np.isinf(g)
    np.testing.assert_array_equal(g[inf], want[inf])
    eps = EPS[got.dtype]
    tol = eps * (npool + 1) * scale(x) + eps * np.abs(want)
    fin = np.isfinite(want) & np.isfinite(g)
    with np.errstate(invalid="ignore"):
        err = np.abs(g - want)
    assert not (err[fin] > tol[fin]).any(), (g[fin][err[fin] > tol[fin]][:5],
                                              want[fin][err[fin] > tol[fin]][:5])


def call(func, x, *args, **kw):
    before = x.copy()
    out = func(x, *args, **kw)
    np.testing.assert_array_equal(x, before)
    return out


# ---- blur pooling ----------------------------------------------------------------

def _blur_case(data, dtype, *, max_kernel=False):
    layout = data.draw(layouts(), label="layout")
    draw, shape, pooled = data.draw, layout["shape"], layout["pooled"]
    mk_given, mk = None, [1] * len(pooled)
    if max_kernel:
        mk_given, mk = per_axis(draw, layout, lambda axs: st.integers(
            1, min(3, min(shape[a] for a in axs))))
    # The blur must fit the length m after the max: kernel_size <= 2 m - 1.
    limit = {a: 2 * (shape[a] - m + 1) - 1 for a, m in zip(pooled, mk)}
    kernel_size, ks = per_axis(draw, layout, lambda axs: st.integers(
        1, min(6, min(limit[a] for a in axs))))
    stride, ss = per_axis(draw, layout, lambda axs: st.integers(1, 3))
    mode = draw(st.sampled_from(MODES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = make_data(rng, shape, dtype)
    return layout, kernel_size, ks, stride, ss, mk_given, mk, mode, x


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(8)
@given(data=st.data())
def test_blur_pool(dtype, data):
    layout, kernel_size, ks, stride, ss, _, _, mode, x = _blur_case(data, dtype)
    want = ref.blur_pool(x, ks, ss, mode, layout["pooled"])
    got = call(blur_pool, drawn_layout(data.draw, x), kernel_size, stride, mode, **layout["kw"])
    assert_close(got, want, dtype, x, len(ks))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(8)
@given(data=st.data())
def test_max_blur_pool(dtype, data):
    layout, kernel_size, ks, stride, ss, mk_given, mk, mode, x = _blur_case(
        data, dtype, max_kernel=True)
    want = ref.max_blur_pool(x, ks, ss, mk, mode, layout["pooled"])
    got = call(max_blur_pool, drawn_layout(data.draw, x), kernel_size, stride, mk_given,
               padding_mode=mode, **layout["kw"])
    assert_close(got, want, dtype, x, len(ks))


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7])
def test_blur_matches_antialiased_cnns(ndim, k):
    """antialiased-cnns' BlurPool: pad (k-1)//2 and k//2 (reflect by default), depthwise
    conv with the normalised outer product of the binomial row, stride 2."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(k + 10 * ndim)
    x = rng.standard_normal((2, 3) + (9, 8, 7)[:ndim])
    a = np.array([[1.], [1., 1.], [1., 2., 1.], [1., 3., 3., 1.], [1., 4., 6., 4., 1.],
                  [1., 5., 10., 10., 5., 1.], [1., 6., 15., 20., 15., 6., 1.]][k - 1])
    filt = np.ones(())
    for _ in range(ndim):
        filt = np.multiply.outer(filt, a)
    filt = torch.tensor(filt / filt.sum())[None, None].repeat((3,) + (1,) * (ndim + 1))
    conv = [F.conv1d, F.conv2d, F.conv3d][ndim - 1]
    for mode, torch_mode in [("reflect", "reflect"), ("replicate", "replicate"),
                             ("zeros", "constant"), ("circular", "circular")]:
        if mode == "reflect" and ndim == 3 and k > 1:
            t = torch.tensor(np.pad(x, [(0, 0)] * 2 + [((k - 1) // 2, k // 2)] * 3,
                                    mode="reflect"))
        else:
            t = F.pad(torch.tensor(x), [(k - 1) // 2, k // 2] * ndim, mode=torch_mode)
        want = conv(t, filt, stride=2, groups=3).numpy()
        got = blur_pool(x, (k,) * ndim, 2, mode)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        mp = [F.max_pool1d, F.max_pool2d, F.max_pool3d][ndim - 1](torch.tensor(x), 2, 1)
        want = conv(F.pad(mp, [(k - 1) // 2, k // 2] * ndim, mode=torch_mode)
                    if not (mode == "reflect" and ndim == 3) else torch.tensor(
                        np.pad(mp.numpy(), [(0, 0)] * 2 + [((k - 1) // 2, k // 2)] * 3,
                               mode="reflect")), filt, stride=2, groups=3).numpy()
        got = max_blur_pool(x, (k,) * ndim, 2, padding_mode=mode)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_binomial_weights():
    for k in range(1, 40):
        np.testing.assert_array_equal(spectral.binomial(k), ref.binomial(k))
    w = spectral.binomial(2000)                     # no overflow for long filters
    assert np.isfinite(w).all() and abs(w.sum() - 1) < 1e-12


def test_blur_special_cases():
    x = np.random.default_rng(0).standard_normal((4, 9, 10))
    # kernel_size 1 is plain subsampling
    np.testing.assert_array_equal(blur_pool(x, 1, (2, 3), axes=(1, 2)), x[:, ::2, ::3])
    # a constant is kept (the filter sums to one) in every mode but zeros
    c = np.full((7, 6), 2.5)
    for mode in ("reflect", "replicate", "circular"):
        np.testing.assert_allclose(blur_pool(c, 5, 2, mode), 2.5, rtol=1e-15)
    # ceil(n / stride) outputs
    assert blur_pool(np.zeros((128, 127)), 4, 2).shape == (64, 64)
    assert max_blur_pool(np.zeros((128, 129)), 3).shape == (64, 64)
    # separable: the N-D blur is the 1-D blur along each axis in turn
    one = blur_pool(blur_pool(x, 3, 2, axes=2), 3, 2, axes=1)
    np.testing.assert_allclose(blur_pool(x, 3, 2, axes=(1, 2)), one, atol=1e-15)


def test_blur_layouts_agree():
    """Channels-first and channels-last give the same values (no transposes needed)."""
    x = np.random.default_rng(1).standard_normal((2, 5, 13, 11)).astype(np.float32)
    first = blur_pool(x, (3, 3))
    last = blur_pool(np.moveaxis(x, 1, -1), 3, axes=(1, 2), channel_axis=-1)
    np.testing.assert_allclose(np.moveaxis(last, -1, 1), first, rtol=1e-6)
    first = max_blur_pool(x, (4, 4))
    last = max_blur_pool(np.moveaxis(x, 1, -1), 4, axes=(1, 2), channel_axis=-1)
    np.testing.assert_allclose(np.moveaxis(last, -1, 1), first, rtol=1e-6)


def test_workers_do_not_change_results():
    x = np.random.default_rng(2).standard_normal((3, 4, 40, 33)).astype(np.float32)
    for f, kw in [(blur_pool, {}), (max_blur_pool, {}), (wavelet_pool, {})]:
        ks = {} if f is wavelet_pool else {"kernel_size": (3, 3)}
        axes = {"axes": (2, 3)} if f is wavelet_pool else {}
        one = f(x, **ks, **axes, workers=1)
        for w in (2, 3, None):
            np.testing.assert_array_equal(f(x, **ks, **axes, workers=w), one)


def test_nan_spreads_as_far_as_the_filter():
    x = np.zeros(12)
    x[5] = np.nan
    got = blur_pool(x, 3, 2)        # outputs centred on 0, 2, ..., 10
    assert np.isnan(got).tolist() == [False, False, True, True, False, False]
    got = blur_pool(x, 3, 2, "zeros")
    assert np.isnan(got).tolist() == [False, False, True, True, False, False]
    got = max_blur_pool(x, 3)       # max of (4, 5) and (5, 6) are NaN: rows 4 and 5
    assert np.isnan(got).tolist() == [False, False, True, True, False, False]
    got = wavelet_pool(x)
    assert np.isnan(got).tolist() == [False, False, True, False, False, False]


def test_empty_axes():
    for f in (blur_pool, max_blur_pool, wavelet_pool):
        assert f(np.zeros((0, 6))).shape == (0, 3)
        assert f(np.zeros((3, 0)), axes=1).shape == (3, 0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int16, np.bool_])
def test_dtype_rule(dtype):
    x = np.ones((4, 6), dtype)
    for out in (blur_pool(x), max_blur_pool(x), wavelet_pool(x)):
        assert out.dtype == result_dtype(dtype)


# ---- wavelet pooling -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(8)
@given(data=st.data())
def test_haar_without_pywavelets(dtype, data):
    layout = data.draw(layouts(), label="layout")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = make_data(rng, layout["shape"], dtype)
    kw = layout["kw"]
    if layout["mode"] == "sequence":      # no per-axis parameter: name the axes
        kw = dict(kw, axes=tuple(layout["pooled"]))
    want = ref.haar_pool(x, layout["pooled"])
    got = call(wavelet_pool, drawn_layout(data.draw, x), **kw)
    assert_close(got, want, dtype, x, len(layout["pooled"]))


WAVELETS = ["haar", "db1", "db2", "db4", "sym3", "coif1", "bior2.2", "rbio3.1", "dmey"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.float16],
                         ids=["float32", "float64", "int32", "float16"])
@examples(15)
@given(data=st.data())
def test_wavelet_pool_vs_pywavelets(dtype, data):
    pytest.importorskip("pywt")
    layout = data.draw(layouts(), label="layout")
    wavelet = data.draw(st.sampled_from(WAVELETS), label="wavelet")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = make_data(rng, layout["shape"], dtype, special=False)
    kw = dict(layout["kw"], axes=tuple(layout["pooled"]))
    want = ref.wavelet_pool(x, wavelet, layout["pooled"])
    got = call(wavelet_pool, drawn_layout(data.draw, x), wavelet, **kw)
    # PyWavelets' own filters reconstruct to ~1e-11; dmey's round trip is done twice.
    assert got.dtype == result_dtype(dtype) and got.shape == want.shape
    tol = max(EPS[got.dtype], 1e-10) * 4 * scale(x)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=0, atol=tol)


def test_wavelet_pool_accepts_pywt_wavelet_objects():
    pywt = pytest.importorskip("pywt")
    x = np.random.default_rng(3).standard_normal((10, 9))
    np.testing.assert_allclose(wavelet_pool(x, pywt.Wavelet("sym2")),
                               ref.wavelet_pool(x, "sym2", (0, 1)), atol=1e-10)
    custom = pywt.Wavelet("mine", filter_bank=pywt.Wavelet("db3").filter_bank)
    np.testing.assert_allclose(wavelet_pool(x, custom), wavelet_pool(x, "db3"), atol=1e-12)


def test_haar_is_scaled_average_pooling():
    x = np.random.default_rng(4).standard_normal((3, 8, 6, 4))
    # each pooled axis contributes 2 / sqrt(2) = sqrt(2) over the average
    np.testing.assert_allclose(wavelet_pool(x, axes=(1, 2, 3)),
                               2 ** 1.5 * ndpool.avg_pool(x, 2, axes=(1, 2, 3)), atol=1e-13)
    np.testing.assert_allclose(wavelet_pool(x, channel_axis=0),
                               2 ** 1.5 * ndpool.avg_pool(x, 2, channel_axis=0), atol=1e-13)


def test_haar_needs_no_pywavelets(monkeypatch):
    monkeypatch.setitem(sys.modules, "pywt", None)      # `import pywt` now fails
    x = np.arange(8.0)
    np.testing.assert_allclose(wavelet_pool(x), ref.haar_pool(x, (0,)))
    with pytest.raises(ImportError, match="PyWavelets"):
        wavelet_pool(x, "db2")


# ---- errors ----------------------------------------------------------------------

@pytest.mark.parametrize("call_, exc, match", [
    (lambda: blur_pool(np.zeros((5, 5)), 0), ValueError, "kernel_size"),
    (lambda: blur_pool(np.zeros((5, 5)), 10), ValueError, "kernel_size=10 is too big"),
    (lambda: blur_pool(np.zeros((1, 5)), 2), ValueError, "kernel_size=2 is too big"),
    (lambda: blur_pool(np.zeros((5, 5)), (3, 3, 3)), ValueError, "kernel_size|axes"),
    (lambda: blur_pool(np.zeros((5, 5)), 2.0), TypeError, "kernel_size"),
    (lambda: blur_pool(np.zeros((5, 5)), 3, 0), ValueError, "stride"),
    (lambda: blur_pool(np.zeros((5, 5)), 3, -1), ValueError, "stride"),
    (lambda: blur_pool(np.zeros((5, 5)), 3, 2, "mirror"), ValueError, "padding_mode"),
    (lambda: blur_pool(np.zeros((5, 5)), 3, channel_axis=2), ValueError, "channel_axis"),
    (lambda: blur_pool(np.zeros((5, 5)), 3, axes=(0, 0)), ValueError, "axes"),
    (lambda: blur_pool(np.zeros((5, 5), complex)), TypeError, "dtype"),
    (lambda: max_blur_pool(np.zeros((5, 5)), 3, max_kernel_size=6), ValueError,
     "max_kernel_size=6"),
    (lambda: max_blur_pool(np.zeros((5, 5)), 3, max_kernel_size=0), ValueError,
     "max_kernel_size"),
    (lambda: max_blur_pool(np.zeros((3, 3)), 5), ValueError, "after the max"),
    (lambda: wavelet_pool(np.zeros((4, 4)), "nosuch"), ValueError, "wavelet"),
    (lambda: wavelet_pool(np.zeros((4, 4)), "morl"), ValueError, "wavelet"),
    (lambda: wavelet_pool(np.zeros((4, 4)), 3), TypeError, "wavelet"),
    (lambda: wavelet_pool(np.zeros((4, 4)), channel_axis=5), ValueError, "channel_axis"),
])
def test_errors(call_, exc, match):
    if "wavelet" in match and exc is ValueError:
        pytest.importorskip("pywt")
    with pytest.raises(exc, match=match):
        call_()


def test_exported():
    for name in spectral.__all__:
        assert getattr(ndpool, name, None) is getattr(spectral, name), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("shape", [(6, 8), (4, 6, 2, 4), (2, 4, 6)])
def test_haar_is_exact_on_whole_numbers(shape, dtype):
    """(1/sqrt 2)^2 = 1/2 per pair of axes is applied without rounding: the Haar
    approximation of whole numbers is the block sum times 2**(-k/2) exactly for an
    even number k of axes (and one rounding of 1/sqrt 2 for odd k)."""
    x = np.random.default_rng(len(shape)).integers(-50, 50, shape).astype(dtype)
    k = len(shape)
    blocks = x.astype(np.float64).reshape([v for n in shape for v in (n // 2, 2)])
    sums = blocks.sum(axis=tuple(range(1, 2 * k, 2)))            # exact: small integers
    got = ndpool.wavelet_pool(x)
    if k % 2 == 0:
        np.testing.assert_array_equal(got, (sums * 0.5 ** (k // 2)).astype(got.dtype))
    else:
        want = sums * 0.5 ** (k // 2) * np.sqrt(0.5)
        np.testing.assert_allclose(got, want, rtol=2 * np.finfo(got.dtype).eps)

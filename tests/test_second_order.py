"""bilinear_pool and attention_pool against their einsum references (reference_spectral).

Random N-D shapes (1-3 position axes, batch axes in any position, channel axis anywhere),
every dtype, memory layouts, both query forms; the papers' limits; NaN; bad parameters.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndpool
import reference_spectral as ref
from hyp import drawn_layout, examples
from ndpool import second_order
from ndpool.second_order import attention_pool, bilinear_pool

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
          np.int64, np.uint64, np.float16, np.float32, np.float64]
DTYPE_IDS = [np.dtype(d).name for d in DTYPES]


def result_dtype(*dtypes):
    return np.result_type(*[np.dtype(d) if np.dtype(d).kind == "f" else np.float64
                            for d in dtypes])


@st.composite
def layouts(draw):
    """Shape, channel axis, position axes (ascending) and the keywords naming them."""
    npos = draw(st.integers(1, 3))
    nbatch = draw(st.integers(0, 2))
    ndim = npos + nbatch + 1
    channel = draw(st.integers(0, ndim - 1))
    others = [a for a in range(ndim) if a != channel]
    if nbatch == 0 and draw(st.booleans()):
        pooled, kw = others, {}                            # default: all but channels
    else:
        order = list(draw(st.permutations(others))[:npos])
        pooled = sorted(order)
        kw = {"axes": tuple(a - ndim if draw(st.booleans()) else a for a in order)}
    kw["channel_axis"] = channel - ndim if draw(st.booleans()) else channel
    shape = tuple(draw(st.integers(1, 6)) if a in pooled else
                  draw(st.integers(1, 5)) if a == channel else draw(st.integers(1, 3))
                  for a in range(ndim))
    return dict(shape=shape, channel=channel, pooled=pooled, kw=kw, ndim=ndim)


def make_data(rng, shape, dtype, *, big=False):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        if big:
            lo, hi = info.min, info.max
        return rng.integers(lo, hi, shape, dtype, endpoint=True)
    return (3 * rng.standard_normal(shape)).astype(dtype)


RTOL = {np.dtype(np.float16): 5e-3, np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}


def check(got, want, dtype, atol_scale):
    assert got.dtype == dtype, (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    rtol = RTOL[np.dtype(dtype)]
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol,
                               atol=rtol * atol_scale)


# ---- bilinear ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(10)
@given(data=st.data())
def test_bilinear_pool(dtype, data):
    lay = data.draw(layouts(), label="layout")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = make_data(rng, lay["shape"], dtype)
    normalize = data.draw(st.booleans(), label="normalize")
    y = None
    ydtype = dtype
    if data.draw(st.booleans(), label="with y"):
        ydtype = data.draw(st.sampled_from([np.float32, np.float64, np.int16, dtype]))
        yshape = list(lay["shape"])
        yshape[lay["channel"]] = data.draw(st.integers(1, 4))
        y = make_data(rng, tuple(yshape), ydtype)
    want = ref.bilinear_pool(x, y, lay["channel"], lay["pooled"], normalize)
    xin = drawn_layout(data.draw, x)
    before = xin.copy()
    got = bilinear_pool(xin, None if y is None else drawn_layout(data.draw, y),
                        normalize=normalize, **lay["kw"])
    np.testing.assert_array_equal(xin, before)
    xs = float(np.abs(x.astype(np.float64)).max()) if x.size else 1.0
    ys = xs if y is None else (float(np.abs(y.astype(np.float64)).max()) if y.size else 1.0)
    check(got, want, result_dtype(dtype, ydtype), 1.0 if normalize else xs * ys)


def test_bilinear_properties():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 5, 7))                     # N, C, H, W
    b = bilinear_pool(x, channel_axis=1, axes=(2, 3))
    assert b.shape == (4, 6, 6)
    np.testing.assert_allclose(np.linalg.norm(b.reshape(4, -1), axis=1), 1.0)
    np.testing.assert_allclose(b, b.transpose(0, 2, 1))      # y = x is symmetric
    raw = bilinear_pool(x, channel_axis=1, axes=(2, 3), normalize=False)
    # the mean over positions of the outer products: a Gram matrix / P
    flat = x.reshape(4, 6, -1)
    np.testing.assert_allclose(raw, flat @ flat.transpose(0, 2, 1) / 35)
    # channels-last gives the same matrices
    last = bilinear_pool(np.moveaxis(x, 1, -1), channel_axis=-1, axes=(1, 2))
    np.testing.assert_allclose(last, b, rtol=1e-12)
    # two maps with different channel counts
    y = rng.standard_normal((4, 3, 5, 7))
    assert bilinear_pool(x, y, channel_axis=1, axes=(2, 3)).shape == (4, 6, 3)
    # a zero map stays zero (no 0 / 0)
    assert not bilinear_pool(np.zeros((3, 4)), channel_axis=1).any()


def test_bilinear_nan():
    x = np.ones((5, 3))                                       # positions x channels
    x[2, 1] = np.nan
    raw = bilinear_pool(x, channel_axis=1, normalize=False)
    assert np.isnan(raw).tolist() == [[False, True, False], [True, True, True],
                                      [False, True, False]]
    assert np.isnan(bilinear_pool(x, channel_axis=1)).all()


# ---- attention -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@examples(10)
@given(data=st.data())
def test_attention_pool(dtype, data):
    lay = data.draw(layouts(), label="layout")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = make_data(rng, lay["shape"], dtype)
    beta = data.draw(st.sampled_from([0.0, 0.1, 1.0, 2.5, -0.7, 30.0]), label="beta")
    keepdims = data.draw(st.booleans(), label="keepdims")
    c = lay["shape"][lay["channel"]]
    form = data.draw(st.sampled_from(["mean", "shared", "per sample"]), label="query")
    query = None
    if form == "shared":
        query = rng.standard_normal(c)
    elif form == "per sample":
        kept = [a for a in range(lay["ndim"]) if a not in lay["pooled"]]
        query = rng.standard_normal(tuple(lay["shape"][a] for a in kept))
    xs = float(np.abs(x.astype(np.float64)).max()) if x.size else 1.0
    if np.dtype(dtype).kind in "iu" or np.dtype(dtype) == np.float16:
        beta = beta / max(xs, 1.0) ** 2       # keep the softmax well-conditioned
    want = ref.attention_pool(x, query, beta, lay["channel"], lay["pooled"], keepdims)
    xin = drawn_layout(data.draw, x)
    before = xin.copy()
    # positions in chunks of any size (the default keeps small inputs whole)
    chunk = data.draw(st.sampled_from([None, 1, 40, 300]), label="chunk bytes")
    with pytest.MonkeyPatch.context() as mp:
        if chunk:
            mp.setattr(second_order, "_CHUNK_BYTES", chunk)
        got = attention_pool(xin, query, beta, keepdims=keepdims, **lay["kw"])
    np.testing.assert_array_equal(xin, before)
    # Scores are computed in the working float type (float32 for float16/32): an error
    # of a few ulps of beta * |q| |x| c in a score moves the weights by as much.
    qs = xs if query is None else float(np.abs(query).max())
    work_eps = 1e-15 if result_dtype(dtype) == np.float64 else 5e-7
    score_err = work_eps * abs(beta) * qs * xs * c
    check(got, want, result_dtype(dtype), xs * (1 + score_err / RTOL[result_dtype(dtype)]))


def kernel_case(draw, channels, positions):
    """Samples, channels, positions, layout, dtype, a seeded generator, standard
    normal values (B, C, P) or channels-last (B, P, C) and per-sample powers of two
    (the scales) for the positions kernels."""
    nb, nc, npos = (draw(st.integers(0, 5)), draw(st.integers(*channels)),
                    draw(st.integers(*positions)))
    last = draw(st.booleans(), label="channels_last")
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((nb, npos, nc) if last else (nb, nc, npos)).astype(dtype)
    return nb, nc, npos, last, dtype, rng, x, 2.0 ** rng.integers(-3, 4, nb).astype(np.float64)


@examples(40)
@given(data=st.data())
def test_position_sum_kernel(data):
    """The weighted sum over positions, in two chunks: float64 sums of exact
    products, the same bits for any thread count, in both layouts."""
    from ndpool._kernels import positions
    nb, nc, npos, last, dtype, rng, x, scale = kernel_case(data.draw, (0, 300), (0, 70))
    s = rng.random((nb, npos))
    if dtype == np.float32:
        scale[:] = 1.0
    cut = data.draw(st.integers(0, npos), label="chunk boundary")
    got = []
    for threads in (1, 2, 3):
        acc = np.zeros((nb, nc))
        for p0, p1 in [(0, cut), (cut, npos)]:
            if p1 > p0:         # the chunks' sums are added to acc
                positions.position_sum(x, np.ascontiguousarray(s[:, p0:p1]), scale, acc,
                                       last, p0, threads)
        got.append(acc)
    assert got[0].tobytes() == got[1].tobytes() == got[2].tobytes()
    xs = x.astype(np.float64) / scale[:, None, None]
    want = np.einsum("bpc,bp->bc" if last else "bcp,bp->bc", xs, s)
    np.testing.assert_allclose(got[0], want, rtol=1e-13, atol=1e-13 * max(npos, 1))


@examples(40)
@given(data=st.data())
def test_position_scores_kernel(data):
    """The scores q . (x_p / scale) of a chunk of positions: float64 sums of exact
    products, the same bits for any thread count, in both layouts."""
    from ndpool._kernels import positions
    # positions in blocks of 1024
    nb, nc, npos, last, dtype, rng, x, scale = kernel_case(data.draw, (0, 70), (1, 2200))
    q = rng.standard_normal((nb, nc))
    if data.draw(st.booleans(), label="scale 1"):
        scale[:] = 1.0
    p0 = data.draw(st.integers(0, npos - 1), label="chunk start")
    p1 = data.draw(st.integers(p0 + 1, npos), label="chunk end")
    got = []
    for threads in (1, 2, 3):
        s = np.full((nb, p1 - p0), np.nan)
        positions.position_scores(x, q, scale, s, last, p0, threads)
        got.append(s)
    assert got[0].tobytes() == got[1].tobytes() == got[2].tobytes()
    xs = x.astype(np.float64) / scale[:, None, None]
    xs = xs[:, p0:p1] if last else xs[:, :, p0:p1]
    want = np.einsum("bpc,bc->bp" if last else "bcp,bc->bp", xs, q)
    np.testing.assert_allclose(got[0], want, rtol=1e-13, atol=1e-13 * max(nc, 1) * 8)


@examples(60)
@given(data=st.data())
def test_position_stats_kernel(data):
    """Each (sample, channel)'s float64 sum over the positions and largest magnitude,
    NaN for a row with a NaN (found through the sum, also where +inf meets -inf);
    the same bits for any thread count, in both layouts."""
    from ndpool._kernels import positions
    nb, nc, npos = (data.draw(st.integers(0, 4)), data.draw(st.integers(0, 40)),
                    data.draw(st.integers(0, 100)))     # lanes of 32 positions, tails
    last = data.draw(st.booleans(), label="channels_last")
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = (nb, npos, nc) if last else (nb, nc, npos)
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)).astype(dtype)
    specials = data.draw(st.sampled_from([0.0, 0.01, 0.1]), label="share of specials")
    pick = rng.random(shape) < specials
    x[pick] = rng.choice(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype), pick.sum())
    got = []
    for threads in (1, 2, 3):
        total, peak = np.full((nb, nc), 7.0), np.full((nb, nc), 7.0)
        positions.position_stats(x, total, peak, last, threads)
        got.append((total.tobytes(), peak.tobytes()))
    assert got[0] == got[1] == got[2]
    xc = x.astype(np.float64)
    xc = xc if last else xc.transpose(0, 2, 1)            # (B, P, C)
    nan = np.isnan(xc).any(axis=1)
    with np.errstate(invalid="ignore"):
        want_peak = np.where(nan, np.nan, np.abs(np.where(np.isnan(xc), 0.0, xc)).max(
            axis=1, initial=0.0))
        want_total = xc.sum(axis=1)
    np.testing.assert_array_equal(peak, want_peak)
    both = np.isnan(want_total)                           # a NaN, or +inf and -inf
    assert np.array_equal(np.isnan(total), both)
    finite = ~both
    with np.errstate(invalid="ignore"):
        err = np.abs(total - want_total)[finite]
        bound = 1e-12 * np.abs(xc).sum(axis=1)[finite]
    assert np.all((err <= bound) | (total[finite] == want_total[finite])), (total, want_total)


def test_attention_limits():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6, 5))                     # N, C, H, W
    mean = x.mean(axis=(2, 3))
    np.testing.assert_allclose(attention_pool(x, beta=0.0, channel_axis=1, axes=(2, 3)), mean)
    # beta -> inf retrieves the position best aligned with the query
    q = rng.standard_normal(4)
    flat = x.reshape(2, 4, -1)
    best = np.argmax(np.einsum("c,ncp->np", q, flat), axis=1)
    got = attention_pool(x, q, beta=1e6, channel_axis=1, axes=(2, 3))
    np.testing.assert_allclose(got, flat[np.arange(2), :, best])
    # stable for inputs of any magnitude
    big = attention_pool(1000 * x, q, beta=10.0, channel_axis=1, axes=(2, 3))
    assert np.isfinite(big).all()
    # keepdims, and channels-last gives the same
    assert attention_pool(x, channel_axis=1, axes=(2, 3), keepdims=True).shape == (2, 4, 1, 1)
    last = attention_pool(np.moveaxis(x, 1, -1), channel_axis=-1, axes=(1, 2))
    np.testing.assert_allclose(last, attention_pool(x, channel_axis=1, axes=(2, 3)))


def test_attention_nan():
    x = np.ones((2, 3, 4))                                    # N, C, P
    x[0, 1, 2] = np.nan
    got = attention_pool(x, channel_axis=1, axes=2)
    assert np.isnan(got[0]).all() and not np.isnan(got[1]).any()
    got = attention_pool(x, np.ones(3), channel_axis=1, axes=2)
    assert np.isnan(got[0]).all() and not np.isnan(got[1]).any()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.uint8, np.bool_])
def test_dtype_rule(dtype):
    x = np.ones((2, 3, 4), dtype)
    assert bilinear_pool(x, channel_axis=1, axes=2).dtype == result_dtype(dtype)
    assert attention_pool(x, channel_axis=1, axes=2).dtype == result_dtype(dtype)


# ---- errors ----------------------------------------------------------------------

X = np.ones((2, 3, 4, 4))


@pytest.mark.parametrize("call_, exc, match", [
    (lambda: bilinear_pool(X, channel_axis=4), ValueError, "channel_axis"),
    (lambda: bilinear_pool(X, channel_axis=None), TypeError, "channel_axis"),
    (lambda: bilinear_pool(X, channel_axis=1.0), TypeError, "channel_axis"),
    (lambda: bilinear_pool(X, channel_axis=1, axes=(1, 2)), ValueError, "channel_axis"),
    (lambda: bilinear_pool(X, np.ones((2, 3, 4, 5)), channel_axis=1), ValueError, "y"),
    (lambda: bilinear_pool(X, np.ones((2, 3, 4)), channel_axis=1), ValueError, "y"),
    (lambda: bilinear_pool(X, channel_axis=1, normalize="yes"), TypeError, "normalize"),
    (lambda: bilinear_pool(np.ones((2, 3, 0)), channel_axis=1, axes=2), ValueError,
     "nothing to pool"),
    (lambda: bilinear_pool(X.astype(complex), channel_axis=1), TypeError, "dtype"),
    (lambda: attention_pool(X, np.ones(4), channel_axis=1), ValueError, "query"),
    (lambda: attention_pool(X, np.ones((2, 4)), channel_axis=1, axes=(2, 3)), ValueError,
     "query"),
    (lambda: attention_pool(X, np.array(["a"] * 3), channel_axis=1), TypeError, "query"),
    (lambda: attention_pool(X, beta=np.inf, channel_axis=1), ValueError, "beta"),
    (lambda: attention_pool(X, beta=np.nan, channel_axis=1), ValueError, "beta"),
    (lambda: attention_pool(X, beta=True, channel_axis=1), TypeError, "beta"),
    (lambda: attention_pool(X, beta="1", channel_axis=1), TypeError, "beta"),
    (lambda: attention_pool(X, channel_axis=-5), ValueError, "channel_axis"),
    (lambda: attention_pool(X, channel_axis=1, keepdims=1), TypeError, "keepdims"),
    (lambda: attention_pool(np.ones((2, 0)), channel_axis=0), ValueError, "nothing to pool"),
])
def test_errors(call_, exc, match):
    with pytest.raises(exc, match=match):
        call_()


def test_per_sample_query_accepted():
    x = np.random.default_rng(2).standard_normal((2, 3, 5))
    q = np.random.default_rng(3).standard_normal((2, 3))
    got = attention_pool(x, q, channel_axis=1, axes=2)
    for n in range(2):
        np.testing.assert_allclose(got[n], attention_pool(x[n], q[n], channel_axis=0))


def test_exported():
    for name in second_order.__all__:
        assert getattr(ndpool, name, None) is getattr(second_order, name), name


@pytest.mark.filterwarnings("error")
def test_attention_is_stable_for_any_magnitude():
    # beta q.x overflowing float64 is the beta -> inf limit, not NaN.
    np.testing.assert_array_equal(attention_pool(np.ones((2, 3)), beta=1e308, channel_axis=0),
                                  [1.0, 1.0])
    np.testing.assert_array_equal(attention_pool(np.array([[1e200, 1e200]]), channel_axis=0),
                                  [1e200])
    x = np.array([[1.0, 3.0], [1.0, 2.0]])              # positions (1, 1) and (3, 2)
    np.testing.assert_array_equal(attention_pool(x, channel_axis=0, beta=1e300), [3.0, 2.0])
    # the same scores at a moderate scale: scaling x by s and beta by 1/s**2 changes
    # nothing but the result's scale
    y = np.random.default_rng(7).standard_normal((4, 9))
    small = attention_pool(y, channel_axis=0, beta=0.7)
    big = attention_pool(y * 1e150, channel_axis=0, beta=0.7e-300)
    np.testing.assert_allclose(big / 1e150, small, rtol=1e-12)
    # infinite input: NaN (documented), without a warning
    assert np.isnan(attention_pool(np.array([[1.0, np.inf], [1.0, 2.0]]), channel_axis=0)).all()

"""In-memory banding (ndpool._bands.run): a call cut into bands equals the whole call.

The cores that keep large temporaries (max/min pooling with indices, stochastic
sampling unless its kernel draws the uniforms itself, mixed, gated and tree
pooling) pool a large input band by band.  Here
the thresholds are lowered so that small random inputs are banded, and every
band layout (along a pooled axis with padding, dilation and ceil mode; along an
unpooled batch axis; next to a per-channel alpha) must give the bytes of the
whole call.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ndpool
from ndpool import _bands
from hyp import examples


def as_bytes(result):
    if isinstance(result, tuple):
        return b"|".join(as_bytes(r) for r in result)
    return np.asarray(result).dtype.str.encode() + np.ascontiguousarray(result).tobytes()


def _calls(kernel):
    gate = np.linspace(-1, 1, int(np.prod(kernel))).reshape(kernel)
    leaves = np.stack([np.full(kernel, 1.0 / np.prod(kernel)), gate])
    return {
        "max_pool": lambda x, **w: ndpool.max_pool(x, kernel, return_indices=True, **w),
        "min_pool": lambda x, **w: ndpool.min_pool(x, kernel, return_indices=True, **w),
        "stochastic": lambda x, **w: ndpool.stochastic_pool(x, kernel, rng=5,
                                                            return_indices=True, **w),
        "mixed": lambda x, **w: ndpool.mixed_pool(x, 0.3, kernel, **w),
        "gated": lambda x, **w: ndpool.gated_pool(x, gate, kernel, **w),
        "tree": lambda x, **w: ndpool.tree_pool(x, leaves, gate[None], kernel, **w),
    }


def _whole_and_banded(monkeypatch, fn, x, **kw):
    whole = fn(x, **kw)
    with monkeypatch.context() as m:
        m.setattr(_bands, "WHOLE_BYTES", 0)
        m.setattr(_bands, "BAND_BYTES", 8)
        m.setattr(_bands, "MAX_BANDS", 7)
        banded = fn(x, **kw)
    return whole, banded


@examples(40)
@given(data=st.data())
def test_banded_equals_whole(data):
    """Random shapes, windows, dtypes and layouts; the first output axis is cut."""
    mp = pytest.MonkeyPatch()
    try:
        batch = data.draw(st.integers(1, 3), label="batch")
        shape = (batch, data.draw(st.integers(3, 17)), data.draw(st.integers(3, 12)))
        kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(2))
        stride = tuple(data.draw(st.integers(1, 3)) for _ in range(2))
        padding = tuple(data.draw(st.integers(0, k // 2)) for k in kernel)
        dilation = data.draw(st.integers(1, 2))
        ceil_mode = data.draw(st.booleans())
        dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int16, np.uint8]))
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
        x = (rng.standard_normal(shape) * 9).astype(dtype)
        if dtype in (np.float32, np.float64):
            x[rng.random(shape) < 0.05] = np.nan
        name = data.draw(st.sampled_from(sorted(_calls(kernel))), label="method")
        fn = _calls(kernel)[name]
        kw = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
        if name in ("gated", "tree"):
            kw.pop("dilation")   # the weights have the kernel's shape either way
        try:
            whole = fn(x, **kw)
        except ValueError:       # the window does not fit this shape
            return
        with mp.context() as m:
            m.setattr(_bands, "WHOLE_BYTES", 0)
            m.setattr(_bands, "BAND_BYTES", 8)
            m.setattr(_bands, "MAX_BANDS", data.draw(st.integers(2, 9), label="bands"))
            banded = fn(x, **kw)
        assert as_bytes(banded) == as_bytes(whole)
    finally:
        mp.undo()


@pytest.mark.parametrize("name", sorted(_calls((2, 2))))
def test_banded_channels_last_with_per_channel_alpha(monkeypatch, name):
    x = np.random.default_rng(1).standard_normal((9, 10, 4)).astype(np.float32)
    fn = _calls((2, 2))[name]
    whole, banded = _whole_and_banded(monkeypatch, fn, x, channel_axis=-1)
    assert as_bytes(banded) == as_bytes(whole)
    if name == "mixed":
        alpha = np.array([0.0, 0.25, 0.5, 1.0])
        f = lambda x, **w: ndpool.mixed_pool(x, alpha, 2, **w)     # noqa: E731
        for shape in ((9, 10, 4), (2, 9, 4), (4, 9, 10)):   # channel axis first: not cut
            x = np.random.default_rng(2).standard_normal(shape)
            ch = 0 if shape[0] == 4 else -1
            whole, banded = _whole_and_banded(monkeypatch, f, x, channel_axis=ch)
            assert as_bytes(banded) == as_bytes(whole)


def test_per_channel_alpha_is_still_checked_when_banded(monkeypatch):
    x = np.zeros((3, 8, 8))
    with monkeypatch.context() as m:
        m.setattr(_bands, "WHOLE_BYTES", 0)
        with pytest.raises(ValueError, match="alpha"):
            ndpool.mixed_pool(x, [0.1, 0.2], 2, channel_axis=0)


def _record_bands(monkeypatch):
    """Band as small as possible, and return the list of the bands' input shapes."""
    seen = []
    real = _bands.run_core
    monkeypatch.setattr(_bands, "run_core",
                        lambda name, spec, *a, **k: seen.append(spec.x.shape) or
                        real(name, spec, *a, **k))
    monkeypatch.setattr(_bands, "WHOLE_BYTES", 0)
    monkeypatch.setattr(_bands, "BAND_BYTES", 8)
    return seen


def test_banding_really_cuts(monkeypatch):
    """The cut happens (so the tests above compare two different computations)."""
    seen = _record_bands(monkeypatch)
    ndpool.max_pool(np.zeros((40, 6)), 2, return_indices=True)
    assert len(seen) == 20 and sum(s[0] for s in seen) == 40    # one band per output row
    seen.clear()
    ndpool.mixed_pool(np.zeros((5, 40, 6)), 0.5, 2, axes=(1, 2))
    assert [s[0] for s in seen] == [1] * 5


@pytest.mark.parametrize("bits", [np.random.PCG64, np.random.MT19937])
@pytest.mark.parametrize("axes", [(1, 2), (0, 2)])
def test_stochastic_sampling_is_cut_only_where_its_uniforms_are_a_temporary(
        monkeypatch, bits, axes):
    """With PCG64 and adjacent pooled axes the sampling kernel draws its uniforms
    itself: the call is not cut for memory.  Otherwise (a bit generator that
    cannot jump ahead, or pooled axes that take the gather kernel, given the
    uniforms of each band as an array) it is cut, and every band draws its run of
    the stream: the bytes of the whole call either way."""
    x = np.random.default_rng(3).standard_normal((6, 9, 10)).astype(np.float32)

    def f(x):
        return ndpool.stochastic_pool(x, (2, 3), stride=(2, 1), axes=axes,
                                      rng=np.random.Generator(bits(5)), return_indices=True)
    whole = f(x)
    seen = _record_bands(monkeypatch)
    banded = f(x)
    assert as_bytes(banded) == as_bytes(whole)
    drawn_inside = bits is np.random.PCG64 and axes == (1, 2)
    assert (len(seen) == 1) == drawn_inside


# ---- lazy plans: axes of many outputs keep no tables and always run in bands --------------

def _lazy(mp, outputs, band):
    from ndpool import _planning
    mp.setattr(_planning, "LAZY_OUTPUTS", outputs)
    mp.setattr(_bands, "LAZY_BAND", band)
    _planning.clear_plan_caches()


def _window_calls(kernel):
    calls = dict(_calls(kernel))
    calls.update({
        "max": lambda x, **w: ndpool.max_pool(x, kernel, **w),
        "avg": lambda x, **w: ndpool.avg_pool(x, kernel, **w),
        "avg_no_pad": lambda x, **w: ndpool.avg_pool(x, kernel, count_include_pad=False, **w),
        "avg_divisor": lambda x, **w: ndpool.avg_pool(x, kernel, divisor_override=3, **w),
        "sum": lambda x, **w: ndpool.sum_pool(x, kernel, **w),
        "lp": lambda x, **w: ndpool.lp_pool(x, 2.0, kernel, **w),
        "power_mean": lambda x, **w: ndpool.power_mean_pool(x, 2.5, kernel, **w),
        "softpool": lambda x, **w: ndpool.softpool(x, kernel, **w),
        "lse": lambda x, **w: ndpool.lse_pool(x, 1.5, kernel, **w),
        "median": lambda x, **w: ndpool.median_pool(x, kernel, **w),
        "expectation": lambda x, **w: ndpool.stochastic_pool(x, kernel, mode="expectation",
                                                             **w),
    })
    return calls


@examples(60)
@given(data=st.data())
def test_lazy_plans_give_the_eager_result(data):
    """Every window method on an axis planned lazily (tables per band, computed from
    the parameters) returns the bytes of the eagerly planned call."""
    from ndpool import _planning
    ndim = data.draw(st.integers(1, 3), label="ndim")
    shape = tuple(data.draw(st.integers(1, 30 if ndim == 1 else 9)) for _ in range(ndim))
    k = data.draw(st.integers(1, ndim), label="pooled")
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(k))
    kw = dict(stride=tuple(data.draw(st.integers(1, 3)) for _ in range(k)),
              padding=tuple(data.draw(st.integers(0, kk // 2)) for kk in kernel),
              ceil_mode=data.draw(st.booleans()))
    name = data.draw(st.sampled_from(sorted(_window_calls(kernel))), label="method")
    if name not in ("gated", "tree"):
        kw["dilation"] = data.draw(st.integers(1, 3))
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int16, np.uint8]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = np.abs(rng.standard_normal(shape) * 9).astype(dtype)
    if dtype in (np.float32, np.float64):
        x[rng.random(shape) < 0.05] = np.nan
    fn = _window_calls(kernel)[name]
    _planning.clear_plan_caches()
    try:
        whole = fn(x, **kw)
    except ValueError:            # the window does not fit this shape
        return
    mp = pytest.MonkeyPatch()
    try:
        _lazy(mp, data.draw(st.integers(0, 4), label="lazy above"),
              data.draw(st.integers(1, 5), label="band outputs"))
        banded = fn(x, **kw)
    finally:
        mp.undo()
        _planning.clear_plan_caches()
    assert as_bytes(banded) == as_bytes(whole)


@pytest.mark.parametrize("n, kernel, stride, padding, dilation, ceil", [
    (50, 3, 1, 1, 1, False), (50, 4, 3, 2, 5, True), (7, 3, 1, 1, 4, True),
    (40, 5, 2, 2, 9, True), (1000, 64, 1, 32, 2, False), (33, 2, 5, 1, 30, True),
    (1, 2, 1, 1, 2, False), (1, 2, 3, 1, 4, True)])       # the last two: an empty window
def test_lazy_plan_tables_and_empty_windows(monkeypatch, n, kernel, stride, padding,
                                            dilation, ceil):
    """A lazy plan computes the eager tables (any range of them) and finds its empty
    windows from the edges alone."""
    from ndpool import _planning
    try:
        eager = _planning._plan_axis(n, kernel, stride, padding, dilation, ceil, 0)
    except ValueError:
        return
    monkeypatch.setattr(_planning, "LAZY_OUTPUTS", 0)
    _planning.clear_plan_caches()
    try:
        lazy = _planning._plan_axis(n, kernel, stride, padding, dilation, ceil, 0, True)
    finally:
        _planning.clear_plan_caches()
    assert lazy.lazy and not eager.lazy and lazy.out == eager.out
    assert lazy.has_empty == eager.has_empty == bool((eager.count == 0).any())
    for name in ("start", "count", "padded", "skip"):
        np.testing.assert_array_equal(getattr(lazy, name), getattr(eager, name))
    o0, o1 = lazy.out // 3, 2 * lazy.out // 3 + 1
    for a, b in zip(lazy.windows(o0, o1), eager.windows(o0, o1)):
        np.testing.assert_array_equal(a, b)

"""Validate the NumPy oracle (reference.py) itself against PyTorch's CPU pooling."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hyp import examples  # noqa: E402
from reference import plan_axis, reference_pool, reference_unpool

torch = pytest.importorskip("torch")
F = torch.nn.functional


@st.composite
def torch_cases(draw, method, dtypes=(np.float64,), dilated=None):
    """A torch-shaped (N, C, *spatial) input and pooling parameters torch may accept."""
    ndim = draw(st.integers(1, 3))
    max_len = (9, 9, 6)[ndim - 1]  # keeps the pure-Python oracle fast in 3-D
    spatial = draw(st.lists(st.integers(1, max_len), min_size=ndim, max_size=ndim))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *spatial)
    k = draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim))
    s = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
    p = [draw(st.integers(0, ki // 2)) for ki in k]
    if dilated is None:
        dilated = method in ("max", "min")  # torch's avg_pool has no dilation
    d = (draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
         if dilated else [1] * ndim)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = _data(rng, shape, dtype, draw(st.sampled_from(["normal", "ties", "nan"])))
    return dict(x=x, kernel_size=k, stride=s, padding=p, dilation=d,
                ceil_mode=draw(st.booleans()),
                count_include_pad=draw(st.booleans()),
                divisor_override=(draw(st.none() | st.integers(1, 5))
                                  if ndim > 1 else None))


def _data(rng, shape, dtype, kind):
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype, endpoint=True)
    if kind == "normal":
        return rng.standard_normal(shape).astype(dtype)
    # small integer values make ties (first maximum must win) and include -inf
    x = rng.integers(-3, 3, shape).astype(dtype)
    x[x == -3] = -np.inf
    if kind == "nan":
        x[rng.random(shape) < 0.3] = np.nan
    return x


def torch_pool(method, x, kernel_size, stride, padding, dilation, ceil_mode,
               count_include_pad, divisor_override, return_indices=True):
    """Call torch's max_pool{n}d / avg_pool{n}d; RuntimeError for rejected parameters."""
    n = len(kernel_size)
    t = torch.from_numpy(x)
    if method == "max":
        f = getattr(F, f"max_pool{n}d")
        res = f(t, kernel_size, stride, padding, dilation, ceil_mode,
                return_indices=return_indices)
        return tuple(r.numpy() for r in res) if return_indices else res.numpy()
    f = getattr(F, f"avg_pool{n}d")
    extra = {} if n == 1 else {"divisor_override": divisor_override}
    return f(t, kernel_size, stride, padding, ceil_mode, count_include_pad, **extra).numpy()


def _torch_or_skip(*args, **kwargs):
    return _call_or_skip(torch_pool, *args, **kwargs)


def _call_or_skip(f, *args, **kwargs):
    try:
        return f(*args, **kwargs)
    except (RuntimeError, ValueError):  # e.g. "Output size is too small"
        assume(False)


@examples(200)
@given(torch_cases("max", dtypes=(np.float64, np.float64, np.float32)))
def test_max_matches_torch(case):
    want_v, want_i = _torch_or_skip("max", **case)
    got_v, got_i = reference_pool(case["x"], "max", case["kernel_size"], case["stride"],
                                  case["padding"], case["dilation"], case["ceil_mode"],
                                  return_indices=True)
    np.testing.assert_array_equal(got_v, want_v)
    assert got_v.dtype == case["x"].dtype and got_i.dtype == np.intp
    # torch points an empty (all-padding, dilated) window outside the plane; we use -1.
    empty = got_i == -1
    np.testing.assert_array_equal(got_i[~empty], want_i[~empty])
    assert np.all(np.isneginf(got_v[empty]))
    # torch's separate no-indices code path must agree too
    no_idx = _torch_or_skip("max", **case, return_indices=False)
    np.testing.assert_array_equal(got_v, no_idx)


@examples(200)
@given(torch_cases("max", dtypes=(np.int8, np.uint8, np.int32, np.int64)))
def test_max_integers_match_torch(case):
    # torch's CPU max_pool accepts int8/uint8/int32/int64 (not bool) and keeps the dtype.
    want_v, want_i = _torch_or_skip("max", **case)
    got_v, got_i = reference_pool(case["x"], "max", case["kernel_size"], case["stride"],
                                  case["padding"], case["dilation"], case["ceil_mode"],
                                  return_indices=True)
    np.testing.assert_array_equal(got_v, want_v)
    assert got_v.dtype == want_v.dtype
    empty = got_i == -1
    np.testing.assert_array_equal(got_i[~empty], want_i[~empty])
    assert np.all(got_v[empty] == np.iinfo(got_v.dtype).min)


@examples(200)
@given(torch_cases("min"))
def test_min_is_negated_max(case):
    # torch has no min_pool; -max_pool(-x) is min with the same index rule (NaN-free data).
    x = np.nan_to_num(case["x"], nan=0.5)
    case = dict(case, x=-x)
    want_v, want_i = _torch_or_skip("max", **case)
    got_v, got_i = reference_pool(x, "min", case["kernel_size"], case["stride"],
                                  case["padding"], case["dilation"], case["ceil_mode"],
                                  return_indices=True)
    np.testing.assert_array_equal(got_v, -want_v)
    empty = got_i == -1
    np.testing.assert_array_equal(got_i[~empty], want_i[~empty])


@examples(200)
@given(torch_cases("avg", dtypes=(np.float64, np.float64, np.float32)))
def test_avg_matches_torch(case):
    case["x"] = np.nan_to_num(case["x"], nan=0.25, neginf=-7.0)
    want = _torch_or_skip("avg", **case)
    got = reference_pool(case["x"], "avg", case["kernel_size"], case["stride"],
                         case["padding"], case["dilation"], case["ceil_mode"],
                         case["count_include_pad"], case["divisor_override"])
    assert got.dtype == case["x"].dtype
    rtol = 1e-6 if got.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@examples(200)
@given(torch_cases("sum"))
def test_sum_is_avg_times_divisor(case):
    # torch has no sum_pool: avg with divisor_override=1 is the window sum (2-D/3-D only).
    assume(len(case["kernel_size"]) > 1)
    case = dict(case, divisor_override=1)
    want = _torch_or_skip("avg", **case)
    got = reference_pool(case["x"], "sum", case["kernel_size"], case["stride"],
                         case["padding"], case["dilation"], case["ceil_mode"])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@examples(200)
@given(torch_cases("max", dilated=False))  # unpool has no dilation parameter
def test_unpool_matches_torch(case):
    x = case["x"]
    values, idx = _torch_or_skip("max", **case)
    n = len(case["kernel_size"])
    out_size = list(x.shape[2:])
    want = _call_or_skip(getattr(F, f"max_unpool{n}d"), torch.from_numpy(values),
                         torch.from_numpy(idx), case["kernel_size"], case["stride"],
                         case["padding"], output_size=out_size).numpy()
    got = reference_unpool(values, idx, out_size, axes=tuple(range(2, 2 + n)))
    np.testing.assert_array_equal(got, want)


def test_empty_dilated_window_torch_behaviour():
    # torch accepts a window whose every tap is padding or skipped by the dilation
    # (n=2, k=2, dilation=3, padding=1: taps at -1 and 2). torch returns -inf and the
    # index of the first in-range-from-below tap (2), which lies outside the plane; the
    # contract returns -inf and -1 instead, so unpooling never writes out of bounds.
    x = np.array([[[1.0, 2.0]]])
    tv, ti = F.max_pool1d(torch.from_numpy(x), 2, 1, 1, 3, return_indices=True)
    assert tv.item() == -np.inf and ti.item() == 2
    v, i = reference_pool(x, "max", [2], 1, 1, 3, return_indices=True)
    assert v.item() == -np.inf and i.item() == -1
    # integers: torch gives iinfo.min, as do we
    tv, _ = F.max_pool1d(torch.tensor([[[1, 2]]], dtype=torch.int8), 2, 1, 1, 3,
                         return_indices=True)
    assert tv.item() == -128
    assert reference_pool(x.astype(np.int8), "max", [2], 1, 1, 3).item() == -128


def test_torch_padding_limit_uses_undilated_kernel():
    # torch checks pad <= effective_kernel // 2 and then pad <= kernel_size // 2;
    # the second is the binding one (k=3, dilation=2: effective 5, yet pad=2 is refused).
    x = torch.zeros(1, 1, 9, 9)
    F.max_pool2d(x, 3, 1, 1, 2)
    with pytest.raises(RuntimeError, match="half of kernel size"):
        F.max_pool2d(x, 3, 1, 2, 2)


@pytest.mark.parametrize("n, k, s, p, d, ceil, expect", [
    (5, 2, 2, 0, 1, False, (2, 0, 0)),
    (5, 2, 2, 0, 1, True, (3, 0, 0)),
    (5, 3, 2, 1, 1, True, (3, 1, 1)),
    (5, 2, 2, 1, 1, True, (3, 1, 1)),    # a 4th window would start in the padding: dropped
    (5, 3, 2, "same", 1, False, (3, 1, 1)),
    (6, 3, 2, "same", 1, False, (3, 0, 1)),  # TensorFlow: the extra element goes after
    (5, 3, 1, "same", 2, False, (5, 2, 2)),
    (5, 3, 1, "valid", 1, False, (3, 0, 0)),
])
def test_plan_axis(n, k, s, p, d, ceil, expect):
    assert plan_axis(n, k, s, p, d, ceil) == expect

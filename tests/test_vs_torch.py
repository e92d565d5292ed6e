"""Differential tests: ndpool against PyTorch's CPU max/avg pooling and max-unpooling."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional

import ndpool  # noqa: E402
from hyp import examples  # noqa: E402
from reference import plan_axis  # noqa: E402
from test_reference import torch_cases, torch_pool  # noqa: E402


FLOATS = (np.float64, np.float32)
INTS = (np.int8, np.uint8, np.int32, np.int64)  # the integer dtypes torch's max_pool takes


def _torch_or_skip(*args, **kwargs):
    try:
        return torch_pool(*args, **kwargs)
    except (RuntimeError, ValueError):  # parameters torch rejects
        assume(False)


def _empty_windows(case):
    """Mask of output windows with no tap inside the input (possible with dilation)."""
    x = case["x"]
    masks = []
    for n, k, s, p, d in zip(x.shape[2:], case["kernel_size"], case["stride"],
                             case["padding"], case["dilation"]):
        out, before, _ = plan_axis(n, k, s, p, d, case["ceil_mode"])
        masks.append(np.array([not any(0 <= o * s - before + j * d < n for j in range(k))
                               for o in range(out)]))
    empty = np.zeros([len(m) for m in masks], bool)
    for i, m in enumerate(masks):
        empty |= m.reshape([-1 if j == i else 1 for j in range(len(masks))])
    return np.broadcast_to(empty, x.shape[:2] + empty.shape)


def _maybe_channels_last(case, channels_last):
    """Pool x as given, or as np.moveaxis(x, 1, -1) with channel_axis=-1 and move back."""
    if not channels_last:
        return case["x"], {}, lambda r: r
    return np.moveaxis(case["x"], 1, -1), {"channel_axis": -1}, lambda r: np.moveaxis(r, -1, 1)


@examples(150)
@given(torch_cases("max", dtypes=FLOATS + FLOATS + INTS), st.booleans())
def test_max_pool(case, channels_last):
    want_v, want_i = _torch_or_skip("max", **case)
    x, layout, back = _maybe_channels_last(case, channels_last)
    got_v, got_i = ndpool.max_pool(x, case["kernel_size"], case["stride"], case["padding"],
                                   case["dilation"], case["ceil_mode"], return_indices=True,
                                   **layout)
    got_v, got_i = back(got_v), back(got_i)
    assert got_v.dtype == case["x"].dtype and got_i.dtype == np.intp
    np.testing.assert_array_equal(got_v, want_v)
    # An empty dilated window: torch gives an out-of-plane index, the contract -1.
    empty = _empty_windows(case)
    np.testing.assert_array_equal(got_i[~empty], want_i[~empty])
    assert np.all(got_i[empty] == -1)
    # the values-only path must agree with the indices path
    only_v = ndpool.max_pool(x, case["kernel_size"], case["stride"], case["padding"],
                             case["dilation"], case["ceil_mode"], **layout)
    np.testing.assert_array_equal(back(only_v), want_v)


@examples(150)
@given(torch_cases("avg", dtypes=FLOATS), st.booleans())
def test_avg_pool(case, channels_last):
    case["x"] = np.nan_to_num(case["x"], nan=0.25, neginf=-7.0)
    want = _torch_or_skip("avg", **case)
    x, layout, back = _maybe_channels_last(case, channels_last)
    got = back(ndpool.avg_pool(x, case["kernel_size"], case["stride"], case["padding"], 1,
                               case["ceil_mode"], case["count_include_pad"],
                               case["divisor_override"], **layout))
    assert got.dtype == want.dtype
    rtol = 1e-6 if got.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@examples(150)
@given(torch_cases("max", dtypes=FLOATS, dilated=False), st.booleans(),
       st.sampled_from(["pooled", "full", "default"]))
def test_max_unpool_roundtrip(case, channels_last, size_form):
    values, idx = _torch_or_skip("max", **case)
    x = case["x"]
    n = len(case["kernel_size"])
    pool_args = (case["kernel_size"], case["stride"], case["padding"])
    out_size = {"pooled": list(x.shape[2:]), "full": list(x.shape), "default": None}[size_form]
    try:
        want = getattr(F, f"max_unpool{n}d")(torch.from_numpy(values), torch.from_numpy(idx),
                                             *pool_args, output_size=out_size).numpy()
    except (RuntimeError, ValueError):  # default size too small for the indices, etc.
        assume(False)
    if want.size == 0 and values.size:
        # PyTorch returns an empty array when the size works out to 0, ignoring indices
        # that point outside it; ndpool refuses them (documented in max_unpool).
        with pytest.raises(ValueError, match="kernel_size, stride and padding|indices"):
            ndpool.max_unpool(values, idx, *pool_args, output_size=out_size)
        return
    if channels_last:
        values, idx = np.moveaxis(values, 1, -1), np.moveaxis(idx, 1, -1)
        if size_form == "full":
            out_size = list(np.moveaxis(x, 1, -1).shape)
        got = ndpool.max_unpool(values, idx, *pool_args, output_size=out_size,
                                channel_axis=-1)
        got = np.moveaxis(got, -1, 1)
    else:
        got = ndpool.max_unpool(values, idx, *pool_args, output_size=out_size)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_nan_last_wins_and_first_max_wins():
    # Spelled out once: ties keep the first maximum, NaN beats everything, the last NaN wins.
    x = np.array([[[[1.0, 3.0, 3.0, 2.0],
                    [np.nan, 0.0, np.nan, 5.0]]]])
    for arr in (x, x.astype(np.float32)):
        v, i = ndpool.max_pool(arr, (1, 4), return_indices=True)
        tv, ti = F.max_pool2d(torch.from_numpy(arr), (1, 4), return_indices=True)
        np.testing.assert_array_equal(v, tv.numpy())
        np.testing.assert_array_equal(i, ti.numpy())
        assert i.ravel().tolist() == [1, 6]

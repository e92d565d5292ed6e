"""Fractional max pooling: torch bit for bit, graham sequences by their rules."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import ndpool
from hyp import examples


@st.composite
def torch_case(draw):
    d = draw(st.integers(2, 3))
    spatial = [draw(st.integers(2, 12)) for _ in range(d)]
    kernel = [draw(st.integers(1, min(4, n))) for n in spatial]
    out = [draw(st.integers(1, n - k + 1)) for n, k in zip(spatial, kernel)]
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**31))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3))), spatial, kernel, out, dtype, seed


@examples(150)
@given(torch_case())
def test_equals_torch_bit_for_bit(case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    (n, c), spatial, kernel, out, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *spatial)).astype(dtype)
    x[rng.random(x.shape) < 0.05] = np.nan
    u = rng.random((n, c, len(spatial))).astype(dtype)
    # torch's 2-D samples list W before H; its 3-D samples follow T, H, W.
    tu = torch.from_numpy(np.ascontiguousarray(u[..., ::-1]) if len(spatial) == 2 else u)
    f = F.fractional_max_pool2d if len(spatial) == 2 else F.fractional_max_pool3d
    try:
        tv, ti = f(torch.from_numpy(x), kernel, output_size=out, return_indices=True,
                   _random_samples=tu)
    except RuntimeError:            # torch's 3-D check is strict: out + k - 1 < n
        assume(False)
    v, i = ndpool.fractional_max_pool(x, kernel, output_size=out, samples=u,
                                      return_indices=True)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())


def test_channels_last_and_ratio():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 11, 3))
    u = rng.random((2, 3, 2))
    a = ndpool.fractional_max_pool(np.moveaxis(x, -1, 1), 2, output_ratio=0.5, samples=u,
                                   axes=(2, 3))
    b = ndpool.fractional_max_pool(x, (2, 2), output_ratio=(0.5, 0.5), samples=u,
                                   channel_axis=-1)
    np.testing.assert_array_equal(np.moveaxis(a, 1, -1), b)
    assert b.shape == (2, 4, 5, 3)


def test_seeded_rng_reproduces():
    x = np.random.default_rng(1).random((3, 20, 20))
    a = ndpool.fractional_max_pool(x, (2, 2), output_size=(13, 13), rng=5)
    b = ndpool.fractional_max_pool(x, (2, 2), output_size=(13, 13),
                                   rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


@examples(100)
@given(st.integers(2, 40), st.data())
def test_graham_sequences_follow_the_rules(n, data):
    out = data.draw(st.integers(max(1, (n + 1) // 2), n))
    pseudo = data.draw(st.booleans())
    # s = 0 included: it must not leave a region empty (u = (1 - s) u_max > 0).
    kw = dict(samples=[data.draw(st.floats(0, 0.999))]) if pseudo else dict(rng=3)
    x = np.arange(n)
    disjoint = ndpool.fractional_max_pool(x, output_size=out, method="graham",
                                          pseudo_random=pseudo, **kw)
    # The max of an arange region is its last index: recover the region lengths.
    lengths = np.diff(np.concatenate([[-1], disjoint]))
    k = n // out
    assert lengths.sum() == n and set(lengths.tolist()) <= {k, k + 1}
    overlapping = ndpool.fractional_max_pool(x, output_size=out, method="graham",
                                             pseudo_random=pseudo, overlapping=True, **kw)
    np.testing.assert_array_equal(overlapping, np.minimum(disjoint + 1, n - 1))


def test_graham_pseudo_random_formula():
    # TensorFlow's rule: boundaries ceil(a (i + u)) - 1, a = n / out, u = (1 - s) u_max.
    n, out, s = 10, 7, 0.3
    a, k = n / out, n // out
    umax = min((k + 2) / a - 1, (n + 1 - k) / a - (out - 1))
    bounds = [0] + [int(np.ceil(a * (i + (1 - s) * umax))) - 1 for i in range(1, out)] + [n]
    want = [bounds[i + 1] - 1 for i in range(out)]          # max of each region of an arange
    got = ndpool.fractional_max_pool(np.arange(n), output_size=out, method="graham",
                                     samples=[s])
    assert got.tolist() == want


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(kernel_size=2), ValueError, "exactly one"),
    (dict(kernel_size=2, output_size=3, output_ratio=0.5), ValueError, "exactly one"),
    (dict(kernel_size=2, output_ratio=1.5), ValueError, "output_ratio"),
    (dict(output_size=3), ValueError, "needs kernel_size"),
    (dict(kernel_size=4, output_size=8), ValueError, "does not fit"),
    (dict(kernel_size=2, output_size=3, samples=np.zeros((3,))), ValueError, "samples"),
    (dict(kernel_size=2, output_size=3, samples=np.ones((2,))), ValueError, r"\[0, 1\)"),
    (dict(kernel_size=2, output_size=3, method="tf"), ValueError, "method"),
    (dict(kernel_size=2, output_size=3, method="graham"), ValueError, "kernel_size"),
    (dict(output_size=3, method="graham", pseudo_random=False, samples=[0.1, 0.1]),
     ValueError, "samples"),
    (dict(kernel_size=2, output_size=3, rng="seed"), TypeError, "rng"),
])
def test_bad_arguments(kwargs, exc, match):
    x = np.zeros((9, 9))
    with pytest.raises(exc, match=match):
        ndpool.fractional_max_pool(x, **kwargs)

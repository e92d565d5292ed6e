"""Stochastic pooling's uniforms, drawn on several threads: rng.random's numbers."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndpool
from hyp import examples
from ndpool import _uniforms
from ndpool._kernels import variates as _variates

BIT_GENERATORS = [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                  np.random.Philox, np.random.SFC64]


@examples(40)
@given(st.sampled_from(BIT_GENERATORS), st.lists(st.integers(0, 40), min_size=1, max_size=3),
       st.integers(1, 5), st.booleans(), st.integers(0, 2**32))
def test_uniforms_are_one_calls_numbers_and_leave_its_state(bit_generator, shape, nthreads,
                                                             half_drawn, seed):
    """The same float64 numbers as one rng.random(shape) call, and afterwards the
    same stream: of float64s, and of 32-bit integers, whose buffered half (left by
    an odd number of 32-bit draws) a jump-ahead would drop."""
    mp = pytest.MonkeyPatch()
    mp.setattr(_uniforms, "GRAIN", 1)         # split even a short draw
    try:
        rng, ref = (np.random.Generator(bit_generator(seed)) for _ in range(2))
        if half_drawn:
            rng.integers(0, 2**32, dtype=np.uint32)
            ref.integers(0, 2**32, dtype=np.uint32)
        got = _uniforms.uniforms(rng, tuple(shape), nthreads)
        want = ref.random(tuple(shape))
    finally:
        mp.undo()
    assert got.shape == want.shape and got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()
    assert rng.integers(0, 2**32, 3, dtype=np.uint32).tolist() == \
        ref.integers(0, 2**32, 3, dtype=np.uint32).tolist()
    assert rng.random(3).tobytes() == ref.random(3).tobytes()


def test_a_seed_samples_the_same_for_any_workers():
    """Above GRAIN draws the uniforms come from several threads: the sample
    of a seeded call does not depend on ``workers``."""
    x = np.random.default_rng(3).random((2, 4, 2 * 362, 2 * 362)).astype(np.float32)
    assert x[..., ::2, ::2].size > _uniforms.GRAIN * 2
    one = ndpool.stochastic_pool(x, 2, rng=7, axes=(-2, -1), workers=1)
    for w in (2, 3):
        assert ndpool.stochastic_pool(x, 2, rng=7, axes=(-2, -1), workers=w).tobytes() == one.tobytes()
    rng = np.random.default_rng(7)
    u = rng.random(one.shape)        # the draws one rng.random call gives
    taps = x.reshape(2, 4, 362, 2, 362, 2).transpose(0, 1, 2, 4, 3, 5).reshape(*one.shape, 4)
    cum = np.cumsum(np.maximum(taps, 0).astype(np.float64), axis=-1)   # in tap order
    tap = np.minimum((cum <= (u * cum[..., -1])[..., None]).sum(-1), 3)
    want = np.take_along_axis(taps, tap[..., None], -1)[..., 0]
    np.testing.assert_array_equal(one, want)


@pytest.mark.skipif(not _variates.HAVE_PCG, reason="no 128-bit integers in this build")
@examples(60)
@given(st.sampled_from([np.random.PCG64, np.random.PCG64DXSM]), st.integers(0, 2**128 - 1),
       st.integers(0, 2**127 - 1), st.integers(0, 3000), st.integers(0, 70),
       st.integers(1, 4))
def test_pcg_draws_from_any_place_in_the_stream(bit_generator, state, inc, first, n, nthreads):
    """Draws first .. first + n - 1 of any PCG64 or PCG64DXSM state, on any number of
    threads, are those NumPy's generator returns after first earlier draws.  n covers
    runs shorter and longer than the four interleaved chains, and their tails."""
    bg = bit_generator()
    st_ = bg.state
    st_["state"] = {"state": state, "inc": 2 * inc + 1}    # NumPy keeps inc odd
    bg.state = st_
    words = np.array([state >> 64, state & (2**64 - 1), (2 * inc + 1) >> 64,
                      (2 * inc + 1) & (2**64 - 1), bit_generator is np.random.PCG64DXSM],
                     np.uint64)
    got = np.full(n, -1.0)
    _variates.pcg_random(words, first, got, nthreads)
    want = np.random.Generator(bg).random(first + n)[first:]
    assert got.tobytes() == want.tobytes()


@pytest.mark.skipif(not _variates.HAVE_PCG, reason="no 128-bit integers in this build")
@examples(60)
@given(st.sampled_from([np.random.PCG64, np.random.PCG64DXSM]),
       st.lists(st.integers(0, 7), min_size=0, max_size=4), st.data(), st.integers(1, 3))
def test_a_block_of_the_draws_is_that_block_of_one_calls_array(bit_generator, shape, data,
                                                               nthreads):
    """_uniforms.block(take(rng, n), shape, start, size) is rng.random(shape)'s block
    [start : start + size] per axis (a dask task's uniforms), for blocks spanning
    some trailing axes whole (one run of C order) or none, empty ones included;
    take leaves rng as the whole call does."""
    shape = tuple(shape)
    start = tuple(data.draw(st.integers(0, n)) for n in shape)
    size = tuple(data.draw(st.integers(0, n - s)) for n, s in zip(shape, start))
    rng, ref = (np.random.Generator(bit_generator(9)) for _ in range(2))
    rng.random(3)
    ref.random(3)
    words = _uniforms.take(rng, int(np.prod(shape)))
    want = ref.random(shape)[tuple(slice(s, s + k) for s, k in zip(start, size))]
    got = _uniforms.block(words, shape, start, size, nthreads)
    assert got.shape == want.shape and got.tobytes() == want.tobytes()
    assert rng.random(2).tobytes() == ref.random(2).tobytes()

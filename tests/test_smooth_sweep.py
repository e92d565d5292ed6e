"""smooth.pyx's fused sweep taking e^(r x) itself (SoftPool, log-sum-exp): the rows it
computes and caches per thread must be the rows a separate exp pass would give it.

Both runs below use _vexp.h's exp (exp_rows for the separate pass) and the same
folds, so the results are the same bytes: a row taken from the wrong cache slot,
a stale tag or a row computed with the wrong r changes them.  The values
themselves are checked against the papers' formulas in test_catalogue.py.
"""
import math

import numpy as np
from hypothesis import assume, example, given
from hypothesis import strategies as st

from hyp import examples
from ndpool import _engine
from ndpool._kernels import smooth as _s
from ndpool._spec import WindowSpec


def _separate_exp(x, r):
    e = np.empty(x.shape, np.float64)
    if x.size:
        _s.exp_rows(x.reshape(-1, x.shape[-1]), float(r), e.reshape(-1, x.shape[-1]), 1)
    return e


def _both(x, spec, op, r, nthreads):
    kw = dict(tiny=2.0**-900, nthreads=nthreads)
    if op == _engine.SMOOTH_EXP_MAX:
        kw.update(divisors=[plan.count.astype(np.float64) for plan in spec.plans],
                  ratio=math.exp(0.25))
    inside = _engine.window_smooth(spec.x, spec.axes, spec.plans, op, r=r, **kw)
    given_e = _engine.window_smooth(spec.x, spec.axes, spec.plans, op,
                                    e=_separate_exp(spec.x, r), **kw)
    return inside, given_e


@st.composite
def sweeps(draw):
    npool = draw(st.integers(1, 3))
    channels_last = draw(st.booleans())
    batch = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 9)) for _ in range(npool)]
    shape = [batch] + sizes + ([draw(st.integers(2, 5))] if channels_last else [])
    kernel = [draw(st.integers(1, min(4, n))) for n in sizes]
    stride = [draw(st.integers(1, 3)) for _ in range(npool)]
    dilation = [draw(st.integers(1, 2)) for _ in range(npool)]
    assume(all(d * (k - 1) < n for d, k, n in zip(dilation, kernel, sizes)))
    padding = [draw(st.integers(0, k // 2)) for k in kernel]
    axes = tuple(range(1, npool + 1))
    return shape, kernel, stride, padding, dilation, axes, -1 if channels_last else None


@examples(150)
# a pair of rows whose first is cached and whose second, computed, must not take
# the first's slot (found by this test)
@example(case=([2, 4, 3, 1], [2, 2, 1], [1, 1, 1], [1, 1, 0], [1, 1, 1], (1, 2, 3), None),
         dtype=np.float32, op=_engine.SMOOTH_SOFT, r=1.0, nthreads=1, seed=0)
@given(case=sweeps(), dtype=st.sampled_from([np.float32, np.float64]),
       op=st.sampled_from([_engine.SMOOTH_SOFT, _engine.SMOOTH_EXP_MAX]),
       r=st.sampled_from([1.0, 0.5, 3.0]), nthreads=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_exp_in_the_sweep_equals_a_separate_exp(case, dtype, op, r, nthreads, seed):
    shape, kernel, stride, padding, dilation, axes, channel = case
    x = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    spec = WindowSpec(x, kernel, stride, padding, dilation, False, axes, channel)
    assume(not any(plan.has_empty for plan in spec.plans))
    inside, given_e = _both(x, spec, op, r, nthreads)
    assert given_e is not None
    span = math.prod((int(p.count.max()) - 1) * p.dilation + 1 for p in spec.plans[:-1])
    if span > _engine._EXP_ROWS:                  # more rows than the cache holds
        assert inside is None
        return
    assert inside is not None
    assert inside[0].tobytes() == given_e[0].tobytes()
    assert (inside[1] is None) == (given_e[1] is None)
    if inside[1] is not None:
        np.testing.assert_array_equal(inside[1], given_e[1])


def test_windows_of_many_rows_leave_the_exp_to_the_caller():
    """A window spanning more rows than the per-thread cache holds (counting the
    rows a dilation skips, which the next windows read) is not swept with the exp
    inside (None); SoftPool and log-sum-exp then take the separate exp."""
    x = np.random.default_rng(1).standard_normal((2, 6, 6, 8)).astype(np.float32)
    small = WindowSpec(x, (4, 4, 2), 1, 0, 1, False, (1, 2, 3), None)   # 16 rows
    large = WindowSpec(x, (3, 6, 2), 1, 0, 1, False, (1, 2, 3), None)   # 18 rows
    gaps = WindowSpec(x, (3, 3, 2), 1, 0, (2, 2, 1), False, (1, 2, 3), None)  # 9 of 25
    assert 4 * 4 <= _engine._EXP_ROWS < min(3 * 6, 5 * 5)
    for spec, fused in ((small, True), (large, False), (gaps, False)):
        got = _engine.window_smooth(spec.x, spec.axes, spec.plans, _engine.SMOOTH_SOFT,
                                    r=1.0, nthreads=1)
        assert (got is not None) == fused


@examples(100)
@given(case=sweeps(), dtype=st.sampled_from([np.float32, np.float64]),
       op=st.sampled_from([_engine.SMOOTH_SOFT, _engine.SMOOTH_EXP_MAX]),
       r=st.sampled_from([1.0, 0.5, 3.0]), to32=st.booleans(), inside=st.booleans(),
       nthreads=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_results_finished_in_the_sweep_equal_the_sums_finished_after(
        case, dtype, op, r, to32, inside, nthreads, seed):
    """The sweep may finish each row while it is in cache: SoftPool's values rounded
    to float32, log-sum-exp's ``log(mean) / r`` (_vexp.h's log, in float64 or then
    rounded to float32), without a float64 result array.  They must be the bytes
    the unfinished sums give when finished afterwards (log-sum-exp's: to the
    log's last bit, see below), and mark the same windows.
    A wide spread (x * 300) makes windows the sweep does not trust (bad); their
    finished values are not compared (the sweep's log skips the tests that only
    those windows' sums need, and the callers replace them)."""
    shape, kernel, stride, padding, dilation, axes, channel = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * rng.choice([3.0, 300.0])).astype(dtype)
    spec = WindowSpec(x, kernel, stride, padding, dilation, False, axes, channel)
    assume(not any(plan.has_empty for plan in spec.plans))
    span = math.prod((int(p.count.max()) - 1) * p.dilation + 1 for p in spec.plans[:-1])
    assume(not inside or span <= _engine._EXP_ROWS)
    kw = dict(tiny=2.0**-900, nthreads=nthreads)
    if inside:
        kw["r"] = r
    else:
        kw["e"] = _separate_exp(x, r)
    if op == _engine.SMOOTH_EXP_MAX:
        kw.update(divisors=[plan.count.astype(np.float64) for plan in spec.plans],
                  ratio=math.exp(0.25))
    lse = op == _engine.SMOOTH_EXP_MAX
    assume(to32 or lse)                       # SoftPool's float64 values need no finish
    sums, bad = _engine.window_smooth(x, spec.axes, spec.plans, op, **kw)
    got, got_bad = _engine.window_smooth(x, spec.axes, spec.plans, op, **kw,
                                         log_scale=r if lse else None,
                                         dtype=np.float32 if to32 else np.float64)
    want = sums
    if lse:
        want = np.empty_like(sums)                 # _vexp.h's log, as in the sweep
        _s.log_rows(sums.reshape(-1, sums.shape[-1]), want.reshape(-1, sums.shape[-1]), 1)
        want /= r
    if to32:
        with np.errstate(over="ignore"):
            want = want.astype(np.float32)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert (got_bad is None) == (bad is None)
    trusted = np.ones(got.shape, bool)
    if bad is not None:
        np.testing.assert_array_equal(got_bad, bad)
        # a marked window's finished value is unspecified: the caller replaces it
        trusted = ~bad
    if lse:
        # the sweep's log (nd_log_normal, no tests for zero, negative or infinite
        # means) is compiled in another loop than log_rows' nd_log, and the
        # compiler may fuse a different product and sum into one rounding: the
        # same log to its last bit, which the quotient by r (in a lower binade)
        # or float32's rounding may turn into a few of the result's ulps
        np.testing.assert_allclose(got[trusted], want[trusted],
                                   rtol=4 * np.finfo(got.dtype).eps, atol=0)
    else:
        assert got[trusted].tobytes() == want[trusted].tobytes()

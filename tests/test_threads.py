"""Threads and resources (issue 7).

* ``workers``: results are bit-identical for workers 1, 2, 3 and 8, on inputs
  large enough that every thread gets work.
* Eight Python threads calling ndpool at once get the serial results; kernels
  release the GIL (a pure-Python ticker keeps ticking during a long call).
* 10,000 small calls do not grow memory; a large call allocates about its output.
* An absurd ``workers`` does not start an absurd number of threads.

Every public function with a row in api_table.py is covered.
"""
from __future__ import annotations

import gc
import inspect
import math
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pytest

import ndpool
from api_table import rows_for

pytestmark = pytest.mark.usefixtures("watchdog")

PUBLIC = [name for name in ndpool.__all__ if callable(getattr(ndpool, name, None))]
LIVE = rows_for(PUBLIC)


def _takes(row, name):
    return name in inspect.signature(getattr(ndpool, row.func)).parameters


THREADED = [r for r in LIVE if _takes(r, "workers")]
# Under AddressSanitizer (make asan) freed memory sits in its quarantine and every
# allocation has red zones: memory measurements mean nothing there.
ASAN = "asan" in os.environ.get("LD_PRELOAD", "")
no_asan = pytest.mark.skipif(ASAN, reason="memory is not measurable under AddressSanitizer")


def call(row, x, **changes):
    return getattr(ndpool, row.func)(row.first_arg(x), **row.keywords(x, **changes))


def big_shape(row, elements=400_000):
    """row.shape with its last two axes (or its only one) grown to about ``elements``."""
    shape = list(row.shape)
    grow = shape[-2:]
    factor = (elements / math.prod(shape)) ** (1 / len(grow))
    shape[-len(grow):] = [int(n * factor) | 1 for n in grow]
    return tuple(shape)


def data(shape, dtype, seed=0, special=True):
    """Random values, with a sprinkle of NaN and -inf if ``special``."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        x = (8 * rng.standard_normal(shape)).astype(dtype)
        if special:
            x[rng.random(shape) < 0.01] = np.nan
            x[rng.random(shape) < 0.01] = -np.inf
        return x
    return rng.integers(-100, 100, shape).astype(dtype)


def as_bytes(result):
    """Everything a result holds, as bytes (NaN payloads and signed zeros included)."""
    if isinstance(result, (list, tuple)):
        return b"|".join(as_bytes(r) for r in result)
    r = np.asarray(result)
    return repr((r.dtype.str, r.shape)).encode() + np.ascontiguousarray(r).tobytes()


# ---- workers -------------------------------------------------------------------------------

@pytest.mark.parametrize("row", THREADED, ids=lambda r: r.id)
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_workers_give_bit_identical_results(row, dtype):
    x = data(big_shape(row), dtype)
    results = {w: as_bytes(call(row, x, workers=w)) for w in (1, 2, 3, 8, None)}
    for w, r in results.items():
        assert r == results[1], f"{row.id}: workers={w} differs from workers=1"


# ---- Python threads ----------------------------------------------------------------------------

def test_eight_python_threads_at_once():
    """Eight threads, each pooling with every function in turn, get the serial results."""
    jobs = []
    for i, row in enumerate(LIVE):
        x = data(big_shape(row, 20_000), np.float64, seed=i)
        jobs.append((row, x, as_bytes(call(row, x))))
    start = threading.Barrier(8)
    errors = []

    def work(k):
        start.wait()
        for rep in range(3):
            for j in range(len(jobs)):
                row, x, want = jobs[(j + k) % len(jobs)]        # threads out of step
                extra = {"workers": 1 + (j + k) % 3} if _takes(row, "workers") else {}
                if as_bytes(call(row, x, **extra)) != want:
                    errors.append(f"{row.id} in thread {k}, round {rep}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# One row per kernel family: each must release the GIL while it runs.
GIL_ROWS = ["max_pool", "max_pool[indices]", "avg_pool", "median_pool", "softpool",
            "stochastic_pool[sample]", "gated_pool", "max_unpool", "corner_pool",
            "fractional_max_pool", "adaptive_avg_pool"]


@pytest.mark.parametrize("row", [r for r in LIVE if r.id in GIL_ROWS], ids=lambda r: r.id)
def test_kernels_release_the_gil(row):
    """A pure-Python ticker thread keeps ticking while a long kernel runs.

    If a kernel held the GIL, the ticker would stop for the whole call; we allow
    gaps of up to half the call (the facade's own Python work, a loaded machine).
    """
    elements = 200_000
    while True:                                   # grow the input until a call takes 0.15 s
        x = data(big_shape(row, elements), np.float32)
        call(row, x, workers=1)                   # (the first call pays for page faults)
        t0 = time.perf_counter()
        call(row, x, workers=1)
        took = time.perf_counter() - t0
        # (at most 200 MB: a kernel at memory speed need not take 0.15 s)
        if took > 0.15 or elements > 5e7:
            break
        elements = int(elements * min(8.0, max(2.0, 0.5 / max(took, 1e-3))))
    ticks, done = [], threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    call(row, x, workers=1)
    t1 = time.perf_counter()
    done.set()
    t.join()
    if t1 - t0 < 0.02:    # (the ticker's switch interval is 5 ms)
        pytest.skip(f"{row.id}: a {t1 - t0:.3f} s call is too short to see the GIL in")
    during = [s for s in ticks if t0 <= s <= t1]
    edges = [t0] + during + [t1]
    gap = max(b - a for a, b in zip(edges, edges[1:]))
    assert gap < 0.5 * (t1 - t0), \
        f"{row.id}: the ticker stopped for {gap:.3f} s of a {t1 - t0:.3f} s call"


@pytest.mark.skipif(ASAN, reason="AddressSanitizer cannot run under an address-space limit")
def test_absurd_worker_counts_are_harmless():
    """workers=10**6 must not start thousands of threads: run under a 4 GiB address-space
    limit (a thread reserves an 8 MiB stack), in a child process since it may abort."""
    code = ("import resource\n"
            "resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))\n"
            "import numpy as np, ndpool\n"
            "x = np.zeros((8192, 8192), np.float32)\n"
            "for w in (None, 64, 10**6, 2**62):\n"
            "    assert ndpool.max_pool(x, 2, workers=w).shape == (4096, 4096)\n"
            "    assert ndpool.avg_pool(x, 2, workers=w).shape == (4096, 4096)\n")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=600)
    assert child.returncode == 0, f"exit status {child.returncode}: {child.stderr[-2000:]}"


# ---- memory ------------------------------------------------------------------------------------

def _rss():
    """The resident set size now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


CALLS = 10_000


def _growth(calls):
    """(traced, RSS, peak RSS bytes gained, where) over ``calls()`` after a warm-up.

    Warnings are ignored: pytest records every one, which would grow memory itself.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _measure(calls)


def _measure(calls):
    calls(300)                                                  # warm caches and arenas
    gc.collect()
    rss0, peak0 = _rss(), _peak_rss()
    tracemalloc.start(8)
    try:
        calls(200)
        gc.collect()
        traced0, snap0 = tracemalloc.get_traced_memory()[0], tracemalloc.take_snapshot()
        calls(CALLS)
        gc.collect()
        traced1 = tracemalloc.get_traced_memory()[0]
        where = ""
        if traced1 - traced0 >= 64 * 1024:                      # say where it grew
            top = tracemalloc.take_snapshot().compare_to(snap0, "traceback")[:3]
            where = "\n".join(f"{st.size_diff} bytes in {st.count_diff} blocks at\n"
                              + "\n".join(st.traceback.format()) for st in top)
    finally:
        tracemalloc.stop()
    return traced1 - traced0, _rss() - rss0, _peak_rss() - peak0, where


def _check_growth(what, traced, rss, peak, where):
    """Tolerances: 64 KiB of traced memory (allocator and cache noise) and 4 MiB of RSS;
    a leak of 400 bytes per call exceeds the latter, of 7 bytes the former."""
    assert traced < 64 * 1024, \
        f"{what}: traced memory grew {traced} bytes over {CALLS} calls:\n{where}"
    assert rss < 4 * 2**20, f"{what}: RSS grew {rss / 2**20:.1f} MiB over {CALLS} calls"
    assert peak < 4 * 2**20, f"{what}: peak RSS grew {peak / 2**20:.1f} MiB over {CALLS} calls"


@no_asan
def test_many_small_calls_do_not_grow_memory():
    """10,000 calls on small arrays, every function in turn: memory stays flat."""
    jobs = [(getattr(ndpool, r.func), r.first_arg(x), r.keywords(x))
            for r in LIVE for x in [data(r.shape, np.float32, special=False)]]

    def calls(n):
        for i in range(n):
            func, first, kw = jobs[i % len(jobs)]
            func(first, **kw)
    _check_growth("all functions", *_growth(calls))


@no_asan
@pytest.mark.slow
@pytest.mark.parametrize("row", LIVE, ids=lambda r: r.id)
def test_many_small_calls_of_each_function(row):
    """The same, 10,000 calls of each function (slow: run by `make fuzz`)."""
    x = data(row.shape, np.float32, special=False)
    func, first, kw = getattr(ndpool, row.func), row.first_arg(x), row.keywords(x)

    def calls(n):
        for _ in range(n):
            func(first, **kw)
    _check_growth(row.id, *_growth(calls))


# Peak traced memory of one call on a 32 MiB float32 input, as a multiple of the
# result's bytes: "about its output only" is 1.5 x the result + 1 MiB.  Methods
# documented to compute in float64 (sums, averages, float-valued methods) keep a
# float64 accumulator of the result's shape: for a float32 result that is 2 x more.
FLOAT64_ACCUMULATOR = {"avg_pool", "sum_pool", "lp_pool", "power_mean_pool", "softpool",
                       "lse_pool", "mixed_pool", "gated_pool", "tree_pool",
                       "stochastic_pool", "adaptive_avg_pool", "global_avg_pool",
                       "global_pool", "strip_pool", "block_reduce"}


def _nbytes(result):
    if isinstance(result, (list, tuple)):
        return sum(_nbytes(r) for r in result)
    return np.asarray(result).nbytes


@no_asan
@pytest.mark.parametrize("row", LIVE, ids=lambda r: r.id)
def test_large_call_allocates_about_its_output(row):
    """Peak traced memory <= 1.5 x the result + 1 MiB (+ 2 x for float64 accumulators).

    Inputs are C-contiguous: the kernels read unit-stride rows, so a strided
    view is copied once (documented in the README).  Large calls of the methods
    with big temporaries run in bands (ndpool._bands, corner.py, block_reduce's
    median), which this test holds them to.
    """
    x = data(big_shape(row, 8 * 2**20), np.float32)
    call(row, data(row.shape, np.float32))                       # imports, caches
    func, first, kw = getattr(ndpool, row.func), row.first_arg(x), row.keywords(x)
    if isinstance(first, list):     # pyramid levels: strided views, which kernels copy
        first = [np.ascontiguousarray(level) for level in first]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = func(first, **kw)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    out = _nbytes(result)
    factor = 1.5
    if row.func in FLOAT64_ACCUMULATOR:
        factor += 2.0
    allowed = factor * out + 2**20
    assert peak <= allowed, (f"{row.id}: peak {peak / 2**20:.1f} MiB for a "
                             f"{out / 2**20:.1f} MiB result ({peak / max(out, 1):.2f} x; "
                             f"allowed {factor} x + 1 MiB); input {x.nbytes / 2**20:.0f} MiB")


@no_asan
@pytest.mark.parametrize("method", ["max_pool", "avg_pool", "sum_pool", "lp_pool",
                                    "median_pool", "softpool", "max_pool[indices]"])
def test_long_axis_allocates_about_its_output(method):
    """One axis of 2**22 outputs: its plan keeps no tables (they would take 128 MiB,
    8 x the result) and the call runs in bands of 2**16 outputs."""
    from ndpool import _planning
    x = data((2**23 + 3,), np.float32, special=False)
    name, _, variant = method.partition("[")
    func = getattr(ndpool, name)
    args = (x, 2.0, 2) if name == "lp_pool" else (x, 2)
    kw = {"return_indices": True} if variant else {}
    assert _planning.plan_axis(x.size, 2, 2, 0, 1, False, axis=0, lazy=True).lazy
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = func(*args, **kw)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    out = _nbytes(result)
    factor = 3.5 if name in FLOAT64_ACCUMULATOR else 1.5
    assert peak <= factor * out + 4 * 2**20, (f"{method}: peak {peak / 2**20:.1f} MiB for "
                                              f"a {out / 2**20:.1f} MiB result")

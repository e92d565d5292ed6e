"""Dask scale-out on a real dask.distributed LocalCluster: every result is compared,
bit for bit (values, dtype, shape), with the in-memory call on the whole array.

The cluster (2 worker processes, 1 thread each, loopback only) is started once for
the module and closed at the end; the module is skipped if it cannot start.  Cases
are built lazily and computed in a few batches, so the whole module runs in well
under a minute on 2 cores.
"""
import gc
import os
import resource

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import ndpool  # noqa: E402
from ndpool import blockreduce  # noqa: E402
from ndpool._dask import dask_aware  # noqa: E402

SEED = int(os.environ.get("NDPOOL_DASK_SEED", "20261121"))


def _start_cluster(**kw):
    import warnings
    try:
        with warnings.catch_warnings():
            # dashboard_address=None still serves HTTP on the scheduler's host
            # (127.0.0.1), on port 8787 or, when taken, any free port: say nothing.
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=50, **kw)
    except Exception as exc:  # no sockets, no processes, ...
        pytest.skip(f"dask.distributed cannot start a LocalCluster here: {exc!r}")
    return cluster, distributed.Client(cluster)


LIMIT = 400 * 2**20      # memory limit of each worker process


@pytest.fixture(scope="module")
def client():
    cluster, client = _start_cluster(memory_limit=LIMIT)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


# ---- helpers ----------------------------------------------------------------------------

def ragged(n, rng, most=3):
    """A random chunking of an axis of length n: uneven pieces, sometimes one piece.

    At most ``most`` pieces: a dask.distributed task costs milliseconds here, so the
    cases stay small graphs (ragged is what matters, not many).
    """
    if n <= 1:
        return (n,)
    cuts = sorted(set(rng.integers(1, n, size=rng.integers(0, most)).tolist()))
    return tuple(np.diff([0] + cuts + [n]).tolist())


def data(rng, shape, dtype):
    """Random values with signed zeros, NaN (floats) and ties."""
    x = rng.standard_normal(shape) * 40
    x[rng.random(shape) < 0.1] = 0.0
    x[rng.random(shape) < 0.1] = -0.0
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        x[rng.random(shape) < 0.03] = np.nan
    if dtype.kind == "u":
        x = np.abs(x)
    if dtype.kind == "b":
        return x > 0
    return x.astype(dtype)


def same_bits(ref, got):
    ref, got = np.asarray(ref), np.asarray(got)
    assert got.dtype == ref.dtype
    assert got.shape == ref.shape
    if ref.dtype.kind == "b":
        np.testing.assert_array_equal(got, ref)
    else:
        a = np.ascontiguousarray(ref).view(np.uint8)
        b = np.ascontiguousarray(got).view(np.uint8)
        if not np.array_equal(a, b):
            bad = np.argwhere(np.ascontiguousarray(ref).view(f"u{ref.dtype.itemsize}")
                              != np.ascontiguousarray(got).view(f"u{ref.dtype.itemsize}"))
            raise AssertionError(f"{len(bad)} elements differ, first at {tuple(bad[0])}: "
                                 f"{ref[tuple(bad[0])]!r} != {got[tuple(bad[0])]!r}")


def run_batch(client, cases):
    """cases: (label, in-memory result, lazy result); computed in one graph."""
    lazy = [c[2] for c in cases]
    flat, shape = [], []
    for item in lazy:
        items = list(item) if isinstance(item, (list, tuple)) else [item]
        shape.append(len(items) if isinstance(item, (list, tuple)) else None)
        flat.extend(items)
    computed = client.compute(flat, sync=True)
    k = 0
    for (label, ref, _), n in zip(cases, shape):
        if n is None:
            got, k = computed[k], k + 1
            refs, gots = [ref], [got]
        else:
            gots, k = computed[k:k + n], k + n
            refs = list(ref)
            assert len(gots) == len(refs), label
        for r, g in zip(refs, gots):
            try:
                same_bits(r, g)
            except AssertionError as exc:
                raise AssertionError(f"{label}: {exc}") from None


# ---- the window family -------------------------------------------------------------------

WINDOW = ["max_pool", "min_pool", "avg_pool", "sum_pool", "lp_pool", "power_mean_pool",
          "softpool", "lse_pool", "median_pool", "mixed_pool", "gated_pool", "tree_pool",
          "stochastic_pool"]
DTYPES = [np.float32, np.float64, np.float16, np.uint8, np.int16, np.int64, np.bool_]


def window_case(name, rng, i):
    """One random call: shape, dtype, layout, chunking and every window parameter."""
    k = int(rng.integers(1, 4))                       # pooled axes
    channels_last = bool(i % 2)
    spatial = [int(rng.integers(1, 20)) for _ in range(k)]
    c = int(rng.integers(1, 4))
    shape = spatial + [c] if channels_last else [int(rng.integers(1, 3)), c] + spatial
    dtype = DTYPES[int(rng.integers(len(DTYPES)))]
    if name in ("lp_pool", "power_mean_pool", "lse_pool", "softpool") and i % 3 == 0:
        dtype = np.float64
    x = data(rng, shape, dtype)
    kernel = tuple(int(v) for v in rng.integers(1, 5, k))
    stride = tuple(int(v) for v in rng.integers(1, 4, k))
    dilation = tuple(int(v) for v in rng.integers(1, 3, k))
    if rng.random() < 0.3:
        padding, ceil = "same", False
    else:
        padding = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in kernel)
        ceil = bool(rng.random() < 0.5)
    kw = {"channel_axis": -1} if channels_last else {"axes": tuple(range(2, 2 + k))}
    args = []
    if name in ("lp_pool", "power_mean_pool"):
        args = [float(rng.choice([1.0, 2.0, 2.5]))]
    elif name == "lse_pool":
        args = [float(rng.choice([0.5, 4.0]))]
    elif name == "mixed_pool":
        args = [rng.random(c) if channels_last and i % 4 == 1 else 0.3]
        if not channels_last:
            kw = {"channel_axis": 1}
            if k != len(shape) - 2:
                kw["axes"] = tuple(range(2, 2 + k))
    elif name == "gated_pool":
        args = [rng.standard_normal(kernel)]
    elif name == "tree_pool":
        args = [rng.standard_normal((2,) + kernel), rng.standard_normal((1,) + kernel)]
    if name == "power_mean_pool" and rng.random() < 0.5:
        kw["eps"] = 1e-6
    if name == "avg_pool":
        kw["count_include_pad"] = bool(rng.random() < 0.5)
        if rng.random() < 0.25:
            kw["divisor_override"] = 3
    if name in ("max_pool", "min_pool") and rng.random() < 0.5:
        kw["return_indices"] = True
    if name == "stochastic_pool":
        if rng.random() < 0.5:
            kw["mode"] = "expectation"
        else:
            kw.update(rng=int(rng.integers(1 << 30)), return_indices=bool(rng.random() < 0.5))
        kw.update(padding=padding, dilation=dilation, ceil_mode=ceil)
        call_args = [kernel, stride]
    else:
        call_args = args + [kernel, stride, padding, dilation, ceil]
    chunks = tuple(ragged(n, rng) for n in shape)
    return x, chunks, call_args, kw


@pytest.mark.parametrize("name", WINDOW)
def test_window_functions_match_in_memory(client, name):
    rng = np.random.default_rng([SEED, WINDOW.index(name)])
    f = getattr(ndpool, name)
    cases = []
    i = 0
    while len(cases) < 6:
        x, chunks, args, kw = window_case(name, rng, i)
        i += 1
        try:
            ref = f(x, *args, **kw)
        except ValueError:           # a window that does not fit: covered below
            continue
        got = dask_aware(f)(da.from_array(x, chunks=chunks), *args, **kw)
        label = f"{name}{x.dtype}{x.shape} chunks={chunks} args={args} kw={kw}"
        cases.append((label, ref, got))
    run_batch(client, cases)


def test_overlapping_windows_on_many_chunks(client):
    """Large halos (kernel 7, dilation 3) over chunks much smaller than a window."""
    rng = np.random.default_rng(SEED)
    x = data(rng, (61, 47, 3), np.float32)
    xd = da.from_array(x, chunks=(9, (6, 13, 28), (2, 1)))
    cases = []
    for name, args, padding in [("max_pool", [], "same"), ("avg_pool", [], 3),
                                ("median_pool", [], 3), ("softpool", [], "same"),
                                ("lp_pool", [2.0], "same")]:
        f = getattr(ndpool, name)
        ref = f(x, *args, 7, 2, padding, 3, False, channel_axis=-1)
        got = dask_aware(f)(xd, *args, 7, 2, padding, 3, False, channel_axis=-1)
        cases.append((f"{name} padding={padding}", ref, got))
    ref = ndpool.max_pool(x, (3, 5), 1, (1, 2), (2, 1), True, channel_axis=-1,
                          return_indices=True)
    got = dask_aware(ndpool.max_pool)(xd, (3, 5), 1, (1, 2), (2, 1), True, channel_axis=-1,
                                      return_indices=True)
    cases.append(("max_pool indices", ref, got))
    run_batch(client, cases)


def test_windows_that_fall_entirely_into_padding(client):
    """Dilated windows with no element (count 0) take each method's empty value."""
    rng = np.random.default_rng([SEED, 5])
    x = data(rng, (9, 2, 2), np.float64)
    xd = da.from_array(x, chunks=((2, 3, 4), (1, 1), 2))
    params = [(2, 2), 2, (1, 1), (1, 3), True]      # axis 1: taps -1 and 2, both padding
    cases = []
    for name in WINDOW:
        f = getattr(ndpool, name)
        extra = {"lp_pool": [2.0], "power_mean_pool": [2.0], "lse_pool": [1.0],
                 "mixed_pool": [0.5], "gated_pool": [rng.standard_normal((2, 2))],
                 "tree_pool": [rng.standard_normal((2, 2, 2)),
                               rng.standard_normal((1, 2, 2))]}.get(name, [])
        if name == "stochastic_pool":
            args, kw = [(2, 2), 2], dict(padding=(1, 1), dilation=(1, 3), ceil_mode=True,
                                         mode="expectation", channel_axis=-1)
        else:
            args, kw = extra + params, dict(channel_axis=-1)
        ref = f(x, *args, **kw)
        cases.append((name, ref, dask_aware(f)(xd, *args, **kw)))
    assert ndpool._planning.plan_axis(2, 2, 2, 1, 3, True, axis=1).has_empty
    run_batch(client, cases)


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.PCG64DXSM,
                                           np.random.MT19937])
def test_stochastic_samples_of_tasks_are_the_in_memory_draws(client, bit_generator):
    """stochastic_pool(mode="sample") on a dask array draws what the in-memory call
    draws from the same generator, over chunks cut along every axis, and leaves
    the generator as that call does.  With PCG64 and PCG64DXSM each task computes
    its own block of the uniforms (no dask array of them in the graph); MT19937
    cannot jump ahead, and its uniforms are drawn in the client."""
    rng = np.random.default_rng([SEED, 9])
    x = data(rng, (3, 2, 23, 17), np.float32)
    xd = da.from_array(x, chunks=((1, 2), (1, 1), (9, 6, 8), (5, 12)))
    kw = dict(stride=(2, 3), padding=(1, 0), axes=(2, 3), return_indices=True)
    ref_rng, lazy_rng = (np.random.Generator(bit_generator(77)) for _ in range(2))
    ref_rng.random(5)            # a generator part-way through its stream
    lazy_rng.random(5)
    ref = ndpool.stochastic_pool(x, (3, 2), rng=ref_rng, **kw)
    lazy = dask_aware(ndpool.stochastic_pool)(xd, (3, 2), rng=lazy_rng, **kw)
    assert ref_rng.random(4).tobytes() == lazy_rng.random(4).tobytes()
    graph = lazy[0].dask          # the pool's inputs: x's slabs, and the uniforms?
    pool = next(name for name in graph.layers if name.startswith("ndpool-stochastic"))
    from_client = len(graph.dependencies[pool]) > 1
    assert from_client == (bit_generator is np.random.MT19937)
    assert len(lazy[0].chunks[2]) > 1 and len(lazy[0].chunks[3]) > 1
    run_batch(client, [("stochastic sample", ref, lazy)])


def test_window_chunk_layout_is_planned_from_the_plans():
    """Output chunks follow the input's; every slab holds its windows, no more halo."""
    x = da.zeros((100, 80), chunks=(30, 25))
    got = dask_aware(ndpool.avg_pool)(x, 5, 2, 2)
    # Input boundaries 30, 60, 90 -> first windows starting there: outputs 16, 31, 46;
    # 25, 50, 75 -> windows starting at 26, 50, 76: outputs 14, 26, 39.
    assert got.chunks == ((16, 15, 15, 4), (14, 12, 13, 1))
    assert any(name.startswith("overlap") for name in got.dask.layers)
    non_overlapping = dask_aware(ndpool.max_pool)(x, 5)    # stride = kernel: no halo
    assert not any(name.startswith("overlap") for name in non_overlapping.dask.layers)
    assert non_overlapping.chunks == ((6, 6, 6, 2), (5, 5, 5, 1))


def test_adaptive_pools(client):
    rng = np.random.default_rng([SEED, 99])
    cases = []
    for i in range(3):
        x = data(rng, (int(rng.integers(3, 30)), int(rng.integers(3, 30)), 2), np.float32)
        xd = da.from_array(x, chunks=tuple(ragged(n, rng) for n in x.shape))
        size = (int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        for name, args, kw in [("adaptive_max_pool", [size], {"return_indices": True}),
                               ("adaptive_avg_pool", [size], {}),
                               ("adaptive_pool", [size, "median"], {})]:
            f = getattr(ndpool, name)
            cases.append((f"{name} {x.shape} {size}", f(x, *args, channel_axis=-1, **kw),
                          dask_aware(f)(xd, *args, channel_axis=-1, **kw)))
    run_batch(client, cases)


@pytest.mark.parametrize("f, args, kw", [
    (ndpool.max_pool, [7], {}),                              # the window does not fit
    (ndpool.avg_pool, [3, 1, 2], {}),                        # padding > kernel // 2
    (ndpool.lp_pool, [-1.0, 2], {}),                         # p <= 0
    (ndpool.lse_pool, ["a", 2], {}),                         # r not a number
    (ndpool.mixed_pool, [np.ones(3), 2], {"channel_axis": 1}),   # one alpha per channel
    (ndpool.gated_pool, [np.ones((3, 3)), 2], {}),           # gate of the wrong shape
    (ndpool.stochastic_pool, [2], {"mode": "mean"}),
])
def test_window_errors_are_eager_and_the_same(f, args, kw):
    x = np.zeros((5, 6), np.float32)
    with pytest.raises((ValueError, TypeError)) as mem:
        f(x, *args, **kw)
    with pytest.raises(type(mem.value)) as lazy:
        dask_aware(f)(da.from_array(x, chunks=2), *args, **kw)   # before any compute
    assert str(lazy.value) == str(mem.value)


def test_out_is_refused_for_dask_input():
    with pytest.raises(TypeError, match="out="):
        dask_aware(ndpool.max_pool)(da.zeros((4, 4), chunks=2), 2, out=np.zeros((2, 2)))


def test_numpy_input_goes_straight_through():
    x = np.arange(16.0).reshape(4, 4)
    wrapped = dask_aware(ndpool.max_pool)
    assert dask_aware(wrapped) is wrapped
    assert wrapped.__doc__ == ndpool.max_pool.__doc__
    np.testing.assert_array_equal(wrapped(x, 2), ndpool.max_pool(x, 2))


# ---- block_reduce, global_pool, pyramid -------------------------------------------------------

BLOCK_FUNCS = [np.sum, np.mean, np.max, np.min, np.median, np.nansum, np.nanmean, np.nanmax,
               np.nanmin, np.amax, np.ptp, np.std]


@pytest.mark.parametrize("boundary", ["pad", "trim", "exact"])
def test_block_reduce(client, boundary):
    rng = np.random.default_rng([SEED, 7, len(boundary)])
    cases = []
    for i, func in enumerate(BLOCK_FUNCS):
        nd = 1 + i % 3
        block = [int(rng.integers(1, 5)) for _ in range(nd)]
        shape = [b * int(rng.integers(1, 8)) + (0 if boundary == "exact"
                                                 else int(rng.integers(0, b)))
                 for b in block]
        dtype = [np.float32, np.uint8, np.float64, np.int32, np.float16, np.bool_][i % 6]
        if func in (np.ptp,) and dtype == np.bool_:
            dtype = np.int16
        x = data(rng, shape, dtype)
        channel = None
        if nd == 3 and i % 2:
            channel, block[-1] = -1, 1
        cval = float(rng.choice([0, -1, 2.5]))
        fkw = {"dtype": np.uint8} if func is np.sum and i % 2 else None
        xd = da.from_array(x, chunks=tuple(ragged(n, rng) for n in shape))
        with _quiet():
            ref = blockreduce.block_reduce(x, block, func, cval, fkw, boundary=boundary,
                                           channel_axis=channel)
            got = dask_aware(blockreduce.block_reduce)(xd, block, func, cval, fkw,
                                                       boundary=boundary, channel_axis=channel)
        cases.append((f"{func.__name__} {x.dtype}{x.shape} block={block} chunks={xd.chunks}",
                      ref, got))
    with _quiet():
        run_batch(client, cases)


def test_block_reduce_exact_raises_eagerly():
    xd = da.zeros((5, 4), chunks=2)
    with pytest.raises(ValueError, match="not divisible"):
        dask_aware(blockreduce.block_reduce)(xd, 2, np.mean, boundary="exact")
    with pytest.raises(TypeError, match="callable"):
        dask_aware(blockreduce.block_reduce)(xd, 2, "mean")


GLOBAL = [("max", {}), ("min", {}), ("sum", {}), ("avg", {}), ("median", {}),
          ("lp", {"p": 2.0}), ("power_mean", {"p": 3.0}), ("softpool", {}), ("lse", {"r": 2.0}),
          ("mixed", {"alpha": 0.25})]


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int64, np.bool_])
def test_global_pool(client, dtype):
    rng = np.random.default_rng([SEED, 11, np.dtype(dtype).num])
    cases = []
    for i, (method, kw) in enumerate(GLOBAL):
        if dtype == np.bool_ and method in ("lse", "softpool", "lp", "power_mean"):
            continue
        x = data(rng, (int(rng.integers(2, 40)), int(rng.integers(2, 40)), 3), dtype)
        xd = da.from_array(x, chunks=tuple(ragged(n, rng) for n in x.shape))
        for layout in [dict(channel_axis=-1), dict(axes=(0, 1), keepdims=True), {}]:
            with _quiet():
                ref = ndpool.global_pool(x, method, **layout, **kw)
            got = dask_aware(ndpool.global_pool)(xd, method, **layout, **kw)
            cases.append((f"{method} {x.dtype}{x.shape} {layout} chunks={xd.chunks}", ref, got))
    with _quiet():
        run_batch(client, cases)


def test_global_extremum_ties_follow_the_scan_order(client):
    """+0.0 / -0.0 ties across chunks resolve to the row-major first, as in memory."""
    x = np.full((6, 8), -1.0)
    x[4, 1] = -0.0           # later in row-major order, in the first column chunk
    x[1, 6] = 0.0            # earlier, in the second column chunk
    xd = da.from_array(x, chunks=(3, 4))
    ref = ndpool.global_pool(x, "max")
    got = dask_aware(ndpool.global_pool)(xd, "max")
    assert np.signbit(ref) == np.signbit(got.compute()) and not np.signbit(ref)
    x[1, 6], x[4, 1] = -0.0, 0.0
    ref = ndpool.global_pool(x, "max")
    assert np.signbit(ref) == np.signbit(dask_aware(ndpool.global_pool)(
        da.from_array(x, chunks=(3, 4)), "max").compute())


@pytest.mark.parametrize("method", ["mean", "max", "min", "sum", "median"])
def test_pyramid(client, method):
    rng = np.random.default_rng([SEED, 13, len(method)])
    cases = []
    for i, dtype in enumerate([np.uint8, np.float32, np.int64, np.uint16]):
        shape = (int(rng.integers(1, 70)), int(rng.integers(1, 70)), 3)
        x = data(rng, shape, dtype)
        xd = da.from_array(x, chunks=tuple(ragged(n, rng) for n in shape))
        factor = 2 if i % 2 else (3, 2)
        levels = None if i < 3 else 3
        ref = blockreduce.pyramid(x, factor, method, levels=levels, channel_axis=-1)
        got = dask_aware(blockreduce.pyramid)(xd, factor, method, levels=levels,
                                              channel_axis=-1)
        assert got[0] is xd
        cases.append((f"pyramid {method} {x.dtype}{shape} factor={factor}", ref, got))
    run_batch(client, cases)


# ---- larger than one call's memory ------------------------------------------------------------

def structured_image(n, chunk):
    """An n x n x 3 uint8 image with structure, built lazily (never in the client)."""
    i = (da.arange(n, chunks=chunk, dtype=np.int64) * 7 % 256).astype(np.uint8)
    j = (da.arange(n, chunks=chunk, dtype=np.int64) * 3 % 256).astype(np.uint8)
    c = da.from_array(np.array([0, 50, 100], np.uint8), chunks=3)
    return i[:, None, None] + j[None, :, None] + c[None, None, :]     # wraps in uint8


def _mean_blocks(a, axis=None):
    return a.mean(axis=axis)


def _round_mean_blocks(a, axis=None):
    return np.rint(a.mean(axis=axis)).astype(a.dtype)    # exact means of 4 integers


def _worker_peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024    # bytes (Linux)


def reduce_and_pyramid_bounded(client, n, chunk):
    """block_reduce (2, 2, 1) mean and the whole pyramid of an n x n x 3 uint8 image,
    checked against dask's coarsen, on the client's (memory-limited) workers.

    Returns (mismatching elements, peak RSS of each worker in bytes, pyramid depth).
    Fails if a worker was restarted meanwhile (as the nanny does past the limit).
    """
    x = structured_image(n, chunk)
    reduced = dask_aware(blockreduce.block_reduce)(x, (2, 2, 1), np.mean)
    checks = [(reduced != da.coarsen(_mean_blocks, x, {0: 2, 1: 2})).sum()]
    levels = dask_aware(blockreduce.pyramid)(x, 2, "mean", channel_axis=-1)
    ref = x
    for level in levels[1:]:
        ref = da.coarsen(_round_mean_blocks, ref, {0: 2, 1: 2})
        checks.append((level != ref).sum())
    pids = client.run(os.getpid)
    client.run(_warm_up)
    base = client.run(_worker_peak_rss)
    results = client.compute(checks, sync=True)
    peaks = client.run(_worker_peak_rss)
    assert client.run(os.getpid) == pids, "a worker was restarted (memory limit?)"
    return int(sum(results)), [(base[w], peaks[w]) for w in peaks], len(levels)


def _warm_up():
    """Import what the tasks need, so the base peak RSS includes the libraries."""
    import ndpool.blockreduce  # noqa: F401
    return _mean_blocks(np.zeros((2, 2)))


def test_larger_than_a_call_small_version():
    """The shape of the big test, 256 times smaller: runs in the default suite.

    On a cluster of its own: a worker's peak RSS is a lifetime figure, so workers
    that ran the other tests first would measure those.
    """
    cluster, client = _start_cluster(memory_limit=LIMIT)
    try:
        mismatches, peaks, depth = reduce_and_pyramid_bounded(client, 1024, 256)
    finally:
        client.close()
        cluster.close()
    assert mismatches == 0
    assert depth == 11
    # A worker's peak RSS is a lifetime figure that includes its imports (which vary
    # with what the test process had loaded); the work itself must stay far below
    # the limit.
    assert all(peak - base < LIMIT / 4 for base, peak in peaks), peaks


@pytest.mark.slow
def test_larger_than_a_call_16k_image():
    """16384 x 16384 x 3 uint8 (768 MiB; its float64 mean is 1.5 GiB) on two fresh
    workers limited to 400 MiB each: no worker is restarted or exceeds its limit,
    and the mean and every pyramid level equal dask's coarsen."""
    n = 16384
    cluster, client = _start_cluster(memory_limit=LIMIT)
    try:
        mismatches, peaks, depth = reduce_and_pyramid_bounded(client, n, 2048)
    finally:
        client.close()
        cluster.close()
        gc.collect()
    assert mismatches == 0
    assert depth == 15
    assert all(peak < LIMIT for _, peak in peaks), peaks
    assert max(peak for _, peak in peaks) < n * n * 3 / 1.9


class _quiet:
    """Silence NumPy's warnings (empty slices, NaN) in the reference and the tasks."""

    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")
        self._e = np.errstate(all="ignore")
        self._e.__enter__()

    def __exit__(self, *exc):
        self._e.__exit__(*exc)
        return self._w.__exit__(*exc)



def test_workers_are_resolved_where_the_task_runs(monkeypatch):
    """workers=None means the cores of the process that runs the task, not the client's:
    the graph carries the value as given."""
    import ndpool._dask
    seen = []
    real = ndpool._dask._task_threads
    monkeypatch.setattr(ndpool._dask, "_task_threads", lambda w: seen.append(w) or real(w))
    x = da.from_array(np.arange(64.0 * 64).reshape(64, 64), chunks=32)
    for call in (lambda: ndpool.max_pool(x, 2), lambda: ndpool.global_max_pool(x),
                 lambda: ndpool.avg_pool(x, 3, workers=1)):
        y = call()
        seen.clear()
        y.compute(scheduler="synchronous")
        assert seen and set(seen) <= {None, 1}, seen


@pytest.mark.parametrize("call", [
    lambda a: ndpool.spatial_pyramid_pool(a, (1, 2, 4), axes=(-2, -1)),
    lambda a: ndpool.spatial_pyramid_pool(a, (1, (2, 3)), "avg", axes=(-2, -1)),
    lambda a: ndpool.strip_pool(a, axes=(-2, -1)),
    lambda a: ndpool.strip_pool(a, "max", axes=(-2, -1), combine=True),
    lambda a: ndpool.strip_pool(a, channel_axis=1),
], ids=["spp-max", "spp-avg", "strip", "strip-combine", "strip-channel"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_spatial_pyramid_and_strip_pool_stay_lazy(call, dtype):
    """Built on the Dask-aware adaptive and global pools: lazy, and the in-memory values."""
    rng = np.random.default_rng([SEED, 29])
    x = data(rng, (2, 3, 13, 17), dtype)
    xd = da.from_array(x, chunks=(1, 3, 5, 6))
    want, got = call(x), call(xd)
    want, got = (want, got) if isinstance(want, list) else ([want], [got])
    assert len(got) == len(want)
    for w, g in zip(want, got):
        assert isinstance(g, da.Array), type(g)
        g = g.compute(scheduler="synchronous")
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_max_unpool(client):
    """Whole pooled planes per task (the indices are flat over a plane): lazy, and the
    in-memory result bit for bit, for dask or NumPy indices, any chunking."""
    rng = np.random.default_rng([SEED, 31])
    cases = []
    for i, dtype in enumerate([np.float32, np.int16, np.float64, np.uint8]):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                 int(rng.integers(2, 20)), int(rng.integers(2, 20)))
        x = data(rng, shape, dtype)
        k, s, p = [(2, 2, 0), (3, 2, 1), ((2, 3), (2, 1), (1, 0)), (2, 1, 0)][i]
        v, idx = ndpool.max_pool(x, k, s, p, axes=(2, 3), return_indices=True)
        size = shape[2:]              # the pooled input's size is always a valid output_size
        ref = ndpool.max_unpool(v, idx, k, s, p, size, axes=(2, 3))
        vd = da.from_array(v, chunks=tuple(ragged(n, rng) for n in v.shape))
        idx_d = da.from_array(idx, chunks=tuple(ragged(n, rng) for n in idx.shape))
        for label, ind in (("numpy indices", idx), ("dask indices", idx_d)):
            got = ndpool.max_unpool(vd, ind, k, s, p, size, axes=(2, 3))
            assert isinstance(got, da.Array)
            cases.append((f"max_unpool {x.dtype}{shape} {label}", ref, got))
    run_batch(client, cases)
    with pytest.raises(ValueError, match="indices has shape"):
        ndpool.max_unpool(da.zeros((2, 4, 4), chunks=2), np.zeros((2, 4, 3), np.intp), 2)

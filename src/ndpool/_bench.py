"""Benchmark harness: ndpool against scikit-image, PyTorch CPU, NumPy and a plain copy.

Run it as ``ndpool bench``, ``python -m ndpool._bench`` or ``python benchmarks/run.py``.
Every timing is also reported as a ratio to the copy time of the same input, measured in
the same run with the same number of threads: the machines we run on are shared and noisy,
and ratios survive noise that absolute numbers do not (see benchmarks/README.md).

Each case is one line in ``CASES``. Before a library is timed its answer is compared with
the NumPy baseline, so the table never shows the speed of a wrong result.
"""
import argparse
import contextlib
import datetime
import functools
import hashlib
import io
import itertools
import json
import math
import os
import platform
import socket
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

import ndpool
from ndpool import blockreduce

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None
try:
    import skimage
    from skimage.measure import block_reduce
except ImportError:
    skimage = block_reduce = None


@dataclass(frozen=True)
class Case:
    """One benchmark: ``ndpool.<method>_pool(x, kernel, stride, padding, channel_axis=...)``.

    ``kernel``, ``stride`` and ``padding`` are written as a user writes them; the pooled
    axes follow DESIGN.md section 2 (an int pools every non-channel axis, a sequence of
    length k the last k of them).
    """

    name: str
    shape: tuple
    dtype: str
    method: str  # a key of REDUCTIONS
    kernel: object
    stride: object = None
    padding: object = 0
    channel_axis: object = None
    api: str = "pool"  # or "block_reduce": ndpool.block_reduce(x, blocks, REDUCTIONS func)


BR = "block_reduce"
CASES = [
    Case("max2 f32 nchw", (8, 64, 256, 256), "float32", "max", (2, 2)),
    Case("avg2 f32 nchw", (8, 64, 256, 256), "float32", "avg", (2, 2)),
    Case("max2 f32 nhwc", (8, 256, 256, 64), "float32", "max", (2, 2), channel_axis=-1),
    Case("avg2 f32 nhwc", (8, 256, 256, 64), "float32", "avg", (2, 2), channel_axis=-1),
    Case("max3s2p1 f32 nchw", (8, 64, 112, 112), "float32", "max", (3, 3), 2, 1),
    Case("max3s2p1 f32 nhwc", (8, 112, 112, 64), "float32", "max", (3, 3), 2, 1, -1),
    Case("max2 u8 image", (4096, 4096, 3), "uint8", "max", 2, channel_axis=-1),
    Case("mean2 u8 image", (4096, 4096, 3), "uint8", "avg", 2, channel_axis=-1),
    Case("mean2 u16 volume", (128, 1024, 1024), "uint16", "avg", 2),
    Case("max2 f32 tiny", (1, 3, 32, 32), "float32", "max", (2, 2)),
    Case("br max u8 image", (4096, 4096, 3), "uint8", "max", 2, channel_axis=-1, api=BR),
    Case("br mean u8 image", (4096, 4096, 3), "uint8", "avg", 2, channel_axis=-1, api=BR),
    Case("br median u8 image", (4096, 4096, 3), "uint8", "median", 2, channel_axis=-1, api=BR),
    Case("br max f32 2048", (2048, 2048), "float32", "max", 2, api=BR),
    Case("br mean f32 2048", (2048, 2048), "float32", "avg", 2, api=BR),
    Case("br mean u16 volume", (256, 1024, 1024), "uint16", "avg", 2, api=BR),
]

QUICK_DIV = 8  # --quick divides the leading axis by this

# How the baselines compute each method: its NumPy reduction (also scikit-image's func), the
# ufunc that combines overlapping windows, and what padding adds. A new method needs a line.
REDUCTIONS = {
    "max": (np.max, np.maximum, "lowest"),
    "min": (np.min, np.minimum, "highest"),
    "sum": (np.sum, np.add, 0),
    "avg": (np.mean, np.add, 0),  # count_include_pad=True: padding counts in the divisor
    "median": (np.median, None, None),  # disjoint blocks only
}


# ---- inputs and geometry --------------------------------------------------------------

def make_input(case, quick):
    shape = list(case.shape)
    if quick:
        shape[0] = max(1, shape[0] // QUICK_DIV)
    rng = np.random.default_rng(0)
    dtype = np.dtype(case.dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape, dtype=dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def geometry(case, ndim):
    """The pooled axes and per-axis kernel, stride and padding tuples."""
    chan = None if case.channel_axis is None else case.channel_axis % ndim
    free = [a for a in range(ndim) if a != chan]
    axes = free if isinstance(case.kernel, int) else free[-len(case.kernel):]

    def per_axis(v):
        return (v,) * len(axes) if isinstance(v, int) else tuple(v)

    k = per_axis(case.kernel)
    s = k if case.stride is None else per_axis(case.stride)
    return axes, k, s, per_axis(case.padding), chan


# ---- the implementations --------------------------------------------------------------

def numpy_pool(x, case):
    """The NumPy baseline: a reshape for disjoint blocks, strided slices otherwise."""
    axes, k, s, p, _ = geometry(case, x.ndim)
    if any(p):
        pads = [(p[axes.index(a)],) * 2 if a in axes else (0, 0) for a in range(x.ndim)]
        x = np.pad(x, pads, constant_values=_pad_value(REDUCTIONS[case.method][2], x.dtype))
    if k == s:
        return _numpy_blocks(x, case.method, axes, k)
    return _numpy_windows(x, case.method, axes, k, s)


def _pad_value(fill, dtype):
    if not isinstance(fill, str):
        return fill
    if dtype.kind == "f":
        return -np.inf if fill == "lowest" else np.inf
    return np.iinfo(dtype).min if fill == "lowest" else np.iinfo(dtype).max


def _numpy_blocks(x, method, axes, k):
    shape, reduce_axes, trim = [], [], [slice(None)] * x.ndim
    for a, n in enumerate(x.shape):
        if a in axes:
            kk = k[axes.index(a)]
            trim[a] = slice(0, n // kk * kk)
            shape += [n // kk, kk]
            reduce_axes.append(len(shape) - 1)
        else:
            shape.append(n)
    blocks = x[tuple(trim)].reshape(shape)
    return REDUCTIONS[method][0](blocks, axis=tuple(reduce_axes))


def _numpy_windows(x, method, axes, k, s):
    reduce, combine, _ = REDUCTIONS[method]
    acc_type = reduce(np.zeros((1, 1), x.dtype), axis=1).dtype  # e.g. float64 for int means
    n_out = [(x.shape[a] - kk) // ss + 1 for a, kk, ss in zip(axes, k, s)]
    acc = None
    for offsets in itertools.product(*(range(kk) for kk in k)):
        index = [slice(None)] * x.ndim
        for a, o, ss, n in zip(axes, offsets, s, n_out):
            index[a] = slice(o, o + ss * (n - 1) + 1, ss)
        part = x[tuple(index)]
        if acc is None:
            acc = part.astype(acc_type)
        else:
            combine(acc, part, out=acc)
    if method == "avg":
        acc /= math.prod(k)
    return acc


def skimage_call(x, case):
    """``block_reduce`` for disjoint blocks that tile the pooled axes, else None."""
    axes, k, s, p, _ = geometry(case, x.ndim)
    tiles = all(x.shape[a] % kk == 0 for a, kk in zip(axes, k))
    if block_reduce is None or k != s or any(p) or not tiles:
        return None
    block = [1] * x.ndim
    for a, kk in zip(axes, k):
        block[a] = kk
    return lambda: block_reduce(x, tuple(block), REDUCTIONS[case.method][0])


def torch_calls(x, case):
    """{name: (call, to_numpy)} for torch on NCHW-contiguous and channels-last tensors.

    Both tensors are made here, outside the timing; the one matching x's own layout is a
    view of x. ``to_numpy`` puts a result back in x's axis order for the check.
    """
    axes, k, s, p, chan = geometry(case, x.ndim)
    d = len(axes)
    pool = getattr(F, f"{case.method}_pool{d}d", None) if torch is not None else None
    if pool is None or (case.method == "avg" and x.dtype.kind != "f"):
        return {}  # torch averages integers by truncating division: not the np.mean rule
    batch = [a for a in range(x.ndim) if a not in axes and a != chan]
    order = batch + ([chan] if chan is not None else []) + axes
    t = torch.from_numpy(x).permute(order)
    t = t.unsqueeze(0) if not batch else t.flatten(0, len(batch) - 1)
    if chan is None:
        t = t.unsqueeze(1)
    head = [x.shape[a] for a in order[:-d]]
    back = tuple(np.argsort(order))

    def to_numpy(r):
        return r.reshape(head + list(r.shape[2:])).permute(back).numpy()

    formats = {"torch": torch.contiguous_format}
    if d in (2, 3):
        formats["torch_cl"] = torch.channels_last if d == 2 else torch.channels_last_3d
    return {name: (functools.partial(pool, t.contiguous(memory_format=fmt), k, s, p), to_numpy)
            for name, fmt in formats.items()}


def ndpool_call(x, case, workers, out=None):
    if case.api == "block_reduce":
        axes, k, _, _, _ = geometry(case, x.ndim)
        block = [k[axes.index(a)] if a in axes else 1 for a in range(x.ndim)]
        func = REDUCTIONS[case.method][0]
        return lambda: blockreduce.block_reduce(x, block, func, workers=workers)
    pool = getattr(ndpool, f"{case.method}_pool")
    kw = dict(stride=case.stride, padding=case.padding, channel_axis=case.channel_axis,
              workers=workers)
    if out is not None:
        kw["out"] = out
    return lambda: pool(x, case.kernel, **kw)


def copy_call(x, workers, executor):
    """``np.copyto`` of x into a preallocated array, in `workers` chunks on `workers` threads."""
    src = np.array_split(x.reshape(-1), workers)
    dst = np.array_split(np.empty(x.size, x.dtype), workers)
    if workers == 1:
        return lambda: np.copyto(dst[0], src[0])
    return lambda: list(executor.map(np.copyto, dst, src))


# ---- timing and checking --------------------------------------------------------------

def measure(fn, budget, max_runs=1000):
    """Seconds per call: warm up once, then repeat for `budget` seconds (at least 3 runs)."""
    fn()
    times = []
    end = time.perf_counter() + budget
    while len(times) < 3 or (len(times) < max_runs and time.perf_counter() < end):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"min": min(times), "median": statistics.median(times), "runs": len(times)}


def measure_in_turns(fns, budget, block=2, max_turns=300, prepare=None):
    """Seconds per call of each of ``fns`` (key -> callable), timed in turns: each
    turn calls every one of them ``block + 1`` times in a row and times all calls
    but the first, until ``budget`` seconds per callable have passed (at least 3
    turns).  ``prepare`` (key -> callable, optional) runs before a block, untimed
    (PyTorch's thread count).

    Turns put the copy, the competitors and ndpool, at every thread count, in the
    same moments of a shared machine, so a slow second cannot make one of them look
    fast against the others.  The untimed first call of a block absorbs the
    hand-over from the previous callable: the OpenMP threads of a kernel spin for a
    while after it returns, and on 2 cores they take time from whatever runs next
    (a copy on Python threads measured 2 ms slower right after a pooling call).
    """
    prepare = prepare or {}
    times = {key: [] for key in fns}
    end = time.perf_counter() + budget * len(fns)
    turns = 0
    while turns < 3 or (turns < max_turns and time.perf_counter() < end):
        for key, fn in fns.items():
            if key in prepare:
                prepare[key]()
            fn()
            for _ in range(block):
                start = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - start)
        turns += 1
    return {key: {"min": min(t), "median": statistics.median(t), "runs": len(t)}
            for key, t in times.items()}


def verify(fn, ref, to_numpy=np.asarray):
    """Call fn once; return (its result, "ok..." | "MISMATCH: ..." | "error: ...")."""
    try:
        got = fn()
    except Exception as e:  # a failing library is a result to report, not a reason to stop
        return None, f"error: {type(e).__name__}: {str(e).splitlines()[0][:100]}"
    arr = to_numpy(got)
    if arr.shape != ref.shape:
        return got, f"MISMATCH: shape {arr.shape}, expected {ref.shape}"
    if not np.allclose(arr, ref, rtol=1e-5, atol=1e-6, equal_nan=True):
        return got, "MISMATCH: values"
    return got, "ok" if arr.dtype == ref.dtype else f"ok (dtype {arr.dtype}, numpy {ref.dtype})"


def bench_case(case, workers, budget, quick):
    """Yield one result row per worker count.

    NumPy and scikit-image run on one thread, so they are timed once and shared by
    rows.  The copy, PyTorch and ndpool are timed in the same turns at every worker
    count (measure_in_turns), so target 5's ratio of two thread counts is paired too.
    """
    x = make_input(case, quick)
    ref = numpy_pool(x, case)
    checks, times = {"numpy": "reference"}, {}
    single = {"numpy": lambda: numpy_pool(x, case)}
    sk = skimage_call(x, case)
    if sk is not None:
        single["skimage"] = sk
        checks["skimage"] = verify(sk, ref)[1]
    torch_fns = {}
    for name, (fn, to_numpy) in torch_calls(x, case).items():
        checks[name] = verify(fn, ref, to_numpy)[1]
        torch_fns[name] = fn
    passed = {name for name, status in checks.items() if status.startswith(("ok", "reference"))}
    torch_fns = {name: fn for name, fn in torch_fns.items() if name in passed}
    times.update({name: measure(fn, budget) for name, fn in single.items() if name in passed})
    fns, prepare, checks_at, digests = {}, {}, {}, {}
    with contextlib.ExitStack() as stack:
        for w in workers:
            executor = stack.enter_context(ThreadPoolExecutor(w))
            checks_at[w], digests[w] = ndpool_calls(x, ref, case, w, fns, dict(checks))
            fns["copy", w] = copy_call(x, w, executor)
            for name, fn in torch_fns.items():
                fns[name, w] = fn
                prepare[name, w] = functools.partial(torch.set_num_threads, w)
        timed = measure_in_turns(fns, budget, prepare=prepare)
    for w in workers:
        at_w = {name: t for (name, ww), t in timed.items() if ww == w}
        yield {**make_row(case, x, ref, w, {**times, **at_w}, checks_at[w]),
               "digest": digests[w]}


def ndpool_calls(x, ref, case, w, fns, checks):
    """Check ndpool on w threads (allocating, and with out=) and add the calls that
    pass to ``fns`` under (name, w); return the checks and the result's digest."""
    got, checks["ndpool_alloc"] = verify(ndpool_call(x, case, w), ref)
    if not checks["ndpool_alloc"].startswith("ok"):
        return checks, None
    fns["ndpool_alloc", w] = ndpool_call(x, case, w)
    if case.api == "pool":                                     # block_reduce: no out=
        out = np.empty_like(got)
        fn = ndpool_call(x, case, w, out)
        checks["ndpool"] = verify(fn, ref, lambda _: out)[1]
        if checks["ndpool"].startswith("ok"):
            fns["ndpool", w] = fn
    return checks, hashlib.sha256(np.ascontiguousarray(got).tobytes()).hexdigest()


def make_row(case, x, ref, workers, times, checks):
    """Ratios use minimum times: nd/copy the out= call, others/nd the allocating call."""
    best = {name: t["min"] for name, t in times.items()}
    alloc, copy = best.get("ndpool_alloc"), best["copy"]
    nd = best.get("ndpool", alloc)
    ratios = {"nd/copy": nd / copy if nd else None}
    for name in ("torch", "torch_cl", "skimage", "numpy"):
        ratios[f"{name}/nd"] = best[name] / alloc if alloc and name in best else None
    gbps = {"ndpool": (x.nbytes + ref.nbytes) / nd / 1e9 if nd else None,
            "copy": 2 * x.nbytes / copy / 1e9}
    return {**asdict(case), "shape": list(x.shape), "workers": workers, "bytes_in": x.nbytes,
            "bytes_out": ref.nbytes, "times": times, "ratios": ratios, "gbps": gbps,
            "checks": checks}


# ---- report ---------------------------------------------------------------------------

def _fmt(v):
    if v is None:
        return "-"
    for digits, floor in ((0, 100), (1, 10), (2, 1), (3, 0.001)):
        if v >= floor:
            return f"{v:.{digits}f}"
    return f"{v:.2g}"


def _ms(row, name):
    if name in row["times"]:
        return _fmt(row["times"][name]["min"] * 1e3)
    return "FAIL" if name in row["checks"] else "-"


COLUMNS = [  # header, width, cell
    ("case", 18, lambda r: r["name"]),
    ("w", 2, lambda r: str(r["workers"])),
    ("nd ms", 7, lambda r: _ms(r, "ndpool")),
    ("alloc ms", 8, lambda r: _ms(r, "ndpool_alloc")),
    ("nd GB/s", 7, lambda r: _fmt(r["gbps"]["ndpool"])),
    ("copy ms", 7, lambda r: _ms(r, "copy")),
    ("cp GB/s", 7, lambda r: _fmt(r["gbps"]["copy"])),
    ("nd/copy", 7, lambda r: _fmt(r["ratios"]["nd/copy"])),
    ("torch/nd", 8, lambda r: _fmt(r["ratios"]["torch/nd"])),
    ("t_cl/nd", 7, lambda r: _fmt(r["ratios"]["torch_cl/nd"])),
    ("sk/nd", 6, lambda r: _fmt(r["ratios"]["skimage/nd"])),
    ("np/nd", 6, lambda r: _fmt(r["ratios"]["numpy/nd"])),
]


def format_row(cells):
    first, *rest = zip(cells, COLUMNS)
    return "  ".join([f"{first[0]:<{first[1][1]}}"] + [f"{c:>{col[1]}}" for c, col in rest])


def describe(case):
    defaults = {"stride": None, "padding": 0, "channel_axis": None}
    kw = "".join(f", {k}={getattr(case, k)!r}" for k, d in defaults.items()
                 if getattr(case, k) != d)
    shape = "x".join(map(str, case.shape))
    call = f"{case.method}_pool(x, {case.kernel!r}{kw})"
    if case.api == "block_reduce":
        call = f"block_reduce(x, {case.kernel!r}, np.{REDUCTIONS[case.method][0].__name__}{kw})"
    return f"{case.name:<18}  {case.dtype:<7} {shape:<16}  {call}"


def print_header(info):
    v = info["versions"]
    libs = ", ".join(f"{k} {v[k]}" for k in ("ndpool", "numpy", "torch", "skimage") if k in v)
    openmp = (info["ndpool_config"] or {}).get("openmp")
    load = info["loadavg_at_start"]
    load = f", load {load[0]:.2f}" if load else ""
    print(f"{info['cpu']}, {info['usable_cores']} usable cores{load}; {libs}; openmp: {openmp}")
    print("ms: minimum over repeats.  nd/copy: ndpool(out=) time / copy time, lower is better."
          "  X/nd: X time / ndpool time, above 1 ndpool is faster.")
    print(format_row([h for h, _, _ in COLUMNS]))


def print_notes(rows):
    notes = {(r["name"], name, status): None for r in rows
             for name, status in r["checks"].items() if status not in ("ok", "reference")}
    for case, name, status in notes:
        print(f"  note: {case}: {name}: {status}")


# ---- targets ------------------------------------------------------------------------
# Issue 6's performance targets, each a ratio of two times taken in the same run.

TARGET1 = ("max2 f32 nchw", "avg2 f32 nchw", "max2 f32 nhwc", "avg2 f32 nhwc")
RATIO_TARGETS = [  # (target, case, ratio, "<=" or ">=", bound)
    *((1, name, "nd/copy", "<=", 0.8) for name in TARGET1),
    (2, "max3s2p1 f32 nchw", "torch_cl/nd", ">=", 1.0),
    (2, "max3s2p1 f32 nhwc", "torch_cl/nd", ">=", 1.0),
    (3, "br max u8 image", "nd/copy", "<=", 1.2), (3, "br mean u8 image", "nd/copy", "<=", 1.2),
    (3, "br max u8 image", "skimage/nd", ">=", 100.0),
    (3, "br mean u8 image", "skimage/nd", ">=", 100.0),
    (4, "mean2 u16 volume", "nd/copy", "<=", 1.0),
    (6, "max2 f32 tiny", "torch/nd", ">=", 0.5),
]
SCALING = 1.7           # target 5: 2 workers over 1 worker on TARGET1's cases
NO_CLIFF = 3.0          # target 7: catalogue time / max_pool time
NO_CLIFF_EXCEPTED = ("median_pool", "bilinear_pool")


def targets(rows, catalogue=None):
    """Every target the rows (and a catalogue run) measure: a list of dicts with
    ``target``, ``what``, ``measured``, ``limit`` and ``status`` (PASS, FAIL or
    "reported" for the methods excepted from target 7)."""
    by = {(r["name"], r["workers"]): r for r in rows}
    workers = sorted({r["workers"] for r in rows})
    out = []

    def add(target, what, measured, limit, ok):
        status = "-" if measured is None else ("PASS" if ok else "FAIL")
        out.append(dict(target=target, what=what, measured=measured, limit=limit,
                        status=status))

    for target, name, ratio, op, bound in RATIO_TARGETS:
        for w in workers:
            if (name, w) in by:
                v = by[name, w]["ratios"][ratio]
                ok = v is not None and (v <= bound if op == "<=" else v >= bound)
                add(target, f"{name}, w={w}: {ratio}", v, f"{op} {bound}", ok)
    for name in TARGET1:
        one, two = by.get((name, 1)), by.get((name, 2))
        if one and two:
            t1, t2 = (r["times"].get("ndpool", r["times"].get("ndpool_alloc")) for r in (one, two))
            v = t1["min"] / t2["min"] if t1 and t2 else None
            same = one["digest"] is not None and one["digest"] == two["digest"]
            # the copy's own scaling in the same turns: what the memory gives two threads
            c1, c2 = (r["times"].get("copy") for r in (one, two))
            copy = f", copy {c1['min'] / c2['min']:.2f}" if c1 and c2 else ""
            add(5, f"{name}: t(w=1)/t(w=2), bit-identical: {same}{copy}", v, f">= {SCALING}",
                v is not None and v >= SCALING and same)
    for r in (catalogue or {}).get("results", []):
        excepted = r["method"] in NO_CLIFF_EXCEPTED
        per = r.get("per_covered_element")     # region pools: see benchmarks/catalogue.py
        per = f" (per element the boxes cover: {per:.2f})" if per is not None else ""
        add(7, f"{r['method']}: time / max_pool{per}", r["vs_max_pool"],
            "reported" if excepted else f"<= {NO_CLIFF}", excepted or r["vs_max_pool"] <= NO_CLIFF)
        if excepted:
            out[-1]["status"] = "reported"
    return sorted(out, key=lambda t: t["target"])


def print_targets(found):
    if not found:
        return
    print("\ntargets (issue 6)")
    for t in found:
        print(f"  {t['target']}  {t['what']:<58} {_fmt(t['measured']):>8}  {t['limit']:<9} "
              f"{t['status']}")
    counted = [t for t in found if t["status"] in ("PASS", "FAIL")]
    print(f"  {sum(t['status'] == 'PASS' for t in counted)} of {len(counted)} PASS")


# ---- machine and entry point ----------------------------------------------------------

def usable_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def ndpool_config():
    show = getattr(ndpool, "show_config", None)
    if show is None:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        cfg = show()
    return cfg if isinstance(cfg, dict) else None


def machine_info():
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "ndpool": getattr(ndpool, "__version__", "unknown")}
    if torch is not None:
        versions["torch"] = torch.__version__
    if skimage is not None:
        versions["skimage"] = skimage.__version__
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable_cores(),
            "hostname": socket.gethostname(), "platform": platform.platform(),
            "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "versions": versions, "ndpool_config": ndpool_config()}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="ndpool bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help=f"leading axis / {QUICK_DIV} and a short budget: a smoke run")
    p.add_argument("--workers", type=int, nargs="+", metavar="W",
                   help="thread counts (default: 1 and every usable core)")
    p.add_argument("--cases", nargs="+", metavar="SUBSTR",
                   help="only the cases whose name contains one of these")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="repeat each timing this long (default 0.5; 0.1 with --quick)")
    p.add_argument("--json", metavar="PATH", help="write machine info and all results here")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    args = p.parse_args(argv)
    if args.workers and min(args.workers) < 1:
        p.error("--workers must be at least 1")
    return args


def main(argv=None):
    """Run the benchmark; return 1 if ndpool gave a wrong answer or failed, else 0."""
    args = parse_args(argv)
    cases = [c for c in CASES if not args.cases or any(s in c.name for s in args.cases)]
    if args.list or not cases:
        print("\n".join(map(describe, cases)) or "no case matches --cases")
        return 0 if cases else 2
    workers = args.workers or sorted({1, usable_cores()})
    budget = args.budget if args.budget is not None else (0.1 if args.quick else 0.5)
    info = machine_info()
    print_header(info)
    rows = []
    torch_threads = torch.get_num_threads() if torch is not None else None
    try:
        for case in cases:
            for row in bench_case(case, workers, budget, args.quick):
                rows.append(row)
                print(format_row([cell(row) for _, _, cell in COLUMNS]), flush=True)
    finally:
        if torch is not None:
            torch.set_num_threads(torch_threads)
    print_notes(rows)
    found = targets(rows)
    print_targets(found)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "args": vars(args), "workers": workers,
                       "budget_s": budget, "results": rows, "targets": found},
                      f, indent=1, default=str)
    failed = any(not s.startswith("ok") for r in rows
                 for name, s in r["checks"].items() if name.startswith("ndpool"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Dask scale-out: the pooling functions on ``dask.array.Array`` inputs, lazily, exactly.

Every public function decorated with :func:`dask_aware` keeps its NumPy path
untouched (one type check) and, given a dask array, returns a lazy dask array
whose computed value equals the in-memory call on the whole array bit for bit,
whatever the chunking.  Dask is imported only when a dask array arrives.

How each family is cut into tasks
---------------------------------
**Window functions** (``max_pool`` ... ``tree_pool``, ``stochastic_pool``, the
adaptive pools).  The call is validated and planned once, in the client, on a
zero-strided stand-in of the input's shape (:class:`ndpool._spec.WindowSpec`,
so errors are the in-memory ones, raised eagerly).  Then, per pooled axis:

1. *Output chunks.*  Each input chunk boundary ``b`` proposes the first window
   whose first tap is at or after ``b``; its first tap ``B`` becomes an input
   boundary.  Proposals whose window starts in the padding, that would leave an
   output chunk empty or an input piece shorter than the halo, are dropped (the
   neighbouring chunks merge).  So every output chunk's windows start inside its
   own input piece ``[B_k, B_k+1)``, and chunk 0 alone sees the left padding,
   the last chunk alone the right padding and the ceil-mode overhang.
2. *Halo.*  The windows of chunk ``k`` end at most ``h = max_o(end[o-1] -
   start[o])`` elements past ``B_k+1`` (``dilation * (kernel - 1) + 1 - stride``
   for a regular grid, 0 when windows do not overlap).  The input is rechunked to
   the boundaries ``B`` and, where ``h > 0``, given a right-only halo of ``h``
   with ``dask.array.overlap.overlap(..., boundary="none")``: no padding is ever
   materialised; padding exists only in the plans, at the array's true edges.
3. *Tasks.*  ``map_blocks`` runs, on each slab, the very core the in-memory
   function runs (``window._max``, ``smooth._lp``, ``rank._median``...), on the
   global plan's rows for that chunk, shifted to the slab (start, tap count,
   divisor, skipped taps; ``before`` re-based so evenly spaced windows stay
   evenly spaced).  The kernels see the same windows with the same taps in the
   same order as in the whole-array call, so the results are identical.  Tasks
   re-plan from a few integers (plans are cached per process), so the graph
   carries no per-window tables.  Indices (``return_indices``) are converted
   from the slab's pooled sub-shape to the whole array's.

**block_reduce** and **pyramid**: the blocks never overlap, so the input is only
rechunked so that every chunk boundary is a multiple of the block size (nearest
to the existing boundaries; small chunks are merged, and a remainder shorter than
a block joins its neighbour) and each chunk is reduced by the in-memory function;
with ``boundary="pad"`` the only partial blocks are in the last chunk, padded
there exactly as in the whole-array call.  "trim" slices the array first.  One
exception: where ``block_reduce`` hands blocks to NumPy itself (any other
callable, ``func_kwargs``, and the partial float blocks of sum/mean), NumPy's
float summation order follows the strides of the array it is given, so there the
chunks are row bands (split along axis 0 only, whole along every other axis):
each band, padded or not, has the strides of the whole image, and the sums come
out in the same order.  A band is at least one block of rows by the whole width.  A pyramid level is computed from the previous level,
chunk by chunk, and the level's chunks are merged back to the input's chunk
length, so every level has about the same task size and the number of tasks
falls by the factor's product at each level.

**global_pool**: a reduction in two steps, each chunk reduced by the kernels and
the per-chunk results combined, where that is exact: ``max``/``min`` for every
dtype (each chunk reports its winner and the winner's index, so ties between
+0.0 and -0.0 and the NaN reported follow the whole-array scan order), ``sum``
of bool and integer arrays (64-bit sums wrap the same way in any order), and
``avg``/``mixed`` of bool and integer arrays whose sums are exact in float64.
Float sums, means and the smooth methods are not associative in floating point,
and median needs every value of a plane: for these the pooled axes are
rechunked into one chunk per plane and the in-memory ``global_pool`` runs on
it.  That is exact, and costs the memory of one plane (times the other axes'
chunk) per task; a memory-bounded exact median (radix selection on byte
histograms) would be the way to lift that limit for median.

Threads: ``workers`` is passed on to every task (``None``: all the cores the
worker process may use; ``dask.distributed`` workers set ``OMP_NUM_THREADS=1``).
``max_unpool`` gets whole pooled planes per task (its indices are flat over a
plane).  Unsupported with dask inputs: ``out=`` (a lazy result has no buffer);
``fractional_max_pool`` and the other functions of the catalogue that are not
decorated compute a dask input into memory first (spatial pyramid and strip
pooling stay lazy, being built on the adaptive and global pools).
``stochastic_pool(mode="sample")`` uses the in-memory call's uniform variates,
one float64 per output element of ``rng.random(output_shape)``, so that the
same seed gives the same draws.  With NumPy's default bit generator (PCG64, or
PCG64DXSM) each task computes the variates of its own output block from the
generator's state (``_uniforms.block``: the stream can jump ahead), and none
of them is held in the client; with other bit generators the client draws them
all and they travel as a dask array.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import _uniforms
from ._bands import AxisLayout, axis_layout, ends, globalize, local_plan, run_core

__all__ = ["dask_aware", "dispatch", "is_dask_array"]


# ---- dispatch -----------------------------------------------------------------------------

def is_dask_array(x):
    """Whether ``x`` is a ``dask.array.Array`` (without importing dask)."""
    mod = sys.modules.get("dask.array")
    return mod is not None and isinstance(x, mod.Array)


def dask_aware(func):
    """Let a public ndpool function take a ``dask.array.Array`` and return one, lazily.

    NumPy (and anything else that is not a dask array) goes straight to ``func``.
    Apply it as the outermost decorator; it keeps the name, signature and docstring.
    """
    if getattr(func, "__ndpool_dask__", False):
        return func
    name = func.__name__
    if name not in _HANDLERS:
        raise ValueError(f"dask_aware does not know how to distribute {name!r}")
    sig = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(x, *args, **kwargs):
        if type(x) is np.ndarray or not is_dask_array(x):
            return func(x, *args, **kwargs)
        bound = sig.bind(x, *args, **kwargs)
        bound.apply_defaults()
        params = dict(bound.arguments)
        for p in sig.parameters.values():      # **method_kwargs flattened in
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                params.update(params.pop(p.name, {}))
        first = next(iter(sig.parameters))
        return _HANDLERS[name](name, params.pop(first), params)

    wrapper.__ndpool_dask__ = True
    return wrapper


def dispatch(name, arguments):
    """The dask path of the public function ``name``, from its arguments by name.

    The alternative to :func:`dask_aware` without a wrapper: as the first line of a
    public function, ``if is_dask_array(x): return dispatch("max_pool", locals())``
    (``locals()`` there holds exactly the parameters, the array first).
    """
    params = dict(arguments)
    params.update(params.pop("method_kwargs", None) or {})   # **method_kwargs
    first = next(iter(params))
    return _HANDLERS[name](name, params.pop(first), params)


def _public(name):
    """The public ndpool function ``name`` (decorated or not) without a circular import."""
    for mod in ("blockreduce", "adaptive", "window", "smooth", "rank", "mixing"):
        module = importlib.import_module(f"ndpool.{mod}")
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(name)


def _check_chunks(x):
    if any(math.isnan(c) for cs in x.chunks for c in cs):
        raise ValueError("the dask array has unknown chunk sizes; call "
                         "x.compute_chunk_sizes() first")


def _no_out(params, name):
    if params.get("out") is not None:
        raise TypeError(f"{name}: out= cannot be used with a dask array input "
                        f"(the result is lazy); store the result instead")


# ---- plans that tasks can rebuild from a few integers ----------------------------------

def _planner(spec, i):
    """A small, picklable recipe that rebuilds the spec's plan of pooled axis i."""
    plan, ax = spec.plans[i], spec.axes[i]
    if plan.stride == 0:                       # adaptive bins (or global)
        return ("bins", plan.n, plan.out, ax)
    return ("axis", plan.n, plan.kernel, plan.stride, spec.padding[i], plan.dilation,
            spec.ceil_mode, ax)


def _replan(recipe):
    from ._planning import plan_axis, plan_bins
    if recipe[0] == "bins":
        _, n, out, ax = recipe
        return plan_bins(n, out, axis=ax)
    _, n, k, s, p, d, ceil, ax = recipe
    return plan_axis(n, k, s, p, d, ceil, axis=ax, lazy=True)   # tasks take parts


@dataclass(frozen=True)
class _WindowJob:
    """Everything a window task needs, small enough to travel with every task."""
    name: str
    axes: tuple
    recipes: tuple
    layouts: tuple
    channel_axis: object
    params: tuple          # sorted (name, value) pairs of the method's own parameters
    workers: object        # as given (checked on the client), resolved in each task
    with_u: bool = False
    # stochastic sampling's draws, where each task computes its own block of them
    # (_uniforms.block): the stream's words, the output's shape and, per axis, the
    # output chunks' starts; None where they travel as a dask array instead
    draws: object = None

    def local_spec(self, block, block_id):
        from ._spec import WindowSpec
        plans = [local_plan(_replan(r), lay, block_id[ax])
                 for ax, r, lay in zip(self.axes, self.recipes, self.layouts)]
        return WindowSpec.from_plans(block, self.axes, plans, self.channel_axis)


def _pack(values, index):
    """Values and indices in one structured block (map_blocks has one output)."""
    rec = np.empty(values.shape, [("v", values.dtype), ("i", np.intp)])
    rec["v"] = values
    rec["i"] = index
    return rec


def _task_threads(workers):
    """``workers`` resolved where the task runs: None means that process's cores."""
    from ._threads import resolve_workers
    return resolve_workers(workers)


def _window_task(block, *rest, job, block_id=None):
    p = dict(job.params)
    spec = job.local_spec(block, block_id)
    u = None
    if job.with_u and job.draws is None:
        u = rest[0]
    elif job.with_u:
        from ._uniforms import block
        words, shape, starts = job.draws
        u = block(np.array(words, np.uint64), shape,
                  [s[i] for s, i in zip(starts, block_id)], spec.out_shape,
                  _task_threads(job.workers))
    result = run_core(job.name, spec, _task_threads(job.workers), p, u)
    if isinstance(result, tuple):
        values, index = result
        local_ns = [pl.n for pl in spec.plans]
        offsets = [lay.slab(block_id[ax])[0] for ax, lay in zip(job.axes, job.layouts)]
        global_ns = [lay.n for lay in job.layouts]
        return _pack(values, globalize(index, local_ns, offsets, global_ns))
    return result


def _field(block, name):
    return np.ascontiguousarray(block[name])


# ---- window-family handler ----------------------------------------------------------------

_SPEC_ARGS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "axes",
              "channel_axis")
_METHOD_PARAMS = {
    "avg_pool": ("count_include_pad", "divisor_override"),
    "lp_pool": ("p",), "power_mean_pool": ("p", "eps"), "lse_pool": ("r",),
    "mixed_pool": ("alpha",), "gated_pool": ("gate",), "tree_pool": ("leaves", "gates"),
    "stochastic_pool": ("mode", "return_indices"),
    "max_pool": ("return_indices",), "min_pool": ("return_indices",),
    "adaptive_max_pool": ("return_indices",),
}


def _stand_in(x):
    """A zero-strided array of x's shape and dtype: planning without data."""
    return np.broadcast_to(np.zeros((), x.dtype), x.shape)


def _window_spec(name, x, params):
    from ._spec import WindowSpec
    if name.startswith("adaptive"):
        from .adaptive import _adaptive_spec
        return _adaptive_spec(_stand_in(x), params["output_size"], params["axes"],
                              params["channel_axis"])
    if name == "stochastic_pool" and params["mode"] not in ("sample", "expectation"):
        raise ValueError(f"mode must be 'sample' or 'expectation', got {params['mode']!r}")
    if name == "stochastic_pool" and params["return_indices"] and params["mode"] != "sample":
        raise ValueError("return_indices=True needs mode='sample'")
    return WindowSpec(_stand_in(x), *(params[k] for k in _SPEC_ARGS))


def _probe(job, spec, x, p):
    """Run the task on a tiny slab (the first window of each pooled axis).

    Validates the method's own parameters eagerly (as the in-memory call does)
    and gives the result's dtype.
    """
    from ._spec import WindowSpec
    shape, plans = [], []
    for ax in range(x.ndim):
        if ax in spec.axes:
            plan = spec.plans[spec.axes.index(ax)]
            m = min(plan.out, 1)
            end = int(ends(plan.part(0, 1, 0, plan.n)[2])[0]) if m else 0
            lay = AxisLayout((0,), (0,), max(end, 1) if plan.n else 0, m, 0)
            plans.append(_probe_plan(plan, lay, m))
            shape.append(lay.n)
        elif ax == spec.channel_axis:
            shape.append(x.shape[ax])
        else:
            shape.append(min(x.shape[ax], 1))
    slab = np.zeros(shape, x.dtype)
    local = WindowSpec.from_plans(slab, spec.axes, plans, spec.channel_axis)
    u = np.zeros(local.out_shape) if job.with_u else None
    result = run_core(job.name, local, _task_threads(job.workers), p, u)
    if isinstance(result, tuple):
        return np.dtype([("v", result[0].dtype), ("i", np.intp)])
    return result.dtype


def _probe_plan(plan, lay, m):
    return plan.part(0, m, 0, lay.n)[2]


def _window(name, x, params):
    import dask.array as da

    from ._params import generator
    from ._threads import resolve_workers
    _check_chunks(x)
    _no_out(params, name)
    spec = _window_spec(name, x, params)
    if name == "adaptive_pool":
        p = {k: v for k, v in params.items()
             if k not in ("output_size", "axes", "channel_axis", "workers")}
    else:
        p = {k: params[k] for k in _METHOD_PARAMS.get(name, ())}
    resolve_workers(params.get("workers"))       # checked here, resolved on the worker
    if x.size == 0:                      # nothing to distribute: the in-memory call itself
        return _stand_in_call(name, x, params)
    if spec.channel_axis is not None and np.ndim(p.get("alpha", 0)) > 0:
        x = x.rechunk({spec.channel_axis: -1})   # one alpha per channel: whole channel axis
    sample = name == "stochastic_pool" and p["mode"] == "sample"
    # The layout reads whole tables: built once here, on the client.
    layouts = [axis_layout(plan.eager(), x.chunks[ax])
               for ax, plan in zip(spec.axes, spec.plans)]
    job = _WindowJob(name, tuple(spec.axes),
                     tuple(_planner(spec, i) for i in range(len(spec.axes))),
                     tuple(layouts), spec.channel_axis, tuple(sorted(p.items())),
                     params.get("workers"), with_u=sample)
    dtype = _probe(job, spec, x, p)
    out_chunks = list(x.chunks)
    for ax, lay in zip(spec.axes, layouts):
        out_chunks[ax] = lay.out_chunks
    out_shape = spec.out_shape
    extra = []
    if sample:   # the in-memory call's draws, in the same order
        rng = generator(params["rng"])
        words = _uniforms.take(rng, math.prod(out_shape))
        if words is None:        # a bit generator without jump-ahead: drawn here
            u = rng.random(out_shape)
            extra.append(da.from_array(u, chunks=tuple(out_chunks)))
        else:                    # each task draws its block
            starts = tuple(tuple(np.cumsum((0,) + tuple(c[:-1])).tolist())
                           for c in out_chunks)
            job = dataclasses.replace(job, draws=(tuple(int(w) for w in words),
                                                  tuple(out_shape), starts))
    xr = x.rechunk({ax: lay.in_chunks for ax, lay in zip(spec.axes, layouts)})
    depth = {ax: (0, lay.halo) for ax, lay in zip(spec.axes, layouts) if lay.halo}
    if depth:
        xr = da.overlap.overlap(xr, depth=depth, boundary="none", allow_rechunk=False)
    result = da.map_blocks(_window_task, xr, *extra, job=job, chunks=tuple(out_chunks),
                           dtype=dtype, meta=np.empty((0,) * x.ndim, dtype),
                           token=f"ndpool-{name}")
    if dtype.names:
        v = result.map_blocks(_field, "v", dtype=dtype["v"])
        i = result.map_blocks(_field, "i", dtype=np.intp)
        return v, i
    return result


# ---- block_reduce and pyramid: aligned blocks ---------------------------------------------

def _block_tuple(size, ndim, channel):
    """block_size / factor as one int per axis (already validated by a probe call)."""
    if np.ndim(size) == 0:
        sizes = [int(np.asarray(size).item())] * ndim
        if channel is not None:
            sizes[channel] = 1
    else:
        sizes = [int(v) for v in size]
        if channel is not None and len(sizes) == ndim - 1:
            sizes.insert(channel, 1)
    return tuple(sizes)


def _aligned_chunks(chunks, b, min_len=1):
    """Chunks whose boundaries are multiples of b, near the given boundaries.

    Every chunk but the last is at least ``max(b, min_len)`` long, and the last at
    least b (or the whole axis): a remainder shorter than a block joins the chunk
    before it, so a chunk never sees an axis of length 1 that the whole array does
    not (the in-memory pyramid skips such axes, which turns -0.0 means into -0.0).
    """
    n = int(sum(chunks))
    if b == 1 and min_len <= 1:
        return tuple(chunks)
    if n == 0:
        return (0,)
    step = max(b, min_len)
    bounds = [0]
    for e in np.cumsum(chunks)[:-1].tolist():
        c = int(round(e / b)) * b
        if c - bounds[-1] >= step and n - c >= b:
            bounds.append(c)
    return tuple(np.diff(bounds + [n]).tolist())


def _reduced_chunks(chunks, b):
    return tuple(-(-c // b) for c in chunks)


def _block_reduce_task(block, *, block_size, reducer, cval, func_kwargs, workers):
    return np.asarray(_public("block_reduce")(block, block_size, reducer, cval, func_kwargs,
                                              boundary="pad", workers=workers))


_FAST_FUNCS = ((np.sum, "sum"), (np.nansum, "sum"), (np.mean, "mean"), (np.nanmean, "mean"),
               (np.max, "order"), (np.amax, "order"), (np.min, "order"), (np.amin, "order"),
               (np.nanmax, "order"), (np.nanmin, "order"), (np.median, "order"))


def _layout_sensitive(func, func_kwargs, dtype, shape, block, boundary):
    """Whether block_reduce's result may depend on the memory layout of what it reduces.

    The kernels (full blocks of the fast functions) do not depend on it; NumPy's
    own float reductions (any other callable, ``func_kwargs``, and the partial
    blocks that ``boundary="pad"`` hands to ``func``) sum in an order that follows
    the strides of the array they are given.
    """
    kind = None if func_kwargs else next((k for f, k in _FAST_FUNCS if func is f), None)
    if kind is None:
        return True
    if kind == "order":
        return False
    partial = boundary == "pad" and any(n % b for n, b in zip(shape, block))
    if dtype.kind == "f":
        return partial
    return kind == "mean" and not _int_sums_exact(dtype, math.prod(block))


def _block_reduce(name, image, params):
    import dask.array as da

    from ._layout import normalize_axis
    _check_chunks(image)
    block_size, func, cval = params["block_size"], params["func"], params["cval"]
    func_kwargs, boundary = params["func_kwargs"], params["boundary"]
    channel_axis, workers = params["channel_axis"], params["workers"]
    br = _public("block_reduce")
    ndim = image.ndim
    if ndim == 0 or 0 in image.shape:   # nothing to distribute: the in-memory call itself
        return _from_stand_in(br(np.empty(image.shape, image.dtype), block_size, func, cval,
                                 func_kwargs, boundary=boundary, channel_axis=channel_axis,
                                 workers=workers))
    # The image, channel_axis and block_size, checked by the in-memory call (on one
    # element, with a func that cannot fail), then the rest in its order.
    br(np.zeros((1,) * ndim, image.dtype), block_size, np.sum, 0, None,
       channel_axis=channel_axis)
    if not callable(func):
        raise TypeError(f"func must be callable, got {func!r}")
    if func_kwargs is not None and not isinstance(func_kwargs, Mapping):
        raise TypeError(f"func_kwargs must be a dict of keyword arguments for func, "
                        f"got {type(func_kwargs).__name__}")
    if not isinstance(boundary, str) or boundary not in ("pad", "trim", "exact"):
        raise ValueError(f"boundary must be one of ('pad', 'trim', 'exact'), got {boundary!r}")
    channel = None if channel_axis is None else normalize_axis(channel_axis, ndim,
                                                               "channel_axis")
    block = _block_tuple(block_size, ndim, channel)
    if boundary == "exact":
        for ax, (n, b) in enumerate(zip(image.shape, block)):
            if n % b:
                raise ValueError(f"boundary='exact': axis {ax} of length {n} is not "
                                 f"divisible by its block size {b}")
    if boundary == "trim":
        image = image[tuple(slice(0, n - n % b) for n, b in zip(image.shape, block))]
        if 0 in image.shape:
            return _from_stand_in(br(np.empty(image.shape, image.dtype), block, func, cval,
                                     func_kwargs, workers=workers))
    dtype = np.asarray(br(np.zeros(block, image.dtype), block, func, cval, func_kwargs)).dtype
    if _layout_sensitive(func, func_kwargs, image.dtype, image.shape, block, boundary):
        # Row bands over the whole extent of every other axis: each band (padded or
        # not) has the strides of the whole image, so NumPy sums in the same order.
        chunks = ((_aligned_chunks(image.chunks[0], block[0]),)
                  + tuple((n,) for n in image.shape[1:]))
    else:
        chunks = tuple(_aligned_chunks(c, b) for c, b in zip(image.chunks, block))
    x = image.rechunk(chunks)
    out_chunks = tuple(_reduced_chunks(c, b) for c, b in zip(chunks, block))
    return da.map_blocks(_block_reduce_task, x, block_size=block, reducer=func, cval=cval,
                         func_kwargs=func_kwargs, workers=workers, chunks=out_chunks,
                         dtype=dtype, meta=np.empty((0,) * ndim, dtype),
                         token="ndpool-block_reduce")


def _from_stand_in(result):
    """A (small) in-memory result as a one-chunk dask array (or a tuple/list of them)."""
    import dask.array as da
    if isinstance(result, (tuple, list)):
        return type(result)(_from_stand_in(r) for r in result)
    return da.from_array(np.asarray(result), chunks=-1)


def _stand_in_call(name, x, params):
    """The in-memory call on an empty array of x's shape (x has no elements)."""
    return _from_stand_in(_public(name)(np.empty(x.shape, x.dtype), **params))


def _pyramid_task(block, *, factor, method, out_dtype):
    levels = _public("pyramid")(block, factor, method, levels=2)
    # A chunk whose reduced axes all have length 1 is its own next level.
    return np.asarray(levels[-1]).astype(out_dtype, copy=len(levels) == 1)


def _pyramid(name, image, params):
    import dask.array as da

    from ._layout import normalize_axis
    _check_chunks(image)
    factor, method = params["factor"], params["method"]
    levels, channel_axis = params["levels"], params["channel_axis"]
    pyr = _public("pyramid")
    ndim = image.ndim
    pyr(np.zeros((1,) * ndim, image.dtype), factor, method, levels=levels,
        channel_axis=channel_axis)                       # validation
    if ndim == 0:
        return [image]
    channel = None if channel_axis is None else normalize_axis(channel_axis, ndim,
                                                               "channel_axis")
    if image.size == 0:
        levels_ = pyr(np.empty(image.shape, image.dtype), factor, method, levels=levels,
                      channel_axis=channel_axis)
        return [image] + [_from_stand_in(lv) for lv in levels_[1:]]
    block = _block_tuple(factor, ndim, channel)
    dtype = pyr(np.zeros(block, image.dtype), block, method, levels=2)[-1].dtype
    target = [max(c) for c in image.chunks]
    out = [image]
    cur = image
    while ((levels is None or len(out) < levels)
           and any(n > 1 for n, b in zip(cur.shape, block) if b > 1)):
        chunks = tuple(_aligned_chunks(c, b, min(t, sum(c))) if b > 1 else c
                       for c, b, t in zip(cur.chunks, block, target))
        x = cur.rechunk(chunks)
        out_chunks = tuple(_reduced_chunks(c, b) for c, b in zip(chunks, block))
        cur = da.map_blocks(_pyramid_task, x, factor=block, method=method, out_dtype=dtype,
                            dtype=dtype,
                            chunks=out_chunks, meta=np.empty((0,) * ndim, dtype),
                            token=f"ndpool-pyramid-{len(out)}")
        out.append(cur)
    return out


# ---- global pooling -------------------------------------------------------------------------

def _global_task(block, *, method, pooled, channel_axis, workers, kwargs):
    return np.asarray(_public("global_pool")(block, method, axes=pooled,
                                             channel_axis=channel_axis, keepdims=True,
                                             workers=workers, **dict(kwargs)))


def _arg_task(block, *, pooled, is_min, workers, global_ns, offsets, block_info=None):
    """A chunk's winner (row-major first; for NaN the last) and its global pooled index."""
    from . import _engine
    from ._planning import plan_bins
    plans = [plan_bins(block.shape[a], 1, axis=a) for a in pooled]
    v, i = _engine.arg_extremum(block, pooled, plans, is_min=is_min,
                                nthreads=_task_threads(workers))
    loc = block_info[0]["array-location"]
    offs = [loc[a][0] for a in pooled]
    return _pack(v, globalize(i, [block.shape[a] for a in pooled], offs, global_ns))


def _arg_combine(block, *, pooled, is_min):
    """Pick, along the pooled axes of per-chunk winners, the whole array's winner."""
    others = [a for a in range(block.ndim) if a not in pooled]
    flat = block.transpose(others + list(pooled)).reshape(
        [block.shape[a] for a in others] + [-1])
    v, i = flat["v"], flat["i"]
    best_v, best_i = v[..., 0].copy(), i[..., 0].copy()
    is_float = v.dtype.kind == "f"
    for k in range(1, v.shape[-1]):
        cv, ci = v[..., k], i[..., k]
        if is_float:
            c_nan, b_nan = cv != cv, best_v != best_v
        else:
            c_nan = b_nan = np.zeros(cv.shape, bool)
        strictly = cv < best_v if is_min else cv > best_v
        tie = (cv == best_v) & (ci < best_i)
        better = np.where(b_nan, c_nan & (ci > best_i), c_nan | strictly | tie)
        best_v = np.where(better, cv, best_v)
        best_i = np.where(better, ci, best_i)
    shape = [block.shape[a] if a in others else 1 for a in range(block.ndim)]
    order = others + list(pooled)
    res = best_v.reshape([block.shape[a] for a in others] + [1] * len(pooled))
    return np.ascontiguousarray(res.transpose(np.argsort(order))).reshape(shape)


def _sum_task(block, *, pooled, workers, acc):
    from . import _engine
    from ._planning import plan_bins
    plans = [plan_bins(block.shape[a], 1, axis=a) for a in pooled]
    return _engine.window_sum(block, pooled, plans, nthreads=_task_threads(workers),
                              acc=np.dtype(acc))


def _sum_combine(block, *, pooled):
    return block.sum(axis=tuple(pooled), keepdims=True, dtype=block.dtype)


def _finish_int(block, *, method, count, out_dtype):
    if method == "sum":
        return block.astype(out_dtype, copy=False)
    result = np.empty(block.shape, out_dtype)
    np.divide(block.astype(np.float64), float(count), out=result, casting="unsafe")
    return result


def _mix_task(mx, av, *, alpha, channel_axis, out_dtype):
    from ._params import fraction
    a = fraction(alpha, "alpha")
    if a.ndim:
        shape = [1] * mx.ndim
        shape[channel_axis] = -1
        a = a.reshape(shape)
    return (a * mx.astype(np.float64) + (1 - a) * av.astype(np.float64)).astype(
        out_dtype, copy=False)


def _int_sums_exact(dtype, count):
    if dtype.kind == "b":
        return count <= 2**53
    info = np.iinfo(dtype)
    return max(-int(info.min), int(info.max)) * count <= 2**53


def _unpool(name, x, params):
    """max_unpool: its indices are flat over a whole pooled plane, so each task gets
    whole planes (the pooled axes in one chunk; the other axes keep their chunks)."""
    import dask.array as da

    from .window import unpool_geometry
    _check_chunks(x)
    mu = _public("max_unpool")
    indices = params.pop("indices")
    pooled, _, sizes, (kernel, stride, padding) = unpool_geometry(
        x.shape, np.dtype(x.dtype).itemsize, params["kernel_size"], params["stride"],
        params["padding"], params["output_size"], params["axes"], params["channel_axis"])
    idx = indices if is_dask_array(indices) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must have an integer dtype, got {idx.dtype}")
    if idx.shape != x.shape:
        raise ValueError(f"indices has shape {idx.shape} but x has shape {x.shape}")
    kw = dict(kernel_size=kernel, stride=stride, padding=padding, output_size=sizes,
              axes=pooled, workers=params["workers"])
    dtype = np.dtype(x.dtype).newbyteorder("=")
    if x.size == 0:
        return _from_stand_in(mu(np.empty(x.shape, x.dtype), np.zeros(x.shape, idx.dtype),
                                 **kw))
    xw = x.rechunk({a: -1 for a in pooled})
    iw = (idx if is_dask_array(idx) else da.from_array(idx)).rechunk(xw.chunks)
    out_chunks = tuple((sizes[pooled.index(a)],) if a in pooled else c
                       for a, c in enumerate(xw.chunks))
    return da.map_blocks(_unpool_task, xw, iw, chunks=out_chunks, dtype=dtype,
                         meta=np.empty((0,) * x.ndim, dtype), kw=kw,
                         token="ndpool-max-unpool")


def _unpool_task(block, index, *, kw):
    return _public("max_unpool")(block, index, **kw)


def _global(name, x, params):
    import dask.array as da

    from ._layout import resolve_axes
    from ._threads import resolve_workers
    _check_chunks(x)
    method, axes = params.pop("method"), params.pop("axes")
    channel_axis, keepdims = params.pop("channel_axis"), params.pop("keepdims")
    workers = params.pop("workers")
    kwargs = params      # the method's own keywords
    gp = _public("global_pool")
    pooled, _ = resolve_axes(x.ndim, axes, channel_axis, {})
    pooled = list(pooled)
    channel = None if channel_axis is None else channel_axis % x.ndim
    if x.size == 0:
        return _from_stand_in(gp(np.empty(x.shape, x.dtype), method, axes=axes,
                                 channel_axis=channel_axis, keepdims=keepdims,
                                 workers=workers, **kwargs))
    probe_shape = [x.shape[a] if a == channel else 1 for a in range(x.ndim)]
    probe = gp(np.zeros(probe_shape, x.dtype), method, axes=axes, channel_axis=channel_axis,
               keepdims=True, workers=workers, **kwargs)       # validation, dtype
    dtype = np.asarray(probe).dtype
    count = math.prod(x.shape[a] for a in pooled)
    resolve_workers(workers)            # checked here, resolved on the worker
    out_chunks = tuple((1,) if a in pooled else c for a, c in enumerate(x.chunks))
    split = any(len(x.chunks[a]) > 1 for a in pooled) and count > 0 and x.size > 0
    exact_int = x.dtype.kind in "biu"
    ints_exact = exact_int and _int_sums_exact(x.dtype, count)
    meta = np.empty((0,) * x.ndim, dtype)

    def finish(r):
        return r if keepdims else r.squeeze(axis=tuple(pooled))

    def combine_over_pooled(partial, fn, out_dtype, **kw):
        whole = partial.rechunk({a: -1 for a in pooled})
        return da.map_blocks(fn, whole, chunks=out_chunks, dtype=out_dtype,
                             meta=np.empty((0,) * x.ndim, out_dtype), **kw)

    if split and method in ("max", "min"):
        rec = np.dtype([("v", dtype), ("i", np.intp)])
        part_chunks = tuple(tuple(1 for _ in c) if a in pooled else c
                            for a, c in enumerate(x.chunks))
        partial = da.map_blocks(_arg_task, x, pooled=pooled, is_min=method == "min",
                                workers=workers, offsets=None,
                                global_ns=[x.shape[a] for a in pooled], chunks=part_chunks,
                                dtype=rec, meta=np.empty((0,) * x.ndim, rec),
                                token=f"ndpool-global-{method}-chunk")
        return finish(combine_over_pooled(partial, _arg_combine, dtype, pooled=pooled,
                                          is_min=method == "min"))
    if split and ((method == "sum" and exact_int)
                  or (method in ("avg", "mixed") and ints_exact)):
        acc = np.dtype(np.uint64 if x.dtype.kind == "u" else np.int64)
        part_chunks = tuple(tuple(1 for _ in c) if a in pooled else c
                            for a, c in enumerate(x.chunks))
        partial = da.map_blocks(_sum_task, x, pooled=pooled, workers=workers,
                                acc=acc.str, chunks=part_chunks, dtype=acc,
                                meta=np.empty((0,) * x.ndim, acc),
                                token="ndpool-global-sum-chunk")
        total = combine_over_pooled(partial, _sum_combine, acc, pooled=pooled)
        if method == "mixed":
            mx = _global("global_pool", x, dict(method="max", axes=pooled,
                                                channel_axis=channel_axis, keepdims=True,
                                                workers=workers))
            av = total.map_blocks(_finish_int, method="avg", count=count,
                                  out_dtype=np.dtype(np.float64), dtype=np.float64)
            if channel is not None:
                mx, av = mx.rechunk({channel: -1}), av.rechunk({channel: -1})
            r = da.map_blocks(_mix_task, mx, av, alpha=kwargs["alpha"], channel_axis=channel,
                              out_dtype=dtype, dtype=dtype, meta=meta)
            return finish(r)
        return finish(total.map_blocks(_finish_int, method=method, count=count,
                                       out_dtype=dtype, dtype=dtype, meta=meta))
    # Exact by gathering each plane: float sums, smooth methods, median.
    whole = x.rechunk({a: -1 for a in pooled})
    if method == "mixed" and channel is not None and np.ndim(kwargs.get("alpha", 0)) > 0:
        whole = whole.rechunk({channel: -1})
        out_chunks = tuple((1,) if a in pooled else c for a, c in enumerate(whole.chunks))
    r = da.map_blocks(_global_task, whole, method=method, pooled=pooled,
                      channel_axis=channel_axis, workers=workers,
                      kwargs=tuple(sorted(kwargs.items())), chunks=tuple(
                          (1,) if a in pooled else c for a, c in enumerate(whole.chunks)),
                      dtype=dtype, meta=meta, token=f"ndpool-global-{method}")
    return finish(r)


_HANDLERS = {name: _window for name in (
    "max_pool", "min_pool", "avg_pool", "sum_pool", "lp_pool", "power_mean_pool",
    "softpool", "lse_pool", "median_pool", "mixed_pool", "gated_pool", "tree_pool",
    "stochastic_pool", "adaptive_pool", "adaptive_max_pool", "adaptive_avg_pool")}
_HANDLERS.update(block_reduce=_block_reduce, pyramid=_pyramid, global_pool=_global,
                 max_unpool=_unpool)

"""Region-of-interest pooling: RoI pooling, RoIAlign and PANet's adaptive feature pooling.

Boxes follow torchvision: a (K, 5) array of rows ``[batch_index, x1, y1, x2, y2]``,
or a list with one (L_i, 4) array of ``[x1, y1, x2, y2]`` rows per image.  All
box arithmetic follows torchvision's CPU kernels (``torchvision.ops.roi_pool``,
``roi_align``) in the map's float type.  Validation and planning (bin bounds,
sampling grids, the layout the kernels run in) happen here; the kernels in
``_kernels/roi.pyx`` only interpolate, sum, compare and transpose.

A channels-first map is pooled a few images at a time from a channels-last copy
of them in a scratch map; each thread that calls these functions keeps that
scratch (up to 16 MiB) between calls, so that its pages are mapped once.
"""
from __future__ import annotations

import numbers
import threading

import numpy as np

from ._dtypes import as_array
from ._kernels import roi as _k
from ._layout import normalize_axis
from ._params import positive_real
from ._planning import is_sequence, per_axis
from ._threads import clamp, resolve_workers

__all__ = ["roi_pool", "roi_align", "adaptive_feature_pool"]

_INT32_MAX = 2**31 - 1   # torchvision's corners and sampling grids are C ints
_MAX_BYTES = np.iinfo(np.intp).max
_FUSE = {"max": 1, "sum": 2}   # combine codes of _kernels/roi.pyx (0 writes)
_CBLOCK = 16                   # CBLOCK of _kernels/roi.pyx


# ---- validation ------------------------------------------------------------------

def _types(dt):
    """(computation type, result type): float16/32 compute in float32, ints in float64."""
    if dt.kind == "f":
        return (np.float32 if dt.itemsize <= 4 else np.float64), dt.newbyteorder("=")
    return np.float64, np.dtype(np.float64)


def _feature_map(x, channel_axis, name="x"):
    """A 4-D map and whether its channels come last."""
    x = as_array(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name} must be a 4-D array, (N, C, H, W) or with channel_axis=-1 "
                         f"(N, H, W, C), got shape {x.shape}")
    axis = normalize_axis(channel_axis, 4, "channel_axis")
    if axis not in (1, 3):
        raise ValueError(f"channel_axis must be 1 (N, C, H, W) or 3 / -1 (N, H, W, C), "
                         f"got {channel_axis!r}")
    return x, axis == 3


def _real_array(value, name):
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _rois(boxes, n_images):
    """(K, 5) float64 rows [batch_index, x1, y1, x2, y2], validated."""
    if isinstance(boxes, (list, tuple)):
        rows = []
        for i, b in enumerate(boxes):
            b = _real_array(b, f"boxes[{i}]")
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(
                    f"boxes[{i}] must have shape (L, 4), rows [x1, y1, x2, y2], got shape "
                    f"{b.shape}; a list holds one such array per image, a (K, 5) ndarray "
                    f"holds rows [batch_index, x1, y1, x2, y2]")
            rows.append(np.concatenate([np.full((len(b), 1), i, np.float64),
                                        b.astype(np.float64)], axis=1))
        rois = np.concatenate(rows) if rows else np.zeros((0, 5))
    else:
        rois = _real_array(boxes, "boxes")
        if rois.ndim != 2 or rois.shape[1] != 5:
            raise ValueError(f"boxes must be a (K, 5) array of rows [batch_index, x1, y1, x2, "
                             f"y2] or a list of (L, 4) arrays, one per image; got shape "
                             f"{rois.shape}")
        rois = rois.astype(np.float64)
    if not np.isfinite(rois).all():
        bad = np.argwhere(~np.isfinite(rois))[0]
        raise ValueError(f"boxes must be finite, got {rois[bad[0], bad[1]]} in box {bad[0]}")
    index = rois[:, 0]
    bad = (index != np.floor(index)) | (index < 0) | (index >= n_images)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"box {k} has batch index {float(index[k]):g}, which is not an image "
                         f"index in [0, {n_images}) (x holds {n_images} images)")
    return rois


def _scaled(rois, scale, ctype):
    """Box corners times spatial_scale, in the computation type (torchvision's order)."""
    with np.errstate(over="ignore"):
        v = rois[:, 1:].astype(ctype) * ctype(scale)
    if not np.isfinite(v).all():
        raise ValueError(f"boxes times spatial_scale={scale!r} overflow "
                         f"{np.dtype(ctype).name}; the scaled corners must be finite")
    return v


def _output_size(output_size):
    sizes = per_axis(output_size, 2, "output_size")
    if max(sizes) > _INT32_MAX:
        raise ValueError(f"output_size must be at most 2**31 - 1 bins per axis "
                         f"(torchvision's C int), got {output_size!r}")
    return sizes


def _sampling_ratio(sampling_ratio):
    if isinstance(sampling_ratio, (bool, np.bool_)) or not isinstance(sampling_ratio,
                                                                      numbers.Integral):
        raise TypeError(f"sampling_ratio must be an integer (<= 0 for adaptive), "
                        f"got {sampling_ratio!r}")
    if sampling_ratio > _INT32_MAX:
        raise ValueError(f"sampling_ratio must be at most 2**31 - 1 (torchvision's C int), "
                         f"got {sampling_ratio!r}")
    return int(sampling_ratio)


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _out_shape(k, c, ph, pw, channels_last):
    return (k, ph, pw, c) if channels_last else (k, c, ph, pw)


# ---- planning ----------------------------------------------------------------------

def _round_half_away(v):
    """C's round(): halves away from zero (np.round goes to even)."""
    t = np.trunc(v)
    return t + np.where(np.abs(v - t) >= 0.5, np.sign(v), 0)


def _pool_bins(start, length, pooled, n, ctype):
    """Per box, the clipped [start, end) of each of ``pooled`` bins along one axis."""
    size = length.astype(ctype) / ctype(pooled)
    o = np.arange(pooled + 1).astype(ctype)
    lo = np.floor(o[None, :-1] * size[:, None]).astype(np.int64)
    hi = np.ceil(o[None, 1:] * size[:, None]).astype(np.int64)
    return (np.clip(lo + start[:, None], 0, n).astype(np.intp),
            np.clip(hi + start[:, None], 0, n).astype(np.intp))


def _align_axis(start, end, pooled, n, sampling_ratio, aligned, ctype, nthreads):
    """The sample table of one axis: (grid, first row, lo, hi, wlo, whi)."""
    length = end - start
    if not aligned:
        length = np.maximum(length, ctype(1))   # malformed boxes become 1 pixel
    size = length / ctype(pooled)
    if sampling_ratio > 0:
        grid = np.full(len(start), sampling_ratio, np.intp)
    else:
        grid = np.ceil(size)
        if (grid > _INT32_MAX).any():
            k = int(np.argmax(grid > _INT32_MAX))
            raise ValueError(f"box {k} needs an adaptive sampling grid of {grid[k]:.6g} points "
                             f"per bin and axis (sampling_ratio <= 0), beyond the 2**31 - 1 "
                             f"torchvision allows; pass a positive sampling_ratio")
        grid = np.maximum(grid, 0).astype(np.intp)     # a negative extent samples nothing
    # grid <= 2**31 - 1 and pooled <= 2**31 - 1: count the table in Python integers
    # before any intp arithmetic can wrap.
    total = int(grid.sum()) * pooled
    if total * (2 * np.dtype(np.intp).itemsize + 2 * np.dtype(ctype).itemsize) > _MAX_BYTES:
        raise ValueError(f"output_size {pooled} x sampling_ratio {sampling_ratio} needs a "
                         f"sample table of {total} rows per axis, more than memory can hold")
    rows = grid * pooled
    first = np.zeros(len(start), np.intp)
    np.cumsum(rows[:-1], out=first[1:])
    lo, hi = np.empty(total, np.intp), np.empty(total, np.intp)
    wlo, whi = np.empty(total, ctype), np.empty(total, ctype)
    if len(start):
        _k.align_axis(np.ascontiguousarray(start), np.ascontiguousarray(size), grid, first,
                      pooled, n, lo, hi, wlo, whi, clamp(nthreads, len(start)))
    return grid, first, (lo, hi, wlo, whi)


def _align_plan(rois, scale, ph, pw, hw, sampling_ratio, aligned, ctype, nthreads):
    """Both axes' sample tables for one map of spatial size ``hw``, and the sample count."""
    corners = _scaled(rois, scale, ctype) - ctype(0.5 if aligned else 0.0)
    gw, xfirst, xt = _align_axis(corners[:, 0], corners[:, 2], pw, hw[1], sampling_ratio,
                                 aligned, ctype, nthreads)
    gh, yfirst, yt = _align_axis(corners[:, 1], corners[:, 3], ph, hw[0], sampling_ratio,
                                 aligned, ctype, nthreads)
    samples = int((gh * gw).sum()) * ph * pw
    return (gh, gw, yfirst, xfirst, *yt, *xt), samples


# ---- layout ----------------------------------------------------------------------------

# The channels-last kernels run over the channels as a unit-stride (SIMD) loop;
# channels-first ones cannot: a sample's neighbours lie in C different planes.
# On float32 (2, 256, 64, 64) with 256 boxes and 7 x 7 bins (one thread),
# RoIAlign takes 76 ms channels-first and 20 ms on a transposed copy, the two
# transposes included; RoI pooling 34 ms and 14 ms.  Moving an element costs
# about as much as one sample, so a channels-first call runs channels-last when
# it has more samples (bin taps, per channel) than elements to move, and enough
# channels to fill a vector.  The results are bit-identical either way.
_MIN_CHANNELS = 8


def _run_channels_last(channels_last, c, work, moved):
    return channels_last or (c >= _MIN_CHANNELS and work > moved)


# Scratch images of up to this many bytes are views of one buffer each thread
# keeps between calls (_scratch).
_SCRATCH_BYTES = 16 << 20
_local = threading.local()


def _scratch(count, ctype):
    """An array of ``count`` elements of ``ctype`` for the duration of one call.

    Up to _SCRATCH_BYTES it is a view of a buffer the calling thread keeps (and
    grows) between calls, whose pages the system then maps once: on float32
    (8, 64, 128, 128) with 512 boxes, adaptive_feature_pool took 13.2 ms on
    one thread with a fresh scratch image per call and 10.5-10.8 ms with a kept
    one.  Larger ones are allocated afresh.
    """
    nbytes = count * np.dtype(ctype).itemsize
    if nbytes > _SCRATCH_BYTES:
        return np.empty(count, ctype)
    buf = getattr(_local, "scratch", None)
    if buf is None or buf.nbytes < nbytes:
        buf = _local.scratch = np.empty(nbytes, np.uint8)
    return buf[:nbytes].view(ctype)


# Consecutive images are transposed together up to this many bytes (_by_image).
_GROUP_BYTES = 4 << 20


def _by_image(x, batch, ctype, channels_last, run_last, nthreads, run):
    """Call ``run(map, order, first)`` until every box has been pooled once: ``map`` a
    C-contiguous map of type ``ctype`` in the layout the kernels run in, ``order``
    the indices of the boxes to pool from it, ``first`` the image ``map[0]`` is.

    A channels-first map run channels-last goes a group of consecutive images at
    a time (one image, or as many as fit in _GROUP_BYTES), transposed into one
    scratch map: the scratch stays in cache for the group's boxes, and its pages
    are touched once, not once per image (a fresh float32 (8, 128, 128, 64) copy
    cost 1.3 ms of page faults, as much as half its transpose; _scratch keeps it
    between calls).  Groups without boxes are not transposed.  Any other map
    goes whole, in one call.
    """
    if channels_last or not run_last:
        run(np.ascontiguousarray(x, ctype), np.arange(len(batch), dtype=np.intp), 0)
        return
    n, c, h, w = x.shape
    order = np.argsort(batch, kind="stable").astype(np.intp)
    bounds = np.searchsorted(batch[order], np.arange(n + 1))
    group = max(1, _GROUP_BYTES // (c * h * w * np.dtype(ctype).itemsize))
    scratch = _scratch(min(group, n) * c * h * w, ctype)
    direct = x.flags.c_contiguous and x.dtype == ctype
    for g0 in range(0, n, group):
        g1 = min(g0 + group, n)
        if bounds[g0] == bounds[g1]:
            continue
        m = scratch[:(g1 - g0) * c * h * w].reshape(g1 - g0, h, w, c)
        if direct:
            _k.transpose(x[g0:g1].reshape(g1 - g0, c, h * w), m.reshape(g1 - g0, h * w, c),
                         clamp(nthreads, m.size // 1024))
        else:
            np.copyto(m, np.moveaxis(x[g0:g1], 1, -1), casting="unsafe")
        run(m, order[bounds[g0]:bounds[g1]], g0)


def _result(out, channels_last, run_last, rtype, nthreads):
    """The kernels' output in the caller's layout and result dtype."""
    if run_last and not channels_last:
        k, ph, pw, c = out.shape
        nchw = np.empty((k, c, ph, pw), out.dtype)
        _k.transpose(out.reshape(k, ph * pw, c), nchw.reshape(k, c, ph * pw),
                     clamp(nthreads, out.size // 1024))
        out = nchw
    return out.astype(rtype, copy=False)


def _units(k, c, ph, pw, run_last):
    """Independent pieces of kernel work: (box, bin) channels-last, (box, channel block) else."""
    return k * (ph * pw if run_last else -(-c // _CBLOCK))


# ---- public functions ----------------------------------------------------------------

def roi_pool(x, boxes, output_size, spatial_scale=1.0, *, channel_axis=1, workers=None):
    """RoI max pooling (Fast R-CNN): each box is cut into a grid of bins and max-pooled.

    Torchvision's rules (``torchvision.ops.roi_pool``): box corners are scaled
    by ``spatial_scale`` and rounded to the nearest pixel (halves away from
    zero); a box spans ``x2 - x1 + 1`` by ``y2 - y1 + 1`` pixels (at least 1);
    bin ``i`` of ``n`` along an axis of span ``s`` covers pixels
    ``[floor(i s / n), ceil((i + 1) s / n))`` from the box's first pixel,
    clipped to the map.  A bin left empty by the clipping gives 0.

    NaN propagates (a bin holding NaN gives NaN) and -inf is a value like any
    other, as in :func:`ndpool.max_pool`; torchvision's kernel instead skips
    NaN and never returns less than -FLT_MAX.  Finite inputs above -FLT_MAX
    give torchvision's result exactly.

    Girshick, "Fast R-CNN", ICCV 2015.

    Parameters
    ----------
    x : (N, C, H, W) or (N, H, W, C) array_like
        Feature maps; bool, integer or float.
    boxes : (K, 5) array_like or list of (L_i, 4) array_like
        Rows ``[batch_index, x1, y1, x2, y2]`` (batch index an integer in
        [0, N)), or one array of ``[x1, y1, x2, y2]`` rows per image.  Boxes
        may be degenerate, reversed or reach outside the map.  Corners are
        converted to the computation type first (torchvision requires boxes in
        the input's dtype).
    output_size : int or (int, int)
        Bins per box, (height, width); at least 1.
    spatial_scale : float
        Factor from box coordinates to map coordinates (0.25 for a stride-4 map).
    channel_axis : {1, 3, -1}
        1: channels-first (N, C, H, W), the default; 3 or -1: channels-last.
    workers : int, optional
        Threads; all available cores by default.

    Returns
    -------
    (K, C, PH, PW) or (K, PH, PW, C) ndarray
        In the layout of ``x``.  float16/32/64 keep their dtype (float16 is
        computed in float32); bool and integer input gives float64.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> ndpool.roi_pool(x, np.array([[0, 0, 0, 3, 3]]), 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> ndpool.roi_pool(x, [np.array([[1, 1, 2, 2]])], 1)[:, :, 0, 0]   # per-image list
    array([[10.]])
    """
    x, channels_last = _feature_map(x, channel_axis)
    ph, pw = _output_size(output_size)
    scale = positive_real(spatial_scale, "spatial_scale")
    h, w = x.shape[1:3] if channels_last else x.shape[2:]
    c = x.shape[3] if channels_last else x.shape[1]
    rois = _rois(boxes, x.shape[0])
    ctype, rtype = _types(x.dtype)
    corners = _round_half_away(_scaled(rois, scale, ctype))
    if (np.abs(corners) > _INT32_MAX).any():
        raise ValueError(f"boxes times spatial_scale must round to within +-(2**31 - 1) "
                         f"(torchvision's int corners), got up to {np.abs(corners).max():.6g}")
    corners = corners.astype(np.int64)
    k, nthreads = len(rois), resolve_workers(workers)
    if not (k and c and h and w):
        return np.zeros(_out_shape(k, c, ph, pw, channels_last), rtype)
    x1, y1, x2, y2 = corners.T
    hs, he = _pool_bins(y1, np.maximum(y2 - y1 + 1, 1), ph, h, ctype)
    ws, we = _pool_bins(x1, np.maximum(x2 - x1 + 1, 1), pw, w, ctype)
    work = int(((he - hs).sum(axis=1) * (we - ws).sum(axis=1)).sum())
    run_last = _run_channels_last(channels_last, c, work, x.shape[0] * h * w + k * ph * pw)
    out = np.empty(_out_shape(k, c, ph, pw, run_last), ctype)
    batch = rois[:, 0].astype(np.intp)
    _by_image(x, batch, ctype, channels_last, run_last, nthreads,
              lambda m, order, first: _k.roi_max(
                  m, out, batch, hs, he, ws, we, order, first, run_last,
                  clamp(nthreads, _units(len(order), c, ph, pw, run_last))))
    return _result(out, channels_last, run_last, rtype, nthreads)


def roi_align(x, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False, *,
              channel_axis=1, workers=None):
    """RoIAlign (Mask R-CNN): bins averaged from bilinearly interpolated samples.

    Torchvision's rules (``torchvision.ops.roi_align`` and its CPU kernel):

    * corners are scaled by ``spatial_scale``, never rounded; with
      ``aligned=True`` they are shifted by -0.5 so that pixel centres sit at
      half-integers (Detectron2); with ``aligned=False`` (the legacy default)
      a box is at least 1 x 1.
    * each of the ``PH x PW`` bins holds a regular grid of samples, at
      ``start + (i + 0.5) * bin / grid`` along each axis: ``sampling_ratio``
      per axis if it is > 0, else ``ceil(box_size / output_size)`` (adaptive,
      per box and axis).
    * a sample beyond [-1, H] or [-1, W] contributes 0; otherwise it is
      clamped into the map and interpolated bilinearly from its four
      neighbours.
    * a bin is the sum of its samples divided by the grid's size (the samples
      outside included); a grid without samples (a reversed box with
      ``aligned=True``) gives 0.

    Arithmetic runs in the map's float type, in torchvision's order (float16
    in float32).  NaN or inf among the four neighbours of a sample propagates,
    even at zero weight, as in torchvision.

    He, Gkioxari, Dollar, Girshick, "Mask R-CNN", ICCV 2017.

    Parameters
    ----------
    x, boxes, output_size, spatial_scale, channel_axis, workers
        As for :func:`roi_pool`.
    sampling_ratio : int
        Samples per bin and axis; <= 0 (the default, -1) chooses
        ``ceil(box_size / output_size)`` per box.
    aligned : bool
        Shift boxes by -0.5 pixel (the corrected, Detectron2 convention).

    Returns
    -------
    (K, C, PH, PW) or (K, PH, PW, C) ndarray
        In the layout of ``x``; float16/32/64 keep their dtype, bool and
        integer input gives float64.

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)      # x[0, 0, i, j] = 4 i + j
    >>> ndpool.roi_align(x, np.array([[0, 0, 0, 2, 2]]), 1, aligned=True)   # centre (0.5, 0.5)
    array([[[[2.5]]]])
    >>> ndpool.roi_align(x, np.array([[0, 0, 0, 4, 4]]), 2, sampling_ratio=1)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    x, channels_last = _feature_map(x, channel_axis)
    ph, pw = _output_size(output_size)
    scale = positive_real(spatial_scale, "spatial_scale")
    sampling_ratio = _sampling_ratio(sampling_ratio)
    aligned = _flag(aligned, "aligned")
    rois = _rois(boxes, x.shape[0])
    ctype, rtype = _types(x.dtype)
    c = x.shape[3] if channels_last else x.shape[1]
    hw = x.shape[1:3] if channels_last else x.shape[2:]
    k, nthreads = len(rois), resolve_workers(workers)
    if not (k and c and min(hw)):     # an empty map has no samples: zeros
        return np.zeros(_out_shape(k, c, ph, pw, channels_last), rtype)
    tables, work = _align_plan(rois, scale, ph, pw, hw, sampling_ratio, aligned, ctype,
                               nthreads)
    moved = x.shape[0] * hw[0] * hw[1] + k * ph * pw
    run_last = _run_channels_last(channels_last, c, work, moved)
    out = np.empty(_out_shape(k, c, ph, pw, run_last), ctype)
    batch = rois[:, 0].astype(np.intp)
    _by_image(x, batch, ctype, channels_last, run_last, nthreads,
              lambda m, order, first: _k.align(
                  m, out, batch, *tables, ph, pw, order, first, run_last, 0,
                  clamp(nthreads, _units(len(order), c, ph, pw, run_last))))
    return _result(out, channels_last, run_last, rtype, nthreads)


def _infer_scale(shape, image_size, level):
    """MultiScaleRoIAlign's rule: the power of two nearest to feature / image size."""
    # torchvision rounds log2 of a float32 tensor; np.round also rounds halves to even
    with np.errstate(divide="ignore"):       # an empty level: scale 0, never sampled
        scales = {2.0 ** float(np.round(np.log2(np.float32(s / i))))
                  for s, i in zip(shape, image_size)}
    if len(scales) != 1:
        raise ValueError(f"levels[{level}] of size {tuple(shape)} is not one power-of-two "
                         f"scale of image_size={tuple(image_size)}")
    return scales.pop()


def adaptive_feature_pool(levels, boxes, output_size, method="max", *, spatial_scale=None,
                          image_size=None, sampling_ratio=-1, aligned=False, channel_axis=1,
                          workers=None):
    """Adaptive feature pooling (PANet): RoIAlign every box on every level, then fuse.

    Instead of assigning each box to one pyramid level by its size (FPN,
    torchvision's ``MultiScaleRoIAlign``), every box is pooled from all levels
    with :func:`roi_align`, and the per-level grids are fused element-wise by
    ``method``: "max" (NaN propagates) or "sum" (accumulated in the
    computation type, level by level).

    Liu, Qi, Qin, Shi, Jia, "Path Aggregation Network for Instance
    Segmentation", CVPR 2018.

    Parameters
    ----------
    levels : sequence of (N, C, H_l, W_l) array_like
        The pyramid, usually finest first; every level has the same N, C and
        layout, sizes may differ.  The result dtype is that of all levels
        together (``np.result_type``) under the rule of :func:`roi_align`.
    boxes : (K, 5) array_like or list of (L_i, 4) array_like
        In image coordinates, as for :func:`roi_align`.
    output_size : int or (int, int)
    method : {"max", "sum"}
    spatial_scale : float or sequence of float, optional
        Scale of each level (one float for every level, or one per level).
    image_size : (int, int), optional
        Instead of ``spatial_scale``: the (height, width) of the (padded) images
        the boxes refer to, from which each level's scale is inferred as
        torchvision's ``MultiScaleRoIAlign`` does,
        ``2 ** round(log2(level size / image size))``, equal on both axes.
    sampling_ratio, aligned, channel_axis, workers
        As for :func:`roi_align`.

    Returns
    -------
    (K, C, PH, PW) or (K, PH, PW, C) ndarray

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> p2 = np.ones((1, 1, 8, 8))            # stride 4 on a 32 x 32 image
    >>> p3 = np.full((1, 1, 4, 4), 3.0)       # stride 8
    >>> boxes = [np.array([[0.0, 0.0, 16.0, 16.0]])]
    >>> ndpool.adaptive_feature_pool([p2, p3], boxes, 1, image_size=(32, 32))
    array([[[[3.]]]])
    >>> ndpool.adaptive_feature_pool([p2, p3], boxes, 1, "sum", spatial_scale=[0.25, 0.125])
    array([[[[4.]]]])
    """
    if method not in _FUSE:
        raise ValueError(f"method must be 'max' or 'sum', got {method!r}")
    if not is_sequence(levels) or isinstance(levels, np.ndarray):
        raise TypeError("levels must be a list or tuple of feature maps, one per pyramid level")
    maps = [_feature_map(m, channel_axis, f"levels[{i}]") for i, m in enumerate(levels)]
    if not maps:
        raise ValueError("levels must hold at least one feature map")
    channels_last = maps[0][1]
    c_axis = 3 if channels_last else 1
    n, c = maps[0][0].shape[0], maps[0][0].shape[c_axis]
    for i, (m, _) in enumerate(maps):
        if m.shape[0] != n or m.shape[c_axis] != c:
            raise ValueError(f"levels[{i}] has {m.shape[0]} images and {m.shape[c_axis]} "
                             f"channels, levels[0] has {n} and {c}; they must agree")
    spatial = [m.shape[1:3] if channels_last else m.shape[2:] for m, _ in maps]
    scales = _level_scales(spatial_scale, image_size, spatial)
    ph, pw = _output_size(output_size)
    sampling_ratio = _sampling_ratio(sampling_ratio)
    aligned = _flag(aligned, "aligned")
    rois = _rois(boxes, n)
    ctype, rtype = _types(np.result_type(*[m.dtype for m, _ in maps]))
    k, nthreads = len(rois), resolve_workers(workers)
    if not (k and c):
        return np.zeros(_out_shape(k, c, ph, pw, channels_last), rtype)
    plans = [_align_plan(rois, scale, ph, pw, hw, sampling_ratio, aligned, ctype, nthreads)
             if min(hw) else (None, 0) for hw, scale in zip(spatial, scales)]
    work = sum(samples for _, samples in plans)
    moved = sum(n * hw[0] * hw[1] for hw in spatial) + k * ph * pw
    run_last = _run_channels_last(channels_last, c, work, moved)
    out = np.zeros(_out_shape(k, c, ph, pw, run_last), ctype)
    batch = rois[:, 0].astype(np.intp)
    for i, ((m, _), (tables, _)) in enumerate(zip(maps, plans)):
        fuse = 0 if i == 0 else _FUSE[method]
        if tables is not None:
            _by_image(m, batch, ctype, channels_last, run_last, nthreads,
                      lambda m, order, first, tables=tables, fuse=fuse: _k.align(
                          m, out, batch, *tables, ph, pw, order, first, run_last, fuse,
                          clamp(nthreads, _units(len(order), c, ph, pw, run_last))))
        elif fuse == _FUSE["max"]:       # an empty level samples zeros
            np.maximum(out, 0, out=out)
    return _result(out, channels_last, run_last, rtype, nthreads)


def _level_scales(spatial_scale, image_size, spatial):
    if spatial_scale is not None and image_size is not None:
        raise ValueError("give spatial_scale or image_size, not both")
    if spatial_scale is None:
        if image_size is None:
            raise ValueError("give spatial_scale (one per level) or image_size (to infer "
                             "the scales as MultiScaleRoIAlign does)")
        size = per_axis(image_size, 2, "image_size")
        return [_infer_scale(hw, size, i) for i, hw in enumerate(spatial)]
    if is_sequence(spatial_scale):
        scales = list(spatial_scale)
        if len(scales) != len(spatial):
            raise ValueError(f"spatial_scale has {len(scales)} entries for "
                             f"{len(spatial)} levels")
    else:
        scales = [spatial_scale] * len(spatial)
    return [positive_real(s, f"spatial_scale[{i}]") for i, s in enumerate(scales)]

"""NumPy reference for RoI pooling, RoIAlign and adaptive feature pooling.

Written loop by loop from torchvision's documented semantics and the behaviour
of its CPU kernels (``roi_pool_kernel.cpp``, ``roi_align_kernel.cpp``,
``roi_align_common.h``): one box, one bin, one sample at a time, every scalar
operation in the map's float type ``T`` and in the kernels' order, so that
results can be compared to the last bit.  Only the channel axis is vectorised
(each channel is an independent copy of the same scalar computation).

Inputs: ``x`` (N, C, H, W) already in ``T``; ``rois`` (K, 5) float64 rows
[batch_index, x1, y1, x2, y2].  Outputs (K, C, PH, PW) in ``T``.

Two deliberate departures from torchvision, both documented in ndpool.roi:
roi_pool propagates NaN and starts its max from the bin's first element
(torchvision skips NaN and starts at -FLT_MAX); a RoIAlign sample outside the
map adds nothing (torchvision adds 0 * x[0, 0], which differs only when
x[0, 0] is NaN or inf).
"""
import math

import numpy as np


def compute_type(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return np.float32
    return np.float64


def round_half_away(v):
    """C's round(): halves away from zero; exact for any float (unlike floor(v + 0.5))."""
    v = float(v)
    t = math.trunc(v)
    if abs(v - t) >= 0.5:
        t += 1 if v > 0 else -1
    return int(t)


def roi_pool(x, rois, ph_n, pw_n, scale):
    T = x.dtype.type
    n, c, h, w = x.shape
    out = np.zeros((len(rois), c, ph_n, pw_n), T)
    for k, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1, x2, y2 = (round_half_away(T(v) * T(scale)) for v in roi[1:])
        roi_w = max(x2 - x1 + 1, 1)
        roi_h = max(y2 - y1 + 1, 1)
        bin_h = T(roi_h) / T(ph_n)
        bin_w = T(roi_w) / T(pw_n)
        for ph in range(ph_n):
            for pw in range(pw_n):
                hs = int(np.floor(T(ph) * bin_h))
                he = int(np.ceil(T(ph + 1) * bin_h))
                ws = int(np.floor(T(pw) * bin_w))
                we = int(np.ceil(T(pw + 1) * bin_w))
                hs = min(max(hs + y1, 0), h)
                he = min(max(he + y1, 0), h)
                ws = min(max(ws + x1, 0), w)
                we = min(max(we + x1, 0), w)
                if he <= hs or we <= ws:
                    continue                         # an empty bin is 0
                best = x[b, :, hs, ws].copy()
                for yy in range(hs, he):
                    for xx in range(ws, we):
                        v = x[b, :, yy, xx]
                        best = np.where((v > best) | np.isnan(v), v, best)
                out[k, :, ph, pw] = best
    return out


def _interpolation(v, n, T):
    """torchvision's bilinear_interpolate for one coordinate: (lo, hi, w_lo, w_hi) or None."""
    if not (v >= -1.0 and v <= n):
        return None
    if v <= 0:
        v = T(0)
    lo = int(v)
    if lo >= n - 1:
        lo = hi = n - 1
        v = T(lo)
    else:
        hi = lo + 1
    frac = T(v - T(lo))
    return lo, hi, T(1.0 - float(frac)), frac


def roi_align(x, rois, ph_n, pw_n, scale, sampling_ratio, aligned):
    T = x.dtype.type
    n, c, h, w = x.shape
    out = np.zeros((len(rois), c, ph_n, pw_n), T)
    offset = T(0.5) if aligned else T(0.0)
    for k, roi in enumerate(rois):
        b = int(roi[0])
        start_w = T(T(roi[1]) * T(scale)) - offset
        start_h = T(T(roi[2]) * T(scale)) - offset
        end_w = T(T(roi[3]) * T(scale)) - offset
        end_h = T(T(roi[4]) * T(scale)) - offset
        roi_w = T(end_w - start_w)
        roi_h = T(end_h - start_h)
        if not aligned:                          # malformed boxes become 1 x 1
            roi_w = max(roi_w, T(1))
            roi_h = max(roi_h, T(1))
        bin_h = T(roi_h / T(ph_n))
        bin_w = T(roi_w / T(pw_n))
        grid_h = sampling_ratio if sampling_ratio > 0 else int(np.ceil(T(roi_h / T(ph_n))))
        grid_w = sampling_ratio if sampling_ratio > 0 else int(np.ceil(T(roi_w / T(pw_n))))
        count = T(max(grid_h * grid_w, 1))
        for ph in range(ph_n):
            for pw in range(pw_n):
                acc = np.zeros(c, T)
                for iy in range(grid_h):
                    yy = T(T(start_h + T(T(ph) * bin_h))
                           + T(T(T(iy + 0.5) * bin_h) / T(grid_h)))
                    for ix in range(grid_w):
                        xx = T(T(start_w + T(T(pw) * bin_w))
                               + T(T(T(ix + 0.5) * bin_w) / T(grid_w)))
                        ys = _interpolation(yy, h, T)
                        xs = _interpolation(xx, w, T)
                        if ys is None or xs is None:
                            continue
                        y0, y1, hy, ly = ys
                        x0, x1, hx, lx = xs
                        w1, w2, w3, w4 = T(hy * hx), T(hy * lx), T(ly * hx), T(ly * lx)
                        val = (w1 * x[b, :, y0, x0] + w2 * x[b, :, y0, x1]
                               + w3 * x[b, :, y1, x0] + w4 * x[b, :, y1, x1])
                        acc = (acc + val).astype(T)
                out[k, :, ph, pw] = (acc / count).astype(T)
    return out


def adaptive_feature_pool(levels, rois, ph_n, pw_n, scales, method, sampling_ratio, aligned):
    """PANet: roi_align on every level, fused level by level (max with NaN, or sum)."""
    out = None
    for level, scale in zip(levels, scales):
        pooled = roi_align(level, rois, ph_n, pw_n, scale, sampling_ratio, aligned)
        if out is None:
            out = pooled
        elif method == "max":
            out = np.maximum(out, pooled)            # NaN propagates
        else:
            out = (out + pooled).astype(out.dtype)
    return out

"""Every public pooling method of ndpool against max_pool on the same input, and against NumPy.

    python benchmarks/catalogue.py [--quick] [--workers N] [--json PATH]

Input: float32 (8, 64, 128, 128), 3x3 windows, stride 2, padding 1, or the
method's natural parameters: stride 2 for blur, max_blur, wavelet and
adaptive pooling (to 64x64); the whole 128x128 plane for the global,
attention and bilinear pooling (channel axis 1); 2x2 blocks for max_unpool
(only the unpool is timed); 64 boxes per image and 7x7 bins for roi_pool,
roi_align and adaptive_feature_pool (on the pyramid x, x[..., ::2, ::2],
x[..., ::4, ::4]).  The catalogue covers every public pooling method;
block_reduce and pyramid, the scikit-image interface to the same kernels,
are not methods of their own (`ndpool bench` times block_reduce).

Each method is reported as its time over max_pool's time on the same input
in the same run (the "no cliff" ratio: issue 3 asks for <= 3; median and
bilinear are excepted, their cost is inherent: a selection per window, and
a (C, P) x (P, C) matrix product per image), and the time of a vectorised
NumPy implementation over ndpool's: sliding_window_view over the padded
input, reshaped blocks, a matrix product, running maxima (corner pools),
fancy indexing (fractional pooling's windows, drawn from the same samples as
ndpool's), the same uniforms (stochastic sampling), and for the region pools
a loop over the boxes with each box's bins or samples vectorised.  Each
agrees with ndpool to float32 rounding, np.allclose(rtol=1e-4, atol=1e-6)
(tests/test_bench_harness.py checks it on a smaller input).

The machines are shared: a core can be taken for seconds at a time.  So each
method is timed in turns with max_pool, and its ratio is its best time over
max_pool's best in those same turns: both are measured in the same moments,
and a max_pool timed once in a slow moment cannot flatter (or a fast one
spoil) every ratio.  A turn is a block of calls whose first is not timed.
After a kernel call, the OpenMP runtime's idle threads spin for a while
before they sleep, and on 2 cores they take time from whatever runs next: a
method whose work runs on Python threads (SoftPool, log-sum-exp, adaptive
SoftPool: NumPy's exp on slabs) measured about 4 ms slower (17-18 ms against
13-14 ms for SoftPool) when its every call followed a max_pool call, and the
same with GOMP_SPINCOUNT=0 or a 10 ms pause between the calls.  The untimed
first call of a block absorbs that hand-over, so each method is timed in its
own steady state, as when it is called again and again.

The region pools read the boxes, not the image: the 64 boxes of an image
cover about 5 times its area (their sides average 36 pixels), and
adaptive_feature_pool reads them again at half and quarter resolution.  For
these three the table also gives the ratio per element covered: the ratio
to max_pool divided by the boxes' total area over the input's (summed over
the pyramid's levels for adaptive_feature_pool), the time per element a
bin reads against max_pool's time per input element.  It is reported
beside the ratio, not instead of it.
"""
import argparse
import json
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import ndpool


def best(func, repeat=3):
    func()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def paired(func, reference, repeat=4, block=2):
    """The best times of ``func`` and of ``reference``, in turns: each turn calls
    one of them ``block + 1`` times and times all calls but the first."""
    t, t_ref = [], []
    for _ in range(repeat):
        for f, into in ((reference, t_ref), (func, t)):
            f()
            for _ in range(block):
                t0 = time.perf_counter()
                f()
                into.append(time.perf_counter() - t0)
    return min(t), min(t_ref)


def windows(x, pad_value):
    """(N, C, 64, 64, 3, 3) view of the 3x3/s2/p1 windows, padding filled with pad_value."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=pad_value)
    return sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2]


def blocks(x):
    """(N, C, 64, 2, 64, 2) view of the disjoint 2x2 blocks."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2)


def blur(x):
    """[1, 2, 1] / 4 along H then W, reflect padding, stride 2 (blur_pool's defaults)."""
    f = np.array([1, 2, 1], x.dtype) / 4
    for axis in (2, 3):
        pad = [(0, 0)] * 4
        pad[axis] = (1, 1)
        w = sliding_window_view(np.pad(x, pad, mode="reflect"), 3, axis=axis)
        x = (w[:, :, ::2] if axis == 2 else w[:, :, :, ::2]) @ f
    return x


def boxes(n, size=128, per_image=64):
    """(n * per_image, 5) rows [image, x1, y1, x2, y2], 8 to 64 pixels a side, anywhere."""
    rng = np.random.default_rng(1)
    wh = rng.uniform(8, 64, (n * per_image, 2))
    xy = rng.uniform(0, size - wh)
    return np.column_stack([np.repeat(np.arange(n), per_image), xy, xy + wh]).astype(np.float32)


def coverage(x, rois, scales=(1.0,)):
    """The boxes' total area over the area of x's images, summed over the levels
    at the given scales (each level's area shrinks with the square of its scale)."""
    area = ((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])).astype(np.float64).sum()
    return area * sum(s * s for s in scales) / (x.shape[0] * x.shape[-2] * x.shape[-1])


def running_max(x, axis):
    """The maximum of x[..., p:, ...] at every p along ``axis`` (looking towards
    higher indices: the top-left corner's pools)."""
    rev = [slice(None)] * x.ndim
    rev[axis] = slice(None, None, -1)
    return np.maximum.accumulate(x[tuple(rev)], axis=axis)[tuple(rev)]


def stochastic_draw(x, u):
    """Stochastic pooling's sample over the 3x3/s2/p1 windows given the uniforms u
    (one per output): the tap where the running sum of the positive activations,
    in row-major order, first exceeds u times their total; 0 for a window
    without positive activations.  Padding taps have no mass, so they are never
    drawn."""
    w = windows(x, 0).reshape(*u.shape, 9).astype(np.float64)
    cum = np.cumsum(np.maximum(w, 0), axis=-1)
    total = cum[..., -1]
    c = (cum <= (u * total)[..., None]).sum(axis=-1)
    last = 8 - np.argmax(w[..., ::-1] > 0, axis=-1)   # u * total rounded up to total
    pick = np.where(c < 9, np.minimum(c, 8), last)
    drawn = np.take_along_axis(w, pick[..., None], axis=-1)[..., 0]
    return np.where(total > 0, drawn, 0).astype(x.dtype)


def fractional_starts(u, n, out, k):
    """PyTorch's fractional max pool window starts, float32: u (planes,) -> (planes, out)."""
    alpha = np.float32(n - k) / np.float32(out - 1)
    i = np.arange(out - 1, dtype=np.float32)
    u = u.astype(np.float32)
    starts = np.empty((len(u), out), np.intp)
    starts[:, :-1] = (((i + u[:, None]) * alpha).astype(np.int64)
                      - (u * alpha).astype(np.int64)[:, None])
    starts[:, -1] = n - k
    return starts


def box_pool(x, rois, bins=7):
    """RoI max pooling, box by box: torchvision's rounded corners and
    floor/ceil bins (float32), each bin's rows and then its columns maxed."""
    n, c, h, w = x.shape
    out = np.zeros((len(rois), c, bins, bins), x.dtype)
    i = np.arange(bins, dtype=np.float32)
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        x1, y1, x2, y2 = (int(np.floor(v + np.float32(0.5))) for v in (x1, y1, x2, y2))
        edges = []
        for lo, size, top in ((y1, max(y2 - y1 + 1, 1), h), (x1, max(x2 - x1 + 1, 1), w)):
            step = np.float32(size) / np.float32(bins)
            s = np.clip(np.floor(i * step).astype(int) + lo, 0, top)
            e = np.clip(np.ceil((i + 1) * step).astype(int) + lo, 0, top)
            edges.append((s, e))
        (hs, he), (ws, we) = edges
        plane = x[int(b)]
        rows = [plane[:, a:z].max(axis=1) if z > a else None for a, z in zip(hs, he)]
        for ph, r in enumerate(rows):
            for pw, (a, z) in enumerate(zip(ws, we)):
                if r is not None and z > a:
                    out[k, :, ph, pw] = r[:, a:z].max(axis=1)
    return out


def _samples_along(start, size, bins, n):
    """RoIAlign's sample positions along one axis (float32, torchvision's order) and
    their bilinear neighbours and weights; samples outside [-1, n] get weight 0."""
    grid = int(np.ceil(size / np.float32(bins)))
    step = np.float32(size / np.float32(bins))
    p = np.arange(bins, dtype=np.float32)[:, None]
    g = (np.arange(grid, dtype=np.float32) + np.float32(0.5))[None, :]
    v = ((start + p * step) + (g * step) / np.float32(grid)).ravel()
    inside = (v >= -1) & (v <= n)
    v = np.maximum(v, 0)
    lo = v.astype(int)
    top = lo >= n - 1
    lo = np.where(top, n - 1, lo)
    hi = np.where(top, n - 1, lo + 1)
    frac = np.where(top, np.float32(0), v - lo.astype(np.float32))
    return grid, lo, hi, (1 - frac) * inside, frac * inside


def box_align(x, rois, bins=7, scale=1.0):
    """RoIAlign (aligned=False, adaptive sampling), box by box: the samples'
    bilinear values for all channels at once, then each bin's mean."""
    n, c, h, w = x.shape
    out = np.zeros((len(rois), c, bins, bins), x.dtype)
    scale = np.float32(scale)
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        x1, y1, x2, y2 = (np.float32(v) * scale for v in (x1, y1, x2, y2))
        gy, y0, y1_, wy0, wy1 = _samples_along(y1, max(y2 - y1, np.float32(1)), bins, h)
        gx, x0, x1_, wx0, wx1 = _samples_along(x1, max(x2 - x1, np.float32(1)), bins, w)
        plane = x[int(b)]
        top, bottom = plane[:, y0], plane[:, y1_]
        v = ((wy0[:, None] * wx0) * top[:, :, x0] + (wy0[:, None] * wx1) * top[:, :, x1_]
             + (wy1[:, None] * wx0) * bottom[:, :, x0] + (wy1[:, None] * wx1) * bottom[:, :, x1_])
        out[k] = v.reshape(c, bins, gy, bins, gx).sum(axis=(2, 4)) / np.float32(gy * gx)
    return out


def numpy_versions(x):
    """Vectorised NumPy implementations of the methods (None where there is none)."""
    def softpool():
        w = windows(x, -np.inf).astype(np.float64)
        e = np.exp(w - w.max(axis=(-2, -1), keepdims=True))
        return (e * np.where(e > 0, w, 0)).sum(axis=(-2, -1)) / e.sum(axis=(-2, -1))

    def lse():
        w = windows(x, -np.inf).astype(np.float64)
        m = w.max(axis=(-2, -1), keepdims=True)
        n = np.isfinite(w).sum(axis=(-2, -1))
        return m[..., 0, 0] + np.log(np.exp(2.0 * (w - m)).sum(axis=(-2, -1)) / n) / 2.0

    def adaptive_softpool():
        b = blocks(x).astype(np.float64)
        e = np.exp(b - b.max(axis=(3, 5), keepdims=True))
        return (e * b).sum(axis=(3, 5)) / e.sum(axis=(3, 5))

    def bilinear():
        p = x.reshape(*x.shape[:2], -1)
        b = p @ p.transpose(0, 2, 1) / p.shape[-1]
        b = np.sign(b) * np.sqrt(np.abs(b))
        return b / np.linalg.norm(b, axis=(1, 2), keepdims=True)

    def attention():
        p = x.reshape(*x.shape[:2], -1).astype(np.float64)
        s = np.einsum("nc,ncp->np", p.mean(axis=2), p)
        a = np.exp(s - s.max(axis=1, keepdims=True))
        return np.einsum("np,ncp->nc", a / a.sum(axis=1, keepdims=True), p)

    v, i = ndpool.max_pool(x, (2, 2), return_indices=True)  # the input, not timed
    rois = boxes(x.shape[0], x.shape[-1])
    levels = [x, x[..., ::2, ::2], x[..., ::4, ::4]]
    sizes = x.shape[2] // 2, x.shape[3] // 2
    mean9 = lambda: windows(x, 0).mean(axis=(-2, -1), dtype=np.float64)  # noqa: E731
    max9 = lambda: windows(x, -np.inf).max(axis=(-2, -1))                 # noqa: E731

    def gated():
        z = np.tensordot(windows(x, 0), np.full((3, 3), 0.1), axes=2)
        s = 1 / (1 + np.exp(-z))
        return s * max9() + (1 - s) * mean9()

    def tree():
        # two mean leaves, one zero gate: the responses as a (taps, 3) matrix product
        f = np.concatenate([np.zeros((1, 9)), np.ones((2, 9)) / 9]).T
        r = windows(x, 0).reshape(*x.shape[:2], *sizes, 9).astype(np.float64) @ f
        s = 1 / (1 + np.exp(-r[..., 0]))
        return s * r[..., 1] + (1 - s) * r[..., 2]

    def fractional():
        u = np.random.default_rng(0).random((*x.shape[:2], 2)).reshape(-1, 2)
        rows = fractional_starts(u[:, 0], x.shape[2], sizes[0], 2)[:, :, None] + [0, 1]
        cols = fractional_starts(u[:, 1], x.shape[3], sizes[1], 2)[:, :, None] + [0, 1]
        planes = x.reshape(-1, *x.shape[2:])
        p = np.arange(len(planes))[:, None, None, None, None]
        taps = planes[p, rows[:, :, None, :, None], cols[:, None, :, None, :]]
        return taps.max(axis=(-2, -1)).reshape(*x.shape[:2], *sizes)

    def pyramid():
        n, c, h, w = x.shape
        return np.concatenate([x.reshape(n, c, g, h // g, g, w // g).max(axis=(3, 5))
                               .reshape(n, c, g * g) for g in (1, 2, 4)], axis=-1)

    def cascade():
        t, l_ = running_max(x, 2), running_max(x, 3)
        return running_max(x + l_, 2) + running_max(x + t, 3)

    def unpool():
        out = np.zeros((*x.shape[:2], x.shape[2] * x.shape[3]), x.dtype)
        np.put_along_axis(out, i.reshape(out.shape[0], out.shape[1], -1),
                          v.reshape(out.shape[0], out.shape[1], -1), axis=2)
        return out.reshape(x.shape)

    return {
        "max_pool": lambda: windows(x, -np.inf).max(axis=(-2, -1)),
        "avg_pool": lambda: windows(x, 0).mean(axis=(-2, -1)),
        "sum_pool": lambda: windows(x, 0).sum(axis=(-2, -1)),
        "min_pool": lambda: windows(x, np.inf).min(axis=(-2, -1)),
        "lp_pool": lambda: np.sqrt((windows(x, 0).astype(np.float64) ** 2).sum(axis=(-2, -1))),
        "power_mean_pool": lambda: np.cbrt(np.nanmean(
            windows(x, np.nan).astype(np.float64) ** 3, axis=(-2, -1))),
        "softpool": softpool,
        "lse_pool": lse,
        "median_pool": lambda: np.nanmedian(windows(x, np.nan), axis=(-2, -1)),
        "mixed_pool": lambda: 0.5 * windows(x, -np.inf).max(axis=(-2, -1))
        + 0.5 * windows(x, 0).mean(axis=(-2, -1)),
        "adaptive_pool": adaptive_softpool,
        "global_max_pool": lambda: x.max(axis=(-2, -1)),
        "global_pool": lambda: np.sqrt((x.astype(np.float64) ** 2).sum(axis=(-2, -1))),
        "attention_pool": attention,
        "bilinear_pool": bilinear,
        # Haar: each 2x2 block's sum / 2, as the pairwise mean then the pairwise sum
        "wavelet_pool": lambda: blocks(x).mean(axis=3).sum(axis=-1),
        "blur_pool": lambda: blur(x),
        "max_blur_pool": lambda: blur(np.maximum(
            np.maximum(x[:, :, :-1, :-1], x[:, :, :-1, 1:]),
            np.maximum(x[:, :, 1:, :-1], x[:, :, 1:, 1:]))),
        "max_unpool": unpool,
        "stochastic_pool": lambda: stochastic_draw(
            x, np.random.default_rng(0).random((*x.shape[:2], *sizes))),
        "gated_pool": gated,
        "tree_pool": tree,
        "fractional_max_pool": fractional,
        "adaptive_max_pool": lambda: blocks(x).max(axis=(3, 5)),
        "adaptive_avg_pool": lambda: blocks(x).mean(axis=(3, 5)),
        "global_avg_pool": lambda: x.mean(axis=(-2, -1)),
        "spatial_pyramid_pool": pyramid,
        "strip_pool": lambda: [x.mean(axis=3, keepdims=True), x.mean(axis=2, keepdims=True)],
        "corner_pool": lambda: running_max(x, 2) + running_max(x, 3),
        "center_pool": lambda: x.max(axis=2, keepdims=True) + x.max(axis=3, keepdims=True),
        "cascade_corner_pool": cascade,
        "roi_pool": lambda: box_pool(x, rois),
        "roi_align": lambda: box_align(x, rois),
        "adaptive_feature_pool": lambda: np.maximum(np.maximum(
            box_align(levels[0], rois), box_align(levels[1], rois, scale=0.5)),
            box_align(levels[2], rois, scale=0.25)),
    }


def cases(x, w):
    k = dict(kernel_size=(3, 3), stride=2, padding=1, workers=w)
    g = dict(axes=(-2, -1), workers=w)
    rng = np.random.default_rng(0)
    v, i = ndpool.max_pool(x, (2, 2), return_indices=True, workers=w)
    rois = boxes(x.shape[0], x.shape[-1])
    levels = [x, np.ascontiguousarray(x[..., ::2, ::2]), np.ascontiguousarray(x[..., ::4, ::4])]
    return {
        "max_pool": lambda: ndpool.max_pool(x, **k),
        "min_pool": lambda: ndpool.min_pool(x, **k),
        "avg_pool": lambda: ndpool.avg_pool(x, **k),
        "sum_pool": lambda: ndpool.sum_pool(x, **k),
        "lp_pool": lambda: ndpool.lp_pool(x, 2, **k),
        "power_mean_pool": lambda: ndpool.power_mean_pool(x, 3, **k),
        "softpool": lambda: ndpool.softpool(x, **k),
        "lse_pool": lambda: ndpool.lse_pool(x, 2.0, **k),
        "median_pool": lambda: ndpool.median_pool(x, **k),
        "stochastic_pool": lambda: ndpool.stochastic_pool(x, (3, 3), 2, padding=1, rng=rng,
                                                          workers=w),
        "mixed_pool": lambda: ndpool.mixed_pool(x, 0.5, **k),
        "gated_pool": lambda: ndpool.gated_pool(x, np.full((3, 3), 0.1), **k),
        "tree_pool": lambda: ndpool.tree_pool(x, np.ones((2, 3, 3)) / 9, np.zeros((1, 3, 3)),
                                              **k),
        "fractional_max_pool": lambda: ndpool.fractional_max_pool(
            x, (2, 2), output_size=(64, 64), rng=0, workers=w),
        "adaptive_max_pool": lambda: ndpool.adaptive_max_pool(x, (64, 64), workers=w),
        "adaptive_avg_pool": lambda: ndpool.adaptive_avg_pool(x, (64, 64), workers=w),
        "global_avg_pool": lambda: ndpool.global_avg_pool(x, axes=(-2, -1), workers=w),
        "spatial_pyramid_pool": lambda: ndpool.spatial_pyramid_pool(x, (1, 2, 4),
                                                                    axes=(-2, -1), workers=w),
        "strip_pool": lambda: ndpool.strip_pool(x, axes=(-2, -1), workers=w),
        "corner_pool": lambda: ndpool.corner_pool(x, "top_left", axes=(-2, -1), workers=w),
        "center_pool": lambda: ndpool.center_pool(x, axes=(-2, -1), workers=w),
        "cascade_corner_pool": lambda: ndpool.cascade_corner_pool(x, "top_left",
                                                                  axes=(-2, -1), workers=w),
        "adaptive_pool": lambda: ndpool.adaptive_pool(x, (64, 64), "softpool", workers=w),
        "global_max_pool": lambda: ndpool.global_max_pool(x, **g),
        "global_pool": lambda: ndpool.global_pool(x, "lp", p=2, **g),
        "attention_pool": lambda: ndpool.attention_pool(x, axes=(-2, -1), channel_axis=1),
        "bilinear_pool": lambda: ndpool.bilinear_pool(x, axes=(-2, -1), channel_axis=1),
        "wavelet_pool": lambda: ndpool.wavelet_pool(x, "haar", **g),
        "blur_pool": lambda: ndpool.blur_pool(x, (3, 3), 2, workers=w),
        "max_blur_pool": lambda: ndpool.max_blur_pool(x, (3, 3), 2, workers=w),
        "max_unpool": lambda: ndpool.max_unpool(v, i, (2, 2), workers=w),
        "roi_pool": lambda: ndpool.roi_pool(x, rois, 7, workers=w),
        "roi_align": lambda: ndpool.roi_align(x, rois, 7, workers=w),
        "adaptive_feature_pool": lambda: ndpool.adaptive_feature_pool(
            levels, rois, 7, spatial_scale=[1, 0.5, 0.25], workers=w),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch of 1 instead of 8")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    x = np.random.default_rng(0).standard_normal(
        (1 if args.quick else 8, 64, 128, 128)).astype(np.float32)
    numpy = numpy_versions(x)
    results = []
    calls = cases(x, args.workers)
    rois = boxes(x.shape[0], x.shape[-1])
    covered = {"roi_pool": coverage(x, rois), "roi_align": coverage(x, rois),
               "adaptive_feature_pool": coverage(x, rois, (1, 0.5, 0.25))}
    print(f"{'method':<22}{'ms':>9}{'/max_pool':>11}{'numpy/nd':>10}{'/covered':>10}")
    for name, call in calls.items():
        t, t_max = paired(call, calls["max_pool"])
        t_np = best(numpy[name], repeat=1) if name in numpy else None
        per = t / t_max / covered[name] if name in covered else None
        results.append(dict(method=name, ms=1e3 * t, vs_max_pool=t / t_max,
                            numpy_over_ndpool=None if t_np is None else t_np / t,
                            **({} if per is None else dict(coverage=covered[name],
                                                            per_covered_element=per))))
        print(f"{name:<22}{1e3 * t:>9.2f}{t / t_max:>11.2f}"
              + (f"{t_np / t:>10.1f}" if t_np else f"{'-':>10}")
              + (f"{per:>10.2f}" if per is not None else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(shape=x.shape, workers=args.workers, results=results), f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

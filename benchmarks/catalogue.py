"""Every catalogue method against max_pool on the same windows, and against NumPy.

    python benchmarks/catalogue.py [--quick] [--workers N] [--json PATH]

Input: float32 (8, 64, 128, 128), 3x3 windows, stride 2, padding 1 (or the
method's natural parameters).  Each method is reported as its time over
max_pool's time on the same input in the same run (the "no cliff" ratio:
issue 3 asks for <= 3, median and bilinear excepted), and the time of a
vectorised NumPy implementation (sliding_window_view over the padded input)
over ndpool's.
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


def windows(x, pad_value):
    """(N, C, 64, 64, 3, 3) view of the 3x3/s2/p1 windows, padding filled with pad_value."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=pad_value)
    return sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2]


def numpy_versions(x):
    """Vectorised NumPy implementations of the methods (None where there is none)."""
    def softpool():
        w = windows(x, -np.inf).astype(np.float64)
        e = np.exp(w - w.max(axis=(-2, -1), keepdims=True))
        return np.where(e > 0, e * w, 0).sum(axis=(-2, -1)) / e.sum(axis=(-2, -1))

    def lse():
        w = windows(x, -np.inf).astype(np.float64)
        m = w.max(axis=(-2, -1), keepdims=True)
        n = np.isfinite(w).sum(axis=(-2, -1))
        return m[..., 0, 0] + np.log(np.exp(2.0 * (w - m)).sum(axis=(-2, -1)) / n) / 2.0

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
    }


def cases(x, w):
    k = dict(kernel_size=(3, 3), stride=2, padding=1, workers=w)
    rng = np.random.default_rng(0)
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
    t_max = best(cases(x, args.workers)["max_pool"])
    print(f"{'method':<22}{'ms':>9}{'/max_pool':>11}{'numpy/nd':>10}")
    for name, call in cases(x, args.workers).items():
        t = best(call)
        t_np = best(numpy[name], repeat=1) if name in numpy else None
        results.append(dict(method=name, ms=1e3 * t, vs_max_pool=t / t_max,
                            numpy_over_ndpool=None if t_np is None else t_np / t))
        print(f"{name:<22}{1e3 * t:>9.2f}{t / t_max:>11.2f}"
              + (f"{t_np / t:>10.1f}" if t_np else f"{'-':>10}"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(shape=x.shape, workers=args.workers, results=results), f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``ndpool demo``: every method on the cat, a figure, and timings."""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np



def _methods():
    """(label, ndpool call, scikit-image block_reduce func or None) for every method."""
    import ndpool
    k = dict(channel_axis=-1)
    return [
        ("max 4x4", lambda im: ndpool.max_pool(im, 4, **k), np.max),
        ("min 4x4", lambda im: ndpool.min_pool(im, 4, **k), np.min),
        ("avg 4x4", lambda im: ndpool.avg_pool(im, 4, **k), np.mean),
        ("sum 4x4", lambda im: ndpool.sum_pool(im, 4, **k), np.sum),
        ("median 4x4", lambda im: ndpool.median_pool(im, 4, **k), None),
        ("max 3x3 s2 p1", lambda im: ndpool.max_pool(im, 3, 2, 1, **k), None),
        ("avg 5x5 s4 'same'", lambda im: ndpool.avg_pool(
            im, 5, 4, "same", count_include_pad=False, **k), None),
        ("L2 4x4", lambda im: ndpool.lp_pool(im, 2, 4, **k), None),
        ("GeM p=3 4x4", lambda im: ndpool.power_mean_pool(im, 3, 4, **k), None),
        ("SoftPool 4x4", lambda im: ndpool.softpool(im / 32.0, 4, **k) * 32, None),
        ("LSE r=0.1 4x4", lambda im: ndpool.lse_pool(im, 0.1, 4, **k), None),
        ("stochastic 4x4", lambda im: ndpool.stochastic_pool(im, 4, rng=0, **k), None),
        ("mixed a=.5 4x4", lambda im: ndpool.mixed_pool(im, 0.5, 4, **k), None),
        ("fractional x0.3", lambda im: ndpool.fractional_max_pool(
            im, output_ratio=0.3, rng=0, method="graham", **k), None),
        ("adaptive 40x60", lambda im: ndpool.adaptive_avg_pool(im, (40, 60), **k), None),
        ("blocks 4x4 (skimage)", lambda im: ndpool.block_reduce(im, (4, 4, 1), np.mean),
         np.mean),
    ]


def _best_time(func, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def run_demo(output, repeat=5):
    try:
        from skimage import data
        from skimage.measure import block_reduce
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise OSError(f"the demo needs scikit-image and matplotlib "
                      f"(pip install 'ndpool[demo]'): {exc}") from None
    cat = data.chelsea()                                  # (300, 451, 3) uint8
    methods = _methods()
    cols = 6
    rows = -(-(len(methods) + 1) // cols)
    fig, axs = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows))
    axs = axs.ravel()
    axs[0].imshow(cat)
    axs[0].set_title(f"chelsea {cat.shape[0]}x{cat.shape[1]}")
    print(f"{'method':<20}{'output':>16}{'ndpool ms':>11}{'skimage ms':>12}{'speed-up':>10}")
    for ax, (label, call, sk_func) in zip(axs[1:], methods):
        pooled = call(cat)
        t_nd = _best_time(lambda: call(cat), repeat)
        line = f"{label:<20}{str(pooled.shape):>16}{1e3 * t_nd:>11.3f}"
        if sk_func is not None:
            ref = block_reduce(cat, (4, 4, 1), sk_func)
            # scikit-image pads the partial last block with 0: compare whole blocks
            # (block_reduce itself must match it everywhere).
            n = ref.shape[1] if label.startswith("blocks") else pooled.shape[1]
            same = np.allclose(pooled[:, :n], ref[:pooled.shape[0], :n])
            t_sk = _best_time(lambda: block_reduce(cat, (4, 4, 1), sk_func), repeat)
            line += f"{1e3 * t_sk:>12.3f}{t_sk / t_nd:>9.1f}x"
            if not same:
                line += "  (MISMATCH)"
        print(line)
        shown = pooled.astype(np.float64)
        ax.imshow(np.clip(shown / shown.max(), 0, 1), interpolation="nearest")
        ax.set_title(label)
    for ax in axs:
        ax.axis("off")
    fig.tight_layout()
    # Write to a temporary file first: never leave a partial figure behind.
    folder = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    plt.close(fig)
    print(f"figure written to {output}")
    return 0

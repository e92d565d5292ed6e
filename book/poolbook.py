"""What every chapter of the book shares: the data, the drawings and `glue`.

The chapters are executed from this folder, so ``import poolbook`` works in
any of them.  Nothing here computes a pooled value: that is always ndpool's
job.  The window geometry drawn in the diagrams is worked out here from the
output-size formula, and every drawing checks it against ndpool first (a
one-hot input pooled with ``sum_pool`` reveals which windows see each
element), so a picture can never disagree with the library.
"""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from myst_nb import glue as _glue

import ndpool

# The 4x4 matrix every method chapter works through by hand.
X4 = np.arange(1, 17).reshape(4, 4)

# One colour per window; light enough for black digits on top.
COLORS = ["#a6cee3", "#fdbf6f", "#b2df8a", "#fb9a99", "#cab2d6", "#ffff99",
          "#8dd3c7", "#bebada", "#fccde5"]

plt.rcParams.update({"figure.dpi": 96, "savefig.dpi": 96, "font.size": 10,
                     "axes.titlesize": 10, "figure.autolayout": False})


class Plain:
    """A glued value shown as its text, without the quotes of a ``str`` repr."""

    def __init__(self, text):
        self.text = str(text)

    def __repr__(self):
        return self.text


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, float)):
        return Plain(f"{value:g}" if isinstance(value, float) else value)
    return value


def glue(name, value):
    """Glue ``value`` for the prose (``{glue:}`name```) without displaying it.

    NumPy scalars become plain Python numbers (``6``, not ``np.int64(6)``),
    strings lose their quotes, figures are glued as figures.  Returns None,
    so a glue call that ends a cell does not show the value there too.
    """
    shown = Plain(value) if isinstance(value, str) else _plain(value)
    _glue(name, shown, display=False)


def words(values, sep=", ", last=" and "):
    """``[1, 2, 5, 6]`` -> ``"1, 2, 5 and 6"``, numbers as ndpool gave them."""
    items = [f"{_plain(v)}" for v in values]
    if len(items) < 2:
        return "".join(items)
    return sep.join(items[:-1]) + last + items[-1]


# ----------------------------------------------------------------- pictures

def cat_rgb():
    """The bundled cat, ``skimage.data.chelsea()``: (300, 451, 3) uint8."""
    from skimage import data
    return data.chelsea()


def cat_gray():
    """The cat in grey levels, float64 in [0, 1]."""
    from skimage.color import rgb2gray
    return rgb2gray(cat_rgb())


FEATURE_BIAS = 0.02


def feature_map():
    """A feature map like a CNN's first layer makes: ReLU(edge filter(cat) - bias).

    A vertical-edge filter (Sobel), a bias of ``-FEATURE_BIAS`` and a ReLU:
    positive only where the cat gets clearly brighter from left to right,
    zero elsewhere.  Sparse, with thin bright ridges, as real activations are.
    """
    from skimage.filters import sobel_v
    return np.maximum(sobel_v(cat_gray()) - FEATURE_BIAS, 0).astype(np.float32)


def show_images(images, titles, *, cmap="gray", vmin=None, vmax=None, size=3.0,
                colorbar=False, ncols=None):
    """Images in a grid (``ncols`` per row), shown pixel by pixel, with titles.

    ``cmap`` is one colour map for all, or a list with one per image.
    """
    cmaps = cmap if isinstance(cmap, (list, tuple)) else [cmap] * len(images)
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * 0.8 * nrows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, title, cm in zip(axes.ravel(), images, titles, cmaps):
        im = ax.imshow(img, cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title)
        if colorbar:
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------- window geometry

def axis_windows(n, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The taps of every window along one axis, as positions in the input.

    Returns ``(taps, before, after)``: ``taps[o]`` lists the ``kernel``
    positions of window ``o`` (negative or ``>= n`` ones fall in the padding
    or, in ceil mode, beyond it), and the padding added on each side.  The
    window count is ndpool's; the positions follow the formula of the
    anatomy chapter and are checked against ndpool by :func:`check_axis`.
    """
    stride = kernel if stride is None else stride
    out = ndpool.max_pool(np.zeros(n), kernel, stride, padding, dilation, ceil_mode).shape[0]
    if padding == "same":
        total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - n, 0)
        before, after = total // 2, total - total // 2
    else:
        before = after = 0 if padding == "valid" else padding
    taps = [[o * stride - before + j * dilation for j in range(kernel)] for o in range(out)]
    check_axis(n, taps, kernel, stride, padding, dilation, ceil_mode)
    return taps, before, after


def check_axis(n, taps, kernel, stride, padding, dilation, ceil_mode):
    """Assert that window ``o`` sees input ``i`` exactly when ndpool says so."""
    for i in range(n):
        onehot = np.zeros(n)
        onehot[i] = 1
        seen = ndpool.sum_pool(onehot, kernel, stride, padding, dilation, ceil_mode) > 0
        drawn = np.array([i in t for t in taps])
        assert np.array_equal(seen, drawn), (i, seen, drawn)


def windows_2d(shape, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """``{(row, col): (rows, cols)}``: the in-input taps of every 2-D window."""
    per_axis = [axis_windows(n, kernel, stride, padding, dilation, ceil_mode)[0]
                for n in shape]
    out = {}
    for (r, rt), (c, ct) in itertools.product(enumerate(per_axis[0]), enumerate(per_axis[1])):
        out[r, c] = ([t for t in rt if 0 <= t < shape[0]], [t for t in ct if 0 <= t < shape[1]])
    return out


def window_values(x, window):
    """The input values a 2-D window holds, in row-major order."""
    rows, cols = window
    return x[np.ix_(rows, cols)].ravel()


# ---------------------------------------------------------------- drawings

def _cell(ax, r, c, text, color="white", hatch=None, edge="0.35", size=10, weight="normal"):
    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=color, edgecolor=edge,
                           hatch=hatch, linewidth=0.8))
    if text != "":
        ax.text(c, r, text, ha="center", va="center", fontsize=size, weight=weight)


def _frame(ax, nrows, ncols, title=None):
    ax.set_xlim(-0.55, ncols - 0.45)
    ax.set_ylim(nrows - 0.45, -0.55)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)


def _fmt(v):
    v = _plain(v)
    return f"{v:.3g}" if isinstance(v, float) else f"{v}"


def draw_matrix(ax, a, *, colors=None, title=None, fmt=_fmt):
    """Draw a 2-D array as a grid of numbers; ``colors[r][c]`` fills a cell."""
    a = np.asarray(a)
    for r, c in np.ndindex(a.shape):
        _cell(ax, r, c, fmt(a[r, c]), color=colors[r][c] if colors is not None else "white")
    _frame(ax, *a.shape, title=title)


def draw_blocks(x, y, windows, *, op, titles=("input", "output")):
    """Disjoint windows: each window and the output it makes share a colour."""
    xcol = [["white"] * x.shape[1] for _ in range(x.shape[0])]
    ycol = [["white"] * y.shape[1] for _ in range(y.shape[0])]
    for k, ((r, c), (rows, cols)) in enumerate(sorted(windows.items())):
        color = COLORS[k % len(COLORS)]
        ycol[r][c] = color
        for i, j in itertools.product(rows, cols):
            xcol[i][j] = color
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(6.4, 3.0),
                                 gridspec_kw={"width_ratios": [x.shape[1], y.shape[1]]})
    draw_matrix(a0, x, colors=xcol, title=titles[0])
    draw_matrix(a1, y, colors=ycol, title=f"{titles[1]}: {op}")
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_each_window(x, y, windows, *, op, fmt=_fmt, ncols=None):
    """Any windows (overlapping, padded): one small panel per output element."""
    keys = sorted(windows)
    ncols = ncols or y.shape[1]
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.45 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, key in enumerate(keys):
        rows, cols = windows[key]
        color = COLORS[k % len(COLORS)]
        cols_grid = [[color if (i in rows and j in cols) else "white"
                      for j in range(x.shape[1])] for i in range(x.shape[0])]
        ax = axes.ravel()[k]
        draw_matrix(ax, x, colors=cols_grid, fmt=fmt)
        ax.set_title(f"output {key}: {op} = {fmt(y[key])}", fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_axis_windows(ax, n, kernel, stride=None, padding=0, dilation=1, ceil_mode=False,
                      title=None, span=None):
    """One axis of ``n`` cells, its padding, and one row of taps per window.

    Filled dots are taps on input elements, open dots taps on padding, crosses
    taps beyond the padding (only the last ceil_mode window has them).
    """
    taps, before, after = axis_windows(n, kernel, stride, padding, dilation, ceil_mode)
    lo = min(-before, min(min(t) for t in taps))
    hi = max(n + after - 1, max(max(t) for t in taps))
    xlo, xhi = span if span else (lo, hi)
    for i in range(lo, hi + 1):
        if 0 <= i < n:
            _cell(ax, 0, i, str(i), color="#e8e8e8")
        elif -before <= i < n + after:
            _cell(ax, 0, i, "pad", color="white", hatch="///", size=7)
        else:
            _cell(ax, 0, i, "", color="white", edge="0.8")
    for o, t in enumerate(taps):
        y = 1.2 + 0.75 * o
        color = plt.cm.tab10(o % 10)
        ax.plot([t[0], t[-1]], [y, y], color=color, linewidth=2, zorder=1)
        for p in t:
            if 0 <= p < n:
                ax.plot(p, y, "o", color=color, markersize=8, zorder=2)
            elif -before <= p < n + after:
                ax.plot(p, y, "o", markerfacecolor="white", markeredgecolor=color,
                        markersize=8, zorder=2)
            else:
                ax.plot(p, y, "x", color=color, markersize=8, zorder=2)
        ax.text(xhi + 0.8, y, f"out[{o}]", va="center", fontsize=9)
    ax.set_xlim(xlo - 0.6, xhi + 2.6)
    ax.set_ylim(1.2 + 0.75 * len(taps), -0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return taps


def draw_windows_2d(shape, kernel, stride, padding, highlight):
    """A padded 2-D grid with the windows of the ``highlight`` outputs outlined."""
    (rt, before, _), (ct, _, _) = (axis_windows(n, kernel, stride, padding) for n in shape)
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    p = before
    for r in range(-p, shape[0] + p):
        for c in range(-p, shape[1] + p):
            inside = 0 <= r < shape[0] and 0 <= c < shape[1]
            _cell(ax, r + p, c + p, f"{r},{c}" if inside else "",
                  color="#e8e8e8" if inside else "white",
                  hatch=None if inside else "///", size=7)
    for k, (r, c) in enumerate(highlight):
        color = plt.cm.tab10(k)
        r0, c0 = rt[r][0] + p, ct[c][0] + p
        inset = 0.08 * (k + 1)
        ax.add_patch(Rectangle((c0 - 0.5 + inset, r0 - 0.5 + inset), kernel - 2 * inset,
                               kernel - 2 * inset, fill=False, edgecolor=color, linewidth=2.5,
                               label=f"window of output ({r}, {c})"))
    _frame(ax, shape[0] + 2 * p, shape[1] + 2 * p)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=1, frameon=False, fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig


def axis_diagrams(specs):
    """Stacked :func:`draw_axis_windows` panels, one per ``(title, n, kwargs)``."""
    heights, lo, hi = [], 0, 0
    for _, n, kw in specs:
        taps, before, after = axis_windows(n, **kw)
        heights.append(1.8 + 0.75 * len(taps))
        lo = min(lo, -before, min(min(t) for t in taps))
        hi = max(hi, n + after - 1, max(max(t) for t in taps))
    fig, axes = plt.subplots(len(specs), 1, figsize=(7.0, 0.42 * sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, n, kw) in zip(axes[:, 0], specs):
        draw_axis_windows(ax, n, title=title, span=(lo, hi), **kw)
    fig.tight_layout()
    plt.close(fig)
    return fig

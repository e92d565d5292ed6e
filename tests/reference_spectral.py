"""Slow, obviously-correct NumPy references for blur, max-blur, wavelet, bilinear and
attention pooling.

Each follows its paper's definition literally, in float64, on whole arrays: blur pads
with np.pad, builds the N-D binomial kernel as an outer product and correlates every
window (sliding_window_view); wavelet pooling runs PyWavelets' two-level transform and
the inverse of the second level (the paper's algorithm); bilinear and attention pooling
are einsums.  Pooled `axes` are given in ascending order, per-axis parameters follow
them.  No argument validation; it must never import ndpool.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# torch's padding modes, as np.pad names them.
NP_PAD = {"reflect": "reflect", "replicate": "edge", "circular": "wrap", "zeros": "constant"}


def binomial(k):
    """[1], [1, 1], [1, 2, 1], ... by repeated convolution with [1, 1], normalised."""
    a = np.array([1], dtype=object)
    for _ in range(k - 1):
        a = np.convolve(a, np.array([1, 1], dtype=object))
    return np.array([v / sum(a) for v in a], dtype=np.float64)


def _kernel(ks):
    kern = np.ones(())
    for k in ks:
        kern = np.multiply.outer(kern, binomial(k))
    return kern


def blur_pool(x, kernel_size, stride, padding_mode, axes):
    """Pad ((k-1)//2 before, k//2 after), correlate with the binomial kernel, subsample."""
    x = np.asarray(x).astype(np.float64)
    pad = [(0, 0)] * x.ndim
    for a, k in zip(axes, kernel_size):
        pad[a] = ((k - 1) // 2, k // 2)
    xp = np.pad(x, pad, mode=NP_PAD[padding_mode])
    win = sliding_window_view(xp, tuple(kernel_size), axis=tuple(axes))
    sub = [slice(None)] * x.ndim
    for a, s in zip(axes, stride):
        sub[a] = slice(None, None, s)
    win = win[tuple(sub)]
    kern = _kernel(kernel_size)
    k = len(axes)
    # Sum tap by tap so that inf - inf gives NaN exactly where the kernel meets both.
    out = np.zeros(win.shape[:-k])
    with np.errstate(invalid="ignore"):
        for idx in np.ndindex(*kernel_size):
            out = out + kern[idx] * win[(Ellipsis,) + idx]
    return out


def max_blur_pool(x, kernel_size, stride, max_kernel_size, padding_mode, axes):
    """Max over stride-1 windows of max_kernel_size (np.max: NaN propagates), then blur."""
    x = np.asarray(x).astype(np.float64)
    win = sliding_window_view(x, tuple(max_kernel_size), axis=tuple(axes))
    k = len(axes)
    peaks = win.max(axis=tuple(range(-k, 0))) if win.size else \
        np.zeros(win.shape[:-k])
    return blur_pool(peaks, kernel_size, stride, padding_mode, axes)


def wavelet_pool(x, wavelet, axes):
    """Williams & Li: two-level FWT, drop level-1 details, inverse of level 2 (PyWavelets)."""
    import pywt
    x = np.asarray(x).astype(np.float64)
    mode = "periodization"
    level1 = pywt.dwtn(x, wavelet, mode=mode, axes=axes)["a" * len(axes)]
    level2 = pywt.dwtn(level1, wavelet, mode=mode, axes=axes)
    rec = pywt.idwtn(level2, wavelet, mode=mode, axes=axes)
    return rec[tuple(slice(0, n) for n in level1.shape)]


def haar_pool(x, axes):
    """Haar wavelet pooling without PyWavelets: each 2 x ... x 2 block's sum / sqrt(2)**k
    (an odd axis repeats its last element first)."""
    x = np.asarray(x).astype(np.float64)
    for a in axes:
        if x.shape[a] % 2:
            x = np.concatenate([x, np.take(x, [-1], axis=a)], axis=a)
        even = np.take(x, np.arange(0, x.shape[a], 2), axis=a)
        odd = np.take(x, np.arange(1, x.shape[a], 2), axis=a)
        with np.errstate(invalid="ignore"):         # inf - inf is NaN, as it should be
            x = (odd + even) / np.sqrt(2.0)
    return x


def _positions_last(x, channel_axis, axes):
    """(batch shape, array of shape (*batch, P, C)) with batch axes in order."""
    x = np.asarray(x).astype(np.float64)
    batch = [a for a in range(x.ndim) if a not in axes and a != channel_axis]
    t = np.transpose(x, batch + list(axes) + [channel_axis])
    bshape = tuple(x.shape[a] for a in batch)
    return bshape, t.reshape(bshape + (-1, x.shape[channel_axis]))


def bilinear_pool(x, y, channel_axis, axes, normalize):
    """mean_p outer(x_p, y_p); then sign * sqrt and division by the Frobenius norm."""
    _, xm = _positions_last(x, channel_axis, axes)
    _, ym = _positions_last(x if y is None else y, channel_axis, axes)
    b = np.einsum("...pc,...pd->...cd", xm, ym) / xm.shape[-2]
    if normalize:
        b = np.sign(b) * np.sqrt(np.abs(b))
        norm = np.sqrt(np.einsum("...cd,...cd->...", b, b))[..., None, None]
        b = np.where(norm > 0, b / np.where(norm > 0, norm, 1), 0.0)
    return b


def attention_pool(x, query, beta, channel_axis, axes, keepdims=False):
    """softmax_p(beta * q . x_p) weighted sum of x_p; q = mean_p x_p by default."""
    x = np.asarray(x)
    bshape, xm = _positions_last(x, channel_axis, axes)
    if query is None:
        q = xm.mean(axis=-2)
    else:
        q = np.asarray(query, np.float64)
        if q.ndim > 1:       # result-shaped: move the channel axis last
            kept = sorted(set(range(x.ndim)) - set(axes))
            c = kept.index(channel_axis)
            q = np.moveaxis(q, c, -1)
        q = np.broadcast_to(q, bshape + (xm.shape[-1],))
    # Scores in extended precision (x86's 80-bit long double reaches 1e4932), so that
    # beta q.x of huge values or beta does not overflow: the softmax's own shift by the
    # maximum then keeps it exact-ish, independently of ndpool's rescaling.
    wide = np.longdouble
    with np.errstate(invalid="ignore", over="ignore"):
        s = wide(beta) * np.einsum("...pc,...c->...p", xm.astype(wide), q.astype(wide))
        s = s - s.max(axis=-1, keepdims=True)
        w = np.exp(s)
        w = (w / w.sum(axis=-1, keepdims=True)).astype(np.float64)
    out = np.einsum("...p,...pc->...c", w, xm)      # (*batch, C)
    kept = sorted(set(range(x.ndim)) - set(axes))
    c = kept.index(channel_axis)
    out = np.moveaxis(out, -1, c)
    if keepdims:
        out = np.expand_dims(out, tuple(axes))
    return out

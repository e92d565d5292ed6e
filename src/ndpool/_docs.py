"""Shared docstring fragments, so the window family documents its parameters once."""

_HEAD = {
    "max": ("Max pooling over N-D windows.",
            "Each output element is the maximum of its window.  NaN propagates: a "
            "window containing NaN gives NaN, and its index is the last NaN in "
            "row-major order (PyTorch's rule).  Padding never wins: it acts as "
            "-inf (or the dtype's minimum)."),
    "min": ("Min pooling over N-D windows.",
            "The mirror of :func:`max_pool`: each output element is the minimum of "
            "its window, NaN propagates, padding acts as +inf (or the dtype's maximum)."),
    "sum": ("Sum pooling over N-D windows.",
            "Each output element is the sum of its window; padding adds nothing.  "
            "The result dtype follows ``np.sum``: bool and signed integers give "
            "int64, unsigned integers uint64, floats keep their dtype (float sums "
            "are accumulated in float64)."),
    "avg": ("Average pooling over N-D windows.",
            "Each output element is the window's sum divided by ``divisor_override`` "
            "if given, else by the number of window taps inside the padded input "
            "(``count_include_pad=True``, PyTorch's default; taps in the ceil_mode "
            "overhang beyond the padding are not counted) or inside the input "
            "(``count_include_pad=False``, TensorFlow's rule for ``padding='same'``).  "
            "Sums accumulate in float64; float16/32/64 input keeps its dtype, bool "
            "and integer input gives float64 (``np.mean``'s rule)."),
}

_PARAMS = """
Parameters
----------
x : (..., N_1, ..., N_k, ...) array_like
    Input of any dtype among bool, int8..uint64 and float16/32/64.  Any layout:
    non-contiguous, Fortran-ordered, byte-swapped and read-only arrays work and
    are never modified.
kernel_size : int or sequence of int
    Window length along each pooled axis.  A sequence of length k pools the
    last k axes that are not ``channel_axis`` (PyTorch's ``(2, 2)`` on NCHW);
    an int pools every axis except ``channel_axis`` (scikit-image style).
stride : int or sequence of int, optional
    Step between windows; defaults to ``kernel_size``.
padding : int, sequence of int, "same" or "valid", optional
    Implicit padding on both sides, at most ``kernel_size // 2`` (PyTorch's
    limit).  "same" gives ``ceil(n / stride)`` outputs with the odd padding
    element after (TensorFlow's rule); "valid" is 0.
dilation : int or sequence of int, optional
    Step between the taps of a window.
ceil_mode : bool, optional
    Round the output length up, as PyTorch does: an extra window is kept when
    it starts inside the input or the left padding.
{extra}axes : int or sequence of int, optional
    The axes to pool, overriding the rules above; per-axis parameters follow
    their order.
channel_axis : int, optional
    An axis never pooled (channels-first or channels-last images).
{indices}out : ndarray, optional
    Where to write the pooled values; must have exactly the result's shape
    and dtype.  It may overlap ``x``.
workers : int, optional
    Threads to use: None or -1 for every available core (respecting
    ``OMP_NUM_THREADS``), n for at most n (and at most the cores the process
    may run on).  The result does not depend on it.

Returns
-------
{returns}

Notes
-----
Output lengths follow PyTorch: ``floor((n + 2p - d*(k-1) - 1) / s) + 1``
(``ceil`` in ceil_mode).  Unpooled axes are carried through unchanged.  A
window that holds no input element (possible only with dilation, when every
tap falls into padding) gives {empty}.
"""

_EXTRA = {
    "avg": """count_include_pad : bool, optional
    Count padding taps in the divisor (PyTorch's default).
divisor_override : int, optional
    Divide every window sum by this instead.
""",
}

_INDICES = """return_indices : bool, optional
    Also return, for every output element, the flat index of the chosen
    element within the input's pooled sub-shape (``np.ravel_multi_index`` over
    the pooled axes in ascending order), dtype ``np.intp``.  On ties the first
    element in row-major order wins.
"""

_RETURNS = {
    "max": "pooled : ndarray\n    Same dtype as ``x``.\nindices : ndarray of intp\n    Only with ``return_indices=True``.",
    "sum": "pooled : ndarray\n    int64, uint64 or the float dtype of ``x``.",
    "avg": "pooled : ndarray\n    The float dtype of ``x``, or float64.",
}
_RETURNS["min"] = _RETURNS["max"]

_EMPTY = {
    "max": "the dtype's lowest value and index -1 (PyTorch returns an index "
           "outside the plane there)",
    "min": "the dtype's highest value and index -1",
    "sum": "0",
    "avg": "0 (PyTorch's guard against 0/0)",
}

_EXAMPLES = {
    "max": """
>>> import numpy as np, ndpool
>>> x = np.arange(16).reshape(4, 4)
>>> ndpool.max_pool(x, 2)
array([[ 5,  7],
       [13, 15]])
>>> nchw = np.zeros((8, 3, 32, 32), np.float32)
>>> ndpool.max_pool(nchw, (3, 3), stride=2, padding=1).shape
(8, 3, 16, 16)
""",
    "min": """
>>> import numpy as np, ndpool
>>> ndpool.min_pool(np.arange(16).reshape(4, 4), 2)
array([[ 0,  2],
       [ 8, 10]])
""",
    "sum": """
>>> import numpy as np, ndpool
>>> ndpool.sum_pool(np.ones((4, 4, 3), np.uint8), 2, channel_axis=-1)[..., 0]
array([[4, 4],
       [4, 4]], dtype=uint64)
""",
    "avg": """
>>> import numpy as np, ndpool
>>> ndpool.avg_pool(np.arange(16.).reshape(4, 4), 2)
array([[ 2.5,  4.5],
       [10.5, 12.5]])
>>> ndpool.avg_pool(np.ones((3, 3)), 3, stride=1, padding=1, count_include_pad=False)
array([[1., 1., 1.],
       [1., 1., 1.],
       [1., 1., 1.]])
""",
}


def doc(kind):
    """Decorate a window-family function with its assembled numpydoc docstring."""
    def wrap(func):
        summary, body = _HEAD[kind]
        params = _PARAMS.format(
            extra=_EXTRA.get(kind, ""),
            indices=_INDICES if kind in ("max", "min") else "",
            returns=_RETURNS[kind], empty=_EMPTY[kind])
        func.__doc__ = (f"{summary}\n\n{body}\n{params}\nExamples\n--------"
                        f"{_EXAMPLES[kind]}")
        return func
    return wrap

"""ndpool: N-D pooling for NumPy arrays, as compiled Cython kernels.

Every pooling method shares one engine: per-axis window plans made in Python
(:mod:`ndpool._planning`), axes resolved by :mod:`ndpool._layout`, and
``nogil``/``prange`` kernels that trust their plans (:mod:`ndpool._kernels`).
"""
from ._config import __version__, show_config  # noqa: F401 (re-exported)
from .window import avg_pool, max_pool, max_unpool, min_pool, sum_pool

__all__ = [
    "avg_pool",
    "max_pool",
    "max_unpool",
    "min_pool",
    "show_config",
    "sum_pool",
]

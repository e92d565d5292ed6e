"""ndpool: N-D pooling for NumPy arrays, as compiled Cython kernels.

Every pooling method shares one engine: per-axis window plans made in Python
(:mod:`ndpool._planning`), axes resolved by :mod:`ndpool._layout`, and
``nogil``/``prange`` kernels that trust their plans (:mod:`ndpool._kernels`):
separable passes for max/min/sum-like reductions, gather kernels for the rest.
"""
from ._config import __version__, show_config  # noqa: F401 (re-exported)
from .adaptive import (adaptive_avg_pool, adaptive_max_pool, adaptive_pool, global_avg_pool,
                       global_max_pool, global_pool, spatial_pyramid_pool, strip_pool)
from .blockreduce import block_reduce, pyramid
from .corner import cascade_corner_pool, center_pool, corner_pool
from .fractional import fractional_max_pool
from .mixing import gated_pool, mixed_pool, tree_pool
from .roi import adaptive_feature_pool, roi_align, roi_pool
from .rank import median_pool, stochastic_pool
from .second_order import attention_pool, bilinear_pool
from .smooth import lp_pool, lse_pool, power_mean_pool, softpool
from .spectral import blur_pool, max_blur_pool, wavelet_pool
from .window import avg_pool, max_pool, max_unpool, min_pool, sum_pool

__all__ = [
    "adaptive_avg_pool",
    "adaptive_feature_pool",
    "adaptive_max_pool",
    "adaptive_pool",
    "attention_pool",
    "global_avg_pool",
    "global_max_pool",
    "global_pool",
    "spatial_pyramid_pool",
    "strip_pool",
    "avg_pool",
    "bilinear_pool",
    "block_reduce",
    "blur_pool",
    "cascade_corner_pool",
    "center_pool",
    "corner_pool",
    "fractional_max_pool",
    "gated_pool",
    "lp_pool",
    "lse_pool",
    "max_blur_pool",
    "max_pool",
    "max_unpool",
    "median_pool",
    "min_pool",
    "mixed_pool",
    "power_mean_pool",
    "pyramid",
    "show_config",
    "roi_align",
    "roi_pool",
    "softpool",
    "stochastic_pool",
    "sum_pool",
    "tree_pool",
    "wavelet_pool",
]

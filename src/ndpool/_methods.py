"""Reductions by name: the cores that adaptive, global and pyramid pooling share.

Each core reduces the windows of a validated :class:`~ndpool._spec.WindowSpec`
and validates only its own scalar parameters (p, r, alpha...).  The public
window functions call the same cores, so a method behaves identically on
regular, adaptive and global windows.
"""
import inspect

from . import mixing, rank, smooth, window

CORES = {
    "max": window._max,
    "min": window._min,
    "sum": window._sum,
    "avg": window._avg,
    "lp": smooth._lp,
    "power_mean": smooth._power_mean,
    "softpool": smooth._softpool,
    "lse": smooth._lse,
    "median": rank._median,
    "mixed": mixing._mixed,
}


def reduce(method, spec, nthreads, kwargs):
    """Run the core called ``method`` on ``spec`` with the method's own keywords."""
    try:
        core = CORES[method]
    except (KeyError, TypeError):
        raise ValueError(f"method must be one of {sorted(CORES)}, got {method!r}") from None
    # A core's keyword-only parameters (avg's out=) belong to the public function.
    params = [name for name, v in list(inspect.signature(core).parameters.items())[2:]
              if v.kind is not inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise TypeError(f"method {method!r} takes the keywords {params}, "
                        f"got unexpected {unknown}")
    required = [p for p, v in inspect.signature(core).parameters.items()
                if p in params and v.default is inspect.Parameter.empty and p not in kwargs]
    if required:
        raise TypeError(f"method {method!r} needs {required}")
    return core(spec, nthreads, **kwargs)

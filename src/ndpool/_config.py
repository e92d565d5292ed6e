"""Build and runtime configuration: what the kernels were compiled with."""
import sys

import numpy as np

from ._kernels import _openmp_info
from ._threads import available_cores

__version__ = "0.1.0"


def config():
    """The configuration as a dict (what :func:`show_config` prints)."""
    return {
        "version": __version__,
        "openmp": _openmp_info.have_openmp(),
        "debug_build": _openmp_info.debug_build(),
        "native_build": _openmp_info.native_build(),
        "threads": available_cores() if _openmp_info.have_openmp() else 1,
        "openmp_max_threads": _openmp_info.openmp_max_threads(),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def show_config(file=None):
    """Print ndpool's version, whether OpenMP is on, the thread count, and whether
    the kernels were built with bounds checks (debug) or for this machine (native).

    Returns the same information as a dict.  A build without OpenMP runs every
    kernel on one core; it is reported here in capitals so nobody misses it.

    Examples
    --------
    >>> import ndpool
    >>> cfg = ndpool.show_config(file=None)  # doctest: +SKIP
    """
    cfg = config()
    lines = [f"ndpool {cfg['version']}",
             f"  openmp      : {'yes' if cfg['openmp'] else 'NO (serial kernels)'}",
             f"  threads     : {cfg['threads']} (workers=None uses this many)",
             f"  debug build : {'yes (bounds checks on)' if cfg['debug_build'] else 'no'}",
             f"  native build: {'yes (-march=native)' if cfg['native_build'] else 'no'}",
             f"  numpy       : {cfg['numpy']}",
             f"  python      : {cfg['python']}"]
    print("\n".join(lines), file=file or sys.stdout)
    return cfg

"""What this build of the kernels was compiled with."""
from ndpool._kernels._openmp cimport NDPOOL_HAVE_OPENMP, omp_get_max_threads

cdef extern from *:
    int NDPOOL_DEBUG_BUILD
    int NDPOOL_NATIVE_BUILD


def have_openmp():
    return bool(NDPOOL_HAVE_OPENMP)


def debug_build():
    return bool(NDPOOL_DEBUG_BUILD)


def native_build():
    """Whether the kernels were built for this machine (NDPOOL_NATIVE=1: -march=native),
    where the compiler may fuse a product and a sum into one rounding."""
    return bool(NDPOOL_NATIVE_BUILD)


def openmp_max_threads():
    return omp_get_max_threads()

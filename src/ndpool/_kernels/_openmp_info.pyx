"""What this build of the kernels was compiled with."""
from ndpool._kernels._openmp cimport NDPOOL_HAVE_OPENMP, omp_get_max_threads

cdef extern from *:
    int NDPOOL_DEBUG_BUILD


def have_openmp():
    return bool(NDPOOL_HAVE_OPENMP)


def debug_build():
    return bool(NDPOOL_DEBUG_BUILD)


def openmp_max_threads():
    return omp_get_max_threads()

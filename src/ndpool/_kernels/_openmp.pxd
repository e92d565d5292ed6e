# The only place omp.h is touched: serial fallbacks when _OPENMP is undefined.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define NDPOOL_HAVE_OPENMP 1
    #else
    #define NDPOOL_HAVE_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    int NDPOOL_HAVE_OPENMP
    int omp_get_max_threads() noexcept nogil

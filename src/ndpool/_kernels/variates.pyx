# cython: freethreading_compatible = True
"""Float64 uniforms of NumPy's PCG64 and PCG64DXSM streams, on several threads.

``pcg_random(words, first, out, nthreads)`` writes draws ``first`` to
``first + len(out) - 1`` of the stream that ``words`` describes (the state
before draw 0, high and low 64 bits, the increment likewise, and 1 for
PCG64DXSM, else 0): the numbers ``Generator.random`` would return after
``first`` earlier float64 draws.  Thread k fills the k-th of ``nthreads`` equal
runs of ``out``, starting its stream where the run before it ends
(``_pcg.h``).  ``pcg_random_runs`` writes several runs of one stream, each
from its own first draw.  ``HAVE_PCG`` is False where the compiler has no 128-bit
integers; then nothing here may be called.  Nothing here validates.
"""
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint64_t

ctypedef Py_ssize_t intp


cdef extern from "_pcg.h" nogil:
    int ND_HAVE_PCG
    void nd_pcg_fill(uint64_t state_hi, uint64_t state_lo, uint64_t inc_hi,
                     uint64_t inc_lo, int dxsm, uint64_t first, double* out, intp n)


HAVE_PCG = bool(ND_HAVE_PCG)


def pcg_random(const uint64_t[::1] words, uint64_t first, double[::1] out, int nthreads):
    cdef intp n = out.shape[0], k, lo, hi
    cdef uint64_t sh = words[0], sl = words[1], ih = words[2], il = words[3]
    cdef int dxsm = words[4] != 0
    if n == 0:
        return
    with nogil:
        for k in prange(nthreads, schedule="static", num_threads=nthreads):
            lo = k * n // nthreads
            hi = (k + 1) * n // nthreads
            if hi > lo:
                nd_pcg_fill(sh, sl, ih, il, dxsm, first + <uint64_t>lo, &out[lo], hi - lo)


def pcg_random_runs(const uint64_t[::1] words, const int64_t[::1] firsts,
                    double[:, ::1] out, int nthreads):
    """out[k] = draws firsts[k] .. firsts[k] + out.shape[1] - 1 of the stream, for
    every k: runs of one stream that need not touch (a block of an array's
    ``rng.random`` numbers, one run per row).  Runs are shared out whole."""
    cdef intp runs = out.shape[0], n = out.shape[1], k
    cdef uint64_t sh = words[0], sl = words[1], ih = words[2], il = words[3]
    cdef int dxsm = words[4] != 0
    if runs == 0 or n == 0:
        return
    with nogil:
        for k in prange(runs, schedule="static", num_threads=nthreads):
            nd_pcg_fill(sh, sl, ih, il, dxsm, <uint64_t>firsts[k], &out[k, 0], n)

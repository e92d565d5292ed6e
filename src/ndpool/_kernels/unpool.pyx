# cython: freethreading_compatible = True
"""Scatter for max-unpooling: ``out[p, idx[p, k]] = x[p, k]`` plane by plane.

Values are only moved, never computed with, so the facade views every dtype as
the unsigned integer of the same width and one kernel serves them all.  The
facade has checked that every index is -1 (skip) or inside the plane.
"""
from cython.parallel cimport prange
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

ctypedef Py_ssize_t intp

ctypedef fused word:
    uint8_t
    uint16_t
    uint32_t
    uint64_t


def scatter(const word[:, ::1] x,       # IN  (planes, k) pooled values
            const intp[:, ::1] idx,     # IN  (planes, k) flat indices into a plane
            word[:, ::1] out,           # OUT (planes, n) zero-filled by the caller
            int nthreads):
    cdef intp planes = x.shape[0], k = x.shape[1], p, j, q
    with nogil:
        for p in prange(planes, schedule="static", num_threads=nthreads):
            for j in range(k):
                q = idx[p, j]
                if q >= 0:
                    out[p, q] = x[p, j]

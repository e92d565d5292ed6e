# cython: freethreading_compatible = True
"""Attention pooling's reads of the positions: statistics, scores, weighted sums.

Each takes a C-contiguous ``x`` of shape (B, C, P), or (B, P, C) with
``channels_last``, and works in float64:

``position_stats`` writes, per sample ``b`` and channel ``c``, the sum of the
positions' values and their largest magnitude (NaN where one of them is a
NaN).  It is the first read: the mean query and the power-of-two bound of
the scaling come from it.  A NaN is found from the sum (a sum with a NaN in
it is NaN; so is +inf plus -inf, which is why a NaN sum sends its row or
column through a second, exact look), so the loop over the values only adds
and compares.

``position_scores`` writes the scores of the chunk of positions
``p0 <= p < p0 + n`` (``s`` is (B, n)):

    s[b, p - p0] = sum over c of q[b, c] * (x[b, c, p] / scale[b])

``position_sum`` adds the chunk's weighted sums (``s`` holds the weights):

    acc[b, c] += sum over those p of s[b, p - p0] * (x[b, c, p] / scale[b])

``scale`` is a power of two per sample, so the scaling is exact; the loops
divide, because the reciprocal of a subnormal power of two overflows, and
each has a copy for ``scale == 1`` that does not divide: one loop that
always divided (exact by 1, the same sums) made attention pooling of
float32 (8, 64, 128, 128) 5 to 15% slower, in both layouts (measured).

Sums along the unit-stride axis are taken in eight interleaved partial sums
(positions p mod 8, each in ascending order), then added pairwise; sums
across it (channels-first scores, channels-last statistics and weighted
sums) in ascending order, the unit-stride axis as the vectorised inner
loop.  The inner loops are _positions.h's, built for AVX-512, AVX2 and the
baseline; every result element is summed by one thread in a fixed order, so
results depend neither on the thread count nor on the build.  Threads take
(sample, channel) rows, or (sample, block of channels), or (sample, block of
positions) for the scores.  Nothing here validates or allocates.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport NAN

ctypedef Py_ssize_t intp

cdef extern from "_positions.h" nogil:
    void nd_stats_row_f32(const float* x, intp n, double* total, double* peak)
    void nd_stats_row_f64(const double* x, intp n, double* total, double* peak)
    void nd_stats_cols_f32(const float* x, double* total, double* peak, intp n)
    void nd_stats_cols_f64(const double* x, double* total, double* peak, intp n)
    double nd_dot_row_f32(const float* x, const double* w, intp n, double f)
    double nd_dot_row_f64(const double* x, const double* w, intp n, double f)
    void nd_axpy_row_f32(const float* x, double a, double f, double* y, intp n)
    void nd_axpy_row_f64(const double* x, double a, double f, double* y, intp n)

cdef enum:
    CBLOCK = 256
    PBLOCK = 1024


cdef inline void _stats_row(const floating* x, intp n, double* total,
                            double* peak) noexcept nogil:
    if floating is float:
        nd_stats_row_f32(x, n, total, peak)
    else:
        nd_stats_row_f64(x, n, total, peak)


cdef inline void _stats_cols(const floating* x, double* total, double* peak,
                             intp n) noexcept nogil:
    if floating is float:
        nd_stats_cols_f32(x, total, peak, n)
    else:
        nd_stats_cols_f64(x, total, peak, n)


cdef inline double _dot(const floating* x, const double* w, intp n, double f) noexcept nogil:
    if floating is float:
        return nd_dot_row_f32(x, w, n, f)
    else:
        return nd_dot_row_f64(x, w, n, f)


cdef inline void _axpy(const floating* x, double a, double f, double* y,
                       intp n) noexcept nogil:
    if floating is float:
        nd_axpy_row_f32(x, a, f, y, n)
    else:
        nd_axpy_row_f64(x, a, f, y, n)


cdef inline double _nan_or(const floating* xr, intp n, intp step, double peak) noexcept nogil:
    """NaN if one of ``n`` values ``step`` apart is a NaN, else ``peak``."""
    cdef intp p
    for p in range(n):
        if xr[p * step] != xr[p * step]:
            return NAN
    return peak


def position_stats(const floating[:, :, ::1] x,   # IN  (B, C, P), or (B, P, C)
                   double[:, ::1] total,          # OUT (B, C) sums over positions
                   double[:, ::1] peak,           # OUT (B, C) largest |x|, NaN for a NaN
                   bint channels_last, int nthreads):
    cdef intp nb = total.shape[0], nc = total.shape[1]
    cdef intp npos = x.shape[1] if channels_last else x.shape[2]
    cdef intp nblocks = (nc + CBLOCK - 1) // CBLOCK
    cdef intp r, b, c, c0, c1, p
    if nb == 0 or nc == 0:
        return
    if npos == 0:
        total[:, :] = 0
        peak[:, :] = 0
        return
    if not channels_last:
        for r in prange(nb * nc, nogil=True, schedule="static", num_threads=nthreads):
            b = r // nc
            c = r % nc
            _stats_row(&x[b, c, 0], npos, &total[b, c], &peak[b, c])
            if total[b, c] != total[b, c]:
                peak[b, c] = _nan_or(&x[b, c, 0], npos, 1, peak[b, c])
        return
    for r in prange(nb * nblocks, nogil=True, schedule="static", num_threads=nthreads):
        b = r // nblocks
        c0 = (r % nblocks) * CBLOCK
        c1 = c0 + CBLOCK if c0 + CBLOCK < nc else nc
        for c in range(c0, c1):
            total[b, c] = 0
            peak[b, c] = 0
        for p in range(npos):
            _stats_cols(&x[b, p, c0], &total[b, c0], &peak[b, c0], c1 - c0)
        for c in range(c0, c1):
            if total[b, c] != total[b, c]:
                peak[b, c] = _nan_or(&x[b, 0, c], npos, nc, peak[b, c])


def position_scores(const floating[:, :, ::1] x,   # IN  (B, C, P), or (B, P, C)
                    const double[:, ::1] q,          # IN  (B, C) queries
                    const double[::1] scale,         # IN  (B,) powers of two
                    double[:, ::1] s,                # OUT (B, n) scores of positions p0..
                    bint channels_last, intp p0, int nthreads):
    cdef intp nb = q.shape[0], nc = q.shape[1], npos = s.shape[1]
    cdef intp nblocks = (npos + PBLOCK - 1) // PBLOCK
    cdef intp r, b, c, p, pa, pe
    if nb == 0 or npos == 0:
        return
    for r in prange(nb * nblocks, nogil=True, schedule="static", num_threads=nthreads):
        b = r // nblocks
        pa = (r % nblocks) * PBLOCK
        pe = pa + PBLOCK if pa + PBLOCK < npos else npos
        if channels_last:
            for p in range(pa, pe):
                s[b, p] = _dot(&x[b, p0 + p, 0], &q[b, 0], nc, scale[b])
        else:
            for p in range(pa, pe):
                s[b, p] = 0
            for c in range(nc):
                _axpy(&x[b, c, p0 + pa], q[b, c], scale[b], &s[b, pa], pe - pa)


def position_sum(const floating[:, :, ::1] x,   # IN  (B, C, P), or (B, P, C)
                 const double[:, ::1] s,        # IN  (B, n) weights of positions p0..
                 const double[::1] scale,       # IN  (B,) powers of two
                 double[:, ::1] acc,            # IN/OUT (B, C), added to
                 bint channels_last, intp p0, int nthreads):
    cdef intp nb = acc.shape[0], nc = acc.shape[1], npos = s.shape[1]
    cdef intp nblocks = (nc + CBLOCK - 1) // CBLOCK
    cdef intp r, b, c0, c1, p
    if nb == 0 or nc == 0 or npos == 0:
        return
    if not channels_last:
        for r in prange(nb * nc, nogil=True, schedule="static", num_threads=nthreads):
            b = r // nc
            acc[b, r % nc] += _dot(&x[b, r % nc, p0], &s[b, 0], npos, scale[b])
        return
    for r in prange(nb * nblocks, nogil=True, schedule="static", num_threads=nthreads):
        b = r // nblocks
        c0 = (r % nblocks) * CBLOCK
        c1 = c0 + CBLOCK if c0 + CBLOCK < nc else nc
        for p in range(npos):
            _axpy(&x[b, p0 + p, c0], s[b, p], scale[b], &acc[b, c0], c1 - c0)

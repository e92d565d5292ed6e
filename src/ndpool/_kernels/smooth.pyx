# cython: freethreading_compatible = True
"""Smooth window sums: each window's sum (or mean) of a transform of its elements,
in float64, in one fused sweep over (outer, D, H, W, inner) windows.

The smooth pools (Lp, power mean, SoftPool, log-sum-exp) reduce a transform of the
input, not the input.  Written as NumPy passes, each transform is one or two
float64 copies of the input, written, read back and summed.  Here the transform
is applied while the window's input rows are added up, elementwise into a
per-thread float64 row, and that row is summed along W once per output row:

- ``POWER``: ``v ** p`` for p in 1, 2, 3, with ``v = x``, ``|x|`` or ``max(x, lo)``;
  the window sum or, with divisors, the window mean.
- ``SOFT``: with ``e = exp(x)``, the sums of ``e`` and of ``x * e``, and their
  ratio, SoftPool's value.
- ``EXP_MAX``: with ``e = exp(r x)``, the window mean of ``e``, log-sum-exp's
  value before its log, and, on the way, the window's largest ``e``.

For float32 and float64 x the sweep takes ``e`` itself, row by row as it reaches
the rows, and keeps each thread's last rows for the next window (``_exp_row``);
otherwise ``e`` is the caller's (``exp_rows`` below, or NumPy's).  The folds of
these two and the windows' tests are _fold.h's, compiled for AVX-512, AVX2 and
the baseline like the exp.

SoftPool's and log-sum-exp's unshifted sums are trusted only where they are
finite normal numbers (and, for log-sum-exp, where the window is spread out
enough, see smooth.py); the kernel tests every window and marks the ones that
fail, for the caller to take from the shifted per-window kernel.

The rows are added before the pass along W, two at a time, so the float sums
are taken in another order than sum_fused's: they differ from it in the last
bits, which the callers' tolerances (and their fallbacks) allow for.  Windows
without elements are not handled (the caller sends none).  Nothing here
validates; work is split over output rows as in window.pyx, and no result
depends on the number of threads.
"""
cimport cython
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, fabs
from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import numpy as np

from ndpool._kernels._fused cimport numeric

ctypedef fused floating:
    float
    double

cdef extern from "_vexp.h" nogil:
    void nd_exp_f32(const float* x, double r, double* out, Py_ssize_t n)
    void nd_exp_f64(const double* x, double r, double* out, Py_ssize_t n)
    void nd_log_f64(const double* x, double* out, Py_ssize_t n)
    void nd_round_f32(const double* x, float* out, Py_ssize_t n)
cdef extern from "_fold.h" nogil:
    void nd_fold_soft_f32(const float* x0, const float* x1, const double* e0,
                          const double* e1, double* a0, double* a1, Py_ssize_t n, int first)
    void nd_fold_soft_f64(const double* x0, const double* x1, const double* e0,
                          const double* e1, double* a0, double* a1, Py_ssize_t n, int first)
    void nd_fold_exp_max(const double* e0, const double* e1, double* a0, double* a1,
                         Py_ssize_t n, int first)
    double nd_soft_fails(double s0, double s1, double tiny)
    double nd_lse_fails(double mean, double big, double tiny, double ratio)
    double nd_failures(const double* a, const double* b, Py_ssize_t m, int soft,
                       double tiny, double ratio)
    double nd_lse_finish_f32(double* mean, const double* big, Py_ssize_t m,
                             const double* rw, double scale, double tiny, double ratio,
                             double r, float* out)
    double nd_lse_finish_f64(double* mean, const double* big, Py_ssize_t m,
                             const double* rw, double scale, double tiny, double ratio,
                             double r, double* out)
    void nd_pass_w2_f64(const double* t0, const double* t1, double* y0, double* y1,
                        Py_ssize_t wlo, Py_ssize_t whi, Py_ssize_t wstride, Py_ssize_t woff,
                        Py_ssize_t k, Py_ssize_t wdil, int max1)
    void nd_pass_w_f64(const double* t, double* y, Py_ssize_t wlo, Py_ssize_t whi,
                       Py_ssize_t wstride, Py_ssize_t woff, Py_ssize_t k, Py_ssize_t wdil,
                       int is_max)
from ndpool._kernels._rows cimport chunk_count, next_row, row_at

ctypedef Py_ssize_t intp

cdef enum:
    POWER = 0
    SOFT = 1
    EXP_MAX = 2

# smooth_fused's ``mean``: the sums as they are, divided by the divisors, or
# multiplied by their reciprocals (given instead of them)
cdef enum:
    SUMS = 0
    DIVIDE = 1
    RECIPROCALS = 2


cdef inline double _pow123(double v, int p) noexcept nogil:
    return v if p == 1 else (v * v if p == 2 else v * v * v)


cdef inline void _fold_power(const numeric* xr, double* a, intp n, int p, bint absval,
                             double lo, bint first) noexcept nogil:
    """a (first: =, else +=) v ** p elementwise, v = |x| (absval) or x, then max(v, lo)
    (lo = -inf: no clamp; NaN is kept).  The loops are written out per case: a
    compare-and-select ahead of arithmetic keeps a loop from vectorising (the
    compiler may not if-convert it under trapping math), so only the clamped
    case (a power mean's eps) has one."""
    cdef intp i
    cdef double v
    if lo > -INFINITY:
        for i in range(n):
            v = <double>xr[i]
            if absval:
                v = fabs(v)
            v = lo if v < lo else v
            a[i] = _pow123(v, p) if first else a[i] + _pow123(v, p)
    elif absval:
        if first:
            for i in range(n):
                a[i] = _pow123(fabs(<double>xr[i]), p)
        else:
            for i in range(n):
                a[i] = a[i] + _pow123(fabs(<double>xr[i]), p)
    elif first:
        for i in range(n):
            a[i] = _pow123(<double>xr[i], p)
    else:
        for i in range(n):
            a[i] = a[i] + _pow123(<double>xr[i], p)


cdef inline void _fold_soft(const numeric* xr, const double* er, double* a0, double* a1,
                            intp n, bint first) noexcept nogil:
    """a0 (+)= e, a1 (+)= x * e, elementwise."""
    cdef intp i
    if first:
        for i in range(n):
            a0[i] = er[i]
            a1[i] = <double>xr[i] * er[i]
    else:
        for i in range(n):
            a0[i] = a0[i] + er[i]
            a1[i] = a1[i] + <double>xr[i] * er[i]


# Two input rows at a time: the per-thread rows are then read and written once per
# pair of input rows, not once per row (most windows span 2 or 3 rows).

cdef inline void _fold_power2(const numeric* x0, const numeric* x1, double* a, intp n,
                              int p, bint absval, bint first) noexcept nogil:
    """_fold_power of two rows, without a clamp.  The first pair is not added to a
    0.0: -0.0 + -0.0 is -0.0, as in the per-window kernel, and 0.0 + -0.0 is not."""
    cdef intp i
    if absval:
        if first:
            for i in range(n):
                a[i] = _pow123(fabs(<double>x0[i]), p) + _pow123(fabs(<double>x1[i]), p)
        else:
            for i in range(n):
                a[i] = (a[i] + _pow123(fabs(<double>x0[i]), p)
                        + _pow123(fabs(<double>x1[i]), p))
    elif first:
        for i in range(n):
            a[i] = _pow123(<double>x0[i], p) + _pow123(<double>x1[i], p)
    else:
        for i in range(n):
            a[i] = a[i] + _pow123(<double>x0[i], p) + _pow123(<double>x1[i], p)


cdef inline void _fold_soft2(const numeric* x0, const numeric* x1, const double* e0,
                             const double* e1, double* a0, double* a1, intp n,
                             bint first) noexcept nogil:
    """_fold_soft of two rows."""
    cdef intp i
    if first:
        for i in range(n):
            a0[i] = e0[i] + e1[i]
            a1[i] = <double>x0[i] * e0[i] + <double>x1[i] * e1[i]
    else:
        for i in range(n):
            a0[i] = a0[i] + e0[i] + e1[i]
            a1[i] = a1[i] + <double>x0[i] * e0[i] + <double>x1[i] * e1[i]


cdef inline void _soft(const numeric* x0, const numeric* x1, const double* e0,
                       const double* e1, double* a0, double* a1, intp n,
                       bint first) noexcept nogil:
    """SoftPool's fold of one row (x1 NULL) or two: _fold.h's for float32 and float64
    x, the loops above for the other dtypes."""
    if numeric is float:
        nd_fold_soft_f32(x0, x1, e0, e1, a0, a1, n, first)
    elif numeric is double:
        nd_fold_soft_f64(x0, x1, e0, e1, a0, a1, n, first)
    elif x1 == NULL:
        _fold_soft(x0, e0, a0, a1, n, first)
    else:
        _fold_soft2(x0, x1, e0, e1, a0, a1, n, first)


cdef inline void _pass_w_tables(const double* t, double* yr, intp inner,
                                const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                                intp o0, intp o1, bint is_max) noexcept nogil:
    """yr[o0:o1] = the sums (is_max: maxima) along W of the folded row t, each window
    from the tables."""
    cdef intp ow, jw, i, s, k
    cdef double v
    for ow in range(o0, o1):
        s = wstart[ow] * inner
        for i in range(inner):
            yr[ow * inner + i] = t[s + i]
        for jw in range(1, wcount[ow]):
            k = s + jw * wdil * inner
            if is_max:
                for i in range(inner):
                    v = t[k + i]
                    yr[ow * inner + i] = v if v > yr[ow * inner + i] else yr[ow * inner + i]
            else:
                for i in range(inner):
                    yr[ow * inner + i] = yr[ow * inner + i] + t[k + i]


cdef inline void _pass_w(const double* t, double* yr, const double* u, double* yu,
                         intp inner, const intp[::1] wstart, const intp[::1] wcount,
                         intp wdil, intp wlo, intp whi, intp wstride, intp woff,
                         intp wkernel, intp wo, bint u_max) noexcept nogil:
    """yr = the sums along W of the folded row t, and, unless u is NULL, yu = the
    sums (u_max: maxima) of the folded row u.  Windows of pixels (inner > 1)
    loop over their pixels' elements; the whole windows [wlo, whi) of single
    elements are _fold.h's nd_pass_w_f64 or, both rows in one loop,
    nd_pass_w2_f64 (vectorised), and the clipped ones come from the tables."""
    if inner != 1 or whi <= wlo:
        _pass_w_tables(t, yr, inner, wstart, wcount, wdil, 0, wo, False)
        if u != NULL:
            _pass_w_tables(u, yu, inner, wstart, wcount, wdil, 0, wo, u_max)
        return
    _pass_w_tables(t, yr, 1, wstart, wcount, wdil, 0, wlo, False)
    _pass_w_tables(t, yr, 1, wstart, wcount, wdil, whi, wo, False)
    if u == NULL:
        nd_pass_w_f64(t, yr, wlo, whi, wstride, woff, wkernel, wdil, False)
        return
    _pass_w_tables(u, yu, 1, wstart, wcount, wdil, 0, wlo, u_max)
    _pass_w_tables(u, yu, 1, wstart, wcount, wdil, whi, wo, u_max)
    nd_pass_w2_f64(t, u, yr, yu, wlo, whi, wstride, woff, wkernel, wdil, u_max)


cdef inline const double* _exp_row(const numeric* xr, intp tag, double r, double* cache,
                                   intp* tags, intp nslots, intp* slot, intp n,
                                   const double* keep) noexcept nogil:
    """e^(r x) of the input row xr (tagged ``tag``, its index among x's rows), from
    the thread's cache of ``nslots`` rows of n, or computed into the oldest slot
    (``slot``: the next one to fill, round robin) other than ``keep`` (the row a
    pair's first call returned, which the fold still needs; nslots >= 2).  With
    ``nslots`` at least the window's rows, the rows two neighbouring windows
    share are computed once: a 3x3 window of stride 2 reads each row once or
    twice, and its exp is taken once."""
    cdef intp s
    cdef double* er
    for s in range(nslots):
        if tags[s] == tag:
            return cache + s * n
    s = slot[0]
    if cache + s * n == keep:
        s = s + 1 if s + 1 < nslots else 0
    slot[0] = s + 1 if s + 1 < nslots else 0
    tags[s] = tag
    er = cache + s * n
    if numeric is float:
        nd_exp_f32(xr, r, er, n)
    elif numeric is double:
        nd_exp_f64(xr, r, er, n)
    return er


@cython.cdivision(True)
cdef inline void _ratio(double* yr, const double* t1, intp m) noexcept nogil:
    """yr = t1 / yr, SoftPool's sum(x e) / sum(e).  IEEE division even in the debug
    build (which otherwise raises on a zero divisor): a zero sum(e) gives inf or
    NaN in a window already marked for the per-window kernel."""
    cdef intp i
    for i in range(m):
        yr[i] = t1[i] / yr[i]


def smooth_fused(const numeric[:, :, :, :, ::1] x,   # IN  (outer, D, H, W, inner)
                 const double[:, :, :, :, ::1] e,    # IN  exp(x) or exp(r x), x's shape (SOFT, EXP_MAX)
                 double[:, :, :, :, ::1] y,          # OUT (outer, Do, Ho, Wo, inner)
                 uint8_t[:, :, :, :, ::1] bad,       # OUT y's shape (SOFT, EXP_MAX): 1 where untrusted
                 float[:, :, :, :, ::1] y32,         # OUT y's shape with finish == 1
                 const intp[::1] dstart, const intp[::1] dcount, intp ddil,
                 const intp[::1] hstart, const intp[::1] hcount, intp hdil,
                 const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                 intp wlo, intp whi, intp wstride, intp woff, intp wkernel,
                 const double[::1] ddiv, const double[::1] hdiv, const double[::1] wdiv,
                 int mean, int op, int p, bint absval, double lo, double tiny,
                 double ratio, bint exp_inside, double er, int finish, double fr,
                 bint bad_zeroed, int nthreads):
    """Window sums of a transform of x (see the module docstring), in one sweep;
    returns the number of windows marked in ``bad``.

    - POWER: y = the sum of v ** p, or with ``mean`` (DIVIDE) that sum divided
      by (ddiv * hdiv) * wdiv, or (RECIPROCALS) multiplied by it, the divisors'
      reciprocals given.  ``bad`` is not touched.
    - SOFT: y = sum(x e) / sum(e), and ``bad`` marks the windows where either sum
      is not finite or sum(e) < ``tiny`` (their y is to be replaced).
    - EXP_MAX: y = the mean of e (``mean`` and the divisors as for POWER), and
      ``bad`` marks the windows where it is not finite or below ``tiny``, or where
      neither its log nor its log's distance to the log of the window's largest
      e reaches log(``ratio``) (``smooth._lse_slab``'s margin).

    With ``exp_inside`` (SOFT, EXP_MAX; x float32 or float64), ``e`` is not read:
    each input row's ``e^(er x)`` is computed as the sweep reaches it, into a
    per-thread cache of as many rows as the largest window spans (its rows and,
    dilated, the rows between them, which the next windows read), so that x is
    read once and no float64 copy of it is written.  _vexp.h's exp, the same
    as exp_rows'.

    ``finish`` (SOFT, EXP_MAX): 0, y as above; 1, each row finished into y32
    (float32; y is a placeholder, not touched); 2 (EXP_MAX), finished into y.
    SOFT's finished value is its y rounded to float32; EXP_MAX's is
    ``log(y) / fr`` (_vexp.h's log, the quotient rounded once to float64, then
    to float32 for y32), log-sum-exp's value, taken in the loop that tests the
    row (_fold.h's nd_lse_finish_*).  ``bad`` marks windows by their sums; the
    finished value of a marked window is some finite number, not its log.

    ``bad_zeroed``: ``bad`` is all zeros on entry (np.zeros, whose pages the
    system clears only when they are written), and only rows with a marked
    window are written; else every row is.

    Every window holds at least one element.
    """
    cdef intp do = y.shape[1], ho = y.shape[2], wo = y.shape[3], inner = y.shape[4]
    cdef intp rows = y.shape[0] * do * ho
    if finish == 1:               # y is a placeholder: the output's shape is y32's
        do, ho, wo, inner = y32.shape[1], y32.shape[2], y32.shape[3], y32.shape[4]
        rows = y32.shape[0] * do * ho
    cdef intp nchunks = chunk_count(rows, nthreads)
    cdef intp n = x.shape[3] * inner, m = wo * inner
    cdef intp ch, r, r1, b, od, oh, ow, i, d, h, d1, h1, q, nrows, nbad
    cdef bint first, lean, two = op != POWER
    cdef bint pairs = op != POWER or not lo > -INFINITY   # no clamp: a pair's loop
    cdef double scale, div, fails
    cdef double* a0
    cdef double* a1
    cdef double* t1
    cdef double* yr
    cdef double* rowbuf
    cdef uint8_t* br
    cdef intp nd = x.shape[1], nh = x.shape[2], nslots = 0, slot, s
    cdef double* cache
    cdef intp* tags
    cdef const double* e0
    cdef const double* e1
    cdef const numeric* x0
    cdef const numeric* x1
    counts = np.zeros(max(nchunks, 1), np.intp)
    cdef intp[::1] cv = counts
    if exp_inside:    # the cache holds every row the largest window spans, gaps included
        nslots = max(2, ((int(np.max(np.asarray(dcount))) - 1) * ddil + 1)
                     * ((int(np.max(np.asarray(hcount))) - 1) * hdil + 1))
    with nogil, parallel(num_threads=nthreads):
        a0 = <double*>malloc(((2 * n + 2 * m) if two else n) * sizeof(double))
        a1 = a0 + n
        t1 = a1 + n
        rowbuf = t1 + m           # the row's sums when they are finished into y32 or y
        cache = <double*>malloc(nslots * n * sizeof(double)) if exp_inside else NULL
        tags = <intp*>malloc(nslots * sizeof(intp)) if exp_inside else NULL
        for ch in prange(nchunks, schedule="static"):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b, od, oh = row_at(r, ho, do)
            nbad = 0
            slot = 0
            for s in range(nslots):
                tags[s] = -1
            while r < r1:
                # the window's dcount x hcount input rows, q-th at (d, h), two at a time
                first = True
                nrows = dcount[od] * hcount[oh]
                q = 0
                while q < nrows:
                    d = dstart[od] + (q // hcount[oh]) * ddil
                    h = hstart[oh] + (q % hcount[oh]) * hdil
                    x0 = &x[b, d, h, 0, 0]
                    x1 = NULL
                    if q + 1 < nrows and pairs:
                        d1 = dstart[od] + ((q + 1) // hcount[oh]) * ddil
                        h1 = hstart[oh] + ((q + 1) % hcount[oh]) * hdil
                        x1 = &x[b, d1, h1, 0, 0]
                    if op == POWER and x1 != NULL:
                        _fold_power2(x0, x1, a0, n, p, absval, first)
                    elif op == POWER:
                        _fold_power(x0, a0, n, p, absval, lo, first)
                    else:
                        e1 = NULL
                        if exp_inside:
                            e0 = _exp_row(x0, (b * nd + d) * nh + h, er, cache, tags, nslots,
                                          &slot, n, NULL)
                            if x1 != NULL:
                                e1 = _exp_row(x1, (b * nd + d1) * nh + h1, er, cache, tags,
                                              nslots, &slot, n, e0)
                        else:
                            e0 = &e[b, d, h, 0, 0]
                            if x1 != NULL:
                                e1 = &e[b, d1, h1, 0, 0]
                        if op == SOFT:
                            _soft(x0, x1, e0, e1, a0, a1, n, first)
                        else:
                            nd_fold_exp_max(e0, e1, a0, a1, n, first)
                    q = q + (1 if x1 == NULL else 2)
                    first = False
                # the sums go to y itself unless they are finished into another row
                yr = rowbuf if finish == 1 or (finish == 2 and op == EXP_MAX) \
                    else &y[b, od, oh, 0, 0]
                # the sums, and SOFT's and EXP_MAX's second row (into t1) with them
                _pass_w(a0, yr, a1 if two else NULL, t1, inner, wstart, wcount, wdil, wlo,
                        whi, wstride, woff, wkernel, wo, op == EXP_MAX)
                # the means (log-sum-exp's rows of single elements take their
                # reciprocals as they are finished, ``lean``)
                lean = op == EXP_MAX and finish != 0 and mean == RECIPROCALS and inner == 1
                # (without means the divisors are one-element placeholders)
                scale = ddiv[od] * hdiv[oh] if mean != SUMS else 1.0
                if mean == RECIPROCALS and inner == 1 and not lean:
                    for ow in range(wo):
                        yr[ow] = yr[ow] * (scale * wdiv[ow])
                elif mean == RECIPROCALS and inner != 1:
                    for ow in range(wo):
                        div = scale * wdiv[ow]
                        for i in range(inner):
                            yr[ow * inner + i] = yr[ow * inner + i] * div
                elif mean == DIVIDE and inner == 1:
                    for ow in range(wo):
                        yr[ow] = yr[ow] / (scale * wdiv[ow])
                elif mean == DIVIDE:
                    for ow in range(wo):
                        div = scale * wdiv[ow]
                        for i in range(inner):
                            yr[ow * inner + i] = yr[ow * inner + i] / div
                if two:
                    br = &bad[b, od, oh, 0, 0]
                    # log-sum-exp's rows are finished (into y, y32) as they are tested
                    if op == EXP_MAX and finish == 1:
                        fails = nd_lse_finish_f32(yr, t1, m, &wdiv[0] if lean else NULL,
                                                  scale, tiny, ratio, fr,
                                                  &y32[b, od, oh, 0, 0])
                    elif op == EXP_MAX and finish == 2:
                        fails = nd_lse_finish_f64(yr, t1, m, &wdiv[0] if lean else NULL,
                                                  scale, tiny, ratio, fr,
                                                  &y[b, od, oh, 0, 0])
                    else:
                        fails = nd_failures(yr, t1, m, op == SOFT, tiny, ratio)
                    if fails > 0:
                        for i in range(m):
                            br[i] = (nd_soft_fails(yr[i], t1[i], tiny) if op == SOFT
                                     else nd_lse_fails(yr[i], t1[i], tiny, ratio)) > 0
                            nbad = nbad + br[i]
                    elif not bad_zeroed:
                        memset(br, 0, m)
                    if op == SOFT:
                        _ratio(yr, t1, m)
                    if finish == 1 and op == SOFT:
                        nd_round_f32(yr, &y32[b, od, oh, 0, 0], m)
                r = r + 1
                next_row(&oh, &od, &b, ho, do)
            cv[ch] = nbad
        free(a0)
        free(cache)
        free(tags)
    return int(counts.sum())


def exp_rows(const floating[:, :] x, double r, double[:, :] out, int nthreads):
    """out = e^(r x) elementwise, in float64, row by row (rows of any stride, each
    contiguous: the caller's _engine._as_rows views); ``out`` may be ``x`` itself
    (float64).  The exp is _vexp.h's:
    NumPy's float64 exp is SIMD only where AVX-512 is, and one libm call per
    element (about 6 ns each here) was most of SoftPool's and log-sum-exp's
    time.  r x is rounded to float64 first, as ``np.multiply(x, r, dtype=float64)``
    rounds it.  Work is shared out in pieces of rows of about 2**14 elements;
    ``out`` has x's shape; nothing here validates."""
    _unary_rows(x, r, out, False, nthreads)


def log_rows(const double[:, :] x, double[:, :] out, int nthreads):
    """out = log(x) elementwise, row by row, as exp_rows (``out`` may be ``x``);
    _vexp.h's log, within 1 ulp of libm's (NumPy's float64 log is libm's,
    element by element, where AVX-512 is not)."""
    _unary_rows(x, 1.0, out, True, nthreads)


cdef void _unary_rows(const floating[:, :] x, double r, double[:, :] out, bint log,
                      int nthreads) noexcept:
    """exp_rows and log_rows (``log``: float64 only), shared out in pieces of rows
    of about 2**14 elements."""
    cdef intp rows = x.shape[0], n = x.shape[1]
    cdef intp per = (n + 16383) // 16384           # pieces per row
    cdef intp t, row, j, i0, i1
    if rows == 0 or n == 0:
        return
    for t in prange(rows * per, nogil=True, num_threads=nthreads, schedule="static"):
        row = t // per
        j = t - row * per
        i0 = j * n // per
        i1 = (j + 1) * n // per
        if floating is float:
            nd_exp_f32(&x[row, i0], r, &out[row, i0], i1 - i0)
        elif log:
            nd_log_f64(&x[row, i0], &out[row, i0], i1 - i0)
        else:
            nd_exp_f64(&x[row, i0], r, &out[row, i0], i1 - i0)

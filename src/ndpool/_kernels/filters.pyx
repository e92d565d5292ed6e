# cython: freethreading_compatible = True
"""Separable filter passes: every output is a weighted sum of listed input rows.

Blur pooling (a binomial low-pass filter, then subsampling) and wavelet pooling
(a wavelet's low-pass decomposition filter, then subsampling) are separable
linear filters.  Each pooled axis is described by a table (see ``Axis``):
output ``o`` along the axis is

    sum_{j < count[o]} weight[o, j] * x[index[o, j]]

The facade folds the boundary rule into the table (reflect, replicate,
circular and periodization map out-of-range taps to input rows; zero padding
drops them), so the kernels never see a boundary and never validate.  Outputs
``[lo, hi)`` are regular (taps ``o * step + offset + j`` with the weights
``kern[j]``), so the loop over them is innermost and vectorises; the few
boundary outputs use the table.  Sums are accumulated in the output type
``real``: float32 for float16/32 data (four lanes per SSE vector, as a
float32 convolution), double for everything else.

With ``span > 1`` a tap is the maximum of ``span`` consecutive rows starting
at its index (NaN propagating, as in max pooling): max-blur pooling fuses its
stride-1 max into the blur.

Two kernels, on C-contiguous views:

* ``taps_pass``: one axis of an (outer, n, inner) view.  Small ``inner`` (the
  axis is the last one, or an RGB pixel follows it): whole lines, converted
  to ``real`` once; large ``inner``: output rows of ``inner`` accumulators,
  in tiles that stay in L1.
* ``taps_pair``: two adjacent axes (h, w) of an (outer, nh, nw, inner) view in
  one pass: each output row first combines its h taps' input rows (contiguous,
  vectorised), then filters that one row along w.  No intermediate array.
  With spans, the max-rows it combines are cached per thread, so each is
  computed once although consecutive output rows share them.

Work is split into contiguous runs of rows, one per prange iteration, so
results do not depend on the number of threads.
"""
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc

from ndpool._kernels._fused cimport numeric
from ndpool._kernels._rows cimport chunk_count

ctypedef Py_ssize_t intp

ctypedef fused real:
    float
    double

cdef enum:
    SMALL_INNER = 8   # below: filter whole lines; above: rows of accumulators
    TILE = 1024       # accumulators per tile of a row (8 KiB)


cdef struct Axis:
    const intp* index     # (m, K) first input row of each tap
    const double* weight  # (m, K)
    const intp* count     # (m,) taps used, <= K
    const double* kern    # (K,) the weights of the regular outputs
    intp n, m, K          # input length after the max, output length, table width
    intp lo, hi           # outputs [lo, hi) are regular
    intp step, offset     # regular output o's taps: o * step + offset + j
    intp span             # rows per tap (their max), >= 1


cdef Axis make_axis(intp n, const intp[:, ::1] index, const double[:, ::1] weight,
                    const intp[::1] count, const double[::1] kern, intp lo, intp hi,
                    intp step, intp offset, intp span):
    cdef Axis a
    a.n = n - span + 1
    a.m = count.shape[0]
    a.K = kern.shape[0]
    a.index = &index[0, 0] if a.m else NULL
    a.weight = &weight[0, 0] if a.m else NULL
    a.count = &count[0] if a.m else NULL
    a.kern = &kern[0]
    a.lo, a.hi, a.step, a.offset, a.span = lo, hi, step, offset, span
    return a


cdef inline numeric peak(numeric v, numeric best) noexcept nogil:
    """max(v, best) where a NaN wins, as max pooling's rule (branch-free selects)."""
    cdef numeric t = v if v > best else best
    if numeric is float or numeric is double:
        return v if v != v else t
    else:
        return t


cdef inline void load_line(const numeric* src, intp stride, intp n, intp span,
                           real* line) noexcept nogil:
    """line[p] = max_{t < span} src[(p + t) * stride] for p < n, in the working type."""
    cdef intp p, t
    cdef numeric v
    if span == 1:
        for p in range(n):
            line[p] = <real>src[p * stride]
        return
    for p in range(n):
        v = src[p * stride]
        for t in range(1, span):
            v = peak(src[(p + t) * stride], v)
        line[p] = <real>v


cdef inline real edge_output(const real* line, const Axis* a, intp o) noexcept nogil:
    """One boundary output, from the table."""
    cdef intp j
    cdef real acc = 0
    for j in range(a.count[o]):
        acc = acc + <real>a.weight[o * a.K + j] * line[a.index[o * a.K + j]]
    return acc


cdef inline void axpy(real* out, real w, const real* src, intp n, intp step,
                      bint first) noexcept nogil:
    """out[o] (= or +=) w * src[o * step], o < n; strides 1 and 2 spelled out to vectorise."""
    cdef intp o
    if step == 2:
        if first:
            for o in range(n):
                out[o] = w * src[2 * o]
        else:
            for o in range(n):
                out[o] = out[o] + w * src[2 * o]
    elif step == 1:
        if first:
            for o in range(n):
                out[o] = w * src[o]
        else:
            for o in range(n):
                out[o] = out[o] + w * src[o]
    else:
        if first:
            for o in range(n):
                out[o] = w * src[o * step]
        else:
            for o in range(n):
                out[o] = out[o] + w * src[o * step]


cdef inline void filter_line(const real* line, const Axis* a, real* out) noexcept nogil:
    """out[o] = sum_j weight[o, j] * line[index[o, j]] for every output o of the axis."""
    cdef intp o, j, first
    for o in range(a.lo):
        out[o] = edge_output(line, a, o)
    for o in range(a.hi, a.m):
        out[o] = edge_output(line, a, o)
    if a.hi > a.lo:
        first = a.lo * a.step + a.offset
        for j in range(a.K):
            axpy(out + a.lo, <real>a.kern[j], line + first + j, a.hi - a.lo, a.step, j == 0)


cdef inline void combine(real* acc, real w, const numeric* src, intp n,
                         bint first) noexcept nogil:
    """acc[k] (= or +=) w * src[k], k < n: one contiguous vector loop."""
    cdef intp k
    if first:
        for k in range(n):
            acc[k] = w * <real>src[k]
    else:
        for k in range(n):
            acc[k] = acc[k] + w * <real>src[k]


cdef inline void combine_real(real* acc, real w, const real* src, intp n,
                              bint first) noexcept nogil:
    """:func:`combine` for rows of the working type."""
    cdef intp k
    if first:
        for k in range(n):
            acc[k] = w * src[k]
    else:
        for k in range(n):
            acc[k] = acc[k] + w * src[k]


# ---- one axis -------------------------------------------------------------------

def taps_pass(const numeric[:, :, ::1] x,    # IN  (outer, n, inner)
              real[:, :, ::1] y,             # OUT (outer, m, inner)
              const intp[:, ::1] index,      # IN  (m, K) first input row of each tap
              const double[:, ::1] weight,   # IN  (m, K)
              const intp[::1] count,         # IN  (m,) taps used, <= K
              const double[::1] kern,        # IN  (K,) weights of the regular outputs
              intp lo, intp hi,              # IN  outputs [lo, hi) are regular
              intp step, intp offset,        # IN  their taps: o * step + offset + j
              intp span,                     # IN  rows per tap (their max), >= 1
              int nthreads):
    """y[b, o, i] = sum_j weight[o, j] * max_{t < span} x[b, index[o, j] + t, i]."""
    cdef Axis a = make_axis(x.shape[1], index, weight, count, kern, lo, hi, step, offset,
                            span)
    if y.shape[0] == 0 or y.shape[1] == 0 or y.shape[2] == 0:
        return
    if y.shape[2] < SMALL_INNER:
        _lines(x, y, &a, nthreads)
    else:
        _rows(x, y, &a, nthreads)


cdef void _lines(const numeric[:, :, ::1] x, real[:, :, ::1] y, const Axis* a,
                 int nthreads) noexcept:
    """Small ``inner``: filter whole lines x[b, :, i], one (b, i) line at a time."""
    cdef intp inner = y.shape[2]
    cdef intp nlines = y.shape[0] * inner
    cdef intp nchunks = chunk_count(nlines, nthreads)
    cdef intp ch, r, r1, b, i, o
    cdef real* out = NULL       # firstprivate in the parallel block
    cdef real* line = NULL
    with nogil, parallel(num_threads=nthreads):
        out = <real*>malloc(a.m * sizeof(real))
        line = <real*>malloc(a.n * sizeof(real))
        for ch in prange(nchunks, schedule="static"):
            r = ch * nlines // nchunks
            r1 = (ch + 1) * nlines // nchunks
            while r < r1:
                b = r // inner
                i = r - b * inner
                load_line(&x[b, 0, i], inner, a.n, a.span, line)
                filter_line(line, a, out)
                for o in range(a.m):
                    y[b, o, i] = out[o]
                r = r + 1
        free(line)
        free(out)


cdef void _rows(const numeric[:, :, ::1] x, real[:, :, ::1] y, const Axis* a,
                int nthreads) noexcept:
    """Large ``inner``: one output row y[b, o, :] at a time, in L1-sized tiles."""
    cdef intp m = y.shape[1], inner = y.shape[2]
    cdef intp nrows = y.shape[0] * m
    cdef intp nchunks = chunk_count(nrows, nthreads)
    cdef intp ch, r, r1, b, o, j, i, i0, len_, p, t
    cdef const numeric* s
    cdef real* buf = NULL      # firstprivate in the parallel block
    cdef numeric* top = NULL
    with nogil, parallel(num_threads=nthreads):
        buf = <real*>malloc(TILE * sizeof(real))
        top = <numeric*>malloc(TILE * sizeof(numeric))
        for ch in prange(nchunks, schedule="static"):
            r = ch * nrows // nchunks
            r1 = (ch + 1) * nrows // nchunks
            b = r // m
            o = r - b * m
            while r < r1:
                i0 = 0
                while i0 < inner:
                    len_ = TILE if i0 + TILE < inner else inner - i0
                    if a.count[o] == 0:
                        for i in range(len_):
                            buf[i] = 0
                    for j in range(a.count[o]):
                        p = a.index[o * a.K + j]
                        s = &x[b, p, i0]
                        if a.span > 1:
                            for i in range(len_):
                                top[i] = s[i]
                            for t in range(1, a.span):
                                s = &x[b, p + t, i0]
                                for i in range(len_):
                                    top[i] = peak(s[i], top[i])
                            s = top
                        combine(buf, <real>a.weight[o * a.K + j], s, len_, j == 0)
                    for i in range(len_):
                        y[b, o, i0 + i] = buf[i]
                    i0 = i0 + len_
                r = r + 1
                o = o + 1
                if o == m:
                    o = 0
                    b = b + 1
        free(top)
        free(buf)


# ---- two adjacent axes ----------------------------------------------------------

def taps_pair(const numeric[:, :, :, ::1] x,   # IN  (outer, nh, nw, inner)
              real[:, :, :, ::1] y,            # OUT (outer, mh, mw, inner)
              const intp[:, ::1] hindex, const double[:, ::1] hweight,
              const intp[::1] hcount, const double[::1] hkern,
              intp hlo, intp hhi, intp hstep, intp hoffset, intp hspan,
              const intp[:, ::1] windex, const double[:, ::1] wweight,
              const intp[::1] wcount, const double[::1] wkern,
              intp wlo, intp whi, intp wstep, intp woffset, intp wspan,
              int nthreads):
    """Both axes at once: y[b, oh] = filter_w(sum_jh hweight[oh, jh] * M[b, ih]) where
    M is x's max over hspan x wspan blocks (x itself when both spans are 1).

    Each thread keeps a few (nw, inner) rows (about 2 K + 2 with spans); the
    facade pairs axes only when a row is small.
    """
    cdef Axis h = make_axis(x.shape[1], hindex, hweight, hcount, hkern, hlo, hhi, hstep,
                            hoffset, hspan)
    cdef Axis w = make_axis(x.shape[2], windex, wweight, wcount, wkern, wlo, whi, wstep,
                            woffset, wspan)
    if y.shape[0] == 0 or y.shape[1] == 0 or y.shape[2] == 0 or y.shape[3] == 0:
        return
    _pair(x, y, &h, &w, nthreads)


cdef inline const numeric* wmax_row(const numeric[:, :, :, ::1] x, intp b, intp r,
                                    const Axis* w, numeric* dst) noexcept nogil:
    """Row r of x[b] with its running max over w.span positions along w (in ``dst``,
    or the row itself when w.span is 1)."""
    cdef intp inner = x.shape[3], row = w.n * inner, k, t
    cdef const numeric* src = &x[b, r, 0, 0]
    if w.span == 1:
        return src
    for k in range(row):
        dst[k] = peak(src[k + inner], src[k])
    for t in range(2, w.span):
        for k in range(row):
            dst[k] = peak(src[k + t * inner], dst[k])
    return dst


cdef struct Cache:
    # max_blur: max-rows (the h.span x w.span max at a row, in the working type) and
    # the w-max rows they are made of, keyed by b * nh + row, so that each is
    # computed once although consecutive output rows share them (stride < kernel).
    void* rows            # h.K max-rows of `row` reals
    intp* keys
    void* wrows           # `slots` w-max rows of `row` input elements
    intp* wkeys
    intp slots
    void* top             # one row of input elements, for h.span > 2


cdef Cache new_cache(const Axis* h, intp row, size_t real_size, size_t elem_size,
                     bint spans) noexcept nogil:
    """A thread's cache (all NULL when there is no max to take)."""
    cdef Cache c
    c.slots = h.K + h.span
    c.rows = c.wrows = c.top = NULL
    c.keys = c.wkeys = NULL
    if spans:
        c.rows = malloc(h.K * row * real_size)
        c.keys = <intp*>malloc(h.K * sizeof(intp))
        c.wrows = malloc(c.slots * row * elem_size)
        c.wkeys = <intp*>malloc(c.slots * sizeof(intp))
        c.top = malloc(row * elem_size)
    return c


cdef void free_cache(Cache* c) noexcept nogil:
    free(c.top)
    free(c.wkeys)
    free(c.wrows)
    free(c.keys)
    free(c.rows)


cdef inline void clear_cache(const Axis* h, Cache* c) noexcept nogil:
    cdef intp q
    if c.keys != NULL:
        for q in range(h.K):
            c.keys[q] = -1
        for q in range(c.slots):
            c.wkeys[q] = -1


cdef inline const numeric* cached_wmax(const numeric[:, :, :, ::1] x, intp b, intp r,
                                       intp key, const Axis* w, Cache* c) noexcept nogil:
    """The w-max of row r of x[b] (x's row itself when w.span is 1)."""
    cdef intp row = w.n * x.shape[3]
    cdef intp q = r % c.slots
    cdef numeric* dst = <numeric*>c.wrows + q * row
    if w.span == 1:
        return &x[b, r, 0, 0]
    if c.wkeys[q] != key:
        wmax_row(x, b, r, w, dst)
        c.wkeys[q] = key
    return dst


cdef inline real* cached_max_row(const numeric[:, :, :, ::1] x, intp b, intp ih,
                                 const Axis* h, const Axis* w, Cache* c,
                                 real* rows) noexcept nogil:
    """The (h.span x w.span) max-row at row ih of x[b], from the cache or computed."""
    cdef intp nh = x.shape[1], row = w.n * x.shape[3], k, t
    cdef intp key = b * nh + ih, q = ih % h.K
    cdef real* mrow = rows + q * row
    cdef numeric* top = <numeric*>c.top
    cdef const numeric* w0
    cdef const numeric* w1
    if c.keys[q] == key:
        return mrow
    w0 = cached_wmax(x, b, ih, key, w, c)
    if h.span == 1:
        for k in range(row):
            mrow[k] = <real>w0[k]
    elif h.span == 2:
        w1 = cached_wmax(x, b, ih + 1, key + 1, w, c)
        for k in range(row):
            mrow[k] = <real>peak(w1[k], w0[k])
    else:
        w1 = cached_wmax(x, b, ih + 1, key + 1, w, c)
        for k in range(row):
            top[k] = peak(w1[k], w0[k])
        for t in range(2, h.span):
            w1 = cached_wmax(x, b, ih + t, key + t, w, c)
            for k in range(row):
                top[k] = peak(w1[k], top[k])
        for k in range(row):
            mrow[k] = <real>top[k]
    c.keys[q] = key
    return mrow


cdef inline void filter_row(const real* v, const Axis* w, intp inner, real* dst,
                            real* out, real* line) noexcept nogil:
    """dst (mw, inner) = v (w.n, inner) filtered along w."""
    cdef intp i, p, ow, j
    if inner < SMALL_INNER:
        for i in range(inner):
            if inner == 1:
                filter_line(v, w, out)
            else:
                for p in range(w.n):
                    line[p] = v[p * inner + i]
                filter_line(line, w, out)
            for ow in range(w.m):
                dst[ow * inner + i] = out[ow]
    else:
        for ow in range(w.m):
            if w.count[ow] == 0:
                for i in range(inner):
                    dst[ow * inner + i] = 0
            for j in range(w.count[ow]):
                p = w.index[ow * w.K + j]
                combine_real(dst + ow * inner, <real>w.weight[ow * w.K + j],
                             v + p * inner, inner, j == 0)


cdef void _pair(const numeric[:, :, :, ::1] x, real[:, :, :, ::1] y, const Axis* h,
                const Axis* w, int nthreads) noexcept:
    cdef intp inner = x.shape[3]
    cdef intp mh = y.shape[1]
    cdef intp row = w.n * inner          # the combined row: w's length after the max
    cdef intp nrows = y.shape[0] * mh
    cdef intp nchunks = chunk_count(nrows, nthreads)
    cdef intp ch, r, r1, b, oh, jh, k
    cdef bint spans = h.span > 1 or w.span > 1
    cdef const real* src
    cdef real* v = NULL         # firstprivate in the parallel block
    cdef real* out = NULL
    cdef real* line = NULL
    cdef Cache c                # per thread: assigned whole inside the parallel block
    with nogil, parallel(num_threads=nthreads):
        v = <real*>malloc(row * sizeof(real))
        out = <real*>malloc(w.m * sizeof(real))
        line = <real*>malloc(w.n * sizeof(real))
        c = new_cache(h, row, sizeof(real), sizeof(numeric), spans)
        for ch in prange(nchunks, schedule="static"):
            r = ch * nrows // nchunks
            r1 = (ch + 1) * nrows // nchunks
            b = r // mh
            oh = r - b * mh
            clear_cache(h, &c)
            while r < r1:
                # v = sum over the h taps of their (max-)rows: contiguous, vectorised
                if h.count[oh] == 0:
                    for k in range(row):
                        v[k] = 0
                for jh in range(h.count[oh]):
                    if spans:
                        src = cached_max_row(x, b, h.index[oh * h.K + jh], h, w, &c,
                                             <real*>c.rows)
                        combine_real(v, <real>h.weight[oh * h.K + jh], src, row, jh == 0)
                    else:
                        combine(v, <real>h.weight[oh * h.K + jh],
                                &x[b, h.index[oh * h.K + jh], 0, 0], row, jh == 0)
                # then filter v along w, straight into the output row
                filter_row(v, w, inner, &y[b, oh, 0, 0], out, line)
                r = r + 1
                oh = oh + 1
                if oh == mh:
                    oh = 0
                    b = b + 1
        free_cache(&c)
        free(line)
        free(out)
        free(v)

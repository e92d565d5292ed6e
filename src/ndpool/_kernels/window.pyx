# cython: freethreading_compatible = True
"""One-axis window passes over a C-contiguous (outer, n, inner) view.

A pass reduces, for every output row ``o`` along the middle axis, the taps
``x[b, start[t, o] + j * dilation, :]`` for ``j < count[t, o]``, where the plan
table row is ``t = b // rep``: one row (``rep = outer``) when every plane
shares its windows, one row per plane when each draws its own (fractional
pooling).  The facade plans
``start`` and ``count`` so every tap is in bounds, runs one pass per pooled
axis (last pooled axis first, so ties break in row-major order), and fills
windows that hold no tap (``count == 0``) itself; these kernels write 0 there.

The innermost loop runs over ``inner``, the contiguous trailing axes, so a
channels-last image is reduced across its channels with unit stride and a
channels-first image along its rows.  When ``inner`` is small (the pooled axis
is the last one, or the channels of an RGB image follow it) a register
accumulator per element walks the window instead.

Work is split into ``nchunks`` contiguous runs of (b, o) rows, one run per
prange iteration, so no thread divides per output and results do not depend
on the number of threads.  Nothing here validates or allocates.
"""
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, frexp
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from ndpool._kernels._fused cimport numeric, accum, real, wide
from ndpool._kernels._rows cimport chunk_count, next_row, row_at

ctypedef Py_ssize_t intp

# Below this many contiguous trailing elements (the last axis itself, or an RGB
# pixel) a register accumulator per element beats a vector loop over `inner`.
cdef enum:
    SMALL_INNER = 8


cdef inline bint better(numeric v, numeric best, bint is_min) noexcept nogil:
    # PyTorch's rule: a NaN always replaces the current best, so NaN propagates
    # and the last NaN of the window is the one reported.  `|`, not `or`: no
    # short-circuit branch, so callers' selects compile to blends.
    if numeric is float or numeric is double:
        if is_min:
            return (v < best) | (v != v)
        return (v > best) | (v != v)
    else:
        if is_min:
            return v < best
        return v > best


cdef inline numeric pick(numeric v, numeric best, bint is_min) noexcept nogil:
    """The new best after seeing ``v``: ``v if better(v, best) else best``.

    Written as two one-condition selects (a max/min, then a NaN override) that
    compilers turn into branch-free code even on the scalar path.
    """
    cdef numeric t
    if is_min:
        t = v if v < best else best
    else:
        t = v if v > best else best
    if numeric is float or numeric is double:
        return v if v != v else t
    else:
        return t


def table_view(const intp[::1] table):
    """``table`` as this module's memoryview, which the kernels take without a
    buffer request: the engine keeps the views of small calls' plan tables."""
    return table


cdef inline void _run_done(intp* r, intp* o, intp* b, intp* t, intp e, intp m,
                           intp rep) noexcept nogil:
    """A pass's cursor (chunk row r; its outer row b, table row t and window o)
    moved past windows o .. e - 1 of row b, to the next row when e is its end."""
    r[0] = r[0] + (e - o[0])
    o[0] = e
    if e == m:
        o[0] = 0
        b[0] = b[0] + 1
        t[0] = b[0] // rep


cdef inline void _ext_singles(const numeric* xr, numeric* yr, const intp* st,
                              const intp* ct, intp o0, intp o1, intp dilation,
                              bint is_min) noexcept nogil:
    """extremum_pass's windows o0 <= o < o1 of one row of single elements, from the
    row's tables, through raw pointers (memoryview indexing reloads the views'
    strides after every store): the same picks in the same order.  Two-tap
    windows (fractional pooling's) have their own branch, without a loop."""
    cdef intp o, j, s, c
    cdef numeric best
    for o in range(o0, o1):
        s = st[o]
        c = ct[o]
        if c == 2:
            yr[o] = pick(xr[s + dilation], xr[s], is_min)
        elif c == 0:
            yr[o] = 0
        else:
            best = xr[s]
            for j in range(1, c):
                best = pick(xr[s + j * dilation], best, is_min)
            yr[o] = best


def extremum_pass(const numeric[:, :, ::1] x,     # IN  (outer, n, inner)
                  numeric[:, :, ::1] y,           # OUT (outer, m, inner)
                  const intp[:, ::1] start,       # IN  (rows, m)
                  const intp[:, ::1] count,       # IN  (rows, m)
                  intp rep, intp dilation, bint is_min, int nthreads):
    cdef intp m = y.shape[1], inner = y.shape[2], n = x.shape[1]
    cdef intp rows = y.shape[0] * m
    cdef intp nchunks = chunk_count(rows, nthreads)
    cdef intp ch, r, r1, b, o, s, c, j, i, t, e
    cdef numeric v, best
    with nogil:
        for ch in prange(nchunks, schedule="static", num_threads=nthreads):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b = r // m
            o = r - b * m
            t = b // rep
            while r < r1:
                if inner == 1 and n > 0:     # the chunk's outputs of this row at once
                    e = min(m, o + (r1 - r))
                    _ext_singles(&x[b, 0, 0], &y[b, 0, 0], &start[t, 0], &count[t, 0],
                                 o, e, dilation, is_min)
                    _run_done(&r, &o, &b, &t, e, m, rep)
                    continue
                s = start[t, o]
                c = count[t, o]
                if c == 0:
                    for i in range(inner):
                        y[b, o, i] = 0
                elif inner < SMALL_INNER:
                    for i in range(inner):
                        best = x[b, s, i]
                        for j in range(1, c):
                            best = pick(x[b, s + j * dilation, i], best, is_min)
                        y[b, o, i] = best
                else:
                    for i in range(inner):
                        y[b, o, i] = x[b, s, i]
                    for j in range(1, c):
                        for i in range(inner):
                            v = x[b, s + j * dilation, i]
                            y[b, o, i] = pick(v, y[b, o, i], is_min)
                r = r + 1
                o = o + 1
                if o == m:
                    o = 0
                    b = b + 1
                    t = b // rep


def arg_extremum_pass(const numeric[:, :, ::1] x,   # IN  values (outer, n, inner)
                      const intp[:, :, ::1] xi,     # IN  indices of x, or None on the first pass
                      numeric[:, :, ::1] y,         # OUT values (outer, m, inner)
                      intp[:, :, ::1] yi,           # OUT indices (outer, m, inner)
                      const intp[:, ::1] start,     # IN  (rows, m)
                      const intp[:, ::1] count,     # IN  (rows, m)
                      intp rep, intp dilation, intp index_stride, bint is_min,
                      intp wlo, intp whi, intp woff, intp wstride, intp wk,
                      int nthreads):
    """Like extremum_pass, and records where the winner came from.

    The winning position ``p`` along this axis becomes
    ``p * index_stride + xi[b, p, i]``: flat indices into the pooled sub-shape
    are built up one axis at a time, ``index_stride`` being the product of the
    lengths of the pooled axes after this one.

    Windows wlo <= o < whi are whole and evenly spaced (the plan's ``regular``;
    wlo == whi: none): window o's wk taps start at woff + o * wstride.  Rows of
    single float elements take them through _argfold.h's nd_arg_regular_*,
    windows side by side, and the rest from the tables.
    """
    cdef intp m = y.shape[1], inner = y.shape[2], n = x.shape[1]
    cdef intp rows = y.shape[0] * m
    cdef intp nchunks = chunk_count(rows, nthreads)
    cdef intp ch, r, r1, b, o, t, e, g0, g1
    cdef const numeric* xr
    cdef const intp* xir
    cdef bint first = xi is None
    if inner == 0:
        return
    with nogil:
        for ch in prange(nchunks, schedule="static", num_threads=nthreads):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b = r // m
            o = r - b * m
            t = b // rep
            while r < r1:
                if (numeric is float or numeric is double) and inner == 1 and n > 0:
                    # single elements: the chunk's windows of this row at once
                    e = min(m, o + (r1 - r))
                    # [o, g0) and [g1, e) from the tables, [g0, g1) regular
                    g0 = min(max(wlo, o), e)
                    g1 = min(max(whi, g0), e)
                    xr = &x[b, 0, 0]
                    xir = NULL if first else &xi[b, 0, 0]
                    _arg_row(xr, xir, &y[b, 0, 0], &yi[b, 0, 0], &start[t, 0], &count[t, 0],
                             o, g0, dilation, index_stride, is_min)
                    _arg_regular(xr, xir, &y[b, 0, 0], &yi[b, 0, 0], g0, g1, woff, wstride,
                                 wk, dilation, index_stride, is_min)
                    _arg_row(xr, xir, &y[b, 0, 0], &yi[b, 0, 0], &start[t, 0], &count[t, 0],
                             g1, e, dilation, index_stride, is_min)
                    _run_done(&r, &o, &b, &t, e, m, rep)
                    continue
                # raw row pointers: stores through a memoryview make the compiler
                # reload every view's strides after each one
                _arg_window(&x[b, 0, 0] if n else NULL,
                            NULL if first or not n else &xi[b, 0, 0],
                            &y[b, o, 0], &yi[b, o, 0], start[t, o], count[t, o], inner,
                            dilation, index_stride, is_min)
                r = r + 1
                o = o + 1
                if o == m:
                    o = 0
                    b = b + 1
                    t = b // rep


cdef inline void _arg_row(const numeric* x, const intp* xi, numeric* y, intp* yi,
                          const intp* st, const intp* ct, intp o0, intp o1, intp dil,
                          intp index_stride, bint is_min) noexcept nogil:
    """_argfold.h's nd_arg_row_* for float x (windows o0 <= o < o1 from the tables)."""
    if numeric is float:
        nd_arg_row_f32(x, xi, y, yi, st, ct, o0, o1, dil, index_stride, is_min)
    elif numeric is double:
        nd_arg_row_f64(x, xi, y, yi, st, ct, o0, o1, dil, index_stride, is_min)


cdef inline void _arg_regular(const numeric* x, const intp* xi, numeric* y, intp* yi,
                              intp o0, intp o1, intp off, intp stride, intp k, intp dil,
                              intp index_stride, bint is_min) noexcept nogil:
    """_argfold.h's nd_arg_regular_* for float x (whole windows o0 <= o < o1)."""
    if numeric is float:
        nd_arg_regular_f32(x, xi, y, yi, o0, o1, off, stride, k, dil, index_stride, is_min)
    elif numeric is double:
        nd_arg_regular_f64(x, xi, y, yi, o0, o1, off, stride, k, dil, index_stride, is_min)


cdef inline void _arg_window(const numeric* xr, const intp* xir, numeric* yr, intp* yir,
                             intp s, intp c, intp inner, intp dilation, intp index_stride,
                             bint is_min) noexcept nogil:
    """arg_extremum_pass's window of c taps from s, for each of the inner elements:
    the winner by ``better`` in tap order (floats through _argfold.h, whose
    selects vectorise), then its flat index.  ``xr``/``xir``: the input row (n x
    inner) and its indices (NULL on the first pass)."""
    cdef intp j, i, p
    cdef const numeric* xp
    cdef numeric v
    cdef bint bt
    if c == 0:
        for i in range(inner):
            yr[i] = 0
            yir[i] = -1
        return
    xp = xr + s * inner
    for i in range(inner):
        yr[i] = xp[i]
        yir[i] = s
    for j in range(1, c):
        p = s + j * dilation
        xp = xr + p * inner
        if numeric is float:
            nd_arg_fold_f32(xp, yr, yir, p, inner, is_min)
        elif numeric is double:
            nd_arg_fold_f64(xp, yr, yir, p, inner, is_min)
        else:
            for i in range(inner):
                v = xp[i]
                bt = better(v, yr[i], is_min)
                yr[i] = v if bt else yr[i]
                yir[i] = p if bt else yir[i]
    if xir == NULL:
        for i in range(inner):
            yir[i] = yir[i] * index_stride
    else:
        for i in range(inner):
            p = yir[i]
            yir[i] = p * index_stride + xir[p * inner + i]


def sum_pass(const numeric[:, :, ::1] x,   # IN  (outer, n, inner)
             accum[:, :, ::1] y,           # OUT (outer, m, inner), a wider type
             const intp[:, ::1] start,     # IN  (rows, m)
             const intp[:, ::1] count,     # IN  (rows, m)
             intp rep, intp dilation, int nthreads):
    cdef intp m = y.shape[1], inner = y.shape[2]
    cdef intp rows = y.shape[0] * m
    cdef intp nchunks = chunk_count(rows, nthreads)
    cdef intp ch, r, r1, b, o, s, c, j, i, t
    cdef accum total
    with nogil:
        for ch in prange(nchunks, schedule="static", num_threads=nthreads):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b = r // m
            o = r - b * m
            t = b // rep
            while r < r1:
                s = start[t, o]
                c = count[t, o]
                if c == 0:
                    for i in range(inner):
                        y[b, o, i] = 0
                elif inner == 1:
                    total = <accum>x[b, s, 0]
                    for j in range(1, c):
                        # not `+=`: inside prange that would declare a reduction
                        total = total + <accum>x[b, s + j * dilation, 0]
                    y[b, o, 0] = total
                elif inner < SMALL_INNER:
                    for i in range(inner):
                        total = <accum>x[b, s, i]
                        for j in range(1, c):
                            # not `+=`: inside prange that would declare a reduction
                            total = total + <accum>x[b, s + j * dilation, i]
                        y[b, o, i] = total
                else:
                    for i in range(inner):
                        y[b, o, i] = <accum>x[b, s, i]
                    for j in range(1, c):
                        for i in range(inner):
                            y[b, o, i] = y[b, o, i] + <accum>x[b, s + j * dilation, i]
                r = r + 1
                o = o + 1
                if o == m:
                    o = 0
                    b = b + 1
                    t = b // rep


def running_max_pass(const numeric[:, :, ::1] x,   # IN  (outer, n, inner)
                     numeric[:, :, ::1] y,         # OUT (outer, n, inner)
                     bint reverse, int nthreads):
    """``y[:, p] = max(x[:, p:])`` (reverse) or ``max(x[:, :p + 1])``: corner pooling.

    NaN propagates (it wins every comparison, as in the window kernels).  The
    work is split over (outer, block of 512 inner elements) pairs so a single
    image pooled along its first axis still uses every thread.
    """
    cdef intp outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef intp blocks = (inner + 511) // 512
    cdef intp w, b, i0, i1, p, q, i
    with nogil:
        for w in prange(outer * blocks, schedule="static", num_threads=nthreads):
            b = w // blocks
            i0 = (w - b * blocks) * 512
            i1 = min(i0 + 512, inner)
            for p in range(n):
                q = n - 1 - p if reverse else p
                if p == 0:
                    for i in range(i0, i1):
                        y[b, q, i] = x[b, q, i]
                elif reverse:
                    for i in range(i0, i1):
                        y[b, q, i] = pick(x[b, q, i], y[b, q + 1, i], False)
                else:
                    for i in range(i0, i1):
                        y[b, q, i] = pick(x[b, q, i], y[b, q - 1, i], False)


cdef extern from "_mean.h" nogil:
    void nd_mean_quad_f32(const float* x0, const float* x1, float* y, double* acc, intp rows,
                          intp step, intp wo, intp woff, double rdiv, intp ahead)
    void nd_mean_quad_px_f32(const float* x0, const float* x1, float* y, intp inner,
                             intp wo, intp wstride, intp woff, intp d, double rdiv)
    void nd_fold_u8_i32(const uint8_t* x, int32_t* t, intp n, int first)
    void nd_fold_i8_i32(const int8_t* x, int32_t* t, intp n, int first)
    void nd_fold_u16_i32(const uint16_t* x, int32_t* t, intp n, int first)
    void nd_fold_i16_i32(const int16_t* x, int32_t* t, intp n, int first)
    void nd_pairs_mean_i32(const int32_t* t, double* y, intp inner, intp wlo, intp whi,
                           intp woff, double rdiv)


cdef extern from "_cpu.h" nogil:
    int nd_cpu_features()
    enum:
        ND_AVX512F
        ND_AVX512BW
        ND_AVX512VBMI

# The instruction sets the machine runs (_cpu.h), asked once: the switches below
# pick the loops that use them.
cdef int CPU = nd_cpu_features()


cdef extern from "_pairs.h" nogil:
    void nd_pairs_init()
    void nd_pairs_max_u8(const uint8_t* a, const uint8_t* b, uint8_t* y, intp inner, intp count)
    void nd_pairs_min_u8(const uint8_t* a, const uint8_t* b, uint8_t* y, intp inner, intp count)
    void nd_pairs_max_i8(const int8_t* a, const int8_t* b, int8_t* y, intp inner, intp count)
    void nd_pairs_min_i8(const int8_t* a, const int8_t* b, int8_t* y, intp inner, intp count)
    void nd_pairs_mean_u8(const uint8_t* a, const uint8_t* b, double* y, intp inner,
                          intp count, double rdiv)
    void nd_pairs_mean_i8(const int8_t* a, const int8_t* b, double* y, intp inner,
                          intp count, double rdiv)

# Whether extremum_fused takes 2 x 2 blocks of one-byte pixels (of 2 to 16 elements)
# with _pairs.h's permutations: on machines with AVX-512 VBMI.  Rows of single bytes
# keep the Cython pass, which measured faster there (an int8 (8, 64, 256, 256)
# max_pool, one worker: 2.2 ms, against 4.4 ms with the permutations).  Tests set it
# False to check the Cython pass (_ext_pairs, _ext_row) on those machines too.
nd_pairs_init()
PAIRS_VBMI = bool(CPU & ND_AVX512BW and CPU & ND_AVX512VBMI)

# Whether mean_fused takes 2 x 2 blocks of one-byte pixels (of 1 to 4 elements) into
# float64 with _pairs.h's 16-bit permutations: on machines with AVX-512BW.  Tests set
# it False to check the fold and pair pass (_fold_window_rows, _mean_pairs) there too.
PAIRS_MEAN_BW = bool(CPU & ND_AVX512F and CPU & ND_AVX512BW)


cdef inline void _pairs_byte(const numeric* a, const numeric* b, numeric* y, intp inner,
                             intp count, bint is_min) noexcept nogil:
    """_pairs.h's windows of two pixels over the rows a and b (one-byte types only)."""
    if numeric is uint8_t:
        if is_min:
            nd_pairs_min_u8(a, b, y, inner, count)
        else:
            nd_pairs_max_u8(a, b, y, inner, count)
    elif numeric is int8_t:
        if is_min:
            nd_pairs_min_i8(a, b, y, inner, count)
        else:
            nd_pairs_max_i8(a, b, y, inner, count)


cdef extern from "_quads.h" nogil:
    void nd_quads_max_f32(const float* x0, const float* x1, float* y, intp inner, intp wlo,
                          intp whi, intp wstride, intp woff, intp d)
    void nd_quads_min_f32(const float* x0, const float* x1, float* y, intp inner, intp wlo,
                          intp whi, intp wstride, intp woff, intp d)
    void nd_quads_max_f64(const double* x0, const double* x1, double* y, intp inner,
                          intp wlo, intp whi, intp wstride, intp woff, intp d)
    void nd_quads_min_f64(const double* x0, const double* x1, double* y, intp inner,
                          intp wlo, intp whi, intp wstride, intp woff, intp d)

# Whether extremum_fused takes 2 x 2 windows of float pixels of at least 64 bytes (16
# float32 or 8 float64 elements) with _quads.h's AVX-512 loop: on machines with
# AVX-512F.  Tests set it False to check window.pyx's own loop (_ext_quad) there too.
QUADS_AVX512 = bool(CPU & ND_AVX512F)


cdef inline void _pairs_mean(const numeric* a, const numeric* b, real* y, intp inner,
                            intp count, double rdiv) noexcept nogil:
    """_pairs.h's means of ``count`` 2 x 2 blocks of one-byte pixels into float64,
    the blocks' rows starting at ``a`` and ``b`` (PAIRS_MEAN_BW)."""
    if real is double:
        if numeric is uint8_t:
            nd_pairs_mean_u8(a, b, y, inner, count, rdiv)
        elif numeric is int8_t:
            nd_pairs_mean_i8(a, b, y, inner, count, rdiv)


cdef inline void _quads_float(const numeric* x0, const numeric* x1, numeric* yr, intp inner,
                              intp wlo, intp whi, intp wstride, intp woff, intp wdil,
                              bint is_min) noexcept nogil:
    """_quads.h's 2 x 2 windows of float pixels: _ext_quad's picks, in its order."""
    if numeric is float:
        if is_min:
            nd_quads_min_f32(x0, x1, yr, inner, wlo, whi, wstride, woff, wdil * inner)
        else:
            nd_quads_max_f32(x0, x1, yr, inner, wlo, whi, wstride, woff, wdil * inner)
    elif numeric is double:
        if is_min:
            nd_quads_min_f64(x0, x1, yr, inner, wlo, whi, wstride, woff, wdil * inner)
        else:
            nd_quads_max_f64(x0, x1, yr, inner, wlo, whi, wstride, woff, wdil * inner)


cdef extern from "_scan.h" nogil:
    void scan_max_f32 "nd_scan_max_f32"(const float* v, intp vs, float* r, intp rs,
                                        intp nrows, intp w, int reverse)
    void scan_max_f64 "nd_scan_max_f64"(const double* v, intp vs, double* r, intp rs,
                                        intp nrows, intp w, int reverse)
    void prefetch "nd_prefetch"(const void* p, intp nbytes)
    void nd_corner_row_f32(const float* x, const float* l, float* ta, float* y, intp n,
                           int first)
    void nd_corner_row_f64(const double* x, const double* l, double* ta, double* y, intp n,
                           int first)
    void nd_cascade_row_f32(const float* x, const float* l, float* ta, float* tb,
                            float* col, float* s, intp n, int first)
    void nd_cascade_row_f64(const double* x, const double* l, double* ta, double* tb,
                            double* col, double* s, intp n, int first)
    void nd_add_row_f32(const float* a, const float* b, float* y, intp n)
    void nd_add_row_f64(const double* a, const double* b, double* y, intp n)


cdef inline void _scan_rows(const real* v, intp vstride, real* r, intp nrows, intp w,
                            intp inner, bint reverse) noexcept nogil:
    """r[k * w * inner:] = the running maximum along w of the (w, inner) row
    v[k * vstride:], for k < nrows (``pick``'s rule).  Unit-inner rows, whose scan
    is a chain of dependent compare-selects, go to _scan.h: rows four at a time,
    transposed so that one vector holds a column of four rows; otherwise the
    loop over inner is the vector."""
    cdef intp p, q, i, k, prev, n = w * inner
    if inner == 1:
        if real is float:
            scan_max_f32(v, vstride, r, n, nrows, w, reverse)
        else:
            scan_max_f64(v, vstride, r, n, nrows, w, reverse)
        return
    for k in range(nrows):
        for p in range(w):
            q = w - 1 - p if reverse else p
            if p == 0:
                for i in range(inner):
                    r[k * n + q * inner + i] = v[k * vstride + q * inner + i]
            else:
                prev = (q + 1) * inner if reverse else (q - 1) * inner
                for i in range(inner):
                    r[k * n + q * inner + i] = pick(v[k * vstride + q * inner + i],
                                                    r[k * n + prev + i], False)


cdef inline void _running(const real* v, real* m, intp n, bint first) noexcept nogil:
    """m = pick(v, m) elementwise (m = v for the first row)."""
    cdef intp e
    if first:
        for e in range(n):
            m[e] = v[e]
    else:
        for e in range(n):
            m[e] = pick(v[e], m[e], False)


# Rows of H handled together (their W scans interleaved).
cdef enum:
    CORNER_ROWS = 8
    PREFETCH_ROW_BYTES = 2048     # rows up to this long: blocks of up to 16 KiB


def corner_fused(const real[:, :, ::1] x,    # IN  (outer, H, W * inner)
                 real[:, :, ::1] y,          # OUT (outer, H, W * inner)
                 intp inner, int mode, bint rev_h, bint rev_w, int nthreads):
    """Corner (mode 0), cascade corner (1) or center (2) pooling of two adjacent
    axes H, W in one sweep per image, with the passes' exact arithmetic.

    With T the running maximum along H and L along W (``rev``: looking towards
    higher indices), the rows of H, taken in T's scan order, give corner
    ``T(x) + L(x)``, cascade ``T(x + L(x)) + L(x + T(x))``, and center
    ``max_H(x) + max_W(x)`` (line maxima: a second sweep once they are known).
    Sums are in the input's float type, first term first, as the separate
    passes add them.  Rows go in blocks of CORNER_ROWS, whose W scans run together;
    the steps of a row between the scans are one loop each (_scan.h).
    """
    cdef intp outer = x.shape[0], h = x.shape[1], n = x.shape[2], w = n // inner
    cdef intp b, p0, p, q, e, k, nb, nb2, step = -1 if rev_h else 1
    cdef real* cma
    cdef real* cmb
    cdef real* row
    cdef real* row2
    cdef real* lines
    cdef real* cols
    cdef const real* xr
    cdef real* yr
    cdef real* rk
    cdef real* sk
    cdef bint near = n * sizeof(real) <= PREFETCH_ROW_BYTES
    with nogil, parallel(num_threads=nthreads):
        cma = <real*>malloc((2 * n + 4 * CORNER_ROWS * n + h * inner + 1) * sizeof(real))
        cmb = cma + n
        row = cmb + n                       # CORNER_ROWS rows each
        row2 = row + CORNER_ROWS * n        # two blocks
        cols = row2 + 2 * CORNER_ROWS * n   # cascade's first terms, one block
        lines = cols + CORNER_ROWS * n
        for b in prange(outer, schedule="static"):
            p0 = 0
            while p0 < h:
                nb = min(<intp>CORNER_ROWS, h - p0)
                q = h - 1 - p0 if rev_h else p0       # the block's first row
                # Fetch the next block early, where it fits in L1 beside this
                # one (a long row is a long ascending run the hardware follows).
                if near and p0 + nb < h:
                    nb2 = min(<intp>CORNER_ROWS, h - p0 - nb)
                    prefetch(&x[b, h - p0 - nb - nb2 if rev_h else p0 + nb, 0],
                             nb2 * n * sizeof(real))
                elif near and b + 1 < outer:           # the next image's first block
                    nb2 = min(<intp>CORNER_ROWS, h)
                    prefetch(&x[b + 1, h - nb2 if rev_h else 0, 0], nb2 * n * sizeof(real))
                # rev_h: the block's rows are q, q - 1, ...: scan them from the lowest
                _scan_rows(&x[b, q - nb + 1 if rev_h else q, 0], n, row, nb, w, inner,
                           rev_w)
                for k in range(nb):
                    p = p0 + k
                    xr = &x[b, q + step * k, 0]
                    yr = &y[b, q + step * k, 0]
                    rk = row + (nb - 1 - k if rev_h else k) * n    # this row's L scan
                    if mode == 0:                      # T(x) + L(x)
                        if real is float:
                            nd_corner_row_f32(xr, rk, cma, yr, n, p == 0)
                        else:
                            nd_corner_row_f64(xr, rk, cma, yr, n, p == 0)
                    elif mode == 1:                    # T(x + L(x)) now, L(x + T(x)) below
                        sk = row2 + (nb - 1 - k if rev_h else k) * n
                        if real is float:
                            nd_cascade_row_f32(xr, rk, cma, cmb, cols + k * n, sk, n, p == 0)
                        else:
                            nd_cascade_row_f64(xr, rk, cma, cmb, cols + k * n, sk, n, p == 0)
                    else:                              # line maxima, added below
                        _running(xr, cma, n, p == 0)
                        for e in range(inner):
                            lines[(q + step * k) * inner + e] = rk[(0 if rev_w else n - inner) + e]
                if mode == 1:
                    _scan_rows(row2, n, row2 + CORNER_ROWS * n, nb, w, inner, rev_w)
                    for k in range(nb):                # each output row written once
                        yr = &y[b, q + step * k, 0]
                        rk = cols + k * n
                        sk = row2 + CORNER_ROWS * n + (nb - 1 - k if rev_h else k) * n
                        if real is float:
                            nd_add_row_f32(rk, sk, yr, n)
                        else:
                            nd_add_row_f64(rk, sk, yr, n)
                p0 = p0 + nb
            if mode == 2:
                for q in range(h):
                    yr = &y[b, q, 0]
                    if inner == 1:
                        for e in range(n):
                            yr[e] = cma[e] + lines[q]
                    else:
                        for e in range(w):
                            for k in range(inner):
                                yr[e * inner + k] = cma[e * inner + k] + lines[q * inner + k]
        free(cma)


# ---- fused passes over up to three adjacent pooled axes -----------------------------
#
# x is seen as (outer, D, H, W, inner) and reduced over D x H x W windows in one
# sweep (two adjacent pooled axes are the case D = 1): each input row is read
# once and folded into the output row, which stays in cache.  Along W the
# windows ow in [wlo, whi) are whole and evenly spaced (start ow * wstride +
# woff, wkernel taps), so their loop is affine in ow and vectorises; the
# clipped edge windows use the plan tables.


# A window of LONG_WINDOW or more taps along a unit-inner row is reduced in
# eight independent lanes: one running maximum would be a chain of dependent
# compare-selects, as long as the window (a global max pool's row is 128 taps).
cdef enum:
    LONG_WINDOW = 32


cdef inline numeric _ext_long(const numeric* xr, intp c, intp step,
                              bint is_min) noexcept nogil:
    """The max (or min) of xr[j * step], j < c (c >= 8), with ``pick``'s result.

    Lanes may meet equal maxima in another order than one scan does, which can
    change only which of two equal values is returned: visible for floats only
    when the result is a zero (its sign) or a NaN (its payload).  Those windows
    are scanned again in order.
    """
    cdef numeric a0 = xr[0], a1 = xr[step], a2 = xr[2 * step], a3 = xr[3 * step]
    cdef numeric a4 = xr[4 * step], a5 = xr[5 * step], a6 = xr[6 * step]
    cdef numeric a7 = xr[7 * step]
    cdef intp j = 8
    while j + 8 <= c:
        a0 = pick(xr[j * step], a0, is_min)
        a1 = pick(xr[(j + 1) * step], a1, is_min)
        a2 = pick(xr[(j + 2) * step], a2, is_min)
        a3 = pick(xr[(j + 3) * step], a3, is_min)
        a4 = pick(xr[(j + 4) * step], a4, is_min)
        a5 = pick(xr[(j + 5) * step], a5, is_min)
        a6 = pick(xr[(j + 6) * step], a6, is_min)
        a7 = pick(xr[(j + 7) * step], a7, is_min)
        j = j + 8
    while j < c:
        a0 = pick(xr[j * step], a0, is_min)
        j = j + 1
    a0 = pick(a1, a0, is_min)
    a2 = pick(a3, a2, is_min)
    a4 = pick(a5, a4, is_min)
    a6 = pick(a7, a6, is_min)
    a0 = pick(a2, a0, is_min)
    a4 = pick(a6, a4, is_min)
    a0 = pick(a4, a0, is_min)
    if numeric is float or numeric is double:
        if a0 == 0 or a0 != a0:
            a0 = xr[0]
            for j in range(1, c):
                a0 = pick(xr[j * step], a0, is_min)
    return a0


cdef inline void _ext_row_edges(const numeric* xr, numeric* yr, intp inner,
                                const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                                intp o0, intp o1, bint first, bint is_min) noexcept nogil:
    cdef intp ow, jw, i, s, c
    cdef numeric v
    for ow in range(o0, o1):
        s = wstart[ow]
        c = wcount[ow]
        if inner == 1 and c >= LONG_WINDOW:
            v = _ext_long(xr + s, c, wdil, is_min)
            yr[ow] = v if first else pick(v, yr[ow], is_min)
            continue
        if c == 0 and first:           # an empty window: the facade fills it later
            for i in range(inner):
                yr[ow * inner + i] = 0
        for jw in range(c):
            for i in range(inner):
                if first and jw == 0:
                    yr[ow * inner + i] = xr[s * inner + i]
                else:
                    yr[ow * inner + i] = pick(xr[(s + jw * wdil) * inner + i],
                                              yr[ow * inner + i], is_min)


cdef inline void _ext_tap(const numeric* xt, numeric* yr, intp wlo, intp whi, intp step,
                          bint first, bint is_min) noexcept nogil:
    """One tap of windows of single elements: yr[ow] = xt[ow * step] (``first``), else
    picked against yr[ow], for wlo <= ow < whi."""
    cdef intp ow
    if first:
        for ow in range(wlo, whi):
            yr[ow] = xt[ow * step]
    else:
        for ow in range(wlo, whi):
            yr[ow] = pick(xt[ow * step], yr[ow], is_min)


cdef inline void _ext_row_regular(const numeric* xr, numeric* yr, intp inner,
                                  intp wlo, intp whi, intp wstride, intp woff,
                                  intp wkernel, intp wdil, bint first,
                                  bint is_min) noexcept nogil:
    cdef intp ow, jw, i, c0
    cdef numeric v
    if whi <= wlo:
        return
    if inner == 1 and wkernel >= LONG_WINDOW:
        for ow in range(wlo, whi):
            v = _ext_long(xr + woff + ow * wstride, wkernel, wdil, is_min)
            yr[ow] = v if first else pick(v, yr[ow], is_min)
    elif inner == 1:
        for jw in range(wkernel):
            if wstride == 2:    # the usual stride as a constant: vector loads, not gathers
                _ext_tap(xr + woff + jw * wdil, yr, wlo, whi, 2, first and jw == 0, is_min)
            else:
                _ext_tap(xr + woff + jw * wdil, yr, wlo, whi, wstride, first and jw == 0,
                         is_min)
    elif inner == 3:         # RGB: a constant inner loop, unrolled by the compiler
        _ext_row_pixels(xr, yr, 3, wlo, whi, wstride, woff, wkernel, wdil, first, is_min)
    elif inner == 4:
        _ext_row_pixels(xr, yr, 4, wlo, whi, wstride, woff, wkernel, wdil, first, is_min)
    elif wkernel == 2 or wkernel == 3:
        _ext_row_taps(xr, yr, inner, wlo, whi, wstride, woff, wkernel, wdil, first, is_min)
    else:
        _ext_row_pixels(xr, yr, inner, wlo, whi, wstride, woff, wkernel, wdil, first,
                        is_min)


cdef inline void _ext_pixels_k(const numeric* xr, numeric* yr, intp inner,
                               intp wlo, intp whi, intp wstride, intp woff,
                               intp k, intp wdil, bint first, bint is_min) noexcept nogil:
    """_ext_row_pixels with each output element stored once: its k taps picked in
    a register, in the same order (k, ``first`` and ``is_min`` are constants at
    the call sites below, so the tap loop unrolls and the channel loop vectorises)."""
    cdef intp ow, jw, i, c0, d = wdil * inner
    cdef numeric v
    for ow in range(wlo, whi):
        c0 = (woff + ow * wstride) * inner
        for i in range(inner):
            if first:
                v = xr[c0 + i]
            else:
                v = pick(xr[c0 + i], yr[ow * inner + i], is_min)
            for jw in range(1, k):
                v = pick(xr[c0 + jw * d + i], v, is_min)
            yr[ow * inner + i] = v


cdef inline void _ext_taps_k(const numeric* xr, numeric* yr, intp inner,
                             intp wlo, intp whi, intp wstride, intp woff, intp k,
                             intp wdil, bint first, bint is_min) noexcept nogil:
    """_ext_pixels_k with ``first`` and ``is_min`` as constants (``k`` is one at
    both call sites in _ext_row_taps)."""
    if first:
        if is_min:
            _ext_pixels_k(xr, yr, inner, wlo, whi, wstride, woff, k, wdil, True, True)
        else:
            _ext_pixels_k(xr, yr, inner, wlo, whi, wstride, woff, k, wdil, True, False)
    elif is_min:
        _ext_pixels_k(xr, yr, inner, wlo, whi, wstride, woff, k, wdil, False, True)
    else:
        _ext_pixels_k(xr, yr, inner, wlo, whi, wstride, woff, k, wdil, False, False)


cdef inline void _ext_row_taps(const numeric* xr, numeric* yr, intp inner,
                               intp wlo, intp whi, intp wstride, intp woff,
                               intp wkernel, intp wdil, bint first,
                               bint is_min) noexcept nogil:
    """_ext_pixels_k for windows of 2 or 3 taps along W, the tap count a constant."""
    if wkernel == 2:
        _ext_taps_k(xr, yr, inner, wlo, whi, wstride, woff, 2, wdil, first, is_min)
    else:
        _ext_taps_k(xr, yr, inner, wlo, whi, wstride, woff, 3, wdil, first, is_min)


cdef inline void _ext_row_pixels(const numeric* xr, numeric* yr, intp inner,
                                 intp wlo, intp whi, intp wstride, intp woff,
                                 intp wkernel, intp wdil, bint first,
                                 bint is_min) noexcept nogil:
    """_ext_row_regular for inner > 1: each window's taps are pixels of ``inner``."""
    cdef intp ow, jw, i, c0
    for ow in range(wlo, whi):
        for jw in range(wkernel):
            c0 = (woff + ow * wstride + jw * wdil) * inner
            if first and jw == 0:
                for i in range(inner):
                    yr[ow * inner + i] = xr[c0 + i]
            else:
                for i in range(inner):
                    yr[ow * inner + i] = pick(xr[c0 + i], yr[ow * inner + i], is_min)


cdef inline void _sum_row_edges(const numeric* xr, accum* yr, intp inner,
                                const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                                intp o0, intp o1, bint first) noexcept nogil:
    cdef intp ow, jw, i, s, c
    for ow in range(o0, o1):
        s = wstart[ow]
        c = wcount[ow]
        if first:
            for i in range(inner):
                yr[ow * inner + i] = 0
        for jw in range(c):
            for i in range(inner):
                yr[ow * inner + i] = yr[ow * inner + i] + <accum>xr[(s + jw * wdil) * inner + i]


cdef inline void _sum_tap(const numeric* xt, accum* yr, intp wlo, intp whi, intp step,
                          bint first) noexcept nogil:
    """One tap of windows of single elements: yr[ow] (``first``: =, else +=)
    xt[ow * step], for wlo <= ow < whi."""
    cdef intp ow
    if first:
        for ow in range(wlo, whi):
            yr[ow] = <accum>xt[ow * step]
    else:
        for ow in range(wlo, whi):
            yr[ow] = yr[ow] + <accum>xt[ow * step]


cdef inline void _sum_row_regular(const numeric* xr, accum* yr, intp inner,
                                  intp wlo, intp whi, intp wstride, intp woff,
                                  intp wkernel, intp wdil, bint first) noexcept nogil:
    cdef intp ow, jw, i, c0
    cdef accum acc
    if whi <= wlo:
        return
    if inner == 1 and wkernel >= LONG_WINDOW:
        # Few long windows (a global pool's row): one tight loop per window, the
        # taps in the same order as below, so the same sums.
        for ow in range(wlo, whi):
            c0 = woff + ow * wstride
            acc = <accum>xr[c0] if first else yr[ow] + <accum>xr[c0]
            for jw in range(1, wkernel):
                acc = acc + <accum>xr[c0 + jw * wdil]
            yr[ow] = acc
    elif inner == 1:
        for jw in range(wkernel):
            if wstride == 2:    # the usual stride as a constant: vector loads, not gathers
                _sum_tap(xr + woff + jw * wdil, yr, wlo, whi, 2, first and jw == 0)
            else:
                _sum_tap(xr + woff + jw * wdil, yr, wlo, whi, wstride, first and jw == 0)
    elif inner == 3:         # RGB: a constant inner loop, unrolled by the compiler
        _sum_row_pixels(xr, yr, 3, wlo, whi, wstride, woff, wkernel, wdil, first)
    elif inner == 4:
        _sum_row_pixels(xr, yr, 4, wlo, whi, wstride, woff, wkernel, wdil, first)
    else:
        _sum_row_pixels(xr, yr, inner, wlo, whi, wstride, woff, wkernel, wdil, first)


cdef inline void _sum_row_pixels(const numeric* xr, accum* yr, intp inner,
                                 intp wlo, intp whi, intp wstride, intp woff,
                                 intp wkernel, intp wdil, bint first) noexcept nogil:
    """_sum_row_regular for inner > 1: each window's taps are pixels of ``inner``."""
    cdef intp ow, jw, i, c0
    for ow in range(wlo, whi):
        for jw in range(wkernel):
            c0 = (woff + ow * wstride + jw * wdil) * inner
            if first and jw == 0:
                for i in range(inner):
                    yr[ow * inner + i] = <accum>xr[c0 + i]
            else:
                for i in range(inner):
                    yr[ow * inner + i] = yr[ow * inner + i] + <accum>xr[c0 + i]


cdef inline void _sum_row(const numeric* xr, accum* yr, intp inner,
                          const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                          intp wlo, intp whi, intp wstride, intp woff, intp wkernel,
                          intp wo, bint first) noexcept nogil:
    """Fold one input row into the output row's window sums: the clipped windows
    from the tables, the whole ones by the affine loop."""
    _sum_row_edges(xr, yr, inner, wstart, wcount, wdil, 0, wlo, first)
    _sum_row_regular(xr, yr, inner, wlo, whi, wstride, woff, wkernel, wdil, first)
    _sum_row_edges(xr, yr, inner, wstart, wcount, wdil, whi, wo, first)


cdef inline void _ext_row(const numeric* xr, numeric* yr, intp inner,
                          const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                          intp wlo, intp whi, intp wstride, intp woff, intp wkernel,
                          intp wo, bint first, bint is_min) noexcept nogil:
    """Fold one input row into the output row's window maxima (or minima)."""
    _ext_row_edges(xr, yr, inner, wstart, wcount, wdil, 0, wlo, first, is_min)
    _ext_row_regular(xr, yr, inner, wlo, whi, wstride, woff, wkernel, wdil, first, is_min)
    _ext_row_edges(xr, yr, inner, wstart, wcount, wdil, whi, wo, first, is_min)


cdef inline void _ext_quad(const numeric* x0, const numeric* x1, numeric* yr, intp inner,
                           intp wlo, intp whi, intp wstride, intp woff, intp wdil,
                           bint is_min) noexcept nogil:
    """Windows of two input rows of two taps each (2 x 2 pooling): the taps
    picked in row-major order, as two _ext_row calls would, but with one or two
    stores per output instead of four read-modify-writes.  Pixels of several
    elements take one pass; rows of single elements take two (see below)."""
    cdef intp ow, i, c
    cdef numeric v
    if inner == 1:
        # One row after the other: reading both rows at once, two streams a row
        # apart, was slower (the prefetcher follows one sequential stream better).
        for ow in range(wlo, whi):
            c = woff + ow * wstride
            yr[ow] = pick(x0[c + wdil], x0[c], is_min)
        for ow in range(wlo, whi):
            c = woff + ow * wstride
            v = pick(x1[c], yr[ow], is_min)
            yr[ow] = pick(x1[c + wdil], v, is_min)
    else:
        for ow in range(wlo, whi):
            c = (woff + ow * wstride) * inner
            for i in range(inner):
                v = pick(x0[c + wdil * inner + i], x0[c + i], is_min)
                v = pick(x1[c + i], v, is_min)
                yr[ow * inner + i] = pick(x1[c + wdil * inner + i], v, is_min)


cdef inline void _ext_quad_row(const numeric* x0, const numeric* x1, numeric* yr,
                               intp inner, intp wlo, intp whi, intp wstride, intp woff,
                               intp wdil, bint is_min) noexcept nogil:
    """_ext_quad, with ``is_min`` and the common 2 x 2 stride 2 geometry as
    constants: the compiler then turns the chained picks into blends and the
    stride-2 loads into interleaved vector loads."""
    if wstride == 2 and wdil == 1 and inner == 1:
        if is_min:
            _ext_quad(x0, x1, yr, 1, wlo, whi, 2, woff, 1, True)
        else:
            _ext_quad(x0, x1, yr, 1, wlo, whi, 2, woff, 1, False)
    elif is_min:
        _ext_quad(x0, x1, yr, inner, wlo, whi, wstride, woff, wdil, True)
    else:
        _ext_quad(x0, x1, yr, inner, wlo, whi, wstride, woff, wdil, False)


cdef inline void _mean_quad(const numeric* x0, const numeric* x1, real* yr, double* acc,
                            intp inner, intp wo, intp wstride, intp woff, intp wdil,
                            double div, bint pow2) noexcept nogil:
    """Means of windows of two input rows of two taps each, all with divisor
    ``div``: the float64 sum in row-major tap order, then the same division
    (or power-of-two reciprocal product) as mean_fused's rows.  A row of single
    elements (inner == 1) is read one row after the other, through ``acc``
    (see _ext_quad); pixels of several elements in one pass."""
    cdef intp ow, i, c, d = wdil * inner
    cdef double s, rdiv = 1.0 / div
    if inner == 1:
        for ow in range(wo):
            c = woff + ow * wstride
            acc[ow] = <double>x0[c] + <double>x0[c + d]
        if pow2:
            for ow in range(wo):
                c = woff + ow * wstride
                yr[ow] = <real>(((acc[ow] + <double>x1[c]) + <double>x1[c + d]) * rdiv)
        else:
            for ow in range(wo):
                c = woff + ow * wstride
                yr[ow] = <real>(((acc[ow] + <double>x1[c]) + <double>x1[c + d]) / div)
    else:
        for ow in range(wo):
            c = (woff + ow * wstride) * inner
            if pow2:
                for i in range(inner):
                    s = (((<double>x0[c + i] + <double>x0[c + d + i]) + <double>x1[c + i])
                         + <double>x1[c + d + i])
                    yr[ow * inner + i] = <real>(s * rdiv)
            else:
                for i in range(inner):
                    s = (((<double>x0[c + i] + <double>x0[c + d + i]) + <double>x1[c + i])
                         + <double>x1[c + d + i])
                    yr[ow * inner + i] = <real>(s / div)


cdef inline void _mean_quad_row(const numeric* x0, const numeric* x1, real* yr, double* acc,
                                intp inner, intp wo, intp wstride, intp woff, intp wdil,
                                double div, bint pow2, intp n, intp rows,
                                intp step) noexcept nogil:
    """_mean_quad, with the common 2 x 2 stride 2 geometry as constants; float32
    windows with a power-of-two divisor in _mean.h's loops (the same operations).
    ``rows`` output rows, one after the other in yr, whose windows' input rows are
    ``step`` elements apart: one call in C for the float32 single-element loop, a
    loop of row calls for the others.  ``n``: the length of an input row; the
    float32 single-element loop prefetches the rows two output rows on (``2 step``;
    for a single row, four input rows below x0 and x1: 2 x 2 blocks at stride 2)."""
    cdef intp k
    if numeric is float and real is float and pow2:
        if wstride == 2 and wdil == 1 and inner == 1:
            nd_mean_quad_f32(x0, x1, yr, acc, rows, step, wo, woff, 1.0 / div,
                             2 * step if rows > 1 else 4 * n)
            return
        for k in range(rows):
            nd_mean_quad_px_f32(x0 + k * step, x1 + k * step, yr + k * wo * inner, inner, wo,
                                wstride, woff, wdil * inner, 1.0 / div)
        return
    for k in range(rows):
        if wstride == 2 and wdil == 1 and inner == 1:
            _mean_quad(x0 + k * step, x1 + k * step, yr + k * wo, acc, 1, wo, 2, woff, 1, div,
                       pow2)
        else:
            _mean_quad(x0 + k * step, x1 + k * step, yr + k * wo * inner, acc, inner, wo,
                       wstride, woff, wdil, div, pow2)


cdef inline void _fold_sum(const numeric* xr, wide* t, intp n, bint first) noexcept nogil:
    """t = xr (first) or t + xr, elementwise: a window's input rows, summed first
    (8- and 16-bit rows into int32 in _mean.h's loops)."""
    cdef intp i
    if wide is int32_t:
        if numeric is uint8_t:
            nd_fold_u8_i32(xr, t, n, first)
            return
        elif numeric is int8_t:
            nd_fold_i8_i32(xr, t, n, first)
            return
        elif numeric is uint16_t:
            nd_fold_u16_i32(xr, t, n, first)
            return
        elif numeric is int16_t:
            nd_fold_i16_i32(xr, t, n, first)
            return
    if first:
        for i in range(n):
            t[i] = <wide>xr[i]
    else:
        for i in range(n):
            t[i] = t[i] + <wide>xr[i]


cdef inline void _fold_window_rows(const numeric* xb, wide* t, intp h, intp n,
                                   intp d0, intp dc, intp ddil,
                                   intp h0, intp hc, intp hdil) noexcept nogil:
    """t = the sum of a window's dc x hc input rows, elementwise: rows of n elements
    in a C-contiguous (D, H, n) block at ``xb``, from row (d0, h0) at steps ddil
    and hdil."""
    cdef intp jd, jh
    cdef bint first = True
    for jd in range(dc):
        for jh in range(hc):
            _fold_sum(xb + ((d0 + jd * ddil) * h + h0 + jh * hdil) * n, t, n, first)
            first = False


# Rows longer than this are not folded first (the fold keeps one input row per thread).
cdef enum:
    ROWS_FIRST_MAX = 1 << 20


cdef inline bint rows_first_fits(intp n) noexcept nogil:
    """Whether an input row of n elements may be folded first.  For integers the
    order of a window's taps changes nothing (no NaN, no signed zero; sums exact),
    so its input rows can be combined elementwise before the one pass along W,
    which then runs once per output row instead of once per input row."""
    return n <= ROWS_FIRST_MAX


cdef inline intp _second_row(intp hcount, intp hdil, intp ddil, intp h, intp n) noexcept nogil:
    """Offset of a two-row window's second input row from its first, in a C-contiguous
    (outer, D, H, W, inner) input with rows of ``n`` elements: the next H row of
    the window when it spans two H rows (H x W windows), else the row in its next
    D plane (D x W windows)."""
    return hdil * n if hcount == 2 else ddil * h * n


cdef inline void _ext_pairs(numeric* t, numeric* yr, intp inner,
                            const intp[::1] wstart, const intp[::1] wcount,
                            intp wlo, intp whi, intp woff, intp wo, intp n,
                            bint is_min) noexcept nogil:
    """The pass along W of a folded integer row ``t`` (n elements) for windows of two
    adjacent pixels at stride 2 (2 x 2 blocks of an RGB image), pixels of at most
    16 bytes.  Taking each window's two pixels apart and together per element is
    scalar work for 3-element pixels; instead ``t[k] = pick(t[k + inner], t[k])``
    runs over the windows' span, elementwise and vectorised, which leaves every
    window's result in its first pixel, and those are copied out, one 8- or
    16-byte move per pixel (a move reaches into the next pixel, which the next
    move overwrites; the last few pixels are copied exactly, so that no move
    leaves ``t`` or reaches the edge windows' outputs, written before).
    Integers only: their order of picks changes nothing.  ``t`` is overwritten."""
    cdef intp k, i, ow, last, sz = sizeof(numeric), isz = inner * sizeof(numeric)
    cdef intp lo = (woff + 2 * wlo) * inner, hi = (woff + 2 * whi - 1) * inner
    cdef intp move = 8 if isz <= 8 else 16
    cdef char* yb = <char*>yr
    cdef const char* tb = <const char*>t
    # the edge windows read t as it is: first
    _ext_row_edges(t, yr, inner, wstart, wcount, 1, 0, wlo, True, is_min)
    _ext_row_edges(t, yr, inner, wstart, wcount, 1, whi, wo, True, is_min)
    if is_min:
        for k in range(lo, hi):
            t[k] = t[k + inner] if t[k + inner] < t[k] else t[k]
    else:
        for k in range(lo, hi):
            t[k] = t[k + inner] if t[k + inner] > t[k] else t[k]
    last = whi       # the wide moves stay inside t and before the edge windows' outputs
    while last > wlo and ((woff + 2 * (last - 1)) * isz + move > n * sz
                          or (last - 1) * isz + move > whi * isz):
        last = last - 1
    if move == 8:
        for ow in range(wlo, last):
            memcpy(yb + ow * isz, tb + (woff + 2 * ow) * isz, 8)
    else:
        for ow in range(wlo, last):
            memcpy(yb + ow * isz, tb + (woff + 2 * ow) * isz, 16)
    for ow in range(last, whi):
        for i in range(inner):
            yr[ow * inner + i] = t[(woff + 2 * ow) * inner + i]


def extremum_fused(const numeric[:, :, :, :, ::1] x,   # IN  (outer, D, H, W, inner)
                   numeric[:, :, :, :, ::1] y,         # OUT (outer, Do, Ho, Wo, inner)
                   const intp[::1] dstart, const intp[::1] dcount, intp ddil,
                   const intp[::1] hstart, const intp[::1] hcount, intp hdil,
                   const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                   intp wlo, intp whi, intp wstride, intp woff, intp wkernel,
                   bint is_min, int nthreads):
    """Max (or min) over D x H x W windows in one sweep; empty windows get 0.

    Integer rows are folded first: the window's input rows into one row,
    elementwise (contiguous, vectorised), then that row along W once; see
    rows_first_fits.  Floats fold each input row along W, in the window's
    row-major tap order, which decides which of equal zeros and which NaN wins,
    except under windows of LONG_WINDOW or more single elements along W
    (global pooling of channels-first planes): there the row-by-row pass is a
    scalar chain per window and row (_ext_long), so float rows are folded
    first too, with ``pick``.  The result can differ from the in-order one
    only where it is a zero (which zero came first) or a NaN (which NaN came
    last); an output row holding either is computed again in order.  Rows of
    pixels keep the row-by-row pass, vectorised over the pixel's elements:
    folding them first measured slower (a channels-last global max 1.6 ms
    against 3.2 ms, one thread).
    """
    cdef intp do = y.shape[1], ho = y.shape[2], wo = y.shape[3], inner = y.shape[4]
    cdef intp n = x.shape[3] * inner
    cdef intp rows = y.shape[0] * do * ho, nchunks = chunk_count(rows, nthreads)
    cdef intp ch, r, r1, b, od, oh, jd, jh, i, kr
    cdef bint is_float = numeric is float or numeric is double
    cdef bint first, redo, fold = rows_first_fits(n) and (
        not is_float or (inner == 1 and wkernel >= LONG_WINDOW))
    cdef bint bytewise = ((numeric is uint8_t or numeric is int8_t) and PAIRS_VBMI
                          and 1 < inner <= 16 and rows_first_fits(n))
    cdef bint quads = is_float and QUADS_AVX512 and inner * sizeof(numeric) >= 64
    cdef const numeric* xr
    cdef const numeric* x0
    cdef const numeric* x1
    cdef numeric* yr
    cdef numeric* t
    with nogil, parallel(num_threads=nthreads):
        t = <numeric*>malloc((n if fold else 1) * sizeof(numeric))
        for ch in prange(nchunks, schedule="static"):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b, od, oh = row_at(r, ho, do)
            while r < r1:
                yr = &y[b, od, oh, 0, 0]
                redo = False
                if dcount[od] * hcount[oh] == 0:
                    for i in range(wo * inner):
                        yr[i] = 0
                elif (bytewise and wkernel == 2 and wstride == 2 and wdil == 1 and whi > wlo
                        and dcount[od] * hcount[oh] > 1):
                    # one-byte pixels in pairs, 2 x 2 blocks of images (_pairs.h): the
                    # window's rows but the last folded into t (none for two rows),
                    # then the permuted pass over t (or the first row) and the last row.
                    # (One helper for this fold and the fold branch's below, copying
                    # the first row then picking the others in, made the fold branch
                    # slower: a 4 x 4 block_reduce max of a uint8 RGB image took
                    # 4.8-4.9 ms against 4.1-4.2, one thread.)
                    kr = 0
                    for jd in range(dcount[od]):
                        for jh in range(hcount[oh]):
                            x1 = &x[b, dstart[od] + jd * ddil, hstart[oh] + jh * hdil, 0, 0]
                            if kr == 0:
                                xr = x1
                            elif kr == 1 and kr < dcount[od] * hcount[oh] - 1:
                                for i in range(n):
                                    t[i] = pick(x1[i], xr[i], is_min)
                            elif kr < dcount[od] * hcount[oh] - 1:
                                for i in range(n):
                                    t[i] = pick(x1[i], t[i], is_min)
                            kr = kr + 1
                    if kr > 2:
                        xr = t
                    _ext_row_edges(xr, yr, inner, wstart, wcount, 1, 0, wlo, True, is_min)
                    _ext_row_edges(x1, yr, inner, wstart, wcount, 1, 0, wlo, False, is_min)
                    _ext_row_edges(xr, yr, inner, wstart, wcount, 1, whi, wo, True, is_min)
                    _ext_row_edges(x1, yr, inner, wstart, wcount, 1, whi, wo, False, is_min)
                    _pairs_byte(xr + (woff + 2 * wlo) * inner, x1 + (woff + 2 * wlo) * inner,
                                yr + wlo * inner, inner, whi - wlo, is_min)
                elif fold and dcount[od] * hcount[oh] > 1:
                    # The first row is copied (a memcpy), then the others picked in,
                    # one stream each; picking the first two rows in one loop
                    # instead (two streams) measured no faster for u8 RGB blocks.
                    first = True
                    for jd in range(dcount[od]):
                        for jh in range(hcount[oh]):
                            xr = &x[b, dstart[od] + jd * ddil, hstart[oh] + jh * hdil, 0, 0]
                            if first:
                                for i in range(n):
                                    t[i] = xr[i]
                            elif is_min:
                                for i in range(n):
                                    t[i] = pick(xr[i], t[i], True)
                            else:
                                for i in range(n):
                                    t[i] = pick(xr[i], t[i], False)
                            first = False
                    if (wkernel == 2 and wstride == 2 and wdil == 1 and 1 < inner
                            and inner * sizeof(numeric) <= 16 and whi > wlo):
                        _ext_pairs(t, yr, inner, wstart, wcount, wlo, whi, woff, wo, n, is_min)
                    else:
                        _ext_row(t, yr, inner, wstart, wcount, wdil, wlo, whi, wstride, woff,
                                 wkernel, wo, True, is_min)
                    if is_float:                # a zero or a NaN: again, in order
                        for i in range(wo * inner):
                            redo = redo or yr[i] == 0 or yr[i] != yr[i]
                elif wkernel == 2 and dcount[od] * hcount[oh] == 2:
                    # 2 x 2 windows (of H x W, or D x W): one pass over both rows.
                    x0 = &x[b, dstart[od], hstart[oh], 0, 0]
                    x1 = x0 + _second_row(hcount[oh], hdil, ddil, x.shape[2], n)
                    _ext_row_edges(x0, yr, inner, wstart, wcount, wdil, 0, wlo, True, is_min)
                    _ext_row_edges(x1, yr, inner, wstart, wcount, wdil, 0, wlo, False, is_min)
                    if quads:
                        _quads_float(x0, x1, yr, inner, wlo, whi, wstride, woff, wdil, is_min)
                    else:
                        _ext_quad_row(x0, x1, yr, inner, wlo, whi, wstride, woff, wdil,
                                      is_min)
                    _ext_row_edges(x0, yr, inner, wstart, wcount, wdil, whi, wo, True, is_min)
                    _ext_row_edges(x1, yr, inner, wstart, wcount, wdil, whi, wo, False, is_min)
                else:
                    redo = True
                if redo:
                    first = True
                    for jd in range(dcount[od]):
                        for jh in range(hcount[oh]):
                            xr = &x[b, dstart[od] + jd * ddil, hstart[oh] + jh * hdil, 0, 0]
                            _ext_row(xr, yr, inner, wstart, wcount, wdil, wlo, whi, wstride, woff,
                                     wkernel, wo, first, is_min)
                            first = False
                r = r + 1
                next_row(&oh, &od, &b, ho, do)
        free(t)


def sum_fused(const numeric[:, :, :, :, ::1] x,   # IN  (outer, D, H, W, inner)
              accum[:, :, :, :, ::1] y,           # OUT (outer, Do, Ho, Wo, inner)
              const intp[::1] dstart, const intp[::1] dcount, intp ddil,
              const intp[::1] hstart, const intp[::1] hcount, intp hdil,
              const intp[::1] wstart, const intp[::1] wcount, intp wdil,
              intp wlo, intp whi, intp wstride, intp woff, intp wkernel, int nthreads):
    """Sums over D x H x W windows in one sweep, in a wider accumulator; empty -> 0.

    Integer inputs whose sums are exact in the accumulator (every integer into
    int64/uint64, which wrap alike in any order; up to 32-bit integers into
    float64) fold the window's input rows first, as mean_fused does.
    """
    cdef intp do = y.shape[1], ho = y.shape[2], wo = y.shape[3], inner = y.shape[4]
    cdef intp n = x.shape[3] * inner
    cdef intp rows = y.shape[0] * do * ho, nchunks = chunk_count(rows, nthreads)
    cdef intp ch, r, r1, b, od, oh, jd, jh, i
    cdef bint first, fold = rows_first_fits(n) and not (
        numeric is float or numeric is double
        or (accum is double and (numeric is int64_t or numeric is uint64_t)))
    cdef const numeric* xr
    cdef accum* yr
    cdef accum* t
    with nogil, parallel(num_threads=nthreads):
        t = <accum*>malloc((n if fold else 1) * sizeof(accum))
        for ch in prange(nchunks, schedule="static"):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b, od, oh = row_at(r, ho, do)
            while r < r1:
                yr = &y[b, od, oh, 0, 0]
                if dcount[od] * hcount[oh] == 0:
                    for i in range(wo * inner):
                        yr[i] = 0
                first = True
                if fold and dcount[od] * hcount[oh] > 1:
                    _fold_window_rows(&x[b, 0, 0, 0, 0], t, x.shape[2], n, dstart[od],
                                      dcount[od], ddil, hstart[oh], hcount[oh], hdil)
                    _sum_row(t, yr, inner, wstart, wcount, wdil, wlo, whi, wstride, woff,
                             wkernel, wo, True)
                else:
                    for jd in range(dcount[od]):
                        for jh in range(hcount[oh]):
                            xr = &x[b, dstart[od] + jd * ddil, hstart[oh] + jh * hdil, 0, 0]
                            _sum_row(xr, yr, inner, wstart, wcount, wdil, wlo, whi, wstride, woff,
                                     wkernel, wo, first)
                            first = False
                r = r + 1
                next_row(&oh, &od, &b, ho, do)
        free(t)


cdef inline void _wsum_row_edges(const numeric* xr, double* yr, intp inner,
                                 const double* wr, const intp[::1] wstart,
                                 const intp[::1] wcount, const intp[::1] wskip, intp wdil,
                                 intp o0, intp o1) noexcept nogil:
    """The clipped windows' part of a row's responses; each element's sum in a
    register, its taps in order (yr may alias nothing, but the compiler cannot
    know that, and the store and reload of each tap made a chain of latencies)."""
    cdef intp ow, jw, i, s
    cdef double q
    for ow in range(o0, o1):
        s = wstart[ow]
        for i in range(inner):
            q = yr[ow * inner + i]
            for jw in range(wcount[ow]):
                q = q + wr[wskip[ow] + jw] * <double>xr[(s + jw * wdil) * inner + i]
            yr[ow * inner + i] = q


cdef inline void _wsum_row_regular(const numeric* xr, double* yr, intp inner,
                                   const double* wr, intp wlo, intp whi, intp wstride,
                                   intp woff, intp wkernel, intp wdil) noexcept nogil:
    cdef intp ow, jw, i, c0, g
    cdef double wt
    if inner == 1:      # taps outermost, up to three at a time (_wsum_taps)
        jw = 0
        while jw < wkernel:
            g = wkernel - jw if wkernel - jw < 3 else 3
            c0 = woff + jw * wdil
            if wstride == 2:    # the usual stride as a constant: vector loads, not gathers
                _wsum_taps(xr + c0, xr + c0 + (g - 1 > 0) * wdil, xr + c0 + (g - 1) * wdil,
                           2, g, wr + jw, yr, wlo, whi)
            else:
                _wsum_taps(xr + c0, xr + c0 + (g - 1 > 0) * wdil, xr + c0 + (g - 1) * wdil,
                           wstride, g, wr + jw, yr, wlo, whi)
            jw = jw + g
        return
    for ow in range(wlo, whi):
        for jw in range(wkernel):
            wt = wr[jw]
            c0 = (woff + ow * wstride + jw * wdil) * inner
            for i in range(inner):
                yr[ow * inner + i] += wt * <double>xr[c0 + i]


cdef inline void _wsum_taps(const numeric* s0, const numeric* s1, const numeric* s2,
                            intp step, intp g, const double* wt, double* yr,
                            intp wlo, intp whi) noexcept nogil:
    """yr[ow] += wt[j] * sj[ow * step] for the g (1, 2 or 3) taps j in order, for
    wlo <= ow < whi (s1 and s2 are not read where g does not reach them; callers
    pass the last tap's).  The additions of g one-tap passes, in their order, so
    the same bits, with one load and store of yr instead of g: the one-tap
    passes were bound by them."""
    cdef intp ow
    cdef double w0 = wt[0], w1 = wt[1] if g > 1 else 0, w2 = wt[2] if g > 2 else 0
    if g == 3:
        for ow in range(wlo, whi):
            yr[ow] = ((yr[ow] + w0 * <double>s0[ow * step]) + w1 * <double>s1[ow * step]) \
                + w2 * <double>s2[ow * step]
    elif g == 2:
        for ow in range(wlo, whi):
            yr[ow] = (yr[ow] + w0 * <double>s0[ow * step]) + w1 * <double>s1[ow * step]
    else:
        for ow in range(wlo, whi):
            yr[ow] = yr[ow] + w0 * <double>s0[ow * step]


cdef enum:
    # Strides up to this are split into phases (the split loops over the phases, and
    # its buffer holds wstride * ceil(W / wstride) values).
    MAX_PHASES = 8


cdef inline const double* _phase_at(const double* ph, intp plen, intp c,
                                    intp wstride) noexcept nogil:
    """Where input column c (>= 0) lies in the row split into phases."""
    return ph + (c % wstride) * plen + c // wstride


cdef inline void _wsum_row_phases(const double* ph, intp plen, double* yr,
                                  const double* wr, intp wlo, intp whi, intp wstride,
                                  intp woff, intp wkernel, intp wdil) noexcept nogil:
    """_wsum_row_regular for ``inner == 1`` from the row split into ``wstride``
    phases (``ph[p * plen + j] = x[p + j * wstride]``, see _split_phases): each
    tap reads one phase contiguously, so the loop vectorises; the same
    additions in the same order, up to three taps at a time (_wsum_taps)."""
    cdef intp jw, c0, g, n = whi - wlo
    jw = 0
    while jw < wkernel:
        g = wkernel - jw if wkernel - jw < 3 else 3
        c0 = woff + wlo * wstride + jw * wdil        # >= 0: regular windows are inside
        _wsum_taps(_phase_at(ph, plen, c0, wstride),
                   _phase_at(ph, plen, c0 + (g - 1 > 0) * wdil, wstride),
                   _phase_at(ph, plen, c0 + (g - 1) * wdil, wstride),
                   1, g, wr + jw, yr + wlo, 0, n)
        jw = jw + g


cdef inline void _split_phases(const numeric* xr, double* ph, intp w, intp wstride,
                               intp plen) noexcept nogil:
    cdef intp p, j
    for p in range(wstride):
        for j in range((w - p + wstride - 1) // wstride):
            ph[p * plen + j] = <double>xr[p + j * wstride]


def weighted_fused(const numeric[:, :, :, :, ::1] x,   # IN  (outer, D, H, W, inner)
                   real[:, :, :, :, :, ::1] y,         # OUT (K or 1, outer, Do, Ho, Wo, inner)
                   const intp[::1] dstart, const intp[::1] dcount, const intp[::1] dskip,
                   intp ddil,
                   const intp[::1] hstart, const intp[::1] hcount, const intp[::1] hskip,
                   intp hdil,
                   const intp[::1] wstart, const intp[::1] wcount, const intp[::1] wskip,
                   intp wdil, intp wlo, intp whi, intp wstride, intp woff, intp wkernel,
                   const double[:, :, :, ::1] weights,  # IN  (K, kD, kH, kW)
                   bint tree, int nthreads):
    """y[k, ...] = sum over a window's valid taps of weights[k, tap] * x, in float64
    (y float64, K responses); or with ``tree``, tree pooling of the K = 2L - 1
    responses (the L - 1 gates, then the L leaves) into y[0] (float32 or float64).

    Taps are added in row-major order from 0.0, as ndpool._kernels.gather.weighted
    adds them, so both kernels give the same bits; padding taps add nothing.
    Rows of single elements (inner == 1) of float32 and float64 fold their whole
    windows with _mix.h's clones (vectorised for the machine, the same
    additions).  Other types, with several filters, first split each such input
    row into its ``wstride`` phases, in float64, once for every filter: a tap
    then reads its phase contiguously (with one filter the split costs what it
    saves).  A tree keeps an output row's responses in the thread's buffer and
    evaluates them there (_tree_row); empty windows are the caller's to fill.
    """
    cdef intp nk = weights.shape[0], do = y.shape[2], ho = y.shape[3], wo = y.shape[4]
    cdef intp inner = y.shape[5], w = x.shape[3], n = wo * inner
    cdef intp rows = y.shape[1] * do * ho, nchunks = chunk_count(rows, nthreads)
    cdef bint clone = (numeric is float or numeric is double) and inner == 1 and whi > wlo
    cdef bint phases = (not clone and nk > 1 and inner == 1 and 1 < wstride <= MAX_PHASES
                        and whi > wlo)
    cdef intp plen = (w + wstride - 1) // wstride if phases else 0
    cdef intp wstep = weights.strides[0] // sizeof(double)
    cdef intp ystep = n if tree or real is float else y.strides[0] // sizeof(double)
    cdef intp ch, r, r1, b, od, oh, jd, jh, i, k
    cdef const numeric* xr
    cdef const double* wr
    cdef double* yr
    cdef double* y0
    cdef double* ph
    cdef double* buf
    cdef double** val
    with nogil, parallel(num_threads=nthreads):
        ph = <double*>malloc((wstride * plen + 1) * sizeof(double) if phases else sizeof(double))
        buf = <double*>malloc((nk * n + 1) * sizeof(double) if tree or real is float
                              else sizeof(double))
        val = <double**>malloc((nk + 1) * sizeof(double*))
        for ch in prange(nchunks, schedule="static"):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b, od, oh = row_at(r, ho, do)
            while r < r1:
                # filter k's response row: y0 + k * ystep, in the thread's buffer
                # (a tree's rows, float32 output) or in y
                if tree or real is float:
                    y0 = buf
                else:
                    y0 = <double*>&y[0, b, od, oh, 0, 0]
                for k in range(nk):
                    yr = y0 + k * ystep
                    for i in range(n):
                        yr[i] = 0
                for jd in range(dcount[od]):
                    for jh in range(hcount[oh]):
                        xr = &x[b, dstart[od] + jd * ddil, hstart[oh] + jh * hdil, 0, 0]
                        if phases:
                            _split_phases(xr, ph, w, wstride, plen)
                        if clone:       # the whole windows, every filter in one call
                            _wsum_rows_clone(xr, y0, ystep, &weights[0, dskip[od] + jd,
                                                                    hskip[oh] + jh, 0],
                                             wstep, nk, wlo, whi, wstride, woff, wkernel,
                                             wdil)
                        for k in range(nk):
                            yr = y0 + k * ystep
                            wr = &weights[k, dskip[od] + jd, hskip[oh] + jh, 0]
                            _wsum_row_edges(xr, yr, inner, wr, wstart, wcount, wskip,
                                            wdil, 0, wlo)
                            if phases:
                                _wsum_row_phases(ph, plen, yr, wr, wlo, whi, wstride,
                                                 woff, wkernel, wdil)
                            elif not clone:
                                _wsum_row_regular(xr, yr, inner, wr, wlo, whi, wstride,
                                                  woff, wkernel, wdil)
                            _wsum_row_edges(xr, yr, inner, wr, wstart, wcount, wskip,
                                            wdil, whi, wo)
                if tree:
                    _tree_row(buf, val, nk, n, &y[0, b, od, oh, 0, 0])
                r = r + 1
                next_row(&oh, &od, &b, ho, do)
        free(val)
        free(buf)
        free(ph)


cdef inline void _tree_row(double* buf, double** val, intp nk, intp n,
                           real* out) noexcept nogil:
    """Tree pooling of one output row from its nk = 2L - 1 responses in ``buf``
    (rows of n: gates 0 .. L - 2, then the leaves), as mixing._tree's passes: node
    i, from the last internal one to the root, is the blend
    ``(left * s) + ((1 - s) * right)`` of its children by ``s`` = the sigmoid of
    its gate's response (_mix.h's nd_sigmoid and nd_blend_row: mixing._sigmoid's
    and mixing._mix's bits, a NaN's sign aside), written over its left child's
    row; the root, rounded, is the output row."""
    cdef intp i, j
    cdef double* s
    cdef double* a
    for i in range(nk):
        val[i] = buf + i * n
    for i in range(nk // 2 - 1, -1, -1):
        s = buf + i * n
        nd_sigmoid(s, n)
        a = val[2 * i + 1]
        nd_blend_row(a, s, val[2 * i + 2], n)
        val[i] = a
    a = val[0]
    for j in range(n):
        out[j] = <real>a[j]


cdef extern from *:
    """
    /* Streaming (non-temporal) 8-byte stores for large outputs: written past the
       cache, they do not first read the line they fill.  x86-64 has them in its
       baseline (SSE2); elsewhere they are plain copies. */
    #include <string.h>
    #if defined(__x86_64__) && defined(__SSE2__)
    #include <emmintrin.h>
    static inline void ndpool_stream8(void* dst, const void* src) {
        long long v; memcpy(&v, src, 8); _mm_stream_si64((long long*)dst, v);
    }
    static inline void ndpool_stream_fence(void) { _mm_sfence(); }
    #else
    static inline void ndpool_stream8(void* dst, const void* src) { memcpy(dst, src, 8); }
    static inline void ndpool_stream_fence(void) { }
    #endif
    """
    void stream8 "ndpool_stream8"(void* dst, const void* src) noexcept nogil
    void stream_fence "ndpool_stream_fence"() noexcept nogil


cdef enum:
    STREAM_MIN_BYTES = 1 << 24


cdef inline void _mean_pair_edges(const wide* t, real* yr, intp inner,
                                  const intp[::1] wstart, const intp[::1] wcount,
                                  intp o0, intp o1, double div, bint pow2) noexcept nogil:
    """_mean_pairs' clipped windows o0 <= ow < o1, from the tables."""
    cdef intp ow, i, jw
    cdef double q
    for ow in range(o0, o1):
        for i in range(inner):
            q = 0.0
            for jw in range(wcount[ow]):
                q = q + <double>t[(wstart[ow] + jw) * inner + i]
            yr[ow * inner + i] = <real>(q * (1.0 / div) if pow2 else q / div)


cdef inline void _mean_pairs_out(const wide* t, real* yr, intp inner, intp wlo, intp whi,
                                 intp woff, double div, bint pow2, bint stream) noexcept nogil:
    """_mean_pairs' whole windows: each window's sum is the first pixel of its pair."""
    cdef intp ow, i, c
    cdef double q, rdiv = 1.0 / div
    if real is double and stream:
        for ow in range(wlo, whi):
            c = (woff + 2 * ow) * inner
            for i in range(inner):
                q = <double>t[c + i] * rdiv if pow2 else <double>t[c + i] / div
                stream8(&yr[ow * inner + i], &q)
    else:
        for ow in range(wlo, whi):
            c = (woff + 2 * ow) * inner
            for i in range(inner):
                yr[ow * inner + i] = <real>(<double>t[c + i] * rdiv if pow2
                                            else <double>t[c + i] / div)


cdef inline void _mean_pairs(wide* t, real* yr, intp inner,
                             const intp[::1] wstart, const intp[::1] wcount,
                             intp wlo, intp whi, intp woff, intp wo, double div,
                             bint pow2, bint stream) noexcept nogil:
    """The pass along W of a folded row ``t`` of exact window-row sums (int32 or
    float64) for windows of two adjacent pixels at stride 2 (2 x 2 blocks of an RGB
    image), all with divisor ``div``.  As in _ext_pairs, ``t[k] += t[k + inner]``
    runs elementwise (vectorised) over the windows' span, which leaves each window's
    sum in its first pixel; those are then divided (or multiplied by a power of two's
    exact reciprocal, as mean_fused's rows) on the way out, streamed past the cache
    for large outputs.  The sums are of integers, exact in any order; an int32 ``t``
    holds fewer than 16384 rows of 16-bit values, so that a pair's sum stays below
    2**31 in magnitude.  ``t`` may be overwritten; an int32 ``t`` into a float64
    row with a power-of-two divisor, not streamed, takes _mean.h's loop instead."""
    cdef intp k
    cdef intp lo = (woff + 2 * wlo) * inner, hi = (woff + 2 * whi - 1) * inner
    # the edge windows read t as it is: first
    _mean_pair_edges(t, yr, inner, wstart, wcount, 0, wlo, div, pow2)
    _mean_pair_edges(t, yr, inner, wstart, wcount, whi, wo, div, pow2)
    if wide is int32_t and real is double and pow2 and not stream:
        nd_pairs_mean_i32(t, yr, inner, wlo, whi, woff, 1.0 / div)     # _mean.h
        return
    for k in range(lo, hi):
        t[k] = t[k] + t[k + inner]
    if inner == 3:              # RGB: constant pixels, unrolled by the compiler
        _mean_pairs_out(t, yr, 3, wlo, whi, woff, div, pow2, stream)
    elif inner == 1:
        _mean_pairs_out(t, yr, 1, wlo, whi, woff, div, pow2, stream)
    else:
        _mean_pairs_out(t, yr, inner, wlo, whi, woff, div, pow2, stream)


cdef enum:
    # Output rows whose long windows mean_fused sums side by side (see _sum_long4).
    LONG_ROWS = 4


cdef inline void _sum_long4(const numeric* x0, const numeric* x1, const numeric* x2,
                            const numeric* x3, double* a, intp wo, intp wlo, intp whi,
                            intp wstride, intp woff, intp wkernel, intp wdil,
                            bint first) noexcept nogil:
    """_sum_row_regular's long windows (inner 1) for one input row of each of four
    output rows at once (rows x0..x3, window sums a[k * wo + ow]).  Each window's
    taps are added in the same order as there, one after another; what changes is
    that four windows' chains of dependent additions run side by side, so that the
    adder's latency is hidden (a global or strip mean has one window per row)."""
    cdef intp ow, jw, c0, c
    cdef double s0, s1, s2, s3
    for ow in range(wlo, whi):
        c0 = woff + ow * wstride
        if first:
            s0 = <double>x0[c0]
            s1 = <double>x1[c0]
            s2 = <double>x2[c0]
            s3 = <double>x3[c0]
        else:
            s0 = a[ow] + <double>x0[c0]
            s1 = a[wo + ow] + <double>x1[c0]
            s2 = a[2 * wo + ow] + <double>x2[c0]
            s3 = a[3 * wo + ow] + <double>x3[c0]
        for jw in range(1, wkernel):
            c = c0 + jw * wdil
            s0 = s0 + <double>x0[c]
            s1 = s1 + <double>x1[c]
            s2 = s2 + <double>x2[c]
            s3 = s3 + <double>x3[c]
        a[ow] = s0
        a[wo + ow] = s1
        a[2 * wo + ow] = s2
        a[3 * wo + ow] = s3


cdef inline bint _row_divisors(double* dv, const double[::1] wdiv, double scale, intp wo,
                               bint wsame) noexcept nogil:
    """mean_fused's divisors of one output row into dv (dv[0] only if ``wsame``);
    whether they are all the same."""
    # A divisor is 0 only for a window without elements (count_include_pad
    # False), whose sum is 0: dividing by 1 writes 0, never 0/0.  The
    # divisors go to a row first, so that the divisions are unconditional
    # and vectorise (the same quotients).
    cdef intp ow
    cdef double div
    cdef bint same = True
    if wsame:                      # the usual case: no per-output loop
        div = scale * wdiv[0] if wo > 0 else 1.0
        dv[0] = div if div != 0 else 1.0
    else:
        for ow in range(wo):
            div = scale * wdiv[ow]
            dv[ow] = div if div != 0 else 1.0
            same = same & (dv[ow] == dv[0])
    return same


cdef inline void _mean_out(const double* acc, real* yr, const double* dv, intp wo,
                           intp inner, bint same, bint pow2) noexcept nogil:
    """yr = acc / dv, per window (or times a power of two's exact reciprocal)."""
    cdef intp ow, i
    cdef double div
    if same:                           # one divisor: one flat loop
        div = dv[0]
        if pow2:
            div = 1.0 / div
            for i in range(wo * inner):
                yr[i] = <real>(acc[i] * div)
        else:
            for i in range(wo * inner):
                yr[i] = <real>(acc[i] / div)
    elif inner == 1:
        for ow in range(wo):
            yr[ow] = <real>(acc[ow] / dv[ow])
    else:
        for ow in range(wo):
            div = dv[ow]
            for i in range(inner):
                yr[ow * inner + i] = <real>(acc[ow * inner + i] / div)


def mean_fused(const numeric[:, :, :, :, ::1] x,   # IN  (outer, D, H, W, inner)
               real[:, :, :, :, ::1] y,            # OUT (outer, Do, Ho, Wo, inner)
               const intp[::1] dstart, const intp[::1] dcount, intp ddil,
               const intp[::1] hstart, const intp[::1] hcount, intp hdil,
               const intp[::1] wstart, const intp[::1] wcount, intp wdil,
               intp wlo, intp whi, intp wstride, intp woff, intp wkernel,
               const double[::1] ddiv, const double[::1] hdiv, const double[::1] wdiv,
               int nthreads):
    """Window sums in a per-thread float64 row, divided by (ddiv * hdiv) * wdiv on the way out.

    A window without elements whose divisor is 0 gives 0.  Integer inputs of up
    to 32 bits fold the window's input rows first, into one float64 row
    (elementwise, vectorised), then that row along W once: their sums are exact
    in float64 in any order (see rows_first_fits).
    """
    cdef intp do = y.shape[1], ho = y.shape[2], wo = y.shape[3], inner = y.shape[4]
    cdef intp rows = y.shape[0] * do * ho, nchunks = chunk_count(rows, nthreads)
    cdef intp n = x.shape[3] * inner
    cdef intp ch, r, r1, b, od, oh, jd, jh, ow, i, k, step
    cdef bint first, fold = rows_first_fits(n) and not (
        numeric is float or numeric is double or numeric is int64_t or numeric is uint64_t)
    cdef bint pow2, same, grouped
    cdef int e2
    # a group's output rows (batch, D, H indices) and the offsets of their windows'
    # first input rows from x's first element: per thread, as acc
    cdef intp* gb
    cdef intp* gd
    cdef intp* gh
    cdef intp* gx
    cdef intp off
    cdef const numeric* xr
    cdef const numeric* x0
    cdef const numeric* x1
    cdef real* yr
    cdef double* acc
    cdef double* dv
    cdef double* t
    cdef int32_t* ti
    # 8- and 16-bit rows fold into int32 (exact below 2**15 rows): cheaper to widen
    cdef bint narrow = (numeric is int8_t or numeric is uint8_t or numeric is int16_t
                        or numeric is uint16_t)
    # One-byte pixels of 1 to 4 elements into float64, every window along W whole: in
    # the 2 x 2 blocks' branch below, _pairs.h's permutations (_pairs_mean) in place
    # of the fold and pair pass.  A uint8 RGB 4096 x 4096 block_reduce mean, one
    # thread: 9.1 ms this way, 15.5 ms with the fold and pair pass (a copy of the
    # image: 2.4 ms).
    cdef bint bytepairs = ((numeric is uint8_t or numeric is int8_t) and real is double
                           and PAIRS_MEAN_BW and inner <= 4 and wlo == 0 and whi == wo)
    # Whether every window along W has the same divisor: then so has every row.
    cdef bint wsame = True
    # Outputs larger than a last-level cache are written past the cache (stream8) by
    # _mean_pairs, for pixels of several elements: measured with a preallocated
    # output, a uint8 RGB 2 x 2 block mean took 14.7 ms streamed against 17.0 ms
    # stored, one thread; for single elements (a uint16 volume, a grey image)
    # streaming was slower (32-37 against 23 ms, 8.3 against 5.1 ms), so they store.
    cdef bint stream = rows * wo * inner * sizeof(real) >= STREAM_MIN_BYTES and inner > 1
    for ow in range(wo):
        wsame = wsame and wdiv[ow] == wdiv[0]
    # Long windows of single elements (a global or strip mean: few windows per row,
    # each a chain of dependent additions) are summed LONG_ROWS output rows at a time
    # when those rows' windows span the same number of input rows (_sum_long4).
    cdef bint long_rows = (not fold and inner == 1 and wkernel >= LONG_WINDOW
                           and whi > wlo)
    with nogil, parallel(num_threads=nthreads):
        acc = <double*>malloc((wo * inner * LONG_ROWS + wo + 1 + (n if fold else 0))
                              * sizeof(double))
        dv = acc + wo * inner * LONG_ROWS
        t = dv + wo + 1
        ti = <int32_t*>t
        gb = <intp*>malloc(4 * LONG_ROWS * sizeof(intp))
        gd = gb + LONG_ROWS
        gh = gd + LONG_ROWS
        gx = gh + LONG_ROWS
        for ch in prange(nchunks, schedule="static"):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b, od, oh = row_at(r, ho, do)
            while r < r1:
                grouped = False
                if long_rows and r + LONG_ROWS <= r1:
                    gb[0], gd[0], gh[0] = b, od, oh
                    grouped = dcount[od] * hcount[oh] > 0
                    for k in range(1, LONG_ROWS):
                        gb[k], gd[k], gh[k] = gb[k - 1], gd[k - 1], gh[k - 1]
                        next_row(&gh[k], &gd[k], &gb[k], ho, do)
                        grouped = grouped and (dcount[gd[k]] == dcount[od]
                                               and hcount[gh[k]] == hcount[oh])
                if grouped:
                    x0 = &x[0, 0, 0, 0, 0]
                    for k in range(LONG_ROWS):
                        gx[k] = &x[gb[k], dstart[gd[k]], hstart[gh[k]], 0, 0] - x0
                    first = True
                    for jd in range(dcount[od]):
                        for jh in range(hcount[oh]):
                            # the (jd, jh)-th input row of every window of the group
                            off = (jd * ddil * x.shape[2] + jh * hdil) * n
                            _sum_long4(x0 + gx[0] + off, x0 + gx[1] + off, x0 + gx[2] + off,
                                       x0 + gx[3] + off, acc, wo, wlo, whi, wstride, woff,
                                       wkernel, wdil, first)
                            for k in range(LONG_ROWS):      # the clipped windows, if any
                                xr = x0 + gx[k] + off
                                _sum_row_edges(xr, acc + k * wo, 1, wstart, wcount, wdil,
                                               0, wlo, first)
                                _sum_row_edges(xr, acc + k * wo, 1, wstart, wcount, wdil,
                                               whi, wo, first)
                            first = False
                    for k in range(LONG_ROWS):
                        same = _row_divisors(dv, wdiv, ddiv[gd[k]] * hdiv[gh[k]], wo, wsame)
                        pow2 = same and frexp(dv[0], &e2) == 0.5
                        _mean_out(acc + k * wo, &y[gb[k], gd[k], gh[k], 0, 0], dv, wo, 1,
                                  same, pow2)
                        r = r + 1
                        next_row(&oh, &od, &b, ho, do)
                    continue
                yr = &y[b, od, oh, 0, 0]
                # A power of two's reciprocal is exact, and so is multiplying by it:
                # a row whose one divisor is one (2 x 2 blocks, ...) multiplies.
                same = _row_divisors(dv, wdiv, ddiv[od] * hdiv[oh], wo, wsame)
                pow2 = same and frexp(dv[0], &e2) == 0.5
                if (wkernel == 2 and dcount[od] * hcount[oh] == 2 and same and wlo == 0
                        and whi == wo and not fold):
                    # 2 x 2 windows of floats (and 64-bit integers), all whole: sum and
                    # divide in one pass, with the plane's next rows in the same call
                    # while their windows' rows are the same distance further on and
                    # their divisor the same (then so are their pow2 and second row):
                    # rows of 128 outputs spent 6% of an NCHW mean's time in the work
                    # of this loop.  For rows of whole two-row windows the plan already
                    # gives regular starts and equal divisors; the checks keep the
                    # reads inside the windows should a plan ever not.
                    x0 = &x[b, dstart[od], hstart[oh], 0, 0]
                    x1 = x0 + _second_row(hcount[oh], hdil, ddil, x.shape[2], n)
                    k = 1
                    step = hstart[oh + 1] - hstart[oh] if oh + 1 < ho else 0
                    while (k < r1 - r and oh + k < ho and hcount[oh + k] == hcount[oh]
                           and hdiv[oh + k] == hdiv[oh]
                           and hstart[oh + k] == hstart[oh] + k * step):
                        k = k + 1
                    _mean_quad_row(x0, x1, yr, acc, inner, wo, wstride, woff, wdil, dv[0], pow2,
                                   n, k, step * n)
                    r = r + k - 1               # the rows taken; the last one's next below
                    oh = oh + k - 1
                elif (fold and same and wkernel == 2 and wstride == 2 and wdil == 1
                        and whi > wlo and dcount[od] * hcount[oh] > 1):
                    # 2 x 2 blocks of integers: the rows folded (int32 for 8- and 16-bit
                    # input, whose pairs' sums stay below 2**31; else float64, exact),
                    # then the pairs along W in place (see _mean_pairs); or, for bytes
                    # into float64, both at once (_pairs_mean)
                    if bytepairs and pow2 and dcount[od] * hcount[oh] == 2:
                        x0 = &x[b, dstart[od], hstart[oh], woff, 0]
                        x1 = x0 + _second_row(hcount[oh], hdil, ddil, x.shape[2], n)
                        _pairs_mean(x0, x1, yr, inner, wo, 1.0 / dv[0])
                    elif narrow and dcount[od] * hcount[oh] < 16384:
                        _fold_window_rows(&x[b, 0, 0, 0, 0], ti, x.shape[2], n, dstart[od],
                                          dcount[od], ddil, hstart[oh], hcount[oh], hdil)
                        _mean_pairs(ti, yr, inner, wstart, wcount, wlo, whi, woff, wo, dv[0],
                                    pow2, stream)
                    else:
                        _fold_window_rows(&x[b, 0, 0, 0, 0], t, x.shape[2], n, dstart[od],
                                          dcount[od], ddil, hstart[oh], hcount[oh], hdil)
                        _mean_pairs(t, yr, inner, wstart, wcount, wlo, whi, woff, wo, dv[0],
                                    pow2, stream)
                else:
                    for i in range(wo * inner):
                        acc[i] = 0
                    first = True
                    if fold and narrow and 1 < dcount[od] * hcount[oh] < 32768:
                        _fold_window_rows(&x[b, 0, 0, 0, 0], ti, x.shape[2], n, dstart[od],
                                          dcount[od], ddil, hstart[oh], hcount[oh], hdil)
                        _sum_row(ti, acc, inner, wstart, wcount, wdil, wlo, whi, wstride, woff,
                                 wkernel, wo, True)
                    elif fold and dcount[od] * hcount[oh] > 1:
                        _fold_window_rows(&x[b, 0, 0, 0, 0], t, x.shape[2], n, dstart[od],
                                          dcount[od], ddil, hstart[oh], hcount[oh], hdil)
                        _sum_row(t, acc, inner, wstart, wcount, wdil, wlo, whi, wstride, woff,
                                 wkernel, wo, True)
                    else:
                        for jd in range(dcount[od]):
                            for jh in range(hcount[oh]):
                                xr = &x[b, dstart[od] + jd * ddil, hstart[oh] + jh * hdil, 0, 0]
                                _sum_row(xr, acc, inner, wstart, wcount, wdil, wlo, whi, wstride,
                                         woff, wkernel, wo, first)
                                first = False
                    _mean_out(acc, yr, dv, wo, inner, same, pow2)
                r = r + 1
                next_row(&oh, &od, &b, ho, do)
        stream_fence()
        free(acc)
        free(gb)


def mixed_fused(const numeric[:, :, :, :, ::1] x,   # IN  (outer, D, H, W, inner)
                real[:, :, :, :, ::1] y,            # OUT (outer, Do, Ho, Wo, inner)
                const intp[::1] dstart, const intp[::1] dcount, intp ddil,
                const intp[::1] hstart, const intp[::1] hcount, intp hdil,
                const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                intp wlo, intp whi, intp wstride, intp woff, intp wkernel,
                const double[::1] ddiv, const double[::1] hdiv, const double[::1] wdiv,
                const double[:, :, ::1] gate,       # IN  (kD, kH, kW), or (0, 0, 0)
                const intp[::1] dskip, const intp[::1] hskip, const intp[::1] wskip,
                double alpha, int nthreads):
    """Mixed and gated pooling in one sweep: ``s * max + (1 - s) * mean`` per window.

    ``s`` is ``alpha``, or, when ``gate`` is not empty, the window's
    ``sigmoid(gate . taps)`` (padding taps add nothing; the skip tables as
    weighted_fused's).  The max row, the float64 sum row and the gate's response
    are folded from the same input rows (the input is read once): the response
    has weighted_fused's bits, the sigmoid mixing._sigmoid's (_mix.h), the mean
    is mean_fused's quotient, and the blend is computed as written,
    ``(mx * s) + ((1 - s) * mean)``, in float64, so the result has the bits of
    the separate passes blended in NumPy.  Rows of single elements fold their
    whole windows with _mix.h's clones.  Empty windows are the caller's to fill.
    """
    cdef intp do = y.shape[1], ho = y.shape[2], wo = y.shape[3], inner = y.shape[4]
    cdef intp rows = y.shape[0] * do * ho, nchunks = chunk_count(rows, nthreads)
    cdef intp ch, r, r1, b, od, oh, jd, jh, ow, i, e, n = wo * inner
    cdef bint first, per_window = gate.shape[0] > 0
    cdef bint clone = inner == 1 and wkernel < LONG_WINDOW and whi > wlo
    cdef double scale, div
    cdef const double* wr
    cdef const numeric* xr
    cdef real* yr
    cdef double* acc
    cdef double* dv
    cdef double* z
    cdef numeric* mrow
    with nogil, parallel(num_threads=nthreads):
        # a row each: the sums, s (the gate's response, then its sigmoid; or alpha
        # throughout), the divisors (one per element: the blend is one loop)
        acc = <double*>malloc((3 * n + 1) * sizeof(double))
        z = acc + n
        dv = z + n
        mrow = <numeric*>malloc((n + 1) * sizeof(numeric))
        if not per_window:
            for e in range(n):
                z[e] = alpha
        for ch in prange(nchunks, schedule="static"):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b, od, oh = row_at(r, ho, do)
            while r < r1:
                yr = &y[b, od, oh, 0, 0]
                for i in range(n):
                    acc[i] = 0
                    mrow[i] = 0
                if per_window:
                    for i in range(n):
                        z[i] = 0
                first = True
                for jd in range(dcount[od]):
                    for jh in range(hcount[oh]):
                        xr = &x[b, dstart[od] + jd * ddil, hstart[oh] + jh * hdil, 0, 0]
                        if per_window:
                            wr = &gate[dskip[od] + jd, hskip[oh] + jh, 0]
                        else:
                            wr = NULL
                        if clone:
                            _mix_row(xr, acc, mrow, z, wr, wstart, wcount, wskip, wdil,
                                     wlo, whi, wstride, woff, wkernel, wo, first)
                        else:
                            _sum_row(xr, acc, inner, wstart, wcount, wdil, wlo, whi,
                                     wstride, woff, wkernel, wo, first)
                            _ext_row(xr, mrow, inner, wstart, wcount, wdil, wlo, whi,
                                     wstride, woff, wkernel, wo, first, False)
                            if per_window:
                                _wsum_row(xr, z, inner, wr, wstart, wcount, wskip, wdil,
                                          wlo, whi, wstride, woff, wkernel, wo)
                        first = False
                scale = ddiv[od] * hdiv[oh]
                if inner == 1:                   # as mean_fused: 0 only when empty
                    for ow in range(wo):
                        div = scale * wdiv[ow]
                        dv[ow] = div if div != 0 else 1.0
                else:
                    for ow in range(wo):
                        div = scale * wdiv[ow]
                        div = div if div != 0 else 1.0
                        for i in range(ow * inner, ow * inner + inner):
                            dv[i] = div
                if per_window:
                    nd_sigmoid(z, n)
                for i in range(n):
                    yr[i] = <real>((<double>mrow[i] * z[i])
                                   + ((1 - z[i]) * (acc[i] / dv[i])))
                r = r + 1
                next_row(&oh, &od, &b, ho, do)
        free(mrow)
        free(acc)


cdef extern from "_mix.h" nogil:
    void nd_mix_row_f32(const float* xr, intp wlo, intp whi, intp wstride, intp woff,
                        intp k, intp wdil, int first, double* acc, float* mx,
                        const double* wt, double* z)
    void nd_mix_row_f64(const double* xr, intp wlo, intp whi, intp wstride, intp woff,
                        intp k, intp wdil, int first, double* acc, double* mx,
                        const double* wt, double* z)
    void nd_wsum_rows_f32(const float* xr, intp wlo, intp whi, intp wstride, intp woff,
                          intp k, intp wdil, const double* wts, intp wtstep, double* zs,
                          intp zstep, intp nk)
    void nd_wsum_rows_f64(const double* xr, intp wlo, intp whi, intp wstride, intp woff,
                          intp k, intp wdil, const double* wts, intp wtstep, double* zs,
                          intp zstep, intp nk)
    void nd_sigmoid(double* z, intp n)
    void nd_blend_row(double* a, const double* s, const double* c, intp n)


cdef inline void _wsum_rows_clone(const numeric* xr, double* yr, intp ystep,
                                  const double* wr, intp wstep, intp nk, intp wlo, intp whi,
                                  intp wstride, intp woff, intp wkernel,
                                  intp wdil) noexcept nogil:
    """_wsum_row_regular for inner == 1 and nk filters (rows ``wstep`` apart, their
    responses ``ystep`` apart) by _mix.h's clones (float32 and float64 only: the
    caller's test)."""
    if numeric is float:
        nd_wsum_rows_f32(xr, wlo, whi, wstride, woff, wkernel, wdil, wr, wstep, yr, ystep, nk)
    elif numeric is double:
        nd_wsum_rows_f64(xr, wlo, whi, wstride, woff, wkernel, wdil, wr, wstep, yr, ystep, nk)


cdef inline void _wsum_row(const numeric* xr, double* yr, intp inner, const double* wr,
                           const intp[::1] wstart, const intp[::1] wcount,
                           const intp[::1] wskip, intp wdil, intp wlo, intp whi,
                           intp wstride, intp woff, intp wkernel, intp wo) noexcept nogil:
    """Fold one input row into the output row's responses to the row ``wr`` of a
    filter, as weighted_fused folds it (without the split into phases)."""
    _wsum_row_edges(xr, yr, inner, wr, wstart, wcount, wskip, wdil, 0, wlo)
    _wsum_row_regular(xr, yr, inner, wr, wlo, whi, wstride, woff, wkernel, wdil)
    _wsum_row_edges(xr, yr, inner, wr, wstart, wcount, wskip, wdil, whi, wo)


cdef inline void _mix_row(const numeric* xr, double* acc, numeric* mrow, double* z,
                          const double* wr, const intp[::1] wstart, const intp[::1] wcount,
                          const intp[::1] wskip, intp wdil, intp wlo, intp whi, intp wstride,
                          intp woff, intp wkernel, intp wo, bint first) noexcept nogil:
    """mixed_fused's fold of one input row of single elements (inner == 1): the
    clipped windows by the tables, the whole ones by _mix.h's clones for float32
    and float64 (other types by _sum_row's and _ext_row's loops); the gate's
    response too where ``wr`` is not NULL."""
    _sum_row_edges(xr, acc, 1, wstart, wcount, wdil, 0, wlo, first)
    _sum_row_edges(xr, acc, 1, wstart, wcount, wdil, whi, wo, first)
    _ext_row_edges(xr, mrow, 1, wstart, wcount, wdil, 0, wlo, first, False)
    _ext_row_edges(xr, mrow, 1, wstart, wcount, wdil, whi, wo, first, False)
    if wr != NULL:
        _wsum_row_edges(xr, z, 1, wr, wstart, wcount, wskip, wdil, 0, wlo)
        _wsum_row_edges(xr, z, 1, wr, wstart, wcount, wskip, wdil, whi, wo)
    if numeric is float:
        nd_mix_row_f32(xr, wlo, whi, wstride, woff, wkernel, wdil, first, acc, mrow, wr, z)
    elif numeric is double:
        nd_mix_row_f64(xr, wlo, whi, wstride, woff, wkernel, wdil, first, acc, mrow, wr, z)
    else:
        _sum_row_regular(xr, acc, 1, wlo, whi, wstride, woff, wkernel, wdil, first)
        _ext_row_regular(xr, mrow, 1, wlo, whi, wstride, woff, wkernel, wdil, first, False)
        if wr != NULL:
            _wsum_row_regular(xr, z, 1, wr, wlo, whi, wstride, woff, wkernel, wdil)


# ---- stochastic pooling's draw, window by window on adjacent axes -------------------

cdef inline intp _crossing(intp c, intp n, const numeric* xw, intp inner, const intp* tap,
                           double zero) noexcept nogil:
    """The offset of the drawn tap of a window of n taps at offsets ``tap`` (in tap
    order), given c, the number of its running sums of positive activations at or
    below the target.  The sums never decrease, so they pass the target first at
    tap c: the same tap as a walk that stops there.  c == n (no sum passes: the
    target u * s rounded up to s) -> the last positive tap."""
    cdef intp k, last = 0
    if c < n:
        return tap[c]
    for k in range(n):
        last = tap[k] if <double>xw[tap[k] * inner] > zero else last
    return last


cdef inline bint _draw4(const numeric* xb, numeric* yrow, intp* irow, const double* urow,
                        const intp* tap, intp n, intp base,
                        const intp[::1] wstart, intp ow, bint with_index,
                        double zero) noexcept nogil:
    """stochastic_fused's draw for the four single-channel windows ``ow .. ow + 3`` of
    one output row, which have the same taps relative to their first one, their
    dependent sums interleaved so that they overlap.  Only where every tap is
    finite and every window has mass (else False, and nothing is written): the
    same sums and targets as the one-window code, so the same draws."""
    cdef const numeric* p0 = xb + base
    cdef const numeric* p1 = xb + base + (wstart[ow + 1] - wstart[ow])
    cdef const numeric* p2 = xb + base + (wstart[ow + 2] - wstart[ow])
    cdef const numeric* p3 = xb + base + (wstart[ow + 3] - wstart[ow])
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, g = 0, t0, t1, t2, t3
    cdef double a0, a1, a2, a3
    cdef intp k, off, q0, q1, q2, q3
    cdef intp c0 = 0, c1 = 0, c2 = 0, c3 = 0
    for k in range(n):
        off = tap[k]
        a0 = <double>p0[off]
        a1 = <double>p1[off]
        a2 = <double>p2[off]
        a3 = <double>p3[off]
        g = g + ((a0 - a0) + (a1 - a1)) + ((a2 - a2) + (a3 - a3))   # NaN unless finite
        s0 = s0 + (a0 if a0 > zero else zero)
        s1 = s1 + (a1 if a1 > zero else zero)
        s2 = s2 + (a2 if a2 > zero else zero)
        s3 = s3 + (a3 if a3 > zero else zero)
    if not (g == 0 and s0 > 0 and s1 > 0 and s2 > 0 and s3 > 0):
        return False
    t0 = urow[ow] * s0
    t1 = urow[ow + 1] * s1
    t2 = urow[ow + 2] * s2
    t3 = urow[ow + 3] * s3
    s0 = 0
    s1 = 0
    s2 = 0
    s3 = 0
    # the same running sums again, counting those at or below the target (_crossing)
    for k in range(n):
        off = tap[k]
        a0 = <double>p0[off]
        a1 = <double>p1[off]
        a2 = <double>p2[off]
        a3 = <double>p3[off]
        s0 = s0 + (a0 if a0 > zero else zero)
        s1 = s1 + (a1 if a1 > zero else zero)
        s2 = s2 + (a2 if a2 > zero else zero)
        s3 = s3 + (a3 if a3 > zero else zero)
        c0 = c0 + (s0 <= t0)
        c1 = c1 + (s1 <= t1)
        c2 = c2 + (s2 <= t2)
        c3 = c3 + (s3 <= t3)
    q0 = _crossing(c0, n, p0, 1, tap, zero)
    q1 = _crossing(c1, n, p1, 1, tap, zero)
    q2 = _crossing(c2, n, p2, 1, tap, zero)
    q3 = _crossing(c3, n, p3, 1, tap, zero)
    yrow[ow] = p0[q0]
    yrow[ow + 1] = p1[q1]
    yrow[ow + 2] = p2[q2]
    yrow[ow + 3] = p3[q3]
    if with_index:
        irow[ow] = (p0 - xb) + q0          # the pooled index: window start + tap
        irow[ow + 1] = (p1 - xb) + q1
        irow[ow + 2] = (p2 - xb) + q2
        irow[ow + 3] = (p3 - xb) + q3
    return True


cdef extern from "_argfold.h" nogil:
    void nd_arg_fold_f32(const float* xp, float* y, intp* yi, intp p, intp inner,
                         int is_min)
    void nd_arg_fold_f64(const double* xp, double* y, intp* yi, intp p, intp inner,
                         int is_min)
    void nd_arg_row_f32(const float* x, const intp* xi, float* y, intp* yi,
                        const intp* st, const intp* ct, intp o0, intp o1, intp dil,
                        intp index_stride, int is_min)
    void nd_arg_row_f64(const double* x, const intp* xi, double* y, intp* yi,
                        const intp* st, const intp* ct, intp o0, intp o1, intp dil,
                        intp index_stride, int is_min)
    void nd_arg_regular_f32(const float* x, const intp* xi, float* y, intp* yi, intp o0,
                            intp o1, intp off, intp stride, intp k, intp dil,
                            intp index_stride, int is_min)
    void nd_arg_regular_f64(const double* x, const intp* xi, double* y, intp* yi, intp o0,
                            intp o1, intp off, intp stride, intp k, intp dil,
                            intp index_stride, int is_min)


cdef extern from "_pcg.h" nogil:
    ctypedef struct nd_pcg:
        pass
    void nd_pcg_at(nd_pcg* g, const uint64_t* words, uint64_t first)
    void nd_pcg_next(nd_pcg* g, double* out, intp n)


cdef extern from "_draw.h" nogil:
    enum: ND_DRAW_TAPS
    intp nd_draw8_f32(const float* xb, intp base, intp step, intp nw, const intp* tap,
                      intp n, const double* u, float* y, intp* idx, int with_index)
    intp nd_draw8_f64(const double* xb, intp base, intp step, intp nw,
                      const intp* tap, intp n, const double* u, double* y, intp* idx,
                      int with_index)


def stochastic_fused(const numeric[:, :, :, :, ::1] x,   # IN  (outer, D, H, W, inner)
                     numeric[:, :, :, :, ::1] y,         # OUT (outer, Do, Ho, Wo, inner)
                     intp[:, :, :, :, ::1] index,        # OUT like y, or (1, 1, 1, 1, 1)
                     const double[:, :, :, :, ::1] u,    # IN  like y, or (1, 1, 1, 1, 1)
                     const uint64_t[::1] gen, uint64_t gen_first,
                     const intp[::1] dstart, const intp[::1] dcount, intp ddil,
                     const intp[::1] hstart, const intp[::1] hcount, intp hdil,
                     const intp[::1] wstart, const intp[::1] wcount, intp wdil,
                     intp wlo, intp whi, intp wstride,
                     bint with_index, double zero, intp max_rows, int nthreads):
    """ndpool._kernels.gather.stochastic_sample on windows over adjacent axes.

    The same draw, tap for tap: the window's taps in row-major order, the
    positive finite activations summed in that order, the target ``u * sum`` met
    by the same running sum; NaN (the last one), infinities (the ``u * count``-th)
    and windows without mass as there.  Reads the taps in place instead of
    copying them, and keeps the sign tests out of branches (random activations
    would mispredict half of them).  ``index``: the draw's flat index in the
    pooled (D, H, W) sub-shape, written when ``with_index``.  ``max_rows``: the
    most (D, H) rows a window spans, whose offsets each thread keeps for its
    current output row.  ``zero`` is 0.0,
    passed in: ``a if a > zero else zero`` then compiles to one max instruction,
    where with a literal 0.0 compilers branch on the sign (mispredicted on half
    of random activations: 2.5x slower, measured).  Single-channel windows go
    four at a time through _draw4 where it applies (1.5x faster: a window's
    sum is a chain of dependent additions, and four chains overlap).  The second
    pass counts the running sums at or below the target and looks the tap up
    (_crossing), instead of keeping the crossing tap, a done flag and the last
    positive tap with three selects per tap: on the catalogue input (3 x 3,
    stride 2, one thread) 51-54 ms became 35 ms channels-first and 65-67 ms
    became 49-56 ms channels-last, with the same draws.  Single-channel float32
    and float64 windows that are whole (``wlo <= ow < whi``: the W taps
    ``ow * wstride - before + j * wdil``), eight or more in a row, go eight at a
    time through _draw.h's nd_draw8, one window per vector lane, the same
    operations in the same order; a block of eight it declines (a NaN, an
    infinity, a window without mass) is drawn here, window by window.

    The uniforms are ``u``'s, one per output element, or with ``gen`` (the five
    words of a PCG64 or PCG64DXSM stream, see _kernels/variates.pyx) the
    stream's draws ``gen_first + k`` for the k-th output element in C order,
    which each thread computes a row at a time (_pcg.h): the same numbers
    without a float64 array of them (``u`` is then a placeholder).
    """
    cdef intp d = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef intp do = y.shape[1], ho = y.shape[2], wo = y.shape[3], inner = y.shape[4]
    cdef intp rows = y.shape[0] * do * ho, nchunks = chunk_count(rows, nthreads)
    cdef intp ch, r, r1, b, od, oh, ow, i, jd, jh, jw, n, t, pick, ninf, k
    cdef intp cd, chh, cw, off, poff, base
    cdef double s, a, target
    cdef bint has_nan, found
    cdef const numeric* xw
    cdef const numeric* xb
    cdef numeric* yrow
    cdef intp* irow
    cdef const double* urow
    cdef intp ds, hs, nr
    cdef intp* roff
    cdef intp* tap
    cdef intp tap_cw, max_cw = 1, vec_from, nb, done
    cdef bint draw = gen.shape[0] == 5
    cdef double* ubuf
    cdef nd_pcg* g
    for ow in range(wo):
        max_cw = wcount[ow] if wcount[ow] > max_cw else max_cw
    with nogil, parallel(num_threads=nthreads):
        # the rows' offsets, then every tap's offset for the windows of tap_cw taps
        roff = <intp*>malloc((max_rows + 1 + max_rows * max_cw) * sizeof(intp))
        tap = roff + max_rows + 1
        g = <nd_pcg*>malloc(sizeof(nd_pcg)) if draw else NULL
        ubuf = <double*>malloc(wo * inner * sizeof(double)) if draw else NULL
        for ch in prange(nchunks, schedule="static"):
            r = ch * rows // nchunks
            r1 = (ch + 1) * rows // nchunks
            b, od, oh = row_at(r, ho, do)
            if draw:                   # the chunk's first draw: its first output's
                nd_pcg_at(g, &gen[0], gen_first + <uint64_t>(r * wo * inner))
            while r < r1:
                # raw row pointers: a store through a memoryview would make the
                # compiler reload every view's strides for the next access
                cd = dcount[od]
                chh = hcount[oh]
                ds = dstart[od]
                hs = hstart[oh]
                xb = &x[b, 0, 0, 0, 0]
                yrow = &y[b, od, oh, 0, 0]
                if draw:               # this row's draws, the next of the stream
                    nd_pcg_next(g, ubuf, wo * inner)
                    urow = ubuf
                else:
                    urow = &u[b, od, oh, 0, 0]
                irow = &index[b, od, oh, 0, 0] if with_index else &index[0, 0, 0, 0, 0]
                nr = cd * chh                          # the windows' rows, in tap order
                for jd in range(cd):
                    for jh in range(chh):
                        roff[jd * chh + jh] = (jd * ddil * h + jh * hdil) * w
                tap_cw = -1
                vec_from = wlo
                ow = 0
                while ow < wo:
                    cw = wcount[ow]
                    n = cd * chh * cw
                    if cw != tap_cw:                   # edge windows have fewer taps
                        for k in range(nr):
                            for jw in range(cw):
                                tap[k * cw + jw] = roff[k] + jw * wdil
                        tap_cw = cw
                    base = (ds * h + hs) * w + wstart[ow]     # the pooled index of tap 0
                    if (numeric is float or numeric is double) and (
                            inner == 1 and 0 < n <= ND_DRAW_TAPS and ow >= vec_from
                            and ow + 8 <= whi):
                        nb = whi - ow
                        if numeric is float:
                            done = nd_draw8_f32(xb, base, wstride, nb, tap, n, urow + ow,
                                                yrow + ow, irow + ow if with_index else irow,
                                                with_index)
                        else:
                            done = nd_draw8_f64(xb, base, wstride, nb, tap, n, urow + ow,
                                                yrow + ow, irow + ow if with_index else irow,
                                                with_index)
                        ow = ow + done
                        if done == nb:
                            continue
                        vec_from = ow + 8          # that block one by one, then again
                        base = (ds * h + hs) * w + wstart[ow]
                    if (inner == 1 and n > 0 and ow + 4 <= wo and wcount[ow + 1] == cw
                            and wcount[ow + 2] == cw and wcount[ow + 3] == cw
                            and _draw4(xb, yrow, irow, urow, tap, n, base,
                                       wstart, ow, with_index, zero)):
                        ow = ow + 4
                        continue
                    for i in range(inner):
                        if n == 0:
                            yrow[ow * inner + i] = 0
                            if with_index:
                                irow[ow * inner + i] = -1
                            continue
                        xw = xb + base * inner + i
                        s = 0
                        has_nan = False
                        ninf = 0
                        poff = 0
                        for k in range(n):
                            off = tap[k]
                            a = <double>xw[off * inner]
                            if a != a:                     # rare: a branch is fine
                                has_nan = True
                                poff = off
                            ninf = ninf + (a == INFINITY)
                            s = s + (a if a > zero else zero)   # +inf: unused below
                        if not has_nan and ninf:
                            # Infinite activations hold all the mass: draw one of them.
                            t = <intp>(urow[ow * inner + i] * ninf)
                            found = False
                            for k in range(n):
                                off = tap[k]
                                if not found and <double>xw[off * inner] == INFINITY:
                                    if t == 0:
                                        poff = off
                                        found = True
                                    t = t - 1
                        elif not has_nan:
                            if s > 0:
                                # Every tap is visited, with no exit: where the sum
                                # passes the target is random, a branch on it would
                                # be mispredicted once a window.  The running sums
                                # at or below the target are counted (_crossing).
                                target = urow[ow * inner + i] * s
                                s = 0
                                t = 0
                                for k in range(n):
                                    a = <double>xw[tap[k] * inner]
                                    s = s + (a if a > zero else zero)
                                    t = t + (s <= target)
                                poff = _crossing(t, n, xw, inner, tap, zero)
                            else:
                                pick = <intp>(urow[ow * inner + i] * n)
                                if pick >= n:
                                    pick = n - 1
                                poff = tap[pick]
                        yrow[ow * inner + i] = xw[poff * inner] \
                            if (has_nan or ninf or s > 0) else 0
                        if with_index:
                            irow[ow * inner + i] = base + poff
                    ow = ow + 1
                r = r + 1
                next_row(&oh, &od, &b, ho, do)
        free(roff)
        free(g)
        free(ubuf)

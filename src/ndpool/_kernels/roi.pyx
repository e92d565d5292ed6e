# cython: freethreading_compatible = True
"""Region-of-interest kernels: RoI max pooling (Fast R-CNN) and RoIAlign (Mask R-CNN).

Maps are C-contiguous 4-D arrays, (N, C, H, W) or, with ``channels_last``,
(N, H, W, C); outputs follow the same layout, (K, C, PH, PW) or (K, PH, PW, C).
Box k reads image ``batch[k]``.

RoI pooling gets its bins already planned and clipped to the map
(``hs <= he`` in [0, H], ``ws <= we`` in [0, W]; an empty bin gives 0).

RoIAlign is separable up to its weights: a sample (y, x) is valid when both
of its coordinates are, and its four bilinear weights are products of one
per-axis pair.  ``align_axis`` therefore plans, once per box and axis, every
sample coordinate of every bin (its two neighbours and their weights, or
``lo = -1`` for a sample outside [-1, n]); ``align`` then visits the samples in
torchvision's order and accumulates in the map's own float type, so results
match torchvision's CPU kernel operation for operation.

Channels-first work is split over (box, block of CBLOCK channels), each
sample's geometry computed once per block; channels-last over (box, bin),
with the channels as the unit-stride inner loop (several times faster, so the
facade may ``transpose`` a channels-first map, a few images at a time, and run it
channels-last: ``order`` and ``first`` then name the boxes of the images the
map holds).  Those bin loops are _roi.h's, built for AVX-512, AVX2 and the
baseline and picked by SIMD.  Each
output element is computed by one thread in a fixed order, so results do not
depend on the thread count or the schedule; the schedule is dynamic because the
cost of a box grows with its size.  Nothing here validates, raises or
allocates Python objects.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc

ctypedef Py_ssize_t intp

cdef extern from "_cpu.h" nogil:
    int nd_cpu_features()
    enum:
        ND_AVX2
        ND_AVX512F

cdef extern from "_roi.h" nogil:
    void nd_bin_max_f32(int simd, const float* p, intp rs, intp ps, intp nh, intp nw,
                        float* o, intp n)
    void nd_bin_max_f64(int simd, const double* p, intp rs, intp ps, intp nh, intp nw,
                        double* o, intp n)
    void nd_bin_align_f32(int simd, const float* base, intp ps, intp w_n, intp ny, intp nx,
                          const intp* ylo, const intp* yhi, const float* wylo,
                          const float* wyhi, const intp* xlo, const intp* xhi,
                          const float* wxlo, const float* wxhi, float count, int fuse,
                          float* o, intp n)
    void nd_bin_align_f64(int simd, const double* base, intp ps, intp w_n, intp ny,
                          intp nx, const intp* ylo, const intp* yhi, const double* wylo,
                          const double* wyhi, const intp* xlo, const intp* xhi,
                          const double* wxlo, const double* wxhi, double count, int fuse,
                          double* o, intp n)
    void nd_transpose_tile_f32(const float* x, float* y, intp R, intp S, intp r0, intp r1,
                               intp s0, intp s1)
    void nd_transpose_tile_f64(const double* x, double* y, intp R, intp S, intp r0,
                               intp r1, intp s0, intp s1)

# The instruction sets _roi.h's loops use: 2 AVX-512F, 1 AVX2 (the transpose's AVX
# blocks from 1 on), 0 the baseline (and roi.pyx's own transpose).  SIMD_MAX is
# what the machine runs; tests lower SIMD to check every variant it has.
cdef int CPU = nd_cpu_features()
SIMD_MAX = 2 if CPU & ND_AVX512F else 1 if CPU & ND_AVX2 else 0
SIMD = SIMD_MAX

cdef enum:
    # Channels-first work runs on blocks of this many channels: the sample
    # geometry is computed once per block, and the block's independent
    # accumulators keep the core busy where one channel's chain would stall it.
    CBLOCK = 16
    # Tile edges of the layout transpose: roi.pyx's loop, _roi.h's AVX blocks.
    TILE = 32
    ATILE_R = 8
    ATILE_S = 1024

# How fused outputs combine with what ``out`` already holds (adaptive feature pooling).
cdef enum:
    WRITE = 0
    FUSE_MAX = 1
    FUSE_SUM = 2


cdef inline floating nan_max(floating v, floating best) noexcept nogil:
    """max(v, best) where a NaN on either side wins (PyTorch's max-pool rule)."""
    cdef floating t = v if v > best else best
    return v if v != v else t


cdef inline floating combine(floating v, floating old, int fuse) noexcept nogil:
    if fuse == FUSE_MAX:
        return nan_max(v, old)
    if fuse == FUSE_SUM:
        return old + v
    return v


# ---- RoI max pooling -------------------------------------------------------------

def roi_max(const floating[:, :, :, ::1] x,    # IN  (N, C, H, W) or (N, H, W, C)
            floating[:, :, :, ::1] out,        # OUT (K, C, PH, PW) or (K, PH, PW, C)
            const intp[::1] batch,             # IN  (K,) image of each box
            const intp[:, ::1] hs,             # IN  (K, PH) first row of each bin
            const intp[:, ::1] he,             # IN  (K, PH) one past its last row
            const intp[:, ::1] ws,             # IN  (K, PW) first column
            const intp[:, ::1] we,             # IN  (K, PW) one past the last column
            const intp[::1] order,             # IN  the boxes to pool, of images first..
            intp first,                        # IN  the image x[0] is
            bint channels_last, int nthreads):
    """out[k] = the maximum of every bin of box k (NaN propagates) for k in order; an
    empty bin gives 0.  Box k reads x[batch[k] - first]."""
    cdef int simd = SIMD
    cdef intp nk = order.shape[0], ph_n = hs.shape[1], pw_n = ws.shape[1]
    cdef intp nc = out.shape[3] if channels_last else out.shape[1]
    cdef intp w_n = x.shape[3], hw = x.shape[2] * x.shape[3]
    cdef intp nblocks = (nc + CBLOCK - 1) // CBLOCK
    cdef intp u, k, c0, cn, b, ph, pw, h, w, i, j
    cdef floating* acc
    cdef floating* o
    cdef const floating* p
    cdef const floating* plane
    with nogil:
        if not channels_last:
            with parallel(num_threads=nthreads):
                acc = <floating*>malloc(CBLOCK * sizeof(floating))
                for u in prange(nk * nblocks, schedule="dynamic", chunksize=2):
                    k = order[u // nblocks]
                    c0 = u % nblocks * CBLOCK
                    cn = min(CBLOCK, nc - c0)
                    b = batch[k] - first
                    plane = &x[b, c0, 0, 0]
                    for ph in range(ph_n):
                        for pw in range(pw_n):
                            if he[k, ph] <= hs[k, ph] or we[k, pw] <= ws[k, pw]:
                                for i in range(cn):
                                    out[k, c0 + i, ph, pw] = 0
                                continue
                            j = hs[k, ph] * w_n + ws[k, pw]
                            for i in range(cn):
                                acc[i] = plane[i * hw + j]
                            for h in range(hs[k, ph], he[k, ph]):
                                for w in range(ws[k, pw], we[k, pw]):
                                    j = h * w_n + w
                                    for i in range(cn):
                                        acc[i] = nan_max(plane[i * hw + j], acc[i])
                            for i in range(cn):
                                out[k, c0 + i, ph, pw] = acc[i]
                free(acc)
        else:
            for u in prange(nk * ph_n * pw_n, schedule="dynamic", chunksize=4,
                            num_threads=nthreads):
                k = order[u // (ph_n * pw_n)]
                ph = (u // pw_n) % ph_n
                pw = u % pw_n
                o = &out[k, ph, pw, 0]
                if he[k, ph] <= hs[k, ph] or we[k, pw] <= ws[k, pw]:
                    for i in range(nc):
                        o[i] = 0
                    continue
                b = batch[k] - first
                p = &x[b, hs[k, ph], ws[k, pw], 0]
                if floating is float:      # _roi.h: the bin over all channels
                    nd_bin_max_f32(simd, p, x.shape[2] * nc, nc, he[k, ph] - hs[k, ph],
                                   we[k, pw] - ws[k, pw], o, nc)
                else:
                    nd_bin_max_f64(simd, p, x.shape[2] * nc, nc, he[k, ph] - hs[k, ph],
                                   we[k, pw] - ws[k, pw], o, nc)


# ---- RoIAlign ----------------------------------------------------------------------

def align_axis(const floating[::1] start,   # IN  (K,) box start on this axis, scaled and shifted
               const floating[::1] bin,     # IN  (K,) bin length
               const intp[::1] grid,        # IN  (K,) samples per bin, >= 0
               const intp[::1] first,       # IN  (K,) first table row of each box
               intp pooled, intp n,         # bins per box, map length on this axis
               intp[::1] lo,                # OUT (rows,) lower neighbour, -1 if outside
               intp[::1] hi,                # OUT (rows,) upper neighbour
               floating[::1] wlo,           # OUT (rows,) weight of lo
               floating[::1] whi,           # OUT (rows,) weight of hi
               int nthreads):
    """Plan the samples of one axis: row ``first[k] + p * grid[k] + i`` is sample i of bin p.

    The coordinate is ``start + p * bin + (i + 0.5) * bin / grid``, evaluated
    in this order in the map's float type; samples outside [-1, n] are marked
    invalid, the rest clamped to [0, n - 1] (torchvision's rules).
    """
    cdef intp nk = start.shape[0], k, p, i, r, low
    cdef floating v, frac
    for k in prange(nk, schedule="static", num_threads=nthreads, nogil=True):
        for p in range(pooled):
            for i in range(grid[k]):
                r = first[k] + p * grid[k] + i
                v = (start[k] + <floating>p * bin[k]
                     + <floating>(i + 0.5) * bin[k] / <floating>grid[k])
                # written as not(inside) so that a NaN would be outside too
                if not (v >= -1.0 and v <= <floating>n):
                    lo[r] = -1
                    hi[r] = -1
                    wlo[r] = 0
                    whi[r] = 0
                    continue
                if v <= 0:
                    v = 0
                low = <intp>v
                if low >= n - 1:
                    low = n - 1
                    v = <floating>low
                    hi[r] = low
                else:
                    hi[r] = low + 1
                lo[r] = low
                frac = v - <floating>low
                whi[r] = frac
                wlo[r] = <floating>(1.0 - frac)


cdef inline void _add_bin(const floating* base, intp cstride, intp w_n,
                          intp cn, floating* buf, intp ny, intp nx, intp ry0, intp rx0,
                          const intp[::1] ylo, const intp[::1] yhi,
                          const floating[::1] wylo, const floating[::1] wyhi,
                          const intp[::1] xlo, const intp[::1] xhi,
                          const floating[::1] wxlo, const floating[::1] wxhi) noexcept nogil:
    """buf[i] += every valid bilinear sample of one bin, for the channels i < cn.
    The bin's grid is ny x nx samples, rows ry0.. of the y table and rx0.. of the
    x table (align_axis); an invalid sample (a negative low index) adds nothing.
    Channel i of pixel (y, x) is base[i * cstride + y * w_n + x]: planes, cstride
    H * W apart (channels last, _roi.h's nd_bin_align does the same operations in
    the same order over all channels at once)."""
    cdef intp iy, ix, ry, rx, y0, y1, x0, x1, i, j1, j2, j3, j4
    cdef floating ay, by, ax, bx, w1, w2, w3, w4
    cdef const floating* p
    for iy in range(ny):
        ry = ry0 + iy
        y0 = ylo[ry]
        if y0 < 0:
            continue
        y1 = yhi[ry]
        ay = wylo[ry]
        by = wyhi[ry]
        for ix in range(nx):
            rx = rx0 + ix
            x0 = xlo[rx]
            if x0 < 0:
                continue
            x1 = xhi[rx]
            ax = wxlo[rx]
            bx = wxhi[rx]
            w1 = ay * ax
            w2 = ay * bx
            w3 = by * ax
            w4 = by * bx
            j1 = y0 * w_n + x0
            j2 = y0 * w_n + x1
            j3 = y1 * w_n + x0
            j4 = y1 * w_n + x1
            for i in range(cn):
                p = base + i * cstride
                buf[i] = buf[i] + (w1 * p[j1] + w2 * p[j2] + w3 * p[j3] + w4 * p[j4])


def align(const floating[:, :, :, ::1] x,   # IN  (N, C, H, W) or (N, H, W, C)
          floating[:, :, :, ::1] out,       # OUT (K, C, PH, PW) or (K, PH, PW, C)
          const intp[::1] batch,            # IN  (K,) image of each box
          const intp[::1] gh,               # IN  (K,) samples per bin along y, >= 0
          const intp[::1] gw,               # IN  (K,) along x
          const intp[::1] yfirst,           # IN  (K,) first y-table row of each box
          const intp[::1] xfirst,           # IN  (K,) first x-table row
          const intp[::1] ylo, const intp[::1] yhi,            # IN  y table (align_axis)
          const floating[::1] wylo, const floating[::1] wyhi,  # IN
          const intp[::1] xlo, const intp[::1] xhi,            # IN  x table
          const floating[::1] wxlo, const floating[::1] wxhi,  # IN
          intp ph_n, intp pw_n,
          const intp[::1] order,            # IN  the boxes to pool, of images first..
          intp first,                       # IN  the image x[0] is
          bint channels_last, int fuse, int nthreads):
    """out[k] = combine(mean of the bilinear samples of every bin, out[k]), per
    ``fuse``, for the boxes k in order; box k reads x[batch[k] - first].

    Invalid samples contribute 0; a bin without samples gives 0.  The divisor
    is the full grid, valid or not.  Planes go a block of CBLOCK channels of one
    box at a time (_add_bin); channels last, a bin at a time over all channels
    (_roi.h's nd_bin_align, which also divides and combines).
    """
    cdef int simd = SIMD
    cdef intp nk = order.shape[0]
    cdef intp nc = out.shape[3] if channels_last else out.shape[1]
    cdef intp hw = x.shape[2] * x.shape[3]
    cdef intp nblocks = (nc + CBLOCK - 1) // CBLOCK
    cdef intp u, k, c0, cn, b, ph, pw, i, ry, rx
    cdef floating count
    cdef floating* o
    cdef floating* buf
    cdef const floating* plane
    if not channels_last:
        with nogil, parallel(num_threads=nthreads):
            buf = <floating*>malloc(CBLOCK * sizeof(floating))
            for u in prange(nk * nblocks, schedule="dynamic", chunksize=2):
                k = order[u // nblocks]
                c0 = u % nblocks * CBLOCK
                cn = min(CBLOCK, nc - c0)
                b = batch[k] - first
                plane = &x[b, c0, 0, 0]
                count = <floating>(gh[k] * gw[k]) if gh[k] * gw[k] > 0 else 1
                for ph in range(ph_n):
                    for pw in range(pw_n):
                        for i in range(cn):
                            buf[i] = 0
                        _add_bin(plane, hw, x.shape[3], cn, buf, gh[k], gw[k],
                                 yfirst[k] + ph * gh[k], xfirst[k] + pw * gw[k],
                                 ylo, yhi, wylo, wyhi, xlo, xhi, wxlo, wxhi)
                        for i in range(cn):
                            out[k, c0 + i, ph, pw] = combine(buf[i] / count,
                                                             out[k, c0 + i, ph, pw], fuse)
            free(buf)
        return
    for u in prange(nk * ph_n * pw_n, schedule="dynamic", chunksize=4, nogil=True,
                    num_threads=nthreads):
        k = order[u // (ph_n * pw_n)]
        ph = (u // pw_n) % ph_n
        pw = u % pw_n
        b = batch[k] - first
        o = &out[k, ph, pw, 0]
        if gh[k] == 0 or gw[k] == 0:
            for i in range(nc):
                o[i] = combine(<floating>0, o[i], fuse)
            continue
        ry = yfirst[k] + ph * gh[k]
        rx = xfirst[k] + pw * gw[k]
        count = <floating>(gh[k] * gw[k])
        if floating is float:     # _roi.h: the bin's samples over all channels, fused
            nd_bin_align_f32(simd, &x[b, 0, 0, 0], nc, x.shape[2], gh[k], gw[k],
                             &ylo[ry], &yhi[ry], &wylo[ry], &wyhi[ry],
                             &xlo[rx], &xhi[rx], &wxlo[rx], &wxhi[rx], count, fuse, o, nc)
        else:
            nd_bin_align_f64(simd, &x[b, 0, 0, 0], nc, x.shape[2], gh[k], gw[k],
                             &ylo[ry], &yhi[ry], &wylo[ry], &wyhi[ry],
                             &xlo[rx], &xhi[rx], &wxlo[rx], &wxhi[rx], count, fuse, o, nc)


# ---- layout ------------------------------------------------------------------------

def transpose(const floating[:, :, ::1] x,   # IN  (B, R, S)
              floating[:, :, ::1] y,         # OUT (B, S, R)
              int nthreads):
    """y[b] = x[b].T, one tile at a time.

    NCHW -> NHWC is (N, C, H*W) -> (N, H*W, C), and back the same way.  Where
    the machine has AVX (SIMD >= 1), _roi.h moves ATILE_R x ATILE_S tiles
    (rows by columns of x) in blocks of 8 x 8 floats (4 x 4 doubles) through
    registers.  Otherwise a TILE x TILE tile goes through a buffer in L1: it is
    read as TILE runs of x's rows and written as TILE runs of y's rows, each run
    whole and at once (a column walk across rows whose stride is a multiple of
    4 KiB, an image of 64 x 64 or 128 x 128 floats, would map every row to the
    same cache set, and its lines would be evicted before their next use).
    """
    cdef bint avx = SIMD >= 1
    cdef intp t = ATILE_R if avx else TILE, t2 = ATILE_S if avx else TILE
    cdef intp nb = x.shape[0], nr = x.shape[1], ns = x.shape[2]
    cdef intp tr = (nr + t - 1) // t, ts = (ns + t2 - 1) // t2
    cdef intp u, b, r0, s0, r, s, r1, s1
    cdef floating* buf
    with nogil, parallel(num_threads=nthreads):
        # the buffer only for the buffered loop: the AVX tiles go through registers
        buf = NULL if avx else <floating*>malloc(TILE * TILE * sizeof(floating))
        for u in prange(nb * tr * ts, schedule="static"):
            b = u // (tr * ts)
            r0 = (u // ts) % tr * t
            s0 = u % ts * t2
            r1 = min(r0 + t, nr)
            s1 = min(s0 + t2, ns)
            if avx:
                if floating is float:
                    nd_transpose_tile_f32(&x[b, 0, 0], &y[b, 0, 0], nr, ns, r0, r1, s0, s1)
                else:
                    nd_transpose_tile_f64(&x[b, 0, 0], &y[b, 0, 0], nr, ns, r0, r1, s0, s1)
                continue
            for r in range(r0, r1):
                for s in range(s0, s1):
                    buf[(s - s0) * TILE + (r - r0)] = x[b, r, s]
            for s in range(s0, s1):
                for r in range(r0, r1):
                    y[b, s, r] = buf[(s - s0) * TILE + (r - r0)]
        free(buf)

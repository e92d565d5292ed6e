/* Running maxima along rows, several rows at a time: corner pooling's scan
 * along W when W is the contiguous axis.
 *
 * One row's running maximum is a chain of dependent compare-selects, one per
 * element.  Here the rows are taken four at a time (float32) or two at a time
 * (float64, two SSE2 vectors per group of four rows): a block of columns is
 * loaded from each row, transposed in registers so that one vector holds one
 * column of the four rows, scanned one column after the other, transposed back
 * and stored.  Two groups of four rows are scanned side by side, so two
 * independent chains hide each other's latency.
 *
 * The result is the serial scan's, bit for bit.  Each step is the window
 * kernels' ``pick``: the new element if it is greater than the running maximum
 * or is NaN, else the running maximum.  SSE2's MAXPS(x, acc) returns acc when
 * they are equal (so a tied zero keeps its earlier sign) and when either is
 * NaN; the NaN mask of x then puts x back.  x86-64 has SSE2 in its baseline;
 * elsewhere the same steps run one element at a time.
 *
 * nd_scan_max_{f32,f64}(v, vs, r, rs, nrows, w, reverse): for k < nrows,
 * r[k * rs + q] = max(v[k * vs + 0 .. q]) (reverse: max(v[k * vs + q .. w - 1])).
 */
#ifndef NDPOOL_SCAN_H
#define NDPOOL_SCAN_H

#include <stddef.h>
#include "_vexp.h"      /* ND_CLONES */

/* Ask for ``bytes`` from ``p`` on to be brought into the cache, a line at a
 * time.  Corner pooling reads an image's rows bottom-up when it looks down,
 * and the hardware prefetchers follow descending pages poorly. */
static inline void nd_prefetch(const void *p, ptrdiff_t bytes) {
#if defined(__GNUC__)
    const char *c = (const char *)p;
    ptrdiff_t i;
    for (i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 3);
#else
    (void)p; (void)bytes;
#endif
}

#define ND_PICK(x, acc) (((x) > (acc) || (x) != (x)) ? (x) : (acc))

/* The serial scan of one row: the reference the vector paths reproduce, and
 * the path for the rows and columns that do not fill a vector block. */
#define ND_SCAN_TAIL(T, v, r, q0, q1, step, acc)                             \
    do {                                                                      \
        ptrdiff_t q_;                                                         \
        for (q_ = (q0); q_ != (q1); q_ += (step)) {                          \
            T x_ = (v)[q_];                                                   \
            (acc) = ND_PICK(x_, acc);                                         \
            (r)[q_] = (acc);                                                  \
        }                                                                     \
    } while (0)

#define ND_SCAN_ROW(T, v, r, w, reverse)                                      \
    do {                                                                      \
        T a_ = (v)[(reverse) ? (w) - 1 : 0];                                  \
        if (reverse) ND_SCAN_TAIL(T, v, r, (w) - 1, (ptrdiff_t)-1, -1, a_);   \
        else ND_SCAN_TAIL(T, v, r, 0, (w), 1, a_);                            \
    } while (0)

#if defined(__SSE2__)
#include <emmintrin.h>

/* The columns a group's vector blocks leave over (``tail`` of them: at the
 * row's end, or at its start in reverse), row by row from the running maxima
 * the vectors reached, ``lane[g][k]`` for row 4 g + k. */
#define ND_SCAN_GROUP_TAILS(T, v, vs, r, rs, ng, lane, w, tail, reverse)      \
    do {                                                                      \
        int g_, k_;                                                           \
        for (g_ = 0; g_ < (ng); g_++)                                         \
            for (k_ = 0; k_ < 4; k_++) {                                      \
                const T *vk_ = (v) + (4 * g_ + k_) * (vs);                    \
                T *rk_ = (r) + (4 * g_ + k_) * (rs);                          \
                T a_ = (lane)[g_][k_];                                        \
                if (reverse)                                                  \
                    ND_SCAN_TAIL(T, vk_, rk_, (tail) - 1, (ptrdiff_t)-1, -1, a_); \
                else ND_SCAN_TAIL(T, vk_, rk_, (w) - (tail), (w), 1, a_);     \
            }                                                                 \
    } while (0)

static inline __m128 nd_pick_ps(__m128 x, __m128 acc) {
    __m128 nan = _mm_cmpunord_ps(x, x);
    return _mm_or_ps(_mm_and_ps(nan, x), _mm_andnot_ps(nan, _mm_max_ps(x, acc)));
}

static inline __m128d nd_pick_pd(__m128d x, __m128d acc) {
    __m128d nan = _mm_cmpunord_pd(x, x);
    return _mm_or_pd(_mm_and_pd(nan, x), _mm_andnot_pd(nan, _mm_max_pd(x, acc)));
}

/* Four columns of four rows: c[j] holds column q + j on entry (after the
 * transpose) and its running maximum on exit. */
static inline __m128 nd_scan_cols_ps(__m128 *c, __m128 acc, int reverse) {
    int j;
    if (reverse) {
        for (j = 3; j >= 0; j--) { acc = nd_pick_ps(c[j], acc); c[j] = acc; }
    } else {
        for (j = 0; j < 4; j++) { acc = nd_pick_ps(c[j], acc); c[j] = acc; }
    }
    return acc;
}

/* Rows g, g + 1, g + 2, g + 3 of one group, columns q .. q + 3. */
static inline void nd_load4_ps(const float *v, ptrdiff_t vs, ptrdiff_t q, __m128 *c) {
    c[0] = _mm_loadu_ps(v + q);
    c[1] = _mm_loadu_ps(v + vs + q);
    c[2] = _mm_loadu_ps(v + 2 * vs + q);
    c[3] = _mm_loadu_ps(v + 3 * vs + q);
    _MM_TRANSPOSE4_PS(c[0], c[1], c[2], c[3]);
}

static inline void nd_store4_ps(float *r, ptrdiff_t rs, ptrdiff_t q, __m128 *c) {
    _MM_TRANSPOSE4_PS(c[0], c[1], c[2], c[3]);
    _mm_storeu_ps(r + q, c[0]);
    _mm_storeu_ps(r + rs + q, c[1]);
    _mm_storeu_ps(r + 2 * rs + q, c[2]);
    _mm_storeu_ps(r + 3 * rs + q, c[3]);
}

/* ng (1 or 2) groups of four rows, the second ``4 * vs`` after the first. */
static inline void nd_scan_groups_f32(const float *v, ptrdiff_t vs, float *r,
                                      ptrdiff_t rs, int ng, ptrdiff_t w, int reverse) {
    __m128 c[2][4], acc[2];
    float lane[2][4];
    ptrdiff_t q, nblk = w / 4, tail = w - 4 * nblk, k;
    int g;
    /* Forward: blocks from column 0, the tail at the end.  Reverse: blocks
       from the end, the tail (columns 0 .. tail - 1) last. */
    ptrdiff_t q0 = reverse ? w - 4 : 0, dq = reverse ? -4 : 4;
    for (g = 0; g < ng; g++) {
        const float *vg = v + 4 * g * vs;
        ptrdiff_t first = reverse ? w - 1 : 0;
        acc[g] = _mm_setr_ps(vg[first], vg[vs + first], vg[2 * vs + first],
                             vg[3 * vs + first]);
    }
    for (k = 0, q = q0; k < nblk; k++, q += dq) {
        for (g = 0; g < ng; g++) {
            nd_load4_ps(v + 4 * g * vs, vs, q, c[g]);
            acc[g] = nd_scan_cols_ps(c[g], acc[g], reverse);
            nd_store4_ps(r + 4 * g * rs, rs, q, c[g]);
        }
    }
    if (tail == 0) return;
    for (g = 0; g < ng; g++) _mm_storeu_ps(lane[g], acc[g]);
    ND_SCAN_GROUP_TAILS(float, v, vs, r, rs, ng, lane, w, tail, reverse);
}

/* Two columns of two rows per vector: a group of four rows is two vectors per
 * column, lo (rows 0, 1) and hi (rows 2, 3). */
static inline void nd_scan_group_f64(const double *v, ptrdiff_t vs, double *r,
                                     ptrdiff_t rs, int reverse, __m128d *lo,
                                     __m128d *hi, ptrdiff_t q) {
    __m128d a0 = _mm_loadu_pd(v + q), a1 = _mm_loadu_pd(v + vs + q);
    __m128d a2 = _mm_loadu_pd(v + 2 * vs + q), a3 = _mm_loadu_pd(v + 3 * vs + q);
    __m128d c0lo = _mm_unpacklo_pd(a0, a1), c1lo = _mm_unpackhi_pd(a0, a1);
    __m128d c0hi = _mm_unpacklo_pd(a2, a3), c1hi = _mm_unpackhi_pd(a2, a3);
    if (reverse) {
        *lo = c1lo = nd_pick_pd(c1lo, *lo);
        *hi = c1hi = nd_pick_pd(c1hi, *hi);
        *lo = c0lo = nd_pick_pd(c0lo, *lo);
        *hi = c0hi = nd_pick_pd(c0hi, *hi);
    } else {
        *lo = c0lo = nd_pick_pd(c0lo, *lo);
        *hi = c0hi = nd_pick_pd(c0hi, *hi);
        *lo = c1lo = nd_pick_pd(c1lo, *lo);
        *hi = c1hi = nd_pick_pd(c1hi, *hi);
    }
    _mm_storeu_pd(r + q, _mm_unpacklo_pd(c0lo, c1lo));
    _mm_storeu_pd(r + rs + q, _mm_unpackhi_pd(c0lo, c1lo));
    _mm_storeu_pd(r + 2 * rs + q, _mm_unpacklo_pd(c0hi, c1hi));
    _mm_storeu_pd(r + 3 * rs + q, _mm_unpackhi_pd(c0hi, c1hi));
}

static inline void nd_scan_groups_f64(const double *v, ptrdiff_t vs, double *r,
                                      ptrdiff_t rs, int ng, ptrdiff_t w, int reverse) {
    __m128d lo[2], hi[2];
    double lane[2][4];
    ptrdiff_t q, nblk = w / 2, tail = w - 2 * nblk, k;
    ptrdiff_t q0 = reverse ? w - 2 : 0, dq = reverse ? -2 : 2;
    ptrdiff_t first = reverse ? w - 1 : 0;
    int g;
    for (g = 0; g < ng; g++) {
        const double *vg = v + 4 * g * vs;
        lo[g] = _mm_setr_pd(vg[first], vg[vs + first]);
        hi[g] = _mm_setr_pd(vg[2 * vs + first], vg[3 * vs + first]);
    }
    for (k = 0, q = q0; k < nblk; k++, q += dq)
        for (g = 0; g < ng; g++)
            nd_scan_group_f64(v + 4 * g * vs, vs, r + 4 * g * rs, rs, reverse,
                              &lo[g], &hi[g], q);
    if (tail == 0) return;
    for (g = 0; g < ng; g++) {
        _mm_storeu_pd(lane[g], lo[g]);
        _mm_storeu_pd(lane[g] + 2, hi[g]);
    }
    ND_SCAN_GROUP_TAILS(double, v, vs, r, rs, ng, lane, w, tail, reverse);
}

#define ND_SCAN_GROUPS(sfx, T)                                                \
    static void nd_scan_max_##sfx(const T *v, ptrdiff_t vs, T *r, ptrdiff_t rs, \
                                  ptrdiff_t nrows, ptrdiff_t w, int reverse) { \
        ptrdiff_t k = 0;                                                      \
        if (w <= 0) return;                                                   \
        for (; k + 8 <= nrows; k += 8)                                        \
            nd_scan_groups_##sfx(v + k * vs, vs, r + k * rs, rs, 2, w, reverse); \
        for (; k + 4 <= nrows; k += 4)                                        \
            nd_scan_groups_##sfx(v + k * vs, vs, r + k * rs, rs, 1, w, reverse); \
        for (; k < nrows; k++)                                                \
            ND_SCAN_ROW(T, v + k * vs, r + k * rs, w, reverse);               \
    }
#else
#define ND_SCAN_GROUPS(sfx, T)                                                \
    static void nd_scan_max_##sfx(const T *v, ptrdiff_t vs, T *r, ptrdiff_t rs, \
                                  ptrdiff_t nrows, ptrdiff_t w, int reverse) { \
        ptrdiff_t k;                                                          \
        if (w <= 0) return;                                                   \
        for (k = 0; k < nrows; k++)                                           \
            ND_SCAN_ROW(T, v + k * vs, r + k * rs, w, reverse);               \
    }
#endif

ND_SCAN_GROUPS(f32, float)
ND_SCAN_GROUPS(f64, double)

/* The row steps of window.pyx's corner_fused between its W scans, each one
 * loop over the row (they were three to five), built for AVX-512, AVX2 and the
 * baseline (ND_CLONES).  ``ta``/``tb`` hold the running maxima T along H, the
 * rows before this one (``first``: there are none, T is the row itself).  Each
 * sum is written in the separate passes' operand order; the compiler may still
 * swap a float sum's operands, so a sum of two NaNs carries either's payload.
 *
 * nd_corner_row:  T(x) into ta, and y = T(x) + l (l: the row's L(x)).
 * nd_cascade_row: T(x + l) into ta and col (cascade's first term), T(x) into
 *                 tb, and s = x + T(x) (its second term's input to L).
 * nd_add_row:     y = a + b. */
#define ND_CORNER_ROWS(SUF, T)                                                \
ND_CLONES static void nd_corner_row_##SUF(const T* __restrict x,              \
        const T* __restrict l, T* __restrict ta, T* __restrict y,             \
        ptrdiff_t n, int first) {                                             \
    ptrdiff_t e;                                                              \
    for (e = 0; e < n; e++) {                                                 \
        T a = first ? x[e] : ND_PICK(x[e], ta[e]);                            \
        ta[e] = a;                                                            \
        y[e] = a + l[e];                                                      \
    }                                                                         \
}                                                                             \
ND_CLONES static void nd_cascade_row_##SUF(const T* __restrict x,             \
        const T* __restrict l, T* __restrict ta, T* __restrict tb,            \
        T* __restrict col, T* __restrict s, ptrdiff_t n, int first) {         \
    ptrdiff_t e;                                                              \
    if (first) {                                                              \
        for (e = 0; e < n; e++) {                                             \
            T v = x[e] + l[e];                                                \
            ta[e] = v;                                                        \
            col[e] = v;                                                       \
            tb[e] = x[e];                                                     \
            s[e] = x[e] + x[e];                                               \
        }                                                                     \
        return;                                                               \
    }                                                                         \
    for (e = 0; e < n; e++) {                                                 \
        T v = x[e] + l[e];                                                    \
        T a = ND_PICK(v, ta[e]);                                              \
        T b = ND_PICK(x[e], tb[e]);                                           \
        ta[e] = a;                                                            \
        col[e] = a;                                                           \
        tb[e] = b;                                                            \
        s[e] = x[e] + b;                                                      \
    }                                                                         \
}                                                                             \
ND_CLONES static void nd_add_row_##SUF(const T* __restrict a,                 \
        const T* __restrict b, T* __restrict y, ptrdiff_t n) {                \
    ptrdiff_t e;                                                              \
    for (e = 0; e < n; e++) y[e] = a[e] + b[e];                               \
}

ND_CORNER_ROWS(f32, float)
ND_CORNER_ROWS(f64, double)

#endif

/* The loops of the region kernels' channels-last paths (roi.pyx), in C: one bin of
 * RoI max pooling or of RoIAlign over all of a pixel's channels, and the tiles of
 * the NCHW <-> NHWC transpose.  roi.pyx itself is baseline x86-64, four floats
 * per operation; these come in variants for AVX-512F, AVX2 and the baseline,
 * which roi.pyx picks at run time (its SIMD).
 *
 * A bin's loop keeps the bin's running maxima (or sums) of a block of channels in
 * registers over all of its pixels (samples), and writes them once.  On a float32
 * (8, 64, 128, 128) map transposed whole, with 512 boxes of 8 to 64 pixels a side
 * and 7 x 7 bins, on one thread of an AMD EPYC (Zen 5): RoI max pooling's kernel
 * took 7.8-8.7 ms with a call per pixel (an AVX-512 target clone adding that
 * pixel's channels into the bin's output) and 5.4 ms this way; RoIAlign's 12.4-13.0
 * ms with a call per sample and 7.6-8.5 ms this way.
 *
 * Each loop takes the Cython loop's operations in its order, one channel at a
 * time, and fp-contract is off (no product and sum fused into one rounding), so
 * every variant gives the bits of the channels-first loops, which the tests hold
 * to the operation-by-operation reference (tests/reference_roi.py).
 *
 * nd_bin_max_*: one bin of RoI max pooling over all channels.
 * nd_bin_align_*: one bin of RoIAlign over all channels, fused into the output.
 * nd_transpose_tile_*: one tile of the transpose, in AVX blocks.
 */
#ifndef NDPOOL_ROI_H
#define NDPOOL_ROI_H

#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

/* ---- the bin loops ------------------------------------------------------------
 *
 * Channels go in blocks of four vectors, then of one vector, then one at a time;
 * a block's accumulators stay in registers over all of a bin's pixels (samples).
 * The vectors are GCC and Clang vector types of the width of the target each
 * variant is built for: 16 bytes (SSE2, the baseline), 32 (AVX2), 64 (AVX-512F).
 * Each variant is a function built for its target (a target attribute), chosen
 * by the caller's `simd` argument: GCC lowers vector code for the target of the
 * function it is written in, before target clones are made, so one 64-byte
 * version cloned for each target gave compare-by-compare scalar code in every
 * clone, AVX-512 included (RoI pooling's kernel took 67 ms, against 8.7 ms for
 * the per-pixel loop it replaced).  All
 * vector code is in macros, expanded inside each variant, for the same reason.
 */
#define ND_LOAD(V, p) ({ V ld_; __builtin_memcpy(&ld_, (p), sizeof ld_); ld_; })
#define ND_STORE(p, v) do { __typeof__(v) st_ = (v); __builtin_memcpy((p), &st_, sizeof st_); \
} while (0)
/* roi.pyx's nan_max lane by lane: v where it is beyond best or NaN, else best */
#define ND_VMAX(V, M, v, best) ({                                                       \
    V vm_v_ = (v), vm_b_ = (best);                                                      \
    M vm_take_ = (vm_v_ > vm_b_) | (vm_v_ != vm_v_);                                    \
    (V)(((M)vm_v_ & vm_take_) | ((M)vm_b_ & ~vm_take_)); })
/* the same of one value */
#define ND_SMAX(T, v, best) ({ T sm_v_ = (v), sm_b_ = (best);                         \
                               T sm_t_ = sm_v_ > sm_b_ ? sm_v_ : sm_b_;                \
                               sm_v_ != sm_v_ ? sm_v_ : sm_t_; })

/* K vectors of channels at p + c (nd_bin_max's arguments) over the bin: the first
 * pixel's, then the nan_max with every pixel in row-major order */
#define ND_MAX_BLOCK(V, M, L, K) do {                                                   \
    V acc_[K];                                                                          \
    for (int k_ = 0; k_ < K; k_++)                                                      \
        acc_[k_] = ND_LOAD(V, p + c + k_ * L);                                          \
    for (intptr_t h_ = 0; h_ < nh; h_++)                                                \
        for (intptr_t w_ = 0; w_ < nw; w_++)                                            \
            for (int k_ = 0; k_ < K; k_++)                                              \
                acc_[k_] = ND_VMAX(V, M, ND_LOAD(V, p + c + h_ * rs + w_ * ps + k_ * L),\
                                   acc_[k_]);                                           \
    for (int k_ = 0; k_ < K; k_++)                                                      \
        ND_STORE(o + c + k_ * L, acc_[k_]);                                             \
} while (0)

/* The valid samples of a bin (nd_bin_align's arguments), with the weights w1..w4
 * and the four neighbours' element offsets j1..j4 set for BODY */
#define ND_SAMPLES(T, BODY) do {                                                        \
    for (intptr_t iy_ = 0; iy_ < ny; iy_++) {                                           \
        if (ylo[iy_] < 0)                                                               \
            continue;                                                                   \
        for (intptr_t ix_ = 0; ix_ < nx; ix_++) {                                       \
            if (xlo[ix_] < 0)                                                           \
                continue;                                                               \
            T w1 = wylo[iy_] * wxlo[ix_], w2 = wylo[iy_] * wxhi[ix_];                   \
            T w3 = wyhi[iy_] * wxlo[ix_], w4 = wyhi[iy_] * wxhi[ix_];                   \
            intptr_t j1 = (ylo[iy_] * w_n + xlo[ix_]) * ps;                             \
            intptr_t j2 = (ylo[iy_] * w_n + xhi[ix_]) * ps;                             \
            intptr_t j3 = (yhi[iy_] * w_n + xlo[ix_]) * ps;                             \
            intptr_t j4 = (yhi[iy_] * w_n + xhi[ix_]) * ps;                             \
            BODY                                                                        \
        }                                                                               \
    }                                                                                   \
} while (0)

/* K vectors of channels at base + c: the sum of the samples, from 0, over count,
 * combined with o's */
#define ND_ALIGN_BLOCK(T, V, M, L, K) do {                                              \
    V acc_[K];                                                                          \
    const T* q_ = base + c;                                                             \
    for (int k_ = 0; k_ < K; k_++)                                                      \
        acc_[k_] = (V){0};                                                              \
    ND_SAMPLES(T, for (int k_ = 0; k_ < K; k_++)                                        \
        acc_[k_] = acc_[k_] + (((w1 * ND_LOAD(V, q_ + j1 + k_ * L)                      \
                                 + w2 * ND_LOAD(V, q_ + j2 + k_ * L))                   \
                                + w3 * ND_LOAD(V, q_ + j3 + k_ * L))                    \
                               + w4 * ND_LOAD(V, q_ + j4 + k_ * L)););                  \
    for (int k_ = 0; k_ < K; k_++) {                                                    \
        V v_ = acc_[k_] / count;                                                        \
        if (fuse == 1)                                                                  \
            v_ = ND_VMAX(V, M, v_, ND_LOAD(V, o + c + k_ * L));                         \
        else if (fuse == 2)                                                             \
            v_ = ND_LOAD(V, o + c + k_ * L) + v_;                                       \
        ND_STORE(o + c + k_ * L, v_);                                                   \
    }                                                                                   \
} while (0)

#define ND_MAX_ARGS(T) const T* p, intptr_t rs, intptr_t ps, intptr_t nh, intptr_t nw, \
                       T* restrict o, intptr_t n
#define ND_ALIGN_ARGS(T) const T* base, intptr_t ps, intptr_t w_n, intptr_t ny,         \
                         intptr_t nx, const intptr_t* ylo, const intptr_t* yhi,         \
                         const T* wylo, const T* wyhi, const intptr_t* xlo,             \
                         const intptr_t* xhi, const T* wxlo, const T* wxhi,             \
                         T count, int fuse, T* restrict o, intptr_t n

/* one variant of both loops for one float type: vectors V of L lanes (masks M) */
#define ND_ROI(ATTR, VAR, T, SUF, V, M, L)                                              \
ATTR static void nd_bin_max_##SUF##_##VAR(ND_MAX_ARGS(T))                              \
{                                                                                       \
    intptr_t c = 0;                                                                     \
    for (; c + 4 * L <= n; c += 4 * L)                                                  \
        ND_MAX_BLOCK(V, M, L, 4);                                                       \
    for (; c + L <= n; c += L)                                                          \
        ND_MAX_BLOCK(V, M, L, 1);                                                       \
    for (; c < n; c++) {                                                                \
        T a = p[c];                                                                     \
        for (intptr_t h = 0; h < nh; h++)                                               \
            for (intptr_t w = 0; w < nw; w++)                                           \
                a = ND_SMAX(T, p[c + h * rs + w * ps], a);                              \
        o[c] = a;                                                                       \
    }                                                                                   \
}                                                                                       \
                                                                                        \
ATTR static void nd_bin_align_##SUF##_##VAR(ND_ALIGN_ARGS(T))                          \
{                                                                                       \
    intptr_t c = 0;                                                                     \
    for (; c + 4 * L <= n; c += 4 * L)                                                  \
        ND_ALIGN_BLOCK(T, V, M, L, 4);                                                  \
    for (; c + L <= n; c += L)                                                          \
        ND_ALIGN_BLOCK(T, V, M, L, 1);                                                  \
    for (; c < n; c++) {                                                                \
        T a = 0;                                                                        \
        const T* q = base + c;                                                          \
        ND_SAMPLES(T, a = a + (((w1 * q[j1] + w2 * q[j2]) + w3 * q[j3]) + w4 * q[j4]););\
        a = a / count;                                                                  \
        o[c] = fuse == 1 ? ND_SMAX(T, a, o[c]) : fuse == 2 ? o[c] + a : a;              \
    }                                                                                   \
}

#define ND_VECTORS(BYTES)                                                               \
typedef float nd_v##BYTES##_f32 __attribute__((vector_size(BYTES)));                   \
typedef int32_t nd_m##BYTES##_f32 __attribute__((vector_size(BYTES)));                 \
typedef double nd_v##BYTES##_f64 __attribute__((vector_size(BYTES)));                  \
typedef int64_t nd_m##BYTES##_f64 __attribute__((vector_size(BYTES)));

ND_VECTORS(16)
ND_ROI(, base, float, f32, nd_v16_f32, nd_m16_f32, 4)
ND_ROI(, base, double, f64, nd_v16_f64, nd_m16_f64, 2)

#if defined(__x86_64__)
ND_VECTORS(32)
ND_VECTORS(64)
ND_ROI(__attribute__((target("avx2"))), avx2, float, f32, nd_v32_f32, nd_m32_f32, 8)
ND_ROI(__attribute__((target("avx2"))), avx2, double, f64, nd_v32_f64, nd_m32_f64, 4)
ND_ROI(__attribute__((target("avx512f"))), avx512, float, f32, nd_v64_f32, nd_m64_f32, 16)
ND_ROI(__attribute__((target("avx512f"))), avx512, double, f64, nd_v64_f64, nd_m64_f64, 8)

#define ND_PICK_VARIANT(simd, NAME, ...)                                                \
    ((simd) >= 2 ? NAME##_avx512(__VA_ARGS__)                                           \
     : (simd) == 1 ? NAME##_avx2(__VA_ARGS__) : NAME##_base(__VA_ARGS__))
#else
#define ND_PICK_VARIANT(simd, NAME, ...) NAME##_base(__VA_ARGS__)
#endif

/* nd_bin_max_*(simd, ...): o[c] = the nan_max of channel c over a bin of nh x nw
 *   pixels (nh, nw >= 1): the first pixel, then every pixel (the first again) in
 *   row-major order, as roi.pyx's loop.  Pixel (h, w) of the bin starts at
 *   p + h * rs + w * ps; n channels.
 * nd_bin_align_*(simd, ...): o[c] = combine(v / count, o[c]) (roi.pyx's combine,
 *   per fuse: 0 writes, 1 nan_max, 2 adds to o[c]) where v is the sum of a bin's
 *   valid bilinear samples for channel c, from 0, in roi.pyx's order and with its
 *   operations (_add_bin): the ny x nx samples are the rows of the y and x tables
 *   (align_axis) from the pointers on; a sample whose low index is negative adds
 *   nothing, the others ((w1 p1 + w2 p2) + w3 p3) + w4 p4.  Pixel (y, x) starts
 *   at base + (y * w_n + x) * ps; n channels.
 * simd picks the variant: 2 AVX-512F, 1 AVX2, 0 the baseline (roi.pyx's SIMD, never
 * above what the machine runs: its SIMD_MAX, from _cpu.h). */
static void nd_bin_max_f32(int simd, ND_MAX_ARGS(float))
{
    ND_PICK_VARIANT(simd, nd_bin_max_f32, p, rs, ps, nh, nw, o, n);
}
static void nd_bin_max_f64(int simd, ND_MAX_ARGS(double))
{
    ND_PICK_VARIANT(simd, nd_bin_max_f64, p, rs, ps, nh, nw, o, n);
}
static void nd_bin_align_f32(int simd, ND_ALIGN_ARGS(float))
{
    ND_PICK_VARIANT(simd, nd_bin_align_f32, base, ps, w_n, ny, nx, ylo, yhi, wylo, wyhi,
                    xlo, xhi, wxlo, wxhi, count, fuse, o, n);
}
static void nd_bin_align_f64(int simd, ND_ALIGN_ARGS(double))
{
    ND_PICK_VARIANT(simd, nd_bin_align_f64, base, ps, w_n, ny, nx, ylo, yhi, wylo, wyhi,
                    xlo, xhi, wxlo, wxhi, count, fuse, o, n);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* nd_transpose_tile_*(x, y, R, S, r0, r1, s0, s1): y[s * R + r] = x[r * S + s] for
 *   r0 <= r < r1 and s0 <= s < s1, where x is an R x S matrix and y its S x R
 *   transpose: one tile of roi.pyx's NCHW <-> NHWC transpose.
 *
 * Blocks of 8 x 8 floats (4 x 4 doubles) go through AVX registers: eight row loads,
 * three rounds of shuffles, eight row stores; the tile's last rows and columns that
 * fill no whole block are copied one element at a time.  Every load and store lies
 * inside the tile, and a shuffle moves bits unchanged (NaN payloads included).
 * roi.pyx's own tile loop, built for baseline x86-64, moves one element at a time
 * through a buffer: for float32 (8, 64, 128, 128) -> (8, 128, 128, 64) on an AMD
 * EPYC (Zen 5), one thread, 4.7-5.0 ms that way and 2.4-2.7 ms this way (np.copyto
 * of the array: 1.2 ms).  The blocks go along the tile's rows: eight rows of x
 * are read in step from start to end, each cache line whole in four or two
 * consecutive blocks.  Blocks taken down the columns first read 64 rows in turn,
 * 64 KiB apart for a 128 x 128 image, which all fall in one cache set; a line
 * was evicted before its second block was read, and that order took 3.4 ms for
 * one image where this one takes 1.0 (both per eight images).
 *
 * roi.pyx runs these where its SIMD is 1 or more (AVX2 implies AVX), and its
 * own loop elsewhere or when the tests ask for it (its SIMD set to 0).
 */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx"), always_inline))
static inline void nd_block_f32(const float* x, intptr_t xs, float* y, intptr_t ys)
{
    __m256 r0 = _mm256_loadu_ps(x), r1 = _mm256_loadu_ps(x + xs);
    __m256 r2 = _mm256_loadu_ps(x + 2 * xs), r3 = _mm256_loadu_ps(x + 3 * xs);
    __m256 r4 = _mm256_loadu_ps(x + 4 * xs), r5 = _mm256_loadu_ps(x + 5 * xs);
    __m256 r6 = _mm256_loadu_ps(x + 6 * xs), r7 = _mm256_loadu_ps(x + 7 * xs);
    /* pairs of rows interleaved: t0 = a0 b0 a1 b1 | a4 b4 a5 b5, ... */
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    /* quadruples: u0 = a0 b0 c0 d0 | a4 b4 c4 d4, u1 = a1 b1 c1 d1 | a5 ..., ... */
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    /* halves joined: column j of the block as a row */
    _mm256_storeu_ps(y, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(y + ys, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(y + 2 * ys, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(y + 3 * ys, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(y + 4 * ys, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(y + 5 * ys, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(y + 6 * ys, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(y + 7 * ys, _mm256_permute2f128_ps(u3, u7, 0x31));
}

__attribute__((target("avx"), always_inline))
static inline void nd_block_f64(const double* x, intptr_t xs, double* y, intptr_t ys)
{
    __m256d r0 = _mm256_loadu_pd(x), r1 = _mm256_loadu_pd(x + xs);
    __m256d r2 = _mm256_loadu_pd(x + 2 * xs), r3 = _mm256_loadu_pd(x + 3 * xs);
    /* t0 = a0 b0 | a2 b2, t1 = a1 b1 | a3 b3, t2 = c0 d0 | c2 d2, t3 = c1 d1 | c3 d3 */
    __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(y, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(y + ys, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(y + 2 * ys, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(y + 3 * ys, _mm256_permute2f128_pd(t1, t3, 0x31));
}

#define ND_TRANSPOSE(T, SUF, B)                                                         \
__attribute__((target("avx")))                                                        \
static void nd_transpose_tile_##SUF(const T* restrict x, T* restrict y, intptr_t R,    \
                                    intptr_t S, intptr_t r0, intptr_t r1, intptr_t s0, \
                                    intptr_t s1)                                       \
{                                                                                      \
    intptr_t r, s, re = r0 + (r1 - r0) / B * B, se = s0 + (s1 - s0) / B * B;           \
    for (r = r0; r < re; r += B) {                                                     \
        for (s = s0; s < se; s += B)                                                   \
            nd_block_##SUF(x + r * S + s, S, y + s * R + r, R);                        \
        for (s = se; s < s1; s++)                                                      \
            for (intptr_t i = r; i < r + B; i++)                                       \
                y[s * R + i] = x[i * S + s];                                           \
    }                                                                                  \
    for (r = re; r < r1; r++)                                                          \
        for (s = s0; s < s1; s++)                                                      \
            y[s * R + r] = x[r * S + s];                                               \
}

ND_TRANSPOSE(float, f32, 8)
ND_TRANSPOSE(double, f64, 4)

#else
/* never called: roi.pyx's SIMD_MAX is 0, and it keeps its own loop */
static void nd_transpose_tile_f32(const float* x, float* y, intptr_t R, intptr_t S,
                                  intptr_t r0, intptr_t r1, intptr_t s0, intptr_t s1) {}
static void nd_transpose_tile_f64(const double* x, double* y, intptr_t R, intptr_t S,
                                  intptr_t r0, intptr_t r1, intptr_t s0, intptr_t s1) {}
#endif

#endif

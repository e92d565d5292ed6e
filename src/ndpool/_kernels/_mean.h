/* The inner loops of the block means (window.pyx's mean_fused), in C so that the
 * loader picks an AVX-512, an AVX2 or a baseline build for the machine
 * (ND_CLONES, as _mix.h's and _fold.h's loops).  window.pyx itself is baseline
 * x86-64: its float32 2 x 2 mean widened four floats to float64 at a time, and
 * its 16-bit row fold eight values, and on one thread both were bound by the
 * instructions, not by memory (avg_pool 2 x 2 on a float32 NCHW batch: 8.4 ms
 * against 6.4 ms for max_pool on the same input).
 *
 * Every loop takes the same operations in the same order as the Cython loop it
 * replaces (window.pyx's _mean_quad, _fold_sum, _mean_pairs), one element at a
 * time: vectorising runs elements side by side and changes no result.  fp-contract
 * is off, so that no product and sum are fused into one rounding.  The pixel and
 * integer loops' pointers are ``restrict`` (a kernel's output never overlaps its
 * input; the facade copies when ``out`` may share memory with ``x``): without
 * it, each call's loop over a pixel's channels checked its pointers for overlap
 * first, and on an AMD EPYC (Zen 5) avg_pool 2 x 2 of float32 NHWC
 * (8, 256, 256, 64) took 8.9 ms at one thread against 5.1-5.7 ms with it (in C;
 * a copy: 6.5 ms).  nd_mean_quad_f32 is left without: with ``restrict`` the
 * NCHW mean took 7.7 ms instead of 6.6.
 *
 * nd_mean_quad_f32: 2 x 2 windows at stride 2 of single elements (inner 1), of
 *   ``rows`` output rows of ``wo`` outputs each, one after the other in y, whose
 *   windows' input rows are ``step`` elements apart: for output row r, rows
 *   x0 + r step (the window's first input row) and x1 + r step (its second),
 *   each window's float64 sum ((x0[c] + x0[c + 1]) + x1[c]) + x1[c + 1] times ``rdiv`` (the
 *   exact reciprocal of a power-of-two divisor), rounded to float32.  One row
 *   after the other, the first's pairs through ``acc``: reading both rows at
 *   once (two streams a row apart) took twice as long.  It first asks for the
 *   same stretch of the rows ``ahead`` elements on (for 2 x 2 blocks at stride 2,
 *   the windows of the output row after next) to be prefetched: the hardware
 *   prefetcher alone kept one thread from memory speed.  In C, one thread, the
 *   float32 (8, 64, 256, 256) mean took 4.3 ms that way, 4.6 ms prefetching one
 *   output row ahead, 5.3-6.1 ms without (memcpy: 6.4 ms).  One call takes
 *   a run of rows, which spares mean_fused's per-row work for each.
 * nd_mean_quad_px_f32: the same for pixels of ``inner`` elements, the taps a
 *   pixel apart (``d`` elements) and the windows ``wstride`` pixels apart.
 *   Pixels of 16 elements or more first ask for the lines 2 KiB ahead of each
 *   row's taps to be prefetched: in C, one thread, the float32 (8, 256, 256, 64)
 *   mean took 4.2 ms that way against 4.9 ms (memcpy 6.3-6.4 ms); 8 KiB ahead
 *   gained less (4.6 ms).
 * nd_fold_*_i32: t = x (``first``) or t + x, elementwise, 8- and 16-bit rows
 *   widened to int32 (the sums of fewer than 16384 rows stay below 2**31).
 * nd_pairs_mean_i32: the whole windows wlo <= ow < whi of two adjacent pixels at
 *   stride 2 along a folded int32 row t, each window's sum (exact) times ``rdiv``,
 *   in float64.
 */
#ifndef NDPOOL_MEAN_H
#define NDPOOL_MEAN_H

#include <stdint.h>
#include "_vexp.h"

/* The integer loops stream rows through memory with little arithmetic: their
 * AVX-512 builds were slower than the AVX2 and baseline ones on the AMD EPYC
 * here (a uint16 2 x 2 x 2 volume mean in C: 26 ms against 15 and 16 ms), so
 * they are built for AVX2 and the baseline only. */
#ifdef ND_CLONES_ON
#define ND_CLONES_V3 __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ND_CLONES_V3
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

ND_CLONES static void nd_mean_quad_f32(const float* x0, const float* x1, float* y,
                                       double* acc, intptr_t rows, intptr_t step,
                                       intptr_t wo, intptr_t woff, double rdiv,
                                       intptr_t ahead)
{
    intptr_t r, ow, k;
    for (r = 0; r < rows; r++, y += wo) {
        const float* a = x0 + r * step + woff;
        const float* b = x1 + r * step + woff;
        /* addresses, not pointers: the rows ahead may lie past the array's end, which
         * a prefetch does not mind (it never faults) but pointer arithmetic would */
        uintptr_t pa = (uintptr_t)a + (uintptr_t)ahead * sizeof(float);
        uintptr_t pb = (uintptr_t)b + (uintptr_t)ahead * sizeof(float);
        for (k = 0; k <= 2 * wo; k += 16) {       /* a cache line (64 bytes) each */
            __builtin_prefetch((const void*)(pa + (uintptr_t)k * sizeof(float)));
            __builtin_prefetch((const void*)(pb + (uintptr_t)k * sizeof(float)));
        }
        for (ow = 0; ow < wo; ow++)
            acc[ow] = (double)a[2 * ow] + (double)a[2 * ow + 1];
        for (ow = 0; ow < wo; ow++)
            y[ow] = (float)(((acc[ow] + (double)b[2 * ow]) + (double)b[2 * ow + 1]) * rdiv);
    }
}

ND_CLONES static void nd_mean_quad_px_f32(const float* restrict x0, const float* restrict x1,
                                          float* restrict y,
                                          intptr_t inner, intptr_t wo, intptr_t wstride,
                                          intptr_t woff, intptr_t d, double rdiv)
{
    /* pixels of a cache line or more: 2 KiB ahead of the window's taps in each row */
    intptr_t ahead = inner >= 16 ? 2048 : 0;
    for (intptr_t ow = 0; ow < wo; ow++) {
        intptr_t c = (woff + ow * wstride) * inner;
        const float* a = x0 + c;
        const float* b = x1 + c;
        float* yr = y + ow * inner;
        if (ahead) {
            uintptr_t pa = (uintptr_t)a + (uintptr_t)ahead;
            uintptr_t pb = (uintptr_t)b + (uintptr_t)ahead;
            for (intptr_t k = 0; k < 2 * inner; k += 16) {
                __builtin_prefetch((const void*)(pa + (uintptr_t)k * sizeof(float)));
                __builtin_prefetch((const void*)(pb + (uintptr_t)k * sizeof(float)));
            }
        }
        for (intptr_t i = 0; i < inner; i++) {
            double s = (((double)a[i] + (double)a[d + i]) + (double)b[i]) + (double)b[d + i];
            yr[i] = (float)(s * rdiv);
        }
    }
}

#define ND_FOLD_I32(T, SUF)                                                            \
ND_CLONES_V3 static void nd_fold_##SUF##_i32(const T* restrict x, int32_t* restrict t,   \
                                             intptr_t n, int first)                  \
{                                                                                     \
    intptr_t i;                                                                       \
    if (first) {                                                                      \
        for (i = 0; i < n; i++)                                                       \
            t[i] = (int32_t)x[i];                                                     \
    } else {                                                                          \
        for (i = 0; i < n; i++)                                                       \
            t[i] = t[i] + (int32_t)x[i];                                              \
    }                                                                                 \
}

ND_FOLD_I32(uint8_t, u8)
ND_FOLD_I32(int8_t, i8)
ND_FOLD_I32(uint16_t, u16)
ND_FOLD_I32(int16_t, i16)

ND_CLONES_V3 static void nd_pairs_mean_i32(const int32_t* restrict t, double* restrict y,
                                           intptr_t inner,
                                        intptr_t wlo, intptr_t whi, intptr_t woff,
                                        double rdiv)
{
    intptr_t ow, i;
    if (inner == 1) {
        for (ow = wlo; ow < whi; ow++)
            y[ow] = (double)(t[woff + 2 * ow] + t[woff + 2 * ow + 1]) * rdiv;
        return;
    }
    for (ow = wlo; ow < whi; ow++) {
        const int32_t* p = t + (woff + 2 * ow) * inner;
        for (i = 0; i < inner; i++)
            y[ow * inner + i] = (double)(p[i] + p[inner + i]) * rdiv;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

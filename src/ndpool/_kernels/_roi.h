/* The channel loops of the region kernels' channels-last paths (roi.pyx), in C
 * so that the loader picks an AVX-512, an AVX2 or a baseline build for the
 * machine (ND_CLONES, as _mean.h's and _positions.h's loops).  roi.pyx itself is
 * baseline x86-64, four floats per operation: on a float32 (8, 64, 128, 128)
 * map with 512 boxes of 8 to 64 pixels a side, RoI max pooling's kernel took
 * 9.0-9.4 ms on one thread and 6.1 ms on two with the Cython loops, 7.6 and
 * 5.1 ms with these.
 *
 * Each loop takes the Cython loop's operations in its order, one channel at a
 * time, and fp-contract is off (no product and sum fused into one rounding), so
 * every build gives the bits of the channels-first loops, which the tests hold
 * to the operation-by-operation reference (tests/reference_roi.py).
 *
 * nd_nanmax_into_*: o[i] = max(p[i], o[i]), a NaN on either side winning
 *   (roi.pyx's nan_max) for n channels.
 * nd_bilinear_add_*: buf[i] += ((w1 p1[i] + w2 p2[i]) + w3 p3[i]) + w4 p4[i] for
 *   n channels: one bilinear sample of RoIAlign (roi.pyx's _add_bin).
 */
#ifndef NDPOOL_ROI_H
#define NDPOOL_ROI_H

#include <stdint.h>
#include "_vexp.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

#define ND_ROI(T, SUF)                                                                  \
ND_CLONES static void nd_nanmax_into_##SUF(const T* restrict p, T* restrict o,         \
                                           intptr_t n)                                  \
{                                                                                       \
    for (intptr_t i = 0; i < n; i++) {                                                  \
        T v = p[i], best = o[i];                                                        \
        T t = v > best ? v : best;                                                      \
        o[i] = v != v ? v : t;                                                          \
    }                                                                                   \
}                                                                                       \
                                                                                        \
ND_CLONES static void nd_bilinear_add_##SUF(const T* p1, const T* p2, const T* p3,     \
                                            const T* p4, T w1, T w2, T w3, T w4,        \
                                            T* restrict buf, intptr_t n)                \
{                                                                                       \
    for (intptr_t i = 0; i < n; i++)                                                    \
        buf[i] = buf[i] + (((w1 * p1[i] + w2 * p2[i]) + w3 * p3[i]) + w4 * p4[i]);      \
}

ND_ROI(float, f32)
ND_ROI(double, f64)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

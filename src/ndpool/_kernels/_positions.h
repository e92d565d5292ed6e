/* The inner loops of attention pooling's reads of the positions (positions.pyx),
 * in C so that the loader picks an AVX-512, an AVX2 or a baseline build for the
 * machine (ND_CLONES, as _mean.h's and _scan.h's loops).  positions.pyx itself is
 * baseline x86-64, whose loops widen two floats to float64 at a time: on float32
 * (8, 64, 128, 128) each of its three reads took 1.5 to 1.9 ms on two cores,
 * bound by the instructions, against 1.3 ms for one thread's copy of the array.
 *
 * Every loop takes its operations in a fixed order that does not depend on the
 * build: fp-contract is off (no product and sum fused into one rounding), and a
 * sum along x (nd_stats_row, nd_dot_row) is taken in 32 lanes, the positions
 * modulo 32, each summed in ascending order, then added pairwise
 * (nd_lanes_sum); vectorising runs lanes side by side and changes no result.
 * Sums across rows (nd_stats_cols, nd_axpy_row) are elementwise.
 *
 * nd_stats_row_*: the float64 sum of n contiguous values (in lanes) and their
 *   largest magnitude, NaNs ignored (the caller finds them from the sum).
 * nd_stats_cols_*: total[c] += x[c] and peak[c] = max(peak[c], |x[c]|) for n
 *   values: one position of a channels-last row.
 * nd_dot_row_*: sum_p w[p] * (x[p] / f) over n contiguous values, in lanes; f is
 *   a power of two, and f == 1 does not divide.
 * nd_axpy_row_*: y[p] += a * (x[p] / f) for n contiguous values (f == 1: no
 *   division).
 */
#ifndef NDPOOL_POSITIONS_H
#define NDPOOL_POSITIONS_H

#include <stdint.h>
#include <math.h>
#include <string.h>
#include "_vexp.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

/* Thirty-two lanes, as four GCC vectors of eight: GCC did not vectorise these
 * loops written with arrays of partial sums (it kept them in scalar registers),
 * and one vector of lanes waits on each addition's latency (on one thread the
 * sum took 2.1 ms for float32 (8, 64, 128, 128), four take 1.3 ms).  On a
 * baseline build a vector operation is four SSE2 operations; the lanes and
 * their order are the same in every build. */
#define ND_LANES 32
typedef double nd_v8d __attribute__((vector_size(64)));
typedef long long nd_v8l __attribute__((vector_size(64)));
typedef float nd_v8f __attribute__((vector_size(32)));

/* v = eight values of x from x[0], widened to float64 (a macro: a function
 * returning a 64-byte vector has no stable ABI without AVX-512) */
#define ND_LOAD8_f32(v, x) do { nd_v8f in_; memcpy(&in_, (x), sizeof in_);          \
                                (v) = __builtin_convertvector(in_, nd_v8d); } while (0)
#define ND_LOAD8_f64(v, x) memcpy(&(v), (x), sizeof(nd_v8d))

/* the lanes' pairwise sum: lane k and lane k + 16, then k and k + 8, ... */
static inline double nd_lanes_sum(double* part)
{
    for (int width = ND_LANES / 2; width > 0; width /= 2)
        for (int k = 0; k < width; k++)
            part[k] = part[k] + part[k + width];
    return part[0];
}

#define ND_POSITIONS(T, SUF)                                                            \
ND_CLONES static void nd_stats_row_##SUF(const T* restrict x, intptr_t n,              \
                                         double* total, double* peak)                  \
{                                                                                       \
    double part[ND_LANES], top[ND_LANES];                                              \
    intptr_t whole = n - n % ND_LANES;                                                  \
    nd_v8d vpart[4] = {{0}}, vtop[4] = {{0}};                                           \
    const nd_v8l mag = (nd_v8l){0} + 0x7fffffffffffffffLL;  /* all bits but the sign */ \
    for (intptr_t p = 0; p < whole; p += ND_LANES)                                      \
        for (int j = 0; j < 4; j++) {                                                   \
            nd_v8d v, a;                                                                \
            ND_LOAD8_##SUF(v, x + p + 8 * j);                                           \
            a = (nd_v8d)((nd_v8l)v & mag);                                              \
            nd_v8l more = a > vtop[j];          /* false for a NaN: NaNs are skipped */ \
            vpart[j] += v;                                                              \
            vtop[j] = (nd_v8d)((more & (nd_v8l)a) | (~more & (nd_v8l)vtop[j]));         \
        }                                                                               \
    memcpy(part, vpart, sizeof part);                                                   \
    memcpy(top, vtop, sizeof top);                                                      \
    for (intptr_t p = whole; p < n; p++) {                                              \
        double v = (double)x[p], a = fabs(v);                                           \
        part[p - whole] += v;                                                           \
        top[p - whole] = a > top[p - whole] ? a : top[p - whole];                       \
    }                                                                                   \
    for (int k = 1; k < ND_LANES; k++)                                                  \
        top[0] = top[k] > top[0] ? top[k] : top[0];                                     \
    *total = nd_lanes_sum(part);                                                        \
    *peak = top[0];                                                                     \
}                                                                                       \
                                                                                        \
ND_CLONES static void nd_stats_cols_##SUF(const T* restrict x, double* restrict total,  \
                                          double* restrict peak, intptr_t n)            \
{                                                                                       \
    for (intptr_t c = 0; c < n; c++) {                                                  \
        double v = (double)x[c], a = fabs(v);                                           \
        total[c] += v;                                                                  \
        peak[c] = a > peak[c] ? a : peak[c];                                            \
    }                                                                                   \
}                                                                                       \
                                                                                        \
ND_CLONES static double nd_dot_row_##SUF(const T* restrict x, const double* restrict w, \
                                         intptr_t n, double f)                          \
{                                                                                       \
    double part[ND_LANES];                                                              \
    intptr_t whole = n - n % ND_LANES;                                                  \
    nd_v8d vpart[4] = {{0}};                                                            \
    if (f == 1) {                                                                       \
        for (intptr_t p = 0; p < whole; p += ND_LANES)                                  \
            for (int j = 0; j < 4; j++) {                                               \
                nd_v8d v, wv;                                                           \
                ND_LOAD8_##SUF(v, x + p + 8 * j);                                       \
                ND_LOAD8_f64(wv, w + p + 8 * j);                                        \
                vpart[j] += wv * v;                                                     \
            }                                                                           \
    } else {                                                                            \
        for (intptr_t p = 0; p < whole; p += ND_LANES)                                  \
            for (int j = 0; j < 4; j++) {                                               \
                nd_v8d v, wv;                                                           \
                ND_LOAD8_##SUF(v, x + p + 8 * j);                                       \
                ND_LOAD8_f64(wv, w + p + 8 * j);                                        \
                vpart[j] += wv * (v / f);                                               \
            }                                                                           \
    }                                                                                   \
    memcpy(part, vpart, sizeof part);                                                   \
    for (intptr_t p = whole; p < n; p++)                                                \
        part[p - whole] += f == 1 ? w[p] * (double)x[p] : w[p] * ((double)x[p] / f);    \
    return nd_lanes_sum(part);                                                          \
}                                                                                       \
                                                                                        \
ND_CLONES static void nd_axpy_row_##SUF(const T* restrict x, double a, double f,        \
                                        double* restrict y, intptr_t n)                 \
{                                                                                       \
    if (f == 1) {                                                                       \
        for (intptr_t p = 0; p < n; p++)                                                \
            y[p] += a * (double)x[p];                                                   \
    } else {                                                                            \
        for (intptr_t p = 0; p < n; p++)                                                \
            y[p] += a * ((double)x[p] / f);                                             \
    }                                                                                   \
}

ND_POSITIONS(float, f32)
ND_POSITIONS(double, f64)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

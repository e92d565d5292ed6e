/* The row folds and window tests of smooth.pyx's SoftPool and log-sum-exp sweep,
 * in C so that, like _vexp.h's exp, the loader picks an AVX-512, an AVX2 or a
 * baseline build of them for the machine (ND_CLONES).  A fold adds one input
 * row (x1 == NULL) or two into the thread's float64 rows:
 *
 *   nd_fold_soft_*:  a0 (+)= e0 + e1,  a1 (+)= x0 e0 + x1 e1   (SoftPool's sums)
 *   nd_fold_exp_max: a0 (+)= e0 + e1,  a1 = max(a1, e0, e1)    (log-sum-exp's)
 *
 * ``first``: a0 and a1 are set, not added to (a first pair is not added to 0.0:
 * -0.0 + -0.0 is -0.0, 0.0 + -0.0 is not).  The AVX-512 and AVX2 builds contract
 * x0 e0 + s into one rounding and the baseline does not, so the sums may differ
 * between machines in the last bit, as the callers' tolerances allow.
 *
 * nd_soft_failures and nd_lse_failures count the windows whose unshifted sums
 * are not to be trusted (see smooth.pyx's _soft_fails and _lse_fails, which
 * they count, and which mark the windows themselves).
 */
#ifndef NDPOOL_FOLD_H
#define NDPOOL_FOLD_H

#include "_vexp.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#define ND_FOLD_SOFT(T, SUF)                                                          \
ND_CLONES static void nd_fold_soft_##SUF(const T* x0, const T* x1, const double* e0,  \
                                        const double* e1, double* a0, double* a1,     \
                                        intptr_t n, int first)                        \
{                                                                                     \
    intptr_t i;                                                                       \
    if (x1 == NULL && first) {                                                        \
        for (i = 0; i < n; i++) { a0[i] = e0[i]; a1[i] = (double)x0[i] * e0[i]; }     \
    } else if (x1 == NULL) {                                                          \
        for (i = 0; i < n; i++) {                                                     \
            a0[i] = a0[i] + e0[i];                                                    \
            a1[i] = a1[i] + (double)x0[i] * e0[i];                                    \
        }                                                                             \
    } else if (first) {                                                               \
        for (i = 0; i < n; i++) {                                                     \
            a0[i] = e0[i] + e1[i];                                                    \
            a1[i] = (double)x0[i] * e0[i] + (double)x1[i] * e1[i];                    \
        }                                                                             \
    } else {                                                                          \
        for (i = 0; i < n; i++) {                                                     \
            a0[i] = a0[i] + e0[i] + e1[i];                                            \
            a1[i] = a1[i] + (double)x0[i] * e0[i] + (double)x1[i] * e1[i];            \
        }                                                                             \
    }                                                                                 \
}

ND_FOLD_SOFT(float, f32)
ND_FOLD_SOFT(double, f64)

/* a NaN e makes a0 NaN, which the caller rejects, so max's NaN rule does not matter */
ND_CLONES static void nd_fold_exp_max(const double* e0, const double* e1, double* a0,
                                      double* a1, intptr_t n, int first)
{
    intptr_t i;
    double v;
    if (e1 == NULL && first) {
        for (i = 0; i < n; i++) { a0[i] = e0[i]; a1[i] = e0[i]; }
    } else if (e1 == NULL) {
        for (i = 0; i < n; i++) {
            a0[i] = a0[i] + e0[i];
            a1[i] = e0[i] > a1[i] ? e0[i] : a1[i];
        }
    } else if (first) {
        for (i = 0; i < n; i++) {
            a0[i] = e0[i] + e1[i];
            a1[i] = e1[i] > e0[i] ? e1[i] : e0[i];
        }
    } else {
        for (i = 0; i < n; i++) {
            a0[i] = a0[i] + e0[i] + e1[i];
            v = e1[i] > e0[i] ? e1[i] : e0[i];
            a1[i] = v > a1[i] ? v : a1[i];
        }
    }
}

/* 1.0 where a window fails its test, else 0.0: selects of constants, which vectorise */
static inline double nd_soft_fails(double s0, double s1, double tiny)
{
    double f = s0 >= tiny ? 0.0 : 1.0;
    f = s0 < (double)INFINITY ? f : 1.0;
    return s1 - s1 == 0.0 ? f : 1.0;
}

static inline double nd_lse_fails(double mean, double big, double tiny, double ratio)
{
    double f = mean >= tiny ? 0.0 : 1.0;
    f = mean < (double)INFINITY ? f : 1.0;
    return (big >= ratio * mean) || (mean >= ratio) || (mean * ratio <= 1.0) ? f : 1.0;
}

/* how many of the m windows (sums a, b) fail: soft, nd_soft_fails, else nd_lse_fails */
ND_CLONES static double nd_failures(const double* a, const double* b, intptr_t m, int soft,
                                    double tiny, double ratio)
{
    double acc = 0.0;
    intptr_t i;
    /* the counts are whole numbers, exact in any order: omp simd may reorder them */
    if (soft) {
#pragma omp simd reduction(+:acc)
        for (i = 0; i < m; i++)
            acc += nd_soft_fails(a[i], b[i], tiny);
    } else {
#pragma omp simd reduction(+:acc)
        for (i = 0; i < m; i++)
            acc += nd_lse_fails(a[i], b[i], tiny, ratio);
    }
    return acc;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

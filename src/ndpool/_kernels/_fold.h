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
 * nd_failures counts the windows whose unshifted sums are not to be trusted
 * (nd_soft_fails, nd_lse_fails, which smooth.pyx also calls to mark the
 * windows themselves); nd_lse_finish_* counts them while it finishes a row.
 * nd_pass_w_f64 is the sweep's pass along W.
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

/* smooth.pyx's pass along W over the whole windows wlo <= ow < whi of single
 * elements: y[ow] = the sum (is_max: the largest) of the k taps
 * t[woff + ow * wstride + j * wdil], j = 0 .. k - 1, taken in that order (the
 * max picks v > y ? v : y).  Undilated windows of 2 or 3 taps at stride 2, the
 * pools' usual ones, have the geometry as constants, so that they vectorise with
 * vector loads; the rest run tap by tap over the row. */
#define ND_PASS_SMALL(K)                                                              \
    for (ow = wlo; ow < whi; ow++) {                                                  \
        const double* p = t + woff + 2 * ow;                                          \
        double v = p[0];                                                              \
        for (j = 1; j < (K); j++)                                                     \
            v = is_max ? (p[j] > v ? p[j] : v) : v + p[j];                            \
        y[ow] = v;                                                                    \
    }

ND_CLONES static void nd_pass_w_f64(const double* t, double* y, intptr_t wlo,
                                    intptr_t whi, intptr_t wstride, intptr_t woff,
                                    intptr_t k, intptr_t wdil, int is_max)
{
    intptr_t ow, j;
    if (wstride == 2 && wdil == 1 && k == 3) {
        if (is_max) { ND_PASS_SMALL(3) } else { ND_PASS_SMALL(3) }
        return;
    }
    if (wstride == 2 && wdil == 1 && k == 2) {
        if (is_max) { ND_PASS_SMALL(2) } else { ND_PASS_SMALL(2) }
        return;
    }
    for (ow = wlo; ow < whi; ow++)
        y[ow] = t[woff + ow * wstride];
    for (j = 1; j < k; j++) {
        const double* p = t + woff + j * wdil;
        if (is_max) {
            for (ow = wlo; ow < whi; ow++) {
                double v = p[ow * wstride];
                y[ow] = v > y[ow] ? v : y[ow];
            }
        } else {
            for (ow = wlo; ow < whi; ow++)
                y[ow] = y[ow] + p[ow * wstride];
        }
    }
}

/* nd_pass_w_f64 of two rows in one loop: y0 = t0's window sums, y1 = t1's (max1:
 * its window maxima), each as nd_pass_w_f64 takes it */
#define ND_PASS2_SMALL(K)                                                             \
    for (ow = wlo; ow < whi; ow++) {                                                  \
        const double* p = t0 + woff + 2 * ow;                                         \
        const double* q = t1 + woff + 2 * ow;                                         \
        double v = p[0], w = q[0];                                                    \
        for (j = 1; j < (K); j++) {                                                   \
            v = v + p[j];                                                             \
            w = max1 ? (q[j] > w ? q[j] : w) : w + q[j];                              \
        }                                                                             \
        y0[ow] = v;                                                                   \
        y1[ow] = w;                                                                   \
    }

ND_CLONES static void nd_pass_w2_f64(const double* t0, const double* t1, double* y0,
                                     double* y1, intptr_t wlo, intptr_t whi,
                                     intptr_t wstride, intptr_t woff, intptr_t k,
                                     intptr_t wdil, int max1)
{
    intptr_t ow, j;
    if (wstride == 2 && wdil == 1 && k == 3) {
        if (max1) { ND_PASS2_SMALL(3) } else { ND_PASS2_SMALL(3) }
        return;
    }
    if (wstride == 2 && wdil == 1 && k == 2) {
        if (max1) { ND_PASS2_SMALL(2) } else { ND_PASS2_SMALL(2) }
        return;
    }
    nd_pass_w_f64(t0, y0, wlo, whi, wstride, woff, k, wdil, 0);
    nd_pass_w_f64(t1, y1, wlo, whi, wstride, woff, k, wdil, max1);
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

/* log-sum-exp's row finished in the sweep: out[i] = log(mean[i]) / r (_vexp.h's
 * log, the quotient rounded to float64, then to out's type), and the number of
 * the row's windows that fail nd_lse_fails, in one loop over the row.  With
 * ``rw`` (windows of single elements), mean[i] is first multiplied by
 * scale * rw[i] (the sweep's RECIPROCALS mean), in place.  A mean that passes
 * is a positive normal number, so the log is nd_log_normal; a window that
 * fails gets some finite number, which the caller replaces. */
#define ND_LSE_FINISH(T, SUF)                                                         \
ND_CLONES static double nd_lse_finish_##SUF(double* mean, const double* big,          \
                                            intptr_t m, const double* rw,             \
                                            double scale, double tiny, double ratio,  \
                                            double r, T* out)                         \
{                                                                                     \
    double acc = 0.0;                                                                 \
    intptr_t i;                                                                       \
    if (rw != NULL) {                                                                 \
        _Pragma("omp simd reduction(+:acc)")                                          \
        for (i = 0; i < m; i++) {                                                     \
            double v = mean[i] * (scale * rw[i]);                                     \
            mean[i] = v;                                                              \
            acc += nd_lse_fails(v, big[i], tiny, ratio);                              \
            out[i] = (T)(nd_log_normal(v) / r);                                       \
        }                                                                             \
        return acc;                                                                   \
    }                                                                                 \
    _Pragma("omp simd reduction(+:acc)")                                              \
    for (i = 0; i < m; i++) {                                                         \
        acc += nd_lse_fails(mean[i], big[i], tiny, ratio);                            \
        out[i] = (T)(nd_log_normal(mean[i]) / r);                                     \
    }                                                                                 \
    return acc;                                                                       \
}

ND_LSE_FINISH(float, f32)
ND_LSE_FINISH(double, f64)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

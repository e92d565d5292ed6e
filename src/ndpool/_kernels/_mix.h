/* Mixed and gated pooling's row fold (window.pyx's mixed_fused), in C so that the
 * loader picks an AVX-512, an AVX2 or a baseline build for the machine
 * (ND_CLONES, as _fold.h's folds): the rest of window.pyx is baseline x86-64,
 * two float64 lanes, and the float64 sums of these folds were bound by it.
 *
 * nd_mix_row_*: for the whole windows wlo <= ow < whi of one input row
 * (``x[woff + ow * wstride + j * wdil]``, j < k, all in the row), fold the
 * row's taps into the output row's
 *
 *   acc[ow]  the float64 sum:  set to the first tap if ``first``, then each tap
 *            added in order (window.pyx's _sum_row: the same additions);
 *   mx[ow]   the max: the first tap if ``first``, then each tap picked in order
 *            by window.pyx's ``pick`` (a NaN replaces the max: the last NaN);
 *   z[ow]    if wt is not NULL, the gate's response: z + wt[j] * x, tap by tap
 *            in order (window.pyx's _wsum_taps: the same bits, because the
 *            product is rounded before the sum here too: fp-contract is off).
 *
 * nd_wsum_rows_*: the responses alone to one or more filters, for weighted_fused.
 * nd_sigmoid (gated and tree pooling) and nd_blend_row (tree pooling): steps
 * on a row of responses.
 *
 * Undilated windows of 2 or 3 taps at stride 2, and of 3 at stride 1, have
 * their own loops, with the stride and the taps constants, so they vectorise
 * with vector loads (the NaN rule of the max compiles to compares and blends).
 */
#ifndef NDPOOL_MIX_H
#define NDPOOL_MIX_H

#include "_vexp.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math", "fp-contract=off")
#endif

#define ND_WSUM_LOOP(T, S, K, D)                                                       \
    for (ow = wlo; ow < whi; ow++) {                                                  \
        const T* p = xr + woff + ow * (S);                                            \
        double q = z[ow];                                                             \
        for (j = 0; j < (K); j++)                                                     \
            q = q + wt[j] * (double)p[j * (D)];                                       \
        z[ow] = q;                                                                    \
    }

/* the fold of taps x[woff + ow S + j D], j < K, into max, sum and (has_w) the
 * response, in one loop per row: ``first`` and ``has_w`` are constants where it
 * is inlined, and the pointers are restrict-qualified (the rows are the
 * thread's own, apart from the input and the weights), so that the loop
 * vectorises without run-time overlap tests */
#define ND_MIX_FN(T, SUF, NAME, S, K, D)                                              \
static inline __attribute__((always_inline)) void NAME##_##SUF(                      \
    const T* __restrict__ xr, intptr_t wlo, intptr_t whi, intptr_t wstride,           \
    intptr_t woff, intptr_t k, intptr_t wdil, int first, double* __restrict__ acc,    \
    T* __restrict__ mx, int has_w, const double* __restrict__ wt,                     \
    double* __restrict__ z)                                                           \
{                                                                                     \
    intptr_t ow, j;                                                                   \
    (void)wstride; (void)k; (void)wdil;                                               \
    for (ow = wlo; ow < whi; ow++) {                                                  \
        const T* p = xr + woff + ow * (S);                                            \
        T u = p[0], m, t;                                                             \
        double s;                                                                     \
        if (first) {                                                                  \
            m = u;                                                                    \
            s = (double)u;                                                            \
        } else {                                                                      \
            t = u > mx[ow] ? u : mx[ow];                                              \
            m = u != u ? u : t;                                                       \
            s = acc[ow] + (double)u;                                                  \
        }                                                                             \
        for (j = 1; j < (K); j++) {                                                   \
            u = p[j * (D)];                                                           \
            t = u > m ? u : m;                                                        \
            m = u != u ? u : t;                                                       \
            s = s + (double)u;                                                        \
        }                                                                             \
        acc[ow] = s;                                                                  \
        mx[ow] = m;                                                                   \
        if (has_w) {                                                                  \
            double q = z[ow];                                                         \
            for (j = 0; j < (K); j++)                                                 \
                q = q + wt[j] * (double)p[j * (D)];                                   \
            z[ow] = q;                                                                \
        }                                                                             \
    }                                                                                 \
}

#define ND_MIX_FNS(T, SUF)                                                            \
ND_MIX_FN(T, SUF, nd_mix_s2k3, 2, 3, 1)                                               \
ND_MIX_FN(T, SUF, nd_mix_s2k2, 2, 2, 1)                                               \
ND_MIX_FN(T, SUF, nd_mix_s1k3, 1, 3, 1)                                               \
ND_MIX_FN(T, SUF, nd_mix_any, wstride, k, wdil)

ND_MIX_FNS(float, f32)
ND_MIX_FNS(double, f64)

/* one of the four loops with ``first`` and ``has_w`` as constants */
#define ND_MIX_CALL(NAME)                                                             \
    if (first && wt != NULL)                                                          \
        NAME(xr, wlo, whi, wstride, woff, k, wdil, 1, acc, mx, 1, wt, z);             \
    else if (first)                                                                   \
        NAME(xr, wlo, whi, wstride, woff, k, wdil, 1, acc, mx, 0, wt, z);             \
    else if (wt != NULL)                                                              \
        NAME(xr, wlo, whi, wstride, woff, k, wdil, 0, acc, mx, 1, wt, z);             \
    else                                                                              \
        NAME(xr, wlo, whi, wstride, woff, k, wdil, 0, acc, mx, 0, wt, z);

#define ND_MIX_ROW(T, SUF)                                                            \
ND_CLONES static void nd_mix_row_##SUF(const T* xr, intptr_t wlo, intptr_t whi,       \
                                       intptr_t wstride, intptr_t woff, intptr_t k,   \
                                       intptr_t wdil, int first, double* acc, T* mx,  \
                                       const double* wt, double* z)                   \
{                                                                                     \
    if (wdil == 1 && wstride == 2 && k == 3) { ND_MIX_CALL(nd_mix_s2k3_##SUF) }       \
    else if (wdil == 1 && wstride == 2 && k == 2) { ND_MIX_CALL(nd_mix_s2k2_##SUF) }  \
    else if (wdil == 1 && wstride == 1 && k == 3) { ND_MIX_CALL(nd_mix_s1k3_##SUF) }  \
    else { ND_MIX_CALL(nd_mix_any_##SUF) }                                            \
}

ND_MIX_ROW(float, f32)
ND_MIX_ROW(double, f64)

/* the responses alone (weighted_fused's rows of single elements) to nk filters,
 * filter f's taps at wt + f wtstep, its row at z + f zstep: z[ow] += wt[j] x, in
 * order; three filters at a time share each tap's load and conversion */
#define ND_WSUM3_LOOP(T, S, K, D)                                                      \
    for (ow = wlo; ow < whi; ow++) {                                                  \
        const T* p = xr + woff + ow * (S);                                            \
        double q0 = z0[ow], q1 = z1[ow], q2 = z2[ow];                                 \
        for (j = 0; j < (K); j++) {                                                   \
            double v = (double)p[j * (D)];                                            \
            q0 = q0 + w0[j] * v;                                                      \
            q1 = q1 + w1[j] * v;                                                      \
            q2 = q2 + w2[j] * v;                                                      \
        }                                                                             \
        z0[ow] = q0;                                                                  \
        z1[ow] = q1;                                                                  \
        z2[ow] = q2;                                                                  \
    }

/* the three-filter loop with its pointers restrict-qualified (no filter's row
 * overlaps another's or the weights), so that it vectorises without run-time
 * overlap tests; inlined into the clones, it is compiled for each */
#define ND_WSUM3_FN(T, SUF, NAME, S, K, D)                                            \
static inline __attribute__((always_inline)) void NAME##_##SUF(                      \
    const T* __restrict__ xr, intptr_t wlo, intptr_t whi, intptr_t wstride,           \
    intptr_t woff, intptr_t k, intptr_t wdil, const double* __restrict__ w0,          \
    const double* __restrict__ w1, const double* __restrict__ w2,                     \
    double* __restrict__ z0, double* __restrict__ z1, double* __restrict__ z2)        \
{                                                                                     \
    intptr_t ow, j;                                                                   \
    (void)wstride; (void)k; (void)wdil;                                               \
    ND_WSUM3_LOOP(T, S, K, D)                                                         \
}

ND_WSUM3_FN(float, f32, nd_wsum3_usual, 2, 3, 1)
ND_WSUM3_FN(double, f64, nd_wsum3_usual, 2, 3, 1)
ND_WSUM3_FN(float, f32, nd_wsum3_any, wstride, k, wdil)
ND_WSUM3_FN(double, f64, nd_wsum3_any, wstride, k, wdil)

#define ND_WSUM_ROWS(T, SUF)                                                          \
ND_CLONES static void nd_wsum_rows_##SUF(const T* xr, intptr_t wlo, intptr_t whi,     \
                                         intptr_t wstride, intptr_t woff, intptr_t k, \
                                         intptr_t wdil, const double* wts,            \
                                         intptr_t wtstep, double* zs, intptr_t zstep, \
                                         intptr_t nk)                                 \
{                                                                                     \
    intptr_t ow, j, f = 0;                                                            \
    int usual = wdil == 1 && wstride == 2 && k == 3;                                  \
    for (; f + 3 <= nk; f += 3) {                                                     \
        const double* w0 = wts + f * wtstep;                                          \
        double* z0 = zs + f * zstep;                                                  \
        if (usual)                                                                    \
            nd_wsum3_usual_##SUF(xr, wlo, whi, wstride, woff, k, wdil, w0,            \
                                 w0 + wtstep, w0 + 2 * wtstep, z0, z0 + zstep,        \
                                 z0 + 2 * zstep);                                     \
        else                                                                          \
            nd_wsum3_any_##SUF(xr, wlo, whi, wstride, woff, k, wdil, w0,              \
                               w0 + wtstep, w0 + 2 * wtstep, z0, z0 + zstep,          \
                               z0 + 2 * zstep);                                       \
    }                                                                                 \
    for (; f < nk; f++) {                                                             \
        const double* wt = wts + f * wtstep;                                          \
        double* z = zs + f * zstep;                                                   \
        if (usual) { ND_WSUM_LOOP(T, 2, 3, 1) }                                       \
        else if (wdil == 1 && wstride == 2 && k == 2) { ND_WSUM_LOOP(T, 2, 2, 1) }    \
        else if (wdil == 1 && wstride == 1 && k == 3) { ND_WSUM_LOOP(T, 1, 3, 1) }    \
        else { ND_WSUM_LOOP(T, wstride, k, wdil) }                                    \
    }                                                                                 \
}

ND_WSUM_ROWS(float, f32)
ND_WSUM_ROWS(double, f64)

/* z[i] = 1 / (1 + e^-z[i]): mixing._sigmoid's steps (_vexp.h's exp of -1 * z,
 * plus 1, then 1 over it), so the same bits */
ND_CLONES static void nd_sigmoid(double* z, intptr_t n)
{
    intptr_t i;
    nd_exp_f64(z, -1.0, z, n);
    for (i = 0; i < n; i++)
        z[i] = 1.0 / (z[i] + 1.0);
}

/* a[i] = (a[i] s[i]) + ((1 - s[i]) c[i]), mixing._mix's NumPy passes.  Where both
 * operands of a step are NaN, x86 passes the first one on, and the compiler may
 * swap the operands of a product or a sum; the selects name the NaN each step
 * passes on (the first operand's), so that this kernel's NaN does not depend on
 * the compiler.  NumPy's loops pass on either one, by an element's position, so
 * a NaN's sign is not part of the result (the tests compare NaNs as NaNs). */
ND_CLONES static void nd_blend_row(double* a, const double* s, const double* c, intptr_t n)
{
    intptr_t i;
    for (i = 0; i < n; i++) {
        double u = 1.0 - s[i], t1 = a[i] * s[i], t2 = u * c[i], r;
        t1 = s[i] != s[i] ? s[i] : t1;
        t1 = a[i] != a[i] ? a[i] : t1;
        t2 = c[i] != c[i] ? c[i] : t2;
        t2 = u != u ? u : t2;
        r = t1 + t2;
        r = t2 != t2 ? t2 : r;
        a[i] = t1 != t1 ? t1 : r;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

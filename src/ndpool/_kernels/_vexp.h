/* e^x for the smooth pools: a branch-free exp that the compiler vectorises.
 *
 * NumPy's float64 exp is SIMD only where AVX-512 is (elsewhere it is libm's,
 * one element at a time, ~6 ns each on the 2-core AMD machines here).  This one
 * is written so that a loop of it vectorises: Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2 / 2, the degree-13 Taylor polynomial of e^r (its
 * truncation error is below 5e-18), and 2^n applied as two exact powers of two
 * (n / 2 each), so that the results that overflow, or fall into the subnormal
 * range, are rounded once, at the last product.  Measured against glibc's exp
 * over [-745, 709.8]: within 1 ulp.  NaN is returned as given; +-inf give inf
 * and 0.
 *
 * The loops are compiled twice, for x86-64-v3 (AVX2 and FMA) and for the
 * baseline, and the loader picks one for the machine (GCC's target_clones); the
 * two may differ in the last bit, since only the first contracts a * b + c
 * into one rounding.  Selects ahead of the arithmetic vectorise only without
 * trapping math, which these functions (only) are compiled without: nothing
 * here reads the floating-point exception flags.
 */
#ifndef NDPOOL_VEXP_H
#define NDPOOL_VEXP_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

static inline uint64_t nd_asu64(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static inline double nd_asf64(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

static inline double nd_exp(double x)
{
    const double shift = 0x1.8p52, log2e = 0x1.71547652b82fep0;
    const double ln2hi = 0x1.62e42fee00000p-1, ln2lo = 0x1.a39ef35793c76p-33;
    /* beyond [-750, 712] e^x is 0 or inf in double; clamping keeps n small */
    double xc = x < -750.0 ? -750.0 : x;
    xc = xc > 712.0 ? 712.0 : xc;
    double kd = xc * log2e + shift;            /* n + shift, n = rint(x / ln2) */
    double n = kd - shift;
    double r = (xc - n * ln2hi) - n * ln2lo;   /* n ln2hi is exact for |n| < 2^11 */
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* 2^n = 2^n1 2^n2, n1 = n / 2 rounded either way, both normal powers of two */
    double k1 = n * 0.5 + shift;
    double k2 = (n - (k1 - shift)) + shift;
    double s1 = nd_asf64((nd_asu64(k1) + 1023u) << 52);
    double s2 = nd_asf64((nd_asu64(k2) + 1023u) << 52);
    double y = (p * s1) * s2;
    return x != x ? x : y;
}

/* not under the sanitizers: their runtime is not up when the loader picks a clone */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && __GNUC__ >= 11 && !defined(__SANITIZE_ADDRESS__)
#define ND_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ND_CLONES
#endif

/* out[i] = e^(r x[i]); out may be x itself (float64) */
ND_CLONES static void nd_exp_f32(const float* x, double r, double* out, intptr_t n)
{
    for (intptr_t i = 0; i < n; i++)
        out[i] = nd_exp(r * (double)x[i]);
}

ND_CLONES static void nd_exp_f64(const double* x, double r, double* out, intptr_t n)
{
    if ((const double*)out == x) {
        for (intptr_t i = 0; i < n; i++)
            out[i] = nd_exp(r * out[i]);
    } else {
        for (intptr_t i = 0; i < n; i++)
            out[i] = nd_exp(r * x[i]);
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

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
 * nd_log, below, is written the same way for log-sum-exp's log.  Where NumPy's
 * exp and log are AVX-512 code they are faster than these, and _engine takes
 * NumPy's instead (NUMPY_SIMD_EXP).
 *
 * The loops are compiled three times, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2
 * and FMA) and the baseline, and the loader picks one for the machine (GCC's
 * target_clones); the baseline's may differ from the others' in the last bit,
 * since only they contract a * b + c into one rounding.  With AVX-512 a loop
 * of nd_exp takes about 0.9 ns per element on the 2-core AMD EPYC here (AVX2:
 * 1.6 ns), as fast as NumPy's AVX-512 exp.  Selects ahead of the arithmetic vectorise only without
 * trapping math, which these functions (only) are compiled without: nothing
 * here reads the floating-point exception flags.
 */
#ifndef NDPOOL_VEXP_H
#define NDPOOL_VEXP_H

#include <stdint.h>
#include <string.h>
#include <math.h>

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

/* log(x) to about 1 ulp, branch-free as nd_exp: x = 2^k m with m in
 * [sqrt(2)/2, sqrt(2)) (subnormal x scaled by 2^54 first), f = m - 1, and
 * log(1 + f) = 2 atanh(s), s = f / (2 + f), |s| < 0.172, written as
 * f - (f^2 / 2 - s (f^2 / 2 + R)) with R = z (2/3 + 2 z / 5 + ... + 2 z^10 / 23),
 * z = s^2 (the Taylor series; the next term is below 1e-19 relative).  0 gives
 * -inf, x < 0 NaN, inf inf; NaN is returned as given. */
static inline double nd_log(double x)
{
    const double ln2hi = 0x1.62e42fee00000p-1, ln2lo = 0x1.a39ef35793c76p-33;
    const double sqrt2 = 0x1.6a09e667f3bcdp0;
    double sub = x < 0x1p-1022 ? 54.0 : 0.0;
    double xs = x < 0x1p-1022 ? x * 0x1p54 : x;
    uint64_t ix = nd_asu64(xs);
    /* the biased exponent as a double, and the significand in [1, 2) */
    double e = nd_asf64((ix >> 52) | 0x4330000000000000ull) - 0x1p52;
    double m = nd_asf64((ix & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    double k = (e - 1023.0 - sub) + (m > sqrt2 ? 1.0 : 0.0);
    m = m > sqrt2 ? m * 0.5 : m;
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = 2.0 / 23.0;
    R = R * z + 2.0 / 21.0;
    R = R * z + 2.0 / 19.0;
    R = R * z + 2.0 / 17.0;
    R = R * z + 2.0 / 15.0;
    R = R * z + 2.0 / 13.0;
    R = R * z + 2.0 / 11.0;
    R = R * z + 2.0 / 9.0;
    R = R * z + 2.0 / 7.0;
    R = R * z + 2.0 / 5.0;
    R = R * z + 2.0 / 3.0;
    R = R * z;
    double hfsq = 0.5 * f * f;
    double y = k * ln2hi - ((hfsq - (s * (hfsq + R) + k * ln2lo)) - f);
    y = x == 0.0 ? -(double)INFINITY : y;
    y = x < 0.0 ? (double)NAN : y;
    y = x == (double)INFINITY ? x : y;
    return x != x ? x : y;
}

/* not under the sanitizers: their runtime is not up when the loader picks a clone */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && __GNUC__ >= 11 && !defined(__SANITIZE_ADDRESS__)
#define ND_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define ND_CLONES_ON 1
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

/* out[i] = log(x[i]); out may be x itself */
ND_CLONES static void nd_log_f64(const double* x, double* out, intptr_t n)
{
    if ((const double*)out == x) {
        for (intptr_t i = 0; i < n; i++)
            out[i] = nd_log(out[i]);
    } else {
        for (intptr_t i = 0; i < n; i++)
            out[i] = nd_log(x[i]);
    }
}

/* out[i] = log(x[i]) / r, the quotient rounded to float64 (log-sum-exp's last
 * step); out may be x itself */
ND_CLONES static void nd_log_div_f64(const double* x, double r, double* out, intptr_t n)
{
    if ((const double*)out == x) {
        for (intptr_t i = 0; i < n; i++)
            out[i] = nd_log(out[i]) / r;
    } else {
        for (intptr_t i = 0; i < n; i++)
            out[i] = nd_log(x[i]) / r;
    }
}

/* the same, then rounded to float32 (as a float64 result cast to float32) */
ND_CLONES static void nd_log_div_f32(const double* x, double r, float* out, intptr_t n)
{
    for (intptr_t i = 0; i < n; i++)
        out[i] = (float)(nd_log(x[i]) / r);
}

/* out[i] = x[i] rounded to float32 */
ND_CLONES static void nd_round_f32(const double* x, float* out, intptr_t n)
{
    for (intptr_t i = 0; i < n; i++)
        out[i] = (float)x[i];
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

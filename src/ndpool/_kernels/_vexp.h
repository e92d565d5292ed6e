/* e^x for the smooth pools: a branch-free exp that the compiler vectorises.
 *
 * NumPy's float64 exp is SIMD only where AVX-512 is (elsewhere it is libm's,
 * one element at a time, ~6 ns each on the 2-core AMD machines here).  This one
 * is written so that a loop of it vectorises: Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2 / 2, a degree-11 polynomial 1 + r + c2 r^2 + ...
 * (fitted by Remez exchange in 60-digit arithmetic to e^r's relative error over
 * that interval: below 8e-18, where the degree-13 Taylor polynomial it replaced
 * had 5e-18, two multiply-adds more), and 2^n applied as two exact powers of two
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
    double p = 0x1.af631dc7731e1p-26;
    p = p * r + 0x1.28b40639f71d9p-22;
    p = p * r + 0x1.71ddf6badec7dp-19;
    p = p * r + 0x1.a01993bebde07p-16;
    p = p * r + 0x1.a01a01b009b94p-13;
    p = p * r + 0x1.6c16c185fded5p-10;
    p = p * r + 0x1.111111110f808p-7;
    p = p * r + 0x1.55555555503f4p-5;
    p = p * r + 0x1.5555555555558p-3;
    p = p * r + 0x1.0000000000009p-1;
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
 * f - (f^2 / 2 - s (f^2 / 2 + R)) with R = 2 atanh(s) / s - 2 = z P(z), z = s^2.
 * R's series is 2 z / 3 + 2 z^2 / 5 + ...; P is instead the degree-6 polynomial
 * closest to R / z in the largest error over z <= 0.1716^2 (Remez exchange in
 * 50-digit arithmetic: that error is below 5e-18 absolute, 2e-18 relative to the
 * log), seven terms where the series needs eleven.  Measured against glibc's log
 * on 2e7 random doubles (all exponents, and many near 1): within 1 ulp.  0 gives
 * -inf, x < 0 NaN, inf inf; NaN is returned as given.  nd_log_core is the
 * arithmetic for xs = x 2^sub, positive and normal. */
static inline double nd_log_core(double xs, double sub)
{
    const double ln2hi = 0x1.62e42fee00000p-1, ln2lo = 0x1.a39ef35793c76p-33;
    const double sqrt2 = 0x1.6a09e667f3bcdp0;
    uint64_t ix = nd_asu64(xs);
    /* the biased exponent as a double, and the significand in [1, 2) */
    double e = nd_asf64((ix >> 52) | 0x4330000000000000ull) - 0x1p52;
    double m = nd_asf64((ix & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    double k = (e - 1023.0 - sub) + (m > sqrt2 ? 1.0 : 0.0);
    m = m > sqrt2 ? m * 0.5 : m;
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = 0x1.2f538959f7d5dp-3;
    R = R * z + 0x1.399ceabd96383p-3;
    R = R * z + 0x1.74664a23d6500p-3;
    R = R * z + 0x1.c71c52b455947p-3;
    R = R * z + 0x1.2492493fb85ddp-2;
    R = R * z + 0x1.9999999984746p-2;
    R = R * z + 0x1.555555555557cp-1;
    R = R * z;
    double hfsq = 0.5 * f * f;
    return k * ln2hi - ((hfsq - (s * (hfsq + R) + k * ln2lo)) - f);
}

static inline double nd_log(double x)
{
    double sub = x < 0x1p-1022 ? 54.0 : 0.0;
    double xs = x < 0x1p-1022 ? x * 0x1p54 : x;
    double y = nd_log_core(xs, sub);
    y = x == 0.0 ? -(double)INFINITY : y;
    y = x < 0.0 ? (double)NAN : y;
    y = x == (double)INFINITY ? x : y;
    return x != x ? x : y;
}

/* nd_log for positive normal finite x only: the same formula without the
 * tests, twelve compares and selects; any other x gives some finite number
 * (log-sum-exp's finish, whose other windows are replaced).  In another loop
 * the compiler may contract another product and sum into one rounding, so
 * its last bit may differ from nd_log's. */
static inline double nd_log_normal(double x)
{
    return nd_log_core(x, 0.0);
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

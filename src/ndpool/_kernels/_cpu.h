/* What the machine, and its operating system (which must save the wider
 * registers), runs: the one place the kernels ask.  Modules whose loops are
 * picked at run time call nd_cpu_features() once, when they are imported
 * (window.pyx's PAIRS_VBMI, PAIRS_MEAN_BW and QUADS_AVX512, roi.pyx's
 * SIMD_MAX), and keep their portable loops where a bit is missing.  Built by
 * another compiler than GCC or Clang, or for another architecture than x86-64,
 * it says nothing (0), and those modules' intrinsic loops are stubs never called.
 */
#ifndef NDPOOL_CPU_H
#define NDPOOL_CPU_H

enum { ND_AVX2 = 1, ND_AVX512F = 2, ND_AVX512BW = 4, ND_AVX512VBMI = 8 };

static int nd_cpu_features(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") ? ND_AVX2 : 0)
           | (__builtin_cpu_supports("avx512f") ? ND_AVX512F : 0)
           | (__builtin_cpu_supports("avx512bw") ? ND_AVX512BW : 0)
           | (__builtin_cpu_supports("avx512vbmi") ? ND_AVX512VBMI : 0);
#else
    return 0;
#endif
}

#endif

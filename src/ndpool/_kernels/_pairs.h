/* Windows of two adjacent pixels at stride 2 over two rows (2 x 2 blocks of an
 * RGB image), pixels of 2 to 16 one-byte elements, with AVX-512 VBMI's
 * two-source byte permutation:
 *
 *   nd_pairs_{max,min}_{u8,i8}(a, b, y, inner, count):
 *     y[ow * inner + i] = max (or min) of a[p + i], a[p + inner + i], b[p + i],
 *                         b[p + inner + i], p = 2 * ow * inner,
 *     for 0 <= ow < count and 0 <= i < inner.
 *
 * Each step takes the 2 * P pixels of P windows (P = 48 / inner, at most 96
 * bytes of each row), the elementwise pick of the two rows in two vectors, then
 * one permutation gathers every window's first pixel and another its second,
 * and a last pick leaves the P output pixels in order: one store of up to 48
 * bytes in place of P scalar moves.  While 64 bytes of output remain, the steps
 * load and store whole vectors, reading a little ahead and storing past their P
 * pixels (the next step overwrites that); the last steps' loads and stores are
 * masked to the bytes of their windows (AVX-512 masks do not touch memory
 * outside them).  No byte outside a[0 : 2 count inner], b[0 : 2 count inner] or
 * y[0 : count inner] is read or written.  The 2 x 2 maxima of a 4096 x 4096
 * RGB image took 1.7-1.8 ms this way in C, one thread, 2.6 ms with every load
 * and store masked, and 3.6-4.1 ms with window.pyx's pass (a copy of the
 * image: 2.0 ms).
 *
 * The order of the picks is not the windows' tap order, which integers do not
 * mind.  window.pyx runs these where the machine has AVX-512BW and VBMI
 * (_cpu.h); elsewhere, or when the compiler is not GCC or Clang on x86, it keeps
 * its own pass (_ext_pairs), which tests also force on this path's machines
 * (window.pyx's PAIRS_VBMI).
 */
#ifndef NDPOOL_PAIRS_H
#define NDPOOL_PAIRS_H

#include <stdint.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* nd_pairs_index[inner][0 or 1][k]: the byte of the two rows' 128 that output byte
 * k takes, from a window's first (0) or second (1) pixel; set by nd_pairs_init(),
 * which window.pyx calls once, when it is imported */
static uint8_t nd_pairs_index[17][2][64];
/* nd_pairs_mean_index[inner][0 or 1][k]: the same for the means below, in 16-bit
 * elements of the two rows' 64 (k < P inner; the rest 0) */
static uint16_t nd_pairs_mean_index[5][2][32];

static void nd_pairs_init(void)
{
    intptr_t inner, ow, i, k;
    for (inner = 2; inner <= 16; inner++) {
        for (ow = 0, k = 0; ow < 48 / inner; ow++) {     /* byte k: element i of window ow */
            for (i = 0; i < inner; i++, k++) {
                nd_pairs_index[inner][0][k] = (uint8_t)(2 * ow * inner + i);
                nd_pairs_index[inner][1][k] = (uint8_t)(2 * ow * inner + inner + i);
            }
        }
    }
    for (inner = 1; inner <= 4; inner++) {
        for (ow = 0, k = 0; ow < 8 * (4 / inner); ow++) {
            for (i = 0; i < inner; i++, k++) {
                nd_pairs_mean_index[inner][0][k] = (uint16_t)(2 * ow * inner + i);
                nd_pairs_mean_index[inner][1][k] = (uint16_t)(2 * ow * inner + inner + i);
            }
        }
    }
}

#define ND_PAIRS(NAME, T, PICK, PICK256)                                                        \
__attribute__((target("avx2,avx512f,avx512bw,avx512vbmi")))                                \
static void NAME(const T* a, const T* b, T* y, intptr_t inner, intptr_t count)        \
{                                                                                     \
    const uint8_t* pa = (const uint8_t*)a;                                            \
    const uint8_t* pb = (const uint8_t*)b;                                            \
    uint8_t* py = (uint8_t*)y;                                                        \
    intptr_t per = 48 / inner, ow, n, nin, nout;                                      \
    __m512i u0, u1, r;                                                                \
    __m512i e = _mm512_loadu_si512((const void*)nd_pairs_index[inner][0]);            \
    __m512i o = _mm512_loadu_si512((const void*)nd_pairs_index[inner][1]);            \
    __mmask64 m0, m1;                                                                 \
    /* while 64 bytes of output remain, whole vectors: each step reads up to 96    \
     * bytes ahead in each row and stores 64 (the next step overwrites the part    \
     * past its windows); the rest, masked */                                       \
    for (ow = 0; (count - ow) * inner >= 64; ow += per) {                             \
        u0 = PICK(_mm512_loadu_si512((const void*)(pa + 2 * ow * inner)),             \
                  _mm512_loadu_si512((const void*)(pb + 2 * ow * inner)));            \
        u1 = _mm512_castsi256_si512(PICK256(                                          \
            _mm256_loadu_si256((const __m256i*)(pa + 2 * ow * inner + 64)),           \
            _mm256_loadu_si256((const __m256i*)(pb + 2 * ow * inner + 64))));         \
        r = PICK(_mm512_permutex2var_epi8(u0, e, u1), _mm512_permutex2var_epi8(u0, o, u1)); \
        _mm512_storeu_si512((void*)(py + ow * inner), r);                             \
    }                                                                                 \
    for (; ow < count; ow += per) {                                                   \
        n = count - ow < per ? count - ow : per;                                      \
        nin = 2 * n * inner;                                                          \
        nout = n * inner;                                                             \
        m0 = nin >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << nin) - 1);                 \
        u0 = PICK(_mm512_maskz_loadu_epi8(m0, pa + 2 * ow * inner),                   \
                  _mm512_maskz_loadu_epi8(m0, pb + 2 * ow * inner));                  \
        if (nin > 64) {                                                               \
            m1 = ((__mmask64)1 << (nin - 64)) - 1;                                    \
            u1 = PICK(_mm512_maskz_loadu_epi8(m1, pa + 2 * ow * inner + 64),          \
                      _mm512_maskz_loadu_epi8(m1, pb + 2 * ow * inner + 64));         \
        } else {                                                                      \
            u1 = _mm512_setzero_si512();                                              \
        }                                                                             \
        r = PICK(_mm512_permutex2var_epi8(u0, e, u1), _mm512_permutex2var_epi8(u0, o, u1)); \
        _mm512_mask_storeu_epi8(py + ow * inner, ((__mmask64)1 << nout) - 1, r);      \
    }                                                                                 \
}

ND_PAIRS(nd_pairs_max_u8, uint8_t, _mm512_max_epu8, _mm256_max_epu8)
ND_PAIRS(nd_pairs_min_u8, uint8_t, _mm512_min_epu8, _mm256_min_epu8)
ND_PAIRS(nd_pairs_max_i8, int8_t, _mm512_max_epi8, _mm256_max_epi8)
ND_PAIRS(nd_pairs_min_i8, int8_t, _mm512_min_epi8, _mm256_min_epi8)

#else

static void nd_pairs_init(void) {}

/* never called: window.pyx's PAIRS_VBMI and PAIRS_MEAN_BW are False */
#define ND_PAIRS(NAME, T)                                                             \
static void NAME(const T* a, const T* b, T* y, intptr_t inner, intptr_t count)        \
{ (void)a; (void)b; (void)y; (void)inner; (void)count; }

ND_PAIRS(nd_pairs_max_u8, uint8_t)
ND_PAIRS(nd_pairs_min_u8, uint8_t)
ND_PAIRS(nd_pairs_max_i8, int8_t)
ND_PAIRS(nd_pairs_min_i8, int8_t)

#endif
#undef ND_PAIRS

/* The same windows' means into float64, for pixels of 1 to 4 one-byte elements,
 * with AVX-512BW's two-source 16-bit permutation:
 *
 *   nd_pairs_mean_{u8,i8}(a, b, y, inner, count, rdiv):
 *     y[ow * inner + i] = (double)(a[p + i] + a[p + inner + i] + b[p + i]
 *                                  + b[p + inner + i]) * rdiv, p = 2 * ow * inner,
 *     for 0 <= ow < count and 0 <= i < inner,
 *
 * the value of window.pyx's fold and pair pass (nd_pairs_mean_i32 in _mean.h):
 * the sum is exact in 16 bits, then it is converted and multiplied as there.
 * Each step takes P windows (P = 8 (4 / inner): 32, 16, 8 or 8 pixels, 2 P inner
 * <= 64 bytes of each row): the two rows widened to 16 bits and added, one
 * permutation gathers every window's first pixel and another its second, their
 * sum is widened to 32 bits and converted to float64 eight elements at a time
 * (P inner is 24 or 32, a multiple of eight).  Windows whose 64 bytes would pass
 * the end of their rows are summed one element at a time; nothing outside
 * a[0 : 2 count inner], b[0 : 2 count inner] or y[0 : count inner] is read or
 * written.  The 2 x 2 block means of a 4096 x 4096 uint8 RGB image into a
 * float64 array took 4.8-5.4 ms this way in C, one thread, against 8.5-9.2 ms
 * for the steps of window.pyx's fold and pair pass written in C (writing the
 * 96 MiB output alone: 2.3-2.7 ms; into a fresh output, whose pages fault on the
 * first write: 8.0-9.0 against 13.0-13.7 ms).  Storing past the cache
 * (non-temporal stores) gained nothing.
 * window.pyx runs these where the machine has AVX-512F and BW (_cpu.h;
 * window.pyx's PAIRS_MEAN_BW).
 */
#if defined(__GNUC__) && defined(__x86_64__)

#define ND_PAIRS_MEAN(NAME, T, WIDEN8, WIDEN16)                                         \
__attribute__((target("avx2,avx512f,avx512bw")))                                      \
static void NAME(const T* a, const T* b, double* y, intptr_t inner, intptr_t count,   \
                 double rdiv)                                                         \
{                                                                                     \
    intptr_t per = 8 * (4 / inner), ow, i, p;                                         \
    __m512i e = _mm512_loadu_si512((const void*)nd_pairs_mean_index[inner][0]);       \
    __m512i o = _mm512_loadu_si512((const void*)nd_pairs_mean_index[inner][1]);       \
    __m512d r = _mm512_set1_pd(rdiv);                                                 \
    __m512i u0, u1, s, lo, hi;                                                        \
    double* yo;                                                                       \
    for (ow = 0; (count - ow) * inner >= 32; ow += per) {  /* 64 bytes of each row */ \
        p = 2 * ow * inner;                                                           \
        u0 = _mm512_add_epi16(WIDEN8(_mm256_loadu_si256((const __m256i*)(a + p))),    \
                              WIDEN8(_mm256_loadu_si256((const __m256i*)(b + p))));   \
        u1 = _mm512_add_epi16(WIDEN8(_mm256_loadu_si256((const __m256i*)(a + p + 32))), \
                              WIDEN8(_mm256_loadu_si256((const __m256i*)(b + p + 32)))); \
        s = _mm512_add_epi16(_mm512_permutex2var_epi16(u0, e, u1),                    \
                             _mm512_permutex2var_epi16(u0, o, u1));                   \
        lo = WIDEN16(_mm512_castsi512_si256(s));                                      \
        hi = WIDEN16(_mm512_extracti64x4_epi64(s, 1));                                \
        yo = y + ow * inner;                                                          \
        _mm512_storeu_pd(yo, _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(lo)), r)); \
        _mm512_storeu_pd(yo + 8, _mm512_mul_pd(                                       \
            _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(lo, 1)), r));                \
        _mm512_storeu_pd(yo + 16, _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(hi)), r)); \
        if (per * inner == 32)                                                        \
            _mm512_storeu_pd(yo + 24, _mm512_mul_pd(                                  \
                _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(hi, 1)), r));            \
    }                                                                                 \
    for (; ow < count; ow++) {                                                        \
        p = 2 * ow * inner;                                                           \
        for (i = 0; i < inner; i++)                                                   \
            y[ow * inner + i] = (double)((int32_t)a[p + i] + (int32_t)a[p + inner + i]  \
                                         + (int32_t)b[p + i]                          \
                                         + (int32_t)b[p + inner + i]) * rdiv;         \
    }                                                                                 \
}

ND_PAIRS_MEAN(nd_pairs_mean_u8, uint8_t, _mm512_cvtepu8_epi16, _mm512_cvtepu16_epi32)
ND_PAIRS_MEAN(nd_pairs_mean_i8, int8_t, _mm512_cvtepi8_epi16, _mm512_cvtepi16_epi32)

#else

/* never called: window.pyx's PAIRS_MEAN_BW is False */
#define ND_PAIRS_MEAN(NAME, T)                                                        \
static void NAME(const T* a, const T* b, double* y, intptr_t inner, intptr_t count,   \
                 double rdiv)                                                         \
{ (void)a; (void)b; (void)y; (void)inner; (void)count; (void)rdiv; }

ND_PAIRS_MEAN(nd_pairs_mean_u8, uint8_t)
ND_PAIRS_MEAN(nd_pairs_mean_i8, int8_t)

#endif
#undef ND_PAIRS_MEAN

#endif

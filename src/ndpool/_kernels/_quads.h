/* Windows of two taps in each of two rows (2 x 2 max and min pooling) over float
 * pixels of at least one AVX-512 vector (16 float32 or 8 float64 elements: a
 * channels-last feature map), with AVX-512F:
 *
 *   nd_quads_{max,min}_{f32,f64}(x0, x1, y, inner, wlo, whi, wstride, woff, d):
 *     y[ow * inner + i] = pick(x1[c + d + i], pick(x1[c + i],
 *                                                  pick(x0[c + d + i], x0[c + i])))
 *     for wlo <= ow < whi and 0 <= i < inner, c = (woff + ow * wstride) * inner,
 *
 * where x0 and x1 are a window's two input rows, d the distance of its two taps in
 * elements, and pick(v, best) window.pyx's: v where v is NaN or beyond best, else
 * best.  These are window.pyx's _ext_quad picks, in its order, so the same NaN and
 * the same zero win: a vector max (or min) of v and best gives v only where v is
 * beyond best, and a blend puts v's NaNs back.  A pixel is whole vectors, then one
 * masked step for the rest of its elements; masked lanes are neither read nor
 * written.
 *
 * window.pyx's own loop, built for baseline x86-64, picks four floats at a time.
 * For max_pool 2 x 2 of a float32 (8, 256, 256, 64) channels-last batch, in C on
 * an AMD EPYC (Zen 5), one thread, arrays placed as NumPy places them: 4.1-4.2 ms
 * this way, 5.4 ms with that loop, 5.0 ms with that loop built as target clones
 * (memcpy of the input: 6.5 ms).  Pixels of fewer elements (a masked step per tap)
 * were slower than window.pyx's loop (3 channels: 17.6 against 11.6 ms; 8: 10.1
 * against 5.6 ms), so the callers keep that loop for them.
 *
 * window.pyx runs these where the machine has AVX-512F (_cpu.h); elsewhere, or
 * when the compiler is not GCC or Clang on x86, it keeps its own loop, which the
 * tests also force on AVX-512 machines (window.pyx's QUADS_AVX512).
 */
#ifndef NDPOOL_QUADS_H
#define NDPOOL_QUADS_H

#include <stdint.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* pick(v, best): the vector max (or min) takes best where v is not beyond it,
 * NaN included; then v's own NaNs */
#define ND_QUADS(NAME, T, V, MASK, LANES, SUF, EXT)                                     \
__attribute__((target("avx512f")))                                                   \
static void NAME(const T* x0, const T* x1, T* y, intptr_t inner, intptr_t wlo,        \
                 intptr_t whi, intptr_t wstride, intptr_t woff, intptr_t d)           \
{                                                                                     \
    intptr_t ow, i, full = inner - inner % LANES;                                     \
    MASK tail = (MASK)((1u << (inner % LANES)) - 1);                                  \
    V v;                                                                              \
    for (ow = wlo; ow < whi; ow++) {                                                  \
        const T* a = x0 + (woff + ow * wstride) * inner;                              \
        const T* b = x1 + (woff + ow * wstride) * inner;                              \
        T* yr = y + ow * inner;                                                       \
        for (i = 0; i < full; i += LANES) {                                           \
            v = ND_PICK(SUF, EXT, _mm512_loadu_##SUF(a + d + i), _mm512_loadu_##SUF(a + i)); \
            v = ND_PICK(SUF, EXT, _mm512_loadu_##SUF(b + i), v);                      \
            v = ND_PICK(SUF, EXT, _mm512_loadu_##SUF(b + d + i), v);                  \
            _mm512_storeu_##SUF(yr + i, v);                                           \
        }                                                                             \
        if (tail) {                                                                   \
            v = ND_PICK(SUF, EXT, _mm512_maskz_loadu_##SUF(tail, a + d + i),          \
                        _mm512_maskz_loadu_##SUF(tail, a + i));                       \
            v = ND_PICK(SUF, EXT, _mm512_maskz_loadu_##SUF(tail, b + i), v);          \
            v = ND_PICK(SUF, EXT, _mm512_maskz_loadu_##SUF(tail, b + d + i), v);      \
            _mm512_mask_storeu_##SUF(yr + i, tail, v);                                \
        }                                                                             \
    }                                                                                 \
}

#define ND_PICK(SUF, EXT, v, best) nd_pick_##EXT##_##SUF(v, best)

#define ND_PICK_FN(EXT, SUF, V)                                                       \
__attribute__((target("avx512f"), always_inline))                                    \
static inline V nd_pick_##EXT##_##SUF(V v, V best)                                    \
{                                                                                     \
    return _mm512_mask_blend_##SUF(_mm512_cmp_##SUF##_mask(v, v, _CMP_UNORD_Q),       \
                                   _mm512_##EXT##_##SUF(v, best), v);                 \
}

ND_PICK_FN(max, ps, __m512)
ND_PICK_FN(min, ps, __m512)
ND_PICK_FN(max, pd, __m512d)
ND_PICK_FN(min, pd, __m512d)

ND_QUADS(nd_quads_max_f32, float, __m512, __mmask16, 16, ps, max)
ND_QUADS(nd_quads_min_f32, float, __m512, __mmask16, 16, ps, min)
ND_QUADS(nd_quads_max_f64, double, __m512d, __mmask8, 8, pd, max)
ND_QUADS(nd_quads_min_f64, double, __m512d, __mmask8, 8, pd, min)

#undef ND_PICK_FN
#undef ND_PICK

#else

/* never called: window.pyx's QUADS_AVX512 is False */
#define ND_QUADS(NAME, T)                                                             \
static void NAME(const T* x0, const T* x1, T* y, intptr_t inner, intptr_t wlo,        \
                 intptr_t whi, intptr_t wstride, intptr_t woff, intptr_t d)           \
{ (void)x0; (void)x1; (void)y; (void)inner; (void)wlo; (void)whi; (void)wstride;     \
  (void)woff; (void)d; }

ND_QUADS(nd_quads_max_f32, float)
ND_QUADS(nd_quads_min_f32, float)
ND_QUADS(nd_quads_max_f64, double)
ND_QUADS(nd_quads_min_f64, double)

#endif
#undef ND_QUADS

#endif

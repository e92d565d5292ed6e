/* Stochastic pooling's draw (window.pyx's stochastic_fused), eight single-channel
 * windows at a time, one window per vector lane, in code built for the machine
 * (ND_DRAW_CLONES: AVX-512 or baseline, picked by the loader).
 *
 * nd_draw8_*: for the nw >= 8 whole windows of a run in one output row, window
 * i (i < nw) having its taps at ``xb[base + i * step + tap[k]]``, k < n (tap
 * order: row-major), and its uniform at u[i], eight windows at a time:
 *
 *   s      = the sum of max(x, 0) over the taps, in tap order, in float64;
 *   target = u * s;
 *   c      = how many of the running sums are at or below the target: the
 *            drawn tap is tap[c], the first whose running sum passes the
 *            target (window.pyx's _crossing);
 *   y[i]   = that tap's value, idx[i] = base + i * step + tap[c] (with_index).
 *
 * These are the one-window loop's operations, in its order, so the draws are its
 * draws.  A block is drawn only where every tap of its eight windows is finite,
 * every window has mass (s > 0) and every count is below n (the target rounded
 * up to s).  The function stops at the first block that is not, before writing
 * anything of it, and returns the number of windows drawn (all before that
 * block): the caller draws the next eight one by one (NaN, infinities, no
 * mass), then calls again.  Windows of more than ND_DRAW_TAPS taps are not
 * drawn here at all.
 *
 * The loops are GCC's (and Clang's) vector extensions: the auto-vectoriser
 * keeps a window-per-lane loop scalar (tried three ways: 2-3x slower than the
 * one-window loop).  At stride 2 a tap's eight values are the even elements of
 * the fifteen from the first window's tap: two loads of eight, the second from
 * the eighth element, and one shuffle, which read no element past the eighth
 * window's tap.  Without vector extensions the function draws nothing.
 */
#ifndef NDPOOL_DRAW_H
#define NDPOOL_DRAW_H

#include <string.h>
#include "_vexp.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math", "fp-contract=off")
#endif

#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 9)

/* AVX-512 and baseline only: GCC 12 fails (an internal compiler error) on the
 * step-1 float32 loop built for AVX2 */
#if defined(ND_CLONES_ON)
#define ND_DRAW_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define ND_DRAW_CLONES
#endif

typedef double nd_v8d __attribute__((vector_size(64)));
typedef long long nd_v8l __attribute__((vector_size(64)));
typedef float nd_v8f __attribute__((vector_size(32)));
typedef int nd_v8i __attribute__((vector_size(32)));

#if defined(__clang__)
#define ND_EVEN15_nd_v8f(lo, hi) \
    __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 9, 11, 13, 15)
#define ND_EVEN15_nd_v8d(lo, hi) \
    __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 9, 11, 13, 15)
#else
#define ND_EVEN15_nd_v8f(lo, hi) \
    __builtin_shuffle(lo, hi, (nd_v8i){0, 2, 4, 6, 9, 11, 13, 15})
#define ND_EVEN15_nd_v8d(lo, hi) \
    __builtin_shuffle(lo, hi, (nd_v8l){0, 2, 4, 6, 9, 11, 13, 15})
#endif

/* the eight lanes' values of the tap at p: p[0], p[S], ..., p[7 S], in the
 * input's type (macros, not functions: a function returning a vector changes
 * the ABI between the clones, and GCC warns of it) */
#define ND_LANES(V, T, p, s, mode) __extension__({                                   \
    const T* q_ = (p);                                                                \
    V lo_, hi_, r_;                                                                   \
    if ((mode) == 1) {                                                                \
        memcpy(&r_, q_, sizeof r_);                                                   \
    } else if ((mode) == 2) {                                                         \
        memcpy(&lo_, q_, sizeof lo_);                                                 \
        memcpy(&hi_, q_ + 7, sizeof hi_);                                             \
        r_ = ND_EVEN15_##V(lo_, hi_);                                                 \
    } else {                                                                          \
        r_ = (V){q_[0], q_[(s)], q_[2 * (s)], q_[3 * (s)], q_[4 * (s)], q_[5 * (s)],  \
                 q_[6 * (s)], q_[7 * (s)]};                                           \
    }                                                                                 \
    r_; })
#define nd_lanes_f32(p, s, mode) ND_LANES(nd_v8f, float, p, s, mode)
#define nd_lanes_f64(p, s, mode) ND_LANES(nd_v8d, double, p, s, mode)

/* max(a, 0) as the one-window loop takes it (``a if a > 0 else 0``: +0 for -0 and
 * NaN), by the compare's mask, in the input's type (exact: float64 has every
 * float32), and widened to float64 */
#define nd_pos_f32(a) ((nd_v8f)((nd_v8i)(a) & (nd_v8i)((a) > (nd_v8f){0})))
#define nd_pos_f64(a) ((nd_v8d)((nd_v8l)(a) & (nd_v8l)((a) > (nd_v8d){0})))
#define nd_wide_f32(v) __builtin_convertvector(v, nd_v8d)
#define nd_wide_f64(v) (v)

/* the most taps a window drawn here may have: its running sums are kept */
#define ND_DRAW_TAPS 64

/* the AND of a vector's lanes, by halves */
#if defined(__clang__)
#define ND_HALF(v, a, b, c, d, e, f, g, h) \
    __builtin_shufflevector(v, v, a, b, c, d, e, f, g, h)
#else
#define ND_HALF(v, a, b, c, d, e, f, g, h) \
    __builtin_shuffle(v, (nd_v8l){a, b, c, d, e, f, g, h})
#endif
#define ND_ALL(v) __extension__({                                                     \
    nd_v8l r_ = (v);                                                                  \
    r_ = r_ & ND_HALF(r_, 4, 5, 6, 7, 0, 1, 2, 3);                                    \
    r_ = r_ & ND_HALF(r_, 2, 3, 0, 1, 6, 7, 4, 5);                                    \
    r_ = r_ & ND_HALF(r_, 1, 0, 3, 2, 5, 4, 7, 6);                                    \
    r_[0]; })

/* ``mode``: 1 (step 1), 2 (step 2) or 0 (any step); a constant where inlined.
 * Blocks start at windows 0, 8, 16, ...; the last one at nw - 8, where nw is
 * not a multiple of 8: it draws some windows again, the same draws, so that
 * no window of the run is left to the one-window loop. */
#define ND_DRAW8_BODY(T, V, SUF)                                                      \
static inline __attribute__((always_inline)) intptr_t nd_draw8_body_##SUF(           \
    const T* __restrict__ xb, intptr_t base, intptr_t step, intptr_t nw,              \
    const intptr_t* __restrict__ tap, intptr_t n, const double* __restrict__ u,       \
    T* __restrict__ y, intptr_t* __restrict__ idx, int with_index, int mode)          \
{                                                                                     \
    const nd_v8d z = {0, 0, 0, 0, 0, 0, 0, 0};                                        \
    const nd_v8l nn = {n, n, n, n, n, n, n, n}, z3 = {0, 0, 0, 0, 0, 0, 0, 0};       \
    nd_v8d run[ND_DRAW_TAPS];                         /* the running sums, by tap */  \
    intptr_t i0 = 0, k, j;                                                            \
    if (n > ND_DRAW_TAPS)                                                             \
        return 0;                                                                     \
    while (i0 < nw) {                                                                 \
        intptr_t at = i0 + 8 <= nw ? i0 : nw - 8;                                     \
        const T* p = xb + base + at * step;                                           \
        nd_v8d s = z, t;                                                              \
        V h = {0}, a;                                                                 \
        nd_v8l c = {0, 0, 0, 0, 0, 0, 0, 0}, ok;                                      \
        for (k = 0; k < n; k++) {                                                     \
            a = nd_lanes_##SUF(p + tap[k], step, mode);                               \
            h = h + a;                                                                \
            s = s + nd_wide_##SUF(nd_pos_##SUF(a));                                   \
            run[k] = s;                                                               \
        }                                                                             \
        memcpy(&t, u + at, sizeof t);                                                 \
        t = t * s;                                                                    \
        for (k = 0; k < n; k++)                                                       \
            c = c - (nd_v8l)(run[k] <= t);                                            \
        /* one test for the block, 3 in every lane: finite (h - h is 0 where h,  */   \
        /* the plain sum, is finite: where every tap is, unless the taps         */   \
        /* overflow it: declined, drawn one by one), with mass, and a tap drawn  */   \
        /* (the compares as counts: GCC 12 builds a vector of the compares of    */   \
        /* the lanes one by one where their masks are combined by &)             */   \
        ok = z3 - (nd_v8l)(nd_wide_##SUF(h - h) <= z) - (nd_v8l)(s > z)               \
             - (nd_v8l)(c < nn);                                                      \
        if (ND_ALL(ok) != 3)                                                          \
            return i0;                                                                \
        for (j = 0; j < 8; j++) {                                                     \
            intptr_t q = j * step + tap[c[j]];                                        \
            y[at + j] = p[q];                                                         \
            if (with_index)                                                           \
                idx[at + j] = base + at * step + q;                                   \
        }                                                                             \
        i0 = at + 8;                                                                  \
    }                                                                                 \
    return nw;                                                                        \
}                                                                                     \
                                                                                      \
ND_DRAW_CLONES static intptr_t nd_draw8_##SUF(const T* xb, intptr_t base,            \
                                              intptr_t step, intptr_t nw,             \
                                              const intptr_t* tap, intptr_t n,        \
                                              const double* u, T* y, intptr_t* idx,   \
                                              int with_index)                         \
{                                                                                     \
    if (step == 2)                                                                    \
        return nd_draw8_body_##SUF(xb, base, step, nw, tap, n, u, y, idx,             \
                                   with_index, 2);                                    \
    if (step == 1)                                                                    \
        return nd_draw8_body_##SUF(xb, base, step, nw, tap, n, u, y, idx,             \
                                   with_index, 1);                                    \
    return nd_draw8_body_##SUF(xb, base, step, nw, tap, n, u, y, idx,                 \
                               with_index, 0);                                        \
}

ND_DRAW8_BODY(float, nd_v8f, f32)
ND_DRAW8_BODY(double, nd_v8d, f64)

#else

#define ND_DRAW8_NONE(T, SUF)                                                         \
static intptr_t nd_draw8_##SUF(const T* xb, intptr_t base, intptr_t step, intptr_t nw, \
                               const intptr_t* tap, intptr_t n, const double* u, T* y, \
                               intptr_t* idx, int with_index)                         \
{                                                                                     \
    (void)xb; (void)base; (void)step; (void)nw; (void)tap; (void)n; (void)u;          \
    (void)y; (void)idx; (void)with_index;                                             \
    return 0;                                                                         \
}

ND_DRAW8_NONE(float, f32)
ND_DRAW8_NONE(double, f64)

#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

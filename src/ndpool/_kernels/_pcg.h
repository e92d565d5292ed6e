/* NumPy's PCG64 and PCG64DXSM streams, as float64 uniforms, from any point.
 *
 * Both are 128-bit linear congruential generators, state <- mult * state + inc
 * (mod 2**128), that differ in the multiplier and the output function:
 *
 *   PCG64      mult = 0x2360ED051FC65DA44385DF649FCCF645; steps, then outputs
 *              the new state's "XSL RR": (high ^ low) rotated right by the top
 *              six bits of the state.
 *   PCG64DXSM  mult = 0xDA942042E4DD58B5 ("cheap", 64 bits); outputs the state
 *              before the step, "DXSM": hi ^= hi >> 32, hi *= cheap,
 *              hi ^= hi >> 48, hi *= (low | 1).
 *
 * A float64 uniform is (64-bit output >> 11) * 2**-53, as Generator.random()
 * takes it.  Writing p_i for the state before draw i, draw i is a function of
 * p_i alone, and p_{i+k} = A_k p_i + C_k with A_k = mult**k and
 * C_k = inc (mult**(k-1) + ... + 1), which nd_pcg_jump computes in O(log k)
 * squarings (Brown, "Random number generation with arbitrary strides", 1994):
 * any thread starts its part of one stream where the draw before it ended.
 *
 * nd_pcg_run keeps four states a draw apart and moves each by four draws
 * (A_4, C_4): four independent chains of multiplications instead of one, whose
 * latency bounds a single chain.  The draws are the same numbers in the same
 * order.
 *
 * Needs a compiler with unsigned __int128 (GCC, Clang): ND_HAVE_PCG is 0
 * without one, and the callers use NumPy's own generator instead.
 */
#ifndef NDPOOL_PCG_H
#define NDPOOL_PCG_H

#include <stdint.h>

#if defined(__SIZEOF_INT128__)
#define ND_HAVE_PCG 1

typedef unsigned __int128 nd_u128;

#define ND_U128(hi, lo) (((nd_u128)(uint64_t)(hi) << 64) | (nd_u128)(uint64_t)(lo))
#define ND_PCG64_MULT ND_U128(0x2360ED051FC65DA4ULL, 0x4385DF649FCCF645ULL)
#define ND_PCG_CHEAP 0xDA942042E4DD58B5ULL

/* The affine map of k steps: p -> (*a) p + (*c). */
static inline void nd_pcg_jump(uint64_t k, nd_u128 mult, nd_u128 inc,
                               nd_u128* a, nd_u128* c)
{
    nd_u128 acc_a = 1, acc_c = 0, cur_a = mult, cur_c = inc;
    while (k) {
        if (k & 1) {
            acc_a = acc_a * cur_a;
            acc_c = acc_c * cur_a + cur_c;
        }
        cur_c = (cur_a + 1) * cur_c;
        cur_a = cur_a * cur_a;
        k >>= 1;
    }
    *a = acc_a;
    *c = acc_c;
}

static inline uint64_t nd_pcg_xslrr(nd_u128 s)
{
    uint64_t v = (uint64_t)(s >> 64) ^ (uint64_t)s;
    unsigned r = (unsigned)(s >> 122);
    return (v >> r) | (v << ((64 - r) & 63));
}

static inline uint64_t nd_pcg_dxsm(nd_u128 s)
{
    uint64_t hi = (uint64_t)(s >> 64), lo = (uint64_t)s | 1;
    hi ^= hi >> 32;
    hi *= ND_PCG_CHEAP;
    hi ^= hi >> 48;
    return hi * lo;
}

static inline double nd_pcg_unit(uint64_t v)
{
    return (double)(int64_t)(v >> 11) * (1.0 / 9007199254740992.0);
}

/* Draws i = 0 .. n - 1 from the state p0 before draw 0, into out; p0 is left
 * as the state after them.  dxsm is a constant at each call. */
static inline __attribute__((always_inline)) void
nd_pcg_run(nd_u128* state, nd_u128 mult, nd_u128 inc, const int dxsm, double* out,
           intptr_t n)
{
    nd_u128 p0 = *state, p1, p2, p3, a4, c4;
    intptr_t i = 0;
    if (n >= 8) {
        nd_pcg_jump(4, mult, inc, &a4, &c4);
        p1 = mult * p0 + inc;
        p2 = mult * p1 + inc;
        p3 = mult * p2 + inc;
        for (; i + 4 <= n; i += 4) {   /* p0 .. p3: the states before draws i .. i+3 */
            if (dxsm) {
                out[i] = nd_pcg_unit(nd_pcg_dxsm(p0));
                out[i + 1] = nd_pcg_unit(nd_pcg_dxsm(p1));
                out[i + 2] = nd_pcg_unit(nd_pcg_dxsm(p2));
                out[i + 3] = nd_pcg_unit(nd_pcg_dxsm(p3));
            } else {                   /* PCG64: the state after the draw's step */
                out[i] = nd_pcg_unit(nd_pcg_xslrr(p1));
                out[i + 1] = nd_pcg_unit(nd_pcg_xslrr(p2));
                out[i + 2] = nd_pcg_unit(nd_pcg_xslrr(p3));
            }
            p0 = a4 * p0 + c4;
            p1 = a4 * p1 + c4;
            p2 = a4 * p2 + c4;
            p3 = a4 * p3 + c4;
            if (!dxsm)
                out[i + 3] = nd_pcg_unit(nd_pcg_xslrr(p0));
        }
    }
    for (; i < n; i++) {
        if (dxsm)
            out[i] = nd_pcg_unit(nd_pcg_dxsm(p0));
        p0 = mult * p0 + inc;
        if (!dxsm)
            out[i] = nd_pcg_unit(nd_pcg_xslrr(p0));
    }
    *state = p0;
}

/* Draws `first` to `first + n - 1` of the stream whose state before draw 0 is
 * (state_hi, state_lo), with increment (inc_hi, inc_lo), into out. */
static void nd_pcg_fill(uint64_t state_hi, uint64_t state_lo, uint64_t inc_hi,
                        uint64_t inc_lo, int dxsm, uint64_t first, double* out,
                        intptr_t n)
{
    nd_u128 mult = dxsm ? (nd_u128)ND_PCG_CHEAP : ND_PCG64_MULT;
    nd_u128 inc = ND_U128(inc_hi, inc_lo), a, c, p;
    nd_pcg_jump(first, mult, inc, &a, &c);
    p = a * ND_U128(state_hi, state_lo) + c;
    if (dxsm)
        nd_pcg_run(&p, mult, inc, 1, out, n);
    else
        nd_pcg_run(&p, mult, inc, 0, out, n);
}

/* A stream that a kernel's thread draws from as it goes: nd_pcg_at puts it
 * before draw `first` of the stream words = (state_hi, state_lo, inc_hi,
 * inc_lo, dxsm) describe (as _kernels.variates takes them), and each
 * nd_pcg_next writes the next n draws and moves past them. */
typedef struct { nd_u128 state, mult, inc; int dxsm; } nd_pcg;

static inline void nd_pcg_at(nd_pcg* g, const uint64_t* words, uint64_t first)
{
    nd_u128 a, c;
    g->dxsm = words[4] != 0;
    g->mult = g->dxsm ? (nd_u128)ND_PCG_CHEAP : ND_PCG64_MULT;
    g->inc = ND_U128(words[2], words[3]);
    nd_pcg_jump(first, g->mult, g->inc, &a, &c);
    g->state = a * ND_U128(words[0], words[1]) + c;
}

static inline void nd_pcg_next(nd_pcg* g, double* out, intptr_t n)
{
    if (g->dxsm)
        nd_pcg_run(&g->state, g->mult, g->inc, 1, out, n);
    else
        nd_pcg_run(&g->state, g->mult, g->inc, 0, out, n);
}

#else
#define ND_HAVE_PCG 0
typedef struct { int unused; } nd_pcg;
static inline void nd_pcg_at(nd_pcg* g, const uint64_t* words, uint64_t first)
{
    (void)g; (void)words; (void)first;
}
static inline void nd_pcg_next(nd_pcg* g, double* out, intptr_t n)
{
    (void)g; (void)out; (void)n;
}
static void nd_pcg_fill(uint64_t state_hi, uint64_t state_lo, uint64_t inc_hi,
                        uint64_t inc_lo, int dxsm, uint64_t first, double* out,
                        intptr_t n)
{
    (void)state_hi; (void)state_lo; (void)inc_hi; (void)inc_lo; (void)dxsm;
    (void)first; (void)out; (void)n;
}
#endif

#endif

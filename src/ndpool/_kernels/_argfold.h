/* One tap of a max (or min) pass that records where its winners came from
 * (window.pyx's arg_extremum_pass), for float32 and float64 rows of pixels:
 *
 *   for each i < inner: if better(xp[i], y[i]): y[i] = xp[i], yi[i] = p
 *
 * ``better`` is PyTorch's rule (a greater value, or any NaN, which therefore
 * propagates, the window's last NaN being the one reported).  Written in C so
 * that it can be compiled without trapping math: GCC then turns the two
 * conditional stores into selects and vectorises the loop, where the Cython
 * loop compiled to compare-and-jump code whose jumps, on random data, were
 * mispredicted about half the time.  Compiled as AVX-512, AVX2 and baseline
 * clones, like _vexp.h's loops.  The selects change no result.
 *
 * nd_arg_row_* takes a row of single elements' windows from the tables, one
 * window at a time; nd_arg_regular_* its whole, evenly spaced windows side by
 * side (max_pool with indices, 3x3 stride 2 on a float32 batch, one thread:
 * the row pass took 29 ms from the tables and 7 ms so, in C alone).
 */
#ifndef NDPOOL_ARGFOLD_H
#define NDPOOL_ARGFOLD_H

#include <stdint.h>
#include <string.h>
#include "_vexp.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#define ND_ARG_FOLD(T, SUF)                                                           \
ND_CLONES static void nd_arg_fold_##SUF(const T* xp, T* y, intptr_t* yi, intptr_t p,  \
                                       intptr_t inner, int is_min)                    \
{                                                                                     \
    intptr_t i;                                                                       \
    if (is_min) {                                                                     \
        for (i = 0; i < inner; i++) {                                                 \
            T v = xp[i], b = y[i];                                                    \
            int bt = (v < b) | (v != v);                                              \
            y[i] = bt ? v : b;                                                        \
            yi[i] = bt ? p : yi[i];                                                   \
        }                                                                             \
    } else {                                                                          \
        for (i = 0; i < inner; i++) {                                                 \
            T v = xp[i], b = y[i];                                                    \
            int bt = (v > b) | (v != v);                                              \
            y[i] = bt ? v : b;                                                        \
            yi[i] = bt ? p : yi[i];                                                   \
        }                                                                             \
    }                                                                                 \
}

ND_ARG_FOLD(float, f32)
ND_ARG_FOLD(double, f64)

/* Windows o0 <= o < o1 of a row of single elements (inner == 1), from the
 * row's tables: the winner's value into y[o] and its flat index,
 * p * index_stride + xi[p] (xi NULL: p * index_stride), into yi[o].  Per
 * window a scalar chain whose compares are selects, not jumps. */
#define ND_ARG_ROW(T, U, SUF)                                                         \
ND_CLONES static void nd_arg_row_##SUF(const T* x, const intptr_t* xi, T* y,          \
                                      intptr_t* yi, const intptr_t* st,               \
                                      const intptr_t* ct, intptr_t o0, intptr_t o1,   \
                                      intptr_t dil, intptr_t index_stride, int is_min)\
{                                                                                     \
    intptr_t o, j;                                                                    \
    for (o = o0; o < o1; o++) {                                                       \
        intptr_t s = st[o], c = ct[o], p = s;                                         \
        T b;                                                                          \
        if (c == 0) { y[o] = 0; yi[o] = -1; continue; }                               \
        b = x[s];                                                                     \
        for (j = 1; j < c; j++) {                                                     \
            intptr_t q = s + j * dil;                                                 \
            T v = x[q];                                                               \
            int bt = (is_min ? (v < b) : (v > b)) | (v != v);                         \
            U m = (U)0 - (U)bt;                                                       \
            uintptr_t mp = (uintptr_t)0 - (uintptr_t)bt;                              \
            U vb, bb;                                                                 \
            memcpy(&vb, &v, sizeof(T));                                               \
            memcpy(&bb, &b, sizeof(T));                                               \
            bb = (vb & m) | (bb & ~m);           /* bit selects: no jumps */          \
            memcpy(&b, &bb, sizeof(T));                                               \
            p = (intptr_t)(((uintptr_t)q & mp) | ((uintptr_t)p & ~mp));               \
        }                                                                             \
        y[o] = b;                                                                     \
        yi[o] = p * index_stride + (xi ? xi[p] : 0);                                  \
    }                                                                                 \
}

ND_ARG_ROW(float, uint32_t, f32)
ND_ARG_ROW(double, uint64_t, f64)

/* nd_arg_row_*'s whole windows o0 <= o < o1 at a regular stride: window o's k
 * taps are x[off + o * stride + j * dil], j < k (start and count from the plan
 * instead of its tables).  The same picks in the same order, written with
 * selects over the windows, so that windows run side by side: undilated
 * windows of 2 or 3 taps at stride 2 (the pools' usual ones) and of 3 at
 * stride 1 have the geometry as constants and vectorise with vector loads;
 * others run the loop as it is.  xi's values at the taps are picked with them. */
#define ND_ARG_REG_LOOP(T, S, K, D)                                                   \
    for (o = o0; o < o1; o++) {                                                       \
        intptr_t s = off + o * (S), p = s;                                            \
        T b = x[s];                                                                   \
        intptr_t bi = xi ? xi[s] : 0;                                                 \
        for (j = 1; j < (K); j++) {                                                   \
            intptr_t q = s + j * (D);                                                 \
            T v = x[q];                                                               \
            int bt = (is_min ? (v < b) : (v > b)) | (v != v);                         \
            b = bt ? v : b;                                                           \
            p = bt ? q : p;                                                           \
            if (xi)                                                                   \
                bi = bt ? xi[q] : bi;                                                 \
        }                                                                             \
        y[o] = b;                                                                     \
        yi[o] = p * index_stride + bi;                                                \
    }

#define ND_ARG_REGULAR(T, SUF)                                                        \
ND_CLONES static void nd_arg_regular_##SUF(const T* x, const intptr_t* xi, T* y,      \
                                          intptr_t* yi, intptr_t o0, intptr_t o1,     \
                                          intptr_t off, intptr_t stride, intptr_t k,  \
                                          intptr_t dil, intptr_t index_stride,        \
                                          int is_min)                                 \
{                                                                                     \
    intptr_t o, j;                                                                    \
    if (stride == 2 && dil == 1 && k == 3 && !xi) {                                   \
        if (is_min) { ND_ARG_REG_LOOP(T, 2, 3, 1) }                                   \
        else { ND_ARG_REG_LOOP(T, 2, 3, 1) }                                          \
    } else if (stride == 2 && dil == 1 && k == 2 && !xi) {                            \
        if (is_min) { ND_ARG_REG_LOOP(T, 2, 2, 1) }                                   \
        else { ND_ARG_REG_LOOP(T, 2, 2, 1) }                                          \
    } else if (stride == 1 && dil == 1 && k == 3 && !xi) {                            \
        if (is_min) { ND_ARG_REG_LOOP(T, 1, 3, 1) }                                   \
        else { ND_ARG_REG_LOOP(T, 1, 3, 1) }                                          \
    } else {                                                                          \
        ND_ARG_REG_LOOP(T, stride, k, dil)                                            \
    }                                                                                 \
}

ND_ARG_REGULAR(float, f32)
ND_ARG_REGULAR(double, f64)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif

/* _scan.h's blocked row scans against its one-row scan (ND_SCAN_ROW), byte for
 * byte: random widths, row counts, row strides and both directions, on values
 * with NaNs of distinct payloads and zeros of both signs.  Built and run by
 * test_scan_header.py; prints the number of cases that differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "_scan.h"

#define ROWS 20
#define COLS 45

static uint64_t state = 88172645463325252ull;
static uint64_t next(void) {          /* xorshift64 */
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return state;
}

int main(void) {
    static float v[ROWS * COLS], r1[ROWS * COLS], r2[ROWS * COLS];
    static double dv[ROWS * COLS], d1[ROWS * COLS], d2[ROWS * COLS];
    int it, i, k, bad = 0;
    for (it = 0; it < 4000; it++) {
        ptrdiff_t w = 1 + next() % 40, nr = 1 + next() % ROWS, vs = w + next() % 3;
        int rev = next() % 2;
        for (i = 0; i < ROWS * COLS; i++) {
            uint64_t t = next() % 20;
            float x = (float)((int)(next() % 200) - 100) / 7.0f;
            double d = x;
            if (t == 0) {                       /* a quiet NaN with its own payload */
                uint32_t u = 0x7fc00000u | (uint32_t)(next() % 100000);
                uint64_t ud = 0x7ff8000000000000ull | (next() % 100000);
                memcpy(&x, &u, 4);
                memcpy(&d, &ud, 8);
            } else if (t == 1) {
                x = -0.0f; d = -0.0;
            } else if (t == 2) {
                x = 0.0f; d = 0.0;
            }
            v[i] = x;
            dv[i] = d;
        }
        memset(r1, 0, sizeof r1); memset(r2, 0, sizeof r2);
        memset(d1, 0, sizeof d1); memset(d2, 0, sizeof d2);
        nd_scan_max_f32(v, vs, r1, w, nr, w, rev);
        nd_scan_max_f64(dv, vs, d1, w, nr, w, rev);
        for (k = 0; k < nr; k++) {
            ND_SCAN_ROW(float, v + k * vs, r2 + k * w, w, rev);
            ND_SCAN_ROW(double, dv + k * vs, d2 + k * w, w, rev);
        }
        bad += memcmp(r1, r2, sizeof r1) != 0 || memcmp(d1, d2, sizeof d1) != 0;
    }
    printf("%d\n", bad);
    return 0;
}

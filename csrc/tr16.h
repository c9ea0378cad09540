/* tr16.h -- a 16 x 16 transpose of 32-bit values held in AVX-512 registers, shared by the float32 kernels' packing
 * of W^T (gemm.inc) and the bf16 training step's packs (bf16_train.c, which moves bf16 pairs through it as float
 * bits: every instruction here is a pure move), and an 8 x 8 one of doubles (the float64 kernels' few rows). x86 with GCC or Clang only; include after <immintrin.h>. */
#ifndef FM_TR16_H
#define FM_TR16_H

/* r[c][l] = r[l][c] for l, c < 16 (in registers: 64 shuffles) */
static inline __attribute__((always_inline, target("avx512f"))) void fm_tr16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* r[i + c]: per 128-bit lane L, rows i..i+3 at column 4L + c */
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) { /* u[c], u[4+c]: lanes 0,2 / 1,3 of r[c], r[4+c]; u[8+c], u[12+c]: of r[8+c], r[12+c] */
        u[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        u[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
        u[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        u[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
    }
    for (int c = 0; c < 4; c++) { /* column 4L + c = lane L of r[c], r[4+c], r[8+c], r[12+c] */
        r[c] = _mm512_shuffle_f32x4(u[c], u[8 + c], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(u[c], u[8 + c], 0xDD);
        r[4 + c] = _mm512_shuffle_f32x4(u[4 + c], u[12 + c], 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(u[4 + c], u[12 + c], 0xDD);
    }
}

/* the same for an 8 x 8 block of doubles: r[c][l] = r[l][c] for l, c < 8 (24 shuffles) */
static inline __attribute__((always_inline, target("avx512f"))) void fm_tr8d(__m512d r[8]) {
    __m512d t[8], u[8];
    for (int i = 0; i < 8; i += 2) { /* per 128-bit lane L: t[i] = r[i][2L], r[i+1][2L]; t[i+1] the same at 2L + 1 */
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    for (int c = 0; c < 2; c++) { /* u[c], u[2+c]: lanes 0,2 / 1,3 of t[c], t[2+c]; u[4+c], u[6+c]: of t[4+c], t[6+c] */
        u[c] = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x88);
        u[2 + c] = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xDD);
        u[4 + c] = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x88);
        u[6 + c] = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xDD);
    }
    for (int c = 0; c < 2; c++) { /* column 2L + c = lane L of t[c], t[2+c], t[4+c], t[6+c] */
        r[c] = _mm512_shuffle_f64x2(u[c], u[4 + c], 0x88);
        r[4 + c] = _mm512_shuffle_f64x2(u[c], u[4 + c], 0xDD);
        r[2 + c] = _mm512_shuffle_f64x2(u[2 + c], u[6 + c], 0x88);
        r[6 + c] = _mm512_shuffle_f64x2(u[2 + c], u[6 + c], 0xDD);
    }
}

#endif /* FM_TR16_H */

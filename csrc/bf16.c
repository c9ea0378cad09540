/* bf16.c -- bfloat16 weights with float32 accumulation: conversions, the packed layout and the layer forward
 * (see fastmlp.h, "bf16.c").
 *
 * The product is defined by one instruction, VDPBF16PS (AVX512_BF16, Intel SDM): per float32 lane j
 *     acc = acc + f32(a[2j+1]) * f32(b[2j+1]);   acc = acc + f32(a[2j]) * f32(b[2j])
 * each product exact (8-bit by 8-bit significands), each addition rounded to nearest even, bf16 denormal inputs
 * and the accumulator read as zero (DAZ), results that are tiny *after* rounding (to 24 bits, exponent unbounded)
 * flushed to a zero of their sign (FTZ); MXCSR is neither read nor written. Checked on this project's Intel machine
 * (csrc/tests/test_fastmlp.c compares the instruction with fm_bf16_step below on crafted and random operands).
 * Where the CPU has the instruction (and the AVX-512 path runs: FASTMLP_ISA=avx2/baseline/naive turn it off),
 * bf16_native.inc uses it; elsewhere the emulated kernel computes the same two roundings per step in double
 * precision: the product is exact in double, and rounding the double sum to float gives the correctly rounded
 * float sum (53 >= 2*24 + 2 bits: the second rounding never changes the first, Figueroa 1995). So every path
 * gives the same bits, and each output is one chain over the input pairs in increasing order, whatever the
 * tiling, the batch position or the thread count.
 *
 * Activations are computed in double from the float pre-activation and rounded to float (the reference twin
 * does the same with the same libm), so outputs equal reference/bf16.py bit for bit. */
#include "internal.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define FM_BF16_X86 1
#include <immintrin.h>
#else
#define FM_BF16_X86 0
#endif

/* packed layout (fastmlp.h): panels of FM_BF_L outputs, FM_BF_G panels per group, input pairs interleaved */
#define FM_BF_L 16
#define FM_BF_G 4
/* input pairs per block (the x block converted to bf16 lives on the stack: FM_BF_RB rows of it) */
#define FM_BF_KC 128
/* values after the packed weights: a summary of W's exponents (see fm_dense_pack_bf16) */
#define FM_BF_TRAILER 32
/* rows per work item (a multiple of the native tile's 6 rows) and groups per work item */
#define FM_BF_RB 48
#define FM_BF_CB 4

/* ---- which path runs ---- */
enum { FM_BF16_EMULATED = 0, FM_BF16_NATIVE = 1 };

/* The rule (fm_bf16_path_for; twin: reference/bf16.py): bit 0 the instruction (FM_BF16_NATIVE) where the kernel
 * path is avx512 and the CPU has AVX512_BF16; bits 1-2 the exact float32 tiles, 2 on the avx512 path (AVX-512F), 1
 * on avx2 (AVX2 + FMA), 0 elsewhere or with nofma. -1 for an unknown path. (The avx2/avx512 paths exist only on
 * x86-64, where bf16_native.inc is compiled.) */
static int fm_bf16_kind_for(const char *cpu_path, int has_bf16, int nofma) {
    const int avx512 = !strcmp(cpu_path, "avx512"), avx2 = !strcmp(cpu_path, "avx2");
    if (!avx512 && !avx2 && strcmp(cpu_path, "baseline") && strcmp(cpu_path, "naive")) return -1;
    const int native = has_bf16 && avx512 ? FM_BF16_NATIVE : FM_BF16_EMULATED;
    const int fma = nofma ? 0 : avx512 ? 2 : avx2 ? 1 : 0;
    return native | fma << 1;
}

static const char *fm_bf16_name(int kind) {
    static const char *names[] = {"emulated", "vdpbf16ps", "emulated+fma", "vdpbf16ps+fma"};
    return names[(kind & 1) | (kind >> 1 ? 2 : 0)];
}

int fm_bf16_path_for(const char *cpu_path, const char **name, int has_bf16, int nofma) {
    if (!cpu_path || !name) return FM_ENULL;
    const int kind = fm_bf16_kind_for(cpu_path, has_bf16, nofma);
    if (kind < 0) return FM_EVALUE;
    *name = fm_bf16_name(kind);
    return FM_OK;
}

/* this CPU: the instruction (x86-64 with AVX-512F and AVX512_BF16) */
static int fm_bf16_cpu_has(void) {
#if FM_BF16_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

/* the rule on this CPU, its kernel path and FASTMLP_BF16, decided once */
static int fm_bf16_kind(void) {
    static int cached = -1;
    int k = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (k < 0) {
        const char *env = fmi_env(FMI_ENV_BF16);
        k = fm_bf16_kind_for(fm_cpu_path(), fm_bf16_cpu_has(), env && !strcmp(env, "nofma"));
        __atomic_store_n(&cached, k, __ATOMIC_RELAXED);
    }
    return k;
}

const char *fm_bf16_path(void) { return fm_bf16_name(fm_bf16_kind()); }

/* ---- conversions ---- */

/* float32 -> bf16 as VCVTNEPS2BF16 does it: round to nearest even on the bits; NaN stays NaN (made quiet, sign and
 * top payload kept); zero and denormal inputs give a zero of their sign; values past the largest bf16 give Inf. */
static inline uint16_t fm_bf16_round(uint32_t u) {
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

int fm_float_to_bf16(const float *x, uint16_t *y, size_t n) {
    size_t t;
    if (!x || !y) return FM_ENULL;
    if (n == 0) return FM_ESIZE;
    if (fm_mul_size(n, 4, &t)) return FM_EOVERFLOW;
    if (fm_overlap(x, n * sizeof *x, y, n * sizeof *y)) return FM_EOVERLAP;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        y[i] = fm_bf16_round(u);
    }
    return FM_OK;
}

int fm_bf16_to_float(const uint16_t *x, float *y, size_t n) {
    size_t t;
    if (!x || !y) return FM_ENULL;
    if (n == 0) return FM_ESIZE;
    if (fm_mul_size(n, 4, &t)) return FM_EOVERFLOW;
    if (fm_overlap(x, n * sizeof *x, y, n * sizeof *y)) return FM_EOVERLAP;
    for (size_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)x[i] << 16;
        memcpy(y + i, &u, sizeof u);
    }
    return FM_OK;
}

/* ---- the packed layout ---- */

static int fm_bf16_sizes(size_t n, size_t n_in, size_t n_out, size_t *count) {
    size_t t;
    int rc = fm_check_sizes(n, n_in, n_out);
    if (rc) return rc;
    const size_t pairs = n_in / 2 + (n_in & 1), outs = (n_out + FM_BF_L - 1) / FM_BF_L * FM_BF_L;
    if (fm_mul_size(pairs * 2, outs, &t) || t > (size_t)PTRDIFF_MAX / 8 - FM_BF_TRAILER) return FM_EOVERFLOW;
    if (count) *count = t + FM_BF_TRAILER;
    return FM_OK;
}

int fm_dense_packed_size_bf16(size_t *count, size_t n_in, size_t n_out) {
    if (!count) return FM_ENULL;
    return fm_bf16_sizes(1, n_in, n_out, count);
}

/* offset of group g (all groups before the last are full: FM_BF_G panels) */
static inline size_t fm_bf16_group_off(size_t g, size_t pairs) { return g * FM_BF_G * FM_BF_L * 2 * pairs; }

int fm_dense_pack_bf16(const uint16_t *W, uint16_t *Wp, size_t n_in, size_t n_out) {
    size_t count;
    if (!W || !Wp) return FM_ENULL;
    int rc = fm_bf16_sizes(1, n_in, n_out, &count);
    if (rc) return rc;
    if (fm_overlap(W, n_in * n_out * 2, Wp, count * 2)) return FM_EOVERLAP;
    const size_t pairs = n_in / 2 + (n_in & 1), panels = (n_out + FM_BF_L - 1) / FM_BF_L;
    for (size_t g = 0; g * FM_BF_G < panels; g++) {
        const size_t gw = panels - g * FM_BF_G < FM_BF_G ? panels - g * FM_BF_G : FM_BF_G;
        uint16_t *dst = Wp + fm_bf16_group_off(g, pairs);
        for (size_t q = 0; q < pairs; q++)
            for (size_t v = 0; v < gw; v++)
                for (size_t j = 0; j < FM_BF_L; j++)
                    for (size_t t = 0; t < 2; t++) {
                        const size_t o = (g * FM_BF_G + v) * FM_BF_L + j, k = 2 * q + t;
                        dst[((q * gw + v) * FM_BF_L + j) * 2 + t] = o < n_out && k < n_in ? W[o * n_in + k] : 0;
                    }
    }
    /* the trailer: the smallest and largest exponent field of W's nonzero values, and whether any is denormal,
     * Inf or NaN (then the exact float32 tiles are never used) */
    uint16_t *tr = Wp + count - FM_BF_TRAILER;
    unsigned emin = 255, emax = 0, odd = 0;
    for (size_t i = 0; i < n_in * n_out; i++) {
        const unsigned e = (W[i] >> 7) & 0xffu;
        const int nonzero = (W[i] & 0x7fffu) != 0;
        odd |= nonzero && (e == 0 || e == 255);
        if (nonzero && e < emin) emin = e;
        if (nonzero && e > emax) emax = e;
    }
    memset(tr, 0, FM_BF_TRAILER * sizeof *tr);
    tr[0] = (uint16_t)emin, tr[1] = (uint16_t)emax, tr[2] = (uint16_t)odd;
    return FM_OK;
}

/* ---- the arithmetic of one step, emulated ---- */

/* a bf16 as float, denormals read as zero (DAZ) */
static inline float fm_bf16_daz(uint16_t h) {
    const uint32_t u = (h & 0x7f80u) ? (uint32_t)h << 16 : (uint32_t)(h & 0x8000u) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* sums whose magnitude is below this round (to 24 bits, exponent unbounded) to below FLT_MIN: 2^-126 - 2^-151,
 * the midpoint between FLT_MIN and the largest 24-bit value under it (ties go to FLT_MIN, whose mantissa is even) */
#define FM_BF16_TINY 0x1.ffffffp-127

/* acc + a*b as one VDPBF16PS step: exact product, sum rounded once to float (through double, see the top),
 * a result tiny after rounding flushed to a zero of its sign. acc is never denormal here (it starts at +0 and
 * every step flushes), so its DAZ is a no-op. */
static inline float fm_bf16_step(float acc, uint16_t a, uint16_t b) {
    const double s = (double)acc + (double)fm_bf16_daz(a) * (double)fm_bf16_daz(b);
    const float r = (float)s;
    return fabs(s) < FM_BF16_TINY ? copysignf(0.0f, r) : r;
}

/* the activation of the float pre-activation z, computed in double, rounded to float (as reference/bf16.py) */
static inline float fm_bf16_act(float z, fm_act act) {
    switch (act) {
    case FM_ACT_RELU: return z > 0.0f ? z : 0.0f;
    case FM_ACT_SIGMOID: {
        const double d = (double)z;
        if (d >= 0.0) return (float)(1.0 / (1.0 + exp(-d)));
        const double e = exp(d);
        return (float)(e / (1.0 + e));
    }
    case FM_ACT_TANH: return (float)tanh((double)z);
    default: return z;
    }
}

/* xb[r][q] = the bf16 pair (x[r][2(q0+q)], x[r][2(q0+q)+1]) as one 32-bit word (low half the even input; an odd
 * n_in's last pair has a zero high half), for rows r < mr and pairs q < nq */
static void fm_bf16_convert_block(const float *x, size_t n_in, size_t mr, size_t q0, size_t nq, uint32_t *xb) {
    for (size_t r = 0; r < mr; r++) {
        const float *xr = x + r * n_in;
        for (size_t q = 0; q < nq; q++) {
            const size_t k = 2 * (q0 + q);
            uint32_t lo, hi = 0;
            memcpy(&lo, xr + k, sizeof lo);
            if (k + 1 < n_in) memcpy(&hi, xr + k + 1, sizeof hi);
            xb[r * FM_BF_KC + q] = (uint32_t)fm_bf16_round(lo) | (uint32_t)fm_bf16_round(hi) << 16;
        }
    }
}

/* the epilogue of one output: z = acc + b (float), then the activation */
static inline float fm_bf16_out(float acc, const float *b, size_t o, fm_act act) {
    const float z = b ? acc + b[o] : acc;
    return fm_bf16_act(z, act);
}

/* Emulated item: rows [r0, r1), groups [g0, g1). Outputs hold the raw sums between input blocks. */
static void fm_bf16_item_emulated(const float *x, const uint16_t *Wp, const float *b, float *p, size_t n_in,
                                  size_t n_out, fm_act act, size_t r0, size_t r1, size_t g0, size_t g1) {
    uint32_t xb[FM_BF_KC];
    const size_t pairs = n_in / 2 + (n_in & 1), panels = (n_out + FM_BF_L - 1) / FM_BF_L;
    for (size_t i = r0; i < r1; i++) {
        float *pi = p + i * n_out;
        for (size_t q0 = 0; q0 < pairs; q0 += FM_BF_KC) {
            const size_t nq = pairs - q0 < FM_BF_KC ? pairs - q0 : FM_BF_KC;
            const int last = q0 + nq == pairs;
            fm_bf16_convert_block(x + i * n_in, n_in, 1, q0, nq, xb);
            for (size_t g = g0; g < g1; g++) {
                const size_t gw = panels - g * FM_BF_G < FM_BF_G ? panels - g * FM_BF_G : FM_BF_G;
                const uint16_t *wg = Wp + fm_bf16_group_off(g, pairs);
                for (size_t v = 0; v < gw; v++) {
                    const size_t o0 = (g * FM_BF_G + v) * FM_BF_L;
                    const size_t nj = n_out - o0 < FM_BF_L ? n_out - o0 : FM_BF_L;
                    float acc[FM_BF_L];
                    for (size_t j = 0; j < FM_BF_L; j++) acc[j] = q0 == 0 || j >= nj ? 0.0f : pi[o0 + j];
                    for (size_t q = 0; q < nq; q++) {
                        const uint16_t *w = wg + ((q0 + q) * gw + v) * FM_BF_L * 2;
                        const uint16_t x0 = (uint16_t)(xb[q] & 0xffffu), x1 = (uint16_t)(xb[q] >> 16);
                        for (size_t j = 0; j < FM_BF_L; j++)
                            acc[j] = fm_bf16_step(fm_bf16_step(acc[j], w[2 * j + 1], x1), w[2 * j], x0);
                    }
                    for (size_t j = 0; j < nj; j++) pi[o0 + j] = last ? fm_bf16_out(acc[j], b, o0 + j, act) : acc[j];
                }
            }
        }
    }
}

/* fm_bf16_exact (bf16_native.inc) is 1 when fused multiply-adds of float32 give the instruction's bits for rows
 * x[0..rows) against the W that the summary tr describes: every nonzero product is m * 2^(ex+ew-14) with m an integer (ex, ew the unbiased exponents
 * of the bf16 x and W values), so when ex_min + ew_min >= -112 every product and every partial sum is a multiple of
 * 2^-126 = FLT_MIN and a nonzero one is never tiny (nothing to flush); and when 2*pairs products below
 * 2^(ex_max+ew_max+2) cannot reach 2^127, no sum overflows. W's denormals, Inf and NaN (and x's) rule it out. */
/* the exponent field of bf16(x) as fm_bf16_round gives it, for x's that round to a nonzero finite bf16 or Inf */
static inline unsigned fm_bf16_field(uint32_t u) {
    u &= 0x7fffffffu;
    const unsigned e = (u + 0x7fffu + ((u >> 16) & 1u)) >> 23; /* 255 or 256 for Inf, NaN and what rounds to Inf */
    return e < 255 ? e : 255;
}

/* the rule of fm_bf16_exact (field_min/max: of x's nonzero bf16 values; 255/0 when there are none) */
static int fm_bf16_exact_rule(unsigned emin, unsigned emax, size_t n_in, const uint16_t *tr) {
    if (tr[2] || emax == 255) return 0;        /* W or x has a denormal, Inf or NaN */
    if (emax == 0 || tr[1] == 0) return 1;     /* every product is zero */
    unsigned lg = 0;
    while (((size_t)1 << lg) < n_in + 1) lg++; /* 2^lg >= 2 * pairs */
    return emin + tr[0] >= 142 && (int)(emax + tr[1]) - 254 + 2 + (int)lg <= 127;
}

#if FM_BF16_X86
#include "bf16_native.inc"
#endif

/* 1 when a finite x[i] rounds to a bf16 Inf (its magnitude's bits in [0x7f7f8000, 0x7f800000): from 0x1.fe8p127 =
 * 3.3961e38, the midpoint between the largest bf16 and 2^128, up): one pass that vectorises */
static int fm_bf16_overflows(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= ((u & 0x7fffffffu) - 0x7f7f8000u) < 0x8000u;
    }
    return bad != 0;
}

int fm_dense_forward_bf16(const float *x, const uint16_t *Wp, const float *b, float *p, size_t n, size_t n_in,
                          size_t n_out, fm_act act) {
    size_t count;
    if (!x || !Wp || !p) return FM_ENULL;
    int rc = fm_bf16_sizes(n, n_in, n_out, &count);
    if (rc) return rc;
    if (!fm_act_valid(act)) return FM_EENUM;
    const size_t pb = n * n_out * sizeof(float);
    if (fm_overlap(p, pb, x, n * n_in * sizeof(float)) || fm_overlap(p, pb, Wp, count * 2) ||
        fm_overlap(p, pb, b, n_out * sizeof(float)))
        return FM_EOVERLAP;
    if (fm_bf16_overflows(x, n * n_in)) return FM_EVALUE; /* a finite input must not become Inf */
    fmi_dense_forward_bf16(x, Wp, b, p, n, n_in, n_out, act);
    return FM_OK;
}

void fmi_dense_forward_bf16(const float *x, const uint16_t *Wp, const float *b, float *p, size_t n, size_t n_in,
                            size_t n_out, fm_act act) {
    const size_t panels = (n_out + FM_BF_L - 1) / FM_BF_L, groups = (panels + FM_BF_G - 1) / FM_BF_G;
    const size_t n_rb = (n + FM_BF_RB - 1) / FM_BF_RB, n_cb = (groups + FM_BF_CB - 1) / FM_BF_CB;
    const int kind = fm_bf16_kind(), native = kind & 1, fma = kind >> 1; /* fma: 2 AVX-512F, 1 AVX2 */
    const uint16_t *tr = Wp + (n_out + FM_BF_L - 1) / FM_BF_L * FM_BF_L * 2 * (n_in / 2 + (n_in & 1));
    (void)native, (void)fma, (void)tr;
    FM_FOR(n * n_in * n_out >= FM_PAR_MIN_WORK, it, n_rb * n_cb, {
        const size_t rb = (size_t)it / n_cb, cb = (size_t)it % n_cb;
        const size_t r0 = rb * FM_BF_RB, r1 = r0 + FM_BF_RB < n ? r0 + FM_BF_RB : n;
        const size_t g0 = cb * FM_BF_CB, g1 = g0 + FM_BF_CB < groups ? g0 + FM_BF_CB : groups;
#if FM_BF16_X86
        /* the float32 tiles where exact; with the instruction at hand, from 4 rows on (they widen W per block) */
        if (fma == 2 && (r1 - r0 >= 4 || !native) && fm_bf16_exact(x + r0 * n_in, r1 - r0, n_in, tr))
            fm_bf16_item_fma(x, Wp, b, p, n_in, n_out, act, r0, r1, g0, g1);
        else if (fma == 1 && fm_bf16_exact2(x + r0 * n_in, r1 - r0, n_in, tr))
            fm_bf16_item_fma2(x, Wp, b, p, n_in, n_out, act, r0, r1, g0, g1);
        else if (native)
            fm_bf16_item_native(x, Wp, b, p, n_in, n_out, act, r0, r1, g0, g1);
        else
#endif
            fm_bf16_item_emulated(x, Wp, b, p, n_in, n_out, act, r0, r1, g0, g1);
    });
}

/* bf16_train.c -- the dense products of the mixed-precision training step (fm_mlp_train_step_bf16, mlp.c).
 *
 * Each of the three products of a layer -- p = x W^T, dW = dz^T x, dx = dz W -- reads its two operands rounded to
 * bfloat16 (fm_float_to_bf16's rounding: to nearest even, denormals to zero) and sums the exact products in
 * float32. Everything else of the step stays float32: the bias, the activation and its derivative, the bias
 * gradient, the loss and the update of the float32 master weights.
 *
 * Three paths (fm_bf16_train_path; FASTMLP_BF16_TRAIN=amx|avx512bf16|emulated, read once, caps the choice):
 *   "amx"       Intel AMX tiles (TDPBF16PS): the operands are converted and packed into the tile layouts (A: rows
 *               of bf16, B: the VNNI layout, pairs of depth values interleaved), 32 x 32 blocks of the output are
 *               summed in four 16 x 16 float32 tiles over the whole depth, 32 values per instruction, in increasing
 *               depth. Threads split the output's column blocks, never the depth: one machine gives the same bits
 *               whatever the thread count. TDPBF16PS rounds inside an instruction in its own way (not as a chain
 *               of VDPBF16PS steps), so results agree with the twin to bf16 tolerance, not bit for bit.
 *   "avx512bf16" where AMX is not usable but the CPU has AVX512_BF16 (AMD Zen 4 and later; forced elsewhere by
 *               FASTMLP_BF16_TRAIN=avx512bf16): the same packed operands (A rows of bf16 pairs, B in the VNNI pair
 *               layout), VDPBF16PS on 8 x 32 register tiles of the output, each output one chain over the depth's
 *               pairs in increasing order from +0 (the instruction: the odd element's exact product added and
 *               rounded to float32, then the even one's; denormals in and out flushed). Threads split the column
 *               blocks, never the depth. Bit for bit the twin's (reference/bf16_train.py, path "avx512bf16"),
 *               which models the instruction as reference/bf16.py's bf16_step does.
 *   "emulated"  elsewhere (no AVX512_BF16, FASTMLP_ISA below avx512, or FASTMLP_BF16_TRAIN=emulated): the
 *               operands are rounded to bf16 into float32 copies and the float32 kernels of dense.c multiply them
 *               (each product of two bf16 values is exact in float32; the sums are those kernels' float32
 *               chains, deterministic as they are).
 * The kernels never allocate: the caller's workspace holds the packed operands (fmi_mixed_scratch_bytes) and each
 * layer's input in the backward's pairs, packed by the forward (fmi_mixed_pairs_bytes). */
#define _GNU_SOURCE 1 /* syscall() */
#include "internal.h"
#include "fexp.h"

#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__) && defined(__linux__) && \
    (__GNUC__ >= 11 || defined(__clang__))
#define FM_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include "tr16.h"
#include <unistd.h>
#else
#define FM_AMX 0
#endif

#define FM_MX_PAD ((size_t)32)

static inline size_t fm_up32(size_t v) { return (v + FM_MX_PAD - 1) & ~(FM_MX_PAD - 1); }

/* ---- which path runs ---- */
enum { FM_MIX_EMULATED = 0, FM_MIX_VDP = 1, FM_MIX_AMX = 2 };

/* The rule: FASTMLP_BF16_TRAIN ("amx", "avx512bf16", "emulated"; unset or any other value: "amx") is the highest
 * path allowed. Below the avx512 kernel path (FASTMLP_ISA lowered, or no AVX-512) or without AVX512_BW and
 * AVX512_BF16: emulated. Else amx where allowed, the CPU has AMX-BF16 and AMX-TILE and Linux grants the tile state;
 * else avx512bf16 where allowed; else emulated. */
static int fm_mix_detect(void) {
#if FM_AMX
    unsigned a = 0, b = 0, c = 0, d = 0;
    const char *env = fmi_env(FMI_ENV_BF16_TRAIN);
    const int cap = env && !strcmp(env, "emulated") ? FM_MIX_EMULATED
                    : env && !strcmp(env, "avx512bf16") ? FM_MIX_VDP : FM_MIX_AMX;
    if (strcmp(fm_cpu_path(), "avx512")) return FM_MIX_EMULATED; /* FASTMLP_ISA lowered, or no AVX-512 */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512bf16")) return FM_MIX_EMULATED;
    if (cap == FM_MIX_EMULATED) return FM_MIX_EMULATED;
    if (cap == FM_MIX_VDP) return FM_MIX_VDP;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return FM_MIX_VDP;
    if (!(d & (1u << 22)) || !(d & (1u << 24))) return FM_MIX_VDP; /* AMX-BF16, AMX-TILE */
    /* Linux hands out the 8 KB tile state only on request, once per process (ARCH_REQ_XCOMP_PERM for
     * XFEATURE_XTILEDATA); a refusal (old kernel, seccomp) leaves the avx512bf16 path */
    if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) return FM_MIX_VDP;
    return FM_MIX_AMX;
#else
    return FM_MIX_EMULATED;
#endif
}

static int fm_mix_path(void) {
    static int cached = -1;
    int p = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
    if (p < 0) {
        p = fm_mix_detect(); /* racing first calls make the same request and get the same answer */
        __atomic_store_n(&cached, p, __ATOMIC_RELEASE);
    }
    return p;
}

const char *fm_bf16_train_path(void) {
    const int p = fm_mix_path();
    return p == FM_MIX_AMX ? "amx" : p == FM_MIX_VDP ? "avx512bf16" : "emulated";
}

/* bytes of the packed operands of one layer of n rows (either path), FM_EOVERFLOW past the size limit */
int fmi_mixed_scratch_bytes(size_t n, size_t n_in, size_t n_out, size_t *bytes) {
    size_t a, b, c, t;
    const size_t n32 = fm_up32(n), i32 = fm_up32(n_in), o32 = fm_up32(n_out);
    if (n32 < n || i32 < n_in || o32 < n_out) return FM_EOVERFLOW;
    /* each product below is at most PTRDIFF_MAX / 8 (fm_mul_size), so no sum of a dozen of them wraps */
    /* the backward: dz rows + W pairs + dz^T (x's pairs are the forward's, in xpairs); the forward: x rows + W^T
     * pairs */
    if (fm_mul_size(n32, o32, &a) || fm_mul_size(o32, i32, &b) || fm_mul_size(n32, i32, &c)) return FM_EOVERFLOW;
    const size_t amx = 2 * (a + b) + 2 * a, fwd = 2 * (c + b);
    /* emulated: x, W and dz rounded, as float32 */
    if (fm_mul_size(n, n_in, &a) || fm_mul_size(n_out, n_in, &b) || fm_mul_size(n, n_out, &c)) return FM_EOVERFLOW;
    const size_t emu = 4 * (a + b + c) + 3 * 64;
    t = amx > fwd ? amx : fwd;
    t = t > emu ? t : emu;
    if (t > (size_t)PTRDIFF_MAX / 2) return FM_EOVERFLOW;
    *bytes = t + 64;
    return FM_OK;
}

int fmi_mixed_pairs_bytes(size_t n, size_t n_in, size_t *bytes) {
    size_t t;
    const size_t n32 = fm_up32(n), i32 = fm_up32(n_in);
    if (n32 < n || i32 < n_in || fm_mul_size(n32, i32, &t) || t > (size_t)PTRDIFF_MAX / 4) return FM_EOVERFLOW;
    *bytes = 2 * t + 64;
    return FM_OK;
}

static inline void *fm_al64(void *p) { return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* ---- the float32 parts ---- */
/* p = act(p + b), in place; a loop per activation (fexp.h's sigmoid and tanh, as the float32 layers: each vectorises) */
static void fm_mx_bias_act(float *p, const float *b, size_t n, size_t n_out, fm_act act) {
    for (size_t i = 0; i < n; i++) {
        float *row = p + i * n_out;
        if (b)
            for (size_t o = 0; o < n_out; o++) row[o] += b[o];
        if (act == FM_ACT_RELU)
            for (size_t o = 0; o < n_out; o++) row[o] = row[o] > 0.0f ? row[o] : 0.0f;
        else if (act == FM_ACT_SIGMOID)
            for (size_t o = 0; o < n_out; o++) row[o] = fm_sigmoid_f32(row[o]);
        else if (act == FM_ACT_TANH)
            for (size_t o = 0; o < n_out; o++) row[o] = fm_tanh_f32(row[o]);
    }
}

/* dz = dp * act'(p) (dz may be dp), db = sum_i dz[i] in increasing i (as dense.inc's delta_bias) */
static void fm_mx_delta_bias(const float *p, const float *dp, float *dz, float *db, size_t n, size_t n_out,
                             fm_act act) {
    const size_t nz = n * n_out;
    switch (act) {
    case FM_ACT_RELU:
        for (size_t i = 0; i < nz; i++) dz[i] = dp[i] * (float)(p[i] > 0.0f);
        break;
    case FM_ACT_SIGMOID:
        for (size_t i = 0; i < nz; i++) dz[i] = dp[i] * (p[i] * (1.0f - p[i]));
        break;
    case FM_ACT_TANH:
        for (size_t i = 0; i < nz; i++) dz[i] = dp[i] * (1.0f - p[i] * p[i]);
        break;
    default:
        for (size_t i = 0; i < nz; i++) dz[i] = dp[i];
        break;
    }
    if (db) {
        for (size_t o = 0; o < n_out; o++) db[o] = 0.0f;
        for (size_t i = 0; i < n; i++)
            for (size_t o = 0; o < n_out; o++) db[o] += dz[i * n_out + o];
    }
}

/* ---- emulated path: bf16-rounded float32 copies through the float32 kernels ---- */
static inline float fm_mx_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (!(u & 0x7f800000u)) u &= 0x80000000u; /* zero or denormal: a zero of its sign */
    else if ((u & 0x7fffffffu) > 0x7f800000u) u |= 0x00400000u; /* NaN: quiet */
    else u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    u &= 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void fm_mx_round_copy(const float *src, float *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = fm_mx_round(src[i]);
}

#if FM_AMX
/* ---- AMX path ---- */
#define FM_AVX512 __attribute__((target("avx512f,avx512bw,avx512bf16")))
#define FM_TILES __attribute__((target("amx-tile,amx-bf16,avx512f")))

/* the first cnt of 16 lanes (cnt may pass 16) */
static inline __mmask16 fm_mx_mask(size_t cnt) { return cnt >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cnt) - 1u); }

/* dword j = (a[j], b[j]) for 16 bf16 values each: a in the low half, b in the high */
static inline FM_AVX512 __m512i fm_mx_interleave(__m256i a, __m256i b) {
    return _mm512_or_si512(_mm512_cvtepu16_epi32(a), _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
}

/* out[j] = bf16 pair (r[2j], r[2j+1]) for the first cnt (<= 32) values of r, zeros after */
static inline FM_AVX512 void fm_mx_row_dw(const float *r, size_t cnt, uint32_t *out) {
    const __m512 a = _mm512_maskz_loadu_ps(fm_mx_mask(cnt), r);
    const __m512 b = _mm512_maskz_loadu_ps(fm_mx_mask(cnt > 16 ? cnt - 16 : 0), r + 16);
    _mm512_storeu_si512((void *)out, (__m512i)_mm512_cvtne2ps_pbh(b, a));
}

/* out[j] = bf16 pair (r0[j], r1[j]) for j < cnt (<= 16; r1 NULL: zeros), zeros after */
static inline FM_AVX512 void fm_mx_pair_dw(const float *r0, const float *r1, size_t cnt, uint32_t *out) {
    const __mmask16 m = fm_mx_mask(cnt);
    const __m512 a = _mm512_maskz_loadu_ps(m, r0);
    const __m512 b = r1 ? _mm512_maskz_loadu_ps(m, r1) : _mm512_setzero_ps();
    _mm512_storeu_si512((void *)out,
                        fm_mx_interleave((__m256i)_mm512_cvtneps_pbh(a), (__m256i)_mm512_cvtneps_pbh(b)));
}

static inline size_t fm_clip(size_t total, size_t at, size_t most) {
    return at >= total ? 0 : total - at < most ? total - at : most;
}

/* dst[j * ldd + i] = tmp[i][j] for a 16 x 16 block of dwords: the rows in registers, transposed by tr16.h's shuffles
 * (as float bits: pure moves) and stored as rows of dst. Against the 16 gathers of a column-gathering transpose,
 * which Zen 4 runs several times slower, the bf16 step 784-256-128-10 there was 5 % faster at B = 256, 2 % at 1024 */
static inline FM_AVX512 void fm_mx_transpose16(const uint32_t *tmp, uint32_t *dst, size_t ldd) {
    __m512 r[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_load_ps((const float *)(tmp + 16 * i));
    fm_tr16(r);
    for (int j = 0; j < 16; j++) _mm512_storeu_ps((float *)(dst + (size_t)j * ldd), r[j]);
}

/* A operand, rows of bf16: dst[Mp][Kp] = src[M][K] (row stride lds), zero padded */
static FM_AVX512 void fm_mx_pack_rows(const float *src, size_t lds, size_t M, size_t K, uint16_t *dst) {
    const size_t Mp = fm_up32(M), Kp = fm_up32(K);
    uint32_t *d = (uint32_t *)dst;
    for (size_t m = 0; m < M; m++)
        for (size_t k = 0; k < Kp; k += 32) fm_mx_row_dw(src + m * lds + k, fm_clip(K, k, 32), d + m * (Kp / 2) + k / 2);
    memset(dst + M * Kp, 0, (Mp - M) * Kp * sizeof(uint16_t));
}

/* A operand from the transpose: dst[m][k] = src[k][m], src[K][M] (row stride lds), dst[Mp][Kp] */
static FM_AVX512 void fm_mx_pack_rows_t(const float *src, size_t lds, size_t M, size_t K, uint16_t *dst) {
    const size_t Mp = fm_up32(M), Kp = fm_up32(K), P = Kp / 2;
    uint32_t *d = (uint32_t *)dst;
    uint32_t tmp[16][16] __attribute__((aligned(64)));
    for (size_t q0 = 0; q0 < P; q0 += 16)
        for (size_t m0 = 0; m0 < Mp; m0 += 16) {
            const size_t cm = fm_clip(M, m0, 16);
            for (size_t q = 0; q < 16; q++) {
                const size_t k = 2 * (q0 + q);
                if (k < K && cm)
                    fm_mx_pair_dw(src + k * lds + m0, k + 1 < K ? src + (k + 1) * lds + m0 : NULL, cm, tmp[q]);
                else
                    memset(tmp[q], 0, sizeof tmp[q]);
            }
            fm_mx_transpose16(&tmp[0][0], d + m0 * P + q0, P);
        }
}

/* B operand, VNNI: pairs of rows of src[K][N] (row stride lds): dst dword [Kp/2][Np] = (src[2q][n], src[2q+1][n]) */
static FM_AVX512 void fm_mx_pack_pairs(const float *src, size_t lds, size_t K, size_t N, uint16_t *dst) {
    const size_t Np = fm_up32(N), P = fm_up32(K) / 2;
    uint32_t *d = (uint32_t *)dst;
    for (size_t q = 0; q < P; q++) {
        const size_t k = 2 * q;
        if (k >= K) {
            memset(d + q * Np, 0, (P - q) * Np * sizeof(uint32_t));
            break;
        }
        const float *r0 = src + k * lds, *r1 = k + 1 < K ? r0 + lds : NULL;
        for (size_t n = 0; n < Np; n += 16) {
            const size_t c = fm_clip(N, n, 16);
            if (c) fm_mx_pair_dw(r0 + n, r1 ? r1 + n : NULL, c, d + q * Np + n);
            else memset(d + q * Np + n, 0, 16 * sizeof(uint32_t));
        }
    }
}

/* fm_mx_pack_rows(src, lds, M, K, dst) and fm_mx_pack_pairs(src, lds, M, K, pairs) in one pass over src, two rows
 * at a time (the same roundings: both are VCVTNEPS2BF16's round to nearest even of the same values); each row read
 * FM_PACK_PF values ahead of its loads (a first layer's 1024 x 784 input streams from L3 or memory: prefetched, the
 * bf16 step 784-256-128-10 B = 1024 ran ~5 % faster on Zen 4; 512 ahead helped less) */
#define FM_PACK_PF 128
static FM_AVX512 void fm_mx_pack_rows_pairs(const float *src, size_t lds, size_t M, size_t K, uint16_t *dst,
                                            uint16_t *pairs) {
    const size_t Mp = fm_up32(M), Kp = fm_up32(K), P = Mp / 2;
    uint32_t *d = (uint32_t *)dst, *q = (uint32_t *)pairs;
    for (size_t m = 0; m < M; m += 2) {
        const float *r0 = src + m * lds, *r1 = m + 1 < M ? r0 + lds : NULL;
        uint32_t *d0 = d + m * (Kp / 2), *d1 = d0 + Kp / 2, *qr = q + (m / 2) * Kp;
        for (size_t k = 0; k < Kp; k += 32) {
            const size_t cnt = fm_clip(K, k, 32);
            const __mmask16 lo = fm_mx_mask(cnt), hi = fm_mx_mask(cnt > 16 ? cnt - 16 : 0);
            if (k + FM_PACK_PF < K) { /* both rows' next lines asked for ahead: the loads were the pack's time */
                __builtin_prefetch(r0 + k + FM_PACK_PF, 0, 3);
                __builtin_prefetch(r0 + k + FM_PACK_PF + 16, 0, 3);
                if (r1) {
                    __builtin_prefetch(r1 + k + FM_PACK_PF, 0, 3);
                    __builtin_prefetch(r1 + k + FM_PACK_PF + 16, 0, 3);
                }
            }
            const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + k), a1 = _mm512_maskz_loadu_ps(hi, r0 + k + 16);
            const __m512 b0 = r1 ? _mm512_maskz_loadu_ps(lo, r1 + k) : _mm512_setzero_ps();
            const __m512 b1 = r1 ? _mm512_maskz_loadu_ps(hi, r1 + k + 16) : _mm512_setzero_ps();
            const __m512i ra = (__m512i)_mm512_cvtne2ps_pbh(a1, a0), rb = (__m512i)_mm512_cvtne2ps_pbh(b1, b0);
            _mm512_storeu_si512((void *)(d0 + k / 2), ra);
            if (r1) _mm512_storeu_si512((void *)(d1 + k / 2), rb);
            /* pairs (row m, row m + 1) of columns k .. k + 15, then k + 16 .. k + 31 */
            _mm512_storeu_si512((void *)(qr + k),
                                fm_mx_interleave(_mm512_castsi512_si256(ra), _mm512_castsi512_si256(rb)));
            _mm512_storeu_si512((void *)(qr + k + 16),
                                fm_mx_interleave(_mm512_extracti64x4_epi64(ra, 1), _mm512_extracti64x4_epi64(rb, 1)));
        }
    }
    memset(dst + M * Kp, 0, (Mp - M) * Kp * sizeof(uint16_t));
    const size_t done = (M + 1) / 2;
    memset(q + done * Kp, 0, (P - done) * Kp * sizeof(uint32_t));
}

/* B operand, VNNI, from the transpose: src[N][K] (row stride lds): dst dword [Kp/2][Np] = (src[n][2q], src[n][2q+1]) */
static FM_AVX512 void fm_mx_pack_pairs_t(const float *src, size_t lds, size_t K, size_t N, uint16_t *dst) {
    const size_t Np = fm_up32(N), Kp = fm_up32(K);
    uint32_t *d = (uint32_t *)dst;
    uint32_t tmp[16][16] __attribute__((aligned(64)));
    for (size_t n0 = 0; n0 < Np; n0 += 16)
        for (size_t k0 = 0; k0 < Kp; k0 += 32) {
            const size_t ck = fm_clip(K, k0, 32);
            for (size_t j = 0; j < 16; j++) {
                if (n0 + j < N && ck) fm_mx_row_dw(src + (n0 + j) * lds + k0, ck, tmp[j]);
                else memset(tmp[j], 0, sizeof tmp[j]);
            }
            fm_mx_transpose16(&tmp[0][0], d + (k0 / 2) * Np + n0, Np);
        }
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) fm_tilecfg;

static FM_TILES void fm_mx_config(void) {
    fm_tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.rows[t] = 16;
        c.colsb[t] = 64;
    }
    _tile_loadconfig(&c);
}

/* one 16 x 16 tile of C at (i, j): stored in place when whole inside M x N, else through tmp */
#define FM_MX_STORE(t, i, j)                                                                      \
    do {                                                                                          \
        if ((i) + 16 <= M && (j) + 16 <= N) {                                                     \
            _tile_stored(t, C + (i) * ldc + (j), (long)(ldc * sizeof(float)));                    \
        } else if ((i) < M && (j) < N) {                                                          \
            _tile_stored(t, tmp, 64);                                                             \
            const size_t rm = M - (i) < 16 ? M - (i) : 16, cn = N - (j) < 16 ? N - (j) : 16;      \
            for (size_t r = 0; r < rm; r++) memcpy(C + ((i) + r) * ldc + (j), tmp + r * 16, cn * 4); \
        }                                                                                         \
    } while (0)

/* C[M][N] (row stride ldc) = A[Mp][Kp] . B, B in VNNI pairs [Kp/2][Np][2]; the column blocks [jb0, jb1) of 32 */
static FM_TILES void fm_mx_gemm_cols(const uint16_t *A, const uint16_t *B, float *C, size_t M, size_t N, size_t Kp,
                                     size_t ldc, size_t jb0, size_t jb1) {
    const size_t Mp = fm_up32(M), Np = fm_up32(N);
    const long sa = (long)(Kp * 2), sb = (long)(Np * 4);
    float tmp[256] __attribute__((aligned(64)));
    fm_mx_config();
    for (size_t jb = jb0; jb < jb1; jb++) {
        const size_t j = jb * 32;
        for (size_t i = 0; i < Mp; i += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            const uint16_t *a0 = A + i * Kp, *a1 = A + (i + 16) * Kp;
            for (size_t k = 0; k < Kp; k += 32) {
                const uint16_t *b = B + (k / 2) * Np * 2 + j * 2;
                _tile_loadd(4, a0 + k, sa);
                _tile_loadd(6, b, sb);
                _tile_loadd(7, b + 32, sb);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_loadd(5, a1 + k, sa);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            FM_MX_STORE(0, i, j);
            FM_MX_STORE(1, i, j + 16);
            FM_MX_STORE(2, i + 16, j);
            FM_MX_STORE(3, i + 16, j + 16);
        }
    }
    _tile_release();
}

/* ---- avx512bf16 path: VDPBF16PS on the packed operands ---- */
/* C[M][N] (row stride ldc) = A . B over the first ceil(K/2) depth pairs, A rows of bf16 [Mp][Kp], B VNNI pairs
 * [Kp/2][Np]; the column blocks [jb0, jb1) of 32, 8 x 32 register tiles (16 accumulators), every output summed
 * over the pairs in increasing order from +0. bias (not NULL): + bias[j] on the way out, then relu: max(., 0), which
 * is fm_mx_bias_act's `> 0 ? : 0` (NaN and -0 to +0) -- the forward's epilogue without a second pass over C */
static FM_AVX512 void fm_vd_gemm_cols(const uint16_t *A, const uint16_t *B, float *C, size_t M, size_t N, size_t K,
                                      size_t Kp, size_t ldc, size_t jb0, size_t jb1, const float *bias, int relu) {
    const size_t Np = fm_up32(N), P = Kp / 2, Q = (K + 1) / 2;
    const uint32_t *Ad = (const uint32_t *)A, *Bd = (const uint32_t *)B;
    for (size_t jb = jb0; jb < jb1; jb++) {
        const size_t j = jb * 32;
        const __mmask16 m0 = fm_mx_mask(N - j), m1 = fm_mx_mask(N - j > 16 ? N - j - 16 : 0);
        for (size_t i = 0; i < M; i += 8) {
            __m512 c[8][2];
            for (int r = 0; r < 8; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
            const uint32_t *a = Ad + i * P, *b = Bd + j;
            for (size_t q = 0; q < Q; q++, a++, b += Np) {
                const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)b);
                const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + 16));
                for (int r = 0; r < 8; r++) {
                    const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[(size_t)r * P]);
                    c[r][0] = _mm512_dpbf16_ps(c[r][0], av, b0);
                    c[r][1] = _mm512_dpbf16_ps(c[r][1], av, b1);
                }
            }
            const size_t rm = M - i < 8 ? M - i : 8;
            if (bias) {
                const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias + j), b1 = _mm512_maskz_loadu_ps(m1, bias + j + 16);
                for (size_t r = 0; r < rm; r++) {
                    c[r][0] = _mm512_add_ps(c[r][0], b0);
                    c[r][1] = _mm512_add_ps(c[r][1], b1);
                }
            }
            if (relu)
                for (size_t r = 0; r < rm; r++) {
                    c[r][0] = _mm512_max_ps(c[r][0], _mm512_setzero_ps());
                    c[r][1] = _mm512_max_ps(c[r][1], _mm512_setzero_ps());
                }
            for (size_t r = 0; r < rm; r++) {
                _mm512_mask_storeu_ps(C + (i + r) * ldc + j, m0, c[r][0]);
                if (m1) _mm512_mask_storeu_ps(C + (i + r) * ldc + j + 16, m1, c[r][1]);
            }
        }
    }
}

/* the product on this path: AMX tiles or VDPBF16PS (the packed operands are the same), split across threads by
 * column blocks of 32 (each output summed whole by one thread); bias and relu: fm_vd_gemm_cols' epilogue (VDPBF16PS
 * only) */
static void fm_mx_product(int path, const uint16_t *A, const uint16_t *B, float *C, size_t M, size_t N, size_t K,
                          size_t ldc, const float *bias, int relu) {
    const size_t Kp = fm_up32(K), blocks = fm_up32(N) / 32;
    /* in float32 multiply-adds (in double: the product may pass size_t): an AMX bf16 multiply-add costs about an
     * eighth of one here, a VDPBF16PS pair step about one per output */
    const double work = path == FM_MIX_AMX ? (double)M * (double)N * (double)Kp / 8.0
                                           : (double)M * (double)N * (double)K / 2.0;
    size_t parts = work >= (double)FM_PAR_MIN_WORK ? (size_t)fmi_threads() : 1;
    parts = parts < blocks ? parts : blocks;
    FM_FOR(parts > 1, t, parts, {
        const size_t b0 = blocks * (size_t)t / parts, b1 = blocks * ((size_t)t + 1) / parts;
        if (path == FM_MIX_AMX) fm_mx_gemm_cols(A, B, C, M, N, Kp, ldc, b0, b1);
        else fm_vd_gemm_cols(A, B, C, M, N, K, Kp, ldc, b0, b1, bias, relu);
    });
}
#endif

/* ---- the layer's forward and backward (no argument checks: mlp.c checked the network and the workspace) ---- */
int fmi_dense_forward_mixed(const float *x, const float *W, const float *b, float *p, size_t n, size_t n_in,
                            size_t n_out, fm_act act, void *scratch, void *xpairs) {
    (void)xpairs; /* the emulated path packs nothing */
#if FM_AMX
    const int path = fm_mix_path();
    if (path != FM_MIX_EMULATED) {
        uint16_t *A = (uint16_t *)fm_al64(scratch), *B = A + fm_up32(n) * fm_up32(n_in);
        fm_mx_pack_rows_pairs(x, n_in, n, n_in, A, (uint16_t *)fm_al64(xpairs)); /* x's pairs for the backward */
        fm_mx_pack_pairs_t(W, n_in, n_in, n_out, B);
        /* VDPBF16PS adds the bias and applies ReLU as it stores (a pass over p less: the bf16 step 784-256-128-10 on
         * Zen 4: with the shuffle transposes, B = 256 7 %, B = 1024 ~6 % faster; the same bits); AMX tiles, sigmoid
         * and tanh: a pass after */
        const int fuse = path != FM_MIX_AMX && (act == FM_ACT_IDENTITY || act == FM_ACT_RELU);
        fm_mx_product(path, A, B, p, n, n_out, n_in, n_out, fuse ? b : NULL, fuse && act == FM_ACT_RELU);
        if (!fuse) fm_mx_bias_act(p, b, n, n_out, act);
        return FM_OK;
    }
#endif
    float *xr = (float *)fm_al64(scratch), *Wr = (float *)fm_al64(xr + n * n_in);
    fm_mx_round_copy(x, xr, n * n_in);
    fm_mx_round_copy(W, Wr, n_out * n_in);
    return fmi_dense_forward_f32(xr, Wr, b, p, n, n_in, n_out, act);
}

int fmi_dense_backward_mixed(const float *x, const float *W, const float *p, const float *dp, float *dz, float *dW,
                             float *db, float *dx, size_t n, size_t n_in, size_t n_out, fm_act act, void *scratch,
                             const void *xpairs) {
    (void)xpairs;
    fm_mx_delta_bias(p, dp, dz, db, n, n_out, act);
#if FM_AMX
    const int path = fm_mix_path();
    if (path != FM_MIX_EMULATED) {
        const size_t n32 = fm_up32(n), i32 = fm_up32(n_in), o32 = fm_up32(n_out);
        uint16_t *Az = (uint16_t *)fm_al64(scratch), *Bw = Az + n32 * o32, *At = Bw + o32 * i32;
        const uint16_t *Bx = (const uint16_t *)fm_al64((void *)(uintptr_t)xpairs); /* x's pairs: the forward's */
        /* dW[n_out][n_in] = dz^T . x: depth the batch */
        fm_mx_pack_rows_t(dz, n_out, n_out, n, At);
        fm_mx_product(path, At, Bx, dW, n_out, n_in, n, n_in, NULL, 0);
        if (dx) { /* dx[n][n_in] = dz . W: depth the outputs */
            fm_mx_pack_rows(dz, n_out, n, n_out, Az);
            fm_mx_pack_pairs(W, n_in, n_out, n_in, Bw);
            fm_mx_product(path, Az, Bw, dx, n, n_in, n_out, n_in, NULL, 0);
        }
        return FM_OK;
    }
#endif
    float *xr = (float *)fm_al64(scratch), *Wr = (float *)fm_al64(xr + n * n_in), *zr = (float *)fm_al64(Wr + n_out * n_in);
    fm_mx_round_copy(x, xr, n * n_in);
    fm_mx_round_copy(dz, zr, n * n_out);
    if (dx) fm_mx_round_copy(W, Wr, n_out * n_in);
    /* identity: the products alone (dz already holds the delta, db is done) */
    return fmi_dense_backward_f32(xr, Wr, p, zr, zr, dW, NULL, dx, n, n_in, n_out, FM_ACT_IDENTITY, 0);
}

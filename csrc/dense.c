/* dense.c -- one fully connected layer: fused forward and its backward (see fastmlp.h).
 *
 * dense.inc holds the entry points and the plain loops (the algorithmic reference in C, used for tiny shapes);
 * gemm.inc the register-tiled kernels, compiled here once per instruction set and picked at run time:
 * AVX-512 and AVX2+FMA where the CPU has them (x86-64 with GCC/clang), else the portable baseline. One binary
 * runs on any x86-64; FASTMLP_ISA=avx512|avx2|baseline|naive in the environment forces a path. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define FM_X86_DISPATCH 1
#include <immintrin.h>
#else
#define FM_X86_DISPATCH 0
#endif

/* ---- which path runs ---- */
enum { FM_PATH_NAIVE = 0, FM_PATH_BASE = 1, FM_PATH_AVX2 = 2, FM_PATH_AVX512 = 3 };

static int fm_detect_path(void) {
    const char *env = getenv("FASTMLP_ISA");
    int best = FM_PATH_BASE;
#if FM_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) best = FM_PATH_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = FM_PATH_AVX2;
#endif
    if (env) { /* a request can only lower the path, never ask for instructions the CPU lacks */
        int want = best;
        if (!strcmp(env, "naive")) want = FM_PATH_NAIVE;
        else if (!strcmp(env, "baseline")) want = FM_PATH_BASE;
        else if (!strcmp(env, "avx2")) want = FM_PATH_AVX2;
        else if (!strcmp(env, "avx512")) want = FM_PATH_AVX512;
        if (want < best) best = want;
    }
    return best;
}

static int fm_path(void) {
    static int cached = -1;
    int p = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (p < 0) {
        p = fm_detect_path();
        __atomic_store_n(&cached, p, __ATOMIC_RELAXED);
    }
    return p;
}

const char *fm_cpu_path(void) {
    static const char *names[] = {"naive", "baseline", "avx2", "avx512"};
    return names[fm_path()];
}

int fm_dense_packed_size(size_t *count, size_t n_in, size_t n_out, size_t nc) {
    size_t t;
    const size_t G = FM_PACK_GROUP;
    int rc = fm_check_sizes(1, n_in, n_out);
    if (!count) return FM_ENULL;
    if (rc) return rc;
    if (nc == 0 || nc > 1024) return FM_EVALUE;
    const size_t groups = (n_out + G * nc - 1) / (G * nc); /* n_out and G * nc <= 4096 are far below the limit */
    if (fm_mul_size(groups * G * nc, n_in, &t)) return FM_EOVERFLOW;
    *count = t;
    return FM_OK;
}

/* ---- one element type: the entry points (dense.inc), the tiled kernels per instruction set (gemm.inc, which
 * reads VL = vector lanes, MR = rows per register tile, NV = vectors per tile row) and the run-time choice ---- */
#define T float
#define FM_IS_F32 1
#define SUF _f32
#define EXP expf
#define TANH tanhf
#define VL_AVX2 8
#define VL_AVX512 16
#include "dense_type.inc"

#define T double
#define FM_IS_F32 0
#define SUF _f64
#define EXP exp
#define TANH tanh
#define VL_AVX2 4
#define VL_AVX512 8
#include "dense_type.inc"

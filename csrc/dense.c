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

/* ---- float32 ---- */
#define T float
#define FM_IS_F32 1
#define SUF _f32
#define EXP expf
#define TANH tanhf
#include "dense.inc"

#define ISA _base
#define ISA_KIND 0
#define ISA_ATTR
#define VL (16 / sizeof(T))
#define MR 6
#define NV 2
#include "gemm.inc"
#undef ISA
#undef ISA_KIND
#undef ISA_ATTR
#undef VL
#undef MR
#undef NV
#if FM_X86_DISPATCH
#define ISA _avx2
#define ISA_KIND 1
#define ISA_ATTR __attribute__((target("avx2,fma")))
#define VL 8
#define MR 6
#define NV 2
#include "gemm.inc"
#undef ISA
#undef ISA_KIND
#undef ISA_ATTR
#undef VL
#undef MR
#undef NV
#define ISA _avx512
#define ISA_KIND 2
#define ISA_ATTR __attribute__((target("avx512f")))
#define VL 16
#define MR 12
#define NV 2
#include "gemm.inc"
#undef ISA
#undef ISA_KIND
#undef ISA_ATTR
#undef VL
#undef MR
#undef NV
#endif

static const fm_kernels_f32 *fm_pick_f32(void) {
    switch (fm_path()) {
#if FM_X86_DISPATCH
    case FM_PATH_AVX512: return &fm_kernels_f32_avx512;
    case FM_PATH_AVX2: return &fm_kernels_f32_avx2;
#endif
    case FM_PATH_BASE: return &fm_kernels_f32_base;
    default: return NULL;
    }
}
#undef T
#undef FM_IS_F32
#undef SUF
#undef EXP
#undef TANH

/* ---- float64 ---- */
#define T double
#define FM_IS_F32 0
#define SUF _f64
#define EXP exp
#define TANH tanh
#include "dense.inc"

#define ISA _base
#define ISA_KIND 0
#define ISA_ATTR
#define VL (16 / sizeof(T))
#define MR 6
#define NV 2
#include "gemm.inc"
#undef ISA
#undef ISA_KIND
#undef ISA_ATTR
#undef VL
#undef MR
#undef NV
#if FM_X86_DISPATCH
#define ISA _avx2
#define ISA_KIND 1
#define ISA_ATTR __attribute__((target("avx2,fma")))
#define VL 4
#define MR 6
#define NV 2
#include "gemm.inc"
#undef ISA
#undef ISA_KIND
#undef ISA_ATTR
#undef VL
#undef MR
#undef NV
#define ISA _avx512
#define ISA_KIND 2
#define ISA_ATTR __attribute__((target("avx512f")))
#define VL 8
#define MR 12
#define NV 2
#include "gemm.inc"
#undef ISA
#undef ISA_KIND
#undef ISA_ATTR
#undef VL
#undef MR
#undef NV
#endif

static const fm_kernels_f64 *fm_pick_f64(void) {
    switch (fm_path()) {
#if FM_X86_DISPATCH
    case FM_PATH_AVX512: return &fm_kernels_f64_avx512;
    case FM_PATH_AVX2: return &fm_kernels_f64_avx2;
#endif
    case FM_PATH_BASE: return &fm_kernels_f64_base;
    default: return NULL;
    }
}
#undef T
#undef FM_IS_F32
#undef SUF
#undef EXP
#undef TANH

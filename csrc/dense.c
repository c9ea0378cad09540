/* dense.c -- one fully connected layer: fused forward and its backward (see fastmlp.h).
 *
 * dense.inc holds the entry points and the plain loops (the algorithmic reference in C, used for tiny shapes);
 * gemm.inc the register-tiled kernels, compiled here once per instruction set and picked at run time:
 * AVX-512 and AVX2+FMA where the CPU has them (x86-64 with GCC/clang), else the portable baseline. One binary
 * runs on any x86-64; FASTMLP_ISA=avx512|avx2|baseline|naive in the environment forces a path. */
#include "internal.h"
#include "fexp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define FM_X86_DISPATCH 1
#include <immintrin.h>
#include "tr16.h"
#else
#define FM_X86_DISPATCH 0
#endif

/* ---- which path runs ---- */
enum { FM_PATH_NAIVE = 0, FM_PATH_BASE = 1, FM_PATH_AVX2 = 2, FM_PATH_AVX512 = 3 };

static int fm_detect_path(void) {
    const char *env = fmi_env(FMI_ENV_ISA);
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

/* ---- the caches, for the block sizes of gemm.inc ---- */
/* size in bytes of the data (or unified) cache of this level of cpu0 from sysfs, 0 when not found */
static size_t fm_sysfs_cache(int level) {
    for (int idx = 0; idx < 8; idx++) {
        char path[96], buf[32];
        size_t got = 0;
        int lev = -1;
        FILE *f;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        if (!(f = fopen(path, "r"))) return 0;
        if (fscanf(f, "%d", &lev) != 1) lev = -1;
        fclose(f);
        if (lev != level) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        if ((f = fopen(path, "r"))) {
            if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
            fclose(f);
            if (!strncmp(buf, "Instruction", 11)) continue;
        }
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        if ((f = fopen(path, "r"))) {
            unsigned long v = 0;
            char unit = 0;
            if (fscanf(f, "%lu%c", &v, &unit) >= 1)
                got = (size_t)v * (unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1);
            fclose(f);
        }
        if (got) return got;
    }
    return 0;
}

/* sysfs first (the kernel's report for cpu0, which the twin, reference/machine.py, reads too), else sysconf (glibc:
 * CPUID), else the fallback */
static size_t fm_cache_size(int level, size_t fallback) {
    const size_t s = fm_sysfs_cache(level);
    if (s) return s;
    long v = -1;
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    v = sysconf(level == 1 ? _SC_LEVEL1_DCACHE_SIZE : level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE);
#endif
    return v > 0 ? (size_t)v : fallback;
}

/* ---- the block-size rule (a function of its inputs only; fm_dense_blocking_for, reference/dense.py's twin) ---- */

/* odd reports clamped, so that they cannot give odd blocks: an L1d outside [16 KiB, 1 MiB] is taken as 32 KiB, an
 * L2 outside [128 KiB, 1 TiB] as 1 MiB, an L3 below the L2 as 4 x L2 */
static void fm_clamp_caches(size_t *l1d, size_t *l2, size_t *l3) {
    if (*l1d < 16 * 1024 || *l1d > 1024 * 1024) *l1d = 32 * 1024;
    if (*l2 < 128 * 1024 || *l2 > ((size_t)1 << 40)) *l2 = 1024 * 1024;
    if (*l3 < *l2) *l3 = 4 * *l2;
}

/* kc and nc for a register tile of mr rows x ncols columns of es-byte elements (gemm.inc's KN(blocks) explains the
 * choice): the mr x kc micro-panel of A in a quarter of L1d and a kc x ncols panel of B in 2/3 of it, kc a multiple
 * of 8 in [8, FM_KC_MAX]; the kc x nc slab of B in half of L2, at most FM_BBUF_BYTES, nc a multiple of ncols and at
 * least ncols. force_kc / force_nc (FASTMLP_BLOCKS; 0: none) replace the cache-derived values before the rounding. */
static void fm_blocks_rule(size_t l1d, size_t l2, size_t es, size_t mr, size_t ncols, size_t force_kc,
                           size_t force_nc, size_t *kc, size_t *nc) {
    size_t k = l1d / 4 / (mr * es), kb = l1d * 2 / 3 / (ncols * es);
    k = (force_kc ? force_kc : (k < kb ? k : kb)) / 8 * 8;
    k = k < 8 ? 8 : (k > FM_KC_MAX ? FM_KC_MAX : k);
    size_t n = force_nc ? force_nc : (l2 / 2) / (k * es);
    if (n * k * es > FM_BBUF_BYTES) n = FM_BBUF_BYTES / (k * es);
    n = n / ncols * ncols;
    *kc = k;
    *nc = n < ncols ? ncols : n;
}

/* the register tile of a path (fm_cpu_path's names) for es-byte elements; FM_EVALUE for an unknown path */
static int fm_path_tile(const char *path, size_t es, size_t *mr, size_t *ncols) {
    if (!strcmp(path, "naive")) *mr = 0, *ncols = 0;
    else if (!strcmp(path, "baseline")) *mr = FM_MR_BASE, *ncols = FM_NV * (16 / es);
    else if (!strcmp(path, "avx2")) *mr = FM_MR_AVX2, *ncols = FM_NV * (32 / es);
    else if (!strcmp(path, "avx512")) *mr = FM_MR_AVX512, *ncols = FM_NV * (64 / es);
    else return FM_EVALUE;
    return FM_OK;
}

int fm_dense_blocking_for(const char *cpu_path, size_t info[7], size_t l1d, size_t l2, size_t l3, size_t force_kc,
                          size_t force_nc, int f64) {
    size_t mr = 0, ncols = 0, kc = 0, nc = 0;
    const size_t es = f64 ? sizeof(double) : sizeof(float);
    if (!cpu_path || !info) return FM_ENULL;
    if (force_kc > ((size_t)1 << 20) || force_nc > ((size_t)1 << 24)) return FM_EVALUE;
    if (fm_path_tile(cpu_path, es, &mr, &ncols)) return FM_EVALUE;
    fm_clamp_caches(&l1d, &l2, &l3);
    if (mr) fm_blocks_rule(l1d, l2, es, mr, ncols, force_kc, force_nc, &kc, &nc);
    info[0] = l1d;
    info[1] = l2;
    info[2] = l3;
    info[3] = kc;
    info[4] = nc;
    info[5] = mr;
    info[6] = ncols;
    return FM_OK;
}

static fmi_cache_info fm_caches_v;
static int fm_caches_ready = 0;

const fmi_cache_info *fmi_caches(void) {
    if (!__atomic_load_n(&fm_caches_ready, __ATOMIC_ACQUIRE)) {
        /* racing first calls compute the same values; clamped so that odd reports cannot give odd blocks */
        fmi_cache_info c;
        c.l1d = fm_cache_size(1, 32 * 1024);
        c.l2 = fm_cache_size(2, 1024 * 1024);
        c.l3 = fm_cache_size(3, 8 * 1024 * 1024);
        fm_clamp_caches(&c.l1d, &c.l2, &c.l3);
        c.kc = c.nc = 0;
        const char *env = fmi_env(FMI_ENV_BLOCKS);
        if (env) {
            unsigned long k = 0, n = 0;
            if (sscanf(env, "%lu,%lu", &k, &n) == 2 && k <= (1ul << 20) && n <= (1ul << 24)) {
                c.kc = k;
                c.nc = n;
            }
        }
        __atomic_store_n(&fm_caches_v.kc, c.kc, __ATOMIC_RELAXED);
        __atomic_store_n(&fm_caches_v.nc, c.nc, __ATOMIC_RELAXED);
        __atomic_store_n(&fm_caches_v.l1d, c.l1d, __ATOMIC_RELAXED);
        __atomic_store_n(&fm_caches_v.l2, c.l2, __ATOMIC_RELAXED);
        __atomic_store_n(&fm_caches_v.l3, c.l3, __ATOMIC_RELAXED);
        __atomic_store_n(&fm_caches_ready, 1, __ATOMIC_RELEASE);
    }
    return &fm_caches_v;
}

/* ---- the products' per-thread scratch ----
 * A heap buffer per thread that calls a product (OpenMP workers included), 64-byte aligned, allocated on the first
 * call that needs it at the size that call needs and grown (at least doubling, up to FM_SCRATCH_BYTES) when a
 * later call needs more; never shrunk. Only a pointer and a size are thread-local (16 bytes per thread instead of
 * the whole buffer: a _Thread_local array made every thread of the process pay it on musl, and glibc aborts when
 * it cannot allocate a thread's TLS block). A pthread key frees the buffer when its thread exits. The hot path is
 * the size test in fm_scratch(); failures (no memory, no key) give NULL, which the products turn into FM_ENOMEM. */
static _Thread_local unsigned char *fm_scratch_p;
static _Thread_local size_t fm_scratch_n;
static pthread_key_t fm_scratch_key;
static pthread_once_t fm_scratch_once = PTHREAD_ONCE_INIT;
static int fm_scratch_keyed;
/* tests only: compiled only into the C tests' copy of the library (csrc/Makefile builds this file with
 * -DFM_TEST_HOOKS for build/test_fastmlp; the libraries and the Python extension never have it): allocations of the
 * scratch fail while fmi_scratch_fail > 0, each failure counting it down; -1 (or 0) never */
#ifdef FM_TEST_HOOKS
int fmi_scratch_fail = 0;
size_t fmi_scratch_size(void); /* bytes of the calling thread's scratch (test hook) */
size_t fmi_scratch_size(void) { return fm_scratch_n; }
#endif

static inline int fm_scratch_fails(void) {
#ifdef FM_TEST_HOOKS
    if (__atomic_load_n(&fmi_scratch_fail, __ATOMIC_RELAXED) > 0) {
        __atomic_fetch_sub(&fmi_scratch_fail, 1, __ATOMIC_RELAXED);
        return 1;
    }
#endif
    return 0;
}

static void fm_scratch_release(void *buf) { /* runs in the exiting thread: its TLS is still there */
    free(buf);
    if (fm_scratch_p == buf) {
        fm_scratch_p = NULL;
        fm_scratch_n = 0;
    }
}

static void fm_scratch_key_init(void) { fm_scratch_keyed = pthread_key_create(&fm_scratch_key, fm_scratch_release) == 0; }

static void *fm_scratch_grow(size_t bytes) {
    void *buf = NULL;
    size_t want = fm_scratch_n * 2;
    if (want > FM_SCRATCH_BYTES) want = FM_SCRATCH_BYTES;
    if (want < bytes) want = bytes;
    want = (want + 63) / 64 * 64;
    pthread_once(&fm_scratch_once, fm_scratch_key_init);
    if (!fm_scratch_keyed) return NULL;
    if (fm_scratch_fails()) return NULL;
    if (!(buf = aligned_alloc(64, want))) return NULL; /* want is a multiple of 64 */
    if (pthread_setspecific(fm_scratch_key, buf)) {
        free(buf);
        return NULL;
    }
    free(fm_scratch_p);
    fm_scratch_p = buf;
    fm_scratch_n = want;
    return buf;
}

/* this thread's scratch of at least `bytes` (64-byte aligned), NULL when it cannot be had */
static inline void *fm_scratch(size_t bytes) {
    return bytes <= fm_scratch_n ? (void *)fm_scratch_p : fm_scratch_grow(bytes);
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
#define SIGMOID fm_sigmoid_f32
#define TANH fm_tanh_f32
#define VL_AVX2 8
#define VL_AVX512 16
#include "dense_type.inc"

#define T double
#define FM_IS_F32 0
#define SUF _f64
#define SIGMOID fm_sigmoid_f64
#define TANH fm_tanh_f64
#define VL_AVX2 4
#define VL_AVX512 8
#include "dense_type.inc"

/* this CPU's caches and path through the rule; the kernels (KN(blocks)) apply the same rule to the same inputs, and
 * their tiles are the FM_MR_* / FM_NV of the rule's table (dense_type.inc builds them from those) */
int fm_dense_blocking(int f64, size_t info[7]) {
    if (!info) return FM_ENULL;
    const fmi_cache_info *ci = fmi_caches();
    return fm_dense_blocking_for(fm_cpu_path(), info, ci->l1d, ci->l2, ci->l3, ci->kc, ci->nc, f64);
}

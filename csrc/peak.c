/* peak.c -- this CPU's floating-point peak for one thread, measured (for the bench's "% of peak" column). */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
#include "internal.h"

#include <time.h>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define FM_PEAK_X86 1
#else
#define FM_PEAK_X86 0
#endif

static double fm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 12 independent multiply-add chains of VL lanes, iters times: 2 * 12 * VL * iters flops. Twelve chains hide
 * the FMA latency (4 cycles x 2 units), so the loop runs at the FMA units' throughput. */
#define FM_PEAK_KERNEL(name, T, VL, ATTR, FMA)                                                                  \
    static ATTR double name(long iters) {                                                                      \
        typedef T vec __attribute__((vector_size(VL * sizeof(T))));                                            \
        const vec m = (vec){0} + (T)0.999999, a = (vec){0} + (T)1e-7;                                       \
        vec c0 = m, c1 = m + a, c2 = m - a, c3 = a, c4 = m * m, c5 = m + m, c6 = a + a, c7 = m - a - a,       \
            c8 = m + a + a, c9 = a * m, c10 = m * m * m, c11 = m + m + a;                                   \
        for (long it = 0; it < iters; it++) {                                                                  \
            c0 = FMA(c0, m, a); c1 = FMA(c1, m, a); c2 = FMA(c2, m, a); c3 = FMA(c3, m, a);                    \
            c4 = FMA(c4, m, a); c5 = FMA(c5, m, a); c6 = FMA(c6, m, a); c7 = FMA(c7, m, a);                    \
            c8 = FMA(c8, m, a); c9 = FMA(c9, m, a); c10 = FMA(c10, m, a); c11 = FMA(c11, m, a);                \
            __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5));                 \
            __asm__ volatile("" : "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11));               \
        }                                                                                                      \
        vec t = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;                                  \
        T s = 0;                                                                                               \
        for (int l = 0; l < VL; l++) s += t[l];                                                                \
        return (double)s;                                                                                      \
    }

/* the library builds with -ffp-contract=off: the fused multiply-adds are spelled out */
#define FM_MULADD(x, y, z) ((x) * (y) + (z))
FM_PEAK_KERNEL(fm_peak_base_f32, float, 4, , FM_MULADD)
FM_PEAK_KERNEL(fm_peak_base_f64, double, 2, , FM_MULADD)
#if FM_PEAK_X86
#include <immintrin.h>
#define FM_FMA256S(x, y, z) ((vec)_mm256_fmadd_ps((__m256)(x), (__m256)(y), (__m256)(z)))
#define FM_FMA256D(x, y, z) ((vec)_mm256_fmadd_pd((__m256d)(x), (__m256d)(y), (__m256d)(z)))
#define FM_FMA512S(x, y, z) ((vec)_mm512_fmadd_ps((__m512)(x), (__m512)(y), (__m512)(z)))
#define FM_FMA512D(x, y, z) ((vec)_mm512_fmadd_pd((__m512d)(x), (__m512d)(y), (__m512d)(z)))
FM_PEAK_KERNEL(fm_peak_avx2_f32, float, 8, __attribute__((target("avx2,fma"))), FM_FMA256S)
FM_PEAK_KERNEL(fm_peak_avx2_f64, double, 4, __attribute__((target("avx2,fma"))), FM_FMA256D)
FM_PEAK_KERNEL(fm_peak_avx512_f32, float, 16, __attribute__((target("avx512f"))), FM_FMA512S)
FM_PEAK_KERNEL(fm_peak_avx512_f64, double, 8, __attribute__((target("avx512f"))), FM_FMA512D)
#endif

double fm_cpu_peak_gflops(int f64, double seconds) {
    const char *path = fm_cpu_path();
    double (*kern)(long) = f64 ? fm_peak_base_f64 : fm_peak_base_f32;
    int lanes = f64 ? 2 : 4;
#if FM_PEAK_X86
    if (path[0] == 'a' && path[3] == '5') {
        kern = f64 ? fm_peak_avx512_f64 : fm_peak_avx512_f32;
        lanes = f64 ? 8 : 16;
    } else if (path[0] == 'a') {
        kern = f64 ? fm_peak_avx2_f64 : fm_peak_avx2_f32;
        lanes = f64 ? 4 : 8;
    }
#endif
    if (!(seconds > 0.0)) seconds = 0.2;
    if (seconds > 10.0) seconds = 10.0; /* bounded: the GIL is released while this runs */
    volatile double sink = 0.0;
    long iters = 1000;
    double best = 0.0, t_total = 0.0;
    while (t_total < seconds || best == 0.0) { /* at least one timed sample, however short the budget */
        const double t0 = fm_now();
        sink += kern(iters);
        const double dt = fm_now() - t0;
        t_total += dt;
        if (dt < 1e-3 && iters < (1L << 40)) {
            iters *= 4;
            continue;
        }
        const double gf = 2.0 * 12.0 * lanes * (double)iters / dt * 1e-9;
        if (gf > best) best = gf;
    }
    (void)sink;
    return best;
}

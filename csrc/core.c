/* core.c -- status names, version and thread control (see fastmlp.h). */
#include "internal.h"

const char *fm_strerror(int code) {
    switch (code) {
    case FM_OK: return "ok";
    case FM_ENULL: return "NULL pointer";
    case FM_ESIZE: return "zero size";
    case FM_EOVERFLOW: return "size overflow";
    case FM_EENUM: return "unknown enum value";
    case FM_ELABEL: return "label out of range";
    case FM_EVALUE: return "option out of range";
    case FM_EOVERLAP: return "output buffer overlaps another buffer";
    case FM_EDIVERGED: return "loss or gradient is not finite";
    case FM_ENOMEM: return "out of memory (the dense products' per-thread scratch)";
    default: return "unknown error code";
    }
}

const char *fm_version(void) { return FASTMLP_VERSION; }

/* the library's thread count, shared by every calling thread (omp_set_num_threads would set it for the calling
 * thread only); 0 until set: OpenMP's default (OMP_NUM_THREADS) */
static int fm_nthreads = 0;

int fm_set_num_threads(int n) {
    if (n < 1 || n > FM_MAX_THREADS) return FM_EVALUE;
    __atomic_store_n(&fm_nthreads, n, __ATOMIC_RELAXED);
    return FM_OK;
}

int fm_get_num_threads(void) { return fmi_threads(); }

int fmi_threads(void) {
    const int n = __atomic_load_n(&fm_nthreads, __ATOMIC_RELAXED);
#ifdef _OPENMP
    if (n > 0) return n;
    /* OpenMP's default (OMP_NUM_THREADS) is capped too: OMP_NUM_THREADS=65536 crashes libgomp as well */
    const int d = omp_get_max_threads();
    return d > FM_MAX_THREADS ? FM_MAX_THREADS : (d < 1 ? 1 : d);
#else
    (void)n;
    return 1;
#endif
}

int fm_build_info(void) {
#ifdef _OPENMP
    return FM_BUILD_OPENMP;
#else
    return 0;
#endif
}

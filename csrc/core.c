/* core.c -- status names, version, the environment read once, and thread control (see fastmlp.h). */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

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

/* The environment variables the kernels obey, copied once per process: by fm_init (the Python extension calls it
 * at import, with the GIL held) or else by the first kernel that needs one (pthread_once), never again, so that a
 * kernel running beside a thread that changes the environment (os.environ writes call setenv) reads no freed
 * string, and every kernel of a process sees the same values. */
static const char *const fm_env_names[FMI_ENV_COUNT] = {"FASTMLP_ISA", "FASTMLP_BLOCKS", "FASTMLP_BF16",
                                                           "FASTMLP_BF16_TRAIN"};
static char fm_env_vals[FMI_ENV_COUNT][64];
static int fm_env_has[FMI_ENV_COUNT];
static pthread_once_t fm_env_once = PTHREAD_ONCE_INIT;

static void fm_env_read(void) {
    for (int i = 0; i < FMI_ENV_COUNT; i++) {
        const char *v = getenv(fm_env_names[i]);
        if (!v) continue;
        size_t n = strlen(v);
        if (n >= sizeof fm_env_vals[i]) n = sizeof fm_env_vals[i] - 1; /* longer values are invalid anyway */
        memcpy(fm_env_vals[i], v, n);
        fm_env_vals[i][n] = 0;
        fm_env_has[i] = 1;
    }
}

const char *fmi_env(int which) {
    pthread_once(&fm_env_once, fm_env_read);
    return which >= 0 && which < FMI_ENV_COUNT && fm_env_has[which] ? fm_env_vals[which] : NULL;
}

int fm_init(void) {
    (void)fmi_env(0);
    (void)fm_cpu_path();   /* the instruction set (FASTMLP_ISA) */
    (void)fmi_caches();    /* the caches and FASTMLP_BLOCKS */
    (void)fm_bf16_path();  /* the bf16 path (FASTMLP_BF16) */
    (void)fm_bf16_train_path(); /* the mixed-precision training path (FASTMLP_BF16_TRAIN) */
    return FM_OK;
}

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

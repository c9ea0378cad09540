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
    default: return "unknown error code";
    }
}

const char *fm_version(void) { return FASTMLP_VERSION; }

int fm_set_num_threads(int n) {
    if (n < 1) return FM_EVALUE;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    return FM_OK;
}

int fm_get_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
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

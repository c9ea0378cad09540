/* optim.c -- in-place parameter updates (see fastmlp.h). */
#include <float.h>
#include "internal.h"

#include <string.h>

/* the instruction set of the update and loss loops (internal.h) */
int fmi_isa_level(void) {
    static int cached = -1;
    int p = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (p < 0) {
        const char *name = fm_cpu_path();
        p = !strcmp(name, "avx512") ? 2 : !strcmp(name, "avx2") ? 1 : 0;
        __atomic_store_n(&cached, p, __ATOMIC_RELAXED);
    }
    return p;
}

/* the SGD loops: without momentum (with or without an L1 term), with momentum, with Nesterov's momentum */
enum { FM_SGD_PLAIN = 0, FM_SGD_PLAIN_L1 = 1, FM_SGD_MOMENTUM = 2, FM_SGD_NESTEROV = 3 };

#define T float
#define SUF _f32
#define SQRT sqrtf
#define U uint32_t
#define ABS_MASK 0x7fffffffu
#define INF_BITS 0x7f800000u
#define TMIN FLT_MIN
#include "optim.inc"
#undef T
#undef SUF
#undef SQRT
#undef U
#undef ABS_MASK
#undef INF_BITS
#undef TMIN

#define T double
#define SUF _f64
#define SQRT sqrt
#define U uint64_t
#define ABS_MASK 0x7fffffffffffffffu
#define INF_BITS 0x7ff0000000000000u
#define TMIN DBL_MIN
#include "optim.inc"
#undef T
#undef SUF
#undef SQRT
#undef U
#undef ABS_MASK
#undef INF_BITS
#undef TMIN

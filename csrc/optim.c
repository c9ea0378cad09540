/* optim.c -- in-place parameter updates (see fastmlp.h). */
#include "internal.h"

#define T float
#define SUF _f32
#define SQRT sqrtf
#include "optim.inc"
#undef T
#undef SUF
#undef SQRT

#define T double
#define SUF _f64
#define SQRT sqrt
#include "optim.inc"
#undef T
#undef SUF
#undef SQRT

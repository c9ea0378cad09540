/* dense.c -- one fully connected layer: fused forward and its backward (see fastmlp.h). */
#include "internal.h"

#define T float
#define SUF _f32
#define EXP expf
#define TANH tanhf
#include "dense.inc"
#undef T
#undef SUF
#undef EXP
#undef TANH

#define T double
#define SUF _f64
#define EXP exp
#define TANH tanh
#include "dense.inc"
#undef T
#undef SUF
#undef EXP
#undef TANH

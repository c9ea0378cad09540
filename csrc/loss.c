/* loss.c -- losses and their gradients (see fastmlp.h). */
#include "internal.h"

#define T float
#define SUF _f32
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#include "loss.inc"
#undef T
#undef SUF
#undef EXP
#undef LOG
#undef LOG1P

#define T double
#define SUF _f64
#define EXP exp
#define LOG log
#define LOG1P log1p
#include "loss.inc"
#undef T
#undef SUF
#undef EXP
#undef LOG
#undef LOG1P

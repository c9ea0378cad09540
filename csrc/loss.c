/* loss.c -- losses and their gradients (see fastmlp.h). */
#include "internal.h"
#include "fexp.h"

#define T float
#define SUF _f32
#define EXP expf
#define FEXP fm_exp_f32
#define LOG logf
#define LOG1P log1pf
#include "loss.inc"
#undef T
#undef SUF
#undef EXP
#undef FEXP
#undef LOG
#undef LOG1P

#define T double
#define SUF _f64
#define EXP exp
#define FEXP fm_exp_f64
#define LOG log
#define LOG1P log1p
#include "loss.inc"
#undef T
#undef SUF
#undef EXP
#undef FEXP
#undef LOG
#undef LOG1P

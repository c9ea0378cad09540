/* internal.h -- helpers shared by the C sources; not part of the public API. */
#ifndef FASTMLP_INTERNAL_H
#define FASTMLP_INTERNAL_H

#include "fastmlp.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define FM_CAT_(a, b) a##b
#define FM_CAT(a, b) FM_CAT_(a, b)

/* Work (multiply-adds) below which a kernel stays on one thread: a second thread only pays above ~10 MFLOP. */
#define FM_PAR_MIN_WORK ((size_t)1 << 21)
/* panels of the packed weight layout are stored in groups of this many, interleaved by k (fastmlp.h) */
#define FM_PACK_GROUP 4

/* The environment variables of the kernels as they were at the first read (core.c: fm_init, else the first call
 * that needs one; never re-read): the value, NULL when unset. */
enum { FMI_ENV_ISA = 0, FMI_ENV_BLOCKS = 1, FMI_ENV_BF16 = 2, FMI_ENV_BF16_TRAIN = 3, FMI_ENV_COUNT = 4 };
const char *fmi_env(int which);

/* Cache blocking of the dense products (gemm.inc): the caches this CPU reports
 * (/sys/devices/system/cpu/cpu0/cache, else sysconf, else 32 KiB / 1 MiB / 8 MiB), read once. */
typedef struct {
    size_t l1d, l2, l3;
    size_t kc, nc; /* FASTMLP_BLOCKS=kc,nc in the environment (tests, tuning): forced block sizes, 0 = from the
                    * caches; rounded and clamped by each kernel set */
} fmi_cache_info;
const fmi_cache_info *fmi_caches(void);
/* Per-thread scratch of the products (dense.c's fm_scratch: a heap buffer per calling thread, allocated on first use
 * at the size a call needs, freed at thread exit): the packed kc x nc slab of B (at most FM_BBUF_BYTES, which caps
 * kc * nc; at least FM_KC_MAX x one panel of 128 bytes), then packed micro-panels of A (at most FM_FEW_PANELS = 8 x
 * 12 rows x FM_KC_MAX float64: FM_ABUF_BYTES; a block of a dz^T's micro-panels packed at once: a quarter of L2, at
 * most FM_ABLK_BYTES, at least one micro-panel). gemm.inc's cols_t (the batch along the lanes) takes x^T's depth block
 * (at most half of L2 and FM_BBUF_BYTES) and two groups of C's columns (at most 43 KB) instead. */
#define FM_BBUF_BYTES ((size_t)2048 * 1024)
#define FM_KC_MAX ((size_t)512)
#define FM_ABUF_BYTES ((size_t)8 * 12 * 512 * 8)
#define FM_ABLK_BYTES ((size_t)1024 * 1024)
#define FM_SCRATCH_BYTES (FM_BBUF_BYTES + FM_ABLK_BYTES)
/* the register tiles (dense_type.inc builds the kernels with them, fm_dense_blocking_for reports them): MR rows by
 * FM_NV vectors of one instruction set's width (16, 32 or 64 bytes) */
#define FM_MR_BASE 6
#define FM_MR_AVX2 6
#define FM_MR_AVX512 12
#define FM_NV 2

/* elementwise updates split across threads above this many values */
#define FM_PAR_MIN_UPDATE ((size_t)1 << 16)
/* Work (multiply-adds) from which a product of the training step (fm_mlp_train_step / _epoch, loss_grad) splits
 * across threads: lower than FM_PAR_MIN_WORK, since the step's threads are still awake (spinning, GOMP_SPINCOUNT)
 * from its previous product, so a region costs ~1 us rather than a wake-up; and every product left on one thread
 * is time the other threads wait (the last layer of a 784-256-128-10 network at B=256 is 327,680). */
#define FM_PAR_MIN_WORK_STEP ((size_t)1 << 16)
/* values (rows x classes) from which the step's softmax cross-entropy splits its rows across threads (each value an
 * exponential, a division and a few additions) */
#define FM_PAR_MIN_LOSS ((size_t)1024)
/* values (rows x width) from which a split backward also splits dz = dp * act'(p) and db across its threads */
#define FM_PAR_MIN_DELTA ((size_t)1 << 14)
/* the epoch's batch gather prefetches the input row this many places ahead of the one it copies */
#ifndef FM_GATHER_AHEAD
#define FM_GATHER_AHEAD 2
#endif

/* for (ptrdiff_t var = 0; var < count; var++) { body }, split across OpenMP threads (static schedule) when cond
 * holds. The serial case is a plain loop: an OpenMP region with a false if() clause still costs a library call
 * (~0.2 us), which a tiny network's step would pay several times over. */
/* the library's thread count (fm_set_num_threads, else OpenMP's default), the same from every calling thread */
int fmi_threads(void);

#ifdef _OPENMP
#define FM_FOR(cond, var, count, ...)                                                                         \
    do {                                                                                                      \
        const ptrdiff_t fm_n_ = (ptrdiff_t)(count);                                                           \
        const int fm_t_ = fmi_threads();                                                                      \
        if ((cond) && fm_t_ > 1) {                                                                            \
            _Pragma("omp parallel for schedule(static) num_threads(fm_t_)")                                   \
            for (ptrdiff_t var = 0; var < fm_n_; var++) {                                                     \
                __VA_ARGS__                                                                                   \
            }                                                                                                 \
        } else {                                                                                              \
            for (ptrdiff_t var = 0; var < fm_n_; var++) {                                                     \
                __VA_ARGS__                                                                                   \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)
#else
#define FM_FOR(cond, var, count, ...)                                                                         \
    do {                                                                                                      \
        const ptrdiff_t fm_n_ = (ptrdiff_t)(count);                                                           \
        (void)(cond);                                                                                         \
        for (ptrdiff_t var = 0; var < fm_n_; var++) {                                                         \
            __VA_ARGS__                                                                                       \
        }                                                                                                     \
    } while (0)
#endif

/* *out = a * b, or FM_EOVERFLOW when the product passes PTRDIFF_MAX / 8 (so byte counts of any element type
 * and signed loop indices stay representable). */
static inline int fm_mul_size(size_t a, size_t b, size_t *out) {
    const size_t lim = (size_t)PTRDIFF_MAX / 8;
    if (a != 0 && b > lim / a) return FM_EOVERFLOW;
    *out = a * b;
    return FM_OK;
}

/* Sizes must be nonzero and their products (n*n_in, n*n_out, n_out*n_in) representable. */
static inline int fm_check_sizes(size_t n, size_t n_in, size_t n_out) {
    size_t t;
    if (n == 0 || n_in == 0 || n_out == 0) return FM_ESIZE;
    if (fm_mul_size(n, n_in, &t) || fm_mul_size(n, n_out, &t) || fm_mul_size(n_out, n_in, &t))
        return FM_EOVERFLOW;
    return FM_OK;
}

/* 1 when the byte ranges [a, a+na) and [b, b+nb) overlap (NULL never overlaps). */
static inline int fm_overlap(const void *a, size_t na, const void *b, size_t nb) {
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    if (!a || !b) return 0;
    return x < y + nb && y < x + na;
}

static inline int fm_act_valid(fm_act act) {
    return act == FM_ACT_IDENTITY || act == FM_ACT_RELU || act == FM_ACT_SIGMOID || act == FM_ACT_TANH;
}

static inline int fm_finite_nonneg(double v) { return isfinite(v) && v >= 0.0; }

/* 1 when no element is NaN/Inf: an exponent of all ones, tested on the bits so that the loop vectorises */
#define FM_DEFINE_ALL_FINITE(SUF, T, U, EXP_BITS)                       \
    static inline int fm_all_finite_##SUF(const T *a, size_t n) {        \
        U bad = 0;                                                       \
        for (size_t i = 0; i < n; i++) {                                 \
            U u;                                                         \
            memcpy(&u, a + i, sizeof u);                                 \
            bad |= (u & EXP_BITS) == EXP_BITS;                           \
        }                                                                \
        return bad == 0;                                                 \
    }
FM_DEFINE_ALL_FINITE(f32, float, uint32_t, 0x7f800000u)
FM_DEFINE_ALL_FINITE(f64, double, uint64_t, 0x7ff0000000000000u)

/* max |a[i]| as a double (+inf when an element is NaN/Inf): the bits of |x| order like x, so an integer max
 * over them vectorises */
#define FM_DEFINE_MAX_ABS(SUF, T, U, ABS_MASK, INF_BITS)                                    \
    static inline __attribute__((always_inline)) double fm_max_abs_##SUF(const T *a, size_t n) { \
        U m = 0;                                                                                \
        for (size_t i = 0; i < n; i++) {                                                        \
            U u;                                                                                \
            memcpy(&u, a + i, sizeof u);                                                        \
            u &= ABS_MASK;                                                                      \
            m = u > m ? u : m;                                                                  \
        }                                                                                       \
        if (m >= INF_BITS) return INFINITY;                                                     \
        T f;                                                                                    \
        memcpy(&f, &m, sizeof f);                                                               \
        return (double)f;                                                                       \
    }
FM_DEFINE_MAX_ABS(f32, float, uint32_t, 0x7fffffffu, 0x7f800000u)
FM_DEFINE_MAX_ABS(f64, double, uint64_t, 0x7fffffffffffffffu, 0x7ff0000000000000u)

/* 1 when every label y[i] (i < n) lies in [0, m) */
static inline int fm_labels_valid(const int64_t *y, size_t n, size_t m) {
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (uint64_t)y[i] >= (uint64_t)m) return 0;
    return 1;
}

/* sample weights: their sum in index order, in double (the one formula every weighted path uses), and the check
 * that every weight is finite and >= 0 */
#define FM_DEFINE_WEIGHTS(SUF, T)                                                   \
    static inline double fm_wsum_##SUF(const T *sw, size_t n) {                     \
        double s = 0.0;                                                             \
        for (size_t i = 0; i < n; i++) s += (double)sw[i];                          \
        return s;                                                                   \
    }                                                                               \
    static inline int fm_weights_valid_##SUF(const T *sw, size_t n) {              \
        int bad = 0;                                                                \
        for (size_t i = 0; i < n; i++) bad |= !(sw[i] >= (T)0 && sw[i] <= FM_TMAX_##SUF); \
        return bad == 0;                                                            \
    }                                                                               \
    /* 1 when every t[i] >= 0 (NaN fails) */                                       \
    static inline int fm_nonneg_##SUF(const T *t, size_t n) {                      \
        int bad = 0;                                                                \
        for (size_t i = 0; i < n; i++) bad |= !(t[i] >= (T)0);                      \
        return bad == 0;                                                            \
    }
#define FM_TMAX_f32 3.40282346638528859811704183484516925440e+38f
#define FM_TMAX_f64 1.79769313486231570814527423731704356798070e+308
FM_DEFINE_WEIGHTS(f32, float)
FM_DEFINE_WEIGHTS(f64, double)

/* FM_OK when indptr[0..n_rows] rises from 0 (never decreasing) and every index of indices[0..nnz) lies in
 * [0, n_cols), nnz = indptr[n_rows] (written to *nnz; it must keep nnz * 8 bytes representable); FM_EVALUE
 * otherwise. indices may be NULL only when nnz is 0. */
static inline int fm_csr_valid(const int64_t *indptr, const int64_t *indices, size_t n_rows, size_t n_cols,
                               size_t *nnz) {
    if (indptr[0] != 0) return FM_EVALUE;
    int bad = 0;
    for (size_t r = 0; r < n_rows; r++) bad |= indptr[r + 1] < indptr[r];
    if (bad) return FM_EVALUE;
    const int64_t total = indptr[n_rows];
    if ((uint64_t)total > (uint64_t)PTRDIFF_MAX / 8) return FM_EOVERFLOW;
    if (total > 0 && !indices) return FM_ENULL;
    for (int64_t i = 0; i < total; i++) bad |= indices[i] < 0 || (uint64_t)indices[i] >= (uint64_t)n_cols;
    if (bad) return FM_EVALUE;
    *nnz = (size_t)total;
    return FM_OK;
}

/* 1 when every rows[i] (i < n) lies in [0, n_rows) */
static inline int fm_rows_valid(const int64_t *rows, size_t n, size_t n_rows) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad |= rows[i] < 0 || (uint64_t)rows[i] >= (uint64_t)n_rows;
    return bad == 0;
}

/* max |a[i]| on the widest instruction set of this CPU (dense.c) */
double fmi_max_abs_f32(const float *a, size_t n);
double fmi_max_abs_f64(const double *a, size_t n);

/* whether the forward of n rows (n 0: of some batch) is faster from W in place than from the packed panels, and the
 * forward that picks by it (W NULL: the packed panels only) -- the Predictor's, which keeps both where it pays */
int fmi_dense_in_place_f32(size_t n, size_t n_in, size_t n_out);
int fmi_dense_in_place_f64(size_t n, size_t n_in, size_t n_out);
int fmi_dense_forward_dual_f32(const float *x, const float *W, const float *Wp, const float *b, float *p, size_t n,
                               size_t n_in, size_t n_out, size_t nc, fm_act act);
int fmi_dense_forward_dual_f64(const double *x, const double *W, const double *Wp, const double *b, double *p,
                               size_t n, size_t n_in, size_t n_out, size_t nc, fm_act act);

/* argument-free cores of the dense kernels (dense.inc), for mlp.c after it has checked the whole network */
/* (FM_OK, or FM_ENOMEM when a thread could not get the products' scratch: outputs unspecified) */
int fmi_dense_forward_f32(const float *x, const float *W, const float *b, float *p, size_t n, size_t n_in,
                          size_t n_out, fm_act act);
int fmi_dense_forward_f64(const double *x, const double *W, const double *b, double *p, size_t n, size_t n_in,
                          size_t n_out, fm_act act);
int fmi_dense_backward_f32(const float *x, const float *W, const float *p, const float *dp, float *dz, float *dW,
                           float *db, float *dx, size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate);
int fmi_dense_backward_f64(const double *x, const double *W, const double *p, const double *dp, double *dz,
                           double *dW, double *db, double *dx, size_t n, size_t n_in, size_t n_out, fm_act act,
                           int accumulate);
/* the same, split across threads from min_work multiply-adds (instead of FM_PAR_MIN_WORK): the training step's */
int fmi_dense_forward_w_f32(const float *x, const float *W, const float *b, float *p, size_t n, size_t n_in,
                            size_t n_out, fm_act act, size_t min_work);
int fmi_dense_forward_w_f64(const double *x, const double *W, const double *b, double *p, size_t n, size_t n_in,
                            size_t n_out, fm_act act, size_t min_work);
int fmi_dense_backward_w_f32(const float *x, const float *W, const float *p, const float *dp, float *dz, float *dW,
                             float *db, float *dx, size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate,
                             size_t min_work);
int fmi_dense_backward_w_f64(const double *x, const double *W, const double *p, const double *dp, double *dz,
                             double *dW, double *db, double *dx, size_t n, size_t n_in, size_t n_out, fm_act act,
                             int accumulate, size_t min_work);

/* argument-free core of fm_dense_forward_bf16 (bf16.c) */
void fmi_dense_forward_bf16(const float *x, const uint16_t *Wp, const float *b, float *p, size_t n, size_t n_in,
                            size_t n_out, fm_act act);

/* the mixed-precision products of fm_mlp_train_step_bf16 (bf16_train.c): the forward and backward of a float32
 * layer whose products read bf16-rounded operands; scratch: fmi_mixed_scratch_bytes(n, n_in, n_out) bytes;
 * FM_OK, or FM_ENOMEM from the float32 products of the emulated path */
int fmi_mixed_scratch_bytes(size_t n, size_t n_in, size_t n_out, size_t *bytes);
int fmi_dense_forward_mixed(const float *x, const float *W, const float *b, float *p, size_t n, size_t n_in,
                             size_t n_out, fm_act act, void *scratch, void *xpairs);
int fmi_dense_backward_mixed(const float *x, const float *W, const float *p, const float *dp, float *dz, float *dW,
                              float *db, float *dx, size_t n, size_t n_in, size_t n_out, fm_act act, void *scratch,
                              const void *xpairs);
/* xpairs: fmi_mixed_pairs_bytes(n, n_in) bytes (required) that the forward fills with x in the backward's pairs (its
 * dW operand: x is read and rounded once per step, not twice) and the backward of the same rows then reads */
int fmi_mixed_pairs_bytes(size_t n, size_t n_in, size_t *bytes);

/* argument-free cores of the losses (loss.inc): the public fm_loss_* check, then call these; so does mlp.c after
 * checking the whole network once (labels, weights and Poisson targets included) */
void fmi_loss_mse_f32(const float *p, const float *t, const float *sw, float *dp, double *loss, size_t n, size_t m);
void fmi_loss_mse_f64(const double *p, const double *t, const double *sw, double *dp, double *loss, size_t n,
                      size_t m);
void fmi_loss_softmax_ce_f32(const float *z, const int64_t *y, const float *sw, float *dz, double *loss, size_t n,
                             size_t m);
void fmi_loss_softmax_ce_f64(const double *z, const int64_t *y, const double *sw, double *dz, double *loss,
                             size_t n, size_t m);
/* the same split across threads by rows from FM_PAR_MIN_LOSS values (the training step's); terms: room for n doubles */
void fmi_loss_softmax_ce_par_f32(const float *z, const int64_t *y, const float *sw, float *dz, double *loss, size_t n,
                                 size_t m, double *terms);
void fmi_loss_softmax_ce_par_f64(const double *z, const int64_t *y, const double *sw, double *dz, double *loss,
                                 size_t n, size_t m, double *terms);
void fmi_loss_sigmoid_bce_f32(const float *z, const float *t, const float *sw, float *dz, double *loss, size_t n,
                              size_t m);
void fmi_loss_sigmoid_bce_f64(const double *z, const double *t, const double *sw, double *dz, double *loss,
                              size_t n, size_t m);
void fmi_loss_poisson_f32(const float *z, const float *t, const float *sw, float *dz, double *loss, size_t n,
                          size_t m);
void fmi_loss_poisson_f64(const double *z, const double *t, const double *sw, double *dz, double *loss, size_t n,
                          size_t m);

/* argument-free cores of the sparse first layer (sparse.inc); work: n_in * n_out values. transposed != 0: work
 * already holds W^T (a previous call with the same W left it there: mlp.c's forward over several chunks) */
void fmi_csr_dense_forward_f32(const int64_t *indptr, const int64_t *indices, const float *data,
                               const int64_t *rows, const float *W, const float *b, float *p, float *work, size_t n,
                               size_t n_in, size_t n_out, fm_act act, int transposed);
void fmi_csr_dense_forward_f64(const int64_t *indptr, const int64_t *indices, const double *data,
                               const int64_t *rows, const double *W, const double *b, double *p, double *work,
                               size_t n, size_t n_in, size_t n_out, fm_act act, int transposed);
void fmi_csr_dense_backward_f32(const int64_t *indptr, const int64_t *indices, const float *data,
                                const int64_t *rows, const float *p, const float *dp, float *dz, float *dW,
                                float *db, float *work, size_t n, size_t n_in, size_t n_out, fm_act act,
                                int accumulate);
void fmi_csr_dense_backward_f64(const int64_t *indptr, const int64_t *indices, const double *data,
                                const int64_t *rows, const double *p, const double *dp, double *dz, double *dW,
                                double *db, double *work, size_t n, size_t n_in, size_t n_out, fm_act act,
                                int accumulate);

/* the updates (optim.inc): the option checks (FM_OK or FM_EVALUE; as doubles and rounded to the element type),
 * then the argument-free cores, which assume the checks passed */
int fmi_sgd_check_f32(double lr, double momentum, double weight_decay, double l1, int nesterov);
int fmi_sgd_check_f64(double lr, double momentum, double weight_decay, double l1, int nesterov);
int fmi_adam_check_f32(uint64_t t, double lr, double beta1, double beta2, double eps, double weight_decay,
                       double l1);
int fmi_adam_check_f64(uint64_t t, double lr, double beta1, double beta2, double eps, double weight_decay,
                       double l1);
void fmi_sgd_update_f32(const float *dW, float *W, float *v, size_t n, double lr, double momentum,
                        double weight_decay, double l1, int nesterov);
void fmi_sgd_update_f64(const double *dW, double *W, double *v, size_t n, double lr, double momentum,
                        double weight_decay, double l1, int nesterov);
void fmi_adam_update_f32(const float *dW, float *W, float *m, float *v, size_t n, uint64_t t, double lr,
                         double beta1, double beta2, double eps, double weight_decay, double l1);
void fmi_adam_update_f64(const double *dW, double *W, double *m, double *v, size_t n, uint64_t t, double lr,
                         double beta1, double beta2, double eps, double weight_decay, double l1);
/* out[0..4) = max |params|, max |grads|, max |s0|, max |s1| (as doubles, +inf where an element is NaN/Inf, 0 for a
 * NULL stream; s1 only with s0) in one pass over n elements, on the update loops' instruction set (mlp.c's bound) */
/* the public updates with the NaN/Inf scan fused in (the Python API's default check_finite=True): nonzero *bad (a
 * bit per array found non-finite, optim.inc) means FM_EVALUE with nothing written */
int fmi_all_finite_f32(const float *a, size_t n);
int fmi_all_finite_f64(const double *a, size_t n);
int fmi_sgd_update_finite_f32(const float *dW, float *W, float *v, size_t n, double lr, double momentum,
                              double weight_decay, double l1, int nesterov, int *bad);
int fmi_sgd_update_finite_f64(const double *dW, double *W, double *v, size_t n, double lr, double momentum,
                              double weight_decay, double l1, int nesterov, int *bad);
int fmi_adam_update_finite_f32(const float *dW, float *W, float *m, float *v, size_t n, uint64_t t, double lr,
                               double beta1, double beta2, double eps, double weight_decay, double l1, int *bad);
int fmi_adam_update_finite_f64(const double *dW, double *W, double *m, double *v, size_t n, uint64_t t, double lr,
                               double beta1, double beta2, double eps, double weight_decay, double l1, int *bad);
void fmi_update_bounds_f32(const float *params, const float *grads, const float *s0, const float *s1, size_t n,
                           double *out);
void fmi_update_bounds_f64(const double *params, const double *grads, const double *s0, const double *s1, size_t n,
                           double *out);
/* The instruction set of the element-wise loops compiled per target (optim.c's updates, loss.c's softmax rows): 2
 * AVX-512, 1 AVX2, 0 the baseline; dense.c's choice (fm_cpu_path, which reads the CPU and FASTMLP_ISA once), so that
 * every kernel of a process runs on the same path. The "naive" path (plain loops for the products) takes the
 * baseline loops: they are the plain loops. FM_ISA_X86: whether this compiler builds the x86 variants at all. */
int fmi_isa_level(void);
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define FM_ISA_X86 1
#else
#define FM_ISA_X86 0
#endif
/* the sums of a training step's penalty over one weight matrix w[0..n): sq[k] += w[i]^2, ab[k] += |w[i]| in double for
 * i = k mod FM_PEN_LANES, i ascending (16 independent chains; mlp.c adds the lanes pairwise) */
#define FM_PEN_LANES 16
void fmi_penalty_sums_f32(const float *w, size_t n, double *sq, double *ab);
void fmi_penalty_sums_f64(const double *w, size_t n, double *sq, double *ab);
/* a whole network's update (mlp.c): the bound scan and the update of the flat vectors in one pass. nseg segments end at
 * ends[0..nseg) (the last at P), alternating a layer's W (penalised: weight_decay, l1) and its b (never); safe(opt, mx,
 * step) decides from the maxima as fmi_update_bounds gives them whether the step may run; 1 when it ran, 0 when safe
 * refused it (nothing written). The options must have passed fmi_sgd_check / fmi_adam_check. */
typedef int (*fmi_update_safe_fn)(const fm_optim *opt, const double *mx, uint64_t step);
/* What a run of updates knows of the vectors it writes, between two of its steps: the maxima of |params|, |s0| and
 * |s1| (fmi_update_bounds' out[0], [2], [3]) as the last update stored them. While valid (the caller guarantees that
 * nothing else wrote params or state since: train_epoch's loop) the next update scans only the gradient; every
 * update given a memo leaves it valid (the maxima of what it stored, found as it stores them) or, refused, as it
 * was. The maxima are exact, so the verdict of safe() and every bit are those of a full scan. */
typedef struct {
    int valid;
    double w, s0, s1;
} fmi_bounds_memo;
int fmi_update_net_f32(const fm_optim *opt, const float *grads, float *params, float *state, size_t P, uint64_t step,
                       const size_t *ends, size_t nseg, fmi_update_safe_fn safe, fmi_bounds_memo *memo, double gmax);
int fmi_update_net_f64(const fm_optim *opt, const double *grads, double *params, double *state, size_t P,
                       uint64_t step, const size_t *ends, size_t nseg, fmi_update_safe_fn safe, fmi_bounds_memo *memo,
                       double gmax);
/* fm_mlp_train_step with a bounds memo that the caller keeps across its steps (mlp.inc) */
int fmi_mlp_train_step_memo_f32(const fm_mlp *net, const fm_optim *opt, const float *x, const float *t,
                                const int64_t *y, const float *sw, float *params, float *state, float *grads,
                                double *loss, void *work, size_t n, size_t work_batch, uint64_t step,
                                fmi_bounds_memo *memo);
int fmi_mlp_train_step_memo_f64(const fm_mlp *net, const fm_optim *opt, const double *x, const double *t,
                                const int64_t *y, const double *sw, double *params, double *state, double *grads,
                                double *loss, void *work, size_t n, size_t work_batch, uint64_t step,
                                fmi_bounds_memo *memo);

#endif

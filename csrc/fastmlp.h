/*
 * fastmlp.h -- the public C API of fastmlp's core.
 *
 * Plain C11, no Python. Every kernel exists for float32 (_f32) and float64 (_f64) and returns an int status:
 * FM_OK (0) or a negative FM_E* code (fm_strerror names it). Kernels never print or exit; they check their
 * pointers, sizes and enums before touching memory, and write nothing when they refuse. The only memory they
 * allocate is the dense products' scratch: one buffer per thread that runs them (OpenMP workers included), made on
 * first use at the size a call needs, grown when a call needs more, freed when the thread exits (at most ~2.4 MB
 * per thread); FM_ENOMEM when it cannot be allocated (the outputs are then unspecified, a network step or epoch
 * returns before its update: parameters unchanged).
 *
 * Layout: row-major, one sample per row. A layer with n_in inputs and n_out outputs has W[n_out][n_in] and
 * b[n_out]; a batch x[n][n_in] gives p[n][n_out] = act(x . W^T + b).
 * Argument order, the same in every function (the generated Cython declarations and the reference twins in
 * reference/ follow it):
 *   1. descriptors, object style: `const fm_mlp *net`, then `const fm_optim *opt` (what the call is about);
 *   2. const input buffers, in the order of the math (x, W, b; p, t; z, y; dW; X, T, Y, order);
 *   3. output buffers: first those read and updated in place (W, v, m, params, state), then the written ones
 *      (p, dz, dW, db, dx, Wp, grads);
 *   4. scalar outputs through pointers: in/out first (uint64_t *step), then out (double *loss, size_t *count);
 *   5. the workspace, void *work (a kernel's scratch of one element type: T *work);
 *   6. sizes (size_t): rows n, then widths n_in, n_out (m), then the rest (panel width nc, batch, work_batch);
 *   7. options by value: enums (act), scalars (lr, ...), step numbers (t, step), flags (accumulate, nesterov).
 * Output buffers must not overlap the inputs unless a comment says so (FM_EOVERLAP otherwise).
 * Threads: OpenMP (when built with it) splits work by output rows, each output element is summed by one thread
 * in a fixed order, so results are bit-identical for any thread count.
 */
#ifndef FASTMLP_H
#define FASTMLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FASTMLP_VERSION "0.1.0"

/* exported from a shared library built with -fvisibility=hidden */
#if defined(_WIN32) && defined(FASTMLP_BUILD_DLL)
#define FM_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define FM_API __attribute__((visibility("default")))
#else
#define FM_API
#endif

/* status codes */
#define FM_OK         0
#define FM_ENULL     -1  /* a required pointer is NULL */
#define FM_ESIZE     -2  /* a size is zero */
#define FM_EOVERFLOW -3  /* a size product overflows size_t / ptrdiff_t */
#define FM_EENUM     -4  /* unknown activation / loss / optimizer value */
#define FM_ELABEL    -5  /* a class label is outside [0, n_classes) */
#define FM_EVALUE    -6  /* a scalar option is out of range (lr < 0, momentum >= 1, t == 0, ...) */
#define FM_EOVERLAP  -7  /* an output buffer overlaps an input or another output */
#define FM_EDIVERGED -8  /* the loss or a gradient is NaN/Inf: the step was refused, parameters unchanged */
#define FM_ENOMEM    -9  /* no memory for the products' per-thread scratch: outputs unspecified, parameters kept */

typedef enum {
    FM_ACT_IDENTITY = 0,
    FM_ACT_RELU = 1,
    FM_ACT_SIGMOID = 2,
    FM_ACT_TANH = 3
} fm_act;

/* Name of a status code ("ok", "NULL pointer", ...); never NULL. */
FM_API const char *fm_strerror(int code);
/* Library version string, FASTMLP_VERSION of the build. */
FM_API const char *fm_version(void);
/* Reads the environment variables the kernels obey (FASTMLP_ISA, FASTMLP_BLOCKS, FASTMLP_BF16, FASTMLP_BF16_TRAIN)
 * and makes the choices that depend on them and on the CPU (kernel path, cache blocking, bf16 path, mixed-precision
 * training path), once per process: later
 * calls, and later changes to the environment, change nothing. Optional: without it the first kernel that needs
 * them does the same (thread-safely); call it at start-up, before other threads may change the environment (the
 * Python extension calls it at import). Returns FM_OK. */
FM_API int fm_init(void);
/* The most threads the kernels use. A bound well above any shared-memory machine's hardware threads today (the
 * largest two-socket servers have 384-768), yet low enough that OpenMP can create them: each thread reserves a
 * stack (8 MiB by default, so 1024 threads reserve 8 GiB of address space), and libgomp exits the process when
 * thread creation fails (32768 threads) or crashes (65536). Past ~2 threads per core the kernels only lose. */
#define FM_MAX_THREADS 1024
/* Threads used by the kernels (OpenMP); n < 1 or n > FM_MAX_THREADS gives FM_EVALUE (nothing changes). Without
 * OpenMP: always 1. fm_get_num_threads returns the count in use: this one, else OpenMP's default
 * (OMP_NUM_THREADS) capped at FM_MAX_THREADS. */
FM_API int fm_set_num_threads(int n);
FM_API int fm_get_num_threads(void);
/* How the library was built, as FM_BUILD_* bits (FM_BUILD_OPENMP: compiled with OpenMP). */
#define FM_BUILD_OPENMP 1
FM_API int fm_build_info(void);
/* The kernel path chosen for this CPU at run time: "avx512", "avx2", "baseline" (portable SIMD) or "naive"
 * (plain loops; FASTMLP_ISA in the environment can lower the choice, e.g. to compare paths). Twin:
 * reference.cpu_path (from /proc/cpuinfo's flags). */
FM_API const char *fm_cpu_path(void);
/* This CPU's measured peak of one thread in GFLOP/s (float64 when f64 != 0) with the instructions of
 * fm_cpu_path(), from independent multiply-add chains timed for about `seconds`. */
FM_API double fm_cpu_peak_gflops(int f64, double seconds);
/* How the dense products are cache-blocked on the path fm_cpu_path() names (float64 when f64 != 0): info[0..2] =
 * the L1d, L2 and L3 sizes in bytes this CPU reports (cpu0's in /sys/devices/system/cpu/cpu0/cache, else sysconf's;
 * clamped as below), info[3] = kc (depth of a block), info[4] = nc (columns of the packed slab of B), info[5] x
 * info[6] = the register tile (rows x columns); the block sizes are 0 on the "naive" path. FASTMLP_BLOCKS=kc,nc in
 * the environment forces the block sizes (rounded and clamped). Twin: reference.dense_blocking. */
FM_API int fm_dense_blocking(int f64, size_t info[7]);
/* The rule fm_dense_blocking applies, as a function of its inputs (so it has a twin, reference.dense_blocking_for):
 * info[0..6] as above for a path named cpu_path ("avx512", "avx2", "baseline", "naive") and caches of l1d, l2, l3
 * bytes, with force_kc / force_nc > 0 as FASTMLP_BLOCKS=kc,nc. Odd cache sizes are clamped (an L1d outside
 * [16 KiB, 1 MiB] counts as 32 KiB, an L2 outside [128 KiB, 1 TiB] as 1 MiB, an L3 below the L2 as 4 x L2);
 * kc = the largest multiple of 8 with the tile's rows x kc in a quarter of L1d and kc x its columns in 2/3 of it,
 * within [8, 512]; nc = columns of the kc x nc slab in half of L2 (at most 2 MiB), a multiple of the tile's
 * columns, at least one tile. FM_EVALUE for an unknown path, force_kc > 2^20 or force_nc > 2^24. */
FM_API int fm_dense_blocking_for(const char *cpu_path, size_t info[7], size_t l1d, size_t l2, size_t l3,
                                 size_t force_kc, size_t force_nc, int f64);

/* ---- dense.c : one fully connected layer ---------------------------------------------------------------- */

/* p[n][n_out] = act(x[n][n_in] . W[n_out][n_in]^T + b[n_out]); b may be NULL (no bias). Overwrites p. */
FM_API int fm_dense_forward_f32(const float *x, const float *W, const float *b, float *p,
                         size_t n, size_t n_in, size_t n_out, fm_act act);
FM_API int fm_dense_forward_f64(const double *x, const double *W, const double *b, double *p,
                         size_t n, size_t n_in, size_t n_out, fm_act act);

/* Backward of dense_forward, from the layer's output p[n][n_out] and dp = dL/dp[n][n_out]:
 *   dz[n][n_out]    = dp * act'(p)           (overwritten; dz may be the same buffer as dp, for in place)
 *   db[n_out]       = sum_i dz[i]            (may be NULL: not computed)
 *   dW[n_out][n_in] = dz^T . x
 *   dx[n][n_in]     = dz . W                 (may be NULL, e.g. for a first layer; always overwritten)
 * accumulate = 0 overwrites dW and db; accumulate != 0 adds this batch's gradient to them. */
FM_API int fm_dense_backward_f32(const float *x, const float *W, const float *p, const float *dp,
                          float *dz, float *dW, float *db, float *dx,
                          size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate);
FM_API int fm_dense_backward_f64(const double *x, const double *W, const double *p, const double *dp,
                          double *dz, double *dW, double *db, double *dx,
                          size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate);

/* Inference layout: W[n_out][n_in] rearranged for the forward kernels. Outputs are cut into panels of nc and the
 * panels into groups of 4, interleaved by input: Wp[g][k][j] = W[g*4*nc + j][k] for j < 4*nc (zero past n_out),
 * ceil(n_out / (4*nc)) * 4*nc * n_in values. nc must be fm_dense_pack_width() for the packed forward, which then
 * skips the per-call rearranging that dense_forward does: for repeated inference with fixed weights (batch 1
 * above all). Results equal fm_dense_forward's bit for bit. */
FM_API size_t fm_dense_pack_width_f32(void);
FM_API size_t fm_dense_pack_width_f64(void);
/* *count = length of the packed layout, ceil(n_out / (4*nc)) * 4*nc * n_in values (FM_EOVERFLOW when it is not
 * representable; 1 <= nc <= 1024, FM_EVALUE otherwise). */
FM_API int fm_dense_packed_size(size_t *count, size_t n_in, size_t n_out, size_t nc);
FM_API int fm_dense_pack_f32(const float *W, float *Wp, size_t n_in, size_t n_out, size_t nc);
FM_API int fm_dense_pack_f64(const double *W, double *Wp, size_t n_in, size_t n_out, size_t nc);
/* The packed forward trusts n_in, n_out and nc to be those Wp was packed with (the layout does not record them):
 * Wp must hold fm_dense_packed_size(n_in, n_out, nc) values. A wrong n_out that rounds to the same packed size is
 * not detectable here and gives wrong outputs (zero columns); the Python wrapper keeps the sizes with the packed
 * weights (fastmlp.dense_pack returns a PackedWeights) and refuses a mismatch, C callers own that bookkeeping. */
FM_API int fm_dense_forward_packed_f32(const float *x, const float *Wp, const float *b, float *p, size_t n, size_t n_in,
                                size_t n_out, size_t nc, fm_act act);
FM_API int fm_dense_forward_packed_f64(const double *x, const double *Wp, const double *b, double *p, size_t n,
                                size_t n_in, size_t n_out, size_t nc, fm_act act);

/* ---- bf16.c : bfloat16 weights, float32 accumulation ------------------------------------------------------ */
/* bf16 values are uint16_t holding the upper half of a float32's bits (sign, 8 exponent bits, 7 mantissa bits).
 * The product is that of the VDPBF16PS instruction (AVX512_BF16): per output, over the input pairs in increasing
 * order, acc += W[2q+1] x[2q+1] then acc += W[2q] x[2q], each product exact in float32, each sum rounded to nearest
 * even, bf16 denormals read as zero, sums that are tiny after rounding flushed to zero. Where the CPU lacks the
 * instruction (or FASTMLP_ISA lowers the path below avx512) an emulation computes the same operations: results are
 * bit-identical on every path, for every thread count and batch position (fm_bf16_path names the path). */

/* "vdpbf16ps" (the instruction) or "emulated", with "+fma" where float32 FMA tiles run the work items whose
 * exponent range makes them give the same bits (FASTMLP_BF16=nofma turns them off). Twin: reference.bf16_path. */
FM_API const char *fm_bf16_path(void);
/* The rule fm_bf16_path applies, as a function of its inputs (twin: reference.bf16_path_for): *name = the bf16 path
 * on kernel path cpu_path ("avx512", "avx2", "baseline", "naive") of a CPU with (has_bf16 != 0) or without the
 * AVX512_BF16 instruction, nofma != 0 as FASTMLP_BF16=nofma: "vdpbf16ps" where the path is avx512 and the CPU has
 * the instruction, else "emulated"; "+fma" on the avx512 and avx2 paths unless nofma. FM_EVALUE for an unknown
 * path. */
FM_API int fm_bf16_path_for(const char *cpu_path, const char **name, int has_bf16, int nofma);
/* y[i] = x[i] rounded to bf16 as VCVTNEPS2BF16 does: to nearest even; NaN stays NaN (quiet, sign and top payload
 * kept); zeros and denormals give a zero of their sign; past the largest bf16: Inf. */
FM_API int fm_float_to_bf16(const float *x, uint16_t *y, size_t n);
/* y[i] = x[i] widened to float32 (exact). */
FM_API int fm_bf16_to_float(const uint16_t *x, float *y, size_t n);
/* *count = length of the packed bf16 layout of W[n_out][n_in]: ceil(n_out/16)*16 outputs by 2*ceil(n_in/2)
 * inputs, then 32 values of summary. Outputs are cut into panels of 16, panels into groups of 4 (the last group may
 * have fewer), and each group is stored input pair by input pair: group g (at offset g*128*ceil(n_in/2)), width gw
 * panels, holds Wp[q][v][j][t] = W[(4g+v)*16 + j][2q + t] (zero past n_out and n_in). The summary: the smallest and
 * largest exponent field of W's nonzero values (255 and 0 when there are none), 1 when one of them is denormal, Inf
 * or NaN (else 0), then zeros. The forward uses it to decide where float32 fused multiply-adds give the same bits
 * as the instruction (every partial sum a multiple of FLT_MIN: never flushed; no overflow). */
FM_API int fm_dense_packed_size_bf16(size_t *count, size_t n_in, size_t n_out);
/* Wp = W[n_out][n_in] (bf16) in the packed layout (fm_dense_packed_size_bf16 values) with its summary. */
FM_API int fm_dense_pack_bf16(const uint16_t *W, uint16_t *Wp, size_t n_in, size_t n_out);
/* p[n][n_out] = act(bf16(x) . W^T + b): x[n][n_in] float32 rounded to bf16 (fm_float_to_bf16) as it is read, Wp
 * the packed bf16 weights, the sums as above (starting from +0), then z = sum + b[o] in float32 (b may be NULL)
 * and the activation, computed in double from z and rounded to float32. Overwrites p. Wp must hold
 * fm_dense_packed_size_bf16(n_in, n_out) values packed with these sizes (not checkable here). A finite x that
 * rounds past the largest bf16 (|x| >= 0x1.fe8p127 = 3.3961e38 would become Inf) gives FM_EVALUE, nothing written
 * (x's NaN and Inf are the caller's to check: they give NaN/Inf outputs). */
FM_API int fm_dense_forward_bf16(const float *x, const uint16_t *Wp, const float *b, float *p, size_t n,
                                 size_t n_in, size_t n_out, fm_act act);

/* ---- dense.c (sparse.inc) : a first layer on sparse (CSR) input --------------------------------------------- */

/* A CSR matrix X[n_rows][n_in]: row r's nonzeros are data[indptr[r] .. indptr[r+1]) at the columns
 * indices[indptr[r] .. indptr[r+1]); indptr[0] = 0, indptr never decreases, nnz = indptr[n_rows], every index lies in
 * [0, n_in) (unsorted and repeated indices are allowed: repeats add up). The batch is the rows `rows[n]` of X
 * (int64, each in [0, n_rows), repeats allowed), or its first n rows when rows is NULL (then n <= n_rows): a shuffled
 * batch needs no gathering. The kernels check all of that in O(nnz + n_rows + n) before any write (FM_EVALUE);
 * indices and data may be NULL when nnz is 0. Both take a scratch `work` of n_in * n_out values (the size of W,
 * caller-owned, contents on entry ignored and on return unspecified; it must not overlap any other argument): the
 * layer transposed there, Wt[k][o] = W[o][k] (forward) and dWt[k][o] (backward), makes every nonzero one
 * contiguous, vectorised run over the n_out outputs. Work is proportional to nnz * n_out plus n_out * n_in (the
 * transposes), never to n * n_in. Threads split the outputs o; every element is summed in the order of the batch
 * rows and, within a row, of its nonzeros, so results are bit-identical for any thread count. */

/* p[n][n_out] = act(X[rows[i]] . W^T + b), as fm_dense_forward on the densified rows; b may be NULL. */
FM_API int fm_csr_dense_forward_f32(const int64_t *indptr, const int64_t *indices, const float *data,
                                    const int64_t *rows, const float *W, const float *b, float *p, float *work,
                                    size_t n, size_t n_rows, size_t n_in, size_t n_out, fm_act act);
FM_API int fm_csr_dense_forward_f64(const int64_t *indptr, const int64_t *indices, const double *data,
                                    const int64_t *rows, const double *W, const double *b, double *p, double *work,
                                    size_t n, size_t n_rows, size_t n_in, size_t n_out, fm_act act);

/* Backward of fm_csr_dense_forward for a first layer (no dx), from its output p[n][n_out] and dp = dL/dp:
 *   dz[n][n_out] = dp * act'(p) (dz may be the same buffer as dp);  db[n_out] = sum_i dz[i] (db may be NULL);
 *   dW[o][k] = sum_i dz[i][o] * X[rows[i]][k]
 * accumulate = 0 overwrites dW and db; accumulate != 0 adds this batch's gradient to them (each product in turn,
 * in the order above). work: the scratch of n_in * n_out values (see above). */
FM_API int fm_csr_dense_backward_f32(const int64_t *indptr, const int64_t *indices, const float *data,
                                     const int64_t *rows, const float *p, const float *dp, float *dz, float *dW,
                                     float *db, float *work, size_t n, size_t n_rows, size_t n_in, size_t n_out,
                                     fm_act act, int accumulate);
FM_API int fm_csr_dense_backward_f64(const int64_t *indptr, const int64_t *indices, const double *data,
                                     const int64_t *rows, const double *p, const double *dp, double *dz,
                                     double *dW, double *db, double *work, size_t n, size_t n_rows, size_t n_in,
                                     size_t n_out, fm_act act, int accumulate);

/* ---- loss.c : losses (means over the batch of per-sample sums) and their gradients ------------------------ */

/* Sample weights: every loss takes sw[n], one weight per sample (row), right after the targets; sw may be NULL (all
 * ones, the plain mean). With weights the loss is the weighted mean of the per-sample losses l_i (each a sum over the
 * m outputs) and the gradient that of the weighted mean:
 *   *loss = sum_i w_i l_i / sum_i w_i;   d_i = w_i dl_i / sum_i w_i
 * Weights must be finite and >= 0 with a positive sum (FM_EVALUE otherwise, nothing written). With sw NULL the
 * results are exactly those of the unweighted formulas below (a separate code path, bit for bit). */

/* Squared error: *loss = 1/(2n) sum (p - t)^2;  dp = (p - t) / n (dp may be NULL). p, t, dp are [n][m]. */
FM_API int fm_loss_mse_f32(const float *p, const float *t, const float *sw, float *dp, double *loss, size_t n,
                           size_t m);
FM_API int fm_loss_mse_f64(const double *p, const double *t, const double *sw, double *dp, double *loss, size_t n,
                           size_t m);

/* Softmax cross-entropy from logits z[n][m] and labels y[n] in [0, m): *loss = mean_i (logsumexp(z_i) - z_i[y_i]);
 * dz = (softmax(z) - onehot(y)) / n (dz may be NULL; dz may be the same buffer as z). */
FM_API int fm_loss_softmax_ce_f32(const float *z, const int64_t *y, const float *sw, float *dz, double *loss,
                                  size_t n, size_t m);
FM_API int fm_loss_softmax_ce_f64(const double *z, const int64_t *y, const double *sw, double *dz, double *loss,
                                  size_t n, size_t m);

/* Sigmoid binary cross-entropy from logits z[n][m] and targets t[n][m] (in [0, 1]):
 * *loss = 1/n sum max(z,0) - z t + log1p(exp(-|z|));  dz = (sigmoid(z) - t) / n (dz may be NULL or z). */
FM_API int fm_loss_sigmoid_bce_f32(const float *z, const float *t, const float *sw, float *dz, double *loss,
                                   size_t n, size_t m);
FM_API int fm_loss_sigmoid_bce_f64(const double *z, const double *t, const double *sw, double *dz, double *loss,
                                   size_t n, size_t m);

/* Poisson deviance from the log-mean z[n][m] (the prediction is exp(z), applied by the caller) and counts t[n][m]
 * >= 0 (FM_EVALUE otherwise, nothing written): half the Poisson deviance, as scikit-learn's poisson_loss(t, exp(z)),
 * *loss = 1/n sum xlogy(t, t) - t - t z + exp(z)  (xlogy(0, 0) = 0);  dz = (exp(z) - t) / n (dz may be NULL, z or t).
 * A z whose exp overflows gives an infinite loss and gradient (the network functions refuse the step). */
FM_API int fm_loss_poisson_f32(const float *z, const float *t, const float *sw, float *dz, double *loss, size_t n,
                               size_t m);
FM_API int fm_loss_poisson_f64(const double *z, const double *t, const double *sw, double *dz, double *loss,
                               size_t n, size_t m);

/* Row-wise softmax p[n][m] = exp(z - max) / sum exp(z - max); p may be the same buffer as z. */
FM_API int fm_softmax_f32(const float *z, float *p, size_t n, size_t m);
FM_API int fm_softmax_f64(const double *z, double *p, size_t n, size_t m);

/* ---- optim.c : in-place parameter updates over n values (W, dW and state buffers all of length n) ------- */
/* Every value these updates store (W, v, m) whose magnitude is below the type's smallest normal number
 * (FLT_MIN / DBL_MIN) is stored as 0: the velocity and moments of a parameter whose gradient stays 0 decay
 * geometrically into the subnormal range, where each operation on them is ~100x slower. */

/* SGD with L2 (weight_decay) and L1 penalties, optional (Nesterov) momentum, as in PyTorch:
 *   g = dW + weight_decay*W + l1*sign(W)
 *   momentum == 0:  W -= lr*g                                   (v unused, may be NULL)
 *   else:           v = momentum*v + g;  W -= lr*(nesterov ? g + momentum*v : v)
 * lr, weight_decay, l1 >= 0 and finite; 0 <= momentum < 1; nesterov needs momentum > 0. */
FM_API int fm_sgd_update_f32(const float *dW, float *W, float *v, size_t n,
                             double lr, double momentum, double weight_decay, double l1, int nesterov);
FM_API int fm_sgd_update_f64(const double *dW, double *W, double *v, size_t n,
                             double lr, double momentum, double weight_decay, double l1, int nesterov);

/* Adam (Kingma & Ba, bias-corrected, as in PyTorch) with L2/L1 terms added to the gradient; t >= 1 is the
 * number of this step (1 for the first). The second moment v must be >= 0 everywhere (a negative or NaN value
 * would turn W into NaN): FM_EVALUE otherwise, with nothing written:
 *   g = dW + weight_decay*W + l1*sign(W);  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
 *   W -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * 0 <= b1, b2 < 1; eps > 0; lr, weight_decay, l1 >= 0. */
FM_API int fm_adam_update_f32(const float *dW, float *W, float *m, float *v, size_t n, uint64_t t,
                              double lr, double beta1, double beta2, double eps, double weight_decay, double l1);
FM_API int fm_adam_update_f64(const double *dW, double *W, double *m, double *v, size_t n, uint64_t t,
                              double lr, double beta1, double beta2, double eps, double weight_decay, double l1);

/* ---- mlp.c : a whole network on caller-owned buffers ------------------------------------------------------ */

#define FM_MAX_LAYERS 32

typedef enum {
    FM_LOSS_MSE = 0,         /* squared error against float targets t[n][n_out] */
    FM_LOSS_SOFTMAX_CE = 1,  /* softmax cross-entropy from the last layer's output (logits), labels y[n] */
    FM_LOSS_SIGMOID_BCE = 2, /* sigmoid binary cross-entropy from logits, targets t[n][n_out] in [0, 1] */
    FM_LOSS_POISSON = 3      /* Poisson deviance from the log-mean (identity output; predict exp), t[n][n_out] >= 0 */
} fm_loss;

/* A network: n_layers dense layers, sizes[0] inputs ... sizes[n_layers] outputs, one activation per layer (the
 * last is the output activation; every loss but MSE needs it to be identity: they take logits / the log-mean). */
typedef struct {
    size_t n_layers;
    size_t sizes[FM_MAX_LAYERS + 1];
    fm_act acts[FM_MAX_LAYERS];
    fm_loss loss;
} fm_mlp;

typedef enum { FM_OPT_SGD = 0, FM_OPT_ADAM = 1 } fm_opt_kind;

/* Update rule. SGD: momentum 0 = plain, else (nesterov) momentum with one velocity buffer; Adam: beta1, beta2,
 * eps with two moment buffers. weight_decay (L2) and l1 act on the weights W only, never on the biases.
 * scale_penalty != 0 is scikit-learn's alpha: in fm_mlp_train_step / fm_mlp_train_epoch (and their _csr forms) the
 * penalties of a batch are weight_decay / S and l1 / S, S = the batch's sample-weight sum (its row count without
 * weights), and the batch loss they return / average includes the penalty (0.5*weight_decay*sum(W^2) +
 * l1*sum|W|) / S on the weights before the update (W only, never the biases): with weight_decay = alpha that is
 * scikit-learn's MLP loss and gradient. 0 (as in a zeroed struct) keeps the penalties as given and out of the loss. */
typedef struct {
    fm_opt_kind kind;
    double lr, momentum, weight_decay, l1;
    int nesterov;
    double beta1, beta2, eps;
    int scale_penalty;
} fm_optim;

/* The most parameters a network may have: 2^40 (1.1e12), 4 TiB of float32 weights, past any one machine's memory,
 * while the bytes of params, grads and two Adam moments in float64 (32 per parameter) stay far from overflowing. */
#define FM_MAX_PARAMS ((uint64_t)1 << 40)

/* Parameters, gradients and optimizer state are flat vectors laid out [W0, b0, W1, b1, ...], with W_l of shape
 * [sizes[l+1]][sizes[l]] row-major. *count = number of parameters (FM_EOVERFLOW past FM_MAX_PARAMS). */
FM_API int fm_mlp_num_params(const fm_mlp *net, size_t *count);
/* *count = length of the optimizer state vector: 0 (plain SGD), num_params (momentum) or 2*num_params (Adam). */
FM_API int fm_mlp_state_size(const fm_mlp *net, const fm_optim *opt, size_t *count);
/* *bytes = size of the workspace that forward/loss_grad/train_step/train_epoch need for batches of up to
 * `batch` rows (forward processes any n in chunks of that many rows). */
FM_API int fm_mlp_workspace_size_f32(const fm_mlp *net, size_t *bytes, size_t batch);
FM_API int fm_mlp_workspace_size_f64(const fm_mlp *net, size_t *bytes, size_t batch);
/* The workspace of the _csr functions below: no room for dense input rows (which may be wide), room instead for the
 * first layer transposed (sizes[0] * sizes[1] values, the size of W0). The two layouts differ only in that last
 * region: a workspace of the larger of the two sizes serves both. */
FM_API int fm_mlp_workspace_size_csr_f32(const fm_mlp *net, size_t *bytes, size_t batch);
FM_API int fm_mlp_workspace_size_csr_f64(const fm_mlp *net, size_t *bytes, size_t batch);

/* out[n][n_out] = the network's output for x[n][n_in] (the last activation applied; logits for the cross-entropy
 * losses), computed in chunks of work_batch rows. */
FM_API int fm_mlp_forward_f32(const fm_mlp *net, const float *params, const float *x, float *out, void *work,
                              size_t n, size_t work_batch);
FM_API int fm_mlp_forward_f64(const fm_mlp *net, const double *params, const double *x, double *out, void *work,
                              size_t n, size_t work_batch);

/* Sample weights in the network functions: sw (NULL = all ones) has one weight per row of x (loss_grad, train_step)
 * or of X (train_epoch, indexed like X, i.e. gathered by `order`); finite and >= 0 (FM_EVALUE otherwise, checked
 * once per call, nothing written). The batch loss is the weighted mean (see the losses above); loss_grad and
 * train_step need a positive weight sum (FM_EVALUE), train_epoch skips a batch whose weights sum to 0 (no update,
 * no step number used, 0 added to the loss). The Poisson loss needs targets >= 0 (FM_EVALUE, checked once). */

/* Mean loss of the batch x[n][n_in] (n <= work_batch) against t (MSE, BCE, Poisson) or y (softmax CE; the other
 * may be NULL) in *loss and, unless grads is NULL, its gradient with respect to every parameter in grads
 * (overwritten). No penalty terms: those enter in the update. FM_EDIVERGED when the loss or a gradient is not
 * finite. */
FM_API int fm_mlp_loss_grad_f32(const fm_mlp *net, const float *params, const float *x, const float *t,
                                const int64_t *y, const float *sw, float *grads, double *loss, void *work, size_t n,
                                size_t work_batch);
FM_API int fm_mlp_loss_grad_f64(const fm_mlp *net, const double *params, const double *x, const double *t,
                                const int64_t *y, const double *sw, double *grads, double *loss, void *work,
                                size_t n, size_t work_batch);

/* One training step on the batch: loss_grad, then the update of every layer (step >= 1 numbers the update, for
 * Adam's bias correction). FM_EDIVERGED, with nothing updated, when the loss or a gradient is NaN/Inf or when a
 * bound on the step says it could overflow a weight or optimizer state to Inf (only near the type's largest
 * value): finite weights stay finite. With opt->scale_penalty, *loss includes the scaled penalty. */
FM_API int fm_mlp_train_step_f32(const fm_mlp *net, const fm_optim *opt, const float *x, const float *t,
                                 const int64_t *y, const float *sw, float *params, float *state, float *grads,
                                 double *loss, void *work, size_t n, size_t work_batch, uint64_t step);
FM_API int fm_mlp_train_step_f64(const fm_mlp *net, const fm_optim *opt, const double *x, const double *t,
                                 const int64_t *y, const double *sw, double *params, double *state, double *grads,
                                 double *loss, void *work, size_t n, size_t work_batch, uint64_t step);

/* One epoch: the samples X[n_samples][n_in] (targets T or labels Y, weights sw) visited in the order `order` (a
 * permutation of, or any indices into, 0..n_samples-1; n_order of them) in batches of `batch` rows (the last may
 * be smaller), one train_step each, without returning. *step is the last step number used and is advanced by the
 * number of batches applied; *mean_loss is the row-count-weighted mean of the batch losses (sum of loss * rows
 * over n_order, as scikit-learn accumulates its epoch loss). On FM_EDIVERGED it stops at the batch that diverged
 * (earlier batches are applied; *step counts them). */
FM_API int fm_mlp_train_epoch_f32(const fm_mlp *net, const fm_optim *opt, const float *X, const float *T,
                                  const int64_t *Y, const float *sw, const int64_t *order, float *params,
                                  float *state, float *grads, uint64_t *step, double *mean_loss, void *work,
                                  size_t n_samples, size_t n_order, size_t batch);
FM_API int fm_mlp_train_epoch_f64(const fm_mlp *net, const fm_optim *opt, const double *X, const double *T,
                                  const int64_t *Y, const double *sw, const int64_t *order, double *params,
                                  double *state, double *grads, uint64_t *step, double *mean_loss, void *work,
                                  size_t n_samples, size_t n_order, size_t batch);

/* The same on sparse input: the network's input is a CSR matrix (indptr[n+1] or indptr[n_samples+1], indices[nnz],
 * data[nnz]: see the sparse kernels above; indptr[last] must equal nnz), the first layer runs the CSR kernels
 * (batches of the epoch select their rows through `order`, no gathering, no densifying), the other layers as above;
 * results equal the dense functions' on the densified matrix up to rounding (sums in another order). The
 * workspace comes from fm_mlp_workspace_size_csr (or fm_mlp_workspace_size). The CSR arrays are checked once per
 * call, O(nnz + rows). */
FM_API int fm_mlp_forward_csr_f32(const fm_mlp *net, const float *params, const int64_t *indptr,
                                  const int64_t *indices, const float *data, float *out, void *work, size_t n,
                                  size_t nnz, size_t work_batch);
FM_API int fm_mlp_forward_csr_f64(const fm_mlp *net, const double *params, const int64_t *indptr,
                                  const int64_t *indices, const double *data, double *out, void *work, size_t n,
                                  size_t nnz, size_t work_batch);
FM_API int fm_mlp_loss_grad_csr_f32(const fm_mlp *net, const float *params, const int64_t *indptr,
                                    const int64_t *indices, const float *data, const float *t, const int64_t *y,
                                    const float *sw, float *grads, double *loss, void *work, size_t n, size_t nnz,
                                    size_t work_batch);
FM_API int fm_mlp_loss_grad_csr_f64(const fm_mlp *net, const double *params, const int64_t *indptr,
                                    const int64_t *indices, const double *data, const double *t, const int64_t *y,
                                    const double *sw, double *grads, double *loss, void *work, size_t n, size_t nnz,
                                    size_t work_batch);
FM_API int fm_mlp_train_step_csr_f32(const fm_mlp *net, const fm_optim *opt, const int64_t *indptr,
                                     const int64_t *indices, const float *data, const float *t, const int64_t *y,
                                     const float *sw, float *params, float *state, float *grads, double *loss,
                                     void *work, size_t n, size_t nnz, size_t work_batch, uint64_t step);
FM_API int fm_mlp_train_step_csr_f64(const fm_mlp *net, const fm_optim *opt, const int64_t *indptr,
                                     const int64_t *indices, const double *data, const double *t, const int64_t *y,
                                     const double *sw, double *params, double *state, double *grads, double *loss,
                                     void *work, size_t n, size_t nnz, size_t work_batch, uint64_t step);
FM_API int fm_mlp_train_epoch_csr_f32(const fm_mlp *net, const fm_optim *opt, const int64_t *indptr,
                                      const int64_t *indices, const float *data, const float *T, const int64_t *Y,
                                      const float *sw, const int64_t *order, float *params, float *state,
                                      float *grads, uint64_t *step, double *mean_loss, void *work, size_t n_samples,
                                      size_t nnz, size_t n_order, size_t batch);
FM_API int fm_mlp_train_epoch_csr_f64(const fm_mlp *net, const fm_optim *opt, const int64_t *indptr,
                                      const int64_t *indices, const double *data, const double *T, const int64_t *Y,
                                      const double *sw, const int64_t *order, double *params, double *state,
                                      double *grads, uint64_t *step, double *mean_loss, void *work,
                                      size_t n_samples, size_t nnz, size_t n_order, size_t batch);

/* ---- mlp.c + bf16_train.c : mixed-precision (bfloat16) training, float32 networks ------------------------- */
/* The dense float32 network of the functions above with bf16 operands in its three products: p = x W^T, dW = dz^T x
 * and dx = dz W each read both operands rounded to bf16 (fm_float_to_bf16's rounding) and sum the exact products in
 * float32; the bias, activations, loss, bias gradient and the update of the float32 weights (the master copy) are
 * float32 as in fm_mlp_train_step_f32. Paths (fm_bf16_train_path): "amx" (Intel AMX tiles, TDPBF16PS),
 * "avx512bf16" (VDPBF16PS where AMX is not usable but AVX512_BF16 is: AMD Zen 4) -- on both, threads split the
 * outputs, never the depth: the same bits for every thread count on one machine -- or "emulated" (the bf16-rounded
 * operands through the float32 kernels). FASTMLP_BF16_TRAIN=amx|avx512bf16|emulated in the environment (read once,
 * fm_init) is the highest path allowed. The paths' sums round differently: results agree to bf16 tolerance, not
 * bit for bit. Dense input only. Twin of the path's choice:
 * reference.bf16_train_path. */
FM_API const char *fm_bf16_train_path(void);
/* *bytes = size of the workspace of the functions below for batches of up to `batch` rows (the float32 workspace
 * plus room for the packed bf16 operands of the largest layer and every layer's input packed once per step). */
FM_API int fm_mlp_workspace_size_bf16(const fm_mlp *net, size_t *bytes, size_t batch);
/* fm_mlp_loss_grad_f32 with bf16 products (the workspace from fm_mlp_workspace_size_bf16). */
FM_API int fm_mlp_loss_grad_bf16(const fm_mlp *net, const float *params, const float *x, const float *t,
                                 const int64_t *y, const float *sw, float *grads, double *loss, void *work, size_t n,
                                 size_t work_batch);
/* fm_mlp_train_step_f32 with bf16 products (the workspace from fm_mlp_workspace_size_bf16). */
FM_API int fm_mlp_train_step_bf16(const fm_mlp *net, const fm_optim *opt, const float *x, const float *t,
                                  const int64_t *y, const float *sw, float *params, float *state, float *grads,
                                  double *loss, void *work, size_t n, size_t work_batch, uint64_t step);
/* fm_mlp_train_epoch_f32 with bf16 products (dense X; the workspace from fm_mlp_workspace_size_bf16 for `batch`
 * rows): every batch is the step of fm_mlp_train_step_bf16. */
FM_API int fm_mlp_train_epoch_bf16(const fm_mlp *net, const fm_optim *opt, const float *X, const float *T,
                                   const int64_t *Y, const float *sw, const int64_t *order, float *params,
                                   float *state, float *grads, uint64_t *step, double *mean_loss, void *work,
                                   size_t n_samples, size_t n_order, size_t batch);

#ifdef __cplusplus
}
#endif
#endif /* FASTMLP_H */

# cython: language_level=3
"""C-level interface of fastmlp's core for other Cython projects.

``cimport`` the functions below (those without the ``fm_`` prefix): they are shared through the extension's
capsule table, so a downstream extension needs nothing to link; compile it with
``include_dirs=[fastmlp.get_include()]`` so that the enum and status constants resolve. All are ``noexcept
nogil`` and return the C status (0 ok, negative FM_E* code; ``fm_strerror`` names it). The ``fm_*`` externs are
declared for their types and constants; calling them directly needs the C library linked in.
"""
from libc.stdint cimport int64_t, uint64_t

cdef extern from "fastmlp.h" nogil:
    ctypedef enum fm_act:
        FM_ACT_IDENTITY
        FM_ACT_RELU
        FM_ACT_SIGMOID
        FM_ACT_TANH
    enum:
        FM_OK
        FM_ENULL
        FM_ESIZE
        FM_EOVERFLOW
        FM_EENUM
        FM_ELABEL
        FM_EVALUE
        FM_EOVERLAP
        FM_EDIVERGED
        FM_MAX_LAYERS
        FM_BUILD_OPENMP

    ctypedef enum fm_loss:
        FM_LOSS_MSE
        FM_LOSS_SOFTMAX_CE
        FM_LOSS_SIGMOID_BCE
    ctypedef enum fm_opt_kind:
        FM_OPT_SGD
        FM_OPT_ADAM
    ctypedef struct fm_mlp:
        size_t n_layers
        size_t sizes[33]
        fm_act acts[32]
        fm_loss loss
    ctypedef struct fm_optim:
        fm_opt_kind kind
        double lr, momentum, weight_decay, l1
        int nesterov
        double beta1, beta2, eps

    const char *fm_strerror(int code)
    const char *fm_version()
    int fm_set_num_threads(int n)
    int fm_get_num_threads()
    int fm_build_info()
    const char *fm_cpu_path()
    double fm_cpu_peak_gflops(int f64, double seconds)

    int fm_dense_forward_f32(const float *x, const float *W, const float *b, float *p,
                             size_t n, size_t n_in, size_t n_out, fm_act act)
    int fm_dense_forward_f64(const double *x, const double *W, const double *b, double *p,
                             size_t n, size_t n_in, size_t n_out, fm_act act)
    int fm_dense_backward_f32(const float *x, const float *W, const float *p, const float *dp,
                              float *dz, float *dW, float *db, float *dx,
                              size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate)
    int fm_dense_backward_f64(const double *x, const double *W, const double *p, const double *dp,
                              double *dz, double *dW, double *db, double *dx,
                              size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate)
    size_t fm_dense_pack_width_f32()
    size_t fm_dense_pack_width_f64()
    int fm_dense_pack_f32(const float *W, float *Wp, size_t n_out, size_t n_in, size_t nc)
    int fm_dense_pack_f64(const double *W, double *Wp, size_t n_out, size_t n_in, size_t nc)
    int fm_dense_forward_packed_f32(const float *x, const float *Wp, const float *b, float *p, size_t n,
                                    size_t n_in, size_t n_out, size_t nc, fm_act act)
    int fm_dense_forward_packed_f64(const double *x, const double *Wp, const double *b, double *p, size_t n,
                                    size_t n_in, size_t n_out, size_t nc, fm_act act)
    int fm_loss_mse_f32(const float *p, const float *t, float *dp, size_t n, size_t m, double *loss)
    int fm_loss_mse_f64(const double *p, const double *t, double *dp, size_t n, size_t m, double *loss)
    int fm_loss_softmax_ce_f32(const float *z, const int64_t *y, float *dz, size_t n, size_t m, double *loss)
    int fm_loss_softmax_ce_f64(const double *z, const int64_t *y, double *dz, size_t n, size_t m, double *loss)
    int fm_loss_sigmoid_bce_f32(const float *z, const float *t, float *dz, size_t n, size_t m, double *loss)
    int fm_loss_sigmoid_bce_f64(const double *z, const double *t, double *dz, size_t n, size_t m, double *loss)
    int fm_softmax_f32(const float *z, float *p, size_t n, size_t m)
    int fm_softmax_f64(const double *z, double *p, size_t n, size_t m)
    int fm_sgd_update_f32(float *W, const float *dW, float *v, size_t n,
                          double lr, double momentum, double weight_decay, double l1, int nesterov)
    int fm_sgd_update_f64(double *W, const double *dW, double *v, size_t n,
                          double lr, double momentum, double weight_decay, double l1, int nesterov)
    int fm_adam_update_f32(float *W, const float *dW, float *m, float *v, size_t n, uint64_t t,
                           double lr, double beta1, double beta2, double eps, double weight_decay, double l1)
    int fm_adam_update_f64(double *W, const double *dW, double *m, double *v, size_t n, uint64_t t,
                           double lr, double beta1, double beta2, double eps, double weight_decay, double l1)
    int fm_mlp_num_params(const fm_mlp *net, size_t *count)
    int fm_mlp_state_size(const fm_mlp *net, const fm_optim *opt, size_t *count)
    int fm_mlp_workspace_size_f32(const fm_mlp *net, size_t batch, size_t *bytes)
    int fm_mlp_workspace_size_f64(const fm_mlp *net, size_t batch, size_t *bytes)
    int fm_mlp_forward_f32(const fm_mlp *net, const float *params, const float *x, float *out, size_t n,
                           void *work, size_t work_batch)
    int fm_mlp_forward_f64(const fm_mlp *net, const double *params, const double *x, double *out, size_t n,
                           void *work, size_t work_batch)
    int fm_mlp_loss_grad_f32(const fm_mlp *net, const float *params, float *grads, const float *x,
                             const float *t, const int64_t *y, size_t n, void *work, size_t work_batch,
                             double *loss)
    int fm_mlp_loss_grad_f64(const fm_mlp *net, const double *params, double *grads, const double *x,
                             const double *t, const int64_t *y, size_t n, void *work, size_t work_batch,
                             double *loss)
    int fm_mlp_train_step_f32(const fm_mlp *net, float *params, float *grads, float *state, const float *x,
                              const float *t, const int64_t *y, size_t n, const fm_optim *opt, uint64_t step,
                              void *work, size_t work_batch, double *loss)
    int fm_mlp_train_step_f64(const fm_mlp *net, double *params, double *grads, double *state, const double *x,
                              const double *t, const int64_t *y, size_t n, const fm_optim *opt, uint64_t step,
                              void *work, size_t work_batch, double *loss)
    int fm_mlp_train_epoch_f32(const fm_mlp *net, float *params, float *grads, float *state, const float *X,
                               const float *T, const int64_t *Y, size_t n_samples, const int64_t *order,
                               size_t n_order, size_t batch, const fm_optim *opt, uint64_t *step, void *work,
                               double *mean_loss)
    int fm_mlp_train_epoch_f64(const fm_mlp *net, double *params, double *grads, double *state,
                               const double *X, const double *T, const int64_t *Y, size_t n_samples,
                               const int64_t *order, size_t n_order, size_t batch, const fm_optim *opt,
                               uint64_t *step, void *work, double *mean_loss)


# Capsule-shared entry points (same arguments as the fm_* functions of the same name).
cdef int dense_forward_f32(const float *x, const float *W, const float *b, float *p,
                           size_t n, size_t n_in, size_t n_out, fm_act act) noexcept nogil
cdef int dense_forward_f64(const double *x, const double *W, const double *b, double *p,
                           size_t n, size_t n_in, size_t n_out, fm_act act) noexcept nogil
cdef int dense_backward_f32(const float *x, const float *W, const float *p, const float *dp,
                            float *dz, float *dW, float *db, float *dx,
                            size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate) noexcept nogil
cdef int dense_backward_f64(const double *x, const double *W, const double *p, const double *dp,
                            double *dz, double *dW, double *db, double *dx,
                            size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate) noexcept nogil
cdef int loss_mse_f32(const float *p, const float *t, float *dp, size_t n, size_t m, double *loss) noexcept nogil
cdef int loss_mse_f64(const double *p, const double *t, double *dp, size_t n, size_t m,
                      double *loss) noexcept nogil
cdef int loss_softmax_ce_f32(const float *z, const int64_t *y, float *dz, size_t n, size_t m,
                             double *loss) noexcept nogil
cdef int loss_softmax_ce_f64(const double *z, const int64_t *y, double *dz, size_t n, size_t m,
                             double *loss) noexcept nogil
cdef int loss_sigmoid_bce_f32(const float *z, const float *t, float *dz, size_t n, size_t m,
                              double *loss) noexcept nogil
cdef int loss_sigmoid_bce_f64(const double *z, const double *t, double *dz, size_t n, size_t m,
                              double *loss) noexcept nogil
cdef int softmax_f32(const float *z, float *p, size_t n, size_t m) noexcept nogil
cdef int softmax_f64(const double *z, double *p, size_t n, size_t m) noexcept nogil
cdef int sgd_update_f32(float *W, const float *dW, float *v, size_t n, double lr, double momentum,
                        double weight_decay, double l1, int nesterov) noexcept nogil
cdef int sgd_update_f64(double *W, const double *dW, double *v, size_t n, double lr, double momentum,
                        double weight_decay, double l1, int nesterov) noexcept nogil
cdef int adam_update_f32(float *W, const float *dW, float *m, float *v, size_t n, uint64_t t, double lr,
                         double beta1, double beta2, double eps, double weight_decay, double l1) noexcept nogil
cdef int adam_update_f64(double *W, const double *dW, double *m, double *v, size_t n, uint64_t t, double lr,
                         double beta1, double beta2, double eps, double weight_decay, double l1) noexcept nogil

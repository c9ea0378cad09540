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

    const char *fm_strerror(int code)
    const char *fm_version()
    int fm_set_num_threads(int n)
    int fm_get_num_threads()
    int fm_has_openmp()

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

# _core_capsule.pxi: capsule-shared C entry points (see _core.pxd) -- included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------
# capsule-shared C entry points (see _core.pxd)

cdef int dense_forward_f32(const float *x, const float *W, const float *b, float *p,
                           size_t n, size_t n_in, size_t n_out, fm_act act) noexcept nogil:
    return fm_dense_forward_f32(x, W, b, p, n, n_in, n_out, act)
cdef int dense_forward_f64(const double *x, const double *W, const double *b, double *p,
                           size_t n, size_t n_in, size_t n_out, fm_act act) noexcept nogil:
    return fm_dense_forward_f64(x, W, b, p, n, n_in, n_out, act)
cdef int dense_backward_f32(const float *x, const float *W, const float *p, const float *dp,
                            float *dz, float *dW, float *db, float *dx,
                            size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate) noexcept nogil:
    return fm_dense_backward_f32(x, W, p, dp, dz, dW, db, dx, n, n_in, n_out, act, accumulate)
cdef int dense_backward_f64(const double *x, const double *W, const double *p, const double *dp,
                            double *dz, double *dW, double *db, double *dx,
                            size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate) noexcept nogil:
    return fm_dense_backward_f64(x, W, p, dp, dz, dW, db, dx, n, n_in, n_out, act, accumulate)
cdef int loss_mse_f32(const float *p, const float *t, float *dp, size_t n, size_t m, double *loss) noexcept nogil:
    return fm_loss_mse_f32(p, t, dp, n, m, loss)
cdef int loss_mse_f64(const double *p, const double *t, double *dp, size_t n, size_t m,
                      double *loss) noexcept nogil:
    return fm_loss_mse_f64(p, t, dp, n, m, loss)
cdef int loss_softmax_ce_f32(const float *z, const int64_t *y, float *dz, size_t n, size_t m,
                             double *loss) noexcept nogil:
    return fm_loss_softmax_ce_f32(z, y, dz, n, m, loss)
cdef int loss_softmax_ce_f64(const double *z, const int64_t *y, double *dz, size_t n, size_t m,
                             double *loss) noexcept nogil:
    return fm_loss_softmax_ce_f64(z, y, dz, n, m, loss)
cdef int loss_sigmoid_bce_f32(const float *z, const float *t, float *dz, size_t n, size_t m,
                              double *loss) noexcept nogil:
    return fm_loss_sigmoid_bce_f32(z, t, dz, n, m, loss)
cdef int loss_sigmoid_bce_f64(const double *z, const double *t, double *dz, size_t n, size_t m,
                              double *loss) noexcept nogil:
    return fm_loss_sigmoid_bce_f64(z, t, dz, n, m, loss)
cdef int softmax_f32(const float *z, float *p, size_t n, size_t m) noexcept nogil:
    return fm_softmax_f32(z, p, n, m)
cdef int softmax_f64(const double *z, double *p, size_t n, size_t m) noexcept nogil:
    return fm_softmax_f64(z, p, n, m)
cdef int sgd_update_f32(float *W, const float *dW, float *v, size_t n, double lr, double momentum,
                        double weight_decay, double l1, int nesterov) noexcept nogil:
    return fm_sgd_update_f32(W, dW, v, n, lr, momentum, weight_decay, l1, nesterov)
cdef int sgd_update_f64(double *W, const double *dW, double *v, size_t n, double lr, double momentum,
                        double weight_decay, double l1, int nesterov) noexcept nogil:
    return fm_sgd_update_f64(W, dW, v, n, lr, momentum, weight_decay, l1, nesterov)
cdef int adam_update_f32(float *W, const float *dW, float *m, float *v, size_t n, uint64_t t, double lr,
                         double beta1, double beta2, double eps, double weight_decay, double l1) noexcept nogil:
    return fm_adam_update_f32(W, dW, m, v, n, t, lr, beta1, beta2, eps, weight_decay, l1)
cdef int adam_update_f64(double *W, const double *dW, double *m, double *v, size_t n, uint64_t t, double lr,
                         double beta1, double beta2, double eps, double weight_decay, double l1) noexcept nogil:
    return fm_adam_update_f64(W, dW, m, v, n, t, lr, beta1, beta2, eps, weight_decay, l1)

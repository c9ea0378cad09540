# _core_fast.pxi: the public kernels' fast path (issue 15) -- included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------
# Each _fast_<kernel> takes the public function's arguments and either does the whole call on raw pointers (the
# common case: exact numpy arrays of the right dtype, C-contiguous, aligned, writable where written; plain float/int
# options; helpers in _core_checks.pxi) or returns None / False before writing anything, and the public function in
# _core_kernels.pxi then takes its checked path, which alone raises: every error message stays the checked path's.


cdef object _fast_dense_forward(x, W, b, act, out, check_finite):
    """dense_forward on the fast path: p, or None to fall back to the checked path."""
    cdef int tn = _fast_in(x, 2), code = _fast_act(act), rc
    cdef Py_ssize_t n, n_in, n_out
    cdef const void *xp
    cdef const void *Wq
    cdef const void *bp
    cdef void *pp
    if tn == 0 or code < 0 or (check_finite is not True and check_finite is not False):
        return None
    if not _fast_arr(W, tn, 2, False) or (b is not None and not _fast_arr(b, tn, 1, False)):
        return None
    n, n_in, n_out = _dim(x, 0), _dim(x, 1), _dim(W, 0)
    if _dim(W, 1) != n_in or (b is not None and _dim(b, 0) != n_out):
        return None
    if check_finite is True and not (_fast_finite(x, tn) and _fast_finite(W, tn)
                                     and (b is None or _fast_finite(b, tn))):
        return None
    p = _fast_out(out, tn, n, n_out, 2)
    if p is None or not (_apart(p, x) and _apart(p, W) and _apart(p, b)):
        return None
    xp, Wq, bp, pp = _ptr(x), _ptr(W), _ptr(b), _ptr(p)
    with nogil:
        if tn == cnp.NPY_FLOAT:
            rc = fm_dense_forward_f32(<const float *>xp, <const float *>Wq, <const float *>bp, <float *>pp, n, n_in,
                                      n_out, <fm_act>code)
        else:
            rc = fm_dense_forward_f64(<const double *>xp, <const double *>Wq, <const double *>bp, <double *>pp, n,
                                      n_in, n_out, <fm_act>code)
    _raise_for(rc, "dense_forward")
    return p


cdef object _fast_dense_pack(W):
    """dense_pack on the fast path: the PackedWeights, or None to fall back to the checked path."""
    cdef int tn = _fast_in(W, 2), rc
    cdef size_t width, count = 0, n_out, n_in
    cdef const void *Wq
    cdef void *pp
    if tn == 0 or not _fast_finite(W, tn):
        return None
    n_out, n_in = _dim(W, 0), _dim(W, 1)
    width = fm_dense_pack_width_f32() if tn == cnp.NPY_FLOAT else fm_dense_pack_width_f64()
    if fm_dense_packed_size(&count, n_in, n_out, width) != FM_OK:
        return None
    Wp = _aligned_empty(<Py_ssize_t>count, np.float32 if tn == cnp.NPY_FLOAT else np.float64)  # on cache lines
    Wq, pp = _ptr(W), _ptr(Wp)
    with nogil:
        if tn == cnp.NPY_FLOAT:
            rc = fm_dense_pack_f32(<const float *>Wq, <float *>pp, n_in, n_out, width)
        else:
            rc = fm_dense_pack_f64(<const double *>Wq, <double *>pp, n_in, n_out, width)
    _raise_for(rc, "dense_pack")
    cnp.PyArray_CLEARFLAGS(<cnp.ndarray>Wp, cnp.NPY_ARRAY_WRITEABLE)
    cdef PackedWeights pw = PackedWeights.__new__(PackedWeights)
    pw.n_in, pw.n_out, pw.nc, pw.dtype, pw._values = n_in, n_out, width, <object>cnp.PyArray_DESCR(<cnp.ndarray>W), Wp
    return pw


cdef object _fast_dense_forward_packed(x, Wp, b, n_out, act, out, check_finite):
    """dense_forward_packed on the fast path: p, or None to fall back to the checked path."""
    cdef PackedWeights pw
    cdef int tn, code = _fast_act(act), rc
    cdef size_t count = 0, width
    cdef Py_ssize_t n
    cdef const void *xp
    cdef const void *vp
    cdef const void *bp
    cdef void *pp
    if type(Wp) is not PackedWeights or code < 0 or (check_finite is not True and check_finite is not False):
        return None
    pw = <PackedWeights>Wp
    values = pw._values
    if values is None or not (n_out is None or (type(n_out) is int and n_out == pw.n_out)):
        return None
    tn = cnp.PyArray_TYPE(<cnp.ndarray>values)
    width = fm_dense_pack_width_f32() if tn == cnp.NPY_FLOAT else fm_dense_pack_width_f64()
    if (pw.nc != width or fm_dense_packed_size(&count, pw.n_in, pw.n_out, pw.nc) != FM_OK
            or <size_t>cnp.PyArray_SIZE(<cnp.ndarray>values) != count):
        return None
    if not _fast_arr(x, tn, 2, False) or <size_t>_dim(x, 1) != pw.n_in:
        return None
    if b is not None and not (_fast_arr(b, tn, 1, False) and <size_t>_dim(b, 0) == pw.n_out):
        return None
    if check_finite is True and not (_fast_finite(x, tn) and (b is None or _fast_finite(b, tn))):
        return None
    n = _dim(x, 0)
    p = _fast_out(out, tn, n, pw.n_out, 2)
    if p is None or not (_apart(p, x) and _apart(p, values) and _apart(p, b)):
        return None
    xp, vp, bp, pp = _ptr(x), _ptr(values), _ptr(b), _ptr(p)
    with nogil:
        if tn == cnp.NPY_FLOAT:
            rc = fm_dense_forward_packed_f32(<const float *>xp, <const float *>vp, <const float *>bp, <float *>pp,
                                             n, pw.n_in, pw.n_out, pw.nc, <fm_act>code)
        else:
            rc = fm_dense_forward_packed_f64(<const double *>xp, <const double *>vp, <const double *>bp,
                                             <double *>pp, n, pw.n_in, pw.n_out, pw.nc, <fm_act>code)
    _raise_for(rc, "dense_forward_packed")
    return p


cdef inline bint _is_flag(v) noexcept:
    return v is True or v is False


cdef object _fast_dense_backward(x, W, p, dp, act, dW, db, dx, dz, bias, need_dx, accumulate, check_finite):
    """dense_backward on the fast path: (dW, db, dx), or None to fall back to the checked path."""
    cdef int tn = _fast_in(x, 2), code = _fast_act(act), rc
    cdef Py_ssize_t n, n_in, n_out
    cdef const void *xp
    cdef const void *Wq
    cdef const void *pp
    cdef const void *dpp
    cdef void *dzp
    cdef void *dWp
    cdef void *dbp
    cdef void *dxp
    if tn == 0 or code < 0 or not (_is_flag(check_finite) and _is_flag(bias) and _is_flag(need_dx)
                                   and _is_flag(accumulate)):
        return None
    n, n_in = _dim(x, 0), _dim(x, 1)
    if not _fast_arr(W, tn, 2, False) or _dim(W, 1) != n_in:
        return None
    n_out = _dim(W, 0)
    if not (_fast_arr(p, tn, 2, False) and _dim(p, 0) == n and _dim(p, 1) == n_out
            and _fast_arr(dp, tn, 2, False) and _dim(dp, 0) == n and _dim(dp, 1) == n_out):
        return None
    if check_finite is True and not (_fast_finite(x, tn) and _fast_finite(W, tn) and _fast_finite(p, tn)
                                     and _fast_finite(dp, tn)):
        return None
    if accumulate is True and (dW is None or (bias is True and db is None)):
        return None
    dW = _fast_out(dW, tn, n_out, n_in, 2)
    db = _fast_out(db, tn, n_out, 0, 1) if bias is True else None
    dx = _fast_out(dx, tn, n, n_in, 2) if need_dx is True else None
    dz = _fast_out(dz, tn, n, n_out, 2)
    if dW is None or dz is None or (bias is True and db is None) or (need_dx is True and dx is None):
        return None
    if not (_apart(dz, x) and _apart(dz, W) and _apart(dz, p) and _apart_or_same(dz, dp)):
        return None
    for o in (dW, db, dx):
        if not (_apart(o, x) and _apart(o, W) and _apart(o, p) and _apart(o, dp) and _apart(o, dz)):
            return None
    if not (_apart(db, dW) and _apart(dx, dW) and _apart(dx, db)):
        return None
    xp, Wq, pp, dpp, dzp, dWp, dbp, dxp = _ptr(x), _ptr(W), _ptr(p), _ptr(dp), _ptr(dz), _ptr(dW), _ptr(db), _ptr(dx)
    with nogil:
        if tn == cnp.NPY_FLOAT:
            rc = fm_dense_backward_f32(<const float *>xp, <const float *>Wq, <const float *>pp, <const float *>dpp,
                                       <float *>dzp, <float *>dWp, <float *>dbp, <float *>dxp, n, n_in, n_out,
                                       <fm_act>code, 1 if accumulate is True else 0)
        else:
            rc = fm_dense_backward_f64(<const double *>xp, <const double *>Wq, <const double *>pp,
                                       <const double *>dpp, <double *>dzp, <double *>dWp, <double *>dbp,
                                       <double *>dxp, n, n_in, n_out, <fm_act>code, 1 if accumulate is True else 0)
    _raise_for(rc, "dense_backward")
    return dW, db, dx


cdef enum _LossKind:
    _L_MSE, _L_SOFTMAX_CE, _L_SIGMOID_BCE, _L_POISSON


cdef object _fast_loss(_LossKind which, z, t, sw, dz, check_finite):
    """A loss on the fast path: (loss, dz), or None to fall back to the checked path. t: the targets (labels y for
    softmax_ce)."""
    cdef int tn = _fast_in(z, 2), rc
    cdef Py_ssize_t n, m, i
    cdef double loss = 0.0
    cdef const void *zp
    cdef const void *tp
    cdef const void *swp
    cdef void *dzp
    cdef const float *tf
    cdef const double *td
    if tn == 0 or (check_finite is not True and check_finite is not False):
        return None
    n, m = _dim(z, 0), _dim(z, 1)
    if check_finite is True and not _fast_finite(z, tn):
        return None
    if which == _L_SOFTMAX_CE:
        if not _fast_index(t, n, m):
            return None
    elif not (_fast_arr(t, tn, 2, False) and _dim(t, 0) == n and _dim(t, 1) == m
              and (check_finite is False or _fast_finite(t, tn))):
        return None
    if which == _L_SIGMOID_BCE or which == _L_POISSON:  # targets in [0, 1] / counts >= 0 (NaN: fall back)
        tf, td = <const float *>_ptr(t), <const double *>_ptr(t)
        for i in range(n * m):
            if not (tf[i] if tn == cnp.NPY_FLOAT else td[i]) >= 0:
                return None
            if which == _L_SIGMOID_BCE and not (tf[i] if tn == cnp.NPY_FLOAT else td[i]) <= 1:
                return None
    if not _fast_weights(sw, tn, n):
        return None
    dz = _fast_out(dz, tn, n, m, 2)
    if dz is None or not (_apart_or_same(dz, z) and _apart(dz, sw)
                          and (_apart(dz, t) if which == _L_SOFTMAX_CE else _apart_or_same(dz, t))):
        return None
    zp, tp, swp, dzp = _ptr(z), _ptr(t), _ptr(sw), _ptr(dz)
    with nogil:
        if tn == cnp.NPY_FLOAT:
            if which == _L_MSE:
                rc = fm_loss_mse_f32(<const float *>zp, <const float *>tp, <const float *>swp, <float *>dzp, &loss,
                                     n, m)
            elif which == _L_SOFTMAX_CE:
                rc = fm_loss_softmax_ce_f32(<const float *>zp, <const int64_t *>tp, <const float *>swp, <float *>dzp,
                                            &loss, n, m)
            elif which == _L_SIGMOID_BCE:
                rc = fm_loss_sigmoid_bce_f32(<const float *>zp, <const float *>tp, <const float *>swp, <float *>dzp,
                                             &loss, n, m)
            else:
                rc = fm_loss_poisson_f32(<const float *>zp, <const float *>tp, <const float *>swp, <float *>dzp,
                                         &loss, n, m)
        else:
            if which == _L_MSE:
                rc = fm_loss_mse_f64(<const double *>zp, <const double *>tp, <const double *>swp, <double *>dzp,
                                     &loss, n, m)
            elif which == _L_SOFTMAX_CE:
                rc = fm_loss_softmax_ce_f64(<const double *>zp, <const int64_t *>tp, <const double *>swp,
                                            <double *>dzp, &loss, n, m)
            elif which == _L_SIGMOID_BCE:
                rc = fm_loss_sigmoid_bce_f64(<const double *>zp, <const double *>tp, <const double *>swp,
                                             <double *>dzp, &loss, n, m)
            else:
                rc = fm_loss_poisson_f64(<const double *>zp, <const double *>tp, <const double *>swp, <double *>dzp,
                                         &loss, n, m)
    _raise_for(rc, ("loss_mse", "loss_softmax_ce", "loss_sigmoid_bce", "loss_poisson")[<int>which])
    return loss, dz


cdef object _fast_softmax(z, out, check_finite):
    """softmax on the fast path: p, or None to fall back to the checked path."""
    cdef int tn = _fast_in(z, 2), rc
    cdef Py_ssize_t n, m
    cdef const void *zp
    cdef void *pp
    if tn == 0 or (check_finite is not True and check_finite is not False):
        return None
    if check_finite is True and not _fast_finite(z, tn):
        return None
    n, m = _dim(z, 0), _dim(z, 1)
    p = _fast_out(out, tn, n, m, 2)
    if p is None or not _apart_or_same(p, z):
        return None
    zp, pp = _ptr(z), _ptr(p)
    with nogil:
        if tn == cnp.NPY_FLOAT:
            rc = fm_softmax_f32(<const float *>zp, <float *>pp, n, m)
        else:
            rc = fm_softmax_f64(<const double *>zp, <double *>pp, n, m)
    _raise_for(rc, "softmax")
    return p


cdef extern from "internal.h" nogil:
    # the updates with the NaN/Inf scan fused in (optim.inc): nonzero *bad = an array is not finite, nothing written
    int fmi_sgd_update_finite_f32(const float *dW, float *W, float *v, size_t n, double lr, double momentum,
                                  double weight_decay, double l1, int nesterov, int *bad)
    int fmi_sgd_update_finite_f64(const double *dW, double *W, double *v, size_t n, double lr, double momentum,
                                  double weight_decay, double l1, int nesterov, int *bad)
    int fmi_adam_update_finite_f32(const float *dW, float *W, float *m, float *v, size_t n, uint64_t t, double lr,
                                   double beta1, double beta2, double eps, double weight_decay, double l1, int *bad)
    int fmi_adam_update_finite_f64(const double *dW, double *W, double *m, double *v, size_t n, uint64_t t,
                                   double lr, double beta1, double beta2, double eps, double weight_decay, double l1,
                                   int *bad)


cdef bint _fast_sgd_update(W, dW, v, lr, momentum, weight_decay, l1, nesterov, check_finite) except -1:
    """sgd_update on the fast path: True when done, False to fall back to the checked path (which alone raises; with
    check_finite the NaN/Inf scan runs in C, fused with the update: a non-finite array writes nothing and falls back,
    and the checked path names it)."""
    cdef int tn = _fast_in(W, -1), rc, nest, bad = 0
    cdef double c_lr, c_mom, c_wd, c_l1
    cdef size_t n
    cdef const void *gp
    cdef void *wp
    cdef void *vp = NULL
    if tn == 0 or not (_is_flag(nesterov) and _is_flag(check_finite)):
        return False
    if not (_fast_real(lr, &c_lr) and _fast_real(momentum, &c_mom) and _fast_real(weight_decay, &c_wd)
            and _fast_real(l1, &c_l1)):
        return False
    if not (c_lr >= 0.0 and 0.0 <= c_mom < 1.0 and c_wd >= 0.0 and c_l1 >= 0.0):
        return False
    if tn == cnp.NPY_FLOAT and not (_fits_f32(c_lr) and _fits_f32(c_wd) and _fits_f32(c_l1)
                                    and <double><float>c_mom < 1.0):
        return False
    if nesterov is True and c_mom == 0.0:
        return False
    if not (_fast_arr(W, tn, -1, True) and _fast_arr(dW, tn, -1, False) and _same_shape(W, dW)):
        return False
    if c_mom != 0.0:
        if not (_fast_arr(v, tn, -1, True) and _same_shape(v, W) and _apart(v, W) and _apart(v, dW)):
            return False
        vp = _ptr(v)
    if not _apart(W, dW):
        return False
    n, gp, wp = cnp.PyArray_SIZE(<cnp.ndarray>W), _ptr(dW), _ptr(W)
    nest = 1 if nesterov is True else 0
    with nogil:
        if check_finite is not True:
            if tn == cnp.NPY_FLOAT:
                rc = fm_sgd_update_f32(<const float *>gp, <float *>wp, <float *>vp, n, c_lr, c_mom, c_wd, c_l1, nest)
            else:
                rc = fm_sgd_update_f64(<const double *>gp, <double *>wp, <double *>vp, n, c_lr, c_mom, c_wd, c_l1,
                                       nest)
        elif tn == cnp.NPY_FLOAT:
            rc = fmi_sgd_update_finite_f32(<const float *>gp, <float *>wp, <float *>vp, n, c_lr, c_mom, c_wd, c_l1,
                                           nest, &bad)
        else:
            rc = fmi_sgd_update_finite_f64(<const double *>gp, <double *>wp, <double *>vp, n, c_lr, c_mom, c_wd,
                                           c_l1, nest, &bad)
    if bad != 0:  # a NaN/Inf, nothing written: the checked path names the array
        return False
    _raise_for(rc, "sgd_update")
    return True


def _sgd_update_loop(W, dW, v, double lr, double momentum, Py_ssize_t n):
    """Private timing helper: the C kernel fm_sgd_update alone, n times in a C loop (no momentum buffer when v is
    None), for ``fastmlp bench`` and asv's KernelCall to set beside the public call. The arrays must be ones the
    public call's fast path takes (apart, same shape; not scanned for NaN/Inf here)."""
    cdef Py_ssize_t i
    cdef int tn = _fast_in(W, -1), rc = FM_OK
    cdef size_t size
    cdef const void *gp
    cdef void *wp
    cdef void *vp
    if (tn == 0 or not (_fast_arr(W, tn, -1, True) and _fast_arr(dW, tn, -1, False) and _same_shape(W, dW)
                        and _apart(W, dW) and (v is None or (_fast_arr(v, tn, -1, True) and _same_shape(W, v)
                                                             and _apart(v, W) and _apart(v, dW))))
            or (momentum != 0.0 and v is None) or not 0.0 <= momentum < 1.0):
        raise TypeError("_sgd_update_loop: needs apart, same-shape, C-contiguous float32/float64 arrays")
    size, gp, wp, vp = cnp.PyArray_SIZE(<cnp.ndarray>W), _ptr(dW), _ptr(W), _ptr(v)
    with nogil:
        for i in range(n):
            if tn == cnp.NPY_FLOAT:
                rc |= fm_sgd_update_f32(<const float *>gp, <float *>wp, <float *>vp, size, lr, momentum, 0.0, 0.0, 0)
            else:
                rc |= fm_sgd_update_f64(<const double *>gp, <double *>wp, <double *>vp, size, lr, momentum, 0.0, 0.0,
                                        0)
    _raise_for(rc, "sgd_update")


cdef bint _fast_adam_update(W, dW, m, v, t, lr, beta1, beta2, eps, weight_decay, l1, check_finite) except -1:
    """adam_update on the fast path: True when done, False to fall back to the checked path."""
    cdef int tn = _fast_in(W, -1), rc, overflow = 0, bad = 0
    cdef long long c_t
    cdef double c_lr, c_b1, c_b2, c_eps, c_wd, c_l1, lr_t
    cdef size_t n
    cdef const void *gp
    cdef void *wp
    cdef void *mp
    cdef void *vp
    if tn == 0 or not _is_flag(check_finite) or type(t) is not int:
        return False
    c_t = PyLong_AsLongLongAndOverflow(t, &overflow)
    if overflow != 0 or c_t < 1:
        return False
    if not (_fast_real(lr, &c_lr) and _fast_real(beta1, &c_b1) and _fast_real(beta2, &c_b2)
            and _fast_real(eps, &c_eps) and _fast_real(weight_decay, &c_wd) and _fast_real(l1, &c_l1)):
        return False
    if not (c_lr >= 0.0 and 0.0 <= c_b1 < 1.0 and 0.0 <= c_b2 < 1.0 and c_eps > 0.0 and c_wd >= 0.0
            and c_l1 >= 0.0):
        return False
    lr_t = c_lr / (1.0 - c_pow(c_b1, <double>c_t))  # _fits' lr / (1 - beta1 ** t), kept well inside the range
    if tn == cnp.NPY_FLOAT:
        if not (-0.5 * FLT_MAX <= lr_t <= 0.5 * FLT_MAX and _fits_f32(c_wd) and _fits_f32(c_l1)
                and _fits_f32(c_eps) and <double><float>c_b1 < 1.0 and <double><float>c_b2 < 1.0
                and <double><float>c_eps > 0.0):
            return False
    elif not -1e300 <= lr_t <= 1e300:
        return False
    if not (_fast_arr(W, tn, -1, True) and _fast_arr(dW, tn, -1, False) and _fast_arr(m, tn, -1, True)
            and _fast_arr(v, tn, -1, True) and _same_shape(W, dW) and _same_shape(W, m) and _same_shape(W, v)):
        return False
    if not (_apart(W, dW) and _apart(W, m) and _apart(W, v) and _apart(m, dW) and _apart(m, v) and _apart(v, dW)):
        return False
    n, gp, wp, mp, vp = cnp.PyArray_SIZE(<cnp.ndarray>W), _ptr(dW), _ptr(W), _ptr(m), _ptr(v)
    with nogil:
        if check_finite is not True:
            if tn == cnp.NPY_FLOAT:
                rc = fm_adam_update_f32(<const float *>gp, <float *>wp, <float *>mp, <float *>vp, n, <uint64_t>c_t,
                                        c_lr, c_b1, c_b2, c_eps, c_wd, c_l1)
            else:
                rc = fm_adam_update_f64(<const double *>gp, <double *>wp, <double *>mp, <double *>vp, n,
                                        <uint64_t>c_t, c_lr, c_b1, c_b2, c_eps, c_wd, c_l1)
        elif tn == cnp.NPY_FLOAT:
            rc = fmi_adam_update_finite_f32(<const float *>gp, <float *>wp, <float *>mp, <float *>vp, n,
                                            <uint64_t>c_t, c_lr, c_b1, c_b2, c_eps, c_wd, c_l1, &bad)
        else:
            rc = fmi_adam_update_finite_f64(<const double *>gp, <double *>wp, <double *>mp, <double *>vp, n,
                                            <uint64_t>c_t, c_lr, c_b1, c_b2, c_eps, c_wd, c_l1, &bad)
    if bad != 0:  # a NaN/Inf or a negative v, nothing written: the checked path names it
        return False
    _adam_raise_for(rc, v)
    return True

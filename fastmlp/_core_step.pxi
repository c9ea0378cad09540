# _core_step.pxi: _StepCache, the fast path of MLP.train_step -- included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE

_INT64 = np.dtype(np.int64)


cdef void *_buffer_ptr(a, bint writable=False) except NULL:
    """The data pointer of a C-contiguous array (kept alive by the caller's reference)."""
    cdef Py_buffer view
    PyObject_GetBuffer(a, &view, PyBUF_SIMPLE | (PyBUF_WRITABLE if writable else 0))
    cdef void *p = view.buf
    PyBuffer_Release(&view)
    return p


cdef inline bint _plain_array(a, dtype, Py_ssize_t ndim):
    return type(a) is np.ndarray and a.dtype is dtype and a.ndim == ndim and a.flags.c_contiguous \
        and a.flags.aligned


cdef inline bint _same_option(a, b):
    """The option ``a`` given now is the one ``b`` the cache was made with (same type: True is not 1)."""
    return a is b or (type(a) is type(b) and a == b)


cdef bint _labels_in_range(const int64_t *y, size_t n, int64_t n_out) noexcept nogil:
    cdef size_t i
    cdef bint bad = False
    for i in range(n):
        bad |= (y[i] < 0) | (y[i] >= n_out)
    return not bad


cdef bint _targets_ok(const floating *t, size_t n, bint check_finite, int loss) noexcept nogil:
    """t finite (when check_finite), in [0, 1] for sigmoid_bce, >= 0 for poisson."""
    cdef size_t i
    cdef bint bad = False
    if check_finite:
        if floating is float:
            if not _finite_ptr_f32(t, n):
                return False
        else:
            if not _finite_ptr_f64(t, n):
                return False
    if loss == FM_LOSS_SIGMOID_BCE:
        for i in range(n):
            bad |= not (t[i] >= 0) or not (t[i] <= 1)
    elif loss == FM_LOSS_POISSON:
        for i in range(n):
            bad |= not (t[i] >= 0)
    return not bad


cdef class _StepCache:
    """What ``MLP.train_step`` checked and bound on its last call with a named optimizer: the next call with the
    same optimizer name and options, plain arrays (X a C-contiguous array of the model's dtype, y int64 labels or
    targets of the model's dtype and shape) and no sample weights runs on it with its array checks done here in
    one pass each (finiteness, label range) and the write guard taken here. ``run`` returns None whenever anything
    differs -- the model's optimizer, its configuration, options or state, the model's loss -- and the caller then
    takes the checked path, which raises the errors."""
    cdef Guard guard
    cdef _Net net
    cdef object model_loss, opt, cfg_obj, copts, state, counter, params, grads, optname, key, dtype
    cdef OptimConfig cfg
    cdef void *pp
    cdef void *gp
    cdef void *sp
    cdef uint64_t *cnt
    cdef double *bounds
    cdef uint64_t *bounds_version
    cdef object bounds_arrays
    cdef size_t n_in, n_out

    def __init__(self, Guard guard not None, _Net net not None, params, grads, opt, OptimConfig cfg not None,
                 model_loss, str optname, tuple key):
        net._check_train(params, grads, cfg, opt.state, opt._counter)
        self.guard, self.net, self.cfg, self.cfg_obj = guard, net, cfg, cfg
        self.model_loss, self.opt, self.copts, self.state = model_loss, opt, opt._config_options, opt.state
        self.counter, self.params, self.grads, self.optname, self.key = opt._counter, params, grads, optname, key
        self.dtype = net.dtype
        self.pp = _buffer_ptr(params, True)
        self.gp = _buffer_ptr(grads, True)
        self.sp = _buffer_ptr(opt.state, True) if opt.state.shape[0] else NULL
        self.cnt = <uint64_t *>_buffer_ptr(opt._counter, True)
        _check_bounds_memo(guard, opt._bounds, opt._bounds_version)  # the optimizer's memo (Optimizer._new_bounds)
        self.bounds_arrays = (opt._bounds, opt._bounds_version)
        self.bounds = <double *>_buffer_ptr(opt._bounds, True)
        self.bounds_version = <uint64_t *>_buffer_ptr(opt._bounds_version, True)
        self.n_in, self.n_out = net.net.sizes[0], net.net.sizes[net.net.n_layers]

    def run(self, model, X, y, optimizer, lr, momentum, weight_decay, l1, bint check_finite):
        """The batch loss, or None when the cache does not apply (see the class)."""
        cdef tuple key = self.key
        cdef Py_ssize_t n
        cdef const void *xp
        cdef const void *tp = NULL
        cdef const int64_t *yp = NULL
        cdef double loss = 0.0
        cdef int rc
        if not (type(optimizer) is str and optimizer == self.optname and _same_option(lr, key[0])
                and _same_option(momentum, key[1]) and _same_option(weight_decay, key[2])
                and _same_option(l1, key[3])):
            return None
        opt = self.opt
        if model.optimizer_ is not opt or opt._config is not self.cfg_obj or opt._config_options is not self.copts \
                or opt.state is not self.state or opt._counter is not self.counter or model.loss != self.model_loss \
                or model._params is not self.params or model._guard is not self.guard:
            return None
        if not _plain_array(X, self.dtype, 2) or <size_t>X.shape[1] != self.n_in or X.shape[0] == 0:
            return None
        n = X.shape[0]
        xp = _buffer_ptr(X)
        if self.net.net.loss == FM_LOSS_SOFTMAX_CE:
            if not _plain_array(y, _INT64, 1) or y.shape[0] != n:
                return None
            yp = <const int64_t *>_buffer_ptr(y)
            if not _labels_in_range(yp, n, <int64_t>self.n_out):
                return None  # the checked path names the problem
        else:
            if not (type(y) is np.ndarray and (y.shape == (n, self.n_out) or (self.n_out == 1 and y.shape == (n,)))
                    and _plain_array(y, self.dtype, y.ndim)):
                return None
            tp = _buffer_ptr(y)
            if self.dtype is _FLOAT_DTYPES[0]:
                if not _targets_ok(<const float *>tp, n * self.n_out, check_finite, self.net.net.loss):
                    return None
            elif not _targets_ok(<const double *>tp, n * self.n_out, check_finite, self.net.net.loss):
                return None
        if check_finite:
            if self.dtype is _FLOAT_DTYPES[0]:
                if not _finite_ptr_f32(<const float *>xp, n * self.n_in):
                    raise ValueError("X: contains NaN or Inf")
            elif not _finite_ptr_f64(<const double *>xp, n * self.n_in):
                raise ValueError("X: contains NaN or Inf")
        cdef fmi_bounds_memo memo
        cdef fmi_bounds_memo *mp
        self.guard._enter_write("train_step")
        try:
            self.net._fit(n, True)
            mp = _bounds_memo_in(&memo, self.bounds, self.bounds_version, self.guard._ver[0], self.guard,
                                 self.net.n_params)
            if self.dtype is _FLOAT_DTYPES[0]:
                rc = _cache_step(self, <const float *>xp, <const float *>tp, yp, n, &loss, mp)
            else:
                rc = _cache_step(self, <const double *>xp, <const double *>tp, yp, n, &loss, mp)
            _bounds_memo_out(mp, self.bounds)
            if rc != FM_OK:
                _net_raise(rc, "train_step")
            self.cnt[0] += 1
        finally:
            self.guard._exit_write(True)
        self.bounds_version[0] = self.guard._ver[0]  # the memo holds for the weights just written
        return loss


cdef int _cache_step(_StepCache c, const floating *x, const floating *t, const int64_t *y, size_t n,
                     double *loss, fmi_bounds_memo *memo) noexcept:
    cdef _Net net = c.net
    cdef int rc
    if n * <size_t>net.n_params < 4096:  # a tiny step takes less time than releasing the GIL
        return _train_step_memo(&net.net, &c.cfg.o, x, t, y, <floating *>c.pp, <floating *>c.sp,
                                <floating *>c.gp, loss, net._work_ptr, n, net.work_batch, c.cnt[0] + 1, memo)
    with nogil:
        rc = _train_step_memo(&net.net, &c.cfg.o, x, t, y, <floating *>c.pp, <floating *>c.sp,
                              <floating *>c.gp, loss, net._work_ptr, n, net.work_batch, c.cnt[0] + 1, memo)
    return rc

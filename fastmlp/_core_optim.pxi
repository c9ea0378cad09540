# _core_optim.pxi: the update rule checked once (OptimConfig) -- included by _core.pyx (one compiled module)

# each rule of vocabulary.OPTIMIZERS, in its order: (the C update, uses momentum, Nesterov's form)
_RULES = dict(zip(OPTIMIZERS, ((FM_OPT_SGD, False, False), (FM_OPT_SGD, True, False), (FM_OPT_SGD, True, True),
                               (FM_OPT_ADAM, False, False))))


cdef class OptimConfig:
    """An update rule checked once: the ``fm_optim`` that every train step and epoch passes to C.

    kind: one of ``fastmlp.vocabulary.OPTIMIZERS``; the options are refused when out of range or when they would
    change meaning in the model's dtype (an lr of 1e300 is Inf in float32, a momentum of 0.99999999 rounds to 1).
    ``lr`` may be set later (schedules), checked the same way. ``scale_penalty=True`` is scikit-learn's alpha: each
    batch's weight_decay and l1 are divided by its sample-weight sum (row count without weights) and the batch loss
    that train_step / train_epoch return includes that penalty (fm_optim.scale_penalty in fastmlp.h)."""
    cdef fm_optim o
    cdef readonly str kind
    cdef readonly object dtype
    cdef readonly bint scale_penalty
    cdef bint _ready  # set by a successful __init__ only: a bare OptimConfig.__new__ is refused everywhere

    def __init__(self, str kind, dtype, lr, momentum=0.9, weight_decay=0.0, l1=0.0, beta1=0.9, beta2=0.999,
                 eps=1e-8, scale_penalty=False):
        # built in a local and committed only when every option passed; an initialised config never changes
        # (except lr), since a train epoch running without the GIL may be reading it
        cdef fm_optim o
        if self._ready:
            raise TypeError("OptimConfig: already initialised; make a new one")
        if kind not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {kind!r}")
        dt = np.dtype(dtype)
        if dt not in _FLOAT_DTYPES:
            raise TypeError(f"dtype: expected float32 or float64, got {dt}")
        c_kind, uses_momentum, nesterov = _RULES[kind]
        o.kind = c_kind
        o.weight_decay = _scalar("weight_decay", weight_decay, 0.0)
        o.l1 = _scalar("l1", l1, 0.0)
        o.momentum = 0.0
        o.nesterov = 0
        if uses_momentum:
            o.momentum = _scalar("momentum", momentum, 0.0, 1.0, lo_open=True, hi_open=True)
            o.nesterov = nesterov
        o.beta1 = _scalar("beta1", beta1, 0.0, 1.0, hi_open=True)
        o.beta2 = _scalar("beta2", beta2, 0.0, 1.0, hi_open=True)
        o.eps = _scalar("eps", eps, 0.0, lo_open=True)
        _fits(dt, weight_decay=o.weight_decay, l1=o.l1, momentum=o.momentum, beta1=o.beta1, beta2=o.beta2,
              eps=o.eps)
        o.lr = _scalar("lr", lr, 0.0)
        _fits(dt, lr=o.lr)
        o.scale_penalty = 1 if _flag("scale_penalty", scale_penalty) else 0
        self.o = o
        self.kind = kind
        self.dtype = dt
        self.scale_penalty = o.scale_penalty != 0
        self._ready = True

    cdef int _need(self) except -1:
        if not self._ready:
            raise TypeError("OptimConfig: not initialised (make it with OptimConfig(kind, dtype, lr, ...))")
        return 0

    @property
    def lr(self):
        self._need()
        return self.o.lr

    @lr.setter
    def lr(self, value):
        self._need()
        v = _scalar("lr", value, 0.0)
        _fits(self.dtype, lr=v)
        self.o.lr = v


# ---- the bounds memo of the steppers' and train_step's C step (csrc/internal.h: fmi_bounds_memo) ----------------
cdef extern from "internal.h" nogil:
    ctypedef struct fmi_bounds_memo:
        int valid
        double w, s0, s1
    int fmi_mlp_train_step_memo_f32(const fm_mlp *net, const fm_optim *opt, const float *x, const float *t,
                                    const int64_t *y, const float *sw, float *params, float *state, float *grads,
                                    double *loss, void *work, size_t n, size_t work_batch, uint64_t step,
                                    fmi_bounds_memo *memo)
    int fmi_mlp_train_step_memo_f64(const fm_mlp *net, const fm_optim *opt, const double *x, const double *t,
                                    const int64_t *y, const double *sw, double *params, double *state,
                                    double *grads, double *loss, void *work, size_t n, size_t work_batch,
                                    uint64_t step, fmi_bounds_memo *memo)


cdef inline int _train_step_memo(const fm_mlp *net, const fm_optim *opt, const floating *x, const floating *t,
                                 const int64_t *y, floating *params, floating *state, floating *grads, double *loss,
                                 void *work, size_t n, size_t work_batch, uint64_t step,
                                 fmi_bounds_memo *memo) noexcept nogil:
    """fm_mlp_train_step (no sample weights) with the bounds memo, or without one (NULL)."""
    if floating is float:
        return fmi_mlp_train_step_memo_f32(net, opt, x, t, y, NULL, params, state, grads, loss, work, n, work_batch,
                                           step, memo)
    return fmi_mlp_train_step_memo_f64(net, opt, x, t, y, NULL, params, state, grads, loss, work, n, work_batch,
                                       step, memo)


cdef fmi_bounds_memo *_bounds_memo_in(fmi_bounds_memo *m, double *bounds, const uint64_t *bounds_version,
                                      uint64_t version, object guard, size_t n_params):
    """The optimizer's memo (``Optimizer._new_bounds``) for the next step, in ``m``; NULL without one. Valid only
    while it holds for the weights' current version. While a writable view of the weights is alive there is no memo
    at all, before or after the step (a write through one bumps no version: a memo kept across it would be stale
    once the view is dropped). A network of under 4096 parameters keeps none either: its scan costs less than the
    memo's bookkeeping (a 2-3-1 step took 6 % longer with it)."""
    if bounds == NULL:
        return NULL
    if n_params < 4096 or _guard_views_alive(guard):
        bounds[0] = 0.0
        return NULL
    m.valid = bounds[0] != 0.0 and bounds_version[0] == version
    m.w, m.s0, m.s1 = bounds[1], bounds[2], bounds[3]
    return m


cdef void _bounds_memo_out(const fmi_bounds_memo *m, double *bounds) noexcept:
    """The memo as the step left it, back into the optimizer's array."""
    if m != NULL:
        bounds[0] = 1.0 if m.valid else 0.0
        bounds[1], bounds[2], bounds[3] = m.w, m.s0, m.s1


cdef int _check_bounds_memo(guard, bounds, bounds_version) except -1:
    """A stepper's memo arrays as ``Optimizer._new_bounds`` makes them, and the model's guard."""
    if not isinstance(guard, Guard):
        raise TypeError("guard: expected the model's fastmlp._core.Guard")
    if not (type(bounds) is np.ndarray and bounds.dtype == np.float64 and bounds.shape == (4,)
            and bounds.flags.c_contiguous and bounds.flags.writeable):
        raise ValueError("bounds: expected a writable float64 array of shape (4,)")
    if not (type(bounds_version) is np.ndarray and bounds_version.dtype == np.uint64 and bounds_version.shape == (1,)
            and bounds_version.flags.writeable):
        raise ValueError("bounds_version: expected a writable uint64 array of shape (1,)")
    return 0

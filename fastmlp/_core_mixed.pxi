# _core_mixed.pxi: mixed-precision training (bf16 products, float32 everything else; csrc/bf16_train.c, mlp.c):
# bf16_train_path, mlp_loss_grad_bf16, mlp_train_step_bf16, StepperBF16 -- included by _core.pyx
# ---------------------------------------------------------------------------------------------------------------


def bf16_train_path():
    """The path of the mixed-precision training step (C: ``fm_bf16_train_path``).

    Returns
    -------
    str
        ``"amx"`` (Intel AMX tiles: Sapphire Rapids and later, Linux granting the tile state), ``"avx512bf16"``
        (the VDPBF16PS instruction where AMX is not usable: AMD Zen 4) or ``"emulated"`` (the bf16-rounded
        operands through the float32 kernels: CPUs without AVX512_BF16, or ``FASTMLP_ISA`` below avx512).
        ``FASTMLP_BF16_TRAIN=amx|avx512bf16|emulated`` in the environment (read once, at import) is the highest
        path allowed. The paths round their float32 sums differently: results agree to bf16 tolerance, not bit
        for bit.

    See Also
    --------
    bf16_path : The path of the bf16 inference layer.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.bf16_train_path() in ("amx", "avx512bf16", "emulated")
    True
    """
    return fm_bf16_train_path().decode()


cdef object _mixed_work(_Net net, size_t batch):
    """A workspace of the mixed-precision functions for batches of up to ``batch`` rows."""
    cdef size_t nbytes = 0
    _raise_for(fm_mlp_workspace_size_bf16(&net.net, &nbytes, batch), "mlp_workspace_size_bf16")
    return np.empty(nbytes, dtype=np.uint8)


def _mixed_workspace_size(_Net net, size_t batch):
    """Bytes fm_mlp_workspace_size_bf16 gives for batches of up to ``batch`` rows (the tests' check of its twin)."""
    cdef size_t nbytes = 0
    _raise_for(fm_mlp_workspace_size_bf16(&net.net, &nbytes, batch), "mlp_workspace_size_bf16")
    return nbytes


cdef Py_ssize_t _mixed_check(_Net net, params, grads, x, t, y, sw, bint positive=True) except -1:
    net._need()
    if net.dtype != _F32:
        raise TypeError(f"bfloat16 training: needs a float32 network, this one is {net.dtype}")
    net._check_vec("params", params, net.n_params)
    if grads is not None:
        net._check_vec("grads", grads, net.n_params)
    if isinstance(x, CSR):
        raise TypeError("bfloat16 training: x must be a dense array")
    return net._check_xty(x, t, y, sw, positive)


def mlp_loss_grad_bf16(_Net net not None, params, grads, x, t, y, sw=None):
    """The batch loss and (grads not None) its gradient with bf16 products (C: ``fm_mlp_loss_grad_bf16``); NaN
    when it diverged. Internal (tests, benchmarks): a float32 network, dense x, a workspace per call."""
    cdef float[::1] g
    cdef const float[::1] pv
    cdef float *gp = NULL
    cdef double loss = 0.0
    cdef int rc
    cdef _Batch b
    cdef size_t n = <size_t>_mixed_check(net, params, grads, x, t, y, sw)
    cdef unsigned char[::1] work = _mixed_work(net, n)
    pv = params
    _batch(&b, x, t, y, sw, <float>0)
    if grads is not None:
        g = grads
        gp = &g[0]
    with nogil:
        rc = fm_mlp_loss_grad_bf16(&net.net, &pv[0], <const float *>b.x, <const float *>b.t, b.y,
                                   <const float *>b.sw, gp, &loss, &work[0], n, n)
    if rc == FM_EDIVERGED:
        return float("nan")
    _raise_for(rc, "mlp_loss_grad_bf16")
    return loss


def mlp_train_step_bf16(_Net net not None, params, grads, OptimConfig cfg not None, state, counter, x, t, y,
                        sw=None):
    """One mixed-precision step in C (C: ``fm_mlp_train_step_bf16``, step number counter[0] + 1); returns the
    batch loss and advances the counter. Internal (tests, benchmarks): a float32 network, dense x."""
    cdef float[::1] pv, gv, sv
    cdef float *sp = NULL
    cdef double loss = 0.0
    cdef int rc
    cdef _Batch b
    net._check_train(params, grads, cfg, state, counter)
    cdef size_t n = <size_t>_mixed_check(net, params, grads, x, t, y, sw)
    cdef unsigned char[::1] work = _mixed_work(net, n)
    cdef uint64_t step = counter[0] + 1
    pv, gv = params, grads
    if state is not None and len(state):
        sv = state
        sp = &sv[0]
    _batch(&b, x, t, y, sw, <float>0)
    with nogil:
        rc = fm_mlp_train_step_bf16(&net.net, &cfg.o, <const float *>b.x, <const float *>b.t, b.y,
                                    <const float *>b.sw, &pv[0], sp, &gv[0], &loss, &work[0], n, n, step)
    _net_raise(rc, "train_step_bf16")
    counter[0] += 1
    return loss


def mlp_train_epoch_bf16(_Net net not None, params, grads, OptimConfig cfg not None, state, counter, x, t, y, order,
                         size_t batch, sw=None):
    """One epoch of mixed-precision steps in one C call (C: ``fm_mlp_train_epoch_bf16``), the samples visited in
    ``order``, as ``_Net.train_epoch``: returns the mean loss, advances the counter by the batches applied (also
    when one diverged: DivergenceError). Internal (``fit``, the estimators): a float32 network, dense x."""
    cdef float[::1] pv, gv, sv
    cdef float *sp = NULL
    cdef const int64_t[::1] ov
    cdef double loss = 0.0
    cdef uint64_t st
    cdef int rc
    cdef _Batch b
    net._check_train(params, grads, cfg, state, counter)
    _mixed_check(net, params, grads, x, t, y, sw, False)
    if not isinstance(order, np.ndarray) or order.dtype != np.int64 or order.ndim != 1 or order.shape[0] == 0:
        raise ValueError("order: expected a non-empty int64 vector of sample indices")
    if batch == 0:
        raise ValueError("batch: expected >= 1")
    cdef unsigned char[::1] work = _mixed_work(net, batch)
    pv, gv, ov = params, grads, order
    if state is not None and len(state):
        sv = state
        sp = &sv[0]
    _batch(&b, x, t, y, sw, <float>0)
    st = counter[0]
    with nogil:
        rc = fm_mlp_train_epoch_bf16(&net.net, &cfg.o, <const float *>b.x, <const float *>b.t, b.y,
                                     <const float *>b.sw, &ov[0], &pv[0], sp, &gv[0], &st, &loss, &work[0], b.n,
                                     ov.shape[0], batch)
    counter[0] = st  # the batches applied, also when one diverged
    _net_raise(rc, "train_epoch_bf16")
    return loss


cdef class StepperBF16:
    """A bound mixed-precision training step: ``step = model.stepper(X, y, ..., dtype="bfloat16")``.

    Made by ``MLP.stepper`` only; as ``Stepper``, with bf16 operands in the layer products (float32 sums, float32
    weights, loss and update: C ``fm_mlp_train_step_bf16``) and a workspace of its own. ``step()`` returns the
    batch loss; ``step.step_count`` is the model's step count (shared with ``fit`` and ``train_step``).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> model = fastmlp.MLP([2, 3, 1], loss="mse", seed=0)
    >>> step = model.stepper(np.ones((4, 2)), np.zeros((4, 1)), lr=0.1, dtype="bfloat16")
    >>> loss = step()
    >>> step.step_count
    1
    """
    cdef fm_mlp net
    cdef fm_optim opt
    cdef const unsigned char *alive
    cdef float *params
    cdef float *grads
    cdef float *state
    cdef const float *x
    cdef const float *t
    cdef const int64_t *y
    cdef size_t n, n_params
    cdef void *work
    cdef uint64_t *counter
    cdef uint64_t *version
    cdef object _keep

    def __cinit__(self):
        self.state = NULL
        self.t = NULL
        self.y = NULL
        self.counter = NULL
        self.alive = NULL
        self.version = NULL

    def __init__(self, *args, **kwargs):
        raise TypeError("StepperBF16 objects are made by model.stepper(X, y, ..., dtype='bfloat16'), not directly")

    @staticmethod
    def _make(_Net netobj not None, params, grads, OptimConfig cfg not None, state, counter, alive, X, T, Y,
              version):
        cdef StepperBF16 s = StepperBF16.__new__(StepperBF16)
        cdef unsigned char[::1] wv
        netobj._check_train(params, grads, cfg, state, counter)
        _mixed_check(netobj, params, grads, X, T, Y, None)
        if not isinstance(alive, np.ndarray) or alive.dtype != np.uint8 or alive.shape != (1,):
            raise ValueError("alive: expected a uint8 array of shape (1,)")
        if not isinstance(version, np.ndarray) or version.dtype != np.uint64 or version.shape != (1,):
            raise ValueError("version: expected a uint64 array of shape (1,)")
        work = _mixed_work(netobj, X.shape[0])
        wv = work
        s.net = netobj.net
        s.opt = cfg.o
        s.params = <float *><size_t>params.ctypes.data
        s.grads = <float *><size_t>grads.ctypes.data
        s.state = <float *><size_t>state.ctypes.data if state.shape[0] else NULL
        s.x = <const float *><size_t>X.ctypes.data
        s.t = <const float *><size_t>T.ctypes.data if T is not None else NULL
        s.y = <const int64_t *><size_t>Y.ctypes.data if Y is not None else NULL
        s.n = X.shape[0]
        s.n_params = netobj.n_params
        s.work = <void *>&wv[0]
        s.counter = <uint64_t *><size_t>counter.ctypes.data
        s.alive = <const unsigned char *><size_t>alive.ctypes.data
        s.version = <uint64_t *><size_t>version.ctypes.data
        s._keep = (netobj, params, grads, state, X, T, Y, work, counter, alive, version)  # owners of the pointers
        return s

    @property
    def step_count(self):
        if self.counter == NULL:
            raise TypeError("StepperBF16 objects are made by model.stepper(X, y, ..., dtype='bfloat16')")
        return self.counter[0]

    def __call__(self):
        cdef double loss = 0.0
        cdef int rc
        if self.alive == NULL or not self.alive[0]:
            if self.alive == NULL:
                raise TypeError("StepperBF16 objects are made by model.stepper(X, y, ..., dtype='bfloat16')")
            raise RuntimeError("step: the model's optimizer was replaced (another optimizer or options that need "
                               "another state) or the model was reset after this stepper was made; this stepper "
                               "would update the weights with a stale optimizer state: make a new one with "
                               "model.stepper(...)")
        with nogil:
            rc = fm_mlp_train_step_bf16(&self.net, &self.opt, self.x, self.t, self.y, NULL, self.params,
                                        self.state, self.grads, &loss, self.work, self.n, self.n,
                                        self.counter[0] + 1)
        if rc != FM_OK:
            _net_raise(rc, "step")
        self.counter[0] += 1
        self.version[0] += 1  # the model's packed-weights cache is stale
        return loss

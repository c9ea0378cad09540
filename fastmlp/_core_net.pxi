# _core_net.pxi: whole network: _Net, Stepper -- included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------
# whole network (csrc/mlp.c): the state a model holds, with one C call per forward / step / epoch

MAX_LAYERS = FM_MAX_LAYERS
MAX_PARAMS = FM_MAX_PARAMS  # the most parameters a network may have (fastmlp.h)


cdef int _net_raise(int rc, str where) except -1:
    """The one place a network call's status becomes an exception: FM_EDIVERGED is DivergenceError (the C step
    changed nothing), every other code a ValueError."""
    if rc == FM_EDIVERGED:
        raise DivergenceError(f"{where}: the loss or a gradient is NaN/Inf, or the step would overflow (learning "
                              f"rate too large); the refused step changed nothing")
    return _raise_for(rc, where)


cdef object _mlp_forward(_Net self, const floating[::1] params, const floating[:, ::1] x, floating[:, ::1] out,
                 unsigned char[::1] work, size_t work_batch):
    cdef int rc
    with nogil:
        rc = c_mlp_forward(&self.net, &params[0], &x[0, 0], &out[0, 0], &work[0], x.shape[0], work_batch)
    _raise_for(rc, "mlp_forward")


cdef object _mlp_forward_csr(_Net self, const floating[::1] params, CSR X, floating[:, ::1] out,
                             unsigned char[::1] work, size_t work_batch):
    cdef const int64_t[::1] ip = X.indptr
    cdef const int64_t[::1] ix = X.indices
    cdef const floating[::1] dv = X.data
    cdef int rc
    with nogil:
        rc = c_mlp_forward_csr(&self.net, &params[0], &ip[0], _i64_ptr(ix), _data_ptr(dv), &out[0, 0], &work[0],
                               X.n_rows, X.nnz, work_batch)
    _raise_for(rc, "mlp_forward_csr")


cdef object _mlp_loss_grad(_Net self, const floating[::1] params, grads, x, t, y, sw):
    cdef floating[::1] g
    cdef floating *gp = NULL
    cdef double loss = 0.0
    cdef int rc
    cdef _Batch b
    _batch(&b, x, t, y, sw, <floating>0)
    if grads is not None:
        g = grads
        gp = &g[0]
    with nogil:
        if b.csr:
            rc = c_mlp_loss_grad_csr(&self.net, &params[0], b.indptr, b.indices, <const floating *>b.data,
                                     <const floating *>b.t, b.y, <const floating *>b.sw, gp, &loss, self._work_ptr,
                                     b.n, b.nnz, self.work_batch)
        else:
            rc = c_mlp_loss_grad(&self.net, &params[0], <const floating *>b.x, <const floating *>b.t, b.y,
                                 <const floating *>b.sw, gp, &loss, self._work_ptr, b.n, self.work_batch)
    if rc == FM_EDIVERGED:
        return float("nan")
    _raise_for(rc, "mlp_loss_grad")
    return loss


cdef object _mlp_train_step(_Net self, floating[::1] params, floating[::1] grads, state, x, t, y, sw,
                    OptimConfig cfg, uint64_t step):
    cdef floating[::1] sv
    cdef floating *sp = NULL
    cdef double loss = 0.0
    cdef int rc
    cdef _Batch b
    _batch(&b, x, t, y, sw, <floating>0)
    if state is not None and len(state):
        sv = state
        sp = &sv[0]
    with nogil:
        if b.csr:
            rc = c_mlp_train_step_csr(&self.net, &cfg.o, b.indptr, b.indices, <const floating *>b.data,
                                      <const floating *>b.t, b.y, <const floating *>b.sw, &params[0], sp, &grads[0],
                                      &loss, self._work_ptr, b.n, b.nnz, self.work_batch, step)
        else:
            rc = c_mlp_train_step(&self.net, &cfg.o, <const floating *>b.x, <const floating *>b.t, b.y,
                                  <const floating *>b.sw, &params[0], sp, &grads[0], &loss, self._work_ptr, b.n,
                                  self.work_batch, step)
    _net_raise(rc, "train_step")
    return loss


cdef object _mlp_train_epoch(_Net self, floating[::1] params, floating[::1] grads, state, X, T, Y, sw,
                     const int64_t[::1] order, OptimConfig cfg, uint64_t[::1] counter):
    cdef floating[::1] sv
    cdef floating *sp = NULL
    cdef double loss = 0.0
    cdef uint64_t st = counter[0]
    cdef int rc
    cdef _Batch b
    _batch(&b, X, T, Y, sw, <floating>0)
    if state is not None and len(state):
        sv = state
        sp = &sv[0]
    with nogil:
        if b.csr:
            rc = c_mlp_train_epoch_csr(&self.net, &cfg.o, b.indptr, b.indices, <const floating *>b.data,
                                       <const floating *>b.t, b.y, <const floating *>b.sw, &order[0], &params[0], sp,
                                       &grads[0], &st, &loss, self._work_ptr, b.n, b.nnz, order.shape[0],
                                       self.work_batch)
        else:
            rc = c_mlp_train_epoch(&self.net, &cfg.o, <const floating *>b.x, <const floating *>b.t, b.y,
                                   <const floating *>b.sw, &order[0], &params[0], sp, &grads[0], &st, &loss,
                                   self._work_ptr, b.n, order.shape[0], self.work_batch)
    counter[0] = st  # the batches applied, also when one diverged
    _net_raise(rc, "train_epoch")
    return loss


cdef class _Net:
    """The C network description and its workspace (internal; ``fastmlp.MLP`` is the public face).

    Methods take the model's flat parameter, gradient and state vectors and batches already validated by the
    caller; they check the lengths that the C code relies on, so a wrong buffer raises instead of overrunning.
    """
    cdef fm_mlp net
    cdef readonly object dtype
    cdef readonly Py_ssize_t n_params
    cdef readonly size_t work_batch
    cdef object _work
    cdef void *_work_ptr
    cdef size_t _work_bytes  # the workspace's size: the two layouts differ only in their last region, so one of
    # at least a layout's size (for this work_batch) serves it, whichever kind it was made for
    cdef bint _ready  # set by a successful __init__ only: a bare _Net.__new__ is refused by every method

    def __init__(self, sizes, acts, str loss, dtype):
        # checked in Python and built in a local fm_mlp, committed only when the C core accepts it; an initialised
        # network never changes (calls running without the GIL read it): re-initialising is refused
        cdef fm_mlp net
        cdef size_t count = 0
        if self._ready:
            raise TypeError("_Net: already initialised; make a new one")
        memset(&net, 0, sizeof(net))
        dt = np.dtype(dtype)
        if dt not in _FLOAT_DTYPES:
            raise TypeError(f"dtype: expected float32 or float64, got {dt}")
        sizes, acts = list(sizes), list(acts)
        if len(sizes) < 2 or len(sizes) - 1 > FM_MAX_LAYERS:
            raise ValueError(f"sizes: expected 2 to {FM_MAX_LAYERS + 1} layer sizes, got {len(sizes)}")
        if len(acts) != len(sizes) - 1:
            raise ValueError(f"acts: expected {len(sizes) - 1} activations, got {len(acts)}")
        if loss not in _LOSS_CODES:
            raise ValueError(f"loss: expected one of {CORE_LOSSES}, got {loss!r}")
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
                raise ValueError(f"sizes: every layer size must be an int >= 1, got {s!r}")
        total = sum(int(sizes[l + 1]) * (int(sizes[l]) + 1) for l in range(len(sizes) - 1))
        if total > FM_MAX_PARAMS:
            raise ValueError(f"sizes: a network of {total} parameters is past the core's limit of {FM_MAX_PARAMS} "
                             f"(2**40, fastmlp._core.MAX_PARAMS)")
        if loss != "mse" and acts[len(acts) - 1] != "identity":
            raise ValueError(f"loss {loss!r} takes logits: the output activation must be 'identity'")
        net.n_layers = len(sizes) - 1
        for i, s in enumerate(sizes):
            net.sizes[i] = <size_t>int(s)  # each < 2**40 by the count above
        for i, a in enumerate(acts):
            net.acts[i] = _act(a)
        net.loss = _LOSS_CODES[loss]
        _raise_for(fm_mlp_num_params(&net, &count), "mlp_num_params")
        self.net = net
        self.n_params = count
        self.dtype = dt
        self.work_batch = 0
        self._work_bytes = 0
        self._work = None
        self._work_ptr = NULL
        self._ready = True

    cdef int _need(self) except -1:
        if not self._ready:
            raise TypeError("_Net: not initialised (make it with _Net(sizes, acts, loss, dtype))")
        return 0

    def state_size(self, OptimConfig cfg not None):
        """Length of the optimizer state vector this network needs under ``cfg``."""
        cdef size_t count
        self._need()
        cfg._need()
        _raise_for(fm_mlp_state_size(&self.net, &cfg.o, &count), "mlp_state_size")
        return count

    cdef size_t _workspace_bytes(self, size_t batch, bint dense=True) except? 0:
        """Bytes of workspace for batches of up to ``batch`` rows in this network's dtype (dense input, or the
        smaller CSR layout)."""
        cdef size_t nbytes = 0
        cdef int rc
        if self.dtype == np.float32:
            rc = c_mlp_workspace_size(&self.net, &nbytes, batch, <float>0) if dense else \
                c_mlp_workspace_size_csr(&self.net, &nbytes, batch, <float>0)
        else:
            rc = c_mlp_workspace_size(&self.net, &nbytes, batch, <double>0) if dense else \
                c_mlp_workspace_size_csr(&self.net, &nbytes, batch, <double>0)
        _raise_for(rc, "mlp_workspace_size")
        return nbytes

    def workspace_size(self, size_t batch, csr=False):
        """Bytes of workspace fm_mlp_workspace_size (``csr=True``: fm_mlp_workspace_size_csr) gives for batches of up
        to ``batch`` rows in this network's dtype."""
        self._need()
        return self._workspace_bytes(batch, not _flag("csr", csr))

    def reserve(self, size_t batch, csr=False):
        """Make the workspace fit batches of exactly this many rows (the epoch's batch size); ``csr=True``: for CSR
        input only (no room for dense input rows, which may be wide)."""
        self._need()
        self._reserve(batch, not _flag("csr", csr))

    cdef _reserve(self, size_t batch, bint dense):
        cdef size_t nbytes
        if batch == 0:
            raise ValueError("batch: expected >= 1")
        nbytes = self._workspace_bytes(batch, dense)
        if batch == self.work_batch and self._work_bytes >= nbytes:
            return
        cdef unsigned char[::1] buf
        self._work = np.empty(nbytes, dtype=np.uint8)
        buf = self._work
        self._work_ptr = <void *>&buf[0]
        self.work_batch = batch
        self._work_bytes = nbytes

    cdef _fit(self, size_t n, bint dense):
        """A workspace for a batch of n rows of this input kind (the current one when it fits)."""
        self._reserve(max(n, self.work_batch), dense)

    cdef _check_vec(self, str name, a, Py_ssize_t n):
        if not isinstance(a, np.ndarray) or a.dtype != self.dtype or a.ndim != 1 or a.shape[0] != n \
                or not a.flags.c_contiguous:
            raise ValueError(f"{name}: expected a contiguous {self.dtype} vector of length {n}")

    cdef _check_xty(self, x, t, y, sw=None, bint need_positive_sum=True):
        """Check a batch (x a C-contiguous array or a CSR of the model's dtype; targets t or labels y; sample
        weights sw) and return its row count."""
        self._need()
        n_in, n_out = self.net.sizes[0], self.net.sizes[self.net.n_layers]
        if isinstance(x, CSR):
            (<CSR>x)._need()
            if x.dtype != self.dtype or x.n_cols != n_in:
                raise ValueError(f"x: expected a CSR of dtype {self.dtype} with {n_in} columns, got {x!r}")
            n = x.n_rows
        else:
            if not isinstance(x, np.ndarray) or x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != n_in \
                    or x.shape[0] == 0 or not x.flags.c_contiguous:
                raise ValueError(f"x: expected a C-contiguous {self.dtype} array of shape (n, {n_in}) or a "
                                 f"fastmlp._core.CSR")
            n = x.shape[0]
        if self.net.loss == FM_LOSS_SOFTMAX_CE:
            if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.shape != (n,) \
                    or not y.flags.c_contiguous:
                raise ValueError(f"y: expected int64 labels of shape ({n},)")
        else:
            if not isinstance(t, np.ndarray) or t.dtype != self.dtype or t.shape != (n, n_out) \
                    or not t.flags.c_contiguous:
                raise ValueError(f"t: expected a C-contiguous {self.dtype} array of shape ({n}, {n_out})")
            if self.net.loss == FM_LOSS_POISSON:
                _nonneg_targets("t", t)
        _weights(sw, n, self.dtype, need_positive_sum)
        return n

    def forward(self, params, x, out):
        """out[n, n_out] = the network's output for x: a C-contiguous (n, n_in) array or a CSR (fastmlp._core.CSR)
        of the model's dtype."""
        self._need()
        self._check_vec("params", params, self.n_params)
        n_in, n_out = self.net.sizes[0], self.net.sizes[self.net.n_layers]
        csr = isinstance(x, CSR)
        if csr:
            (<CSR>x)._need()
            if x.dtype != self.dtype or x.n_cols != n_in:
                raise ValueError(f"x: expected a CSR of dtype {self.dtype} with {n_in} columns, got {x!r}")
            n = x.n_rows
        else:
            if not isinstance(x, np.ndarray) or x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != n_in \
                    or x.shape[0] == 0 or not x.flags.c_contiguous:
                raise ValueError(f"x: expected a C-contiguous {self.dtype} array of shape (n, {n_in}) or a "
                                 f"fastmlp._core.CSR")
            n = x.shape[0]
        if not isinstance(out, np.ndarray) or out.dtype != self.dtype or out.shape != (n, n_out) \
                or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out: expected a writable {self.dtype} array of shape ({n}, {n_out})")
        # a workspace of its own for every call: predictions from several threads never share buffers
        cdef size_t chunk = min(<size_t>n, 256)
        cdef size_t nbytes = self._workspace_bytes(chunk, not csr)
        work = np.empty(nbytes, dtype=np.uint8)
        if csr:
            if self.dtype == np.float32:
                _mlp_forward_csr[float](self, params, x, out, work, chunk)
            else:
                _mlp_forward_csr[double](self, params, x, out, work, chunk)
        elif x.dtype == np.float32:
            _mlp_forward[float](self, params, x, out, work, chunk)
        else:
            _mlp_forward[double](self, params, x, out, work, chunk)
        return out

    def loss_grad(self, params, grads, x, t, y, sw=None):
        """Mean loss of the batch (weighted by sw, None or one finite weight >= 0 per row with a positive sum) and
        (grads not None) its gradient; NaN when it diverged. x: an array or a CSR."""
        self._need()
        self._check_vec("params", params, self.n_params)
        if grads is not None:
            self._check_vec("grads", grads, self.n_params)
        n = self._check_xty(x, t, y, sw)
        self._fit(n, not isinstance(x, CSR))
        if self.dtype == np.float32:
            return _mlp_loss_grad[float](self, params, grads, x, t, y, sw)
        return _mlp_loss_grad[double](self, params, grads, x, t, y, sw)

    cdef _check_train(self, params, grads, OptimConfig cfg, state, counter):
        self._need()
        if cfg is None:
            raise TypeError("cfg: expected an OptimConfig, got None")
        cfg._need()
        self._check_vec("params", params, self.n_params)
        self._check_vec("grads", grads, self.n_params)
        if cfg.dtype != self.dtype:
            raise ValueError(f"optimizer: configured for {cfg.dtype}, the network is {self.dtype}")
        self._check_vec("state", state, self.state_size(cfg))
        if not isinstance(counter, np.ndarray) or counter.dtype != np.uint64 or counter.shape != (1,) \
                or not counter.flags.writeable:
            raise ValueError("counter: expected a writable uint64 array of shape (1,)")

    def train_step(self, params, grads, OptimConfig cfg not None, state, counter, x, t, y, sw=None):
        """One step in C (step number counter[0] + 1); returns the batch loss (with the scaled penalty when
        cfg.scale_penalty) and advances the counter. x: an array or a CSR; sw: sample weights (None, or finite,
        >= 0, positive sum). Raises DivergenceError, with nothing updated, when the loss or a gradient is NaN/Inf."""
        self._check_train(params, grads, cfg, state, counter)
        n = self._check_xty(x, t, y, sw)
        self._fit(n, not isinstance(x, CSR))
        if self.dtype == np.float32:
            loss = _mlp_train_step[float](self, params, grads, state, x, t, y, sw, cfg, counter[0] + 1)
        else:
            loss = _mlp_train_step[double](self, params, grads, state, x, t, y, sw, cfg, counter[0] + 1)
        counter[0] += 1
        return loss

    def train_epoch(self, params, grads, OptimConfig cfg not None, state, counter, X, T, Y, order, size_t batch,
                    sw=None):
        """One epoch in one C call, the samples visited in ``order``; returns the mean loss (row-count weighted
        mean of the batch losses) and advances the counter by the batches applied. X: an array or a CSR (its
        batches selected through order, never densified); sw: one weight per row of X (None, or finite and >= 0; a
        batch of zero weight is skipped). Raises DivergenceError at the batch that diverged (the earlier ones are
        applied)."""
        self._check_train(params, grads, cfg, state, counter)
        self._check_xty(X, T, Y, sw, False)
        if not isinstance(order, np.ndarray) or order.dtype != np.int64 or order.ndim != 1 or order.shape[0] == 0:
            raise ValueError("order: expected a non-empty int64 vector of sample indices")
        self._reserve(batch, not isinstance(X, CSR))
        if self.dtype == np.float32:
            return _mlp_train_epoch[float](self, params, grads, state, X, T, Y, sw, order, cfg, counter)
        return _mlp_train_epoch[double](self, params, grads, state, X, T, Y, sw, order, cfg, counter)


cdef class Stepper:
    """One training step on a fixed batch, bound once: ``step = model.stepper(X, y, lr=...)`` then ``step()``.

    Made by ``MLP.stepper`` only. ``step()`` returns the batch loss; ``step.step_count`` is the model's step
    count (shared with ``fit`` and ``train_step``).

    The fast path for tiny networks and tight loops: everything is validated when the stepper is made, and each
    call is one C train step with the GIL released, no Python-level checks and no allocation. X and the targets
    are used in place when they already are C-contiguous arrays of the model's dtype (int64 for labels), so they
    may be refilled between calls (keep them finite: the C step refuses a NaN/Inf loss or gradient, raising
    DivergenceError with the weights untouched). Returns the batch loss. A stepper is the raw path: unlike the
    model's methods it does not check for other threads using the model, so call it from the training thread.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> model = fastmlp.MLP([2, 3, 1], loss="mse", dtype="float64", seed=0)
    >>> step = model.stepper(np.ones((4, 2)), np.zeros((4, 1)), lr=0.1)
    >>> loss = step()
    >>> step.step_count
    1
    """
    cdef fm_mlp net
    cdef fm_optim opt
    cdef const unsigned char *alive
    cdef void *params
    cdef void *grads
    cdef void *state
    cdef const void *x
    cdef const void *t
    cdef const int64_t *y
    cdef size_t n, n_params, work_batch
    cdef void *work
    cdef bint f64
    cdef uint64_t *counter
    cdef uint64_t *version
    cdef object guard
    cdef double *bounds
    cdef uint64_t *bounds_version
    cdef object _keep

    def __cinit__(self):
        self.state = NULL
        self.t = NULL
        self.y = NULL
        self.counter = NULL
        self.alive = NULL
        self.version = NULL
        self.bounds = NULL
        self.bounds_version = NULL

    def __init__(self, *args, **kwargs):
        raise TypeError("Stepper objects are made by model.stepper(X, y, ...), not directly")

    @staticmethod
    def _make(_Net netobj not None, params, grads, OptimConfig cfg not None, state, counter, alive, X, T, Y,
              version, guard=None, bounds=None, bounds_version=None):
        cdef Stepper s = Stepper.__new__(Stepper)
        cdef const unsigned char[::1] raw
        netobj._check_train(params, grads, cfg, state, counter)
        if isinstance(X, CSR):
            raise TypeError("stepper: X must be a dense array (use train_step for CSR batches)")
        netobj._check_xty(X, T, Y)
        if not isinstance(alive, np.ndarray) or alive.dtype != np.uint8 or alive.shape != (1,):
            raise ValueError("alive: expected a uint8 array of shape (1,)")
        if not isinstance(version, np.ndarray) or version.dtype != np.uint64 or version.shape != (1,):
            raise ValueError("version: expected a uint64 array of shape (1,)")
        netobj.reserve(X.shape[0])
        s.net = netobj.net
        s.opt = cfg.o
        s.params = <void *><size_t>params.ctypes.data
        s.grads = <void *><size_t>grads.ctypes.data
        s.state = <void *><size_t>state.ctypes.data if state.shape[0] else NULL
        s.x = <const void *><size_t>X.ctypes.data
        s.t = <const void *><size_t>T.ctypes.data if T is not None else NULL
        s.y = <const int64_t *><size_t>Y.ctypes.data if Y is not None else NULL
        s.n = X.shape[0]
        s.n_params = netobj.n_params
        s.work = netobj._work_ptr
        s.work_batch = netobj.work_batch
        s.f64 = netobj.dtype == np.float64
        s.counter = <uint64_t *><size_t>counter.ctypes.data
        s.alive = <const unsigned char *><size_t>alive.ctypes.data
        s.version = <uint64_t *><size_t>version.ctypes.data  # the model's weights' version (Guard)
        if guard is not None:  # the optimizer's bounds memo (Optimizer._new_bounds), valid at bounds_version
            _check_bounds_memo(guard, bounds, bounds_version)
            s.guard = guard
            s.bounds = <double *><size_t>bounds.ctypes.data
            s.bounds_version = <uint64_t *><size_t>bounds_version.ctypes.data
        s._keep = (netobj, params, grads, state, X, T, Y, netobj._work, counter, alive, version, bounds,
                   bounds_version)  # owners of the pointers
        return s

    @property
    def step_count(self):
        if self.counter == NULL:
            raise TypeError("Stepper objects are made by model.stepper(X, y, ...), not directly")
        return self.counter[0]

    cdef int _step(self, double *loss, fmi_bounds_memo *memo) noexcept nogil:
        if self.f64:
            return _stepper_step(self, <double *>NULL, loss, memo)
        return _stepper_step(self, <float *>NULL, loss, memo)

    def __call__(self):
        cdef double loss = 0.0
        cdef int rc
        if self.alive == NULL or not self.alive[0]:
            if self.alive == NULL:
                raise TypeError("Stepper objects are made by model.stepper(X, y, ...), not directly")
            raise RuntimeError("step: the model's optimizer was replaced (another optimizer or options that need "
                               "another state) or the model was reset after this stepper was made; this stepper "
                               "would update the weights with a stale optimizer state: make a new one with "
                               "model.stepper(...)")
        cdef fmi_bounds_memo memo
        cdef fmi_bounds_memo *mp = _bounds_memo_in(&memo, self.bounds, self.bounds_version, self.version[0],
                                                   self.guard, self.n_params)
        if self.n * self.n_params < 4096:  # a tiny step takes less time than releasing the GIL
            rc = self._step(&loss, mp)
        else:
            with nogil:
                rc = self._step(&loss, mp)
        _bounds_memo_out(mp, self.bounds)
        if rc != FM_OK:
            _net_raise(rc, "step")
        self.counter[0] += 1
        self.version[0] += 1  # the model's packed-weights cache is stale
        if mp != NULL:
            self.bounds_version[0] = self.version[0]  # the memo holds for the weights just written
        return loss


cdef inline int _stepper_step(Stepper s, floating *dtype_of, double *loss, fmi_bounds_memo *memo) noexcept nogil:
    """One C train step of a stepper, in the dtype of ``dtype_of`` (a typed NULL that picks it), with the bounds
    memo (or NULL)."""
    return _train_step_memo(&s.net, &s.opt, <const floating *>s.x, <const floating *>s.t, s.y,
                            <floating *>s.params, <floating *>s.state, <floating *>s.grads, loss, s.work, s.n,
                            s.work_batch, s.counter[0] + 1, memo)

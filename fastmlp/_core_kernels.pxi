# _core_kernels.pxi: the kernel wrappers: dense layer, losses, updates -- included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------
# dense layer

cdef object _dense_forward(const floating[:, ::1] x, const floating[:, ::1] W, b, floating[:, ::1] p, fm_act act):
    cdef const floating[::1] bv
    cdef const floating *bp = NULL
    cdef int rc
    if b is not None:
        bv = b
        bp = &bv[0]
    with nogil:
        rc = c_dense_forward(&x[0, 0], &W[0, 0], bp, &p[0, 0], x.shape[0], x.shape[1], W.shape[0], act)
    _raise_for(rc, "dense_forward")


def dense_forward(x, W, b=None, act="relu", *, out=None, check_finite=True):
    """p = act(x @ W.T + b) for a batch x[n, n_in], W[n_out, n_in], b[n_out] (or None); returns p[n, n_out].

    check_finite=False skips the NaN/Inf scan of the inputs (as in scipy.linalg), for callers that know."""
    r = _fast_dense_forward(x, W, b, act, out, check_finite)
    if r is not None:
        return r
    check_finite = _flag("check_finite", check_finite)
    x = _check("x", x, shape=(None, None), finite=check_finite)
    W = _check("W", W, x.dtype, (None, x.shape[1]), finite=check_finite)
    if b is not None:
        b = _check("b", b, x.dtype, (W.shape[0],), finite=check_finite)
    code = _act(act)
    p = _out("out", out, x.dtype, (x.shape[0], W.shape[0]))
    _no_overlap("out", p, (("x", x), ("W", W), ("b", b)))
    if x.dtype == np.float32:
        _dense_forward[float](x, W, b, p, code)
    else:
        _dense_forward[double](x, W, b, p, code)
    return p


def dense_pack_width(dtype="float32"):
    """Panel width of the packed weight layout on this CPU's kernel path."""
    dt = np.dtype(dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return fm_dense_pack_width_f64() if dt == np.float64 else fm_dense_pack_width_f32()


cdef object _dense_pack(const floating[:, ::1] W, floating[::1] Wp, size_t nc):
    cdef int rc
    with nogil:
        rc = c_dense_pack(&W[0, 0], &Wp[0], W.shape[1], W.shape[0], nc)
    _raise_for(rc, "dense_pack")


def dense_packed_size(size_t n_in, size_t n_out, size_t nc):
    """Length of the packed layout of W[n_out, n_in] in panels of nc outputs (fm_dense_packed_size):
    ``dense_pack(W)`` returns that many values, for nc = ``dense_pack_width(W.dtype)``."""
    cdef size_t count = 0
    _raise_for(fm_dense_packed_size(&count, n_in, n_out, nc), "dense_packed_size")
    return count


@cython.auto_pickle(False)
cdef class PackedWeights:
    """W[n_out, n_in] in the packed inference layout of this CPU's kernels, as ``dense_pack(W)`` returns it.

    The layout alone does not say which n_out it holds (outputs are padded to whole panels, so several n_out share
    one packed size): this object keeps the sizes, dtype and panel width beside the values, so that
    ``dense_forward_packed`` cannot be given the wrong ones. Read-only: ``n_in``, ``n_out``, ``nc`` (panel width),
    ``dtype``, ``size`` and ``nbytes`` of the packed values; ``numpy.asarray(Wp)`` is a read-only view of them.
    Made by ``dense_pack`` only; packed for this process's kernel path (not picklable)."""
    cdef readonly size_t n_in, n_out, nc
    cdef readonly object dtype
    cdef object _values  # flat, C-contiguous, read-only; None until made by dense_pack

    def __init__(self, *args, **kwargs):
        raise TypeError("PackedWeights objects are made by dense_pack(W), not directly")

    cdef int _need(self) except -1:
        if self._values is None:
            raise TypeError("PackedWeights: not made by dense_pack(W)")
        return 0

    @property
    def size(self):
        self._need()
        return self._values.size

    @property
    def nbytes(self):
        self._need()
        return self._values.nbytes

    def __array__(self, dtype=None, copy=None):
        self._need()
        a = self._values.view()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            if copy is False:
                raise ValueError("PackedWeights: a different dtype needs a copy")
            return a.astype(dtype)
        return a.copy() if copy else a

    def __repr__(self):
        if self._values is None:
            return "<PackedWeights (not made by dense_pack)>"
        return f"<PackedWeights n_in={self.n_in} n_out={self.n_out} dtype={self.dtype} nc={self.nc}>"


def dense_pack(W):
    """W[n_out, n_in] in the packed inference layout of this CPU's kernels: a ``PackedWeights`` that remembers
    n_in, n_out, dtype and panel width, for ``dense_forward_packed``."""
    r = _fast_dense_pack(W)
    if r is not None:
        return r
    W = _check("W", W, shape=(None, None))
    width = dense_pack_width(W.dtype)
    n_out, n_in = W.shape
    Wp = np.empty(dense_packed_size(n_in, n_out, width), dtype=W.dtype)
    if W.dtype == np.float32:
        _dense_pack[float](W, Wp, width)
    else:
        _dense_pack[double](W, Wp, width)
    Wp.flags.writeable = False
    cdef PackedWeights pw = PackedWeights.__new__(PackedWeights)
    pw.n_in, pw.n_out, pw.nc, pw.dtype, pw._values = n_in, n_out, width, W.dtype, Wp
    return pw


cdef object _dense_forward_packed(const floating[:, ::1] x, const floating[::1] Wp, b, floating[:, ::1] p, size_t nc,
                          fm_act act):
    cdef const floating[::1] bv
    cdef const floating *bp = NULL
    cdef int rc
    if b is not None:
        bv = b
        bp = &bv[0]
    with nogil:
        rc = c_dense_forward_packed(&x[0, 0], &Wp[0], bp, &p[0, 0], x.shape[0], x.shape[1], p.shape[1], nc, act)
    _raise_for(rc, "dense_forward_packed")


cdef object _packed_values(str name, Wp, n_out):
    """The checked packed values of a PackedWeights (n_out, when given, must be the one it was packed for)."""
    if not isinstance(Wp, PackedWeights):
        raise TypeError(f"{name}: expected the PackedWeights that dense_pack(W) returns, got {type(Wp).__name__} "
                        f"(a raw array does not say which n_in and n_out it was packed for)")
    cdef PackedWeights pw = Wp
    pw._need()
    if n_out is not None:
        if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)):
            raise TypeError(f"n_out: expected an int (or None), got {type(n_out).__name__}")
        if n_out != pw.n_out:
            raise ValueError(f"n_out: {name} was packed for n_out={pw.n_out}, got {n_out}")
    if pw.nc != dense_pack_width(pw.dtype) or pw._values.size != dense_packed_size(pw.n_in, pw.n_out, pw.nc):
        raise ValueError(f"{name}: packed for another kernel path (panel width {pw.nc}); pack W again")
    return pw._values


def dense_forward_packed(x, Wp, b=None, n_out=None, act="relu", *, out=None, check_finite=True):
    """``dense_forward`` with W given as ``Wp = dense_pack(W)`` (same results, bit for bit), which saves
    rearranging W on every call: for repeated inference with fixed weights. n_out may be left out (Wp knows it);
    when given it must be Wp's. check_finite=False skips the NaN/Inf scan of x and b (dense_pack checked W)."""
    r = _fast_dense_forward_packed(x, Wp, b, n_out, act, out, check_finite)
    if r is not None:
        return r
    check_finite = _flag("check_finite", check_finite)
    values = _packed_values("Wp", Wp, n_out)
    cdef PackedWeights pw = Wp
    x = _check("x", x, pw.dtype, (None, pw.n_in), finite=check_finite)
    if b is not None:
        b = _check("b", b, x.dtype, (pw.n_out,), finite=check_finite)
    code = _act(act)
    p = _out("out", out, x.dtype, (x.shape[0], pw.n_out))
    _no_overlap("out", p, (("x", x), ("Wp", values), ("b", b)))
    if x.dtype == np.float32:
        _dense_forward_packed[float](x, values, b, p, pw.nc, code)
    else:
        _dense_forward_packed[double](x, values, b, p, pw.nc, code)
    return p


cdef object _dense_backward(const floating[:, ::1] x, const floating[:, ::1] W, const floating[:, ::1] p,
                    const floating[:, ::1] dp, floating[:, ::1] dz, floating[:, ::1] dW, db, dx, fm_act act,
                    int accumulate):
    cdef floating[::1] dbv
    cdef floating[:, ::1] dxv
    cdef floating *dbp = NULL
    cdef floating *dxp = NULL
    cdef int rc
    if db is not None:
        dbv = db
        dbp = &dbv[0]
    if dx is not None:
        dxv = dx
        dxp = &dxv[0, 0]
    with nogil:
        rc = c_dense_backward(&x[0, 0], &W[0, 0], &p[0, 0], &dp[0, 0], &dz[0, 0], &dW[0, 0], dbp, dxp, x.shape[0],
                              x.shape[1], W.shape[0], act, accumulate)
    _raise_for(rc, "dense_backward")


def dense_backward(x, W, p, dp, act="relu", *, dW=None, db=None, dx=None, dz=None, bias=True,
                   need_dx=True, accumulate=False, check_finite=True):
    """Backward of ``dense_forward`` from its output p[n, n_out] and dp = dL/dp.

    Returns ``(dW, db, dx)``: dW[n_out, n_in] = dz.T @ x, db[n_out] = dz.sum(0) (None when ``bias=False``),
    dx[n, n_in] = dz @ W (None when ``need_dx=False``), where dz = dp * act'(p) is written to ``dz`` when given
    (``dz=dp`` is allowed, in place). ``accumulate=True`` adds to the given ``dW``/``db`` instead of overwriting.
    check_finite=False skips the NaN/Inf scan of the inputs.
    """
    r = _fast_dense_backward(x, W, p, dp, act, dW, db, dx, dz, bias, need_dx, accumulate, check_finite)
    if r is not None:
        return r
    check_finite, bias = _flag("check_finite", check_finite), _flag("bias", bias)
    need_dx, accumulate = _flag("need_dx", need_dx), _flag("accumulate", accumulate)
    x = _check("x", x, shape=(None, None), finite=check_finite)
    n, n_in = x.shape
    W = _check("W", W, x.dtype, (None, n_in), finite=check_finite)
    n_out = W.shape[0]
    p = _check("p", p, x.dtype, (n, n_out), finite=check_finite)
    dp = _check("dp", dp, x.dtype, (n, n_out), finite=check_finite)
    code = _act(act)
    if accumulate and (dW is None or (bias and db is None)):
        raise ValueError("accumulate: needs the dW (and db) arrays to add to")
    dW = _out("dW", dW, x.dtype, (n_out, n_in))
    db = _out("db", db, x.dtype, (n_out,)) if bias else None
    dx = _out("dx", dx, x.dtype, (n, n_in)) if need_dx else None
    dz = _out("dz", dz, x.dtype, (n, n_out))
    inputs = (("x", x), ("W", W), ("p", p), ("dp", dp))
    _no_overlap("dz", dz, inputs, same_ok=("dp",))
    _no_overlap("dW", dW, inputs + (("dz", dz),))
    _no_overlap("db", db, inputs + (("dz", dz), ("dW", dW)))
    _no_overlap("dx", dx, inputs + (("dz", dz), ("dW", dW), ("db", db)))
    if x.dtype == np.float32:
        _dense_backward[float](x, W, p, dp, dz, dW, db, dx, code, 1 if accumulate else 0)
    else:
        _dense_backward[double](x, W, p, dp, dz, dW, db, dx, code, 1 if accumulate else 0)
    return dW, db, dx


# ---------------------------------------------------------------------------------------------------------------
# losses

cdef object _loss_call(str which, const floating[:, ::1] z, const floating[:, ::1] t, y, sw, floating[:, ::1] dz):
    cdef double loss = 0.0
    cdef int rc = 0
    cdef const int64_t[::1] yv
    cdef const floating[::1] swv
    cdef const floating *swp = NULL
    cdef const floating *tp = NULL
    if sw is not None:
        swv = sw
        swp = &swv[0]
    if t is not None:
        tp = &t[0, 0]
    if which == "softmax_ce":
        yv = y
        with nogil:
            rc = c_loss_softmax_ce(&z[0, 0], &yv[0], swp, &dz[0, 0], &loss, z.shape[0], z.shape[1])
    elif which == "mse":
        with nogil:
            rc = c_loss_mse(&z[0, 0], tp, swp, &dz[0, 0], &loss, z.shape[0], z.shape[1])
    elif which == "sigmoid_bce":
        with nogil:
            rc = c_loss_sigmoid_bce(&z[0, 0], tp, swp, &dz[0, 0], &loss, z.shape[0], z.shape[1])
    else:
        with nogil:
            rc = c_loss_poisson(&z[0, 0], tp, swp, &dz[0, 0], &loss, z.shape[0], z.shape[1])
    _raise_for(rc, "loss_" + which)
    return loss


cdef object _loss(str which, z, t, sw, dz):
    if z.dtype == np.float32:
        return _loss_call[float](which, z, t if which != "softmax_ce" else None,
                                 t if which == "softmax_ce" else None, sw, dz), dz
    return _loss_call[double](which, z, t if which != "softmax_ce" else None,
                              t if which == "softmax_ce" else None, sw, dz), dz


def loss_mse(p, t, *, sw=None, dp=None, check_finite=True):
    """Squared error ``0.5 * mean_i sum_j (p - t)**2`` of p[n, m] against targets t[n, m]; returns (loss, dp).
    sw: sample weights[n] (finite, >= 0, positive sum): the weighted mean sum_i w_i l_i / sum w instead.
    check_finite=False skips the NaN/Inf scans of p and t (a NaN then comes out in the loss)."""
    r = _fast_loss(_L_MSE, p, t, sw, dp, check_finite)
    if r is not None:
        return r
    check_finite = _flag("check_finite", check_finite)
    p = _check("p", p, shape=(None, None), finite=check_finite)
    t = _check("t", t, p.dtype, p.shape, finite=check_finite)
    sw = _weights(sw, p.shape[0], p.dtype)
    dp = _out("dp", dp, p.dtype, p.shape)
    _no_overlap("dp", dp, (("p", p), ("t", t), ("sw", sw)), same_ok=("p", "t"))
    return _loss("mse", p, t, sw, dp)


def loss_softmax_ce(z, y, *, sw=None, dz=None, check_finite=True):
    """Softmax cross-entropy from logits z[n, m] and integer labels y[n] in [0, m), mean over the batch;
    returns (loss, dz) with dz = (softmax(z) - onehot(y)) / n. sw: sample weights (weighted mean). check_finite=False skips the NaN/Inf scans of z (and t)."""
    r = _fast_loss(_L_SOFTMAX_CE, z, y, sw, dz, check_finite)
    if r is not None:
        return r
    check_finite = _flag("check_finite", check_finite)
    z = _check("z", z, shape=(None, None), finite=check_finite)
    y = _labels(y, z.shape[0], z.shape[1])
    sw = _weights(sw, z.shape[0], z.dtype)
    dz = _out("dz", dz, z.dtype, z.shape)
    _no_overlap("dz", dz, (("z", z), ("y", y), ("sw", sw)), same_ok=("z",))
    return _loss("softmax_ce", z, y, sw, dz)


def loss_sigmoid_bce(z, t, *, sw=None, dz=None, check_finite=True):
    """Sigmoid binary cross-entropy from logits z[n, m] and targets t[n, m] in [0, 1], summed over outputs and
    averaged over the batch; returns (loss, dz) with dz = (sigmoid(z) - t) / n. sw: sample weights. check_finite=False skips the NaN/Inf scans of z (and t)."""
    r = _fast_loss(_L_SIGMOID_BCE, z, t, sw, dz, check_finite)
    if r is not None:
        return r
    check_finite = _flag("check_finite", check_finite)
    z = _check("z", z, shape=(None, None), finite=check_finite)
    t = _check("t", t, z.dtype, z.shape, finite=check_finite)
    if t.min() < 0 or t.max() > 1:
        raise ValueError(f"t: targets must lie in [0, 1], got values in [{t.min()}, {t.max()}]")
    sw = _weights(sw, z.shape[0], z.dtype)
    dz = _out("dz", dz, z.dtype, z.shape)
    _no_overlap("dz", dz, (("z", z), ("t", t), ("sw", sw)), same_ok=("z", "t"))
    return _loss("sigmoid_bce", z, t, sw, dz)


def loss_poisson(z, t, *, sw=None, dz=None, check_finite=True):
    """Poisson deviance from the log-mean z[n, m] (the prediction is exp(z)) and counts t[n, m] >= 0: the mean over
    the batch of sum_j xlogy(t, t) - t - t z + exp(z), scikit-learn's poisson_loss(t, exp(z)); returns (loss, dz) with
    dz = (exp(z) - t) / n. sw: sample weights (weighted mean). check_finite=False skips the NaN/Inf scans of z (and t)."""
    r = _fast_loss(_L_POISSON, z, t, sw, dz, check_finite)
    if r is not None:
        return r
    check_finite = _flag("check_finite", check_finite)
    z = _check("z", z, shape=(None, None), finite=check_finite)
    t = _check("t", t, z.dtype, z.shape, finite=check_finite)
    _nonneg_targets("t", t)
    sw = _weights(sw, z.shape[0], z.dtype)
    dz = _out("dz", dz, z.dtype, z.shape)
    _no_overlap("dz", dz, (("z", z), ("t", t), ("sw", sw)), same_ok=("z", "t"))
    return _loss("poisson", z, t, sw, dz)


cdef object _softmax(const floating[:, ::1] z, floating[:, ::1] p):
    cdef int rc
    with nogil:
        rc = c_softmax(&z[0, 0], &p[0, 0], z.shape[0], z.shape[1])
    _raise_for(rc, "softmax")


def softmax(z, *, out=None, check_finite=True):
    """Row-wise softmax of z[n, m] (``out=z`` computes in place); check_finite=False skips the NaN/Inf scan of z."""
    r = _fast_softmax(z, out, check_finite)
    if r is not None:
        return r
    check_finite = _flag("check_finite", check_finite)
    z = _check("z", z, shape=(None, None), finite=check_finite)
    p = _out("out", out, z.dtype, z.shape)
    _no_overlap("out", p, (("z", z),), same_ok=("z",))
    if z.dtype == np.float32:
        _softmax[float](z, p)
    else:
        _softmax[double](z, p)
    return p


# ---------------------------------------------------------------------------------------------------------------
# parameter updates (in place; arrays of any shape, treated as flat)

def _flat(a):
    return a.reshape(-1)


cdef object _sgd_update(floating[::1] W, const floating[::1] dW, v, double lr, double momentum, double weight_decay,
                double l1, int nesterov):
    cdef floating[::1] vv
    cdef floating *vp = NULL
    cdef int rc
    if v is not None:
        vv = v
        vp = &vv[0]
    with nogil:
        rc = c_sgd_update(&dW[0], &W[0], vp, W.shape[0], lr, momentum, weight_decay, l1, nesterov)
    _raise_for(rc, "sgd_update")


def sgd_update(W, dW, v=None, *, lr, momentum=0.0, weight_decay=0.0, l1=0.0, nesterov=False, check_finite=True):
    """In place: ``W -= lr * g`` with g = dW + weight_decay*W + l1*sign(W), or with (Nesterov) momentum through the
    velocity buffer v (same shape as W, start it at zeros), as in PyTorch's SGD. check_finite=False skips the NaN/Inf
    scans of W, dW and v (one read of each), for callers that know."""
    if _fast_sgd_update(W, dW, v, lr, momentum, weight_decay, l1, nesterov, check_finite):
        return
    check_finite = _flag("check_finite", check_finite)
    W = _check("W", W, writable=True)
    dW = _check("dW", dW, W.dtype, W.shape, finite=check_finite)
    if check_finite and not _all_finite(W):
        raise ValueError("W: contains NaN or Inf")
    lr = _scalar("lr", lr, 0.0)
    momentum = _scalar("momentum", momentum, 0.0, 1.0, hi_open=True)
    weight_decay = _scalar("weight_decay", weight_decay, 0.0)
    l1 = _scalar("l1", l1, 0.0)
    nesterov = _flag("nesterov", nesterov)
    _fits(W.dtype, lr=lr, weight_decay=weight_decay, l1=l1, momentum=momentum)
    if nesterov and momentum == 0.0:
        raise ValueError("nesterov: needs momentum > 0")
    if momentum != 0.0:
        if v is None:
            raise ValueError("v: momentum > 0 needs a velocity buffer v (zeros of W's shape to start)")
        v = _check("v", v, W.dtype, W.shape, writable=True)
        if check_finite and not _all_finite(v):
            raise ValueError("v: contains NaN or Inf")
        _no_overlap("v", v, (("W", W), ("dW", dW)))
    else:
        v = None
    _no_overlap("W", W, (("dW", dW),))
    if W.dtype == np.float32:
        _sgd_update[float](_flat(W), _flat(dW), None if v is None else _flat(v), lr, momentum, weight_decay, l1,
                           1 if nesterov else 0)
    else:
        _sgd_update[double](_flat(W), _flat(dW), None if v is None else _flat(v), lr, momentum, weight_decay, l1,
                            1 if nesterov else 0)


cdef object _adam_update(floating[::1] W, const floating[::1] dW, floating[::1] m, floating[::1] v, uint64_t t,
                 double lr, double beta1, double beta2, double eps, double weight_decay, double l1):
    cdef int rc
    with nogil:
        rc = c_adam_update(&dW[0], &W[0], &m[0], &v[0], W.shape[0], t, lr, beta1, beta2, eps, weight_decay, l1)
    _adam_raise_for(rc, v)


cdef int _adam_raise_for(int rc, v) except -1:
    if rc == FM_EVALUE:  # the options passed here, so this is the C core's own check of v (nothing was written)
        vmin = np.min(v)
        if not vmin >= 0:
            raise ValueError(f"v: Adam's second moment must be >= 0 (a mean of squared gradients), got a minimum "
                             f"of {vmin}: it would turn W into NaN")
    return _raise_for(rc, "adam_update")


def adam_update(W, dW, m, v, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, l1=0.0,
                check_finite=True):
    """In place: Adam step number t (1 for the first) on W with moment buffers m, v (zeros to start). v must be
    >= 0 (checked in C, nothing written otherwise); check_finite=False skips the NaN/Inf scans of W, dW, m and v
    (one read of each), for callers that know."""
    if _fast_adam_update(W, dW, m, v, t, lr, beta1, beta2, eps, weight_decay, l1, check_finite):
        return
    check_finite = _flag("check_finite", check_finite)
    W = _check("W", W, writable=True)
    dW = _check("dW", dW, W.dtype, W.shape, finite=check_finite)
    m = _check("m", m, W.dtype, W.shape, writable=True)
    v = _check("v", v, W.dtype, W.shape, writable=True)
    if check_finite:
        for name, a in (("W", W), ("m", m), ("v", v)):
            if not _all_finite(a):
                raise ValueError(f"{name}: contains NaN or Inf")
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise TypeError(f"t: expected an int step number, got {type(t).__name__}")
    if not 1 <= t < 1 << 63:
        raise ValueError(f"t: the step number starts at 1 (and stays below 2**63), got {t}")
    lr = _scalar("lr", lr, 0.0)
    beta1 = _scalar("beta1", beta1, 0.0, 1.0, hi_open=True)
    beta2 = _scalar("beta2", beta2, 0.0, 1.0, hi_open=True)
    eps = _scalar("eps", eps, 0.0, lo_open=True)
    weight_decay = _scalar("weight_decay", weight_decay, 0.0)
    l1 = _scalar("l1", l1, 0.0)
    _fits(W.dtype, lr=lr / (1.0 - beta1 ** t), weight_decay=weight_decay, l1=l1, beta1=beta1, beta2=beta2, eps=eps)
    arrays = (("W", W), ("dW", dW), ("m", m), ("v", v))
    for i in (0, 2, 3):
        _no_overlap(arrays[i][0], arrays[i][1], arrays[:i] + arrays[i + 1:])
    if W.dtype == np.float32:
        _adam_update[float](_flat(W), _flat(dW), _flat(m), _flat(v), t, lr, beta1, beta2, eps, weight_decay, l1)
    else:
        _adam_update[double](_flat(W), _flat(dW), _flat(m), _flat(v), t, lr, beta1, beta2, eps, weight_decay, l1)

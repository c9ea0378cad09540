# _core_kernels.pxi: the kernel wrappers of the dense layer -- included by _core.pyx (one compiled module)
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
    """One dense layer forward: ``p = act(x @ W.T + b)`` (C: ``fm_dense_forward_f32`` / ``_f64``).

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        The batch, one sample per row: C-contiguous float32 or float64.
    W : ndarray, shape (n_out, n_in)
        The weights, of x's dtype.
    b : ndarray, shape (n_out,), optional
        The bias, of x's dtype; None for no bias.
    act : {"relu", "identity", "sigmoid", "tanh"}, default "relu"
        The activation applied to every output.
    out : ndarray, shape (n, n_out), optional
        Where to write p (C-contiguous, writable, x's dtype, no overlap with the inputs); None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scan of the inputs (as in scipy.linalg), for callers that know.

    Returns
    -------
    p : ndarray, shape (n, n_out)
        The layer's output, in x's dtype (``out`` when given).

    Raises
    ------
    TypeError
        An argument is not an array or has another dtype than x.
    ValueError
        A shape does not match, an array is empty, non-contiguous or holds NaN/Inf, ``out`` is read-only or
        overlaps an input, or ``act`` is unknown.

    See Also
    --------
    dense_backward : The backward pass of this layer.
    fastmlp.reference.dense_forward : The plain-Python twin (the oracle).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> x = np.array([[1.0, -2.0, 0.5]])
    >>> W = np.array([[0.5, 0.25, -1.0], [1.0, 1.0, 1.0]])
    >>> fastmlp.dense_forward(x, W, np.array([0.0, 1.0]), "relu")
    array([[0. , 0.5]])
    """
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
    """Panel width of the packed weight layout on this CPU's kernel path (C: ``fm_dense_pack_width_f32`` / ``_f64``).

    Parameters
    ----------
    dtype : {"float32", "float64"} or numpy dtype, default "float32"
        The element type of the weights to pack.

    Returns
    -------
    int
        The number of outputs per panel that ``dense_pack`` uses for this dtype on this CPU.

    Raises
    ------
    TypeError
        ``dtype`` is not float32 or float64.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.dense_pack_width("float64") >= 1
    True
    """
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
    Made by ``dense_pack`` only; packed for this process's kernel path (not picklable).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> Wp = fastmlp.dense_pack(np.ones((3, 5), dtype=np.float32))
    >>> Wp.n_in, Wp.n_out, Wp.size == np.asarray(Wp).size
    (5, 3, True)
    """
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
    """W in the packed inference layout of this CPU's kernels (C: ``fm_dense_pack_f32`` / ``_f64``).

    Parameters
    ----------
    W : ndarray, shape (n_out, n_in)
        The weights: C-contiguous float32 or float64, finite.

    Returns
    -------
    PackedWeights
        A read-only copy of W rearranged into panels that remembers n_in, n_out, dtype and panel width, for
        ``dense_forward_packed``. Packed for this process's kernel path (not picklable).

    Raises
    ------
    TypeError
        W is not a float32 or float64 array.
    ValueError
        W is not 2-D, empty, non-contiguous or holds NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> Wp = fastmlp.dense_pack(np.ones((3, 4)))
    >>> Wp.n_in, Wp.n_out, Wp.dtype
    (4, 3, dtype('float64'))
    """
    r = _fast_dense_pack(W)
    if r is not None:
        return r
    W = _check("W", W, shape=(None, None))
    width = dense_pack_width(W.dtype)
    n_out, n_in = W.shape
    Wp = _aligned_empty(dense_packed_size(n_in, n_out, width), W.dtype)
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
    """``dense_forward`` with W given packed, ``Wp = dense_pack(W)`` (C: ``fm_dense_forward_packed_f32`` / ``_f64``).

    The results equal ``dense_forward``'s bit for bit; W is not rearranged on every call: for repeated inference
    with fixed weights.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        The batch: C-contiguous, of Wp's dtype.
    Wp : PackedWeights
        The packed weights, as ``dense_pack`` returns them (a raw array is refused).
    b : ndarray, shape (n_out,), optional
        The bias; None for no bias.
    n_out : int, optional
        May be left out (Wp knows it); when given it must be Wp's.
    act : {"relu", "identity", "sigmoid", "tanh"}, default "relu"
        The activation.
    out : ndarray, shape (n, n_out), optional
        Where to write p; None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scan of x and b (``dense_pack`` checked W).

    Returns
    -------
    p : ndarray, shape (n, n_out)
        The layer's output.

    Raises
    ------
    TypeError
        Wp is not a PackedWeights, or a dtype differs.
    ValueError
        A shape does not match (or ``n_out`` is not Wp's), an array holds NaN/Inf, or ``act`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> rng = np.random.default_rng(0)
    >>> x, W = rng.normal(size=(5, 4)), rng.normal(size=(3, 4))
    >>> Wp = fastmlp.dense_pack(W)
    >>> bool((fastmlp.dense_forward_packed(x, Wp, act="tanh") == fastmlp.dense_forward(x, W, None, "tanh")).all())
    True
    """
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
    """Backward of ``dense_forward`` from its output p and ``dp = dL/dp`` (C: ``fm_dense_backward_f32`` / ``_f64``).

    With ``dz = dp * act'(p)`` (act' written with the output p: relu ``p > 0``, sigmoid ``p(1-p)``, tanh
    ``1-p**2``): ``dW = dz.T @ x``, ``db = dz.sum(0)``, ``dx = dz @ W``.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        The layer's input (C-contiguous float32 or float64).
    W : ndarray, shape (n_out, n_in)
        The layer's weights.
    p : ndarray, shape (n, n_out)
        The layer's output, ``dense_forward(x, W, b, act)``.
    dp : ndarray, shape (n, n_out)
        The gradient of the loss with respect to p.
    act : {"relu", "identity", "sigmoid", "tanh"}, default "relu"
        The layer's activation.
    dW : ndarray, shape (n_out, n_in), optional
        Where to write (or add, with ``accumulate``) the weight gradient; None allocates it.
    db : ndarray, shape (n_out,), optional
        Where to write (or add) the bias gradient; None allocates it.
    dx : ndarray, shape (n, n_in), optional
        Where to write the input gradient; None allocates it.
    dz : ndarray, shape (n, n_out), optional
        Where to write ``dp * act'(p)``; ``dz=dp`` is allowed (in place). None: a scratch array.
    bias : bool, default True
        False computes no db (returned as None).
    need_dx : bool, default True
        False computes no dx (returned as None), e.g. for a first layer.
    accumulate : bool, default False
        True adds this batch's gradient to the given ``dW`` / ``db`` instead of overwriting them.
    check_finite : bool, default True
        False skips the NaN/Inf scan of the inputs.

    Returns
    -------
    dW : ndarray, shape (n_out, n_in)
        The weight gradient.
    db : ndarray, shape (n_out,) or None
        The bias gradient (None when ``bias=False``).
    dx : ndarray, shape (n, n_in) or None
        The input gradient, the ``dp`` of the layer below (None when ``need_dx=False``).

    Raises
    ------
    TypeError
        An argument is not an array or has another dtype.
    ValueError
        A shape does not match, an array holds NaN/Inf, an output is read-only or overlaps an input, or ``act`` is
        unknown.

    See Also
    --------
    fastmlp.reference.dense_backward : The plain-Python twin (the oracle).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> x = np.array([[1.0, 2.0]])
    >>> W = np.array([[1.0, -1.0], [0.5, 0.5]])
    >>> p = fastmlp.dense_forward(x, W, None, "relu")      # [[0., 1.5]]: the first unit is off
    >>> dW, db, dx = fastmlp.dense_backward(x, W, p, np.ones_like(p), "relu")
    >>> dW
    array([[0., 0.],
           [1., 2.]])
    >>> db, dx
    (array([0., 1.]), array([[0.5, 0.5]]))
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

# _core_losses.pxi: the loss and softmax wrappers -- included by _core.pyx (one compiled module)
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
    """Squared error ``0.5 * mean_i sum_j (p - t)**2`` and its gradient (C: ``fm_loss_mse_f32`` / ``_f64``).

    Parameters
    ----------
    p : ndarray, shape (n, m)
        The predictions (C-contiguous float32 or float64).
    t : ndarray, shape (n, m)
        The targets, of p's dtype.
    sw : ndarray, shape (n,), optional
        Sample weights (finite, >= 0, positive sum): the weighted mean ``sum_i w_i l_i / sum_i w_i`` instead.
    dp : ndarray, shape (n, m), optional
        Where to write the gradient (may be p or t); None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scans of p and t (a NaN then comes out in the loss).

    Returns
    -------
    loss : float
        The mean loss.
    dp : ndarray, shape (n, m)
        Its gradient with respect to p, ``(p - t) / n`` without weights.

    Raises
    ------
    TypeError
        An argument is not an array or has another dtype.
    ValueError
        The shapes differ, an array holds NaN/Inf, or a sample weight is negative (or all are 0).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> loss, dp = fastmlp.loss_mse(np.array([[1.0, 2.0]]), np.zeros((1, 2)))
    >>> loss, dp
    (2.5, array([[1., 2.]]))
    """
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
    """Softmax cross-entropy from logits, mean over the batch, and its gradient (C: ``fm_loss_softmax_ce_*``).

    Parameters
    ----------
    z : ndarray, shape (n, m)
        The logits (C-contiguous float32 or float64).
    y : array_like of int, shape (n,)
        The labels, in ``[0, m)``.
    sw : ndarray, shape (n,), optional
        Sample weights (finite, >= 0, positive sum): the weighted mean instead.
    dz : ndarray, shape (n, m), optional
        Where to write the gradient (may be z); None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scan of z.

    Returns
    -------
    loss : float
        ``mean_i (logsumexp(z_i) - z_i[y_i])``, computed stably.
    dz : ndarray, shape (n, m)
        ``(softmax(z) - onehot(y)) / n`` without weights.

    Raises
    ------
    TypeError
        z is not a float array, or y not integers.
    ValueError
        A shape does not match, a label is outside ``[0, m)``, or z holds NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> loss, dz = fastmlp.loss_softmax_ce(np.zeros((2, 4)), np.array([0, 3]))
    >>> print(round(loss, 6), round(float(np.log(4)), 6))
    1.386294 1.386294
    """
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
    """Sigmoid binary cross-entropy from logits and its gradient (C: ``fm_loss_sigmoid_bce_f32`` / ``_f64``).

    Summed over the outputs and averaged over the batch.

    Parameters
    ----------
    z : ndarray, shape (n, m)
        The logits (C-contiguous float32 or float64).
    t : ndarray, shape (n, m)
        The targets, in [0, 1], of z's dtype.
    sw : ndarray, shape (n,), optional
        Sample weights (finite, >= 0, positive sum): the weighted mean instead.
    dz : ndarray, shape (n, m), optional
        Where to write the gradient (may be z); None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scans of z and t.

    Returns
    -------
    loss : float
        ``1/n sum max(z, 0) - z t + log1p(exp(-abs(z)))``.
    dz : ndarray, shape (n, m)
        ``(sigmoid(z) - t) / n`` without weights.

    Raises
    ------
    TypeError
        An argument is not an array or has another dtype.
    ValueError
        The shapes differ or an array holds NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> loss, dz = fastmlp.loss_sigmoid_bce(np.zeros((1, 1)), np.ones((1, 1)))
    >>> print(round(loss, 6), dz)
    0.693147 [[-0.5]]
    """
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
    """Half the Poisson deviance from the log-mean and its gradient (C: ``fm_loss_poisson_f32`` / ``_f64``).

    The mean over the batch of ``sum_j xlogy(t, t) - t - t z + exp(z)``: scikit-learn's
    ``poisson_loss(t, exp(z))``.

    Parameters
    ----------
    z : ndarray, shape (n, m)
        The log-mean (the prediction is ``exp(z)``), C-contiguous float32 or float64.
    t : ndarray, shape (n, m)
        The counts, >= 0, of z's dtype.
    sw : ndarray, shape (n,), optional
        Sample weights (finite, >= 0, positive sum): the weighted mean instead.
    dz : ndarray, shape (n, m), optional
        Where to write the gradient (may be z or t); None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scans of z and t.

    Returns
    -------
    loss : float
        The mean loss.
    dz : ndarray, shape (n, m)
        ``(exp(z) - t) / n`` without weights.

    Raises
    ------
    TypeError
        An argument is not an array or has another dtype.
    ValueError
        The shapes differ, a count is negative, or an array holds NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> loss, dz = fastmlp.loss_poisson(np.zeros((1, 1)), np.ones((1, 1)))   # exp(0) = 1 = t: the minimum
    >>> loss, dz
    (0.0, array([[0.]]))
    """
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
    """Row-wise softmax, ``exp(z - max) / sum exp(z - max)`` (C: ``fm_softmax_f32`` / ``_f64``).

    Parameters
    ----------
    z : ndarray, shape (n, m)
        The logits, C-contiguous float32 or float64.
    out : ndarray, shape (n, m), optional
        Where to write the result; ``out=z`` computes in place. None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scan of z.

    Returns
    -------
    p : ndarray, shape (n, m)
        Every row sums to 1.

    Raises
    ------
    TypeError
        z is not a float32 or float64 array.
    ValueError
        z is not 2-D, empty, or holds NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> fastmlp.softmax(np.array([[0.0, 0.0], [0.0, np.log(3.0)]]))
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
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

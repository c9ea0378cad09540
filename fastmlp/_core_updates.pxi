# _core_updates.pxi: the parameter-update wrappers -- included by _core.pyx (one compiled module)
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
    """One SGD update of W, in place, as PyTorch's SGD (C: ``fm_sgd_update_f32`` / ``_f64``).

    With ``g = dW + weight_decay*W + l1*sign(W)``: ``W -= lr*g`` without momentum; with it,
    ``v = momentum*v + g`` and ``W -= lr*v`` (Nesterov: ``W -= lr*(g + momentum*v)``).

    Parameters
    ----------
    W : ndarray
        The parameters, updated in place (C-contiguous, writable, float32 or float64).
    dW : ndarray
        The gradient, W's shape and dtype.
    v : ndarray, optional
        The velocity buffer (W's shape, start it at zeros), updated in place; needed when momentum > 0.
    lr : float
        The learning rate, >= 0 (keyword only, required).
    momentum : float, default 0.0
        In [0, 1).
    weight_decay : float, default 0.0
        The L2 coefficient, >= 0.
    l1 : float, default 0.0
        The L1 coefficient, >= 0.
    nesterov : bool, default False
        Nesterov momentum (needs momentum > 0).
    check_finite : bool, default True
        False skips the NaN/Inf scans of W, dW and v.

    Returns
    -------
    None
        W (and v) are updated in place.

    Raises
    ------
    TypeError
        An argument is not an array or has another dtype.
    ValueError
        A shape does not match, an option is out of range, or an array holds NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> W = np.array([1.0, -1.0])
    >>> fastmlp.sgd_update(W, np.array([0.5, 0.5]), lr=0.1)
    >>> W
    array([ 0.95, -1.05])
    """
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
    """One bias-corrected Adam update of W, in place (C: ``fm_adam_update_f32`` / ``_f64``).

    With ``g = dW + weight_decay*W + l1*sign(W)``: ``m = beta1*m + (1-beta1)*g``, ``v = beta2*v + (1-beta2)*g**2``,
    ``W -= lr/(1-beta1**t) * m / (sqrt(v)/sqrt(1-beta2**t) + eps)``.

    Parameters
    ----------
    W : ndarray
        The parameters, updated in place (C-contiguous, writable, float32 or float64).
    dW : ndarray
        The gradient, W's shape and dtype.
    m : ndarray
        The first moment (zeros to start), updated in place.
    v : ndarray
        The second moment (zeros to start), >= 0 everywhere (checked in C, nothing written otherwise).
    t : int
        The number of this step, 1 for the first.
    lr : float, default 1e-3
        The learning rate, >= 0.
    beta1 : float, default 0.9
        In [0, 1).
    beta2 : float, default 0.999
        In [0, 1).
    eps : float, default 1e-8
        > 0.
    weight_decay : float, default 0.0
        The L2 coefficient, >= 0.
    l1 : float, default 0.0
        The L1 coefficient, >= 0.
    check_finite : bool, default True
        False skips the NaN/Inf scans of W, dW, m and v.

    Returns
    -------
    None
        W, m and v are updated in place.

    Raises
    ------
    TypeError
        An argument is not an array or has another dtype.
    ValueError
        A shape does not match, an option is out of range, ``t < 1``, v holds a negative value, or an array holds
        NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> W, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
    >>> fastmlp.adam_update(W, np.array([2.0]), m, v, 1, lr=0.1)    # the first step moves by about lr
    >>> print(np.round(W, 6))
    [0.9]
    """
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

"""Twin of csrc/optim.c (optim.inc): in-place parameter updates."""
import math
import sys

from .common import KernelError, check_sizes, finite_nonneg


def _sign(w):
    return 1.0 if w > 0.0 else (-1.0 if w < 0.0 else 0.0)


TINY = sys.float_info.min  # the smallest normal double (the C core flushes at its type's: FLT_MIN for float32)


def _flush(x):
    """x, or 0 below the smallest normal number (optim.inc's flush: stored subnormals would slow every later step)."""
    return 0.0 if -TINY < x < TINY else x


def sgd_update(dW, W, v, n, lr, momentum, weight_decay, l1, nesterov):
    """g = dW + wd W + l1 sign(W); with momentum v = mu v + g, step g + mu v (Nesterov) or v; W -= lr step.

    Parameters
    ----------
    dW : list of float
        The gradient, ``n`` values.
    W : list of float
        The parameters, ``n`` values, updated in place.
    v : list of float or None
        The velocity, ``n`` values, updated in place (None without momentum).
    n : int
        The number of parameters.
    lr : float
        The learning rate, >= 0.
    momentum : float
        In [0, 1); 0: plain SGD (v unused).
    weight_decay : float
        The L2 coefficient, >= 0.
    l1 : float
        The L1 coefficient, >= 0.
    nesterov : bool
        Nesterov momentum (needs momentum > 0).

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.sgd_update : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> W = [1.0, -1.0]
    >>> ref.sgd_update([0.5, 0.5], W, None, 2, 0.1, 0.0, 0.0, 0.0, False)
    >>> W
    [0.95, -1.05]
    """
    check_sizes(n)
    if (not finite_nonneg(lr) or not finite_nonneg(weight_decay) or not finite_nonneg(l1)
            or not (0.0 <= momentum < 1.0) or (nesterov and momentum == 0.0)):
        raise KernelError("option out of range")
    for i in range(n):
        g = dW[i] + weight_decay * W[i] + l1 * _sign(W[i])
        if momentum != 0.0:
            v[i] = _flush(momentum * v[i] + g)
            g = g + momentum * v[i] if nesterov else v[i]
        W[i] = _flush(W[i] - lr * g)


def adam_update(dW, W, m, v, n, t, lr, beta1, beta2, eps, weight_decay, l1):
    """Bias-corrected Adam step number t (>= 1) with L2/L1 terms added to the gradient.

    Parameters
    ----------
    dW : list of float
        The gradient, ``n`` values.
    W : list of float
        The parameters, ``n`` values, updated in place.
    m : list of float
        The first moment, ``n`` values, updated in place.
    v : list of float
        The second moment (>= 0), ``n`` values, updated in place.
    n : int
        The number of parameters.
    t : int
        The number of this step, >= 1.
    lr : float
        The learning rate, >= 0.
    beta1 : float
        The first moment's decay, in [0, 1).
    beta2 : float
        The second moment's decay, in [0, 1).
    eps : float
        Added to the root of the second moment, > 0.
    weight_decay : float
        The L2 coefficient, >= 0.
    l1 : float
        The L1 coefficient, >= 0.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.adam_update : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> W, m, v = [1.0], [0.0], [0.0]
    >>> ref.adam_update([0.5], W, m, v, 1, 1, 0.1, 0.9, 0.999, 1e-8, 0.0, 0.0)
    >>> [round(w, 6) for w in W]                               # a first step moves by about lr
    [0.9]
    """
    check_sizes(n)
    if (t < 1 or not finite_nonneg(lr) or not finite_nonneg(weight_decay) or not finite_nonneg(l1)
            or not (0.0 <= beta1 < 1.0) or not (0.0 <= beta2 < 1.0) or not (math.isfinite(eps) and eps > 0.0)):
        raise KernelError("option out of range")
    # a negative (or NaN) second moment would turn W into NaN: refused, nothing written (as fm_adam_update)
    if not all(v[i] >= 0.0 for i in range(n)):
        raise KernelError("option out of range")
    bc1 = 1.0 - beta1 ** t
    bc2 = 1.0 - beta2 ** t
    step = lr / bc1
    rbc2 = 1.0 / math.sqrt(bc2)
    for i in range(n):
        g = dW[i] + weight_decay * W[i] + l1 * _sign(W[i])
        m[i] = _flush(beta1 * m[i] + (1.0 - beta1) * g)
        v[i] = _flush(beta2 * v[i] + (1.0 - beta2) * (g * g))
        W[i] = _flush(W[i] - step * (m[i] / (math.sqrt(v[i]) * rbc2 + eps)))

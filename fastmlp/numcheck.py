"""``fastmlp.gradcheck``: a network's analytic gradient against central finite differences, parameter by
parameter (the C loss evaluated twice per parameter)."""
from __future__ import annotations

import numpy as np

from . import validation
from ._typing import ArrayLike
from .network import Network

__all__ = ["gradcheck"]


def gradcheck(model: Network, X: ArrayLike, y: ArrayLike, eps: float = 1e-3) -> float:
    """The worst relative error between the analytic gradient and central finite differences.

    Over every parameter, the relative error is ``abs(analytic - numeric) / max(abs(analytic) + abs(numeric),
    1e-8 * largest gradient)``, so entries that are negligible against the largest gradient do not dominate.

    Parameters
    ----------
    model : MLP
        The network (use float64 for a meaningful check).
    X : array_like, shape (n, n_in)
        The batch.
    y : array_like
        Its labels or targets.
    eps : float, default 1e-3
        The finite-difference step, > 0.

    Returns
    -------
    float
        The worst relative error.

    Raises
    ------
    ValueError
        ``eps`` is not > 0, or a shape does not match.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> rng = np.random.default_rng(0)
    >>> model = fastmlp.MLP([3, 5, 2], activation="tanh", dtype="float64", seed=0)
    >>> bool(fastmlp.gradcheck(model, rng.normal(size=(4, 3)), np.array([0, 1, 1, 0]), eps=1e-6) < 1e-6)
    True
    """
    eps = validation.real("eps", eps, 0.0, lo_open=True)
    model._guard.enter_write("gradcheck")
    try:
        return _gradcheck(model, X, y, eps)
    finally:
        model._guard.exit_write()


def _gradcheck(model, X, y, eps):
    X = model._X(X)
    loss = model._loss_for(y)
    t, labels = model._targets(y, X.shape[0], loss=loss)
    net, params = model._c_net(loss), model._params
    grads = np.zeros_like(params)
    net.loss_grad(params, grads, X, t, labels)
    numeric = np.zeros(params.shape[0], dtype=np.float64)
    saved = params.copy()
    try:
        for i in range(params.shape[0]):
            params[i] = saved[i] + eps
            up = net.loss_grad(params, None, X, t, labels)
            params[i] = saved[i] - eps
            down = net.loss_grad(params, None, X, t, labels)
            params[i] = saved[i]
            numeric[i] = (up - down) / (2 * eps)
    finally:
        params[...] = saved
    analytic = grads.astype(np.float64)
    floor = 1e-8 * max(np.max(np.abs(analytic)), np.max(np.abs(numeric)), 1e-300)
    return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)))

"""Derivatives: the central difference of source document 002, and the exact input gradients of a network.

Source document 002 approximates the derivative of f at a with a small step Delta (0.001 there)::

    df/dx (a)  ~  (f(a + Delta) - f(a - Delta)) / (2 Delta)

``derivative`` is that formula; ``numerical_jacobian`` applies it to each input of a vector function. For a
network the derivative with respect to the inputs is exact through the backward pass of source document 004
(``Delta x = W^T Delta p`` per layer, what ``fastmlp.dense_backward`` returns as ``dx``): ``input_gradient`` is one
backward pass (a vector-Jacobian product), ``jacobian`` the full matrix, one backward pass per output.

The central difference has two errors: truncation, ~ f'''(a) Delta^2 / 6, which shrinks with Delta, and rounding,
~ eps |f(a)| / Delta (eps the unit roundoff of the arithmetic: 2^-24 in float32, 2^-53 in float64), which grows as
Delta shrinks. Their sum is smallest near Delta ~ eps^(1/3) (~5e-3 in float32, ~5e-6 in float64): the "V" of the
error against Delta that ``fastmlp demo derivatives`` measures.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _core, validation
from ._typing import ArrayLike, FloatArray
from .network import Network

__all__ = ["derivative", "numerical_jacobian", "input_gradient", "jacobian"]

#: Source document 002's step.
DELTA = 0.001


def _delta(delta):
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
        raise TypeError(f"delta: expected a positive real number, got {type(delta).__name__} {delta!r}")
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta: expected a finite number > 0, got {delta!r}")
    return delta


def _callable(f):
    if not callable(f):
        raise TypeError(f"f: expected a function, got {type(f).__name__}")


def _point(x, dtype):
    """x as a float array (a Python/numpy scalar stays 0-d), of ``dtype`` or, None, float64 unless it is float32."""
    if isinstance(x, (str, bytes)) or isinstance(x, bool):
        raise TypeError(f"x: expected a number or an array of numbers, got {type(x).__name__} {x!r}")
    try:
        a = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"x: expected a number or an array of numbers ({exc})") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"x: expected real numbers, got dtype {a.dtype}")
    if dtype is None:
        dtype = np.float32 if a.dtype == np.float32 else np.float64
    a = a.astype(validation.dtype(dtype))
    if not np.isfinite(a).all():
        raise ValueError("x: contains NaN or Inf")
    return a


def derivative(f: Callable[[Any], Any], x: Union[float, ArrayLike], delta: float = DELTA,
               dtype: Any = None) -> Union[float, FloatArray]:
    """The central difference of source document 002: ``(f(x + delta) - f(x - delta)) / (2 delta)``.

    Its error is about ``f3 delta**2 / 6`` (truncation, f3 the third derivative) plus ``eps abs(f) / delta``
    (rounding); see the module docstring. For the gradient of a function of several variables use
    ``numerical_jacobian``.

    Parameters
    ----------
    f : callable
        A function of one real variable, applied elementwise when ``x`` is an array (as numpy functions are), so
        that the result has x's shape: the derivative at each point of ``x``.
    x : float or array_like
        A number (a float comes back) or an array of points.
    delta : float, default 0.001
        The step (0.001 as in the source), > 0.
    dtype : {"float32", "float64"}, optional
        The arithmetic (None: float32 for a float32 array x, float64 otherwise). The points ``x +- delta`` are
        rounded to it, and f is given arrays of it.

    Returns
    -------
    float or ndarray
        The derivative at x (a float for a number, else an array of x's shape).

    Raises
    ------
    TypeError
        f is not callable.
    ValueError
        delta is not a finite number > 0.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> d = fastmlp.derivative(np.sin, 0.0)               # cos(0) = 1, error ~ delta**2 / 6
    >>> print(f"{d:.9f}")
    0.999999833
    """
    _callable(f)
    delta = _delta(delta)
    a = _point(x, dtype)
    d = a.dtype.type(delta)
    hi, lo = np.asarray(f(a + d)), np.asarray(f(a - d))
    if hi.shape != a.shape or lo.shape != a.shape:
        raise ValueError(f"f: returned shape {hi.shape} for x of shape {a.shape}; derivative takes a function "
                         f"applied elementwise (for a function of a vector use numerical_jacobian)")
    out = (hi - lo) / (2 * d)
    out = out.astype(a.dtype) if out.dtype.kind == "f" else out.astype(np.float64)
    return out.item() if out.ndim == 0 and np.ndim(x) == 0 else out


def numerical_jacobian(f: Callable[[Any], Any], x: ArrayLike, delta: float = DELTA, dtype: Any = None) -> FloatArray:
    """Central differences of a vector function, the Jacobian ``J[..., o, j]`` of f at x.

    ``J[..., o, j] = (f(x + delta e_j) - f(x - delta e_j))[..., o] / (2 delta)``.

    Cost: ``2 n_in`` calls of f on the whole batch.

    Parameters
    ----------
    f : callable
        Maps a batch ``x[n, n_in]`` to ``y[n, n_out]`` (or ``y[n]``, one output), row by row (e.g.
        ``model.forward``).
    x : array_like, shape (n, n_in) or (n_in,)
        The points (one point: a vector).
    delta : float, default 0.001
        The step, > 0.
    dtype : {"float32", "float64"}, optional
        The arithmetic (None: float32 for a float32 x, float64 otherwise).

    Returns
    -------
    ndarray, shape (n, n_out, n_in) or (n_out, n_in)
        The Jacobian at every point, the shape ``jacobian`` returns.

    Raises
    ------
    TypeError
        f is not callable.
    ValueError
        delta is not a finite number > 0, or f returns another number of rows.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> J = fastmlp.numerical_jacobian(lambda x: x ** 2, np.array([[1.0, 2.0]]))
    >>> np.round(J, 6)
    array([[[2., 0.],
            [0., 4.]]])
    """
    _callable(f)
    delta = _delta(delta)
    a = _point(x, dtype)
    one = a.ndim == 1
    if one:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(f"x: expected shape (n, n_in) or (n_in,), got {np.shape(x)}")
    d = a.dtype.type(delta)
    cols = []
    for j in range(a.shape[1]):
        hi, lo = a.copy(), a.copy()
        hi[:, j] += d
        lo[:, j] -= d
        yh, yl = np.asarray(f(hi)), np.asarray(f(lo))
        if yh.ndim == 1:
            yh, yl = yh[:, None], yl[:, None]
        if yh.ndim != 2 or yh.shape[0] != a.shape[0]:
            raise ValueError(f"f: expected an output of shape ({a.shape[0]}, n_out) for {a.shape[0]} rows, got "
                             f"{yh.shape}")
        cols.append((yh - yl) / (2 * d))
    J = np.stack(cols, axis=-1).astype(a.dtype)
    return J[0] if one else J


def _model(model):
    if not isinstance(model, Network):
        raise TypeError(f"model: expected a fastmlp.MLP, got {type(model).__name__}")
    return model


def _forward_layers(model, params, X):
    """Every layer's output [X, p1, ..., p_out] (p_out is ``model.forward(X)``)."""
    ps = [X]
    for (W, b), act in zip(params, model.activations):
        ps.append(_core.dense_forward(ps[-1], W, b, act))
    return ps


def _backward(model, params, ps, dp):
    """dL/dX for dL/dp_out = dp: ``dx = (dp * act'(p)) W`` per layer, the output layer first."""
    for (W, _), act, x, p in reversed(list(zip(params, model.activations, ps[:-1], ps[1:]))):
        _, _, dp = _core.dense_backward(x, W, p, np.ascontiguousarray(dp), act, bias=False)
    return dp


def input_gradient(model: Network, X: ArrayLike, dy: Union[None, int, ArrayLike] = None) -> FloatArray:
    """The exact gradient with respect to the inputs, through one backward pass: ``dX[i] = dy[i] @ J(X[i])``.

    ``J`` is the Jacobian of ``model.forward`` (output activation included: logits for the cross-entropy
    losses). Cost: one forward and one backward pass.

    Parameters
    ----------
    model : MLP
        The network.
    X : array_like, shape (n, n_in)
        The points (dense).
    dy : None, int or array_like of shape (n, n_out), optional
        None for a one-output network (the gradient of its output); an int k (the gradient of output k); or
        weights (a vector-Jacobian product: the gradient of ``sum_o dy[i, o] f_o(X[i])``).

    Returns
    -------
    ndarray, shape (n, n_in)
        The gradients, in the model's dtype.

    Raises
    ------
    TypeError
        X is sparse.
    ValueError
        ``dy`` does not fit the model's outputs.

    Examples
    --------
    >>> import fastmlp
    >>> model = fastmlp.MLP([2, 1], activation="identity", dtype="float64")
    >>> model.set_flat_params([3.0, -1.0, 0.0])             # f(x) = 3 x0 - x1
    >>> fastmlp.input_gradient(model, [[0.5, 0.5]])
    array([[ 3., -1.]])
    """
    model = _model(model)
    X = validation.features("X", X, model.dtype, model.n_in)
    if not isinstance(X, np.ndarray):
        raise TypeError("X: sparse inputs are not supported here; pass a dense array")
    n, n_out = X.shape[0], model.n_out
    if dy is None:
        if n_out != 1:
            raise ValueError(f"dy: the model has {n_out} outputs; pass the output's index (dy=k), weights of shape "
                             f"({n}, {n_out}), or use fastmlp.jacobian")
        D = np.ones((n, 1), dtype=model.dtype)
    elif isinstance(dy, numbers.Integral) and not isinstance(dy, bool):
        k = int(dy)
        if not 0 <= k < n_out:
            raise ValueError(f"dy: output index {k} out of range for {n_out} outputs")
        D = np.zeros((n, n_out), dtype=model.dtype)
        D[:, k] = 1
    else:
        D = validation.as_float_array("dy", dy, model.dtype)
        if D.shape != (n, n_out):
            raise ValueError(f"dy: expected shape ({n}, {n_out}), got {D.shape}")
    with model.read_weights() as params:
        ps = _forward_layers(model, params, X)
        return _backward(model, params, ps, D)


def jacobian(model: Network, X: ArrayLike) -> FloatArray:
    """The exact Jacobian of ``model.forward`` with respect to its inputs: ``J[i, o, j] = d f_o / d x_j`` at ``X[i]``.

    One backward pass per output (``dx = W^T dp`` per layer). For a ReLU network it is the local linear model's
    slope (``fastmlp.regions.local_linear``); at a kink (a pre-activation exactly 0) it is the one-sided slope of
    the convention relu'(0) = 0.

    Parameters
    ----------
    model : MLP
        The network.
    X : array_like, shape (n, n_in)
        The points (dense).

    Returns
    -------
    ndarray, shape (n, n_out, n_in)
        The Jacobians, in the model's dtype.

    Raises
    ------
    TypeError
        X is sparse.
    ValueError
        X has the wrong number of columns or holds NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> model = fastmlp.MLP([3, 5, 2], activation="tanh", dtype="float64", seed=0)
    >>> X = np.random.default_rng(0).normal(size=(4, 3))
    >>> J = fastmlp.jacobian(model, X)
    >>> J.shape, bool(np.allclose(J, fastmlp.numerical_jacobian(model.forward, X, delta=1e-6), atol=1e-8))
    ((4, 2, 3), True)
    """
    model = _model(model)
    X = validation.features("X", X, model.dtype, model.n_in)
    if not isinstance(X, np.ndarray):
        raise TypeError("X: sparse inputs are not supported here; pass a dense array")
    n, n_out = X.shape[0], model.n_out
    J = np.empty((n, n_out, model.n_in), dtype=model.dtype)
    with model.read_weights() as params:
        ps = _forward_layers(model, params, X)
        for o in range(n_out):
            D = np.zeros((n, n_out), dtype=model.dtype)
            D[:, o] = 1
            J[:, o, :] = _backward(model, params, ps, D)
    return J


def check(model: Network, X: ArrayLike, delta: Optional[float] = None) -> float:
    """The largest |jacobian - numerical_jacobian| over X, relative to the largest |jacobian| (at least 1): how well
    the exact Jacobian agrees with central differences of ``model.forward`` (delta: None for 1e-3 in float32, 1e-6
    in float64)."""
    model = _model(model)
    if delta is None:
        delta = 1e-3 if model.dtype == np.float32 else 1e-6
    Xa: np.ndarray = np.asarray(validation.features("X", X, model.dtype, model.n_in))
    J = jacobian(model, Xa).astype(np.float64)
    N = numerical_jacobian(lambda Z: model.forward(Z.astype(model.dtype)), Xa.astype(np.float64), delta,
                           dtype="float64")
    return float(np.abs(J - N).max() / max(1.0, float(np.abs(J).max())))

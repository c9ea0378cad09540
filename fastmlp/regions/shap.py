"""Explanations: exact SHAP of the local linear models (``linear_shap``), exact interventional Shapley values of the
network (``shapley_values``, up to 16 features by default), a seeded permutation-sampling estimate with its standard
error for wider inputs (``sampled_shapley_values``), and ``explanation``, which packs any of them into what shap's
plots take (a ``shap.Explanation`` when the optional ``shap`` package is installed, else ``Explanation`` here, with
the same fields)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .patterns import affine_maps, layer_patterns
from .readers import is_int, read_net, read_points, snapshot_forward


def linear_shap(model, X, background):
    """Exact SHAP values of each input's LOCAL LINEAR MODEL (not of the network).

    ``phi[i, o, j] = alpha[i, o, j] * (X[i, j] - mean(background[:, j]))``. For the region's linear model g they
    add up to ``g(x) - mean g(background)``; for the network this is only a local approximation (the background
    may lie in other regions). For the network's own Shapley values see ``shapley_values``.

    Parameters
    ----------
    model : MLP
        A network whose hidden layers are all "relu".
    X : array_like, shape (n, n_in)
        The inputs to explain.
    background : array_like, shape (m, n_in)
        The reference inputs.

    Returns
    -------
    ndarray, shape (n, n_out, n_in)
        The values.

    Raises
    ------
    ValueError
        A hidden activation is not relu, or a shape does not fit.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 1], dtype="float64")
    >>> model.set_flat_params([2.0, -1.0, 0.0])
    >>> regions.linear_shap(model, [[1.0, 1.0]], np.zeros((3, 2)))
    array([[[ 2., -1.]]])
    """
    net = read_net(model)
    X = read_points("X", X, net.n_in)
    bg = read_points("background", background, net.n_in)
    alpha, _ = affine_maps(net, layer_patterns(net, X), len(X))
    return alpha * (X - bg.mean(axis=0))[:, None, :]


def shapley_values(model, X, background, max_features=16):
    """Exact interventional Shapley values of the network's output (``model.forward``, any activation).

    The value of a coalition S is ``mean_b f(x_S, b_rest)`` over the background rows b, and all 2^n_in
    coalitions are evaluated. Additivity: ``phi.sum(-1) = f(x) - mean f(background)``. Cost: 2^n_in x
    len(background) forward rows per input.

    Parameters
    ----------
    model : MLP
        The network (any activation).
    X : array_like, shape (n, n_in)
        The inputs to explain.
    background : array_like, shape (m, n_in)
        The reference inputs.
    max_features : int, default 16
        The most inputs (2^n_in coalitions): more raise ValueError.

    Returns
    -------
    ndarray, shape (n, n_out, n_in)
        The values.

    Raises
    ------
    ValueError
        n_in exceeds ``max_features``, or a shape does not fit.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([3, 8, 1], dtype="float64", seed=0)
    >>> rng = np.random.default_rng(0)
    >>> X, background = rng.normal(size=(2, 3)), rng.normal(size=(10, 3))
    >>> phi = regions.shapley_values(model, X, background)
    >>> bool(np.allclose(phi.sum(-1), model.forward(X) - model.forward(background).mean(0)))
    True
    """
    if not hasattr(model, "forward") or not hasattr(model, "layers"):
        raise TypeError(f"model: expected a fastmlp.MLP, got {type(model).__name__}")
    if not is_int(max_features):
        raise TypeError(f"max_features: expected an int, got {type(max_features).__name__} {max_features!r}")
    if max_features < 1:
        raise ValueError(f"max_features: expected an int >= 1, got {max_features}")
    n = int(model.layers[0])
    if n > max_features:
        raise ValueError(f"shapley_values: {n} features need 2^{n} coalitions per input; refusing more than "
                         f"max_features={max_features} (use linear_shap, or raise max_features knowingly)")
    X = read_points("X", X, n)
    bg = read_points("background", background, n)
    forward = snapshot_forward(model)   # one set of weights for every coalition, even if another thread trains
    C = 1 << n
    masks = ((np.arange(C)[:, None] >> np.arange(n)) & 1).astype(bool)    # coalition c holds feature j: bit j
    size = masks.sum(axis=1)
    w = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])
    chunk = max(1, (1 << 18) // len(bg))
    phi = np.empty((len(X), int(model.layers[-1]), n))
    for i, x in enumerate(X):
        v = np.empty((C, int(model.layers[-1])))
        for c0 in range(0, C, chunk):
            mk = masks[c0:c0 + chunk]
            rows = np.where(mk[:, None, :], x, bg[None, :, :]).reshape(-1, n)
            v[c0:c0 + chunk] = np.asarray(forward(rows), dtype=np.float64).reshape(len(mk), len(bg), -1).mean(1)
        for j in range(n):
            S = np.flatnonzero(~masks[:, j])
            phi[i, :, j] = w[size[S]] @ (v[S | (1 << j)] - v[S])
    return phi


def _model_sizes(model):
    if not hasattr(model, "forward") or not hasattr(model, "layers"):
        raise TypeError(f"model: expected a fastmlp.MLP, got {type(model).__name__}")
    return int(model.layers[0]), int(model.layers[-1])


def sampled_shapley_values(model, X, background, n_permutations=200, seed=0, antithetic=True,
                           max_rows=1 << 20):
    """Interventional Shapley values estimated by sampling feature orders (permutation sampling), for inputs too wide
    for ``shapley_values``: returns ``(phi, se)``, both of shape (n, n_out, n_in); ``se`` is the standard error of
    each estimate (the spread of the per-order contributions over sqrt(number of independent draws)).

    The value of a coalition is the one ``shapley_values`` uses (``mean_b f(x_S, b_rest)`` over the background
    rows). For each input, ``n_permutations`` orders are drawn from ``numpy.random.default_rng(seed)`` (the same
    seed gives the same numbers); along an order each feature's contribution is the change of the value when it
    joins. Every order's contributions add up to ``f(x) - mean f(background)`` exactly, so the estimate is additive
    like the exact values. ``antithetic=True`` pairs each order with its reverse (n_permutations must be even),
    which cancels much of the variance for nearly additive models; the standard error is then taken over the
    pairs. Cost: n_permutations x (n_in + 1) x len(background) forward rows per input, evaluated ``max_rows`` at a
    time. The estimate converges to ``shapley_values`` as n_permutations grows (error ~ se, ~ 1/sqrt(orders))."""
    n, n_out = _model_sizes(model)
    for name, v, lo in (("n_permutations", n_permutations, 2), ("max_rows", max_rows, 1)):
        if not is_int(v):
            raise TypeError(f"{name}: expected an int, got {type(v).__name__} {v!r}")
        if v < lo:
            raise ValueError(f"{name}: expected an int >= {lo}, got {v}")
    if not isinstance(antithetic, (bool, np.bool_)):
        raise TypeError(f"antithetic: expected True or False, got {antithetic!r}")
    if antithetic and n_permutations % 2:
        raise ValueError(f"n_permutations: must be even with antithetic=True (orders come in pairs), got "
                         f"{n_permutations}")
    X = read_points("X", X, n)
    bg = read_points("background", background, n)
    rng = np.random.default_rng(seed)
    forward = snapshot_forward(model)
    P, B = int(n_permutations), len(bg)
    step = max(1, int(max_rows) // ((n + 1) * B))          # orders per forward call
    phi = np.empty((len(X), n_out, n))
    se = np.empty((len(X), n_out, n))
    for i, x in enumerate(X):
        half = P // 2 if antithetic else P
        perms = np.argsort(rng.random((half, n)), axis=1)
        if antithetic:
            perms = np.concatenate([perms, perms[:, ::-1]])
        ranks = np.argsort(perms, axis=1)                   # ranks[p, j]: where feature j comes in order p
        contrib = np.empty((P, n, n_out))
        for p0 in range(0, P, step):
            r = ranks[p0:p0 + step]
            masks = r[:, None, :] < np.arange(n + 1)[None, :, None]           # (p, n + 1, n): first k of the order
            rows = np.where(masks[:, :, None, :], x, bg[None, None, :, :]).reshape(-1, n)
            v = np.asarray(forward(rows), dtype=np.float64).reshape(len(r), n + 1, B, n_out).mean(axis=2)
            d = v[:, 1:] - v[:, :-1]                                           # (p, n, n_out): k-th joiner
            contrib[p0:p0 + step] = np.take_along_axis(d, r[:, :, None], axis=1)
        draws = 0.5 * (contrib[:half] + contrib[half:]) if antithetic else contrib
        phi[i] = draws.mean(axis=0).T
        se[i] = (draws.std(axis=0, ddof=1) / math.sqrt(len(draws))).T
    return phi, se


@dataclass
class Explanation:
    """SHAP values in the fields ``shap.Explanation`` has (what ``shap.plots.bar`` / ``beeswarm`` read), for when the
    shap package is not installed: ``values`` (n, n_features), ``base_values`` (n,), ``data`` (n, n_features),
    ``feature_names``; ``values.sum(1) + base_values`` is the explained output. ``se``: standard errors of sampled
    values (None for exact ones); ``method``: which values these are."""
    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray
    feature_names: Optional[list] = None
    se: Optional[np.ndarray] = None
    method: str = ""


def explanation(model, X, background, method="exact", output=0, feature_names=None, **kwargs):
    """SHAP values of one output as an explanation shap's plots accept: a ``shap.Explanation`` when the optional
    ``shap`` package is installed (with ``se`` and ``method`` set as extra attributes), else this module's
    ``Explanation`` with the same fields. (Import from ``fastmlp.regions.shap``.)

    method: "exact" (``shapley_values``, the network's exact interventional values), "sampling"
    (``sampled_shapley_values``, estimates with standard errors; kwargs: n_permutations, seed, antithetic), or
    "linear" (``linear_shap``: exact SHAP of each input's local linear model, NOT of the network; ReLU nets only).
    base_values: ``mean f(background)`` for "exact" and "sampling"; for "linear" the local model's value at the
    background mean. output: which output to explain."""
    n, n_out = _model_sizes(model)
    if not is_int(output) or not 0 <= output < n_out:
        raise ValueError(f"output: expected an output index in [0, {n_out}), got {output!r}")
    if feature_names is not None:
        feature_names = [str(f) for f in feature_names]
        if len(feature_names) != n:
            raise ValueError(f"feature_names: expected {n} names, got {len(feature_names)}")
    Xc = read_points("X", X, n)
    bg = read_points("background", background, n)
    se = None
    if method == "exact":
        phi = shapley_values(model, Xc, bg, **kwargs)
    elif method == "sampling":
        phi, se = sampled_shapley_values(model, Xc, bg, **kwargs)
        se = se[:, output]
    elif method == "linear":
        if kwargs:
            raise TypeError(f"method 'linear' takes no options, got {sorted(kwargs)}")
        phi = linear_shap(model, Xc, bg)
    else:
        raise ValueError(f"method: expected 'exact', 'sampling' or 'linear', got {method!r}")
    values = phi[:, output]
    if method == "linear":
        net = read_net(model)
        alpha, beta = affine_maps(net, layer_patterns(net, Xc), len(Xc))
        base = alpha[:, output] @ bg.mean(axis=0) + beta[:, output]
    else:
        f_bg = np.asarray(snapshot_forward(model)(bg), dtype=np.float64)[:, output]
        base = np.full(len(Xc), f_bg.mean())
    try:
        import shap
    except ImportError:
        return Explanation(values, base, Xc, feature_names, se, method)
    exp = shap.Explanation(values=values, base_values=base, data=Xc, feature_names=feature_names)
    exp.se, exp.method = se, method
    return exp

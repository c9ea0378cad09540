"""Explanations: exact SHAP of the local linear models, and exact interventional Shapley values of the network."""
from __future__ import annotations

import math

import numpy as np

from .patterns import affine_maps, layer_patterns
from .readers import is_int, read_net, read_points, snapshot_forward


def linear_shap(model, X, background):
    """Exact SHAP values of each input's LOCAL LINEAR MODEL (not of the network): ``phi[i, o, j] =
    alpha[i, o, j] * (X[i, j] - mean(background[:, j]))``, shape (n, n_out, n_in). For the region's linear model g
    they add up to ``g(x) - mean g(background)``; for the network this is only a local approximation (the
    background may lie in other regions). For the network's own Shapley values see ``shapley_values``."""
    net = read_net(model)
    X = read_points("X", X, net.n_in)
    bg = read_points("background", background, net.n_in)
    alpha, _ = affine_maps(net, layer_patterns(net, X), len(X))
    return alpha * (X - bg.mean(axis=0))[:, None, :]


def shapley_values(model, X, background, max_features=16):
    """Exact interventional Shapley values of the network's output (``model.forward``, any activation) over a
    background set: the value of a coalition S is ``mean_b f(x_S, b_rest)`` over the background rows b, and all
    2^n_in coalitions are evaluated (n_in <= max_features, else ValueError). Shape (n, n_out, n_in); additivity:
    ``phi.sum(-1) = f(x) - mean f(background)``. Cost: 2^n_in x len(background) forward rows per input."""
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

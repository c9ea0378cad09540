"""Activation patterns and the local affine maps they select (no LP: one forward and one backward pass)."""
from __future__ import annotations

import numpy as np

from .readers import read_net, read_points, rows_per_chunk


def layer_patterns(net, X):
    """Activation patterns of X (float64, validated) as a list of bool arrays (n, width), one per hidden layer."""
    h, pats = X, []
    for W, b in zip(net.Ws[:-1], net.bs[:-1]):
        z = h @ W.T + b
        s = z > 0
        pats.append(s)
        h = np.where(s, z, 0.0)
    return pats


def affine_maps(net, pats, n=None, absolute=False):
    """(alpha (n, n_out, n_in), beta (n, n_out)) of the affine maps selected by the patterns (n rows each).

    Backward through the masked layers: G = W_out; for each hidden layer from the top, mask G's columns with
    the pattern, add G.b to beta and multiply by W. absolute=True does the same with |W| and |b|: the sums of
    the absolute values of the terms, which bound the rounding error of alpha and beta (~ eps x depth x that)."""
    if n is None:
        n = pats[0].shape[0] if pats else 1
    f = np.abs if absolute else (lambda v: v)
    G = np.broadcast_to(f(net.Ws[-1]), (n,) + net.Ws[-1].shape).copy()
    beta = np.broadcast_to(f(net.bs[-1]), (n, net.n_out)).copy()
    for W, b, s in zip(net.Ws[-2::-1], net.bs[-2::-1], pats[::-1]):
        G = G * s[:, None, :]
        beta += G @ f(b)
        G = G @ f(W)
    return G, beta


def activation_patterns(model, X):
    """The on/off pattern of every hidden unit at each input.

    Parameters
    ----------
    model : MLP
        A network whose hidden layers are all "relu".
    X : array_like, shape (n, n_in)
        The inputs.

    Returns
    -------
    list of ndarray
        One bool array of shape (n, width) per hidden layer (True: pre-activation > 0). A network without hidden
        layers gives an empty list.

    Raises
    ------
    ValueError
        A hidden activation is not relu, or X does not fit the network.

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 3, 1], dtype="float64")
    >>> model.set_flat_params([1, 0, -1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0])   # units x0, -x0, x1
    >>> regions.activation_patterns(model, [[1.0, -1.0]])
    [array([[ True, False, False]])]
    """
    net = read_net(model)
    return layer_patterns(net, read_points("X", X, net.n_in))


def local_linear(model, X):
    """The affine map valid in each input's activation region.

    ``f(x') = alpha[i] @ x' + beta[i]`` for every x' in the region of ``X[i]`` (f: the output layer's
    pre-activation, i.e. ``model.forward`` for an identity output). ``alpha`` is the input Jacobian at ``X[i]``
    (the one-sided one of the region the convention "active iff > 0" puts a boundary point in).

    Parameters
    ----------
    model : MLP
        A network whose hidden layers are all "relu".
    X : array_like, shape (n, n_in)
        The inputs.

    Returns
    -------
    alpha : ndarray, shape (n, n_out, n_in)
        The slopes.
    beta : ndarray, shape (n, n_out)
        The offsets.

    Raises
    ------
    ValueError
        A hidden activation is not relu, or X does not fit the network.

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([1, 2, 1], dtype="float64")
    >>> model.set_flat_params([1, -1, 0, 0, 2, 3, 0.5])          # f(x) = 2 relu(x) + 3 relu(-x) + 0.5
    >>> alpha, beta = regions.local_linear(model, [[1.0], [-1.0]])
    >>> alpha[:, 0, 0], beta[:, 0]
    (array([ 2., -3.]), array([0.5, 0.5]))
    """
    net = read_net(model)
    X = read_points("X", X, net.n_in)
    n = X.shape[0]
    alpha = np.empty((n, net.n_out, net.n_in))
    beta = np.empty((n, net.n_out))
    # the backward pass holds (rows, n_out, width) intermediates: chunk the rows to keep them near 64 MB
    step = rows_per_chunk(8 * net.n_out * max(net.widths + [net.n_in]) * 3)
    for i in range(0, n, step):
        Xc = X[i:i + step]
        alpha[i:i + step], beta[i:i + step] = affine_maps(net, layer_patterns(net, Xc), len(Xc))
    return alpha, beta

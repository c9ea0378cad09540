"""Linear regions of ReLU networks: a ReLU MLP is a continuous piecewise-affine function, and this module finds its
pieces exactly (no sampling).

What is analysed. Every function here takes a ``fastmlp.MLP`` whose hidden layers are all ``"relu"`` (any other
hidden activation is refused with a ValueError). The affine maps describe the output layer's *pre-activation*
``z = W_out h + b_out``: with the default ``output="identity"`` that is exactly ``model.forward``; with another
output activation (sigmoid, tanh, relu) ``model.forward(x) = act(alpha x + beta)`` and the pieces are those of
``z`` (the logits), not of ``act(z)``. All arithmetic is float64, for float32 models too (their weights are
widened; ``model.forward`` itself then rounds to float32, so it agrees only to float32 precision).

Conventions. A hidden unit is *active* when its pre-activation is strictly positive. Every input then has exactly
one activation pattern (one bool per hidden unit), and since relu(0) = 0 the choice at exactly 0 never changes the
output. "Linear region" has two non-equivalent meanings and the functions say which one they return:

* activation regions (cells): the sets of inputs sharing one activation pattern; convex polyhedra. In general
  position these are full-dimensional; ``enumerate_regions(..., cells="all")`` also keeps the lower-dimensional
  ones that degenerate networks have (needed for an exact shallow net on region boundaries).
* affine pieces: maximal sets on which the network is one affine map; a union of activation regions (a unit can
  switch without changing the map, e.g. when its outgoing weights are zero).

Exact counting is #P-hard in general and the counts can grow exponentially with depth; ``enumerate_regions``
therefore takes budgets (``max_regions``, ``max_lps``) and raises ``RegionBudgetError`` instead of running on.

Functions: ``activation_patterns``, ``local_linear``, ``pieces_1d`` (exact 1-D analysis, no LP),
``enumerate_regions`` / ``count_regions`` (exact n-D, one small LP per undecided branch, needs scipy:
``pip install "fastmlp[regions]"``), ``to_shallow`` / ``ShallowNet`` (the equivalent network with three hidden
layers), ``linear_shap`` and ``shapley_values`` (explanations), ``shallow_region_bound``, ``pattern_bound``,
``product_region_bound`` (bounds), ``plot_pieces_1d`` and ``plot_regions_2d`` (matplotlib, optional extra).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Pieces1D", "Region", "Regions", "RegionBudgetError", "ShallowNet",
    "activation_patterns", "local_linear", "pieces_1d", "enumerate_regions", "count_regions", "to_shallow",
    "linear_shap", "shapley_values", "shallow_region_bound", "pattern_bound", "product_region_bound",
    "plot_pieces_1d", "plot_regions_2d",
]


class RegionBudgetError(RuntimeError):
    """``enumerate_regions`` hit its ``max_regions`` or ``max_lps`` budget. ``n_regions`` and ``n_lps`` say how
    far it got (the regions found so far are a lower bound on the count, not the answer)."""

    def __init__(self, message, n_regions=0, n_lps=0):
        super().__init__(message)
        self.n_regions = n_regions
        self.n_lps = n_lps


# ---- the network as float64 arrays ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Net:
    Ws: tuple        # float64 weight matrices W[n_out, n_in], one per layer (the last is the output layer)
    bs: tuple        # float64 biases
    output: str      # the output activation (the analysis is of its pre-activation)

    @property
    def n_in(self):
        return self.Ws[0].shape[1]

    @property
    def n_out(self):
        return self.Ws[-1].shape[0]

    @property
    def widths(self):
        return [W.shape[0] for W in self.Ws[:-1]]


def _net(model):
    """Validate a model and return its weights in float64."""
    if not hasattr(model, "params") or not hasattr(model, "activations"):
        raise TypeError(f"model: expected a fastmlp.MLP, got {type(model).__name__}")
    acts = list(model.activations)
    for i, a in enumerate(acts[:-1]):
        if a != "relu":
            raise ValueError(f"model: hidden layer {i + 1} uses activation {a!r}; the region analysis needs ReLU "
                             f"hidden layers (a piecewise-linear network), e.g. MLP(..., activation='relu')")
    Ws, bs = [], []
    for W, b in model.params:
        W = np.array(W, dtype=np.float64)
        b = np.array(b, dtype=np.float64)
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError("model: the weights contain NaN or Inf")
        Ws.append(W)
        bs.append(b)
    return _Net(tuple(Ws), tuple(bs), acts[-1])


def _points(name, X, n_in):
    """X as a C-contiguous float64 array (n, n_in), validated."""
    try:
        X = np.asarray(X)
    except Exception as exc:
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if X.dtype == object or X.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        hint = " (one point: X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(f"{name}: expected a 2-d array (n_points, {n_in}), got shape {X.shape}{hint}")
    if X.shape[1] != n_in:
        raise ValueError(f"{name}: expected {n_in} features (the model's input size), got {X.shape[1]}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: no points (shape {X.shape})")
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return X


def _point(name, a, n_in):
    """One point in input space; a scalar is accepted for a 1-input net."""
    try:
        a = np.asarray(a)
    except Exception as exc:
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {a.dtype}")
    if a.ndim == 0 and n_in == 1:
        a = a.reshape(1)
    if a.ndim != 1 or a.shape[0] != n_in:
        raise ValueError(f"{name}: expected a point of the model's input space, shape ({n_in},), got shape "
                         f"{a.shape}" + (" (scalars only for 1-input nets)" if a.ndim == 0 else ""))
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return a


def _box(box, n_in):
    """(lo, hi) float64 arrays of shape (n_in,): box is [[lo, hi]] * n_in, or one (lo, hi) pair for all inputs."""
    try:
        B = np.asarray(box, dtype=np.float64)
    except Exception as exc:
        raise ValueError(f"box: expected (lo, hi) or an array of shape ({n_in}, 2) ({exc})") from None
    if B.shape == (2,):
        B = np.tile(B, (n_in, 1))
    if B.shape != (n_in, 2):
        raise ValueError(f"box: expected (lo, hi) or an array of shape ({n_in}, 2) (one [lo, hi] per input), got "
                         f"shape {B.shape}")
    if not np.isfinite(B).all():
        raise ValueError("box: contains NaN or Inf (for all of R^n pass box=None)")
    if not (B[:, 0] < B[:, 1]).all():
        raise ValueError(f"box: every lo must be < hi, got {B.tolist()}")
    return B[:, 0].copy(), B[:, 1].copy()


# ---- activation patterns and local linear models -------------------------------------------------------------
def _patterns(net, X):
    """Activation patterns of X (float64, validated) as a list of bool arrays (n, width), one per hidden layer."""
    h, pats = X, []
    for W, b in zip(net.Ws[:-1], net.bs[:-1]):
        z = h @ W.T + b
        s = z > 0
        pats.append(s)
        h = np.where(s, z, 0.0)
    return pats


def _affine(net, pats, n=None):
    """(alpha (n, n_out, n_in), beta (n, n_out)) of the affine maps selected by the patterns (n rows each).

    Backward through the masked layers: G = W_out; for each hidden layer from the top, mask G's columns with
    the pattern, add G.b to beta and multiply by W. No subtraction, so beta carries no cancellation error."""
    if n is None:
        n = pats[0].shape[0] if pats else 1
    G = np.broadcast_to(net.Ws[-1], (n,) + net.Ws[-1].shape).copy()
    beta = np.broadcast_to(net.bs[-1], (n, net.n_out)).copy()
    for W, b, s in zip(net.Ws[-2::-1], net.bs[-2::-1], pats[::-1]):
        G = G * s[:, None, :]
        beta += G @ b
        G = G @ W
    return G, beta


def activation_patterns(model, X):
    """The on/off pattern of every hidden unit at each input: a list with one bool array of shape (n, width) per
    hidden layer (True: pre-activation > 0). A network without hidden layers gives an empty list."""
    net = _net(model)
    return _patterns(net, _points("X", X, net.n_in))


def local_linear(model, X):
    """The affine map valid in each input's activation region: ``alpha`` (n, n_out, n_in) and ``beta`` (n, n_out)
    with ``f(x') = alpha[i] @ x' + beta[i]`` for every x' in the region of ``X[i]`` (f: the output layer's
    pre-activation, i.e. ``model.forward`` for an identity output). ``alpha`` is the input Jacobian at ``X[i]``
    (the one-sided one of the region the convention "active iff > 0" puts a boundary point in)."""
    net = _net(model)
    X = _points("X", X, net.n_in)
    return _affine(net, _patterns(net, X), X.shape[0])


def _forward(net, X):
    """The output layer's pre-activation in float64."""
    h = X
    for W, b in zip(net.Ws[:-1], net.bs[:-1]):
        h = np.maximum(h @ W.T + b, 0.0)
    return h @ net.Ws[-1].T + net.bs[-1]


# ---- exact 1-D analysis --------------------------------------------------------------------------------------
@dataclass
class Pieces1D:
    """The exact piecewise-linear structure of a network along the segment x(t) = a + t (b - a), t in [0, 1].

    t, points: where the affine map changes (sorted, strictly inside (0, 1)), as parameters and as input points.
    n_pieces: the number of maximal affine pieces (``len(t) + 1``): sub-segments on which the network's affine map
        (alpha, beta) in input space is one and the same.
    alpha (n_pieces, n_out, n_in), beta (n_pieces, n_out): the map on each piece, f(x) = alpha[k] @ x + beta[k].
    activation_t: every point where some hidden unit switches (a superset of t); n_activation_intervals =
        ``len(activation_t) + 1``: the number of activation regions the segment passes through.
    edges: [0, *t, 1], the pieces' ends. slope, intercept (n_pieces, n_out): the 1-D function along the segment,
        f(x(s)) = slope[k] s + intercept[k] on piece k.
    """
    a: np.ndarray
    b: np.ndarray
    t: np.ndarray
    points: np.ndarray
    n_pieces: int
    alpha: np.ndarray
    beta: np.ndarray
    activation_t: np.ndarray
    n_activation_intervals: int
    edges: np.ndarray = field(repr=False)
    slope: np.ndarray = field(repr=False)
    intercept: np.ndarray = field(repr=False)

    def piece_of(self, t):
        """Index of the piece each parameter value t lies in (a breakpoint belongs to the piece on its right)."""
        return np.clip(np.searchsorted(self.t, np.asarray(t, dtype=np.float64), side="right"), 0,
                       self.n_pieces - 1)

    def __call__(self, t):
        """The network's output (pre-activation) at x(t), from the pieces: shape (len(t), n_out)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        k = self.piece_of(t)
        return self.slope[k] * t[:, None] + self.intercept[k]


def pieces_1d(model, a, b, tol=1e-12):
    """Exact 1-D analysis along the segment from a to b (points of input space; scalars for 1-input nets).

    Layer-wise refinement, no sampling: on each current interval the earlier layers' pattern is fixed, so every
    unit of the next layer is affine in t and its zero crossing inside the interval is computed in closed form.
    Cost O(intervals x parameters). Crossings closer than ``tol`` (in t) are merged. Returns a ``Pieces1D``:
    activation intervals and merged affine pieces are reported separately (they differ when a unit switches
    without changing the map)."""
    net = _net(model)
    a = _point("a", a, net.n_in)
    b = _point("b", b, net.n_in)
    d = b - a
    edges = np.array([0.0, 1.0])
    # h(t) = P t + q on each interval (rows): the current layer's input
    P, q = d[None, :], a[None, :]
    pats = []
    for W, bias in zip(net.Ws[:-1], net.bs[:-1]):
        M = P @ W.T                       # (I, width): slope of each unit's pre-activation in t
        C = q @ W.T + bias
        with np.errstate(divide="ignore", invalid="ignore"):
            roots = -C / M
        lo, hi = edges[:-1, None], edges[1:, None]
        ok = (M != 0) & (roots > lo + tol) & (roots < hi - tol)
        new = np.unique(np.concatenate([edges, roots[ok]]))
        if len(new) > 2:                  # merge crossings closer than tol (keep the ends 0 and 1 exactly)
            keep = np.concatenate([[True], np.diff(new) > tol])
            new = new[keep]
            new[-1] = 1.0
        mid = 0.5 * (new[:-1] + new[1:])
        parent = np.clip(np.searchsorted(edges, mid, side="right") - 1, 0, len(edges) - 2)
        z_mid = M[parent] * mid[:, None] + C[parent]
        s = z_mid > 0
        pats = [p[parent] for p in pats] + [s]
        P, q = np.where(s, M[parent], 0.0), np.where(s, C[parent], 0.0)
        edges = new
    # merge neighbouring intervals with identical patterns (can only come from merged near-duplicate crossings)
    n_int = len(edges) - 1
    if pats and n_int > 1:
        full = np.concatenate(pats, axis=1)
        change = np.concatenate([[True], (full[1:] != full[:-1]).any(axis=1)])
        starts = np.flatnonzero(change)
        edges = np.concatenate([edges[starts], [1.0]])
        pats = [p[starts] for p in pats]
    act_t = edges[1:-1].copy()
    n_act = len(edges) - 1
    alpha, beta = _affine(net, pats, n_act)
    # maximal affine pieces: merge neighbours whose (alpha, beta) agree to rounding
    scale = max(float(np.max(np.abs(alpha), initial=0.0)), float(np.max(np.abs(beta), initial=0.0)), 1e-300)
    same = np.zeros(n_act - 1, dtype=bool)
    if n_act > 1:
        da = np.abs(alpha[1:] - alpha[:-1]).reshape(n_act - 1, -1).max(axis=1)
        db = np.abs(beta[1:] - beta[:-1]).reshape(n_act - 1, -1).max(axis=1)
        same = np.maximum(da, db) <= 1e-12 * scale
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    alpha, beta = alpha[starts], beta[starts]
    t = act_t[~same]
    piece_edges = np.concatenate([[0.0], t, [1.0]])
    slope = alpha @ d                     # (n_pieces, n_out)
    intercept = alpha @ a + beta
    return Pieces1D(a=a, b=b, t=t, points=a + t[:, None] * d, n_pieces=len(t) + 1, alpha=alpha, beta=beta,
                    activation_t=act_t, n_activation_intervals=n_act, edges=piece_edges, slope=slope,
                    intercept=intercept)

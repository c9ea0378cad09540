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
therefore takes budgets (``max_regions``, ``max_lps``, ``max_seconds``) and raises ``RegionBudgetError``
instead of running on.

Functions: ``activation_patterns``, ``local_linear``, ``pieces_1d`` (exact 1-D analysis, no LP),
``enumerate_regions`` / ``count_regions`` (exact n-D, one small LP per undecided branch, needs scipy:
``pip install "fastmlp[regions]"``), ``to_shallow`` / ``ShallowNet`` (the equivalent network with three hidden
layers), ``linear_shap`` and ``shapley_values`` (explanations), ``shallow_region_bound``, ``pattern_bound``,
``product_region_bound`` (bounds), ``plot_pieces_1d`` and ``plot_regions_2d`` (matplotlib, optional extra).
"""
from __future__ import annotations

import math
import numbers
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


def _check_numeric(name, X):
    """Strings are a TypeError, other non-real arrays (object, complex) a ValueError."""
    if X.dtype.kind in "USa":
        raise TypeError(f"{name}: expected numbers, got strings (dtype {X.dtype})")
    if X.dtype == object or X.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected real numbers, got dtype {X.dtype}")


def _is_int(v):
    """An integer (Python or numpy), not bool?"""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _real(v):
    """A real number (Python or numpy scalar, not bool)?"""
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _numbers(name, X):
    """X as a numpy array of real numbers (any shape), or a TypeError/ValueError naming it."""
    try:
        X = np.asarray(X)
    except Exception as exc:
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    _check_numeric(name, X)
    return X


def _finite64(name, X):
    """X in float64, refusing NaN/Inf."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return X


def _points(name, X, n_in):
    """X as a C-contiguous float64 array (n, n_in), validated."""
    X = _numbers(name, X)
    if X.ndim != 2:
        hint = " (one point: X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(f"{name}: expected a 2-d array (n_points, {n_in}), got shape {X.shape}{hint}")
    if X.shape[1] != n_in:
        raise ValueError(f"{name}: expected {n_in} features (the model's input size), got {X.shape[1]}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: no points (shape {X.shape})")
    return _finite64(name, X)


def _point(name, a, n_in):
    """One point in input space; a scalar is accepted for a 1-input net."""
    a = _numbers(name, a)
    if a.ndim == 0 and n_in == 1:
        a = a.reshape(1)
    if a.ndim != 1 or a.shape[0] != n_in:
        raise ValueError(f"{name}: expected a point of the model's input space, shape ({n_in},), got shape "
                         f"{a.shape}" + (" (scalars only for 1-input nets)" if a.ndim == 0 else ""))
    return _finite64(name, a).copy()   # kept in the results: never an alias of the caller's array


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


def _affine(net, pats, n=None, absolute=False):
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


def _rows_per_chunk(row_bytes, budget=64 << 20):
    """How many rows of row_bytes each fit in the working-memory budget (at least 1)."""
    return max(1, int(budget // max(int(row_bytes), 1)))


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
    n = X.shape[0]
    alpha = np.empty((n, net.n_out, net.n_in))
    beta = np.empty((n, net.n_out))
    # the backward pass holds (rows, n_out, width) intermediates: chunk the rows to keep them near 64 MB
    step = _rows_per_chunk(8 * net.n_out * max(net.widths + [net.n_in]) * 3)
    for i in range(0, n, step):
        Xc = X[i:i + step]
        alpha[i:i + step], beta[i:i + step] = _affine(net, _patterns(net, Xc), len(Xc))
    return alpha, beta


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


def pieces_1d(model, a, b, tol=None):
    """Exact 1-D analysis along the segment from a to b (points of input space; scalars for 1-input nets).

    Layer-wise refinement, no sampling: on each current interval the earlier layers' pattern is fixed, so every
    unit of the next layer is affine in t and its zero crossing inside the interval is computed in closed form.
    Cost O(intervals x parameters). Crossings closer than ``tol`` (in t) are merged; the default (None) is the
    floating-point resolution of the segment, ``64 eps max(1, max|a|, max|b|) / max|b - a|`` (points x(t)
    closer than that are a few ulps apart), so real breakpoints are kept however long the segment is.
    Neighbouring activation intervals are one affine piece when their (alpha, beta) agree to rounding, judged
    entry by entry at the entries' own scale (the sum of the absolute values of the terms), not at a global one.
    Returns a ``Pieces1D``: activation intervals and merged affine pieces are reported separately (they differ
    when a unit switches without changing the map)."""
    net = _net(model)
    a = _point("a", a, net.n_in)
    b = _point("b", b, net.n_in)
    d = b - a
    if tol is None:
        span = float(np.max(np.abs(d)))
        tol = 0.0 if span == 0.0 else \
            64 * np.finfo(np.float64).eps * max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b)))) / span
        tol = min(tol, 0.25)
    elif not (_real(tol) and 0 <= tol < 0.5):
        raise ValueError(f"tol: expected None or a number in [0, 0.5), got {tol!r}")
    tol = float(tol)
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
    # maximal affine pieces: merge neighbours whose (alpha, beta) agree to rounding. Each entry is compared at its
    # own scale: the sum of |terms| that made it (an error bound up to ~eps x depth), the larger of the two pieces'
    same = np.zeros(n_act - 1, dtype=bool)
    if n_act > 1:
        abs_a, abs_b = _affine(net, pats, n_act, absolute=True)
        rtol = 1e-12
        ok_a = np.abs(alpha[1:] - alpha[:-1]) <= rtol * np.maximum(abs_a[1:], abs_a[:-1])
        ok_b = np.abs(beta[1:] - beta[:-1]) <= rtol * np.maximum(abs_b[1:], abs_b[:-1])
        same = ok_a.reshape(n_act - 1, -1).all(axis=1) & ok_b.reshape(n_act - 1, -1).all(axis=1)
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    alpha, beta = alpha[starts], beta[starts]
    t = act_t[~same]
    piece_edges = np.concatenate([[0.0], t, [1.0]])
    slope = alpha @ d                     # (n_pieces, n_out)
    intercept = alpha @ a + beta
    return Pieces1D(a=a, b=b, t=t, points=a + t[:, None] * d, n_pieces=len(t) + 1, alpha=alpha, beta=beta,
                    activation_t=act_t, n_activation_intervals=n_act, edges=piece_edges, slope=slope,
                    intercept=intercept)


# ---- exact n-D enumeration -----------------------------------------------------------------------------------
def _linprog():
    try:
        from scipy.optimize import linprog
    except ImportError as exc:
        raise ImportError("fastmlp.regions: the n-D region enumeration solves small linear programs with scipy's "
                          "HiGHS solver; install the optional extra: pip install 'fastmlp[regions]'") from exc
    return linprog


@dataclass
class Region:
    """One activation region: the inputs x with ``H @ x < c`` on the ``strict`` rows and ``H @ x <= c`` on the
    others (one row per hidden unit, in layer order; rows are unit-normalised, a zero row is a unit that is
    constant on the region; the box is not included and rows may be redundant), on which the network is
    ``alpha @ x + beta``. ``pattern``: the activation pattern (one bool per hidden unit, layer after layer);
    ``point``: a point of the region (inside the box) at which the forward pass gives ``pattern``."""
    pattern: np.ndarray
    H: np.ndarray
    c: np.ndarray
    strict: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    point: np.ndarray

    def contains(self, X, tol=0.0):
        """Whether each row of X satisfies the region's half-spaces (to ``tol``)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.ndim != 2 or X.shape[1] != self.H.shape[1]:
            raise ValueError(f"X: expected points of shape (n, {self.H.shape[1]}), got shape {X.shape}")
        s = X @ self.H.T - self.c
        return np.all(np.where(self.strict, s < tol, s <= tol), axis=1)


class Regions:
    """All activation regions of a ReLU network that meet a box, from ``enumerate_regions``.

    ``len(regions)`` is the count; ``regions[k]`` a ``Region``. Arrays over all regions: ``patterns`` (K, units)
    bool, ``H`` (K, units, n_in), ``c``, ``strict`` (K, units), ``alpha`` (K, n_out, n_in), ``beta`` (K, n_out),
    ``points`` (K, n_in). ``cells`` is "full" (full-dimensional regions: the usual count of linear regions) or
    "all" (every non-empty cell, lower-dimensional ones included). ``n_lps`` LPs were solved in ``seconds``;
    ``n_repaired`` / ``n_rejected``: witnesses that failed the forward-pass check and were re-solved / dropped.
    ``bounds``: the shallow-net bound, the layer-product bound and 2^units for this architecture, beside the count.
    """

    def __init__(self, net, lo, hi, cells, patterns, H, c, strict, alpha, beta, points, hp_index, G, g0, stats,
                 seconds):
        self._net = net
        self.box = None if lo is None else np.stack([lo, hi], axis=1)
        self.cells = cells
        self.patterns, self.H, self.c, self.strict = patterns, H, c, strict
        self.alpha, self.beta, self.points = alpha, beta, points
        self.hyperplane_index, self.hyperplanes = hp_index, (G, g0)
        self.n_lps, self.n_lps_skipped, self.seconds = stats["lps"], stats["skipped"], seconds
        self.n_repaired, self.n_rejected = stats.get("repaired", 0), stats.get("rejected", 0)
        self._lookup = None

    @property
    def n_regions(self):
        return len(self.patterns)

    def __len__(self):
        return len(self.patterns)

    def __getitem__(self, k):
        return Region(self.patterns[k], self.H[k], self.c[k], self.strict[k], self.alpha[k], self.beta[k],
                      self.points[k])

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    @property
    def bounds(self):
        layers = [self._net.n_in] + self._net.widths + [self._net.n_out]
        units = sum(self._net.widths)
        return {"shallow": shallow_region_bound(self._net.n_in, units), "product": product_region_bound(layers),
                "patterns": pattern_bound(units)}

    def locate(self, X):
        """Index of the region each input lies in (by its activation pattern), -1 where the pattern is not one of
        the enumerated regions (outside the box, or a lower-dimensional cell when ``cells="full"``)."""
        X = _points("X", X, self._net.n_in)
        if self._lookup is None:
            self._lookup = {np.packbits(p).tobytes(): k for k, p in enumerate(self.patterns)}
        pats = _patterns(self._net, X)
        if not pats:
            return np.zeros(len(X), dtype=np.int64)
        packed = np.packbits(np.concatenate(pats, axis=1), axis=1)
        get = self._lookup.get
        return np.fromiter((get(row.tobytes(), -1) for row in packed), dtype=np.int64, count=len(X))

    def __repr__(self):
        box = "R^n" if self.box is None else f"box {self.box.tolist()}"
        return (f"<Regions: {len(self)} {'full-dimensional regions' if self.cells == 'full' else 'cells'} of a "
                f"{[self._net.n_in] + self._net.widths + [self._net.n_out]} network in {box}; {self.n_lps} LPs, "
                f"{self.seconds:.3g} s>")


def _lp_scale(net, centre, half):
    """The unit lengths S (n_in,) of the LPs' coordinates y = (x - centre) / S: S_i = min(half_i, R), R the largest
    distance from the centre of a first-layer hyperplane that can meet the box (its circumscribed ball), i.e. the
    extent of the arrangement in the box. Both scale with the inputs and ignore a shift, so the LPs do too; a
    box much larger than its features (R << half) is not resolved more coarsely. half = inf: all of R^n."""
    R = np.inf
    if len(net.Ws) > 1:
        W, b = net.Ws[0], net.bs[0]
        nrm = np.sqrt((W * W).sum(axis=1))
        ok = nrm > 0
        if ok.any():
            dist = np.abs(W[ok] @ centre + b[ok]) / nrm[ok]
            reach = float(np.sqrt((half * half).sum()))
            dist = dist[dist <= reach]
            if len(dist) and dist.max() > 0:
                R = float(dist.max())
    S = np.minimum(half, R)
    return np.where(np.isfinite(S), S, 1.0)


# HiGHS's feasibility tolerances, set explicitly (its smallest allowed values). The LPs are posed in box
# coordinates (the box mapped onto [-1, 1]^n, rows normalised there), so these are relative to the box's size.
_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def enumerate_regions(model, box=None, *, cells="full", max_regions=100_000, max_lps=20_000, max_seconds=None,
                      tol=1e-9):
    """Every activation region of a ReLU network that meets a box (exact, for small networks).

    box: ``(lo, hi)`` for every input, or an array ``[[lo_0, hi_0], ...]`` of shape (n_in, 2); None: all of R^n.
    cells: "full" counts the full-dimensional regions (the usual "number of linear regions"); "all" keeps every
        non-empty cell {active units > 0, inactive units <= 0}, lower-dimensional ones included, which covers
        every point of the box exactly once, down to the resolution below (what ``to_shallow`` needs).
    max_regions, max_lps, max_seconds: budgets; when one is exceeded a ``RegionBudgetError`` (a RuntimeError) is
        raised instead of running on (the count can be exponential in the depth). One LP takes ~1-2 ms, so the
        default ``max_lps=20_000`` stops a hopeless run after roughly 30 s; ``max_seconds`` (None: no limit)
        bounds the wall time directly.
    tol: the resolution, relative to the box. All LPs are posed after the affine change of variables
        x = centre + S * y (per input; centre: the box's centre, S_i = min(half-width_i, R), R the largest
        distance from the centre of a first-layer hyperplane that can meet the box: the extent of the
        arrangement there), with every half-space normalised in y, so the result does not depend on the inputs'
        units or offset. A region is found when, in y, it contains a ball of radius > ``tol`` (cells="full"),
        resp. a point at distance > ``tol`` from the hyperplanes of its active units (cells="all"); the ball's
        centre lies in the box, the ball need not. So regions or cells thinner than ~2 tol S can be missed, e.g.
        a sliver of width 1e-10 in the box [-1, 1]; shrink the box around it to resolve it. Values of tol below
        ~1e-9 approach HiGHS's feasibility tolerance (1e-10, set explicitly) and are not reliable.
        box=None: centre 0 and S = R over all first-layer hyperplanes (1 if they all pass through the origin).

    Depth-first search over the hidden units in layer order: each branch adds one normalised half-space; a child
    exists when the LP "max s subject to h.y + s <= c on the strict rows, h.y <= c on the others, s <= 1, y in
    the box" (scipy's HiGHS) has s > ``tol``; the solution is re-checked in numpy (rows' slack) rather than
    trusted. An infeasible prefix removes its whole subtree, and where the parent's point already lies clearly
    on one side of the new hyperplane, that child needs no LP. The number of LPs is at most units x regions, so
    the cost follows the output, not 2^units. Every region's witness point (``points``) is verified: the deep
    net's own forward pass there must give the region's pattern (cells="all": up to inactive units whose
    hyperplane passes within tol of it). A region that fails is re-solved once with all its rows and dropped
    if it still fails (``n_repaired``, ``n_rejected`` count these; they are numerical artefacts thinner than the
    resolution). A non-empty box always meets at least one region: if the search finds none (a box much
    smaller than the resolution of the network's hyperplanes), the region of the box's centre is returned.
    """
    if cells not in ("full", "all"):
        raise ValueError(f"cells: expected 'full' or 'all', got {cells!r}")
    for name, v in (("max_regions", max_regions), ("max_lps", max_lps)):
        if not _is_int(v) or v < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {v!r}")
    if max_seconds is not None and not (_real(max_seconds) and max_seconds > 0 and not math.isnan(max_seconds)):
        raise ValueError(f"max_seconds: expected None or a positive number, got {max_seconds!r}")
    if not (_real(tol) and 0 < tol < 0.5 and math.isfinite(tol)):
        raise ValueError(f"tol: expected a number in (0, 0.5), got {tol!r}")
    tol = float(tol)
    net = _net(model)
    n_in = net.n_in
    if box is None:
        lo = hi = None
        centre, half = np.zeros(n_in), np.full(n_in, np.inf)
    else:
        lo, hi = _box(box, n_in)
        centre, half = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo
        if not (half > 0).all():
            raise ValueError(f"box: too narrow to represent (half-widths {half.tolist()})")
    unit = _lp_scale(net, centre, half)        # x = centre + unit * y: the LPs' coordinates
    linprog = _linprog()
    t0 = time.perf_counter()
    deadline = None if max_seconds is None else t0 + float(max_seconds)
    widths = net.widths
    U = sum(widths)
    L = len(widths)
    full = cells == "full"
    # a witness decides a side without an LP when it lies this far (normalised, in y) from the hyperplane; never
    # less than tol, so that every region keeps a witness at distance > tol from its strict hyperplanes
    margin = max(1e-7, tol)
    ylim = None if lo is None else half / unit   # the box in y: [-ylim, ylim] (ylim >= 1)
    bounds = ([(None, None)] * n_in if lo is None else [(-v, v) for v in ylim.tolist()]) + [(None, 1.0)]
    cost = np.zeros(n_in + 1)
    cost[-1] = -1.0
    stats = {"lps": 0, "skipped": 0, "repaired": 0, "rejected": 0}

    def to_x(y):
        x = centre + unit * y
        return x if lo is None else np.clip(x, lo, hi)

    def check_time():
        if deadline is not None and time.perf_counter() > deadline:
            raise RegionBudgetError(
                f"enumerate_regions: more than max_seconds={max_seconds} s (found {len(out_pat)} regions so far, "
                f"{stats['lps']} LPs): raise max_seconds, shrink the box, or use pieces_1d for exact 1-D slices",
                len(out_pat), stats["lps"])

    def solve(Hs, rs, st):
        """A point y of {h.y + s <= r (strict rows), h.y <= r (others), s <= 1, box} with s > tol, or None."""
        if stats["lps"] >= max_lps:
            raise RegionBudgetError(
                f"enumerate_regions: more than max_lps={max_lps} linear programs needed (found {len(out_pat)} "
                f"regions so far): raise max_lps, shrink the box, or use pieces_1d for exact 1-D slices",
                len(out_pat), stats["lps"])
        check_time()
        stats["lps"] += 1
        A = np.zeros((len(rs), n_in + 1))
        A[:, :n_in] = Hs
        A[st, n_in] = 1.0
        for opts in ({"presolve": False}, {}):
            res = linprog(cost, A_ub=A, b_ub=rs, bounds=bounds, method="highs", options={**_HIGHS, **opts})
            if res.status in (0, 2):
                break
        else:
            raise RuntimeError(f"enumerate_regions: the LP solver failed ({res.message})")
        if res.status == 2 or (st.any() and res.x[n_in] <= tol):
            return None
        y = res.x[:n_in].copy()
        if lo is not None:
            y = np.clip(y, -ylim, ylim)
        # re-check in numpy: the strict rows' slack must exceed tol/2, the others must hold to HiGHS's tolerance
        slack = rs - Hs @ y
        if (st.any() and slack[st].min() <= 0.5 * tol) or (slack[~st].min(initial=0.0) < -1e-9):
            return None
        return y

    out_pat, out_H, out_c, out_st, out_a, out_b, out_pt, out_hp = [], [], [], [], [], [], [], []
    G_rows, g0_rows = [], []

    def layer_start(Z, cz):
        base = sum(len(g) for g in g0_rows)
        G_rows.append(Z)
        g0_rows.append(cz)
        return base

    if L == 0:  # one affine map: a single region, described by no half-spaces
        pt = to_x(np.zeros(n_in))[None, :]
        return Regions(net, lo, hi, cells, np.zeros((1, 0), bool), np.zeros((1, 0, n_in)), np.zeros((1, 0)),
                       np.zeros((1, 0), bool), net.Ws[0][None].copy(), net.bs[0][None].copy(), pt,
                       np.zeros((1, 0), np.int64), np.zeros((0, n_in)), np.zeros(0), stats,
                       time.perf_counter() - t0)

    def verified(pat, Hy, ry, st, use, w):
        """The witness (possibly re-solved) if the forward pass at it gives the region's pattern, else None."""
        pat = np.array(pat, dtype=bool)
        for attempt in (0, 1):
            fwd = np.concatenate(_patterns(net, to_x(w)[None, :]), axis=1)[0]
            bad = fwd != pat
            if not full:  # an inactive unit whose hyperplane passes within tol of the witness may read either way
                bad &= pat | (ry - Hy @ w > tol)
            if not bad.any():
                if attempt:
                    stats["repaired"] += 1
                return w
            if attempt == 0:
                w = solve(Hy[use], ry[use], st[use])
                if w is None:
                    break
        stats["rejected"] += 1
        return None

    def search(force=None):
        """The depth-first search; force: follow only this pattern, without LPs (the centre's region)."""
        empty = np.zeros((0, n_in))
        e0, b0 = np.zeros(0), np.zeros(0, bool)
        # node: (layer, unit, Z, cz, hp_base, pattern, H rows (x), rhs (x), H rows (y), rhs (y), strict,
        #        lp-row mask, hyperplane indices, witness in box coordinates)
        stack = [(0, 0, net.Ws[0], net.bs[0], layer_start(net.Ws[0], net.bs[0]), (), empty, e0, empty, e0, b0, b0,
                  (), np.zeros(n_in))]
        while stack:
            l, j, Z, cz, base, pat, Hs, rs, Hy, ry, st, use, hp, w = stack.pop()
            if j == widths[l]:  # layer complete: the next layer's pre-activations as affine maps of x
                s = np.array(pat[len(pat) - widths[l]:], dtype=bool)
                Zm, cm = Z * s[:, None], cz * s
                Zn, cn = net.Ws[l + 1] @ Zm, net.Ws[l + 1] @ cm + net.bs[l + 1]
                if l + 1 == L:  # a region
                    check_time()
                    if force is None:
                        w = verified(pat, Hy, ry, st, use, w)
                        if w is None:
                            continue
                    if len(out_pat) >= max_regions:
                        raise RegionBudgetError(
                            f"enumerate_regions: more than max_regions={max_regions} regions ({stats['lps']} LPs so "
                            f"far): raise max_regions, shrink the box, or use pieces_1d for exact 1-D slices",
                            len(out_pat), stats["lps"])
                    out_pat.append(pat)
                    out_H.append(Hs)
                    out_c.append(rs)
                    out_st.append(st)
                    out_a.append(Zn)
                    out_b.append(cn)
                    out_pt.append(to_x(w))
                    out_hp.append(hp)
                else:
                    stack.append((l + 1, 0, Zn, cn, layer_start(Zn, cn), pat, Hs, rs, Hy, ry, st, use, hp, w))
                continue
            z, zc = Z[j], cz[j]
            q = base + j
            zy = z * unit                      # the unit in the LP coordinates y: zy . y + (z . centre + zc)
            ny = math.sqrt(float(zy @ zy))
            if ny == 0.0:  # constant on this cell: one child, no hyperplane
                val = float(z @ centre + zc) if z.any() else float(zc)
                on = val > 0
                sg = 1.0 if on else -1.0
                stack.append((l, j + 1, Z, cz, base, pat + (bool(on),), np.vstack([Hs, np.zeros((1, n_in))]),
                              np.append(rs, sg * zc), np.vstack([Hy, np.zeros((1, n_in))]), np.append(ry, sg * val),
                              np.append(st, bool(on) or full), np.append(use, False), hp + (q,), w))
                continue
            nx = math.sqrt(float(z @ z))
            hx, rx = z / nx, zc / nx           # x-space row, unit-normalised (what Region.H reports)
            h, r = zy / ny, float(z @ centre + zc) / ny  # normalised in box coordinates: the signed distance there
            g = float(h @ w + r)
            kids = []
            for on in (False, True):  # pushed in this order: the active child is explored first
                if force is not None and on != bool(force[len(pat)]):
                    continue
                rows = np.concatenate([Hy, (-h if on else h)[None, :]])
                rhs = np.append(ry, r if on else -r)
                strict = np.append(st, on or full)
                usemask = np.append(use, True)
                if force is not None or (on and g > margin) or (not on and g < -margin):
                    stats["skipped"] += force is None
                    kid_w = w
                else:
                    kid_w = solve(rows[usemask], rhs[usemask], strict[usemask])
                    if kid_w is None:
                        continue
                kids.append((l, j + 1, Z, cz, base, pat + (on,), np.concatenate([Hs, (-hx if on else hx)[None, :]]),
                             np.append(rs, rx if on else -rx), rows, rhs, strict, usemask, hp + (q,), kid_w))
            stack.extend(kids)

    search()
    if not out_pat:  # every box meets a region: numerically none was found, so take the centre's
        G_rows.clear()
        g0_rows.clear()
        search(force=np.concatenate(_patterns(net, to_x(np.zeros(n_in))[None, :]), axis=1)[0])
    K = len(out_pat)
    G = np.concatenate(G_rows) if G_rows else np.zeros((0, n_in))
    g0 = np.concatenate(g0_rows) if g0_rows else np.zeros(0)
    return Regions(net, lo, hi, cells,
                   np.array(out_pat, dtype=bool).reshape(K, U),
                   np.array(out_H).reshape(K, U, n_in), np.array(out_c).reshape(K, U),
                   np.array(out_st, dtype=bool).reshape(K, U),
                   np.array(out_a).reshape(K, net.n_out, n_in), np.array(out_b).reshape(K, net.n_out),
                   np.array(out_pt).reshape(K, n_in), np.array(out_hp, dtype=np.int64).reshape(K, U), G, g0,
                   stats, time.perf_counter() - t0)


def count_regions(model, box=None, **kwargs):
    """The number of regions meeting the box, ``len(enumerate_regions(model, box, **kwargs))``: full-dimensional
    activation regions by default (the usual count), every non-empty cell with ``cells="all"``."""
    return len(enumerate_regions(model, box, **kwargs))


# ---- deep -> shallow -----------------------------------------------------------------------------------------
_ACT = {"identity": lambda z: z, "relu": lambda z: np.maximum(z, 0.0),
        "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), "tanh": np.tanh}


def _ext_relu(pre, inf):
    """relu(pre + inf * INF) in R with a formal infinity: the coefficient of infinity is summed first and
    0 * inf := 0, i.e. the pointwise limit M -> inf of relu(pre + M * inf)."""
    return np.where(inf < 0, 0.0, np.where(inf > 0, np.inf, np.maximum(pre, 0.0)))


class ShallowNet:
    """A ReLU network with three hidden layers equal to a deep ReLU network on every input of a box, built from
    the deep net's cells (``to_shallow``). Weights are extended reals ``W + inf * V``.

    Layer 1 (finite): ``u_q = relu(g_q(x))`` for each distinct hyperplane g_q (one per (layer, unit, pattern of
        the earlier layers)), and ``relu(+-(alpha_k x + beta_k))`` for each cell k and output.
    Layer 2: ``ind_q = relu(1 - inf * u_q)``, which is 1 exactly when g_q(x) <= 0 (0 * inf := 0), and the
        positive and negative parts passed through (relu of a value >= 0).
    Layer 3: ``relu(part_k - inf * S_k)`` with ``S_k = sum_q M[k, q] ind_q + m_k`` the number of cell k's
        conditions x violates (M = +1 for a unit the cell needs active, -1 for one it needs inactive, m_k the
        number of the latter): the cell's linear model where x is in the cell, 0 elsewhere.
    Output: the sum of the gated parts, then the deep net's output activation.

    Evaluation is symbolic in the infinite weights: a pre-activation is ``W h + b + inf * (V h + c)``, the
    coefficient of inf is summed first and inf * 0 := 0 (the limit of the big-M network as M -> inf). With
    IEEE arithmetic inf * 0 would be NaN; with a finite M (``to_finite``, ``to_mlp``) the net is an ordinary
    ReLU network but only an approximation, wrong in a band of width ~1/M around every cell boundary.
    Outside the box an input may lie in none of the cells: then no gate opens, ``cell_index`` says -1 and the
    output is NaN (the literal network of ``extended_layers`` would give 0 there, a silently wrong value). The
    same holds inside the box for points of cells thinner than the enumeration's resolution (``tol``), and for
    the lower-dimensional cells of a degenerate network when the ShallowNet is built from full-dimensional
    regions only (``ShallowNet(enumerate_regions(model, box))``): ``to_shallow`` keeps every cell.

    Attributes: ``G`` (Q, n_in), ``g0`` (Q,): the hyperplanes; ``M`` (K, Q) int8 and ``m`` (K,): the conditions;
    ``alpha`` (K, n_out, n_in), ``beta`` (K, n_out): the cells' linear models; ``widths``: the hidden widths.
    """

    def __init__(self, regions, output="identity"):
        G, g0 = regions.hyperplanes
        K, U = regions.patterns.shape
        self.G, self.g0 = np.array(G, dtype=np.float64), np.array(g0, dtype=np.float64)
        Q = len(self.g0)
        self.M = np.zeros((K, Q), dtype=np.int8)
        rows = np.repeat(np.arange(K), U)
        self.M[rows, regions.hyperplane_index.ravel()] = np.where(regions.patterns.ravel(), 1, -1)
        self.m = (~regions.patterns).sum(axis=1).astype(np.int64)
        self.alpha, self.beta = np.array(regions.alpha), np.array(regions.beta)
        self._Mt = np.ascontiguousarray(self.M.T, dtype=np.float32)   # converted once, not per chunk
        self._m32 = self.m.astype(np.float32)
        self.box = regions.box
        self.output = output
        self.n_in, self.n_out = self.G.shape[1], self.beta.shape[1]
        self.n_cells, self.n_hyperplanes = K, Q
        P = K * self.n_out
        self.widths = [Q + 2 * P, Q + 2 * P, 2 * P]

    def _open(self, X):
        """The (rows, cells) bool matrix of open gates: S_k == 0, i.e. x satisfies every condition of cell k."""
        u = np.maximum(X @ self.G.T + self.g0, 0.0)
        ind = (u == 0.0).astype(np.float32)              # relu(1 - inf * u), symbolically
        S = ind @ self._Mt + self._m32                   # integer counts, exact in float32 below 2^24
        return S == 0

    def _chunk(self):
        """Rows per evaluation chunk: u (8 B), ind (4 B) per hyperplane, S (4 B) and the gate (1 B) per cell,
        about 64 MB in all, however many cells there are."""
        return _rows_per_chunk(12 * self.n_hyperplanes + 5 * self.n_cells + 16 * self.n_out + 8 * self.n_in)

    def cell_index(self, X):
        """The cell whose gate is open at each input, -1 where none is (an input outside the box that no cell
        contains, or one the enumeration's resolution missed; see ``enumerate_regions``'s tol)."""
        X = _points("X", X, self.n_in)
        out = np.empty(len(X), dtype=np.int64)
        step = self._chunk()
        for i in range(0, len(X), step):
            hit = self._open(X[i:i + step])
            out[i:i + step] = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
        return out

    def logits(self, X):
        """The output before the output activation (what the cells' linear models give); NaN on the rows of
        inputs where no cell's gate is open (``cell_index`` -1)."""
        X = _points("X", X, self.n_in)
        out = np.empty((len(X), self.n_out))
        step = self._chunk()
        for i in range(0, len(X), step):
            Xc = X[i:i + step]
            hit = self._open(Xc)
            # relu(part - inf * S) passes part only where S == 0; the output sums the open cells' parts (their
            # positive minus their negative part: exactly the linear model). The cells partition space, so one
            # gate at most is open: evaluate only the open cells' models.
            r, k = np.nonzero(hit)
            o = np.zeros((len(Xc), self.n_out))
            np.add.at(o, r, np.einsum("ri,roi->ro", Xc[r], self.alpha[k]) + self.beta[k])
            o[~hit.any(axis=1)] = np.nan
            out[i:i + step] = o
        return out

    def __call__(self, X):
        """The network's output (as ``model.forward`` for the deep net), float64, shape (n, n_out); NaN where no
        cell applies (see ``logits``)."""
        return _ACT[self.output](self.logits(X))

    forward = __call__

    def extended_layers(self):
        """The four weight layers as dense extended-real arrays ``[(W, b, V, c), ...]``: layer i computes
        ``relu(W h + b + inf * (V h + c))`` (the last, the output, has V = 0, c = 0 and no relu). Memory grows as
        the square of the width: for small nets, to inspect or export."""
        Q, K, n_out, n_in = self.n_hyperplanes, self.n_cells, self.n_out, self.n_in
        P = K * n_out
        A = self.alpha.reshape(P, n_in)
        B = self.beta.reshape(P)
        w1, w2, w3 = self.widths
        W1 = np.concatenate([self.G, A, -A])
        b1 = np.concatenate([self.g0, B, -B])
        W2, b2 = np.zeros((w2, w1)), np.zeros(w2)
        V2, c2 = np.zeros((w2, w1)), np.zeros(w2)
        b2[:Q] = 1.0
        V2[:Q, :Q] = -np.eye(Q)
        W2[Q:, Q:] = np.eye(2 * P)
        W3, b3 = np.zeros((w3, w2)), np.zeros(w3)
        V3, c3 = np.zeros((w3, w2)), np.zeros(w3)
        W3[:, Q:] = np.eye(2 * P)
        Mk = np.repeat(self.M.astype(np.float64), n_out, axis=0)   # row k * n_out + o
        mk = np.repeat(self.m.astype(np.float64), n_out)
        V3[:P, :Q], V3[P:, :Q] = -Mk, -Mk
        c3[:P], c3[P:] = -mk, -mk
        W4 = np.concatenate([np.eye(n_out)[np.tile(np.arange(n_out), K)].T,
                             -np.eye(n_out)[np.tile(np.arange(n_out), K)].T], axis=1)
        zeros = lambda W: (np.zeros_like(W), np.zeros(W.shape[0]))  # noqa: E731
        return [(W1, b1) + zeros(W1), (W2, b2, V2, c2), (W3, b3, V3, c3), (W4, np.zeros(n_out)) + zeros(W4)]

    def to_finite(self, M=1e6):
        """A finite big-M version ``[(W + M V, b + M c), ...]`` of ``extended_layers()``: an ordinary ReLU network
        that is only APPROXIMATELY equal to the deep net: wrong in a band of width ~1/M around cell boundaries."""
        if not (M > 0 and math.isfinite(M)):
            raise ValueError(f"M: expected a finite positive number, got {M!r}")
        return [(W + M * V, b + M * c) for W, b, V, c in self.extended_layers()]

    def to_mlp(self, M=1e6):
        """The big-M approximation (``to_finite``) as a float64 ``fastmlp.MLP`` [n_in, *widths, n_out]."""
        from ..mlp import MLP
        net = MLP([self.n_in] + self.widths + [self.n_out], activation="relu", output=self.output, dtype="float64")
        for (W, b), (Wm, bm) in zip(net.params, self.to_finite(M)):
            W[...] = Wm
            b[...] = bm
        return net

    def __repr__(self):
        return (f"<ShallowNet {self.n_in}-{'-'.join(map(str, self.widths))}-{self.n_out}: {self.n_cells} cells, "
                f"{self.n_hyperplanes} hyperplanes>")


def _ext_forward(layers, X):
    """Evaluate ``extended_layers()`` directly (the reference for ``ShallowNet``)."""
    h = np.asarray(X, dtype=np.float64)
    for W, b, V, c in layers[:-1]:
        h = _ext_relu(h @ W.T + b, h @ V.T + c)
    W, b, _, _ = layers[-1]
    return h @ W.T + b


def to_shallow(model, box, **kwargs):
    """A ``ShallowNet`` (three hidden layers) equal to the deep ReLU network on every input of the box, region
    boundaries included: built from every non-empty cell (``enumerate_regions(model, box, cells="all")``; the
    budgets ``max_regions``, ``max_lps``, ``max_seconds`` and ``tol`` pass through). ``box=None``: all of R^n (more
    cells). Inputs in no cell (outside the box, or in a cell thinner than the resolution) evaluate to NaN."""
    regions = enumerate_regions(model, box, cells="all", **kwargs)
    return ShallowNet(regions, output=regions._net.output)


# ---- explanations --------------------------------------------------------------------------------------------
def linear_shap(model, X, background):
    """Exact SHAP values of each input's LOCAL LINEAR MODEL (not of the network): ``phi[i, o, j] =
    alpha[i, o, j] * (X[i, j] - mean(background[:, j]))``, shape (n, n_out, n_in). For the region's linear model g
    they add up to ``g(x) - mean g(background)``; for the network this is only a local approximation (the
    background may lie in other regions). For the network's own Shapley values see ``shapley_values``."""
    net = _net(model)
    X = _points("X", X, net.n_in)
    bg = _points("background", background, net.n_in)
    alpha, _ = _affine(net, _patterns(net, X), len(X))
    return alpha * (X - bg.mean(axis=0))[:, None, :]


def shapley_values(model, X, background, max_features=16):
    """Exact interventional Shapley values of the network's output (``model.forward``, any activation) over a
    background set: the value of a coalition S is ``mean_b f(x_S, b_rest)`` over the background rows b, and all
    2^n_in coalitions are evaluated (n_in <= max_features, else ValueError). Shape (n, n_out, n_in); additivity:
    ``phi.sum(-1) = f(x) - mean f(background)``. Cost: 2^n_in x len(background) forward rows per input."""
    if not hasattr(model, "forward") or not hasattr(model, "layers"):
        raise TypeError(f"model: expected a fastmlp.MLP, got {type(model).__name__}")
    if not _is_int(max_features):
        raise TypeError(f"max_features: expected an int, got {type(max_features).__name__} {max_features!r}")
    if max_features < 1:
        raise ValueError(f"max_features: expected an int >= 1, got {max_features}")
    n = int(model.layers[0])
    if n > max_features:
        raise ValueError(f"shapley_values: {n} features need 2^{n} coalitions per input; refusing more than "
                         f"max_features={max_features} (use linear_shap, or raise max_features knowingly)")
    X = _points("X", X, n)
    bg = _points("background", background, n)
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
            v[c0:c0 + chunk] = np.asarray(model.forward(rows), dtype=np.float64).reshape(len(mk), len(bg), -1).mean(1)
        for j in range(n):
            S = np.flatnonzero(~masks[:, j])
            phi[i, :, j] = w[size[S]] @ (v[S | (1 << j)] - v[S])
    return phi


# ---- bounds --------------------------------------------------------------------------------------------------
def shallow_region_bound(n_in, n_units):
    """The most regions D = n_units ReLU units (hyperplanes) in general position cut R^d, d = n_in, into:
    sum_{j <= d} C(D, j) (Zaslavsky), an exact Python int; 2^D when d >= D."""
    for name, v in (("n_in", n_in), ("n_units", n_units)):
        if not _is_int(v) or v < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {v!r}")
    return sum(math.comb(int(n_units), j) for j in range(min(int(n_in), int(n_units)) + 1))


def pattern_bound(n_units):
    """2^n_units: the number of activation patterns, a trivial bound on the number of regions."""
    if not _is_int(n_units) or n_units < 0:
        raise ValueError(f"n_units: expected an int >= 0, got {n_units!r}")
    return 1 << int(n_units)


def product_region_bound(layers):
    """Layer-product upper bound (Montufar 2017; Serra et al. 2018 tighten it) for layer sizes
    [n_0, n_1, ..., n_L, n_out] (or a model): prod_l sum_{j <= d_l} C(n_l, j), d_l = min(n_0, ..., n_{l-1})."""
    if hasattr(layers, "layers"):
        layers = layers.layers
    try:
        layers = list(layers)
    except TypeError:
        raise ValueError(f"layers: expected a list of layer sizes, got {layers!r}") from None
    if not all(_is_int(v) for v in layers):
        raise ValueError(f"layers: expected integer layer sizes, got {layers}")
    layers = [int(v) for v in layers]
    if len(layers) < 2 or min(layers) < 1:
        raise ValueError(f"layers: expected [n_in, ..., n_out] with sizes >= 1, got {layers}")
    bound, d = 1, layers[0]
    for width in layers[1:-1]:
        bound *= shallow_region_bound(d, width)
        d = min(d, width)
    return bound


# ---- plots ---------------------------------------------------------------------------------------------------
def _new_ax(ax, figsize):
    """The given axes, or new ones on a figure that needs no display (matplotlib's Agg canvas, no pyplot)."""
    from ..apps.plots import require

    require()
    from matplotlib.figure import Figure

    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def plot_pieces_1d(model, a, b, ax=None, output=0, data=None):
    """The network along the segment a -> b drawn exactly from its affine pieces (each piece in its own colour),
    breakpoints (where the map changes) marked with dashed lines and dots, and unit switches that leave the map
    unchanged as grey crosses. For a 1-input net the horizontal axis is x, else the parameter t in [0, 1].
    data: optional (X, y) training points to scatter (1-input nets). Returns the axes (``ax.figure.savefig``)."""
    pieces = pieces_1d(model, a, b)
    ax = _new_ax(ax, (7, 4.2))
    net = _net(model)
    if not 0 <= output < net.n_out:
        raise ValueError(f"output: expected an index in [0, {net.n_out}), got {output}")
    one = net.n_in == 1
    to_x = (lambda t: pieces.a[0] + t * (pieces.b[0] - pieces.a[0])) if one else (lambda t: t)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    if data is not None:
        Xd, yd = np.asarray(data[0], dtype=np.float64), np.asarray(data[1], dtype=np.float64)
        ax.scatter(Xd.reshape(len(Xd), -1)[:, 0], yd.reshape(len(yd), -1)[:, output], s=10, c="0.6",
                   label="data", zorder=1)
    e = pieces.edges
    for k in range(pieces.n_pieces):
        tt = np.array([e[k], e[k + 1]])
        ax.plot(to_x(tt), pieces.slope[k, output] * tt + pieces.intercept[k, output], lw=2.2,
                color=colours[k % len(colours)], zorder=3)
    if len(pieces.t):
        yb = pieces(pieces.t)[:, output]
        for tb in pieces.t:
            ax.axvline(to_x(tb), color="0.5", ls="--", lw=0.8, zorder=2)
        ax.plot(to_x(pieces.t), yb, "o", color="k", ms=5, zorder=4, label=f"breakpoints ({len(pieces.t)})")
    silent = np.setdiff1d(pieces.activation_t, pieces.t)
    if len(silent):
        ax.plot(to_x(silent), pieces(silent)[:, output], "x", color="0.2", ms=9, mew=2, zorder=4,
                label=f"unit switches, same map ({len(silent)})")
    ax.set_xlabel("x" if one else "t  (x = a + t (b - a))")
    ax.set_ylabel("network output" + (f" {output}" if net.n_out > 1 else "") +
                  ("" if net.output == "identity" else " (pre-activation)"))
    ax.set_title(f"{pieces.n_pieces} linear pieces, {len(pieces.t)} breakpoints "
                 f"({pieces.n_activation_intervals} activation intervals)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    return ax


def plot_regions_2d(model, box, ax=None, resolution=400, regions=None, seed=0, **kwargs):
    """The activation regions of a 2-input ReLU net in a box, each in its own colour, with region boundaries
    drawn; the title gives the exact count of full-dimensional activation regions (not of maximal affine
    pieces; ``enumerate_regions``: pass ``regions=`` to reuse one, other keyword arguments go to it) and the
    most a shallow net with as many units could have, sum_{j <= 2} C(D, j). Returns the axes."""
    net = _net(model)
    if net.n_in != 2:
        raise ValueError(f"plot_regions_2d: needs a 2-input network, got {net.n_in} inputs")
    lo, hi = _box(box, 2)
    if not _is_int(resolution) or resolution < 2:
        raise ValueError(f"resolution: expected an int >= 2, got {resolution!r}")
    ax = _new_ax(ax, (6.4, 6))
    from matplotlib.colors import ListedColormap
    if regions is None:
        regions = enumerate_regions(model, box, **kwargs)
    K = len(regions)
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    XX, YY = np.meshgrid(xs, ys)
    idx = regions.locate(np.column_stack([XX.ravel(), YY.ravel()])).reshape(resolution, resolution)
    rng = np.random.default_rng(seed)
    hues = (np.arange(K) / max(K, 1) + rng.uniform()) % 1.0
    rng.shuffle(hues)
    from matplotlib.colors import hsv_to_rgb
    sat = 0.35 + 0.3 * rng.uniform(size=K)
    val = 0.8 + 0.2 * rng.uniform(size=K)
    cmap = ListedColormap(hsv_to_rgb(np.column_stack([hues, sat, val])) if K else ["white"])
    ext = [lo[0], hi[0], lo[1], hi[1]]
    ax.imshow(np.ma.masked_less(idx, 0), origin="lower", extent=ext, cmap=cmap, vmin=-0.5, vmax=K - 0.5,
              interpolation="nearest", aspect="auto")
    edge = np.zeros(idx.shape, dtype=bool)
    edge[:, 1:] |= idx[:, 1:] != idx[:, :-1]
    edge[1:, :] |= idx[1:, :] != idx[:-1, :]
    ax.imshow(np.ma.masked_where(~edge, edge.astype(float)), origin="lower", extent=ext, cmap="gray_r",
              vmin=0, vmax=1, interpolation="nearest", aspect="auto", alpha=0.8)
    D = sum(net.widths)
    ax.set_xlabel("$x_1$ (input 0)")
    ax.set_ylabel("$x_2$ (input 1)")
    ax.set_title(f"{K} activation regions of a {'-'.join(map(str, [2] + net.widths + [net.n_out]))} ReLU net\n"
                 f"a shallow net with D = {D} units has at most "
                 f"$\\sum_{{j\\leq 2}}\\binom{{{D}}}{{j}}$ = {shallow_region_bound(2, D)}", fontsize=11)
    return ax

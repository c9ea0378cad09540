"""Exact 1-D analysis (no LP): the pieces of a network along a segment, by layer-wise refinement."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .patterns import affine_maps
from .readers import is_real, read_net, read_point


@dataclass
class Pieces1D:
    """The exact piecewise-linear structure of a network along the segment x(t) = a + t (b - a), t in [0, 1].

    Made by ``pieces_1d``.

    Attributes
    ----------
    t, points : ndarray
        Where the affine map changes (sorted, strictly inside (0, 1)), as parameters and as input points.
    n_pieces : int
        The number of maximal affine pieces (``len(t) + 1``): sub-segments on which the network's affine map
        (alpha, beta) in input space is one and the same.
    alpha, beta : ndarray, shapes (n_pieces, n_out, n_in) and (n_pieces, n_out)
        The map on each piece, ``f(x) = alpha[k] @ x + beta[k]``.
    activation_t : ndarray
        Every point where some hidden unit switches (a superset of t).
    n_activation_intervals : int
        ``len(activation_t) + 1``: the number of activation regions the segment passes through.
    edges : ndarray
        ``[0, *t, 1]``, the pieces' ends.
    slope, intercept : ndarray, shape (n_pieces, n_out)
        The 1-D function along the segment, ``f(x(s)) = slope[k] s + intercept[k]`` on piece k.

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([1, 2, 1], dtype="float64")
    >>> model.set_flat_params([1, 1, 0, -1, 1, 1, 0])            # relu(x) + relu(x - 1)
    >>> p = regions.pieces_1d(model, -2.0, 2.0)
    >>> p.t.tolist(), p.slope[:, 0].tolist()                     # breaks at x = 0 and 1; slopes along t
    ([0.5, 0.75], [0.0, 4.0, 8.0])
    >>> int(p.piece_of(0.6))
    1
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
        """The index of the piece each parameter value t lies in (a breakpoint belongs to the piece on its right).

        Parameters
        ----------
        t : float or array_like
            Parameters along the segment, in [0, 1].

        Returns
        -------
        int or ndarray of int
            The piece of each t.
        """
        return np.clip(np.searchsorted(self.t, np.asarray(t, dtype=np.float64), side="right"), 0,
                       self.n_pieces - 1)

    def __call__(self, t):
        """The network's output (pre-activation) at x(t), from the pieces: shape (len(t), n_out)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        k = self.piece_of(t)
        return self.slope[k] * t[:, None] + self.intercept[k]


def pieces_1d(model, a, b, tol=None):
    """Exact 1-D analysis along the segment from a to b: its activation intervals and affine pieces.

    Layer-wise refinement, no sampling: on each current interval the earlier layers' pattern is fixed, so every
    unit of the next layer is affine in t and its zero crossing inside the interval is computed in closed form.
    Cost O(intervals x parameters). Neighbouring activation intervals are one affine piece when their (alpha,
    beta) agree to rounding, judged entry by entry at the entries' own scale (the sum of the absolute values of
    the terms), not at a global one.

    Parameters
    ----------
    model : MLP
        A network whose hidden layers are all "relu".
    a, b : array_like
        The segment's ends, points of input space (scalars for 1-input nets).
    tol : float, optional
        Crossings closer than ``tol`` (in t) are merged; the default (None) is the floating-point resolution of
        the segment, ``64 eps max(1, max abs(a), max abs(b)) / max abs(b - a)`` (points x(t) closer than that are
        a few ulps apart), so real breakpoints are kept however long the segment is.

    Returns
    -------
    Pieces1D
        Activation intervals and merged affine pieces, reported separately (they differ when a unit switches
        without changing the map).

    Raises
    ------
    ValueError
        A hidden activation is not relu, or a == b.

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([1, 2, 1], dtype="float64")
    >>> model.set_flat_params([1, 1, 0, -1, 1, 1, 0])            # relu(x) + relu(x - 1)
    >>> p = regions.pieces_1d(model, -2.0, 2.0)
    >>> p.n_pieces, p.points[:, 0]
    (3, array([0., 1.]))
    """
    net = read_net(model)
    a = read_point("a", a, net.n_in)
    b = read_point("b", b, net.n_in)
    d = b - a
    if tol is None:
        span = float(np.max(np.abs(d)))
        tol = 0.0 if span == 0.0 else \
            64 * np.finfo(np.float64).eps * max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b)))) / span
        tol = min(tol, 0.25)
    elif not (is_real(tol) and 0 <= tol < 0.5):
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
    alpha, beta = affine_maps(net, pats, n_act)
    # maximal affine pieces: merge neighbours whose (alpha, beta) agree to rounding. Each entry is compared at its
    # own scale: the sum of |terms| that made it (an error bound up to ~eps x depth), the larger of the two pieces'
    same = np.zeros(n_act - 1, dtype=bool)
    if n_act > 1:
        abs_a, abs_b = affine_maps(net, pats, n_act, absolute=True)
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

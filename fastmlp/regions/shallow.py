"""Deep -> shallow: ``ShallowNet``, a ReLU network with three hidden layers and extended-real weights that equals a
deep ReLU network on every input of a box (region boundaries included), built from its cells (``to_shallow``)."""
from __future__ import annotations

import math

import numpy as np

from ..mlp import MLP
from ..network import NUMPY_ACTIVATIONS
from .enumeration import enumerate_regions
from .readers import is_real, read_points, rows_per_chunk


def _ext_relu(pre, inf):
    """relu(pre + inf * INF) in R with a formal infinity: the coefficient of infinity is summed first and
    0 * inf := 0, i.e. the pointwise limit M -> inf of relu(pre + M * inf)."""
    return np.where(inf < 0, 0.0, np.where(inf > 0, np.inf, np.maximum(pre, 0.0)))


class ShallowNet:
    """A ReLU network with three hidden layers equal to a deep ReLU network on every input of a box, built from
    the deep net's cells (``to_shallow``). Weights are extended reals ``W + inf * V``.

    - Layer 1 (finite): ``u_q = relu(g_q(x))`` for each distinct hyperplane g_q (one per (layer, unit, pattern of
      the earlier layers)), and ``relu(+-(alpha_k x + beta_k))`` for each cell k and output.
    - Layer 2: ``ind_q = relu(1 - inf * u_q)``, which is 1 exactly when g_q(x) <= 0 (0 * inf := 0), and the
      positive and negative parts passed through (relu of a value >= 0).
    - Layer 3: ``relu(part_k - inf * S_k)`` with ``S_k = sum_q M[k, q] ind_q + m_k`` the number of cell k's
      conditions x violates (M = +1 for a unit the cell needs active, -1 for one it needs inactive, m_k the
      number of the latter): the cell's linear model where x is in the cell, 0 elsewhere.
    - Output: the sum of the gated parts, then the deep net's output activation.

    Evaluation is symbolic in the infinite weights: a pre-activation is ``W h + b + inf * (V h + c)``, the
    coefficient of inf is summed first and inf * 0 := 0 (the limit of the big-M network as M -> inf). With
    IEEE arithmetic inf * 0 would be NaN; with a finite M (``to_finite``, ``to_mlp``) the net is an ordinary
    ReLU network but only an approximation, wrong in a band of width ~1/M around every cell boundary.
    Outside the box an input may lie in none of the cells: then no gate opens, ``cell_index`` says -1 and the
    output is NaN (the literal network of ``extended_layers`` would give 0 there, a silently wrong value). The
    same holds inside the box for points of cells thinner than the enumeration's resolution (``tol``), and for
    the lower-dimensional cells of a degenerate network when the ShallowNet is built from full-dimensional
    regions only (``ShallowNet(enumerate_regions(model, box))``): ``to_shallow`` keeps every cell.

    Parameters
    ----------
    regions : Regions
        The deep net's cells (``enumerate_regions(model, box, cells="all")``; ``to_shallow`` makes them).
    output : str, default "identity"
        The deep net's output activation.

    Attributes
    ----------
    G, g0 : ndarray, shapes (Q, n_in) and (Q,)
        The hyperplanes.
    M, m : ndarray, shapes (K, Q) int8 and (K,)
        The conditions.
    alpha, beta : ndarray, shapes (K, n_out, n_in) and (K, n_out)
        The cells' linear models.
    widths : list of int
        The hidden widths.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([1, 3, 1], dtype="float64", seed=0)
    >>> shallow = regions.to_shallow(model, (-2, 2))
    >>> x = np.linspace(-2, 2, 9).reshape(-1, 1)
    >>> len(shallow.widths), bool(np.abs(shallow(x) - model.forward(x)).max() < 1e-12)
    (3, True)
    """

    def __init__(self, regions, output="identity"):
        G, g0 = regions.hyperplanes
        K, U = regions.patterns.shape
        self.G, self.g0 = np.array(G, dtype=np.float64), np.array(g0, dtype=np.float64)
        self._patterns = np.array(regions.patterns, dtype=bool)
        self._hp = np.array(regions.hyperplane_index, dtype=np.int64)
        self.m = (~self._patterns).sum(axis=1).astype(np.int64)
        self.alpha, self.beta = np.array(regions.alpha), np.array(regions.beta)
        self.box = regions.box
        self.output = output
        self.n_in, self.n_out = self.G.shape[1], self.beta.shape[1]
        self.n_cells, self.n_hyperplanes = K, len(self.g0)
        P = K * self.n_out
        self.widths = [self.n_hyperplanes + 2 * P, self.n_hyperplanes + 2 * P, 2 * P]
        # the evaluation walks the hyperplane blocks layer by layer (see _open): per layer, the block (its first
        # hyperplane) of each prefix of the earlier layers' pattern, and the cells by their whole pattern
        widths = list(regions._net.widths) if K else []
        self._offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        self._blocks = []
        for li in range(len(widths)):
            keys = np.packbits(self._patterns[:, :self._offsets[li]], axis=1)
            self._blocks.append({keys[k].tobytes(): int(self._hp[k, self._offsets[li]]) for k in range(K)})
        packed = np.packbits(self._patterns, axis=1)
        self._cells = {packed[k].tobytes(): k for k in range(K)}
        self._M = None

    @property
    def M(self):
        """(K, Q) int8: +1 where cell k needs hyperplane q's unit active, -1 inactive, 0 where q is not one of its
        conditions (dense: K x Q bytes, built on first use; the evaluation does not need it)."""
        if self._M is None:
            M = np.zeros((self.n_cells, self.n_hyperplanes), dtype=np.int8)
            rows = np.repeat(np.arange(self.n_cells), self._patterns.shape[1])
            M[rows, self._hp.ravel()] = np.where(self._patterns.ravel(), 1, -1)
            self._M = M
        return self._M

    def _open(self, X):
        """The cell whose gate is open at each row of X (-1: none), i.e. the cell k with S_k == 0: x satisfies
        every condition of cell k (g_q(x) > 0 for its active units' hyperplanes q, <= 0 for the others).

        Evaluated without the dense (cells x hyperplanes) product: the cells' conditions come in blocks, one per
        (layer, pattern of the earlier layers). Cell k is open at x iff its layer-1 bits are the signs of block 0
        at x, its layer-2 bits the signs of the block of its layer-1 bits, and so on; so following the signs
        block by block from layer 1 gives the one pattern an open cell can have, and the cell with that pattern
        (if any) is the open one -- the same answer as counting every cell's violated conditions, with the same
        floats g_q(x) = G[q] . x + g0[q]."""
        n = len(X)
        if not self._blocks:
            return np.zeros(n, dtype=np.int64)
        bits = np.zeros((n, self._offsets[-1]), dtype=bool)
        alive = np.ones(n, dtype=bool)
        for li, blocks in enumerate(self._blocks):
            lo, hi = self._offsets[li], self._offsets[li + 1]
            live = np.flatnonzero(alive)
            if not len(live):
                break
            keys = np.packbits(bits[live, :lo], axis=1)
            _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            order = np.argsort(inv.ravel(), kind="stable")
            bounds = np.searchsorted(inv.ravel()[order], np.arange(len(first) + 1))
            for g, r0 in enumerate(first):
                rows = live[order[bounds[g]:bounds[g + 1]]]
                base = blocks.get(keys[r0].tobytes())
                if base is None:
                    alive[rows] = False
                    continue
                q = np.arange(base, base + hi - lo)
                bits[rows, lo:hi] = (X[rows] @ self.G[q].T + self.g0[q]) > 0
        packed = np.packbits(bits, axis=1)
        get = self._cells.get
        return np.fromiter((get(row.tobytes(), -1) if ok else -1 for row, ok in zip(packed, alive)), dtype=np.int64,
                           count=n)

    def _chunk(self):
        """Rows per evaluation chunk (about 64 MB of working memory)."""
        return rows_per_chunk(8 * (self.n_in + self.n_out + 4) + 2 * max(self._patterns.shape[1], 1))

    def cell_index(self, X):
        """The cell whose gate is open at each input.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The inputs.

        Returns
        -------
        ndarray of int64, shape (n,)
            The cell, -1 where none is open (an input outside the box that no cell contains, or one the
            enumeration's resolution missed; see ``enumerate_regions``'s tol).
        """
        X = read_points("X", X, self.n_in)
        out = np.empty(len(X), dtype=np.int64)
        step = self._chunk()
        for i in range(0, len(X), step):
            out[i:i + step] = self._open(X[i:i + step])
        return out

    def logits(self, X):
        """The output before the output activation (what the cells' linear models give).

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The inputs.

        Returns
        -------
        ndarray, shape (n, n_out)
            float64; NaN on the rows of inputs where no cell's gate is open (``cell_index`` -1).
        """
        X = read_points("X", X, self.n_in)
        out = np.empty((len(X), self.n_out))
        step = self._chunk()
        for i in range(0, len(X), step):
            Xc = X[i:i + step]
            k = self._open(Xc)
            # relu(part - inf * S) passes part only where S == 0; the output sums the open cells' parts (their
            # positive minus their negative part: exactly the linear model). The cells partition space, so one
            # gate at most is open: evaluate only the open cell's model.
            kk = np.maximum(k, 0)
            o = np.einsum("ri,roi->ro", Xc, self.alpha[kk]) + self.beta[kk]
            o[k < 0] = np.nan
            out[i:i + step] = o
        return out

    def __call__(self, X):
        """The network's output (as ``model.forward`` for the deep net); ``forward`` is the same.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The inputs.

        Returns
        -------
        ndarray, shape (n, n_out)
            float64; NaN where no cell applies (see ``logits``).
        """
        return NUMPY_ACTIVATIONS[self.output](self.logits(X))

    forward = __call__

    def extended_layers(self):
        """The four weight layers as dense extended-real arrays ``[(W, b, V, c), ...]``.

        Layer i computes ``relu(W h + b + inf * (V h + c))`` (the last, the output, has V = 0, c = 0 and no
        relu). Memory grows as the square of the width: for small nets, to inspect or export.

        Returns
        -------
        list of tuple of ndarray
            ``(W, b, V, c)`` per layer.
        """
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

    # the accuracy the big-M export keeps: its cancellation error at most this fraction of the output scale
    BIG_M_RTOL = 1e-6

    def output_scale(self):
        """A bound s on ``abs(alpha_k x + beta_k)`` (every cell's linear model, every output) over the box.

        The box is the unit box ``[-1, 1]^n_in`` for a ShallowNet of all of R^n: s is the scale of the parts the
        big-M network gates.

        Returns
        -------
        float
            The bound s (at least the smallest normal float64).
        """
        r = np.ones(self.n_in) if self.box is None else np.abs(np.asarray(self.box, dtype=np.float64)).max(axis=1)
        s = float((np.abs(self.alpha) @ r + np.abs(self.beta)).max()) if self.n_cells else 0.0
        return max(s, np.finfo(np.float64).tiny)

    def big_m_range(self):
        """(M_min, M_max): the finite M for which the big-M network (``to_finite``, ``to_mlp``) is right away from
        the cell boundaries, to ``BIG_M_RTOL`` (1e-6) of the output scale s (``output_scale``).

        Too small: a closed gate computes ``relu(part_k - M S_k)`` with ``S_k >= 1`` violated conditions and
        ``abs(part_k) <= s``, which is 0 only if M > s: ``M_min = s`` (the wrong band around a boundary is
        ``~1/(M abs(g_q))`` wide, so take M well above it).
        Too big (cancellation): in the open cell's gate the part (``abs(part) <= s``) is summed in float64 with the
        Q + 1 terms -M M[k, q] ind_q and -M m_k, each of magnitude M; whatever the summation order the rounding
        error is at most ``gamma_n sum(abs(terms)) ~ (Q + 2) u M`` (Q + m_k + 1) (Higham's bound, u = 2^-53 the unit
        roundoff, n = Q + 2 terms), and the two gated parts (positive and negative) double it. Keeping that below
        BIG_M_RTOL * s gives M_max = BIG_M_RTOL * s / (2 (Q + 2) u (Q + max m_k + 1)). Beyond it the output is
        wrong everywhere, not only near boundaries: with M = 1e20 the ulp of M alone (16384) swamps every
        part. When M_min >= M_max (about Q^2 > 1e-6 / u), no finite M is accurate: ``to_finite`` refuses.

        Returns
        -------
        tuple of float
            ``(M_min, M_max)``.
        """
        s = self.output_scale()
        u = np.finfo(np.float64).eps / 2
        Q = self.n_hyperplanes
        m = int(self.m.max()) if self.n_cells else 0
        return s, self.BIG_M_RTOL * s / (2.0 * (Q + 2) * u * (Q + m + 1))

    def _check_M(self, M):
        if M is None:
            lo, hi = self.big_m_range()
            if not lo < hi:
                raise ValueError(f"M: no finite M makes this ShallowNet's big-M network accurate ({self!r}: the "
                                 f"needed M > {lo:.3g} is beyond the float64 cancellation bound {hi:.3g})")
            return hi
        if not (is_real(M) and M > 0 and math.isfinite(M)):
            raise ValueError(f"M: expected a finite positive number, got {M!r}")
        lo, hi = self.big_m_range()
        if M > hi:
            raise ValueError(f"M: {M!r} is beyond {hi:.3g}, the largest M whose float64 cancellation error stays "
                             f"below {self.BIG_M_RTOL:g} of the output scale {lo:.3g} ({self.n_hyperplanes} "
                             f"hyperplanes; see ShallowNet.big_m_range); larger M gives wrong outputs everywhere")
        if M <= lo:
            raise ValueError(f"M: {M!r} is not above the output scale {lo:.3g}: the gates of the other cells "
                             f"would not close (see ShallowNet.big_m_range)")
        return float(M)

    def to_finite(self, M=None):
        """A finite big-M version ``[(W + M V, b + M c), ...]`` of ``extended_layers()``.

        An ordinary ReLU network that is only APPROXIMATELY equal to the deep net: wrong in a band of width
        ~1/M around cell boundaries.

        Parameters
        ----------
        M : float, optional
            Within ``big_m_range()``: above the output scale, so that closed gates close, and below the float64
            cancellation bound, beyond which the output is wrong everywhere. None (default): the largest accurate
            M, the narrowest bands.

        Returns
        -------
        list of tuple of ndarray
            ``(W, b)`` per layer.

        Raises
        ------
        ValueError
            M is outside ``big_m_range()`` (or no finite M is accurate).
        """
        M = self._check_M(M)
        return [(W + M * V, b + M * c) for W, b, V, c in self.extended_layers()]

    def to_mlp(self, M=None):
        """The big-M approximation (``to_finite``) as a float64 ``fastmlp.MLP`` ``[n_in, *widths, n_out]``.

        Parameters
        ----------
        M : float, optional
            Within ``big_m_range()``; None for the largest accurate one.

        Returns
        -------
        MLP
            An ordinary ReLU network, only an approximation (wrong within ~1/M of the cell boundaries).
        """
        layers = self.to_finite(M)
        net = MLP([self.n_in] + self.widths + [self.n_out], activation="relu", output=self.output, dtype="float64")
        net.set_flat_params(np.concatenate([a.ravel() for W, b in layers for a in (W, b)]))
        return net

    def __repr__(self):
        return (f"<ShallowNet {self.n_in}-{'-'.join(map(str, self.widths))}-{self.n_out}: {self.n_cells} cells, "
                f"{self.n_hyperplanes} hyperplanes>")


def extended_forward(layers, X):
    """Evaluate ``extended_layers()`` literally, layer by layer (the reference the tests hold ``ShallowNet``
    to)."""
    h = np.asarray(X, dtype=np.float64)
    for W, b, V, c in layers[:-1]:
        h = _ext_relu(h @ W.T + b, h @ V.T + c)
    W, b, _, _ = layers[-1]
    return h @ W.T + b


def to_shallow(model, box, **kwargs):
    """A ``ShallowNet`` (three hidden layers) equal to the deep ReLU network on every input of the box.

    Region boundaries included: built from every non-empty cell (``enumerate_regions(model, box, cells="all")``).
    Inputs in no cell (outside the box, or in a cell thinner than the resolution) evaluate to NaN.

    Parameters
    ----------
    model : MLP
        A network whose hidden layers are all "relu".
    box : tuple (lo, hi) or array_like of shape (n_in, 2) or None
        The box; None: all of R^n (more cells).
    **kwargs
        The budgets ``max_regions``, ``max_lps``, ``max_seconds`` and ``tol`` of ``enumerate_regions``.

    Returns
    -------
    ShallowNet
        The equivalent network.

    Raises
    ------
    RegionBudgetError
        A budget was exceeded.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 4, 4, 1], dtype="float64", seed=0)
    >>> shallow = regions.to_shallow(model, (-1, 1))
    >>> X = np.random.default_rng(0).uniform(-1, 1, size=(50, 2))
    >>> bool(np.abs(shallow(X) - model.forward(X)).max() < 1e-12)
    True
    """
    regions = enumerate_regions(model, box, cells="all", **kwargs)
    return ShallowNet(regions, output=regions._net.output)

"""What ``enumerate_regions`` returns: ``Region`` (one cell: its half-spaces, affine map and a witness point) and
``Regions`` (all of them as arrays, with ``locate`` and the bounds beside the count)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bounds import pattern_bound, product_region_bound, shallow_region_bound
from .patterns import layer_patterns
from .readers import read_points


@dataclass
class Region:
    """One activation region: the inputs x with ``H @ x < c`` on the ``strict`` rows and ``H @ x <= c`` on the
    others (one row per hidden unit, in layer order; rows are unit-normalised, a zero row is a unit that is
    constant on the region; the box is not included and rows may be redundant), on which the network is
    ``alpha @ x + beta``. ``pattern``: the activation pattern (one bool per hidden unit, layer after layer);
    ``point``: a point of the region (inside the box) at which the forward pass gives ``pattern``.

    Parameters
    ----------
    pattern : ndarray of bool
        The activation pattern.
    H, c : ndarray
        The half-spaces ``H @ x <= c`` (``<`` on the strict rows).
    strict : ndarray of bool
        Which rows are strict.
    alpha, beta : ndarray
        The network's affine map on the region.
    point : ndarray
        A witness point.

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 2, 1], dtype="float64")
    >>> model.set_flat_params([1, 0, 0, 1, 0, 0, 1, 1, 0])
    >>> r = regions.enumerate_regions(model, (-1, 1))[0]
    >>> r.pattern.shape, bool(r.contains(r.point[None, :])[0])
    ((2,), True)
    """
    pattern: np.ndarray
    H: np.ndarray
    c: np.ndarray
    strict: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    point: np.ndarray

    def contains(self, X, tol=0.0):
        """Whether each row of X satisfies the region's half-spaces.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The points.
        tol : float, default 0.0
            The slack allowed on every row.

        Returns
        -------
        ndarray of bool, shape (n,)
            True where the point lies in the region.

        Raises
        ------
        ValueError
            X has the wrong number of columns.
        """
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
    ``method``: "lp" (the LP search) or "geometry" (planar clipping, 1- and 2-input nets in a box). The geometric
    path also gives ``polygons`` (one (m, 2) array of counter-clockwise vertices per region, in x; 1-input nets:
    each interval's (lo, hi); a lower-dimensional cell of cells="all": its witness point) and ``areas`` (K,) (the
    lengths for 1-input nets, 0 for lower-dimensional cells); on the LP path both are None.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 2, 1], dtype="float64")
    >>> model.set_flat_params([1, 0, 0, 1, 0, 0, 1, 1, 0])       # relu(x0) + relu(x1): the four quadrants
    >>> cells = regions.enumerate_regions(model, (-1, 1))
    >>> len(cells), cells.areas.tolist()
    (4, [1.0, 1.0, 1.0, 1.0])
    >>> k = cells.locate([[0.5, 0.5]])[0]
    >>> cells.patterns[k].tolist(), cells.alpha[k].tolist()       # both units on: f = x0 + x1
    ([True, True], [[1.0, 1.0]])
    """

    def __init__(self, net, lo, hi, cells, patterns, H, c, strict, alpha, beta, points, hp_index, G, g0, stats,
                 seconds, method="lp", polygons=None, areas=None):
        self._net = net
        self.box = None if lo is None else np.stack([lo, hi], axis=1)
        self.cells = cells
        self.patterns, self.H, self.c, self.strict = patterns, H, c, strict
        self.alpha, self.beta, self.points = alpha, beta, points
        self.hyperplane_index, self.hyperplanes = hp_index, (G, g0)
        self.n_lps, self.n_lps_skipped, self.seconds = stats["lps"], stats["skipped"], seconds
        self.n_repaired, self.n_rejected = stats.get("repaired", 0), stats.get("rejected", 0)
        self.method, self.polygons, self.areas = method, polygons, areas
        self._lookup = None

    @property
    def n_regions(self):
        """The number of regions, ``len(self)``."""
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
        """The bounds on the count for this architecture: ``shallow`` (as if every unit were in one layer),
        ``product`` (the layer-product bound) and ``patterns`` (2^units)."""
        layers = [self._net.n_in] + self._net.widths + [self._net.n_out]
        units = sum(self._net.widths)
        return {"shallow": shallow_region_bound(self._net.n_in, units), "product": product_region_bound(layers),
                "patterns": pattern_bound(units)}

    def locate(self, X):
        """The index of the region each input lies in (by its activation pattern).

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The points.

        Returns
        -------
        ndarray of int64, shape (n,)
            The region's index, -1 where the pattern is not one of the enumerated regions (outside the box, or a
            lower-dimensional cell when ``cells="full"``).

        Raises
        ------
        ValueError
            X has the wrong number of columns.
        """
        X = read_points("X", X, self._net.n_in)
        if self._lookup is None:
            self._lookup = {np.packbits(p).tobytes(): k for k, p in enumerate(self.patterns)}
        pats = layer_patterns(self._net, X)
        if not pats:
            return np.zeros(len(X), dtype=np.int64)
        packed = np.packbits(np.concatenate(pats, axis=1), axis=1)
        get = self._lookup.get
        return np.fromiter((get(row.tobytes(), -1) for row in packed), dtype=np.int64, count=len(X))

    def __repr__(self):
        box = "R^n" if self.box is None else f"box {self.box.tolist()}"
        return (f"<Regions: {len(self)} {'full-dimensional regions' if self.cells == 'full' else 'cells'} of a "
                f"{[self._net.n_in] + self._net.widths + [self._net.n_out]} network in {box}; "
                f"{'geometry' if self.method == 'geometry' else f'{self.n_lps} LPs'}, "
                f"{self.seconds:.3g} s>")

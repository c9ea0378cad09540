"""Exact decision boundaries and level sets of 2-input ReLU networks, and statistics of the planar partition.

Inside one activation region every output is affine, so the boundary between two classes (where their logits
tie and lead) and the level set {f = level} are straight segments there: clip a line by the region's polygon
(``enumerate_regions``' geometric path) and, for classes, by the half-planes where the pair leads. No sampling."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .enumeration import enumerate_regions
from .readers import is_int, is_real, read_net


@dataclass
class Boundary:
    """Segments of a decision boundary or level set: ``segments`` (m, 2, 2) (two end points in x each),
    ``region`` (m,) the region each lies in, ``classes`` (m, 2) the pair of classes that tie on it (a level set:
    (output, -1)), ``kind`` "classes" or "level", ``level`` (level sets), ``length`` the total length.

Examples
--------
>>> import fastmlp
>>> from fastmlp import regions
>>> model = fastmlp.MLP([2, 2, 1], dtype="float64")
>>> model.set_flat_params([1, -1, -1, 1, 0, 0, 1, -1, -0.5])  # f = x0 - x1 - 0.5
>>> b = regions.decision_boundary(model, (-1, 1))
>>> b.kind, b.segments.shape
('level', (1, 2, 2))
"""
    segments: np.ndarray
    region: np.ndarray
    classes: np.ndarray
    kind: str
    level: float | None

    @property
    def length(self):
        """The total length of the segments."""
        return float(np.linalg.norm(self.segments[:, 1] - self.segments[:, 0], axis=1).sum())

    def __len__(self):
        return len(self.segments)


def _flat(polygons):
    """The 2-D polygons as one vertex array, each vertex's polygon and its successor around the polygon."""
    sizes = np.array([len(P) for P in polygons], dtype=np.int64)
    V = np.concatenate(polygons) if len(polygons) else np.zeros((0, 2))
    cid = np.repeat(np.arange(len(polygons)), sizes)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nxt = np.arange(len(V)) + 1
    ends = start + sizes - 1
    nxt[ends[sizes > 0]] = start[sizes > 0]
    return V, cid, nxt


def _line_segments(V, cid, nxt, K, a, b):
    """Where the line a[k] . x + b[k] = 0 meets convex polygon k: (P0 (K, 2), P1 (K, 2), hit (K,)). A polygon that
    touches the line in one vertex gives no segment."""
    val = (V * a[cid]).sum(axis=1) + b[cid]
    scale = np.abs(a[cid]).sum(axis=1) * np.abs(V).max(initial=1.0) + np.abs(b[cid])
    zero = np.abs(val) <= 1e-12 * scale
    vn = val[nxt]
    cross = (~zero) & (~zero[nxt]) & (np.sign(val) != np.sign(vn))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(cross, val / (val - vn), 0.0)
    P = np.concatenate([V[zero], (V + t[:, None] * (V[nxt] - V))[cross]])
    pid = np.concatenate([cid[zero], cid[cross]])
    d = np.column_stack([-a[:, 1], a[:, 0]])            # along the line
    s = (P * d[pid]).sum(axis=1)
    order = np.lexsort((s, pid))
    P, pid, s = P[order], pid[order], s[order]
    u, at, cnt = np.unique(pid, return_index=True, return_counts=True)
    first = np.zeros(K, dtype=np.int64)
    last = np.zeros(K, dtype=np.int64)
    hit = np.zeros(K, dtype=bool)
    first[u], last[u] = at, at + cnt - 1
    hit[u] = s[at + cnt - 1] > s[at]
    P0 = np.full((K, 2), np.nan)
    P1 = np.full((K, 2), np.nan)
    P0[hit], P1[hit] = P[first[hit]], P[last[hit]]
    return P0, P1, hit


def decision_boundary(model, box=None, *, regions=None, level=None, output=0, **kwargs):
    """The exact decision boundary (or a level set) of a 2-input ReLU network in a box, as straight segments.

    One or more segments per activation region. Works on the output layer's pre-activation f (the logits).
    Classifiers with several outputs (``level=None``): where two classes tie and lead, f_i = f_j >= every other
    f_l, i.e. where the predicted class changes. One output, or ``level`` given: the level set f_output = level
    (default level 0: the 0.5-probability boundary of a sigmoid output, the sign change of a tanh one).

    Parameters
    ----------
    model : MLP
        A network whose hidden layers are all "relu".
    box : tuple (lo, hi) or array_like of shape (2, 2), optional
        The box.
    regions : Regions, optional
        A ``Regions`` of this model to reuse (the geometric path's, with polygons); else
        ``enumerate_regions(model, box, **kwargs)``.
    level : float, optional
        The level of a level set (see above).
    output : int, default 0
        The output whose level set is taken.
    **kwargs
        Options of ``enumerate_regions``.

    Returns
    -------
    Boundary
        The segments, the region each lies in and the classes on either side.

    Raises
    ------
    ValueError
        The network does not have 2 inputs, or an argument is out of range.

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 2, 1], dtype="float64")
    >>> model.set_flat_params([1, -1, -1, 1, 0, 0, 1, -1, -0.5])  # f = x0 - x1 - 0.5
    >>> b = regions.decision_boundary(model, (-1, 1))
    >>> len(b), round(b.length, 6)                               # from (-0.5, -1) to (1, 0.5)
    (1, 2.12132)
    """
    net = read_net(model)
    if net.n_in != 2:
        raise ValueError(f"decision_boundary: needs a 2-input network, got {net.n_in} inputs")
    if not is_int(output) or not 0 <= output < net.n_out:
        raise ValueError(f"output: expected an index in [0, {net.n_out}), got {output!r}")
    if level is not None and not (is_real(level) and math.isfinite(level)):
        raise ValueError(f"level: expected None or a finite number, got {level!r}")
    if regions is None:
        if box is None:
            raise ValueError("decision_boundary: needs a box (or regions=)")
        regions = enumerate_regions(model, box, method="geometry", **kwargs)
    if getattr(regions, "polygons", None) is None:
        raise ValueError("regions: needs the polygons of the geometric path (enumerate_regions(..., "
                         "method='geometry'))")
    full = [k for k, P in enumerate(regions.polygons) if len(P) >= 3]
    polys = [regions.polygons[k] for k in full]
    K = len(full)
    V, cid, nxt = _flat(polys)
    A, B = regions.alpha[full], regions.beta[full]
    segs, reg, cls = [], [], []
    if net.n_out == 1 or level is not None:
        lev = 0.0 if level is None else float(level)
        P0, P1, hit = _line_segments(V, cid, nxt, K, A[:, output], B[:, output] - lev)
        segs.append(np.stack([P0[hit], P1[hit]], axis=1))
        reg.append(np.flatnonzero(hit))
        cls.append(np.column_stack([np.full(hit.sum(), output), np.full(hit.sum(), -1)]))
        kind = "level"
    else:
        lev, kind = None, "classes"
        for i in range(net.n_out):
            for j in range(i + 1, net.n_out):
                P0, P1, hit = _line_segments(V, cid, nxt, K, A[:, i] - A[:, j], B[:, i] - B[:, j])
                ks = np.flatnonzero(hit)
                t0, t1 = np.zeros(len(ks)), np.ones(len(ks))
                for l_ in range(net.n_out):      # keep the part where i (and so j) leads every other class
                    if l_ in (i, j):
                        continue
                    g = lambda P: (np.einsum("kn,kn->k", A[ks, i] - A[ks, l_], P) + B[ks, i] - B[ks, l_])  # noqa
                    g0, g1 = g(P0[ks]), g(P1[ks])
                    with np.errstate(invalid="ignore", divide="ignore"):
                        tz = -g0 / (g1 - g0)
                    t0 = np.where((g0 < 0) & (g1 > g0), np.maximum(t0, tz), t0)
                    t1 = np.where((g1 < 0) & (g0 > g1), np.minimum(t1, tz), t1)
                    dead = (g0 < 0) & (g1 < 0)
                    t1 = np.where(dead, -1.0, t1)
                ok = t1 > t0
                ks, t0, t1 = ks[ok], t0[ok], t1[ok]
                d = P1[ks] - P0[ks]
                segs.append(np.stack([P0[ks] + t0[:, None] * d, P0[ks] + t1[:, None] * d], axis=1))
                reg.append(ks)
                cls.append(np.tile([i, j], (len(ks), 1)))
    segments = np.concatenate(segs) if segs else np.zeros((0, 2, 2))
    region = np.array(full, dtype=np.int64)[np.concatenate(reg)] if reg else np.zeros(0, np.int64)
    classes = np.concatenate(cls).astype(np.int64) if cls else np.zeros((0, 2), np.int64)
    return Boundary(segments, region, classes, kind, lev)


def partition_stats(regions, bins=20):
    """Statistics of a geometric partition (``enumerate_regions`` on a 1- or 2-input net, method "geometry").

    Parameters
    ----------
    regions : Regions
        The partition, with its polygons.
    bins : int, default 20
        The bins of the slope-norm histogram.

    Returns
    -------
    dict
        ``n_regions``, ``box_area`` (1-D: length), ``density`` (regions per unit area), ``areas`` (K,),
        ``area_mean``, ``area_median``, ``area_min``, ``slope_norm`` (K,): the Frobenius norm of each region's
        Jacobian alpha (all outputs), and ``slope_hist`` = (counts, edges) of the slope norms.

    Raises
    ------
    ValueError
        The partition has no polygons (it was not made by the geometric path).

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 2, 1], dtype="float64")
    >>> model.set_flat_params([1, 0, 0, 1, 0, 0, 1, 1, 0])
    >>> stats = regions.partition_stats(regions.enumerate_regions(model, (-1, 1)))
    >>> stats["n_regions"], stats["box_area"], stats["area_mean"]
    (4, 4.0, 1.0)
    """
    if getattr(regions, "areas", None) is None:
        raise ValueError("regions: needs the areas of the geometric path (enumerate_regions(..., "
                         "method='geometry'))")
    if not is_int(bins) or bins < 1:
        raise ValueError(f"bins: expected an int >= 1, got {bins!r}")
    areas = np.asarray(regions.areas, dtype=np.float64)
    box = np.asarray(regions.box, dtype=np.float64)
    box_area = float(np.prod(box[:, 1] - box[:, 0]))
    slope = np.sqrt((regions.alpha ** 2).sum(axis=(1, 2)))
    full = areas > 0
    return {"n_regions": int(full.sum()), "box_area": box_area, "density": float(full.sum()) / box_area,
            "areas": areas, "area_mean": float(areas[full].mean()) if full.any() else 0.0,
            "area_median": float(np.median(areas[full])) if full.any() else 0.0,
            "area_min": float(areas[full].min()) if full.any() else 0.0, "slope_norm": slope,
            "slope_hist": np.histogram(slope[full], bins=bins)}

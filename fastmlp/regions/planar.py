"""Exact activation regions of 1- and 2-input ReLU networks in a box by plane geometry, no LP: the box polygon is
clipped by each hidden unit's zero line, layer by layer (inside a cell the earlier layers' pattern is fixed, so
the unit is affine there and its zero set is a line), each cell keeping its affine maps. Vectorised numpy over all
cells: one pass per hidden unit over a flat array of every cell's vertices.

Robustness and the resolution ``tol`` (the rules the LP path documents, in the same coordinates). Everything runs in
y = (x - centre) / S (``cellmaps.lp_scale``), where each unit is measured by its normalised signed distance. A
vertex within ``tol`` of a line counts as lying on it: a cell is split only when it has vertices farther than tol
on both sides, so lines through vertices and coincident lines never make zero-width slivers, and a vertex on the
line goes to both children. A full-dimensional region is kept when its witness (its area centroid) lies farther
than tol inside every row of the region (and the deep net's own forward pass at it gives the region's pattern);
the centroid of a convex polygon is at least 2/3 of its inradius from every edge, so regions whose largest ball
has a radius in (tol, 1.5 tol] may be dropped where the LP path keeps them: both are at the resolution.
``cells="all"`` adds the lower-dimensional cells: each is an edge or a vertex of the full-dimensional partition,
so the pattern at every vertex and edge midpoint is read with the same tolerance (a unit within tol of 0 is
inactive) and the patterns not yet seen are the extra cells (witness: that point).
"""
from __future__ import annotations

import time

import numpy as np

from .cellmaps import apply_rows, cell_maps, push
from .patterns import layer_patterns


class PlanarBudget(Exception):
    """Internal: the planar path went over ``max_regions`` or ``max_seconds`` (enumeration turns it into a
    RegionBudgetError). ``name`` is the budget, ``n_regions`` how many cells it had."""

    def __init__(self, name, n_regions):
        super().__init__(name)
        self.name, self.n_regions = name, n_regions


def _net_in_y(net, centre, S):
    """The first layer in y (x = centre + S y), padded to two inputs for a 1-input net (the second input has zero
    weights: every cell is a rectangle whose x-extent is the 1-D interval)."""
    W0 = net.Ws[0] * S
    b0 = net.bs[0] + net.Ws[0] @ centre
    if net.n_in == 1:
        W0 = np.concatenate([W0, np.zeros_like(W0)], axis=1)
    return [W0] + list(net.Ws[1:]), [b0] + list(net.bs[1:])


def _groups(cid):
    """For a vertex array grouped by cell (each cell's vertices contiguous, in order): the index of each vertex's
    successor around its polygon."""
    n = len(cid)
    idx = np.arange(n)
    start = np.ones(n, dtype=bool)
    start[1:] = cid[1:] != cid[:-1]
    end = np.ones(n, dtype=bool)
    end[:-1] = start[1:]
    first = np.maximum.accumulate(np.where(start, idx, 0))
    return np.where(end, first, idx + 1)


def _polygon_sums(V, cid, nxt, K):
    """(area (K,), centroid (K, 2), vertex mean (K, 2)) of each convex polygon (counter-clockwise vertices). The
    sums run in coordinates relative to each polygon's vertex mean: with absolute coordinates the shoelace terms of
    a tiny polygon far from the origin cancel and its centroid lands outside it."""
    cnt = np.maximum(np.bincount(cid, minlength=K), 1)
    mean = np.column_stack([np.bincount(cid, V[:, 0], K), np.bincount(cid, V[:, 1], K)]) / cnt[:, None]
    R = V - mean[cid]
    x, y = R[:, 0], R[:, 1]
    xn, yn = R[nxt, 0], R[nxt, 1]
    cross = x * yn - xn * y
    area = 0.5 * np.bincount(cid, cross, K)
    cx = np.bincount(cid, (x + xn) * cross, K)
    cy = np.bincount(cid, (y + yn) * cross, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        cen = np.column_stack([cx, cy]) / (6.0 * area[:, None])
    cen = mean + np.where(np.isfinite(cen) & (area[:, None] > 0), cen, 0.0)
    return area, cen, mean


class _Partition:
    """The cells of the box as convex polygons (a flat vertex array V grouped by cell id), their patterns so far,
    and the current layer's pre-activations on each cell as affine maps of y."""

    def __init__(self, Ws, bs, ylim, tol, widths, max_regions, deadline):
        a, b = ylim
        self.V = np.array([[-a, -b], [a, -b], [a, b], [-a, b]])
        self.cid = np.zeros(4, dtype=np.int64)
        self.Ws, self.bs, self.tol = Ws, bs, tol
        self.pat = np.zeros((1, sum(widths)), dtype=bool)
        self.Z, self.cz = Ws[0][None].copy(), bs[0][None].copy()
        self.widths, self.max_regions, self.deadline = widths, max_regions, deadline

    @property
    def K(self):
        return len(self.pat)

    def cut(self, col, j):
        """Decide unit j of the current layer (pattern column col) on every cell, splitting the cells it crosses."""
        a, b = self.Z[:, j], self.cz[:, j]
        ny = np.hypot(a[:, 0], a[:, 1])
        const = ny == 0.0
        V, cid, K = self.V, self.cid, self.K
        dist = ((V * a[cid]).sum(axis=1) + b[cid]) / np.where(const, 1.0, ny)[cid]
        sgn = np.where(dist > self.tol, 1, np.where(dist < -self.tol, -1, 0)).astype(np.int8)
        pos = np.bincount(cid, sgn > 0, K) > 0
        neg = np.bincount(cid, sgn < 0, K) > 0
        split = pos & neg & ~const
        self.pat[:, col] = np.where(const, b > 0, pos)
        if not split.any():
            return
        ks = np.flatnonzero(split)
        new_id = np.full(K, -1, dtype=np.int64)
        new_id[ks] = K + np.arange(len(ks))
        if K + len(ks) > self.max_regions:
            raise PlanarBudget("max_regions", K + len(ks))
        sel = split[cid]
        nxt = _groups(cid)
        I = np.flatnonzero(sel)
        N = nxt[I]
        si, sn, di, dn = sgn[I], sgn[N], dist[I], dist[N]
        cross = (si.astype(np.int16) * sn) < 0
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(cross, di / (di - dn), 0.0)
        P = V[I] + t[:, None] * (V[N] - V[I])
        pts = np.stack([V[I], P], axis=1).reshape(-1, 2)       # per vertex: itself, then the crossing after it
        ids = np.repeat(cid[I], 2)
        keep_pos = np.column_stack([si >= 0, cross]).ravel()
        keep_neg = np.column_stack([si <= 0, cross]).ravel()
        self.V = np.concatenate([V[~sel], pts[keep_pos], pts[keep_neg]])
        self.cid = np.concatenate([cid[~sel], ids[keep_pos], new_id[ids[keep_neg]]])
        child = self.pat[ks].copy()
        child[:, col] = False
        self.pat = np.concatenate([self.pat, child])
        self.Z = np.concatenate([self.Z, self.Z[ks]])
        self.cz = np.concatenate([self.cz, self.cz[ks]])

    def next_layer(self, li, s):
        W, b = self.Ws[li + 1], self.bs[li + 1]
        self.Z = push(W, self.Z * s[..., None])
        self.cz = (self.cz * s) @ W.T + b

    def run(self):
        off = layer_offsets_w(self.widths)
        for li, width in enumerate(self.widths):
            for j in range(width):
                self.cut(off[li] + j, j)
                if self.deadline is not None and time.perf_counter() > self.deadline:
                    raise PlanarBudget("max_seconds", self.K)
            if li + 1 < len(self.widths):
                self.next_layer(li, self.pat[:, off[li]:off[li + 1]])
        return self


def layer_offsets_w(widths):
    return np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)


def _tolerant_patterns(Ws, bs, Y, tol):
    """The pattern at each point of Y (in y), a unit counting as active only when its normalised distance exceeds
    tol (a unit constant on the point's cell: when its value is > 0)."""
    n = len(Y)
    A = np.broadcast_to(np.eye(2), (n, 2, 2))
    d = np.zeros((n, 2))
    pats = []
    for W, b in zip(Ws[:-1], bs[:-1]):
        Z = push(W, A)
        c = d @ W.T + b
        val = apply_rows(Z, c, Y)
        ny = np.sqrt((Z * Z).sum(axis=2))
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(ny > 0, val / np.where(ny > 0, ny, 1.0) > tol, val > 0)
        pats.append(s)
        A, d = Z * s[..., None], c * s
    return np.concatenate(pats, axis=1)


def planar_regions(net, lo, hi, centre, half, S, cells, *, max_regions, max_seconds, tol, t0):
    """The cells of a 1- or 2-input net in the box [lo, hi] by clipping: a dict of the arrays ``Regions`` takes
    (patterns, H, c, strict, alpha, beta, points, hp_index, G, g0), plus ``polygons`` (one (m, n_in) vertex array
    per cell, in x; 1-D: the interval's two ends; a lower-dimensional cell: its witness), ``areas`` (in x; 1-D:
    lengths; 0 for lower-dimensional cells) and ``stats``. Raises PlanarBudget."""
    deadline = None if max_seconds is None else t0 + float(max_seconds)
    Ws, bs = _net_in_y(net, centre, S)
    ylim = half / S
    ylim = (float(ylim[0]), float(ylim[1]) if net.n_in == 2 else 1.0)
    part = _Partition(Ws, bs, ylim, tol, net.widths, max_regions, deadline).run()
    V, cid, K, pat = part.V, part.cid, part.K, part.pat
    nxt = _groups(cid)
    area, cen, mean = _polygon_sums(V, cid, nxt, K)
    # the rows in y: how far inside each is the centroid (the unit's signed distance, positive on the cell's side);
    # the vertex mean (an exact convex combination) where it lies deeper
    depth = _depth(Ws, bs, pat, cen, net.widths)
    d_mean = _depth(Ws, bs, pat, mean, net.widths)
    better = d_mean > depth
    cen[better], depth[better] = mean[better], d_mean[better]
    Sx = np.array([S[0], S[1]]) if net.n_in == 2 else np.array([S[0], 1.0])
    to_x = lambda Y: centre + (Y * Sx)[:, :net.n_in]      # noqa: E731
    keep = depth > tol
    stats = {"lps": 0, "skipped": 0, "repaired": 0, "rejected": 0}
    # the deep net's own forward pass must give each kept region's pattern at its witness (as on the LP path)
    fwd = np.concatenate(layer_patterns(net, to_x(cen)), axis=1) if K else np.zeros((0, pat.shape[1]), bool)
    bad = keep & (fwd != pat).any(axis=1)
    if bad.any():
        for k in np.flatnonzero(bad):
            cand = 0.5 * (V[cid == k] + cen[k])
            ok = (np.concatenate(layer_patterns(net, to_x(cand)), axis=1) == pat[k]).all(axis=1)
            if ok.any():
                cen[k] = cand[np.argmax(ok)]
                stats["repaired"] += 1
            else:
                keep[k] = False
                stats["rejected"] += 1
    order = np.flatnonzero(keep)
    poly = _split_by_cell(to_x(V), cid, K, net.n_in)
    pats, points = pat[order], to_x(cen[order])
    polygons = [poly[k] for k in order]
    areas = np.abs(area[order]) * (float(np.prod(S)) if net.n_in == 2 else 0.5 * float(S[0]))  # 1-D: height 2
    if not len(order):   # every region below the resolution: the region of the box's centre (every box meets one)
        pats = np.concatenate(layer_patterns(net, centre[None, :]), axis=1)
        box = np.array([[-ylim[0], -ylim[1]], [ylim[0], -ylim[1]], [ylim[0], ylim[1]], [-ylim[0], ylim[1]]])
        points, polygons, areas = centre[None, :].copy(), [_split_by_cell(to_x(box), np.zeros(4, np.int64), 1,
                                                                          net.n_in)[0]], np.zeros(1)
    if cells == "all" and len(V):
        # every vertex and edge midpoint, once (the cells share them; points closer than tol/1000 are one)
        Yc = np.concatenate([V, 0.5 * (V + V[nxt])])
        _, first = np.unique(np.round(Yc / (1e-3 * tol)), axis=0, return_index=True)
        Yc = Yc[np.sort(first)]
        tp = _tolerant_patterns(Ws, bs, Yc, tol)
        packed = np.packbits(tp, axis=1)
        _, first = np.unique(packed, axis=0, return_index=True)
        seen = {r.tobytes() for r in np.packbits(pats, axis=1)}
        extra = [i for i in np.sort(first) if packed[i].tobytes() not in seen]
        if extra:
            extra = np.array(extra)
            ex_pts = to_x(Yc[extra])
            pats = np.concatenate([pats, tp[extra]])
            points = np.concatenate([points, ex_pts])
            polygons += [p[None, :] for p in ex_pts]
            areas = np.concatenate([areas, np.zeros(len(extra))])
    if len(pats) > max_regions:
        raise PlanarBudget("max_regions", len(pats))
    H, c, strict, alpha, beta, hp, G, g0 = cell_maps(net, pats, cells == "full")
    return dict(patterns=pats, H=H, c=c, strict=strict, alpha=alpha, beta=beta, points=points, hp_index=hp, G=G,
                g0=g0, polygons=polygons, areas=areas, stats=stats)


def _split_by_cell(V, cid, K, n_in):
    """The vertex arrays (in x) of cells 0..K-1 (1-input nets: each interval's (lo, hi))."""
    order = np.argsort(cid, kind="stable")
    bounds = np.searchsorted(cid[order], np.arange(K + 1))
    Vs = V[order]
    if n_in == 1:
        lo = np.minimum.reduceat(Vs[:, 0], bounds[:-1]) if len(Vs) else np.zeros(0)
        hi = np.maximum.reduceat(Vs[:, 0], bounds[:-1]) if len(Vs) else np.zeros(0)
        return [np.array([a, b]) for a, b in zip(lo, hi)]
    return [Vs[bounds[k]:bounds[k + 1]] for k in range(K)]


def _depth(Ws, bs, pat, Y, widths):
    """For each cell: the smallest signed distance (in y) of the point Y[k] to the cell's non-constant units' zero
    lines, positive on the cell's side (inf when the cell has no such unit)."""
    K = len(pat)
    off = layer_offsets_w(widths)
    out = np.full(K, np.inf)
    Z, cz = np.broadcast_to(Ws[0], (K,) + Ws[0].shape), np.broadcast_to(bs[0], (K, len(bs[0])))
    for li in range(len(widths)):
        s = pat[:, off[li]:off[li + 1]]
        ny = np.sqrt((Z * Z).sum(axis=2))
        val = apply_rows(Z, cz, Y)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(s, val, -val) / ny
        d = np.where(ny > 0, d, np.inf)
        if d.shape[1]:
            out = np.minimum(out, d.min(axis=1))
        W, b = Ws[li + 1], bs[li + 1]
        Z = push(W, Z * s[..., None])
        cz = (cz * s) @ W.T + b
    return out

"""Exact n-D enumeration of the activation regions that meet a box: a depth-first search over the hidden units,
one small LP (scipy's HiGHS: the optional extra ``fastmlp[regions]``) per branch that the parent's witness point
does not decide, under budgets that raise ``RegionBudgetError`` instead of running on."""
from __future__ import annotations

import math
import time

import numpy as np

from .cellmaps import lp_scale
from .cells import Regions
from .highs import direct_lp
from .patterns import layer_patterns
from .planar import PlanarBudget, planar_regions
from .readers import is_int, is_real, read_box, read_net
from .searchnode import Node, _linprog, append_row


class RegionBudgetError(RuntimeError):
    """``enumerate_regions`` hit its ``max_regions``, ``max_lps`` or ``max_seconds`` budget. ``n_regions`` and
    ``n_lps`` say how far it got (the regions found so far are a lower bound on the count, not the answer).

Examples
--------
>>> import fastmlp
>>> from fastmlp import regions
>>> model = fastmlp.MLP([2, 16, 16, 1], dtype="float64", seed=0)
>>> try:
...     regions.enumerate_regions(model, (-2, 2), max_regions=10)
... except regions.RegionBudgetError as exc:
...     print(exc.n_regions >= 10)
True
"""

    def __init__(self, message, n_regions=0, n_lps=0):
        super().__init__(message)
        self.n_regions = n_regions
        self.n_lps = n_lps


_lp_scale = lp_scale   # the coordinates both paths share (cellmaps.lp_scale)


# HiGHS's feasibility tolerances, set explicitly (its smallest allowed values). The LPs are posed in box
# coordinates (the box mapped onto [-1, 1]^n, rows normalised there), so these are relative to the box's size.
_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


class _Search:
    """One run of ``enumerate_regions``: the LP coordinates, the budgets, the counters and the regions found.
    ``run()`` searches and returns the ``Regions``."""

    def __init__(self, net, lo, hi, centre, half, cells, linprog, *, max_regions, max_lps, max_seconds, tol,
                 fast_lp=True):
        self.net, self.n_in, self.widths = net, net.n_in, net.widths
        self.lo, self.hi, self.centre = lo, hi, centre
        self.cells, self.full, self.tol = cells, cells == "full", tol
        self.unit = _lp_scale(net, centre, half)      # x = centre + unit * y: the LPs' coordinates
        self.linprog = linprog
        self.max_regions, self.max_lps, self.max_seconds = max_regions, max_lps, max_seconds
        self.t0 = time.perf_counter()
        self.deadline = None if max_seconds is None else self.t0 + float(max_seconds)
        # a witness decides a side without an LP when it lies this far (normalised, in y) from the hyperplane;
        # never less than tol, so that every region keeps a witness at distance > tol from its strict hyperplanes
        self.margin = max(1e-7, tol)
        self.ylim = None if lo is None else half / self.unit   # the box in y: [-ylim, ylim] (ylim >= 1)
        self.var_bounds = ([(None, None)] * self.n_in if lo is None else [(-v, v) for v in self.ylim.tolist()]) + \
            [(None, 1.0)]
        self.cost = np.zeros(self.n_in + 1)
        self.cost[-1] = -1.0
        self.stats = {"lps": 0, "skipped": 0, "repaired": 0, "rejected": 0, "certified": 0, "box": 0}
        self.fast = fast_lp
        lower = np.array([-np.inf if v[0] is None else v[0] for v in self.var_bounds], dtype=np.float64)
        upper = np.array([np.inf if v[1] is None else v[1] for v in self.var_bounds], dtype=np.float64)
        self.direct = direct_lp(lower, upper, _HIGHS) if fast_lp else None
        self.found = []                # per region: pattern, H, c, strict, alpha, beta, point, hyperplane indices
        self.G_rows, self.g0_rows = [], []    # the hyperplanes, one block per layer and cell prefix

    # ---- budgets and LPs
    def _over(self, name, detail):
        return RegionBudgetError(f"enumerate_regions: more than {name}={getattr(self, name)}{detail}: raise {name}, "
                                 f"shrink the box, or use pieces_1d for exact 1-D slices",
                                 len(self.found), self.stats["lps"])

    def check_time(self):
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise self._over("max_seconds", f" s (found {len(self.found)} regions so far, {self.stats['lps']} LPs)")

    def to_x(self, y):
        x = self.centre + self.unit * y
        return x if self.lo is None else np.clip(x, self.lo, self.hi)

    def solve(self, A, rs):
        """A point y of {h.y + s <= r (strict rows), h.y <= r (others), s <= 1, box} with s > tol, or None.
        A: the rows [h, 1 if strict else 0] (``Node.A``), rs: their r."""
        if self.stats["lps"] >= self.max_lps:
            raise self._over("max_lps", f" linear programs needed (found {len(self.found)} regions so far)")
        self.check_time()
        self.stats["lps"] += 1
        n_in = self.n_in
        Hs, st = A[:, :n_in], A[:, n_in] > 0
        status, x = self.direct.solve(A, rs) if self.direct is not None else ("other", None)
        if status == "other":     # linprog: without presolve, then with it
            for opts in ({"presolve": False}, {}):
                res = self.linprog(self.cost, A_ub=A, b_ub=rs, bounds=self.var_bounds, method="highs",
                                   options={**_HIGHS, **opts})
                if res.status in (0, 2):
                    break
            else:
                raise RuntimeError(f"enumerate_regions: the LP solver failed ({res.message})")
            status, x = ("infeasible", None) if res.status == 2 else ("optimal", res.x)
        if status == "infeasible" or (st.any() and x[n_in] <= self.tol):
            return None
        y = x[:n_in].copy()
        if self.lo is not None:
            y = np.clip(y, -self.ylim, self.ylim)
        # re-check in numpy: the strict rows' slack must exceed tol/2, the others must hold to HiGHS's tolerance
        slack = rs - Hs @ y
        if (st.any() and slack[st].min() <= 0.5 * self.tol) or (slack[~st].min(initial=0.0) < -1e-9):
            return None
        return y

    def verified(self, node):
        """The witness (possibly re-solved) if the forward pass at it gives the region's pattern, else None."""
        pat = np.array(node.pattern, dtype=bool)
        _, _, Hy, ry, _, _, _ = node.arrays()
        w = node.w
        for attempt in (0, 1):
            fwd = np.concatenate(layer_patterns(self.net, self.to_x(w)[None, :]), axis=1)[0]
            bad = fwd != pat
            if not self.full:  # an inactive unit whose hyperplane passes within tol of the witness may read either way
                bad &= pat | (ry - Hy @ w > self.tol)
            if not bad.any():
                if attempt:
                    self.stats["repaired"] += 1
                return w
            if attempt == 0:
                w = self.solve(node.A, node.b)
                if w is None:
                    break
        self.stats["rejected"] += 1
        return None

    # ---- the search
    def run(self):
        """All regions; if the search finds none (a box much smaller than the resolution of the network's
        hyperplanes), the region of the box's centre: every box meets one."""
        if not self.widths:
            return self._single_region()
        self._search()
        if not self.found:
            self.G_rows.clear()
            self.g0_rows.clear()
            centre = self.to_x(np.zeros(self.n_in))[None, :]
            self._search(force=np.concatenate(layer_patterns(self.net, centre), axis=1)[0])
        return self._regions()

    def _search(self, force=None):
        """The depth-first search; force: follow only this pattern, without LPs (the centre's region)."""
        net, n_in = self.net, self.n_in
        stack = [Node(0, 0, net.Ws[0], net.bs[0], self._layer_start(net.Ws[0], net.bs[0]), (), (),
                       np.zeros((0, n_in + 1)), np.zeros(0), np.zeros(n_in))]
        while stack:
            node = stack.pop()
            if node.unit < self.widths[node.layer]:
                stack.extend(self._children(node, force))
            elif node.layer + 1 < len(self.widths):
                Zn, cn = self._next_layer(node)
                stack.append(Node(node.layer + 1, 0, Zn, cn, self._layer_start(Zn, cn), node.pattern, node.rows,
                                   node.A, node.b, node.w,
                                   self._cell_box(node) if self._boxes(node) and force is None else node.bb))
            else:
                self._record(node, force)

    def _layer_start(self, Z, cz):
        base = sum(len(g) for g in self.g0_rows)
        self.G_rows.append(Z)
        self.g0_rows.append(cz)
        return base

    def _next_layer(self, node):
        """A completed layer's pattern fixed: the next layer's pre-activations as affine maps (Z, cz) of x."""
        l = node.layer
        s = np.array(node.pattern[len(node.pattern) - self.widths[l]:], dtype=bool)
        Zm, cm = node.Z * s[:, None], node.cz * s
        W, b = self.net.Ws[l + 1], self.net.bs[l + 1]
        return W @ Zm, W @ cm + b

    def _record(self, node, force):
        """A leaf: a region (after its witness is verified), with the output layer's map as alpha, beta."""
        alpha, beta = self._next_layer(node)
        self.check_time()
        w = node.w
        if force is None:
            w = self.verified(node)
            if w is None:
                return
        if len(self.found) >= self.max_regions:
            raise self._over("max_regions", f" regions ({self.stats['lps']} LPs so far)")
        Hx, rx, _, _, strict, _, hp = node.arrays()
        self.found.append((node.pattern, Hx, rx, strict, alpha, beta, self.to_x(w), hp))

    def _children(self, node, force):
        """The feasible children of a node: the next unit off and on (in this order, so that the active child is
        explored first)."""
        j = node.unit
        z, zc = node.Z[j], node.cz[j]
        q = node.base + j
        zy = z * self.unit                     # the unit in the LP coordinates y: zy . y + (z . centre + zc)
        ny = math.sqrt(float(zy @ zy))
        if ny == 0.0:  # constant on this cell: one child, no hyperplane
            val = float(z @ self.centre + zc) if z.any() else float(zc)
            on = val > 0
            sg = 1.0 if on else -1.0
            zero = np.zeros(self.n_in)
            return [node.child(bool(on), (zero, sg * zc, zero, sg * val, bool(on) or self.full, False, q), node.A,
                               node.b, node.w)]
        nx = math.sqrt(float(z @ z))
        hx, rx = z / nx, zc / nx               # x-space row, unit-normalised (what Region.H reports)
        h, r = zy / ny, float(z @ self.centre + zc) / ny   # normalised in box coordinates: the signed distance there
        g = float(h @ node.w + r)
        kids = []
        for on in (False, True):
            if force is not None and on != bool(force[len(node.pattern)]):
                continue
            hy, ry, strict = (-h if on else h), (r if on else -r), on or self.full
            row = (-hx if on else hx, rx if on else -rx, hy, ry, strict, True, q)
            w = node.w
            if force is not None or (on and g > self.margin) or (not on and g < -self.margin):
                self.stats["skipped"] += force is None
            elif self.fast and self._misses_box(h, r, on, node.bb):
                self.stats["box"] += 1    # the child's side of the hyperplane misses the box: no child, no LP
                continue
            elif self.fast and (p := self._certify(node, node.w, h, g)) is not None:
                w = p                     # a point of the child found without an LP
            else:
                A, b = append_row(node.A, node.b, hy, ry, strict)
                w = self.solve(A, b)
                if w is None:
                    continue
                kids.append(node.child(on, row, A, b, w))
                continue
            kids.append(node.child(on, row, *append_row(node.A, node.b, hy, ry, strict), w))
        return kids

    def _boxes(self, node):
        """Whether to bound the cell before the next layer: 2 n_in LPs that can each save one LP per unit of that
        layer, so only when it has >= 4 n_in units (measured: a loss on 3-8-8-1, a gain on 3-12-12-1)."""
        return self.fast and self.widths[node.layer + 1] >= 4 * self.n_in

    def _cell_box(self, node):
        """A box around the node's cell in y (2 n_in small LPs; slightly widened): (lo, hi, centre, half-widths),
        or None."""
        if self.direct is None or self.ylim is None or not node.rows:
            return None
        rs = node.b
        A = node.A.copy()
        A[:, self.n_in] = 0.0
        lo, hi = -self.ylim.copy(), self.ylim.copy()
        for i in range(self.n_in):
            for sign in (1.0, -1.0):
                if self.stats["lps"] >= self.max_lps:
                    return None
                self.stats["lps"] += 1
                cost = np.zeros(self.n_in + 1)
                cost[i] = sign
                status, x = self.direct.solve(A, rs, cost)
                if status != "optimal":
                    return None
                if sign > 0:
                    lo[i] = max(lo[i], x[i] - 1e-9)
                else:
                    hi[i] = min(hi[i], x[i] + 1e-9)
        return lo, hi, 0.5 * (lo + hi), 0.5 * (hi - lo)

    def _misses_box(self, h, r, on, bb=None):
        """Whether the child's side of the hyperplane h . y + r = 0 (normalised) has no point of the box (or of
        the cell's box bb) at which the LP could find slack > tol: on, max of h . y + r <= tol there; off
        (strict when cells="full"), min >= -tol, resp. > 1e-9 (a non-strict row, room for HiGHS's tolerance)."""
        if self.ylim is None:
            return False
        if bb is None:
            mid, reach = r, float(np.abs(h) @ self.ylim)     # the box: centre 0, half-widths ylim
        else:
            mid, reach = float(h @ bb[2]) + r, float(np.abs(h) @ bb[3])
        if on:
            return mid + reach <= self.tol
        return mid - reach >= (-self.tol if self.full else 1e-9)

    def _certify(self, node, w, h, g):
        """A cheap feasibility certificate before an LP: the parent's witness w moved across the new hyperplane
        (h . y + r = g at w) to its mirror image and two nearer points; the first that lies in the box and farther
        than the margin inside every row of the child is a witness of the child (the LP would find the child
        too: its slack exceeds tol). None: ask the LP. The new row's slack at p is (t - 1) |g| (checked first);
        the parent's rows (node.A, node.b) are checked in one product."""
        Hs, rs = node.A[:, :self.n_in], node.b
        for t in (2.0, 1.5, 1.1):
            if (t - 1.0) * abs(g) <= self.margin:
                break
            p = w - t * g * h
            if self.ylim is not None and (np.abs(p) > self.ylim).any():
                continue
            if (rs - Hs @ p).min(initial=np.inf) > self.margin:
                self.stats["certified"] += 1
                return p
        return None

    # ---- the result
    def _single_region(self):
        """A network without hidden layers: one affine map, a single region described by no half-spaces."""
        net, n_in = self.net, self.n_in
        pt = self.to_x(np.zeros(n_in))[None, :]
        return Regions(net, self.lo, self.hi, self.cells, np.zeros((1, 0), bool), np.zeros((1, 0, n_in)),
                       np.zeros((1, 0)), np.zeros((1, 0), bool), net.Ws[0][None].copy(), net.bs[0][None].copy(), pt,
                       np.zeros((1, 0), np.int64), np.zeros((0, n_in)), np.zeros(0), self.stats,
                       time.perf_counter() - self.t0)

    def _regions(self):
        K, U, n_in, n_out = len(self.found), sum(self.widths), self.n_in, self.net.n_out
        pat, H, c, st, alpha, beta, pt, hp = zip(*self.found) if self.found else ([],) * 8
        G = np.concatenate(self.G_rows) if self.G_rows else np.zeros((0, n_in))
        g0 = np.concatenate(self.g0_rows) if self.g0_rows else np.zeros(0)
        return Regions(self.net, self.lo, self.hi, self.cells,
                       np.array(pat, dtype=bool).reshape(K, U),
                       np.array(H).reshape(K, U, n_in), np.array(c).reshape(K, U),
                       np.array(st, dtype=bool).reshape(K, U),
                       np.array(alpha).reshape(K, n_out, n_in), np.array(beta).reshape(K, n_out),
                       np.array(pt).reshape(K, n_in), np.array(hp, dtype=np.int64).reshape(K, U), G, g0,
                       self.stats, time.perf_counter() - self.t0)


def enumerate_regions(model, box=None, *, cells="full", method="auto", max_regions=100_000, max_lps=20_000,
                      max_seconds=None, tol=1e-9, fast_lp=True):
    """Every activation region of a ReLU network that meets a box (exact, for small networks).

    Parameters
    ----------
    model : MLP
        A network whose hidden layers are all "relu".
    box : tuple (lo, hi) or array_like of shape (n_in, 2), optional
        ``(lo, hi)`` for every input, or an array ``[[lo_0, hi_0], ...]``; None: all of R^n.
    cells : {"full", "all"}, default "full"
        "full" counts the full-dimensional regions (the usual "number of linear regions"); "all" keeps every
        non-empty cell {active units > 0, inactive units <= 0}, lower-dimensional ones included, which covers
        every point of the box exactly once, down to the resolution below (what ``to_shallow`` needs).
    method : {"auto", "geometry", "lp"}, default "auto"
        "auto": "geometry" for 1- and 2-input nets with a box, else "lp". "geometry": exact planar clipping of the
        box polygon by each unit's line, layer by layer (``fastmlp.regions.planar``: no LP, no scipy, ~100x
        faster; needs n_in <= 2 and a box; also fills ``Regions.polygons`` and ``areas``). "lp": the LP search
        below (any n_in, box or all of R^n). Both report the same cells, rows and maps for a pattern (they share
        ``cellmaps``) and apply the same resolution ``tol``; they differ only for cells within ~tol of it (see
        ``planar``).
    max_regions : int, default 100_000
        A budget: more regions raise ``RegionBudgetError`` (a RuntimeError) instead of running on (the count can
        be exponential in the depth).
    max_lps : int, default 20_000
        A budget on the LP path: one LP takes ~1-2 ms, so the default stops a hopeless run after roughly 30 s.
    max_seconds : float, optional
        A budget on the wall time (None: no limit).
    tol : float, default 1e-9
        The resolution, relative to the box. All LPs are posed after the affine change of variables
        ``x = centre + S * y`` (per input; centre: the box's centre, ``S_i = min(half-width_i, R)``, R the largest
        distance from the centre of a first-layer hyperplane that can meet the box: the extent of the
        arrangement there), with every half-space normalised in y, so the result does not depend on the inputs'
        units or offset. A region is found when, in y, it contains a ball of radius > ``tol`` (cells="full"),
        resp. a point at distance > ``tol`` from the hyperplanes of its active units (cells="all"); the ball's
        centre lies in the box, the ball need not. So regions or cells thinner than ~2 tol S can be missed, e.g.
        a sliver of width 1e-10 in the box [-1, 1]; shrink the box around it to resolve it. Values of tol below
        ~1e-9 approach HiGHS's feasibility tolerance (1e-10, set explicitly) and are not reliable.
        box=None: centre 0 and S = R over all first-layer hyperplanes (1 if they all pass through the origin).
    fast_lp : bool, default True
        The LP path's speed-ups: before an LP, the parent's witness mirrored across the new hyperplane is tried as
        a witness of the child (a certificate: no LP when it lies inside the child), and the LPs go to HiGHS
        directly (``highspy`` if installed, else the HiGHS bindings scipy ships; falling back to
        ``scipy.optimize.linprog``), ~10x cheaper per LP. Same regions either way; False: the plain search.

    Returns
    -------
    Regions
        Every region: its pattern, its rows ``H x <= c``, its affine map ``alpha``, ``beta``, a witness point, and
        ``bounds`` (the shallow, layer-product and pattern bounds on the count).

    Raises
    ------
    RegionBudgetError
        A budget was exceeded.
    ValueError
        A hidden activation is not relu, or an argument is out of range.

    Notes
    -----
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

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 6, 6, 1], dtype="float64", seed=0)
    >>> cells = regions.enumerate_regions(model, (-2, 2))
    >>> len(cells) == cells.n_regions, cells.method, len(cells) <= cells.bounds["product"]
    (True, 'geometry', True)
        """
    if cells not in ("full", "all"):
        raise ValueError(f"cells: expected 'full' or 'all', got {cells!r}")
    if not isinstance(method, str) or method not in ("auto", "lp", "geometry"):
        raise ValueError(f"method: expected 'auto', 'lp' or 'geometry', got {method!r}")
    for name, v in (("max_regions", max_regions), ("max_lps", max_lps)):
        if not is_int(v) or v < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {v!r}")
    if max_seconds is not None and not (is_real(max_seconds) and max_seconds > 0 and not math.isnan(max_seconds)):
        raise ValueError(f"max_seconds: expected None or a positive number, got {max_seconds!r}")
    if not (is_real(tol) and 0 < tol < 0.5 and math.isfinite(tol)):
        raise ValueError(f"tol: expected a number in (0, 0.5), got {tol!r}")
    tol = float(tol)
    net = read_net(model)
    n_in = net.n_in
    if box is None:
        lo = hi = None
        centre, half = np.zeros(n_in), np.full(n_in, np.inf)
    else:
        lo, hi = read_box(box, n_in)
        centre, half = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo
        if not (half > 0).all():
            raise ValueError(f"box: too narrow to represent (half-widths {half.tolist()})")
    if method == "geometry" and (n_in > 2 or box is None):
        raise ValueError(f"method='geometry' needs a 1- or 2-input network and a box (got {n_in} inputs, box="
                         f"{'None' if box is None else 'given'}); use method='lp' or 'auto'")
    if method != "lp" and n_in <= 2 and box is not None and net.widths:
        return _planar(net, lo, hi, centre, half, cells, max_regions, max_seconds, tol)
    if not isinstance(fast_lp, (bool, np.bool_)):
        raise TypeError(f"fast_lp: expected True or False, got {fast_lp!r}")
    return _Search(net, lo, hi, centre, half, cells, _linprog(), max_regions=max_regions, max_lps=max_lps,
                   max_seconds=max_seconds, tol=tol, fast_lp=bool(fast_lp)).run()


def _planar(net, lo, hi, centre, half, cells, max_regions, max_seconds, tol):
    """``enumerate_regions`` by plane geometry (``planar``), budgets as on the LP path."""
    t0 = time.perf_counter()
    try:
        r = planar_regions(net, lo, hi, centre, half, lp_scale(net, centre, half), cells, max_regions=max_regions,
                           max_seconds=max_seconds, tol=tol, t0=t0)
    except PlanarBudget as exc:
        limit = max_regions if exc.name == "max_regions" else max_seconds
        raise RegionBudgetError(f"enumerate_regions: more than {exc.name}={limit}"
                                f"{' regions' if exc.name == 'max_regions' else ' s'} (geometry path, "
                                f"{exc.n_regions} cells so far): raise {exc.name} or shrink the box",
                                exc.n_regions, 0) from None
    return Regions(net, lo, hi, cells, r["patterns"], r["H"], r["c"], r["strict"], r["alpha"], r["beta"],
                   r["points"], r["hp_index"], r["G"], r["g0"], r["stats"], time.perf_counter() - t0,
                   method="geometry", polygons=r["polygons"], areas=r["areas"])


def count_regions(model, box=None, **kwargs):
    """The number of regions meeting the box, ``len(enumerate_regions(model, box, **kwargs))``.

    Parameters
    ----------
    model : MLP
        A network whose hidden layers are all "relu".
    box : tuple (lo, hi) or array_like of shape (n_in, 2), optional
        As for ``enumerate_regions``; None: all of R^n.
    **kwargs
        Any option of ``enumerate_regions``: full-dimensional activation regions by default (the usual count),
        every non-empty cell with ``cells="all"``.

    Returns
    -------
    int
        The count.

    Raises
    ------
    RegionBudgetError
        A budget was exceeded.

    Examples
    --------
    >>> import fastmlp
    >>> from fastmlp import regions
    >>> model = fastmlp.MLP([2, 2, 1], dtype="float64")
    >>> model.set_flat_params([1, 0, 0, 1, 0, 0, 1, 1, 0])       # relu(x0) + relu(x1): two lines, 4 quadrants
    >>> regions.count_regions(model, (-1, 1))
    4
    """
    return len(enumerate_regions(model, box, **kwargs))

"""The LP search's branches (``enumerate_regions``, fastmlp.regions.enumeration): a node of the depth-first search
over the hidden units, with the half-spaces of its cell, the LP rows one more unit adds, and scipy's linprog."""
import numpy as np

from ..extras import require


def _linprog():
    """scipy's ``linprog`` (scipy is the optional extra ``fastmlp[regions]``), or an ImportError saying so."""
    return require("scipy.optimize", "fastmlp.regions' n-D enumeration (small LPs solved by HiGHS)",
                   "pip install 'fastmlp[regions]'").linprog


class Node:
    """A branch of the search: the units decided so far and the half-spaces of their cell, one row per unit.

    ``rows``: per decided unit, (hx, rx, hy, ry, strict, use, hp): the row in x, unit-normalised (what
    ``Region.H`` reports), the same row in the LP coordinates y, normalised there, whether it is strict, whether
    the LPs take it (not the zero row of a unit that is constant on the cell) and its hyperplane index; ``A``,
    ``b``: the LP rows built once, the used rows only: [hy, 1 if strict else 0] . [y; s] <= ry (C-contiguous,
    shared with the LP and the certificates); ``w``: a witness point of the cell, in y. (A plain class with
    slots: a child is one tuple append and one row appended to A, not seven array copies.)"""
    __slots__ = ("layer", "unit", "Z", "cz", "base", "pattern", "rows", "A", "b", "w", "bb")

    def __init__(self, layer, unit, Z, cz, base, pattern, rows, A, b, w, bb=None):
        self.layer = layer      # the layer being decided
        self.unit = unit        # its next undecided unit
        self.Z, self.cz = Z, cz  # the layer's pre-activations on this cell as affine maps of x: Z x + cz
        self.base = base        # the hyperplane index of the layer's unit 0
        self.pattern = pattern  # one bool per decided unit
        self.rows, self.A, self.b, self.w = rows, A, b, w
        self.bb = bb            # (lo, hi) in y: a box around the cell (fast_lp: found at the start of each layer)

    def child(self, on, row, A, b, w):
        """The node one unit further: the unit decided ``on``, one more row (A, b: the LP rows with it)."""
        return Node(self.layer, self.unit + 1, self.Z, self.cz, self.base, self.pattern + (on,),
                     self.rows + (row,), A, b, w, self.bb)

    def arrays(self):
        """(Hx, rx, Hy, ry, strict, use, hp) as arrays, one row per decided unit."""
        hx, rx, hy, ry, st, use, hp = zip(*self.rows)
        return (np.array(hx), np.array(rx, dtype=np.float64), np.array(hy), np.array(ry, dtype=np.float64),
                np.array(st, dtype=bool), np.array(use, dtype=bool), hp)


def append_row(A, b, hy, ry, strict):
    """The LP rows A, b with the row [hy, strict] . [y; s] <= ry appended (new C-contiguous arrays)."""
    m, n1 = A.shape
    A2 = np.empty((m + 1, n1))
    A2[:m] = A
    A2[m, :-1] = hy
    A2[m, -1] = 1.0 if strict else 0.0
    b2 = np.empty(m + 1)
    b2[:m] = b
    b2[m] = ry
    return A2, b2

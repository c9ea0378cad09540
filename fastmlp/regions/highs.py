"""HiGHS called directly for the small LPs of the n-D enumeration: ``highspy`` if installed, else the same HiGHS
bindings scipy ships (``scipy.optimize._highspy._core``, present since scipy 1.15; a private module, so any
failure to load or to use it falls back to ``scipy.optimize.linprog``). One ``Highs`` object is reused: the
per-LP cost drops from ~1 ms (linprog's checks and set-up) to ~0.05 ms (the model passed as flat arrays through
passModel's array overload where the bindings have it, else as a ``HighsLp``)."""
from __future__ import annotations

import importlib

import numpy as np


def _core():
    """The HiGHS bindings module (with ``_Highs`` or ``Highs``), or None."""
    for name in ("highspy", "scipy.optimize._highspy._core"):
        try:
            mod = importlib.import_module(name)
        except Exception:   # noqa: BLE001  (absent, or a private module that changed)
            continue
        if hasattr(mod, "Highs") or hasattr(mod, "_Highs"):
            return mod
    return None


class DirectLP:
    """max s subject to A [y; s] <= b, lower <= [y; s] <= upper: ``solve(A, b)`` returns ("optimal", x),
    ("infeasible", None) or ("other", None) (let the caller fall back)."""

    def __init__(self, core, lower, upper, tolerances):
        self.core = core
        self.h = (core.Highs if hasattr(core, "Highs") else core._Highs)()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("presolve", "off")
        for k, v in tolerances.items():
            self.h.setOptionValue(k, float(v))
        inf = core.kHighsInf
        self.lower = np.where(np.isfinite(lower), lower, -inf)
        self.upper = np.where(np.isfinite(upper), upper, inf)
        self.n = len(lower)
        self.cost = np.zeros(self.n)
        self.cost[-1] = -1.0
        self.status = core.HighsModelStatus
        self._rows = {}    # per row count m: (row starts, column indices, row lower bounds), built once
        self.flat = True   # passModel's flat-array overload (no HighsLp object built per LP); False: HighsLp
        self.integrality = np.zeros(self.n, dtype=np.int32)
        self.rowwise = int(core.MatrixFormat.kRowwise)

    def _layout(self, m, n):
        got = self._rows.get(m)
        if got is None:
            got = (np.arange(0, m * n + 1, n, dtype=np.int32), np.tile(np.arange(n, dtype=np.int32), m),
                   np.full(m, -self.core.kHighsInf))
            self._rows[m] = got
        return got

    def solve(self, A, b, cost=None):
        """max s (cost None), or min cost . [y; s]. A: (m, n) float64, C-contiguous preferred."""
        m, n = A.shape
        if self.flat:
            start, index, row_lower = self._layout(m, n)
            self.h.passModel(n, m, m * n, self.rowwise, 1, 0.0,
                             self.cost if cost is None else np.ascontiguousarray(cost, dtype=np.float64),
                             self.lower, self.upper, row_lower, np.ascontiguousarray(b, dtype=np.float64),
                             start, index, np.ascontiguousarray(A, dtype=np.float64).ravel(), self.integrality)
            return self._result()
        core = self.core
        lp = core.HighsLp()
        lp.num_col_, lp.num_row_ = n, m
        lp.col_cost_ = self.cost if cost is None else np.ascontiguousarray(cost, dtype=np.float64)
        lp.col_lower_, lp.col_upper_ = self.lower, self.upper
        start, index, row_lower = self._layout(m, n)
        lp.row_lower_, lp.row_upper_ = row_lower, np.ascontiguousarray(b, dtype=np.float64)
        M = lp.a_matrix_
        M.format_ = core.MatrixFormat.kRowwise
        M.start_, M.index_ = start, index
        M.value_ = np.ascontiguousarray(A, dtype=np.float64).ravel()
        M.num_col_, M.num_row_ = n, m
        lp.a_matrix_ = M
        self.h.clearModel()
        self.h.passModel(lp)
        return self._result()

    def _result(self):
        self.h.run()
        st = self.h.getModelStatus()
        if st == self.status.kOptimal:
            return "optimal", np.array(self.h.getSolution().col_value, dtype=np.float64)
        if st == self.status.kInfeasible:
            return "infeasible", None
        return "other", None


def direct_lp(lower, upper, tolerances):
    """A ``DirectLP`` or None when no HiGHS bindings load (or they fail a one-LP self-test)."""
    core = _core()
    if core is None:
        return None
    try:
        lp = DirectLP(core, lower, upper, tolerances)
    except Exception:   # noqa: BLE001  (a private API that changed: use linprog)
        return None
    for flat in (True, False):    # the flat passModel overload first, else a HighsLp per LP
        lp.flat = flat
        try:
            if _self_test(lp):
                return lp
        except Exception:   # noqa: BLE001
            pass
    return None


def _self_test(lp):
    """One feasible and one infeasible LP with known answers."""
    n = lp.n
    status, x = lp.solve(np.zeros((1, n)), np.zeros(1))
    if status != "optimal" or x is None or len(x) != n:
        return False
    # y_0 + s <= -1 and -y_0 + s <= -1: max s = -1, i.e. no slack at all, whatever the bounds on y_0
    A = np.zeros((2, n))
    A[:, 0], A[:, -1] = (1.0, -1.0), 1.0
    status, x = lp.solve(A, np.array([-1.0, -1.0]))
    if n < 2 or status == "infeasible":
        return True
    return status == "optimal" and abs(x[-1] + 1.0) < 1e-7

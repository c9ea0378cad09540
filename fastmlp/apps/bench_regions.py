"""``fastmlp bench regions``: the region analysis timed, both paths side by side in one run, one thread.

Three tables: 2-input enumeration (plane geometry against the LP search; random N(0, 1) nets over [-2, 2]^2), the
deep -> shallow rewrite against the number of neurons (2-w-w-1, 4 ... 128 neurons), and n-D enumeration (LPs per
region and seconds per region, with and without the cheap feasibility tests before an LP). The LP path runs under
a time budget per case and is reported as "over budget" past it."""
import time

import numpy as np

from ..mlp import MLP
from ..regions import RegionBudgetError, enumerate_regions, to_shallow

try:  # keep numpy's BLAS on one thread (as the rest of the bench does) where threadpoolctl is installed
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

ENUM_NETS = ([2, 8, 8, 1], [2, 16, 16, 1], [2, 32, 32, 1], [2, 64, 64, 1], [2, 32, 32, 32, 1])
SHALLOW_WIDTHS = (2, 4, 8, 16, 32, 64)           # 2-w-w-1: 4 ... 128 neurons
ND_NETS = ([3, 8, 8, 1], [3, 12, 12, 1], [4, 8, 8, 1])


def random_net(layers, seed=0, scale=1.0):
    """An MLP with N(0, scale^2) weights and biases (float64)."""
    m = MLP(list(layers), activation="relu", loss="mse", dtype="float64", seed=0)
    m.set_flat_params(scale * np.random.default_rng(seed).normal(size=m.n_params))
    return m


def _best(f, reps):
    """(min seconds over reps, last result)."""
    best, out = np.inf, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _lp(f, budget):
    """(seconds, result) of an LP-path run, or (None, the RegionBudgetError) past the budget."""
    t0 = time.perf_counter()
    try:
        out = f(budget)
    except RegionBudgetError as exc:
        return None, exc
    return time.perf_counter() - t0, out


def _t(s):
    return "over" if s is None else (f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s")


def enumeration_table(out, budget=20.0, reps=3, nets=ENUM_NETS):
    out("2-input enumeration, random N(0,1) nets, box [-2, 2]^2, same process, one thread. geometry: best of %d; "
        "LP: the LP path (fast_lp=True: certificates + HiGHS directly); plain LP: fast_lp=False (linprog per LP, "
        "the path before); LP columns one run each, budget %g s (past it: 'over', and larger nets skipped)"
        % (reps, budget))
    out(f"{'net':14s} {'geo regions':>11s} {'geo time':>9s} {'LP regions':>10s} {'LP time':>9s} {'LPs':>6s} "
        f"{'plain LP':>9s} {'geo vs LP':>9s} {'geo vs plain':>12s} {'same set':>8s}")
    enumerate_regions(random_net([3, 2, 1]), (-1, 1), method="lp")      # imports scipy once, before timing
    rows, alive = [], {"lp": True, "plain": True}
    key = lambda r: {np.packbits(p).tobytes() for p in r.patterns}      # noqa: E731
    for layers in nets:
        m = random_net(layers)
        box = (-2.0, 2.0)
        tg, geo = _best(lambda: enumerate_regions(m, box, method="geometry"), reps)
        res = {}
        for name, fast in (("lp", True), ("plain", False)):
            if alive[name]:
                res[name] = _lp(lambda b: enumerate_regions(m, box, method="lp", fast_lp=fast, max_seconds=b,
                                                            max_lps=10 ** 8), budget)
                alive[name] = res[name][0] is not None
        tl, lp = res.get("lp", (None, None))
        tp, _ = res.get("plain", (None, None))
        same = "-" if tl is None else ("yes" if key(geo) == key(lp) else "NO")
        n_lp = "-" if lp is None else (len(lp) if tl is not None else f">={lp.n_regions}")
        lps = "-" if lp is None else lp.n_lps
        fmt = lambda t, k: _t(t) if t is not None else ("over" if k in res else "skipped")    # noqa: E731
        out(f"{'-'.join(map(str, layers)):14s} {len(geo):11d} {_t(tg):>9s} {n_lp!s:>10s} {fmt(tl, 'lp'):>9s} "
            f"{lps!s:>6s} {fmt(tp, 'plain'):>9s} {(f'{tl / tg:.0f}x' if tl else '-'):>9s} "
            f"{(f'{tp / tg:.0f}x' if tp else '-'):>12s} {same:>8s}")
        rows.append({"net": layers, "geo_regions": len(geo), "geo_s": tg,
                     "lp_regions": len(lp) if tl is not None else None, "lp_s": tl, "plain_s": tp, "same": same})
    return rows


def shallow_table(out, budget=20.0, widths=SHALLOW_WIDTHS):
    out("")
    out("deep -> shallow (to_shallow, every cell) on random 2-w-w-1 nets, box [-2, 2]^2; LP path up to its budget "
        "(%g s)" % budget)
    out(f"{'neurons':>7s} {'net':12s} {'cells':>7s} {'geometry':>10s} {'LP':>12s} {'max |shallow - deep|':>21s}")
    rows, lp_alive = [], True
    for w in widths:
        m = random_net([2, w, w, 1], seed=1, scale=0.5)
        t0 = time.perf_counter()
        s = to_shallow(m, (-2.0, 2.0))
        tg = time.perf_counter() - t0
        X = np.random.default_rng(0).uniform(-2, 2, size=(20_000, 2))
        err = float(np.abs(s(X) - m.forward(X)).max())
        tl = None
        if lp_alive:
            tl, _ = _lp(lambda b: to_shallow(m, (-2.0, 2.0), method="lp", max_seconds=b, max_lps=10 ** 7), budget)
            lp_alive = tl is not None
        out(f"{2 * w:7d} {f'2-{w}-{w}-1':12s} {s.n_cells:7d} {_t(tg):>10s} "
            f"{(_t(tl) if tl is not None or not lp_alive else '-'):>12s} {err:21.2e}")
        rows.append({"neurons": 2 * w, "cells": s.n_cells, "geo_s": tg, "lp_s": tl, "err": err})
    return rows


def nd_table(out, budget=60.0, nets=ND_NETS):
    out("")
    out("n-D enumeration (LP path), random N(0,1) nets, box [-2, 2]^n: LPs and seconds per region; 'plain': "
        "fast_lp=False (linprog per LP, no certificates or box tests: the path before)")
    out(f"{'net':12s} {'regions':>8s} {'plain LPs/reg':>13s} {'plain s/reg':>11s} {'LPs/reg':>8s} {'s/reg':>9s} "
        f"{'speed-up':>9s}")
    rows = []
    for layers in nets:
        m = random_net(layers)
        box = (-2.0, 2.0)
        t0, plain = _lp(lambda b: enumerate_regions(m, box, method="lp", fast_lp=False, max_seconds=b,
                                                     max_lps=10 ** 7), budget)
        t1, fast = _lp(lambda b: enumerate_regions(m, box, method="lp", max_seconds=b, max_lps=10 ** 7), budget)
        if t0 is None or t1 is None:
            out(f"{'-'.join(map(str, layers)):12s} over budget")
            continue
        K = len(fast)
        out(f"{'-'.join(map(str, layers)):12s} {K:8d} {plain.n_lps / K:13.2f} {t0 / K * 1e3:9.2f}ms "
            f"{fast.n_lps / K:8.2f} {t1 / K * 1e3:7.2f}ms {t0 / t1:8.1f}x")
        rows.append({"net": layers, "regions": K, "same": len(plain) == K, "plain_lps": plain.n_lps,
                     "plain_s": t0, "lps": fast.n_lps, "s": t1})
    return rows


def run_regions_bench(quick=False, out=print):
    """All three tables (``quick``: smaller nets and budgets); returns their rows."""
    limiter = threadpool_limits(1) if threadpool_limits is not None else None
    try:
        budget = 5.0 if quick else 30.0
        enum = enumeration_table(out, budget, reps=1 if quick else 3, nets=ENUM_NETS[:3] if quick else ENUM_NETS)
        shallow = shallow_table(out, budget, widths=SHALLOW_WIDTHS[:4] if quick else SHALLOW_WIDTHS)
        nd = nd_table(out, 2 * budget, nets=ND_NETS[:1] if quick else ND_NETS)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    return {"enumeration": enum, "shallow": shallow, "nd": nd}

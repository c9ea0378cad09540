"""``fastmlp bench --sweep``: the float32 products of a dense layer and the whole training step over a grid of
widths and batch sizes, fastmlp beside numpy and PyTorch (those installed) in one process, interleaved, medians,
one thread everywhere.

Kinds of cell, for width W and batch B:

- ``fwd``: the forward product p[B, W] = x[B, W] W[W, W]^T (fastmlp: ``dense_forward`` without bias, identity
  activation; numpy ``matmul(x, W.T)``; PyTorch ``mm(x, W.t())``), 2 B W^2 flops;
- ``bwd``: both backward products dW = dz^T x and dx = dz W (fastmlp: ``dense_backward`` with identity activation,
  no bias; numpy/PyTorch: the two matmuls), 4 B W^2 flops;
- ``step``: one SGD step of a 784-W-W-10 ReLU network with softmax cross-entropy (fastmlp: ``model.stepper``;
  numpy: ``bench.NumpyMLP``; PyTorch: zero_grad, forward, backward, SGD step).

The ratio of a cell is the faster peer's median time over fastmlp's (> 1: fastmlp is faster). Each cell's time is
capped (``cell_seconds``): big cells get few repetitions (at least 3), small ones many (at most ``reps``).
"""
import math
import platform
import time

import numpy as np

from .. import _core
from ..info import build_info
from ..mlp import MLP
from . import plots
from .bench import NumpyMLP, _torch, _torch_ce_step, step_flops, threadpool_limits

WIDTHS = (64, 256, 1024, 2048, 4096)
BATCHES = (1, 16, 64, 256, 1024, 4096)
QUICK_WIDTHS = (64, 256, 1024)
QUICK_BATCHES = (1, 16, 256)
KINDS = ("fwd", "bwd", "step")
PEERS = ("numpy", "torch")


CLOCKS = {"thread": time.thread_time, "wall": time.perf_counter}


def measure_capped(funcs, cell_seconds=2.0, reps=11, min_reps=3, target=2e-3, clock="thread"):
    """Median seconds per call of each function, interleaved rep by rep. One untimed warm-up call each sizes the
    inner loops (~``target`` seconds per timed sample) and the repetitions (the whole cell in about
    ``cell_seconds``, between ``min_reps`` and ``reps``). clock="thread" times this thread's CPU time (every
    implementation runs on the calling thread here: a machine shared with other work then costs less noise, as
    time spent descheduled is not counted); "wall" the elapsed time."""
    now = CLOCKS[clock]
    inner, once = {}, {}
    for k, f in funcs.items():
        f()
        t0 = now()
        f()
        dt = max(now() - t0, 1e-9)
        inner[k] = max(1, min(1 << 16, int(target / dt)))
        once[k] = dt * inner[k]
    n_reps = int(cell_seconds / max(sum(once.values()), 1e-9))
    n_reps = max(min_reps, min(reps, n_reps))
    times = {k: [] for k in funcs}
    for _ in range(n_reps):
        for k, f in funcs.items():
            n = inner[k]
            t0 = now()
            for _ in range(n):
                f()
            times[k].append((now() - t0) / n)
    return {k: float(np.median(v)) for k, v in times.items()}, n_reps


# ---- the cells ---------------------------------------------------------------------------------------------------
def _fwd(torch, W, B, rng):
    x = rng.standard_normal((B, W), dtype=np.float32)
    Wm = (rng.standard_normal((W, W), dtype=np.float32) / np.sqrt(W)).astype(np.float32)
    out = np.empty((B, W), np.float32)
    funcs = {"fastmlp": lambda: _core.dense_forward(x, Wm, None, "identity", out=out, check_finite=False),
             "numpy": lambda: np.matmul(x, Wm.T, out=out)}
    if torch is not None:
        xt, Wt, ot = torch.from_numpy(x), torch.from_numpy(Wm), torch.empty((B, W))
        funcs["torch"] = lambda: torch.mm(xt, Wt.t(), out=ot)
    return funcs, 2.0 * B * W * W


def _bwd(torch, W, B, rng):
    x = rng.standard_normal((B, W), dtype=np.float32)
    Wm = (rng.standard_normal((W, W), dtype=np.float32) / np.sqrt(W)).astype(np.float32)
    p = np.zeros((B, W), np.float32)
    dp = rng.standard_normal((B, W), dtype=np.float32)
    dz, dW, dx = np.empty_like(dp), np.empty((W, W), np.float32), np.empty((B, W), np.float32)

    def numpy_bwd():
        np.matmul(dp.T, x, out=dW)
        np.matmul(dp, Wm, out=dx)
    funcs = {"fastmlp": lambda: _core.dense_backward(x, Wm, p, dp, "identity", dW=dW, dx=dx, dz=dz, bias=False,
                                                     check_finite=False),
             "numpy": numpy_bwd}
    if torch is not None:
        xt, Wt, dpt = torch.from_numpy(x), torch.from_numpy(Wm), torch.from_numpy(dp)
        dWt, dxt = torch.empty((W, W)), torch.empty((B, W))

        def torch_bwd():
            torch.mm(dpt.t(), xt, out=dWt)
            torch.mm(dpt, Wt, out=dxt)
        funcs["torch"] = torch_bwd
    return funcs, 4.0 * B * W * W


def _step(torch, W, B, rng):
    sizes = [784, W, W, 10]
    X = rng.standard_normal((B, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=B)
    model = MLP(sizes, seed=0)
    npm = NumpyMLP(sizes, np.float32)
    funcs = {"fastmlp": model.stepper(X, y, lr=1e-3), "numpy": lambda: npm.step(X, y, 1e-3)}
    if torch is not None:
        funcs["torch"] = _torch_ce_step(torch, sizes, X, y)
    return funcs, step_flops(sizes, B)


CASES = {"fwd": _fwd, "bwd": _bwd, "step": _step}


# ---- the sweep ---------------------------------------------------------------------------------------------------
def run_sweep(widths=None, batches=None, kinds=KINDS, quick=False, cell_seconds=None, reps=None, plot=None,
              clock="thread", out=print):
    """Time every (kind, width, batch) cell and print the table, the geometric means and the goals; returns the
    list of cells as dicts (kind, W, B, seconds and GFLOP/s per implementation, %peak, ratio, reps)."""
    widths = tuple(widths or (QUICK_WIDTHS if quick else WIDTHS))
    batches = tuple(batches or (QUICK_BATCHES if quick else BATCHES))
    for k in kinds:
        if k not in CASES:
            raise ValueError(f"kinds: expected some of {', '.join(KINDS)}, got {k!r}")
    if clock not in CLOCKS:
        raise ValueError(f"clock: expected thread or wall, got {clock!r}")
    for name, vals in (("widths", widths), ("batches", batches)):
        if not vals or any(int(v) != v or v < 1 for v in vals):
            raise ValueError(f"{name}: expected positive integers, got {vals!r}")
    if cell_seconds is not None and not (isinstance(cell_seconds, (int, float)) and 0 < cell_seconds < math.inf):
        raise ValueError(f"cell_seconds: expected a finite number of seconds > 0, got {cell_seconds!r}")
    if reps is not None and (isinstance(reps, bool) or not isinstance(reps, int) or reps < 1):
        raise ValueError(f"reps: expected an integer >= 1, got {reps!r}")
    cell_seconds = cell_seconds if cell_seconds is not None else (0.5 if quick else 2.0)
    reps = reps if reps is not None else (5 if quick else 11)
    torch = _torch()
    limiter = threadpool_limits(1) if threadpool_limits is not None else None
    before = _core.get_num_threads()
    _core.set_num_threads(1)
    if torch is not None:
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
    cells = []
    try:
        peak = _core.cpu_peak_gflops("float32", 0.1 if quick else 0.3)
        for kind in kinds:
            for W in widths:
                for B in batches:
                    funcs, flops = CASES[kind](torch, int(W), int(B), np.random.default_rng(W * 7919 + B))
                    sec, n_reps = measure_capped(funcs, cell_seconds, reps, clock=clock)
                    peer = min((p for p in PEERS if p in sec), key=lambda p: sec[p], default=None)
                    cells.append({"kind": kind, "W": int(W), "B": int(B), "sec": sec, "reps": n_reps,
                                  "gflops": {k: flops / v * 1e-9 for k, v in sec.items()},
                                  "peak": 100.0 * flops / sec["fastmlp"] * 1e-9 / peak,
                                  "peer": peer, "ratio": sec[peer] / sec["fastmlp"] if peer else float("nan")})
                    del funcs
    finally:
        _core.set_num_threads(before)
        if torch is not None:
            torch.set_num_threads(torch_threads)
        if limiter is not None:
            limiter.restore_original_limits()
    out(f"{platform.processor() or platform.machine()}, fastmlp path {_core.cpu_path()}, "
        f"{build_info()['blocking']}; measured 1-thread float32 peak {peak:.0f} "
        f"GFLOP/s; numpy {np.__version__}" + (f", torch {torch.__version__}" if torch is not None else
                                               ", torch not installed") + f"; 1 thread everywhere; {clock} clock")
    out("fwd: B x W -> W product; bwd: dW + dx products; step: 784-W-W-10 softmax-CE SGD step (stepper)")
    for line in format_table(cells):
        out(line)
    for line in goals(cells):
        out(line)
    if plot:
        heat_map(cells, plot)
        out(f"heat map written to {plot}")
    return cells


def format_table(cells):
    """The table's lines: GFLOP/s of each implementation, fastmlp's % of peak and the ratio to the faster peer."""
    lines = [f"{'kind':4s} {'W':>5s} {'B':>5s} {'fastmlp':>8s} {'numpy':>8s} {'torch':>8s} {'%peak':>6s} "
             f"{'ratio':>6s} {'vs':6s} {'reps':>4s}   (GFLOP/s; ratio = peer time / fastmlp time)"]
    for c in cells:
        g = c["gflops"]
        cols = " ".join(f"{g[k]:8.1f}" if k in g else f"{'-':>8s}" for k in ("fastmlp",) + PEERS)
        lines.append(f"{c['kind']:4s} {c['W']:5d} {c['B']:5d} {cols} {c['peak']:5.1f}% {c['ratio']:6.2f} "
                     f"{c['peer'] or '-':6s} {c['reps']:4d}")
    return lines


def geomean(values):
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def goals(cells):
    """Lines marking the issue's goals: ratio >= 1 for B >= 16, geometric mean >= 1.3, >= 70 % of peak for
    B >= 64 and W >= 256 (fwd and bwd)."""
    lines = [""]
    for kind in KINDS:
        sub = [c for c in cells if c["kind"] == kind]
        if sub:
            lines.append(f"geometric mean ratio {kind}: {geomean([c['ratio'] for c in sub]):.2f}x")
    gm = geomean([c["ratio"] for c in cells])
    lines.append(f"{'met ' if gm >= 1.3 else 'MISS'} geometric mean over the grid {gm:.2f}x (goal 1.3x)")
    for c in cells:
        where = f"{c['kind']} W={c['W']} B={c['B']}"
        if c["B"] >= 16 and c["ratio"] < 1.0:
            lines.append(f"MISS {where}: {c['ratio']:.2f}x {c['peer']} (goal >= 1x)")
        if c["kind"] != "step" and c["B"] >= 64 and c["W"] >= 256 and c["peak"] < 70.0:
            lines.append(f"MISS {where}: {c['peak']:.1f}% of peak (goal >= 70%)")
    return lines


def heat_map(cells, path):
    """A PNG with one panel per kind: log2 of the ratio, batch across, width down, each cell labelled."""
    plots.require()
    from matplotlib.figure import Figure

    kinds = [k for k in KINDS if any(c["kind"] == k for c in cells)]
    fig = Figure(figsize=(4.2 * len(kinds), 3.6), dpi=plots.DPI, layout="constrained")
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    image = None
    for ax, kind in zip(axes, kinds):
        sub = [c for c in cells if c["kind"] == kind]
        ws, bs = sorted({c["W"] for c in sub}), sorted({c["B"] for c in sub})
        grid = np.full((len(ws), len(bs)), np.nan)
        for c in sub:
            grid[ws.index(c["W"]), bs.index(c["B"])] = c["ratio"]
        image = ax.imshow(np.log2(grid), cmap="RdBu", vmin=-2, vmax=2, aspect="auto")
        for i in range(len(ws)):
            for j in range(len(bs)):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(bs)), [str(b) for b in bs])
        ax.set_yticks(range(len(ws)), [str(w) for w in ws])
        ax.set_xlabel("batch B")
        ax.set_ylabel("width W")
        ax.set_title(f"{kind}: faster peer time / fastmlp time")
    fig.colorbar(image, ax=list(axes), label="log2 ratio (blue: fastmlp faster)")
    return plots._save(fig, path)

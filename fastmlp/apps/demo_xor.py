"""The xor section of ``fastmlp demo`` (source document 001): sigmoid nets trained by full-batch gradient descent
on XOR, every claim of the seed run over several initialisation seeds and judged from the measured curves.

The seed's claims: a straight line cannot separate XOR; 3 hidden units are weak, 50 fit; with 50 units the loss
jumps late (exploding gradients); a decaying learning rate or stronger L1/L2 regularisation avoids it. Setup: the
seed trains on four-cluster XOR with squared error on sigmoid outputs; here 300 Gaussian points (2000 test points),
weights uniform in +-1/sqrt(fan_in), full-batch descent (one step per epoch, as the seed); the softmax
cross-entropy rows and the learning rates (2, 12, 50) are this demo's choice, made so that the effects show.

Some runs settle into a two-state cycle, one state on even epochs and the other on odd ones: ``period2`` finds
it from the loss curve and the row reports both states (the last epoch alone would show one of them).
"""
import numpy as np

from .. import schedules
from ..mlp import MLP
from . import datasets, plots, plots_anim
from .demo_base import Row, _accuracy, holds_in

JUMP = 3.0    # a loss that rises to JUMP x its best so far has jumped (full-batch GD never rises when stable)
STUCK = 1.5   # a run that ends STUCK x above its best loss blew up and stayed up
#: (name, hidden units (0: no hidden layer), loss, lr, L2, L1, lr decay per epoch, the seed's claim, setup)
RUNS = (
    ("2-2 linear lr 2", 0, "softmax_ce", 2.0, 0.0, 0.0, None, "a straight line cannot separate XOR",
     "no hidden layer (the seed's first figure)"),
    ("2-3-2 lr 2", 3, "softmax_ce", 2.0, 0.0, 0.0, None, "3 units: weak (simple boundary)", "CE, not MSE"),
    ("2-50-2 lr 2", 50, "softmax_ce", 2.0, 0.0, 0.0, None, "50 units: fits, more accurate", "CE, not MSE"),
    ("2-50-2 lr 12", 50, "softmax_ce", 12.0, 0.0, 0.0, None, "50 units: loss jumps late", "CE; lr raised to 12"),
    ("2-50-2 lr 12 decay", 50, "softmax_ce", 12.0, 0.0, 0.0, 0.999, "cure: learning-rate decay",
     "CE; lr 12 x 0.999^epoch"),
    ("2-50-2 lr 12 L2 1e-4", 50, "softmax_ce", 12.0, 1e-4, 0.0, None, "cure: stronger L2", "CE; lr 12"),
    ("2-50-2 lr 12 L1 1e-4", 50, "softmax_ce", 12.0, 0.0, 1e-4, None, "cure: L1 (\"L1 or L2\")", "CE; lr 12"),
    ("2-50-2 MSE lr 50", 50, "mse", 50.0, 0.0, 0.0, None, "50 units: loss blows up", "as the seed: MSE; lr 50"),
    ("2-50-2 MSE lr 50 L2 1e-4", 50, "mse", 50.0, 1e-4, 0.0, None, "cure: stronger L2", "as the seed: MSE; lr 50"),
    ("2-50-2 MSE lr 50 L1 1e-4", 50, "mse", 50.0, 0.0, 1e-4, None, "cure: L1 (\"L1 or L2\")",
     "as the seed: MSE; lr 50"),
)
#: The two experiments of the seed: hidden units (no hidden layer, 3, 50), and the 50-unit net's late loss jump at a
#: large learning rate with its cures (``xor(ctx, runs=...)``: each claim is judged within its experiment).
UNITS, JUMPS = RUNS[:3], RUNS[3:]


def loss_jumps(loss, late_from=0.1):
    """What a loss curve did, from the numbers: ``{"late": largest rise after the first ``late_from`` of the epochs
    as a multiple of the best loss before it, "late_epoch", "early" and "early_epoch" (the same before that),
    "stuck": final / best loss, "peak_epoch"}``."""
    L = np.asarray(loss, dtype=np.float64)
    out = {"late": 1.0, "late_epoch": None, "early": 1.0, "early_epoch": None,
           "stuck": float(L[-1] / L.min()) if len(L) and L.min() > 0 else 1.0}
    if len(L) < 2:
        return out
    rise = L[1:] / np.minimum.accumulate(L)[:-1]       # rise[e-1]: epoch e against the best of epochs < e
    k = max(1, int(len(L) * late_from))
    if len(rise[:k - 1]):
        e = int(np.argmax(rise[:k - 1]))
        out["early"], out["early_epoch"] = float(rise[e]), e + 1
    if len(rise[k - 1:]):
        e = int(np.argmax(rise[k - 1:])) + k - 1
        out["late"], out["late_epoch"] = float(rise[e]), e + 1
    return out


def period2(loss, tail=0.2, alternate=0.95, amplitude=1e-3):
    """Whether the last ``tail`` of a loss curve alternates between two states every epoch: the epoch-to-epoch
    change flips sign in at least ``alternate`` of the steps and is at least ``amplitude`` x the loss. Returns
    ``None`` or ``{"even": mean loss on even epochs, "odd": on odd epochs, "flips": fraction of sign flips}``."""
    L = np.asarray(loss, dtype=np.float64)
    n = max(8, int(len(L) * tail))
    if len(L) < n + 1 or not np.all(np.isfinite(L[-n:])):
        return None
    t = L[-n:]
    d = np.diff(t)
    flips = float(np.mean(d[:-1] * d[1:] < 0))
    if flips < alternate or np.median(np.abs(d)) < amplitude * np.median(t):
        return None
    first = len(L) - n                       # epoch number of t[0]
    ev = t[(np.arange(n) + first) % 2 == 0]
    od = t[(np.arange(n) + first) % 2 == 1]
    return {"even": float(ev.mean()), "odd": float(od.mean()), "flips": flips}


def _curve_note(j, diverged, osc):
    """(measured words, curve class) for a loss curve: the late behaviour first (an early transient while the
    large step size settles is reported only as "early"), then a period-2 cycle when there is one."""
    late = f"late rise x{j['late']:.1f}"
    cyc = f"; period-2 cycle, loss {osc['even']:.3g}/{osc['odd']:.3g} on even/odd epochs" if osc else ""
    if diverged:
        return "diverged (NaN/Inf)", "diverged"
    if j["late"] >= JUMP:
        ends = f"; ends x{j['stuck']:.1f} above its best" if j["stuck"] > STUCK else ""
        return f"loss jumps x{j['late']:.0f} late (epoch {j['late_epoch']}){ends}{cyc}", "jumps"
    if j["stuck"] > STUCK:
        return f"blew up: ends x{j['stuck']:.1f} above its best; {late}{cyc}", "blew up"
    if j["early"] >= JUMP or j["late"] >= STUCK:
        head = f"{late}, no late jump" if j["late"] < STUCK else f"{late} (epoch {j['late_epoch']}), recovers"
        early = f"; early transient x{j['early']:.0f} (epoch {j['early_epoch']})" if j["early"] >= JUMP else ""
        return f"{head}{early}{cyc}", "recovered"
    return f"{'oscillates' if osc else 'smooth'}; {late}{cyc}", "converges"


def _verdict(j, diverged):
    """(note, curve class) for a loss curve measured by ``loss_jumps`` (no period-2 check)."""
    return _curve_note(j, diverged, None)


def _claim_holds(name, v, by):
    """Whether the seed's claim of run ``name`` holds for one seed's measured values (``by``: all runs of it)."""
    calm = v["late"] < JUMP and v["stuck"] <= STUCK and not v["diverged"]
    if name.startswith("2-2 linear"):
        return v["test_accuracy"] < 0.65
    if name.startswith("2-3-2"):
        return v["test_accuracy"] < by["2-50-2 lr 2"]["test_accuracy"] - 0.02
    if name == "2-50-2 lr 2":
        return v["train_accuracy"] >= 0.98 and v["test_accuracy"] > by["2-3-2 lr 2"]["test_accuracy"]
    if name in ("2-50-2 lr 12", "2-50-2 MSE lr 50"):
        return v["curve"] in ("jumps", "blew up", "diverged")
    return calm and v["train_accuracy"] >= 0.9                       # the cures: no late jump, ends near its best


def _train_one(ctx, seed, spec, X, y, Xte, yte, epochs, record):
    name, hidden, loss, lr, wd, l1, decay = spec[:7]
    mse = loss == "mse"
    layers = [2, hidden, 2] if hidden else [2, 2]
    model = MLP(layers, activation="sigmoid", output="sigmoid" if mse else "identity", loss=loss, init="uniform",
                seed=seed)
    acc = {"epoch": [], "train": [], "test": []}
    last, frames = [], []     # frames: (epoch, weights) for the training animation (recorded runs only)
    # an odd stride: consecutive samples fall on epochs of alternate parity, so a period-2 cycle shows as a zigzag
    # band (an even stride would sample one of its two states only, and a last odd epoch would look like a jump)
    stride = odd_stride(epochs)

    def cb(m, epoch, logs):
        if epoch >= epochs - 2:
            last.append(_accuracy(m, X, y))
        if record and epoch % stride == 0:
            acc["epoch"].append(epoch)
            acc["train"].append(_accuracy(m, X, y))
            acc["test"].append(_accuracy(m, Xte, yte))
            if epoch % (4 * stride) == 0:
                frames.append((epoch, m.get_flat_params()))
    hist, dt = ctx.train(f"xor {name} (seed {seed})", model, X, np.eye(2)[y] if mse else y, epochs, callbacks=[cb],
                         batch_size=len(X), lr=lr, optimizer="sgd", weight_decay=wd or None, l1=l1 or None,
                         lr_schedule=schedules.Exponential(decay) if decay else "constant", on_divergence="warn")
    j = loss_jumps(hist["loss"])
    osc = period2(hist["loss"])
    note, curve = _curve_note(j, hist.diverged, osc)
    v = dict(train_accuracy=_accuracy(model, X, y), test_accuracy=_accuracy(model, Xte, yte), verdict=curve,
             curve=curve, diverged=bool(hist.diverged), loss=loss, lr=lr, weight_decay=wd, l1=l1,
             final_loss=hist["loss"][-1], best_loss=min(hist["loss"]), period2=osc, last_train_accuracy=last,
             accuracy_curve=acc if record else None, **j)
    acc["frames"] = frames
    return model, hist, dt, note, v, acc


def odd_stride(epochs, points=200):
    """The odd number of epochs between accuracy samples, about ``points`` samples in all."""
    k = max(1, epochs // points)
    return k if k % 2 else k - 1


def seeds_of(ctx, default=3):
    """The initialisation seeds a claim is run over: ``ctx.seed`` and the next ones (one seed with --quick)."""
    return [ctx.seed + k for k in range(1 if ctx.quick else default)]


def xor(ctx, runs=RUNS):
    """Source document 001: every run of ``runs`` (all of ``RUNS``, or ``UNITS`` or ``JUMPS``) for each seed of
    ``seeds_of(ctx)``; the rows show the first seed's numbers and the verdict over all seeds."""
    epochs = 3000 if ctx.quick else 4000
    X, y = datasets.xor(300, seed=0)
    Xte, yte = datasets.xor(2000, seed=100)
    seeds = seeds_of(ctx)
    per_seed, models, curves, shown = [], {}, {}, {}
    for s in seeds:
        first = s == seeds[0]
        got = {}
        for spec in runs:
            model, hist, dt, note, v, acc = _train_one(ctx, s, spec, X, y, Xte, yte, epochs,
                                                      first and ctx.wants_figures)
            got[spec[0]] = v
            if first:
                shown[spec[0]] = (hist, dt, note)
                models[spec[0]] = model
                curves[spec[0]] = (hist["loss"], acc)
        per_seed.append(got)
    rows = []
    for name, *_, claim, setup in runs:
        hist, dt, note = shown[name]
        v = per_seed[0][name]
        flags = [_claim_holds(name, g[name], g) for g in per_seed]
        osc, last = v["period2"], v["last_train_accuracy"]
        result = f"acc {v['train_accuracy']:.3f}, test {v['test_accuracy']:.3f}"
        if osc and len(last) == 2 and last[0] != last[1]:
            result = f"acc {last[0]:.3f}/{last[1]:.3f} (alternate epochs), test {v['test_accuracy']:.3f}"
        v.update(seeds=seeds, holds=flags, per_seed=[g[name] for g in per_seed[1:]])
        rows.append(Row("xor", f"XOR {name}", hist["loss"][-1] if hist["loss"] else None, result, claim, note, dt, v,
                        source="001", verdict=holds_in(flags), setup=setup))
    _plots(ctx, models, curves, X, y)
    return rows


def _plots(ctx, models, curves, X, y):
    if not ctx.wants_figures:
        return
    ce = [k for k in curves if "MSE" not in k]
    sq = [k for k in curves if "MSE" in k]
    panels = [(t, ks) for t, ks in [("softmax cross-entropy", ce), ("squared error on sigmoid outputs", sq)] if ks]
    ctx.plot("xor_loss", plots.loss_curves, [(t, {k: curves[k][0] for k in ks}) for t, ks in panels],
             title="XOR, full-batch gradient descent: training loss per epoch", logy=True)
    ctx.plot("xor_accuracy", plots.accuracy_curves, [(t, {k: curves[k][1] for k in ks}) for t, ks in panels],
             title=f"XOR: accuracy every {odd_stride(len(next(iter(curves.values()))[0]))} epochs (odd: samples alternate "
                   "even/odd epochs; a band: a period-2 cycle; solid: train, dashed: test)")
    shown = ["2-2 linear lr 2", "2-3-2 lr 2", "2-50-2 lr 2", "2-50-2 lr 12", "2-50-2 lr 12 decay",
             "2-50-2 MSE lr 50", "2-50-2 MSE lr 50 L2 1e-4", "2-50-2 MSE lr 50 L1 1e-4"]
    name = "2-50-2 lr 12"      # the run whose loss jumps late: the animation shows the boundary when it does
    if name in curves:
        loss, acc = curves[name]
        ctx.plot("xor_training", plots_anim.training_animation, models[name], acc["frames"], loss, acc, X, y,
                 ext=".gif", title=f"XOR {name}, ")
    shown = [k for k in shown if k in models]
    ctx.plot("xor_boundaries", plots.decision_boundaries, {k: models[k] for k in shown}, X, y,
             cols=min(4, len(shown)),
             title="XOR: decision boundaries (colour: P(class 1) for CE nets, 0.5 + (p1 - p0)/2 for MSE nets; "
                   "line: the classes tie)")

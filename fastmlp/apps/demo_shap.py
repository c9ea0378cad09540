"""``fastmlp demo shap`` (source document 003): a deep ReLU net trained on a real task (scikit-learn's diabetes data:
442 patients, 10 standardised features, disease progression after a year), rewritten as the equivalent network with
three hidden layers (``fastmlp.regions.to_shallow``), the rewrite's time against the number of neurons, and SHAP
values per patient: the network's exact interventional values, the local-linear ones (exact SHAP of each point's
linear region model, not of the network) and permutation-sampled estimates with standard errors.

A named section (not in the default run): it needs scikit-learn (the data) and scipy (the region enumeration), and
the timing curve runs the rewrite until it passes a time budget (20 s per net, 5 s with --quick).
"""
import importlib.util
import time
from dataclasses import dataclass

import numpy as np

from ..mlp import MLP
from ..regions import RegionBudgetError, to_shallow
from ..regions.shap import linear_shap, sampled_shapley_values, shapley_values
from . import plots_seeds
from .demo_base import DemoError, Row

#: Hidden widths of the timing curve: two layers, n/2 units each, n = 4 ... 32 neurons.
TIMING_NEURONS = (4, 8, 12, 16, 24, 32)
SEED_CLAIM_SECONDS = 600.0       # source 003: "about 10 minutes for 12 neurons"


def _data():
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise DemoError('fastmlp demo shap: needs scikit-learn (the diabetes data): pip install '
                        '"fastmlp[sklearn,regions]"') from None
    if importlib.util.find_spec("scipy") is None:
        raise DemoError('fastmlp demo shap: needs scipy (region enumeration): pip install "fastmlp[regions]"')
    d = load_diabetes()
    X = (d.data - d.data.mean(0)) / d.data.std(0)
    y = (d.target - d.target.mean()) / d.target.std()
    return X, y[:, None], list(d.feature_names)


def _train(ctx, hidden, X, y, epochs, seed):
    model = MLP([X.shape[1], *hidden, 1], activation="relu", loss="mse", dtype="float64", seed=seed)
    _, secs = ctx.train(f"shap 10-{'-'.join(map(str, hidden))}-1", model, X, y, epochs, batch_size=32, lr=0.003,
                        optimizer="adam", weight_decay=1e-4)
    return model, secs


def _growth(neurons, seconds):
    """Factor per added neuron of a least-squares line through log(seconds)."""
    if len(neurons) < 2:
        return float("nan")
    k, _ = np.polyfit(np.asarray(neurons, dtype=float), np.log(seconds), 1)
    return float(np.exp(k))


@dataclass
class Diabetes:
    """The data of the section: standardised features ``X``, target ``y`` (n x 1), feature ``names``, the indices
    of the training (``tr``) and held-out (``te``) patients (75/25 seeded split), and the ``box`` around them."""
    X: np.ndarray
    y: np.ndarray
    names: list
    tr: np.ndarray
    te: np.ndarray
    box: np.ndarray


def diabetes():
    """The diabetes data, split (``Diabetes``)."""
    X, y, names = _data()
    idx = np.random.default_rng(0).permutation(len(X))
    box = np.stack([X.min(0), X.max(0)], axis=1)    # every patient lies in the box the rewrite covers
    return Diabetes(X, y, names, idx[len(X) // 4:], idx[: len(X) // 4], box)


def deep_net(ctx, d):
    """The deep net of the section: 10-6-6-1 ReLU (12 neurons, the seed's size) trained on ``d``: (model, seconds)."""
    return _train(ctx, [6, 6], d.X[d.tr], d.y[d.tr], 60 if ctx.quick else 200, ctx.seed)


def shap(ctx):
    """Source document 003 on the diabetes data (75/25 seeded split): its three experiments in turn."""
    d = diabetes()
    model, secs = deep_net(ctx, d)
    first = rewrite(ctx, d, model, secs)
    last = explain(ctx, d, model)          # before the timing curve: the figures in the order they always had
    return first + rewrite_timing(ctx, d) + last


def rewrite(ctx, d, model, secs=0.0):
    """Deep -> shallow: ``model`` rewritten as the equivalent net with three hidden layers (``to_shallow``) and
    compared on the held-out patients (``secs``: its training time, for the row)."""
    X, y, tr, te, box = d.X, d.y, d.tr, d.te, d.box
    rows = []
    t0 = time.perf_counter()
    shallow = to_shallow(model, box, max_seconds=120)
    t_rw = time.perf_counter() - t0
    deep_out, shallow_out = model.forward(X[te])[:, 0], shallow(X[te])[:, 0]
    err = float(np.max(np.abs(deep_out - shallow_out)))
    r2 = 1 - float(np.mean((deep_out - y[te, 0]) ** 2) / np.var(y[te, 0]))
    w = "-".join(map(str, shallow.widths))
    rows.append(Row("shap", "diabetes 10-6-6-1 relu -> to_shallow", float(model.loss_value(X[tr], y[tr])),
                    f"max |deep - shallow| {err:.1e} on {len(te)} held-out", "any deep ReLU net = a net with 3 "
                    "hidden layers", f"3 layers 10-{w}-1 ({shallow.n_cells} cells, {shallow.n_hyperplanes} "
                    f"hyperplanes) in {t_rw:.1f}s; test R^2 {r2:.2f}", secs + t_rw,
                    dict(max_err=err, widths=shallow.widths, cells=shallow.n_cells, seconds=t_rw, r2=r2),
                    source="003", verdict="holds" if err < 1e-9 else "does not hold"))
    return rows


def rewrite_timing(ctx, d):
    """The rewrite's time against the number of neurons (``TIMING_NEURONS``, until one passes the time budget) and
    at the seed's 12 neurons; the figure "shap_timing"."""
    X, y, tr, box = d.X, d.y, d.tr, d.box
    rows = []
    budget = 5.0 if ctx.quick else 20.0
    curve = []          # (neurons, seconds, cells or None)
    for n in TIMING_NEURONS:
        m, _ = _train(ctx, [n // 2, n // 2], X[tr], y[tr], 30, ctx.seed + n)
        t0 = time.perf_counter()
        try:
            cells = to_shallow(m, box, max_seconds=budget, max_lps=10 ** 7, max_regions=10 ** 7).n_cells
        except RegionBudgetError:
            cells = None
        curve.append((n, time.perf_counter() - t0, cells))
        if cells is None:
            break
    done = [(n, s, c) for n, s, c in curve if c is not None]
    g = _growth([n for n, _, _ in done], [s for _, s, _ in done])
    at12 = next((s for n, s, c in done if n == 12), None)
    over = [n for n, _, c in curve if c is None]
    pts = ", ".join(f"{n}: {s:.2g}s/{c}" for n, s, c in done) + (f", {over[0]}: > {budget:g}s" if over else "")
    rows.append(Row("shap", "to_shallow time vs neurons (10-n/2-n/2-1)", None, f"x{g:.2f} per neuron",
                    "time grows exponentially with neurons", f"neurons: seconds/cells {pts}",
                    sum(s for _, s, _ in curve), dict(curve=curve, growth=g, budget=budget), source="003",
                    verdict="holds" if g > 1.2 else "does not hold"))
    rows.append(Row("shap", "to_shallow with 12 neurons", None,
                    "-" if at12 is None else f"{at12:.1f}s", "about 10 minutes for 12 neurons",
                    "this machine, one core, HiGHS LPs", at12 or 0.0, dict(seconds=at12), source="003",
                    verdict="-" if at12 is None else ("does not hold: much faster" if at12 < SEED_CLAIM_SECONDS / 10
                                                      else "holds")))
    ctx.plot("shap_timing", plots_seeds.timing_curve, curve, budget, title="deep -> shallow rewrite: time against "
             "the number of neurons (10-n/2-n/2-1 nets on diabetes)")
    return rows


def explain(ctx, d, model):
    """SHAP values of ``model`` per held-out patient: exact (of the network), local-linear (of each point's region
    model) and permutation-sampled with standard errors; the figure "shap_beeswarm"."""
    X, tr, te, names = d.X, d.tr, d.te, d.names
    deep_out = model.forward(X[te])[:, 0]
    rows = []
    bg = X[tr][np.random.default_rng(1).choice(len(tr), 50, replace=False)]
    pts_x = X[te]
    t0 = time.perf_counter()
    exact = shapley_values(model, pts_x, bg)[:, 0]
    t_ex = time.perf_counter() - t0
    t0 = time.perf_counter()
    lin = linear_shap(model, pts_x, bg)[:, 0]
    t_lin = time.perf_counter() - t0
    add = float(np.max(np.abs(exact.sum(1) - (deep_out - model.forward(bg)[:, 0].mean()))))
    rel = float(np.linalg.norm(lin - exact) / np.linalg.norm(exact))
    top = lambda phi: [names[j] for j in np.argsort(-np.abs(phi).mean(0))[:3]]   # noqa: E731
    rows.append(Row("shap", f"SHAP of {len(te)} held-out patients, 50 background", None,
                    f"exact {1e3 * t_ex / len(te):.1f} ms/pt, local-linear {1e6 * t_lin / len(te):.0f} us/pt",
                    "the white-box net gives SHAP per data point fast",
                    f"exact (network, 2^10 coalitions) top {', '.join(top(exact))}; local-linear (region model) top "
                    f"{', '.join(top(lin))}; differ by {100 * rel:.0f}% (L2); exact additivity {add:.0e}",
                    t_ex + t_lin, dict(exact_seconds=t_ex, linear_seconds=t_lin, rel_diff=rel, additivity=add),
                    source="003", verdict="holds for the local models; the network's exact SHAP differs "
                    f"by {100 * rel:.0f}%"))
    # 4. sampling against exact, where both run
    n_perm = 64 if ctx.quick else 200
    t0 = time.perf_counter()
    phi_s, se = sampled_shapley_values(model, pts_x, bg, n_perm, seed=ctx.seed)
    t_s = time.perf_counter() - t0
    z = np.abs(phi_s[:, 0] - exact) / np.maximum(se[:, 0], 1e-12)
    within = float(np.mean(z < 3))
    rows.append(Row("shap", f"sampled SHAP ({n_perm} orders) vs exact", None,
                    f"{100 * within:.0f}% within 3 se; RMS err {np.sqrt(np.mean((phi_s[:, 0] - exact) ** 2)):.1e}, "
                    f"mean se {se.mean():.1e}", "(for inputs wider than 16 features)",
                    f"permutation sampling, antithetic, seed {ctx.seed}; {1e3 * t_s / len(te):.1f} ms/pt",
                    t_s, dict(within_3se=within, seconds=t_s), source="003",
                    verdict="holds" if within > 0.95 else "does not hold"))
    ctx.plot("shap_beeswarm", plots_seeds.shap_beeswarm, {"exact SHAP of the network": exact,
                                                         "local-linear SHAP (each point's region model)": lin},
             pts_x, names, title="diabetes, 10-6-6-1 ReLU net: SHAP value per held-out patient (colour: feature "
             "value)")
    return rows


SECTIONS = {"shap": shap}

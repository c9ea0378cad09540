"""Figures of the demo sections for source documents 002 and 003 (``fastmlp.apps.demo_seeds``,
``fastmlp.apps.demo_shap``): matplotlib (the optional extra ``fastmlp[plot]``), imported on first use, through the
object-oriented API of ``fastmlp.apps.plots``."""
import numpy as np

from ..derivatives import jacobian
from .plots import COLOURS, _figure, _grid, _save

__all__ = ["delta_sweep", "tangents", "shap_beeswarm", "timing_curve", "surfaces_3d"]


def delta_sweep(deltas, curves, seed_delta, path=None, title="error against the step", fig=None):
    """The largest relative error of the central difference against the step (log-log), one line per dtype,
    with the seed's step and each dtype's eps^(1/3) marked."""
    fig = _figure(7.2, 4.6, fig)
    ax = fig.subplots()
    for k, (dt, err) in enumerate(curves.items()):
        err = np.maximum(np.asarray(err, dtype=np.float64), 1e-17)
        ax.loglog(deltas, err, "o-", color=COLOURS[k], label=dt)
        ax.axvline(np.finfo(dt).eps ** (1 / 3), color=COLOURS[k], ls=":", lw=1,
                   label=f"{dt}: eps^(1/3), where truncation = rounding")
    ax.axvline(seed_delta, color="k", ls="--", lw=1, label=f"source 002: D = {seed_delta:g}")
    ax.invert_xaxis()
    ax.set_xlabel("step D (smaller to the right)")
    ax.set_ylabel("max relative error of the derivative")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def tangents(model, function, lo, hi, points, path=None, title="tangents", half=0.6, fig=None):
    """A one-input model and a function on [lo, hi], with the model's tangent line (slope from
    ``fastmlp.jacobian``) drawn at each of ``points``."""
    fig = _figure(7.6, 4.6, fig)
    ax = fig.subplots()
    x = np.linspace(lo, hi, 600)
    ax.plot(x, function(x), color="0.6", lw=2.5, label="f(x)")
    y = np.asarray(model.forward(x[:, None].astype(model.dtype)), dtype=np.float64)[:, 0]
    ax.plot(x, y, color=COLOURS[0], lw=1.3, label="trained net")
    a = np.asarray(points, dtype=np.float64)
    fa = np.asarray(model.forward(a[:, None].astype(model.dtype)), dtype=np.float64)[:, 0]
    slope = jacobian(model, a[:, None])[:, 0, 0].astype(np.float64)
    for i, (ai, fi, si) in enumerate(zip(a, fa, slope)):
        t = np.array([ai - half, ai + half])
        ax.plot(t, fi + si * (t - ai), color=COLOURS[1], lw=2, label="tangent (slope: backward pass)" if i == 0
                else None)
        ax.plot([ai], [fi], "o", color=COLOURS[1])
        ax.annotate(f"{si:.2f}", (ai, fi), textcoords="offset points", xytext=(4, 8), fontsize=8)
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def shap_beeswarm(panels, X, names, path=None, title="SHAP values", fig=None):
    """A beeswarm per panel (``{title: phi[n, n_features]}``): one row per feature, ordered by mean |SHAP|, one dot
    per data point at its SHAP value, coloured by the feature's value (blue low, red high), as shap's beeswarm."""
    X = np.asarray(X, dtype=np.float64)
    first = np.asarray(next(iter(panels.values())))
    order = np.argsort(np.abs(first).mean(0))           # the first panel's order, shared, most important on top
    fig = _figure(5.6 * len(panels), 0.42 * len(names) + 1.6, fig)
    axes = fig.subplots(1, len(panels), squeeze=False, sharex=True)[0]
    rng = np.random.default_rng(0)
    for ax, (sub, phi) in zip(axes, panels.items()):
        phi = np.asarray(phi, dtype=np.float64)
        for row, j in enumerate(order):
            v = X[:, j]
            c = (v - v.min()) / max(np.ptp(v), 1e-12)
            jitter = rng.uniform(-0.25, 0.25, len(v))
            sc = ax.scatter(phi[:, j], row + jitter, c=c, cmap="coolwarm", s=9, vmin=0, vmax=1)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels([names[j] for j in order])
        ax.set_xlabel("SHAP value (impact on the output)")
        ax.set_title(sub, fontsize=9)
    cb = fig.colorbar(sc, ax=axes[-1], ticks=[0, 1])
    cb.ax.set_yticklabels(["low", "high"])
    cb.set_label("feature value")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def timing_curve(curve, budget, path=None, title="time against neurons", fig=None):
    """Seconds (log scale) against the number of neurons, ``curve``: [(neurons, seconds, cells or None)]; a run
    stopped at the budget is drawn as an open marker at the budget."""
    fig = _figure(6.6, 4.4, fig)
    ax = fig.subplots()
    done = [(n, s, c) for n, s, c in curve if c is not None]
    if done:
        ax.semilogy([n for n, _, _ in done], [s for _, s, _ in done], "o-", color=COLOURS[0], label="rewrite time")
        for n, s, c in done:
            ax.annotate(f"{c} cells", (n, s), textcoords="offset points", xytext=(4, -12), fontsize=8)
    for n, s, c in curve:
        if c is None:
            ax.semilogy([n], [s], "o", mfc="none", color=COLOURS[3], label=f"stopped at the {budget:g} s budget")
    ax.axhline(600, color="k", ls="--", lw=1, label="source 003: ~10 min for 12 neurons")
    ax.set_xlabel("hidden neurons")
    ax.set_ylabel("seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def surfaces_3d(models, domain, function, path=None, title="surfaces in 3-D", fig=None):
    """The 2-input target and each model's fit as 3-D surfaces (as source 000's notebooks draw them): a ReLU net's
    surface is made of flat facets, one per linear region."""
    gx, gy, G = _grid(domain, 61)
    f = function(gx, gy)
    panels = [("target f(x1, x2)", f)] + [(name, m.forward(G).astype(np.float64).reshape(gx.shape))
                                          for name, m in models.items()]
    fig = _figure(3.4 * len(panels), 3.6, fig)
    vmin, vmax = float(f.min()), float(f.max())
    for j, (name, z) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), j + 1, projection="3d")
        ax.plot_surface(gx, gy, z, cmap="viridis", vmin=vmin, vmax=vmax, rstride=1, cstride=1, linewidth=0,
                        antialiased=False)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("x1", fontsize=8)
        ax.set_ylabel("x2", fontsize=8)
        ax.view_init(elev=35, azim=-60)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)

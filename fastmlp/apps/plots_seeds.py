"""Figures of the demo sections for source documents 002 and 003 (``fastmlp.apps.demo_seeds``,
``fastmlp.apps.demo_shap``): matplotlib (the optional extra ``fastmlp[plot]``), imported on first use, through the
object-oriented API of ``fastmlp.apps.plots``."""
import numpy as np

from ..derivatives import jacobian
from .plots import COLOURS, _figure, _save

__all__ = ["delta_sweep", "tangents"]


def delta_sweep(deltas, curves, seed_delta, path, title="error against the step"):
    """The largest relative error of the central difference against the step (log-log), one line per dtype,
    with the seed's step and each dtype's eps^(1/3) marked."""
    fig = _figure(7.2, 4.6)
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


def tangents(model, function, lo, hi, points, path, title="tangents", half=0.6):
    """A one-input model and a function on [lo, hi], with the model's tangent line (slope from
    ``fastmlp.jacobian``) drawn at each of ``points``."""
    fig = _figure(7.6, 4.6)
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

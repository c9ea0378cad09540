"""Source 000's first figure: a 1-2-10-1 ReLU net trained on f(x) = sin 2x + cos x + x, whose ten second-layer
units each fold the (h1, h2) plane of the first layer's outputs in their own way; the data reach that plane along
the path x -> (h1(x), h2(x)), and each unit's value along the data is its folded surface sampled on that path."""
import numpy as np

from .. import schedules
from ..mlp import MLP
from ..network import NUMPY_ACTIVATIONS
from . import datasets
from .plots import _figure, _save   # matplotlib is imported only when a figure is drawn
from .demo_base import Row, _best_of, _mse


def hidden_path(model, X):
    """(h1, h2) of every input: the first hidden layer's outputs (float64)."""
    W, b = model.params[0]
    return NUMPY_ACTIVATIONS[model.activations[0]](X.astype(np.float64) @ np.asarray(W, np.float64).T + b)


def fold_lines(model):
    """Each second-layer unit's fold line theta'_k . h + beta_k = 0 in the (h1, h2) plane, normalised (unit normal,
    sign fixed), one row per unit: [n1, n2, offset]."""
    W, b = model.params[1]
    L = np.column_stack([np.asarray(W, np.float64), np.asarray(b, np.float64)])
    L /= np.linalg.norm(L[:, :2], axis=1, keepdims=True)
    return L * np.where(L[:, :1] < 0, -1.0, 1.0)


def latent(ctx):
    """The 1-2-10-1 net of source 000's first figure: how many of the ten units fold the plane where the data are
    (their fold line crosses the data's path), whether the ten folds are distinct lines, and the fit."""
    lo, hi = datasets.SINE_DOMAIN
    n, epochs, restarts = (5000, 40, 2) if ctx.quick else (5000, 60, 5)
    X, y = datasets.sine(n, seed=0)
    Xte, yte = datasets.sine(2000, grid=True)
    model, _, hist, total = _best_of(
        ctx, "latent 1-2-10-1", restarts, lambda k: MLP([1, 2, 10, 1], loss="mse", seed=ctx.seed * 1000 + k), X, y,
        epochs, batch_size=32, lr=0.03, optimizer="adam", lr_schedule=schedules.Exponential(0.05 ** (1 / epochs)))
    H = hidden_path(model, Xte)
    lines = fold_lines(model)
    side = H @ lines[:, :2].T + lines[:, 2]                      # signed distance of every path point to each line
    crossing = int(np.sum((side.max(0) > 0) & (side.min(0) < 0)))
    gaps = [np.abs(lines[i] - lines[j]).max() for i in range(10) for j in range(i + 1, 10)]
    distinct = bool(min(gaps) > 1e-6)
    mse = _mse(model, Xte, yte)
    ctx.plot("latent_folds", _plot, model, H, lines, title="1-2-10-1: each second-layer unit h'_k over the (h1, h2) "
             "plane (a folded plane), the data's path (h1(x), h2(x)) drawn on it")
    return [Row("latent", "latent 1-2-10-1 relu", hist["loss"][-1], f"test MSE {mse:.4f}",
                "ten units fold the (h1, h2) plane in ten ways",
                f"10 distinct fold lines, {crossing} of them cross the data's path; smallest gap between two "
                f"lines {min(gaps):.2g}",
                total, dict(test_mse=mse, crossing=crossing, distinct=distinct, lines=lines.tolist()), source="000",
                verdict="holds" if distinct else "does not hold", setup=f"as the seed's figure: 1-2-10-1 ReLU on sin 2x + cos x + x; Adam, best of "
                                   f"{restarts}")]


def _plot(model, H, lines, path=None, title="", fig=None):
    W, b = model.params[1]
    W, b = np.asarray(W, np.float64), np.asarray(b, np.float64)
    pad = 0.1 * (np.ptp(H, axis=0) + 1e-9)
    g1 = np.linspace(H[:, 0].min() - pad[0], H[:, 0].max() + pad[0], 41)
    g2 = np.linspace(H[:, 1].min() - pad[1], H[:, 1].max() + pad[1], 41)
    G1, G2 = np.meshgrid(g1, g2)
    fig = _figure(15, 6.4, fig)
    for k in range(10):
        ax = fig.add_subplot(2, 5, k + 1, projection="3d")
        Z = np.maximum(W[k, 0] * G1 + W[k, 1] * G2 + b[k], 0.0)
        ax.plot_surface(G1, G2, Z, cmap="viridis", linewidth=0, antialiased=False, alpha=0.8)
        ax.plot(H[:, 0], H[:, 1], np.maximum(H @ W[k] + b[k], 0.0), color="crimson", lw=1.5)
        ax.set_title(f"h'_{k + 1}", fontsize=9)
        ax.set_xlabel("h1", fontsize=7)
        ax.set_ylabel("h2", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)

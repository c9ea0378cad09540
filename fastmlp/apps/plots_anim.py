"""Source 001's training animation: how an XOR net's decision boundary, loss and accuracy evolve, as the seed's GIFs
show it, written with matplotlib's Pillow writer (``fastmlp[plot]``; Pillow comes with matplotlib)."""
import numpy as np

from ..extras import require as require_extra
from ..mlp import MLP
from .plots import _class1_score, _figure, require


def training_animation(model, frames, loss, accuracy, X, y, path, fps=6, lim=3.0, title=""):
    """A GIF of training: per frame (``frames``: (epoch, flat weights) pairs recorded during fit) the class-1 score
    over the plane with the boundary and the points, the loss up to that epoch, and the train / test accuracy up to
    it (``accuracy``: {"epoch", "train", "test"} lists). ``model`` gives the architecture; it is not changed."""
    require()
    require_extra("PIL", "the training animation (matplotlib's Pillow writer)", "pip install pillow")
    from matplotlib.animation import FuncAnimation, PillowWriter

    if not frames:
        raise ValueError("frames: nothing recorded")
    net = MLP(model.layers, activation=model.activations[:-1], output=model.activations[-1], loss=model.loss,
              dtype=model.dtype)
    g = np.linspace(-lim, lim, 121)
    gx, gy = np.meshgrid(g, g)
    G = np.column_stack([gx.ravel(), gy.ravel()])
    L = np.asarray(loss, dtype=np.float64)
    acc_e = np.asarray(accuracy["epoch"])
    fig = _figure(12.6, 4.0)
    ax0, ax1, ax2 = fig.subplots(1, 3)
    lo, hi = max(float(L[np.isfinite(L)].min()), 1e-12), float(L[np.isfinite(L)].max())

    def draw(k):
        epoch, flat = frames[k]
        net.set_flat_params(flat)
        s = _class1_score(net, G).reshape(gx.shape)
        for ax in (ax0, ax1, ax2):
            ax.clear()
        ax0.contourf(gx, gy, s, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
        ax0.contour(gx, gy, s, levels=[0.5], colors="k", linewidths=1.2)
        ax0.scatter(X[y == 0, 0], X[y == 0, 1], s=9, c="#08519c", edgecolors="k", linewidths=0.3)
        ax0.scatter(X[y == 1, 0], X[y == 1, 1], s=11, marker="^", c="#cb181d", edgecolors="k", linewidths=0.3)
        ax0.set_xlim(-lim, lim)
        ax0.set_ylim(-lim, lim)
        ax0.set_title(f"{title}epoch {epoch}: boundary", fontsize=9)
        ax1.semilogy(np.arange(epoch + 1), L[:epoch + 1], color="k", lw=1)
        ax1.set_xlim(0, len(L))
        ax1.set_ylim(lo * 0.8, hi * 1.25)
        ax1.set_title("training loss", fontsize=9)
        ax1.set_xlabel("epoch", fontsize=8)
        upto = acc_e <= epoch
        ax2.plot(acc_e[upto], np.asarray(accuracy["train"])[upto], label="train")
        ax2.plot(acc_e[upto], np.asarray(accuracy["test"])[upto], "--", label="test")
        ax2.set_xlim(0, len(L))
        ax2.set_ylim(0.3, 1.02)
        ax2.set_title("accuracy", fontsize=9)
        ax2.set_xlabel("epoch", fontsize=8)
        ax2.legend(fontsize=8, loc="lower right")
        return []

    anim = FuncAnimation(fig, draw, frames=len(frames), blit=False)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=70)
    return path

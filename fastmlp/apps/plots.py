"""PNG figures for ``fastmlp demo --plot DIR`` (matplotlib, the optional extra ``fastmlp[plot]``).

matplotlib is imported on first use, and only its object-oriented API (``matplotlib.figure.Figure`` saved by the Agg
canvas): no pyplot, so nothing here changes the backend or the global state of a program that also uses pyplot.
The demo's figures write one PNG to ``path`` and return the path; without a path they return the figure, drawn on a
new one or on ``fig`` when given (``fig=matplotlib.pyplot.figure()`` in a notebook or the gallery). The region
figures ``plot_pieces_1d`` and ``plot_regions_2d`` (from ``fastmlp.regions``) draw on given or new axes and return
them (``ax.figure.savefig``).
"""
import numpy as np

from .. import extras
from ..network import NUMPY_ACTIVATIONS
from ..regions import enumerate_regions, pieces_1d, shallow_region_bound
from ..regions.readers import is_int, read_box, read_net

__all__ = ["require", "loss_curves", "accuracy_curves", "decision_boundaries", "pieces_fits", "surfaces",
           "neuron_surfaces", "sincos_fit", "plot_pieces_1d", "plot_regions_2d"]

COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan"]
DPI = 110


def require():
    """Import matplotlib or raise an ImportError saying how to install it."""
    extras.require("matplotlib.figure", "plots", 'pip install "fastmlp[plot]"')


def _figure(width, height, fig=None):
    """A new figure of this size (a pyplot-free ``Figure``), or ``fig``, resized, for the drawing to go onto (e.g. a
    pyplot figure, which notebooks and sphinx-gallery show)."""
    require()
    if fig is not None:
        fig.set_size_inches(width, height)
        fig.set_layout_engine("constrained")
        return fig
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig, path):
    """Write the figure to ``path`` (PNG) and return the path; with no path, return the figure."""
    if path is None:
        return fig
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.canvas.manager is None:      # a standalone figure gets the Agg canvas; a pyplot figure keeps its own
        FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI)
    return path


def _panels(curves):
    """``{name: values}`` or a list of ``(panel title, {name: values})``."""
    if isinstance(curves, dict):
        return [("", curves)]
    return list(curves)


def loss_curves(curves, path=None, title="training loss", logy=True, xlabel="epoch", fig=None):
    """Loss per epoch, one line per run; ``curves``: ``{name: losses}`` or ``[(panel title, {name: losses})]``."""
    panels = _panels(curves)
    fig = _figure(6.4 * len(panels), 4.4, fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    k = 0
    for ax, (sub, group) in zip(axes, panels):
        for name, loss in group.items():
            loss = np.asarray(loss, dtype=np.float64)
            ax.plot(np.arange(len(loss)), loss, lw=1.3, color=COLOURS[k % len(COLOURS)], label=name)
            k += 1
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("training loss" + (" (log scale)" if logy else ""))
        if sub:
            ax.set_title(sub, fontsize=11)
        ax.grid(alpha=0.3, which="both" if logy else "major")
        ax.legend(fontsize=8.5, loc="best")
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def accuracy_curves(curves, path=None, title="accuracy", fig=None):
    """Accuracy during training: ``curves``: ``{name: {"epoch": [...], "train": [...], "test": [...]}}`` (train and
    test optional) or panels as in ``loss_curves``; solid lines train, dashed test, one colour per run."""
    panels = _panels(curves)
    fig = _figure(6.4 * len(panels), 4.4, fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    k = 0
    for ax, (sub, group) in zip(axes, panels):
        for name, acc in group.items():
            c = COLOURS[k % len(COLOURS)]
            k += 1
            ep = np.asarray(acc["epoch"])
            if acc.get("train") is not None and len(acc["train"]):
                ax.plot(ep, acc["train"], color=c, lw=1.3, label=f"{name}")
            if acc.get("test") is not None and len(acc["test"]):
                has_train = acc.get("train") is not None and len(acc["train"])
                ax.plot(ep, acc["test"], color=c, lw=1.3, ls="--" if has_train else "-",
                        label=None if has_train else name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.set_ylim(min(0.4, ax.get_ylim()[0]), 1.01)
        if sub:
            ax.set_title(sub, fontsize=11)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8.5, loc="lower right")
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def _class1_score(model, G):
    if model.loss == "softmax_ce":
        return model.predict_proba(G)[:, 1].astype(np.float64)
    out = model.forward(G).astype(np.float64)
    return np.clip(0.5 + 0.5 * (out[:, 1] - out[:, 0]), 0.0, 1.0)   # squared error on sigmoid outputs


def decision_boundaries(models, X, y, path=None, title="decision boundaries", lim=3.0, cols=3, fig=None):
    """One panel per model: the class-1 score over the plane (softmax probability, or for squared-error nets
    0.5 + (p1 - p0) / 2), the decision line where the two classes tie, and the training points."""
    names = list(models)
    rows = (len(names) + cols - 1) // cols
    fig = _figure(4.3 * cols, 3.9 * rows, fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    g = np.linspace(-lim, lim, 241)
    gx, gy = np.meshgrid(g, g)
    G = np.column_stack([gx.ravel(), gy.ravel()])
    im = None
    for i, ax in enumerate(axes.ravel()):
        if i >= len(names):
            ax.set_visible(False)
            continue
        model = models[names[i]]
        s = _class1_score(model, G).reshape(gx.shape)
        im = ax.contourf(gx, gy, s, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
        ax.contour(gx, gy, s, levels=[0.5], colors="k", linewidths=1.4)
        ax.scatter(X[y == 0, 0], X[y == 0, 1], s=13, marker="o", c="#08519c", edgecolors="k", linewidths=0.4,
                   label="class 0")
        ax.scatter(X[y == 1, 0], X[y == 1, 1], s=15, marker="^", c="#cb181d", edgecolors="k", linewidths=0.4,
                   label="class 1")
        acc = float(np.mean(np.argmax(model.forward(X), 1) == y))
        ax.set_title(f"{names[i]}\ntrain accuracy {acc:.3f}", fontsize=10)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="class-1 score")
    axes[0, 0].legend(fontsize=8, loc="upper left", framealpha=0.9)
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def pieces_fits(fitted, lo, hi, function, path=None, data=None, title="fits", cols=2, fig=None):
    """1-D fits: ``fitted`` is ``[(panel title, model)]`` (1-input ReLU nets); each panel shows the target
    ``function``, the net drawn exactly from its linear pieces, and the breakpoints between pieces (dots and
    dotted lines), from ``fastmlp.regions.pieces_1d``."""
    rows = (len(fitted) + cols - 1) // cols
    fig = _figure(6.0 * cols, 3.8 * rows, fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    xs = np.linspace(lo, hi, 1000)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(fitted):
            ax.set_visible(False)
            continue
        name, model = fitted[i]
        p = pieces_1d(model, lo, hi)
        if data is not None:
            ax.scatter(np.ravel(data[0])[::5], np.ravel(data[1])[::5], s=3, c="0.75", label="training data",
                       zorder=1)
        ax.plot(xs, function(xs), color="k", lw=1.2, ls="--", label="f(x)", zorder=2)
        xe = lo + p.edges * (hi - lo)
        ye = p(p.edges)[:, 0]
        ax.plot(xe, ye, color="tab:red", lw=1.8, label="network", zorder=3)
        if len(p.t):
            for xb in p.points[:, 0]:
                ax.axvline(xb, color="tab:red", lw=0.5, ls=":", alpha=0.6, zorder=1)
            ax.plot(p.points[:, 0], p(p.t)[:, 0], "o", ms=3.5, color="tab:red", mec="k", mew=0.4, zorder=4,
                    label=f"breakpoints ({len(p.t)})")
        ax.set_title(name, fontsize=10.5)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.set_xlim(lo, hi)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def _grid(domain, n=161):
    lo, hi = domain
    g = np.linspace(lo, hi, n)
    gx, gy = np.meshgrid(g, g)
    return gx, gy, np.column_stack([gx.ravel(), gy.ravel()])


def surfaces(models, domain, function, path=None, title="surfaces", fig=None):
    """2-input fits: top row the target and each model's surface (shared colour scale), bottom row each model's
    error (model - target)."""
    gx, gy, G = _grid(domain)
    f = function(gx, gy)
    names = list(models)
    cols = len(names) + 1
    fig = _figure(3.3 * cols, 6.4, fig)
    axes = fig.subplots(2, cols, squeeze=False)
    vmin, vmax = float(f.min()), float(f.max())
    levels = np.linspace(vmin, vmax, 21)
    outs = [models[k].forward(G).astype(np.float64).reshape(gx.shape) for k in names]
    emax = max(float(np.abs(o - f).max()) for o in outs) if outs else 1.0
    elev = np.linspace(-emax, emax, 21)
    im = axes[0, 0].contourf(gx, gy, f, levels=levels, cmap="viridis", extend="both")
    axes[0, 0].set_title("target f(x1, x2)", fontsize=10)
    axes[1, 0].set_visible(False)
    em = None
    for j, (name, o) in enumerate(zip(names, outs), start=1):
        axes[0, j].contourf(gx, gy, o, levels=levels, cmap="viridis", extend="both")
        mse = float(np.mean((o - f) ** 2))
        axes[0, j].set_title(f"{name}  (MSE {mse:.3f} on this\n{gx.shape[0]}x{gx.shape[1]} plot grid)", fontsize=10)
        em = axes[1, j].contourf(gx, gy, o - f, levels=elev, cmap="RdBu_r", extend="both")
        axes[1, j].set_title(f"{name}: fit - target", fontsize=10)
    for ax in axes.ravel():
        if ax.get_visible():
            ax.set_aspect("equal")
            ax.set_xlabel("x1")
            ax.set_ylabel("x2")
    from matplotlib.ticker import MaxNLocator

    def ticks(lo, hi):      # inside the range: the colour bars' extension triangles must not get labels
        t = MaxNLocator(6).tick_values(lo, hi)
        return t[(t >= lo) & (t <= hi)]
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.85, label="f", ticks=ticks(vmin, vmax))
    if em is not None:
        fig.colorbar(em, ax=axes[1, 1:].tolist(), shrink=0.85, label="fit - target", ticks=ticks(-emax, emax))
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def neuron_surfaces(model, domain, path=None, title="hidden units", fig=None):
    """Every hidden unit's output over a 2-input net's input square, one row per hidden layer: the first layer's
    units are planes cut off at zero by the ReLU, later layers' units fold those cuts together."""
    gx, gy, G = _grid(domain, 121)
    h = G.astype(np.float64)
    acts = []
    for (W, b), act in zip(model.params[:-1], model.activations[:-1]):
        z = h @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
        h = NUMPY_ACTIVATIONS[act](z)
        acts.append(h)
    cols = max(a.shape[1] for a in acts)
    fig = _figure(2.3 * cols + 0.6, 2.25 * len(acts) + 0.5, fig)
    axes = fig.subplots(len(acts), cols, squeeze=False)
    from matplotlib.ticker import MaxNLocator

    lo, hi = domain
    for r, a in enumerate(acts):
        for c in range(cols):
            ax = axes[r, c]
            if c >= a.shape[1]:
                ax.set_visible(False)
                continue
            v = a[:, c].reshape(gx.shape)
            top = float(v.max())
            if top <= 0:       # a dead unit: zero over the whole square
                ax.imshow(np.zeros((2, 2)), extent=(lo, hi, lo, hi), cmap="magma", vmin=0, vmax=1)
                ax.text(0.5, 0.5, "dead unit\n(0 everywhere)", color="w", ha="center", va="center",
                        transform=ax.transAxes, fontsize=9)
            else:
                im = ax.contourf(gx, gy, v, levels=np.linspace(0, top, 11), cmap="magma")
                ax.contour(gx, gy, v, levels=[1e-9 * top], colors="w", linewidths=0.8)
                cb = fig.colorbar(im, ax=ax, shrink=0.8, ticks=MaxNLocator(4))
                cb.ax.tick_params(labelsize=7)
            ax.set_title(f"layer {r + 1}, unit {c + 1}", fontsize=9)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=7)
            if r == len(acts) - 1:
                ax.set_xlabel("x1", fontsize=8)
            if c == 0:
                ax.set_ylabel("x2", fontsize=8)
    fig.suptitle(title + "  (white line: where the unit switches off)", fontsize=11)
    return _save(fig, path)


def sincos_fit(model, lo, hi, path=None, title="sin and cos", fig=None):
    """A 1-input, 2-output ReLU net against sin x and cos x, with the breakpoints of the pieces (shared by both
    outputs) as vertical lines."""
    p = pieces_1d(model, lo, hi)
    xs = np.linspace(lo, hi, 800)
    fig = _figure(7.5, 4.4, fig)
    ax = fig.subplots()
    xe = lo + p.edges * (hi - lo)
    ye = p(p.edges)
    for o, (fn, name, c) in enumerate(((np.sin, "sin x", "tab:blue"), (np.cos, "cos x", "tab:orange"))):
        ax.plot(xs, fn(xs), color=c, lw=1.1, ls="--", label=f"{name} (target)")
        ax.plot(xe, ye[:, o], color=c, lw=2.0, label=f"network output {o + 1}")
        if len(p.t):
            ax.plot(p.points[:, 0], p(p.t)[:, o], "o", color=c, mec="k", mew=0.5, ms=5, zorder=4)
    for xb in p.points[:, 0]:
        ax.axvline(xb, color="0.4", ls=":", lw=1)
    ax.set_xlabel("x")
    ax.set_ylabel("output")
    ax.set_xlim(lo, hi)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8.5, loc="upper left")
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


# ---- linear regions (fastmlp.regions) -------------------------------------------------------------------------------
def _new_ax(ax, figsize):
    """The given axes, or new ones on a figure that needs no display (matplotlib's Agg canvas, no pyplot)."""
    require()
    from matplotlib.figure import Figure

    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def plot_pieces_1d(model, a, b, ax=None, output=0, data=None):
    """The network along the segment a -> b drawn exactly from its affine pieces (each piece in its own colour),
    breakpoints (where the map changes) marked with dashed lines and dots, and unit switches that leave the map
    unchanged as grey crosses. For a 1-input net the horizontal axis is x, else the parameter t in [0, 1].
    data: optional (X, y) training points to scatter (1-input nets). Returns the axes (``ax.figure.savefig``)."""
    pieces = pieces_1d(model, a, b)
    ax = _new_ax(ax, (7, 4.2))
    net = read_net(model)
    if not 0 <= output < net.n_out:
        raise ValueError(f"output: expected an index in [0, {net.n_out}), got {output}")
    one = net.n_in == 1
    to_x = (lambda t: pieces.a[0] + t * (pieces.b[0] - pieces.a[0])) if one else (lambda t: t)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    if data is not None:
        Xd, yd = np.asarray(data[0], dtype=np.float64), np.asarray(data[1], dtype=np.float64)
        ax.scatter(Xd.reshape(len(Xd), -1)[:, 0], yd.reshape(len(yd), -1)[:, output], s=10, c="0.6",
                   label="data", zorder=1)
    e = pieces.edges
    for k in range(pieces.n_pieces):
        tt = np.array([e[k], e[k + 1]])
        ax.plot(to_x(tt), pieces.slope[k, output] * tt + pieces.intercept[k, output], lw=2.2,
                color=colours[k % len(colours)], zorder=3)
    if len(pieces.t):
        yb = pieces(pieces.t)[:, output]
        for tb in pieces.t:
            ax.axvline(to_x(tb), color="0.5", ls="--", lw=0.8, zorder=2)
        ax.plot(to_x(pieces.t), yb, "o", color="k", ms=5, zorder=4, label=f"breakpoints ({len(pieces.t)})")
    silent = np.setdiff1d(pieces.activation_t, pieces.t)
    if len(silent):
        ax.plot(to_x(silent), pieces(silent)[:, output], "x", color="0.2", ms=9, mew=2, zorder=4,
                label=f"unit switches, same map ({len(silent)})")
    ax.set_xlabel("x" if one else "t  (x = a + t (b - a))")
    ax.set_ylabel("network output" + (f" {output}" if net.n_out > 1 else "") +
                  ("" if net.output == "identity" else " (pre-activation)"))
    ax.set_title(f"{pieces.n_pieces} linear pieces, {len(pieces.t)} breakpoints "
                 f"({pieces.n_activation_intervals} activation intervals)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    return ax


def plot_regions_2d(model, box, ax=None, resolution=400, regions=None, seed=0, **kwargs):
    """The activation regions of a 2-input ReLU net in a box, each in its own colour, with region boundaries
    drawn; the title gives the exact count of full-dimensional activation regions (not of maximal affine
    pieces; ``enumerate_regions``: pass ``regions=`` to reuse one, other keyword arguments go to it) and the
    most a shallow net with as many units could have, sum_{j <= 2} C(D, j). Returns the axes."""
    net = read_net(model)
    if net.n_in != 2:
        raise ValueError(f"plot_regions_2d: needs a 2-input network, got {net.n_in} inputs")
    lo, hi = read_box(box, 2)
    if not is_int(resolution) or resolution < 2:
        raise ValueError(f"resolution: expected an int >= 2, got {resolution!r}")
    ax = _new_ax(ax, (6.4, 6))
    from matplotlib.colors import ListedColormap
    if regions is None:
        regions = enumerate_regions(model, box, **kwargs)
    K = len(regions)
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    XX, YY = np.meshgrid(xs, ys)
    idx = regions.locate(np.column_stack([XX.ravel(), YY.ravel()])).reshape(resolution, resolution)
    rng = np.random.default_rng(seed)
    hues = (np.arange(K) / max(K, 1) + rng.uniform()) % 1.0
    rng.shuffle(hues)
    from matplotlib.colors import hsv_to_rgb
    sat = 0.35 + 0.3 * rng.uniform(size=K)
    val = 0.8 + 0.2 * rng.uniform(size=K)
    cmap = ListedColormap(hsv_to_rgb(np.column_stack([hues, sat, val])) if K else ["white"])
    ext = [lo[0], hi[0], lo[1], hi[1]]
    ax.imshow(np.ma.masked_less(idx, 0), origin="lower", extent=ext, cmap=cmap, vmin=-0.5, vmax=K - 0.5,
              interpolation="nearest", aspect="auto")
    edge = np.zeros(idx.shape, dtype=bool)
    edge[:, 1:] |= idx[:, 1:] != idx[:, :-1]
    edge[1:, :] |= idx[1:, :] != idx[:-1, :]
    ax.imshow(np.ma.masked_where(~edge, edge.astype(float)), origin="lower", extent=ext, cmap="gray_r",
              vmin=0, vmax=1, interpolation="nearest", aspect="auto", alpha=0.8)
    D = sum(net.widths)
    ax.set_xlabel("$x_1$ (input 0)")
    ax.set_ylabel("$x_2$ (input 1)")
    ax.set_title(f"{K} activation regions of a {'-'.join(map(str, [2] + net.widths + [net.n_out]))} ReLU net\n"
                 f"a shallow net with D = {D} units has at most "
                 f"$\\sum_{{j\\leq 2}}\\binom{{{D}}}{{j}}$ = {shallow_region_bound(2, D)}", fontsize=11)
    return ax

"""Figures of planar partitions (matplotlib, the optional extra ``fastmlp[plot]``; animations also need Pillow):
regions drawn as exact polygons coloured by slope norm with the exact decision boundary, partition statistics,
and the animation of a partition recorded during training (``fastmlp.regions.evolution.PartitionRecorder``)."""
import os

import numpy as np

from ..extras import require as require_extra
from ..regions import decision_boundary, enumerate_regions, partition_stats
from ..regions.readers import read_box, read_net
from .plots import _figure, _new_ax, _save, require


def _draw(ax, polygons, slope, segments, box, vmax=None, title=None):
    """Polygons coloured by slope norm (viridis, shared scale vmax), thin white edges, the boundary in red."""
    from matplotlib.collections import LineCollection, PolyCollection

    vmax = float(slope.max()) if vmax is None and len(slope) else (vmax or 1.0)
    pc = PolyCollection(polygons, array=slope, cmap="viridis", clim=(0.0, max(vmax, 1e-12)), edgecolors="white",
                        linewidths=0.25)
    ax.add_collection(pc)
    if len(segments):
        ax.add_collection(LineCollection(segments, colors="red", linewidths=1.6))
    ax.set_xlim(box[0])
    ax.set_ylim(box[1])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=10)
    return pc


def plot_partition(model, box, ax=None, regions=None, level=None, colorbar=True):
    """The exact activation regions of a 2-input ReLU net in a box as polygons coloured by the norm of their
    slope (the Jacobian's Frobenius norm), with the exact decision boundary (classes) or level set (one output;
    ``level``, default 0) in red. Returns the axes."""
    net = read_net(model)
    if net.n_in != 2:
        raise ValueError(f"plot_partition: needs a 2-input network, got {net.n_in} inputs")
    lo, hi = read_box(box, 2)
    ax = _new_ax(ax, (6.4, 5.6))
    if regions is None:
        regions = enumerate_regions(model, np.stack([lo, hi], axis=1), method="geometry")
    full = [k for k, P in enumerate(regions.polygons) if len(P) >= 3]
    slope = np.sqrt((regions.alpha[full] ** 2).sum(axis=(1, 2)))
    b = decision_boundary(model, regions=regions, level=level)
    pc = _draw(ax, [regions.polygons[k] for k in full], slope, b.segments, np.stack([lo, hi], axis=1),
               title=f"{len(full)} regions of a {'-'.join(map(str, [2] + net.widths + [net.n_out]))} ReLU net; "
                     f"boundary: {len(b)} segments")
    if colorbar:
        ax.figure.colorbar(pc, ax=ax, label="slope norm |alpha|")
    return ax


def partition_figure(model, box, path=None, regions=None, level=None, fig=None):
    """One PNG: the partition (``plot_partition``) beside histograms of region areas and slope norms, with the
    count and density in the title. Returns the path (no path: the figure, drawn on ``fig`` when given)."""
    if regions is None:
        regions = enumerate_regions(model, box, method="geometry")
    st = partition_stats(regions)
    fig = _figure(14, 4.8, fig)
    a0, a1, a2 = fig.subplots(1, 3, width_ratios=[1.3, 1, 1])
    plot_partition(model, box, ax=a0, regions=regions, level=level)
    areas = st["areas"][st["areas"] > 0]
    a1.hist(np.log10(areas), bins=30, color="tab:blue")
    a1.set_xlabel("log10 region area")
    a1.set_ylabel("regions")
    counts, edges = st["slope_hist"]
    a2.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="tab:green")
    a2.set_xlabel("slope norm |alpha|")
    fig.suptitle(f"{st['n_regions']} regions, {st['density']:.3g} per unit area, median area "
                 f"{st['area_median']:.3g}")
    return _save(fig, path)


def animate_partitions(snapshots, box, path, fps=4, png_dir=None, title=""):
    """An animated GIF (matplotlib's Pillow writer) of recorded partitions (``PartitionRecorder.snapshots``):
    regions coloured by slope norm on one colour scale for all frames, the decision boundary in red, the epoch,
    region count and loss in the title. png_dir: also write each frame as frame_XXX.png there. Returns path."""
    require()
    require_extra("PIL", "fastmlp's partition animations (matplotlib's Pillow writer)", "pip install pillow")
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not snapshots:
        raise ValueError("snapshots: nothing recorded")
    lo, hi = read_box(box, 2)
    B = np.stack([lo, hi], axis=1)
    vmax = max(float(s.slope.max()) for s in snapshots if len(s.slope))
    fig = Figure(figsize=(5.6, 5.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    def frame(i):
        s = snapshots[i]
        ax.clear()
        loss = "" if s.loss is None else f", loss {s.loss:.3g}"
        _draw(ax, s.polygons, s.slope, s.boundary, B, vmax=vmax,
              title=f"{title}epoch {s.epoch}: {s.n_regions} regions{loss}")
        return ax.collections

    if png_dir is not None:
        os.makedirs(png_dir, exist_ok=True)
        for i in range(len(snapshots)):
            frame(i)
            fig.savefig(os.path.join(png_dir, f"frame_{i:03d}.png"), dpi=80)
    anim = FuncAnimation(fig, frame, frames=len(snapshots), blit=False)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=80)
    return path

"""``fastmlp demo regions``: partitions that evolve. A ReLU net on the XOR data (source document 001) and one on the
surface of source document 000 are trained while a callback records their exact planar partition (regions,
slope norms, decision boundary / level set) every few epochs; with ``--plot DIR`` each run becomes an animated
GIF, its frames as PNGs and a final partition figure with statistics. A named section: not in the default demo."""
import os
import time

import numpy as np

from ..mlp import MLP
from ..regions import enumerate_regions, partition_stats
from ..regions.evolution import PartitionRecorder
from . import datasets
from .regions_figures import animate_partitions, partition_figure   # matplotlib only when a figure is drawn


def _runs(ctx):
    """(name, model, X, y, box, epochs, every, fit options, level, source) for the two runs."""
    quick = ctx.quick
    X, y = datasets.xor(300, seed=0)
    xor_net = MLP([2, 16, 16, 2], activation="relu", loss="softmax_ce", dtype="float64", seed=ctx.seed)
    Xs, ys = datasets.surface(2_500 if quick else 10_000, seed=0, grid=True)
    surf_net = MLP([2, 32, 32, 1], activation="relu", loss="mse", dtype="float64", seed=ctx.seed)
    pi = float(np.pi)
    return [
        ("xor 2-16-16-2", xor_net, X, y, (-3.0, 3.0), 60 if quick else 150, 3 if quick else 5,
         dict(optimizer="adam", lr=0.01, batch_size=32), None, "source 001 (ReLU instead of sigmoid)"),
        ("surface 2-32-32-1", surf_net, Xs, ys, (-pi, pi), 12 if quick else 30, 1,
         dict(optimizer="adam", lr=0.003, batch_size=32), float(ys.mean()), "source 000"),
    ]


def section(ctx, Row):
    """The section's rows (one per run); figures and animations only with ctx.plot_dir."""
    rows = []
    for name, model, X, y, box, epochs, every, fit, level, ref in _runs(ctx):
        rec = PartitionRecorder(box, every=every, level=level)
        t0 = time.perf_counter()
        rec.record(model, 0)
        hist, _ = ctx.train(f"regions {name}", model, X, y, epochs, callbacks=[rec], **fit)
        dt = time.perf_counter() - t0
        first, last = rec.snapshots[0], rec.snapshots[-1]
        regions = enumerate_regions(model, box, method="geometry")
        st = partition_stats(regions)
        rec_s = sum(s.seconds for s in rec.snapshots)
        note = (f"{len(rec.snapshots)} partitions recorded in {rec_s:.2f} s; density {st['density']:.3g}/unit area, "
                f"median slope norm {np.median(st['slope_norm']):.3g}")
        what = "boundary" if level is None else f"level set f = {level:.3g}"
        if ctx.plot_dir:
            stem = os.path.join(ctx.plot_dir, "regions_" + name.split()[0])
            ctx.plots.append(animate_partitions(rec.snapshots, box, stem + ".gif", png_dir=stem + "_frames",
                                                title=name.split()[0] + " "))
            ctx.plots.append(partition_figure(model, box, stem + "_final.png", regions=regions, level=level))
        loss = hist["loss"][-1] if hist["loss"] else None
        rows.append(Row("regions", name, loss, f"regions {first.n_regions} -> {last.n_regions}, {what} "
                        f"{len(rec.snapshots[-1].boundary)} segments", ref, note, dt,
                        {"regions_start": first.n_regions, "regions_end": last.n_regions,
                         "frames": len(rec.snapshots), "record_seconds": rec_s, "density": st["density"]}))
    return rows

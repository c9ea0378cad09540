"""Partitions that evolve: a ``fit`` callback that records the exact planar partition of a 2-input ReLU net (its
regions' polygons, slope norms and decision boundary) every few epochs."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .boundary import decision_boundary
from .enumeration import enumerate_regions
from .readers import is_int, read_box


@dataclass
class Snapshot:
    """The partition at the end of one epoch: ``polygons`` (one vertex array per full-dimensional region),
    ``slope`` (the Frobenius norm of each region's Jacobian), ``boundary`` (m, 2, 2) segments, ``loss`` (the
    epoch's training loss, None if the logs lack it), ``seconds`` the recording took."""
    epoch: int
    n_regions: int
    polygons: list
    slope: np.ndarray
    boundary: np.ndarray
    loss: float | None
    seconds: float


class PartitionRecorder:
    """A callback ``cb(model, epoch, logs)`` for ``MLP.fit(callbacks=[...])`` that records the exact partition of
    a 2-input ReLU net in ``box`` every ``every`` epochs (``snapshots``: a list of ``Snapshot``). ``level``: the
    level set to draw for a one-output net (default 0; a regressor: e.g. the target's mean); several outputs:
    the boundary between the leading classes. ``record(model, epoch=0)`` adds one by hand (e.g. before
    training). Each recording is one geometric enumeration (``enumerate_regions``, ``max_regions`` passed on)."""

    def __init__(self, box, every=1, level=None, max_regions=100_000):
        self.lo, self.hi = read_box(box, 2)
        if not is_int(every) or every < 1:
            raise ValueError(f"every: expected an int >= 1, got {every!r}")
        self.every, self.level, self.max_regions = int(every), level, max_regions
        self.snapshots = []

    @property
    def box(self):
        return np.stack([self.lo, self.hi], axis=1)

    def record(self, model, epoch=0, loss=None):
        t0 = time.perf_counter()
        regions = enumerate_regions(model, self.box, method="geometry", max_regions=self.max_regions)
        full = [k for k, P in enumerate(regions.polygons) if len(P) >= 3]
        slope = np.sqrt((regions.alpha[full] ** 2).sum(axis=(1, 2)))
        b = decision_boundary(model, regions=regions, level=self.level)
        self.snapshots.append(Snapshot(int(epoch), len(full), [regions.polygons[k] for k in full], slope,
                                       b.segments, loss, time.perf_counter() - t0))
        return self.snapshots[-1]

    def __call__(self, model, epoch, logs):
        if (epoch + 1) % self.every == 0:
            loss = logs.get("loss") if isinstance(logs, dict) else None
            self.record(model, epoch + 1, None if loss is None else float(loss))
        return False

"""Exact decision boundaries / level sets of 2-input nets, partition statistics, the partition recorder and its
figures (fastmlp.regions.boundary, .evolution; fastmlp.apps.regions_figures, regions_demo)."""
import numpy as np
import pytest

import fastmlp
from fastmlp import regions as R
from fastmlp.apps import datasets
from fastmlp.regions.evolution import PartitionRecorder


def xor_net(n_out=2, epochs=60):
    X, y = datasets.xor(300, seed=0)
    m = fastmlp.MLP([2, 12, 12, n_out], activation="relu", loss="softmax_ce" if n_out > 1 else "mse",
                    output="identity" if n_out > 1 else "sigmoid", dtype="float64", seed=0)
    m.fit(X, y if n_out > 1 else y[:, None].astype(float), epochs=epochs, optimizer="adam", lr=0.01)
    return m


def crossings(f, A, B):
    """Whether the segments A[i] -> B[i] cross between two classes (argmax differs at the ends)."""
    return f(A).argmax(axis=1) != f(B).argmax(axis=1)


def hits(segments, A, B):
    """Whether the segment A[i] -> B[i] meets one of the boundary segments."""
    P, Q = segments[:, 0], segments[:, 1]

    def orient(a, b, c):
        return np.sign((b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0]))
    A_, B_ = A[:, None, :], B[:, None, :]
    o1, o2 = orient(A_, B_, P[None]), orient(A_, B_, Q[None])
    o3, o4 = orient(P[None], Q[None], A_), orient(P[None], Q[None], B_)
    return ((o1 != o2) & (o3 != o4)).any(axis=1)


def test_class_boundary_is_exact():
    m = xor_net()
    regions = R.enumerate_regions(m, (-3, 3))
    b = R.decision_boundary(m, regions=regions)
    assert b.kind == "classes" and len(b) > 4 and b.length > 6.0
    # every segment lies in its region and the two classes tie there and lead
    for t in (0.0, 0.3, 1.0):
        X = b.segments[:, 0] + t * (b.segments[:, 1] - b.segments[:, 0])
        lg = np.einsum("koi,ki->ko", regions.alpha[b.region], X) + regions.beta[b.region]
        np.testing.assert_allclose(lg[:, 0], lg[:, 1], rtol=0, atol=1e-9 * np.abs(lg).max())
        np.testing.assert_allclose(m.forward(X)[:, 0], m.forward(X)[:, 1], rtol=0, atol=1e-9)
        for k in range(len(X)):
            assert regions[b.region[k]].contains(X[k:k + 1], tol=1e-9)[0]
    # a short segment whose ends get different classes meets the boundary, one whose ends agree (far from it) not
    rng = np.random.default_rng(0)
    A = rng.uniform(-3, 3, size=(3000, 2))
    B = np.clip(A + rng.normal(scale=0.05, size=A.shape), -3, 3)
    cross = crossings(m.forward, A, B)
    assert cross.sum() > 10
    assert hits(b.segments, A[cross], B[cross]).all()


def test_level_sets_of_one_output_nets():
    m = xor_net(n_out=1)
    b = R.decision_boundary(m, (-3, 3))                  # sigmoid output: the logit's zero set, p = 0.5
    assert b.kind == "level" and b.level == 0.0 and len(b) > 4
    X = 0.5 * (b.segments[:, 0] + b.segments[:, 1])
    np.testing.assert_allclose(m.forward(X)[:, 0], 0.5, atol=1e-9)
    b2 = R.decision_boundary(m, (-3, 3), level=1.0)
    X = b2.segments.reshape(-1, 2)
    p = 1.0 / (1.0 + np.exp(-1.0))
    np.testing.assert_allclose(m.forward(X)[:, 0], p, atol=1e-9)


def test_partition_stats():
    m = xor_net()
    regions = R.enumerate_regions(m, [[-3, 3], [-2, 2]])
    st = R.partition_stats(regions, bins=7)
    assert st["n_regions"] == len(regions) and st["box_area"] == 24.0
    np.testing.assert_allclose(st["areas"].sum(), 24.0, rtol=1e-12)
    assert st["density"] == len(regions) / 24.0 and st["slope_hist"][0].sum() == len(regions)
    al, _ = R.local_linear(m, regions.points)
    np.testing.assert_allclose(st["slope_norm"], np.sqrt((al ** 2).sum(axis=(1, 2))), rtol=1e-12)


def test_boundary_and_stats_bad_input():
    m = xor_net(epochs=1)
    with pytest.raises(ValueError, match="2-input"):
        R.decision_boundary(fastmlp.MLP([3, 4, 2], activation="relu"), (-1, 1))
    with pytest.raises(ValueError, match="box"):
        R.decision_boundary(m)
    with pytest.raises(ValueError, match="output"):
        R.decision_boundary(m, (-1, 1), output=2)
    with pytest.raises(ValueError, match="level"):
        R.decision_boundary(m, (-1, 1), level=float("nan"))
    lp = R.enumerate_regions(m, (-1, 1), method="lp")
    with pytest.raises(ValueError, match="polygons"):
        R.decision_boundary(m, regions=lp)
    with pytest.raises(ValueError, match="areas"):
        R.partition_stats(lp)
    with pytest.raises(ValueError, match="every"):
        PartitionRecorder((-1, 1), every=0)


def test_recorder_during_fit_and_figures(tmp_path):
    pytest.importorskip("matplotlib")
    X, y = datasets.xor(200, seed=0)
    m = fastmlp.MLP([2, 8, 8, 2], activation="relu", loss="softmax_ce", dtype="float64", seed=0)
    rec = PartitionRecorder((-3, 3), every=2)
    rec.record(m, 0)
    m.fit(X, y, epochs=6, optimizer="adam", lr=0.01, callbacks=[rec])
    assert [s.epoch for s in rec.snapshots] == [0, 2, 4, 6]
    last = rec.snapshots[-1]
    assert last.n_regions == len(R.enumerate_regions(m, (-3, 3))) and last.loss is not None
    np.testing.assert_allclose(last.boundary, R.decision_boundary(m, (-3, 3)).segments)
    from fastmlp.apps import regions_figures as F
    pytest.importorskip("PIL")
    gif = F.animate_partitions(rec.snapshots, (-3, 3), str(tmp_path / "a.gif"), png_dir=str(tmp_path / "f"))
    assert (tmp_path / "a.gif").stat().st_size > 1000 and len(list((tmp_path / "f").iterdir())) == 4
    png = F.partition_figure(m, (-3, 3), str(tmp_path / "p.png"))
    assert gif.endswith("a.gif") and (tmp_path / "p.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="snapshots"):
        F.animate_partitions([], (-3, 3), str(tmp_path / "b.gif"))
    assert png.endswith("p.png")

"""fastmlp.regions' geometric path (planar clipping, 1- and 2-input nets): the same cells as the LP path, on random
and hand-built (degenerate) nets; polygons, areas; deep == shallow from the fast path on a 64+64-unit net."""
import numpy as np
import pytest

import fastmlp
from fastmlp import regions as R
from fastmlp.regions import planar


def net(layers, seed=0, scale=1.0):
    m = fastmlp.MLP(layers, activation="relu", loss="mse", dtype="float64", seed=0)
    m.set_flat_params(scale * np.random.default_rng(seed).normal(size=m.n_params))
    return m


def set_params(m, *arrays):
    flat = []
    for a in arrays:
        flat.append(np.asarray(a, dtype=float).ravel())
    m.set_flat_params(np.concatenate(flat))
    return m


def tangent_net(D):
    th = np.pi * np.arange(D) / D + 0.1
    m = fastmlp.MLP([2, D, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(m, np.column_stack([np.cos(th), np.sin(th)]), -np.ones(D), np.linspace(1, 2, D), [0.0])
    return m, 1.0 / np.sin(np.pi / (2 * D)) + 1.0


def tent(depth):
    """The tent map T(x) = 2 relu(x) - 4 relu(x - 1/2) composed depth times, on [0, 1]: 2^depth pieces; the unit
    relu(T^k(x)) touches 0 without changing sign (a degenerate 'line through a vertex')."""
    m = fastmlp.MLP([1] + [2] * depth + [1], activation="relu", loss="mse", dtype="float64", seed=0)
    arrays = [[[1.0], [1.0]], [0.0, -0.5]]
    for _ in range(depth - 1):
        arrays += [[[2.0, -4.0], [2.0, -4.0]], [0.0, -0.5]]
    arrays += [[[2.0, -4.0]], [0.0]]
    return set_params(m, *arrays)


def tent_2d():
    """T(x1), T(x2) in layer 1; layer 2: relu(T1 + T2 - 1) (through box vertices), relu(T1 - T2) and relu(T2 - T1)
    (one zero line, both orientations), relu(T1 - T2) again (an exact duplicate)."""
    m = fastmlp.MLP([2, 4, 4, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    W1 = [[1, 0], [1, 0], [0, 1], [0, 1]]
    b1 = [0, -0.5, 0, -0.5]
    T1, T2 = np.array([2.0, -4, 0, 0]), np.array([0, 0, 2.0, -4])
    W2 = np.stack([T1 + T2, T1 - T2, T2 - T1, T1 - T2])
    return set_params(m, W1, b1, W2, [-1.0, 0, 0, 0], [[1.0, 2.0, 3.0, 0.5]], [0.0])


def concurrent():
    """Lines through one point (the origin), a duplicate and an opposite unit, and a second layer on top."""
    m = fastmlp.MLP([2, 6, 3, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    W1 = [[1, 0], [0, 1], [1, 1], [1, -1], [1, 1], [-1, 0]]
    W2 = np.random.default_rng(0).normal(size=(3, 6))
    return set_params(m, W1, np.zeros(6), W2, [0.3, -0.2, 0.0], [[1.0, -1.0, 2.0]], [0.1])


def he_net():
    """Zero biases in layer 1: every first-layer line through the origin."""
    m = net([2, 6, 6, 1], seed=3)
    flat = m.get_flat_params()
    flat[12:18] = 0.0
    m.set_flat_params(flat)
    return m


def keyed(regions):
    """{pattern bytes: index}, checking the patterns are distinct."""
    keys = [np.packbits(p).tobytes() for p in regions.patterns]
    assert len(set(keys)) == len(keys)
    return {k: i for i, k in enumerate(keys)}


def assert_same_cells(lp, geo):
    """The same cells (patterns), and for each the same rows, strictness and affine map."""
    a, b = keyed(lp), keyed(geo)
    assert set(a) == set(b), (len(a), len(b))
    ia = np.array([a[k] for k in a])
    ib = np.array([b[k] for k in a])
    np.testing.assert_array_equal(lp.strict[ia], geo.strict[ib])
    np.testing.assert_allclose(geo.H[ib], lp.H[ia], rtol=0, atol=1e-12)
    np.testing.assert_allclose(geo.c[ib], lp.c[ia], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(geo.alpha[ib], lp.alpha[ia], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(geo.beta[ib], lp.beta[ia], rtol=1e-12, atol=1e-12)


RANDOM = [([2, 5, 5, 1], 0, 2.0), ([2, 6, 6, 1], 7, 2.0), ([2, 8, 8, 1], 0, 2.0), ([2, 4, 4, 4, 1], 3, 2.0),
          ([2, 6, 6, 2], 5, 3.0), ([1, 8, 8, 1], 1, 2.0), ([1, 5, 5, 5, 1], 2, 3.0), ([2, 3, 1], 4, 1.0)]


@pytest.mark.parametrize("layers,seed,r", RANDOM)
@pytest.mark.parametrize("cells", ["full", "all"])
def test_geometry_equals_lp_on_random_nets(layers, seed, r, cells):
    m = net(layers, seed)
    lp = R.enumerate_regions(m, (-r, r), cells=cells, method="lp")
    geo = R.enumerate_regions(m, (-r, r), cells=cells)
    assert geo.method == "geometry" and lp.method == "lp" and geo.n_lps == 0 and len(geo) > 3
    assert_same_cells(lp, geo)
    # the witnesses: inside their region, in the box, and the forward pass gives the pattern there
    assert (np.abs(geo.points) <= r).all()
    np.testing.assert_array_equal(geo.locate(geo.points), np.arange(len(geo)))


@pytest.mark.parametrize("D", [3, 6, 12])
def test_geometry_reaches_the_shallow_bound(D):
    m, r = tangent_net(D)
    geo = R.enumerate_regions(m, (-r, r), method="geometry")
    assert len(geo) == R.shallow_region_bound(2, D)
    assert_same_cells(R.enumerate_regions(m, (-r, r), method="lp"), geo)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_tent_map(depth):
    m = tent(depth)
    for cells in ("full", "all"):
        geo = R.enumerate_regions(m, (0, 1), cells=cells)
        assert_same_cells(R.enumerate_regions(m, (0, 1), cells=cells, method="lp"), geo)
    full = R.enumerate_regions(m, (0, 1))
    assert R.pieces_1d(m, 0.0, 1.0).n_pieces == 2 ** depth
    # the intervals tile [0, 1]
    iv = np.array(sorted(map(tuple, full.polygons)))
    assert iv[0, 0] == 0.0 and iv[-1, 1] == 1.0 and np.allclose(iv[1:, 0], iv[:-1, 1], atol=1e-12)
    np.testing.assert_allclose(full.areas.sum(), 1.0, atol=1e-12)


@pytest.mark.parametrize("make,r", [(tent_2d, (0, 1)), (concurrent, (-1, 1)), (he_net, (-1, 1))])
@pytest.mark.parametrize("cells", ["full", "all"])
def test_degenerate_nets(make, r, cells):
    m = make()
    geo = R.enumerate_regions(m, r, cells=cells)
    assert_same_cells(R.enumerate_regions(m, r, cells=cells, method="lp"), geo)
    if cells == "all":      # these nets do have lower-dimensional cells
        assert len(geo) > len(R.enumerate_regions(m, r))
        assert (geo.areas[len(R.enumerate_regions(m, r)):] == 0).all()


def test_coincident_units_make_no_slivers():
    # 1-D: relu(x), relu(-x) (the point 0 is a cell of its own), a duplicate, a unit 1e-13 beside it (below the
    # resolution: the features span 0.5) and one at 0.5
    d = fastmlp.MLP([1, 5, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(d, [1.0, -1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, -1e-13, -0.5], [1.0, 2.0, 3.0, 4.0, 5.0], [0.5])
    for cells, n in (("full", 3), ("all", 4)):
        geo = R.enumerate_regions(d, (-1, 1), cells=cells)
        assert len(geo) == n
        assert_same_cells(R.enumerate_regions(d, (-1, 1), cells=cells, method="lp"), geo)
    # the same arrangement in 2-D: the lines x1 = 0 (three times, two orientations), x1 = 1e-13, x1 = 0.5, x2 = 0
    m = fastmlp.MLP([2, 6, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(m, [[1, 0], [-1, 0], [1, 0], [1, 0], [1, 0], [0, 1]], [0, 0, 0, -1e-13, -0.5, 0],
               [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], [0.5])
    for cells, n in (("full", 6), ("all", 8)):   # all: + the two halves of the segment x1 = 0
        geo = R.enumerate_regions(m, (-1, 1), cells=cells)
        assert len(geo) == n
        assert_same_cells(R.enumerate_regions(m, (-1, 1), cells=cells, method="lp"), geo)


def test_polygons_tile_the_box_and_lie_in_their_regions():
    m = net([2, 8, 8, 1], seed=2)
    geo = R.enumerate_regions(m, [[-2, 1], [-1, 3]])
    np.testing.assert_allclose(geo.areas.sum(), 3.0 * 4.0, rtol=1e-12)
    for k, P in enumerate(geo.polygons):
        assert P.ndim == 2 and P.shape[1] == 2 and len(P) >= 3
        # vertices: on the region's side of every row (to rounding); counter-clockwise
        assert (P @ geo.H[k].T - geo.c[k] <= 1e-9).all()
        e = np.roll(P, -1, axis=0) - P
        assert (e[:, 0] * np.roll(e, -1, axis=0)[:, 1] - e[:, 1] * np.roll(e, -1, axis=0)[:, 0] >= -1e-12).all()
    # random points: the region they are located in contains them, and the polygons' areas are the sampled shares
    X = np.random.default_rng(0).uniform([-2, -1], [1, 3], size=(40_000, 2))
    idx = geo.locate(X)
    assert (idx >= 0).all()
    share = np.bincount(idx, minlength=len(geo)) / len(X)
    np.testing.assert_allclose(share, geo.areas / 12.0, atol=0.01)


def test_geometry_is_invariant_to_scale_and_offset():
    base = R.enumerate_regions(net([2, 6, 6, 1], seed=0), (-2, 2))
    for s, c in [(1e-9, 0.0), (1e6, 0.0), (1.0, 1e4)]:
        m = net([2, 6, 6, 1], seed=0)
        flat = m.get_flat_params()
        W, b = flat[:12].reshape(6, 2) / s, flat[12:18]
        flat[:12], flat[12:18] = W.ravel(), b - W @ np.full(2, c)
        m.set_flat_params(flat)
        geo = R.enumerate_regions(m, (c - 2 * s, c + 2 * s))
        assert set(keyed(geo)) == set(keyed(base))
        np.testing.assert_allclose(geo.areas / s ** 2, base.areas[[keyed(base)[k] for k in keyed(geo)]], rtol=1e-6)


def test_geometry_checks_witnesses_against_the_forward_pass(monkeypatch):
    m = net([2, 6, 6, 1], seed=0)
    honest = R.enumerate_regions(m, (-2, 2))
    real = planar.layer_patterns

    def lying(net_, X):
        pats = [p.copy() for p in real(net_, X)]
        pats[0][:, 0] ^= X[:, 0] > 0.5
        return pats

    monkeypatch.setattr(planar, "layer_patterns", lying)
    r = R.enumerate_regions(m, (-2, 2))
    assert r.n_repaired + r.n_rejected > 0
    assert len(r) == len(honest) - r.n_rejected
    np.testing.assert_array_equal(np.concatenate(lying(honest._net, r.points), 1), r.patterns)


def test_shallow_from_the_fast_path_equals_the_deep_net_on_a_64_unit_net():
    m = net([2, 64, 64, 1], seed=1, scale=0.5)
    s = R.to_shallow(m, (-2, 2))
    regions = R.enumerate_regions(m, (-2, 2), cells="all")
    assert regions.method == "geometry" and s.n_cells == len(regions) > 1000
    rng = np.random.default_rng(0)
    # points drawn inside every full-dimensional region (random convex combinations of its polygon's vertices),
    # its witness, and points on its edges and vertices (region boundaries)
    pts = [regions.points]
    for P in regions.polygons:
        if len(P) >= 3:
            w = rng.dirichlet(np.ones(len(P)), size=3)
            pts += [w @ P, P, 0.5 * (P + np.roll(P, 1, axis=0))]
    X = np.concatenate(pts)
    X = X[(np.abs(X) <= 2).all(axis=1)]
    assert (s.cell_index(X) >= 0).all()
    f = m.forward(X)
    assert np.abs(s(X) - f).max() <= 1e-9 * max(1.0, np.abs(f).max())


def test_geometry_budgets_and_bad_input():
    m = net([2, 8, 8, 1], seed=0)
    with pytest.raises(R.RegionBudgetError, match="max_regions=5"):
        R.enumerate_regions(m, (-3, 3), max_regions=5)
    with pytest.raises(ValueError, match="method"):
        R.enumerate_regions(m, (-3, 3), method="fast")
    with pytest.raises(ValueError, match="method"):
        R.enumerate_regions(m, (-3, 3), method=1)
    with pytest.raises(ValueError, match="box"):
        R.enumerate_regions(m, None, method="geometry")
    with pytest.raises(ValueError, match="2-input"):
        R.enumerate_regions(net([3, 4, 1]), (-1, 1), method="geometry")
    # all of R^n and 3 inputs still go to the LP path under "auto"
    assert R.enumerate_regions(net([2, 3, 1]), None).method == "lp"


@pytest.mark.parametrize("method", ["geometry", "lp"])
def test_shallow_block_walk_equals_counting_violated_conditions(method):
    # ShallowNet finds the open gate by walking the hyperplane blocks; the definition counts every cell's violated
    # conditions S_k = sum_q M[k, q] ind_q + m_k with the dense M: both must pick the same cell everywhere
    m = he_net()
    s = R.ShallowNet(R.enumerate_regions(m, (-1, 1), cells="all", method=method))
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.uniform(-1.5, 1.5, size=(3000, 2)), np.zeros((1, 2)),
                        rng.uniform(-1, 1, size=(200, 1)) * np.ones((1, 2))])
    ind = (np.maximum(X @ s.G.T + s.g0, 0.0) == 0.0).astype(np.int64)
    S = ind @ s.M.T.astype(np.int64) + s.m
    assert ((S == 0).sum(axis=1) <= 1).all()
    want = np.where((S == 0).any(axis=1), (S == 0).argmax(axis=1), -1)
    np.testing.assert_array_equal(s.cell_index(X), want)
    assert (want[(np.abs(X) <= 1).all(axis=1)] >= 0).all() and (want < 0).any()

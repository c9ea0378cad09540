"""Linear regions of ReLU networks (fastmlp.regions): hand-worked answers, 1-D vs n-D, deep == shallow, SHAP."""
import math
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import regions as R
from fastmlp.apps import plots
from fastmlp.regions import enumeration
from fastmlp.regions.shallow import extended_forward


def net(layers, seed=0, dtype="float64", scale=1.0, activation="relu", **kw):
    """An MLP with N(0, scale^2) weights and biases (biases non-zero: hyperplanes in general position)."""
    m = fastmlp.MLP(layers, activation=activation, loss="mse", dtype=dtype, seed=0, **kw)
    m.set_flat_params(scale * np.random.default_rng(seed).normal(size=m.n_params))
    return m


def weights(m):
    """[(W, b), ...]: copies of the model's weights (through its guarded read); edit them, then ``put`` them."""
    flat, out, off = m.get_flat_params(), [], 0
    for n_i, n_o in zip(m.layers[:-1], m.layers[1:]):
        out.append((flat[off:off + n_o * n_i].reshape(n_o, n_i).copy(), flat[off + n_o * n_i:off + n_o * n_i + n_o].copy()))
        off += n_o * n_i + n_o
    return out


def put(m, ws):
    m.set_flat_params(np.concatenate([a.ravel() for W, b in ws for a in (W, b)]))
    return m


def set_params(m, *arrays):
    ws = weights(m)
    for (W, b), (Wv, bv) in zip(ws, zip(arrays[::2], arrays[1::2])):
        W[...] = np.asarray(Wv, dtype=float).reshape(W.shape)
        b[...] = np.asarray(bv, dtype=float).reshape(b.shape)
    return put(m, ws)


def relu_sum(offsets, dtype="float64"):
    """f(x) = sum_i relu(x - offsets[i]) as a 1-k-1 net."""
    k = len(offsets)
    m = fastmlp.MLP([1, k, 1], activation="relu", loss="mse", dtype=dtype, seed=0)
    return set_params(m, np.ones(k), -np.asarray(offsets, dtype=float), np.ones(k), [0.0])


def udlbook():
    """The 1-3-1 net of Understanding Deep Learning, ch. 3: h_d = relu(theta_d0 + theta_d1 x)."""
    m = fastmlp.MLP([1, 3, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    return set_params(m, [-1.0, 2.0, 0.65], [0.3, -1.0, -0.5], [2.0, -1.0, 7.0], [-0.3])


def tangent_net(D):
    """D units whose zero lines are tangents to the unit circle: general position, all crossings in the box."""
    th = np.pi * np.arange(D) / D + 0.1
    m = fastmlp.MLP([2, D, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(m, np.column_stack([np.cos(th), np.sin(th)]), -np.ones(D), np.linspace(1, 2, D), [0.0])
    return m, 1.0 / math.sin(math.pi / (2 * D)) + 1.0


def segment_crossings(regions, a, b, eps=1e-9):
    """The t-intervals (of positive length) in which the segment a -> b meets each enumerated region."""
    d = b - a
    out = []
    for reg in regions:
        lo, hi = 0.0, 1.0
        hd, rhs = reg.H @ d, reg.c - reg.H @ a        # (H d) t <= c - H a
        for s, r in zip(hd, rhs):
            if s > 0:
                hi = min(hi, r / s)
            elif s < 0:
                lo = max(lo, r / s)
            elif r < 0:
                hi = -1.0
        if hi - lo > eps:
            out.append((lo, hi))
    return sorted(out)


# ---- 1-D: hand-worked answers --------------------------------------------------------------------------------
@pytest.mark.parametrize("N", [2, 3, 5, 9])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_sum_has_N_pieces(N, dtype):
    # f(x) = sum_{1 <= i < N} relu(x - i) on [0, N]: N pieces, breakpoints 1..N-1, slopes 0..N-1
    p = R.pieces_1d(relu_sum(range(1, N), dtype), 0.0, float(N))
    assert p.n_pieces == N == p.n_activation_intervals
    np.testing.assert_allclose(p.t * N, np.arange(1, N), rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.points[:, 0], np.arange(1, N), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(p.alpha[:, 0, 0], np.arange(N))
    np.testing.assert_allclose(p.beta[:, 0], [-sum(range(1, k + 1)) for k in range(N)], atol=1e-12)
    assert p.alpha.shape == (N, 1, 1) and p.beta.shape == (N, 1) and p.points.shape == (N - 1, 1)
    # with i = 0..N-1 on [-1, N] the kink at 0 is inside too: N + 1 pieces, slopes 0..N
    q = R.pieces_1d(relu_sum(range(N), dtype), -1.0, float(N))
    assert q.n_pieces == N + 1
    np.testing.assert_allclose(q.points[:, 0], np.arange(N), atol=1e-12)
    np.testing.assert_array_equal(q.alpha[:, 0, 0], np.arange(N + 1))


def test_udlbook_1_3_1():
    m = udlbook()
    # hand-worked: the units switch at x = 0.3 (h1 off), 0.5 (h2 on), 0.5/0.65 (h3 on);
    # slopes: 2*(-1) = -2; 0; -1*2 = -2; -2 + 7*0.65 = 2.55; intercepts 0.3, -0.3, 0.7, 0.7 - 3.5 = -2.8
    p = R.pieces_1d(m, 0.0, 1.0)
    assert p.n_pieces == 4
    np.testing.assert_allclose(p.t, [0.3, 0.5, 0.5 / 0.65], rtol=1e-15)
    np.testing.assert_allclose(p.alpha[:, 0, 0], [-2.0, 0.0, -2.0, 2.55], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(p.beta[:, 0], [0.3, -0.3, 0.7, -2.8], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(p.slope[:, 0], p.alpha[:, 0, 0])
    # the same pieces from the other end, and from a wider segment (t rescales)
    r = R.pieces_1d(m, 1.0, 0.0)
    np.testing.assert_allclose(np.sort(r.points[:, 0]), p.points[:, 0], rtol=1e-15)
    np.testing.assert_allclose(r.alpha[::-1, 0, 0], p.alpha[:, 0, 0], atol=1e-15)
    w = R.pieces_1d(m, np.array([-2.0]), np.array([3.0]))
    np.testing.assert_allclose(w.points[:, 0], [0.3, 0.5, 0.5 / 0.65], rtol=1e-14)
    # the pieces reproduce the network
    t = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(p(t), m.forward(t[:, None]), rtol=0, atol=1e-14)


def test_activation_intervals_differ_from_pieces():
    # unit 2 has a zero output weight: it switches at x = 0.5 but the map does not change
    m = fastmlp.MLP([1, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(m, [1.0, 1.0], [0.0, -0.5], [1.0, 0.0], [0.0])
    p = R.pieces_1d(m, -1.0, 1.0)
    np.testing.assert_allclose(p.activation_t, [0.5, 0.75])
    np.testing.assert_allclose(p.t, [0.5])
    assert (p.n_pieces, p.n_activation_intervals) == (2, 3)


def test_near_coincident_breakpoints_are_kept():
    # two kinks 1e-6 apart at x = 0 on a long segment: in t they are 5e-13 apart, far above the resolution of
    # x(t) (~1e-16 in t), so they are 3 pieces with slopes 0, 1, 2
    m = relu_sum([0.0, 1e-6])
    p = R.pieces_1d(m, -1e6, 1e6)
    assert p.n_pieces == 3 == p.n_activation_intervals
    np.testing.assert_allclose(p.points[:, 0], [0.0, 1e-6], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(p.alpha[:, 0, 0], [0.0, 1.0, 2.0])
    t_mid = (5e-7 + 1e6) / 2e6
    np.testing.assert_allclose(p(t_mid)[0, 0], 5e-7, rtol=1e-3)        # between the kinks: f = x
    # the same on a short segment, and kinks 1e-9 apart on [-1, 1]
    assert R.pieces_1d(m, -1.0, 1.0).n_pieces == 3
    assert R.pieces_1d(relu_sum([0.0, 1e-9]), -1.0, 1.0).n_pieces == 3
    # slope changes are judged at their own scale: a 1e-4 change beside a 1e9 one is a real breakpoint
    for big in (1e9, 1e12):
        k = set_params(fastmlp.MLP([1, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0),
                       [1.0, 1.0], [-0.2, -0.6], [1e-4, big], [0.0])
        q = R.pieces_1d(k, 0.0, 1.0)
        assert q.n_pieces == 3
        np.testing.assert_allclose(q.t, [0.2, 0.6], rtol=1e-15)
        np.testing.assert_allclose(q.alpha[:, 0, 0], [0.0, 1e-4, 1e-4 + big], rtol=1e-15)
    # the same with a slope change that leaves beta unchanged (kink at 0): alpha alone must tell the pieces apart
    k = set_params(fastmlp.MLP([1, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0),
                   [1.0, 1.0], [0.0, -0.6], [1e-4, 1e9], [0.0])
    q = R.pieces_1d(k, -1.0, 1.0)
    assert q.n_pieces == 3 and q.beta[0, 0] == q.beta[1, 0] == 0.0
    # an exact duplicate crossing (two units with the same kink) is one breakpoint
    assert R.pieces_1d(relu_sum([0.5, 0.5]), 0.0, 1.0).n_pieces == 2


def test_pieces_1d_random_nets_reproduce_forward():
    for layers, seed in (([2, 6, 6, 1], 0), ([3, 8, 8, 2], 1), ([1, 10, 10, 10, 1], 2)):
        m = net(layers, seed)
        rng = np.random.default_rng(seed)
        a, b = rng.uniform(-3, 3, size=(2, layers[0]))
        p = R.pieces_1d(m, a, b)
        assert p.n_pieces == len(p.t) + 1 and np.all(np.diff(p.t) > 0) and np.all((p.t > 0) & (p.t < 1))
        assert set(p.t.tolist()) <= set(p.activation_t.tolist())
        t = np.sort(np.concatenate([rng.uniform(size=2000), p.t, p.activation_t]))
        X = a + t[:, None] * (b - a)
        np.testing.assert_allclose(p(t), m.forward(X), rtol=0, atol=1e-12)
        # each piece's (alpha, beta) is the local linear model at its midpoint
        mid = 0.5 * (p.edges[:-1] + p.edges[1:])
        al, be = R.local_linear(m, a + mid[:, None] * (b - a))
        np.testing.assert_allclose(al, p.alpha, atol=1e-12)
        np.testing.assert_allclose(be, p.beta, atol=1e-12)
        # the map changes at every reported breakpoint
        assert np.all(np.abs(np.diff(p.slope, axis=0)).max(axis=1) > 1e-9)


# ---- local linear models -------------------------------------------------------------------------------------
@pytest.mark.parametrize("layers", [[2, 6, 6, 1], [3, 8, 8, 2], [5, 7, 3]])
def test_local_linear_equals_forward_and_finite_differences(layers):
    m = net(layers, seed=3)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, layers[0]))
    alpha, beta = R.local_linear(m, X)
    assert alpha.shape == (300, layers[-1], layers[0]) and beta.shape == (300, layers[-1])
    np.testing.assert_allclose(np.einsum("noi,ni->no", alpha, X) + beta, m.forward(X), rtol=0, atol=1e-12)
    # valid in a neighbourhood: at x + small steps that stay in the region, and equal to central differences
    h = 1e-6
    pats = np.concatenate(R.activation_patterns(m, X), axis=1)
    checked = 0
    for i in range(layers[0]):
        e = np.zeros(layers[0])
        e[i] = h
        same = (np.concatenate(R.activation_patterns(m, X + e), axis=1) == pats).all(1) & \
               (np.concatenate(R.activation_patterns(m, X - e), axis=1) == pats).all(1)
        fd = (m.forward(X + e) - m.forward(X - e)) / (2 * h)
        np.testing.assert_allclose(fd[same], alpha[same, :, i], rtol=1e-7, atol=1e-7)
        Y = X + 1e3 * e                                   # a bigger step, where it stays in the region
        inside = (np.concatenate(R.activation_patterns(m, Y), axis=1) == pats).all(1)
        np.testing.assert_allclose(np.einsum("noi,ni->no", alpha, Y)[inside] + beta[inside], m.forward(Y)[inside],
                                   rtol=0, atol=1e-12)
        checked += same.sum()
    assert checked > 0.9 * 300 * layers[0]
    assert np.abs(alpha).max() > 0.1  # not vacuous


def test_active_iff_pre_activation_is_strictly_positive_at_a_boundary():
    # relu(x - 0.5) + relu(-x + 0.5 ...): at x = 0.5 exactly the pre-activations are exactly 0: both units off
    m = fastmlp.MLP([1, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(m, [1.0, -1.0], [-0.5, 0.5], [3.0, 2.0], [0.25])
    X = np.array([[0.5], [np.nextafter(0.5, 1.0)], [np.nextafter(0.5, 0.0)]])
    (p,) = R.activation_patterns(m, X)
    assert p.tolist() == [[False, False], [True, False], [False, True]]
    alpha, beta = R.local_linear(m, X)
    assert alpha[0, 0, 0] == 0.0 and beta[0, 0] == 0.25          # the map of the all-off cell, the point x = 0.5
    assert alpha[1, 0, 0] == 3.0 and alpha[2, 0, 0] == -2.0
    np.testing.assert_allclose(np.einsum("noi,ni->no", alpha, X) + beta, m.forward(X), rtol=0, atol=1e-15)
    # the enumeration's cells follow the same convention: {x = 0.5} is a cell of its own, with both units off
    cells = R.enumerate_regions(m, (0.0, 1.0), cells="all")
    k = cells.locate(X[:1])[0]
    assert k >= 0 and not cells.patterns[k].any() and abs(cells.points[k, 0] - 0.5) < 1e-9
    # in 2-D: a point exactly on the line x0 + x1 = 1 is on its inactive side
    m2 = fastmlp.MLP([2, 1, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(m2, [[1.0, 1.0]], [-1.0], [1.0], [0.0])
    assert R.activation_patterns(m2, [[0.25, 0.75], [0.25, 0.7500001]])[0][:, 0].tolist() == [False, True]


def test_activation_patterns_match_a_manual_forward():
    m = net([3, 5, 4, 2], seed=5)
    X = np.random.default_rng(0).normal(size=(50, 3))
    (W1, b1), (W2, b2), _ = m.params
    z1 = X @ W1.T + b1
    z2 = np.maximum(z1, 0) @ W2.T + b2
    p = R.activation_patterns(m, X)
    assert [q.shape for q in p] == [(50, 5), (50, 4)] and p[0].dtype == bool
    np.testing.assert_array_equal(p[0], z1 > 0)
    np.testing.assert_array_equal(p[1], z2 > 0)
    assert R.activation_patterns(fastmlp.MLP([3, 2], dtype="float64"), X) == []


def test_float32_models_are_analysed_in_float64():
    m = net([2, 6, 6, 1], seed=1, dtype="float32")
    m64 = net([2, 6, 6, 1], seed=1)
    m64.set_flat_params(m.get_flat_params().astype(np.float64))
    X = np.random.default_rng(1).normal(size=(100, 2))
    a32, b32 = R.local_linear(m, X)
    a64, b64 = R.local_linear(m64, X)
    assert a32.dtype == np.float64
    np.testing.assert_array_equal(a32, a64)
    f32 = m.forward(X)
    assert f32.dtype == np.float32
    scale = np.abs(f32).max()
    np.testing.assert_allclose(np.einsum("noi,ni->no", a32, X) + b32, f32, rtol=0, atol=1e-5 * scale)
    # the pieces along a segment reproduce the float32 model's own forward pass, to float32 precision
    p = R.pieces_1d(m, [-2, -2], [2, 2])
    t = np.linspace(0, 1, 2001)
    f = m.forward(np.array([-2.0, -2.0]) + t[:, None] * 4.0)
    assert f.dtype == np.float32 and p.n_pieces >= 3
    np.testing.assert_allclose(p(t), f, rtol=0, atol=1e-5 * np.abs(f).max())
    # and so does its shallow net (built in float64 from the widened weights)
    s = R.to_shallow(m, (-2, 2))
    Y = np.random.default_rng(2).uniform(-2, 2, size=(5000, 2))
    f = m.forward(Y)
    np.testing.assert_allclose(s(Y), f, rtol=0, atol=1e-5 * np.abs(f).max())


def test_network_without_hidden_layer():
    m = fastmlp.MLP([3, 2], activation="relu", loss="mse", dtype="float64", seed=0)
    W, b = m.params[0]
    X = np.random.default_rng(0).normal(size=(7, 3))
    alpha, beta = R.local_linear(m, X)
    np.testing.assert_array_equal(alpha, np.broadcast_to(W, (7, 2, 3)))
    np.testing.assert_array_equal(beta, np.broadcast_to(b, (7, 2)))
    p = R.pieces_1d(m, np.zeros(3), np.ones(3))
    assert p.n_pieces == 1 and len(p.t) == 0
    regions = R.enumerate_regions(m, (-1, 1))
    assert len(regions) == 1 and regions.n_lps == 0
    s = R.to_shallow(m, (-1, 1))
    np.testing.assert_allclose(s(X), m.forward(X), atol=1e-14)


# ---- n-D enumeration -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("D", [3, 6, 12])
def test_shallow_2d_net_in_general_position_reaches_the_bound(D):
    m, r = tangent_net(D)
    regions = R.enumerate_regions(m, (-r, r))
    assert len(regions) == R.shallow_region_bound(2, D) == 1 + D + D * (D - 1) // 2
    assert R.count_regions(m, (-r, r)) == len(regions)
    # inside the circle every unit is off (its pre-activation is n_j.x - 1 < 0): one region
    small = R.enumerate_regions(m, (-0.5, 0.5))
    assert len(small) == 1 and not small.patterns.any()


def test_regions_are_complete_and_consistent():
    m = net([2, 6, 6, 1], seed=0)
    regions = R.enumerate_regions(m, (-2, 2))
    K, U = regions.patterns.shape
    assert U == 12 and K == len(np.unique(regions.patterns, axis=0))
    X = np.random.default_rng(0).uniform(-2, 2, size=(20000, 2))
    idx = regions.locate(X)
    assert (idx >= 0).all()                    # every sampled input lies in an enumerated region
    # each region's own witness is located in that region (so no two regions share a pattern or a point)
    np.testing.assert_array_equal(regions.locate(regions.points), np.arange(K))
    assert regions.n_rejected == 0 and K == 42
    # each region: its point lies in it, in the box, and its (alpha, beta) is the local linear model there
    for reg in regions:
        assert reg.contains(reg.point[None, :])[0]
        assert np.all(np.abs(reg.point) <= 2 + 1e-12)
        al, be = R.local_linear(m, reg.point[None, :])
        np.testing.assert_allclose(al[0], reg.alpha, atol=1e-12)
        np.testing.assert_allclose(be[0], reg.beta, atol=1e-12)
        np.testing.assert_array_equal(np.concatenate(R.activation_patterns(m, reg.point[None, :]), 1)[0],
                                      reg.pattern)
    b = regions.bounds
    assert b["patterns"] == 4096 >= b["product"] >= K and b["shallow"] == 79
    assert repr(regions).startswith(f"<Regions: {K} full-dimensional regions of a [2, 6, 6, 1] network in box")


@pytest.mark.parametrize("layers,seed", [([2, 5, 5, 1], 0), ([2, 6, 6, 1], 7), ([3, 6, 5, 1], 2),
                                         ([2, 4, 4, 4, 1], 3)])
def test_1d_breakpoints_equal_nd_regions_on_the_segment(layers, seed):
    m = net(layers, seed)
    regions = R.enumerate_regions(m, (-2, 2))
    rng = np.random.default_rng(seed)
    for _ in range(4):
        a, b = rng.uniform(-2, 2, size=(2, layers[0]))
        p = R.pieces_1d(m, a, b)
        crossed = segment_crossings(regions, a, b)
        assert p.n_activation_intervals == len(crossed)
        ends = np.array([hi for _, hi in crossed[:-1]])
        np.testing.assert_allclose(p.activation_t, ends, atol=1e-9)


def test_enumeration_is_invariant_to_the_inputs_scale_and_offset():
    # m_s(x) = m(x / s) in the box s [-2, 2]^2 has exactly the regions of m in [-2, 2]^2 (42 of them), for tiny and
    # huge s, and so has m_c(x) = m(x - c) in c + [-2, 2]^2; every witness has its region's pattern
    base = len(R.enumerate_regions(net([2, 6, 6, 1], seed=0), (-2, 2)))
    assert base == 42
    cases = [(s, 0.0) for s in (1e-6, 1e-9, 1e6)] + [(1.0, 1e4)]
    for s, c in cases:
        m = net([2, 6, 6, 1], seed=0)
        ws = weights(m)
        W, b = ws[0]
        W[...] /= s
        b[...] -= W @ np.full(2, c)
        put(m, ws)
        box = (c - 2 * s, c + 2 * s)
        regions = R.enumerate_regions(m, box)
        assert len(regions) == base, (s, c)
        assert regions.n_rejected == 0
        np.testing.assert_array_equal(np.concatenate(R.activation_patterns(m, regions.points), 1), regions.patterns)
        if s == 1e-6:
            sh = R.to_shallow(m, box)
            X = np.random.default_rng(0).uniform(-2 * s, 2 * s, size=(5000, 2))
            assert (sh.cell_index(X) >= 0).all() and np.abs(sh(X) - m.forward(X)).max() <= 1e-12


def test_witnesses_are_checked_against_the_forward_pass(monkeypatch):
    # wire test: make the forward-pass pattern lie about unit 0 right of x0 = 0.5; regions whose witness lies
    # there must be re-solved (a witness elsewhere in the region) or dropped, never returned with a wrong witness
    m = net([2, 6, 6, 1], seed=0)
    honest = R.enumerate_regions(m, (-2, 2))
    real = enumeration.layer_patterns

    def lying(net_, X):
        pats = [p.copy() for p in real(net_, X)]
        pats[0][:, 0] ^= X[:, 0] > 0.5
        return pats

    monkeypatch.setattr(enumeration, "layer_patterns", lying)
    r = R.enumerate_regions(m, (-2, 2), method="lp")   # the geometric path's check: tests/test_regions_2d.py
    assert r.n_repaired + r.n_rejected > 0
    assert len(r) == len(honest) - r.n_rejected
    np.testing.assert_array_equal(np.concatenate(lying(honest._net, r.points), 1), r.patterns)


def test_tiny_boxes_meet_at_least_one_region():
    # f = relu(x - 0.5) + 0.25 in a box of half-width 1e-10 around the kink: 2 regions, 1 without the kink
    m = set_params(fastmlp.MLP([1, 1, 1], activation="relu", loss="mse", dtype="float64", seed=0),
                   [1.0], [-0.5], [1.0], [0.25])
    w = 1e-10
    for cells in ("full", "all"):
        assert R.count_regions(m, (0.5 - w, 0.5 + w), cells=cells) == 2
    assert R.count_regions(m, (0.1 - 1e-12, 0.1 + 1e-12)) == 1
    s = R.to_shallow(m, (0.5 - w, 0.5 + w))
    X = np.array([[0.5 - w / 2], [0.5], [0.5 + w / 2], [0.5 + w]])
    assert (s.cell_index(X) >= 0).all()
    np.testing.assert_array_equal(s(X), m.forward(X))
    # a sliver 1e-10 wide at the centre of [-1, 1] is resolved too (the LP coordinates follow the features)
    sl = set_params(fastmlp.MLP([1, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0),
                    [1.0, 1.0], [0.0, -1e-10], [1.0, -1.0], [0.5])
    assert R.count_regions(sl, (-1, 1)) == 3 == R.count_regions(sl, (-1, 1), cells="all")
    Y = np.array([[-0.5], [0.0], [5e-11], [1e-10], [0.5]])
    assert (R.to_shallow(sl, (-1, 1)).cell_index(Y) >= 0).all()
    # when every region is below the resolution, the box still meets one: the region of its centre
    k = relu_sum(np.linspace(-0.75, 0.75, 7))
    r = R.enumerate_regions(k, (-1, 1), tol=0.4)
    assert len(r) == 1 and r.points[0, 0] == 0.0
    np.testing.assert_array_equal(r.patterns[0], np.linspace(-0.75, 0.75, 7) < 0)


def test_full_and_all_cells_agree_in_general_position_and_differ_when_degenerate():
    m = net([2, 5, 5, 1], seed=4)
    assert len(R.enumerate_regions(m, (-2, 2), cells="all")) == len(R.enumerate_regions(m, (-2, 2)))
    # relu(x) and relu(-x): the point x = 0 is a cell of its own (both units off), of dimension 0
    d = fastmlp.MLP([1, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(d, [1.0, -1.0], [0.0, 0.0], [1.0, 2.0], [0.5])
    full = R.enumerate_regions(d, (-1, 1))
    cells = R.enumerate_regions(d, (-1, 1), cells="all")
    assert len(full) == 2 and len(cells) == 3
    assert sorted(map(tuple, cells.patterns.tolist())) == [(False, False), (False, True), (True, False)]


def test_enumeration_in_all_of_Rn_and_a_float32_model():
    m, r = tangent_net(5)
    assert len(R.enumerate_regions(m, None)) == 16
    m32 = net([2, 5, 5, 1], seed=4, dtype="float32")
    m64 = fastmlp.MLP([2, 5, 5, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    m64.set_flat_params(m32.get_flat_params().astype(np.float64))     # the same weights, widened exactly
    r32 = R.enumerate_regions(m32, (-2, 2))
    r64 = R.enumerate_regions(m64, (-2, 2))
    assert len(r32) == len(r64) > 5
    np.testing.assert_array_equal(r32.patterns, r64.patterns)


def test_budget_errors():
    m = net([2, 8, 8, 1], seed=0)
    with pytest.raises(R.RegionBudgetError, match="max_regions=5") as info:
        R.enumerate_regions(m, (-3, 3), max_regions=5, method="lp")
    assert isinstance(info.value, RuntimeError) and info.value.n_regions == 5
    with pytest.raises(R.RegionBudgetError, match="max_lps=3"):
        R.enumerate_regions(m, (-3, 3), max_lps=3, method="lp")   # the geometric path solves no LP
    with pytest.raises(RuntimeError):
        R.to_shallow(m, (-3, 3), max_regions=2)


def test_default_and_time_budgets_stop_a_hopeless_run_quickly():
    import inspect, time
    sig = inspect.signature(R.enumerate_regions).parameters
    assert sig["max_lps"].default == 20_000 and sig["max_seconds"].default is None
    big = net([6, 24, 24, 1], seed=0)            # far too many regions to enumerate
    t0 = time.perf_counter()
    with pytest.raises(R.RegionBudgetError, match="max_seconds=0.3") as info:
        R.enumerate_regions(big, (-3, 3), max_seconds=0.3)
    assert time.perf_counter() - t0 < 3.0 and info.value.n_lps > 0
    t0 = time.perf_counter()
    with pytest.raises(R.RegionBudgetError, match="max_lps=300"):
        R.enumerate_regions(big, (-3, 3), max_lps=300)
    assert time.perf_counter() - t0 < 5.0
    for bad in (0, -1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="max_seconds"):
            R.enumerate_regions(big, (-3, 3), max_seconds=bad)


# ---- deep -> shallow -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("layers,seed", [([2, 6, 6, 1], 0), ([3, 8, 8, 1], 1)])
def test_shallow_net_equals_deep_net_in_the_box(layers, seed):
    m = net(layers, seed)
    s = R.to_shallow(m, (-2, 2))
    assert len(s.widths) == 3 and s.n_cells > 10
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(10_000, layers[0]))
    assert np.abs(s(X) - m.forward(X)).max() <= 1e-9
    assert (s.cell_index(X) >= 0).all()
    # points exactly on region boundaries: the breakpoints of segments, and the box's corners
    B = [R.pieces_1d(m, *rng.uniform(-2, 2, size=(2, layers[0]))).points for _ in range(30)]
    B = np.concatenate(B + [np.array(np.meshgrid(*[[-2.0, 2.0]] * layers[0])).reshape(layers[0], -1).T])
    assert len(B) > 100
    assert (s.cell_index(B) >= 0).all()
    assert np.abs(s(B) - m.forward(B)).max() <= 1e-9


def test_shallow_net_on_all_of_Rn():
    m = net([2, 5, 4, 1], seed=5)
    s = R.to_shallow(m, None)
    X = np.random.default_rng(5).normal(scale=100.0, size=(5000, 2))
    assert (s.cell_index(X) >= 0).all()
    assert np.abs(s(X) - m.forward(X)).max() <= 1e-9 * np.abs(m.forward(X)).max()
    # built for a box, it is exact there; outside, exact where an input lies in one of its cells, NaN elsewhere
    t = R.to_shallow(m, (-1, 1))
    assert t.n_cells < s.n_cells
    Y = np.random.default_rng(6).uniform(-3, 3, size=(5000, 2))
    out = (np.abs(Y) > 1).any(axis=1)
    idx, y = t.cell_index(Y), t(Y)[:, 0]
    assert (idx[~out] >= 0).all()
    none = idx < 0
    assert none.sum() > 100 and out[none].all()               # uncovered only outside the box, and often
    assert np.isnan(y[none]).all() and np.isnan(t.logits(Y)[none]).all()
    assert np.abs(y[~none] - m.forward(Y)[~none, 0]).max() <= 1e-9


def test_shallow_net_is_exact_on_lower_dimensional_cells():
    # relu(x), relu(-x): x = 0 is a 0-dimensional cell; built from full-dimensional regions only it is missed
    d = fastmlp.MLP([1, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(d, [1.0, -1.0], [0.0, 0.0], [1.0, 2.0], [0.5])
    X = np.array([[-0.5], [0.0], [0.25]])
    s = R.to_shallow(d, (-1, 1))
    np.testing.assert_array_equal(s(X), d.forward(X))
    partial = R.ShallowNet(R.enumerate_regions(d, (-1, 1), cells="full"))
    assert partial.cell_index(X).tolist() == [1, -1, 0] and np.isnan(partial(X)[1, 0])   # missed: NaN, not 0
    np.testing.assert_array_equal(partial(X)[[0, 2]], d.forward(X)[[0, 2]])
    # He-initialised net: zero biases, every hyperplane of layer 1 through the origin (a degenerate arrangement)
    he = fastmlp.MLP([2, 6, 6, 1], activation="relu", loss="mse", dtype="float64", seed=3)
    ws = weights(he)
    ws[-1][1][...] = 0.7
    put(he, ws)
    s = R.to_shallow(he, (-1, 1))
    th = np.linspace(0, 2 * np.pi, 721)
    W1 = ws[0][0]
    Y = np.concatenate([[[0.0, 0.0]], 0.5 * np.column_stack([np.cos(th), np.sin(th)]),
                        0.9 * np.column_stack([-W1[:, 1], W1[:, 0]]) / np.linalg.norm(W1, axis=1)[:, None]])
    assert np.abs(s(Y) - he.forward(Y)).max() <= 1e-12


def test_extended_layers_and_big_m_export():
    m = net([2, 4, 4, 1], seed=6)
    s = R.to_shallow(m, (-2, 2))
    layers = s.extended_layers()
    assert [W.shape[0] for W, *_ in layers] == s.widths + [1]
    X = np.random.default_rng(0).uniform(-2, 2, size=(3000, 2))
    np.testing.assert_allclose(extended_forward(layers, X), s(X), rtol=0, atol=1e-13)  # same math, other sum order
    # plain IEEE arithmetic with the infinite weights gives NaN (inf * 0): why evaluation is symbolic
    with np.errstate(invalid="ignore"):
        W2, b2, V2, c2 = layers[1]
        assert np.isnan((np.maximum(X @ layers[0][0].T + layers[0][1], 0) @ (W2 + np.inf * V2).T)).any()
    # the big-M export is an ordinary fastmlp.MLP, approximately equal (wrong only near boundaries)
    approx = s.to_mlp(M=1e6)
    assert approx.layers == [2] + s.widths + [1]
    err = np.abs(approx.forward(X) - m.forward(X))[:, 0]
    assert np.median(err) < 1e-9 and np.mean(err > 1e-6) < 0.01
    with pytest.raises(ValueError):
        s.to_finite(np.inf)


def test_output_activation_is_applied_after_the_linear_models():
    m = net([2, 5, 1], seed=2, output="sigmoid")
    X = np.random.default_rng(2).uniform(-1, 1, size=(500, 2))
    alpha, beta = R.local_linear(m, X)
    z = np.einsum("noi,ni->no", alpha, X) + beta          # the pre-activation (logit)
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), m.forward(X), atol=1e-12)
    s = R.to_shallow(m, (-1, 1))
    np.testing.assert_allclose(s(X), m.forward(X), atol=1e-12)
    np.testing.assert_allclose(s.logits(X), z, atol=1e-12)


# ---- explanations --------------------------------------------------------------------------------------------
def test_shapley_values_are_additive():
    m = net([4, 6, 6, 2], seed=8)
    rng = np.random.default_rng(8)
    X, bg = rng.normal(size=(6, 4)), rng.normal(size=(40, 4))
    phi = R.shapley_values(m, X, bg)
    assert phi.shape == (6, 2, 4)
    np.testing.assert_allclose(phi.sum(-1), m.forward(X) - m.forward(bg).mean(0), rtol=0, atol=1e-9)
    # any activation works (the values are of model.forward)
    t = net([3, 5, 1], seed=1, activation="tanh")
    phi = R.shapley_values(t, X[:, :3], bg[:, :3])
    np.testing.assert_allclose(phi.sum(-1), t.forward(X[:, :3]) - t.forward(bg[:, :3]).mean(0), atol=1e-9)
    # symmetry: a feature the net ignores gets exactly 0
    ws = weights(m)
    ws[0][0][:, 2] = 0.0
    put(m, ws)
    assert np.abs(R.shapley_values(m, X, bg)[:, :, 2]).max() == 0.0


def test_shapley_values_of_a_nonlinear_net_by_hand():
    # f = relu(2 x1 + x2 - 1), x = (1, 1), background {(0, 0)}: v({}) = 0, v({1}) = relu(1) = 1,
    # v({2}) = relu(0) = 0, v({1, 2}) = 2, so phi1 = (1 - 0)/2 + (2 - 0)/2 = 1.5, phi2 = (0 - 0)/2 + (2 - 1)/2 = 0.5
    # (a single ordering would give (1, 1) or (2, 0); local-linear SHAP gives (2, 1), which is not even additive)
    m = set_params(fastmlp.MLP([2, 1, 1], activation="relu", loss="mse", dtype="float64", seed=0),
                   [[2.0, 1.0]], [-1.0], [1.0], [0.0])
    np.testing.assert_allclose(R.shapley_values(m, [[1.0, 1.0]], [[0.0, 0.0]])[0, 0], [1.5, 0.5], rtol=0,
                               atol=1e-15)
    np.testing.assert_allclose(R.linear_shap(m, [[1.0, 1.0]], [[0.0, 0.0]])[0, 0], [2.0, 1.0])
    # two background rows {(0, 0), (1, 0)}: v({}) = 0.5, v({1}) = 1, v({2}) = 1, v({1, 2}) = 2 -> (0.75, 0.75)
    np.testing.assert_allclose(R.shapley_values(m, [[1.0, 1.0]], [[0.0, 0.0], [1.0, 0.0]])[0, 0], [0.75, 0.75],
                               atol=1e-15)
    # an additive game of three features: relu(x1) + relu(x2 + x3 - 1) at (1, 1, 1) against 0 -> (1, 0.5, 0.5)
    m3 = set_params(fastmlp.MLP([3, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0),
                    [[1.0, 0, 0], [0, 1, 1]], [0.0, -1.0], [1.0, 1.0], [0.0])
    np.testing.assert_allclose(R.shapley_values(m3, [[1.0, 1, 1]], [[0.0, 0, 0]])[0, 0], [1.0, 0.5, 0.5],
                               atol=1e-15)


def test_linear_shap_equals_shapley_values_for_a_linear_net():
    rng = np.random.default_rng(0)
    # positive weights and biases on positive inputs: every hidden unit is on everywhere the game looks
    m = fastmlp.MLP([3, 4, 4, 2], activation="relu", loss="mse", dtype="float64", seed=0)
    set_params(m, rng.uniform(0.1, 1, (4, 3)), rng.uniform(0.1, 1, 4), rng.uniform(0.1, 1, (4, 4)),
               rng.uniform(0.1, 1, 4), rng.normal(size=(2, 4)), rng.normal(size=2))
    X, bg = rng.uniform(0, 2, size=(5, 3)), rng.uniform(0, 2, size=(30, 3))
    assert all(p.all() for p in R.activation_patterns(m, np.concatenate([X, bg])))
    lin = R.linear_shap(m, X, bg)
    np.testing.assert_allclose(lin, R.shapley_values(m, X, bg), rtol=0, atol=1e-12)
    np.testing.assert_allclose(lin.sum(-1), m.forward(X) - m.forward(bg).mean(0), atol=1e-12)
    # and with no hidden layer at all
    lin_net = fastmlp.MLP([3, 2], dtype="float64", seed=1)
    np.testing.assert_allclose(R.linear_shap(lin_net, X, bg), R.shapley_values(lin_net, X, bg), atol=1e-12)
    # for a nonlinear net they differ (local-linear SHAP explains the region's linear model only)
    nl = net([3, 6, 1], seed=3)
    assert np.abs(R.linear_shap(nl, X, bg) - R.shapley_values(nl, X, bg)).max() > 1e-3


def test_shapley_values_refuse_many_features():
    m = net([17, 2, 1], seed=0)
    with pytest.raises(ValueError, match="max_features=16"):
        R.shapley_values(m, np.zeros((1, 17)), np.zeros((2, 17)))
    m = net([5, 2, 1], seed=0)
    with pytest.raises(ValueError, match="max_features=4"):
        R.shapley_values(m, np.zeros((1, 5)), np.zeros((2, 5)), max_features=4)


# ---- bounds --------------------------------------------------------------------------------------------------
def test_bounds():
    assert R.shallow_region_bound(2, 3) == 7
    assert R.shallow_region_bound(10, 50) == 13_432_735_556
    assert R.shallow_region_bound(10, 8) == 256 == R.pattern_bound(8)
    assert [R.shallow_region_bound(2, D) for D in (3, 6, 12, 20)] == [7, 22, 79, 211]
    assert R.product_region_bound([2, 6, 6, 1]) == 22 * 22
    assert R.product_region_bound(net([2, 3, 1])) == 7
    assert R.pattern_bound(12) == 4096
    with pytest.raises(ValueError):
        R.shallow_region_bound(-1, 3)


# ---- plots ---------------------------------------------------------------------------------------------------
def test_plots(tmp_path):
    pytest.importorskip("matplotlib")
    ax = plots.plot_pieces_1d(udlbook(), 0.0, 1.0, data=(np.linspace(0, 1, 9)[:, None], np.zeros(9)))
    assert ax.get_xlabel() == "x" and ax.get_ylabel() and "4 linear pieces" in ax.get_title()
    ax.figure.savefig(tmp_path / "pieces.png")
    m = net([2, 5, 5, 1], seed=4)
    ax = plots.plot_pieces_1d(m, [-1, -1], [1, 1])
    assert ax.get_xlabel().startswith("t")
    ax = plots.plot_regions_2d(m, (-2, 2), resolution=120)
    n = len(R.enumerate_regions(m, (-2, 2)))
    assert ax.get_title().startswith(f"{n} activation regions") and str(R.shallow_region_bound(2, 10)) in ax.get_title()
    assert ax.get_xlabel() and ax.get_ylabel()
    ax.figure.savefig(tmp_path / "regions.png")
    assert (tmp_path / "regions.png").stat().st_size > 1000 and (tmp_path / "pieces.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="2-input"):
        plots.plot_regions_2d(net([3, 4, 1]), (-1, 1))


# ---- bad input and missing extras ----------------------------------------------------------------------------
def test_bad_input():
    m = net([2, 4, 1])
    with pytest.raises(ValueError, match="tanh"):
        R.local_linear(net([2, 4, 1], activation="tanh"), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="sigmoid"):
        R.pieces_1d(net([1, 4, 4, 1], activation=["relu", "sigmoid"]), 0, 1)
    with pytest.raises(ValueError, match="sigmoid"):
        R.enumerate_regions(net([2, 4, 1], activation="sigmoid"), (-1, 1))
    with pytest.raises(TypeError):
        R.local_linear("not a model", np.zeros((1, 2)))
    for X in (np.zeros(2), np.zeros((3, 3)), np.zeros((0, 2)), [[np.nan, 0.0]], [[np.inf, 0.0]],
              np.zeros((1, 2), complex)):
        with pytest.raises(ValueError):
            R.local_linear(m, X)
        with pytest.raises(ValueError):
            R.activation_patterns(m, X)
    for a in (0.0, [0.0], [0.0, 0.0, 0.0], [np.nan, 0.0], [[0.0, 0.0]]):
        with pytest.raises(ValueError):
            R.pieces_1d(m, a, [1.0, 1.0])
    for box in ((1, -1), (0, 0), [[0, 1]], [[0, 1], [0, np.nan]], "box", [0, 1, 2]):
        with pytest.raises(ValueError):
            R.enumerate_regions(m, box)
    with pytest.raises(ValueError, match="cells"):
        R.enumerate_regions(m, (-1, 1), cells="some")
    with pytest.raises(ValueError, match="max_regions"):
        R.enumerate_regions(m, (-1, 1), max_regions=0)
    with pytest.raises(ValueError):
        R.linear_shap(m, np.zeros((1, 2)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        R.shapley_values(m, [[np.nan, 0.0]], np.zeros((3, 2)))
    # strings are a TypeError (not numbers at all)
    with pytest.raises(TypeError, match="strings"):
        R.local_linear(m, [["a", "b"]])
    with pytest.raises(TypeError, match="strings"):
        R.pieces_1d(m, ["a", "b"], [1.0, 1.0])
    # numpy scalars are accepted as tolerances; bad ones are refused
    R.pieces_1d(m, [0, 0], [1, 1], tol=np.float32(1e-12))
    R.pieces_1d(m, [0, 0], [1, 1], tol=np.int64(0))
    assert len(R.enumerate_regions(m, (-1, 1), tol=np.float64(1e-9))) == len(R.enumerate_regions(m, (-1, 1)))
    for tol in (-1, float("nan"), 0.5, True, "1e-9"):
        with pytest.raises(ValueError, match="tol"):
            R.pieces_1d(m, [0, 0], [1, 1], tol=tol)
    for tol in (0, -1e-9, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="tol"):
            R.enumerate_regions(m, (-1, 1), tol=tol)
    with pytest.raises(ValueError, match="integer"):
        R.product_region_bound([2.7, 3, 1])
    with pytest.raises(TypeError, match="max_features"):
        R.shapley_values(m, np.zeros((1, 2)), np.zeros((1, 2)), max_features="x")
    with pytest.raises(ValueError, match="max_features"):
        R.shapley_values(m, np.zeros((1, 2)), np.zeros((1, 2)), max_features=-1)
    reg = R.enumerate_regions(m, (-1, 1))[0]
    with pytest.raises(ValueError, match="shape"):
        reg.contains(np.zeros((1, 3)))
    assert reg.contains(reg.point)[0]
    # inputs are not modified
    X = np.random.default_rng(0).normal(size=(5, 2))
    X0 = X.copy()
    R.local_linear(m, X)
    R.pieces_1d(m, X[0], X[1])
    np.testing.assert_array_equal(X, X0)


def test_missing_scipy_and_matplotlib_give_clear_errors(monkeypatch):
    m = net([2, 3, 1])
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(ImportError, match=r"fastmlp\[regions\]"):
        R.enumerate_regions(m, (-1, 1), method="lp")
    R.pieces_1d(m, [0, 0], [1, 1])  # the 1-D analysis needs no scipy
    assert len(R.enumerate_regions(m, (-1, 1))) >= 1   # nor does the geometric 2-D path
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"fastmlp\[plot\]"):
        plots.plot_pieces_1d(m, [0, 0], [1, 1])


def _snapshot(m, flat):
    c = fastmlp.MLP(m.layers, activation="relu", loss="mse", dtype=m.dtype.name, seed=0)
    c.set_flat_params(flat)
    return c


def test_regions_read_weights_through_the_guard_during_a_fit_in_another_thread():
    # issue 13: reads that bypassed the thread guard saw torn weights during a fit. Every regions call made while
    # another thread fits either raises the model's RuntimeError or gives exactly the result of the weights between
    # two fit calls (the boundaries the trainer records), never a mixture
    import threading
    import time
    rng = np.random.default_rng(0)
    m = net([2, 6, 6, 1], seed=1, dtype="float32")
    Xt = rng.normal(size=(256, 2)).astype(np.float32)
    yt = np.sin(Xt.sum(1, keepdims=True))
    X = rng.uniform(-1, 1, size=(4, 2))
    bg = rng.uniform(-1, 1, size=(3, 2))
    calls = {
        "activation_patterns": lambda mm: R.activation_patterns(mm, X),
        "local_linear": lambda mm: R.local_linear(mm, X),
        "pieces_1d": lambda mm: (lambda p: (p.t, p.alpha, p.beta))(R.pieces_1d(mm, [-1.0, -1.0], [1.0, 1.0])),
        "linear_shap": lambda mm: R.linear_shap(mm, X, bg),
        "shapley_values": lambda mm: R.shapley_values(mm, X[:2], bg),
    }
    boundaries = [m.get_flat_params()]
    stop = threading.Event()

    def pause(*args):   # mid-fit (between epochs) the GIL goes to the reading thread
        time.sleep(0.0003)

    def train():
        try:
            while len(boundaries) < 61:
                try:
                    m.fit(Xt, yt, epochs=4, batch_size=8, lr=0.05, optimizer="adam", callbacks=[pause])
                except RuntimeError:   # a regions call is reading: the model refuses to train meanwhile
                    continue
                boundaries.append(m.get_flat_params())
                time.sleep(0.002)   # a window between fits in which reads succeed
        finally:
            stop.set()

    results, refused = [], 0
    t = threading.Thread(target=train)
    t.start()
    try:
        while not stop.is_set():
            for name, f in calls.items():
                try:
                    results.append((name, f(m)))
                except RuntimeError:
                    refused += 1
    finally:
        t.join()
    assert results and refused and len(boundaries) == 61

    def same(a, b):
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return np.array_equal(np.asarray(a), np.asarray(b))

    expected = {}
    torn = []
    for name, r in results:
        ok = False
        for i, flat in enumerate(boundaries):
            key = (name, i)
            if key not in expected:
                expected[key] = calls[name](_snapshot(m, flat))
            if same(r, expected[key]):
                ok = True
                break
        if not ok:
            torn.append(name)
    assert not torn, f"{len(torn)} of {len(results)} regions results matched no fit boundary: {sorted(set(torn))}"


def test_regions_results_keep_one_snapshot_when_weights_change_later():
    # read_net copies the weights: changing the model afterwards does not change an analysis already made
    m = net([2, 4, 1], seed=3)
    regions = R.enumerate_regions(m, (-1, 1))
    before = [r.alpha.copy() for r in regions]
    m.set_flat_params(np.zeros(m.n_params))
    assert all(np.array_equal(r.alpha, a) for r, a in zip(regions, before))


def test_to_mlp_refuses_an_M_that_cancellation_makes_wrong_everywhere():
    # issue 13: ShallowNet.to_mlp(M) with a huge M was wrong everywhere (the parts, of size ~s, are summed with
    # terms of size M in float64). M is bounded by big_m_range(): below M_max the error stays under 1e-6 s away
    # from the cell boundaries; far beyond it the literal big-M network is wrong on almost every input
    m = net([2, 4, 4, 1], seed=6)
    s = R.to_shallow(m, (-2, 2))
    lo, hi = s.big_m_range()
    assert lo == s.output_scale() and 1e6 < hi < 1e12
    X = np.random.default_rng(0).uniform(-2, 2, size=(20000, 2))
    with np.errstate(divide="ignore"):   # a zero hyperplane row (a dead unit) is infinitely far
        far = (np.abs(X @ s.G.T + s.g0) / np.linalg.norm(s.G, axis=1)).min(1)
    ref = m.forward(X)[:, 0]
    for M in (None, hi, 1e6):
        a = s.to_mlp(M)
        err = np.abs(a.forward(X)[:, 0] - ref)
        assert err[far > 1e3 / (hi if M is None else M)].max() <= 1e-6 * lo, M
    for M in (1e20, 1e300, hi * 1.01, lo, lo / 2, 0.0, -1.0, np.inf, np.nan, "1e6", True):
        with pytest.raises(ValueError, match="M"):
            s.to_mlp(M)
        with pytest.raises(ValueError, match="M"):
            s.to_finite(M)
    # why: evaluated literally, M = 1e6 * M_max is wrong (beyond 1e-6 s) on nearly every input, M = 1e20 on all
    for M, frac in ((1e6 * hi, 0.9), (1e20, 0.99)):
        layers = [(W + M * V, b + M * c) for W, b, V, c in s.extended_layers()]
        h = X
        for W, b in layers[:-1]:
            h = np.maximum(h @ W.T + b, 0.0)
        out = (h @ layers[-1][0].T + layers[-1][1])[:, 0]
        assert np.mean(np.abs(out - ref) > 1e-6 * lo) > frac, M

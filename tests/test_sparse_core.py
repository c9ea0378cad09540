"""Sparse (CSR) input in the core: the CSR holder's checks, the CSR network functions against the dense ones on the
densified matrix and against their reference twins, scipy-like input, thread-count independence, bad input."""
import types

import numpy as np
import pytest

import fastmlp
import fastmlp.reference as R
from fastmlp._core import CSR, OptimConfig, _Net
from kernels import dense_of, flat, random_csr
from test_mlp import CONFIGS, CONFIG_IDS, close, counter, random_params, ref_net, ref_opt

DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def targets(rng, sizes, loss, n, dtype):
    if loss == "softmax_ce":
        return None, rng.integers(0, sizes[-1], size=n).astype(np.int64)
    if loss == "sigmoid_bce":
        return rng.uniform(0, 1, size=(n, sizes[-1])).astype(dtype), None
    return rng.standard_normal((n, sizes[-1])).astype(dtype), None


def csr_lists(X):
    return [int(v) for v in X.indptr], [int(v) for v in X.indices], flat(X.data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,sizes,acts", CONFIGS, ids=CONFIG_IDS)
def test_csr_network_equals_dense_network(loss, sizes, acts, dtype):
    rng = np.random.default_rng(21)
    n = 9
    X = random_csr(rng, n, sizes[0], dtype, False)
    Xd = dense_of(X)
    t, y = targets(rng, sizes, loss, n, dtype)
    sw = rng.uniform(0, 2, size=n).astype(dtype)
    net = _Net(sizes, acts, loss, dtype)
    params = random_params(rng, sizes, dtype)
    tol = TOL[np.dtype(dtype)]
    out_s = net.forward(params, X, np.empty((n, sizes[-1]), dtype))
    out_d = net.forward(params, Xd, np.empty((n, sizes[-1]), dtype))
    np.testing.assert_allclose(out_s, out_d, rtol=tol, atol=tol)
    for w in (None, sw):
        gs, gd = np.zeros(net.n_params, dtype), np.zeros(net.n_params, dtype)
        ls = net.loss_grad(params, gs, X, t, y, w)
        ld = net.loss_grad(params, gd, Xd, t, y, w)
        np.testing.assert_allclose(ls, ld, rtol=tol)
        np.testing.assert_allclose(gs, gd, rtol=tol, atol=tol)
    # an epoch (shuffled, repeated and skipped rows, a partial last batch), with and without weights
    c = OptimConfig("adam", dtype, lr=0.01, weight_decay=0.01, scale_penalty=True)
    for w in (None, sw):
        ps, pd = params.copy(), params.copy()
        ss, sd = np.zeros(net.state_size(c), dtype), np.zeros(net.state_size(c), dtype)
        cs, cd = counter(), counter()
        order = np.concatenate([rng.permutation(n), [3, 3, 0]]).astype(np.int64)
        ms = net.train_epoch(ps, np.zeros(net.n_params, dtype), c, ss, cs, X, t, y, order, 4, w)
        md = net.train_epoch(pd, np.zeros(net.n_params, dtype), c, sd, cd, Xd, t, y, order, 4, w)
        assert cs[0] == cd[0] == 3
        np.testing.assert_allclose(ms, md, rtol=10 * tol)
        np.testing.assert_allclose(ps, pd, rtol=100 * tol, atol=100 * tol)
    # train_step on a CSR batch
    ps, pd = params.copy(), params.copy()
    ls = net.train_step(ps, np.zeros(net.n_params, dtype), c, np.zeros(net.state_size(c), dtype), counter(), X, t, y)
    ld = net.train_step(pd, np.zeros(net.n_params, dtype), c, np.zeros(net.state_size(c), dtype), counter(), Xd, t, y)
    np.testing.assert_allclose(ls, ld, rtol=tol)
    np.testing.assert_allclose(ps, pd, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,sizes,acts", CONFIGS[:2], ids=CONFIG_IDS[:2])
def test_csr_network_matches_reference(loss, sizes, acts, dtype):
    rng = np.random.default_rng(22)
    n = 7
    X = random_csr(rng, n, sizes[0], dtype, False)
    ip, ix, dv = csr_lists(X)
    t, y = targets(rng, sizes, loss, n, dtype)
    tr, yr = flat(t), None if y is None else [int(v) for v in y]
    sw = rng.uniform(0, 2, size=n).astype(dtype)
    net, rnet = _Net(sizes, acts, loss, dtype), ref_net(sizes, acts, loss)
    params = random_params(rng, sizes, dtype)
    out = net.forward(params, X, np.empty((n, sizes[-1]), dtype))
    out_r = [0.0] * (n * sizes[-1])
    R.mlp_forward_csr(rnet, flat(params), ip, ix, dv, out_r, None, n, X.nnz, 3)
    close(out, out_r, dtype, "forward_csr")
    g = np.zeros(net.n_params, dtype)
    value = net.loss_grad(params, g, X, t, y, sw)
    g_r, l_r = [0.0] * net.n_params, [0.0]
    R.mlp_loss_grad_csr(rnet, flat(params), ip, ix, dv, tr, yr, flat(sw), g_r, l_r, None, n, X.nnz, n)
    close(value, l_r[0], dtype, "loss_grad_csr loss")
    close(g, g_r, dtype, "loss_grad_csr grads")
    opt = dict(optimizer="momentum", lr=0.05, momentum=0.8, weight_decay=0.01, l1=0.003)
    c = OptimConfig("momentum", dtype, lr=0.05, momentum=0.8, weight_decay=0.01, l1=0.003, scale_penalty=True)
    ropt = ref_opt(opt)
    ropt.scale_penalty = True
    state, steps = np.zeros(net.state_size(c), dtype), counter()
    p, p_r, s_r, step_r = params.copy(), flat(params), [0.0] * net.n_params, [0]
    order = rng.permutation(n).astype(np.int64)
    mean = net.train_epoch(p, np.zeros(net.n_params, dtype), c, state, steps, X, t, y, order, 3, sw)
    mean_r = [0.0]
    R.mlp_train_epoch_csr(rnet, ropt, ip, ix, dv, tr, yr, flat(sw), [int(i) for i in order], p_r, s_r,
                          [0.0] * net.n_params, step_r, mean_r, None, n, X.nnz, n, 3)
    assert steps[0] == step_r[0] == 3
    close(mean, mean_r[0], dtype, "epoch_csr mean")
    close(p, p_r, dtype, "epoch_csr params")
    l_r = [0.0]
    p2, p2_r = params.copy(), flat(params)
    v = net.train_step(p2, np.zeros(net.n_params, dtype), c, np.zeros(net.state_size(c), dtype), counter(), X, t, y, sw)
    R.mlp_train_step_csr(rnet, ropt, ip, ix, dv, tr, yr, flat(sw), p2_r, [0.0] * net.n_params, [0.0] * net.n_params,
                         l_r, None, n, X.nnz, n, 1)
    close(v, l_r[0], dtype, "step_csr loss")
    close(p2, p2_r, dtype, "step_csr params")


def test_scipy_like_input_and_rows():
    rng = np.random.default_rng(23)
    X = random_csr(rng, 6, 5, np.float64, False)
    like = types.SimpleNamespace(indptr=X.indptr.astype(np.int32), indices=X.indices.astype(np.int32), data=X.data,
                                 shape=(6, 5), format="csr")
    W = rng.standard_normal((3, 5))
    rows = np.array([5, 0, 0, 2], dtype=np.int64)
    p = fastmlp.csr_dense_forward(like, W, None, "tanh", rows=rows)
    np.testing.assert_allclose(p, np.tanh(dense_of(X)[rows] @ W.T), rtol=1e-13, atol=1e-15)
    dW, db = fastmlp.csr_dense_backward(X, p, np.ones_like(p), "tanh", rows=rows)
    np.testing.assert_allclose(dW, ((1 - p ** 2).T @ dense_of(X)[rows]), rtol=1e-12, atol=1e-14)
    with pytest.raises(TypeError, match="tocsr"):
        fastmlp.csr_dense_forward(types.SimpleNamespace(indptr=1, indices=1, data=1, shape=(1, 1), format="csc"), W)
    with pytest.raises(TypeError, match="CSR matrix"):
        fastmlp.csr_dense_forward(dense_of(X), W)
    with pytest.raises(TypeError, match="dtype float32"):
        fastmlp.csr_dense_forward(X, W.astype(np.float32))


def test_csr_kernels_bit_identical_for_any_thread_count():
    rng = np.random.default_rng(24)
    n, n_in, n_out = 200, 3000, 64
    mask = rng.uniform(size=(n, n_in)) < 0.05
    indptr = np.concatenate([[0], np.cumsum(mask.sum(1))]).astype(np.int64)
    X = CSR(indptr, np.nonzero(mask)[1].astype(np.int64), rng.standard_normal(int(mask.sum())).astype(np.float32),
            n_in)
    W = rng.standard_normal((n_out, n_in)).astype(np.float32)
    rows = rng.permutation(n).astype(np.int64)
    before = fastmlp.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            fastmlp.set_num_threads(threads)
            p = fastmlp.csr_dense_forward(X, W, None, "relu", rows=rows)
            results.append((p,) + fastmlp.csr_dense_backward(X, p, p, "relu", rows=rows))
    finally:
        fastmlp.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_bad_csr_is_refused():
    ip, ix, d = np.array([0, 2, 3], np.int64), np.array([0, 4, 1], np.int64), np.ones(3)
    CSR(ip, ix, d, 5)
    cases = [
        (lambda: CSR(ip, np.array([0, 5, 1], np.int64), d, 5), ValueError, "must lie in [0, 5)"),
        (lambda: CSR(ip, np.array([0, -1, 1], np.int64), d, 5), ValueError, "must lie in [0, 5)"),
        (lambda: CSR(np.array([0, 3, 2, 3], np.int64), ix, d, 5), ValueError, "never decrease"),
        (lambda: CSR(np.array([1, 2, 3], np.int64), ix, d, 5), ValueError, "start at 0"),
        (lambda: CSR(np.array([0, 2, 4], np.int64), ix, d, 5), ValueError, "end at nnz"),
        (lambda: CSR(ip, ix, np.ones(2), 5), ValueError, "one value per index"),
        (lambda: CSR(ip, ix, np.array([1.0, np.nan, 1.0]), 5), ValueError, "NaN"),
        (lambda: CSR(ip, ix.astype(np.int32), d, 5), TypeError, "int64"),
        (lambda: CSR(ip, ix, d, 0), ValueError, "n_cols"),
        (lambda: CSR(np.array([0], np.int64), ix[:0], d[:0], 5), ValueError, "n_rows + 1"),
    ]
    for call, exc, words in cases:
        with pytest.raises(exc) as info:
            call()
        assert words in str(info.value), str(info.value)
    X = CSR(ip, ix, d, 5)
    W = np.ones((2, 5))
    out = np.full((2, 2), 7.0)
    with pytest.raises(ValueError, match="rows: row indices must lie in"):
        fastmlp.csr_dense_forward(X, W, rows=np.array([0, 2], np.int64), out=out)
    assert np.all(out == 7.0)
    with pytest.raises(ValueError, match="columns"):
        fastmlp.csr_dense_forward(X, np.ones((2, 4)))
    net = _Net([5, 2], ["identity"], "mse", np.float64)
    with pytest.raises(ValueError, match="CSR of dtype float64 with 5 columns"):
        net.loss_grad(np.zeros(net.n_params), None, CSR(ip, ix, d, 6), np.zeros((2, 2)), None)
    # an all-empty matrix (nnz = 0) is fine: the output is the bias
    E = CSR(np.zeros(4, np.int64), np.zeros(0, np.int64), np.zeros(0), 5)
    params = np.arange(net.n_params, dtype=np.float64)
    np.testing.assert_array_equal(net.forward(params, E, np.empty((3, 2))), np.tile(params[10:], (3, 1)))


def test_csr_arrays_changed_after_construction_are_refused_by_the_core():
    """The holder checks once; the C core checks again on every call, so arrays edited later raise, never overrun."""
    X = CSR(np.array([0, 2, 3], np.int64), np.array([0, 4, 1], np.int64), np.ones(3), 5)
    X.indices[1] = 99
    with pytest.raises(ValueError, match="csr_dense_forward"):
        fastmlp.csr_dense_forward(X, np.ones((2, 5)))
    net = _Net([5, 2], ["identity"], "mse", np.float64)
    with pytest.raises(ValueError):
        net.forward(np.zeros(net.n_params), X, np.empty((2, 2)))

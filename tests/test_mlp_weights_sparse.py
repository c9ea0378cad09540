"""What fastmlp.MLP gained for the scikit-learn estimators: sample weights, sparse input, full-batch L-BFGS, and
no option that is accepted and then ignored."""
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, _core

sparse = pytest.importorskip("scipy.sparse")


def _data(n=120, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = sparse.random(n, d, density=0.2, format="csr", random_state=seed, data_rvs=rng.standard_normal)
    y = (X @ rng.standard_normal(d) > 0).astype(np.int64)
    return X, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_fit_equals_dense_fit(dtype):
    X, y = _data()
    a, b = MLP([12, 8, 2], dtype=dtype, seed=1), MLP([12, 8, 2], dtype=dtype, seed=1)
    ha = a.fit(X, y, epochs=3, batch_size=16, optimizer="adam", lr=0.01, validation_split=0.25)
    hb = b.fit(X.toarray(), y, epochs=3, batch_size=16, optimizer="adam", lr=0.01, validation_split=0.25)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=tol)
    np.testing.assert_allclose(ha["val_loss"], hb["val_loss"], rtol=tol)
    np.testing.assert_allclose(a.get_flat_params(), b.get_flat_params(), rtol=tol * 10, atol=tol)
    np.testing.assert_allclose(a.forward(X.tocsc()), b.forward(X.toarray()), rtol=tol * 10, atol=tol)
    assert a.score(X, y) == b.score(X.toarray(), y)
    with pytest.raises(ValueError, match="features"):
        a.forward(sparse.random(3, 5, density=0.5, format="csr"))


def test_csr_row_slices_share_the_arrays():
    X, _ = _data()
    c = _core.CSR.from_any(X)
    part = c[10:20]
    assert part.shape == (10, 12) and np.shares_memory(part.data, c.data)
    np.testing.assert_array_equal(sparse.csr_matrix((part.data, part.indices, part.indptr), shape=part.shape)
                                  .toarray(), X[10:20].toarray())
    with pytest.raises(ValueError, match="step 1"):
        c[::2]
    with pytest.raises(TypeError, match="slices"):
        c[3]


def test_integer_sample_weights_equal_repeated_rows():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    w = rng.integers(0, 4, 40)
    m = MLP([5, 7, 3], loss="softmax_ce", dtype="float64", seed=0)
    la, ga = m.loss_grad(X, y, sample_weight=w)
    lb, gb = m.loss_grad(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(la, lb, rtol=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-14)
    assert m.loss_value(X, y, sample_weight=w) == pytest.approx(lb, rel=1e-12)
    assert m.score(X, y, sample_weight=w) == pytest.approx(m.score(np.repeat(X, w, axis=0), np.repeat(y, w)))
    before = m.get_flat_params()
    for bad, match in ((-w, ">= 0"), (np.zeros(40), "positive sum"), (w[:5], "40 weights"),
                       (np.full(40, np.nan), "NaN")):
        with pytest.raises(ValueError, match=match):
            m.train_step(X, y, lr=0.1, sample_weight=bad)
    np.testing.assert_array_equal(m.get_flat_params(), before)


def test_fit_with_weights_moves_towards_the_weighted_rows():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    y = np.where(np.arange(60) < 30, 1.0, -1.0)  # the same inputs cannot fit both halves
    X[30:] = X[:30]
    w = np.where(np.arange(60) < 30, 1.0, 0.0)
    m = MLP([3, 8, 1], dtype="float64", seed=0)
    m.fit(X, y, epochs=200, batch_size=60, lr=0.05, optimizer="adam", sample_weight=w)
    assert m.forward(X[:30]).mean() > 0.8


def test_options_a_rule_would_ignore_are_refused():
    X, y = np.zeros((5, 4)), np.zeros(5, dtype=int)
    m = MLP([4, 3, 2])
    for call in (lambda: m.fit(X, y, optimizer="sgd", momentum=0.9), lambda: m.train_step(X, y, momentum=0.5),
                 lambda: m.stepper(X, y, optimizer="sgd", momentum=0.1),
                 lambda: m.fit(X, y, optimizer="nesterov", beta1=0.8)):
        with pytest.raises(ValueError, match="ignored"):
            call()
    assert m.optimizer_ is None
    m.fit(X, y, optimizer="momentum", momentum=0.5, epochs=1)
    assert m.optimizer_.momentum == 0.5


def test_fit_lbfgs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    m = MLP([4, 16, 1], activation="tanh", dtype="float64", seed=0)
    before_opt = m.optimizer_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastmlp.ConvergenceWarning)
        n = m.fit_lbfgs(X, y, max_iter=300, alpha=1e-4)
    assert 1 <= n <= 300 and m.score(X, y) > 0.95 and m.optimizer_ is before_opt
    with pytest.warns(fastmlp.ConvergenceWarning, match="max_iter=2"):
        MLP([4, 16, 1], dtype="float64", seed=0).fit_lbfgs(X, y, max_iter=2)
    with pytest.raises(ValueError, match="fit_lbfgs"):
        m.fit(X, y, optimizer="lbfgs")
    with pytest.raises(ValueError, match="max_iter"):
        m.fit_lbfgs(X, y, max_iter=0)

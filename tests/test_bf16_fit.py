"""fit(..., dtype="bfloat16") and the estimators' compute_dtype="bfloat16": every mini-batch step is the
mixed-precision step (C fm_mlp_train_epoch_bf16 against the same steps one by one, bit for bit, and against its
twin at bf16 tolerance), digits accuracy beside float32, and the refusals (the model or estimator as it was)."""
import warnings

import numpy as np
import pytest

import fastmlp
import fastmlp.reference as R
from fastmlp import _core
from fastmlp._core import OptimConfig, _Net
from kernels import flat
from test_bf16_train import TOL, near, params_for, ref_net


def test_fit_is_the_sequence_of_mixed_precision_steps():
    """fit's epochs (shuffled with the model's generator, a last short batch) give the bits of the same batches
    stepped one by one with StepperBF16 (momentum state carried across epochs), and other bits than float32."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((100, 7)).astype(np.float32), rng.integers(0, 3, 100)
    a, b, c = (fastmlp.MLP([7, 9, 3], seed=1) for _ in range(3))
    history = a.fit(X, y, epochs=3, batch_size=16, lr=0.05, optimizer="momentum", dtype="bfloat16")
    for epoch in range(3):
        order, losses = b._rng.permutation(100), []
        for s in range(0, 100, 16):
            idx = order[s:s + 16]
            losses.append(b.stepper(X[idx], y[idx], lr=0.05, optimizer="momentum", dtype="bfloat16")() * len(idx))
        assert history["loss"][epoch] == pytest.approx(sum(losses) / 100, rel=1e-12)
    assert np.array_equal(a.get_flat_params(), b.get_flat_params()) and a.step_count == b.step_count == 21
    c.fit(X, y, epochs=3, batch_size=16, lr=0.05, optimizer="momentum")
    assert not np.array_equal(a.get_flat_params(), c.get_flat_params())
    a.partial_fit(X, y, batch_size=50, lr=0.05, optimizer="momentum", dtype="bfloat16")  # fit's arguments
    assert a.step_count == 23


def test_fit_with_sample_weights_is_train_steps():
    """Sample weights, no shuffle: fit's batches are train_step(..., dtype="bfloat16") with their weights."""
    rng = np.random.default_rng(1)
    X, t = rng.standard_normal((30, 5)).astype(np.float32), rng.standard_normal((30, 2)).astype(np.float32)
    sw = rng.uniform(0.1, 2.0, 30).astype(np.float32)
    a, b = (fastmlp.MLP([5, 6, 2], loss="mse", seed=2) for _ in range(2))
    a.fit(X, t, epochs=2, batch_size=8, lr=0.05, optimizer="adam", shuffle=False, sample_weight=sw,
          dtype="bfloat16")
    for _ in range(2):
        for s in range(0, 30, 8):
            b.train_step(X[s:s + 8], t[s:s + 8], lr=0.05, optimizer="adam", sample_weight=sw[s:s + 8],
                         dtype="bfloat16")
    assert np.array_equal(a.get_flat_params(), b.get_flat_params())


def test_epoch_matches_reference():
    """C fm_mlp_train_epoch_bf16 against its twin (reference.mlp_train_epoch_bf16) at bf16 tolerance."""
    sizes, acts, loss, n, batch = [13, 11, 3], ["relu", "identity"], "softmax_ce", 21, 8
    rng = np.random.default_rng(2)
    net = _Net(sizes, acts, loss, np.float32)
    params = params_for(rng, sizes)
    x = rng.uniform(-1.5, 1.5, (n, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], n).astype(np.int64)
    order = rng.permutation(n).astype(np.int64)
    c = OptimConfig("momentum", np.float32, lr=0.1, momentum=0.9)
    state, steps, grads = np.zeros(net.state_size(c), np.float32), np.zeros(1, np.uint64), np.zeros_like(params)
    start, params_r, state_r, step_r, mean_r = params.copy(), flat(params), [0.0] * len(state), [0], [0.0]
    value = _core.mlp_train_epoch_bf16(net, params, grads, c, state, steps, x, None, y, order, batch)
    R.mlp_train_epoch_bf16(ref_net(sizes, acts, loss), R.Optim(kind=R.OPT_SGD, lr=0.1, momentum=0.9), flat(x),
                           None, [int(v) for v in y], None, [int(v) for v in order], params_r, state_r,
                           [0.0] * len(params), step_r, mean_r, None, n, n, batch)
    assert steps[0] == step_r[0] == 3 and abs(value - mean_r[0]) <= TOL * max(1.0, abs(mean_r[0]))
    near(params - start, np.array(params_r) - start, "the epoch's update")
    with pytest.raises(ValueError, match="order"):
        _core.mlp_train_epoch_bf16(net, params, grads, c, state, steps, x, None, y, order[:0], batch)
    with pytest.raises(ValueError, match="batch"):
        _core.mlp_train_epoch_bf16(net, params, grads, c, state, steps, x, None, y, order, 0)


def test_fit_refusals_leave_the_model_as_it_was():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 2, 40)
    model = fastmlp.MLP([6, 5, 2], seed=0)
    model.fit(X, y, epochs=1, batch_size=8, lr=0.05, optimizer="momentum")
    before, steps, opt = model.get_flat_params().copy(), model.step_count, model.optimizer_
    for dtype in ("float16", "float32", True):
        with pytest.raises(ValueError, match="dtype"):
            model.fit(X, y, epochs=1, optimizer="adam", dtype=dtype)
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="dense"):
        model.fit(scipy_sparse.csr_matrix(X), y, epochs=1, optimizer="adam", dtype="bfloat16")
    assert np.array_equal(before, model.get_flat_params()) and model.step_count == steps
    assert model.optimizer_ is opt and opt.name == "momentum"
    wide = fastmlp.MLP([6, 5, 2], dtype="float64", seed=0)
    w0 = wide.get_flat_params().copy()
    with pytest.raises(ValueError, match="float32 model"):
        wide.fit(X.astype(np.float64), y, epochs=1, dtype="bfloat16")
    assert np.array_equal(w0, wide.get_flat_params()) and wide.step_count == 0 and wide.optimizer_ is None


def _digits():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return X[:1347], y[:1347], X[1347:], y[1347:]


def test_digits_accuracy_within_half_a_point_of_float32():
    """MLP.fit and MLPClassifier: the held-out accuracy (450 digits) of bf16 products within 0.5 points of
    float32, mean of 3 seeds (the same seeds, batches and schedule for both)."""
    Xtr, ytr, Xte, yte = _digits()
    from fastmlp import MLPClassifier
    acc = {None: [], "bfloat16": []}
    est = {None: [], "bfloat16": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short estimator fits
        for seed in range(3):
            for dtype in acc:
                model = fastmlp.MLP([64, 64, 10], seed=seed)
                model.fit(Xtr, ytr, epochs=15, batch_size=32, lr=0.1, optimizer="momentum", dtype=dtype)
                acc[dtype].append(100 * np.mean(model.predict(Xte) == yte))
                clf = MLPClassifier((64,), max_iter=20, random_state=seed, compute_dtype=dtype).fit(Xtr, ytr)
                est[dtype].append(100 * clf.score(Xte, yte))
    for got in (acc, est):
        assert np.mean(got[None]) > 85 and abs(np.mean(got["bfloat16"]) - np.mean(got[None])) <= 0.5, got


def test_estimator_compute_dtype():
    """compute_dtype is stored as given (get_params, clone), validated in fit (refusals leave the estimator
    unfitted or as it was), trains float32 weights from float64 input, deterministically, with other bits than
    float32."""
    from sklearn.base import clone
    from fastmlp import MLPClassifier, MLPRegressor
    Xtr, ytr, _, _ = _digits()
    Xtr, ytr = Xtr[:300], ytr[:300]
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MLPClassifier(compute_dtype="bfloat16", **kw).fit(Xtr.astype(np.float64), ytr)
        b = clone(a).fit(Xtr, ytr)
        c = MLPClassifier(**kw).fit(Xtr, ytr)
        r = MLPRegressor(compute_dtype="bfloat16", solver="sgd", **kw).fit(Xtr, ytr.astype(np.float64))
    assert a.get_params()["compute_dtype"] == "bfloat16" and MLPRegressor().get_params()["compute_dtype"] is None
    assert a.coefs_[0].dtype == np.float32 and r.coefs_[0].dtype == np.float32
    assert all(np.array_equal(u, v) for u, v in zip(a.coefs_, b.coefs_))
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    bad = [(dict(compute_dtype="float16"), ValueError, "compute_dtype"),
           (dict(compute_dtype="bfloat16", dtype="float64"), ValueError, "float32 weights"),
           (dict(compute_dtype="bfloat16", solver="lbfgs"), ValueError, "stochastic")]
    for params, err, match in bad:
        est = MLPClassifier(**params, **kw)
        with pytest.raises(err, match=match):
            est.fit(Xtr, ytr)
        assert not hasattr(est, "coefs_")
    scipy_sparse = pytest.importorskip("scipy.sparse")
    coefs = [w.copy() for w in c.coefs_]
    c.set_params(compute_dtype="bfloat16", warm_start=True)
    with pytest.raises(TypeError, match="dense"):
        c.fit(scipy_sparse.csr_matrix(Xtr), ytr)
    assert all(np.array_equal(u, v) for u, v in zip(coefs, c.coefs_))

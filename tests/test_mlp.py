"""The whole network: ``fastmlp._core._Net`` (one C call per forward / loss_grad / step / epoch) against its pure-Python
twins in ``fastmlp.reference``, gradients against finite differences, determinism, accuracy on real tasks, files,
divergence, and the ``fastmlp.MLP`` training loop (early stopping, schedules, callbacks, partial_fit, bad input)."""
import math
import os

import numpy as np
import pytest

import fastmlp
import fastmlp.reference as R
from fastmlp import MLP, DivergenceError, gradcheck, schedules
from fastmlp._core import OptimConfig, _Net, _mixed_workspace_size
from conftest import assert_close
from kernels import flat

DTYPES = [np.float32, np.float64]
# after several steps the fast float64 path must agree with the oracle to 1e-10; float32 (the oracle computes in
# float64 from the same float32 inputs, the fast path rounds every intermediate) to 1e-4
RTOL_STEPS = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}

# (loss, sizes, activations): every activation appears in a hidden layer, the cross-entropy losses take logits
# (identity output), mse also gets a sigmoid output, and a single-layer net has no hidden layer (no dx at all)
CONFIGS = [
    ("softmax_ce", [5, 7, 6, 4], ["relu", "tanh", "identity"]),
    ("sigmoid_bce", [4, 6, 5, 3], ["sigmoid", "identity", "identity"]),
    ("mse", [3, 8, 5, 2], ["tanh", "relu", "sigmoid"]),
    ("mse", [6, 2], ["identity"]),
]
CONFIG_IDS = [f"{loss}-{'-'.join(map(str, sizes))}" for loss, sizes, _ in CONFIGS]

OPTIMIZERS = {
    "sgd": dict(optimizer="sgd", lr=0.1, weight_decay=0.01, l1=0.003),
    "momentum": dict(optimizer="momentum", lr=0.05, momentum=0.8, weight_decay=0.01, l1=0.003),
    "nesterov": dict(optimizer="nesterov", lr=0.05, weight_decay=0.02, l1=0.001),  # momentum: the default 0.9
    # non-default betas and eps, so that a wrong pass-through shows
    "adam": dict(optimizer="adam", lr=0.02, beta1=0.85, beta2=0.99, eps=1e-7, weight_decay=0.01, l1=0.003),
}


# ---- helpers ----------------------------------------------------------------------------------------------------

def close(fast, ref, dtype, what, rtol=None):
    """conftest.assert_close with the multi-step tolerance."""
    assert_close(fast, ref, dtype, what, RTOL_STEPS[np.dtype(dtype)] if rtol is None else rtol)


def ref_net(sizes, acts, loss):
    return R.Net(n_layers=len(sizes) - 1, sizes=list(sizes), acts=[R.ACTIVATIONS[a] for a in acts],
                 loss=R.LOSSES[loss])


def cfg(opt, dtype):
    """The checked C configuration of an opt dict."""
    kind, options = opt["optimizer"], {k: v for k, v in opt.items() if k != "optimizer"}
    return OptimConfig(kind, dtype, **options)


def counter(steps_done=0):
    return np.array([steps_done], dtype=np.uint64)


def ref_opt(opt):
    """The reference fm_optim for a fastmlp opt dict (as _core._set_optim maps the names)."""
    kind = opt["optimizer"]
    momentum = opt.get("momentum", 0.9) if kind in ("momentum", "nesterov") else 0.0
    return R.Optim(kind=R.OPT_ADAM if kind == "adam" else R.OPT_SGD, lr=opt["lr"], momentum=momentum,
                   weight_decay=opt.get("weight_decay", 0.0), l1=opt.get("l1", 0.0), nesterov=kind == "nesterov",
                   beta1=opt.get("beta1", 0.9), beta2=opt.get("beta2", 0.999), eps=opt.get("eps", 1e-8))


def n_params(sizes):
    return sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))


def random_params(rng, sizes, dtype):
    return rng.uniform(-0.8, 0.8, size=n_params(sizes)).astype(dtype)


def random_batch(rng, sizes, loss, n, dtype):
    """(x, t, y) as the C loss takes them: float targets t for mse / sigmoid_bce, int64 labels y for softmax_ce."""
    x = rng.uniform(-1.5, 1.5, size=(n, sizes[0])).astype(dtype)
    if loss == "softmax_ce":
        return x, None, rng.integers(0, sizes[-1], size=n).astype(np.int64)
    if loss == "sigmoid_bce":
        return x, rng.uniform(0.0, 1.0, size=(n, sizes[-1])).astype(dtype), None
    return x, rng.standard_normal((n, sizes[-1])).astype(dtype), None


def ref_ty(t, y):
    return flat(t), None if y is None else [int(v) for v in y]


# ---- 1. fast vs reference, whole network ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,sizes,acts", CONFIGS, ids=CONFIG_IDS)
def test_num_params_and_state_size_match_reference(loss, sizes, acts, dtype):
    net = _Net(sizes, acts, loss, dtype)
    rnet = ref_net(sizes, acts, loss)
    count = [0]
    R.mlp_num_params(rnet, count)
    assert net.n_params == count[0] == n_params(sizes)
    P = count[0]
    for name, opt in OPTIMIZERS.items():
        R.mlp_state_size(rnet, ref_opt(opt), count)
        assert net.state_size(cfg(opt, dtype)) == count[0] == {"sgd": 0, "momentum": P, "nesterov": P, "adam": 2 * P}[name]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,sizes,acts", CONFIGS, ids=CONFIG_IDS)
def test_forward_matches_reference_in_chunks(loss, sizes, acts, dtype):
    rng = np.random.default_rng(1)
    n, work_batch = 8, 3  # chunks of 3, 3 and 2 rows
    params = random_params(rng, sizes, dtype)
    x = rng.uniform(-1.5, 1.5, size=(n, sizes[0])).astype(dtype)
    net = _Net(sizes, acts, loss, dtype)
    net.reserve(work_batch)
    out = net.forward(params, x, np.empty((n, sizes[-1]), dtype=dtype))
    assert net.work_batch == work_batch  # the forward really went through the 3-row workspace
    out_r = [0.0] * (n * sizes[-1])
    R.mlp_forward(ref_net(sizes, acts, loss), flat(params), flat(x), out_r, None, n, work_batch)
    assert_close(out, out_r, dtype, f"mlp_forward {loss} {sizes}")
    # a row's output does not depend on the chunk it sits in: one 256-row workspace gives the same bits
    whole = _Net(sizes, acts, loss, dtype).forward(params, x, np.empty((n, sizes[-1]), dtype=dtype))
    np.testing.assert_array_equal(out, whole)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,sizes,acts", CONFIGS, ids=CONFIG_IDS)
def test_loss_grad_matches_reference(loss, sizes, acts, dtype):
    rng = np.random.default_rng(2)
    n = 7
    params = random_params(rng, sizes, dtype)
    x, t, y = random_batch(rng, sizes, loss, n, dtype)
    saved = params.copy()
    net = _Net(sizes, acts, loss, dtype)
    grads = np.full(net.n_params, np.nan, dtype=dtype)  # every entry must be overwritten
    value = net.loss_grad(params, grads, x, t, y)
    np.testing.assert_array_equal(params, saved)
    assert net.loss_grad(params, None, x, t, y) == value  # the loss alone, without the gradient

    rnet = ref_net(sizes, acts, loss)
    grads_r, loss_r = [0.0] * net.n_params, [0.0]
    R.mlp_loss_grad(rnet, flat(params), flat(x), *ref_ty(t, y), None, grads_r, loss_r, None, n, n)
    assert np.all(np.isfinite(grads))
    assert max(abs(g) for g in grads_r) > 1e-3  # a vanishing gradient would compare vacuously
    assert_close(value, loss_r[0], dtype, f"mlp_loss_grad loss {loss}")
    assert_close(grads, grads_r, dtype, f"mlp_loss_grad grads {loss}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("loss,sizes,acts", CONFIGS, ids=CONFIG_IDS)
def test_train_steps_match_reference(loss, sizes, acts, opt_name, dtype):
    rng = np.random.default_rng(3)
    opt = OPTIMIZERS[opt_name]
    net = _Net(sizes, acts, loss, dtype)
    params = random_params(rng, sizes, dtype)
    grads = np.zeros(net.n_params, dtype=dtype)
    c = cfg(opt, dtype)
    state, steps = np.zeros(net.state_size(c), dtype=dtype), counter()
    rnet, ropt = ref_net(sizes, acts, loss), ref_opt(opt)
    params_r, grads_r, state_r = flat(params), [0.0] * net.n_params, [0.0] * len(state)
    start = params.copy()
    for step in range(1, 5):
        x, t, y = random_batch(rng, sizes, loss, 6, dtype)
        value = net.train_step(params, grads, c, state, steps, x, t, y)
        assert steps[0] == step
        loss_r = [0.0]
        R.mlp_train_step(rnet, ropt, flat(x), *ref_ty(t, y), None, params_r, state_r, grads_r, loss_r, None, 6, 6, step)
        close(value, loss_r[0], dtype, f"{opt_name} step {step} loss")
        close(params, params_r, dtype, f"{opt_name} step {step} params")
        close(grads, grads_r, dtype, f"{opt_name} step {step} grads")
        if len(state):
            close(state, state_r, dtype, f"{opt_name} step {step} state")
    assert np.max(np.abs(params.astype(np.float64) - start)) > 1e-3  # the steps really moved the weights


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("loss,sizes,acts", CONFIGS, ids=CONFIG_IDS)
def test_train_epoch_matches_reference(loss, sizes, acts, opt_name, dtype):
    """Shuffled orders with a last partial batch (7 samples, batches of 3), step numbers carried across epochs,
    and an order that repeats and skips samples."""
    rng = np.random.default_rng(4)
    opt = OPTIMIZERS[opt_name]
    n, batch = 7, 3
    X, T, Y = random_batch(rng, sizes, loss, n, dtype)
    Tr, Yr = ref_ty(T, Y)
    net = _Net(sizes, acts, loss, dtype)
    params = random_params(rng, sizes, dtype)
    grads = np.zeros(net.n_params, dtype=dtype)
    c = cfg(opt, dtype)
    state, steps = np.zeros(net.state_size(c), dtype=dtype), counter()
    rnet, ropt = ref_net(sizes, acts, loss), ref_opt(opt)
    params_r, grads_r, state_r = flat(params), [0.0] * net.n_params, [0.0] * len(state)
    step_r = [0]
    orders = [rng.permutation(n), rng.permutation(n), np.array([4, 4, 0, 6, 2])]
    for e, order in enumerate(orders):
        order = order.astype(np.int64)
        mean = net.train_epoch(params, grads, c, state, steps, X, T, Y, order, batch)  # raises on divergence
        step = int(steps[0])
        mean_r = [0.0]
        R.mlp_train_epoch(rnet, ropt, flat(X), Tr, Yr, None, [int(i) for i in order], params_r, state_r, grads_r, step_r,
                          mean_r, None, n, len(order), batch)
        assert step == step_r[0] == [3, 6, 8][e]
        close(mean, mean_r[0], dtype, f"{opt_name} epoch {e} mean loss")
        close(params, params_r, dtype, f"{opt_name} epoch {e} params")
        if len(state):
            close(state, state_r, dtype, f"{opt_name} epoch {e} state")


def test_penalties_apply_to_weights_not_biases():
    """SGD with weight decay and L1 worked by hand from the raw gradient: the biases get the plain gradient step."""
    rng = np.random.default_rng(5)
    sizes, acts = [3, 4, 2], ["tanh", "identity"]
    net = _Net(sizes, acts, "mse", np.float64)
    params = random_params(rng, sizes, np.float64)
    x, t, _ = random_batch(rng, sizes, "mse", 5, np.float64)
    g = np.zeros(net.n_params)
    net.loss_grad(params, g, x, t, None)
    lr, wd, l1 = 0.1, 0.5, 0.2
    expected = params - lr * g
    off = 0
    for n_i, n_o in zip(sizes[:-1], sizes[1:]):
        w = slice(off, off + n_o * n_i)
        expected[w] -= lr * (wd * params[w] + l1 * np.sign(params[w]))
        off += n_o * n_i + n_o
    net.train_step(params, np.zeros(net.n_params), cfg(dict(optimizer="sgd", lr=lr, weight_decay=wd, l1=l1), np.float64),
                   np.zeros(0), counter(), x, t, None)
    np.testing.assert_allclose(params, expected, rtol=1e-13, atol=1e-15)


# ---- 2. gradients against finite differences -------------------------------------------------------------------

HIDDEN = ("relu", "sigmoid", "tanh", "identity")
ALL_LOSSES = ("mse", "softmax_ce", "sigmoid_bce", "ideal_mse")


def gradcheck_case(act, loss, seed, output="identity"):
    """A random float64 3-5-4-3 net and batch. Glorot weights with random nonzero biases keep every
    pre-activation away from the ReLU kink (zero biases can make one exactly 0 when a whole hidden layer is off)."""
    rng = np.random.default_rng(seed)
    n, sizes = 5, [3, 5, 4, 3]
    X = rng.standard_normal((n, sizes[0]))
    if loss in ("softmax_ce", "ideal_mse"):
        y = rng.integers(0, sizes[-1], size=n)
    elif loss == "sigmoid_bce":
        y = rng.uniform(0.0, 1.0, size=(n, sizes[-1]))
    else:
        y = rng.standard_normal((n, sizes[-1]))
    model = MLP(sizes, activation=act, output=output, loss=loss, dtype="float64", init="glorot", seed=seed)
    for _, b in model.params:
        b[...] = rng.uniform(-0.5, 0.5, size=b.shape)
    return model, X, y


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("loss", ALL_LOSSES)
@pytest.mark.parametrize("act", HIDDEN)
def test_gradcheck_every_activation_and_loss(act, loss, seed):
    # eps 1e-5 balances truncation (eps^2) and roundoff (|loss| 1e-16 / eps); gradcheck's per-entry relative error
    # is then <= 1e-6 on these nets (entries tinier than ~1e-7 of the largest can exceed it by roundoff alone)
    model, X, y = gradcheck_case(act, loss, seed)
    _, g = model.loss_grad(X, y)
    assert np.max(np.abs(g)) > 1e-3
    err = gradcheck(model, X, y, eps=1e-5)
    assert err <= 1e-6, f"{act}/{loss} seed {seed}: gradcheck relative error {err:.3g}"


@pytest.mark.parametrize("output", ["sigmoid", "tanh", "relu"])
def test_gradcheck_mse_output_activations_and_mixed_hidden(output):
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((6, 3)), rng.uniform(0.1, 0.9, size=(6, 2))
    model = MLP([3, 6, 5, 4, 2], activation=["tanh", "relu", "sigmoid"], output=output, loss="mse",
                dtype="float64", init="glorot", seed=3)
    for _, b in model.params:
        b[...] = rng.uniform(0.1, 0.5, size=b.shape)  # positive: no ReLU output sits at its kink
    err = gradcheck(model, X, y, eps=1e-5)
    assert err <= 1e-6, f"output {output}: gradcheck relative error {err:.3g}"


def test_gradcheck_flags_a_wrong_gradient():
    """gradcheck is not vacuous: a gradient off by 1% in one entry is reported."""
    model, X, y = gradcheck_case("tanh", "mse", 0)

    class Skewed:
        def __init__(self, net):
            self.net = net

        def loss_grad(self, params, grads, x, t, labels):
            value = self.net.loss_grad(params, grads, x, t, labels)
            if grads is not None:
                grads[3] *= 1.01
            return value

    model._nets["mse"] = Skewed(model._c_net())  # the C description the model computes its mse loss with
    assert gradcheck(model, X, y, eps=1e-5) > 1e-3


# ---- 3. determinism ---------------------------------------------------------------------------------------------

def test_same_seed_same_training_is_bit_identical():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((50, 6))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    runs = []
    for _ in range(2):
        model = MLP([6, 12, 2], activation="tanh", seed=42)
        history = model.fit(X, y, epochs=5, batch_size=8, lr=0.01, optimizer="adam", validation_split=0.2)
        runs.append((model.get_flat_params(), history))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1]["loss"] == runs[1][1]["loss"]
    assert runs[0][1]["val_loss"] == runs[1][1]["val_loss"]
    other = MLP([6, 12, 2], activation="tanh", seed=43)
    assert not np.array_equal(other.get_flat_params(), runs[0][0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_does_not_change_results(dtype):
    """Batch 128 through a 256->128 layer is 4.2M multiply-adds per layer call, past the 2**21 parallel threshold."""
    if not fastmlp.has_openmp():
        pytest.skip("built without OpenMP: one thread only")
    rng = np.random.default_rng(11)
    X = rng.standard_normal((512, 256))
    y = rng.integers(0, 10, size=512)
    assert 128 * 256 * 128 >= 2 ** 21
    before = fastmlp.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fastmlp.set_num_threads(threads)
            assert fastmlp.get_num_threads() == threads
            model = MLP([256, 128, 10], dtype=dtype, seed=0)
            model.fit(X, y, epochs=2, batch_size=128, lr=0.003, optimizer="adam")
            results.append((model.get_flat_params(), model.forward(X)))
    finally:
        fastmlp.set_num_threads(before)
    assert fastmlp.get_num_threads() == before
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


# ---- 4. accuracy ------------------------------------------------------------------------------------------------

def test_xor_four_points():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0])
    model = MLP([2, 8, 2], activation="tanh", seed=0)
    model.fit(X, y, epochs=300, batch_size=4, lr=0.05, optimizer="adam")
    np.testing.assert_array_equal(model.predict(X), y)
    assert model.score(X, y) == 1.0
    assert model.loss_value(X, y) < 0.05


def test_digits_accuracy():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    model = MLP([64, 128, 10], activation="relu", seed=0)
    history = model.fit(Xtr, ytr, epochs=40, batch_size=32, lr=0.003, optimizer="adam")
    assert model.loss == "softmax_ce"
    assert len(history["loss"]) == 40 and history["loss"][-1] < history["loss"][0]
    assert model.score(Xte, yte) >= 0.97  # measured 0.9756 with seed 0


def test_regression_sine():
    """f(x) = sin(2x) + cos(x) + x on [-pi, 2pi] (variance 7.6): a 1-32-32-1 tanh net reaches a test MSE of 5.3e-4
    with seed 0 (at most 1.8e-3 over seeds 0-4); the bound leaves a margin."""
    f = lambda x: np.sin(2 * x) + np.cos(x) + x  # noqa: E731
    rng = np.random.default_rng(0)
    x = rng.uniform(-np.pi, 2 * np.pi, size=(1000, 1))
    xt = np.linspace(-np.pi, 2 * np.pi, 500).reshape(-1, 1)
    model = MLP([1, 32, 32, 1], activation="tanh", loss="mse", seed=0)
    model.fit(x, f(x), epochs=200, batch_size=32, lr=0.01, optimizer="adam")
    mse = float(np.mean((model.predict(xt) - f(xt)) ** 2))
    assert mse < 5e-3, f"test MSE {mse:.3g}"
    assert model.score(xt, f(xt)) > 0.999


# ---- 5. files ---------------------------------------------------------------------------------------------------

def trained_model(dtype="float32", seed=0):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((40, 4))
    y = rng.integers(0, 3, size=40)
    model = MLP([4, 7, 5, 3], activation=["tanh", "relu"], dtype=dtype, init="uniform", seed=seed)
    model.fit(X, y, epochs=3, batch_size=8, lr=0.01, optimizer="adam")
    return model, X


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip(tmp_path, dtype):
    model, X = trained_model(dtype)
    path = model.save(tmp_path / "model")
    assert path.endswith(".npz") and os.path.exists(path)
    with np.load(path, allow_pickle=False) as f:  # a plain npz: every member loads without pickle
        fields = {k: f[k] for k in f.files}
    assert int(fields["format_version"]) == 1
    assert list(fields["layers"]) == [4, 7, 5, 3]
    np.testing.assert_array_equal(fields["params"], model.get_flat_params())
    loaded = fastmlp.load(path)
    assert loaded.dtype == model.dtype and loaded.layers == model.layers
    assert loaded.activations == model.activations and loaded.loss == model.loss == "softmax_ce"
    assert loaded.init == model.init and loaded.step_count == model.step_count == 15
    np.testing.assert_array_equal(loaded.get_flat_params(), model.get_flat_params())
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # the loaded model owns its weights
    loaded.params[0][0][...] = 0
    assert not np.array_equal(loaded.forward(X), model.forward(X))


def test_save_load_model_with_undecided_loss(tmp_path):
    model = MLP([3, 4, 2], seed=0)
    loaded = fastmlp.load(model.save(tmp_path / "m.npz"))
    assert loaded.loss is None
    np.testing.assert_array_equal(loaded.get_flat_params(), model.get_flat_params())


def rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as f:
        fields = {k: f[k] for k in f.files}
    for k, v in changes.items():
        if v is None:
            del fields[k]
        else:
            fields[k] = v
    np.savez(dst, **fields)
    return dst


def test_load_rejects_a_truncated_file(tmp_path):
    model, _ = trained_model()
    path = model.save(tmp_path / "model.npz")
    data = open(path, "rb").read()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="load"):
        fastmlp.load(bad)


def test_load_rejects_a_corrupted_file(tmp_path):
    model, _ = trained_model()
    path = model.save(tmp_path / "model.npz")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the archive
    bad = tmp_path / "corrupted.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="load"):
        fastmlp.load(bad)


def test_load_rejects_other_files_and_fields(tmp_path):
    model, _ = trained_model()
    path = model.save(tmp_path / "model.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a model file at all")
    with pytest.raises(ValueError, match="load"):
        fastmlp.load(garbage)
    with pytest.raises(ValueError, match="format version 2"):
        fastmlp.load(rewrite(path, tmp_path / "v2.npz", format_version=np.int64(2)))
    with pytest.raises(ValueError, match="lacks"):
        fastmlp.load(rewrite(path, tmp_path / "noparams.npz", params=None))
    with pytest.raises(ValueError, match="params"):
        fastmlp.load(rewrite(path, tmp_path / "short.npz", params=model.get_flat_params()[:-1]))
    with pytest.raises(ValueError, match="params"):
        fastmlp.load(rewrite(path, tmp_path / "f64.npz", params=model.get_flat_params().astype(np.float64)))
    bad = model.get_flat_params()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fastmlp.load(rewrite(path, tmp_path / "nan.npz", params=bad))
    # an object member is refused, never unpickled
    obj = np.empty(1, dtype=object)
    obj[0] = {"evil": 1}
    with pytest.raises(ValueError, match="load"):
        fastmlp.load(rewrite(path, tmp_path / "pickle.npz", init=obj))


# ---- 6. divergence ----------------------------------------------------------------------------------------------

def regression_data():
    x = np.linspace(-np.pi, 2 * np.pi, 64).reshape(-1, 1)
    return x, np.sin(2 * x) + np.cos(x) + x


def blow_up_at_epoch_2(epoch, lr0, metric):
    return lr0 if epoch < 2 else 1e6


@pytest.mark.parametrize("dtype", DTYPES)
def test_divergence_raises_and_keeps_the_last_finite_weights(dtype):
    X, y = regression_data()
    model = MLP([1, 16, 1], loss="mse", dtype=dtype, seed=0)
    start = model.get_flat_params()
    ends = []  # params and optimizer state at the end of every finished epoch
    cb = lambda m, epoch, logs: ends.append((m.get_flat_params(), m.optimizer_.state.copy(), m.step_count))  # noqa: E731
    with pytest.raises(DivergenceError, match="epoch 2"):
        model.fit(X, y, epochs=5, batch_size=8, lr=1e-3, optimizer="momentum", lr_schedule=blow_up_at_epoch_2,
                  callbacks=[cb])
    assert len(ends) == 2
    params = model.get_flat_params()
    assert np.isfinite(params).all() and np.isfinite(model.optimizer_.state).all()
    np.testing.assert_array_equal(params, ends[-1][0])  # the weights at the start of the diverging epoch
    np.testing.assert_array_equal(model.optimizer_.state, ends[-1][1])
    assert model.step_count == ends[-1][2] == 16
    assert not np.array_equal(params, start)
    # the model trains on afterwards
    history = model.fit(X, y, epochs=1, batch_size=8, lr=1e-3, optimizer="momentum")
    assert math.isfinite(history["loss"][0]) and model.step_count == 24


def test_divergence_with_warn():
    X, y = regression_data()
    model = MLP([1, 16, 1], loss="mse", seed=0)
    ends = []
    with pytest.warns(RuntimeWarning, match="NaN/Inf"):
        history = model.fit(X, y, epochs=5, batch_size=8, lr=1e-3, optimizer="sgd", lr_schedule=blow_up_at_epoch_2,
                            on_divergence="warn", callbacks=[lambda m, e, logs: ends.append(m.get_flat_params())])
    assert history.diverged is True and history.stopped_epoch == 2
    assert len(history["loss"]) == len(history["lr"]) == 2 and all(map(math.isfinite, history["loss"]))
    np.testing.assert_array_equal(model.get_flat_params(), ends[-1])


def test_huge_lr_from_the_start_raises():
    X, y = regression_data()
    model = MLP([1, 16, 1], loss="mse", dtype="float64", seed=0)
    start = model.get_flat_params()
    with pytest.raises(DivergenceError):
        model.fit(X, y, epochs=3, batch_size=8, lr=1e8, optimizer="sgd")
    np.testing.assert_array_equal(model.get_flat_params(), start)
    assert model.step_count == 0


@pytest.mark.parametrize("dtype,big", [("float64", 1e200), ("float32", 1e30)])
def test_train_step_on_a_diverging_batch_changes_nothing(dtype, big):
    rng = np.random.default_rng(13)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
    model = MLP([2, 4, 1], loss="mse", dtype=dtype, seed=0)
    for _ in range(2):
        model.train_step(X, y, lr=0.01, optimizer="momentum")
    params, state = model.get_flat_params(), model.optimizer_.state.copy()
    assert np.any(state != 0)
    with pytest.raises(DivergenceError):
        model.train_step(np.full((8, 2), big), y, lr=0.01, optimizer="momentum")  # finite input, infinite loss
    np.testing.assert_array_equal(model.get_flat_params(), params)
    np.testing.assert_array_equal(model.optimizer_.state, state)
    assert model.step_count == 2
    model.train_step(X, y, lr=0.01, optimizer="momentum")
    assert model.step_count == 3 and not np.array_equal(model.get_flat_params(), params)


@pytest.mark.parametrize("dtype,lr", [("float64", 1.7e308), ("float32", 1e38)])
def test_train_step_never_leaves_non_finite_weights(dtype, lr):
    """A finite loss and gradient times a huge (finite) rate overflows the weights to Inf: train_step must then
    refuse the step as fit does (DivergenceError, weights and step count unchanged), not keep Inf weights."""
    rng = np.random.default_rng(13)
    X, y = rng.standard_normal((8, 2)), 100 * rng.standard_normal((8, 1))
    model = MLP([2, 4, 1], loss="mse", dtype=dtype, seed=0)
    start = model.get_flat_params()
    try:
        model.train_step(X, y, lr=lr)
    except DivergenceError:
        np.testing.assert_array_equal(model.get_flat_params(), start)
        assert model.step_count == 0
    bad = int(np.sum(~np.isfinite(model.get_flat_params())))
    assert bad == 0, f"train_step returned normally and left {bad} of {model.n_params} weights non-finite"


# ---- 7. the training loop ---------------------------------------------------------------------------------------

def test_early_stopping_restores_the_best_weights():
    """Train on y = x, validate against y = -x: the validation loss is best early and then grows."""
    rng = np.random.default_rng(14)
    X = rng.uniform(-1, 1, size=(64, 1))
    model = MLP([1, 8, 1], activation="tanh", loss="mse", dtype="float64", seed=0)
    last = []
    history = model.fit(X, X, epochs=100, batch_size=16, lr=0.01, optimizer="adam", validation_data=(X, -X),
                        early_stopping=True, patience=3, callbacks=[lambda m, e, logs: last.append(m.get_flat_params())])
    vl = history["val_loss"]
    assert history.best_epoch == int(np.argmin(vl))
    assert history.stopped_epoch == history.best_epoch + 3 == len(vl) - 1 < 99
    assert model.loss_value(X, -X) == vl[history.best_epoch]
    assert model.loss_value(X, -X) < vl[-1]
    assert not np.array_equal(model.get_flat_params(), last[-1])  # not the weights of the last epoch


def test_early_stopping_on_training_loss_without_validation():
    rng = np.random.default_rng(15)
    X = rng.standard_normal((32, 3))
    y = rng.integers(0, 2, size=32)
    model = MLP([3, 8, 2], seed=0)
    history = model.fit(X, y, epochs=30, batch_size=8, lr=0.5, optimizer="sgd", early_stopping=True, patience=2)
    best = history.best_epoch
    assert best == int(np.argmin(history["loss"]))
    assert history["val_loss"] == [] and history["loss"][best] == min(history["loss"])


def plateau_expected(lr0, monitored, factor=0.5, patience=5, min_delta=0.0, min_lr=0.0):
    """The documented ReduceOnPlateau rule: epoch e sees the monitored loss of epoch e - 1."""
    scale, best, wait, out = 1.0, math.inf, 0, [lr0]
    for m in monitored[:-1]:
        if m < best - min_delta:
            best, wait = m, 0
        else:
            wait += 1
            if wait >= patience:
                scale, wait = scale * factor, 0
        out.append(max(lr0 * scale, min_lr))
    return out


@pytest.mark.parametrize("name,expected", [
    ("constant", lambda e: 0.02),
    ("step", lambda e: 0.02 * 0.5 ** (e // 10)),
    ("exponential", lambda e: 0.02 * 0.95 ** e),
    ("invscaling", lambda e: 0.02 / math.sqrt(e + 1)),
])
def test_lr_schedules(name, expected):
    rng = np.random.default_rng(16)
    X = rng.standard_normal((16, 2))
    model = MLP([2, 4, 1], loss="mse", seed=0)
    history = model.fit(X, X[:, :1], epochs=25, batch_size=8, lr=0.02, lr_schedule=name)
    np.testing.assert_allclose(history["lr"], [expected(e) for e in range(25)], rtol=1e-15)


def test_lr_schedule_plateau():
    """Validating against the negated target makes the validation loss grow, so the rate halves every 5 epochs."""
    rng = np.random.default_rng(17)
    X = rng.uniform(-1, 1, size=(32, 1))
    model = MLP([1, 8, 1], activation="tanh", loss="mse", dtype="float64", seed=0)
    history = model.fit(X, X, epochs=20, batch_size=8, lr=0.01, optimizer="adam", lr_schedule="plateau",
                        validation_data=(X, -X))
    assert history["lr"] == plateau_expected(0.01, history["val_loss"])
    assert history["lr"][:6] == [0.01] * 6 and 0.005 in history["lr"] and 0.0025 in history["lr"]
    # an instance with its own settings, monitoring the training loss
    model = MLP([1, 8, 1], activation="tanh", loss="mse", dtype="float64", seed=0)
    sched = schedules.ReduceOnPlateau(factor=0.1, patience=1, min_delta=1e-3, min_lr=1e-5)
    history = model.fit(X, X, epochs=20, batch_size=8, lr=0.01, optimizer="adam", lr_schedule=sched)
    assert history["lr"] == plateau_expected(0.01, history["loss"], 0.1, 1, 1e-3, 1e-5)


def test_callable_schedule_gets_the_monitored_loss():
    seen = []

    def schedule(epoch, lr0, metric):
        seen.append((epoch, lr0, metric))
        return lr0 / (epoch + 2)

    rng = np.random.default_rng(18)
    X = rng.standard_normal((16, 2))
    model = MLP([2, 4, 1], loss="mse", seed=0)
    history = model.fit(X, X[:, :1], epochs=4, batch_size=8, lr=0.3, lr_schedule=schedule)
    assert seen == [(0, 0.3, None)] + [(e, 0.3, history["loss"][e - 1]) for e in range(1, 4)]
    assert history["lr"] == [0.3 / (e + 2) for e in range(4)]


def test_callback_returning_true_stops_training():
    rng = np.random.default_rng(19)
    X = rng.standard_normal((16, 2))
    y = rng.integers(0, 2, size=16)
    calls = []

    def cb(model, epoch, logs):
        calls.append((model, epoch, sorted(logs)))
        return epoch == 2

    model = MLP([2, 4, 2], seed=0)
    history = model.fit(X, y, epochs=10, batch_size=4, callbacks=[cb, lambda m, e, logs: None])
    assert [c[1] for c in calls] == [0, 1, 2] and all(c[0] is model for c in calls)
    assert {"loss", "lr", "time"} <= set(calls[0][2]) and "val_loss" not in calls[0][2]
    assert len(history["loss"]) == 3 and history.stopped_epoch == 2
    assert model.step_count == 12


def test_partial_fit_continues_training():
    rng = np.random.default_rng(20)
    X = rng.standard_normal((20, 3))
    y = rng.integers(0, 3, size=20)
    a, b = MLP([3, 6, 3], seed=7), MLP([3, 6, 3], seed=7)
    h1 = a.partial_fit(X, y, batch_size=8, lr=0.01, optimizer="adam")
    assert len(h1["loss"]) == 1 and a.step_count == 3
    a.partial_fit(X, y, batch_size=8, lr=0.01, optimizer="adam")
    assert a.step_count == 6
    # two partial fits are one fit of two epochs: same shuffles, Adam state and step numbers carried over
    b.fit(X, y, epochs=2, batch_size=8, lr=0.01, optimizer="adam")
    assert b.step_count == 6
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())
    # a different optimizer starts a fresh state
    a.partial_fit(X, y, batch_size=8, lr=0.01, optimizer="sgd")
    assert a.step_count == 3


def test_params_are_views():
    rng = np.random.default_rng(21)
    X = rng.standard_normal((5, 3))
    model = MLP([3, 4, 2], loss="mse", seed=0)
    W0, b0 = model.params[0]
    assert W0.shape == (4, 3) and b0.shape == (4,)
    before = model.forward(X)
    model.params[0][0][0] += 1.0  # in place through a fresh view
    after = model.forward(X)
    assert not np.array_equal(before, after)
    assert model.get_flat_params()[0] == W0[0, 0]  # the first view saw the change too
    model.params[1][1][...] = 0.0
    model.params[1][0][...] = 0.0
    np.testing.assert_array_equal(model.forward(X), np.zeros((5, 2)))
    model.set_flat_params(np.ones(model.n_params))
    assert np.all(W0 == 1.0)


def test_score_of_a_single_output_sigmoid_bce_model():
    """fit takes single-output targets as y[n] or y[n, 1]; score must give the accuracy for either (and so must
    history["val_score"], whose targets fit keeps 2-d internally)."""
    rng = np.random.default_rng(25)
    X = rng.standard_normal((60, 2))
    y = (X[:, 0] > 0).astype(np.float64)
    model = MLP([2, 8, 1], loss="sigmoid_bce", seed=0)
    history = model.fit(X, y, epochs=60, batch_size=8, lr=0.05, optimizer="adam", validation_split=0.25)
    acc = float(np.mean(model.predict(X) == y))
    assert acc > 0.9
    val_acc = float(np.mean(model.predict(X[45:]) == y[45:]))
    got = {"score(X, y[n])": model.score(X, y), "score(X, y[n, 1])": model.score(X, y.reshape(-1, 1)),
           "val_score": history["val_score"][-1]}
    assert got == {"score(X, y[n])": acc, "score(X, y[n, 1])": acc, "val_score": val_acc}


def test_loss_is_decided_by_the_first_fit():
    rng = np.random.default_rng(22)
    X = rng.standard_normal((12, 3))
    clf = MLP([3, 4, 2], seed=0)
    clf.fit(X, rng.integers(0, 2, size=12), epochs=1)
    assert clf.loss == "softmax_ce" and clf.is_classifier
    reg = MLP([3, 4, 2], seed=0)
    reg.fit(X, rng.standard_normal((12, 2)), epochs=1)
    assert reg.loss == "mse" and not reg.is_classifier


def test_failed_fit_does_not_decide_the_loss():
    """A fit that refuses its labels must not fix the loss of a model whose loss is still undecided."""
    X = np.random.default_rng(23).standard_normal((4, 3))
    model = MLP([3, 4, 2], seed=0)
    with pytest.raises(TypeError, match="y"):
        model.fit(X, np.array(["a", "b", "a", "b"]))
    assert model.loss is None
    model.fit(X, np.array([0, 1, 0, 1]), epochs=1)
    assert model.loss == "softmax_ce"


X34 = np.random.default_rng(24).standard_normal((4, 3))
Y4 = np.array([0, 1, 0, 1])


def clf():
    return MLP([3, 4, 2], loss="softmax_ce", seed=0)


X_NAN = X34.copy()
X_NAN[1, 1] = np.nan

BAD = [
    # (call, exception, words the message must contain)
    (lambda: clf().fit(np.ones((4, 5)), Y4), ValueError, "expected 3 features, got 5"),
    (lambda: clf().predict(np.ones((4, 2))), ValueError, "expected 3 features, got 2"),
    (lambda: clf().fit(np.ones(3), Y4[:3]), ValueError, "2-d"),
    (lambda: clf().fit(X_NAN, Y4), ValueError, "NaN"),
    (lambda: clf().predict(X_NAN), ValueError, "NaN"),
    (lambda: clf().fit(X34, np.array([0, 1, 2, 1])), ValueError, "labels must lie in [0, 2)"),
    (lambda: clf().fit(X34, np.array([0, -1, 0, 1])), ValueError, "labels must lie in [0, 2)"),
    (lambda: clf().fit(X34, np.array(["a", "b", "a", "b"])), TypeError, "integer class labels"),
    (lambda: clf().fit(X34, np.array([0.5, 1, 0, 1])), TypeError, "integer class labels"),
    (lambda: clf().fit(X34, Y4[:3]), ValueError, "expected 4 rows"),
    (lambda: MLP([3, 4, 2], seed=0).fit(X34, np.array(["a", "b", "a", "b"])), TypeError, "y"),
    (lambda: MLP([3, 4, 1], loss="sigmoid_bce").fit(X34, np.array([0, 2, 0, 1.0])), ValueError, "[0, 1]"),
    (lambda: clf().fit(X34, Y4, optimizer="rmsprop"), ValueError, "optimizer"),
    (lambda: clf().train_step(X34, Y4, optimizer="rmsprop"), ValueError, "rmsprop"),
    (lambda: clf().fit(X34, Y4, lr=-1.0), ValueError, "lr"),
    (lambda: clf().fit(X34, Y4, optimizer="momentum", momentum=1.0), ValueError, "momentum"),
    (lambda: clf().fit(X34, Y4, lr_schedule="cosine"), ValueError, "lr_schedule"),
    (lambda: clf().fit(X34, Y4, on_divergence="ignore"), ValueError, "on_divergence"),
    (lambda: clf().fit(X34, Y4, batch_size=0), ValueError, "batch_size"),
    (lambda: clf().fit(X34, Y4, validation_split=1.5), ValueError, "validation_split"),
    (lambda: MLP([3, 4, 2], activation="softmaxx"), ValueError, "softmaxx"),
    (lambda: MLP([3, 2], activation="bogus"), ValueError, "bogus"),   # no hidden layer: the name is still checked
    (lambda: MLP([3, 4, 4, 2], activation=["relu"]), ValueError, "activation"),
    (lambda: MLP([3, 4, 2], output="bogus"), ValueError, "bogus"),
    (lambda: MLP([3, 4, 2], activation=3), TypeError, "activation: expected a name or a list of names, got int"),
    (lambda: MLP([3, 4, 2], loss="hinge"), ValueError, "hinge"),
    (lambda: MLP([3, 4, 2], loss="softmax_ce", output="tanh"), ValueError, "logits"),
    (lambda: MLP([3]), ValueError, "layers"),
    (lambda: MLP([3, 0, 2]), ValueError, "layers"),
    (lambda: MLP([3, 4, 2], dtype="float16"), TypeError, "dtype"),
    (lambda: MLP([3, 4, 2], init="zeros"), ValueError, "init"),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_input(i):
    call, exc, words = BAD[i]
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value), f"message {str(info.value)!r} lacks {words!r}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("threads", [1, 2])
def test_update_bound_reads_every_vector_to_its_end(dtype, kind, threads):
    """The step's overflow bound scans the weights and the optimizer state in one fused pass (split across threads
    above 65536 values): one huge entry anywhere (first, at the middle, last) in any vector it reads refuses the
    step, with nothing written; without it the same step runs."""
    sizes = [300, 300, 2]
    net = _Net(sizes, ["relu", "identity"], "mse", dtype)
    P = net.n_params
    assert P > 1 << 16
    rng = np.random.default_rng(21)
    c = OptimConfig(kind, dtype, 1e-3)
    x, t, y = random_batch(rng, sizes, "mse", 4, dtype)
    huge = 0.3 * float(np.finfo(dtype).max)
    before = fastmlp.get_num_threads()
    fastmlp.set_num_threads(threads)
    try:
        n_state = net.state_size(c)
        targets = [("params", None)] + [("state", off) for off in range(0, n_state, P)]
        for where, off in targets:
            for i in (0, P // 2 - 1, P // 2, P - 1):
                params = random_params(rng, sizes, dtype)
                state = np.zeros(n_state, dtype)
                if kind == "adam":
                    state[P:] = 0.01
                (params if where == "params" else state)[i if off is None else off + i] = huge
                p0, s0 = params.copy(), state.copy()
                with pytest.raises(DivergenceError):
                    net.train_step(params, np.zeros(P, dtype), c, state, counter(), x, t, y)
                np.testing.assert_array_equal(params, p0)
                np.testing.assert_array_equal(state, s0)
        params, state = random_params(rng, sizes, dtype), np.zeros(net.state_size(c), dtype)
        p0 = params.copy()
        net.train_step(params, np.zeros(P, dtype), c, state, counter(), x, t, y)
        assert not np.array_equal(params, p0)
    finally:
        fastmlp.set_num_threads(before)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_workspace_sizes_match_the_reference(dtype):
    """fm_mlp_workspace_size / _csr against their twins: the same regions, the same bytes, the same refusals."""
    rng = np.random.default_rng(7)
    itemsize = np.dtype(dtype).itemsize
    for _ in range(20):
        sizes = [int(s) for s in rng.integers(1, 300, size=int(rng.integers(2, 6)))]
        acts = ["relu"] * (len(sizes) - 2) + ["identity"]
        net, ref = _Net(sizes, acts, "mse", dtype), ref_net(sizes, acts, "mse")
        for batch in (1, int(rng.integers(2, 500))):
            for csr, twin in ((False, R.mlp_workspace_size), (True, R.mlp_workspace_size_csr)):
                got = [0]
                twin(ref, got, batch, itemsize)
                assert net.workspace_size(batch, csr=csr) == got[0], (sizes, batch, csr)
            if dtype == "float32":  # fm_mlp_workspace_size_bf16: + the packed operands and each layer's x pairs
                got = [0]
                R.mlp_workspace_size_bf16(ref, got, batch)
                assert _mixed_workspace_size(net, batch) == got[0], (sizes, batch)
    with pytest.raises(R.KernelError, match="zero size"):
        R.mlp_workspace_size(ref_net([3, 2], ["identity"], "mse"), [0], 0)
    with pytest.raises(R.KernelError, match="size overflow"):
        R.mlp_workspace_size_csr(ref_net([2 ** 31, 2 ** 31], ["identity"], "mse"), [0], 1)
    with pytest.raises(ValueError, match="overflow|too large|size"):
        _Net([2 ** 31, 2 ** 31], ["identity"], "mse", dtype).workspace_size(1, csr=True)

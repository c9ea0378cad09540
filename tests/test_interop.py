"""Interop: ONNX export run in onnxruntime, PyTorch conversion with gradients and optimizer steps, and the data
types fit/predict accept (lists, pandas, memory maps without copies)."""
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP

from conftest import assert_close


def _data(n=40, n_in=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    return X, rng


# ---- ONNX ----------------------------------------------------------------------------------------------------
def _ort_run(proto, X):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": X})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss,output", [("softmax_ce", "identity"), ("sigmoid_bce", "identity"),
                                         ("mse", "sigmoid"), ("mse", "identity"), ("ideal_mse", "tanh")])
def test_onnx_export_matches_the_model(tmp_path, dtype, loss, output):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    X, rng = _data(37)
    m = MLP([5, 9, 7, 4], activation=["relu", "tanh"], output=output, loss=loss, dtype=dtype, seed=1)
    if loss in ("softmax_ce", "ideal_mse"):
        y = rng.integers(0, 4, 37)
    elif loss == "sigmoid_bce":
        y = (rng.random((37, 4)) > 0.5).astype(float)
    else:
        y = rng.random((37, 4))
    m.fit(X, y, epochs=2, lr=0.05)
    Xd = X.astype(dtype)
    proto = m.to_onnx(tmp_path / "m.onnx")
    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)] and proto.ir_version == 8
    probs = loss in ("softmax_ce", "sigmoid_bce")
    want = m.predict_proba(Xd) if probs else m.forward(Xd)
    for rows in (slice(None), slice(0, 1)):  # the batch dimension is free
        (got,) = _ort_run(proto, np.ascontiguousarray(Xd[rows]))
        assert got.dtype == m.dtype and got.shape == want[rows].shape
        assert_close(got, want[rows], dtype, f"onnx {loss} {dtype}")
    if probs:
        (raw,) = _ort_run(m.to_onnx(raw=True), Xd)
        assert_close(raw, m.forward(Xd), dtype, "onnx raw logits")
        if loss == "softmax_ce":
            (full,) = _ort_run(proto, Xd)
            assert np.array_equal(np.argmax(full, 1), m.predict(Xd))
    with pytest.raises(ValueError, match="opset"):
        m.to_onnx(opset=11)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_export_of_the_estimators(dtype):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("sklearn")
    from sklearn.exceptions import NotFittedError

    from fastmlp import MLPClassifier, MLPRegressor

    X, rng = _data(60)
    Xd = X.astype(dtype)
    y3 = np.where(X[:, 0] > 0, "yes", np.where(X[:, 1] > 0, "maybe", "no"))
    y2 = np.where(X[:, 0] > 0, "yes", "no")
    for y in (y3, y2):  # softmax over three classes; one logistic output for two
        for labels in (y, np.searchsorted(np.unique(y), y) * 10 + 3):  # str and int classes
            clf = MLPClassifier(hidden_layer_sizes=(8,), activation="logistic", max_iter=5, dtype=dtype,
                                random_state=0).fit(X, labels)
            lab, proba = _ort_run(clf.to_onnx(), Xd)
            assert np.array_equal(lab, clf.predict(Xd))
            assert proba.dtype == np.dtype(dtype)
            assert_close(proba, clf.predict_proba(Xd), dtype, f"onnx classifier, {len(np.unique(y))} classes")
    with pytest.raises(ValueError, match="multilabel"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, X[:, :2] > 0).to_onnx()
    for target, loss in ((X[:, 0] - X[:, 1], "squared_error"), (X[:, :2] ** 2, "squared_error"),
                         (np.abs(X[:, 0]), "poisson")):
        reg = MLPRegressor(loss=loss, hidden_layer_sizes=(8,), activation="tanh", max_iter=5, dtype=dtype,
                           random_state=0).fit(X, target)
        (out,) = _ort_run(reg.to_onnx(), Xd)
        assert out.shape == reg.predict(Xd).shape
        assert_close(out, reg.predict(Xd), dtype, "onnx regressor")
    with pytest.raises(NotFittedError):
        MLPClassifier().to_onnx()


# ---- PyTorch -------------------------------------------------------------------------------------------------
def _torch_loss(torch, loss, out, y):
    F = torch.nn.functional
    if loss == "softmax_ce":
        return F.cross_entropy(out, y)
    if loss == "sigmoid_bce":
        return F.binary_cross_entropy_with_logits(out, y, reduction="sum") / out.shape[0]
    return 0.5 * ((out - y) ** 2).sum() / out.shape[0]  # fastmlp's mse: ½·mean over samples of Σ over outputs


def _targets(loss, rng, n, n_out):
    if loss == "softmax_ce":
        return rng.integers(0, n_out, n)
    if loss == "sigmoid_bce":
        return (rng.random((n, n_out)) > 0.5).astype(np.float64)
    return rng.standard_normal((n, n_out))


@pytest.mark.parametrize("loss", ["softmax_ce", "sigmoid_bce", "mse"])
def test_from_torch_same_outputs_gradients_and_sgd_step(loss):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 7), nn.Sigmoid(),
                        nn.Linear(7, 3)).double()
    m = fastmlp.from_torch(net, loss=loss)
    assert m.layers == [5, 8, 6, 7, 3] and m.activations == ["relu", "tanh", "sigmoid", "identity"]
    assert m.dtype == np.float64
    X, rng = _data(11)
    y = _targets(loss, rng, 11, 3)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    out = net(tX)
    assert_close(m.forward(X), out.detach().numpy(), np.float64, "forward")

    tl = _torch_loss(torch, loss, out, ty)
    tl.backward()
    tgrad = np.concatenate([p.grad.numpy().ravel() for p in net.parameters()])  # [W0, b0, W1, b1, ...]
    fl, fgrad = m.loss_grad(X, y)
    assert abs(fl - tl.item()) <= 1e-12 * max(1.0, abs(tl.item()))
    assert_close(fgrad, tgrad, np.float64, f"{loss} gradients")

    torch.optim.SGD(net.parameters(), lr=0.1).step()
    step_loss = m.train_step(X, y, lr=0.1, optimizer="sgd")
    assert abs(step_loss - tl.item()) <= 1e-12 * max(1.0, abs(tl.item()))
    after = np.concatenate([p.detach().numpy().ravel() for p in net.parameters()])
    assert_close(m.get_flat_params(), after, np.float64, "parameters after one SGD step")


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam"])
def test_optimizer_steps_match_torch(optimizer):
    """A few steps with momentum / Nesterov / Adam and L2 weight decay on the weights only (torch parameter
    groups: decay on the Linear weights, none on the biases)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    m = fastmlp.from_torch(net, loss="softmax_ce")
    groups = [{"params": [p for n, p in net.named_parameters() if n.endswith("weight")], "weight_decay": 0.01},
              {"params": [p for n, p in net.named_parameters() if n.endswith("bias")], "weight_decay": 0.0}]
    if optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=0.01)
    else:
        opt = torch.optim.SGD(groups, lr=0.05, momentum=0.9, nesterov=optimizer == "nesterov")
    X, rng = _data(16, 4)
    y = rng.integers(0, 3, 16)
    for _ in range(4):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        opt.step()
        m.train_step(X, y, lr=0.01 if optimizer == "adam" else 0.05, optimizer=optimizer,
                     momentum=None if optimizer == "adam" else 0.9, weight_decay=0.01)
    after = np.concatenate([p.detach().numpy().ravel() for p in net.parameters()])
    assert_close(m.get_flat_params(), after, np.float64, f"{optimizer}: parameters after 4 steps")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_to_torch_round_trip(dtype):
    torch = pytest.importorskip("torch")
    X, rng = _data(9)
    m = MLP([5, 7, 4, 2], activation=["sigmoid", "relu"], output="tanh", dtype=dtype, seed=2)
    net = m.to_torch()
    assert [type(x).__name__ for x in net] == ["Linear", "Sigmoid", "Linear", "ReLU", "Linear", "Tanh"]
    assert net[0].weight.dtype == (torch.float32 if dtype == "float32" else torch.float64)
    with torch.no_grad():
        out = net(torch.from_numpy(X.astype(dtype))).numpy()
    assert out.dtype == m.dtype
    assert_close(out, m.forward(X), dtype, "to_torch forward")
    back = fastmlp.from_torch(net)
    assert back.layers == m.layers and back.activations == m.activations and back.dtype == m.dtype
    assert np.array_equal(back.get_flat_params(), m.get_flat_params())
    net[0].weight.data.zero_()  # copies, not views
    assert np.array_equal(back.get_flat_params(), m.get_flat_params())


def test_from_torch_module_rules():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    ok = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Identity(), nn.Sequential(nn.ReLU(), nn.Dropout(0.3)),
                       nn.Linear(4, 2)).eval()
    m = fastmlp.from_torch(ok)
    assert m.layers == [3, 4, 2] and m.activations == ["relu", "identity"] and m.dtype == np.float32
    assert np.array_equal(m.params[0][1], np.zeros(4, np.float32))  # no bias: zeros
    assert fastmlp.from_torch(nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.0))).layers == [3, 4]
    assert fastmlp.from_torch(nn.Linear(3, 2)).layers == [3, 2]
    bad = {
        "Conv1d": nn.Sequential(nn.Conv1d(1, 1, 3), nn.Linear(3, 2)),
        "training mode": nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2)),
        "BatchNorm1d": nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)),
        "Softmax": nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=1)),
        "follows another activation": nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh()),
        "before any nn.Linear": nn.Sequential(nn.ReLU(), nn.Linear(3, 4)),
        "does not follow": nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2)),
        "no nn.Linear": nn.Sequential(nn.Identity()),
        "expected an nn.Sequential": nn.ReLU(),
        "float16": nn.Sequential(nn.Linear(3, 2)).half(),
    }
    for what, net in bad.items():
        with pytest.raises(ValueError, match=what):
            fastmlp.from_torch(net)
    assert fastmlp.from_torch(bad["float16"], dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match="logits"):  # the cross-entropy losses need an identity output
        fastmlp.from_torch(nn.Sequential(nn.Linear(3, 2), nn.Sigmoid()), loss="softmax_ce")


# ---- data in -------------------------------------------------------------------------------------------------
_REAL_NET = fastmlp._core._Net


class _SpyNet:
    """Stands in for the C network description and records the input arrays that reach the C calls."""
    seen = []

    def __init__(self, *args):
        self._net = _REAL_NET(*args)

    def __getattr__(self, name):
        return getattr(self._net, name)

    def forward(self, params, x, out):
        _SpyNet.seen.append(("forward", x))
        return self._net.forward(params, x, out)

    def train_epoch(self, params, grads, cfg, state, counter, X, *rest, **options):
        _SpyNet.seen.append(("train_epoch", X))
        return self._net.train_epoch(params, grads, cfg, state, counter, X, *rest, **options)


@pytest.fixture
def spy(monkeypatch):
    monkeypatch.setattr(fastmlp._core, "_Net", _SpyNet)  # what fastmlp.network builds its C descriptions with
    _SpyNet.seen = []
    return _SpyNet.seen


def _pointer(a):
    return a.__array_interface__["data"][0]


def _memmap(tmp_path, a, mode="r", offset=0, name="x.dat"):
    path = tmp_path / name
    raw = np.zeros(offset, np.uint8).tobytes() + np.ascontiguousarray(a).tobytes()
    path.write_bytes(raw)
    return np.memmap(path, dtype=a.dtype, mode=mode, shape=a.shape, offset=offset)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_memmap_reaches_the_core_without_a_copy(tmp_path, spy, dtype):
    X, rng = _data(64)
    y = rng.integers(0, 3, 64)
    mm = _memmap(tmp_path, X.astype(dtype))  # read-only
    assert not mm.flags.writeable
    m = MLP([5, 6, 3], loss="softmax_ce", dtype=dtype, seed=0)
    m.fit(mm, y, epochs=2)
    m.partial_fit(mm, y)
    pred = m.predict(mm)
    m.score(mm, y)
    kinds = [k for k, _ in spy]
    # dense predictions run on the packed-weights cache (a Predictor, which takes a C-contiguous aligned array as
    # it is), not through _Net.forward; the bits below show they read the same data
    assert kinds.count("train_epoch") == 3
    for kind, x in spy:
        assert _pointer(x) == _pointer(mm) and np.shares_memory(x, mm), kind
    # the same model fitted on an in-memory copy gives the same bits
    ref = MLP([5, 6, 3], loss="softmax_ce", dtype=dtype, seed=0)
    ref.fit(X.astype(dtype), y, epochs=2)
    ref.partial_fit(X.astype(dtype), y)
    assert np.array_equal(ref.get_flat_params(), m.get_flat_params())
    assert np.array_equal(pred, ref.predict(X.astype(dtype)))


def test_memmap_copied_only_when_it_must_be(tmp_path, monkeypatch):
    # dense predictions run on the packed-weights cache (a Predictor): what reaches it is what validation returns
    seen, features = [], fastmlp.validation.features
    monkeypatch.setattr(fastmlp.validation, "features", lambda *a, **k: seen.append(("forward", features(*a, **k)))
                        or seen[-1][1])
    spy = seen
    X, rng = _data(32)
    y = rng.integers(0, 3, 32)
    m = MLP([5, 6, 3], loss="softmax_ce", dtype="float32", seed=0)
    other_dtype = _memmap(tmp_path, X)  # float64 data, float32 model: one converted copy
    m.predict(other_dtype)
    unaligned = _memmap(tmp_path, X.astype(np.float32), offset=1, name="u.dat")  # not aligned to 4 bytes
    assert not unaligned.flags.aligned
    out = m.predict(unaligned)
    assert np.array_equal(out, m.predict(X.astype(np.float32)))
    strided = X.astype(np.float32)[::2]
    m.predict(strided)
    (_, a), (_, b), (_, c) = spy  # the plain float32 X took the cache without Python-level checks
    assert not np.shares_memory(a, other_dtype) and a.dtype == np.float32
    assert not np.shares_memory(b, unaligned) and b.flags.aligned
    assert not np.shares_memory(c, strided) and c.flags.c_contiguous


def test_estimators_take_memmaps_without_a_copy(tmp_path, spy):
    pytest.importorskip("sklearn")
    from fastmlp import MLPClassifier, MLPRegressor

    X, rng = _data(64)
    mm = _memmap(tmp_path, X.astype(np.float32))
    y = rng.integers(0, 3, 64)
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=2, random_state=0).fit(mm, y)
    clf.partial_fit(mm, y)
    clf.predict(mm)
    clf.predict_proba(mm)
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=2, random_state=0).fit(mm, X[:, 0])
    reg.predict(mm)
    assert len(spy) >= 6
    for kind, x in spy:
        assert _pointer(x) == _pointer(mm), kind


def test_lists_and_pandas_in_mlp():
    pd = pytest.importorskip("pandas")
    X, rng = _data(30)
    y = rng.integers(0, 3, 30)
    a = MLP([5, 6, 3], seed=0)
    a.fit(X, y, epochs=2)
    b = MLP([5, 6, 3], seed=0)
    b.fit(X.tolist(), y.tolist(), epochs=2)
    c = MLP([5, 6, 3], seed=0)
    df = pd.DataFrame(X, columns=list("abcde"))
    c.fit(df, pd.Series(y), epochs=2)
    assert np.array_equal(a.get_flat_params(), b.get_flat_params())
    assert np.array_equal(a.get_flat_params(), c.get_flat_params())
    assert np.array_equal(c.predict(df), a.predict(X)) and np.array_equal(b.predict(X.tolist()), a.predict(X))


def test_estimators_keep_pandas_feature_names():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    from fastmlp import MLPClassifier, MLPRegressor

    X, rng = _data(50)
    cols = ["f0", "f1", "f2", "f3", "f4"]
    df = pd.DataFrame(X.astype(np.float32), columns=cols)
    y = pd.Series(np.where(X[:, 0] > 0, "pos", "neg"))
    for est, target in ((MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0), y),
                        (MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0), df["f1"] * 2)):
        est.fit(df, target)
        assert list(est.feature_names_in_) == cols and est.n_features_in_ == 5
        from_np = type(est)(**est.get_params()).fit(X.astype(np.float32), np.asarray(target))
        assert not hasattr(from_np, "feature_names_in_")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pred = est.predict(df)
        assert np.array_equal(pred, from_np.predict(X.astype(np.float32)))
        with pytest.warns(UserWarning, match="feature names"):
            est.predict(X.astype(np.float32))
        with pytest.raises(ValueError, match="feature names"):
            est.predict(df.rename(columns={"f0": "g0"}))
        est.partial_fit(df, target, **({"classes": None} if hasattr(est, "classes_") else {}))
        assert list(est.feature_names_in_) == cols

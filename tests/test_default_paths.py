"""The default paths (issue 15): ``forward``/``predict``'s packed-weights cache is invalidated by every kind of write
to the weights, and ``train_step``'s fast path (a _StepCache) gives what the checked path gives, with its errors."""
import pickle
import threading

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP
from fastmlp.estimators import MLPClassifier

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 16)


def fresh():
    m = MLP([5, 7, 3], loss="softmax_ce", seed=1)
    m.forward(X)  # the cache is built
    return m


def expected(m):
    return _plain_forward(m, X)


def _plain_forward(m, X):
    """The network's output packed afresh from the current weights (no cache involved)."""
    return fastmlp._core.Predictor(m.layers, m.activations, m._params.copy())(X)


def check_seen(m, before):
    out = m.forward(X)
    assert np.array_equal(out, expected(m))
    assert not np.array_equal(out, before), "the write did not change the output: the test is void"
    assert np.array_equal(m.predict(X), expected(m).argmax(1))
    assert np.array_equal(m.predict_proba(X), fastmlp.softmax(expected(m)))


def _write_through_params(m):
    m.params[0][0][...] += 1.0  # view taken, written and dropped before the next predict


def _write_through_held_view(m):
    W = m.params[0][0]
    m.forward(X)  # predicted while the view is alive
    W[0, :] = 3.0
    m._held = W  # still alive at the next predict


def _write_through_derived_view(m):
    Wt = m.params[1][0].T[:, ::2]
    del m  # only the derived view is left
    Wt[...] = -1.0


def _write_read_weights(m):
    with m.read_weights() as params:
        params[1][1][...] = 2.0


def _raw_write_param_attr(m):
    m._write_params(m._params * 0.5)


WRITES = {
    "train_step": lambda m: m.train_step(X, Y, lr=0.5),
    "train_step twice (fast path)": lambda m: (m.train_step(X, Y, lr=0.5), m.forward(X), m.train_step(X, Y, lr=0.5)),
    "stepper": lambda m: m.stepper(X, Y, lr=0.5)(),
    "fit": lambda m: m.fit(X, Y, epochs=2, batch_size=4),
    "partial_fit": lambda m: m.partial_fit(X, Y),
    "fit_lbfgs": lambda m: m.fit_lbfgs(X, Y, max_iter=5),
    "set_flat_params": lambda m: m.set_flat_params(m.get_flat_params() + 0.25),
    "reset_parameters": lambda m: m.reset_parameters(),
    "params view": _write_through_params,
    "held params view": _write_through_held_view,
    "derived view": _write_through_derived_view,
    "read_weights": _write_read_weights,
    "_write_params": _raw_write_param_attr,
}


@pytest.mark.filterwarnings("ignore::fastmlp.ConvergenceWarning")
@pytest.mark.parametrize("name", list(WRITES))
def test_every_write_is_seen_by_the_next_prediction(name):
    m = fresh()
    before = m.forward(X).copy()
    WRITES[name](m)
    check_seen(m, before)


def test_a_stepper_step_after_predictions_is_seen():
    m = fresh()
    step = m.stepper(X, Y, lr=0.5)
    for _ in range(3):
        before = m.forward(X).copy()
        step()
        check_seen(m, before)


def test_load_and_unpickle_give_models_that_predict_their_own_weights(tmp_path):
    m = fresh()
    m.train_step(X, Y, lr=0.5)
    m.forward(X)
    for other in (pickle.loads(pickle.dumps(m)), fastmlp.load(m.save(str(tmp_path / "m.npz")))):
        assert np.array_equal(other.forward(X), m.forward(X))
        before = other.forward(X).copy()
        other.train_step(X, Y, lr=0.5)
        check_seen(other, before)
        assert np.array_equal(m.forward(X), before)  # the original is untouched


def test_estimator_coefs_written_in_place_are_seen():
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0).fit(X, Y)
    m = est.model_
    before = m.forward(X).copy()
    est.coefs_[0][...] = 0.5  # scikit-learn users may write the views in place
    est.intercepts_[1][...] = -0.5
    check_seen(m, before)
    before = m.forward(X).copy()
    est.partial_fit(X, Y)
    check_seen(m, before)


def test_the_cache_is_reused_and_dropped_only_when_needed():
    m = fresh()
    g = m._guard
    v = g.version
    m.forward(X), m.predict(X), m.loss_value(X, Y), m.loss_grad(X, Y)
    assert g.version == v  # predictions and loss evaluations change nothing
    m.params  # handing out views counts as a write
    assert g.version > v
    held = m.params
    assert g.views_alive()
    del held
    assert not g.views_alive()


def test_forward_is_the_predictor_bit_for_bit_on_every_input_kind():
    m = MLP([5, 300, 3], loss="softmax_ce", seed=3, dtype="float64")
    p = m.predictor()
    big = RNG.standard_normal((700, 5))  # more than one 256-row chunk
    for x in (big, big.astype(np.float32), np.asfortranarray(big), big.tolist(), big[::2]):
        assert np.array_equal(m.forward(x), p(np.ascontiguousarray(x, dtype=np.float64)))
    import scipy.sparse as sp
    assert np.allclose(m.forward(sp.csr_matrix(big)), p(big))


def test_forward_check_finite():
    m = fresh()
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="X: contains NaN or Inf"):
        m.forward(bad)
    with pytest.raises(ValueError, match="X: contains NaN or Inf"):
        m.predict(bad.tolist())
    out = m.forward(bad, check_finite=False)  # not scanned: the NaN goes through (relu may turn it into 0)
    assert np.array_equal(np.delete(out, 3, 0), np.delete(m.forward(X), 3, 0))
    with pytest.raises(TypeError, match="check_finite"):
        m.forward(X, check_finite="no")


def _pair(**kw):
    a, b = MLP([5, 7, 3], seed=2, **kw), MLP([5, 7, 3], seed=2, **kw)
    return a, b


@pytest.mark.parametrize("loss,y", [("softmax_ce", Y), ("mse", RNG.standard_normal((16, 3)).astype(np.float32)),
                                    ("sigmoid_bce", (RNG.random((16, 3)) > 0.5).astype(np.float32)),
                                    ("poisson", RNG.random((16, 3)).astype(np.float32)),
                                    ("ideal_mse", Y)])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_train_step_fast_path_equals_the_checked_path(loss, y, optimizer):
    fast, slow = _pair(loss=loss)
    for i in range(4):
        lf = fast.train_step(X, y, lr=0.05, optimizer=optimizer)
        slow._step_cache = None  # always the checked path
        ls = slow.train_step(X, y, lr=0.05, optimizer=optimizer)
        assert lf == ls
    assert np.array_equal(fast._params, slow._params)
    assert fast.step_count == slow.step_count == 4
    if loss != "ideal_mse":
        assert fast._step_cache is not None


def test_train_step_fast_path_refuses_what_the_checked_path_refuses():
    m = MLP([5, 7, 3], loss="softmax_ce", seed=2)
    m.train_step(X, Y, lr=0.1)
    assert m._step_cache is not None
    saved = m.get_flat_params()
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="X: contains NaN or Inf"):
        m.train_step(bad, Y, lr=0.1)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        m.train_step(X, Y + 3, lr=0.1)
    with pytest.raises(TypeError, match="lr"):
        m.train_step(X, Y, lr=True)
    with pytest.raises(ValueError, match="X"):
        m.train_step(X[:, :4].copy(), Y, lr=0.1)
    with pytest.raises(ValueError, match="y"):
        m.train_step(X, Y[:5].copy(), lr=0.1)
    with pytest.raises(TypeError, match="check_finite"):
        m.train_step(X, Y, lr=0.1, check_finite=1)
    assert np.array_equal(m.get_flat_params(), saved)
    # another lr or optimizer goes through the checked path and rebinds
    m.train_step(X, Y, lr=0.2)
    assert m.optimizer_.lr == 0.2
    m.train_step(X, Y, optimizer="adam")
    assert m.optimizer_.name == "adam"


def test_train_step_check_finite_off_on_the_fast_path():
    m = MLP([5, 7, 1], loss="mse", seed=2)
    t = RNG.standard_normal(16).astype(np.float32)
    m.train_step(X, t, lr=0.01)
    bad = t.copy()
    bad[1] = np.nan
    with pytest.raises(ValueError, match="y: contains NaN or Inf"):
        m.train_step(X, bad, lr=0.01)
    with pytest.raises(fastmlp.DivergenceError):
        m.train_step(X, bad, lr=0.01, check_finite=False)  # the C step still refuses the NaN loss


def test_the_fast_path_takes_the_write_guard():
    m = MLP([5, 7, 3], loss="softmax_ce", seed=2)
    m.train_step(X, Y, lr=0.1)
    entered, release = threading.Event(), threading.Event()
    errors = []

    def other():
        with m.read_weights():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    entered.wait(10)
    try:
        m.train_step(X, Y, lr=0.1)
    except RuntimeError as exc:
        errors.append(exc)
    release.set()
    t.join()
    assert errors and "in use by another thread" in str(errors[0])


def test_callbacks_inside_fit_predict_with_each_epochs_weights():
    """The weights change inside fit (one C call per epoch) before fit returns: a callback that predicts after
    each epoch must see that epoch's weights, not a packed cache of an earlier one."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    m = MLP([3, 5, 2], loss="softmax_ce", seed=0)
    m.predict(X)  # a cache of the initial weights
    seen = []

    def record(model, epoch, logs):
        seen.append((model.forward(X).copy(), model.get_flat_params()))

    m.fit(X, y, epochs=3, lr=0.5, callbacks=[record])
    for out, flat in seen:
        ref = MLP([3, 5, 2], loss="softmax_ce", seed=0)
        ref.set_flat_params(flat)
        np.testing.assert_array_equal(out, ref.forward(X))
    assert not np.array_equal(seen[0][0], seen[-1][0])

"""Model state has one owner: validation has no side effects, a refused call changes nothing, and the optimizer
(its state buffers and step counter) is one object that fit, train_step, steppers and pickling all share."""
import copy
import pickle

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, validation


def data(n=24, n_in=3, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    return X, rng.integers(0, n_out, size=n), rng.standard_normal((n, n_out))


# ---- the loss of an open model (loss=None) -----------------------------------------------------------------------

def test_a_refused_fit_leaves_an_open_loss_open():
    """Before: validating float targets set loss="mse" on the model, so after fit refused another argument the
    next fit with integer labels failed (sticky loss)."""
    X, labels, T = data()
    model = MLP([3, 5, 3], seed=0)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(X, T, epochs=-1)
    assert model.loss is None
    model.fit(X, labels, epochs=1)
    assert model.loss == "softmax_ce"


def test_loss_value_does_not_decide_the_loss():
    X, labels, T = data()
    model = MLP([3, 5, 3], seed=0)
    a = model.loss_value(X, T)     # measured as mse ...
    b = model.loss_value(X, labels)  # ... and as softmax cross-entropy, the model still open
    assert model.loss is None and np.isfinite(a) and np.isfinite(b) and a != b
    model.fit(X, labels, epochs=1)
    assert model.loss == "softmax_ce"


def test_a_refused_train_step_and_stepper_leave_an_open_loss_open():
    X, labels, T = data()
    model = MLP([3, 5, 3], seed=0)
    with pytest.raises(ValueError, match="lr"):
        model.train_step(X, T, lr=-1.0)
    with pytest.raises(ValueError, match="optimizer"):
        model.stepper(X, T, optimizer="rmsprop")
    assert model.loss is None and model.optimizer_ is None and model.step_count == 0


# ---- steppers never use a stale optimizer state ------------------------------------------------------------------

def test_a_stepper_refuses_to_run_once_the_optimizer_was_replaced():
    """Before: the stepper kept updating the shared weights with the Adam buffers the model had dropped."""
    X, _, T = data(n_out=1)
    model = MLP([3, 5, 1], loss="mse", seed=0)
    step = model.stepper(X, T[:, :1], optimizer="adam", lr=0.01)
    step()
    model.train_step(X, T[:, :1], optimizer="momentum", lr=0.01)
    before = model.get_flat_params()
    with pytest.raises(RuntimeError, match="stepper"):
        step()
    np.testing.assert_array_equal(model.get_flat_params(), before)


def test_a_stepper_refuses_to_run_after_reset_parameters():
    X, _, T = data(n_out=1)
    model = MLP([3, 5, 1], loss="mse", seed=0)
    step = model.stepper(X, T[:, :1], optimizer="momentum")
    step()
    model.reset_parameters()
    with pytest.raises(RuntimeError, match="stepper"):
        step()
    assert model.step_count == 0


def test_steppers_and_train_step_share_one_optimizer_state():
    X, _, T = data(n_out=1)
    y = T[:, :1]
    a, b = MLP([3, 5, 1], loss="mse", seed=0), MLP([3, 5, 1], loss="mse", seed=0)
    step = a.stepper(X, y, optimizer="momentum", lr=0.02)
    step()
    a.train_step(X, y, optimizer="momentum", lr=0.02)  # the same rule: carries on with the same state
    step()
    for _ in range(3):
        b.train_step(X, y, optimizer="momentum", lr=0.02)
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())
    np.testing.assert_array_equal(a.optimizer_.state, b.optimizer_.state)
    assert a.step_count == b.step_count == step.step_count == 3


def test_stepper_objects_cannot_be_built_directly():
    X, _, T = data(n_out=1)
    step = MLP([3, 5, 1], loss="mse", seed=0).stepper(X, T[:, :1])
    with pytest.raises(TypeError, match="model.stepper"):
        type(step)()


# ---- a refused call changes nothing ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [dict(optimizer="momentum", momentum=1.5), dict(optimizer="adam", beta1=2.0),
                                 dict(optimizer="adam", lr=float("nan")), dict(optimizer="adam", batch_size=0),
                                 dict(optimizer="adam", validation_split=1.5), dict(optimizer="adam", patience=0)])
def test_a_refused_fit_keeps_the_optimizer_and_its_state(bad):
    X, labels, _ = data()
    model = MLP([3, 5, 3], seed=0)
    model.fit(X, labels, epochs=2, optimizer="adam", lr=0.01)
    opt, state, count, params = model.optimizer_, model.optimizer_.state.copy(), model.step_count, \
        model.get_flat_params()
    with pytest.raises(ValueError):
        model.fit(X, labels, epochs=1, **bad)
    assert model.optimizer_ is opt and opt.beta1 == 0.9 and opt.lr == 0.01 and model.step_count == count
    np.testing.assert_array_equal(opt.state, state)
    np.testing.assert_array_equal(model.get_flat_params(), params)


def test_switching_rules_retires_the_old_optimizer_and_starts_a_fresh_one():
    X, labels, _ = data()
    model = MLP([3, 5, 3], seed=0)
    model.fit(X, labels, epochs=1, batch_size=8, optimizer="adam")
    adam = model.optimizer_
    model.fit(X, labels, epochs=1, batch_size=8, optimizer="nesterov")
    assert isinstance(model.optimizer_, fastmlp.Nesterov) and model.optimizer_ is not adam
    assert model.step_count == 3 and adam._alive[0] == 0


def test_an_optimizer_object_is_used_as_given():
    X, labels, _ = data()
    a, b = MLP([3, 5, 3], seed=0), MLP([3, 5, 3], seed=0)
    opt = fastmlp.Adam(lr=0.01, beta1=0.8)
    a.fit(X, labels, epochs=2, batch_size=8, optimizer=opt)
    b.fit(X, labels, epochs=2, batch_size=8, optimizer="adam", lr=0.01, beta1=0.8)
    assert a.optimizer_ is opt and opt.step_count == 6
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())
    with pytest.raises(ValueError, match="another model"):  # one optimizer, one model: no shared state
        MLP([3, 5, 3], seed=1).fit(X, labels, epochs=1, optimizer=opt)
    with pytest.raises(ValueError, match="another network"):  # a copy is free, but its state has a's size
        MLP([3, 7, 3], seed=0).fit(X, labels, epochs=1, optimizer=copy.deepcopy(opt))
    assert a.optimizer_ is opt and opt.step_count == 6


def test_an_optimizer_object_carries_its_own_options():
    X, labels, _ = data()
    model = MLP([3, 5, 3], seed=0)
    opt = fastmlp.Adam(lr=0.003)
    history = model.fit(X, labels, epochs=2, optimizer=opt)
    assert history["lr"] == [0.003, 0.003] and opt.lr == 0.003
    with pytest.raises(TypeError, match="lr"):  # an option beside the object would be ignored: refused
        model.train_step(X, labels, lr=0.5, optimizer=opt)
    sgd = fastmlp.SGD(lr=0.1)
    model.train_step(X, labels, optimizer=sgd)
    sgd.lr = 0.0  # an option set later counts: a zero step changes nothing
    before = model.get_flat_params()
    model.train_step(X, labels, optimizer=sgd)
    np.testing.assert_array_equal(model.get_flat_params(), before)


def test_an_optimizer_given_again_works_with_new_steppers_and_resets_with_the_model():
    X, labels, _ = data()
    model = MLP([3, 5, 3], seed=0)
    opt = fastmlp.Momentum(lr=0.01)
    model.fit(X, labels, epochs=1, batch_size=8, optimizer=opt)
    model.fit(X, labels, epochs=1, batch_size=8, optimizer="adam")
    model.fit(X, labels, epochs=1, batch_size=8, optimizer=opt)  # back to the first object, state and all
    step = model.stepper(X, labels, optimizer="momentum", lr=0.01)
    step()
    assert model.optimizer_ is opt and opt.step_count == 7
    model.reset_parameters()
    assert opt.step_count == 0 and not np.any(opt.state)
    model.fit(X, labels, epochs=1, batch_size=8, optimizer=opt)
    assert model.step_count == 3


def test_a_diverging_first_call_leaves_the_loss_and_the_optimizer_as_they_were():
    """The sticky loss through another door: a call that fails after its checks, before any weight changed."""
    X, labels, T = data()
    model = MLP([3, 4, 3], seed=0, dtype="float64")
    with pytest.raises(fastmlp.DivergenceError):
        model.fit(X * 1e3, T * 1e200, epochs=1, lr=1e200)
    assert model.loss is None and model.optimizer_ is None
    with pytest.raises(fastmlp.DivergenceError):
        model.train_step(X * 1e3, T * 1e200, lr=1e200)
    assert model.loss is None and model.optimizer_ is None and model.step_count == 0
    model.fit(X, labels, epochs=1)
    assert model.loss == "softmax_ce"


def test_a_schedule_refused_in_the_first_epoch_keeps_the_previous_optimizer():
    X, labels, _ = data()
    model = MLP([3, 4, 3], seed=0)
    model.fit(X, labels, epochs=2, optimizer="adam", lr=0.01)
    adam, state, count = model.optimizer_, model.optimizer_.state.copy(), model.step_count
    step = model.stepper(X, labels, optimizer="adam", lr=0.01)
    with pytest.raises(ValueError, match="lr"):
        model.fit(X, labels, epochs=1, optimizer="momentum", lr_schedule=lambda epoch, lr0, loss: -1.0)
    assert model.optimizer_ is adam and model.step_count == count
    np.testing.assert_array_equal(adam.state, state)
    step()  # the adam stepper runs again: its optimizer is the model's
    assert model.step_count == count + 1


def test_pickling_keeps_the_optimizer_state_and_training_continues_identically():
    X, labels, _ = data()
    model = MLP([3, 5, 3], seed=0)
    model.fit(X, labels, epochs=2, optimizer="adam", lr=0.01)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.optimizer_.state, model.optimizer_.state)
    assert copy.step_count == model.step_count
    model.fit(X, labels, epochs=2, optimizer="adam", lr=0.01)
    copy.fit(X, labels, epochs=2, optimizer="adam", lr=0.01)
    np.testing.assert_array_equal(copy.get_flat_params(), model.get_flat_params())


# ---- the training data is converted once per fit -----------------------------------------------------------------

def test_fit_converts_its_arrays_once_however_many_epochs(monkeypatch):
    """Before: the validation arrays were converted again every epoch (12 conversions for 5 epochs)."""
    X, _, T = data(n=40)
    calls = []
    real = validation.as_float_array
    monkeypatch.setattr(validation, "as_float_array", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    counts = []
    for epochs in (1, 5):
        calls.clear()
        MLP([3, 4, 3], loss="mse", seed=0).fit(X[:30], T[:30], epochs=epochs, validation_data=(X[30:], T[30:]))
        counts.append(len(calls))
    assert counts[0] == counts[1] == 4, calls  # X, y, validation X and y: once each


def test_the_models_own_optimizer_object_given_again_carries_on_with_its_options():
    X, labels, _ = data()
    model = MLP([3, 5, 3], seed=0)
    opt = fastmlp.Adam(lr=0.01)
    model.fit(X, labels, epochs=1, batch_size=8, optimizer=opt)
    opt.lr = 0.02  # set on the object: counts from the next call
    history = model.fit(X, labels, epochs=1, batch_size=8, optimizer=opt)
    assert model.optimizer_ is opt and history["lr"] == [0.02] and model.step_count == 6


def test_buffers_on_cache_lines():
    """Parameters, gradients, the optimizer's state (also after pickling) and packed weights start on a 64-byte
    boundary: the kernels' 512-bit loads then never span two cache lines (a misaligned packed W made the one-sample
    forward 1.5x slower)."""
    from fastmlp import _core
    for dtype in (np.float32, np.float64):
        model = fastmlp.MLP([13, 7, 3], dtype=dtype, seed=0)
        model.fit(np.ones((4, 13), dtype), [0, 1, 2, 0], epochs=1, optimizer="momentum")
        copy = pickle.loads(pickle.dumps(model))
        for a in (model._params, model._grads, copy._params, copy._grads, model.optimizer_.state,
                  copy.optimizer_.state):
            assert a.ctypes.data % 64 == 0 and a.flags.c_contiguous and a.flags.writeable and a.dtype == dtype
        np.testing.assert_array_equal(copy._params, model._params)
        assert not fastmlp.MLP([13, 7, 3], dtype=dtype, seed=0)._grads.any()
        W = np.random.default_rng(0).standard_normal((300, 37)).astype(dtype)
        x = np.random.default_rng(1).standard_normal((5, 37)).astype(dtype)
        packed = fastmlp.dense_pack(W)
        assert np.asarray(packed).ctypes.data % 64 == 0
        np.testing.assert_array_equal(fastmlp.dense_forward_packed(x, packed), fastmlp.dense_forward(x, W))
    for shape in (1, 17, (3, 5), (2, 3, 4)):
        for zero in (False, True):
            a = _core._aligned_empty(shape, np.float32, zero=zero)
            assert a.ctypes.data % 64 == 0 and a.shape == ((shape,) if isinstance(shape, int) else shape)
            assert not zero or not a.any()

"""model.stepper(): the bound fast path gives exactly what train_step gives."""
import numpy as np
import pytest

import fastmlp


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_stepper_equals_train_step(dtype, optimizer):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 5)).astype(dtype)
    y = rng.integers(0, 3, size=6)
    a = fastmlp.MLP([5, 7, 3], activation="tanh", dtype=dtype, seed=1)
    b = fastmlp.MLP([5, 7, 3], activation="tanh", dtype=dtype, seed=1)
    step = a.stepper(X, y, lr=0.05, optimizer=optimizer, weight_decay=1e-3)
    for _ in range(5):
        la = step()
        lb = b.train_step(X, y, lr=0.05, optimizer=optimizer, weight_decay=1e-3)
        assert la == lb
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())
    assert a.step_count == b.step_count == step.step_count == 5
    # the counter is shared: train_step after the stepper continues the same Adam step numbering
    a.train_step(X, y, lr=0.05, optimizer=optimizer, weight_decay=1e-3)
    b.train_step(X, y, lr=0.05, optimizer=optimizer, weight_decay=1e-3)
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())


def test_stepper_sees_refilled_batch():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 2)).astype(np.float32)
    t = rng.random((4, 1)).astype(np.float32)
    a = fastmlp.MLP([2, 3, 1], activation="sigmoid", loss="mse", seed=0)
    b = fastmlp.MLP([2, 3, 1], activation="sigmoid", loss="mse", seed=0)
    step = a.stepper(X, t, lr=0.1)
    for _ in range(3):
        X[...] = rng.standard_normal(X.shape)
        step()
        b.train_step(X, t, lr=0.1)
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())


def test_stepper_refuses_divergence_and_keeps_weights():
    X = np.ones((4, 2), dtype=np.float32)
    t = np.ones((4, 1), dtype=np.float32)
    m = fastmlp.MLP([2, 3, 1], activation="identity", loss="mse", seed=0)
    step = m.stepper(X, t, lr=0.1)
    before = m.get_flat_params()
    X[0, 0] = np.inf  # refilled with a non-finite value: the C step refuses it
    with pytest.raises(fastmlp.DivergenceError):
        step()
    np.testing.assert_array_equal(m.get_flat_params(), before)
    assert m.step_count == 0


def test_stepper_validates_once():
    m = fastmlp.MLP([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="features"):
        m.stepper(np.ones((4, 3)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="labels must lie"):
        m.stepper(np.ones((4, 2)), np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="optimizer"):
        m.stepper(np.ones((4, 2)), np.array([0, 1, 0, 1]), optimizer="rmsprop")


def test_verbose_fit_shows_a_tqdm_bar(capsys):
    pytest.importorskip("tqdm")
    from tqdm import tqdm as _tqdm  # noqa: F401
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3)).astype(np.float32)
    y = rng.integers(0, 2, size=20)
    m = fastmlp.MLP([3, 4, 2], seed=0)
    import tqdm.auto
    seen = []
    original = tqdm.auto.tqdm

    class Recording(original):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False  # pytest's captured output is not a terminal
            super().__init__(*args, **kwargs)
            seen.append(self)

    tqdm.auto.tqdm = Recording
    try:
        history = m.fit(X, y, epochs=3, lr=0.1, verbose=True)
    finally:
        tqdm.auto.tqdm = original
    assert len(history["loss"]) == 3
    assert len(seen) == 1 and seen[0].n == 3 and seen[0].total == 3
    assert "epoch" in capsys.readouterr().err

"""The steppers' and train_step's bounds memo (csrc/internal.h fmi_bounds_memo, Optimizer._new_bounds): a step
after a step of the same path scans only the gradient and takes the largest |W| and |state| from the memo. Every
other write of the weights or the optimizer state must make the next step scan them again: here a write puts a
weight (or a velocity) so close to the overflow bound that a full scan refuses the step (DivergenceError, nothing
changed), where a stale memo would let it run."""
import copy

import numpy as np
import pytest

import fastmlp
from fastmlp.errors import DivergenceError

BIG = 8.50e37  # float32: with weight_decay 0.01 and lr 0.1 the bound (a quarter of FLT_MAX, 8.507e37) refuses it
OPTS = dict(lr=0.1, optimizer="momentum", momentum=0.9, weight_decay=0.01)


def _model_and_batch():
    rng = np.random.default_rng(0)
    model = fastmlp.MLP([3, 4, 2], loss="mse", dtype="float32", seed=0)
    X = rng.standard_normal((8, 3)).astype(np.float32)
    X[:, 0] = 0.0  # the first input column is 0: W0[:, 0] meets no input, so a huge value there leaves the loss finite
    t = (rng.standard_normal((8, 2)) * 0.1).astype(np.float32)
    return model, X, t


def _write_view(model):
    model.params[0][0][0, 0] = BIG


def _write_view_kept(model):
    views = model.params
    views[0][0][0, 0] = BIG
    return views  # alive while the step runs


def _write_flat(model):
    flat = model.get_flat_params()
    flat[0] = BIG
    model.set_flat_params(flat)


WRITES = {"view": _write_view, "view kept": _write_view_kept, "set_flat_params": _write_flat}


def _steppers(model, X, t):
    step = model.stepper(X, t, **OPTS)
    return {"stepper": step, "train_step": lambda: model.train_step(X, t, **OPTS)}


@pytest.mark.parametrize("path", ["stepper", "train_step"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_write_of_the_weights_is_seen_by_the_next_step(path, write):
    model, X, t = _model_and_batch()
    run = _steppers(model, X, t)[path]
    for _ in range(3):  # the memo is valid from the second step on
        run()
    keep = WRITES[write](model)
    before = model.get_flat_params()
    with pytest.raises(DivergenceError):
        run()
    np.testing.assert_array_equal(model.get_flat_params(), before)
    del keep


@pytest.mark.parametrize("path", ["stepper", "train_step"])
def test_the_same_write_without_steps_before_is_refused_too(path):
    """The control: a fresh step (full scan) refuses the same weights."""
    model, X, t = _model_and_batch()
    _write_view(model)
    run = _steppers(model, X, t)[path]
    with pytest.raises(DivergenceError):
        run()


@pytest.mark.parametrize("path", ["stepper", "train_step"])
def test_a_restored_state_is_seen_by_the_next_step(path):
    """optimizer.restore writes the velocity: a value whose next velocity passes the bound is refused."""
    model, X, t = _model_and_batch()
    run = _steppers(model, X, t)[path]
    for _ in range(3):
        run()
    opt = model.optimizer_
    state, count = opt.snapshot()
    state[0] = 9.46e37  # 0.9 * v passes a quarter of FLT_MAX
    opt.restore((state, count))
    before = model.get_flat_params()
    with pytest.raises(DivergenceError):
        run()
    np.testing.assert_array_equal(model.get_flat_params(), before)


@pytest.mark.parametrize("path", ["stepper", "train_step"])
def test_steps_with_the_memo_match_steps_that_scan(path):
    """The same steps on two models, one holding a view of its weights all along (its steps always scan): the same
    bits after every step, fit epochs in between included."""
    (a, X, t), (b, _, _) = _model_and_batch(), _model_and_batch()
    views = b.params  # noqa: F841 -- alive: b's steps never use the memo
    ra, rb = _steppers(a, X, t)[path], _steppers(b, X, t)[path]
    for k in range(6):
        assert ra() == rb()
        if k == 2:
            a.fit(X, t, epochs=1, batch_size=4, **OPTS)
            b.fit(X, t, epochs=1, batch_size=4, **OPTS)
        np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())
        np.testing.assert_array_equal(a.optimizer_.state, b.optimizer_.state)


def test_an_optimizer_copy_has_its_own_memo():
    model, X, t = _model_and_batch()
    step = model.stepper(X, t, **OPTS)
    step()
    step()
    opt = model.optimizer_
    twin = copy.deepcopy(opt)
    assert twin._bounds is not opt._bounds and twin._bounds_version is not opt._bounds_version
    assert twin._bounds[0] == 0.0  # knows nothing of any weights
    assert opt._bounds[0] == 1.0  # the original's memo is valid after two steps

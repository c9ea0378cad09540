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

OPTS = {"momentum": dict(lr=0.1, optimizer="momentum", momentum=0.9, weight_decay=0.01),
        "adam": dict(lr=0.1, optimizer="adam", weight_decay=0.01)}
CASES = [("momentum", "float32"), ("adam", "float64")]


def _big(dtype):
    """A weight just under the bound (a quarter of the type's largest value): with weight_decay 0.01 and lr 0.1 a
    full scan refuses the step (the weight decay's term alone could carry it past), a stale memo would not."""
    return 0.9992 * float(np.finfo(dtype).max) / 4


def _model_and_batch(dtype="float32"):
    rng = np.random.default_rng(0)
    model = fastmlp.MLP([3, 64, 64, 2], loss="mse", dtype=dtype, seed=0)  # 4546 parameters: steps keep a memo
    X = rng.standard_normal((8, 3)).astype(dtype)
    X[:, 0] = 0.0  # the first input column is 0: W0[:, 0] meets no input, so a huge value there leaves the loss finite
    t = (rng.standard_normal((8, 2)) * 0.1).astype(dtype)
    return model, X, t


def _write_view(model, big):
    model.params[0][0][0, 0] = big


def _write_view_kept(model, big):
    views = model.params
    views[0][0][0, 0] = big
    return views  # alive while the step runs


def _write_flat(model, big):
    flat = model.get_flat_params()
    flat[0] = big
    model.set_flat_params(flat)


WRITES = {"view": _write_view, "view kept": _write_view_kept, "set_flat_params": _write_flat}


def _steppers(model, X, t, opt="momentum"):
    step = model.stepper(X, t, **OPTS[opt])
    return {"stepper": step, "train_step": lambda: model.train_step(X, t, **OPTS[opt])}


@pytest.mark.parametrize("opt,dtype", CASES)
@pytest.mark.parametrize("path", ["stepper", "train_step"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_write_of_the_weights_is_seen_by_the_next_step(path, write, opt, dtype):
    model, X, t = _model_and_batch(dtype)
    run = _steppers(model, X, t, opt)[path]
    for _ in range(3):  # the memo is valid from the second step on
        run()
    keep = WRITES[write](model, _big(dtype))
    before = model.get_flat_params()
    with pytest.raises(DivergenceError):
        run()
    np.testing.assert_array_equal(model.get_flat_params(), before)
    del keep


@pytest.mark.parametrize("opt,dtype", CASES)
@pytest.mark.parametrize("path", ["stepper", "train_step"])
def test_a_write_through_views_alive_across_steps_is_seen_after_they_are_dropped(path, opt, dtype):
    """Steps while a view is alive keep no memo: a write through the view, then the view dropped, then a step."""
    model, X, t = _model_and_batch(dtype)
    run = _steppers(model, X, t, opt)[path]
    views = model.params
    run()
    run()
    views[0][0][0, 0] = _big(dtype)
    del views
    before = model.get_flat_params()
    with pytest.raises(DivergenceError):
        run()
    np.testing.assert_array_equal(model.get_flat_params(), before)


@pytest.mark.parametrize("opt,dtype", CASES)
@pytest.mark.parametrize("path", ["stepper", "train_step"])
def test_the_same_write_without_steps_before_is_refused_too(path, opt, dtype):
    """The control: a fresh step (full scan) refuses the same weights."""
    model, X, t = _model_and_batch(dtype)
    _write_view(model, _big(dtype))
    run = _steppers(model, X, t, opt)[path]
    with pytest.raises(DivergenceError):
        run()


@pytest.mark.parametrize("opt,dtype", CASES)
@pytest.mark.parametrize("path", ["stepper", "train_step"])
def test_a_restored_state_is_seen_by_the_next_step(path, opt, dtype):
    """optimizer.restore writes the state: a velocity (Adam: a first moment) whose next value passes the bound is
    refused."""
    model, X, t = _model_and_batch(dtype)
    run = _steppers(model, X, t, opt)[path]
    for _ in range(3):
        run()
    opt_obj = model.optimizer_
    state, count = opt_obj.snapshot()
    state[0] = 1.12 * float(np.finfo(dtype).max) / 4
    opt_obj.restore((state, count))
    before = model.get_flat_params()
    with pytest.raises(DivergenceError):
        run()
    np.testing.assert_array_equal(model.get_flat_params(), before)


@pytest.mark.parametrize("path", ["stepper", "train_step"])
def test_steps_with_the_memo_match_steps_that_scan(path):
    """The same steps on two models, one holding a view of its weights all along (its steps always scan): the same
    bits after every step, fit epochs in between included (the memo's update runs forward, a scanning one
    backward: each element is computed on its own either way)."""
    (a, X, t), (b, _, _) = _model_and_batch(), _model_and_batch()
    views = b.params  # noqa: F841 -- alive: b's steps never use the memo
    ra, rb = _steppers(a, X, t)[path], _steppers(b, X, t)[path]
    for k in range(6):
        assert ra() == rb()
        if k == 2:
            a.fit(X, t, epochs=1, batch_size=4, **OPTS["momentum"])
            b.fit(X, t, epochs=1, batch_size=4, **OPTS["momentum"])
        np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())
        np.testing.assert_array_equal(a.optimizer_.state, b.optimizer_.state)


def test_an_optimizer_copy_has_its_own_memo():
    model, X, t = _model_and_batch()
    step = model.stepper(X, t, **OPTS["momentum"])
    step()
    step()
    opt = model.optimizer_
    twin = copy.deepcopy(opt)
    assert twin._bounds is not opt._bounds and twin._bounds_version is not opt._bounds_version
    assert twin._bounds[0] == 0.0  # knows nothing of any weights
    assert opt._bounds[0] == 1.0  # the original's memo is valid after two steps


def test_a_small_network_keeps_no_memo():
    """Under 4096 parameters a step scans all: the memo's bookkeeping would cost more than it saves."""
    rng = np.random.default_rng(1)
    model = fastmlp.MLP([3, 4, 2], loss="mse", seed=0)
    step = model.stepper(rng.standard_normal((8, 3)).astype(np.float32),
                         rng.standard_normal((8, 2)).astype(np.float32), **OPTS["momentum"])
    step()
    step()
    assert model.optimizer_._bounds[0] == 0.0


# 8451 parameters (a memo; the update on one thread) and 266610 (past FM_PAR_MIN_UPDATE: on two threads)
ONE_ROW_NETS = {"small": [20, 96, 64, 3], "large": [784, 300, 100, 10]}


def _one_row_pair(dtype, opt, net="small"):
    rng = np.random.default_rng(3)
    sizes = ONE_ROW_NETS[net]
    a, b = (fastmlp.MLP(sizes, dtype=dtype, seed=0) for _ in range(2))
    x = rng.standard_normal((1, sizes[0])).astype(dtype)
    y = np.array([2])
    return a, b, x, y


@pytest.fixture
def two_threads():
    before = fastmlp._core.get_num_threads()
    fastmlp._core.set_num_threads(2)
    yield
    fastmlp._core.set_num_threads(before)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("net", sorted(ONE_ROW_NETS))
def test_one_row_steps_take_the_gradient_bound_from_the_vectors(dtype, opt, net, two_threads):
    """A step on one dense row with a valid memo finds max |gradient| from the layers' vectors (max |dz| max |x|:
    mlp.inc one_row_gmax) instead of scanning the gradient: the same bits as steps that scan (the other model
    holds a view of its weights, so its steps never use the memo), the stepper's and fit's (batch_size=1) alike,
    and the same verdict where an input scaled towards the type's largest value carries the gradient past the
    bound (both refuse, with nothing changed) or not (both run)."""
    kw = dict(lr=0.05) if opt == "sgd" else dict(OPTS.get(opt, {}), lr=0.05)
    a, b, x, y = _one_row_pair(dtype, opt, net)
    views = b.params  # noqa: F841 -- alive: b's steps always scan
    sa, sb = a.stepper(x, y, **kw), b.stepper(x, y, **kw)
    for _ in range(4):
        assert sa() == sb()
    a.fit(np.repeat(x, 5, axis=0), np.repeat(y, 5), epochs=2, batch_size=1, **kw)
    b.fit(np.repeat(x, 5, axis=0), np.repeat(y, 5), epochs=2, batch_size=1, **kw)
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())
    np.testing.assert_array_equal(a.optimizer_.state, b.optimizer_.state)
    # the verdict at the bound: bisect the input's scale at which a scanning step starts to refuse, then the memo's
    # step (after a step that makes the memo valid) must run just below it and refuse just above it
    big_lr = dict(kw, lr=1e4)  # the update's bound, not the loss, refuses first as the input grows

    def probe(scan, e):
        model, _, _, _ = _one_row_pair(dtype, opt, net)
        views = model.params if scan else None  # noqa: F841
        for _ in range(2):  # steps that leave the memo valid (a path's first step binds the optimizer; x 0: only
            model.train_step(np.zeros_like(x), y, **big_lr)  # the biases move)
        assert scan or model.optimizer_._bounds[0] == 1.0
        before = model.get_flat_params()
        xs = x.copy()
        xs[0, 0] = 10.0 ** e
        try:
            model.train_step(xs, y, **big_lr)
            return "ran", model.get_flat_params()
        except DivergenceError:
            np.testing.assert_array_equal(model.get_flat_params(), before)
            return "refused", before

    top = np.log10(float(np.finfo(dtype).max))
    lo, hi = 0.0, top - 0.01
    assert probe(True, lo)[0] == "ran" and probe(True, hi)[0] == "refused"
    for _ in range(48):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if probe(True, mid)[0] == "ran" else (lo, mid)
    for e, verdict in ((lo, "ran"), (hi, "refused")):
        (va, pa), (vb, pb) = probe(False, e), probe(True, e)
        assert va == vb == verdict, (e, va, vb)
        np.testing.assert_array_equal(pa, pb)

"""Sample weights, scikit-learn's alpha (scale_penalty) and the Poisson loss in the core: the network functions
against their reference twins, finite-difference gradients, a hand computation of scikit-learn's update, and
refusals of bad input (ValueError naming the problem, nothing written)."""
import numpy as np
import pytest

import fastmlp
import fastmlp.reference as R
from fastmlp._core import OptimConfig, _Net
from kernels import flat
from test_mlp import (CONFIGS, CONFIG_IDS, OPTIMIZERS, close, counter, cfg, random_batch, random_params, ref_net,
                      ref_opt)

DTYPES = [np.float32, np.float64]
WCONFIGS = CONFIGS + [("poisson", [4, 6, 3], ["tanh", "identity"])]
WIDS = CONFIG_IDS + ["poisson-4-6-3"]


def batch(rng, sizes, loss, n, dtype):
    if loss == "poisson":
        x = rng.uniform(-1.5, 1.5, size=(n, sizes[0])).astype(dtype)
        return x, rng.poisson(1.5, size=(n, sizes[-1])).astype(dtype), None
    return random_batch(rng, sizes, loss, n, dtype)


def weights(rng, n, dtype, zeros=True):
    sw = rng.uniform(0.2, 3.0, size=n)
    if zeros:
        sw[rng.integers(n)] = 0.0
    return sw.astype(dtype)


def ty(t, y):
    return flat(t), None if y is None else [int(v) for v in y]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,sizes,acts", WCONFIGS, ids=WIDS)
def test_weighted_loss_grad_matches_reference(loss, sizes, acts, dtype):
    rng = np.random.default_rng(11)
    n = 7
    params = random_params(rng, sizes, dtype)
    x, t, y = batch(rng, sizes, loss, n, dtype)
    sw = weights(rng, n, dtype)
    net = _Net(sizes, acts, loss, dtype)
    grads = np.full(net.n_params, np.nan, dtype=dtype)
    value = net.loss_grad(params, grads, x, t, y, sw)
    grads_r, loss_r = [0.0] * net.n_params, [0.0]
    R.mlp_loss_grad(ref_net(sizes, acts, loss), flat(params), flat(x), *ty(t, y), flat(sw), grads_r, loss_r, None, n, n)
    assert max(abs(g) for g in grads_r) > 1e-3
    close(value, loss_r[0], dtype, f"weighted loss {loss}")
    close(grads, grads_r, dtype, f"weighted grads {loss}")
    # a weight of 2 is the row given twice; weight 0 is the row left out
    keep = np.flatnonzero(sw > 0)
    if dtype == np.float64:
        w2 = (sw > 0).astype(dtype) * 1.0
        w2[keep[0]] = 2.0
        rows = np.concatenate([keep, [keep[0]]])
        g1, g2 = np.zeros(net.n_params), np.zeros(net.n_params)
        l1 = net.loss_grad(params, g1, x, t, y, w2)
        l2 = net.loss_grad(params, g2, np.ascontiguousarray(x[rows]), None if t is None else np.ascontiguousarray(t[rows]),
                           None if y is None else np.ascontiguousarray(y[rows]))
        np.testing.assert_allclose([l1], [l2], rtol=1e-13)
        np.testing.assert_allclose(g1, g2, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("loss,sizes,acts", WCONFIGS, ids=WIDS)
def test_weighted_gradient_finite_differences(loss, sizes, acts):
    rng = np.random.default_rng(12)
    n = 6
    params = random_params(rng, sizes, np.float64)
    x, t, y = batch(rng, sizes, loss, n, np.float64)
    sw = weights(rng, n, np.float64)
    net = _Net(sizes, acts, loss, np.float64)
    grads = np.zeros(net.n_params)
    net.loss_grad(params, grads, x, t, y, sw)
    num = np.zeros_like(grads)
    eps = 1e-6
    for i in range(net.n_params):
        p = params.copy()
        p[i] += eps
        up = net.loss_grad(p, None, x, t, y, sw)
        p[i] -= 2 * eps
        num[i] = (up - net.loss_grad(p, None, x, t, y, sw)) / (2 * eps)
    assert np.max(np.abs(num)) > 1e-3
    np.testing.assert_allclose(grads, num, rtol=1e-5, atol=1e-7 * np.max(np.abs(num)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("loss,sizes,acts", [WCONFIGS[0], WCONFIGS[-1]], ids=[WIDS[0], WIDS[-1]])
def test_weighted_steps_and_epochs_match_reference(loss, sizes, acts, scale, opt_name, dtype):
    rng = np.random.default_rng(13)
    opt = dict(OPTIMIZERS[opt_name])
    net = _Net(sizes, acts, loss, dtype)
    rnet, ropt = ref_net(sizes, acts, loss), ref_opt(opt)
    ropt.scale_penalty = scale
    c = OptimConfig(opt.pop("optimizer"), dtype, scale_penalty=scale, **opt)
    params = random_params(rng, sizes, dtype)
    grads = np.zeros(net.n_params, dtype=dtype)
    state, steps = np.zeros(net.state_size(c), dtype=dtype), counter()
    params_r, grads_r, state_r = flat(params), [0.0] * net.n_params, [0.0] * len(state)
    for step in range(1, 4):
        x, t, y = batch(rng, sizes, loss, 6, dtype)
        sw = weights(rng, 6, dtype)
        value = net.train_step(params, grads, c, state, steps, x, t, y, sw)
        loss_r = [0.0]
        R.mlp_train_step(rnet, ropt, flat(x), *ty(t, y), flat(sw), params_r, state_r, grads_r, loss_r, None, 6, 6, step)
        close(value, loss_r[0], dtype, f"step {step} loss")
        close(params, params_r, dtype, f"step {step} params")
    # an epoch with sample weights; samples 2 and 5 weigh 0 and order [2, 5] forms a batch of zero weight (skipped)
    n, bsize = 8, 2
    X, T, Y = batch(rng, sizes, loss, n, dtype)
    sw = weights(rng, n, dtype, zeros=False)
    sw[[2, 5]] = 0
    order = np.array([0, 1, 2, 5, 7, 3, 4, 6], dtype=np.int64)
    step_r = [int(steps[0])]
    mean = net.train_epoch(params, grads, c, state, steps, X, T, Y, order, bsize, sw)
    mean_r = [0.0]
    R.mlp_train_epoch(rnet, ropt, flat(X), *ty(T, Y), flat(sw), [int(i) for i in order], params_r, state_r, grads_r,
                      step_r, mean_r, None, n, n, bsize)
    assert int(steps[0]) == step_r[0] == 3 + 3  # 4 batches, one skipped
    close(mean, mean_r[0], dtype, "epoch mean")
    close(params, params_r, dtype, "epoch params")


def test_sw_none_is_the_unweighted_path():
    """sw=None takes the unweighted code: unit weights agree to rounding only, None and the old call agree bit for
    bit (the one the tests before this change pinned against the reference)."""
    rng = np.random.default_rng(14)
    sizes, acts = [5, 7, 3], ["relu", "identity"]
    for loss in ("mse", "softmax_ce", "sigmoid_bce"):
        net = _Net(sizes, acts, loss, np.float32)
        params = random_params(rng, sizes, np.float32)
        x, t, y = random_batch(rng, sizes, loss, 9, np.float32)
        g0, g1 = np.zeros(net.n_params, np.float32), np.zeros(net.n_params, np.float32)
        l0 = net.loss_grad(params, g0, x, t, y)
        l1 = net.loss_grad(params, g1, x, t, y, np.ones(9, np.float32))
        np.testing.assert_allclose(g0, g1, rtol=1e-5, atol=1e-7)
        assert abs(l0 - l1) <= 1e-6 * abs(l0)


@pytest.mark.parametrize("opt_name", ["sgd", "momentum", "adam"])
def test_scale_penalty_is_sklearn_alpha(opt_name):
    """One step with scale_penalty: the gradient scikit-learn's MLP uses, mean_weighted_grad + alpha W / S on the
    weights (plain on the biases), and its loss, mean_weighted_loss + 0.5 alpha ||W||^2 / S, by hand in numpy."""
    rng = np.random.default_rng(15)
    sizes, acts = [4, 6, 2], ["relu", "identity"]
    net = _Net(sizes, acts, "mse", np.float64)
    params = random_params(rng, sizes, np.float64)
    x, t, _ = random_batch(rng, sizes, "mse", 5, np.float64)
    sw = np.array([1.0, 0.5, 2.0, 0.0, 1.5])
    S, alpha, lr = sw.sum(), 0.3, 0.1
    g = np.zeros(net.n_params)
    plain = net.loss_grad(params, g, x, t, None, sw)
    wmask = np.zeros(net.n_params, bool)
    off = 0
    for i, o in zip(sizes[:-1], sizes[1:]):
        wmask[off: off + o * i] = True
        off += o * i + o
    geff = g + np.where(wmask, alpha * params / S, 0.0)
    want_loss = plain + 0.5 * alpha * np.sum(params[wmask] ** 2) / S
    options = dict(sgd=dict(), momentum=dict(momentum=0.9), adam=dict())[opt_name]
    c = OptimConfig(opt_name, np.float64, lr=lr, weight_decay=alpha, scale_penalty=True, **options)
    assert c.scale_penalty
    p, state = params.copy(), np.zeros(net.state_size(c))
    got = net.train_step(p, np.zeros(net.n_params), c, state, counter(), x, t, None, sw)
    if opt_name == "adam":  # first Adam step: m = (1-b1) g, v = (1-b2) g^2, bias-corrected
        m, v = 0.1 * geff, 0.001 * geff ** 2
        want = params - lr / 0.1 * m / (np.sqrt(v) / np.sqrt(0.001) + 1e-8)
    else:  # first step, zero velocity: v = g, W -= lr v
        want = params - lr * geff
    np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-15)
    assert abs(got - want_loss) <= 1e-13 * want_loss
    # without scale_penalty the loss is the plain one and the penalty unscaled
    c0 = OptimConfig(opt_name, np.float64, lr=lr, weight_decay=alpha, **options)
    assert not c0.scale_penalty
    p0 = params.copy()
    assert net.train_step(p0, np.zeros(net.n_params), c0, np.zeros(net.state_size(c0)), counter(), x, t, None,
                          sw) == plain
    with pytest.raises(TypeError, match="scale_penalty"):
        OptimConfig("sgd", np.float64, lr=0.1, scale_penalty=1)


def test_epoch_scale_penalty_uses_each_batch_weight_sum():
    """In an epoch each batch divides alpha by its own weight sum (its row count without weights)."""
    rng = np.random.default_rng(16)
    sizes, acts = [3, 4, 2], ["tanh", "identity"]
    net = _Net(sizes, acts, "mse", np.float64)
    params = random_params(rng, sizes, np.float64)
    X, T, _ = random_batch(rng, sizes, "mse", 5, np.float64)
    c = OptimConfig("sgd", np.float64, lr=0.05, weight_decay=0.2, scale_penalty=True)
    p1, p2 = params.copy(), params.copy()
    order = np.arange(5, dtype=np.int64)
    mean = net.train_epoch(p1, np.zeros(net.n_params), c, np.zeros(0), counter(), X, T, None, order, 3)
    losses = []
    for rows in (slice(0, 3), slice(3, 5)):
        losses.append(net.train_step(p2, np.zeros(net.n_params), c, np.zeros(0), counter(), X[rows], T[rows], None))
    np.testing.assert_array_equal(p1, p2)
    assert mean == (losses[0] * 3 + losses[1] * 2) / 5


@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_kernel_is_sklearn_poisson_loss(dtype):
    """loss_poisson(z, t) equals scikit-learn's poisson_loss(t, exp(z)) (its formula, written out here)."""
    rng = np.random.default_rng(17)
    z = rng.uniform(-2, 2, size=(9, 3)).astype(dtype)
    t = rng.poisson(2.0, size=(9, 3)).astype(dtype)
    sw = rng.uniform(0, 2, size=9).astype(dtype)
    mu = np.exp(z.astype(np.float64))
    t64 = t.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        xlogy = np.where(t64 > 0, t64 * np.log(t64 / mu), 0.0)
    per = (xlogy - t64 + mu).sum(axis=1)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    loss, dz = fastmlp.loss_poisson(z, t)
    np.testing.assert_allclose(loss, per.mean(), rtol=rtol)
    np.testing.assert_allclose(dz, (mu - t64) / 9, rtol=10 * rtol, atol=rtol)
    loss, dz = fastmlp.loss_poisson(z, t, sw=sw)
    np.testing.assert_allclose(loss, np.average(per, weights=sw.astype(np.float64)), rtol=rtol)


def test_bad_weights_and_targets_are_refused_without_writes():
    rng = np.random.default_rng(18)
    sizes, acts = [3, 4, 2], ["tanh", "identity"]
    net = _Net(sizes, acts, "poisson", np.float64)
    params = random_params(rng, sizes, np.float64)
    x = rng.standard_normal((4, 3))
    t = np.ones((4, 2))
    c = OptimConfig("sgd", np.float64, lr=0.1)
    cases = [
        (np.array([1.0, -1.0, 1.0, 1.0]), "sample weights must be >= 0"),
        (np.array([1.0, np.nan, 1.0, 1.0]), "NaN or Inf"),
        (np.array([1.0, np.inf, 1.0, 1.0]), "NaN or Inf"),
        (np.ones(3), "one sample weight per row"),
        (np.zeros(4), "positive, finite sum"),
        (np.ones(4, np.float32), "dtype float64"),
        ([1.0, 1.0, 1.0, 1.0], "numpy.ndarray"),
    ]
    for sw, words in cases:
        p, g = params.copy(), np.full(net.n_params, 7.0)
        with pytest.raises((ValueError, TypeError), match=words):
            net.train_step(p, g, c, np.zeros(0), counter(), x, t, None, sw)
        with pytest.raises((ValueError, TypeError), match=words):
            net.loss_grad(p, g, x, t, None, sw)
        np.testing.assert_array_equal(p, params)
        assert np.all(g == 7.0)
    tneg = t.copy()
    tneg[1, 0] = -1
    with pytest.raises(ValueError, match="Poisson loss needs targets >= 0"):
        net.train_step(params.copy(), np.zeros(net.n_params), c, np.zeros(0), counter(), x, tneg, None)
    with pytest.raises(ValueError, match="Poisson loss needs targets >= 0"):
        fastmlp.loss_poisson(x[:, :2].copy(), tneg)
    # an epoch refuses a negative weight but takes zeros (that batch is skipped)
    order = np.arange(4, dtype=np.int64)
    with pytest.raises(ValueError, match=">= 0"):
        net.train_epoch(params.copy(), np.zeros(net.n_params), c, np.zeros(0), counter(), x, t, None, order, 2,
                        np.array([1.0, -1.0, 1.0, 1.0]))
    steps, p = counter(), params.copy()
    net.train_epoch(p, np.zeros(net.n_params), c, np.zeros(0), steps, x, t, None, order, 2, np.zeros(4))
    assert steps[0] == 0 and np.array_equal(p, params)
    for name, call in (("loss_mse", lambda sw: fastmlp.loss_mse(x, x, sw=sw)),
                       ("loss_softmax_ce", lambda sw: fastmlp.loss_softmax_ce(x, np.zeros(4, np.int64), sw=sw))):
        with pytest.raises(ValueError, match="sample weights must be >= 0"):
            call(np.array([1.0, -1.0, 1.0, 1.0]))


def test_poisson_in_vocabulary_and_core():
    from fastmlp.vocabulary import CORE_LOSSES, LOGIT_LOSSES
    from fastmlp._core import C_ENUMS
    assert CORE_LOSSES.index("poisson") == 3 and "poisson" in LOGIT_LOSSES
    assert C_ENUMS["fm_loss"] == CORE_LOSSES
    with pytest.raises(ValueError, match="identity"):
        _Net([3, 2], ["relu"], "poisson", np.float64)


def test_the_penalty_sums_in_the_reference_order_bit_for_bit():
    """The batch loss with scikit-learn's alpha on (scale_penalty) is the data loss plus the penalty, summed in 16
    lanes (csrc/optim.inc pen_body, reference/mlp.py _penalty). Layers under 256 weights take the plain loops,
    whose forward is the reference's own arithmetic, and the MSE loss sums as the reference does: so in float64 the
    whole loss is bit-equal, which pins the lanes' order (one chain in parameter order gives other bits)."""
    rng = np.random.default_rng(21)
    sizes, acts = [20, 12, 2], ["tanh", "identity"]  # 240 and 24 weights: both layers plain, lanes wrap many times
    net, rnet = _Net(sizes, acts, "mse", np.float64), ref_net(sizes, acts, "mse")
    opt = dict(optimizer="sgd", lr=0.01, weight_decay=0.3, l1=0.02)
    ropt = ref_opt(opt)
    ropt.scale_penalty = True
    c = OptimConfig(opt.pop("optimizer"), np.float64, scale_penalty=True, **opt)
    params = rng.uniform(-3.0, 3.0, size=net.n_params)
    grads, state, steps = np.zeros(net.n_params), np.zeros(0), counter()
    params_r, grads_r = flat(params), [0.0] * net.n_params
    x, t = rng.standard_normal((5, 20)), rng.standard_normal((5, 2))
    value = net.train_step(params, grads, c, state, steps, x, t, None)
    loss_r = [0.0]
    R.mlp_train_step(rnet, ropt, flat(x), flat(t), None, None, params_r, [], grads_r, loss_r, None, 5, 5, 1)
    assert value == loss_r[0]

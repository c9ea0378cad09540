"""Analytic gradients of a dense layer + loss against central finite differences (float64), and one SGD step
worked by hand."""
import numpy as np
import pytest

import fastmlp
from kernels import ACTS

LOSSES = ("mse", "softmax_ce", "sigmoid_bce")


def layer_loss(x, W, b, act, loss, target):
    p = fastmlp.dense_forward(x, W, b, act)
    if loss == "mse":
        value, dp = fastmlp.loss_mse(p, target)
    elif loss == "softmax_ce":
        value, dp = fastmlp.loss_softmax_ce(p, target)
    else:
        value, dp = fastmlp.loss_sigmoid_bce(p, target)
    return value, p, dp


def central_difference(f, a, eps):
    """d f / d a by central differences, one element at a time (a is modified and restored)."""
    g = np.zeros_like(a)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g


def rel_error(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layer_gradients_match_finite_differences(act, loss, seed):
    rng = np.random.default_rng(seed)
    n, n_in, n_out = 5, 4, 3
    x = rng.standard_normal((n, n_in))
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    # keep ReLU pre-activations away from the kink, where finite differences are not defined
    z = x @ W.T + b
    b += np.where(np.abs(z).min(0) < 1e-2, 0.05, 0.0)
    if loss == "mse":
        target = rng.standard_normal((n, n_out))
    elif loss == "softmax_ce":
        target = rng.integers(0, n_out, size=n)
    else:
        target = rng.uniform(0, 1, size=(n, n_out))

    _, p, dp = layer_loss(x, W, b, act, loss, target)
    dW, db, dx = fastmlp.dense_backward(x, W, p, dp, act)
    f = lambda: layer_loss(x, W, b, act, loss, target)[0]  # noqa: E731
    eps = 1e-6
    for name, analytic, param in (("W", dW, W), ("b", db, b), ("x", dx, x)):
        numeric = central_difference(f, param, eps)
        # guard: an all-zero gradient would pass vacuously
        assert np.max(np.abs(numeric)) > 1e-3, f"{name}: numeric gradient vanished"
        err = rel_error(analytic, numeric)
        assert err <= 1e-6, f"{act}/{loss} d{name}: relative error {err:.3g}"


def test_finite_difference_step_of_the_seeds():
    """Source document 002 approximates the derivative with a step of 0.001: in float64 the analytic gradient
    agrees with that coarse difference to O(step^2)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    W = rng.standard_normal((2, 3))
    b = rng.standard_normal(2)
    t = rng.standard_normal((4, 2))
    _, p, dp = layer_loss(x, W, b, "tanh", "mse", t)
    dW, _, _ = fastmlp.dense_backward(x, W, p, dp, "tanh")
    numeric = central_difference(lambda: layer_loss(x, W, b, "tanh", "mse", t)[0], W, 1e-3)
    assert rel_error(dW, numeric) < 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_sgd_step_by_hand(dtype):
    """x = (1, 2), W = (0.5, -0.25), b = 0.1, target 1, identity output, squared error, lr = 0.1:
    p = 0.5 - 0.5 + 0.1 = 0.1; loss = 0.5 (0.1 - 1)^2 = 0.405; dp = -0.9;
    dW = dp x = (-0.9, -1.8); db = -0.9; W' = (0.59, -0.07); b' = 0.19."""
    x = np.array([[1.0, 2.0]], dtype=dtype)
    W = np.array([[0.5, -0.25]], dtype=dtype)
    b = np.array([0.1], dtype=dtype)
    t = np.array([[1.0]], dtype=dtype)
    p = fastmlp.dense_forward(x, W, b, "identity")
    loss, dp = fastmlp.loss_mse(p, t)
    dW, db, dx = fastmlp.dense_backward(x, W, p, dp, "identity")
    fastmlp.sgd_update(W, dW, lr=0.1)
    fastmlp.sgd_update(b, db, lr=0.1)
    tol = dict(rtol=1e-6) if dtype == np.float32 else dict(rtol=1e-15)
    np.testing.assert_allclose(p, [[0.1]], **tol)
    assert abs(loss - 0.405) <= 1e-6 if dtype == np.float32 else abs(loss - 0.405) <= 1e-15
    np.testing.assert_allclose(dp, [[-0.9]], **tol)
    np.testing.assert_allclose(dW, [[-0.9, -1.8]], **tol)
    np.testing.assert_allclose(db, [-0.9], **tol)
    np.testing.assert_allclose(dx, [[-0.45, 0.225]], **tol)
    np.testing.assert_allclose(W, [[0.59, -0.07]], **tol)
    np.testing.assert_allclose(b, [0.19], **tol)


def test_sgd_step_equals_minus_lr_times_numeric_gradient():
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    W, b = rng.standard_normal((2, 4)), rng.standard_normal(2)
    numeric = central_difference(lambda: layer_loss(x, W, b, "sigmoid", "mse", t)[0], W, 1e-6)
    before = W.copy()
    _, p, dp = layer_loss(x, W, b, "sigmoid", "mse", t)
    dW, _, _ = fastmlp.dense_backward(x, W, p, dp, "sigmoid")
    fastmlp.sgd_update(W, dW, lr=0.3)
    np.testing.assert_allclose(W - before, -0.3 * numeric, rtol=1e-7, atol=1e-12)


def test_momentum_and_adam_by_hand():
    W = np.array([1.0, -2.0])
    g = np.array([0.5, 0.25])
    v = np.zeros(2)
    fastmlp.sgd_update(W, g, v, lr=0.1, momentum=0.9)          # v = g, W -= 0.1 g
    fastmlp.sgd_update(W, g, v, lr=0.1, momentum=0.9)          # v = 1.9 g, W -= 0.19 g
    np.testing.assert_allclose(v, 1.9 * g, rtol=1e-15)
    np.testing.assert_allclose(W, [1.0 - 0.29 * 0.5, -2.0 - 0.29 * 0.25], rtol=1e-15)
    W2, m2, v2 = np.array([1.0]), np.zeros(1), np.zeros(1)
    fastmlp.adam_update(W2, np.array([0.3]), m2, v2, 1, lr=0.01)
    # first Adam step: m_hat = g, v_hat = g^2, so W moves by lr * g / (|g| + eps) = lr (sign of g)
    np.testing.assert_allclose(W2, [1.0 - 0.01 * 0.3 / (0.3 + 1e-8)], rtol=1e-14)

"""fastmlp.derivative (source document 002's central difference), numerical_jacobian, and the exact input gradients
(jacobian, input_gradient) of a network through the backward pass, checked against finite differences."""
import numpy as np
import pytest

import fastmlp
from fastmlp.derivatives import check

DTYPES = ("float32", "float64")


def test_derivative_is_the_seeds_formula_on_scalars():
    f = lambda x: x ** 3           # noqa: E731
    got = fastmlp.derivative(f, 2.0)
    assert isinstance(got, float)
    assert got == pytest.approx(((2.001) ** 3 - (1.999) ** 3) / 0.002, rel=1e-12)
    # truncation error of the central difference on a cubic is exactly delta^2 (f''' = 6, error f''' d^2 / 6)
    assert got - 12.0 == pytest.approx(1e-6, abs=1e-10)   # plus rounding, ~eps |f| / delta ~ 2e-12
    assert fastmlp.derivative(np.sin, 0.5, delta=1e-5) == pytest.approx(np.cos(0.5), abs=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_derivative_is_elementwise_on_arrays_and_keeps_the_dtype(dtype):
    x = np.linspace(-2, 2, 9).astype(dtype)
    d = fastmlp.derivative(np.tanh, x)
    assert d.shape == x.shape and d.dtype == np.dtype(dtype)
    np.testing.assert_allclose(d, 1 - np.tanh(x.astype(np.float64)) ** 2, atol=2e-6 if dtype == "float64" else 3e-2)


def test_derivative_rejects_bad_arguments():
    with pytest.raises(TypeError, match="f: expected a function"):
        fastmlp.derivative(3, 1.0)
    with pytest.raises(ValueError, match="delta"):
        fastmlp.derivative(np.sin, 1.0, delta=0)
    with pytest.raises(TypeError, match="delta"):
        fastmlp.derivative(np.sin, 1.0, delta="0.1")
    with pytest.raises(ValueError, match="NaN or Inf"):
        fastmlp.derivative(np.sin, np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="x: expected"):
        fastmlp.derivative(np.sin, "1")
    with pytest.raises(ValueError, match="elementwise"):
        fastmlp.derivative(lambda v: v.sum(), np.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("acts", [("relu", "identity"), ("tanh", "sigmoid"), ("sigmoid", "tanh")])
def test_jacobian_matches_finite_differences(dtype, acts):
    rng = np.random.default_rng(3)
    model = fastmlp.MLP([4, 7, 5, 3], activation=acts[0], output=acts[1], dtype=dtype, seed=2)
    X = rng.normal(size=(11, 4))
    J = fastmlp.jacobian(model, X)
    assert J.shape == (11, 3, 4) and J.dtype == np.dtype(dtype)
    assert np.abs(J).max() > 1e-3        # not vacuously zero
    err = check(model, X)
    assert err < (2e-3 if dtype == "float32" else 1e-7), err


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_jacobian_is_the_local_linear_slope(dtype):
    from fastmlp.regions import local_linear
    model = fastmlp.MLP([3, 8, 8, 2], dtype=dtype, seed=5)
    X = np.random.default_rng(0).normal(size=(20, 3))
    alpha, _ = local_linear(model, X)
    np.testing.assert_allclose(fastmlp.jacobian(model, X), alpha, rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_input_gradient_is_a_vector_jacobian_product(dtype):
    rng = np.random.default_rng(1)
    model = fastmlp.MLP([5, 6, 4], activation="tanh", dtype=dtype, seed=0)
    X = rng.normal(size=(7, 5))
    J = fastmlp.jacobian(model, X).astype(np.float64)
    D = rng.normal(size=(7, 4))
    g = fastmlp.input_gradient(model, X, D)
    assert g.dtype == np.dtype(dtype) and g.shape == (7, 5)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(g, np.einsum("io,ioj->ij", D, J), rtol=tol, atol=tol)
    np.testing.assert_allclose(fastmlp.input_gradient(model, X, 2), J[:, 2], rtol=tol, atol=tol)
    one = fastmlp.MLP([5, 6, 1], activation="tanh", dtype=dtype, seed=0)
    np.testing.assert_allclose(fastmlp.input_gradient(one, X), fastmlp.jacobian(one, X)[:, 0], rtol=tol, atol=tol)


def test_input_gradient_is_the_seeds_backward_pass_on_one_layer():
    # one identity layer: p = W x + b, so dp/dx = W, and for an upstream dp the gradient is W^T dp (Delta x = W^T Delta p)
    model = fastmlp.MLP([3, 2], activation="relu", dtype="float64", seed=0)
    W, _ = model.params[0]
    dp = np.array([[4.2, -5.1]])
    np.testing.assert_allclose(fastmlp.input_gradient(model, np.zeros((1, 3)), dp)[0], W.T @ dp[0], rtol=1e-14)


def test_jacobian_and_input_gradient_reject_bad_input():
    model = fastmlp.MLP([3, 4, 2], seed=0)
    with pytest.raises(TypeError, match="fastmlp.MLP"):
        fastmlp.jacobian("model", np.zeros((1, 3)))
    with pytest.raises(ValueError):
        fastmlp.jacobian(model, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="2 outputs"):
        fastmlp.input_gradient(model, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        fastmlp.input_gradient(model, np.zeros((2, 3)), 2)
    with pytest.raises(ValueError, match="dy: expected shape"):
        fastmlp.input_gradient(model, np.zeros((2, 3)), np.zeros((2, 3)))


def test_numerical_jacobian_shapes_and_one_point():
    A = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]])
    f = lambda X: X @ A.T       # noqa: E731
    J = fastmlp.numerical_jacobian(f, np.ones(2))
    assert J.shape == (3, 2)
    np.testing.assert_allclose(J, A, rtol=1e-10)
    assert fastmlp.numerical_jacobian(f, np.ones((4, 2))).shape == (4, 3, 2)
    with pytest.raises(ValueError, match="expected shape"):
        fastmlp.numerical_jacobian(f, np.ones((1, 2, 2)))


@pytest.mark.parametrize("output", ["relu", "sigmoid", "tanh"])
def test_ideal_targets_with_a_bounded_output_warn(output):
    # source 004: +-5 targets; a ReLU output can never give -5 (nor sigmoid/tanh +-5)
    with pytest.warns(UserWarning, match="cannot be reached"):
        fastmlp.MLP([4, 3], output=output, loss="ideal_mse")


def test_ideal_targets_with_identity_output_do_not_warn():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastmlp.MLP([4, 3], output="identity", loss="ideal_mse")

"""Permutation-sampled Shapley values (seeded, with standard errors) against the exact ones, the Explanation fields
shap's plots read, and -- where the optional shap package is installed -- shapley_values against shap's own exact
explainer."""
import numpy as np
import pytest

from fastmlp import MLP
from fastmlp.regions.shap import Explanation, explanation, sampled_shapley_values, shapley_values


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    model = MLP([7, 12, 6, 2], dtype="float64", seed=3)
    return model, rng.normal(size=(6, 7)), rng.normal(size=(25, 7))


@pytest.mark.parametrize("antithetic", [True, False])
def test_sampling_agrees_with_exact_within_its_standard_error(case, antithetic):
    model, X, bg = case
    exact = shapley_values(model, X, bg)
    assert np.abs(exact).max() > 1e-2
    phi, se = sampled_shapley_values(model, X, bg, n_permutations=400, seed=1, antithetic=antithetic)
    assert phi.shape == se.shape == exact.shape and (se >= 0).all()
    z = np.abs(phi - exact) / np.maximum(se, 1e-12)
    assert (z < 4.5).mean() > 0.97 and z.max() < 7, z.max()     # a normal error, mostly within a few se
    # every sampled order adds up exactly: the estimate is additive like the exact values
    np.testing.assert_allclose(phi.sum(-1), exact.sum(-1), atol=1e-12)


def test_sampling_error_shrinks_with_more_orders(case):
    model, X, bg = case
    exact = shapley_values(model, X, bg)
    err = [np.sqrt(np.mean((sampled_shapley_values(model, X, bg, p, seed=7)[0] - exact) ** 2)) for p in (8, 512)]
    assert err[1] < err[0] / 3, err


def test_sampling_is_seeded(case):
    model, X, bg = case
    a = sampled_shapley_values(model, X, bg, 20, seed=5)
    b = sampled_shapley_values(model, X, bg, 20, seed=5)
    c = sampled_shapley_values(model, X, bg, 20, seed=6)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and not np.array_equal(a[0], c[0])


def test_sampling_runs_beyond_the_exact_limit():
    rng = np.random.default_rng(2)
    model = MLP([40, 8, 1], dtype="float64", seed=0)
    X, bg = rng.normal(size=(2, 40)), rng.normal(size=(10, 40))
    with pytest.raises(ValueError, match="max_features=16"):
        shapley_values(model, X, bg)
    phi, se = sampled_shapley_values(model, X, bg, 10, seed=0, max_rows=5000)   # several chunks
    f = model.forward(X)[:, 0] - model.forward(bg)[:, 0].mean()
    np.testing.assert_allclose(phi.sum(-1)[:, 0], f, atol=1e-10)
    assert np.isfinite(se).all()


def test_sampling_rejects_bad_arguments(case):
    model, X, bg = case
    with pytest.raises(ValueError, match="even"):
        sampled_shapley_values(model, X, bg, 3)
    with pytest.raises(ValueError, match=">= 2"):
        sampled_shapley_values(model, X, bg, 0)
    with pytest.raises(TypeError, match="n_permutations"):
        sampled_shapley_values(model, X, bg, 2.5)
    with pytest.raises(TypeError, match="antithetic"):
        sampled_shapley_values(model, X, bg, 4, antithetic="yes")
    with pytest.raises(TypeError, match="fastmlp.MLP"):
        sampled_shapley_values(object(), X, bg)
    with pytest.raises(ValueError):
        sampled_shapley_values(model, X[:, :3], bg)


@pytest.mark.parametrize("method", ["exact", "sampling", "linear"])
def test_explanation_fields_add_up(case, method):
    model, X, bg = case
    kw = {"n_permutations": 8} if method == "sampling" else {}
    e = explanation(model, X, bg, method, output=1, feature_names=[f"x{i}" for i in range(7)], **kw)
    assert e.values.shape == (6, 7) and e.base_values.shape == (6,) and e.data.shape == (6, 7)
    assert list(e.feature_names) == [f"x{i}" for i in range(7)]
    # exact and sampled: base = mean f(background); linear: the local model's value at the background mean; either
    # way base + sum = f(x) for an identity-output net
    np.testing.assert_allclose(e.values.sum(1) + e.base_values, model.forward(X)[:, 1], atol=1e-10)
    assert (e.se is not None) == (method == "sampling")
    if isinstance(e, Explanation):
        assert e.method == method


def test_explanation_rejects_bad_arguments(case):
    model, X, bg = case
    with pytest.raises(ValueError, match="method"):
        explanation(model, X, bg, "kernel")
    with pytest.raises(ValueError, match="output"):
        explanation(model, X, bg, output=2)
    with pytest.raises(ValueError, match="feature_names"):
        explanation(model, X, bg, feature_names=["a"])


def test_shapley_values_match_shaps_exact_explainer(case):
    shap = pytest.importorskip("shap")
    model, X, bg = case
    f = lambda Z: model.forward(np.asarray(Z, dtype=np.float64))[:, 0]       # noqa: E731
    masker = shap.maskers.Independent(bg, max_samples=len(bg))
    ref = shap.explainers.Exact(f, masker)(X)
    ours = shapley_values(model, X, bg)[:, 0]
    np.testing.assert_allclose(ours, ref.values, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ref.base_values, f(bg).mean(), rtol=1e-10)
    e = explanation(model, X, bg)
    shap.plots.bar(e, show=False)          # shap's own plot accepts what explanation() returns

"""fastmlp.MLPClassifier / MLPRegressor: scikit-learn's estimator checks, its parameters' meaning (against
scikit-learn's own estimators where the math is deterministic), sample weights, sparse input, warm starts, and
what a failed call leaves behind. scikit-learn's own MLP test file runs in test_sklearn_suite.py."""
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
pytest.importorskip("scipy")
from scipy import sparse  # noqa: E402
from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkC, MLPRegressor as SkR  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastmlp  # noqa: E402
from fastmlp import MLPClassifier, MLPRegressor  # noqa: E402

# small, quick settings so the ~200 checks run in seconds; the checks' own data sets are tiny
ESTIMATORS = [MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0, learning_rate_init=0.01),
              MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, random_state=0, learning_rate_init=0.01)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_same_parameters_as_scikit_learn():
    for mine, theirs in ((MLPClassifier(), SkC()), (MLPRegressor(), SkR())):
        ours, ref = mine.get_params(), theirs.get_params()
        # fastmlp's two extras, whose defaults keep scikit-learn's behaviour
        assert ours.pop("dtype") is None and ours.pop("compute_dtype") is None
        assert ours == ref


def _digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def test_classifier_on_digits():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = X[:1400] / 16.0, X[1400:] / 16.0, y[:1400], y[1400:]
    clf = MLPClassifier(hidden_layer_sizes=(128,), learning_rate_init=0.003, max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.9
    assert clf.n_iter_ == len(clf.loss_curve_) <= 40
    assert clf.n_features_in_ == 64 and list(clf.classes_) == list(range(10))
    np.testing.assert_allclose(clf.predict_proba(Xte).sum(1), 1.0, rtol=1e-12)


def test_lbfgs_matches_scikit_learn():
    """Same initial weights (scikit-learn's draw from the same random_state), same objective, same L-BFGS-B: the
    same solution to rounding, for each output kind."""
    X, y = _digits()
    Xr, yr = make_regression(n_samples=120, n_features=6, n_targets=2, noise=5.0, random_state=0)
    cases = [(SkC, MLPClassifier, X[:200], y[:200]), (SkC, MLPClassifier, X[:200], y[:200] % 2),
             (SkR, MLPRegressor, Xr, yr[:, 1] / 100), (SkR, MLPRegressor, Xr, np.abs(yr[:, 0]) / 50)]
    for i, (Sk, Fm, Xc, yc) in enumerate(cases):
        kw = dict(hidden_layer_sizes=(7,), solver="lbfgs", max_iter=15, alpha=0.01, random_state=3,
                  activation=("tanh", "logistic", "relu", "identity")[i])
        if i == 3:
            kw["loss"] = "poisson"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a, b = Sk(**kw).fit(Xc, yc), Fm(**kw).fit(Xc, yc)
        assert a.n_iter_ == b.n_iter_, i
        np.testing.assert_allclose(b.loss_, a.loss_, rtol=1e-6, err_msg=str(i))
        for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_allclose(cb, ca, rtol=1e-5, atol=1e-7, err_msg=str(i))


def test_multioutput_squared_error_gradient_is_scikit_learns():
    """scikit-learn's gradient for several outputs is that of the squared error summed over them, its reported loss
    their mean (scikit-learn #8349): fastmlp has the same gradient and reports the loss it belongs to."""
    Xr, yr = make_regression(n_samples=50, n_features=4, n_targets=3, noise=5.0, random_state=0)
    yr = yr / 100
    kw = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=1, alpha=0.3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b = SkR(**kw).fit(Xr, yr), MLPRegressor(**kw).fit(Xr, yr)
    theta = np.hstack([c.ravel() for c in a.coefs_ + a.intercepts_])
    units = [4, 5, 3]
    scratch = ([Xr] + [np.empty((50, u)) for u in units[1:]], [np.empty((50, u)) for u in units[1:]],
               [np.empty((i, o)) for i, o in zip(units, units[1:])], [np.empty(o) for o in units[1:]])
    la, ga = a._loss_grad_lbfgs(theta, Xr, yr, None, *scratch)
    lb, gb = b._loss_grad_lbfgs(theta, Xr, yr, None, *scratch)
    np.testing.assert_allclose(gb, ga, rtol=1e-10, atol=1e-13)
    penalty = 0.5 * 0.3 * sum(float((c ** 2).sum()) for c in a.coefs_) / 50
    np.testing.assert_allclose(lb - penalty, 3 * (la - penalty), rtol=1e-12)
    e = np.zeros_like(theta)
    e[7] = 1e-6
    numeric = (b._loss_grad_lbfgs(theta + e, Xr, yr, None)[0] - b._loss_grad_lbfgs(theta - e, Xr, yr, None)[0]) / 2e-6
    np.testing.assert_allclose(numeric, gb[7], rtol=1e-6)


def test_first_sgd_steps_match_scikit_learn():
    """Same draw, same shuffles, plain SGD with alpha: scikit-learn's steps, for two epochs of batches."""
    X, y = _digits()
    kw = dict(hidden_layer_sizes=(9,), solver="sgd", momentum=0.0, alpha=0.5, batch_size=64, max_iter=2,
              learning_rate_init=0.05, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b = SkC(**kw).fit(X, y), MLPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-9)
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(cb, ca, rtol=1e-9, atol=1e-12)


def test_sgd_momentum_is_honoured():
    X, y = _digits()
    fits = []
    for momentum in (0.0, 0.9):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", momentum=momentum, max_iter=3,
                                      random_state=0).fit(X, y).coefs_[0].copy())
    assert not np.allclose(fits[0], fits[1])
    with pytest.raises(ValueError, match="momentum"):
        fastmlp.MLP([4, 3, 2]).fit(np.zeros((5, 4)), np.zeros(5, dtype=int), optimizer="sgd", momentum=0.9)


def test_sample_weight_integer_equals_repeated_rows():
    X, y = _digits()
    w = np.random.default_rng(0).integers(0, 3, len(y))
    kw = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=20, alpha=0.1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw).fit(X, y, sample_weight=w)
        b = MLPClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(a.loss_, b.loss_, rtol=1e-7)
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match="negative"):
        MLPClassifier(max_iter=1).fit(X, y, sample_weight=-np.ones(len(y)))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_equals_dense(solver):
    rng = np.random.default_rng(0)
    Xs = sparse.random(150, 40, density=0.1, format="csr", random_state=0, data_rvs=rng.standard_normal)
    y = (Xs @ rng.standard_normal(40) > 0).astype(int)
    kw = dict(hidden_layer_sizes=(10,), solver=solver, max_iter=8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw).fit(Xs.toarray(), y)
        b = MLPClassifier(**kw).fit(Xs.tocsc(), y)
    np.testing.assert_allclose(b.coefs_[0], a.coefs_[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.predict_proba(Xs), a.predict_proba(Xs.toarray()), rtol=1e-6, atol=1e-9)


def test_coefs_are_the_network_and_survive_pickling():
    X, y = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(X, y)
    before = clf.predict_proba(X[:3])
    clf.coefs_[1][...] = 0.0
    clf.intercepts_[1][...] = 0.0
    np.testing.assert_allclose(clf.predict_proba(X[:3]), 0.1)  # every class equally likely now
    again = pickle.loads(pickle.dumps(clf))
    again.coefs_[1][...] = np.arange(50.0).reshape(5, 10) / 10
    assert np.shares_memory(again.coefs_[1], again.model_._params)
    assert not np.allclose(again.predict_proba(X[:3]), 0.1) and before.shape == (3, 10)


def test_a_failed_fit_leaves_the_estimator_as_it_was():
    X, y = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0, warm_start=True).fit(X, y)
    state = {k: v for k, v in clf.__dict__.items()}
    weights = clf.model_._params.copy()
    with pytest.raises(ValueError, match="warm_start"):
        clf.fit(X, (y + 1) % 10 + 10)  # other classes
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X, y, sample_weight=np.ones(3))
    assert set(clf.__dict__) == set(state)
    np.testing.assert_array_equal(clf.model_._params, weights)
    assert np.shares_memory(clf.coefs_[0], clf.model_._params)


def test_convergence_warning_verbose_and_partial_fit_rules(capsys):
    X, y = _digits()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    assert "Iteration 2, loss = " in capsys.readouterr().out
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    clf = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 2  # scikit-learn: n_iter_ counts the last call


def test_multilabel_and_multioutput():
    X, Y = sklearn.datasets.make_multilabel_classification(n_samples=60, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=200, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.predict(X).shape == Y.shape
    assert clf.score(X, Y) > 0.9
    Xr, yr = make_regression(n_samples=80, n_features=4, n_targets=3, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=300, random_state=0).fit(Xr, yr / 100)
    assert reg.predict(Xr).shape == (80, 3) and reg.score(Xr, yr / 100) > 0.9


def test_float32_stays_float32():
    X, y = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X.astype(np.float32), y)
        forced = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0, dtype="float32").fit(X, y)
    assert reg.predict(X).dtype == np.float32 and forced.coefs_[0].dtype == np.float32
    with pytest.raises(ValueError, match="dtype"):
        MLPRegressor(dtype="int8").fit(X, y)


def test_fit_lbfgs_on_the_library_model():
    X, y = _digits()
    model = fastmlp.MLP([64, 16, 10], dtype="float64", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastmlp.ConvergenceWarning)
        n = model.fit_lbfgs(X, y, max_iter=50, alpha=1e-3)
    assert 1 <= n <= 50 and model.score(X, y) > 0.95
    with pytest.raises(ValueError, match="fit_lbfgs"):
        model.fit(X, y, optimizer="lbfgs")


def test_parameters_are_checked_before_anything_changes():
    X, y = _digits()
    for name, value in (("alpha", -1.0), ("alpha", float("nan")), ("solver", "lbgfs"), ("momentum", 1.0),
                        ("batch_size", 0), ("learning_rate", "optimal"), ("n_iter_no_change", 0),
                        ("hidden_layer_sizes", (10, 0)), ("hidden_layer_sizes", 2.5), ("dtype", "garbage"),
                        ("activation", "softmax"), ("beta_2", 1.0), ("epsilon", 0.0), ("early_stopping", 1)):
        clf = MLPClassifier(**{name: value})
        with pytest.raises((ValueError, TypeError), match="hidden_layer_sizes|" + name):
            clf.fit(X, y)
        assert not hasattr(clf, "model_")
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="huber").fit(X, y)


def test_a_refit_reads_the_constructor_signature_once(monkeypatch):
    """The snapshot a fit takes (so that a failed fit leaves the estimator as it was) names the parameters once,
    not once per attribute: each name lookup reads the constructor's signature (~0.2 ms), and a refit's ~40
    attributes made that 8 ms of a 45 ms digits fit with L-BFGS. The refit still gives the first fit's weights."""
    X, y = load_digits(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X[:300] / 16.0, y[:300])
        first = [c.copy() for c in est.coefs_]
        assert len(est.__dict__) > 20
        calls = []
        original = MLPClassifier._get_param_names.__func__
        monkeypatch.setattr(MLPClassifier, "_get_param_names",
                            classmethod(lambda cls: calls.append(1) or original(cls)))
        est.fit(X[:300] / 16.0, y[:300])
    assert len(calls) <= 3, len(calls)  # the snapshot's one, and scikit-learn's own parameter validation
    for a, b in zip(first, est.coefs_):
        assert a.tobytes() == b.tobytes()

"""scikit-learn's own estimator checks on fastmlp.MLPClassifier / MLPRegressor, and their accuracy."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastmlp import MLPClassifier, MLPRegressor  # noqa: E402

# small, quick settings so the ~200 checks run in seconds; the checks' own data sets are tiny
ESTIMATORS = [MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0, learning_rate_init=0.01),
              MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, random_state=0, learning_rate_init=0.01)]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_classifier_on_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(128,), learning_rate_init=0.003, max_iter=40, random_state=0)
    clf.fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.97
    assert clf.n_iter_ == len(clf.loss_curve_) <= 40
    assert clf.n_features_in_ == 64 and list(clf.classes_) == list(range(10))
    proba = clf.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)


def test_partial_fit_continues_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=1).fit(X, y)
    n = clf.n_iter_
    clf.partial_fit(X, y)
    assert clf.n_iter_ == n + 1 and len(clf.loss_curve_) == n + 1
    assert set(clf.predict(X)) <= {"yes", "no"}
    with pytest.raises(ValueError, match="classes="):
        MLPClassifier().partial_fit(X, y)

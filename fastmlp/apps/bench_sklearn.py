"""``fastmlp bench --section sklearn``: scikit-learn's MLPClassifier / MLPRegressor against fastmlp's with the same
arguments, one thread each, on the data sets users switch with: fit time and held-out score side by side.

Goal (issue 12): scores within 1 point (R^2 within 0.02) and fits at least 3x faster for every solver and data
set. One fit each (a fit is long enough to time once); read the ratios, not the times.
"""
import time
import warnings

import numpy as np

from .. import _core


def datasets(quick=False):
    """(name, X_train, X_test, y_train, y_test, is_classifier) for the table's data sets."""
    from scipy import sparse
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification, make_friedman1
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    out = []

    def split(name, X, y, clf):
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y if clf else None)
        out.append((name, Xtr, Xte, ytr, yte, clf))

    X, y = load_digits(return_X_y=True)
    split("digits 1797x64", X / 16.0, y, True)
    X, y = load_breast_cancer(return_X_y=True)
    split("breast cancer 569x30 (std)", StandardScaler().fit_transform(X), y, True)
    n = 4000 if quick else 20000
    X, y = make_classification(n_samples=n, n_features=50, n_informative=20, n_classes=4, random_state=0)
    split(f"make_classification {n}x50", X, y, True)
    n = 2000 if quick else 10000
    X, y = make_friedman1(n_samples=n, n_features=10, noise=0.5, random_state=0)
    split(f"friedman1 regression {n}x10", X, (y - y.mean()) / y.std(), False)
    n, d = (2000, 1000) if quick else (10000, 5000)
    X = sparse.random(n, d, density=0.01, format="csr", random_state=0, data_rvs=rng.standard_normal)
    w = rng.standard_normal(d)
    y = (X @ w > 0).astype(int)
    split(f"sparse CSR {n}x{d} 1%", X, y, True)
    return out


def run_sklearn_bench(quick=False, out=print):
    """Fit both libraries' estimators with identical arguments on each data set and solver; print the table and
    the goals; returns the rows (data, solver, sklearn s, fastmlp s, sklearn score, fastmlp score)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SkC, MLPRegressor as SkR
    from threadpoolctl import threadpool_limits

    from ..estimators import MLPClassifier, MLPRegressor

    max_iter = 30 if quick else 200
    rows = []
    before = _core.get_num_threads()
    _core.set_num_threads(1)
    try:
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for name, Xtr, Xte, ytr, yte, clf in datasets(quick):
                for solver in ("adam", "sgd", "lbfgs"):
                    kw = dict(hidden_layer_sizes=(100,), solver=solver, max_iter=max_iter, random_state=0)
                    if solver == "sgd":
                        kw["learning_rate_init"] = 0.01
                    result = []
                    Sk, Fm = (SkC, MLPClassifier) if clf else (SkR, MLPRegressor)
                    for est in (Sk(**kw), Fm(**kw), Fm(dtype="float32", **kw)):
                        t0 = time.perf_counter()
                        est.fit(Xtr, ytr)
                        result.append((time.perf_counter() - t0, float(est.score(Xte, yte))))
                    (t_sk, s_sk), (t_fm, s_fm), (t_32, s_32) = result
                    rows.append((name, solver, t_sk, t_fm, s_sk, s_fm, clf, t_32, s_32))
    finally:
        _core.set_num_threads(before)
    out(f"scikit-learn estimators vs fastmlp's, identical arguments (hidden (100,), max_iter {max_iter}, "
        f"random_state 0; sgd learning_rate_init 0.01), 1 thread each, one fit each; score on a held-out 25%")
    out(f"{'data':30s} {'solver':6s} {'sklearn':>9s} {'fastmlp':>9s} {'speed-up':>8s} {'sklearn':>7s} "
        f"{'fastmlp':>7s}  {'goal':10s} | {'float32':>9s} {'speed-up':>8s} {'score':>7s}")
    out(f"{'':30s} {'':6s} {'fit':>9s} {'fit':>9s} {'':8s} {'score':>7s} {'score':>7s}  {'':10s} | "
        f"{'fit':>9s}")
    for name, solver, t_sk, t_fm, s_sk, s_fm, clf, t_32, s_32 in rows:
        speed = t_sk / t_fm
        close = (s_fm >= s_sk - 0.01) if clf else (s_fm >= s_sk - 0.02)
        verdict = "met" if speed >= 3 and close else "MISS" + ("" if speed >= 3 else " speed") + (
            "" if close else " score")
        out(f"{name:30s} {solver:6s} {t_sk:8.3f}s {t_fm:8.3f}s {speed:7.2f}x {s_sk:7.4f} {s_fm:7.4f}  "
            f"{verdict:10s} | {t_32:8.3f}s {t_sk / t_32:7.2f}x {s_32:7.4f}")
    out("score: accuracy (classifiers) or R^2 (regressor); goal: >= 3x faster and within 1 point (R^2 0.02) with "
        "identical arguments (float64 data: both train in float64); right: fastmlp with dtype='float32'")
    return rows

"""The scikit-learn estimators' fits (what a user switching from scikit-learn calls first), one thread: fastmlp's
and scikit-learn's side by side on the same data, for each solver, dense and sparse."""
import warnings

import numpy as np

from fastmlp import _core


def _data(kind):
    from scipy import sparse
    from sklearn.datasets import load_digits

    if kind == "digits":
        X, y = load_digits(return_X_y=True)
        return X / 16.0, y
    rng = np.random.default_rng(0)
    X = sparse.random(2000, 2000, density=0.01, format="csr", random_state=0, data_rvs=rng.standard_normal)
    return X, (X @ rng.standard_normal(2000) > 0).astype(int)


class EstimatorFit:
    params = (["fastmlp", "sklearn"], ["adam", "sgd", "lbfgs"], ["digits", "sparse"])
    param_names = ["library", "solver", "data"]
    timeout = 120

    def setup(self, library, solver, data):
        from sklearn.exceptions import ConvergenceWarning
        from threadpoolctl import threadpool_limits

        if library == "fastmlp":
            from fastmlp import MLPClassifier
        else:
            from sklearn.neural_network import MLPClassifier
        self.X, self.y = _data(data)
        self.est = MLPClassifier(hidden_layer_sizes=(100,), solver=solver, max_iter=10, random_state=0)
        self.before = _core.get_num_threads()
        _core.set_num_threads(1)
        self.limits = threadpool_limits(1)  # scikit-learn's BLAS on one thread too
        warnings.simplefilter("ignore", ConvergenceWarning)

    def teardown(self, library, solver, data):
        _core.set_num_threads(self.before)
        self.limits.restore_original_limits()

    def time_fit(self, library, solver, data):
        self.est.fit(self.X, self.y)

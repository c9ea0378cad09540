"""Full-batch L-BFGS over the C core: scipy's ``L-BFGS-B`` (the solver scikit-learn's MLPs use) driven by the
network's loss and gradient, computed in C in chunks of rows and summed with the sample weights.

The objective is ``(weighted mean loss) + (0.5 * alpha * sum(W**2)) / S`` with S the total sample weight
(the row count without weights): scikit-learn's ``alpha``, on the weight matrices only, never the biases.
"""
import math
import warnings

import numpy as np

from . import extras


def chunk_rows(X):
    """Rows per C call of the full-batch loss: 1024 for dense rows (the workspace holds a chunk of inputs); 8192
    for a sparse matrix, whose first layer transposes W once per call (the workspace holds no input rows)."""
    return 1024 if isinstance(X, np.ndarray) else 8192


class Objective:
    """The objective and its gradient at a flat parameter vector; ``chunks`` are ``training.Data`` pieces small
    enough for one C call each. ``evaluations`` counts calls."""

    def __init__(self, model, chunks, alpha=0.0):
        self.model, self.chunks, self.alpha = model, chunks, float(alpha)
        self.net = model._net
        self.weights = [c.n if c.sw is None else float(np.sum(c.sw, dtype=np.float64)) for c in chunks]
        self.total = float(sum(self.weights))
        if not self.total > 0:
            raise ValueError("sample_weight: the weights sum to 0; at least one sample needs a positive weight")
        self.wmask = np.zeros(model.n_params, dtype=bool)
        for w, _, _ in model._slices():
            self.wmask[w] = True
        self.grads = np.empty_like(model._params)
        self.evaluations = 0

    def __call__(self, theta):
        """(objective, gradient as float64) at ``theta``; (inf, zeros) where the loss is not finite."""
        self.evaluations += 1
        params = self.model._params
        params[...] = theta
        value, grad = 0.0, np.zeros(params.shape[0], dtype=np.float64)
        for chunk, s in zip(self.chunks, self.weights):
            if s == 0:
                continue
            loss = self.net.loss_grad(params, self.grads, chunk.X, chunk.t, chunk.labels, sw=chunk.sw)
            if not math.isfinite(loss):
                return math.inf, np.zeros_like(grad)
            value += loss * s
            grad += self.grads * (s / self.total)
        value /= self.total
        if self.alpha:
            w = params[self.wmask].astype(np.float64)
            value += 0.5 * self.alpha * float(w @ w) / self.total
            grad[self.wmask] += (self.alpha / self.total) * w
        return value, grad


def minimize(objective, max_iter, max_fun, tol, verbose=False, warning=UserWarning):
    """Run L-BFGS-B from the model's current weights for at most ``max_iter`` iterations and ``max_fun``
    evaluations (gradient tolerance ``tol``) and leave the model at the solution. Returns (iterations, final
    objective); warns ``warning`` (the caller's ConvergenceWarning class) when it stopped before converging."""
    optimize = extras.require("scipy.optimize", "solver='lbfgs'", "pip install scipy")
    model = objective.model
    start = model._params.astype(np.float64)
    iteration = [0]

    def report(intermediate_result):
        iteration[0] += 1
        print(f"Iteration {iteration[0]}, loss = {intermediate_result.fun:.8f}")

    res = optimize.minimize(objective, start, method="L-BFGS-B", jac=True,
                            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
                            callback=report if verbose else None)
    model._params[...] = res.x
    if res.status != 0:
        msg = res.message.decode("latin1") if isinstance(res.message, bytes) else res.message
        warnings.warn(f"lbfgs failed to converge after {res.nit} iteration(s) (status={res.status}):\n{msg}.\n\n"
                      f"Increase the number of iterations to improve the convergence (max_iter={max_iter}).\n"
                      f"You might also want to scale the data as shown in:\n"
                      f"    https://scikit-learn.org/stable/modules/preprocessing.html", warning, stacklevel=3)
    return min(res.nit, max_iter), float(res.fun)

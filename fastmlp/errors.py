"""The exceptions fastmlp defines (plain Python, no imports: the compiled core raises them too)."""


class DivergenceError(FloatingPointError):
    """Training produced a NaN/Inf loss or gradient, or a step that would overflow the weights.

    The refused step changed nothing and the model keeps its last finite weights.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> model = fastmlp.MLP([1, 1], activation="identity", loss="mse", dtype="float64")
    >>> model.set_flat_params([1e300, 0.0])
    >>> try:
    ...     model.train_step([[1e10]], [[0.0]], lr=1.0)
    ... except fastmlp.DivergenceError:
    ...     print("refused; weights kept:", model.get_flat_params()[0])
    refused; weights kept: 1e+300
    """


class ConvergenceWarning(UserWarning):
    """An optimizer stopped (``max_iter``, ``max_fun``) before it converged.

    ``MLP.fit_lbfgs`` issues it; the estimators issue scikit-learn's ``sklearn.exceptions.ConvergenceWarning``
    instead.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import fastmlp
    >>> model = fastmlp.MLP([1, 8, 1], activation="tanh", dtype="float64", seed=0)
    >>> X = np.linspace(-1, 1, 20).reshape(-1, 1)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = model.fit_lbfgs(X, np.sin(3 * X), max_iter=1)
    >>> any(issubclass(w.category, fastmlp.ConvergenceWarning) for w in caught)
    True
    """

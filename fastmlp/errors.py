"""The exceptions fastmlp defines (plain Python, no imports: the compiled core raises them too)."""


class DivergenceError(FloatingPointError):
    """Training produced a NaN/Inf loss or gradient, or a step that would overflow the weights; the refused step
    changed nothing and the model keeps its last finite weights."""


class ConvergenceWarning(UserWarning):
    """An optimizer stopped (``max_iter``, ``max_fun``) before it converged; the estimators issue
    scikit-learn's ``sklearn.exceptions.ConvergenceWarning`` instead."""

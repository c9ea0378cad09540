"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn's estimators (same parameters, attributes, warnings and
errors) trained by fastmlp's C core."""
from typing import Any, Optional, Sequence, TypeVar, Union

import numpy as np

from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import interop
from .._typing import DTypeLike, FloatArray, NDArray
from ._base import BaseMLP
from ._data import Data as _Data


_C = TypeVar("_C", bound="MLPClassifier")
_R = TypeVar("_R", bound="MLPRegressor")
#: X, y and sample weights: array-likes or (X) sparse matrices, typed Any as scikit-learn's validators take them
Data = Any
RandomState = Union[None, int, np.random.RandomState]


def _stochastic(est):
    if est.solver not in ("sgd", "adam"):
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {est.solver} is not "
                             f"stochastic.")
    return True


_DOC = """

    Parameters, fitted attributes, warnings and errors are scikit-learn's (``sklearn.neural_network.{name}``, whose
    documentation applies), with these differences: ``momentum`` must be < 1, ``sample_weight`` >= 0; training
    stops at the first epoch whose loss is not finite (scikit-learn carries on with NaN weights), then the best
    weights are kept (``early_stopping``) or ``fit`` raises scikit-learn's non-finite error; ``sgd`` momentum is
    PyTorch's form (the same steps at a constant rate); ``adam`` adds epsilon after the bias correction.
    ``coefs_`` / ``intercepts_`` are views of the network's weights (``model_``, a ``fastmlp.MLP``).

    Parameters
    ----------{loss}
    hidden_layer_sizes : int or sequence of int, default (100,)
        The sizes of the hidden layers.
    activation : {{"relu", "logistic", "tanh", "identity"}}, default "relu"
        The hidden activation.
    solver : {{"adam", "sgd", "lbfgs"}}, default "adam"
        The optimizer.
    alpha : float, default 0.0001
        The L2 penalty, scaled by the batch's sample-weight sum as in scikit-learn.
    batch_size : int or "auto", default "auto"
        Rows per step; "auto" is ``min(200, n_samples)``.
    learning_rate : {{"constant", "invscaling", "adaptive"}}, default "constant"
        The schedule ("sgd" only).
    learning_rate_init : float, default 0.001
        The initial rate ("sgd" and "adam").
    power_t : float, default 0.5
        The exponent of "invscaling".
    max_iter : int, default 200
        The most epochs (iterations for "lbfgs").
    shuffle : bool, default True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default None
        Seeds the initial weights, the shuffles and the validation split, drawn as scikit-learn draws them.
    tol : float, default 1e-4
        The improvement that counts for stopping.
    verbose : bool or int, default False
        Print the loss of every iteration.
    warm_start : bool, default False
        Start ``fit`` from the previous solution.
    momentum : float, default 0.9
        In [0, 1) ("sgd").
    nesterovs_momentum : bool, default True
        Nesterov momentum ("sgd", momentum > 0).
    early_stopping : bool, default False
        Hold out ``validation_fraction`` and stop when its score stops improving.
    validation_fraction : float, default 0.1
        The held-out fraction for early stopping.
    beta_1 : float, default 0.9
        Adam's first-moment decay.
    beta_2 : float, default 0.999
        Adam's second-moment decay.
    epsilon : float, default 1e-8
        Adam's epsilon.
    n_iter_no_change : int, default 10
        Epochs without a ``tol`` improvement before stopping.
    max_fun : int, default 15000
        The most loss evaluations ("lbfgs").
    dtype : {{None, "float32", "float64"}}, default None
        fastmlp's extra parameter: None trains in the input's dtype (float32 stays float32, anything else float64,
        as scikit-learn); "float32" / "float64" convert.
    compute_dtype : {{None, "bfloat16"}}, default None
        fastmlp's extra parameter, the precision of the products (``dtype`` is that of the weights): "bfloat16"
        runs every "sgd" / "adam" step in mixed precision (``MLP.fit(..., dtype="bfloat16")``: bf16 operands in
        the products, float32 sums, float32 weights and update). Needs float32 weights (``dtype`` None or
        "float32"; None then trains in float32), dense X and a stochastic solver.

    Examples
    --------
{example}
    """


class MLPClassifier(ClassifierMixin, BaseMLP):  # type: ignore[misc]  # scikit-learn has no type stubs
    __doc__ = "Multi-layer perceptron classifier (log-loss; softmax, or logistic outputs for binary and " \
              "multilabel targets)." + _DOC.format(name="MLPClassifier", loss="", example="""\
    >>> from sklearn.datasets import load_iris
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=300, random_state=0).fit(X, y)
    >>> clf.classes_, clf.coefs_[0].shape
    (array([0, 1, 2]), (4, 16))
    >>> print(f"{clf.score(X, y):.2f}")
    0.99""")

    def __init__(self, hidden_layer_sizes: Union[int, Sequence[int]] = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: Union[int, str] = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001, power_t: float = 0.5,
                 max_iter: int = 200, shuffle: bool = True, random_state: RandomState = None, tol: float = 1e-4,
                 verbose: Union[bool, int] = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: Union[int, float] = 10, max_fun: int = 15000,
                 dtype: Optional[DTypeLike] = None, compute_dtype: Optional[str] = None) -> None:
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
                         power_t=power_t, max_iter=max_iter, loss="log_loss", shuffle=shuffle,
                         random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
                         momentum=momentum, nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, max_fun=max_fun, dtype=dtype,
                         compute_dtype=compute_dtype)

    _score_function = staticmethod(accuracy_score)

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, dtype=self._dtypes(),
                             order="C", reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(f"warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def _training_data(self, inputs, y, sw):
        """The binarized targets in the network's form: labels for softmax, 0/1 rows for logistic outputs."""
        if self.out_activation_ == "softmax":
            return _Data(inputs, None, np.ascontiguousarray(np.argmax(y, axis=1), dtype=np.int64), sw)
        return _Data(inputs, np.ascontiguousarray(y, dtype=inputs.dtype), None, sw)

    def _outputs_to_predictions(self, out):
        prob = self._activate(out)
        return self._label_binarizer.inverse_transform(prob.ravel() if self.n_outputs_ == 1 else prob)

    def fit(self: _C, X: Data, y: Data, sample_weight: Data = None) -> _C:
        """Fit the network to the samples X and their labels y, optionally weighting the samples.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            The samples (scipy sparse CSR/CSC runs the first layer on the nonzeros).
        y : array_like
            The labels (1-d), or a 0/1 indicator matrix for multilabel targets.
        sample_weight : array_like, shape (n_samples,), optional
            One weight >= 0 per sample.

        Returns
        -------
        MLPClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_stochastic)
    def partial_fit(self: _C, X: Data, y: Data, sample_weight: Data = None, classes: Data = None) -> _C:
        """One epoch over (X, y), continuing from the current weights ("sgd" and "adam" only).

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            The samples (scipy sparse CSR/CSC runs the first layer on the nonzeros).
        y : array_like
            The labels of this block.
        sample_weight : array_like, shape (n_samples,), optional
            One weight >= 0 per sample.
        classes : array_like, optional
            Every label there will be: needed by the first call.

        Returns
        -------
        MLPClassifier
            The fitted estimator.
        """
        if getattr(self, "classes_", None) is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")

        def first_call():
            if classes is None:
                return
            if getattr(self, "classes_", None) is not None:
                if not np.array_equal(self.classes_, unique_labels(classes)):
                    raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                                     f"{self.classes_!r}")
            else:
                self.classes_ = unique_labels(classes)
                self._label_binarizer = LabelBinarizer()
                self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True, setup=first_call)

    def predict(self, X: Data) -> NDArray[Any]:
        """The predicted classes.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            The samples.

        Returns
        -------
        ndarray
            The classes, shape (n_samples,) (an indicator matrix for multilabel targets).
        """
        check_is_fitted(self)
        return self._outputs_to_predictions(self._raw(self._check_X(X)))

    def predict_proba(self, X: Data) -> FloatArray:
        """The probability of each class.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            The samples.

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
            In ``classes_`` order; two columns for a binary target.
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return np.vstack([1 - y_pred, y_pred]).T if y_pred.ndim == 1 else y_pred

    def predict_log_proba(self, X: Data) -> FloatArray:
        """The logarithm of ``predict_proba(X)``.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            The samples.

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def to_onnx(self, path: Optional[str] = None, opset: Optional[int] = None) -> Any:
        """The fitted classifier as an ONNX graph (``onnx.ModelProto``, written to ``path`` when given): input
        ``X`` [N, n_features] in the network's dtype; outputs ``label`` (``predict``) and ``probabilities``
        (``predict_proba``). Multilabel classifiers are not exported (ValueError).

        Parameters
        ----------
        path : str, optional
            Where to write the graph as well.
        opset : int, optional
            The ``ai.onnx`` opset (default 17).

        Returns
        -------
        onnx.ModelProto
            The graph (needs ``fastmlp[onnx]``).
        """
        check_is_fitted(self)
        return interop.classifier_to_onnx(self, path, opset=interop.DEFAULT_OPSET if opset is None else opset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):  # type: ignore[misc]
    __doc__ = "Multi-layer perceptron regressor (half squared error, or half Poisson deviance with an exp " \
              "output)." + _DOC.format(name="MLPRegressor", loss="""
    loss : {"squared_error", "poisson"}, default "squared_error"
        Half the squared error, or half the Poisson deviance (the output is ``exp`` of the network's).""",
                                         example="""\
    >>> import numpy as np
    >>> from fastmlp import MLPRegressor
    >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0).fit(X, 3 * X[:, 0] + 1)
    >>> print(f"{reg.score(X, 3 * X[:, 0] + 1):.3f}", reg.predict(X).shape)
    1.000 (50,)""")

    def __init__(self, loss: str = "squared_error", hidden_layer_sizes: Union[int, Sequence[int]] = (100,),
                 activation: str = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: Union[int, str] = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: RandomState = None, tol: float = 1e-4, verbose: Union[bool, int] = False,
                 warm_start: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: Union[int, float] = 10,
                 max_fun: int = 15000, dtype: Optional[DTypeLike] = None,
                 compute_dtype: Optional[str] = None) -> None:
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
                         power_t=power_t, max_iter=max_iter, loss=loss, shuffle=shuffle, random_state=random_state,
                         tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, max_fun=max_fun, dtype=dtype,
                         compute_dtype=compute_dtype)

    _score_function = staticmethod(r2_score)

    def _check_params(self):
        if not isinstance(self.loss, str) or self.loss not in ("squared_error", "poisson"):
            raise ValueError(f"The 'loss' parameter of MLPRegressor must be a str among ['poisson', "
                             f"'squared_error']. Got {self.loss!r} instead.")
        return super()._check_params()

    def _out_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=self._dtypes(), order="C", reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _training_data(self, inputs, y, sw):
        t = np.ascontiguousarray(y, dtype=inputs.dtype)
        if self.loss == "poisson" and (t < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        return _Data(inputs, t, None, sw)

    def _outputs_to_predictions(self, out):
        out = self._activate(out)
        return out.ravel() if out.shape[1] == 1 else out

    def fit(self: _R, X: Data, y: Data, sample_weight: Data = None) -> _R:
        """Fit the network to the samples X and the targets y, optionally weighting the samples.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            The samples (scipy sparse CSR/CSC runs the first layer on the nonzeros).
        y : array_like
            The targets, 1-d or multi-output (n_samples, n_outputs).
        sample_weight : array_like, shape (n_samples,), optional
            One weight >= 0 per sample.

        Returns
        -------
        MLPRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_stochastic)
    def partial_fit(self: _R, X: Data, y: Data, sample_weight: Data = None) -> _R:
        """One epoch over (X, y), continuing from the current weights and optimizer state ("sgd", "adam").

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            The samples (scipy sparse CSR/CSC runs the first layer on the nonzeros).
        y : array_like
            The targets of this block.
        sample_weight : array_like, shape (n_samples,), optional
            One weight >= 0 per sample.

        Returns
        -------
        MLPRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X: Data) -> NDArray[Any]:
        """The predictions.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n_samples, n_features)
            The samples.

        Returns
        -------
        ndarray
            In the network's dtype: shape (n_samples,) for one output, else (n_samples, n_outputs).
        """
        check_is_fitted(self)
        return self._outputs_to_predictions(self._raw(self._check_X(X)))

    def to_onnx(self, path: Optional[str] = None, opset: Optional[int] = None) -> Any:
        """The fitted regressor as an ONNX graph (``onnx.ModelProto``, written to ``path`` when given): input
        ``X`` [N, n_features], output ``output`` = ``predict(X)``, in the network's dtype.

        Parameters
        ----------
        path : str, optional
            Where to write the graph as well.
        opset : int, optional
            The ``ai.onnx`` opset (default 17).

        Returns
        -------
        onnx.ModelProto
            The graph (needs ``fastmlp[onnx]``).
        """
        check_is_fitted(self)
        return interop.regressor_to_onnx(self, path, opset=interop.DEFAULT_OPSET if opset is None else opset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

"""scikit-learn estimators over ``fastmlp.MLP``: ``MLPClassifier`` and ``MLPRegressor`` (needs scikit-learn)."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, TypeVar, Union

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("fastmlp's scikit-learn estimators need scikit-learn: pip install 'fastmlp[sklearn]'") from exc

from . import interop, validation
from ._typing import DTypeLike, FloatArray, NDArray
from .mlp import MLP
from .vocabulary import LABEL_LOSSES, OPTIMIZERS


_E = TypeVar("_E", bound="_BaseMLP")
#: X and y: array-likes (``numpy.typing.ArrayLike``), typed Any because the bodies rebind them to what
#: scikit-learn's validators (untyped) return.
ArrayLike = Any


class _BaseMLP(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no type stubs
    """Shared parameters and training loop; parameters are stored verbatim, checked in ``fit``."""

    def __init__(self, hidden_layer_sizes: Sequence[int] = (100,), activation: Union[str, Sequence[str]] = "relu",
                 solver: str = "adam", learning_rate_init: float = 0.001, batch_size: int = 32, max_iter: int = 200,
                 weight_decay: float = 0.0, l1: float = 0.0, momentum: float = 0.9,
                 lr_schedule: Union[str, Callable[[int, float, float], float]] = "constant", shuffle: bool = True,
                 tol: float = 1e-4, n_iter_no_change: int = 10, early_stopping: bool = False,
                 validation_fraction: float = 0.1, init: str = "he", dtype: DTypeLike = "float32",
                 random_state: Union[None, int, np.random.RandomState] = None, verbose: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.weight_decay = weight_decay
        self.l1 = l1
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.init = init
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def _new_model(self, n_in, n_out, loss):
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        validation.choice("solver", self.solver, OPTIMIZERS)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        return MLP([n_in, *hidden, n_out], activation=self.activation, loss=loss, dtype=self.dtype, init=self.init,
                   seed=seed)

    def _fit_kwargs(self, epochs):
        return dict(epochs=epochs, batch_size=self.batch_size, lr=self.learning_rate_init, optimizer=self.solver,
                    momentum=self.momentum, weight_decay=self.weight_decay, l1=self.l1,
                    lr_schedule=self.lr_schedule, shuffle=self.shuffle, verbose=self.verbose)

    def _train(self, X, y_model, stratify, epochs, incremental):
        kwargs = self._fit_kwargs(epochs)
        if incremental:
            history = self.model_.partial_fit(X, y_model, **kwargs)
        else:
            if self.early_stopping:
                rng = check_random_state(self.random_state)
                X, Xv, y_model, yv = train_test_split(X, y_model, test_size=self.validation_fraction,
                                                      random_state=rng.randint(0, 2**31 - 1), stratify=stratify)
                kwargs["validation_data"] = (Xv, yv)
            history = self.model_.fit(X, y_model, early_stopping=True, patience=self.n_iter_no_change,
                                      min_delta=self.tol, **kwargs)
            self.loss_curve_ = []
            self.n_iter_ = 0
        self.loss_curve_ = list(getattr(self, "loss_curve_", [])) + list(history["loss"])
        if history["val_score"]:
            self.validation_scores_ = list(history["val_score"])
        self.n_iter_ = getattr(self, "n_iter_", 0) + len(history["loss"])
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):  # type: ignore[misc]
    """Multi-layer perceptron classifier trained by fastmlp's C core (softmax cross-entropy on the classes).

    loss: "softmax_ce" (default) or "ideal_mse" (source document 004: squared error against +5 / -5 targets).
    weight_decay (L2) and l1 act on the weights, not the biases; solver: "sgd", "momentum", "nesterov", "adam".
    Training stops early when the training loss (or, with ``early_stopping=True``, the validation loss) has not
    improved by ``tol`` for ``n_iter_no_change`` epochs, and the best weights are kept.
    """

    def __init__(self, hidden_layer_sizes: Sequence[int] = (100,), activation: Union[str, Sequence[str]] = "relu",
                 solver: str = "adam", learning_rate_init: float = 0.001, batch_size: int = 32, max_iter: int = 200,
                 weight_decay: float = 0.0, l1: float = 0.0, momentum: float = 0.9,
                 lr_schedule: Union[str, Callable[[int, float, float], float]] = "constant", shuffle: bool = True,
                 tol: float = 1e-4, n_iter_no_change: int = 10, early_stopping: bool = False,
                 validation_fraction: float = 0.1, init: str = "he", dtype: DTypeLike = "float32",
                 random_state: Union[None, int, np.random.RandomState] = None, verbose: bool = False,
                 loss: str = "softmax_ce") -> None:
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
                         learning_rate_init=learning_rate_init, batch_size=batch_size, max_iter=max_iter,
                         weight_decay=weight_decay, l1=l1, momentum=momentum, lr_schedule=lr_schedule,
                         shuffle=shuffle, tol=tol, n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, init=init, dtype=dtype,
                         random_state=random_state, verbose=verbose)
        self.loss = loss

    def _encode(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            raise ValueError(f"y contains labels not seen in classes: {unknown[:10]}")
        return idx.astype(np.int64)

    def fit(self: _E, X: ArrayLike, y: ArrayLike) -> _E:
        X, y = validate_data(self, X, y, reset=True, dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        validation.choice("loss", self.loss, LABEL_LOSSES)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs samples of at least 2 classes; got 1 class ({self.classes_[0]})")
        self.model_ = self._new_model(X.shape[1], len(self.classes_), self.loss)
        return self._train(X, self._encode(y), y, self.max_iter, incremental=False)

    def partial_fit(self: _E, X: ArrayLike, y: ArrayLike, classes: Optional[ArrayLike] = None) -> _E:
        """One epoch over (X, y); the first call needs ``classes`` (all labels that will ever be seen)."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("partial_fit: the first call needs classes=")
            validation.choice("loss", self.loss, LABEL_LOSSES)
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError("partial_fit: classes must hold at least 2 classes")
            self.model_ = self._new_model(X.shape[1], len(self.classes_), self.loss)
            self.loss_curve_, self.n_iter_ = [], 0
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"partial_fit: classes {np.unique(classes)} differ from the first call's {self.classes_}")
        return self._train(X, self._encode(y), None, 1, incremental=True)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        return self.classes_[self.model_.predict(X)]

    def predict_proba(self, X: ArrayLike) -> FloatArray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        if self.loss != "softmax_ce":
            raise AttributeError("predict_proba needs loss='softmax_ce'")
        return self.model_.predict_proba(X)

    def predict_log_proba(self, X: ArrayLike) -> FloatArray:
        return np.log(self.predict_proba(X))

    def to_onnx(self, path: Optional[str] = None, opset: Optional[int] = None) -> Any:
        """The fitted classifier as an ONNX graph (``onnx.ModelProto``, written to ``path`` when given): input
        ``X`` [N, n_features] in the model's dtype; outputs ``label`` (``predict``: the ``classes_`` values) and
        ``probabilities`` (``predict_proba``; ``scores``, the raw outputs, for ``loss="ideal_mse"``)."""
        check_is_fitted(self)
        return interop.classifier_to_onnx(self, path, opset=interop.DEFAULT_OPSET if opset is None else opset)


class MLPRegressor(RegressorMixin, _BaseMLP):  # type: ignore[misc]
    """Multi-layer perceptron regressor trained by fastmlp's C core (squared error, identity output)."""

    def fit(self: _E, X: ArrayLike, y: ArrayLike) -> _E:
        X, y = validate_data(self, X, y, reset=True, dtype=[np.float64, np.float32], order="C", multi_output=True,
                             y_numeric=True)
        self._y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self.model_ = self._new_model(X.shape[1], Y.shape[1], "mse")
        return self._train(X, Y, None, self.max_iter, incremental=False)

    def partial_fit(self: _E, X: ArrayLike, y: ArrayLike) -> _E:
        """One epoch over (X, y), continuing from the current weights."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32], order="C", multi_output=True,
                             y_numeric=True)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self._y_1d = y.ndim == 1
            self.model_ = self._new_model(X.shape[1], Y.shape[1], "mse")
            self.loss_curve_, self.n_iter_ = [], 0
        return self._train(X, Y, None, 1, incremental=True)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        out = self.model_.predict(X).astype(np.float64)
        return out[:, 0] if self._y_1d else out

    def to_onnx(self, path: Optional[str] = None, opset: Optional[int] = None) -> Any:
        """The fitted regressor as an ONNX graph (``onnx.ModelProto``, written to ``path`` when given): input
        ``X`` [N, n_features], output ``output`` = ``predict(X)`` ([N] for a 1-d target), in the model's dtype."""
        check_is_fitted(self)
        return interop.regressor_to_onnx(self, path, opset=interop.DEFAULT_OPSET if opset is None else opset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

"""What MLPClassifier and MLPRegressor share: scikit-learn's parameters, checked as scikit-learn checks them;
the network, initialised as scikit-learn initialises it; and the two solvers' loops -- the stochastic one
(``sgd``, ``adam``: one C call per epoch) and full-batch L-BFGS (``fastmlp.lbfgs``) -- with scikit-learn's
schedules, stopping rules, warnings and fitted attributes.

scikit-learn's objective, reproduced exactly: the (sample-weighted) mean loss plus ``0.5 * alpha * ||W||^2 / S``,
S the batch's total weight, W the weight matrices only. One deliberate difference: for the squared error of several
outputs scikit-learn 1.9 reports (and line-searches on) the loss averaged over the outputs while its gradient is
that of their sum (scikit-learn issue #8349); fastmlp reports the sum, the function its gradient -- the same as
scikit-learn's, so the stochastic steps are the same -- belongs to, and L-BFGS line-searches on it.
"""
import copy
import numbers
import warnings

import numpy as np

from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from .. import lbfgs, training, validation
from ..errors import DivergenceError
from ..mlp import MLP
from ._data import Inputs
from ._solver import Solver

#: scikit-learn's activation names and fastmlp's ("sigmoid" is taken too, as fastmlp calls it)
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu"}
#: the C loss of each output activation
OUT_LOSS = {"softmax": "softmax_ce", "logistic": "sigmoid_bce", "identity": "mse", "exp": "poisson"}
NONFINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need to "
             "be preprocessed.")


def _bad(est, name, what, value):
    raise ValueError(f"The '{name}' parameter of {type(est).__name__} must be {what}. Got {value!r} instead.")


def _real(est, name, lo, hi=None, lo_open=False, hi_open=False):
    v = getattr(est, name)
    what = (f"a float in the range {'(' if lo_open else '['}{lo}, {'inf' if hi is None else hi}"
            f"{')' if hi is None or hi_open else ']'}")
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not np.isfinite(v):
        _bad(est, name, what, v)
    if v < lo or (lo_open and v == lo) or (hi is not None and (v > hi or (hi_open and v == hi))):
        _bad(est, name, what, v)


def _int(est, name, lo, allow_inf=False):
    v = getattr(est, name)
    if allow_inf and isinstance(v, numbers.Real) and v == np.inf:
        return
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < lo:
        _bad(est, name, f"an int in the range [{lo}, inf){' or inf' if allow_inf else ''}", v)


def _option(est, name, options):
    v = getattr(est, name)
    if not isinstance(v, str) or v not in options:
        _bad(est, name, f"a str among {sorted(options)}", v)


def _flag(est, name):
    v = getattr(est, name)
    if not isinstance(v, (bool, np.bool_)):
        _bad(est, name, "an instance of 'bool'", v)


class BaseMLP(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no type stubs
    """scikit-learn's MLP parameters (same names, defaults and meaning) plus fastmlp's ``dtype`` (of the weights)
    and ``compute_dtype`` (of the products: None, or "bfloat16" for mixed precision)."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 loss=None, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dtype=None,
                 compute_dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.compute_dtype = compute_dtype

    # ---- parameters ----------------------------------------------------------------------------------------------
    def _check_params(self):
        _option(self, "activation", set(ACTIVATIONS))
        _option(self, "solver", {"lbfgs", "sgd", "adam"})
        _real(self, "alpha", 0.0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _int(self, "batch_size", 1)
        _option(self, "learning_rate", {"constant", "invscaling", "adaptive"})
        _real(self, "learning_rate_init", 0.0, lo_open=True)
        _real(self, "power_t", 0.0)
        _int(self, "max_iter", 1)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            _flag(self, name)
        _real(self, "tol", 0.0)
        # fastmlp's momentum rule needs momentum < 1 (scikit-learn accepts 1, where the velocity never decays)
        _real(self, "momentum", 0.0, 1.0, hi_open=True)
        _real(self, "validation_fraction", 0.0, 1.0, hi_open=True)
        _real(self, "beta_1", 0.0, 1.0, hi_open=True)
        _real(self, "beta_2", 0.0, 1.0, hi_open=True)
        _real(self, "epsilon", 0.0, lo_open=True)
        _int(self, "n_iter_no_change", 1, allow_inf=True)
        _int(self, "max_fun", 1)
        if self.dtype is not None:
            try:
                ok = np.dtype(self.dtype) in (np.float32, np.float64)
            except TypeError:
                ok = False
            if not ok:
                _bad(self, "dtype", "None, 'float32' or 'float64'", self.dtype)
        if self.compute_dtype is not None:
            if not isinstance(self.compute_dtype, str) or self.compute_dtype != "bfloat16":
                _bad(self, "compute_dtype", "None or 'bfloat16'", self.compute_dtype)
            if self.dtype is not None and np.dtype(self.dtype) != np.float32:
                raise ValueError(f"compute_dtype='bfloat16' keeps float32 weights: dtype must be None or 'float32', "
                                 f"got {self.dtype!r}")
            if self.solver == "lbfgs":
                raise ValueError("compute_dtype='bfloat16' is for the stochastic solvers ('sgd', 'adam'), not "
                                 "'lbfgs'")
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if not hidden or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) for h in hidden):
            _bad(self, "hidden_layer_sizes", "an int or a sequence of ints", self.hidden_layer_sizes)
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        return [int(h) for h in hidden]

    def _dtypes(self):
        if self.dtype is None:
            return np.float32 if self.compute_dtype is not None else (np.float64, np.float32)
        return np.dtype(self.dtype).type

    # ---- the network ---------------------------------------------------------------------------------------------
    def _initialize(self, y, layer_units, dtype):
        """A fresh network drawn as scikit-learn draws it (Glorot uniform, from ``self._random_state``, layer by
        layer: weights then biases), and the fitted attributes of a first fit."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) else 0
        model = MLP(layer_units, activation=ACTIVATIONS[self.activation], output="identity",
                    loss=OUT_LOSS[self.out_activation_], dtype=dtype, seed=seed)
        factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
        for (W, b), fan_in, fan_out in zip(model._views(), layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            W[...] = self._random_state.uniform(-bound, bound, (fan_in, fan_out)).T
            b[...] = self._random_state.uniform(-bound, bound, fan_out)
        self._adopt(model)
        self._best_params = model._params.copy()
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            else:
                self.best_loss_, self.validation_scores_, self.best_validation_score_ = np.inf, None, None

    def _adopt(self, model):
        """Make ``model`` the estimator's network; ``coefs_`` and ``intercepts_`` are views of its weights
        (``coefs_[i]`` of shape (fan_in, fan_out), as scikit-learn's; writing them changes the network)."""
        self.model_ = model
        views = model._views()
        self.coefs_ = [W.T for W, _ in views]
        self.intercepts_ = [b for _, b in views]

    def _owns_views(self):
        model = getattr(self, "model_", None)
        if model is None or len(self.coefs_) != len(model.layers) - 1 or len(self.intercepts_) != len(self.coefs_):
            return False
        return all(isinstance(a, np.ndarray) and a.base is not None and np.may_share_memory(a, model._params)
                   for a in list(self.coefs_) + list(self.intercepts_))

    def _sync_in(self, layer_units, dtype):
        """Before training on: a ``coefs_`` / ``intercepts_`` set by hand (scikit-learn lets a user set them)
        become the network's weights, checked against the network the data calls for."""
        if self._owns_views():
            if list(self.model_.layers) != list(layer_units):
                raise ValueError(f"warm_start: the fitted network has layers {list(self.model_.layers)}, these "
                                 f"data and hidden_layer_sizes call for {list(layer_units)}")
            return
        coefs, intercepts = list(self.coefs_), list(self.intercepts_)
        shapes = [(a, b) for a, b in zip(layer_units[:-1], layer_units[1:])]
        got = [np.shape(c) for c in coefs]
        if got != shapes or [np.shape(b) for b in intercepts] != [(b,) for _, b in shapes]:
            raise ValueError(f"coefs_ / intercepts_: shapes {got} / {[np.shape(b) for b in intercepts]} do not "
                             f"fit the network {list(layer_units)}")
        out = getattr(self, "out_activation_", None) or self._out_activation()
        self.out_activation_ = out
        model = MLP(layer_units, activation=ACTIVATIONS[self.activation], output="identity", loss=OUT_LOSS[out],
                    dtype=dtype, seed=0)
        for (W, b), c, i in zip(model._views(), coefs, intercepts):
            W[...], b[...] = np.asarray(c).T, np.asarray(i)
        if not np.isfinite(model._params).all():
            raise ValueError("coefs_ / intercepts_: the weights must be finite")
        self._adopt(model)
        self.n_layers_ = len(layer_units)
        if not hasattr(self, "_best_params"):
            self._best_params = model._params.copy()
        for name, value in (("t_", 0), ("n_iter_", 0)):
            if not hasattr(self, name):
                setattr(self, name, value)

    def __getstate__(self):
        state = dict(super().__getstate__())  # Python 3.11+ hands back the live __dict__ itself
        if hasattr(self, "coefs_") and self._owns_views():  # rebuilt from the network on unpickling (pickle would copy them apart)
            del state["coefs_"], state["intercepts_"]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "model_" in state and "coefs_" not in state:
            self._adopt(self.model_)

    # ---- fit -----------------------------------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False, setup=None):
        """scikit-learn's ``_fit``; a call that raises leaves the estimator as it was (``setup``, run first,
        included)."""
        hidden = self._check_params()
        owned = hasattr(self, "coefs_") and self._owns_views()
        params = set(self._get_param_names())  # once: each call reads the constructor's signature (~0.2 ms)
        saved = copy.deepcopy({k: v for k, v in self.__dict__.items() if k not in params})
        try:
            if setup is not None:
                setup()
            return self._fit_body(X, y, sample_weight, incremental, hidden)
        except BaseException:
            for k in [k for k in self.__dict__ if k not in params]:
                del self.__dict__[k]
            self.__dict__.update(saved)
            if owned:  # the copies of the views are views again, of the copy of the network
                self._adopt(self.model_)
            raise

    def _fit_body(self, X, y, sample_weight, incremental, hidden):
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        inputs = Inputs(X)
        sw = inputs.sample_weight(sample_weight)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1]] + hidden + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, inputs.dtype)
        else:
            self._sync_in(layer_units, inputs.dtype)
        if self.solver == "lbfgs":
            self._fit_lbfgs(inputs, y, sw)
        else:
            self._fit_stochastic(inputs, y, sw, incremental)
        if not np.isfinite(self.model_._params).all():
            raise ValueError(NONFINITE)
        return self

    def _fit_lbfgs(self, inputs, y, sw):
        data = self._training_data(inputs, y, sw)
        objective = lbfgs.Objective(self.model_, data.chunks(lbfgs.chunk_rows(data.X)), alpha=self.alpha)
        self.n_iter_, self.loss_ = lbfgs.minimize(objective, self.max_iter, self.max_fun, self.tol,
                                                  verbose=bool(self.verbose), warning=ConvergenceWarning)
        if not np.isfinite(self.loss_):
            raise ValueError(NONFINITE)

    def _fit_stochastic(self, inputs, y, sw, incremental):
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = Solver(self)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        X = inputs.X
        mixed = self.compute_dtype is not None
        if mixed and (validation.is_sparse(X) or self.model_.dtype != np.float32):
            raise TypeError("compute_dtype='bfloat16': X must be dense and the network float32 (a warm start keeps "
                            "the fitted network's dtype)")
        if early_stopping:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            parts = train_test_split(X, y, *(() if sw is None else (sw,)), random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, y_train, y_val = parts[:4]
            sw_train, sw_val = (None, None) if sw is None else parts[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size "
                                 "of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
            val = (Inputs(X_val, inputs.dtype), y_val, sw_val)
        else:
            X_train, y_train, sw_train, val = X, y, sw, None
        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        train = self._training_data(Inputs(X_train, inputs.dtype), y_train, sw_train)
        rule, cfg = self._optimizer.bind(self.model_)
        sample_idx = np.arange(n_samples, dtype=np.int64)
        diverged = False
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:  # sklearn.utils.shuffle's draw (the same stream), without its per-call overhead
                    perm = np.arange(n_samples)
                    self._random_state.shuffle(perm)
                    sample_idx = sample_idx[perm]
                self._optimizer.apply()
                try:
                    self.loss_ = training.epoch(self.model_, train, sample_idx, batch_size, rule, cfg, mixed)
                except DivergenceError:
                    diverged, self.loss_ = True, np.nan
                self.n_iter_ += 1
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(early_stopping, val, diverged)
                self._optimizer.iteration_ends(self.t_)
                if diverged:
                    break
                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = ("Validation score did not improve more than tol=%f for %d consecutive epochs."
                               % (self.tol, self.n_iter_no_change))
                    else:
                        msg = ("Training loss did not improve more than tol=%f for %d consecutive epochs."
                               % (self.tol, self.n_iter_no_change))
                    if self._optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                                  "hasn't converged yet." % self.max_iter, ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if early_stopping:
            self.model_._write_params(self._best_params)
        elif diverged:
            raise ValueError(NONFINITE)

    def _update_no_improvement_count(self, early_stopping, val, diverged):
        if early_stopping:
            X_val, y_val, sw_val = val
            score = np.nan if diverged else self._score(X_val, y_val, sw_val)
            self.validation_scores_.append(float(score))
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last = self.validation_scores_[-1]
            if last < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last > self.best_validation_score_:
                self.best_validation_score_ = last
                self._best_params = self.model_._params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _score(self, inputs, y, sample_weight):
        """The validation score (accuracy or R^2) of the current weights; NaN where the outputs are not finite."""
        out = self._raw(inputs)
        if not np.isfinite(out).all():
            return np.nan
        return self._score_function(y, self._outputs_to_predictions(out), sample_weight=sample_weight)

    # ---- inference -----------------------------------------------------------------------------------------------
    def _raw(self, inputs):
        """The network's raw outputs (logits) for checked inputs."""
        return inputs.forward(self.model_)

    def _check_X(self, X):
        from sklearn.utils.validation import check_is_fitted, validate_data
        check_is_fitted(self, "model_")
        if not self._owns_views():  # weights set by hand since the fit: the network takes them
            self._sync_in(list(self.model_.layers), self.model_.dtype)
        X = validate_data(self, X, reset=False, accept_sparse=["csr", "csc"], dtype=self.model_.dtype.type,
                          order="C")
        return Inputs(X, self.model_.dtype)

    def _forward_pass_fast(self, X, check_input=True):
        """The output layer's activations (probabilities, or exp for poisson), as scikit-learn's method."""
        out = self._raw(self._check_X(X) if check_input else Inputs(X, self.model_.dtype))
        return self._activate(out)

    def _activate(self, out):
        kind = self.out_activation_
        if kind == "softmax":
            e = np.exp(out - out.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        if kind == "logistic":
            return (0.5 * (1.0 + np.tanh(0.5 * out))).astype(out.dtype, copy=False)
        if kind == "exp":
            return np.exp(out)
        return out

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight, *scratch):
        """scikit-learn's private hook, kept for code that calls it (scikit-learn's own tests do): the objective
        and its gradient at ``packed_coef_inter`` in scikit-learn's packing (every ``coefs_[i].ravel()``, then
        every ``intercepts_[i]``), y binarized as scikit-learn's ``_validate_input`` gives it. ``scratch``:
        scikit-learn's preallocated buffers, which the C core does not need (it keeps its own workspace);
        the network is left at ``packed_coef_inter``."""
        if len(scratch) not in (0, 4):
            raise TypeError(f"_loss_grad_lbfgs: expected 4 scratch buffers (activations, deltas, coef_grads, "
                            f"intercept_grads) or none, got {len(scratch)}")
        model = self.model_
        slices = list(model._slices())
        # the fastmlp position of each scikit-learn entry: every W^T row by row, then every bias
        sk_to_fm = np.concatenate([np.arange(w.start, w.stop).reshape(shape).T.ravel() for w, shape, _ in slices]
                                  + [np.arange(b.start, b.stop) for _, _, b in slices])
        theta = np.empty(model.n_params, dtype=np.float64)
        theta[sk_to_fm] = np.asarray(packed_coef_inter, dtype=np.float64)
        inputs = Inputs(self._validate_input_X(X), model.dtype)
        y = np.asarray(y)
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        data = self._training_data(inputs, y, inputs.sample_weight(sample_weight))
        objective = lbfgs.Objective(model, data.chunks(lbfgs.chunk_rows(data.X)), alpha=self.alpha)
        value, grad = objective(theta)
        return value, grad[sk_to_fm]

    def _validate_input_X(self, X):
        from sklearn.utils.validation import check_array
        return check_array(X, accept_sparse=["csr", "csc"], dtype=self.model_.dtype.type, order="C")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


"""``fastmlp.MLP``: a network (``fastmlp.network``) that trains with optimizer objects (``fastmlp.optimizers``)
through the training loop (``fastmlp.training``), saves to model files (``fastmlp.modelfile``) and predicts,
scores and exports like an estimator."""
from __future__ import annotations

import copy
import os
from typing import IO, Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, TypeVar, Union

import numpy as np

from . import _core, export, lbfgs, modelfile, optimizers, schedules, training, validation
from ._guard import reads, writes
from .errors import ConvergenceWarning, DivergenceError
from ._typing import Activation, ArrayLike, DTypeLike, FloatArray, NDArray, Seed, Sizes
from .network import Network
from .training import History
from .vocabulary import LABEL_LOSSES, ON_DIVERGENCE

__all__ = ["MLP", "DivergenceError", "History", "load", "gradcheck"]

_M = TypeVar("_M", bound="MLP")
#: What ``save`` and ``load`` take: a path, a binary file object or (``load``) a file descriptor.
PathLike = Union[str, "os.PathLike[str]"]
#: The optimizer argument of the training methods: a rule's name or an optimizer object.
OptimizerArg = Union[str, optimizers.Optimizer]
#: A user callback of ``fit``: ``cb(model, epoch, logs)``, True stops training.
CallbackFn = Callable[["MLP", int, Dict[str, Any]], Optional[bool]]


class MLP(Network):
    """A fully connected network ``layers = [n_in, h1, ..., n_out]``.

    activation: hidden activation ("relu", "sigmoid", "tanh", "identity") or one per hidden layer.
    output: output activation (default "identity"; the cross-entropy losses require it, they take logits).
    loss: "softmax_ce" (integer labels), "sigmoid_bce" (0/1 targets), "mse", or "ideal_mse" (source document
    004: squared error against +5 for the right class and -5 for the others, integer labels). None: decided by
    the first training call that succeeds: integer labels give "softmax_ce", float targets "mse".
    dtype: "float32" or "float64". init: "he", "glorot" or "uniform". seed: weights and shuffling.
    The optimizer of the last training call, with its state, is ``model.optimizer_`` (None before).
    """

    def __init__(self, layers: Sizes, activation: Activation = "relu", output: str = "identity",
                 loss: Optional[str] = None, dtype: DTypeLike = "float32", init: str = "he",
                 seed: Seed = None) -> None:
        super().__init__(layers, activation, output, loss, dtype, init, seed)
        self.optimizer_: Optional[optimizers.Optimizer] = None
        self._idle_steps = 0  # the step count of a model without an optimizer (one loaded from a file)

    # ---- state -----------------------------------------------------------------------------------------------
    @property
    def step_count(self) -> int:
        """Number of parameter updates applied (Adam's step number; shared by fit, train_step and steppers)."""
        return self.optimizer_.step_count if self.optimizer_ is not None else self._idle_steps

    @step_count.setter
    def step_count(self, value: int) -> None:
        value = validation.integer("step_count", value, 0)
        if self.optimizer_ is not None:
            self.optimizer_.step_count = value
        else:
            self._idle_steps = value

    @writes
    def reset_parameters(self: _M) -> _M:
        """Draw fresh weights from the model's generator and drop the optimizer (its steppers stop working)."""
        self._init_parameters()
        self._drop_optimizer()
        return self

    def _drop_optimizer(self):
        if self.optimizer_ is not None:
            self.optimizer_.reset()
            self.optimizer_.retire()
        self.optimizer_, self._idle_steps = None, 0

    def _commit(self, loss, optimizer, options):
        """Make ``loss`` the model's (an open model takes it now) and ``optimizer`` its optimizer, everything
        checked first. ``optimizer`` is an object (used as it is: its own options count, so ``options`` must all
        be None) or a name, ``options`` filling in that rule's defaults: the model's current rule of that name
        carries on with its state and the new options, another rule replaces it (the old one is retired, its
        steppers stop). Returns (optimizer, its C configuration, what ``_undo`` needs to put everything back)."""
        current = self.optimizer_
        given = {k: v for k, v in options.items() if v is not None}
        if isinstance(optimizer, optimizers.Optimizer):
            if given:
                raise TypeError(f"{', '.join(given)}: an optimizer object carries its own options; set them on "
                                f"{optimizer!r} instead")
            opt = optimizer
        else:
            optimizers.check_given(optimizer, given)
            wanted = optimizers.options_for(optimizer, **given)
            if current is not None and current.name == optimizer:
                if loss == self.loss and current._config is not None and current._config_options == wanted:
                    return current, current._config, None  # the same rule and options, checked and bound
                opt = current
            else:
                opt = optimizers.BY_NAME[optimizer](**wanted)
        undo = (self.loss, current, None if current is None else current.options())
        if opt is not current:
            opt.check_free(self)
        elif not isinstance(optimizer, optimizers.Optimizer):
            opt.set_options(wanted, self.dtype)  # checked, then set
        cfg = opt.bind(self._c_net(loss))  # checks the options; the state vector: the network's size and dtype
        self.loss = loss
        if opt is not current:
            opt.adopt(self)
            if current is not None:
                current.retire()
            self.optimizer_ = opt
        return opt, cfg, undo

    def _undo(self, undo):
        """Put back what ``_commit`` changed (a training call that failed before it changed the weights)."""
        if undo is None:
            return
        loss, previous, options = undo
        self.loss = loss
        if self.optimizer_ is not previous:
            self.optimizer_.retire()
            if previous is not None:
                previous.revive(self)
            self.optimizer_ = previous
        if previous is not None:
            previous.set_options(options, self.dtype)

    # ---- inference -------------------------------------------------------------------------------------------
    @reads
    def predictor(self, dtype: Optional[str] = None) -> Union[_core.Predictor, _core.PredictorBF16]:
        """A frozen copy of the weights for fast repeated inference: ``pred(X)`` equals ``model.forward(X)`` bit for
        bit (``fastmlp.Predictor``); dtype="bfloat16": bf16 weights, float32 in and out (``PredictorBF16``)."""
        return _core.make_predictor(self.layers, self.activations, self._params, dtype)

    def _labels_of(self, out):
        if self.loss in LABEL_LOSSES:
            return out.argmax(1)
        if self.loss == "sigmoid_bce":
            labels = (out > 0).astype(np.int64)
            return labels[:, 0] if self.n_out == 1 else labels
        return out

    def predict(self, X: ArrayLike, check_finite: bool = True) -> NDArray[Any]:
        """Class labels for a classifier (argmax, or output > 0.5 for sigmoid_bce), else the outputs. Runs on
        ``forward``'s packed-weights cache (see ``forward``); ``check_finite=False`` skips the NaN/Inf scan."""
        return self._labels_of(self.forward(X, check_finite))

    def predict_proba(self, X: ArrayLike, check_finite: bool = True) -> FloatArray:
        """Class probabilities: softmax of the logits (softmax_ce) or their sigmoid (sigmoid_bce)."""
        if self.loss == "softmax_ce":
            return _core.softmax(self.forward(X, check_finite))
        if self.loss == "sigmoid_bce":
            z = self.forward(X, check_finite).astype(np.float64)
            return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(self.dtype)
        raise AttributeError(f"predict_proba needs loss 'softmax_ce' or 'sigmoid_bce', not {self.loss!r}")

    def _score_output(self, out, y, sw=None):
        """Accuracy (classifier) or mean R^2 (regressor) of the network's outputs ``out`` against ``y``, weighted
        by ``sw`` (checked weights or None)."""
        pred = self._labels_of(out)
        w = None if sw is None else np.asarray(sw, dtype=np.float64)
        if self.is_classifier:
            pred, y = np.asarray(pred), np.asarray(y)
            if pred.size != y.size:
                raise ValueError(f"y: expected {pred.size} labels, got shape {y.shape}")
            hit = (pred.reshape(len(pred), -1) == y.reshape(len(pred), -1)).all(1)
            return float(np.average(hit, weights=w))
        t = np.asarray(y, dtype=np.float64).reshape(pred.shape)
        w = np.ones(t.shape[0]) if w is None else w
        mean = np.average(t, axis=0, weights=w)
        ss_res = (w[:, None] * (t - pred) ** 2).sum(0)
        ss_tot = (w[:, None] * (t - mean) ** 2).sum(0)
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0))
        return float(r2.mean())

    @reads
    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """Accuracy for a classifier (of whole rows for multilabel targets), R^2 (averaged over outputs) for a
        regressor; weighted by ``sample_weight``."""
        out = self.forward(X)
        return self._score_output(out, y, self._sample_weight(sample_weight, out.shape[0]))

    # ---- training --------------------------------------------------------------------------------------------
    def train_step(self, X: ArrayLike, y: ArrayLike, lr: Optional[float] = None, optimizer: OptimizerArg = "sgd",
                   momentum: Optional[float] = None, weight_decay: Optional[float] = None,
                   l1: Optional[float] = None, sample_weight: Optional[ArrayLike] = None,
                   check_finite: bool = True) -> float:
        """One update on the batch (X, y) in one C call; returns the batch loss. Raises DivergenceError, with the
        model as it was, when the loss or a gradient is NaN/Inf. ``optimizer``: a name (``lr`` default 0.01,
        ``momentum`` 0.9, ``weight_decay`` and ``l1`` 0) or an optimizer object, which carries its own options.
        ``sample_weight``: one weight >= 0 per row; the loss and gradient are the weighted means.
        ``check_finite=False`` skips the NaN/Inf scans of X and targets (the C step still refuses a non-finite
        loss or gradient). Repeated calls with the same optimizer name and options on plain arrays (X C-contiguous
        in the model's dtype, y int64 labels or targets of the model's dtype, no sample weights) reuse what the
        last call checked and bound (arrays checked in C, one pass each): about what a ``stepper`` call costs."""
        cache = self._step_cache
        if cache is not None and sample_weight is None and (check_finite is True or check_finite is False):
            loss = cache.run(self, X, y, optimizer, lr, momentum, weight_decay, l1, check_finite)
            if loss is not None:
                return loss
        return self._train_step(X, y, lr, optimizer, momentum, weight_decay, l1, sample_weight, check_finite)

    @writes
    def _train_step(self, X, y, lr, optimizer, momentum, weight_decay, l1, sample_weight, check_finite):
        check_finite = validation.flag("check_finite", check_finite)
        X = validation.features("X", X, self.dtype, self.n_in, check_finite)
        loss = self._loss_for(y)
        t, labels = self._targets(y, X.shape[0], loss=loss, check_finite=check_finite)
        sw = self._sample_weight(sample_weight, X.shape[0])
        opt, cfg, undo = self._commit(loss, optimizer, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                                            l1=l1))
        try:
            value = self._net.train_step(self._params, self._grads, cfg, opt.state, opt._counter, X, t, labels,
                                         sw=sw)
        except BaseException:
            self._undo(undo)  # the refused step changed no weight
            raise
        key = (lr, momentum, weight_decay, l1)
        if type(optimizer) is str and loss != "ideal_mse" and cfg is opt._config \
                and all(v is None or type(v) in (int, float) for v in key):
            self._step_cache = _core._StepCache(self._guard, self._net, self._params, self._grads, opt, cfg,
                                                self.loss, optimizer, key)
        return value

    @writes
    def stepper(self, X: ArrayLike, y: ArrayLike, lr: Optional[float] = None, optimizer: OptimizerArg = "sgd",
                momentum: Optional[float] = None, weight_decay: Optional[float] = None,
                l1: Optional[float] = None) -> _core.Stepper:
        """A bound training step on the fixed batch (X, y): ``step = model.stepper(X, y); step()`` runs one C train
        step per call with no Python-level checks (see ``fastmlp.Stepper``). X is used in place when it is a
        C-contiguous array of the model's dtype, so it can be refilled between calls; the model's weights,
        optimizer state and step count are shared with ``train_step``/``fit``. When the model's optimizer is
        replaced or the model reset, the stepper refuses to run (RuntimeError)."""
        X = self._X(X)
        loss = self._loss_for(y)
        t, labels = self._targets(y, X.shape[0], loss=loss)
        opt, cfg, undo = self._commit(loss, optimizer, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                                            l1=l1))
        try:
            return _core.Stepper._make(self._net, self._params, self._grads, cfg, opt.state, opt._counter,
                                       opt._alive, X, t, labels, self._guard._version)
        except BaseException:
            self._undo(undo)
            raise

    def _training_data(self, X, y, loss, validation_split, validation_data, sample_weight=None):
        """(train, validation or None) as ``training.Data``, every array checked and converted once."""
        X = self._X(X)
        n = X.shape[0]
        t, labels = self._targets(y, n, loss=loss)
        score_y = labels if labels is not None else (np.asarray(y) if loss in LABEL_LOSSES else t)
        train = training.Data(X, t, labels, score_y, self._sample_weight(sample_weight, n))
        validation.fraction("validation_split", validation_split)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data: expected a pair (X_val, y_val)")
            Xv = self._X(validation_data[0], "validation X")
            tv, lv = self._targets(validation_data[1], Xv.shape[0], "validation y", loss=loss)
            yv = lv if lv is not None else (np.asarray(validation_data[1]) if loss in LABEL_LOSSES else tv)
            return train, training.Data(Xv, tv, lv, yv)
        if validation_split > 0:
            n_val = int(round(n * validation_split))
            if n_val < 1 or n_val >= n:
                raise ValueError(f"validation_split: {validation_split} of {n} samples leaves no train or "
                                 f"validation data")
            return train.head(n - n_val), train.tail(n - n_val)
        return train, None

    @writes
    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 10, batch_size: int = 32, lr: Optional[float] = None,
            optimizer: OptimizerArg = "sgd", momentum: Optional[float] = None,
            weight_decay: Optional[float] = None, l1: Optional[float] = None,
            lr_schedule: Union[str, Callable[[int, float, float], float]] = "constant", shuffle: bool = True,
            validation_split: float = 0.0, validation_data: Optional[Tuple[ArrayLike, ArrayLike]] = None,
            early_stopping: bool = False, patience: int = 10, min_delta: float = 0.0,
            callbacks: Iterable[CallbackFn] = (), verbose: bool = False, on_divergence: str = "raise",
            beta1: Optional[float] = None, beta2: Optional[float] = None, eps: Optional[float] = None,
            sample_weight: Optional[ArrayLike] = None) -> History:
        """Train for ``epochs`` epochs of mini-batch steps, each epoch one C call; returns a History.

        optimizer: "sgd", "momentum", "nesterov" or "adam" with its options (defaults: lr 0.01, momentum 0.9,
        weight_decay and l1 0, beta1 0.9, beta2 0.999, eps 1e-8), or an optimizer object (``fastmlp.Adam(...)``)
        that carries its own; weight_decay (L2) and l1 act on weights, not biases.
        lr_schedule: "constant", "step", "exponential", "invscaling", "plateau" or a callable
        ``(epoch, lr0, monitored_loss) -> lr`` (see ``fastmlp.schedules``). Validation: ``validation_data=(Xv, yv)``
        or the last ``validation_split`` fraction of X. early_stopping: stop when the monitored loss (validation if
        any, else training) has not improved by ``min_delta`` for ``patience`` epochs and restore the best weights.
        callbacks: callables ``cb(model, epoch, logs)``; one returning True stops training. verbose: a tqdm bar.
        on_divergence: "raise" (DivergenceError) or "warn"; either way the weights of the last finite epoch stay.
        sample_weight: one weight >= 0 per sample: each batch's loss and gradient are its weighted mean (the
        validation split keeps its samples' weights). For full-batch L-BFGS see ``fit_lbfgs``.
        Every argument is checked before the model changes; a call that fails before its first epoch is kept
        leaves the model as it was.
        """
        if optimizer == "lbfgs":
            raise ValueError("optimizer='lbfgs' is full-batch and takes no epochs, batches or learning rate: "
                             "use model.fit_lbfgs(X, y, max_iter=...)")
        loss = self._loss_for(y)
        train, val = self._training_data(X, y, loss, validation_split, validation_data, sample_weight)
        epochs = validation.integer("epochs", epochs, 0)
        batch = min(validation.integer("batch_size", batch_size, 1), train.n)
        patience = validation.integer("patience", patience, 1)
        min_delta = validation.real("min_delta", min_delta)
        validation.choice("on_divergence", on_divergence, ON_DIVERGENCE)
        early_stopping, shuffle = validation.flag("early_stopping", early_stopping), validation.flag("shuffle", shuffle)
        schedule = schedules.get(lr_schedule)
        cbs: List[training.Callback] = ([training.Progress(epochs)] if validation.flag("verbose", verbose) else [])
        cbs += [training.EarlyStopping(patience, min_delta)] if early_stopping else []
        cbs += [training.UserCallback(cb) for cb in callbacks]
        opt, cfg, undo = self._commit(loss, optimizer, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                                            l1=l1, beta1=beta1, beta2=beta2, eps=eps))
        history = training.History()
        try:
            training.run(self, train, val, epochs, batch, opt, cfg, schedule, opt.lr, shuffle, cbs, on_divergence,
                         history)
        except BaseException:
            if not history["loss"]:  # no epoch kept: the weights are as they were, so is the rest
                self._undo(undo)
            raise
        return history

    @writes
    def fit_lbfgs(self, X: ArrayLike, y: ArrayLike, max_iter: int = 200, max_fun: int = 15000, tol: float = 1e-4,
                  alpha: float = 0.0, sample_weight: Optional[ArrayLike] = None, verbose: bool = False) -> int:
        """Full-batch L-BFGS (scipy's L-BFGS-B, as scikit-learn's ``solver="lbfgs"``) on the weighted mean loss
        plus ``0.5 * alpha * ||W||^2 / S`` (S the total sample weight; weights only, not biases), the loss and
        gradient computed in C. At most ``max_iter`` iterations and ``max_fun`` evaluations; ``tol`` is the
        projected-gradient tolerance. Returns the iterations run; warns (``fastmlp.ConvergenceWarning``) when it
        stopped before converging. Needs scipy. The optimizer state of SGD/Adam training is left as it was.
        A loss that is not finite at the solution raises DivergenceError with the weights as they were."""
        max_iter = validation.integer("max_iter", max_iter, 1)
        max_fun = validation.integer("max_fun", max_fun, 1)
        tol, alpha = validation.real("tol", tol, 0.0), validation.real("alpha", alpha, 0.0)
        loss = self._loss_for(y)
        train, _ = self._training_data(X, y, loss, 0.0, None, sample_weight)
        if loss != self.loss:
            self._c_net(loss)  # checks the loss fits the network before the model takes it
        saved, old_loss = self._params.copy(), self.loss
        self.loss = loss
        try:
            objective = lbfgs.Objective(self, train.chunks(lbfgs.chunk_rows(train.X)), alpha=alpha)
            n_iter, value = lbfgs.minimize(objective, max_iter, max_fun, tol, verbose=validation.flag(
                "verbose", verbose), warning=ConvergenceWarning)
            if not np.isfinite(value):
                raise DivergenceError("fit_lbfgs: the loss is not finite at the solution; the weights were kept")
        except BaseException:
            self._params[...] = saved
            self.loss = old_loss
            raise
        return n_iter

    def partial_fit(self, X: ArrayLike, y: ArrayLike, **kwargs: Any) -> History:
        """One epoch over (X, y) continuing from the current weights and optimizer state."""
        kwargs.setdefault("epochs", 1)
        return self.fit(X, y, **kwargs)

    # ---- files and pickling ----------------------------------------------------------------------------------
    @reads
    def save(self, path: Union[PathLike, IO[bytes]], metadata: Optional[Mapping[str, Any]] = None) -> Any:
        """Write the model to an ``.npz`` file (no pickle) in one atomic step, with an optional JSON-serializable
        ``metadata`` dict (``fastmlp.modelfile.read_metadata`` reads it back). The optimizer (its rule, options,
        state and step count) and the shuffling generator's state are stored too, so that ``load`` then ``fit``
        continues exactly as this model would. A symlink is written through (its target is replaced); the file
        keeps the mode of the one it replaces. Returns the path written."""
        opt = self.optimizer_
        record = None if opt is None else dict(name=opt.name, options={k: float(v) for k, v in opt.options().items()},
                                               step_count=opt.step_count, state=opt.state)
        return modelfile.write(path, self.layers, self.activations, self.loss, self.dtype, self.init, self._params,
                               self.step_count, metadata, optimizer=record, rng_state=self._rng.bit_generator.state)

    @reads
    def __getstate__(self):
        # a snapshot taken under the read guard (pickling while another thread trains raises, as predicting does)
        state = self.__dict__.copy()
        state.pop("_nets")  # the C descriptions are rebuilt from layers/activations/loss/dtype
        state.pop("_guard")  # with the weights' version and packed cache
        state.pop("_step_cache", None)
        for k in ("_params", "_grads"):
            state[k] = state[k].copy()
        state["_rng"] = copy.deepcopy(state["_rng"])
        state["optimizer_"] = copy.deepcopy(state["optimizer_"])
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        # pickle protocol 5 (dask, multiprocessing) may hand back arrays on read-only or unaligned buffers: the C
        # core writes into these, so give the model its own writable, aligned, contiguous copies
        for k in ("_params", "_grads"):
            self.__dict__[k] = np.array(self.__dict__[k], order="C", copy=True)
        self._new_guard()
        self._nets = {}

    # ---- interop (fastmlp.export; onnx and torch are optional extras) ----------------------------------------
    @reads
    def to_onnx(self, path: Optional[PathLike] = None, raw: bool = False, opset: Optional[int] = None) -> Any:
        """The network as an ONNX graph (``onnx.ModelProto``, also written to ``path`` when given): Gemm +
        Relu/Sigmoid/Tanh per layer, input ``X`` [N, n_in] and output ``output`` in the model's dtype.
        ``output`` is ``predict_proba(X)`` for the softmax_ce / sigmoid_bce losses (Softmax / Sigmoid at the
        end), otherwise ``forward(X)``; ``raw=True`` always exports ``forward(X)``. Needs ``fastmlp[onnx]``."""
        return export.mlp_to_onnx(self, path, raw=raw, opset=export.DEFAULT_OPSET if opset is None else opset)

    @reads
    def to_torch(self) -> Any:
        """A ``torch.nn.Sequential`` (Linear + activations, the model's dtype, copied weights) computing
        ``forward(X)``: raw outputs, i.e. logits for the cross-entropy losses. See ``fastmlp.from_torch``."""
        return export.to_torch(self)

    def __repr__(self) -> str:
        return (f"MLP({self.layers}, activation={self.activations[:-1]}, output={self.activations[-1]!r}, "
                f"loss={self.loss!r}, dtype={self.dtype.name!r})")


def load(path: Union[PathLike, IO[bytes], int]) -> MLP:
    """Read a model written by ``MLP.save`` (never unpickles; every field is checked before anything is
    allocated from it, and the weights are read straight into the new model's buffer). ``path``: a path, a
    binary file object or a file descriptor (neither is closed); regular files only. Raises ValueError naming
    the file and the field for anything else."""
    built = []

    def params_out(f):  # every other field is checked: build the model, weights left for the file to fill
        model = MLP.__new__(MLP)
        model._setup(f["layers"], f["activations"][:-1], f["activations"][-1], f["loss"], f["dtype"], f["init"],
                     None)
        model.optimizer_, model._idle_steps = None, 0
        built.append(model)
        return model._params

    f = modelfile.read(path, params_out)
    model = built[0]
    where = f"load: {path}" if isinstance(path, (str, bytes)) or hasattr(path, "__fspath__") else "load"
    if f["rng_state"] is not None:
        model._rng = modelfile.generator(f["rng_state"], where)
    if f["optimizer"] is None:
        model._idle_steps = f["step_count"]
    else:
        _restore_optimizer(model, f, where)
    return model


def _restore_optimizer(model, f, where):
    rec = f["optimizer"]
    if rec["step_count"] != f["step_count"]:
        raise ValueError(f"{where}: optimizer: step_count {rec['step_count']} differs from the model's "
                         f"{f['step_count']}")
    try:
        opt = optimizers.BY_NAME[rec["name"]](**rec["options"])
        opt.config(model.dtype)  # checks every option
        opt.bind(model._c_net())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: optimizer: {exc}") from None
    state = rec["state"]
    size = opt.state.shape[0]
    if (0 if state is None else state.shape[0]) != size:
        raise ValueError(f"{where}: optimizer_state: {rec['name']} on this network keeps {size} values, the file "
                         f"has {0 if state is None else state.shape[0]}")
    if isinstance(opt, optimizers.Adam) and size and np.any(state[size // 2:] < 0):
        # the second half is Adam's second moment v (state = [m, v]): a negative v turns weights into NaN
        raise ValueError(f"{where}: optimizer_state: Adam's second moments must be >= 0")
    if size:
        opt.state = state
    opt.step_count = rec["step_count"]
    opt.adopt(model)
    model.optimizer_ = opt


def gradcheck(model: MLP, X: ArrayLike, y: ArrayLike, eps: float = 1e-3) -> float:
    """Worst relative error between the analytic gradient and central finite differences over every parameter.

    Relative error per parameter: |analytic - numeric| / max(|analytic| + |numeric|, 1e-8 * largest gradient),
    so entries that are negligible against the largest gradient do not dominate."""
    eps = validation.real("eps", eps, 0.0, lo_open=True)
    model._guard.enter_write("gradcheck")
    try:
        return _gradcheck(model, X, y, eps)
    finally:
        model._guard.exit_write()


def _gradcheck(model, X, y, eps):
    X = model._X(X)
    loss = model._loss_for(y)
    t, labels = model._targets(y, X.shape[0], loss=loss)
    net, params = model._c_net(loss), model._params
    grads = np.zeros_like(params)
    net.loss_grad(params, grads, X, t, labels)
    numeric = np.zeros(params.shape[0], dtype=np.float64)
    saved = params.copy()
    try:
        for i in range(params.shape[0]):
            params[i] = saved[i] + eps
            up = net.loss_grad(params, None, X, t, labels)
            params[i] = saved[i] - eps
            down = net.loss_grad(params, None, X, t, labels)
            params[i] = saved[i]
            numeric[i] = (up - down) / (2 * eps)
    finally:
        params[...] = saved
    analytic = grads.astype(np.float64)
    floor = 1e-8 * max(np.max(np.abs(analytic)), np.max(np.abs(numeric)), 1e-300)
    return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)))

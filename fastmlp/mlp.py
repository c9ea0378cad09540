"""``fastmlp.MLP``: a network (``fastmlp.network``) that trains (``fastmlp.fitting``: optimizer objects, the
training loop), saves to model files (``fastmlp.modelfile``) and predicts, scores and exports like an estimator."""
from __future__ import annotations

import copy
import os
from typing import IO, Any, Mapping, Optional, TypeVar, Union

import numpy as np

from . import _core, export, modelfile, optimizers, validation
from ._guard import reads, writes
from .errors import DivergenceError
from .fitting import Trainable
from ._typing import Activation, ArrayLike, DTypeLike, FloatArray, NDArray, Seed, Sizes
from .training import History
from .vocabulary import LABEL_LOSSES

__all__ = ["MLP", "DivergenceError", "History", "load", "gradcheck"]

_M = TypeVar("_M", bound="MLP")
#: What ``save`` and ``load`` take: a path, a binary file object or (``load``) a file descriptor.
PathLike = Union[str, "os.PathLike[str]"]


class MLP(Trainable):
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

    # ---- inference -------------------------------------------------------------------------------------------
    @reads
    def predictor(self) -> _core.Predictor:
        """A frozen copy of the current weights for fast repeated inference: ``pred = model.predictor();
        pred(X)`` equals ``model.forward(X)`` bit for bit (see ``fastmlp.Predictor``)."""
        return _core.Predictor(self.layers, self.activations, self._params)

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

"""``fastmlp.MLP``: a multi-layer perceptron whose forward pass, train step and whole epochs run in C."""
import copy
import functools
import math
import os
import tempfile
import threading
import time
import warnings

import numpy as np

from . import _core, schedules
from ._core import _Net

LOSSES = ("mse", "softmax_ce", "sigmoid_bce", "ideal_mse")
INITS = ("he", "glorot", "uniform")
FORMAT_VERSION = 1
IDEAL_TARGET = 5.0  # source document 004: +5 for the right class, -5 for the others


class DivergenceError(FloatingPointError):
    """Training produced a NaN/Inf loss or gradient; the model keeps its last finite weights."""


class History(dict):
    """Per-epoch records: ``history["loss"]``, ``["val_loss"]``, ``["val_score"]``, ``["lr"]``, ``["time"]``,
    plus ``stopped_epoch``, ``best_epoch`` and ``diverged`` attributes."""

    def __init__(self):
        super().__init__(loss=[], val_loss=[], val_score=[], lr=[], time=[])
        self.stopped_epoch = None
        self.best_epoch = None
        self.diverged = False


class _Guard:
    """One model used from several threads: any number of readers (predictions) at a time, or one trainer, and
    the other side is refused with a RuntimeError -- never blocked, never raced. The training thread may read
    (fit scores its validation data) and nest (partial_fit calls fit)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._readers = 0
        self._owner = None
        self._depth = 0

    def enter_read(self):
        with self._lock:
            if self._owner is not None and self._owner != threading.get_ident():
                raise RuntimeError("the model is being trained in another thread: predict after that call "
                                   "returns, or from model.predictor(), a frozen copy that any thread may use")
            self._readers += 1

    def exit_read(self):
        with self._lock:
            self._readers -= 1

    def enter_write(self, what):
        me = threading.get_ident()
        with self._lock:
            if (self._owner is not None and self._owner != me) or (self._owner is None and self._readers):
                raise RuntimeError(f"{what}: the model is in use by another thread (training or predicting); "
                                   f"a model trains in one thread at a time, and not while it predicts")
            self._owner = me
            self._depth += 1

    def exit_write(self):
        with self._lock:
            self._depth -= 1
            if not self._depth:
                self._owner = None


def _reads(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self._guard.enter_read()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._guard.exit_read()
    return wrapper


def _writes(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self._guard.enter_write(method.__name__)
        try:
            return method(self, *args, **kwargs)
        finally:
            self._guard.exit_write()
    return wrapper


def _as_float_array(name, a, dtype, ndim=2):
    """``a`` (an array, a list, a pandas DataFrame, a memmap, ...) as a C-contiguous, aligned array of ``dtype``.

    No copy when ``a`` already is one (a memory-mapped file stays mapped, read-only ones included: the C core
    only reads inputs); otherwise one converted copy. The NaN/Inf scan runs over the memory in place."""
    try:
        a = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got dtype {a.dtype}")
    if ndim == 2 and a.ndim == 1:
        raise ValueError(f"{name}: expected a 2-d array (n_samples, n_features), got 1-d; "
                         f"use X.reshape(-1, 1) for a single feature")
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got {a.ndim}-d with shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: empty array (shape {a.shape})")
    a = np.require(a, dtype=dtype, requirements=["C", "A"])  # copies only when the layout or dtype differ
    if not _core._all_finite(a):
        raise ValueError(f"{name}: contains NaN or Inf")
    return a


class MLP:
    """A fully connected network ``layers = [n_in, h1, ..., n_out]``.

    activation: hidden activation ("relu", "sigmoid", "tanh", "identity") or one per hidden layer.
    output: output activation (default "identity"; the cross-entropy losses require it, they take logits).
    loss: "softmax_ce" (integer labels), "sigmoid_bce" (0/1 targets), "mse", or "ideal_mse" (source document
    004: squared error against +5 for the right class and -5 for the others, integer labels). None: decided by
    the first ``fit``: integer labels give "softmax_ce", float targets "mse".
    dtype: "float32" or "float64". init: "he", "glorot" or "uniform". seed: weights and shuffling.
    """

    def __init__(self, layers, activation="relu", output="identity", loss=None, dtype="float32", init="he",
                 seed=None):
        layers = list(layers)
        if len(layers) < 2:
            raise ValueError(f"layers: expected [n_in, ..., n_out] with at least 2 sizes, got {layers}")
        if len(layers) - 1 > _core.MAX_LAYERS:
            raise ValueError(f"layers: at most {_core.MAX_LAYERS} weight layers, got {len(layers) - 1}")
        for s in layers:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
                raise ValueError(f"layers: every size must be an int >= 1, got {s!r}")
        self.layers = [int(s) for s in layers]
        n_hidden = len(layers) - 2
        if isinstance(activation, str):
            hidden = [activation] * n_hidden
        elif isinstance(activation, (list, tuple)):
            hidden = list(activation)
        else:
            raise TypeError(f"activation: expected a name or a list of names, got {type(activation).__name__}")
        if len(hidden) != n_hidden:
            raise ValueError(f"activation: expected one name or {n_hidden} (one per hidden layer), got {len(hidden)}")
        for a in hidden + [output]:
            _core._act(a)
        self.activations = hidden + [output]
        if loss is not None and loss not in LOSSES:
            raise ValueError(f"loss: expected one of {LOSSES}, got {loss!r}")
        if loss in ("softmax_ce", "sigmoid_bce") and output != "identity":
            raise ValueError(f"loss {loss!r} takes logits: output must be 'identity', got {output!r}")
        self.loss = loss
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
        if init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {init!r}")
        self.init, self.seed = init, seed
        self._guard = _Guard()
        self._rng = np.random.default_rng(seed)
        self._net = _Net(self.layers, self.activations, self._c_loss(), self.dtype)
        self._params = np.zeros(self._net.n_params, dtype=self.dtype)
        self._grads = np.zeros(self._net.n_params, dtype=self.dtype)
        self._opt = None
        self._state = np.zeros(0, dtype=self.dtype)
        self._counter = np.zeros(1, dtype=np.uint64)  # updates applied so far; shared with Stepper objects in C
        self.reset_parameters()

    # ---- structure -------------------------------------------------------------------------------------------
    @property
    def step_count(self):
        """Number of parameter updates applied (Adam's step number; shared by fit, train_step and steppers)."""
        return int(self._counter[0])

    @step_count.setter
    def step_count(self, value):
        self._counter[0] = value

    def _c_loss(self):
        return {"ideal_mse": "mse", None: "mse"}.get(self.loss, self.loss)

    @property
    def n_in(self):
        return self.layers[0]

    @property
    def n_out(self):
        return self.layers[-1]

    @property
    def is_classifier(self):
        return self.loss in ("softmax_ce", "sigmoid_bce", "ideal_mse")

    def _slices(self):
        off = 0
        for n_i, n_o in zip(self.layers[:-1], self.layers[1:]):
            yield slice(off, off + n_o * n_i), (n_o, n_i), slice(off + n_o * n_i, off + n_o * n_i + n_o)
            off += n_o * n_i + n_o

    @property
    def params(self):
        """[(W0, b0), (W1, b1), ...]: numpy views of the flat C parameter buffer (writing them changes the model)."""
        return [(self._params[w].reshape(shape), self._params[b]) for w, shape, b in self._slices()]

    @property
    def n_params(self):
        return self._net.n_params

    def get_flat_params(self):
        """A copy of all parameters, laid out [W0, b0, W1, b1, ...]."""
        return self._params.copy()

    @_writes
    def set_flat_params(self, flat):
        flat = np.asarray(flat)
        if flat.shape != self._params.shape:
            raise ValueError(f"flat: expected shape {self._params.shape}, got {flat.shape}")
        if not np.isfinite(flat).all():
            raise ValueError("flat: contains NaN or Inf")
        self._params[...] = flat

    @_writes
    def reset_parameters(self):
        """Draw fresh weights from the model's generator (biases zero for he/glorot)."""
        for (w, shape, b) in self._slices():
            fan_out, fan_in = shape
            if self.init == "he":
                W = self._rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
                bias = np.zeros(fan_out)
            elif self.init == "glorot":
                lim = math.sqrt(6.0 / (fan_in + fan_out))
                W = self._rng.uniform(-lim, lim, size=shape)
                bias = np.zeros(fan_out)
            else:
                lim = 1.0 / math.sqrt(fan_in)
                W = self._rng.uniform(-lim, lim, size=shape)
                bias = self._rng.uniform(-lim, lim, size=fan_out)
            self._params[w] = W.ravel()
            self._params[b] = bias
        self._opt, self._state, self.step_count = None, np.zeros(0, dtype=self.dtype), 0
        return self

    def _set_loss(self, loss):
        if loss == self.loss:
            return
        if loss is None:
            self.loss = None
            self._net = _Net(self.layers, self.activations, self._c_loss(), self.dtype)
            return
        if loss in ("softmax_ce", "sigmoid_bce") and self.activations[-1] != "identity":
            raise ValueError(f"loss {loss!r} takes logits: output must be 'identity'")
        self.loss = loss
        self._net = _Net(self.layers, self.activations, self._c_loss(), self.dtype)

    # ---- data ------------------------------------------------------------------------------------------------
    def _X(self, X, name="X"):
        X = _as_float_array(name, X, self.dtype)
        if X.shape[1] != self.n_in:
            raise ValueError(f"{name}: expected {self.n_in} features, got {X.shape[1]}")
        return X

    def _targets(self, y, n, name="y"):
        """(t, labels) in the form the C loss takes: float targets t[n, n_out] or int64 labels[n]."""
        if self.loss is None:  # decided by the first targets that validate
            arr = np.asarray(y)
            self._set_loss("softmax_ce" if arr.dtype.kind in "iu" and self.n_out > 1 else "mse")
            try:
                return self._targets(y, n, name)
            except BaseException:
                self._set_loss(None)
                raise
        y = np.asarray(y)
        if y.shape[:1] != (n,):
            raise ValueError(f"{name}: expected {n} rows (one per sample of X), got shape {y.shape}")
        if self.loss in ("softmax_ce", "ideal_mse"):
            if y.ndim != 1:
                raise ValueError(f"{name}: expected 1-d integer class labels, got shape {y.shape}")
            if y.dtype.kind not in "iu":
                if y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y)):
                    y = y.astype(np.int64)
                else:
                    raise TypeError(f"{name}: expected integer class labels, got dtype {y.dtype}")
            if y.min() < 0 or y.max() >= self.n_out:
                raise ValueError(f"{name}: labels must lie in [0, {self.n_out}), got [{y.min()}, {y.max()}]")
            labels = np.ascontiguousarray(y, dtype=np.int64)
            if self.loss == "softmax_ce":
                return None, labels
            t = np.full((n, self.n_out), -IDEAL_TARGET, dtype=self.dtype)
            t[np.arange(n), labels] = IDEAL_TARGET
            return t, None
        t = y.reshape(n, -1) if y.ndim == 1 else y
        t = _as_float_array(name, t, self.dtype)
        if t.shape != (n, self.n_out):
            raise ValueError(f"{name}: expected shape ({n}, {self.n_out}), got {y.shape}")
        if self.loss == "sigmoid_bce" and (t.min() < 0 or t.max() > 1):
            raise ValueError(f"{name}: sigmoid_bce targets must lie in [0, 1]")
        return t, None

    # ---- inference -------------------------------------------------------------------------------------------
    @_reads
    def forward(self, X):
        """The network's raw output (logits for the cross-entropy losses), shape (n, n_out)."""
        X = self._X(X)
        out = np.empty((X.shape[0], self.n_out), dtype=self.dtype)
        return self._net.forward(self._params, X, out)

    @_reads
    def predictor(self):
        """A frozen copy of the current weights for fast repeated inference: ``pred = model.predictor();
        pred(X)`` equals ``model.forward(X)`` bit for bit (see ``fastmlp.Predictor``)."""
        return _core.Predictor(self.layers, self.activations, self._params)

    @_reads
    def predict(self, X):
        """Class labels for a classifier (argmax, or output > 0.5 for sigmoid_bce), else the outputs."""
        out = self.forward(X)
        if self.loss in ("softmax_ce", "ideal_mse"):
            return np.argmax(out, axis=1)
        if self.loss == "sigmoid_bce":
            labels = (out > 0).astype(np.int64)
            return labels[:, 0] if self.n_out == 1 else labels
        return out

    @_reads
    def predict_proba(self, X):
        """Class probabilities: softmax of the logits (softmax_ce) or their sigmoid (sigmoid_bce)."""
        if self.loss == "softmax_ce":
            return _core.softmax(self.forward(X))
        if self.loss == "sigmoid_bce":
            z = self.forward(X).astype(np.float64)
            return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(self.dtype)
        raise AttributeError(f"predict_proba needs loss 'softmax_ce' or 'sigmoid_bce', not {self.loss!r}")

    @_reads
    def score(self, X, y):
        """Accuracy for a classifier, R^2 (averaged over outputs) for a regressor."""
        pred = self.predict(X)
        if self.is_classifier:
            pred, y = np.asarray(pred), np.asarray(y)
            if pred.size != y.size:
                raise ValueError(f"y: expected {pred.size} labels, got shape {y.shape}")
            return float(np.mean(pred.reshape(-1) == y.reshape(-1)))
        t = np.asarray(y, dtype=np.float64).reshape(pred.shape)
        ss_res = ((t - pred) ** 2).sum(0)
        ss_tot = ((t - t.mean(0)) ** 2).sum(0)
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0))
        return float(r2.mean())

    @_writes
    def loss_value(self, X, y):
        """Mean loss of the model on (X, y), no penalty terms."""
        X = self._X(X)
        t, labels = self._targets(y, X.shape[0])
        total = 0.0
        for s in range(0, X.shape[0], 1024):
            e = min(s + 1024, X.shape[0])
            lv = self._net.loss_grad(self._params, None, X[s:e], None if t is None else t[s:e],
                                     None if labels is None else labels[s:e])
            total += lv * (e - s)
        return total / X.shape[0]

    # ---- training --------------------------------------------------------------------------------------------
    def _optimizer(self, optimizer, lr, momentum, weight_decay, l1, beta1=0.9, beta2=0.999, eps=1e-8):
        opt = dict(optimizer=optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay, l1=l1,
                   beta1=beta1, beta2=beta2, eps=eps)
        size = self._net.state_size(opt)  # validates every option
        if self._opt is None or self._opt["optimizer"] != optimizer or self._state.shape[0] != size:
            self._state = np.zeros(size, dtype=self.dtype)
            self.step_count = 0
        self._opt = opt
        return opt

    @_writes
    def loss_grad(self, X, y):
        """(mean loss, flat gradient of every parameter) on the batch (X, y), without updating."""
        X = self._X(X)
        t, labels = self._targets(y, X.shape[0])
        grads = np.zeros_like(self._params)
        loss = self._net.loss_grad(self._params, grads, X, t, labels)
        return loss, grads

    @_writes
    def train_step(self, X, y, lr=0.01, optimizer="sgd", momentum=0.9, weight_decay=0.0, l1=0.0):
        """One update on the batch (X, y) in one C call; returns the batch loss. Raises DivergenceError (weights
        untouched) when the loss or a gradient is NaN/Inf."""
        X = self._X(X)
        t, labels = self._targets(y, X.shape[0])
        opt = self._optimizer(optimizer, lr, momentum, weight_decay, l1)
        # the C step refuses a NaN/Inf loss or gradient, or a step that could overflow, before touching anything
        loss = self._net.train_step(self._params, self._grads, self._state, X, t, labels, opt, self.step_count + 1)
        if not math.isfinite(loss):
            raise DivergenceError("train_step: the loss or a gradient is NaN/Inf, or the step would overflow "
                                  "(learning rate too large); weights left unchanged")
        self.step_count += 1
        return loss

    @_writes
    def stepper(self, X, y, lr=0.01, optimizer="sgd", momentum=0.9, weight_decay=0.0, l1=0.0):
        """A bound training step on the fixed batch (X, y): ``step = model.stepper(X, y); step()`` runs one C train
        step per call with no Python-level checks (see ``fastmlp.Stepper``). X is used in place when it is a
        C-contiguous array of the model's dtype, so it can be refilled between calls; the model's weights,
        optimizer state and step count are shared with ``train_step``/``fit``."""
        X = self._X(X)
        t, labels = self._targets(y, X.shape[0])
        opt = self._optimizer(optimizer, lr, momentum, weight_decay, l1)
        return _core.Stepper._make(self._net, self._params, self._grads, self._state, X, t, labels, opt,
                                   self._counter)

    @_writes
    def fit(self, X, y, epochs=10, batch_size=32, lr=0.01, optimizer="sgd", momentum=0.9, weight_decay=0.0,
            l1=0.0, lr_schedule="constant", shuffle=True, validation_split=0.0, validation_data=None,
            early_stopping=False, patience=10, min_delta=0.0, callbacks=(), verbose=False,
            on_divergence="raise", beta1=0.9, beta2=0.999, eps=1e-8):
        """Train for ``epochs`` epochs of mini-batch steps, each epoch one C call; returns a History.

        optimizer: "sgd", "momentum", "nesterov" or "adam"; weight_decay (L2) and l1 act on weights, not biases.
        lr_schedule: "constant", "step", "exponential", "invscaling", "plateau" or a callable
        ``(epoch, lr0, monitored_loss) -> lr`` (see ``fastmlp.schedules``). Validation: ``validation_data=(Xv, yv)``
        or the last ``validation_split`` fraction of X. early_stopping: stop when the monitored loss (validation if
        any, else training) has not improved by ``min_delta`` for ``patience`` epochs and restore the best weights.
        callbacks: callables ``cb(model, epoch, logs)``; one returning True stops training. verbose: a tqdm bar.
        on_divergence: "raise" (DivergenceError) or "warn"; either way the weights of the last finite epoch stay.
        """
        X = self._X(X)
        t, labels = self._targets(y, X.shape[0])
        n = X.shape[0]
        for name, v in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if name == "epochs" else 1):
                raise ValueError(f"{name}: expected an int >= {0 if name == 'epochs' else 1}, got {v!r}")
        if on_divergence not in ("raise", "warn"):
            raise ValueError(f"on_divergence: expected 'raise' or 'warn', got {on_divergence!r}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split: expected a fraction in [0, 1), got {validation_split}")
        val = None
        if validation_data is not None:
            Xv = self._X(validation_data[0], "validation X")
            val = (Xv, validation_data[1])
        elif validation_split > 0:
            n_val = int(round(n * validation_split))
            if n_val < 1 or n_val >= n:
                raise ValueError(f"validation_split: {validation_split} of {n} samples leaves no train or validation data")
            val = (X[n - n_val:], (labels if labels is not None else t)[n - n_val:])
            X = X[: n - n_val]
            t = None if t is None else t[: n - n_val]
            labels = None if labels is None else labels[: n - n_val]
            n = n - n_val
            if self.loss == "ideal_mse":  # validation labels from the ±5 targets
                val = (val[0], np.argmax(val[1], axis=1))
        schedule = schedules.get(lr_schedule)
        opt = self._optimizer(optimizer, lr, momentum, weight_decay, l1, beta1, beta2, eps)
        batch = int(min(batch_size, n))
        history = History()
        best, best_params, wait = math.inf, None, 0
        bar = _progress(epochs, verbose)
        monitored = None
        try:
            for epoch in range(epochs):
                opt["lr"] = float(schedule(epoch, lr, monitored))
                order = (self._rng.permutation(n) if shuffle else np.arange(n)).astype(np.int64)
                snapshot = self._params.copy()
                state_snapshot = self._state.copy()
                t0 = time.perf_counter()
                try:
                    loss, step, diverged = self._net.train_epoch(self._params, self._grads, self._state, X, t,
                                                                 labels, order, batch, opt, self.step_count)
                except KeyboardInterrupt:
                    # Ctrl-C lands between the C epoch and the bookkeeping below: go back to the epoch's start so
                    # that weights, optimizer state and step count agree, then let the interrupt through
                    self._params[...] = snapshot
                    self._state[...] = state_snapshot
                    raise
                if diverged:  # the C epoch refuses any step that could leave non-finite weights
                    self._params[...] = snapshot
                    self._state[...] = state_snapshot
                    history.diverged, history.stopped_epoch = True, epoch
                    msg = (f"fit: the loss became NaN/Inf in epoch {epoch} (lr {opt['lr']:g}); the weights of the "
                           f"last finite epoch were kept. Lower the learning rate or add weight decay.")
                    if on_divergence == "raise":
                        raise DivergenceError(msg)
                    warnings.warn(msg, RuntimeWarning, stacklevel=2)
                    break
                self.step_count = int(step)
                history["loss"].append(loss)
                history["lr"].append(opt["lr"])
                history["time"].append(time.perf_counter() - t0)
                monitored = loss
                if val is not None:
                    vl = self.loss_value(*val)
                    history["val_loss"].append(vl)
                    history["val_score"].append(self.score(*val))
                    monitored = vl
                logs = {k: v[-1] for k, v in history.items() if v}
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k != "time"})
                stop = False
                if early_stopping:
                    if monitored < best - min_delta:
                        best, best_params, wait = monitored, self._params.copy(), 0
                        history.best_epoch = epoch
                    else:
                        wait += 1
                        stop = wait >= patience
                for cb in callbacks:
                    if cb(self, epoch, logs):
                        stop = True
                if stop:
                    history.stopped_epoch = epoch
                    break
        finally:
            if bar is not None:
                bar.close()
        if early_stopping and best_params is not None:
            self._params[...] = best_params
        return history

    def partial_fit(self, X, y, **kwargs):
        """One epoch over (X, y) continuing from the current weights and optimizer state."""
        kwargs.setdefault("epochs", 1)
        return self.fit(X, y, **kwargs)

    # ---- files -----------------------------------------------------------------------------------------------
    @_reads
    def save(self, path):
        """Write the model to an ``.npz`` file (no pickle): written to a temporary file, then renamed."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        d = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=d)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, format_version=np.int64(FORMAT_VERSION), layers=np.array(self.layers, dtype=np.int64),
                         activations=np.array(self.activations), loss=np.array(self.loss or ""),
                         dtype=np.array(self.dtype.name), init=np.array(self.init), params=self._params,
                         step_count=np.int64(self.step_count))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @_reads
    def __getstate__(self):
        # a snapshot taken under the read guard (pickling while another thread trains raises, as predicting does):
        # the arrays and the generator are copied here, so what is pickled is one consistent state
        state = self.__dict__.copy()
        state.pop("_net")  # the C description is rebuilt from layers/activations/loss/dtype
        state.pop("_guard")
        for k in ("_params", "_grads", "_state", "_counter"):
            state[k] = state[k].copy()
        state["_rng"] = copy.deepcopy(state["_rng"])
        state["_opt"] = copy.deepcopy(state["_opt"])
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        # pickle protocol 5 (dask, multiprocessing) may hand back arrays on read-only or unaligned buffers: the C
        # core writes into these, so give the model its own writable, aligned, contiguous copies
        for k in ("_params", "_grads", "_state", "_counter"):
            self.__dict__[k] = np.array(self.__dict__[k], order="C", copy=True)
        self._guard = _Guard()
        self._net = _Net(self.layers, self.activations, self._c_loss(), self.dtype)

    # ---- interop (fastmlp.interop; onnx and torch are imported only here) ------------------------------------
    @_reads
    def to_onnx(self, path=None, raw=False, opset=None):
        """The network as an ONNX graph (``onnx.ModelProto``, also written to ``path`` when given): Gemm +
        Relu/Sigmoid/Tanh per layer, input ``X`` [N, n_in] and output ``output`` in the model's dtype.
        ``output`` is ``predict_proba(X)`` for the softmax_ce / sigmoid_bce losses (Softmax / Sigmoid at the
        end), otherwise ``forward(X)``; ``raw=True`` always exports ``forward(X)``. Needs ``fastmlp[onnx]``."""
        from . import interop

        return interop.mlp_to_onnx(self, path, raw=raw, opset=interop.DEFAULT_OPSET if opset is None else opset)

    @_reads
    def to_torch(self):
        """A ``torch.nn.Sequential`` (Linear + activations, the model's dtype, copied weights) computing
        ``forward(X)``: raw outputs, i.e. logits for the cross-entropy losses. See ``fastmlp.from_torch``."""
        from . import interop

        return interop.to_torch(self)

    def __repr__(self):
        return (f"MLP({self.layers}, activation={self.activations[:-1]}, output={self.activations[-1]!r}, "
                f"loss={self.loss!r}, dtype={self.dtype.name!r})")


def load(path):
    """Read a model written by ``MLP.save`` (never unpickles; every field is checked)."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ValueError(f"load: cannot read {path} ({exc})") from None
    if magic != b"PK\x03\x04":
        raise ValueError(f"load: {path} is not a fastmlp model file (an .npz archive written by MLP.save)")
    try:
        with np.load(path, allow_pickle=False) as f:
            fields = {k: f[k] for k in f.files}
    except Exception as exc:  # zipfile.BadZipFile, a truncated member, an object array, ...
        raise ValueError(f"load: {path} is damaged or not a fastmlp model file ({type(exc).__name__}: {exc})") from None
    need = ("format_version", "layers", "activations", "loss", "dtype", "init", "params", "step_count")
    missing = [k for k in need if k not in fields]
    if missing:
        raise ValueError(f"load: {path} lacks {missing}")
    if int(fields["format_version"]) != FORMAT_VERSION:
        raise ValueError(f"load: format version {int(fields['format_version'])} is not {FORMAT_VERSION}")
    loss = str(fields["loss"]) or None
    model = MLP([int(s) for s in fields["layers"]], activation=[str(a) for a in fields["activations"][:-1]],
                output=str(fields["activations"][-1]), loss=loss, dtype=str(fields["dtype"]),
                init=str(fields["init"]))
    params = fields["params"]
    if params.dtype != model.dtype or params.shape != model._params.shape:
        raise ValueError(f"load: params have dtype {params.dtype} and shape {params.shape}, expected "
                         f"{model.dtype} and {model._params.shape}")
    model.set_flat_params(params)
    model.step_count = int(fields["step_count"])
    return model


def gradcheck(model, X, y, eps=1e-3):
    """Worst relative error between the analytic gradient and central finite differences over every parameter.

    Relative error per parameter: |analytic - numeric| / max(|analytic| + |numeric|, 1e-8 * largest gradient),
    so entries that are negligible against the largest gradient do not dominate."""
    model._guard.enter_write("gradcheck")
    try:
        return _gradcheck(model, X, y, eps)
    finally:
        model._guard.exit_write()


def _gradcheck(model, X, y, eps):
    X = model._X(X)
    t, labels = model._targets(y, X.shape[0])
    params = model._params
    grads = np.zeros_like(params)
    model._net.loss_grad(params, grads, X, t, labels)
    numeric = np.zeros(params.shape[0], dtype=np.float64)
    saved = params.copy()
    try:
        for i in range(params.shape[0]):
            params[i] = saved[i] + eps
            up = model._net.loss_grad(params, None, X, t, labels)
            params[i] = saved[i] - eps
            down = model._net.loss_grad(params, None, X, t, labels)
            params[i] = saved[i]
            numeric[i] = (up - down) / (2 * eps)
    finally:
        params[...] = saved
    analytic = grads.astype(np.float64)
    floor = 1e-8 * max(np.max(np.abs(analytic)), np.max(np.abs(numeric)), 1e-300)
    return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)))


def _progress(epochs, verbose):
    if not verbose:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn("verbose=True shows a progress bar with tqdm: pip install 'fastmlp[progress]'", stacklevel=3)
        return None
    return tqdm(total=epochs, unit="epoch", disable=None)


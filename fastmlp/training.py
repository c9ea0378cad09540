"""The training loop: epochs of C mini-batch steps, with callbacks for what happens between them (history,
validation, schedules, early stopping, divergence, progress).

``run`` takes data that is already checked and converted (once: the validation arrays are not converted again
each epoch) and an optimizer already bound to the network; ``fastmlp.MLP.fit`` prepares both.
"""
import math
import time
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import numpy as np

from . import _core, validation
from .errors import DivergenceError
from .vocabulary import LABEL_LOSSES


if TYPE_CHECKING:
    _HistoryBase = Dict[str, List[Any]]
else:
    _HistoryBase = dict  # a plain dict subclass at run time


class History(_HistoryBase):
    """Per-epoch records of a ``fit``: a dict of lists.

    Keys ``"loss"``, ``"val_loss"``, ``"val_score"``, ``"lr"`` and ``"time"``, plus the attributes
    ``stopped_epoch``, ``best_epoch`` and ``diverged``.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> model = fastmlp.MLP([2, 3, 2], seed=0)
    >>> history = model.fit(np.ones((4, 2)), np.array([0, 1, 0, 1]), epochs=3, batch_size=2)
    >>> len(history["loss"]), len(history["lr"])
    (3, 3)
    """

    stopped_epoch: Optional[int]
    best_epoch: Optional[int]
    diverged: bool

    def __init__(self) -> None:
        super().__init__(loss=[], val_loss=[], val_score=[], lr=[], time=[])
        self.stopped_epoch = None
        self.best_epoch = None
        self.diverged = False


class Data:
    """Training or validation data as the C core takes it: X[n, n_in] (an array, or a ``_core.CSR`` matrix),
    float targets t or int64 labels, ``y`` as ``score`` compares it (labels for a classifier, targets for a
    regressor) and the sample weights ``sw`` (None: all ones)."""

    def __init__(self, X, t, labels, y, sw=None):
        self.X, self.t, self.labels, self.y, self.sw = X, t, labels, y, sw

    @property
    def n(self):
        return self.X.shape[0]

    def rows(self, start, end):
        """The samples start..end-1."""
        return Data(self.X[start:end], _rows(self.t, start, end), _rows(self.labels, start, end),
                    _rows(self.y, start, end), _rows(self.sw, start, end))

    def head(self, n):
        """The first n samples."""
        return self.rows(0, n)

    def tail(self, start):
        """The samples from ``start`` on."""
        return self.rows(start, self.n)

    def chunks(self, size):
        """The data in pieces of at most ``size`` rows (one C call each)."""
        return [self] if self.n <= size else [self.rows(s, min(s + size, self.n)) for s in range(0, self.n, size)]


def _rows(a, start, end):
    return None if a is None else a[start:end]


def data_for(model, X, y, loss, validation_split, validation_data, sample_weight=None):
    """``model.fit``'s data: (train, validation or None) as ``Data``, every array checked and converted once."""
    X = model._X(X)
    n = X.shape[0]
    t, labels = model._targets(y, n, loss=loss)
    score_y = labels if labels is not None else (np.asarray(y) if loss in LABEL_LOSSES else t)
    train = Data(X, t, labels, score_y, model._sample_weight(sample_weight, n))
    validation.fraction("validation_split", validation_split)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data: expected a pair (X_val, y_val)")
        Xv = model._X(validation_data[0], "validation X")
        tv, lv = model._targets(validation_data[1], Xv.shape[0], "validation y", loss=loss)
        yv = lv if lv is not None else (np.asarray(validation_data[1]) if loss in LABEL_LOSSES else tv)
        return train, Data(Xv, tv, lv, yv)
    if validation_split > 0:
        n_val = int(round(n * validation_split))
        if n_val < 1 or n_val >= n:
            raise ValueError(f"validation_split: {validation_split} of {n} samples leaves no train or "
                             f"validation data")
        return train.head(n - n_val), train.tail(n - n_val)
    return train, None


class Callback:
    """Something that runs between epochs. ``on_epoch_end`` returns True to stop training."""

    def on_epoch_end(self, model, epoch, logs, history):
        return False

    def on_train_end(self, model, history, completed):
        """After the last epoch; ``completed`` is False when training ends by an exception."""


class UserCallback(Callback):
    """A user's ``cb(model, epoch, logs)``; returning True stops training."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"callbacks: expected callables cb(model, epoch, logs), got {type(fn).__name__}")
        self.fn = fn

    def on_epoch_end(self, model, epoch, logs, history):
        return bool(self.fn(model, epoch, logs))


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` epochs; at the end the
    weights of the best epoch are restored."""

    def __init__(self, patience, min_delta):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.best_params, self.wait = math.inf, None, 0

    def on_epoch_end(self, model, epoch, logs, history):
        monitored = logs.get("val_loss", logs["loss"])
        if monitored < self.best - self.min_delta:
            self.best, self.best_params, self.wait = monitored, model._params.copy(), 0
            history.best_epoch = epoch
            return False
        self.wait += 1
        return self.wait >= self.patience

    def on_train_end(self, model, history, completed):
        if completed and self.best_params is not None:
            model._params[...] = self.best_params


class Progress(Callback):
    """A tqdm bar, one step per epoch, the latest records beside it (tqdm is the ``progress`` extra)."""

    def __init__(self, epochs):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            warnings.warn("verbose=True shows a progress bar with tqdm: pip install 'fastmlp[progress]'",
                          stacklevel=4)
            self.bar = None
            return
        self.bar = tqdm(total=epochs, unit="epoch", disable=None)

    def on_epoch_end(self, model, epoch, logs, history):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k != "time"})
        return False

    def on_train_end(self, model, history, completed):
        if self.bar is not None:
            self.bar.close()


class UndoPoint:
    """The weights, optimizer state and step count at one moment; ``undo()`` puts them back, together."""

    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer
        self.params, self.opt_state = model._params.copy(), optimizer.snapshot()

    def undo(self):
        self.model._params[...] = self.params
        self.optimizer.restore(self.opt_state)


def _c_epoch(model, train, order, batch, optimizer, cfg, mixed=False):
    """The C epoch; ``mixed``: bf16 products (``_core.mlp_train_epoch_bf16``: float32 model, dense X)."""
    try:
        if mixed:
            return _core.mlp_train_epoch_bf16(model._net, model._params, model._grads, cfg, optimizer.state,
                                              optimizer._counter, train.X, train.t, train.labels, order, batch,
                                              sw=train.sw)
        return model._net.train_epoch(model._params, model._grads, cfg, optimizer.state, optimizer._counter,
                                      train.X, train.t, train.labels, order, batch, sw=train.sw)
    finally:  # the weights changed inside the write-guarded call: what callbacks predict must see the new ones
        model._guard.touch()


def epoch(model, train, order, batch, optimizer, cfg, mixed=False):
    """One epoch of C mini-batch steps over ``train`` (a ``Data``) in the sample order ``order`` (int64); returns
    its mean loss. Any exception -- a DivergenceError from the C epoch, a Ctrl-C during it -- puts the weights,
    the optimizer state and the step count back as they were at its start, together, and propagates. ``mixed``:
    the steps of ``dtype="bfloat16"`` (bf16 products)."""
    point = UndoPoint(model, optimizer)
    try:
        return _c_epoch(model, train, order, batch, optimizer, cfg, mixed)
    except BaseException:
        point.undo()
        raise


def run(model, train, val, epochs, batch, optimizer, cfg, schedule, lr0, shuffle, callbacks, on_divergence, history,
        mixed=False):
    """Train ``model`` for ``epochs`` epochs (one C call each; ``mixed``: with bf16 products), recording them in
    ``history``.

    A diverging epoch is undone (weights, optimizer state and step count as at its start); then
    ``on_divergence="raise"`` re-raises the DivergenceError with the epoch named, ``"warn"`` warns and stops.
    An epoch is committed by one operation (its loss appended to the history): any exception before it -- in the C
    call or between its return and the commit -- puts the epoch back (one ``UndoPoint`` per epoch)."""
    net = model._net
    monitored = None
    completed = False
    try:
        for ep in range(epochs):
            optimizer.set_lr(schedule(ep, lr0, monitored))
            order = (model._rng.permutation(train.n) if shuffle else np.arange(train.n)).astype(np.int64)
            point = UndoPoint(model, optimizer)
            kept = len(history["loss"])
            t0 = time.perf_counter()
            try:
                loss = _c_epoch(model, train, order, batch, optimizer, cfg, mixed)
                history["lr"].append(optimizer.lr)
                history["time"].append(time.perf_counter() - t0)
                # the commit of the epoch, one operation: before it every exception (a Ctrl-C that lands right
                # after the C call returned included) puts weights, optimizer state and step count back together
                history["loss"].append(loss)
            except BaseException as exc:
                if len(history["loss"]) == kept:  # not committed: undo the epoch
                    point.undo()
                    del history["lr"][kept:], history["time"][kept:]
                if not isinstance(exc, DivergenceError):
                    raise
                history.diverged, history.stopped_epoch = True, ep
                exc.args = (f"fit: the loss became NaN/Inf in epoch {ep} (lr {optimizer.lr:g}); the weights of "
                            f"the last finite epoch were kept. Lower the learning rate or add weight decay.",)
                if on_divergence == "raise":
                    raise
                warnings.warn(exc.args[0], RuntimeWarning, stacklevel=3)
                break
            monitored = loss
            if val is not None:
                monitored = model._mean_loss(net, val.X, val.t, val.labels, val.sw)
                history["val_loss"].append(monitored)
                history["val_score"].append(model._score_output(net.forward(
                    model._params, val.X, np.empty((val.n, model.n_out), dtype=model.dtype)), val.y, val.sw))
            logs = {k: v[-1] for k, v in history.items() if v}
            # every callback sees the epoch, also after one asked to stop
            stop = [cb.on_epoch_end(model, ep, logs, history) for cb in callbacks]
            if any(stop):
                history.stopped_epoch = ep
                break
        completed = True
    finally:
        for cb in callbacks:
            cb.on_train_end(model, history, completed)

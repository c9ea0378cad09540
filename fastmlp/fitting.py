"""Training of ``fastmlp.MLP`` (its base class ``Trainable``): ``fit``, ``partial_fit``, ``fit_lbfgs``,
``train_step`` and ``stepper``, and how a training call takes the model's loss and optimizer (``_commit``) and puts
them back when it fails (``_undo``). ``fastmlp.mlp`` adds prediction, scoring, files and export."""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from . import _core, lbfgs, optimizers, schedules, training, validation
from ._guard import writes
from .errors import ConvergenceWarning, DivergenceError
from ._typing import ArrayLike
from .network import Network
from .training import History
from .vocabulary import ON_DIVERGENCE

#: The optimizer argument of the training methods: a rule's name or an optimizer object.
OptimizerArg = Union[str, optimizers.Optimizer]
#: A user callback of ``fit``: ``cb(model, epoch, logs)``, True stops training.
CallbackFn = Callable[[Any, int, Dict[str, Any]], Optional[bool]]


class Trainable(Network):
    """A network that trains with optimizer objects (``fastmlp.optimizers``) through the training loop
    (``fastmlp.training``): the training half of ``fastmlp.MLP``. The optimizer of the last training call, with
    its state, is ``optimizer_`` (None before); ``_idle_steps`` is the step count of a model without one."""

    optimizer_: Optional[optimizers.Optimizer]
    _idle_steps: int

    # ---- the optimizer ---------------------------------------------------------------------------------------
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

    # ---- training --------------------------------------------------------------------------------------------
    def train_step(self, X: ArrayLike, y: ArrayLike, lr: Optional[float] = None, optimizer: OptimizerArg = "sgd",
                   momentum: Optional[float] = None, weight_decay: Optional[float] = None,
                   l1: Optional[float] = None, sample_weight: Optional[ArrayLike] = None,
                   check_finite: bool = True, dtype: Optional[str] = None) -> float:
        """One training step on the batch (X, y) in one C call: forward, loss, backward and the update of every layer.

        Repeated calls with the same optimizer name and options on plain arrays (X C-contiguous in the model's
        dtype, y int64 labels or targets of the model's dtype, no sample weights) reuse what the last call checked
        and bound (arrays checked in C, one pass each): about what a ``stepper`` call costs.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n, n_in)
            The batch.
        y : array_like
            Integer labels of shape (n,) for the label losses, else targets of shape (n, n_out).
        lr : float, optional
            The learning rate (default 0.01 for a rule given by name).
        optimizer : {"sgd", "momentum", "nesterov", "adam"} or Optimizer, default "sgd"
            A rule's name (the model's current rule of that name carries on with its state) or an optimizer
            object, which carries its own options (then ``lr``, ``momentum``, ... must be None).
        momentum : float, optional
            For "momentum" and "nesterov" (default 0.9).
        weight_decay : float, optional
            The L2 penalty on the weights, not the biases (default 0).
        l1 : float, optional
            The L1 penalty on the weights (default 0).
        sample_weight : array_like, shape (n,), optional
            One weight >= 0 per row: the loss and gradient are the weighted means.
        check_finite : bool, default True
            False skips the NaN/Inf scans of X and the targets (the C step still refuses a non-finite loss or
            gradient).
        dtype : {None, "bfloat16"}, optional
            As for ``stepper``: ``"bfloat16"`` (float32 models, dense X) runs the step in mixed precision.

        Returns
        -------
        float
            The batch's loss before the update.

        Raises
        ------
        DivergenceError
            The loss or a gradient is NaN/Inf; the model is as it was.
        ValueError
            A shape, value or option is refused (an option the rule would not use, too); the model is as it was.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 4, 1], loss="mse", dtype="float64", seed=0)
        >>> X, y = np.ones((8, 2)), np.zeros((8, 1))
        >>> first = model.train_step(X, y, lr=0.1)
        >>> later = [model.train_step(X, y, lr=0.1) for _ in range(20)][-1]
        >>> later < first, model.step_count
        (True, 21)
        """
        cache = self._step_cache
        if cache is not None and dtype is None and sample_weight is None and (check_finite is True or
                                                                              check_finite is False):
            loss = cache.run(self, X, y, optimizer, lr, momentum, weight_decay, l1, check_finite)
            if loss is not None:
                return loss
        return self._train_step(X, y, lr, optimizer, momentum, weight_decay, l1, sample_weight, check_finite,
                                self._mixed(dtype))

    def _mixed(self, dtype):
        """True for dtype="bfloat16" (float32 models only), False for None; anything else is refused."""
        if dtype is not None and (not isinstance(dtype, str) or dtype != "bfloat16"):
            raise ValueError(f"dtype: expected None or 'bfloat16', got {dtype!r}")
        if dtype is not None and self.dtype != np.float32:
            raise ValueError(f"dtype='bfloat16': mixed precision needs a float32 model, this one is {self.dtype}")
        return dtype is not None

    @writes
    def _train_step(self, X, y, lr, optimizer, momentum, weight_decay, l1, sample_weight, check_finite, mixed):
        check_finite = validation.flag("check_finite", check_finite)
        X = validation.features("X", X, self.dtype, self.n_in, check_finite)
        loss = self._loss_for(y)
        t, labels = self._targets(y, X.shape[0], loss=loss, check_finite=check_finite)
        sw = self._sample_weight(sample_weight, X.shape[0])
        opt, cfg, undo = self._commit(loss, optimizer, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                                            l1=l1))
        try:
            if mixed:  # dense X only: a sparse one is refused there (TypeError)
                value = _core.mlp_train_step_bf16(self._net, self._params, self._grads, cfg, opt.state, opt._counter,
                                                  X, t, labels, sw=sw)
            else:
                value = self._net.train_step(self._params, self._grads, cfg, opt.state, opt._counter, X, t, labels,
                                             sw=sw)
        except BaseException:
            self._undo(undo)  # the refused step changed no weight
            raise
        key = (lr, momentum, weight_decay, l1)
        if not mixed and type(optimizer) is str and loss != "ideal_mse" and cfg is opt._config \
                and all(v is None or type(v) in (int, float) for v in key):
            self._step_cache = _core._StepCache(self._guard, self._net, self._params, self._grads, opt, cfg,
                                                self.loss, optimizer, key)
        return value

    @writes
    def stepper(self, X: ArrayLike, y: ArrayLike, lr: Optional[float] = None, optimizer: OptimizerArg = "sgd",
                momentum: Optional[float] = None, weight_decay: Optional[float] = None,
                l1: Optional[float] = None,
                dtype: Optional[str] = None) -> Union[_core.Stepper, _core.StepperBF16]:
        """A bound training step on the fixed batch (X, y), for tight loops.

        ``step = model.stepper(X, y); step()`` runs one C train step per call with no Python-level checks. X is
        used in place when it is a C-contiguous array of the model's dtype, so it can be refilled between calls;
        the model's weights, optimizer state and step count are shared with ``train_step`` and ``fit``.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The batch.
        y : array_like
            Its labels or targets: used in place when already a C-contiguous array of the model's dtype (int64
            for labels), else converted once.
        lr : float, optional
            The learning rate (default 0.01).
        optimizer : {"sgd", "momentum", "nesterov", "adam"} or Optimizer, default "sgd"
            As for ``train_step``.
        momentum : float, optional
            For "momentum" and "nesterov" (default 0.9).
        weight_decay : float, optional
            The L2 penalty on the weights (default 0).
        l1 : float, optional
            The L1 penalty on the weights (default 0).
        dtype : {None, "bfloat16"}, optional
            None: the model's dtype throughout. ``"bfloat16"`` (float32 models): mixed precision, the three products
            of every layer read bf16-rounded operands and sum in float32; the weights, loss and update stay float32
            (``fastmlp.bf16_train_path()`` names the path: AMX tiles where the CPU has them).

        Returns
        -------
        fastmlp._core.Stepper or fastmlp._core.StepperBF16
            Calling it runs one step and returns the batch loss. When the model's optimizer is replaced or the
            model reset, it refuses to run (RuntimeError).

        Raises
        ------
        ValueError
            A shape, value or option is refused.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 4, 1], loss="mse", dtype="float64", seed=0)
        >>> step = model.stepper(np.ones((8, 2)), np.zeros((8, 1)), lr=0.1)
        >>> losses = [step() for _ in range(10)]
        >>> losses[-1] < losses[0], model.step_count
        (True, 10)
        """
        mixed = self._mixed(dtype)
        X = self._X(X)
        loss = self._loss_for(y)
        t, labels = self._targets(y, X.shape[0], loss=loss)
        opt, cfg, undo = self._commit(loss, optimizer, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                                            l1=l1))
        try:
            if mixed:
                return _core.StepperBF16._make(self._net, self._params, self._grads, cfg, opt.state, opt._counter,
                                               opt._alive, X, t, labels, self._guard._version)
            return _core.Stepper._make(self._net, self._params, self._grads, cfg, opt.state, opt._counter, opt._alive,
                                       X, t, labels, self._guard._version, self._guard, opt._bounds,
                                       opt._bounds_version)
        except BaseException:
            self._undo(undo)
            raise

    @writes
    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 10, batch_size: int = 32, lr: Optional[float] = None,
            optimizer: OptimizerArg = "sgd", momentum: Optional[float] = None,
            weight_decay: Optional[float] = None, l1: Optional[float] = None,
            lr_schedule: Union[str, Callable[[int, float, float], float]] = "constant", shuffle: bool = True,
            validation_split: float = 0.0, validation_data: Optional[Tuple[ArrayLike, ArrayLike]] = None,
            early_stopping: bool = False, patience: int = 10, min_delta: float = 0.0,
            callbacks: Iterable[CallbackFn] = (), verbose: bool = False, on_divergence: str = "raise",
            beta1: Optional[float] = None, beta2: Optional[float] = None, eps: Optional[float] = None,
            sample_weight: Optional[ArrayLike] = None, dtype: Optional[str] = None) -> History:
        """Train for ``epochs`` epochs of shuffled mini-batch steps, each epoch one C call.

        Every argument is checked before the model changes; a call that fails before its first epoch is kept
        leaves the model as it was. For full-batch L-BFGS see ``fit_lbfgs``.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n, n_in)
            The training samples (numpy arrays, lists, DataFrames, memory maps; scipy sparse CSR/CSC).
        y : array_like
            Integer labels of shape (n,) for the label losses, else targets of shape (n, n_out).
        epochs : int, default 10
            Passes over the data, >= 0.
        batch_size : int, default 32
            Rows per step (capped at the number of samples).
        lr : float, optional
            The learning rate (default 0.01; for Adam too).
        optimizer : {"sgd", "momentum", "nesterov", "adam"} or Optimizer, default "sgd"
            A rule's name with its options below, or an optimizer object (``fastmlp.Adam(...)``) that carries its
            own (then the options must be None).
        momentum : float, optional
            For "momentum" and "nesterov" (default 0.9).
        weight_decay : float, optional
            The L2 penalty on the weights, not the biases (default 0).
        l1 : float, optional
            The L1 penalty on the weights (default 0).
        lr_schedule : str or callable, default "constant"
            "constant", "step", "exponential", "invscaling", "plateau" or a callable
            ``(epoch, lr0, monitored_loss) -> lr`` (see ``fastmlp.schedules``).
        shuffle : bool, default True
            Shuffle the samples every epoch (with the model's generator).
        validation_split : float, default 0.0
            The last fraction of X held out for validation.
        validation_data : tuple (X_val, y_val), optional
            Validation data (instead of a split).
        early_stopping : bool, default False
            Stop when the monitored loss (validation if any, else training) has not improved by ``min_delta`` for
            ``patience`` epochs, and restore the best weights.
        patience : int, default 10
            Epochs without improvement before stopping.
        min_delta : float, default 0.0
            The improvement that counts.
        callbacks : iterable of callable, default ()
            ``cb(model, epoch, logs)`` after every epoch; one returning True stops training.
        verbose : bool, default False
            A progress bar (tqdm).
        on_divergence : {"raise", "warn"}, default "raise"
            What a NaN/Inf loss does; either way the weights of the last finite epoch stay.
        beta1 : float, optional
            Adam's first-moment decay (default 0.9).
        beta2 : float, optional
            Adam's second-moment decay (default 0.999).
        eps : float, optional
            Adam's epsilon (default 1e-8).
        sample_weight : array_like, shape (n,), optional
            One weight >= 0 per sample: each batch's loss and gradient are its weighted mean (the validation split
            keeps its samples' weights).
        dtype : {None, "bfloat16"}, optional
            None: the model's dtype throughout. ``"bfloat16"`` (float32 models, dense X): every step is the
            mixed-precision step of ``stepper(..., dtype="bfloat16")`` -- bf16 operands in the products, float32
            sums, weights and update.

        Returns
        -------
        History
            Per-epoch records: ``history["loss"]``, ``["val_loss"]``, ``["val_score"]``, ``["lr"]``, ``["time"]``.

        Raises
        ------
        DivergenceError
            The loss became NaN/Inf (with ``on_divergence="raise"``).
        ValueError
            An argument is refused (also ``optimizer="lbfgs"``: use ``fit_lbfgs``).

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> X = np.linspace(-1, 1, 64).reshape(-1, 1)
        >>> model = fastmlp.MLP([1, 16, 1], activation="tanh", dtype="float64", seed=0)
        >>> history = model.fit(X, X ** 2, epochs=50, batch_size=16, lr=0.01, optimizer="adam")
        >>> len(history["loss"]), history["loss"][-1] < history["loss"][0]
        (50, True)
        """
        mixed = self._mixed(dtype)
        if optimizer == "lbfgs":
            raise ValueError("optimizer='lbfgs' is full-batch and takes no epochs, batches or learning rate: "
                             "use model.fit_lbfgs(X, y, max_iter=...)")
        loss = self._loss_for(y)
        train, val = training.data_for(self, X, y, loss, validation_split, validation_data, sample_weight)
        if mixed and isinstance(train.X, _core.CSR):
            raise TypeError("dtype='bfloat16': X must be dense (the mixed-precision step takes no sparse input)")
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
                         history, mixed)
        except BaseException:
            if not history["loss"]:  # no epoch kept: the weights are as they were, so is the rest
                self._undo(undo)
            raise
        return history

    @writes
    def fit_lbfgs(self, X: ArrayLike, y: ArrayLike, max_iter: int = 200, max_fun: int = 15000, tol: float = 1e-4,
                  alpha: float = 0.0, sample_weight: Optional[ArrayLike] = None, verbose: bool = False) -> int:
        """Full-batch L-BFGS (scipy's L-BFGS-B, as scikit-learn's ``solver="lbfgs"``), loss and gradient in C.

        Minimises the weighted mean loss plus ``0.5 * alpha * ||W||^2 / S`` (S the total sample weight; weights
        only, not biases). Needs scipy. The optimizer state of SGD/Adam training is left as it was.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n, n_in)
            The training samples.
        y : array_like
            Their labels or targets.
        max_iter : int, default 200
            The most iterations, >= 1.
        max_fun : int, default 15000
            The most loss evaluations, >= 1.
        tol : float, default 1e-4
            The projected-gradient tolerance, >= 0.
        alpha : float, default 0.0
            The L2 penalty, >= 0.
        sample_weight : array_like, shape (n,), optional
            One weight >= 0 per sample.
        verbose : bool, default False
            Print scipy's progress.

        Returns
        -------
        int
            The iterations run (a ``fastmlp.ConvergenceWarning`` when it stopped before converging).

        Raises
        ------
        DivergenceError
            The loss is not finite at the solution; the weights are as they were.
        ValueError
            An argument is refused.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> X = np.linspace(-1, 1, 32).reshape(-1, 1)
        >>> model = fastmlp.MLP([1, 8, 1], activation="tanh", dtype="float64", seed=0)
        >>> n_iter = model.fit_lbfgs(X, 2 * X, max_iter=100)
        >>> print(f"{model.score(X, 2 * X):.3f}")
        1.000
        """
        max_iter = validation.integer("max_iter", max_iter, 1)
        max_fun = validation.integer("max_fun", max_fun, 1)
        tol, alpha = validation.real("tol", tol, 0.0), validation.real("alpha", alpha, 0.0)
        loss = self._loss_for(y)
        train, _ = training.data_for(self, X, y, loss, 0.0, None, sample_weight)
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
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n, n_in)
            The samples of this block.
        y : array_like
            Their labels or targets.
        **kwargs
            Any argument of ``fit`` (``epochs`` defaults to 1).

        Returns
        -------
        History
            The epoch's record.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 4, 2], seed=0)
        >>> for block in range(3):
        ...     _ = model.partial_fit(np.ones((8, 2)), np.array([0, 1] * 4), batch_size=4)
        >>> model.step_count
        6
        """
        kwargs.setdefault("epochs", 1)
        return self.fit(X, y, **kwargs)

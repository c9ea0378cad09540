"""The network: sizes, activations, loss, dtype and the flat parameter vector, with the forward pass and the
loss and gradient computed in C. ``fastmlp.MLP`` adds training, files and the estimator-style methods.

Nothing here changes state on the side: validating targets returns them (and the loss they call for when the
model's loss is still open) without touching the model.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from . import _core, validation
from ._guard import Guard, reads, uses_workspace, writes
from ._typing import Activation, ArrayLike, DTypeLike, FloatArray, NDArray, Seed, Sizes
from .vocabulary import ACTIVATIONS, CLASSIFIER_LOSSES, IDEAL_TARGET, INITS, LABEL_LOSSES, LOSSES

#: Each activation as a numpy function of the pre-activation (float64 forms for analysis and plots; the C core
#: computes the same functions).
NUMPY_ACTIVATIONS = dict(zip(ACTIVATIONS, (lambda z: z, lambda z: np.maximum(z, 0.0),
                                           lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), np.tanh)))
_CORE_LOSS = {"ideal_mse": "mse", None: "mse"}  # the C loss that computes a model loss (identity otherwise)


def core_loss(loss):
    """The loss the C core computes for a model loss (``ideal_mse`` is ``mse`` on ±5 targets)."""
    return _CORE_LOSS.get(loss, loss)


def infer_loss(y, n_out):
    """The loss an open model (``loss=None``) takes from its first targets: integer labels with more than one
    output give ``softmax_ce``, anything else ``mse``."""
    return "softmax_ce" if np.asarray(y).dtype.kind in "iu" and n_out > 1 else "mse"


def targets(loss, y, n, n_out, dtype, name="y", check_finite=True):
    """``y`` in the form the C loss takes: ``(t, None)`` with float targets t[n, n_out] or ``(None, labels)``
    with int64 labels[n] for softmax_ce. ``ideal_mse`` labels become ±IDEAL_TARGET rows."""
    y = np.asarray(y)
    if y.shape[:1] != (n,):
        raise ValueError(f"{name}: expected {n} rows (one per sample of X), got shape {y.shape}")
    if loss in LABEL_LOSSES:
        if y.ndim != 1:
            raise ValueError(f"{name}: expected 1-d integer class labels, got shape {y.shape}")
        if y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise TypeError(f"{name}: expected integer class labels, got dtype {y.dtype}")
        if y.min() < 0 or y.max() >= n_out:
            raise ValueError(f"{name}: labels must lie in [0, {n_out}), got [{y.min()}, {y.max()}]")
        labels = np.ascontiguousarray(y, dtype=np.int64)
        if loss == "softmax_ce":
            return None, labels
        t = np.full((n, n_out), -IDEAL_TARGET, dtype=dtype)
        t[np.arange(n), labels] = IDEAL_TARGET
        return t, None
    t = y.reshape(n, -1) if y.ndim == 1 else y
    t = validation.as_float_array(name, t, dtype, check_finite=check_finite)
    if t.shape != (n, n_out):
        raise ValueError(f"{name}: expected shape ({n}, {n_out}), got {y.shape}")
    if loss == "sigmoid_bce" and (t.min() < 0 or t.max() > 1):
        raise ValueError(f"{name}: sigmoid_bce targets must lie in [0, 1]")
    return t, None


class Network:
    """A fully connected network ``layers = [n_in, h1, ..., n_out]`` (see ``fastmlp.MLP`` for the arguments)."""

    def __init__(self, layers: Sizes, activation: Activation = "relu", output: str = "identity",
                 loss: Optional[str] = None, dtype: DTypeLike = "float32", init: str = "he",
                 seed: Seed = None) -> None:
        self._setup(layers, activation, output, loss, dtype, init, seed)
        self._init_parameters()

    def _setup(self, layers, activation, output, loss, dtype, init, seed):
        """Everything but the weights' values: checked arguments, the generator and the (uninitialised) buffers.
        A model file's reader calls this alone, then fills ``_params`` from the file."""
        self.layers = validation.layer_sizes(layers)
        self.activations = validation.activations(activation, len(self.layers) - 2, output)
        if loss is not None:
            validation.choice("loss", loss, LOSSES)
        self.loss = validation.loss_output(loss, output)
        self.dtype = validation.dtype(dtype)
        self.init = validation.choice("init", init, INITS)
        self.seed = validation.seed(seed)
        count = validation.model_size(self.layers, self.dtype)
        self._rng = np.random.default_rng(seed)
        self._nets = {}
        try:
            # on cache lines (_core._aligned_empty): the kernels stream W, its gradient and the optimizer's state
            self._params = _core._aligned_empty(count, self.dtype)
            self._grads = _core._aligned_empty(count, self.dtype, zero=True)  # calloc: pages only as touched
        except MemoryError:
            raise ValueError(f"layers: {self.layers} has {count} parameters; their {self.dtype.name} buffers "
                             f"({2 * count * self.dtype.itemsize / 2**30:.3g} GiB) cannot be allocated") from None
        self._new_guard()
        if self._c_net().n_params != count:  # the C core's count is the layout every kernel uses
            raise AssertionError(f"parameter count {self._c_net().n_params} != {count}")

    def _new_guard(self):
        """A fresh guard over ``_params`` (its views, version and packed cache; see ``fastmlp._core.Guard``)."""
        self._guard = Guard()
        self._guard.bind(self._params)
        self._step_cache = None  # MLP.train_step's fast path (fastmlp._core._StepCache)

    def _write_params(self, values: Any) -> None:
        """``_params[...] = values`` for code outside the guarded methods (the estimators): the one way to write
        the weights directly, marking them changed."""
        self._params[...] = values
        self._guard.touch()

    # ---- structure -------------------------------------------------------------------------------------------
    def _c_net(self, loss: Optional[str] = None) -> _core._Net:
        """The C description of this network for a model loss (default: the model's own), built once each."""
        key = core_loss(self.loss if loss is None else loss)
        net = self._nets.get(key)
        if net is None:
            net = self._nets[key] = _core._Net(self.layers, self.activations, key, self.dtype)
        return net

    @property
    def _net(self) -> _core._Net:
        return self._c_net()

    @property
    def n_in(self) -> int:
        """The number of inputs, ``layers[0]``."""
        return self.layers[0]

    @property
    def n_out(self) -> int:
        """The number of outputs, ``layers[-1]``."""
        return self.layers[-1]

    @property
    def is_classifier(self) -> bool:
        """Whether the loss is a classifier's (softmax_ce, sigmoid_bce, ideal_mse): ``predict`` gives labels."""
        return self.loss in CLASSIFIER_LOSSES

    @property
    def n_params(self) -> int:
        """The number of parameters, every W and b: the length of ``get_flat_params()``."""
        return self._params.shape[0]

    def _slices(self):
        off = 0
        for n_i, n_o in zip(self.layers[:-1], self.layers[1:]):
            yield slice(off, off + n_o * n_i), (n_o, n_i), slice(off + n_o * n_i, off + n_o * n_i + n_o)
            off += n_o * n_i + n_o

    @property
    def params(self) -> List[Tuple[FloatArray, FloatArray]]:
        """[(W0, b0), (W1, b1), ...]: numpy views of the flat C parameter buffer (writing them changes the model).
        Taken under the read guard: while another thread trains the model this raises RuntimeError; hold
        ``with model.read_weights() as params:`` to keep training out while the views are used.

        Writes through these views are always seen by the next prediction: while any of them (or any array
        derived from them) is alive, ``forward``/``predict`` pack the weights afresh on every call instead of
        using their cache (drop the views, or copy what you keep, to get the fast path back); the training steps
        likewise scan every weight again (a step otherwise takes the weights' largest value from the step before).
        Raw pointers taken from them (``ctypes``, ``__array_interface__``) are not tracked: write through an array."""
        self._guard.enter_read()
        try:
            return self._views()
        finally:
            self._guard.exit_read()

    def _views(self) -> List[Tuple[FloatArray, FloatArray]]:
        """Writable views, exported through the guard (which sees them alive and treats the weights as changed)."""
        flat = self._guard.views()
        return [(flat[w].reshape(shape), flat[b]) for w, shape, b in self._slices()]

    @contextlib.contextmanager
    def read_weights(self) -> Iterator[List[Tuple[FloatArray, FloatArray]]]:
        """``with model.read_weights() as params:`` the ``params`` views ([(W0, b0), ...]) under the read guard
        for the whole block: training in another thread is refused (RuntimeError) until it ends, and entering
        it while another thread trains raises RuntimeError. What ``fastmlp.regions`` reads weights with.

        Examples
        --------
        >>> import fastmlp
        >>> model = fastmlp.MLP([3, 4, 2], seed=0)
        >>> with model.read_weights() as params:
        ...     print([W.shape for W, b in params])
        [(4, 3), (2, 4)]
        """
        self._guard.enter_read()
        try:
            yield self._views()
        finally:
            self._guard.exit_read()

    @reads
    def get_flat_params(self) -> FloatArray:
        """A consistent copy of every parameter, laid out ``[W0, b0, W1, b1, ...]`` (each W row-major).

        Returns
        -------
        ndarray, shape (n_params,)
            The parameters, in the model's dtype.

        Examples
        --------
        >>> import fastmlp
        >>> model = fastmlp.MLP([3, 4, 2], seed=0)
        >>> model.get_flat_params().shape          # 4*3 + 4 + 2*4 + 2
        (26,)
        """
        return self._params.copy()

    @writes
    def set_flat_params(self, flat: ArrayLike) -> None:
        """Replace every parameter.

        Parameters
        ----------
        flat : array_like, shape (n_params,)
            The new values, laid out as ``get_flat_params`` returns them; converted to the model's dtype.

        Raises
        ------
        TypeError
            ``flat`` does not hold numbers.
        ValueError
            Its shape is not ``(n_params,)``, or it holds NaN/Inf (also values that overflow the model's dtype).

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 1], activation="identity", dtype="float64")
        >>> model.set_flat_params([1.0, 2.0, 0.5])     # W = [[1, 2]], b = [0.5]
        >>> model.forward([[1.0, 1.0]])
        array([[3.5]])
        """
        flat = np.asarray(flat)
        if flat.shape != self._params.shape:
            raise ValueError(f"flat: expected shape {self._params.shape}, got {flat.shape}")
        if flat.dtype.kind not in "biuf":
            raise TypeError(f"flat: expected numbers, got dtype {flat.dtype}")
        with np.errstate(over="ignore", invalid="ignore"):
            cast = flat.astype(self.dtype)
        if not np.isfinite(cast).all():
            raise ValueError(f"flat: contains NaN or Inf (or values beyond the range of {self.dtype})")
        self._params[...] = cast

    _INIT_CHUNK = 1 << 22  # values drawn per call: bounded scratch memory, the same stream as one big draw

    def _init_parameters(self):
        """Draw fresh weights from the model's generator (biases zero for he/glorot), in place, layer by layer,
        in chunks: a float64 model gets exactly the numbers of one ``rng.normal``/``rng.uniform`` call per
        array; a float32 model the same numbers rounded to float32 (drawn in float64, cast a chunk at a time)."""
        for (w, shape, b) in self._slices():
            fan_out, fan_in = shape
            if self.init == "he":
                self._draw(self._params[w], "normal", 0.0, math.sqrt(2.0 / fan_in))
                self._params[b] = 0
            elif self.init == "glorot":
                lim = math.sqrt(6.0 / (fan_in + fan_out))
                self._draw(self._params[w], "uniform", -lim, lim)
                self._params[b] = 0
            else:
                lim = 1.0 / math.sqrt(fan_in)
                self._draw(self._params[w], "uniform", -lim, lim)
                self._draw(self._params[b], "uniform", -lim, lim)

    def _draw(self, out, kind, a, b):
        """Fill the 1-d ``out`` with ``rng.normal(a, b)`` or ``rng.uniform(a, b)`` draws, a chunk at a time."""
        draw = self._rng.normal if kind == "normal" else self._rng.uniform
        step = self._INIT_CHUNK
        for s in range(0, out.shape[0], step):
            e = min(s + step, out.shape[0])
            out[s:e] = draw(a, b, size=e - s)

    # ---- data ------------------------------------------------------------------------------------------------
    def _X(self, X: Any, name: str = "X") -> FloatArray:
        return validation.features(name, X, self.dtype, self.n_in)

    def _loss_for(self, y: Any) -> str:
        """The loss these targets are trained with: the model's, or for an open model the one ``y`` calls for."""
        return self.loss if self.loss is not None else infer_loss(y, self.n_out)

    def _targets(self, y: Any, n: int, name: str = "y", loss: Optional[str] = None, check_finite: bool = True
                 ) -> Tuple[Optional[FloatArray], Optional[NDArray[np.int64]]]:
        """(t, labels) for the C loss; see ``targets``. No side effect."""
        return targets(self._loss_for(y) if loss is None else loss, y, n, self.n_out, self.dtype, name,
                       check_finite)

    # ---- inference, loss and gradient -----------------------------------------------------------------------
    def forward(self, X: ArrayLike, check_finite: bool = True) -> FloatArray:
        """The network's raw output (logits for the cross-entropy losses), bit for bit ``model.predictor()(X)``.

        Dense X runs on a cache of the weights in the packed inference layout (a ``Predictor``), made on the
        first call and reused until the weights change: every fastmlp write (training, steppers, set_flat_params,
        reset_parameters, loading, the estimators) marks them changed, and while writable views of the weights
        (``params``, ``read_weights()``, an estimator's ``coefs_``/``intercepts_``) are alive the cache is not
        used (see ``params``).

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n, n_in)
            The samples, one per row (scipy sparse CSR/CSC runs the first layer on the nonzeros).
        check_finite : bool, default True
            False skips the NaN/Inf scan of X (one pass in C).

        Returns
        -------
        ndarray, shape (n, n_out)
            The last layer's output (its activation applied), in the model's dtype.

        Raises
        ------
        ValueError
            X has another number of columns than ``n_in``, is empty, or holds NaN/Inf.
        RuntimeError
            Another thread is training the model.

        Examples
        --------
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 8, 3], seed=0)
        >>> model.forward([[0.5, -1.0], [1.0, 2.0]]).shape
        (2, 3)
        """
        if check_finite is not True:
            check_finite = validation.flag("check_finite", check_finite)
        out = self._guard.predict_plain(X, check_finite)  # the cache on a plain array: no Python-level checks
        return self._forward(X, check_finite) if out is None else out

    @reads
    def _forward(self, X, check_finite):
        X = validation.features("X", X, self.dtype, self.n_in, check_finite)
        if isinstance(X, _core.CSR):
            out = np.empty((X.n_rows, self.n_out), dtype=self.dtype)
            return self._net.forward(self._params, X, out)
        return self._guard.packed(self.layers, self.activations, self._params)(X, check_finite=False)

    def _mean_loss(self, net, X, t, labels, sw=None):
        """(Weighted) mean loss over prepared (X, t, labels, sw), in chunks of 1024 rows (NaN when it is not
        finite)."""
        total, weight = 0.0, 0.0
        for s in range(0, X.shape[0], 1024):
            e = min(s + 1024, X.shape[0])
            w = float(e - s) if sw is None else float(np.sum(sw[s:e], dtype=np.float64))
            if w == 0:
                continue
            lv = net.loss_grad(self._params, None, X[s:e], None if t is None else t[s:e],
                               None if labels is None else labels[s:e], sw=None if sw is None else sw[s:e])
            total, weight = total + lv * w, weight + w
        return total / weight if weight > 0 else math.nan

    def _sample_weight(self, sample_weight, n):
        """``validation.sample_weight`` in the model's dtype."""
        return validation.sample_weight(sample_weight, n, self.dtype)

    @uses_workspace  # the C description's workspace is shared: one caller at a time
    def loss_value(self, X: ArrayLike, y: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """The mean loss of the model on (X, y), without penalty terms.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The samples.
        y : array_like
            Integer labels of shape (n,) for the label losses, else targets of shape (n, n_out).
        sample_weight : array_like, shape (n,), optional
            One weight >= 0 per sample: the weighted mean instead.

        Returns
        -------
        float
            The (weighted) mean loss.

        Raises
        ------
        ValueError
            A shape does not match, or a value is NaN/Inf.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 1], activation="identity", loss="mse", dtype="float64")
        >>> model.set_flat_params([0.0, 0.0, 1.0])       # the output is 1 everywhere
        >>> model.loss_value(np.zeros((4, 2)), np.zeros((4, 1)))   # 0.5 * (1 - 0)**2
        0.5
        """
        X = self._X(X)
        loss = self._loss_for(y)
        t, labels = self._targets(y, X.shape[0], loss=loss)
        return self._mean_loss(self._c_net(loss), X, t, labels, self._sample_weight(sample_weight, X.shape[0]))

    @uses_workspace
    def loss_grad(self, X: ArrayLike, y: ArrayLike, sample_weight: Optional[ArrayLike] = None
                  ) -> Tuple[float, FloatArray]:
        """The mean loss and its gradient with respect to every parameter, without updating.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The batch.
        y : array_like
            Integer labels of shape (n,) for the label losses, else targets of shape (n, n_out).
        sample_weight : array_like, shape (n,), optional
            One weight >= 0 per sample: the weighted mean instead.

        Returns
        -------
        loss : float
            The (weighted) mean loss of the batch.
        grads : ndarray, shape (n_params,)
            Its gradient, laid out as ``get_flat_params``.

        Raises
        ------
        ValueError
            A shape does not match, or a value is NaN/Inf.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 1], activation="identity", loss="mse", dtype="float64")
        >>> model.set_flat_params([0.0, 0.0, 1.0])
        >>> loss, grads = model.loss_grad(np.ones((1, 2)), np.zeros((1, 1)))
        >>> loss, grads                                  # dp = p - t = 1: dW = dp x, db = dp
        (0.5, array([1., 1., 1.]))
        """
        X = self._X(X)
        loss = self._loss_for(y)
        t, labels = self._targets(y, X.shape[0], loss=loss)
        grads = np.zeros_like(self._params)
        value = self._c_net(loss).loss_grad(self._params, grads, X, t, labels,
                                            sw=self._sample_weight(sample_weight, X.shape[0]))
        return value, grads

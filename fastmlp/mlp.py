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
from .numcheck import gradcheck
from ._typing import Activation, ArrayLike, DTypeLike, FloatArray, NDArray, Seed, Sizes
from .training import History
from .vocabulary import LABEL_LOSSES

__all__ = ["MLP", "DivergenceError", "History", "load", "gradcheck"]

_M = TypeVar("_M", bound="MLP")
#: What ``save`` and ``load`` take: a path, a binary file object or (``load``) a file descriptor.
PathLike = Union[str, "os.PathLike[str]"]


class MLP(Trainable):
    """A fully connected network ``layers = [n_in, h1, ..., n_out]``, trained and run by the C core.

    Every layer computes ``p = act(x @ W.T + b)`` with ``W[n_out, n_in]``; all parameters live in one flat buffer
    ``[W0, b0, W1, b1, ...]`` that the C core trains in place.

    Parameters
    ----------
    layers : sequence of int
        ``[n_in, h1, ..., n_out]``: at least two sizes, each >= 1 (at most 32 layers).
    activation : str or sequence of str, default "relu"
        The hidden activation ("relu", "sigmoid", "tanh", "identity"), or one per hidden layer.
    output : str, default "identity"
        The output activation; the cross-entropy and Poisson losses require "identity" (they take logits).
    loss : str, optional
        "softmax_ce" (integer labels), "sigmoid_bce" (0/1 targets), "mse", "poisson", or "ideal_mse" (source
        document 004: squared error against +5 for the right class and -5 for the others, integer labels).
        None: decided by the first training call that succeeds: integer labels give "softmax_ce", float targets
        "mse".
    dtype : {"float32", "float64"}, default "float32"
        The type of the weights and of every computation.
    init : {"he", "glorot", "uniform"}, default "he"
        How the initial weights are drawn.
    seed : int or numpy.random.Generator, optional
        Seeds the initial weights and the shuffling; the same seed gives bit-identical weights after training,
        whatever the thread count.

    Attributes
    ----------
    optimizer_ : fastmlp.optimizers.Optimizer or None
        The optimizer of the last training call, with its state (None before the first).

    Raises
    ------
    ValueError
        A size is not an int >= 1 (or fewer than two are given), or an activation, loss or init is not one of
        those listed.
    TypeError
        ``dtype`` is not float32 or float64.

    See Also
    --------
    MLPClassifier, MLPRegressor : The same network behind scikit-learn's interface.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)        # XOR-like labels
    >>> model = fastmlp.MLP([2, 16, 2], activation="relu", dtype="float64", seed=0)
    >>> history = model.fit(X, y, epochs=60, batch_size=20, lr=0.01, optimizer="adam")
    >>> model.loss, model.n_params
    ('softmax_ce', 82)
    >>> print(f"{model.score(X, y):.2f}")
    1.00
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
        """The number of parameter updates applied (Adam's step number; shared by fit, train_step and steppers)."""
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
        """Draw fresh weights from the model's generator and drop the optimizer (its steppers stop working).

        Returns
        -------
        MLP
            The model itself.

        Examples
        --------
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 3, 1], seed=0)
        >>> before = model.get_flat_params()
        >>> bool((model.reset_parameters().get_flat_params() != before).any())
        True
        """
        self._init_parameters()
        self._drop_optimizer()
        return self

    # ---- inference -------------------------------------------------------------------------------------------
    @reads
    def predictor(self, dtype: Optional[str] = None) -> Union[_core.Predictor, _core.PredictorBF16]:
        """A frozen copy of the current weights, packed for fast repeated inference.

        Parameters
        ----------
        dtype : {None, "bfloat16"}, optional
            None: the model's own dtype, ``pred(X)`` equals ``model.forward(X)`` bit for bit. ``"bfloat16"``
            (float32 models): the weights rounded to bfloat16, float32 inputs and outputs, float32 sums.

        Returns
        -------
        fastmlp._core.Predictor or fastmlp._core.PredictorBF16
            Later training does not change it, and every thread may share it.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([4, 8, 2], seed=0)
        >>> pred = model.predictor()
        >>> x = np.ones((1, 4), dtype=np.float32)
        >>> bool((pred(x) == model.forward(x)).all())
        True
        >>> bool(np.abs(model.predictor(dtype="bfloat16")(x) - pred(x)).max() < 0.05)
        True
        """
        return _core.make_predictor(self.layers, self.activations, self._params, dtype)

    def _labels_of(self, out):
        if self.loss in LABEL_LOSSES:
            return out.argmax(1)
        if self.loss == "sigmoid_bce":
            labels = (out > 0).astype(np.int64)
            return labels[:, 0] if self.n_out == 1 else labels
        return out

    def predict(self, X: ArrayLike, check_finite: bool = True) -> NDArray[Any]:
        """Class labels for a classifier, else the outputs.

        Runs on ``forward``'s packed-weights cache (see ``forward``).

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n, n_in)
            The samples.
        check_finite : bool, default True
            False skips the NaN/Inf scan of X.

        Returns
        -------
        ndarray
            softmax_ce and ideal_mse: the argmax, shape (n,); sigmoid_bce: ``output > 0`` (probability > 0.5) as
            0/1 int64, shape (n,) for one output else (n, n_out); the regression losses: ``forward(X)``.

        Raises
        ------
        ValueError
            X has the wrong number of columns or holds NaN/Inf.

        Examples
        --------
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 4, 3], loss="softmax_ce", seed=0)
        >>> model.predict([[0.0, 1.0], [1.0, 0.0]]).shape
        (2,)
        """
        return self._labels_of(self.forward(X, check_finite))

    def predict_proba(self, X: ArrayLike, check_finite: bool = True) -> FloatArray:
        """Class probabilities: the softmax of the logits (softmax_ce) or their sigmoid (sigmoid_bce).

        Parameters
        ----------
        X : array_like or sparse matrix, shape (n, n_in)
            The samples.
        check_finite : bool, default True
            False skips the NaN/Inf scan of X.

        Returns
        -------
        ndarray, shape (n, n_out)
            The probabilities, in the model's dtype.

        Raises
        ------
        AttributeError
            The loss is neither softmax_ce nor sigmoid_bce.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([2, 4, 3], loss="softmax_ce", seed=0)
        >>> proba = model.predict_proba([[0.0, 1.0]])
        >>> proba.shape, bool(np.isclose(proba.sum(), 1.0))
        ((1, 3), True)
        """
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
        """Accuracy for a classifier (of whole rows for multilabel targets), R² (mean over outputs) for a regressor.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            The samples.
        y : array_like
            The true labels (classifier) or targets (regressor).
        sample_weight : array_like, shape (n,), optional
            One weight >= 0 per sample: the weighted accuracy or R².

        Returns
        -------
        float
            The score; 1.0 is perfect.

        Raises
        ------
        ValueError
            A shape does not match.

        Examples
        --------
        >>> import numpy as np
        >>> import fastmlp
        >>> model = fastmlp.MLP([1, 1], activation="identity", loss="mse", dtype="float64")
        >>> model.set_flat_params([2.0, 0.0])            # f(x) = 2x
        >>> model.score([[1.0], [2.0]], [[2.0], [4.0]])
        1.0
        """
        out = self.forward(X)
        return self._score_output(out, y, self._sample_weight(sample_weight, out.shape[0]))

    # ---- files and pickling ----------------------------------------------------------------------------------
    @reads
    def save(self, path: PathLike, metadata: Optional[Mapping[str, Any]] = None) -> Any:
        """Write the model to an ``.npz`` file (no pickle) in one atomic step.

        The optimizer (its rule, options, state and step count) and the shuffling generator's state are stored
        too, so that ``load`` then ``fit`` continues exactly as this model would. A symlink is written through (its
        target is replaced); the file keeps the mode of the one it replaces.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write (a path: the file is written beside it and renamed).
        metadata : dict, optional
            A JSON-serializable dict stored with the model (``fastmlp.read_metadata`` reads it back).

        Returns
        -------
        str
            The path written.

        Raises
        ------
        TypeError
            ``metadata`` is not a dict, or ``path`` not a path.
        ValueError
            ``metadata`` is not JSON-serializable.
        OSError
            The file cannot be written.

        See Also
        --------
        load : Read the model back.

        Examples
        --------
        >>> import os, tempfile
        >>> import fastmlp
        >>> model = fastmlp.MLP([3, 4, 2], seed=0)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
        >>> _ = model.save(path, metadata={"classes": ["a", "b"]})
        >>> same = fastmlp.load(path)
        >>> bool((same.get_flat_params() == model.get_flat_params()).all()), fastmlp.read_metadata(path)
        (True, {'classes': ['a', 'b']})
        """
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
            self.__dict__[k] = _core._aligned_copy(self.__dict__[k])
        self._new_guard()
        self._nets = {}

    # ---- interop (fastmlp.export; onnx and torch are optional extras) ----------------------------------------
    @reads
    def to_onnx(self, path: Optional[PathLike] = None, raw: bool = False, opset: Optional[int] = None) -> Any:
        """The network as an ONNX graph: Gemm + Relu/Sigmoid/Tanh per layer (needs ``fastmlp[onnx]``).

        Parameters
        ----------
        path : str or os.PathLike, optional
            Where to write the graph as well.
        raw : bool, default False
            True always exports ``forward(X)``; False exports ``predict_proba(X)`` for the softmax_ce /
            sigmoid_bce losses (Softmax / Sigmoid at the end), otherwise ``forward(X)``.
        opset : int, optional
            The ``ai.onnx`` opset (default 17).

        Returns
        -------
        onnx.ModelProto
            Input ``X`` [N, n_in] and output ``output``, in the model's dtype.

        Raises
        ------
        ImportError
            onnx is not installed.

        Examples
        --------
        >>> import fastmlp
        >>> graph = fastmlp.MLP([3, 4, 2], seed=0).to_onnx()
        >>> [node.op_type for node in graph.graph.node]
        ['Gemm', 'Relu', 'Gemm', 'Identity']
        """
        return export.mlp_to_onnx(self, path, raw=raw, opset=export.DEFAULT_OPSET if opset is None else opset)

    @reads
    def to_torch(self) -> Any:
        """The network as a ``torch.nn.Sequential`` of Linear and activation modules, weights copied.

        Returns
        -------
        torch.nn.Sequential
            In the model's dtype, computing ``forward(X)``: raw outputs, i.e. logits for the cross-entropy losses.

        Raises
        ------
        ImportError
            torch is not installed (it is in no extra).

        See Also
        --------
        from_torch : The way back.

        Examples
        --------
        >>> import fastmlp
        >>> net = fastmlp.MLP([3, 4, 2], seed=0).to_torch()   # doctest: +SKIP
        """
        return export.to_torch(self)

    def __repr__(self) -> str:
        return (f"MLP({self.layers}, activation={self.activations[:-1]}, output={self.activations[-1]!r}, "
                f"loss={self.loss!r}, dtype={self.dtype.name!r})")


def load(path: Union[PathLike, IO[bytes], int]) -> MLP:
    """Read a model written by ``MLP.save``.

    Never unpickles: every field is checked before anything is allocated from it, and the weights are read
    straight into the new model's buffer. The optimizer and the shuffling generator come back too.

    Parameters
    ----------
    path : str, os.PathLike, binary file object or int
        A path, a binary file object or a file descriptor (neither is closed); regular files only.

    Returns
    -------
    MLP
        The model as it was saved.

    Raises
    ------
    ValueError
        The file is not a model file, or a field is damaged (the message names the file and the field).

    Examples
    --------
    >>> import os, tempfile
    >>> import fastmlp
    >>> path = fastmlp.MLP([3, 4, 2], seed=0).save(os.path.join(tempfile.mkdtemp(), "model.npz"))
    >>> with open(path, "rb") as f:                    # a path, a file object or a file descriptor
    ...     fastmlp.load(f)
    MLP([3, 4, 2], activation=['relu'], output='identity', loss=None, dtype='float32')
    """
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
        optimizers.restore_optimizer(model, f, where)
    return model

"""One place that checks what users pass: arrays, sizes, names and options, for the network, the estimators
and the command line alike. Every check raises ``TypeError`` (wrong kind) or ``ValueError`` (wrong value) naming
the argument, and none has a side effect: it returns the checked (or converted) value.
"""
import numbers
import os
import warnings

import numpy as np

from . import _core
from .vocabulary import ACTIVATIONS, DTYPES, LOGIT_LOSSES

MAX_LAYERS = _core.MAX_LAYERS


def as_float_array(name, a, dtype, ndim=2, check_finite=True):
    """``a`` (an array, a list, a pandas DataFrame, a memmap, ...) as a C-contiguous, aligned array of ``dtype``.

    No copy when ``a`` already is one (a memory-mapped file stays mapped, read-only ones included: the C core
    only reads inputs); otherwise one converted copy. The NaN/Inf scan (``check_finite``) runs in C over the
    memory in place, in one pass."""
    try:
        a = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got dtype {a.dtype}")
    if ndim == 2 and a.ndim == 1:
        raise ValueError(f"{name}: expected a 2-d array (n_samples, n_features), got 1-d with shape {a.shape}; "
                         f"use {name}.reshape(1, -1) for one sample, {name}.reshape(-1, 1) for one feature")
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got {a.ndim}-d with shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: empty array (shape {a.shape})")
    if not (type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous and a.flags.aligned):
        a = np.require(a, dtype=dtype, requirements=["C", "A"])  # copies only when the layout or dtype differ
    if check_finite and not _core._all_finite(a):
        raise ValueError(f"{name}: contains NaN or Inf")
    return a


def sample_weight(sw, n, dtype):
    """None, or the sample weights as a C-contiguous array of ``dtype``: one per sample (a scalar is one for
    every sample), finite, >= 0 (the C core's loss is a weighted mean), with a positive sum."""
    if sw is None:
        return None
    if np.isscalar(sw) and not isinstance(sw, (str, bytes)):
        sw = np.full(n, sw)
    sw = as_float_array("sample_weight", sw, dtype, ndim=1)
    if sw.shape != (n,):
        raise ValueError(f"sample_weight: expected {n} weights (one per sample), got shape {sw.shape}")
    if (sw < 0).any():
        raise ValueError("sample_weight: negative weights are not supported (weights must be >= 0)")
    if not sw.any():
        raise ValueError("sample_weight: the weights are all zero; they need a positive sum")
    return sw


def is_sparse(X):
    """True for a sparse matrix: the core's CSR or a scipy.sparse matrix / array (anything with ``tocsr``)."""
    return isinstance(X, _core.CSR) or (hasattr(X, "tocsr") and hasattr(X, "nnz") and hasattr(X, "shape"))


def sparse_features(name, X, dtype, n_in):
    """A sparse ``X`` (scipy CSR/CSC/COO..., or the core's CSR) as a ``_core.CSR`` of ``dtype`` with ``n_in``
    columns: the index arrays as int64, the values converted once; never densified."""
    if not isinstance(X, _core.CSR):
        X = X.tocsr()
        if X.shape[0] == 0:
            raise ValueError(f"{name}: empty sparse matrix (shape {X.shape})")
        X = _core.CSR.from_any(X if X.dtype == np.dtype(dtype) else X.astype(dtype))
    elif X.dtype != np.dtype(dtype):
        X = _core.CSR(X.indptr, X.indices, X.data.astype(dtype), X.n_cols)
    if X.n_cols != n_in:
        raise ValueError(f"{name}: expected {n_in} features, got {X.n_cols}")
    return X


def features(name, X, dtype, n_in, check_finite=True):
    """A 2-d float array of ``dtype`` with ``n_in`` columns (see ``as_float_array``), or for a sparse ``X`` a
    ``_core.CSR`` (``sparse_features``). A 1-d ``X`` is refused with the reshape that fits it: one sample when it
    has ``n_in`` values, one feature when ``n_in`` is 1."""
    if is_sparse(X):
        return sparse_features(name, X, dtype, n_in)
    if np.ndim(X) == 1 and not isinstance(X, (str, bytes)):
        size = np.shape(X)[0]
        if size == n_in and n_in != 1:
            raise ValueError(f"{name}: expected a 2-d array (n_samples, {n_in}), got 1-d with shape ({size},); "
                             f"for one sample use {name}.reshape(1, -1)")
        if n_in == 1:
            raise ValueError(f"{name}: expected a 2-d array (n_samples, 1), got 1-d with shape ({size},); "
                             f"for {size} samples of one feature use {name}.reshape(-1, 1)")
    X = as_float_array(name, X, dtype, check_finite=check_finite)
    if X.shape[1] != n_in:
        raise ValueError(f"{name}: expected {n_in} features, got {X.shape[1]}")
    return X


def choice(name, value, choices):
    """``value`` when it is one of ``choices`` (strings), else a TypeError/ValueError listing them."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {tuple(choices)} as a str, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


def integer(name, value, lo=None, hi=None):
    """An int (Python's or numpy's, never a bool) within [lo, hi]."""
    if type(value) is not int and (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        want = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise ValueError(f"{name}: expected an int {want}, got {value!r}")
    return int(value)


def real(name, value, lo=None, hi=None, lo_open=False, hi_open=False):
    """A finite real number within [lo, hi] (open ends by flag), as a float."""
    return _core._scalar(name, value, lo, hi, lo_open, hi_open)


def flag(name, value):
    """True or False (numpy's too), never a truthy string or number."""
    return _core._flag(name, value)


def fraction(name, value):
    """A real in [0, 1)."""
    return real(name, value, 0.0, 1.0, hi_open=True)


def dtype(value):
    """float32 or float64 as a numpy dtype."""
    try:
        dt = np.dtype(value)
    except TypeError:
        raise TypeError(f"dtype: expected one of {DTYPES}, got {value!r}") from None
    if dt.name not in DTYPES:
        raise TypeError(f"dtype: expected one of {DTYPES}, got {value!r}")
    return dt


def layer_sizes(layers):
    """``[n_in, h1, ..., n_out]``: at least two ints >= 1, at most MAX_LAYERS weight layers."""
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(f"layers: expected a list of sizes [n_in, ..., n_out], got {type(layers).__name__}") from None
    if len(layers) < 2:
        raise ValueError(f"layers: expected [n_in, ..., n_out] with at least 2 sizes, got {layers}")
    if len(layers) - 1 > MAX_LAYERS:
        raise ValueError(f"layers: at most {MAX_LAYERS} weight layers, got {len(layers) - 1}")
    for s in layers:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"layers: every size must be an int >= 1, got {s!r}")
    return [int(s) for s in layers]


def seed(value):
    """A seed ``numpy.random.default_rng`` takes: None, an int >= 0 (never a bool), a sequence of them, a
    ``SeedSequence``, a ``BitGenerator`` or a ``Generator``."""
    if isinstance(value, (bool, np.bool_, str, bytes, float, np.floating)):
        raise TypeError(f"seed: expected None or an int >= 0, got {type(value).__name__} {value!r}")
    try:
        np.random.default_rng(value)
    except (TypeError, ValueError, OverflowError) as exc:
        kind = ValueError if isinstance(value, numbers.Integral) else TypeError
        raise kind(f"seed: expected None or an int >= 0 (or a sequence of them), got {value!r} ({exc})") from None
    return value


def _memory_bytes():
    """Physical memory of this machine in bytes (None when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def n_params(layers):
    """The parameter count of a network ``layers`` (checked sizes), as a Python int (no overflow)."""
    return sum(n_o * n_i + n_o for n_i, n_o in zip(layers[:-1], layers[1:]))


def model_size(layers, dtype, what="layers"):
    """The parameter count of ``layers`` when a model of ``dtype`` (its parameters and gradients) fits in this
    machine's memory and in numpy's index range; else a ValueError naming the size."""
    count = n_params(layers)
    itemsize = np.dtype(dtype).itemsize
    need = 2 * count * itemsize  # the parameters and their gradients
    limit = _memory_bytes()
    if count > np.iinfo(np.intp).max // (2 * itemsize) or (limit is not None and need > limit):
        have = "" if limit is None else f"; this machine has {limit / 2**30:.3g} GiB"
        raise ValueError(f"{what}: {layers} has {count} parameters, {need / 2**30:.3g} GiB for its {np.dtype(dtype).name} "
                         f"weights and gradients: too large to allocate{have}")
    return count


def activations(activation, n_hidden, output):
    """One activation name per layer (hidden ones, then the output's)."""
    if isinstance(activation, str):
        choice("activation", activation, ACTIVATIONS)  # checked even where there is no hidden layer to use it
        hidden = [activation] * n_hidden
    elif isinstance(activation, (list, tuple)):
        hidden = list(activation)
    else:
        raise TypeError(f"activation: expected a name or a list of names, got {type(activation).__name__}")
    if len(hidden) != n_hidden:
        raise ValueError(f"activation: expected one name or {n_hidden} (one per hidden layer), got {len(hidden)}")
    for a in hidden:
        choice("activation", a, ACTIVATIONS)
    choice("output", output, ACTIVATIONS)
    return hidden + [output]


#: The range of each bounded output activation: ``ideal_mse``'s +-5 targets must lie inside it.
_OUTPUT_RANGE = {"relu": "[0, inf)", "sigmoid": "(0, 1)", "tanh": "(-1, 1)"}


def loss_output(loss, output):
    """Refuse a logit loss on a network whose output activation is not identity; warn when ``ideal_mse``'s
    +-5 targets lie outside the output activation's range (relu cannot reach -5: source 004's slides pair the +-5
    targets with an identity output)."""
    if loss in LOGIT_LOSSES and output != "identity":
        raise ValueError(f"loss {loss!r} takes logits: output must be 'identity', got {output!r}")
    if loss == "ideal_mse" and output in _OUTPUT_RANGE:
        warnings.warn(f"loss 'ideal_mse' trains towards +5 / -5 but output {output!r} ranges over "
                      f"{_OUTPUT_RANGE[output]}: the targets cannot be reached (use output='identity')",
                      UserWarning, stacklevel=5)
    return loss

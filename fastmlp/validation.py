"""One place that checks what users pass: arrays, sizes, names and options, for the network, the estimators
and the command line alike. Every check raises ``TypeError`` (wrong kind) or ``ValueError`` (wrong value) naming
the argument, and none has a side effect: it returns the checked (or converted) value.
"""
import numbers

import numpy as np

from . import _core
from .vocabulary import ACTIVATIONS, DTYPES, LOGIT_LOSSES

MAX_LAYERS = _core.MAX_LAYERS


def as_float_array(name, a, dtype, ndim=2):
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


def features(name, X, dtype, n_in):
    """A 2-d float array of ``dtype`` with ``n_in`` columns (see ``as_float_array``)."""
    X = as_float_array(name, X, dtype)
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


def activations(activation, n_hidden, output):
    """One activation name per layer (hidden ones, then the output's)."""
    if isinstance(activation, str):
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


def loss_output(loss, output):
    """Refuse a logit loss on a network whose output activation is not identity."""
    if loss in LOGIT_LOSSES and output != "identity":
        raise ValueError(f"loss {loss!r} takes logits: output must be 'identity', got {output!r}")
    return loss

"""Readers shared by the region analysis: the model as float64 arrays, and validated points, boxes and numbers.

Every public function of ``fastmlp.regions`` reads its arguments through these, so a bad argument gets the same
error (naming it) wherever it is passed. They never modify or alias the caller's arrays where results keep them.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Net:
    """A validated ReLU network as float64 arrays."""
    Ws: tuple        # float64 weight matrices W[n_out, n_in], one per layer (the last is the output layer)
    bs: tuple        # float64 biases
    output: str      # the output activation (the analysis is of its pre-activation)

    @property
    def n_in(self):
        return self.Ws[0].shape[1]

    @property
    def n_out(self):
        return self.Ws[-1].shape[0]

    @property
    def widths(self):
        return [W.shape[0] for W in self.Ws[:-1]]


def read_net(model):
    """Validate a model (a ``fastmlp.MLP`` with ReLU hidden layers) and return its weights in float64.

    The weights are copied ONCE, under the model's read guard (``model.read_weights()``): while another thread
    trains the model this raises the model's RuntimeError, and training waits out the copy, so the snapshot is the
    weights of one step boundary -- never a mix of two steps. Every later computation of the analysis uses it."""
    if not hasattr(model, "read_weights") or not hasattr(model, "activations") or not hasattr(model, "layers"):
        raise TypeError(f"model: expected a fastmlp.MLP, got {type(model).__name__}")
    acts = list(model.activations)
    for i, a in enumerate(acts[:-1]):
        if a != "relu":
            raise ValueError(f"model: hidden layer {i + 1} uses activation {a!r}; the region analysis needs ReLU "
                             f"hidden layers (a piecewise-linear network), e.g. MLP(..., activation='relu')")
    with model.read_weights() as params:
        Ws = [np.array(W, dtype=np.float64) for W, _ in params]
        bs = [np.array(b, dtype=np.float64) for _, b in params]
    if not all(np.isfinite(a).all() for a in Ws + bs):
        raise ValueError("model: the weights contain NaN or Inf")
    return Net(tuple(Ws), tuple(bs), acts[-1])


def snapshot_forward(model):
    """A function computing ``model.forward`` on a snapshot of the weights taken now, through the model's guard
    (``model.predictor()``: a frozen copy, bit-identical to ``forward``): an analysis that calls it many times sees
    one set of weights even if another thread trains the model in between."""
    predictor = getattr(model, "predictor", None)
    if predictor is None:
        return model.forward
    return predictor()


def is_int(v):
    """An integer (Python or numpy), not bool?"""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real(v):
    """A real number (Python or numpy scalar, not bool)?"""
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _numbers(name, X):
    """X as a numpy array of real numbers (any shape); strings are a TypeError, other non-real arrays (object,
    complex) or what cannot be read as an array a ValueError naming it."""
    try:
        X = np.asarray(X)
    except Exception as exc:
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if X.dtype.kind in "USa":
        raise TypeError(f"{name}: expected numbers, got strings (dtype {X.dtype})")
    if X.dtype == object or X.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected real numbers, got dtype {X.dtype}")
    return X


def _finite64(name, X):
    """X in float64, refusing NaN/Inf."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return X


def read_points(name, X, n_in):
    """X as a C-contiguous float64 array (n, n_in), validated."""
    X = _numbers(name, X)
    if X.ndim != 2:
        hint = " (one point: X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(f"{name}: expected a 2-d array (n_points, {n_in}), got shape {X.shape}{hint}")
    if X.shape[1] != n_in:
        raise ValueError(f"{name}: expected {n_in} features (the model's input size), got {X.shape[1]}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: no points (shape {X.shape})")
    return _finite64(name, X)


def read_point(name, a, n_in):
    """One point in input space, a float64 copy; a scalar is accepted for a 1-input net."""
    a = _numbers(name, a)
    if a.ndim == 0 and n_in == 1:
        a = a.reshape(1)
    if a.ndim != 1 or a.shape[0] != n_in:
        raise ValueError(f"{name}: expected a point of the model's input space, shape ({n_in},), got shape "
                         f"{a.shape}" + (" (scalars only for 1-input nets)" if a.ndim == 0 else ""))
    return _finite64(name, a).copy()   # kept in the results: never an alias of the caller's array


def read_box(box, n_in):
    """(lo, hi) float64 arrays of shape (n_in,): box is [[lo, hi]] * n_in, or one (lo, hi) pair for all inputs."""
    try:
        B = np.asarray(box, dtype=np.float64)
    except Exception as exc:
        raise ValueError(f"box: expected (lo, hi) or an array of shape ({n_in}, 2) ({exc})") from None
    if B.shape == (2,):
        B = np.tile(B, (n_in, 1))
    if B.shape != (n_in, 2):
        raise ValueError(f"box: expected (lo, hi) or an array of shape ({n_in}, 2) (one [lo, hi] per input), got "
                         f"shape {B.shape}")
    if not np.isfinite(B).all():
        raise ValueError("box: contains NaN or Inf (for all of R^n pass box=None)")
    if not (B[:, 0] < B[:, 1]).all():
        raise ValueError(f"box: every lo must be < hi, got {B.tolist()}")
    return B[:, 0].copy(), B[:, 1].copy()


def rows_per_chunk(row_bytes, budget=64 << 20):
    """How many rows of row_bytes each fit in the working-memory budget (at least 1)."""
    return max(1, int(budget // max(int(row_bytes), 1)))

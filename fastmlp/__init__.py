"""fastmlp: multi-layer perceptrons on the CPU, with hand-written C kernels behind Cython wrappers.

The kernels (``dense_forward``, ``dense_backward``, the losses and the updates) take C-contiguous float32 or
float64 numpy arrays; ``fastmlp.reference`` holds their plain-Python twins, the oracle the tests compare with.
"""
import os as _os
from typing import TYPE_CHECKING, Any

# A waiting OpenMP thread spins for a bounded time (GOMP_SPINCOUNT=3000, ~0.1-0.2 ms) before it sleeps, unless the
# user chose a wait policy: GNU OpenMP's default (300000 spins, 10-20 ms) holds a core that a descheduled thread of
# the same region needs when other processes share the cores (docs/guide/scaling.md has the measurements). libgomp
# reads it once, when _core loads it, just below.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "3000"

from ._core import (
    ACTIVATIONS,
    adam_update,
    bf16_path,
    bf16_train_path,
    bf16_to_float,
    csr_dense_backward,
    csr_dense_forward,
    dense_backward,
    dense_forward,
    dense_forward_bf16,
    dense_forward_packed,
    dense_pack,
    dense_pack_bf16,
    dense_pack_width,
    float_to_bf16,
    get_num_threads,
    has_openmp,
    loss_mse,
    loss_poisson,
    loss_sigmoid_bce,
    loss_softmax_ce,
    set_num_threads,
    sgd_update,
    softmax,
)
from ._core import version as _core_version
from .info import build_info, get_include
from . import optimizers, vocabulary
from .errors import ConvergenceWarning, DivergenceError
from .mlp import MLP, gradcheck, load
from .derivatives import derivative, input_gradient, jacobian, numerical_jacobian
from .modelfile import read_metadata
from .optimizers import SGD, Adam, Momentum, Nesterov
from .training import History
from .interop import from_torch  # torch is imported only when it is called

__version__: str = _core_version()  # FASTMLP_VERSION of fastmlp.h, the one version string


if TYPE_CHECKING:  # for type checkers only: at run time they load on first use (below)
    from .estimators import MLPClassifier as MLPClassifier, MLPRegressor as MLPRegressor


def __getattr__(name: str) -> Any:
    # the scikit-learn estimators import scikit-learn, an optional extra: load them on first use
    if name in ("MLPClassifier", "MLPRegressor"):
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")


__all__ = [
    "MLP", "DivergenceError", "ConvergenceWarning", "History", "gradcheck", "load", "read_metadata", "from_torch",
    "derivative", "input_gradient", "jacobian", "numerical_jacobian",
    "SGD", "Momentum", "Nesterov", "Adam", "optimizers", "vocabulary",
    "ACTIVATIONS", "adam_update", "build_info", "csr_dense_backward", "csr_dense_forward", "dense_backward", "dense_forward", "dense_forward_packed",
    "dense_pack", "dense_pack_width", "get_include",
    "get_num_threads", "has_openmp", "loss_mse", "loss_poisson", "loss_sigmoid_bce", "loss_softmax_ce", "set_num_threads",
    "sgd_update", "softmax",
    "bf16_path", "bf16_to_float", "dense_forward_bf16", "dense_pack_bf16", "float_to_bf16", "bf16_train_path",
]

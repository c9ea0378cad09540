"""fastmlp: multi-layer perceptrons on the CPU, with hand-written C kernels behind Cython wrappers.

The kernels (``dense_forward``, ``dense_backward``, the losses and the updates) take C-contiguous float32 or
float64 numpy arrays; ``fastmlp.reference`` holds their plain-Python twins, the oracle the tests compare with.
"""
import os as _os

from ._core import (
    ACTIVATIONS,
    adam_update,
    dense_backward,
    dense_forward,
    dense_forward_packed,
    dense_pack,
    dense_pack_width,
    get_num_threads,
    has_openmp,
    loss_mse,
    loss_sigmoid_bce,
    loss_softmax_ce,
    set_num_threads,
    sgd_update,
    softmax,
)
from ._core import version as _core_version
from ._core import cpu_path as _cpu_path
from .mlp import MLP, DivergenceError, History, gradcheck, load
from .interop import from_torch  # torch is imported only when it is called

__version__ = _core_version()  # FASTMLP_VERSION of fastmlp.h, the one version string


def __getattr__(name):
    # the scikit-learn estimators import scikit-learn, an optional extra: load them on first use
    if name in ("MLPClassifier", "MLPRegressor"):
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")


def get_include():
    """Folder holding ``fastmlp.h`` for C/Cython projects that compile against fastmlp's core.

    Installed: ``fastmlp/include``; in a source tree (editable install): the top-level ``csrc/``. The ``.pxd`` to
    ``cimport`` is ``fastmlp/_core.pxd``, found by Cython through the installed package.
    """
    here = _os.path.dirname(_os.path.abspath(__file__))
    installed = _os.path.join(here, "include")
    if _os.path.exists(_os.path.join(installed, "fastmlp.h")):
        return installed
    return _os.path.join(_os.path.dirname(here), "csrc")


def build_info():
    """How the compiled core was built and what it runs with: a dict of version, OpenMP and threads."""
    return {
        "version": __version__,
        "core_version": _core_version(),
        "openmp": has_openmp(),
        "simd": _cpu_path(),
        "num_threads": get_num_threads(),
        "include": get_include(),
    }


__all__ = [
    "MLP", "DivergenceError", "History", "gradcheck", "load", "from_torch",
    "ACTIVATIONS", "adam_update", "build_info", "dense_backward", "dense_forward", "dense_forward_packed",
    "dense_pack", "dense_pack_width", "get_include",
    "get_num_threads", "has_openmp", "loss_mse", "loss_sigmoid_bce", "loss_softmax_ce", "set_num_threads",
    "sgd_update", "softmax",
]

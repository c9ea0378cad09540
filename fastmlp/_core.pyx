# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Python wrappers over the C core (csrc/): validate once, then call C without the GIL.

Every public function here checks its arguments in one place (``_check``) and raises ``TypeError`` (not an array,
wrong dtype) or ``ValueError`` (wrong shape, empty, non-contiguous, read-only output, NaN/Inf, overlapping
buffers, bad option) naming the argument. Arrays are never copied silently: pass C-contiguous float32 or
float64 arrays (all of one dtype); outputs may be given with ``out``-style keywords to avoid allocation.
"""
import numpy as np
from cython cimport floating
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.math cimport isfinite

from .errors import DivergenceError
from .vocabulary import ACTIVATIONS, CORE_LOSSES, OPTIMIZERS

# the names come from fastmlp.vocabulary, whose order is the C enums' order: checked here, once, at import
_ACT_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}
if [_ACT_CODES[a] for a in ("identity", "relu", "sigmoid", "tanh")] != [FM_ACT_IDENTITY, FM_ACT_RELU,
                                                                      FM_ACT_SIGMOID, FM_ACT_TANH]:
    raise ImportError("fastmlp.vocabulary.ACTIVATIONS does not follow fm_act of fastmlp.h")
_LOSS_CODES = {name: code for code, name in enumerate(CORE_LOSSES)}
if [_LOSS_CODES[l] for l in ("mse", "softmax_ce", "sigmoid_bce")] != [FM_LOSS_MSE, FM_LOSS_SOFTMAX_CE,
                                                                      FM_LOSS_SIGMOID_BCE]:
    raise ImportError("fastmlp.vocabulary.CORE_LOSSES does not follow fm_loss of fastmlp.h")
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

include "_core_capsule.pxi"  # generated from fastmlp.h by tools/gen_core.py, as _core.pxd (with the c_* dispatchers)
include "_core_info.pxi"
include "_core_checks.pxi"
include "_core_kernels.pxi"
include "_core_optim.pxi"
include "_core_net.pxi"

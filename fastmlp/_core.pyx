# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Python wrappers over the C core (csrc/): validate once, then call C without the GIL.

Every public function here checks its arguments in one place (``_check``) and raises ``TypeError`` (not an array,
wrong dtype) or ``ValueError`` (wrong shape, empty, non-contiguous, read-only output, NaN/Inf, overlapping
buffers, bad option) naming the argument. Arrays are never copied silently: pass C-contiguous float32 or
float64 arrays (all of one dtype); outputs may be given with ``out``-style keywords to avoid allocation.
"""
import numpy as np
cimport cython
from cython cimport floating
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t
from libc.math cimport isfinite
from libc.string cimport memset

from .errors import DivergenceError
from .vocabulary import ACTIVATIONS, CORE_LOSSES, OPTIMIZERS

include "_core_capsule.pxi"  # generated from fastmlp.h by tools/gen_core.py, as _core.pxd (with the c_* dispatchers)

# FASTMLP_ISA / FASTMLP_BLOCKS / FASTMLP_BF16 are read here, once, with the GIL held (never later inside a kernel
# running without it, beside a thread writing os.environ): changing them after import has no effect
fm_init()

# the names are fastmlp.vocabulary's; the C enums of fastmlp.h must list the same, in the same order: checked once
for _enum, _names in (("fm_act", ACTIVATIONS), ("fm_loss", CORE_LOSSES)):
    if C_ENUMS[_enum] != _names:
        raise ImportError(f"fastmlp.vocabulary lists {_names}, {_enum} of fastmlp.h {C_ENUMS[_enum]}")
del _enum, _names
_ACT_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}
_LOSS_CODES = {name: code for code, name in enumerate(CORE_LOSSES)}
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

include "_core_info.pxi"
include "_core_checks.pxi"
include "_core_kernels.pxi"
include "_core_losses.pxi"
include "_core_updates.pxi"
include "_core_fast.pxi"  # the public kernels' fast path
include "_core_sparse.pxi"
include "_core_sparse_backward.pxi"
include "_core_optim.pxi"
include "_core_net.pxi"
include "_core_predict.pxi"
include "_core_bf16.pxi"  # bfloat16 weights: conversions, the packed bf16 layout, the bf16 layer forward
include "_core_predict_bf16.pxi"  # PredictorBF16
include "_core_mixed.pxi"  # mixed-precision training: bf16 products, float32 weights (StepperBF16)
include "_core_guard.pxi"
include "_core_step.pxi"

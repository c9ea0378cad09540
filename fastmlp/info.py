"""Where the C header is and how the compiled core was built."""
import os
from typing import Any, Dict

from . import _core


def get_include() -> str:
    """Folder holding ``fastmlp.h`` for C/Cython projects that compile against fastmlp's core.

    Installed: ``fastmlp/include``; in a source tree (editable install): the top-level ``csrc/``. The ``.pxd`` to
    ``cimport`` is ``fastmlp/_core.pxd``, found by Cython through the installed package.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "include")
    if os.path.exists(os.path.join(installed, "fastmlp.h")):
        return installed
    return os.path.join(os.path.dirname(here), "csrc")


def build_info() -> Dict[str, Any]:
    """How the compiled core was built and what it runs with: a dict of version, OpenMP and threads."""
    return {
        "version": _core.version(),
        "core_version": _core.version(),
        "openmp": _core.has_openmp(),
        "simd": _core.cpu_path(),
        "bf16": _core.bf16_path(),  # "vdpbf16ps" (AVX512_BF16) or "emulated" (same bits)
        "num_threads": _core.get_num_threads(),
        "include": get_include(),
    }

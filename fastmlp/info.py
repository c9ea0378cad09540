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


def blocking_summary() -> str:
    """One line naming the caches the CPU reports and the block sizes the dense products chose from them."""
    def kib(n: int) -> str:
        return f"{n // (1 << 20)} MiB" if n >= 1 << 24 else f"{n // 1024} KiB"
    parts = []
    for dtype in ("float32", "float64"):
        b = _core.dense_blocking(dtype)
        parts.append(f"{dtype} tile {b['tile_rows']}x{b['tile_cols']} kc {b['kc']} nc {b['nc']}")
    b = _core.dense_blocking("float32")
    return f"L1d {kib(b['l1d'])}, L2 {kib(b['l2'])}, L3 {kib(b['l3'])}: " + "; ".join(parts)


def build_info() -> Dict[str, Any]:
    """How the compiled core was built and what it runs with: a dict of version, OpenMP and threads."""
    return {
        "version": _core.version(),
        "core_version": _core.version(),
        "openmp": _core.has_openmp(),
        "simd": _core.cpu_path(),
        "blocking": blocking_summary(),
        "num_threads": _core.get_num_threads(),
        "include": get_include(),
    }

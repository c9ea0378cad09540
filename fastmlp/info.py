"""Where the C header is and how the compiled core was built."""
import os
from typing import Any, Dict

from . import _core


def get_include() -> str:
    """The folder holding ``fastmlp.h``, for C and Cython projects that compile against fastmlp's core.

    The ``.pxd`` to ``cimport`` is ``fastmlp/_core.pxd``, found by Cython through the installed package.

    Returns
    -------
    str
        ``fastmlp/include`` in an installed package; in a source tree (an in-place or editable build) the
        top-level ``csrc/``.

    Examples
    --------
    >>> import os
    >>> import fastmlp
    >>> os.path.isfile(os.path.join(fastmlp.get_include(), "fastmlp.h"))
    True
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
    """How the compiled core was built and what it runs with.

    Returns
    -------
    dict
        ``version`` and ``core_version`` (the C core's ``FASTMLP_VERSION``), ``openmp`` (bool), ``simd`` (the
        kernel path chosen for this CPU: "avx512", "avx2", "baseline" or "naive"), ``bf16`` (the bfloat16 path),
        ``bf16_train`` (the mixed-precision training path: "amx", "avx512bf16" or "emulated"), ``blocking`` (the
        caches and the
        dense products' block sizes), ``num_threads`` and ``include`` (``get_include()``).

    Examples
    --------
    >>> import fastmlp
    >>> info = fastmlp.build_info()
    >>> info["version"] == fastmlp.__version__, info["simd"] in ("avx512", "avx2", "baseline", "naive")
    (True, True)
    """
    return {
        "version": _core.version(),
        "core_version": _core.version(),
        "openmp": _core.has_openmp(),
        "simd": _core.cpu_path(),
        "bf16": _core.bf16_path(),  # "vdpbf16ps" (AVX512_BF16) or "emulated" (same bits), "+fma" where tiles run
        "bf16_train": _core.bf16_train_path(),  # mixed-precision training: "amx", "avx512bf16", "emulated"
        "blocking": blocking_summary(),  # the caches the CPU reports and the block sizes chosen from them
        "num_threads": _core.get_num_threads(),
        "include": get_include(),
    }

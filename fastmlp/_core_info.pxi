# _core_info.pxi: library information -- included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------
# library information

def version():
    """Version of the compiled C core."""
    return fm_version().decode()


def has_openmp():
    """Whether the C core was compiled with OpenMP (C: ``fm_build_info() & FM_BUILD_OPENMP``).

    Returns
    -------
    bool
        True when the kernels can run on several threads.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.has_openmp() in (True, False)
    True
    """
    return bool(fm_build_info() & FM_BUILD_OPENMP)


def cpu_path():
    """The kernel path chosen for this CPU: "avx512", "avx2", "baseline" or "naive" (FASTMLP_ISA lowers it)."""
    return fm_cpu_path().decode()


def dense_blocking(dtype="float32"):
    """How the dense products are cache-blocked for this dtype on the path cpu_path() reports: a dict of the caches
    this CPU reports (l1d, l2, l3 in bytes), the block sizes chosen from them (kc: depth of a block, nc: columns of
    the packed slab of B; 0 on the naive path) and the register tile (tile_rows x tile_cols)."""
    dt = np.dtype(dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    cdef size_t info[7]
    fm_dense_blocking(dt == np.float64, info)
    return {"l1d": info[0], "l2": info[1], "l3": info[2], "kc": info[3], "nc": info[4], "tile_rows": info[5],
            "tile_cols": info[6]}


def dense_blocking_for(cpu_path, dtype, size_t l1d, size_t l2, size_t l3, size_t force_kc=0, size_t force_nc=0):
    """The rule dense_blocking applies, for any path and caches (C: ``fm_dense_blocking_for``; its twin is
    ``fastmlp.reference.dense_blocking_for``): the same dict as dense_blocking, the cache sizes as clamped."""
    if not isinstance(cpu_path, str):
        raise TypeError(f"cpu_path: expected a str, got {type(cpu_path).__name__}")
    dt = np.dtype(dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    cdef bytes path = cpu_path.encode()
    cdef size_t info[7]
    _raise_for(fm_dense_blocking_for(path, info, l1d, l2, l3, force_kc, force_nc, dt == np.float64),
               "dense_blocking_for")
    return {"l1d": info[0], "l2": info[1], "l3": info[2], "kc": info[3], "nc": info[4], "tile_rows": info[5],
            "tile_cols": info[6]}


def cpu_peak_gflops(dtype="float32", seconds=0.3):
    """One thread's measured multiply-add peak in GFLOP/s for this dtype on the path cpu_path() reports."""
    seconds = _scalar("seconds", seconds, 0.0, 10.0, lo_open=True)
    dt = np.dtype(dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    cdef int f64 = dt == np.float64
    cdef double r, budget = seconds
    with nogil:
        r = fm_cpu_peak_gflops(f64, budget)
    return r


def get_num_threads():
    """The number of threads the kernels use (C: ``fm_get_num_threads``).

    Returns
    -------
    int
        The count set by ``set_num_threads``, else OpenMP's default (``OMP_NUM_THREADS``) capped at
        ``MAX_THREADS``; 1 without OpenMP.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.get_num_threads() >= 1
    True
    """
    return fm_get_num_threads()


MAX_THREADS = FM_MAX_THREADS  # the most threads the kernels use (fastmlp.h explains the bound)


def set_num_threads(n):
    """Set the number of threads the kernels use (C: ``fm_set_num_threads``).

    Results are bit-identical for any count: every output element is summed in one fixed order by one thread.

    Parameters
    ----------
    n : int
        1 to ``MAX_THREADS`` (1024; more make OpenMP exit or crash the process). Without OpenMP the kernels stay on
        one thread.

    Raises
    ------
    TypeError
        n is not an int.
    ValueError
        n is outside [1, 1024].

    Examples
    --------
    >>> import fastmlp
    >>> before = fastmlp.get_num_threads()
    >>> fastmlp.set_num_threads(1)
    >>> fastmlp.get_num_threads()
    1
    >>> fastmlp.set_num_threads(before)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    if not 1 <= n <= FM_MAX_THREADS:
        raise ValueError(f"n: expected a thread count in [1, {FM_MAX_THREADS}] (fastmlp's MAX_THREADS: more threads "
                         f"than that make OpenMP fail), got {n}")
    _raise_for(fm_set_num_threads(<int>n), "set_num_threads")


def strerror(code):
    """Name of a C status code."""
    if isinstance(code, bool) or not isinstance(code, (int, np.integer)):
        raise TypeError(f"code: expected an int, got {type(code).__name__}")
    if not -(1 << 31) <= code < 1 << 31:
        return "unknown error code"
    return fm_strerror(<int>code).decode()


cdef inline int _raise_for(int rc, str where) except -1:
    if rc == FM_ENOMEM:
        raise MemoryError(f"{where}: the C core could not allocate its per-thread scratch for the dense products "
                          f"(at most ~2.4 MB per thread; code {rc})")
    if rc != FM_OK:
        raise ValueError(f"{where}: C core refused the call: {fm_strerror(rc).decode()} (code {rc})")
    return 0

# _core_checks.pxi: validation of kernel arguments -- included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------
# validation: the one place that checks arrays and options

cdef bint _finite_ptr_f32(const float *a, size_t n) noexcept nogil:
    cdef size_t i
    cdef uint32_t bad = 0
    cdef const uint32_t *u = <const uint32_t *>a
    for i in range(n):
        bad |= (u[i] & 0x7f800000u) == 0x7f800000u
    return bad == 0


cdef bint _finite_ptr_f64(const double *a, size_t n) noexcept nogil:
    cdef size_t i
    cdef uint64_t bad = 0
    cdef const uint64_t *u = <const uint64_t *>a
    for i in range(n):
        bad |= (u[i] & 0x7ff0000000000000u) == 0x7ff0000000000000u
    return bad == 0


def _all_finite(a):
    """True when every element of a C-contiguous float32/float64 array is finite."""
    cdef const float[::1] f
    cdef const double[::1] d
    flat = a.reshape(-1)
    if flat.dtype == np.float32:
        f = flat
        return _finite_ptr_f32(&f[0], f.shape[0])
    d = flat
    return _finite_ptr_f64(&d[0], d.shape[0])


def _check(str name, a, dtype=None, shape=None, bint writable=False, bint finite=True):
    """Validate one array argument and return it.

    dtype: the required dtype (None: float32 or float64); shape: a tuple whose entries are ints or None (any,
    but nonzero); writable: the array is an output; finite: refuse NaN/Inf (inputs only).
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    if isinstance(a, (np.ma.MaskedArray, np.matrix)):
        raise TypeError(f"{name}: expected a plain numpy.ndarray, got {type(a).__name__} (its mask or matrix "
                        f"semantics would be ignored; pass numpy.asarray(...) of the values you mean)")
    if dtype is None:
        if a.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{name}: expected dtype float32 or float64, got {a.dtype}")
    elif a.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)} (the dtype of the other arrays), got {a.dtype}")
    if shape is not None:
        if a.ndim != len(shape):
            raise ValueError(f"{name}: expected a {len(shape)}-d array, got {a.ndim}-d with shape {a.shape}")
        for want, got in zip(shape, a.shape):
            if want is not None and want != got:
                expected = ", ".join("?" if s is None else str(s) for s in shape)
                expected = f"({expected},)" if len(shape) == 1 else f"({expected})"
                raise ValueError(f"{name}: expected shape {expected}, got {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: empty array (shape {a.shape})")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name}: expected a C-contiguous array (use numpy.ascontiguousarray)")
    if not a.flags.aligned:
        raise ValueError(f"{name}: the array's data is not aligned to its dtype (use numpy.ascontiguousarray "
                         f"on a copy)")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name}: output array is read-only")
    if finite and not writable and not _all_finite(a):
        raise ValueError(f"{name}: contains NaN or Inf")
    return a


def _out(str name, a, dtype, shape):
    """An output array: allocate when None, else validate it (no finiteness check: it is written)."""
    if a is None:
        return np.empty(shape, dtype=dtype)
    return _check(name, a, dtype, shape, writable=True, finite=False)


def _no_overlap(str name, out, inputs, same_ok=()):
    """Refuse an output that shares memory with an input (an identical array is allowed for those in same_ok)."""
    for other_name, other in inputs:
        if other is None or out is None:
            continue
        if other_name in same_ok and _same_buffer(out, other):
            continue
        if np.may_share_memory(out, other):
            raise ValueError(f"{name}: output shares memory with {other_name}")


cdef bint _same_buffer(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.dtype == b.dtype)


def _flag(str name, value):
    """A yes/no option: a bool (numpy's too), never a truthy string or number."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _act(act):
    if not isinstance(act, str):
        raise TypeError(f"act: expected one of {ACTIVATIONS} as a str, got {type(act).__name__}")
    try:
        return _ACT_CODES[act]
    except KeyError:
        raise ValueError(f"act: expected one of {ACTIVATIONS}, got {act!r}") from None


def _scalar(str name, value, lo=None, hi=None, bint lo_open=False, bint hi_open=False):
    """A finite real option within [lo, hi] (open ends by flag)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name}: expected a finite number, got {value}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{name}: expected a value {'>' if lo_open else '>='} {lo}, got {value}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise ValueError(f"{name}: expected a value {'<' if hi_open else '<='} {hi}, got {value}")
    return v


def _fits(dtype, **options):
    """Options go to C as doubles and are rounded to the arrays' type there: refuse those that change meaning
    (an lr of 1e300 is inf in float32; a momentum of 0.99999999 rounds to 1)."""
    cast = np.dtype(dtype).type
    with np.errstate(over="ignore"):
        for name, value in options.items():
            r = float(cast(value))
            if r != r or r in (float("inf"), float("-inf")):
                raise ValueError(f"{name}: {value} does not fit in {np.dtype(dtype)}")
            if name in ("momentum", "beta1", "beta2") and r >= 1.0:
                raise ValueError(f"{name}: {value} rounds to 1 in {np.dtype(dtype)}")
            if name == "eps" and r <= 0.0:
                raise ValueError(f"{name}: {value} rounds to 0 in {np.dtype(dtype)}")


def _labels(y, Py_ssize_t n, Py_ssize_t m):
    """Integer class labels y[n] in [0, m) as a C-contiguous int64 array (a copy only when needed)."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"y: expected a numpy.ndarray of integer labels, got {type(y).__name__}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"y: expected integer labels, got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y: expected shape ({n},), got {y.shape}")
    y = np.ascontiguousarray(y, dtype=np.int64)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= m:
        raise ValueError(f"y: labels must lie in [0, {m}) for {m} classes, got values in [{lo}, {hi}]")
    return y


def _weights(sw, Py_ssize_t n, dtype, bint need_positive_sum=True):
    """Sample weights: None (all ones) or a C-contiguous 1-d array of ``dtype`` and length n, finite and >= 0, with a
    positive sum unless need_positive_sum is False (an epoch skips the batches of zero weight)."""
    if sw is None:
        return None
    if not isinstance(sw, np.ndarray):
        raise TypeError(f"sw: expected None or a numpy.ndarray of sample weights, got {type(sw).__name__}")
    if sw.dtype != dtype:
        raise TypeError(f"sw: expected sample weights of dtype {np.dtype(dtype)} (the model's), got {sw.dtype}")
    if sw.ndim != 1 or sw.shape[0] != n:
        raise ValueError(f"sw: expected one sample weight per row, shape ({n},), got {sw.shape}")
    if not sw.flags.c_contiguous or not sw.flags.aligned:
        raise ValueError("sw: expected a C-contiguous array (use numpy.ascontiguousarray)")
    if not _all_finite(sw):
        raise ValueError("sw: sample weights contain NaN or Inf")
    lo = sw.min()
    if lo < 0:
        raise ValueError(f"sw: sample weights must be >= 0, got a minimum of {lo}")
    if need_positive_sum:
        total = float(np.sum(sw, dtype=np.float64))
        if not (total > 0.0) or total == float("inf"):
            raise ValueError(f"sw: sample weights must have a positive, finite sum, got {total}")
    return sw


def _nonneg_targets(str name, t):
    """Poisson targets (counts): >= 0 everywhere (NaN refused)."""
    if not bool(np.all(t >= 0)):
        raise ValueError(f"{name}: the Poisson loss needs targets >= 0, got a minimum of {np.nanmin(t) if not np.isnan(t).all() else float('nan')}")

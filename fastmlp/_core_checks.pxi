# _core_checks.pxi: validation of kernel arguments -- included by _core.pyx (one compiled module)
cimport numpy as cnp
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.exc cimport PyErr_Occurred, PyErr_Clear
from libc.float cimport FLT_MAX
from libc.math cimport pow as c_pow

cnp.import_array()

cdef extern from "Python.h":  # without Cython's error check: the fast path clears the error itself and falls back
    double PyLong_AsDouble(object) noexcept
    long long PyLong_AsLongLongAndOverflow(object, int *) noexcept
# ---------------------------------------------------------------------------------------------------------------
# validation: the one place that checks arrays and options

cdef extern from "internal.h" nogil:
    # the NaN/Inf scan compiled per instruction set (AVX-512 / AVX2 / baseline, optim.inc), split across threads
    # above 65536 values: 1 when every value is finite
    int fmi_all_finite_f32(const float *a, size_t n)
    int fmi_all_finite_f64(const double *a, size_t n)


cdef inline bint _finite_ptr_f32(const float *a, size_t n) noexcept nogil:
    return n == 0 or fmi_all_finite_f32(a, n) != 0


cdef inline bint _finite_ptr_f64(const double *a, size_t n) noexcept nogil:
    return n == 0 or fmi_all_finite_f64(a, n) != 0


def _aligned_empty(shape, dtype, bint zero=False):
    """A new C-contiguous array whose data starts on a 64-byte boundary (a cache line; numpy's own allocations
    start 16 bytes past one for large arrays): the kernels' 512-bit loads of packed weights, parameters and
    activations then never span two lines (a misaligned packed W made the one-sample forward 1.5-1.8x slower).
    ``zero``: zero-filled (calloc: pages only as they are touched)."""
    dt = np.dtype(dtype)
    n = 1
    for d in ((shape,) if isinstance(shape, int) else shape):
        n *= d
    nbytes = n * dt.itemsize
    raw = (np.zeros if zero else np.empty)(nbytes + 64, dtype=np.uint8)
    cdef size_t skip = (64 - (<size_t>cnp.PyArray_DATA(raw)) % 64) % 64
    return raw[skip:skip + nbytes].view(dt).reshape(shape)


def _aligned_copy(a):
    """A writable C-contiguous copy of ``a`` on a cache line (``_aligned_empty``): for arrays the C core writes
    that came from elsewhere (an unpickled or loaded buffer may be read-only or unaligned)."""
    a = np.asarray(a)
    out = _aligned_empty(a.shape, a.dtype)
    out[...] = a
    return out


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


# ---------------------------------------------------------------------------------------------------------------
# the public kernels' fast path (issue 15): the common case -- numpy arrays of exactly the right dtype, C-contiguous,
# aligned, writable where written, plain float/int options -- is accepted here on raw pointers, without memoryviews
# or Python-level helper calls. Every test below only ever says "yes, the checked path would accept this too" or
# "don't know": on "don't know" the kernel falls back to its checked path (_check, _scalar, ...), which alone raises,
# so every error message stays the checked path's. Nothing is written before the fast path has said yes.

cdef dict _ACT_FAST = _ACT_CODES
cdef object _NP_FLOAT64 = np.float64


cdef inline int _fast_in(object a, int ndim) noexcept:
    """NPY_FLOAT or NPY_DOUBLE when a is a fast-path input of ndim dimensions (-1: any), else 0."""
    if type(a) is not cnp.ndarray:
        return 0
    cdef int tn = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if (tn == cnp.NPY_FLOAT or tn == cnp.NPY_DOUBLE) and _fast_arr(a, tn, ndim, False):
        return tn
    return 0


cdef inline bint _fast_arr(object a, int tn, int ndim, bint writable) noexcept:
    """a is exactly a numpy.ndarray of type number tn in native byte order, ndim dimensions (-1: any), non-empty,
    C-contiguous, aligned, and writable when it is written."""
    if type(a) is not cnp.ndarray:
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int need = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED
    if writable:
        need |= cnp.NPY_ARRAY_WRITEABLE
    return ((cnp.PyArray_FLAGS(arr) & need) == need and cnp.PyArray_TYPE(arr) == tn
            and (ndim < 0 or cnp.PyArray_NDIM(arr) == ndim) and cnp.PyArray_ISNOTSWAPPED(arr)
            and cnp.PyArray_SIZE(arr) > 0)


cdef inline Py_ssize_t _dim(object a, int i) noexcept:
    return cnp.PyArray_DIMS(<cnp.ndarray>a)[i]


cdef inline void *_ptr(object a) noexcept:
    """The data pointer of an ndarray (NULL for None)."""
    if a is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _same_shape(object a, object b) noexcept:
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>a), i
    if cnp.PyArray_NDIM(<cnp.ndarray>b) != nd:
        return False
    for i in range(nd):
        if cnp.PyArray_DIMS(<cnp.ndarray>a)[i] != cnp.PyArray_DIMS(<cnp.ndarray>b)[i]:
            return False
    return True


cdef inline bint _fast_finite(object a, int tn) noexcept:
    """The one-pass NaN/Inf scan of a fast-path array."""
    cdef size_t n = cnp.PyArray_SIZE(<cnp.ndarray>a)
    if tn == cnp.NPY_FLOAT:
        return _finite_ptr_f32(<const float *>cnp.PyArray_DATA(<cnp.ndarray>a), n)
    return _finite_ptr_f64(<const double *>cnp.PyArray_DATA(<cnp.ndarray>a), n)


cdef inline bint _ranges_meet(const char *a, size_t na, const char *b, size_t nb) noexcept:
    """The byte ranges [a, a + na) and [b, b + nb) overlap (what numpy.may_share_memory tells of two contiguous
    arrays); an empty range touching the other counts as meeting (the checked path then decides)."""
    if na == 0 or nb == 0:
        return a <= b + nb and b <= a + na
    return a < b + nb and b < a + na


cdef inline bint _apart(object a, object b) noexcept:
    """Two fast-path arrays (or None) share no byte: compares their address ranges."""
    if a is None or b is None:
        return True
    return not _ranges_meet(<const char *>cnp.PyArray_DATA(<cnp.ndarray>a), cnp.PyArray_NBYTES(<cnp.ndarray>a),
                            <const char *>cnp.PyArray_DATA(<cnp.ndarray>b), cnp.PyArray_NBYTES(<cnp.ndarray>b))


cdef inline bint _apart_or_same(object out, object a) noexcept:
    """out shares no byte with a, or is the same buffer (same start, shape and dtype: _same_buffer)."""
    if a is None or out is None:
        return True
    if cnp.PyArray_DATA(<cnp.ndarray>out) == cnp.PyArray_DATA(<cnp.ndarray>a):
        return cnp.PyArray_TYPE(<cnp.ndarray>out) == cnp.PyArray_TYPE(<cnp.ndarray>a) and _same_shape(out, a)
    return _apart(out, a)


cdef inline object _fast_out(object out, int tn, Py_ssize_t n0, Py_ssize_t n1, int ndim):
    """The output of shape (n0, n1) or (n0,): allocated when None, out itself when it is a fast-path output of that
    shape, else None (fall back)."""
    cdef cnp.npy_intp dims[2]
    dims[0] = n0
    dims[1] = n1
    if out is None:
        return cnp.PyArray_EMPTY(ndim, dims, tn, 0)
    if _fast_arr(out, tn, ndim, True) and _dim(out, 0) == n0 and (ndim == 1 or _dim(out, 1) == n1):
        return out
    return None


cdef inline bint _fast_real(object v, double *d) noexcept:
    """A finite float (numpy.float64 included) or int option as a double, converted as _scalar does."""
    cdef double x
    if type(v) is float or type(v) is _NP_FLOAT64:  # exact types: a subclass's __float__ is _scalar's business
        x = PyFloat_AS_DOUBLE(v)
    elif type(v) is int:
        x = PyLong_AsDouble(v)
        if x == -1.0 and PyErr_Occurred() != NULL:
            PyErr_Clear()
            return False
    else:
        return False
    if not isfinite(x):
        return False
    d[0] = x
    return True


cdef inline bint _fits_f32(double v) noexcept:
    """v stays finite as a float32 (conservative: values rounding down to FLT_MAX are left to _fits)."""
    return -FLT_MAX <= v <= FLT_MAX


cdef inline bint _fast_weights(object sw, int tn, Py_ssize_t n) noexcept:
    """sw is None or sample weights that _weights accepts: a fast-path vector of n values, finite, >= 0, with a
    positive sum (kept well below overflow, so numpy's pairwise sum of them is positive and finite too)."""
    cdef Py_ssize_t i
    cdef double total = 0.0, w
    cdef const float *f
    cdef const double *g
    if sw is None:
        return True
    if not _fast_arr(sw, tn, 1, False) or _dim(sw, 0) != n or not _fast_finite(sw, tn):
        return False
    if tn == cnp.NPY_FLOAT:
        f = <const float *>cnp.PyArray_DATA(<cnp.ndarray>sw)
        for i in range(n):
            w = f[i]
            if w < 0:
                return False
            total += w
    else:
        g = <const double *>cnp.PyArray_DATA(<cnp.ndarray>sw)
        for i in range(n):
            w = g[i]
            if w < 0:
                return False
            total += w
    return 0.0 < total < 1e300


cdef inline bint _fast_index(object a, Py_ssize_t n, int64_t hi) noexcept:
    """A fast-path int64 vector (of length n, unless n < 0) with every value in [0, hi)."""
    cdef Py_ssize_t i, m
    cdef const int64_t *p
    if not _fast_arr(a, cnp.NPY_INT64, 1, False) or (n >= 0 and _dim(a, 0) != n):
        return False
    m = _dim(a, 0)
    p = <const int64_t *>cnp.PyArray_DATA(<cnp.ndarray>a)
    for i in range(m):
        if p[i] < 0 or p[i] >= hi:
            return False
    return True




cdef inline int _fast_act(object act) noexcept:
    """The code of a known activation name, -1 otherwise (then _act raises)."""
    if type(act) is not str:
        return -1
    code = _ACT_FAST.get(act)
    return -1 if code is None else <int>code

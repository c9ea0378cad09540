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

_ACT_CODES = {"identity": FM_ACT_IDENTITY, "relu": FM_ACT_RELU, "sigmoid": FM_ACT_SIGMOID, "tanh": FM_ACT_TANH}
ACTIVATIONS = tuple(_ACT_CODES)
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------------------------------------------
# capsule-shared C entry points (see _core.pxd)

cdef int dense_forward_f32(const float *x, const float *W, const float *b, float *p,
                           size_t n, size_t n_in, size_t n_out, fm_act act) noexcept nogil:
    return fm_dense_forward_f32(x, W, b, p, n, n_in, n_out, act)
cdef int dense_forward_f64(const double *x, const double *W, const double *b, double *p,
                           size_t n, size_t n_in, size_t n_out, fm_act act) noexcept nogil:
    return fm_dense_forward_f64(x, W, b, p, n, n_in, n_out, act)
cdef int dense_backward_f32(const float *x, const float *W, const float *p, const float *dp,
                            float *dz, float *dW, float *db, float *dx,
                            size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate) noexcept nogil:
    return fm_dense_backward_f32(x, W, p, dp, dz, dW, db, dx, n, n_in, n_out, act, accumulate)
cdef int dense_backward_f64(const double *x, const double *W, const double *p, const double *dp,
                            double *dz, double *dW, double *db, double *dx,
                            size_t n, size_t n_in, size_t n_out, fm_act act, int accumulate) noexcept nogil:
    return fm_dense_backward_f64(x, W, p, dp, dz, dW, db, dx, n, n_in, n_out, act, accumulate)
cdef int loss_mse_f32(const float *p, const float *t, float *dp, size_t n, size_t m, double *loss) noexcept nogil:
    return fm_loss_mse_f32(p, t, dp, n, m, loss)
cdef int loss_mse_f64(const double *p, const double *t, double *dp, size_t n, size_t m,
                      double *loss) noexcept nogil:
    return fm_loss_mse_f64(p, t, dp, n, m, loss)
cdef int loss_softmax_ce_f32(const float *z, const int64_t *y, float *dz, size_t n, size_t m,
                             double *loss) noexcept nogil:
    return fm_loss_softmax_ce_f32(z, y, dz, n, m, loss)
cdef int loss_softmax_ce_f64(const double *z, const int64_t *y, double *dz, size_t n, size_t m,
                             double *loss) noexcept nogil:
    return fm_loss_softmax_ce_f64(z, y, dz, n, m, loss)
cdef int loss_sigmoid_bce_f32(const float *z, const float *t, float *dz, size_t n, size_t m,
                              double *loss) noexcept nogil:
    return fm_loss_sigmoid_bce_f32(z, t, dz, n, m, loss)
cdef int loss_sigmoid_bce_f64(const double *z, const double *t, double *dz, size_t n, size_t m,
                              double *loss) noexcept nogil:
    return fm_loss_sigmoid_bce_f64(z, t, dz, n, m, loss)
cdef int softmax_f32(const float *z, float *p, size_t n, size_t m) noexcept nogil:
    return fm_softmax_f32(z, p, n, m)
cdef int softmax_f64(const double *z, double *p, size_t n, size_t m) noexcept nogil:
    return fm_softmax_f64(z, p, n, m)
cdef int sgd_update_f32(float *W, const float *dW, float *v, size_t n, double lr, double momentum,
                        double weight_decay, double l1, int nesterov) noexcept nogil:
    return fm_sgd_update_f32(W, dW, v, n, lr, momentum, weight_decay, l1, nesterov)
cdef int sgd_update_f64(double *W, const double *dW, double *v, size_t n, double lr, double momentum,
                        double weight_decay, double l1, int nesterov) noexcept nogil:
    return fm_sgd_update_f64(W, dW, v, n, lr, momentum, weight_decay, l1, nesterov)
cdef int adam_update_f32(float *W, const float *dW, float *m, float *v, size_t n, uint64_t t, double lr,
                         double beta1, double beta2, double eps, double weight_decay, double l1) noexcept nogil:
    return fm_adam_update_f32(W, dW, m, v, n, t, lr, beta1, beta2, eps, weight_decay, l1)
cdef int adam_update_f64(double *W, const double *dW, double *m, double *v, size_t n, uint64_t t, double lr,
                         double beta1, double beta2, double eps, double weight_decay, double l1) noexcept nogil:
    return fm_adam_update_f64(W, dW, m, v, n, t, lr, beta1, beta2, eps, weight_decay, l1)


# ---------------------------------------------------------------------------------------------------------------
# library information

def version():
    """Version of the compiled C core."""
    return fm_version().decode()


def has_openmp():
    """True when the C core was compiled with OpenMP."""
    return bool(fm_build_info() & FM_BUILD_OPENMP)


def cpu_path():
    """The kernel path chosen for this CPU: "avx512", "avx2", "baseline" or "naive" (FASTMLP_ISA lowers it)."""
    return fm_cpu_path().decode()


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
    """Threads the kernels use (OpenMP's max threads; 1 without OpenMP)."""
    return fm_get_num_threads()


def set_num_threads(n):
    """Set the threads the kernels use (results are bit-identical for any count)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    if not 1 <= n <= 1 << 16:
        raise ValueError(f"n: expected a thread count in [1, 65536], got {n}")
    _raise_for(fm_set_num_threads(<int>n), "set_num_threads")


def strerror(code):
    """Name of a C status code."""
    if isinstance(code, bool) or not isinstance(code, (int, np.integer)):
        raise TypeError(f"code: expected an int, got {type(code).__name__}")
    if not -(1 << 31) <= code < 1 << 31:
        return "unknown error code"
    return fm_strerror(<int>code).decode()


cdef inline int _raise_for(int rc, str where) except -1:
    if rc != FM_OK:
        raise ValueError(f"{where}: C core refused the call: {fm_strerror(rc).decode()} (code {rc})")
    return 0


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


# ---------------------------------------------------------------------------------------------------------------
# dense layer

cdef object _dense_forward(const floating[:, ::1] x, const floating[:, ::1] W, b, floating[:, ::1] p, fm_act act):
    cdef const floating[::1] bv
    cdef const floating *bp = NULL
    cdef int rc
    if b is not None:
        bv = b
        bp = &bv[0]
    with nogil:
        if floating is float:
            rc = fm_dense_forward_f32(&x[0, 0], &W[0, 0], bp, &p[0, 0], x.shape[0], x.shape[1], W.shape[0], act)
        else:
            rc = fm_dense_forward_f64(&x[0, 0], &W[0, 0], bp, &p[0, 0], x.shape[0], x.shape[1], W.shape[0], act)
    _raise_for(rc, "dense_forward")


def dense_forward(x, W, b=None, act="relu", *, out=None, check_finite=True):
    """p = act(x @ W.T + b) for a batch x[n, n_in], W[n_out, n_in], b[n_out] (or None); returns p[n, n_out].

    check_finite=False skips the NaN/Inf scan of the inputs (as in scipy.linalg), for callers that know."""
    check_finite = _flag("check_finite", check_finite)
    x = _check("x", x, shape=(None, None), finite=check_finite)
    W = _check("W", W, x.dtype, (None, x.shape[1]), finite=check_finite)
    if b is not None:
        b = _check("b", b, x.dtype, (W.shape[0],), finite=check_finite)
    code = _act(act)
    p = _out("out", out, x.dtype, (x.shape[0], W.shape[0]))
    _no_overlap("out", p, (("x", x), ("W", W), ("b", b)))
    if x.dtype == np.float32:
        _dense_forward[float](x, W, b, p, code)
    else:
        _dense_forward[double](x, W, b, p, code)
    return p


def dense_pack_width(dtype="float32"):
    """Panel width of the packed weight layout on this CPU's kernel path."""
    dt = np.dtype(dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return fm_dense_pack_width_f64() if dt == np.float64 else fm_dense_pack_width_f32()


cdef object _dense_pack(const floating[:, ::1] W, floating[::1] Wp, size_t nc):
    cdef int rc
    with nogil:
        if floating is float:
            rc = fm_dense_pack_f32(&W[0, 0], &Wp[0], W.shape[0], W.shape[1], nc)
        else:
            rc = fm_dense_pack_f64(&W[0, 0], &Wp[0], W.shape[0], W.shape[1], nc)
    _raise_for(rc, "dense_pack")


_PACK_GROUP = 4  # FM_PACK_GROUP: panels per group of the packed layout


def _packed_size(n_out, n_in, nc):
    group = _PACK_GROUP * nc
    return (n_out + group - 1) // group * group * n_in


def dense_pack(W):
    """W[n_out, n_in] in the packed inference layout of this CPU's kernels (a flat array; see
    ``dense_forward_packed``, which takes the same n_out)."""
    W = _check("W", W, shape=(None, None))
    width = dense_pack_width(W.dtype)
    n_out, n_in = W.shape
    Wp = np.empty(_packed_size(n_out, n_in, width), dtype=W.dtype)
    if W.dtype == np.float32:
        _dense_pack[float](W, Wp, width)
    else:
        _dense_pack[double](W, Wp, width)
    return Wp


cdef object _dense_forward_packed(const floating[:, ::1] x, const floating[::1] Wp, b, floating[:, ::1] p, size_t nc,
                          fm_act act):
    cdef const floating[::1] bv
    cdef const floating *bp = NULL
    cdef int rc
    if b is not None:
        bv = b
        bp = &bv[0]
    with nogil:
        if floating is float:
            rc = fm_dense_forward_packed_f32(&x[0, 0], &Wp[0], bp, &p[0, 0], x.shape[0], x.shape[1], p.shape[1],
                                             nc, act)
        else:
            rc = fm_dense_forward_packed_f64(&x[0, 0], &Wp[0], bp, &p[0, 0], x.shape[0], x.shape[1], p.shape[1],
                                             nc, act)
    _raise_for(rc, "dense_forward_packed")


def dense_forward_packed(x, Wp, b, n_out, act="relu", *, out=None, check_finite=True):
    """``dense_forward`` with W given in the packed layout of ``dense_pack(W)`` (same results, bit for bit),
    which saves rearranging W on every call: for repeated inference with fixed weights."""
    x = _check("x", x, shape=(None, None), finite=check_finite)
    if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or n_out < 1:
        raise ValueError(f"n_out: expected an int >= 1, got {n_out!r}")
    nc = dense_pack_width(x.dtype)
    size = _packed_size(n_out, x.shape[1], nc)
    Wp = _check("Wp", Wp, x.dtype, (size,), finite=check_finite)
    if b is not None:
        b = _check("b", b, x.dtype, (n_out,), finite=check_finite)
    code = _act(act)
    p = _out("out", out, x.dtype, (x.shape[0], n_out))
    _no_overlap("out", p, (("x", x), ("Wp", Wp), ("b", b)))
    if x.dtype == np.float32:
        _dense_forward_packed[float](x, Wp, b, p, nc, code)
    else:
        _dense_forward_packed[double](x, Wp, b, p, nc, code)
    return p


cdef object _dense_backward(const floating[:, ::1] x, const floating[:, ::1] W, const floating[:, ::1] p,
                    const floating[:, ::1] dp, floating[:, ::1] dz, floating[:, ::1] dW, db, dx, fm_act act,
                    int accumulate):
    cdef floating[::1] dbv
    cdef floating[:, ::1] dxv
    cdef floating *dbp = NULL
    cdef floating *dxp = NULL
    cdef int rc
    if db is not None:
        dbv = db
        dbp = &dbv[0]
    if dx is not None:
        dxv = dx
        dxp = &dxv[0, 0]
    with nogil:
        if floating is float:
            rc = fm_dense_backward_f32(&x[0, 0], &W[0, 0], &p[0, 0], &dp[0, 0], &dz[0, 0], &dW[0, 0], dbp, dxp,
                                       x.shape[0], x.shape[1], W.shape[0], act, accumulate)
        else:
            rc = fm_dense_backward_f64(&x[0, 0], &W[0, 0], &p[0, 0], &dp[0, 0], &dz[0, 0], &dW[0, 0], dbp, dxp,
                                       x.shape[0], x.shape[1], W.shape[0], act, accumulate)
    _raise_for(rc, "dense_backward")


def dense_backward(x, W, p, dp, act="relu", *, dW=None, db=None, dx=None, dz=None, bias=True,
                   need_dx=True, accumulate=False, check_finite=True):
    """Backward of ``dense_forward`` from its output p[n, n_out] and dp = dL/dp.

    Returns ``(dW, db, dx)``: dW[n_out, n_in] = dz.T @ x, db[n_out] = dz.sum(0) (None when ``bias=False``),
    dx[n, n_in] = dz @ W (None when ``need_dx=False``), where dz = dp * act'(p) is written to ``dz`` when given
    (``dz=dp`` is allowed, in place). ``accumulate=True`` adds to the given ``dW``/``db`` instead of overwriting.
    check_finite=False skips the NaN/Inf scan of the inputs.
    """
    check_finite, bias = _flag("check_finite", check_finite), _flag("bias", bias)
    need_dx, accumulate = _flag("need_dx", need_dx), _flag("accumulate", accumulate)
    x = _check("x", x, shape=(None, None), finite=check_finite)
    n, n_in = x.shape
    W = _check("W", W, x.dtype, (None, n_in), finite=check_finite)
    n_out = W.shape[0]
    p = _check("p", p, x.dtype, (n, n_out), finite=check_finite)
    dp = _check("dp", dp, x.dtype, (n, n_out), finite=check_finite)
    code = _act(act)
    if accumulate and (dW is None or (bias and db is None)):
        raise ValueError("accumulate: needs the dW (and db) arrays to add to")
    dW = _out("dW", dW, x.dtype, (n_out, n_in))
    db = _out("db", db, x.dtype, (n_out,)) if bias else None
    dx = _out("dx", dx, x.dtype, (n, n_in)) if need_dx else None
    dz = _out("dz", dz, x.dtype, (n, n_out))
    inputs = (("x", x), ("W", W), ("p", p), ("dp", dp))
    _no_overlap("dz", dz, inputs, same_ok=("dp",))
    _no_overlap("dW", dW, inputs + (("dz", dz),))
    _no_overlap("db", db, inputs + (("dz", dz), ("dW", dW)))
    _no_overlap("dx", dx, inputs + (("dz", dz), ("dW", dW), ("db", db)))
    if x.dtype == np.float32:
        _dense_backward[float](x, W, p, dp, dz, dW, db, dx, code, 1 if accumulate else 0)
    else:
        _dense_backward[double](x, W, p, dp, dz, dW, db, dx, code, 1 if accumulate else 0)
    return dW, db, dx


# ---------------------------------------------------------------------------------------------------------------
# losses

cdef object _loss_mse(const floating[:, ::1] p, const floating[:, ::1] t, floating[:, ::1] dp):
    cdef double loss = 0.0
    cdef int rc
    with nogil:
        if floating is float:
            rc = fm_loss_mse_f32(&p[0, 0], &t[0, 0], &dp[0, 0], p.shape[0], p.shape[1], &loss)
        else:
            rc = fm_loss_mse_f64(&p[0, 0], &t[0, 0], &dp[0, 0], p.shape[0], p.shape[1], &loss)
    _raise_for(rc, "loss_mse")
    return loss


def loss_mse(p, t, *, dp=None):
    """Squared error ``0.5 * mean_i sum_j (p - t)**2`` of p[n, m] against targets t[n, m]; returns (loss, dp)."""
    p = _check("p", p, shape=(None, None))
    t = _check("t", t, p.dtype, p.shape)
    dp = _out("dp", dp, p.dtype, p.shape)
    _no_overlap("dp", dp, (("p", p), ("t", t)), same_ok=("p", "t"))
    if p.dtype == np.float32:
        return _loss_mse[float](p, t, dp), dp
    return _loss_mse[double](p, t, dp), dp


cdef object _loss_softmax_ce(const floating[:, ::1] z, const int64_t[::1] y, floating[:, ::1] dz):
    cdef double loss = 0.0
    cdef int rc
    with nogil:
        if floating is float:
            rc = fm_loss_softmax_ce_f32(&z[0, 0], &y[0], &dz[0, 0], z.shape[0], z.shape[1], &loss)
        else:
            rc = fm_loss_softmax_ce_f64(&z[0, 0], &y[0], &dz[0, 0], z.shape[0], z.shape[1], &loss)
    _raise_for(rc, "loss_softmax_ce")
    return loss


def loss_softmax_ce(z, y, *, dz=None):
    """Softmax cross-entropy from logits z[n, m] and integer labels y[n] in [0, m), mean over the batch;
    returns (loss, dz) with dz = (softmax(z) - onehot(y)) / n."""
    z = _check("z", z, shape=(None, None))
    y = _labels(y, z.shape[0], z.shape[1])
    dz = _out("dz", dz, z.dtype, z.shape)
    _no_overlap("dz", dz, (("z", z), ("y", y)), same_ok=("z",))
    if z.dtype == np.float32:
        return _loss_softmax_ce[float](z, y, dz), dz
    return _loss_softmax_ce[double](z, y, dz), dz


cdef object _loss_sigmoid_bce(const floating[:, ::1] z, const floating[:, ::1] t, floating[:, ::1] dz):
    cdef double loss = 0.0
    cdef int rc
    with nogil:
        if floating is float:
            rc = fm_loss_sigmoid_bce_f32(&z[0, 0], &t[0, 0], &dz[0, 0], z.shape[0], z.shape[1], &loss)
        else:
            rc = fm_loss_sigmoid_bce_f64(&z[0, 0], &t[0, 0], &dz[0, 0], z.shape[0], z.shape[1], &loss)
    _raise_for(rc, "loss_sigmoid_bce")
    return loss


def loss_sigmoid_bce(z, t, *, dz=None):
    """Sigmoid binary cross-entropy from logits z[n, m] and targets t[n, m] in [0, 1], summed over outputs and
    averaged over the batch; returns (loss, dz) with dz = (sigmoid(z) - t) / n."""
    z = _check("z", z, shape=(None, None))
    t = _check("t", t, z.dtype, z.shape)
    if t.min() < 0 or t.max() > 1:
        raise ValueError(f"t: targets must lie in [0, 1], got values in [{t.min()}, {t.max()}]")
    dz = _out("dz", dz, z.dtype, z.shape)
    _no_overlap("dz", dz, (("z", z), ("t", t)), same_ok=("z", "t"))
    if z.dtype == np.float32:
        return _loss_sigmoid_bce[float](z, t, dz), dz
    return _loss_sigmoid_bce[double](z, t, dz), dz


cdef object _softmax(const floating[:, ::1] z, floating[:, ::1] p):
    cdef int rc
    with nogil:
        if floating is float:
            rc = fm_softmax_f32(&z[0, 0], &p[0, 0], z.shape[0], z.shape[1])
        else:
            rc = fm_softmax_f64(&z[0, 0], &p[0, 0], z.shape[0], z.shape[1])
    _raise_for(rc, "softmax")


def softmax(z, *, out=None):
    """Row-wise softmax of z[n, m] (``out=z`` computes in place)."""
    z = _check("z", z, shape=(None, None))
    p = _out("out", out, z.dtype, z.shape)
    _no_overlap("out", p, (("z", z),), same_ok=("z",))
    if z.dtype == np.float32:
        _softmax[float](z, p)
    else:
        _softmax[double](z, p)
    return p


# ---------------------------------------------------------------------------------------------------------------
# parameter updates (in place; arrays of any shape, treated as flat)

def _flat(a):
    return a.reshape(-1)


cdef object _sgd_update(floating[::1] W, const floating[::1] dW, v, double lr, double momentum, double weight_decay,
                double l1, int nesterov):
    cdef floating[::1] vv
    cdef floating *vp = NULL
    cdef int rc
    if v is not None:
        vv = v
        vp = &vv[0]
    with nogil:
        if floating is float:
            rc = fm_sgd_update_f32(&W[0], &dW[0], vp, W.shape[0], lr, momentum, weight_decay, l1, nesterov)
        else:
            rc = fm_sgd_update_f64(&W[0], &dW[0], vp, W.shape[0], lr, momentum, weight_decay, l1, nesterov)
    _raise_for(rc, "sgd_update")


def sgd_update(W, dW, v=None, *, lr, momentum=0.0, weight_decay=0.0, l1=0.0, nesterov=False):
    """In place: ``W -= lr * g`` with g = dW + weight_decay*W + l1*sign(W), or with (Nesterov) momentum through the
    velocity buffer v (same shape as W, start it at zeros), as in PyTorch's SGD."""
    W = _check("W", W, writable=True)
    dW = _check("dW", dW, W.dtype, W.shape)
    if not _all_finite(W):
        raise ValueError("W: contains NaN or Inf")
    lr = _scalar("lr", lr, 0.0)
    momentum = _scalar("momentum", momentum, 0.0, 1.0, hi_open=True)
    weight_decay = _scalar("weight_decay", weight_decay, 0.0)
    l1 = _scalar("l1", l1, 0.0)
    nesterov = _flag("nesterov", nesterov)
    _fits(W.dtype, lr=lr, weight_decay=weight_decay, l1=l1, momentum=momentum)
    if nesterov and momentum == 0.0:
        raise ValueError("nesterov: needs momentum > 0")
    if momentum != 0.0:
        if v is None:
            raise ValueError("v: momentum > 0 needs a velocity buffer v (zeros of W's shape to start)")
        v = _check("v", v, W.dtype, W.shape, writable=True)
        if not _all_finite(v):
            raise ValueError("v: contains NaN or Inf")
        _no_overlap("v", v, (("W", W), ("dW", dW)))
    else:
        v = None
    _no_overlap("W", W, (("dW", dW),))
    if W.dtype == np.float32:
        _sgd_update[float](_flat(W), _flat(dW), None if v is None else _flat(v), lr, momentum, weight_decay, l1,
                           1 if nesterov else 0)
    else:
        _sgd_update[double](_flat(W), _flat(dW), None if v is None else _flat(v), lr, momentum, weight_decay, l1,
                            1 if nesterov else 0)


cdef object _adam_update(floating[::1] W, const floating[::1] dW, floating[::1] m, floating[::1] v, uint64_t t,
                 double lr, double beta1, double beta2, double eps, double weight_decay, double l1):
    cdef int rc
    with nogil:
        if floating is float:
            rc = fm_adam_update_f32(&W[0], &dW[0], &m[0], &v[0], W.shape[0], t, lr, beta1, beta2, eps,
                                    weight_decay, l1)
        else:
            rc = fm_adam_update_f64(&W[0], &dW[0], &m[0], &v[0], W.shape[0], t, lr, beta1, beta2, eps,
                                    weight_decay, l1)
    _raise_for(rc, "adam_update")


def adam_update(W, dW, m, v, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, l1=0.0):
    """In place: Adam step number t (1 for the first) on W with moment buffers m, v (zeros to start)."""
    W = _check("W", W, writable=True)
    dW = _check("dW", dW, W.dtype, W.shape)
    m = _check("m", m, W.dtype, W.shape, writable=True)
    v = _check("v", v, W.dtype, W.shape, writable=True)
    for name, a in (("W", W), ("m", m), ("v", v)):
        if not _all_finite(a):
            raise ValueError(f"{name}: contains NaN or Inf")
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise TypeError(f"t: expected an int step number, got {type(t).__name__}")
    if not 1 <= t < 1 << 63:
        raise ValueError(f"t: the step number starts at 1 (and stays below 2**63), got {t}")
    lr = _scalar("lr", lr, 0.0)
    beta1 = _scalar("beta1", beta1, 0.0, 1.0, hi_open=True)
    beta2 = _scalar("beta2", beta2, 0.0, 1.0, hi_open=True)
    eps = _scalar("eps", eps, 0.0, lo_open=True)
    weight_decay = _scalar("weight_decay", weight_decay, 0.0)
    l1 = _scalar("l1", l1, 0.0)
    _fits(W.dtype, lr=lr / (1.0 - beta1 ** t), weight_decay=weight_decay, l1=l1, beta1=beta1, beta2=beta2, eps=eps)
    arrays = (("W", W), ("dW", dW), ("m", m), ("v", v))
    for i in (0, 2, 3):
        _no_overlap(arrays[i][0], arrays[i][1], arrays[:i] + arrays[i + 1:])
    if W.dtype == np.float32:
        _adam_update[float](_flat(W), _flat(dW), _flat(m), _flat(v), t, lr, beta1, beta2, eps, weight_decay, l1)
    else:
        _adam_update[double](_flat(W), _flat(dW), _flat(m), _flat(v), t, lr, beta1, beta2, eps, weight_decay, l1)


# ---------------------------------------------------------------------------------------------------------------
# whole network (csrc/mlp.c): the state a model holds, with one C call per forward / step / epoch

LOSSES = {"mse": FM_LOSS_MSE, "softmax_ce": FM_LOSS_SOFTMAX_CE, "sigmoid_bce": FM_LOSS_SIGMOID_BCE}
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
MAX_LAYERS = FM_MAX_LAYERS


cdef int _set_optim(fm_optim *o, dict opt) except -1:
    kind = opt["optimizer"]
    if kind not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {kind!r}")
    o.kind = FM_OPT_ADAM if kind == "adam" else FM_OPT_SGD
    o.lr = _scalar("lr", opt["lr"], 0.0)
    o.weight_decay = _scalar("weight_decay", opt.get("weight_decay", 0.0), 0.0)
    o.l1 = _scalar("l1", opt.get("l1", 0.0), 0.0)
    o.momentum = 0.0
    o.nesterov = 0
    if kind in ("momentum", "nesterov"):
        o.momentum = _scalar("momentum", opt.get("momentum", 0.9), 0.0, 1.0, lo_open=True, hi_open=True)
        o.nesterov = kind == "nesterov"
    o.beta1 = _scalar("beta1", opt.get("beta1", 0.9), 0.0, 1.0, hi_open=True)
    o.beta2 = _scalar("beta2", opt.get("beta2", 0.999), 0.0, 1.0, hi_open=True)
    o.eps = _scalar("eps", opt.get("eps", 1e-8), 0.0, lo_open=True)
    return 0


cdef object _mlp_forward(_Net self, const floating[::1] params, const floating[:, ::1] x, floating[:, ::1] out,
                 unsigned char[::1] work, size_t work_batch):
    cdef int rc
    with nogil:
        if floating is float:
            rc = fm_mlp_forward_f32(&self.net, &params[0], &x[0, 0], &out[0, 0], x.shape[0], &work[0], work_batch)
        else:
            rc = fm_mlp_forward_f64(&self.net, &params[0], &x[0, 0], &out[0, 0], x.shape[0], &work[0], work_batch)
    _raise_for(rc, "mlp_forward")


cdef object _mlp_loss_grad(_Net self, const floating[::1] params, grads, const floating[:, ::1] x, t, y):
    cdef floating[::1] g
    cdef const floating[:, ::1] tv
    cdef const int64_t[::1] yv
    cdef floating *gp = NULL
    cdef const floating *tp = NULL
    cdef const int64_t *yp = NULL
    cdef double loss = 0.0
    cdef int rc
    if grads is not None:
        g = grads
        gp = &g[0]
    if t is not None:
        tv = t
        tp = &tv[0, 0]
    if y is not None:
        yv = y
        yp = &yv[0]
    with nogil:
        if floating is float:
            rc = fm_mlp_loss_grad_f32(&self.net, &params[0], gp, &x[0, 0], tp, yp, x.shape[0], self._work_ptr,
                                      self.work_batch, &loss)
        else:
            rc = fm_mlp_loss_grad_f64(&self.net, &params[0], gp, &x[0, 0], tp, yp, x.shape[0], self._work_ptr,
                                      self.work_batch, &loss)
    if rc == FM_EDIVERGED:
        return float("nan")
    _raise_for(rc, "mlp_loss_grad")
    return loss


cdef object _mlp_train_step(_Net self, floating[::1] params, floating[::1] grads, state, const floating[:, ::1] x, t, y,
                    dict opt, uint64_t step):
    cdef floating[::1] sv
    cdef const floating[:, ::1] tv
    cdef const int64_t[::1] yv
    cdef floating *sp = NULL
    cdef const floating *tp = NULL
    cdef const int64_t *yp = NULL
    cdef fm_optim o
    cdef double loss = 0.0
    cdef int rc
    _set_optim(&o, opt)
    if state is not None and len(state):
        sv = state
        sp = &sv[0]
    if t is not None:
        tv = t
        tp = &tv[0, 0]
    if y is not None:
        yv = y
        yp = &yv[0]
    with nogil:
        if floating is float:
            rc = fm_mlp_train_step_f32(&self.net, &params[0], &grads[0], sp, &x[0, 0], tp, yp, x.shape[0], &o,
                                       step, self._work_ptr, self.work_batch, &loss)
        else:
            rc = fm_mlp_train_step_f64(&self.net, &params[0], &grads[0], sp, &x[0, 0], tp, yp, x.shape[0], &o,
                                       step, self._work_ptr, self.work_batch, &loss)
    if rc == FM_EDIVERGED:
        return float("nan")
    _raise_for(rc, "mlp_train_step")
    return loss


cdef object _mlp_train_epoch(_Net self, floating[::1] params, floating[::1] grads, state, const floating[:, ::1] X, T, Y,
                     const int64_t[::1] order, dict opt, uint64_t step):
    cdef floating[::1] sv
    cdef const floating[:, ::1] tv
    cdef const int64_t[::1] yv
    cdef floating *sp = NULL
    cdef const floating *tp = NULL
    cdef const int64_t *yp = NULL
    cdef fm_optim o
    cdef double loss = 0.0
    cdef uint64_t st = step
    cdef int rc
    _set_optim(&o, opt)
    if state is not None and len(state):
        sv = state
        sp = &sv[0]
    if T is not None:
        tv = T
        tp = &tv[0, 0]
    if Y is not None:
        yv = Y
        yp = &yv[0]
    with nogil:
        if floating is float:
            rc = fm_mlp_train_epoch_f32(&self.net, &params[0], &grads[0], sp, &X[0, 0], tp, yp, X.shape[0],
                                        &order[0], order.shape[0], self.work_batch, &o, &st, self._work_ptr, &loss)
        else:
            rc = fm_mlp_train_epoch_f64(&self.net, &params[0], &grads[0], sp, &X[0, 0], tp, yp, X.shape[0],
                                        &order[0], order.shape[0], self.work_batch, &o, &st, self._work_ptr, &loss)
    if rc != FM_EDIVERGED:
        _raise_for(rc, "mlp_train_epoch")
    return loss, st, rc == FM_EDIVERGED


cdef class _Net:
    """The C network description and its workspace (internal; ``fastmlp.MLP`` is the public face).

    Methods take the model's flat parameter, gradient and state vectors and batches already validated by the
    caller; they check the lengths that the C code relies on, so a wrong buffer raises instead of overrunning.
    """
    cdef fm_mlp net
    cdef readonly object dtype
    cdef readonly Py_ssize_t n_params
    cdef readonly size_t work_batch
    cdef object _work
    cdef void *_work_ptr

    def __init__(self, sizes, acts, str loss, dtype):
        cdef size_t count
        if len(sizes) < 2 or len(sizes) - 1 > FM_MAX_LAYERS:
            raise ValueError(f"sizes: expected 2 to {FM_MAX_LAYERS + 1} layer sizes, got {len(sizes)}")
        if len(acts) != len(sizes) - 1:
            raise ValueError(f"acts: expected {len(sizes) - 1} activations, got {len(acts)}")
        if loss not in LOSSES:
            raise ValueError(f"loss: expected one of {tuple(LOSSES)}, got {loss!r}")
        self.net.n_layers = len(sizes) - 1
        for i, s in enumerate(sizes):
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
                raise ValueError(f"sizes: every layer size must be an int >= 1, got {s!r}")
            self.net.sizes[i] = s
        for i, a in enumerate(acts):
            self.net.acts[i] = _act(a)
        self.net.loss = LOSSES[loss]
        if loss != "mse" and acts[len(acts) - 1] != "identity":
            raise ValueError(f"loss {loss!r} takes logits: the output activation must be 'identity'")
        _raise_for(fm_mlp_num_params(&self.net, &count), "mlp_num_params")
        self.n_params = count
        self.dtype = np.dtype(dtype)
        if self.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"dtype: expected float32 or float64, got {self.dtype}")
        self.work_batch = 0
        self._work = None

    def state_size(self, dict opt):
        cdef fm_optim o
        cdef size_t count
        _set_optim(&o, opt)
        _raise_for(fm_mlp_state_size(&self.net, &o, &count), "mlp_state_size")
        return count

    def reserve(self, size_t batch):
        """Make the workspace fit batches of exactly this many rows (the epoch's batch size)."""
        cdef size_t nbytes
        if batch == 0:
            raise ValueError("batch: expected >= 1")
        if batch == self.work_batch:
            return
        if self.dtype == np.float32:
            _raise_for(fm_mlp_workspace_size_f32(&self.net, batch, &nbytes), "mlp_workspace_size")
        else:
            _raise_for(fm_mlp_workspace_size_f64(&self.net, batch, &nbytes), "mlp_workspace_size")
        cdef unsigned char[::1] buf
        self._work = np.empty(nbytes, dtype=np.uint8)
        buf = self._work
        self._work_ptr = <void *>&buf[0]
        self.work_batch = batch

    cdef _check_vec(self, str name, a, Py_ssize_t n):
        if not isinstance(a, np.ndarray) or a.dtype != self.dtype or a.ndim != 1 or a.shape[0] != n \
                or not a.flags.c_contiguous:
            raise ValueError(f"{name}: expected a contiguous {self.dtype} vector of length {n}")

    cdef _check_xty(self, x, t, y):
        n_in, n_out = self.net.sizes[0], self.net.sizes[self.net.n_layers]
        if not isinstance(x, np.ndarray) or x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != n_in \
                or x.shape[0] == 0 or not x.flags.c_contiguous:
            raise ValueError(f"x: expected a C-contiguous {self.dtype} array of shape (n, {n_in})")
        if self.net.loss == FM_LOSS_SOFTMAX_CE:
            if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.shape != (x.shape[0],) \
                    or not y.flags.c_contiguous:
                raise ValueError(f"y: expected int64 labels of shape ({x.shape[0]},)")
        elif not isinstance(t, np.ndarray) or t.dtype != self.dtype or t.shape != (x.shape[0], n_out) \
                or not t.flags.c_contiguous:
            raise ValueError(f"t: expected a C-contiguous {self.dtype} array of shape ({x.shape[0]}, {n_out})")

    def forward(self, params, x, out):
        self._check_vec("params", params, self.n_params)
        n_in, n_out = self.net.sizes[0], self.net.sizes[self.net.n_layers]
        if not isinstance(x, np.ndarray) or x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != n_in \
                or x.shape[0] == 0 or not x.flags.c_contiguous:
            raise ValueError(f"x: expected a C-contiguous {self.dtype} array of shape (n, {n_in})")
        if not isinstance(out, np.ndarray) or out.dtype != self.dtype or out.shape != (x.shape[0], n_out) \
                or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out: expected a writable {self.dtype} array of shape ({x.shape[0]}, {n_out})")
        # a workspace of its own for every call: predictions from several threads never share buffers
        cdef size_t nbytes, chunk = min(<size_t>x.shape[0], 256)
        if self.dtype == np.float32:
            _raise_for(fm_mlp_workspace_size_f32(&self.net, chunk, &nbytes), "mlp_workspace_size")
        else:
            _raise_for(fm_mlp_workspace_size_f64(&self.net, chunk, &nbytes), "mlp_workspace_size")
        if x.dtype == np.float32:
            _mlp_forward[float](self, params, x, out, np.empty(nbytes, dtype=np.uint8), chunk)
        else:
            _mlp_forward[double](self, params, x, out, np.empty(nbytes, dtype=np.uint8), chunk)
        return out

    def loss_grad(self, params, grads, x, t, y):
        """Mean loss of the batch and (grads not None) its gradient; NaN when it diverged."""
        self._check_vec("params", params, self.n_params)
        if grads is not None:
            self._check_vec("grads", grads, self.n_params)
        self._check_xty(x, t, y)
        if self.work_batch < <size_t>x.shape[0]:
            self.reserve(x.shape[0])
        if x.dtype == np.float32:
            return _mlp_loss_grad[float](self, params, grads, x, t, y)
        return _mlp_loss_grad[double](self, params, grads, x, t, y)

    def train_step(self, params, grads, state, x, t, y, dict opt, step):
        """One step in C; returns the batch loss, NaN when it diverged (then nothing was updated)."""
        self._check_vec("params", params, self.n_params)
        self._check_vec("grads", grads, self.n_params)
        self._check_vec("state", state, self.state_size(opt))
        self._check_xty(x, t, y)
        if self.work_batch < <size_t>x.shape[0]:
            self.reserve(x.shape[0])
        if x.dtype == np.float32:
            return _mlp_train_step[float](self, params, grads, state, x, t, y, opt, step)
        return _mlp_train_step[double](self, params, grads, state, x, t, y, opt, step)

    def train_epoch(self, params, grads, state, X, T, Y, order, size_t batch, dict opt, step):
        """One epoch in one C call: returns (mean loss, last step number, diverged)."""
        self._check_vec("params", params, self.n_params)
        self._check_vec("grads", grads, self.n_params)
        self._check_vec("state", state, self.state_size(opt))
        self._check_xty(X, T, Y)
        if not isinstance(order, np.ndarray) or order.dtype != np.int64 or order.ndim != 1 or order.shape[0] == 0:
            raise ValueError("order: expected a non-empty int64 vector of sample indices")
        self.reserve(batch)
        if X.dtype == np.float32:
            return _mlp_train_epoch[float](self, params, grads, state, X, T, Y, order, opt, step)
        return _mlp_train_epoch[double](self, params, grads, state, X, T, Y, order, opt, step)


cdef class Stepper:
    """One training step on a fixed batch, bound once: ``step = model.stepper(X, y, lr=...)`` then ``step()``.

    The fast path for tiny networks and tight loops: everything is validated when the stepper is made, and each
    call is one C train step with the GIL released, no Python-level checks and no allocation. X and the targets
    are used in place when they already are C-contiguous arrays of the model's dtype (int64 for labels), so they
    may be refilled between calls (keep them finite: the C step refuses a NaN/Inf loss or gradient, raising
    DivergenceError with the weights untouched). Returns the batch loss. A stepper is the raw path: unlike the
    model's methods it does not check for other threads using the model, so call it from the training thread.
    """
    cdef fm_mlp net
    cdef fm_optim opt
    cdef void *params
    cdef void *grads
    cdef void *state
    cdef const void *x
    cdef const void *t
    cdef const int64_t *y
    cdef size_t n, n_params, work_batch
    cdef void *work
    cdef bint f64
    cdef uint64_t *counter
    cdef object _keep

    def __cinit__(self):
        self.state = NULL
        self.t = NULL
        self.y = NULL

    @staticmethod
    def _make(_Net netobj, params, grads, state, X, T, Y, dict opt, counter):
        cdef Stepper s = Stepper.__new__(Stepper)
        cdef const unsigned char[::1] raw
        netobj._check_vec("params", params, netobj.n_params)
        netobj._check_vec("grads", grads, netobj.n_params)
        netobj._check_vec("state", state, netobj.state_size(opt))
        netobj._check_xty(X, T, Y)
        netobj.reserve(X.shape[0])
        s.net = netobj.net
        _set_optim(&s.opt, opt)
        s.params = <void *><size_t>params.ctypes.data
        s.grads = <void *><size_t>grads.ctypes.data
        s.state = <void *><size_t>state.ctypes.data if state.shape[0] else NULL
        s.x = <const void *><size_t>X.ctypes.data
        s.t = <const void *><size_t>T.ctypes.data if T is not None else NULL
        s.y = <const int64_t *><size_t>Y.ctypes.data if Y is not None else NULL
        s.n = X.shape[0]
        s.n_params = netobj.n_params
        s.work = netobj._work_ptr
        s.work_batch = netobj.work_batch
        s.f64 = netobj.dtype == np.float64
        if not isinstance(counter, np.ndarray) or counter.dtype != np.uint64 or counter.shape != (1,):
            raise ValueError("counter: expected a uint64 array of shape (1,)")
        s.counter = <uint64_t *><size_t>counter.ctypes.data
        s._keep = (netobj, params, grads, state, X, T, Y, netobj._work, counter)  # owners of every pointer above
        return s

    @property
    def step_count(self):
        return self.counter[0]

    cdef int _step(self, double *loss) noexcept nogil:
        if self.f64:
            return fm_mlp_train_step_f64(&self.net, <double *>self.params, <double *>self.grads,
                                         <double *>self.state, <const double *>self.x, <const double *>self.t,
                                         self.y, self.n, &self.opt, self.counter[0] + 1, self.work,
                                         self.work_batch, loss)
        return fm_mlp_train_step_f32(&self.net, <float *>self.params, <float *>self.grads, <float *>self.state,
                                     <const float *>self.x, <const float *>self.t, self.y, self.n, &self.opt,
                                     self.counter[0] + 1, self.work, self.work_batch, loss)

    def __call__(self):
        cdef double loss = 0.0
        cdef int rc
        if self.n * self.n_params < 4096:  # a tiny step takes less time than releasing the GIL
            rc = self._step(&loss)
        else:
            with nogil:
                rc = self._step(&loss)
        if rc != FM_OK:
            if rc == FM_EDIVERGED:
                from .mlp import DivergenceError
                raise DivergenceError("step: the loss or a gradient is NaN/Inf; weights left unchanged")
            _raise_for(rc, "Stepper")
        self.counter[0] += 1
        return loss


cdef class Predictor:
    """A frozen copy of a network's weights in the packed inference layout: ``pred = model.predictor()`` then
    ``pred(X)`` gives ``model.forward(X)`` bit for bit, without rearranging the weights on every call and with
    the least per-call work (the fast path for batch-1 inference). Later training does not change it: make a new
    one. X: a C-contiguous array of the model's dtype with n_in columns (others are converted)."""
    cdef size_t n_layers, nc, widest
    cdef size_t sizes[FM_MAX_LAYERS + 1]
    cdef fm_act acts[FM_MAX_LAYERS]
    cdef readonly object dtype
    cdef bint f64
    cdef list _Wp
    cdef list _b
    cdef const void *wps[FM_MAX_LAYERS]
    cdef const void *bs[FM_MAX_LAYERS]

    def __init__(self, layers, activations, flat_params):
        dt = np.dtype(flat_params.dtype)
        if dt not in _FLOAT_DTYPES:
            raise TypeError(f"params: expected float32 or float64, got {dt}")
        if len(layers) < 2 or len(layers) - 1 > FM_MAX_LAYERS or len(activations) != len(layers) - 1:
            raise ValueError("layers/activations: inconsistent network description")
        self.dtype = dt
        self.f64 = dt == np.float64
        self.n_layers = len(layers) - 1
        self.nc = dense_pack_width(dt)
        self.widest = 0
        self._Wp, self._b = [], []
        off = 0
        for l in range(self.n_layers):
            n_in, n_out = int(layers[l]), int(layers[l + 1])
            self.sizes[l], self.sizes[l + 1] = n_in, n_out
            self.acts[l] = _act(activations[l])
            W = np.ascontiguousarray(flat_params[off: off + n_out * n_in].reshape(n_out, n_in))
            b = np.array(flat_params[off + n_out * n_in: off + n_out * n_in + n_out])
            off += n_out * n_in + n_out
            Wp = dense_pack(W)
            self._Wp.append(Wp)
            self._b.append(b)
            self.wps[l] = <const void *><size_t>Wp.ctypes.data  # owned by self._Wp / self._b, never resized
            self.bs[l] = <const void *><size_t>b.ctypes.data
            self.widest = max(self.widest, n_out)
        if off != flat_params.shape[0]:
            raise ValueError("params: length does not match the layer sizes")

    @property
    def n_in(self):
        return self.sizes[0]

    @property
    def n_out(self):
        return self.sizes[self.n_layers]

    def __call__(self, X, bint check_finite=True):
        """The network's output for X[n, n_in] (the last activation applied; logits for cross-entropy models)."""
        if not isinstance(X, np.ndarray) or X.dtype != self.dtype or not X.flags.c_contiguous:
            X = np.ascontiguousarray(X, dtype=self.dtype)
        if X.ndim != 2 or <size_t>X.shape[1] != self.sizes[0] or X.shape[0] == 0:
            raise ValueError(f"X: expected shape (n >= 1, {self.sizes[0]}), got {X.shape}")
        cdef size_t n = X.shape[0]
        # scratch of its own for every call, so that threads may share one predictor
        scratch = np.empty(2 * n * self.widest, dtype=self.dtype)
        out = np.empty((n, self.sizes[self.n_layers]), dtype=self.dtype)
        cdef int rc
        if self.f64:
            rc = _predictor_run[double](self, X, out, scratch, check_finite)
        else:
            rc = _predictor_run[float](self, X, out, scratch, check_finite)
        if rc == 1:
            raise ValueError("X: contains NaN or Inf")
        _raise_for(rc, "Predictor")
        return out


cdef int _predictor_run(Predictor self, const floating[:, ::1] X, floating[:, ::1] out, floating[::1] scratch,
                        bint check_finite) except? -99:
    """Layer by layer through the packed weights, ping-ponging between two halves of the scratch buffer."""
    cdef size_t l, n = X.shape[0]
    cdef int rc = 0
    cdef const floating *inp = &X[0, 0]
    cdef floating *bufs[2]
    cdef floating *dst
    bufs[0] = &scratch[0]
    bufs[1] = &scratch[n * self.widest]
    with nogil:
        if check_finite:
            if floating is float:
                if not _finite_ptr_f32(inp, n * self.sizes[0]):
                    return 1
            else:
                if not _finite_ptr_f64(inp, n * self.sizes[0]):
                    return 1
        for l in range(self.n_layers):
            dst = &out[0, 0] if l + 1 == self.n_layers else bufs[l % 2]
            if floating is float:
                rc = fm_dense_forward_packed_f32(inp, <const float *>self.wps[l], <const float *>self.bs[l], dst, n,
                                                 self.sizes[l], self.sizes[l + 1], self.nc, self.acts[l])
            else:
                rc = fm_dense_forward_packed_f64(inp, <const double *>self.wps[l], <const double *>self.bs[l], dst,
                                                 n, self.sizes[l], self.sizes[l + 1], self.nc, self.acts[l])
            if rc:
                return rc
            inp = dst
    return 0

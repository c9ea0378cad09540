# _core_sparse.pxi: sparse (CSR) input: the CSR holder and the first-layer kernels -- included by _core.pyx
# ---------------------------------------------------------------------------------------------------------------
# A CSR matrix checked once (CSR), and the kernels fm_csr_dense_forward / fm_csr_dense_backward. The core does not
# import scipy: anything with indptr, indices, data and shape (scipy.sparse.csr_matrix / csr_array) is taken.


@cython.auto_pickle(False)
cdef class CSR:
    """A CSR matrix for the core: ``CSR(indptr, indices, data, n_cols)``.

    indptr: int64[n_rows + 1], rising from 0 (never decreasing) to nnz; indices: int64[nnz], each in [0, n_cols);
    data: float32 or float64[nnz], finite. All C-contiguous; they are kept, not copied, and checked once here, so
    that training on it does not scan O(nnz) in Python on every call (the C core still checks its arguments, so a
    later change to the arrays is refused there, never read out of bounds). Read-only attributes: indptr, indices,
    data, n_rows, n_cols, nnz, shape, dtype. ``CSR.from_any(X, dtype)`` takes a scipy.sparse CSR matrix (or this)."""
    cdef readonly object indptr, indices, data, dtype
    cdef readonly Py_ssize_t n_rows, n_cols, nnz
    cdef bint _ready

    def __init__(self, indptr, indices, data, n_cols):
        if self._ready:
            raise TypeError("CSR: already initialised; make a new one")
        if isinstance(n_cols, bool) or not isinstance(n_cols, (int, np.integer)):
            raise TypeError(f"n_cols: expected an int, got {type(n_cols).__name__}")
        if n_cols < 1:
            raise ValueError(f"n_cols: expected >= 1, got {n_cols}")
        for name, a, want in (("indptr", indptr, np.int64), ("indices", indices, np.int64), ("data", data, None)):
            if not isinstance(a, np.ndarray):
                raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
            if want is not None and a.dtype != want:
                raise TypeError(f"{name}: expected dtype int64, got {a.dtype} (use numpy.asarray({name}, "
                                f"dtype=numpy.int64))")
            if want is None and a.dtype not in _FLOAT_DTYPES:
                raise TypeError(f"data: expected dtype float32 or float64, got {a.dtype}")
            if a.ndim != 1:
                raise ValueError(f"{name}: expected a 1-d array, got shape {a.shape}")
            if not a.flags.c_contiguous or not a.flags.aligned:
                raise ValueError(f"{name}: expected a C-contiguous array (use numpy.ascontiguousarray)")
        if indptr.shape[0] < 2:
            raise ValueError(f"indptr: expected n_rows + 1 >= 2 entries (a matrix with rows), got {indptr.shape[0]}")
        nnz = indices.shape[0]
        if data.shape[0] != nnz:
            raise ValueError(f"data: expected one value per index ({nnz}), got {data.shape[0]}")
        if indptr[0] != 0:
            raise ValueError(f"indptr: must start at 0, got {indptr[0]}")
        if indptr[indptr.shape[0] - 1] != nnz:
            raise ValueError(f"indptr: must end at nnz = len(indices) = {nnz}, got {indptr[indptr.shape[0] - 1]}")
        if indptr.shape[0] > 2 and bool(np.any(indptr[1:] < indptr[:-1])):
            raise ValueError("indptr: must never decrease (row r holds indptr[r] .. indptr[r+1])")
        if nnz:
            lo, hi = int(indices.min()), int(indices.max())
            if lo < 0 or hi >= n_cols:
                raise ValueError(f"indices: column indices must lie in [0, {n_cols}) for {n_cols} columns, got "
                                 f"values in [{lo}, {hi}]")
            if not _all_finite(data):
                raise ValueError("data: contains NaN or Inf")
        self.indptr, self.indices, self.data = indptr, indices, data
        self.n_rows, self.n_cols, self.nnz, self.dtype = indptr.shape[0] - 1, int(n_cols), nnz, data.dtype
        self._ready = True

    cdef int _need(self) except -1:
        if not self._ready:
            raise TypeError("CSR: not initialised (make it with CSR(indptr, indices, data, n_cols))")
        return 0

    @property
    def shape(self):
        self._need()
        return (self.n_rows, self.n_cols)

    def __getitem__(self, key):
        """The rows ``start:stop`` (a slice of step 1) as a CSR sharing this one's index and data arrays (only
        the row pointers are copied, rebased to 0)."""
        self._need()
        if not isinstance(key, slice):
            raise TypeError(f"CSR: only row slices X[start:stop] are supported, got {type(key).__name__}")
        start, stop, step = key.indices(self.n_rows)
        if step != 1 or stop <= start:
            raise ValueError(f"CSR: a row slice needs step 1 and at least one row, got {key!r} of {self.n_rows} rows")
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return CSR(self.indptr[start:stop + 1] - lo, self.indices[lo:hi], self.data[lo:hi], self.n_cols)

    def __repr__(self):
        if not self._ready:
            return "<CSR (not initialised)>"
        return f"<CSR {self.n_rows}x{self.n_cols} nnz={self.nnz} dtype={self.dtype}>"

    @staticmethod
    def from_any(X, dtype=None):
        """X as a CSR: a CSR is returned as it is, a scipy.sparse CSR matrix / array (anything with indptr, indices,
        data and shape; format "csr" when it says) becomes one, its index arrays converted to int64 (copies when
        they are int32, as scipy stores them). dtype: the data's required dtype (None: float32 or float64)."""
        cdef CSR c
        if isinstance(X, CSR):
            c = X
            c._need()
        else:
            if isinstance(X, np.ndarray) or not all(hasattr(X, a) for a in ("indptr", "indices", "data", "shape")):
                raise TypeError(f"X: expected a CSR matrix (fastmlp._core.CSR, or scipy.sparse CSR with indptr, "
                                f"indices, data, shape), got {type(X).__name__}")
            fmt = getattr(X, "format", "csr")
            if fmt != "csr":
                raise TypeError(f"X: expected a CSR matrix, got format {fmt!r} (convert with X.tocsr())")
            shape = tuple(X.shape)
            if len(shape) != 2:
                raise ValueError(f"X: expected a 2-d matrix, got shape {shape}")
            data = X.data
            if not isinstance(data, np.ndarray):
                raise TypeError(f"X.data: expected a numpy.ndarray, got {type(data).__name__}")
            c = CSR(np.ascontiguousarray(X.indptr, dtype=np.int64), np.ascontiguousarray(X.indices, dtype=np.int64),
                    data, shape[1])
            if c.n_rows != shape[0]:
                raise ValueError(f"X: indptr has {c.n_rows + 1} entries for {shape[0]} rows")
        if dtype is not None and c.dtype != dtype:
            raise TypeError(f"X: expected data of dtype {np.dtype(dtype)} (the dtype of the other arrays), got "
                            f"{c.dtype}")
        return c


cdef inline const int64_t *_i64_ptr(const int64_t[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] else NULL


cdef inline const floating *_data_ptr(const floating[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] else NULL


def _rows(rows, Py_ssize_t n_rows):
    """A batch's row selection: None, or a non-empty C-contiguous int64 vector of indices in [0, n_rows)."""
    if rows is None:
        return None
    if not isinstance(rows, np.ndarray) or rows.dtype != np.int64 or rows.ndim != 1 or rows.shape[0] == 0 \
            or not rows.flags.c_contiguous:
        raise ValueError("rows: expected None or a non-empty C-contiguous int64 vector of row indices")
    lo, hi = int(rows.min()), int(rows.max())
    if lo < 0 or hi >= n_rows:
        raise ValueError(f"rows: row indices must lie in [0, {n_rows}), got values in [{lo}, {hi}]")
    return rows


def _scratch(work, dtype, Py_ssize_t n_out, Py_ssize_t n_in):
    """The kernels' scratch: n_out * n_in values of dtype, C-contiguous and writable (allocated when None)."""
    if work is None:
        return np.empty(n_out * n_in, dtype=dtype)
    if not isinstance(work, np.ndarray):
        raise TypeError(f"work: expected a numpy.ndarray, got {type(work).__name__}")
    if work.dtype != dtype:
        raise TypeError(f"work: expected dtype {np.dtype(dtype)}, got {work.dtype}")
    if work.size < n_out * n_in or not work.flags.c_contiguous or not work.flags.writeable or not work.flags.aligned:
        raise ValueError(f"work: expected a writable C-contiguous array of at least {n_out * n_in} values "
                         f"(n_out * n_in), got shape {work.shape}")
    return work.reshape(-1)[:n_out * n_in]


cdef object _csr_forward(CSR X, rows, const floating[:, ::1] W, b, floating[:, ::1] p, floating[::1] wk,
                         fm_act act):
    cdef const int64_t[::1] ip = X.indptr
    cdef const int64_t[::1] ix = X.indices
    cdef const floating[::1] dv = X.data
    cdef const int64_t[::1] rv
    cdef const int64_t *rp = NULL
    cdef const floating[::1] bv
    cdef const floating *bp = NULL
    cdef int rc
    if rows is not None:
        rv = rows
        rp = &rv[0]
    if b is not None:
        bv = b
        bp = &bv[0]
    with nogil:
        rc = c_csr_dense_forward(&ip[0], _i64_ptr(ix), _data_ptr(dv), rp, &W[0, 0], bp, &p[0, 0], &wk[0],
                                 p.shape[0], X.n_rows, W.shape[1], W.shape[0], act)
    _raise_for(rc, "csr_dense_forward")


cdef inline bint _fast_csr(X, int tn) noexcept:
    """X is an initialised CSR (checked once when made) of data type tn."""
    if type(X) is not CSR or not (<CSR>X)._ready:
        return False
    return cnp.PyArray_TYPE(<cnp.ndarray>(<CSR>X).data) == tn and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>(<CSR>X).data)


cdef inline object _fast_scratch(work, int tn, Py_ssize_t need):
    """The scratch on the fast path: allocated when None, work itself when _scratch would take it whole or in part
    (its first ``need`` values are used), else None (fall back)."""
    cdef cnp.npy_intp dims[1]
    if work is None:
        dims[0] = need
        return cnp.PyArray_EMPTY(1, dims, tn, 0)
    if _fast_arr(work, tn, -1, True) and cnp.PyArray_SIZE(<cnp.ndarray>work) >= need:
        return work
    return None


cdef inline bint _scratch_apart(wk, Py_ssize_t need, a) noexcept:
    """The first ``need`` values of the scratch wk share no byte with a (None: nothing to share)."""
    if a is None:
        return True
    return not _ranges_meet(<const char *>_ptr(wk), need * cnp.PyArray_ITEMSIZE(<cnp.ndarray>wk),
                            <const char *>_ptr(a), cnp.PyArray_NBYTES(<cnp.ndarray>a))


cdef inline bint _csr_apart(o, CSR X, rows) noexcept:
    return _apart(o, X.data) and _apart(o, X.indices) and _apart(o, X.indptr) and _apart(o, rows)


cdef object _fast_csr_forward(X, W, b, act, rows, out, check_finite, work):
    """csr_dense_forward on the fast path: p, or None to fall back to the checked path."""
    cdef int tn = _fast_in(W, 2), code = _fast_act(act), rc
    cdef CSR Xc
    cdef Py_ssize_t n, n_in, n_out, need
    cdef const int64_t *ipp
    cdef const int64_t *ixp
    cdef const int64_t *rp
    cdef const void *dvp
    cdef const void *Wq
    cdef const void *bp
    cdef void *pp
    cdef void *wkp
    if tn == 0 or code < 0 or not _is_flag(check_finite) or not _fast_csr(X, tn):
        return None
    Xc = <CSR>X
    n_out, n_in = _dim(W, 0), _dim(W, 1)
    if Xc.n_cols != n_in or (b is not None and not (_fast_arr(b, tn, 1, False) and _dim(b, 0) == n_out)):
        return None
    if check_finite is True and not (_fast_finite(W, tn) and (b is None or _fast_finite(b, tn))):
        return None
    if rows is not None and not _fast_index(rows, -1, Xc.n_rows):
        return None
    n = Xc.n_rows if rows is None else _dim(rows, 0)
    p = _fast_out(out, tn, n, n_out, 2)
    need = n_out * n_in
    wk = _fast_scratch(work, tn, need)
    if p is None or wk is None or not (_csr_apart(p, Xc, rows) and _apart(p, W) and _apart(p, b)):
        return None
    if not (_scratch_apart(wk, need, Xc.data) and _scratch_apart(wk, need, Xc.indices)
            and _scratch_apart(wk, need, Xc.indptr) and _scratch_apart(wk, need, W) and _scratch_apart(wk, need, b)
            and _scratch_apart(wk, need, rows) and _scratch_apart(wk, need, p)):
        return None
    ipp, ixp, rp = <const int64_t *>_ptr(Xc.indptr), <const int64_t *>_ptr(Xc.indices), <const int64_t *>_ptr(rows)
    if Xc.nnz == 0:
        ixp, dvp = NULL, NULL
    else:
        dvp = _ptr(Xc.data)
    Wq, bp, pp, wkp = _ptr(W), _ptr(b), _ptr(p), _ptr(wk)
    with nogil:
        if tn == cnp.NPY_FLOAT:
            rc = fm_csr_dense_forward_f32(ipp, ixp, <const float *>dvp, rp, <const float *>Wq, <const float *>bp,
                                          <float *>pp, <float *>wkp, n, Xc.n_rows, n_in, n_out, <fm_act>code)
        else:
            rc = fm_csr_dense_forward_f64(ipp, ixp, <const double *>dvp, rp, <const double *>Wq, <const double *>bp,
                                          <double *>pp, <double *>wkp, n, Xc.n_rows, n_in, n_out, <fm_act>code)
    _raise_for(rc, "csr_dense_forward")
    return p


def csr_dense_forward(X, W, b=None, act="relu", *, rows=None, out=None, check_finite=True, work=None):
    """``dense_forward`` on sparse input: ``p = act(X[rows] @ W.T + b)`` (C: ``fm_csr_dense_forward_*``).

    Work is about ``nnz * n_out`` plus the size of W, never ``n * n_in``: nothing is densified.

    Parameters
    ----------
    X : fastmlp._core.CSR or scipy.sparse CSR matrix, shape (n_rows, n_in)
        The input rows.
    W : ndarray, shape (n_out, n_in)
        The weights, of X's data dtype.
    b : ndarray, shape (n_out,), optional
        The bias; None for no bias.
    act : {"relu", "identity", "sigmoid", "tanh"}, default "relu"
        The activation.
    rows : ndarray of int64, optional
        The rows of X that form the batch (repeats allowed); None: every row.
    out : ndarray, shape (n, n_out), optional
        Where to write p; None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scans.
    work : ndarray, optional
        A scratch array of W's size and dtype (W transposed goes there) to reuse across calls; None allocates one
        per call.

    Returns
    -------
    p : ndarray, shape (n, n_out)
        The layer's output for the selected rows.

    Raises
    ------
    TypeError
        X is not a CSR matrix, or a dtype differs.
    ValueError
        A shape does not match, the CSR structure is invalid, a row index is out of range, or a value is NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import fastmlp
    >>> X = sp.csr_matrix(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0]]))
    >>> W = np.array([[1.0, 1.0, 1.0]])
    >>> fastmlp.csr_dense_forward(X, W, None, "identity")
    array([[2.],
           [1.]])
    """
    r = _fast_csr_forward(X, W, b, act, rows, out, check_finite, work)
    if r is not None:
        return r
    check_finite = _flag("check_finite", check_finite)
    W = _check("W", W, shape=(None, None), finite=check_finite)
    cdef CSR Xc = CSR.from_any(X, W.dtype)
    if Xc.n_cols != W.shape[1]:
        raise ValueError(f"X: has {Xc.n_cols} columns, W takes {W.shape[1]} inputs")
    if b is not None:
        b = _check("b", b, W.dtype, (W.shape[0],), finite=check_finite)
    code = _act(act)
    rows = _rows(rows, Xc.n_rows)
    n = Xc.n_rows if rows is None else rows.shape[0]
    p = _out("out", out, W.dtype, (n, W.shape[0]))
    wk = _scratch(work, W.dtype, W.shape[0], W.shape[1])
    inputs = (("X.data", Xc.data), ("X.indices", Xc.indices), ("X.indptr", Xc.indptr), ("W", W), ("b", b),
              ("rows", rows))
    _no_overlap("out", p, inputs)
    _no_overlap("work", wk, inputs + (("out", p),))
    if W.dtype == np.float32:
        _csr_forward[float](Xc, rows, W, b, p, wk, code)
    else:
        _csr_forward[double](Xc, rows, W, b, p, wk, code)
    return p


# ---------------------------------------------------------------------------------------------------------------
# a network batch of either input kind, as raw pointers (used by _core_net.pxi)

cdef struct _Batch:
    # raw pointers of a checked batch: dense rows or a CSR matrix, targets / labels, sample weights
    const void *x
    const int64_t *indptr
    const int64_t *indices
    const void *data
    size_t nnz
    bint csr
    const void *t
    const int64_t *y
    const void *sw
    size_t n


cdef object _batch(_Batch *b, x, t, y, sw, floating like):
    """Fill b with the pointers of x (ndarray or CSR), t, y, sw; the caller keeps the objects alive."""
    cdef const floating[:, ::1] xv
    cdef const floating[:, ::1] tv
    cdef const int64_t[::1] yv
    cdef const floating[::1] swv
    cdef const int64_t[::1] ip
    cdef const int64_t[::1] ix
    cdef const floating[::1] dv
    cdef CSR X
    memset(b, 0, sizeof(_Batch))
    if isinstance(x, CSR):
        X = x
        ip = X.indptr
        ix = X.indices
        dv = X.data
        b.csr = True
        b.indptr = &ip[0]
        b.indices = _i64_ptr(ix)
        b.data = <const void *>_data_ptr(dv)
        b.nnz = X.nnz
        b.n = X.n_rows
    else:
        xv = x
        b.x = <const void *>&xv[0, 0]
        b.n = xv.shape[0]
    if t is not None:
        tv = t
        b.t = <const void *>&tv[0, 0]
    if y is not None:
        yv = y
        b.y = &yv[0]
    if sw is not None:
        swv = sw
        b.sw = <const void *>&swv[0]

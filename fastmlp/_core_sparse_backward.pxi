# _core_sparse_backward.pxi: the backward of a first layer on sparse (CSR) input -- included by _core.pyx
# ---------------------------------------------------------------------------------------------------------------

cdef object _csr_backward(CSR X, rows, const floating[:, ::1] p, const floating[:, ::1] dp, floating[:, ::1] dz,
                          floating[:, ::1] dW, db, floating[::1] wk, fm_act act, int accumulate):
    cdef const int64_t[::1] ip = X.indptr
    cdef const int64_t[::1] ix = X.indices
    cdef const floating[::1] dv = X.data
    cdef const int64_t[::1] rv
    cdef const int64_t *rp = NULL
    cdef floating[::1] dbv
    cdef floating *dbp = NULL
    cdef int rc
    if rows is not None:
        rv = rows
        rp = &rv[0]
    if db is not None:
        dbv = db
        dbp = &dbv[0]
    with nogil:
        rc = c_csr_dense_backward(&ip[0], _i64_ptr(ix), _data_ptr(dv), rp, &p[0, 0], &dp[0, 0], &dz[0, 0],
                                  &dW[0, 0], dbp, &wk[0], p.shape[0], X.n_rows, dW.shape[1], dW.shape[0], act,
                                  accumulate)
    _raise_for(rc, "csr_dense_backward")


cdef object _fast_csr_backward(X, p, dp, act, rows, dW, db, dz, bias, accumulate, check_finite, work):
    """csr_dense_backward on the fast path: (dW, db), or None to fall back to the checked path."""
    cdef int tn = _fast_in(p, 2), code = _fast_act(act), rc
    cdef CSR Xc
    cdef Py_ssize_t n, n_in, n_out, need
    cdef const int64_t *ipp
    cdef const int64_t *ixp
    cdef const int64_t *rp
    cdef const void *dvp
    cdef const void *pp
    cdef const void *dpp
    cdef void *dzp
    cdef void *dWp
    cdef void *dbp
    cdef void *wkp
    if tn == 0 or code < 0 or not (_is_flag(check_finite) and _is_flag(bias) and _is_flag(accumulate)):
        return None
    if not _fast_csr(X, tn):
        return None
    Xc = <CSR>X
    if rows is not None and not _fast_index(rows, -1, Xc.n_rows):
        return None
    n = Xc.n_rows if rows is None else _dim(rows, 0)
    n_out, n_in = _dim(p, 1), Xc.n_cols
    if _dim(p, 0) != n or not (_fast_arr(dp, tn, 2, False) and _dim(dp, 0) == n and _dim(dp, 1) == n_out):
        return None
    if check_finite is True and not (_fast_finite(p, tn) and _fast_finite(dp, tn)):
        return None
    if accumulate is True and (dW is None or (bias is True and db is None)):
        return None
    dW = _fast_out(dW, tn, n_out, n_in, 2)
    db = _fast_out(db, tn, n_out, 0, 1) if bias is True else None
    dz = _fast_out(dz, tn, n, n_out, 2)
    need = n_out * n_in
    wk = _fast_scratch(work, tn, need)
    if dW is None or dz is None or wk is None or (bias is True and db is None):
        return None
    if not (_csr_apart(dz, Xc, rows) and _apart(dz, p) and _apart_or_same(dz, dp)):
        return None
    for o in (dW, db):
        if not (_csr_apart(o, Xc, rows) and _apart(o, p) and _apart(o, dp) and _apart(o, dz)):
            return None
    if not _apart(db, dW):
        return None
    for o in (Xc.data, Xc.indices, Xc.indptr, rows, p, dp, dz, dW, db):
        if not _scratch_apart(wk, need, o):
            return None
    ipp, ixp, rp = <const int64_t *>_ptr(Xc.indptr), <const int64_t *>_ptr(Xc.indices), <const int64_t *>_ptr(rows)
    if Xc.nnz == 0:
        ixp, dvp = NULL, NULL
    else:
        dvp = _ptr(Xc.data)
    pp, dpp, dzp, dWp, dbp, wkp = _ptr(p), _ptr(dp), _ptr(dz), _ptr(dW), _ptr(db), _ptr(wk)
    with nogil:
        if tn == cnp.NPY_FLOAT:
            rc = fm_csr_dense_backward_f32(ipp, ixp, <const float *>dvp, rp, <const float *>pp, <const float *>dpp,
                                           <float *>dzp, <float *>dWp, <float *>dbp, <float *>wkp, n, Xc.n_rows,
                                           n_in, n_out, <fm_act>code, 1 if accumulate is True else 0)
        else:
            rc = fm_csr_dense_backward_f64(ipp, ixp, <const double *>dvp, rp, <const double *>pp,
                                           <const double *>dpp, <double *>dzp, <double *>dWp, <double *>dbp,
                                           <double *>wkp, n, Xc.n_rows, n_in, n_out, <fm_act>code,
                                           1 if accumulate is True else 0)
    _raise_for(rc, "csr_dense_backward")
    return dW, db


def csr_dense_backward(X, p, dp, act="relu", *, rows=None, dW=None, db=None, dz=None, bias=True, accumulate=False,
                       check_finite=True, work=None):
    """Backward of ``csr_dense_forward`` for a first layer (no dx) (C: ``fm_csr_dense_backward_*``).

    With ``dz = dp * act'(p)``: ``dW = dz.T @ X[rows]``, ``db = dz.sum(0)``. Work is about ``nnz * n_out`` plus
    the size of dW, never ``n * n_in``.

    Parameters
    ----------
    X : fastmlp._core.CSR or scipy.sparse CSR matrix, shape (n_rows, n_in)
        The layer's sparse input.
    p : ndarray, shape (n, n_out)
        The layer's output.
    dp : ndarray, shape (n, n_out)
        The gradient of the loss with respect to p.
    act : {"relu", "identity", "sigmoid", "tanh"}, default "relu"
        The layer's activation.
    rows : ndarray of int64, optional
        The rows of X that formed the batch; None: every row.
    dW : ndarray, shape (n_out, n_in), optional
        Where to write (or add) the weight gradient; None allocates it.
    db : ndarray, shape (n_out,), optional
        Where to write (or add) the bias gradient; None allocates it.
    dz : ndarray, shape (n, n_out), optional
        Where to write ``dp * act'(p)`` (``dz=dp`` allowed); None: a scratch array.
    bias : bool, default True
        False computes no db (returned as None).
    accumulate : bool, default False
        True adds to the given dW / db.
    check_finite : bool, default True
        False skips the NaN/Inf scans.
    work : ndarray, optional
        A scratch array of dW's size and dtype to reuse across calls; None allocates one per call.

    Returns
    -------
    dW : ndarray, shape (n_out, n_in)
        The weight gradient.
    db : ndarray, shape (n_out,) or None
        The bias gradient (None when ``bias=False``).

    Raises
    ------
    TypeError
        X is not a CSR matrix, or a dtype differs.
    ValueError
        A shape does not match, the CSR structure is invalid, or a value is NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import fastmlp
    >>> X = sp.csr_matrix(np.array([[0.0, 2.0, 0.0]]))
    >>> p = np.array([[2.0]])
    >>> dW, db = fastmlp.csr_dense_backward(X, p, np.ones((1, 1)), "identity")
    >>> dW, db
    (array([[0., 2., 0.]]), array([1.]))
    """
    r = _fast_csr_backward(X, p, dp, act, rows, dW, db, dz, bias, accumulate, check_finite, work)
    if r is not None:
        return r
    check_finite, bias, accumulate = _flag("check_finite", check_finite), _flag("bias", bias), \
        _flag("accumulate", accumulate)
    p = _check("p", p, shape=(None, None), finite=check_finite)
    cdef CSR Xc = CSR.from_any(X, p.dtype)
    rows = _rows(rows, Xc.n_rows)
    n = Xc.n_rows if rows is None else rows.shape[0]
    if p.shape[0] != n:
        raise ValueError(f"p: expected {n} rows (one per row of the batch), got {p.shape[0]}")
    n_out, n_in = p.shape[1], Xc.n_cols
    dp = _check("dp", dp, p.dtype, p.shape, finite=check_finite)
    code = _act(act)
    if accumulate and (dW is None or (bias and db is None)):
        raise ValueError("accumulate: needs the dW (and db) arrays to add to")
    dW = _out("dW", dW, p.dtype, (n_out, n_in))
    db = _out("db", db, p.dtype, (n_out,)) if bias else None
    dz = _out("dz", dz, p.dtype, p.shape)
    inputs = (("X.data", Xc.data), ("X.indices", Xc.indices), ("X.indptr", Xc.indptr), ("rows", rows), ("p", p),
              ("dp", dp))
    _no_overlap("dz", dz, inputs, same_ok=("dp",))
    _no_overlap("dW", dW, inputs + (("dz", dz),))
    _no_overlap("db", db, inputs + (("dz", dz), ("dW", dW)))
    wk = _scratch(work, p.dtype, n_out, n_in)
    _no_overlap("work", wk, inputs + (("dz", dz), ("dW", dW), ("db", db)))
    if p.dtype == np.float32:
        _csr_backward[float](Xc, rows, p, dp, dz, dW, db, wk, code, 1 if accumulate else 0)
    else:
        _csr_backward[double](Xc, rows, p, dp, dz, dW, db, wk, code, 1 if accumulate else 0)
    return dW, db

"""Twin of csrc/sparse.inc: a first layer on CSR input (indptr, indices, data), its batch the rows ``rows`` of the
matrix (None: the first n). Both work on the layer transposed in the scratch ``work`` (n_in * n_out values), one
contiguous run over the outputs per nonzero, as the C code does."""
from .common import KernelError, check_act, check_sizes
from .dense import act_apply, delta_bias


def csr_valid(indptr, indices, n_rows, n_cols):
    """nnz of a valid CSR structure: indptr rises from 0, never decreasing; indices in [0, n_cols)."""
    if indptr[0] != 0:
        raise KernelError("option out of range")
    for r in range(n_rows):
        if indptr[r + 1] < indptr[r]:
            raise KernelError("option out of range")
    nnz = indptr[n_rows]
    for q in range(nnz):
        if not 0 <= indices[q] < n_cols:
            raise KernelError("option out of range")
    return nnz


def _check(indptr, indices, rows, n, n_rows, n_in, n_out, act):
    check_sizes(n, n_in, n_out, n_rows)
    check_act(act)
    if rows is None and n > n_rows:
        raise KernelError("option out of range")
    csr_valid(indptr, indices, n_rows, n_in)
    if rows is not None and any(not 0 <= rows[i] < n_rows for i in range(n)):
        raise KernelError("option out of range")


def _row(rows, i):
    return rows[i] if rows is not None else i


def _transpose(M, Mt, n_in, n_out, o0, o1, to_rows, accumulate):
    """Mt[k][o] = M[o][k] for o in [o0, o1), k < n_in, or (to_rows) the way back, M[o][k] (+)= Mt[k][o]; the C code
    goes in tiles, which changes no value."""
    for k in range(n_in):
        for o in range(o0, o1):
            if not to_rows:
                Mt[k * n_out + o] = M[o * n_in + k]
            elif accumulate:
                M[o * n_in + k] += Mt[k * n_out + o]
            else:
                M[o * n_in + k] = Mt[k * n_out + o]


def _forward_range(indptr, indices, data, rows, W, b, p, Wt, n, n_in, n_out, act, transposed, o0, o1):
    if not transposed:
        _transpose(W, Wt, n_in, n_out, o0, o1, 0, 0)
    for i in range(n):
        r = _row(rows, i)
        for o in range(o0, o1):
            p[i * n_out + o] = 0.0
        # the C code adds four nonzeros per pass over p[i] (the same order of additions)
        for q in range(indptr[r], indptr[r + 1]):
            v = data[q]
            k = indices[q]
            for o in range(o0, o1):
                p[i * n_out + o] += v * Wt[k * n_out + o]
        for o in range(o0, o1):
            acc = p[i * n_out + o]
            if b is not None:
                acc += b[o]
            p[i * n_out + o] = act_apply(acc, act)


def _backward_range(indptr, indices, data, rows, dz, dW, dWt, n, n_in, n_out, accumulate, o0, o1):
    if accumulate:
        _transpose(dW, dWt, n_in, n_out, o0, o1, 0, 0)
    else:
        for k in range(n_in):
            for o in range(o0, o1):
                dWt[k * n_out + o] = 0.0
    for i in range(n):
        r = _row(rows, i)
        for q in range(indptr[r], indptr[r + 1]):
            v = data[q]
            k = indices[q]
            for o in range(o0, o1):
                dWt[k * n_out + o] += dz[i * n_out + o] * v
    _transpose(dW, dWt, n_in, n_out, o0, o1, 1, 0)


def csr_dense_forward(indptr, indices, data, rows, W, b, p, work, n, n_rows, n_in, n_out, act):
    """p[i][o] = act(X[rows[i]] . W[o] + b[o]); b may be None. work: n_in * n_out scratch values (W transposed).

    Parameters
    ----------
    indptr : list of int
        The CSR row pointers (``n_rows + 1`` values, from 0, never decreasing).
    indices : list of int
        The CSR column of each nonzero, in ``[0, n_in)``.
    data : list of float
        The CSR values.
    rows : list of int or None
        The rows of X that form the batch (``n`` indices in ``[0, n_rows)``); None: the first n.
    W : list of float
        The weights, ``n_out * n_in`` values, row-major.
    b : list of float or None
        The bias, ``n_out`` values; None: no bias.
    p : list of float
        Written: the output, ``n * n_out`` values.
    work : list of float
        The scratch of ``n_in * n_out`` values (the C twin's; W or dW transposed).
    n : int
        The rows of the batch.
    n_rows : int
        The rows of the CSR matrix.
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.
    act : int
        The activation: ``ACT_IDENTITY``, ``ACT_RELU``, ``ACT_SIGMOID`` or ``ACT_TANH``.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.csr_dense_forward : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> indptr, indices, data = [0, 2, 3], [0, 2, 1], [1.0, 2.0, 3.0]   # X = [[1, 0, 2], [0, 3, 0]]
    >>> p = [0.0] * 2
    >>> ref.csr_dense_forward(indptr, indices, data, None, [1.0, 10.0, 100.0], None, p, [0.0] * 3,
    ...                       2, 2, 3, 1, ref.ACT_IDENTITY)
    >>> p
    [201.0, 30.0]
    """
    _check(indptr, indices, rows, n, n_rows, n_in, n_out, act)
    if work is None:
        raise KernelError("NULL pointer")
    # the C code splits the outputs into one range per thread; each range runs the same loops
    _forward_range(indptr, indices, data, rows, W, b, p, work, n, n_in, n_out, act, 0, 0, n_out)


def csr_dense_backward(indptr, indices, data, rows, p, dp, dz, dW, db, work, n, n_rows, n_in, n_out, act,
                       accumulate):
    """dz = dp * act'(p); db (+)= sum_i dz (db may be None); dW[o][k] (+)= sum_i dz[i][o] X[rows[i]][k], summed in
    work (n_in * n_out scratch values: dW transposed).

    Parameters
    ----------
    indptr : list of int
        The CSR row pointers (``n_rows + 1`` values, from 0, never decreasing).
    indices : list of int
        The CSR column of each nonzero, in ``[0, n_in)``.
    data : list of float
        The CSR values.
    rows : list of int or None
        The rows of X that form the batch (``n`` indices in ``[0, n_rows)``); None: the first n.
    p : list of float
        The layer's output, ``n * n_out`` values.
    dp : list of float
        dL/dp, ``n * n_out`` values.
    dz : list of float
        Written: ``dp * act'(p)``, ``n * n_out`` values (it may be ``dp`` itself).
    dW : list of float
        The weight gradient, ``n_out * n_in`` values: written, or added to with ``accumulate``.
    db : list of float or None
        The bias gradient, ``n_out`` values: written, or added to with ``accumulate``; None: not computed.
    work : list of float
        The scratch of ``n_in * n_out`` values (the C twin's; W or dW transposed).
    n : int
        The rows of the batch.
    n_rows : int
        The rows of the CSR matrix.
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.
    act : int
        The activation: ``ACT_IDENTITY``, ``ACT_RELU``, ``ACT_SIGMOID`` or ``ACT_TANH``.
    accumulate : bool
        Add this batch's gradient to dW and db instead of overwriting them.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.csr_dense_backward : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> indptr, indices, data = [0, 2, 3], [0, 2, 1], [1.0, 2.0, 3.0]   # X = [[1, 0, 2], [0, 3, 0]]
    >>> dz, dW, db = [0.0] * 2, [0.0] * 3, [0.0]
    >>> ref.csr_dense_backward(indptr, indices, data, None, [0.0, 0.0], [1.0, 2.0], dz, dW, db, [0.0] * 3,
    ...                        2, 2, 3, 1, ref.ACT_IDENTITY, False)
    >>> dW, db                                                 # dz^T . X, sum of dz
    ([1.0, 6.0, 2.0], [3.0])
    """
    _check(indptr, indices, rows, n, n_rows, n_in, n_out, act)
    if work is None:
        raise KernelError("NULL pointer")
    delta_bias(p, dp, dz, db, n, n_out, act, accumulate)
    _backward_range(indptr, indices, data, rows, dz, dW, work, n, n_in, n_out, accumulate, 0, n_out)

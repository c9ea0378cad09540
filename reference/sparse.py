"""Twin of csrc/sparse.inc: a first layer on CSR input (indptr, indices, data), its batch the rows ``rows`` of the
matrix (None: the first n). Both kernels loop over the outputs o outermost, as the C code does."""
from .common import KernelError, check_act, check_sizes
from .dense import act_apply, act_grad


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


def csr_dense_forward(indptr, indices, data, rows, W, b, p, n, n_rows, n_in, n_out, act):
    """p[i][o] = act(X[rows[i]] . W[o] + b[o]); b may be None."""
    _check(indptr, indices, rows, n, n_rows, n_in, n_out, act)
    for o in range(n_out):
        for i in range(n):
            r = _row(rows, i)
            acc = 0.0
            for q in range(indptr[r], indptr[r + 1]):
                acc += data[q] * W[o * n_in + indices[q]]
            if b is not None:
                acc += b[o]
            p[i * n_out + o] = act_apply(acc, act)


def csr_dense_backward(indptr, indices, data, rows, p, dp, dz, dW, db, n, n_rows, n_in, n_out, act, accumulate):
    """dz = dp * act'(p); db (+)= sum_i dz (db may be None); dW[o][k] (+)= sum_i dz[i][o] X[rows[i]][k]."""
    _check(indptr, indices, rows, n, n_rows, n_in, n_out, act)
    for i in range(n * n_out):
        dz[i] = dp[i] * act_grad(p[i], act)
    if db is not None:
        if not accumulate:
            for o in range(n_out):
                db[o] = 0.0
        for i in range(n):
            for o in range(n_out):
                db[o] += dz[i * n_out + o]
    for o in range(n_out):
        if not accumulate:
            for k in range(n_in):
                dW[o * n_in + k] = 0.0
        for i in range(n):
            r = _row(rows, i)
            d = dz[i * n_out + o]
            for q in range(indptr[r], indptr[r + 1]):
                dW[o * n_in + indices[q]] += d * data[q]

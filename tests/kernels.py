"""The kernel list that drives the generic fast-vs-reference test.

Each entry builds one random case for a kernel: it receives the fast function (``getattr(fastmlp, name)``) and its
twin (``getattr(fastmlp.reference, name)``), calls both on the same data and returns two dicts of outputs with the
same keys (numpy arrays for the fast side, flat lists or floats for the reference side), plus the inputs so that
the test can check they were not modified.
"""
import numpy as np

import fastmlp.reference as R

ACTS = ("identity", "relu", "sigmoid", "tanh")


def flat(a):
    return None if a is None else [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def values(rng, shape, dtype, quantized):
    """Random values; ``quantized`` draws from a small grid so that exact zeros and ties occur."""
    if quantized:
        return (rng.integers(-2, 3, size=shape) * 0.5).astype(dtype)
    return rng.uniform(-1.5, 1.5, size=shape).astype(dtype)


def dense_forward(fast, ref, rng, dtype, n, n_in, n_out, act, bias, quantized):
    x = values(rng, (n, n_in), dtype, quantized)
    W = values(rng, (n_out, n_in), dtype, quantized)
    b = values(rng, (n_out,), dtype, quantized) if bias else None
    p = fast(x, W, b, act)
    p_ref = [0.0] * (n * n_out)
    ref(flat(x), flat(W), flat(b), p_ref, n, n_in, n_out, R.ACTIVATIONS[act])
    return {"p": p}, {"p": p_ref}, (x, W, b)


def dense_pack(fast, ref, rng, dtype, n, n_in, n_out, act, bias, quantized):
    import fastmlp
    from fastmlp._core import dense_packed_size
    W = values(rng, (n_out, n_in), dtype, quantized)
    nc = fastmlp.dense_pack_width(dtype)
    Wp = fast(W)
    assert (Wp.n_in, Wp.n_out, Wp.nc, Wp.dtype) == (n_in, n_out, nc, np.dtype(dtype))
    Wp_r = [0.0] * dense_packed_size(n_in, n_out, nc)
    ref(flat(W), Wp_r, n_in, n_out, nc)
    return {"Wp": np.asarray(Wp)}, {"Wp": Wp_r}, (W,)


def dense_forward_packed(fast, ref, rng, dtype, n, n_in, n_out, act, bias, quantized):
    import fastmlp
    x = values(rng, (n, n_in), dtype, quantized)
    W = values(rng, (n_out, n_in), dtype, quantized)
    b = values(rng, (n_out,), dtype, quantized) if bias else None
    Wp = fastmlp.dense_pack(W)
    nc = fastmlp.dense_pack_width(dtype)
    p = fast(x, Wp, b, act=act)  # Wp knows its n_out
    # the packed forward equals the plain forward bit for bit; naming Wp's own n_out changes nothing
    np.testing.assert_array_equal(p, fastmlp.dense_forward(x, W, b, act))
    np.testing.assert_array_equal(p, fast(x, Wp, b, n_out, act))
    p_ref = [0.0] * (n * n_out)
    ref(flat(x), flat(Wp), flat(b), p_ref, n, n_in, n_out, nc, R.ACTIVATIONS[act])
    return {"p": p}, {"p": p_ref}, (x, np.asarray(Wp), b)


def _layer_output(rng, dtype, n, n_in, n_out, act, quantized):
    """x, W and an output p that is a real activation output (so that p(1-p), 1-p^2 and p>0 make sense)."""
    x = values(rng, (n, n_in), dtype, quantized)
    W = values(rng, (n_out, n_in), dtype, quantized)
    b = values(rng, (n_out,), dtype, quantized)
    p_ref = [0.0] * (n * n_out)
    R.dense_forward(flat(x), flat(W), flat(b), p_ref, n, n_in, n_out, R.ACTIVATIONS[act])
    return x, W, np.array(p_ref).reshape(n, n_out).astype(dtype)


def dense_backward(fast, ref, rng, dtype, n, n_in, n_out, act, bias, quantized, accumulate=False):
    x, W, p = _layer_output(rng, dtype, n, n_in, n_out, act, quantized)
    dp = values(rng, (n, n_out), dtype, quantized)
    dW0 = values(rng, (n_out, n_in), dtype, quantized) if accumulate else None
    db0 = values(rng, (n_out,), dtype, quantized) if accumulate and bias else None
    dz = np.empty_like(dp)
    dW, db, dx = fast(x, W, p, dp, act, dW=None if dW0 is None else dW0.copy(),
                      db=None if db0 is None else db0.copy(), dz=dz, bias=bias, accumulate=accumulate)
    dz_r = [0.0] * (n * n_out)
    dW_r = flat(dW0) if accumulate else [0.0] * (n_out * n_in)
    db_r = (flat(db0) if accumulate else [0.0] * n_out) if bias else None
    dx_r = [0.0] * (n * n_in)
    ref(flat(x), flat(W), flat(p), flat(dp), dz_r, dW_r, db_r, dx_r, n, n_in, n_out, R.ACTIVATIONS[act],
        1 if accumulate else 0)
    fast_out = {"dz": dz, "dW": dW, "dx": dx}
    ref_out = {"dz": dz_r, "dW": dW_r, "dx": dx_r}
    if bias:
        fast_out["db"], ref_out["db"] = db, db_r
    return fast_out, ref_out, (x, W, p, dp)


def weights(rng, n, dtype, weighted):
    """None, or sample weights with zeros among them (and a positive sum)."""
    if not weighted:
        return None
    sw = rng.uniform(0, 3, size=n) * (rng.uniform(size=n) > 0.25)
    sw[rng.integers(n)] = 1.5
    return sw.astype(dtype)


def loss_mse(fast, ref, rng, dtype, n, m, quantized, weighted=False):
    p = values(rng, (n, m), dtype, quantized)
    t = values(rng, (n, m), dtype, quantized)
    sw = weights(rng, n, dtype, weighted)
    loss, dp = fast(p, t, sw=sw)
    loss_r, dp_r = [0.0], [0.0] * (n * m)
    ref(flat(p), flat(t), flat(sw), dp_r, loss_r, n, m)
    return {"loss": loss, "dp": dp}, {"loss": loss_r[0], "dp": dp_r}, (p, t)


def loss_softmax_ce(fast, ref, rng, dtype, n, m, quantized, weighted=False):
    z = values(rng, (n, m), dtype, quantized) * 4
    y = rng.integers(0, m, size=n)
    sw = weights(rng, n, dtype, weighted)
    loss, dz = fast(z, y, sw=sw)
    loss_r, dz_r = [0.0], [0.0] * (n * m)
    ref(flat(z), [int(v) for v in y], flat(sw), dz_r, loss_r, n, m)
    return {"loss": loss, "dz": dz}, {"loss": loss_r[0], "dz": dz_r}, (z, y)


def loss_sigmoid_bce(fast, ref, rng, dtype, n, m, quantized, weighted=False):
    z = values(rng, (n, m), dtype, quantized) * 4
    t = (rng.integers(0, 2, size=(n, m)) if quantized else rng.uniform(0, 1, size=(n, m))).astype(dtype)
    sw = weights(rng, n, dtype, weighted)
    loss, dz = fast(z, t, sw=sw)
    loss_r, dz_r = [0.0], [0.0] * (n * m)
    ref(flat(z), flat(t), flat(sw), dz_r, loss_r, n, m)
    return {"loss": loss, "dz": dz}, {"loss": loss_r[0], "dz": dz_r}, (z, t)


def loss_poisson(fast, ref, rng, dtype, n, m, quantized, weighted=False):
    z = values(rng, (n, m), dtype, quantized) * 2
    t = (rng.integers(0, 4, size=(n, m)) if quantized else rng.uniform(0, 3, size=(n, m))).astype(dtype)
    sw = weights(rng, n, dtype, weighted)
    loss, dz = fast(z, t, sw=sw)
    loss_r, dz_r = [0.0], [0.0] * (n * m)
    ref(flat(z), flat(t), flat(sw), dz_r, loss_r, n, m)
    return {"loss": loss, "dz": dz}, {"loss": loss_r[0], "dz": dz_r}, (z, t)


def softmax(fast, ref, rng, dtype, n, m, quantized):
    z = values(rng, (n, m), dtype, quantized) * 4
    p = fast(z)
    p_r = [0.0] * (n * m)
    ref(flat(z), p_r, n, m)
    return {"p": p}, {"p": p_r}, (z,)


def sgd_update(fast, ref, rng, dtype, n, m, quantized, momentum=0.0, nesterov=False, weight_decay=0.0, l1=0.0):
    W = values(rng, (n, m), dtype, quantized)
    dW = values(rng, (n, m), dtype, quantized)
    v = values(rng, (n, m), dtype, quantized) if momentum else None
    W_r, v_r = flat(W), flat(v)
    fast(W, dW, v, lr=0.05, momentum=momentum, weight_decay=weight_decay, l1=l1, nesterov=nesterov)
    ref(flat(dW), W_r, v_r, n * m, 0.05, momentum, weight_decay, l1, nesterov)
    fast_out, ref_out = {"W": W}, {"W": W_r}
    if momentum:
        fast_out["v"], ref_out["v"] = v, v_r
    return fast_out, ref_out, (dW,)


def adam_update(fast, ref, rng, dtype, n, m, quantized, weight_decay=0.0, l1=0.0, steps=3):
    W = values(rng, (n, m), dtype, quantized)
    mm = np.zeros((n, m), dtype=dtype)
    v = np.zeros((n, m), dtype=dtype)
    W_r, m_r, v_r = flat(W), flat(mm), flat(v)
    grads = [values(rng, (n, m), dtype, quantized) for _ in range(steps)]
    for t, dW in enumerate(grads, start=1):
        fast(W, dW, mm, v, t, lr=0.01, weight_decay=weight_decay, l1=l1)
        ref(flat(dW), W_r, m_r, v_r, n * m, t, 0.01, 0.9, 0.999, 1e-8, weight_decay, l1)
    return {"W": W, "m": mm, "v": v}, {"W": W_r, "m": m_r, "v": v_r}, tuple(grads)


def random_csr(rng, n_rows, n_cols, dtype, quantized):
    """A CSR (indptr, indices, data) with random density: empty rows, a full row, sometimes nnz = 0; indices in
    random order within a row."""
    from fastmlp._core import CSR
    density = rng.choice([0.0, 0.1, 0.4, 1.0])
    mask = rng.uniform(size=(n_rows, n_cols)) < density
    if n_rows > 1 and density > 0:
        mask[rng.integers(n_rows)] = True    # a row with every column
        mask[rng.integers(n_rows)] = False   # an empty row
    indptr, indices = [0], []
    for r in range(n_rows):
        cols = rng.permutation(np.flatnonzero(mask[r]))
        indices.extend(int(c) for c in cols)
        indptr.append(len(indices))
    data = values(rng, (len(indices),), dtype, quantized)
    return CSR(np.array(indptr, dtype=np.int64), np.array(indices, dtype=np.int64), data, n_cols)


def dense_of(X):
    """The densified matrix of a CSR."""
    out = np.zeros(X.shape, dtype=X.dtype)
    for r in range(X.n_rows):
        for q in range(X.indptr[r], X.indptr[r + 1]):
            out[r, X.indices[q]] += X.data[q]
    return out


def _csr_case(rng, n):
    """n_rows of the matrix and the rows of the batch (None: all n rows, else a shuffled selection)."""
    if rng.uniform() < 0.5:
        return n, None
    n_rows = int(rng.integers(1, 2 * n + 2))
    return n_rows, rng.integers(0, n_rows, size=n).astype(np.int64)


def csr_dense_forward(fast, ref, rng, dtype, n, n_in, n_out, act, bias, quantized):
    n_rows, rows = _csr_case(rng, n)
    X = random_csr(rng, n_rows, n_in, dtype, quantized)
    W = values(rng, (n_out, n_in), dtype, quantized)
    b = values(rng, (n_out,), dtype, quantized) if bias else None
    p = fast(X, W, b, act, rows=rows)
    p_ref = [0.0] * (n * n_out)
    ref([int(v) for v in X.indptr], [int(v) for v in X.indices], flat(X.data), None if rows is None else
        [int(v) for v in rows], flat(W), flat(b), p_ref, [0.0] * (n_out * n_in), n, n_rows, n_in, n_out,
        R.ACTIVATIONS[act])
    return {"p": p}, {"p": p_ref}, (X.indptr, X.indices, X.data, rows, W, b)


def csr_dense_backward(fast, ref, rng, dtype, n, n_in, n_out, act, bias, quantized, accumulate=False):
    n_rows, rows = _csr_case(rng, n)
    X = random_csr(rng, n_rows, n_in, dtype, quantized)
    W = values(rng, (n_out, n_in), dtype, quantized)
    bvec = values(rng, (n_out,), dtype, quantized)
    p_ref = [0.0] * (n * n_out)
    R.csr_dense_forward([int(v) for v in X.indptr], [int(v) for v in X.indices], flat(X.data),
                        None if rows is None else [int(v) for v in rows], flat(W), flat(bvec), p_ref,
                        [0.0] * (n_out * n_in), n, n_rows, n_in, n_out, R.ACTIVATIONS[act])
    p = np.array(p_ref).reshape(n, n_out).astype(dtype)
    dp = values(rng, (n, n_out), dtype, quantized)
    dW0 = values(rng, (n_out, n_in), dtype, quantized) if accumulate else None
    db0 = values(rng, (n_out,), dtype, quantized) if accumulate and bias else None
    dz = np.empty_like(dp)
    dW, db = fast(X, p, dp, act, rows=rows, dW=None if dW0 is None else dW0.copy(),
                  db=None if db0 is None else db0.copy(), dz=dz, bias=bias, accumulate=accumulate)
    dz_r = [0.0] * (n * n_out)
    dW_r = flat(dW0) if accumulate else [0.0] * (n_out * n_in)
    db_r = (flat(db0) if accumulate else [0.0] * n_out) if bias else None
    ref([int(v) for v in X.indptr], [int(v) for v in X.indices], flat(X.data),
        None if rows is None else [int(v) for v in rows], flat(p), flat(dp), dz_r, dW_r, db_r, [0.0] * (n_out * n_in),
        n, n_rows, n_in, n_out, R.ACTIVATIONS[act], 1 if accumulate else 0)
    fast_out, ref_out = {"dz": dz, "dW": dW}, {"dz": dz_r, "dW": dW_r}
    if bias:
        fast_out["db"], ref_out["db"] = db, db_r
    return fast_out, ref_out, (X.indptr, X.indices, X.data, rows, p, dp)


# name -> (builder, kind of sizes it takes): "layer" = (n, n_in, n_out, act, bias), "matrix" = (n, m)
KERNELS = {
    "dense_forward": (dense_forward, "layer"),
    "dense_backward": (dense_backward, "layer"),
    "dense_pack": (dense_pack, "layer"),
    "dense_forward_packed": (dense_forward_packed, "layer"),
    "loss_mse": (loss_mse, "matrix"),
    "loss_softmax_ce": (loss_softmax_ce, "matrix"),
    "loss_sigmoid_bce": (loss_sigmoid_bce, "matrix"),
    "loss_poisson": (loss_poisson, "matrix"),
    "csr_dense_forward": (csr_dense_forward, "layer"),
    "csr_dense_backward": (csr_dense_backward, "layer"),
    "softmax": (softmax, "matrix"),
    "sgd_update": (sgd_update, "matrix"),
    "adam_update": (adam_update, "matrix"),
}

"""The library's own exponential (csrc/fexp.h: plain IEEE operations, so that loops over it vectorise), and its tanh, used
by the softmax, the softmax cross-entropy and the sigmoid and tanh activations: accurate to a few ulp against long-double references,
the same bits in every column position, chunk, row split and code path, in place or not, and the edge values
(-inf, far below the normal range, NaN) as documented."""
import numpy as np
import pytest

import fastmlp
import fastmlp.reference as ref

DTYPES = [np.float32, np.float64]


def _softmax_exact(z):
    """exp of the differences z - max as the kernel rounds them (in z's dtype), the rest in long double"""
    d = (z - z.max(axis=1, keepdims=True)).astype(np.longdouble)
    e = np.exp(d)
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_within_a_few_ulp_of_long_double(dtype):
    rng = np.random.default_rng(0)
    for m in (1, 3, 10, 17, 63, 64, 65, 200):
        z = (rng.standard_normal((40, m)) * rng.choice([0.1, 3.0, 30.0], size=(40, 1))).astype(dtype)
        p = fastmlp.softmax(z)
        exact = _softmax_exact(z)
        tiny = np.finfo(dtype).tiny
        ulp = np.spacing(np.maximum(np.abs(exact), tiny).astype(dtype))
        # below the normal range the exponential is 0 (documented): an absolute error up to 2 * tiny there
        err = np.maximum(np.abs(p.astype(np.longdouble) - exact) - 2 * tiny, 0) / ulp
        # elsewhere: the exponential (1 ulp), the sum of m terms and the division
        assert float(err.max()) <= 4 + 2 * np.log2(m + 1), (m, float(err.max()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_bits_in_every_position_chunk_and_in_place(dtype):
    rng = np.random.default_rng(1)
    m = 150  # crosses the 64-value chunks of the loss-only pass
    row = (rng.standard_normal(m) * 5).astype(dtype)
    z = np.tile(row, (7, 1))
    y = np.full(7, 3)
    p = fastmlp.softmax(z)
    assert all(np.array_equal(p[0], p[i]) for i in range(7))
    loss_a, dz_a = fastmlp.loss_softmax_ce(z, y)
    zc = z.copy()
    loss_b, dz_b = fastmlp.loss_softmax_ce(zc, y, dz=zc)  # in place: z[y] read before the row is overwritten
    assert loss_a == loss_b and np.array_equal(dz_a, dz_b)
    # the loss-only value (exponentials in the stack chunk) equals the one computed beside dz
    one = fastmlp.loss_softmax_ce(z[:1], y[:1])[0]
    assert one == pytest.approx(loss_a, rel=0) or one == loss_a
    # the softmax of a row is what the gradient holds plus the one-hot, times n
    assert np.allclose(dz_a[0] * 7 + np.eye(m, dtype=dtype)[3], p[0], rtol=0, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_against_the_twin(dtype):
    rng = np.random.default_rng(2)
    n, m = 9, 70
    z = (rng.standard_normal((n, m)) * 4).astype(dtype)
    y = rng.integers(0, m, n)
    loss, dz = fastmlp.loss_softmax_ce(z, y)
    rl, rdz = [0.0], [0.0] * (n * m)
    ref.loss_softmax_ce(z.ravel().tolist(), y.tolist(), None, rdz, rl, n, m)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    assert loss == pytest.approx(rl[0], rel=tol)
    assert np.allclose(dz.ravel(), rdz, rtol=tol * 10, atol=tol / m)
    rl2 = [0.0]
    ref.loss_softmax_ce(z.ravel().tolist(), y.tolist(), None, None, rl2, n, m)  # the loss-only twin path
    assert rl2[0] == rl[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_values(dtype):
    big = 1e30 if dtype == np.float32 else 1e300
    z = np.array([[0.0, -np.inf, 1.0], [0.0, -big, -200.0], [0.0, -87.0, -86.0]], dtype=dtype)
    p = fastmlp.softmax(z, check_finite=False)
    assert p[0, 1] == 0.0 and p[1, 1] == 0.0 and p[1, 2] == (0.0 if dtype == np.float32 else p[1, 2])
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1.0)
    assert p[2, 1] > 0 and p[2, 2] > p[2, 1]  # still in the normal range: not flushed
    zn = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]], dtype=dtype)
    pn = fastmlp.softmax(zn, check_finite=False)
    assert np.all(np.isnan(pn[0])) and np.allclose(pn[1], _softmax_exact(zn[1:]).astype(dtype)[0])
    with pytest.raises(ValueError, match="NaN"):
        fastmlp.softmax(zn)


def _sigmoid_exact(z):
    z = z.astype(np.longdouble)
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_activation_accurate_and_the_same_on_every_path(dtype):
    rng = np.random.default_rng(3)
    k = 40
    W = np.eye(k, dtype=dtype)  # p = sigmoid(z) exactly as the activation computes it
    z = np.concatenate([rng.standard_normal(400) * s for s in (0.01, 1.0, 8.0, 60.0)]).astype(dtype)
    x = z.reshape(-1, k)
    p = fastmlp.dense_forward(x, W, None, act="sigmoid")
    exact = _sigmoid_exact(x)
    tiny = np.finfo(dtype).tiny
    ulp = np.spacing(np.maximum(np.abs(exact), tiny).astype(dtype))
    err = np.maximum(np.abs(p.astype(np.longdouble) - exact) - 2 * tiny, 0) / ulp
    assert float(err.max()) <= 3, float(err.max())
    # one row at a time (the plain loops / the row kernel) and the packed layout give the same bits
    rows = np.vstack([fastmlp.dense_forward(x[i:i + 1], W, None, act="sigmoid") for i in range(x.shape[0])])
    assert np.array_equal(rows, p)
    packed = fastmlp.dense_forward_packed(x, fastmlp.dense_pack(W), None, act="sigmoid")
    assert np.array_equal(packed, p)
    far = 200.0 if dtype == np.float32 else 1000.0  # past the normal range of e^-|z|: exactly 1 and 0
    edge = np.array([[0.0, -0.0, far, -far, 1e30, -1e30] + [0.0] * (k - 6)], dtype=dtype)
    pe = fastmlp.dense_forward(edge, W, None, act="sigmoid")[0, :6]
    assert pe.tolist() == [0.5, 0.5, 1.0, 0.0, 1.0, 0.0]
    nan = edge.copy()
    nan[0, 1] = np.nan
    assert np.isnan(fastmlp.dense_forward(nan, W, None, act="sigmoid", check_finite=False)[0, 1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_activation_accurate_and_the_same_on_every_path(dtype):
    rng = np.random.default_rng(4)
    k = 40
    W = np.eye(k, dtype=dtype)
    z = np.concatenate([rng.standard_normal(400) * s for s in (1e-6, 0.3, 0.625, 2.0, 30.0)]).astype(dtype)
    x = z.reshape(-1, k)
    p = fastmlp.dense_forward(x, W, None, act="tanh")
    exact = np.tanh(x.astype(np.longdouble))
    ulp = np.spacing(np.maximum(np.abs(exact), np.finfo(dtype).tiny).astype(dtype))
    err = np.abs(p.astype(np.longdouble) - exact) / ulp
    assert float(err.max()) <= 2, float(err.max())
    rows = np.vstack([fastmlp.dense_forward(x[i:i + 1], W, None, act="tanh") for i in range(x.shape[0])])
    assert np.array_equal(rows, p)
    assert np.array_equal(fastmlp.dense_forward_packed(x, fastmlp.dense_pack(W), None, act="tanh"), p)
    # through an identity W (inf * 0 would poison the row, and the sum drops the sign of -0): finite edges
    edge = np.array([[0.0, 1e30, -1e30, 50.0, -50.0] + [0.0] * (k - 5)], dtype=dtype)
    pe = fastmlp.dense_forward(edge, W, None, act="tanh")[0, :5]
    assert pe.tolist() == [0.0, 1.0, -1.0, 1.0, -1.0]
    edge[0, 1] = np.nan
    assert np.isnan(fastmlp.dense_forward(edge, W, None, act="tanh", check_finite=False)[0, 1])

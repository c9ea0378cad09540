"""model.predictor(): packed weights for repeated inference, equal to model.forward bit for bit."""
import pickle

import numpy as np
import pytest

import fastmlp
from isa_child import last_line_on


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layers,act", [([784, 256, 128, 10], "relu"), ([5, 7, 3], "tanh"), ([2, 3, 1], "sigmoid"),
                                        ([40, 70, 33, 65], "identity")])
def test_predictor_equals_forward_for_any_batch(dtype, layers, act):
    m = fastmlp.MLP(layers, activation=act, dtype=dtype, seed=3)
    pred = m.predictor()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9, layers[0])).astype(dtype)
    full = m.forward(X)
    np.testing.assert_array_equal(pred(X), full)
    for i in range(9):  # one row at a time takes the single-row kernel: still the same bits
        np.testing.assert_array_equal(pred(X[i:i + 1]), full[i:i + 1])
    np.testing.assert_array_equal(pred(X[2:5]), full[2:5])
    assert pred(X).dtype == np.dtype(dtype) and pred.n_in == layers[0] and pred.n_out == layers[-1]


def test_predictor_is_a_frozen_copy():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=6)
    m = fastmlp.MLP([4, 8, 3], seed=0)
    pred = m.predictor()
    before = m.forward(X)
    m.fit(X, y, epochs=3, lr=0.1)
    np.testing.assert_array_equal(pred(X), before)
    np.testing.assert_array_equal(m.predictor()(X), m.forward(X))


def test_predictor_converts_and_checks_input():
    m = fastmlp.MLP([3, 4, 2], dtype="float32", seed=0)
    pred = m.predictor()
    X = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(4, 3))
    np.testing.assert_array_equal(pred(X), m.forward(X))
    with pytest.raises(ValueError, match="expected shape"):
        pred(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="NaN or Inf"):
        pred(np.array([[1.0, np.nan, 0.0]], np.float32))
    with pytest.raises(ValueError, match="expected shape"):
        pred(np.ones((0, 3), np.float32))


def test_model_pickles_and_predicts_the_same():
    m = fastmlp.MLP([3, 5, 2], seed=0)
    X = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m2.forward(X), m.forward(X))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predictor_scratch_on_the_stack_and_on_the_heap(dtype):
    """A call's scratch is two rows x the widest layer: on the C stack up to 16 KiB (a float64 network 1024 wide at
    one row), a numpy buffer past it; both give the rows the batch gives, and a NaN is refused either way."""
    rng = np.random.default_rng(3)
    for widest in (1024, 1025, 2048):
        model = fastmlp.MLP([5, widest, 3], activation="tanh", dtype=dtype, seed=1)
        pred = model.predictor()
        X = rng.standard_normal((7, 5)).astype(dtype)
        whole = pred(X)
        for i in range(len(X)):
            np.testing.assert_array_equal(pred(X[i:i + 1]), whole[i:i + 1])
        (W0, b0), (W1, b1) = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in model.params]
        want = np.tanh(X @ W0.T + b0) @ W1.T + b1
        np.testing.assert_allclose(whole, want, rtol=1e-4 if dtype == "float32" else 1e-10, atol=1e-5)
        X[0, 2] = np.nan
        with pytest.raises(ValueError, match="NaN or Inf"):
            pred(X[:1])


def packed_bytes(model):
    """The bytes of a model's weights in the packed layout and its biases: what a one-layout Predictor holds."""
    return sum(fastmlp.dense_pack(np.ascontiguousarray(W)).nbytes + b.nbytes for W, b in model.params)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [1, 2])
def test_wide_layers_keep_both_layouts_and_give_the_same_bits(dtype, threads):
    """A layer whose weights outgrow half of L2 (1.2 MB here, past half of any L2 this runs on) keeps W in its own
    layout too, which batches that fill the SIMD lanes read in place: every batch size, on either side of the
    switch (1, 4, 15-17, 32, 48, 64, 96, 97, 300 rows), gives the bits of the in-place and of the packed layer chain,
    and the one-sample rows of the whole batch."""
    sizes = [300, 1000, 40, 7]
    model = fastmlp.MLP(sizes, activation="relu", dtype=dtype, seed=5)
    pred = model.predictor()
    itemsize = np.dtype(dtype).itemsize
    # the wide layer's W once more, on the SIMD paths (the plain loops and the SSE2 baseline keep none)
    wide = 300 * 1000 * itemsize
    simd = fastmlp._core.cpu_path() in ("avx512", "avx2")
    extra = wide if simd and wide > fastmlp._core.dense_blocking(dtype)["l2"] // 2 else 0
    assert pred.nbytes == packed_bytes(model) + extra
    # a small network, and large layers that no batch reads in place, keep one layout: a depth of 64 (too short
    # for the lanes path, W from cache) and 10 outputs (under its group of 48 columns)
    for shape in ([30, 20, 7], [64, 4096, 10], [20000, 10]):
        net = fastmlp.MLP(shape, dtype=dtype, seed=5)
        assert net.predictor().nbytes == packed_bytes(net), shape
    params = [(np.ascontiguousarray(W), np.ascontiguousarray(b)) for W, b in model.params]
    acts = ["relu", "relu", "identity"]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 300)).astype(dtype)
    old = fastmlp.get_num_threads()
    fastmlp.set_num_threads(threads)
    try:
        whole = pred(X)
        for n in (1, 4, 15, 16, 17, 32, 48, 64, 96, 97, 300):
            x = X[:n]
            h_in, h_packed = x, x
            for (W, b), a in zip(params, acts):
                h_in = fastmlp.dense_forward(h_in, W, b, a, check_finite=False)
                h_packed = fastmlp.dense_forward_packed(h_packed, fastmlp.dense_pack(W), b, W.shape[0], a,
                                                        check_finite=False)
            got = pred(x)
            np.testing.assert_array_equal(got, h_in)
            np.testing.assert_array_equal(got, h_packed)
            np.testing.assert_array_equal(got, whole[:n])
            np.testing.assert_array_equal(model.forward(x), got)
    finally:
        fastmlp.set_num_threads(old)


@pytest.mark.skipif(fastmlp._core.cpu_path() not in ("avx512", "avx2"), reason="the AVX2 kernels need AVX2")
def test_wide_layers_on_avx2():
    """The same on the AVX2 kernels (the lanes path takes up to 24 float or 12 double rows there)."""
    assert last_line_on("avx2", "test_predictor", "[t.test_wide_layers_keep_both_layouts_and_give_the_same_bits(d, 1) "
                        "for d in ('float32', 'float64')]; print('ok')") == "ok"

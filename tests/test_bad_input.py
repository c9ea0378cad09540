"""Every kind of bad input gets a TypeError/ValueError that names the problem, never a crash."""
import numpy as np
import pytest

import fastmlp

f64 = np.float64


def arr(*shape, dtype=f64, value=0.5):
    return np.full(shape, value, dtype=dtype)


def fwd(**kw):
    args = dict(x=arr(3, 4), W=arr(2, 4), b=arr(2), act="relu")
    args.update(kw)
    return fastmlp.dense_forward(args.pop("x"), args.pop("W"), args.pop("b"), args.pop("act"), **args)


def bwd(**kw):
    args = dict(x=arr(3, 4), W=arr(2, 4), p=arr(3, 2), dp=arr(3, 2), act="relu")
    args.update(kw)
    return fastmlp.dense_backward(args.pop("x"), args.pop("W"), args.pop("p"), args.pop("dp"), args.pop("act"),
                                  **args)


nan_x = arr(3, 4)
nan_x[1, 2] = np.nan
inf_W = arr(2, 4)
inf_W[0, 0] = -np.inf
readonly = arr(3, 2)
readonly.flags.writeable = False
shared = arr(3, 4)

CASES = [
    # (call, exception, words the message must contain)
    (lambda: fwd(x=[[0.5] * 4] * 3), TypeError, "x: expected a numpy.ndarray"),
    (lambda: fwd(x=arr(3, 4, dtype=np.int64)), TypeError, "x: expected dtype float32 or float64"),
    (lambda: fwd(x=arr(3, 4, dtype=np.float16)), TypeError, "float16"),
    (lambda: fwd(W=arr(2, 4, dtype=np.float32)), TypeError, "W: expected dtype float64"),
    (lambda: fwd(b=arr(2, dtype=np.float32)), TypeError, "b: expected dtype float64"),
    (lambda: fwd(W=arr(2, 5)), ValueError, "W: expected shape (?, 4), got (2, 5)"),
    (lambda: fwd(b=arr(3)), ValueError, "b: expected shape (2,), got (3,)"),
    (lambda: fwd(x=arr(4)), ValueError, "x: expected a 2-d array"),
    (lambda: fwd(x=arr(0, 4)), ValueError, "x: empty array"),
    (lambda: fwd(x=arr(3, 0), W=arr(2, 0)), ValueError, "x: empty array"),
    (lambda: fwd(x=arr(3, 8)[:, ::2]), ValueError, "x: expected a C-contiguous array"),
    (lambda: fwd(x=np.asfortranarray(np.ones((3, 4)))), ValueError, "x: expected a C-contiguous array"),
    (lambda: fwd(x=nan_x), ValueError, "x: contains NaN or Inf"),
    (lambda: fwd(W=inf_W), ValueError, "W: contains NaN or Inf"),
    (lambda: fwd(act="softmax"), ValueError, "act: expected one of"),
    (lambda: fwd(act=1), TypeError, "act: expected one of"),
    (lambda: fwd(out=readonly), ValueError, "out: output array is read-only"),
    (lambda: fwd(out=arr(3, 3)), ValueError, "out: expected shape (3, 2)"),
    (lambda: fwd(out=arr(3, 2, dtype=np.float32)), TypeError, "out: expected dtype float64"),
    (lambda: fwd(x=shared, out=shared[:, :2].copy().reshape(3, 2)), None, None),  # a copy is fine
    (lambda: fwd(x=shared, W=arr(4, 4), b=arr(4), out=shared), ValueError, "out: output shares memory with x"),
    (lambda: bwd(p=arr(3, 3)), ValueError, "p: expected shape (3, 2)"),
    (lambda: bwd(dp=arr(2, 2)), ValueError, "dp: expected shape (3, 2)"),
    (lambda: bwd(dp=np.full((3, 2), np.inf)), ValueError, "dp: contains NaN or Inf"),
    (lambda: bwd(dW=arr(2, 4)[:, ::-1]), ValueError, "dW: expected a C-contiguous array"),
    (lambda: bwd(accumulate=True), ValueError, "accumulate: needs the dW"),
    (lambda: bwd(dz=readonly), ValueError, "dz: output array is read-only"),
    (lambda: fastmlp.loss_mse(arr(3, 2), arr(3, 3)), ValueError, "t: expected shape (3, 2)"),
    (lambda: fastmlp.loss_mse(arr(3, 2), arr(3, 2), dp=readonly), ValueError, "dp: output array is read-only"),
    (lambda: fastmlp.loss_softmax_ce(arr(3, 2), np.array([0, 1, 2])), ValueError, "y: labels must lie in [0, 2)"),
    (lambda: fastmlp.loss_softmax_ce(arr(3, 2), np.array([0, -1, 1])), ValueError, "labels must lie"),
    (lambda: fastmlp.loss_softmax_ce(arr(3, 2), np.array([0.0, 1.0, 1.0])), TypeError, "y: expected integer"),
    (lambda: fastmlp.loss_softmax_ce(arr(3, 2), np.array([0, 1])), ValueError, "y: expected shape (3,)"),
    (lambda: fastmlp.loss_softmax_ce(arr(3, 2), [0, 1, 1]), TypeError, "y: expected a numpy.ndarray"),
    (lambda: fastmlp.loss_sigmoid_bce(arr(3, 2), arr(3, 2, value=1.5)), ValueError, "t: targets must lie"),
    (lambda: fastmlp.softmax(arr(3, 2, dtype=np.int32)), TypeError, "z: expected dtype float32 or float64"),
    (lambda: fastmlp.sgd_update(arr(3), arr(3), lr=-0.1), ValueError, "lr: expected a value >= 0.0"),
    (lambda: fastmlp.sgd_update(arr(3), arr(3), lr=float("nan")), ValueError, "lr: expected a finite number"),
    (lambda: fastmlp.sgd_update(arr(3), arr(3), lr="0.1"), TypeError, "lr: expected a real number"),
    (lambda: fastmlp.sgd_update(arr(3), arr(3), lr=0.1, momentum=1.0), ValueError, "momentum: expected a value < 1"),
    (lambda: fastmlp.sgd_update(arr(3), arr(3), lr=0.1, momentum=0.9), ValueError, "v: momentum > 0 needs"),
    (lambda: fastmlp.sgd_update(arr(3), arr(3), lr=0.1, nesterov=True), ValueError, "nesterov: needs momentum"),
    (lambda: fastmlp.sgd_update(arr(3), arr(4), lr=0.1), ValueError, "dW: expected shape (3,)"),
    (lambda: fastmlp.sgd_update(readonly, arr(3, 2), lr=0.1), ValueError, "W: output array is read-only"),
    (lambda: fastmlp.sgd_update(shared, shared, lr=0.1), ValueError, "W: output shares memory with dW"),
    (lambda: fastmlp.sgd_update(np.full(3, np.nan), arr(3), lr=0.1), ValueError, "W: contains NaN or Inf"),
    (lambda: fastmlp.adam_update(arr(3), arr(3), arr(3), arr(3), 0), ValueError, "t: the step number starts at 1"),
    (lambda: fastmlp.adam_update(arr(3), arr(3), arr(3), arr(3), 1.0), TypeError, "t: expected an int"),
    (lambda: fastmlp.adam_update(arr(3), arr(3), arr(3), arr(3), 1, eps=0.0), ValueError, "eps: expected a value > 0"),
    (lambda: fastmlp.adam_update(arr(3), arr(3), arr(3), arr(3), 1, beta2=1.0), ValueError, "beta2"),
    (lambda: fastmlp.set_num_threads(0), ValueError, "n: expected a thread count in [1, 1024]"),
    (lambda: fastmlp.set_num_threads(1.5), TypeError, "n: expected an int"),
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_bad_input_raises_clear_error(i):
    call, exc, words = CASES[i]
    if exc is None:
        call()
        return
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value), str(info.value)


def test_read_only_inputs_are_accepted():
    x, W, b = arr(3, 4), arr(2, 4), arr(2)
    for a in (x, W, b):
        a.flags.writeable = False
    p = fastmlp.dense_forward(x, W, b, "tanh")
    p.flags.writeable = False
    dW, db, dx = fastmlp.dense_backward(x, W, p, p, "tanh")
    np.testing.assert_allclose(dx, (p * (1 - p * p)) @ W)


def test_in_place_forms_allowed():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 3))
    expect = fastmlp.softmax(z)
    fastmlp.softmax(z, out=z)
    np.testing.assert_array_equal(z, expect)
    x, W = rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    p = fastmlp.dense_forward(x, W, None, "relu")
    dp = rng.standard_normal(p.shape)
    ref = fastmlp.dense_backward(x, W, p, dp.copy(), "relu")
    got = fastmlp.dense_backward(x, W, p, dp, "relu", dz=dp)  # dz written over dp
    for a, c in zip(ref, got):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(dp[p == 0], 0.0)


def test_no_bias_and_no_dx():
    rng = np.random.default_rng(1)
    x, W = rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    p = fastmlp.dense_forward(x, W, None, "identity")
    np.testing.assert_allclose(p, x @ W.T, rtol=1e-12)
    dW, db, dx = fastmlp.dense_backward(x, W, p, np.ones_like(p), "identity", bias=False, need_dx=False)
    assert db is None and dx is None
    np.testing.assert_allclose(dW, np.ones_like(p).T @ x, rtol=1e-12)


def test_strerror_names_codes():
    from fastmlp import _core
    assert _core.strerror(0) == "ok"
    assert _core.strerror(-5) == "label out of range"
    assert _core.strerror(-99) == "unknown error code"


def _misaligned():
    buf = np.zeros(4 * 3 * 8 + 1, dtype=np.uint8)
    a = np.frombuffer(buf.data, dtype=np.float64, count=12, offset=1).reshape(4, 3)
    assert not a.flags.aligned
    return a


REVIEW_CASES = [  # found by review: options that round badly, subclasses, overflowing ints, truthy strings
    (lambda: fastmlp.sgd_update(arr(3, dtype=np.float32), arr(3, dtype=np.float32), lr=1e300), ValueError,
     "lr: 1e+300 does not fit in float32"),
    (lambda: fastmlp.sgd_update(arr(3, dtype=np.float32), arr(3, dtype=np.float32), arr(3, dtype=np.float32),
                                lr=0.1, momentum=0.99999999), ValueError, "momentum: 0.99999999 rounds to 1"),
    (lambda: fastmlp.adam_update(*[arr(3, dtype=np.float32) for _ in range(4)], 1, eps=1e-50), ValueError,
     "eps: 1e-50 rounds to 0"),
    (lambda: fastmlp.sgd_update(arr(3), arr(3), lr=10**400), ValueError, "lr: expected a finite number"),
    (lambda: fastmlp.sgd_update(arr(3), arr(3), arr(3), lr=0.1, momentum=0.5, nesterov="no"), TypeError,
     "nesterov: expected True or False"),
    (lambda: fastmlp.adam_update(arr(3), arr(3), arr(3), arr(3), 2**64), ValueError, "t: the step number"),
    (lambda: fastmlp.set_num_threads(2**40), ValueError, "n: expected a thread count"),
    (lambda: fwd(x=np.ma.masked_array(arr(3, 4), mask=np.zeros((3, 4), bool))), TypeError,
     "x: expected a plain numpy.ndarray, got MaskedArray"),
    (lambda: fwd(W=np.matrix(arr(2, 4))), TypeError, "W: expected a plain numpy.ndarray, got matrix"),
    (lambda: fwd(x=_misaligned(), W=arr(2, 3)), ValueError, "x: the array's data is not aligned"),
    (lambda: bwd(accumulate="yes"), TypeError, "accumulate: expected True or False"),
    (lambda: fastmlp._core.cpu_peak_gflops(seconds=float("inf")), ValueError, "seconds: expected a finite number"),
]


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numpy's own warning about np.matrix
@pytest.mark.parametrize("i", range(len(REVIEW_CASES)))
def test_review_cases_raise_clear_errors(i):
    call, exc, words = REVIEW_CASES[i]
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value), str(info.value)


def test_private_helpers_are_not_reachable():
    """The fused helpers trust their callers' checks: they are cdef, so Python cannot call them with bad buffers."""
    from fastmlp import _core
    for name in ("_dense_forward", "_dense_backward", "_sgd_update", "_adam_update", "_loss_mse", "_softmax",
                 "_dense_pack", "_dense_forward_packed", "_mlp_forward", "_mlp_train_step", "_mlp_train_epoch"):
        assert not hasattr(_core, name), name
    assert _core.strerror(2**40) == "unknown error code"


def test_thread_count_is_shared_by_all_threads():
    import threading
    before = fastmlp.get_num_threads()
    seen = []
    try:
        fastmlp.set_num_threads(1)
        t = threading.Thread(target=lambda: seen.append(fastmlp.get_num_threads()))
        t.start()
        t.join()
    finally:
        fastmlp.set_num_threads(before)
    assert seen == [1]

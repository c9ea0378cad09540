"""The public kernels' fast path (issue 15): plain, exactly-typed, C-contiguous numpy arrays go straight to C on raw
pointers; everything else takes the checked path. Both must give bit-identical results, and every error stays the
checked path's (the fast path only ever falls back, it never raises a validation error of its own)."""
import numpy as np
import pytest

import fastmlp
from fastmlp import _core


class Sub(np.ndarray):
    """An ndarray subclass: the checked path takes it, the fast path (exact numpy.ndarray only) does not."""


def slow(a):
    """The same array, as one that takes the checked path."""
    return a.view(Sub) if isinstance(a, np.ndarray) else a


def plain(a):
    return np.asarray(a).view(np.ndarray) if isinstance(a, np.ndarray) else a


def u(r, shape, dtype, lo=-1.0, hi=1.0):
    return r.uniform(lo, hi, shape).astype(dtype)


def same(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif a is None:
        assert b is None
    elif isinstance(a, float):
        assert a == b or (a != a and b != b)
    else:
        a, b = plain(a), plain(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()


DTYPES = [np.float32, np.float64]


def _cases(dt):
    r = np.random.default_rng(1)
    x, W, b = u(r, (3, 5), dt), u(r, (4, 5), dt), u(r, (4,), dt)
    p = _core.dense_forward(x, W, b)
    dp = u(r, (3, 4), dt)
    z, t = u(r, (3, 4), dt), u(r, (3, 4), dt, 0.0, 1.0)
    y = r.integers(0, 4, 3)
    sw = u(r, (3,), dt, 0.5, 2.0)
    X = _core.CSR(np.array([0, 2, 2, 5], np.int64), np.array([0, 3, 1, 2, 4], np.int64), u(r, (5,), dt), 5)
    rows = np.array([2, 0], np.int64)
    pc = u(r, (2, 4), dt)
    return {
        "dense_forward": (lambda f: _core.dense_forward(f(x), f(W), f(b), "tanh")),
        "dense_forward nob": (lambda f: _core.dense_forward(f(x), f(W), None, "relu", check_finite=False)),
        "dense_backward": (lambda f: _core.dense_backward(f(x), f(W), f(p), f(dp))),
        "dense_backward nodx": (lambda f: _core.dense_backward(f(x), f(W), f(p), f(dp), "sigmoid", bias=False,
                                                                need_dx=False)),
        "dense_forward_packed": (lambda f: _core.dense_forward_packed(f(x), _core.dense_pack(f(W)), f(b), act="tanh")),
        "dense_pack": (lambda f: np.asarray(_core.dense_pack(f(W))).copy()),
        "loss_mse": (lambda f: _core.loss_mse(f(z), f(t))),
        "loss_mse sw": (lambda f: _core.loss_mse(f(z), f(t), sw=f(sw))),
        "loss_softmax_ce": (lambda f: _core.loss_softmax_ce(f(z), f(y))),
        "loss_softmax_ce sw": (lambda f: _core.loss_softmax_ce(f(z), f(y), sw=f(sw))),
        "loss_sigmoid_bce": (lambda f: _core.loss_sigmoid_bce(f(z), f(t))),
        "loss_poisson": (lambda f: _core.loss_poisson(f(z), f(t), sw=f(sw))),
        "softmax": (lambda f: _core.softmax(f(z))),
        "csr_dense_forward": (lambda f: _core.csr_dense_forward(X, f(W), f(b))),
        "csr_dense_forward rows": (lambda f: _core.csr_dense_forward(X, f(W), f(b), "tanh", rows=f(rows))),
        "csr_dense_backward": (lambda f: _core.csr_dense_backward(X, f(pc), f(dp[:2].copy()), rows=f(rows))),
    }


@pytest.mark.parametrize("dt", DTYPES)
def test_fast_and_checked_paths_agree_bit_for_bit(dt):
    for name, call in _cases(dt).items():
        same(call(lambda a: a), call(slow))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=1, momentum=0.5, nesterov=True),
                                dict(lr=np.float64(0.01), weight_decay=1e-3, l1=1e-4, momentum=0.9)])
def test_sgd_update_paths_agree(dt, kw):
    r = np.random.default_rng(2)
    W0, G, V0 = u(r, (3, 4), dt), u(r, (3, 4), dt), u(r, (3, 4), dt, 0, 0.1)
    Wa, Va, Wb, Vb = W0.copy(), V0.copy(), W0.copy(), V0.copy()
    for _ in range(3):
        _core.sgd_update(Wa, G, Va, **kw)
        _core.sgd_update(slow(Wb), slow(G), slow(Vb), **kw)
    same(Wa, Wb)
    same(Va, Vb)


@pytest.mark.parametrize("dt", DTYPES)
def test_adam_update_paths_agree(dt):
    r = np.random.default_rng(3)
    W0, G = u(r, (5,), dt), u(r, (5,), dt)
    a = [W0.copy(), np.zeros(5, dt), np.zeros(5, dt)]
    b = [W0.copy(), np.zeros(5, dt), np.zeros(5, dt)]
    for t in range(1, 4):
        _core.adam_update(a[0], G, a[1], a[2], t, lr=0.01, weight_decay=1e-3)
        _core.adam_update(slow(b[0]), slow(G), slow(b[1]), slow(b[2]), np.int64(t), lr=0.01, weight_decay=1e-3)
    for x, y in zip(a, b):
        same(x, y)


def test_outputs_given_and_in_place():
    r = np.random.default_rng(4)
    z = u(r, (3, 4), np.float32)
    ref = _core.softmax(z)
    zz = z.copy()
    assert _core.softmax(zz, out=zz) is zz
    same(zz, ref)
    t = u(r, (3, 4), np.float32)
    loss, dp = _core.loss_mse(z, t)
    zz = z.copy()
    loss2, dp2 = _core.loss_mse(zz, t, dp=zz)
    assert dp2 is zz and loss2 == loss
    same(dp2, dp)
    x, W = u(r, (2, 4), np.float32), u(r, (3, 4), np.float32)
    out = np.empty((2, 3), np.float32)
    assert _core.dense_forward(x, W, out=out) is out
    same(out, _core.dense_forward(x, W))
    p = _core.dense_forward(x, W)
    dp = u(r, (2, 3), np.float32)
    dW, db, dx = _core.dense_backward(x, W, p, dp)
    dpc = dp.copy()
    dW2, db2, dx2 = _core.dense_backward(x, W, p, dpc, dz=dpc)
    same((dW, db, dx), (dW2, db2, dx2))
    # accumulate adds to the given arrays on both paths
    a = (dW.copy(), db.copy())
    _core.dense_backward(x, W, p, dp, dW=a[0], db=a[1], accumulate=True)
    same(a[0], (dW + dW).astype(np.float32))


def test_overlap_is_refused_by_address_range():
    r = np.random.default_rng(5)
    buf = u(r, (10, 4), np.float32)
    z, out = buf[:3], buf[2:5]  # rows 2..4 overlap row 2 of z
    with pytest.raises(ValueError, match="out: output shares memory with z"):
        _core.softmax(z, out=out)
    _core.softmax(buf[:3], out=buf[3:6])  # adjacent, not overlapping: allowed
    W = u(r, (4, 4), np.float32)
    G = W.reshape(-1)[4:].reshape(3, 4)
    with pytest.raises(ValueError, match="shares memory"):
        _core.sgd_update(W[:3], G, lr=0.1)
    m, v = np.zeros(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="shares memory"):
        _core.adam_update(W[0], W[1], m, m, 1)
    x = u(r, (2, 4), np.float32)
    with pytest.raises(ValueError, match="out: output shares memory with x"):
        _core.dense_forward(x, W, out=x[:, :4].reshape(2, 4)[:, :4])


def test_fallbacks_keep_the_checked_errors():
    r = np.random.default_rng(6)
    z = u(r, (3, 4), np.float32)
    with pytest.raises(TypeError, match="expected dtype float32 or float64"):
        _core.softmax(z.astype(">f4"))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.softmax(np.asfortranarray(u(r, (3, 4), np.float32)))
    ro = np.empty((3, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out: output array is read-only"):
        _core.softmax(z, out=ro)
    bad = z.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="z: contains NaN or Inf"):
        _core.softmax(bad)
    with pytest.raises(ValueError, match="lr: expected a finite number"):
        _core.sgd_update(z.copy(), z, lr=10 ** 400)
    with pytest.raises(ValueError, match="momentum"):
        _core.sgd_update(z.copy(), z, np.zeros_like(z), lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="rounds to 1"):
        _core.sgd_update(z.copy(), z, np.zeros_like(z), lr=0.1, momentum=0.99999999)
    with pytest.raises(ValueError, match="does not fit"):
        _core.sgd_update(z.copy(), z, lr=1e300)
    with pytest.raises(ValueError, match=r"t: targets must lie in \[0, 1\]"):
        _core.loss_sigmoid_bce(z, z)
    with pytest.raises(ValueError, match="labels must lie"):
        _core.loss_softmax_ce(z, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="sample weights must be >= 0"):
        _core.loss_mse(z, z, sw=np.array([1, -1, 1], np.float32))
    with pytest.raises(TypeError, match="expected True or False"):
        _core.softmax(z, check_finite=1)
    with pytest.raises(ValueError, match="v: Adam's second moment must be >= 0"):
        _core.adam_update(z.copy(), z, np.zeros_like(z), -np.ones_like(z), 1)


def test_check_finite_on_losses_and_softmax():
    z = np.array([[0.0, np.nan], [1.0, 2.0]], np.float32)
    t = np.zeros((2, 2), np.float32)
    for f in (lambda **k: _core.loss_mse(z, t, **k), lambda **k: _core.loss_softmax_ce(z, np.array([0, 1]), **k),
              lambda **k: _core.loss_sigmoid_bce(z, t, **k), lambda **k: _core.loss_poisson(z, t, **k),
              lambda **k: _core.softmax(z, **k)):
        with pytest.raises(ValueError, match="contains NaN or Inf"):
            f()
        f(check_finite=False)  # scanned no more: the NaN goes through
        f(check_finite=np.False_)


def test_zero_d_and_other_shapes_on_sgd():
    W, G = np.array(1.0), np.array(0.5)
    _core.sgd_update(W, G, lr=0.5)
    assert W == 0.75
    W3 = np.ones((2, 3, 4), np.float32)
    _core.sgd_update(W3, np.ones_like(W3), lr=1.0)
    assert (W3 == 0).all()


@pytest.mark.parametrize("dt", DTYPES)
def test_sgd_update_loop_is_the_kernel(dt):
    r = np.random.default_rng(7)
    W0, G = u(r, (4, 4), dt), u(r, (4, 4), dt)
    Wa, Va, Wb, Vb = W0.copy(), np.zeros_like(W0), W0.copy(), np.zeros_like(W0)
    _core._sgd_update_loop(Wa, G, Va, 0.1, 0.9, 5)
    for _ in range(5):
        _core.sgd_update(Wb, G, Vb, lr=0.1, momentum=0.9)
    same(Wa, Wb)
    same(Va, Vb)
    with pytest.raises((TypeError, ValueError)):
        _core._sgd_update_loop([1.0], G, None, 0.1, 0.0, 1)


# the NaN/Inf scan fused into the update kernels' C pass (issue 15): one scan of every array, then the update (from
# the last block to the first); a non-finite value anywhere -- first, a block boundary, the last element, in any
# thread's part -- must refuse the call with the checked path's message and leave every array as it was
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_finite_scan_refuses_and_writes_nothing(dt, threads):
    r = np.random.default_rng(8)
    old = fastmlp.get_num_threads()
    fastmlp.set_num_threads(threads)
    try:
        for n in (7, 4097, 70001):  # tiny, across a 4096-element block, above the threads' split (65536)
            base = {"W": u(r, (n,), dt), "dW": u(r, (n,), dt), "v": u(r, (n,), dt, 0, 0.1), "m": u(r, (n,), dt)}
            calls = {
                "sgd": (("W", "dW"), lambda a: _core.sgd_update(a["W"], a["dW"], lr=0.1)),
                "momentum": (("W", "dW", "v"), lambda a: _core.sgd_update(a["W"], a["dW"], a["v"], lr=0.1,
                                                                         momentum=0.9, nesterov=True)),
                "adam": (("W", "dW", "m", "v"), lambda a: _core.adam_update(a["W"], a["dW"], a["m"], a["v"], 3)),
            }
            for kind, (names, call) in calls.items():
                for name in names:
                    for where in (0, n // 2, n - 1):
                        for bad in (np.nan, -np.inf):
                            a = {k: x.copy() for k, x in base.items()}
                            a[name][where] = bad
                            before = {k: x.copy() for k, x in a.items()}
                            with pytest.raises(ValueError, match=f"^{name}: contains NaN or Inf"):
                                call(a)
                            for k in a:
                                same(a[k], before[k])
                a = {k: x.copy() for k, x in base.items()}
                b = {k: x.copy() for k, x in base.items()}
                if kind == "adam":  # a negative second moment: refused too, nothing written
                    a["v"][n - 1] = -1.0
                    before = {k: x.copy() for k, x in a.items()}
                    with pytest.raises(ValueError, match="v: Adam's second moment must be >= 0"):
                        call(a)
                    for k in a:
                        same(a[k], before[k])
                    a = {k: x.copy() for k, x in base.items()}
                # the fused path's bits equal the unscanned kernel's
                call(a)
                if kind == "sgd":
                    _core.sgd_update(b["W"], b["dW"], lr=0.1, check_finite=False)
                elif kind == "momentum":
                    _core.sgd_update(b["W"], b["dW"], b["v"], lr=0.1, momentum=0.9, nesterov=True,
                                     check_finite=False)
                else:
                    _core.adam_update(b["W"], b["dW"], b["m"], b["v"], 3, check_finite=False)
                for k in a:
                    same(a[k], b[k])
    finally:
        fastmlp.set_num_threads(old)

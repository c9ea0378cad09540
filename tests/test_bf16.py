"""bfloat16 kernels (csrc/bf16.c) against their twins in reference/bf16.py, bit for bit; paths, threads, batch
positions; bad input; the bf16 predictor against the float32 one and against the twin, layer by layer."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastmlp
import fastmlp.reference as reference
from fastmlp import _core
from kernels import ACTS

HERE = os.path.dirname(os.path.abspath(__file__))
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 1.00390625, 1.005859375, 1.0078125, 3.3895314e38, 3.4e38, 1e-40, -1e-40,
                    1.1754944e-38, 1.1754942e-38, np.inf, -np.inf, np.nan, -np.nan, 65504.0, 2.0 ** -133],
                   dtype=np.float32)


def bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


def ref_forward(x, Wp, b, act):
    """reference.dense_forward_bf16 on numpy inputs, as a float32 array"""
    n, n_in = x.shape
    n_out = Wp.n_out
    p = [0.0] * (n * n_out)
    reference.dense_forward_bf16([float(v) for v in x.ravel()], [int(v) for v in np.asarray(Wp)],
                                 None if b is None else [float(v) for v in b], p, n, n_in, n_out,
                                 reference.ACTIVATIONS[act])
    return np.array(p, dtype=np.float32).reshape(n, n_out)


def draw(rng, shape, kind):
    if kind == "grid":  # exact zeros, ties and repeated values
        return (rng.integers(-4, 5, size=shape) * 0.375).astype(np.float32)
    if kind == "wide":  # magnitudes from 2^-70 to 2^20: tiny products, sums that flush
        return (rng.uniform(-1, 1, size=shape) * 2.0 ** rng.integers(-70, 20, size=shape)).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def test_conversions_match_the_twin_bit_for_bit():
    rng = np.random.default_rng(0)
    x = np.concatenate([SPECIAL, rng.standard_normal(300).astype(np.float32),
                        rng.integers(0, 2 ** 32, 300, dtype=np.uint64).astype(np.uint32).view(np.float32)])
    y = fastmlp.float_to_bf16(x)
    assert y.dtype == np.uint16 and y.shape == x.shape
    y_ref = [0] * x.size
    reference.float_to_bf16([float(v) for v in x], y_ref, x.size)
    np.testing.assert_array_equal(y, np.array(y_ref, dtype=np.uint16))
    allbits = np.arange(2 ** 16, dtype=np.uint16)
    f = fastmlp.bf16_to_float(allbits)
    f_ref = [0.0] * allbits.size
    reference.bf16_to_float([int(v) for v in allbits], f_ref, allbits.size)
    f_ref = np.array(f_ref, dtype=np.float32)
    nan = np.isnan(f)  # a Python float cannot hold a signalling NaN: compare NaNs as NaNs, the rest as bits
    assert nan.sum() == 2 * 127 and np.array_equal(nan, np.isnan(f_ref))
    np.testing.assert_array_equal(bits(f[~nan]), bits(f_ref[~nan]))
    # widen then round: every bf16 back, except NaNs made quiet and denormals made (signed) zeros
    denormal = (allbits & 0x7F80) == 0
    want = np.where(denormal, allbits & 0x8000, allbits | np.where(nan, 0x40, 0)).astype(np.uint16)
    np.testing.assert_array_equal(fastmlp.float_to_bf16(f), want)
    assert f.dtype == np.float32
    # the rounding: ties to even, NaN kept (quiet), denormals to signed zero, overflow to Inf; widening is exact
    assert list(fastmlp.float_to_bf16(np.array([1.00390625, 1.005859375, -1e-40, 3.4e38], np.float32))) == \
        [0x3F80, 0x3F81, 0x8000, 0x7F80]
    assert np.isnan(fastmlp.bf16_to_float(fastmlp.float_to_bf16(np.array([np.nan], np.float32))))[0]
    xs = x[np.abs(x) < 3.3e38]  # finite, below the largest bf16: within half a bf16 ulp (2^-8 relative)
    assert np.all(np.abs(fastmlp.bf16_to_float(fastmlp.float_to_bf16(xs)) - xs) <= np.abs(xs) * 2.0 ** -8 + 1.2e-38)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), n_in=st.integers(1, 40), n_out=st.integers(1, 70), act=st.sampled_from(ACTS),
       bias=st.booleans(), kind=st.sampled_from(["normal", "grid", "wide"]), seed=st.integers(0, 2 ** 32 - 1))
def test_dense_bf16_matches_the_twin_bit_for_bit(n, n_in, n_out, act, bias, kind, seed):
    rng = np.random.default_rng(seed)
    x, W = draw(rng, (n, n_in), kind), draw(rng, (n_out, n_in), kind)
    b = draw(rng, (n_out,), kind) if bias else None
    copies = [x.copy(), W.copy(), None if b is None else b.copy()]
    Wp = fastmlp.dense_pack_bf16(W)
    # the packing against its twin, from the bits
    Wb = fastmlp.float_to_bf16(W)
    count = [0]
    reference.dense_packed_size_bf16(count, n_in, n_out)
    assert count[0] == Wp.size == _core.dense_packed_size_bf16(n_in, n_out)
    Wp_ref = [0] * count[0]
    reference.dense_pack_bf16([int(v) for v in Wb.ravel()], Wp_ref, n_in, n_out)
    np.testing.assert_array_equal(np.asarray(Wp), np.array(Wp_ref, dtype=np.uint16))
    assert np.asarray(fastmlp.dense_pack_bf16(Wb)).tobytes() == np.asarray(Wp).tobytes()  # bits in: the same
    p = fastmlp.dense_forward_bf16(x, Wp, b, act)
    assert p.dtype == np.float32 and p.shape == (n, n_out)
    what = f"n={n} n_in={n_in} n_out={n_out} act={act} bias={bias} kind={kind} seed={seed}"
    np.testing.assert_array_equal(bits(p), bits(ref_forward(x, Wp, b, act)), err_msg=what)
    for before, after in zip(copies, (x, W, b)):
        if before is not None:
            np.testing.assert_array_equal(before, after, err_msg=f"{what}: an input was modified")


def test_dense_bf16_is_close_to_float32():
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((9, 300), dtype=np.float32), rng.standard_normal((70, 300), dtype=np.float32), \
        rng.standard_normal(70, dtype=np.float32)
    p = fastmlp.dense_forward_bf16(x, fastmlp.dense_pack_bf16(W), b, "identity")
    exact = x.astype(np.float64) @ W.T.astype(np.float64) + b
    # two bf16 roundings (x and W) of relative error <= 2^-9 each, on sums of |x||W| ~ sqrt(300) * 17
    assert np.max(np.abs(p - exact)) / np.max(np.abs(exact)) < 2e-2
    assert np.max(np.abs(p - exact)) > 0  # bf16 did round something: the comparison is not vacuous


def test_rows_threads_and_paths_give_the_same_bits():
    rng = np.random.default_rng(2)
    x, W = rng.standard_normal((97, 257), dtype=np.float32), rng.standard_normal((131, 257), dtype=np.float32)
    b = rng.standard_normal(131, dtype=np.float32)
    Wp = fastmlp.dense_pack_bf16(W)
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(1)
        p1 = fastmlp.dense_forward_bf16(x, Wp, b, "tanh")
        fastmlp.set_num_threads(2)
        p2 = fastmlp.dense_forward_bf16(x, Wp, b, "tanh")
    finally:
        fastmlp.set_num_threads(before)
    np.testing.assert_array_equal(bits(p1), bits(p2))
    for i in (0, 5, 96):
        np.testing.assert_array_equal(bits(fastmlp.dense_forward_bf16(x[i:i + 1], Wp, b, "tanh")), bits(p1[i:i + 1]))
    np.testing.assert_array_equal(bits(fastmlp.dense_forward_bf16(x[7:20], Wp, b, "tanh")), bits(p1[7:20]))
    # every kernel path of this CPU (the instruction, the emulation) gives these bits: a child process per path
    np.save(os.path.join(HERE, "_bf16_in.npy"), np.concatenate([x.ravel(), W.ravel(), b]))
    try:
        code = ("import numpy as np, fastmlp; a = np.load('_bf16_in.npy'); x = a[:97 * 257].reshape(97, 257); "
                "W = a[97 * 257:97 * 257 + 131 * 257].reshape(131, 257); b = a[-131:]; "
                "p = fastmlp.dense_forward_bf16(x, fastmlp.dense_pack_bf16(W), b, 'tanh'); "
                "print(fastmlp.bf16_path()); print(p.view(np.uint32).tobytes().hex())")
        seen = set()
        for isa, bf in (("avx512", ""), ("avx512", "nofma"), ("avx2", ""), ("baseline", ""), ("naive", "")):
            env = dict(os.environ, FASTMLP_ISA=isa, FASTMLP_BF16=bf)
            out = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env, capture_output=True, text=True,
                                 check=True).stdout.split()
            seen.add(out[0])
            assert out[1] == bits(p1).tobytes().hex(), f"FASTMLP_ISA={isa} ({out[0]}) gives other bits"
        assert "emulated" in seen
    finally:
        os.remove(os.path.join(HERE, "_bf16_in.npy"))
    assert fastmlp.build_info()["bf16"] == fastmlp.bf16_path() in PATHS


PATHS = ("vdpbf16ps", "emulated", "vdpbf16ps+fma", "emulated+fma")


def test_float32_tiles_only_where_exact():
    """Values whose products are not all multiples of FLT_MIN (or whose sums could overflow) keep the instruction's
    flush-to-zero arithmetic: the batch (float32 tiles where allowed) equals the rows one at a time (never the
    tiles) and the twin, bit for bit."""
    rng = np.random.default_rng(5)
    for scale_x, scale_w in ((2.0 ** -64, 2.0 ** -63), (1.0, 1.0), (2.0 ** 60, 2.0 ** 55), (2.0 ** -70, 1.0)):
        x = (rng.standard_normal((8, 33)) * scale_x).astype(np.float32)
        W = (rng.standard_normal((20, 33)) * scale_w).astype(np.float32)
        Wp = fastmlp.dense_pack_bf16(W)
        p = fastmlp.dense_forward_bf16(x, Wp, None, "identity")
        rows = np.concatenate([fastmlp.dense_forward_bf16(x[i:i + 1], Wp, None, "identity") for i in range(8)])
        np.testing.assert_array_equal(bits(p), bits(rows))
        np.testing.assert_array_equal(bits(p[:2]), bits(ref_forward(x[:2], Wp, None, "identity")))


def test_bf16_bad_input():
    x = np.ones((2, 3), np.float32)
    W = np.ones((4, 3), np.float32)
    Wp = fastmlp.dense_pack_bf16(W)
    with pytest.raises(TypeError, match="x: expected dtype float32"):
        fastmlp.dense_forward_bf16(x.astype(np.float64), Wp)
    with pytest.raises(TypeError, match="Wp: expected the PackedWeightsBF16"):
        fastmlp.dense_forward_bf16(x, W)
    with pytest.raises(TypeError, match="Wp: expected the PackedWeightsBF16"):
        fastmlp.dense_forward_bf16(x, fastmlp.dense_pack(W))
    with pytest.raises(ValueError, match=r"x: expected shape \(\?, 3\)"):
        fastmlp.dense_forward_bf16(np.ones((2, 4), np.float32), Wp)
    with pytest.raises(ValueError, match="b: expected shape"):
        fastmlp.dense_forward_bf16(x, Wp, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        fastmlp.dense_forward_bf16(np.ones((3, 2), np.float32).T, Wp)
    with pytest.raises(ValueError, match="x: contains NaN or Inf"):
        fastmlp.dense_forward_bf16(np.full((2, 3), np.nan, np.float32), Wp)
    fastmlp.dense_forward_bf16(np.full((2, 3), np.inf, np.float32), Wp, check_finite=False)  # the caller's choice
    out = np.empty((2, 4), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastmlp.dense_forward_bf16(x, Wp, out=out)
    buf = np.ones(14, np.float32)
    with pytest.raises(ValueError, match="shares memory with x"):
        fastmlp.dense_forward_bf16(buf[:6].reshape(2, 3), Wp, out=buf[4:12].reshape(2, 4))
    with pytest.raises(ValueError, match="act: expected one of"):
        fastmlp.dense_forward_bf16(x, Wp, act="softplus")
    with pytest.raises(TypeError, match="check_finite"):
        fastmlp.dense_forward_bf16(x, Wp, check_finite="no")
    with pytest.raises(TypeError, match="W: expected float32 or numpy.uint16"):
        fastmlp.dense_pack_bf16(W.astype(np.float64))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        fastmlp.dense_pack_bf16([[1.0, 2.0]])
    with pytest.raises(ValueError, match="NaN or Inf"):
        fastmlp.dense_pack_bf16(np.full((2, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="NaN or Inf"):
        fastmlp.dense_pack_bf16(np.full((2, 2), 3.4e38, np.float32))  # rounds past the largest bf16
    with pytest.raises(ValueError, match="empty"):
        fastmlp.dense_pack_bf16(np.ones((0, 2), np.float32))
    with pytest.raises(TypeError, match="made by dense_pack_bf16"):
        _core.PackedWeightsBF16()
    with pytest.raises(TypeError, match="x: expected dtype float32"):
        fastmlp.float_to_bf16(np.ones(3))
    with pytest.raises(TypeError, match="x: expected dtype uint16"):
        fastmlp.bf16_to_float(np.ones(3, np.int16))
    y = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="shares memory"):
        fastmlp.float_to_bf16(y, out=y.view(np.uint16)[:3])
    with pytest.raises(ValueError, match="out: expected shape"):
        fastmlp.bf16_to_float(np.ones(3, np.uint16), out=np.empty(4, np.float32))
    with pytest.raises(ValueError):
        _core.dense_packed_size_bf16(0, 3)
    assert np.asarray(Wp).flags.writeable is False and Wp.nbytes == 2 * Wp.size == 2 * (16 * 4 + 32)


def test_finite_x_that_rounds_to_bf16_inf_is_refused():
    # |x| >= 3.3961e38 (bits 0x7f7f8000, the midpoint between the largest bf16 and 2^128) rounds to Inf: refused by
    # the C kernel (whatever check_finite) and by its twin, like such W values at pack time; nothing written
    Wp = fastmlp.dense_pack_bf16(np.ones((2, 2), np.float32))
    count = [0]
    reference.dense_packed_size_bf16(count, 2, 2)
    rWp = [0] * count[0]
    reference.dense_pack_bf16([16256] * 4, rWp, 2, 2)  # W = ones in bf16
    for u, refused in ((0x7F7F8000, True), (0xFF7F8000, True), (0x7F7FFFFF, True), (0x7F7F7FFF, False),
                       (0x00000001, False)):
        x = np.array([[1.0, 0.0]], np.float32)
        x.view(np.uint32)[0, 1] = u
        out = np.full((1, 2), -1.0, np.float32)
        p = [-1.0, -1.0]
        for check_finite in (True, False):
            if refused:
                with pytest.raises(ValueError, match=r"dense_forward_bf16: x holds finite values too large for "
                                                     r"bfloat16 \(\|x\| >= 3.3961e38 rounds to Inf"):
                    fastmlp.dense_forward_bf16(x, Wp, out=out, act="identity", check_finite=check_finite)
                assert (out == -1.0).all()
            else:
                fastmlp.dense_forward_bf16(x, Wp, out=out, act="identity", check_finite=check_finite)
                assert np.isfinite(out).all()
        if refused:
            with pytest.raises(reference.KernelError, match="option out of range"):
                reference.dense_forward_bf16([float(v) for v in x.ravel()], rWp, None, p, 1, 2, 2,
                                             reference.ACT_IDENTITY)
            assert p == [-1.0, -1.0]
        else:
            reference.dense_forward_bf16([float(v) for v in x.ravel()], rWp, None, p, 1, 2, 2, reference.ACT_IDENTITY)
            assert bits(p).tolist() == bits(out).ravel().tolist()
    # the predictor: X, and a hidden layer whose float32 output is too large for bfloat16
    model = fastmlp.MLP([2, 3, 2], seed=0)
    pred = model.predictor("bfloat16")
    with pytest.raises(ValueError, match=r"PredictorBF16: X holds finite values too large for bfloat16"):
        pred(np.array([[3.4e38, 1.0]], np.float32))
    with pytest.raises(ValueError, match="too large for bfloat16"):
        pred(np.array([[3.4e38, 1.0]], np.float32), check_finite=False)
    big = np.float32(1.4140625 * 2.0 ** 64)  # x * W = 1.99957 * 2^127 = 3.4019e38: finite in float32, not in bf16
    params = np.array([big, 0.0, 1.0, 0.0], np.float32)  # W0, b0, W1, b1 of a 1-1-1 network
    deep = _core.PredictorBF16([1, 1, 1], ["identity", "identity"], params)
    with pytest.raises(ValueError, match="the activations entering layer 1 holds finite values too large"):
        deep(np.array([[1.4140625 * 2.0 ** 63]], np.float32))
    assert deep(np.array([[2.0 ** 63]], np.float32))[0, 0] == np.float32(float(big) * 2.0 ** 63)


# ---- the bf16 predictor ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("layers,act,dtype", [([784, 256, 128, 10], "relu", "float32"),
                                              ([13, 40, 7, 3], "tanh", "float64"),
                                              ([5, 17, 1], "sigmoid", "float32")])
def test_predictor_bf16_near_float32_and_equal_to_the_twin(layers, act, dtype):
    model = fastmlp.MLP(layers, activation=act, loss="mse", dtype=dtype, seed=3)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, layers[0])).astype(np.float32)
    pred = model.predictor(dtype="bfloat16")
    assert isinstance(pred, _core.PredictorBF16) and pred.weights_dtype == "bfloat16"
    assert (pred.n_in, pred.n_out, pred.dtype) == (layers[0], layers[-1], np.dtype(np.float32))
    out = pred(X)
    assert out.dtype == np.float32 and out.shape == (6, layers[-1])
    full = model.predictor()(X.astype(dtype))
    rel = np.max(np.abs(out - full)) / np.max(np.abs(full))
    assert 0 < rel < 3e-2, rel
    # the twin, layer by layer, from the same params (rounded to float32, then to bf16 by the packing)
    a = X
    for l, (W, b) in enumerate(model.params):  # (W, b) per layer
        a = ref_forward(a, fastmlp.dense_pack_bf16(np.ascontiguousarray(W, dtype=np.float32)),
                        b.astype(np.float32), model.activations[l])
    np.testing.assert_array_equal(bits(out), bits(a))
    # batch positions and chunking (256 rows at a time) do not change a row's bits
    big = rng.standard_normal((300, layers[0])).astype(np.float32)
    big[17] = X[2]
    np.testing.assert_array_equal(bits(pred(big)[17]), bits(out[2]))
    np.testing.assert_array_equal(bits(pred(big.astype(np.float64))), bits(pred(big)))  # converted input


def test_predictor_bf16_api_and_refusals():
    model = fastmlp.MLP([4, 8, 3], activation="tanh", seed=0)  # tanh keeps a NaN (relu would zero it)
    pred = model.predictor("bfloat16")
    assert model.predictor("bf16")(np.ones((1, 4))).shape == (1, 3)
    assert isinstance(model.predictor("float32"), _core.Predictor)
    with pytest.raises(ValueError, match="dtype: expected None"):
        model.predictor("float16")
    with pytest.raises(ValueError, match="dtype: expected None"):
        model.predictor("int8")
    with pytest.raises(ValueError, match="X: expected shape"):
        pred(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="X: expected shape"):
        pred(np.ones((0, 4), np.float32))
    with pytest.raises(ValueError, match="NaN or Inf"):
        pred(np.full((1, 4), np.nan, np.float32))
    assert np.isnan(pred(np.full((1, 4), np.nan, np.float32), check_finite=False)).all()
    with pytest.raises(TypeError, match="check_finite"):
        pred(np.ones((1, 4), np.float32), check_finite=1)
    with pytest.raises(TypeError, match="never initialised"):
        _core.PredictorBF16.__new__(_core.PredictorBF16)(np.ones((1, 4), np.float32))
    with pytest.raises(TypeError, match="already initialised"):
        pred.__init__(model.layers, model.activations, model.params)
    with pytest.raises(ValueError, match="length does not match"):
        _core.PredictorBF16([4, 8, 3], ["relu", "identity"], np.ones(5, np.float32))
    with pytest.raises(ValueError, match="NaN or Inf"):
        _core.PredictorBF16([1, 1], ["identity"], np.array([np.inf, 0.0], np.float32))
    before = pred(np.ones((1, 4), np.float32))
    model.params[0][0][:] = 0  # a frozen copy: later changes to the model do not reach it
    np.testing.assert_array_equal(pred(np.ones((1, 4), np.float32)), before)


def test_twin_rounds_doubles_past_float32_to_inf():
    # the twin's docstring: "a double is rounded to float32 first" -- as a C cast, past the largest float32 to Inf
    # (struct.pack used to raise OverflowError)
    y = [0, 0]
    reference.float_to_bf16([1e39, -1e39], y, 2)
    assert y == [0x7F80, 0xFF80]
    assert y == fastmlp.float_to_bf16(np.array([np.inf, -np.inf], np.float32)).tolist()
    count = [0]
    reference.dense_packed_size_bf16(count, 2, 1)
    Wp = [0] * count[0]
    reference.dense_pack_bf16([16256, 16256], Wp, 2, 1)
    p = [0.0]
    reference.dense_forward_bf16([1e39, 1.0], Wp, None, p, 1, 2, 1, reference.ACT_IDENTITY)
    assert p == [np.inf]


@pytest.mark.parametrize("n_in, n_out", [(2 ** 56 - 2, 16), (2 ** 56 - 4, 16), (2 ** 57, 16)])
def test_twin_refuses_the_sizes_the_c_refuses(n_in, n_out):
    # fm_bf16_sizes refuses a layout whose length plus the 32-value summary passes PTRDIFF_MAX / 8
    count = [0]
    try:
        c_count = _core.dense_packed_size_bf16(n_in, n_out)
    except (ValueError, OverflowError, MemoryError):
        c_count = None
    try:
        reference.dense_packed_size_bf16(count, n_in, n_out)
    except reference.KernelError:
        count = [None]
    assert count[0] == c_count

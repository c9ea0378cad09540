"""Every C kernel against its plain-Python twin: random sizes and values, float32 and float64."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastmlp
import fastmlp.reference as reference
from conftest import assert_close
from kernels import ACTS, KERNELS

DTYPES = (np.float32, np.float64)


def run_case(name, dtype, *args, **kwargs):
    builder, _ = KERNELS[name]
    fast, ref = getattr(fastmlp, name), getattr(reference, name)
    seed = kwargs.pop("seed")
    rng = np.random.default_rng(seed)
    fast_out, ref_out, inputs = builder(fast, ref, rng, dtype, *args, **kwargs)
    copies = [None if a is None else a.copy() for a in inputs]
    assert fast_out.keys() == ref_out.keys()
    what = f"{name} dtype={np.dtype(dtype)} args={args} kwargs={kwargs} seed={seed}"
    for key, got in fast_out.items():
        if isinstance(got, np.ndarray):
            assert got.dtype == np.dtype(dtype), f"{what}: {key} has dtype {got.dtype}"
        else:
            assert isinstance(got, float), f"{what}: {key} is {type(got).__name__}"
        assert_close(got, ref_out[key], dtype, f"{what}: {key}")
    # the builder already ran both kernels; inputs it handed over must be unchanged afterwards
    for before, after in zip(copies, inputs):
        if before is not None:
            np.testing.assert_array_equal(before, after, err_msg=f"{what}: an input was modified")


def test_every_kernel_has_a_twin_and_a_case():
    names = [n for n in dir(fastmlp) if n in KERNELS or callable(getattr(reference, n, None))]
    for name in KERNELS:
        assert callable(getattr(fastmlp, name)) and callable(getattr(reference, name)), name
    # every fm_ kernel in the public header is in the list (by name, dtype suffix stripped)
    import re
    with open(f"{fastmlp.get_include()}/fastmlp.h") as f:
        header = f.read()
    c_kernels = {m for m in re.findall(r"\bfm_([a-z0-9_]+)_f(?:32|64)\s*\(", header)}
    # the whole-network functions have their twins in reference/mlp.py and their comparisons in test_mlp.py
    network = {k for k in c_kernels if k.startswith("mlp_")} | {"dense_pack_width"}
    for name in network:
        assert callable(getattr(reference, name)), name
    assert c_kernels - network == set(KERNELS), (c_kernels ^ set(KERNELS), names)
    # every other fm_ function has a twin too, or reports the machine or the library (then listed here, by reason)
    others = set(re.findall(r"FM_API\s+[^;{}()]*?\bfm_(\w+)\s*\(", header)) - {f"{k}_f32" for k in c_kernels} \
        - {f"{k}_f64" for k in c_kernels}
    no_twin = {
        "strerror", "version", "build_info",  # the library: a status code's name, the version, the build's options
        "set_num_threads", "get_num_threads",  # the library's thread count
        "cpu_peak_gflops",  # a timing: the CPU's measured multiply-add rate
    }
    assert no_twin <= others, no_twin - others
    for name in others:
        has_twin = callable(getattr(reference, name, None))
        assert has_twin != (name in no_twin), f"fm_{name}: needs a twin in fastmlp.reference (or, if it reports the " \
                                              f"machine or the library, a line in no_twin)"


layer_sizes = dict(n=st.integers(1, 9), n_in=st.integers(1, 17), n_out=st.integers(1, 17),
                   act=st.sampled_from(ACTS), bias=st.booleans(), quantized=st.booleans(),
                   seed=st.integers(0, 2**32 - 1))
matrix_sizes = dict(n=st.integers(1, 9), m=st.integers(1, 17), quantized=st.booleans(),
                    seed=st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("dtype", DTYPES)
@given(**layer_sizes)
def test_dense_forward(dtype, n, n_in, n_out, act, bias, quantized, seed):
    run_case("dense_forward", dtype, n, n_in, n_out, act, bias, quantized, seed=seed)


@pytest.mark.parametrize("name", ["dense_pack", "dense_forward_packed"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(**layer_sizes)
def test_dense_packed(name, dtype, n, n_in, n_out, act, bias, quantized, seed):
    run_case(name, dtype, n, n_in, n_out, act, bias, quantized, seed=seed)


@given(n_in=st.integers(1, 40), n_out=st.integers(1, 300), nc=st.integers(1, 1024))
def test_dense_packed_size(n_in, n_out, nc):
    """fm_dense_packed_size against its twin, and the length dense_pack returns on this CPU."""
    from fastmlp._core import dense_packed_size
    count = [0]
    reference.dense_packed_size(count, n_in, n_out, nc)
    assert dense_packed_size(n_in, n_out, nc) == count[0] >= n_in * n_out
    if nc == fastmlp.dense_pack_width(np.float64) and n_out <= 40:
        assert fastmlp.dense_pack(np.zeros((n_out, n_in))).size == count[0]


@pytest.mark.parametrize("args", [(0, 3, 8), (3, 0, 8), (3, 5, 0), (3, 5, 1025), (2**60, 5, 16), (2**54, 5, 16)])
def test_dense_packed_size_refusals(args):
    """zero sizes, panel widths outside [1, 1024] and layouts past the size limit: both refuse"""
    from fastmlp._core import dense_packed_size
    with pytest.raises(ValueError):
        dense_packed_size(*args)
    with pytest.raises(reference.KernelError):
        reference.dense_packed_size([0], *args)


def test_pack_width():
    for dtype in DTYPES:
        nc = fastmlp.dense_pack_width(dtype)
        assert isinstance(nc, int) and 1 <= nc <= 1024
    assert reference.dense_pack_width() >= 1


@pytest.mark.parametrize("dtype", DTYPES)
@given(**layer_sizes, accumulate=st.booleans())
def test_dense_backward(dtype, n, n_in, n_out, act, bias, quantized, accumulate, seed):
    run_case("dense_backward", dtype, n, n_in, n_out, act, bias, quantized, accumulate=accumulate, seed=seed)


@pytest.mark.parametrize("name", ["loss_mse", "loss_softmax_ce", "loss_sigmoid_bce", "loss_poisson", "softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(**matrix_sizes)
def test_losses(name, dtype, n, m, quantized, seed):
    run_case(name, dtype, n, m, quantized, seed=seed)


@pytest.mark.parametrize("name", ["loss_mse", "loss_softmax_ce", "loss_sigmoid_bce", "loss_poisson"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(**matrix_sizes)
def test_weighted_losses(name, dtype, n, m, quantized, seed):
    run_case(name, dtype, n, m, quantized, weighted=True, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(**layer_sizes)
def test_csr_dense_forward(dtype, n, n_in, n_out, act, bias, quantized, seed):
    run_case("csr_dense_forward", dtype, n, n_in, n_out, act, bias, quantized, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(**layer_sizes, accumulate=st.booleans())
def test_csr_dense_backward(dtype, n, n_in, n_out, act, bias, quantized, accumulate, seed):
    run_case("csr_dense_backward", dtype, n, n_in, n_out, act, bias, quantized, accumulate=accumulate, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(**matrix_sizes, momentum=st.sampled_from([0.0, 0.5, 0.9]), nesterov=st.booleans(),
       weight_decay=st.sampled_from([0.0, 1e-2]), l1=st.sampled_from([0.0, 1e-3]))
def test_sgd_update(dtype, n, m, quantized, momentum, nesterov, weight_decay, l1, seed):
    run_case("sgd_update", dtype, n, m, quantized, momentum=momentum, nesterov=nesterov and momentum > 0,
             weight_decay=weight_decay, l1=l1, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(**matrix_sizes, weight_decay=st.sampled_from([0.0, 1e-2]), l1=st.sampled_from([0.0, 1e-3]))
def test_adam_update(dtype, n, m, quantized, weight_decay, l1, seed):
    run_case("adam_update", dtype, n, m, quantized, weight_decay=weight_decay, l1=l1, seed=seed)


# sizes that hit every edge of a vector width or register tile (1, 7, 15, 16, 17, 63, 64, 65)
EDGE = [(1, 1, 1), (1, 64, 17), (7, 15, 16), (16, 17, 7), (17, 63, 5), (3, 65, 64), (65, 16, 3), (2, 7, 65)]


@pytest.mark.parametrize("n,n_in,n_out", EDGE)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["dense_forward", "dense_backward", "dense_forward_packed"])
def test_dense_edge_sizes(name, dtype, n, n_in, n_out):
    for i, act in enumerate(ACTS):
        run_case(name, dtype, n, n_in, n_out, act, True, False, seed=1000 * n + 10 * n_out + i)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_exact_zero_preactivation(dtype):
    """z == 0 exactly: relu gives 0 and the mask blocks the gradient (unit counts as inactive)."""
    x = np.array([[1.0, -1.0], [0.5, 0.5]], dtype=dtype)
    W = np.array([[1.0, 1.0], [2.0, -2.0]], dtype=dtype)
    b = np.zeros(2, dtype=dtype)
    p = fastmlp.dense_forward(x, W, b, "relu")
    np.testing.assert_array_equal(p, np.array([[0.0, 4.0], [1.0, 0.0]], dtype=dtype))
    dW, db, dx = fastmlp.dense_backward(x, W, p, np.ones_like(p), "relu")
    np.testing.assert_array_equal(db, np.array([1.0, 1.0], dtype=dtype))
    np.testing.assert_array_equal(dW, np.array([[0.5, 0.5], [1.0, -1.0]], dtype=dtype))
    np.testing.assert_array_equal(dx, np.array([[2.0, -2.0], [1.0, 1.0]], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_matches_numpy(dtype, rng):
    """An independent check of the oracle itself: numpy's algebra gives the same layer."""
    x = rng.standard_normal((11, 13)).astype(dtype)
    W = rng.standard_normal((5, 13)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    z = x @ W.T + b
    expect = {"identity": z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}
    deriv = {"identity": lambda p: 1, "relu": lambda p: p > 0, "sigmoid": lambda p: p * (1 - p),
             "tanh": lambda p: 1 - p * p}
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for act in ACTS:
        p = fastmlp.dense_forward(x, W, b, act)
        np.testing.assert_allclose(p, expect[act], rtol=tol, atol=tol * 10)
        dp = rng.standard_normal(p.shape).astype(dtype)
        dW, db, dx = fastmlp.dense_backward(x, W, p, dp, act)
        dz = dp * deriv[act](p)
        np.testing.assert_allclose(dW, dz.T @ x, rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(db, dz.sum(0), rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(dx, dz @ W, rtol=tol, atol=tol * 10)


def test_threads_bit_identical(rng):
    """Output rows are split across threads, each element summed in a fixed order: any thread count gives the
    same bits (the shape is large enough to take the parallel path)."""
    x = rng.standard_normal((96, 256)).astype(np.float32)
    W = rng.standard_normal((128, 256)).astype(np.float32)
    b = rng.standard_normal(128).astype(np.float32)
    before = fastmlp.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            fastmlp.set_num_threads(threads)
            p = fastmlp.dense_forward(x, W, b, "tanh")
            results.append((p,) + fastmlp.dense_backward(x, W, p, p * 0.5 - 0.1, "tanh"))
    finally:
        fastmlp.set_num_threads(before)
    for other in results[1:]:
        for a, c in zip(results[0], other):
            np.testing.assert_array_equal(a, c)


def test_threads_bit_identical_updates(rng):
    """Updates over vectors long enough to be split across threads: the same bits for any thread count."""
    W0 = rng.standard_normal(300_001).astype(np.float32)
    g = rng.standard_normal(W0.shape).astype(np.float32)
    before = fastmlp.get_num_threads()
    out = []
    try:
        for threads in (1, 2, 3):
            fastmlp.set_num_threads(threads)
            W, v, m, v2 = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0)
            fastmlp.sgd_update(W, g, v, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3, l1=1e-4)
            W2 = W0.copy()
            fastmlp.adam_update(W2, g, m, v2, 1, lr=0.01)
            out.append((W, v, W2, m, v2))
    finally:
        fastmlp.set_num_threads(before)
    for other in out[1:]:
        for a, c in zip(out[0], other):
            np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_without_the_finiteness_scans(dtype):
    """check_finite=False skips the NaN/Inf scans only: the results are the checked call's, and a negative second
    moment is still refused by the C core (nothing written) with the same message."""
    rng = np.random.default_rng(4)
    W, dW = rng.standard_normal(1000).astype(dtype), rng.standard_normal(1000).astype(dtype)
    for kw in (dict(momentum=0.9), dict(momentum=0.9, nesterov=True), dict(l1=0.01)):
        a, b = [W.copy(), np.zeros_like(W)], [W.copy(), np.zeros_like(W)]
        fastmlp.sgd_update(a[0], dW, a[1], lr=0.1, **kw)
        fastmlp.sgd_update(b[0], dW, b[1], lr=0.1, check_finite=False, **kw)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    a = [W.copy(), np.zeros_like(W), np.zeros_like(W)]
    b = [W.copy(), np.zeros_like(W), np.zeros_like(W)]
    for t in (1, 2):
        fastmlp.adam_update(*a[:1], dW, *a[1:], t, lr=0.01)
        fastmlp.adam_update(*b[:1], dW, *b[1:], t, lr=0.01, check_finite=False)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    v = b[2].copy()
    v[-1] = -1e-3
    before = [b[0].copy(), b[1].copy()]
    with pytest.raises(ValueError, match="v: Adam's second moment must be >= 0"):
        fastmlp.adam_update(b[0], dW, b[1], v, 3, check_finite=False)
    np.testing.assert_array_equal(b[0], before[0])
    np.testing.assert_array_equal(b[1], before[1])
    with pytest.raises(TypeError):
        fastmlp.adam_update(b[0], dW, b[1], b[2], 3, check_finite="no")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_store_no_subnormals(dtype):
    """A parameter whose gradient stays 0 has its velocity / moments decay into the subnormal range (float32 Adam:
    after ~800 steps), where every later operation is ~100x slower: the updates store 0 there instead."""
    tiny = np.finfo(dtype).tiny
    W = np.array([1.0, 3 * tiny, 0.5 * tiny, -0.5], dtype)
    dW = np.zeros(4, dtype)
    m = np.array([1.05 * tiny, 0.0, 0.0, 0.5], dtype)
    v = np.array([1.0001 * tiny, 0.0, 0.0, 0.25], dtype)
    fastmlp.adam_update(W, dW, m, v, 1, lr=1e-3)
    assert m[0] == 0 and v[0] == 0 and m[3] > 0 and v[3] > 0          # 0.9 * 1.05 tiny would be subnormal
    assert W[1] == dtype(3 * tiny) and W[2] == 0 and W[0] == 1.0 and W[3] != dtype(-0.5)  # subnormal W -> 0
    Ws, vs = np.array([0.5 * tiny, 2.0], dtype), np.array([1.05 * tiny, 1.0], dtype)
    fastmlp.sgd_update(Ws, np.zeros(2, dtype), vs, lr=0.1, momentum=0.9)
    assert vs[0] == 0 and Ws[0] == 0 and vs[1] == dtype(0.9) and Ws[1] == dtype(2.0) - dtype(0.1) * dtype(0.9)
    assert not np.any((W != 0) & (np.abs(W) < tiny))


CACHES = st.one_of(st.sampled_from([0, 1, 16 * 1024 - 1, 16 * 1024, 32 * 1024, 48 * 1024, 1024 * 1024,
                                    1024 * 1024 + 1, 128 * 1024 - 1, 2 * 1024 * 1024, 2 ** 40, 2 ** 40 + 1,
                                    2 ** 64 - 1]), st.integers(0, 2 ** 26))


@given(path=st.sampled_from(["avx512", "avx2", "baseline", "naive", "sse9", ""]), l1d=CACHES, l2=CACHES, l3=CACHES,
       force_kc=st.sampled_from([0, 1, 7, 8, 9, 100, 512, 513, 2 ** 20, 2 ** 20 + 1]),
       force_nc=st.sampled_from([0, 1, 15, 16, 33, 3000, 2 ** 24, 2 ** 24 + 1]), f64=st.booleans())
def test_blocking_rule(path, l1d, l2, l3, force_kc, force_nc, f64):
    """fm_dense_blocking_for (the block-size rule) against its twin, on random and edge caches and forced sizes."""
    from fastmlp import _core
    info = [None] * 7
    try:
        reference.dense_blocking_for(path, info, l1d, l2, l3, force_kc, force_nc, int(f64))
    except reference.KernelError:
        info = None
    dtype = np.float64 if f64 else np.float32
    if info is None:
        with pytest.raises(ValueError, match="option out of range"):
            _core.dense_blocking_for(path, dtype, l1d, l2, l3, force_kc, force_nc)
        return
    got = _core.dense_blocking_for(path, dtype, l1d, l2, l3, force_kc, force_nc)
    assert list(got.values()) == info


def test_blocking_rule_is_what_this_machine_runs():
    # dense_blocking (this CPU's caches, path and FASTMLP_BLOCKS) is the rule applied to them; the tile the rule
    # names is the kernels' (the packed layout's panel width is the tile's columns)
    import os
    from fastmlp import _core
    forced = [int(v) for v in os.environ["FASTMLP_BLOCKS"].split(",")] if "FASTMLP_BLOCKS" in os.environ else [0, 0]
    for dtype in ("float32", "float64"):
        b = _core.dense_blocking(dtype)
        assert _core.dense_blocking_for(_core.cpu_path(), dtype, b["l1d"], b["l2"], b["l3"], *forced) == b
        if _core.cpu_path() != "naive":
            assert b["tile_cols"] == _core.dense_pack_width(dtype)
    with pytest.raises(TypeError, match="cpu_path"):
        _core.dense_blocking_for(b"avx2", "float32", 1, 1, 1)


def test_bf16_path_rule():
    """fm_bf16_path_for (the bf16 path rule) against its twin on every input, and this process's path is the rule
    applied to this CPU."""
    from fastmlp import _core
    for path in ("avx512", "avx2", "baseline", "naive", "x87"):
        for has_bf16 in (0, 1, 2, -1):
            for nofma in (0, 1, 5):
                name = [None]
                try:
                    reference.bf16_path_for(path, name, has_bf16, nofma)
                except reference.KernelError:
                    with pytest.raises(ValueError, match="option out of range"):
                        _core.bf16_path_for(path, has_bf16, nofma)
                    continue
                assert _core.bf16_path_for(path, has_bf16, nofma) == name[0], (path, has_bf16, nofma)
    import os
    import sys
    if sys.platform.startswith("linux"):
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
        has = "avx512f" in flags and "avx512_bf16" in flags
        nofma = os.environ.get("FASTMLP_BF16") == "nofma"
        assert _core.bf16_path() == _core.bf16_path_for(_core.cpu_path(), has, nofma)

"""The SIMD kernel paths: each one the CPU offers agrees with the reference (forced through FASTMLP_ISA in a
subprocess), results do not depend on the batch a sample sits in, and the path is reported."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from conftest import assert_close
from test_kernels import run_case

PATHS = ["naive", "baseline", "avx2", "avx512"]

SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
import fastmlp
from test_kernels import run_case
out = {{"path": fastmlp.build_info()["simd"], "failures": []}}
shapes = [(1, 16, 16), (7, 17, 33), (13, 65, 31), (25, 300, 17), (3, 15, 64), (40, 64, 65)]
for dtype in (np.float32, np.float64):
    for shape in shapes:
        for name in ("dense_forward", "dense_backward", "dense_forward_packed"):
            for act in ("identity", "relu", "sigmoid", "tanh"):
                try:
                    run_case(name, dtype, *shape, act, True, False, seed=sum(shape))
                except AssertionError as exc:
                    out["failures"].append(str(exc)[:300])
print(json.dumps(out))
"""


@pytest.mark.slow  # a fresh interpreter per path, each running the kernel cases: ~1.3 s each
@pytest.mark.parametrize("path", PATHS)
def test_every_path_matches_the_reference(path):
    env = dict(os.environ, FASTMLP_ISA=path)
    tests = os.path.dirname(os.path.abspath(__file__))
    # run from the tests folder: from the repository root, "import fastmlp" would find the uncompiled sources
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=tests)], env=env, cwd=tests,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # a request can only lower the path: on a CPU without AVX-512 "avx512" runs the best it has
    assert PATHS.index(out["path"]) <= PATHS.index(path)
    assert out["failures"] == [], out["failures"][:3]


def test_reported_path_is_a_known_one():
    assert fastmlp.build_info()["simd"] in PATHS


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_does_not_depend_on_the_batch(dtype):
    """A sample's output and gradient are bit-identical whether it is alone or in a batch of any size."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((77, 300)).astype(dtype)
    W = rng.standard_normal((70, 300)).astype(dtype)
    b = rng.standard_normal(70).astype(dtype)
    full = fastmlp.dense_forward(x, W, b, "tanh")
    for i in (0, 13, 76):
        np.testing.assert_array_equal(fastmlp.dense_forward(x[i:i + 1], W, b, "tanh"), full[i:i + 1])
    np.testing.assert_array_equal(fastmlp.dense_forward(x[5:40], W, b, "tanh"), full[5:40])
    dp = rng.standard_normal(full.shape).astype(dtype)
    _, _, dx = fastmlp.dense_backward(x, W, full, dp, "tanh")
    _, _, dx1 = fastmlp.dense_backward(x[13:14], W, full[13:14], dp[13:14], "tanh")
    np.testing.assert_array_equal(dx1, dx[13:14])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,n_in,n_out", [(96, 256, 128), (130, 513, 97)])
def test_large_layers_against_numpy(dtype, n, n_in, n_out):
    """Shapes past the cache-blocking depth (KC = 256) and the thread threshold, checked against numpy."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, n_in)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    p = fastmlp.dense_forward(x, W, b, "relu")
    ref = np.maximum(x.astype(np.float64) @ W.T.astype(np.float64) + b, 0)
    assert_close(p, ref, dtype, "forward")
    dp = rng.standard_normal(p.shape).astype(dtype)
    dW0 = rng.standard_normal(W.shape).astype(dtype)
    dW, db, dx = fastmlp.dense_backward(x, W, p, dp, "relu", dW=dW0.copy(), db=np.zeros(n_out, dtype),
                                        accumulate=True)
    dz = dp.astype(np.float64) * (p > 0)
    assert_close(dW, dW0.astype(np.float64) + dz.T @ x.astype(np.float64), dtype, "dW")
    assert_close(dx, dz @ W.astype(np.float64), dtype, "dx")
    assert_close(db, dz.sum(0), dtype, "db")


UPDATE_SCRIPT = r"""
import hashlib, json, sys
import numpy as np
import fastmlp
from fastmlp._core import OptimConfig, _Net
out = {"path": fastmlp.build_info()["simd"], "hashes": {}}
rng = np.random.default_rng(8)
for dtype in (np.float32, np.float64):
    # 70001 values: past the thread split (65536) and not a multiple of any vector width (the loops' tails run)
    W0 = rng.standard_normal(70001).astype(dtype)
    W0[::97] = 0.0
    dW = rng.standard_normal(70001).astype(dtype)
    x = rng.standard_normal((16, 300)).astype(dtype)
    y = rng.integers(0, 3, 16).astype(np.int64)
    zs = (rng.standard_normal((70, 130)) * 20).astype(dtype)
    ys = rng.integers(0, 130, 70).astype(np.int64)
    for threads in (1, 3):
        fastmlp.set_num_threads(threads)
        for name, kw in [("sgd", dict(weight_decay=0.01)), ("sgd_l1", dict(l1=0.003, weight_decay=0.01)),
                         ("momentum", dict(momentum=0.9, l1=0.003)), ("nesterov", dict(momentum=0.9, nesterov=True))]:
            W, v = W0.copy(), np.zeros_like(W0)
            for _ in range(3):
                fastmlp.sgd_update(W, dW, v if "momentum" in kw else None, lr=0.01, **kw)
            out["hashes"][f"{name} {dtype.__name__} {threads}"] = hashlib.sha256(W.tobytes() + v.tobytes()).hexdigest()
        W, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
        for t in range(1, 4):
            fastmlp.adam_update(W, dW, m, v, t, lr=0.01, weight_decay=0.01, l1=0.003)
        out["hashes"][f"adam {dtype.__name__} {threads}"] = hashlib.sha256(W.tobytes() + m.tobytes() + v.tobytes()).hexdigest()
        # the exponential of fexp.h: softmax, softmax cross-entropy, sigmoid and tanh (through an identity W, whose
        # products are exact on every path) give the same bits on every path and thread count
        sm = fastmlp.softmax(zs)
        loss, dz = fastmlp.loss_softmax_ce(zs, ys)
        sg = fastmlp.dense_forward(zs, np.eye(130, dtype=dtype), None, act="sigmoid")
        th = fastmlp.dense_forward(zs / 20, np.eye(130, dtype=dtype), None, act="tanh")
        out["hashes"][f"exp {dtype.__name__} {threads}"] = hashlib.sha256(
            sm.tobytes() + dz.tobytes() + np.float64(loss).tobytes() + sg.tobytes() + th.tobytes()).hexdigest()
        net = _Net([300, 240, 3], ["tanh", "identity"], "softmax_ce", dtype)
        for kind in ("momentum", "adam"):
            c = OptimConfig(kind, dtype, 0.01, weight_decay=0.001)
            params = np.random.default_rng(1).uniform(-0.1, 0.1, net.n_params).astype(dtype)
            state, counter = np.zeros(net.state_size(c), dtype), np.zeros(1, np.uint64)
            for _ in range(2):
                net.train_step(params, np.zeros(net.n_params, dtype), c, state, counter, x, None, y)
            out["hashes"][f"net {kind} {dtype.__name__} {threads}"] = hashlib.sha256(state.tobytes()).hexdigest()
print(json.dumps(out))
"""


def test_updates_are_bit_identical_across_paths_and_threads():
    """The update loops (sgd, momentum, Nesterov, Adam, with penalties) give the same bits on every SIMD path and
    thread count: no fused multiply-add, correctly rounded division and square root, each element on its own. (The
    network's state is compared: its gradients come from the products, which agree across paths only to
    rounding; across thread counts they are bit-identical too.)"""
    tests = os.path.dirname(os.path.abspath(__file__))
    results = {}
    for path in PATHS:
        proc = subprocess.run([sys.executable, "-c", UPDATE_SCRIPT], env=dict(os.environ, FASTMLP_ISA=path),
                              cwd=tests, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        results[out["path"]] = out["hashes"]
    first = next(iter(results.values()))
    for key, h in first.items():
        if key.startswith("net "):
            # the network's gradients come from the products (FMA on AVX2/AVX-512): equal across threads only
            assert h == first[key[:-1] + ("3" if key.endswith("1") else "1")], key
            continue
        for path, hashes in results.items():
            assert hashes[key] == h, f"{key}: path {path} differs"
            assert hashes[key[:-1] + "3"] == hashes[key[:-1] + "1"], f"{key}: thread counts differ on {path}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_equal_the_elementwise_formulas_bit_for_bit(dtype):
    """Each update is the reference formula evaluated per element in the model's dtype, in its order, with no
    fused multiply-add: numpy's elementwise operations (correctly rounded) reproduce it bit for bit."""
    T = np.dtype(dtype).type
    rng = np.random.default_rng(9)
    n = 70001
    W0 = rng.standard_normal(n).astype(dtype)
    W0[::97] = 0.0
    dW = rng.standard_normal(n).astype(dtype)
    sign = lambda w: (w > 0).astype(dtype) - (w < 0).astype(dtype)
    lr, mu, wd, l1 = T(0.01), T(0.9), T(0.01), T(0.003)
    W, v = W0.copy(), rng.uniform(0, 1, n).astype(dtype)
    Wr, vr = W.copy(), v.copy()
    fastmlp.sgd_update(W, dW, v, lr=0.01, momentum=0.9, weight_decay=0.01, l1=0.003, nesterov=True)
    g = dW + wd * Wr + l1 * sign(Wr)
    vr = mu * vr + g
    Wr = Wr - lr * (g + mu * vr)
    np.testing.assert_array_equal(W, Wr)
    np.testing.assert_array_equal(v, vr)
    W, m, v = W0.copy(), rng.standard_normal(n).astype(dtype), rng.uniform(0, 1, n).astype(dtype)
    Wr, mr, vr = W.copy(), m.copy(), v.copy()
    t, b1, b2, eps = 3, 0.9, 0.999, 1e-8
    fastmlp.adam_update(W, dW, m, v, t, lr=0.01, beta1=b1, beta2=b2, eps=eps, weight_decay=0.01, l1=0.003)
    step, rbc2 = T(0.01 / (1.0 - b1 ** t)), T(1.0 / np.sqrt(1.0 - b2 ** t))
    g = dW + wd * Wr + l1 * sign(Wr)
    mr = T(b1) * mr + T(1.0 - b1) * g
    vr = T(b2) * vr + T(1.0 - b2) * (g * g)
    Wr = Wr - step * (mr / (np.sqrt(vr) * rbc2 + T(eps)))
    np.testing.assert_array_equal(m, mr)
    np.testing.assert_array_equal(v, vr)
    np.testing.assert_array_equal(W, Wr)

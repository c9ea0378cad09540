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

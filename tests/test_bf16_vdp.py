"""The avx512bf16 path of the mixed-precision step (VDPBF16PS where AMX is missing: AMD Zen 4), forced on this
machine by FASTMLP_BF16_TRAIN=avx512bf16 in a child process (the setting is read once, at import): its products
equal the twin's (reference/bf16_train.py, path "avx512bf16") bit for bit; 1 and 2 threads give the same bits;
fit trains on it. Skipped where the CPU lacks AVX512_BF16 (the child then reports "emulated")."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp.reference as R
from kernels import flat
from test_bf16_train import params_for, ref_net

HERE = os.path.dirname(os.path.abspath(__file__))

# (sizes, activations, batch): widths off the multiples of 16 and 32, odd depths (a pair's zero half), batches
# of 1, 2, 4 and 8 (powers of two, so the mse gradient (p - t) / n with t = 0 is exact and dW is the products' alone)
CASES = [([13, 11, 2], ["relu", "identity"], 4), ([37, 45, 21, 2], ["relu", "relu", "identity"], 8),
         ([5, 7, 2], ["relu", "identity"], 1), ([70, 33, 4], ["identity", "identity"], 2)]

CHILD = r"""
import json, sys
import numpy as np
import fastmlp
from fastmlp import _core
out = {"path": _core.bf16_train_path(), "grads": []}
for sizes, acts, p, x in json.loads(sys.stdin.read()):
    net = _core._Net(sizes, acts, "mse", "float32")
    p, x = np.array(p, np.float32), np.array(x, np.float32).reshape(-1, sizes[0])
    t = np.zeros((x.shape[0], sizes[-1]), np.float32)
    g = np.zeros_like(p)
    _core.mlp_loss_grad_bf16(net, p, g, x, t, None)
    out["grads"].append(g.tobytes().hex())
rng = np.random.default_rng(0)
X, y = rng.standard_normal((256, 300)).astype(np.float32), rng.integers(0, 10, 256)
bits = []
for threads in (1, 2):
    fastmlp.set_num_threads(threads)
    model = fastmlp.MLP([300, 520, 10], seed=0)
    step = model.stepper(X, y, lr=0.1, dtype="bfloat16")
    step(), step()
    bits.append(model.get_flat_params().tobytes().hex())
out["threads_same"] = bits[0] == bits[1]
model = fastmlp.MLP([300, 32, 10], seed=0)
history = model.fit(X, y, epochs=4, batch_size=32, lr=0.1, optimizer="momentum", dtype="bfloat16")
out["fit"] = history["loss"]
print(json.dumps(out))
"""


def test_avx512bf16_path_products_are_the_twins_bit_for_bit():
    rng = np.random.default_rng(7)
    cases = []
    for sizes, acts, n in CASES:
        params = params_for(rng, sizes)
        off = 0
        for i, o in zip(sizes[:-1], sizes[1:]):  # zero biases: each output is its product's chain alone
            params[off + o * i: off + o * i + o] = 0.0
            off += o * i + o
        x = rng.uniform(-1.5, 1.5, (n, sizes[0])).astype(np.float32)
        x[0, :3] = [1e-39, -3e-39, 0.0]  # float32 denormals: read as zero
        cases.append((sizes, acts, params, x))
    stdin = json.dumps([(s, a, p.tolist(), x.ravel().tolist()) for s, a, p, x in cases])
    env = dict(os.environ, FASTMLP_BF16_TRAIN="avx512bf16")
    out = json.loads(subprocess.run([sys.executable, "-c", CHILD], input=stdin, cwd=HERE, env=env,
                                    capture_output=True, text=True, check=True).stdout)
    if out["path"] != "avx512bf16":
        pytest.skip(f"this CPU runs the {out['path']} path under FASTMLP_BF16_TRAIN=avx512bf16 (no AVX512_BF16)")
    differ = 0  # the emulated path's twin (float32 sums of another order) differs: the comparison tells them apart
    for (sizes, acts, params, x), got in zip(cases, out["grads"]):
        n = x.shape[0]
        twins = {}
        for path in ("avx512bf16", "emulated"):
            grads, value = [0.0] * len(params), [0.0]
            R.mlp_loss_grad_bf16(ref_net(sizes, acts, "mse"), flat(params), flat(x), [0.0] * (n * sizes[-1]), None,
                                 None, grads, value, None, n, n, path=path)
            twins[path] = np.array(grads, np.float32)
        fast, twin = np.frombuffer(bytes.fromhex(got), np.float32), twins["avx512bf16"]
        differ += int(np.sum(fast.view(np.uint32) != twins["emulated"].view(np.uint32)))
        off = 0
        for i, o in zip(sizes[:-1], sizes[1:]):
            # dW: bit for bit; db: the C sums dz in float32, the twin in double (bf16 tolerance is far looser)
            np.testing.assert_array_equal(fast[off: off + o * i].view(np.uint32),
                                          twin[off: off + o * i].view(np.uint32), err_msg=f"{sizes} n={n}: dW of the layer {i}->{o}")
            np.testing.assert_allclose(fast[off + o * i: off + o * i + o], twin[off + o * i: off + o * i + o],
                                       rtol=1e-5, atol=1e-7)
            off += o * i + o
    assert differ > 0
    assert out["threads_same"]
    assert all(np.isfinite(out["fit"])) and out["fit"][-1] < out["fit"][0]


def test_paths_and_the_setting():
    """FASTMLP_BF16_TRAIN caps the path (read once at import): emulated forces the emulated path, and a path the
    CPU cannot run falls to the next one down; the name is in build_info."""
    code = "import fastmlp; print(fastmlp.bf16_train_path(), fastmlp.build_info()['bf16_train'])"
    seen = {}
    for setting in ("emulated", "avx512bf16", "amx", "bogus", None):
        env = {k: v for k, v in os.environ.items() if k != "FASTMLP_BF16_TRAIN"}
        if setting is not None:
            env["FASTMLP_BF16_TRAIN"] = setting
        a, b = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env, capture_output=True, text=True,
                              check=True).stdout.split()
        assert a == b in R.bf16_train.PATHS
        seen[setting] = a
    assert seen["emulated"] == "emulated" and seen["avx512bf16"] in ("avx512bf16", "emulated")
    assert seen["amx"] == seen["bogus"] == seen[None]  # an unknown value sets no cap
    env = dict(os.environ, FASTMLP_ISA="avx2", FASTMLP_BF16_TRAIN="avx512bf16")
    assert subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env, capture_output=True, text=True,
                          check=True).stdout.split()[0] == "emulated"


def test_twin_refuses_an_unknown_path():
    with pytest.raises(R.KernelError):
        R.bf16_train.dense_forward_mixed([1.0], [1.0], None, [0.0], 1, 1, 1, 0, path="vnni")

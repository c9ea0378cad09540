"""csrc/bf16.c: bfloat16 weights with float32 sums -- the conversions, the packed bf16 layout, the bf16 layer forward
(twins: reference/bf16.py), the bf16 predictor of a whole network beside the float32 one, and the mixed-precision
training step (csrc/bf16_train.c) beside the float32 one.

The bf16 kernels take float32 (and bf16 bits as numpy.uint16): their only dtype here is float32.
"""
from functools import partial

import numpy as np

import fastmlp
import fastmlp.reference as R

from . import Case, Kernel, generate, rng, uniform

F32 = ("float32",)
# label -> (n, n_in, n_out): the MNIST-sized first layer at batch 1, 64 and 256, and a wide layer at batch 1
LAYERS = {
    "1x784->256": (1, 784, 256),
    "64x784->256": (64, 784, 256),
    "256x784->256": (256, 784, 256),
    "1x1024->1024": (1, 1024, 1024),
}
WEIGHTS = {"784->256": (784, 256)}
VALUES = {"200704": (200704,)}  # the values of a 784x256 layer
TINY = (3, 17, 20)  # the reference's shape: pure Python, slow


def _layer(n, n_in, n_out, seed=0):
    r = rng(seed)
    return (uniform(r, (n, n_in), "float32"), uniform(r, (n_out, n_in), "float32", -0.05, 0.05),
            uniform(r, (n_out,), "float32", -0.1, 0.1))


def dense_forward_bf16(kernel, dtype, shape):
    n, n_in, n_out = shape
    x, W, b = _layer(n, n_in, n_out)
    Wp = fastmlp.dense_pack_bf16(W)
    p = kernel(x, Wp, b, "relu", check_finite=False)
    return Case(partial(kernel, x, Wp, b, "relu", out=p, check_finite=False),
                alloc=partial(kernel, x, Wp, b, "relu", check_finite=False),
                flops=2.0 * n * n_in * n_out, alloc_bytes=p.nbytes)


def dense_pack_bf16(kernel, dtype, shape):
    n_in, n_out = shape
    _, W, _ = _layer(1, n_in, n_out)
    Wp = kernel(W)
    return Case(partial(kernel, W), alloc_bytes=Wp.nbytes, work=W.size)


def float_to_bf16(kernel, dtype, shape):
    x = uniform(rng(0), shape, "float32")
    y = kernel(x)
    return Case(partial(kernel, x, out=y), alloc=partial(kernel, x), alloc_bytes=y.nbytes, work=x.size)


def bf16_to_float(kernel, dtype, shape):
    x = fastmlp.float_to_bf16(uniform(rng(0), shape, "float32"))
    y = kernel(x)
    return Case(partial(kernel, x, out=y), alloc=partial(kernel, x), alloc_bytes=y.nbytes, work=x.size)


def _tiny():
    n, n_in, n_out = TINY
    x, W, b = _layer(n, n_in, n_out)
    Wb = [int(v) for v in fastmlp.float_to_bf16(W).ravel()]
    count = [0]
    R.dense_packed_size_bf16(count, n_in, n_out)
    return n, n_in, n_out, x.ravel().tolist(), Wb, b.tolist(), count[0]


def ref_dense_forward_bf16(ref):
    n, n_in, n_out, x, Wb, b, count = _tiny()
    Wp = [0] * count
    R.dense_pack_bf16(Wb, Wp, n_in, n_out)
    return partial(ref, x, Wp, b, [0.0] * (n * n_out), n, n_in, n_out, R.ACT_RELU)


def ref_dense_pack_bf16(ref):
    n, n_in, n_out, x, Wb, b, count = _tiny()
    return partial(ref, Wb, [0] * count, n_in, n_out)


def ref_float_to_bf16(ref):
    x = uniform(rng(0), (1000,), "float32").tolist()
    return partial(ref, x, [0] * 1000, 1000)


def ref_bf16_to_float(ref):
    x = [int(v) for v in fastmlp.float_to_bf16(uniform(rng(0), (1000,), "float32"))]
    return partial(ref, x, [0.0] * 1000, 1000)


KERNELS = {
    "dense_forward_bf16": Kernel(dense_forward_bf16, LAYERS, F32, reference=ref_dense_forward_bf16, gflops=True),
    "dense_pack_bf16": Kernel(dense_pack_bf16, WEIGHTS, F32, reference=ref_dense_pack_bf16),
    "float_to_bf16": Kernel(float_to_bf16, VALUES, F32, reference=ref_float_to_bf16),
    "bf16_to_float": Kernel(bf16_to_float, VALUES, F32, reference=ref_bf16_to_float),
}

generate(globals(), KERNELS)


class PredictorBF16:
    """model.predictor(dtype="bfloat16") against model.predictor() (float32) on 784-256-128-10, one thread."""
    params = (["bfloat16", "float32"], [1, 64, 256])
    param_names = ["weights", "batch"]

    def setup(self, weights, batch):
        fastmlp.set_num_threads(1)
        model = fastmlp.MLP([784, 256, 128, 10], seed=0)
        self.pred = model.predictor(dtype=weights if weights == "bfloat16" else None)
        self.x = np.ascontiguousarray(uniform(rng(1), (batch, 784), "float32"))

    def time_predict(self, weights, batch):
        self.pred(self.x)


class TrainStepBF16:
    """Mixed-precision training, model.stepper(dtype="bfloat16") (bf16 products, float32 weights and update;
    csrc/bf16_train.c), against the float32 stepper on 784-256-128-10 softmax-CE SGD, one thread."""
    params = (["bfloat16", "float32"], [64, 256, 1024])
    param_names = ["products", "batch"]

    def setup(self, products, batch):
        fastmlp.set_num_threads(1)
        r = rng(2)
        x = np.ascontiguousarray(uniform(r, (batch, 784), "float32"))
        y = r.integers(0, 10, size=batch).astype(np.int64)
        self.model = fastmlp.MLP([784, 256, 128, 10], seed=0)
        self.step = self.model.stepper(x, y, lr=1e-4, dtype=products if products == "bfloat16" else None)

    def time_step(self, products, batch):
        self.step()

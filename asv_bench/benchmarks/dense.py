"""csrc/dense.c: one fully connected layer, forward and backward, and the packed inference layout
(twins: reference/dense.py)."""
from functools import partial

import fastmlp
import fastmlp.reference as R

from . import Case, Kernel, generate, rng, uniform

# label -> (n, n_in, n_out): an MNIST-sized first layer at batch 1, 64 and 256
LAYERS = {
    "1x784->256": (1, 784, 256),
    "64x784->256": (64, 784, 256),
    "256x784->256": (256, 784, 256),
}
# the corners of `fastmlp bench --sweep` (widths 64..4096 x batches 1..4096, a square layer W -> W): the smallest
# and the largest shapes and the two mixed ones, for the products that the cache blocking shapes
SWEEP_CORNERS = {
    "1x64->64": (1, 64, 64),
    "4096x64->64": (4096, 64, 64),
    "1x4096->4096": (1, 4096, 4096),
    "4096x4096->4096": (4096, 4096, 4096),
}
# a few rows against a wide layer (gemm.inc's one-pass paths: rows_t for the forward of 1-4 rows, bwd_few for the
# backward of 1-4, the panel-by-panel forward of up to 96): one row at a power-of-two width (rows of W a page apart),
# 16 rows at 2048, one row at a width users pick (100: three panels and 4 rows)
FEW_ROWS = {
    "1x1024->1024": (1, 1024, 1024),
    "16x2048->2048": (16, 2048, 2048),
    "1x784->100": (1, 784, 100),  # a width of no whole panels: rows_t's last partial panel (4 rows of W)
}
# the forward with the batch along the vector lanes and W read in place (gemm.inc cols_t): 64 rows at a power-of-two
# width, and a larger batch in chunks of 64 rows against a W past half of L2
BATCH_LANES = {
    "64x2048->2048": (64, 2048, 2048),
    "256x1024->1024": (256, 1024, 1024),
}
# label -> (n_in, n_out): the weights that dense_pack rearranges (no batch)
WEIGHTS = {
    "784->256": (784, 256),
    "256->128": (256, 128),
}
TINY = (4, 32, 16)  # the reference's shape: pure Python, slow


def _layer(dtype, n, n_in, n_out, seed=0):
    r = rng(seed)
    x = uniform(r, (n, n_in), dtype)
    W = uniform(r, (n_out, n_in), dtype, -0.05, 0.05)
    b = uniform(r, (n_out,), dtype, -0.1, 0.1)
    return x, W, b


def dense_forward(kernel, dtype, shape):
    n, n_in, n_out = shape
    x, W, b = _layer(dtype, n, n_in, n_out)
    p = kernel(x, W, b, "relu", check_finite=False)
    return Case(partial(kernel, x, W, b, "relu", out=p, check_finite=False),
                alloc=partial(kernel, x, W, b, "relu", check_finite=False),
                flops=2.0 * n * n_in * n_out, alloc_bytes=p.nbytes)


def dense_backward(kernel, dtype, shape):
    n, n_in, n_out = shape
    x, W, b = _layer(dtype, n, n_in, n_out)
    p = fastmlp.dense_forward(x, W, b, "relu")  # a real relu output: p > 0 and p == 0 as in training
    dp = uniform(rng(1), p.shape, dtype)
    dW, db, dx = kernel(x, W, p, dp, "relu", check_finite=False)
    dz = dp.copy()
    return Case(partial(kernel, x, W, p, dp, "relu", dW=dW, db=db, dx=dx, dz=dz, check_finite=False),
                alloc=partial(kernel, x, W, p, dp, "relu", check_finite=False),
                flops=4.0 * n * n_in * n_out,  # dW = dz.T @ x and dx = dz @ W
                alloc_bytes=dW.nbytes + db.nbytes + dx.nbytes + dz.nbytes)


def dense_pack(kernel, dtype, shape):
    n_in, n_out = shape
    _, W, _ = _layer(dtype, 1, n_in, n_out)
    Wp = kernel(W)
    return Case(partial(kernel, W), alloc_bytes=Wp.nbytes, work=W.size)


def dense_forward_packed(kernel, dtype, shape):
    n, n_in, n_out = shape
    x, W, b = _layer(dtype, n, n_in, n_out)
    Wp = fastmlp.dense_pack(W)
    p = kernel(x, Wp, b, act="relu", check_finite=False)  # Wp (a PackedWeights) knows n_in and n_out
    return Case(partial(kernel, x, Wp, b, act="relu", out=p, check_finite=False),
                alloc=partial(kernel, x, Wp, b, act="relu", check_finite=False),
                flops=2.0 * n * n_in * n_out, alloc_bytes=p.nbytes)


def _tiny_lists(seed=0):
    n, n_in, n_out = TINY
    x, W, b = (a.astype(float).ravel().tolist() for a in _layer("float64", n, n_in, n_out, seed))
    return n, n_in, n_out, x, W, b


def ref_dense_forward(ref):
    n, n_in, n_out, x, W, b = _tiny_lists()
    p = [0.0] * (n * n_out)
    return partial(ref, x, W, b, p, n, n_in, n_out, R.ACT_RELU)


def ref_dense_backward(ref):
    n, n_in, n_out, x, W, b = _tiny_lists()
    p = [0.0] * (n * n_out)
    R.dense_forward(x, W, b, p, n, n_in, n_out, R.ACT_RELU)
    dp = uniform(rng(1), (n * n_out,), "float64").tolist()
    dz, dW, db, dx = [0.0] * (n * n_out), [0.0] * (n_out * n_in), [0.0] * n_out, [0.0] * (n * n_in)
    return partial(ref, x, W, p, dp, dz, dW, db, dx, n, n_in, n_out, R.ACT_RELU, 0)


def _packed_len(n_in, n_out, nc):
    """Length of the packed layout (the twin of fm_dense_packed_size)."""
    count = [0]
    R.dense_packed_size(count, n_in, n_out, nc)
    return count[0]


def ref_dense_pack(ref):
    n, n_in, n_out, x, W, b = _tiny_lists()
    nc = R.dense_pack_width()
    Wp = [0.0] * _packed_len(n_in, n_out, nc)
    return partial(ref, W, Wp, n_in, n_out, nc)


def ref_dense_forward_packed(ref):
    n, n_in, n_out, x, W, b = _tiny_lists()
    nc = R.dense_pack_width()
    Wp = [0.0] * _packed_len(n_in, n_out, nc)
    R.dense_pack(W, Wp, n_in, n_out, nc)
    p = [0.0] * (n * n_out)
    return partial(ref, x, Wp, b, p, n, n_in, n_out, nc, R.ACT_RELU)


KERNELS = {
    "dense_forward": Kernel(dense_forward, {**LAYERS, **SWEEP_CORNERS, **FEW_ROWS, **BATCH_LANES},
                            reference=ref_dense_forward, gflops=True),
    "dense_backward": Kernel(dense_backward, {**LAYERS, **SWEEP_CORNERS, **FEW_ROWS}, reference=ref_dense_backward,
                             gflops=True),
    "dense_pack": Kernel(dense_pack, WEIGHTS, reference=ref_dense_pack),
    "dense_forward_packed": Kernel(dense_forward_packed, LAYERS, reference=ref_dense_forward_packed, gflops=True),
}

generate(globals(), KERNELS)

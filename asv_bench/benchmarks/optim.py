"""csrc/optim.c: in-place parameter updates (twins: reference/optim.py).

The updates write in place and allocate nothing, so ``peakmem_*`` repeats the timed call itself: a leak of a
temporary (a flat view, a scalar) would still grow the peak.
"""
from functools import partial

import numpy as np

from . import Case, Kernel, generate, rng, uniform

# label -> weight matrix (n_out, n_in): the first and the last layer of the 784-256-128-10 net
WEIGHTS = {
    "256x784": (256, 784),
    "10x128": (10, 128),
}
TINY = (16, 32)  # the reference's shape
LR, MOMENTUM = 0.01, 0.9
ADAM_LR, ADAM_STEP = 1e-3, 10
WORK = 10  # nominal operations per element: sizes the peakmem loop


def _weights(dtype, shape, seed=0):
    r = rng(seed)
    return uniform(r, shape, dtype), uniform(r, shape, dtype, -0.01, 0.01)


def sgd_update(kernel, dtype, shape):
    W, dW = _weights(dtype, shape)
    v = np.zeros_like(W)
    return Case(partial(kernel, W, dW, v, lr=LR, momentum=MOMENTUM), work=WORK * W.size)


def adam_update(kernel, dtype, shape):
    W, dW = _weights(dtype, shape)
    m, v = np.zeros_like(W), np.zeros_like(W)
    return Case(partial(kernel, W, dW, m, v, ADAM_STEP, lr=ADAM_LR), work=2 * WORK * W.size)


def _tiny():
    W, dW = _weights("float64", TINY)
    return W.size, W.ravel().tolist(), dW.ravel().tolist()


def ref_sgd_update(ref):
    n, W, dW = _tiny()
    return partial(ref, dW, W, [0.0] * n, n, LR, MOMENTUM, 0.0, 0.0, False)


def ref_adam_update(ref):
    n, W, dW = _tiny()
    return partial(ref, dW, W, [0.0] * n, [0.0] * n, n, ADAM_STEP, ADAM_LR, 0.9, 0.999, 1e-8, 0.0, 0.0)


KERNELS = {
    "sgd_update": Kernel(sgd_update, WEIGHTS, reference=ref_sgd_update),
    "adam_update": Kernel(adam_update, WEIGHTS, reference=ref_adam_update),
}

generate(globals(), KERNELS)

"""csrc/loss.c: the losses with their gradients, and softmax (twins: reference/loss.py)."""
from functools import partial

from . import Case, Kernel, generate, rng, uniform

# label -> (n, m): a 10-class output at batch 64 and 256, and a wide one (exp/log throughput)
OUTPUTS = {
    "64x10": (64, 10),
    "256x10": (256, 10),
    "256x1000": (256, 1000),
}
TINY = (4, 10)  # the reference's shape
WORK = 20  # nominal operations per element (an exp, a log, a division): sizes the peakmem loop


def _logits(dtype, n, m, seed=0):
    return uniform(rng(seed), (n, m), dtype, -4.0, 4.0)


def _labels(n, m, seed=1):
    return rng(seed).integers(0, m, size=n)


def _targets(dtype, n, m, seed=1):
    return uniform(rng(seed), (n, m), dtype, 0.0, 1.0)


def loss_mse(kernel, dtype, shape):
    p, t = _logits(dtype, *shape), _targets(dtype, *shape)
    _, dp = kernel(p, t)
    return Case(partial(kernel, p, t, dp=dp), alloc=partial(kernel, p, t),
                alloc_bytes=dp.nbytes, work=WORK * dp.size)


def loss_softmax_ce(kernel, dtype, shape):
    z, y = _logits(dtype, *shape), _labels(*shape)
    _, dz = kernel(z, y)
    return Case(partial(kernel, z, y, dz=dz), alloc=partial(kernel, z, y),
                alloc_bytes=dz.nbytes, work=WORK * dz.size)


def loss_sigmoid_bce(kernel, dtype, shape):
    z, t = _logits(dtype, *shape), _targets(dtype, *shape)
    _, dz = kernel(z, t)
    return Case(partial(kernel, z, t, dz=dz), alloc=partial(kernel, z, t),
                alloc_bytes=dz.nbytes, work=WORK * dz.size)


def softmax(kernel, dtype, shape):
    z = _logits(dtype, *shape)
    p = kernel(z)
    return Case(partial(kernel, z, out=p), alloc=partial(kernel, z),
                alloc_bytes=p.nbytes, work=WORK * p.size)


def _tiny(make, *args):
    return make(*args).astype(float).ravel().tolist()


def ref_loss_mse(ref):
    n, m = TINY
    p, t = _tiny(_logits, "float64", n, m), _tiny(_targets, "float64", n, m)
    return partial(ref, p, t, None, [0.0] * (n * m), [0.0], n, m)


def ref_loss_softmax_ce(ref):
    n, m = TINY
    z, y = _tiny(_logits, "float64", n, m), [int(v) for v in _labels(n, m)]
    return partial(ref, z, y, None, [0.0] * (n * m), [0.0], n, m)


def ref_loss_sigmoid_bce(ref):
    n, m = TINY
    z, t = _tiny(_logits, "float64", n, m), _tiny(_targets, "float64", n, m)
    return partial(ref, z, t, None, [0.0] * (n * m), [0.0], n, m)


def ref_softmax(ref):
    n, m = TINY
    return partial(ref, _tiny(_logits, "float64", n, m), [0.0] * (n * m), n, m)


KERNELS = {
    "loss_mse": Kernel(loss_mse, OUTPUTS, reference=ref_loss_mse),
    "loss_softmax_ce": Kernel(loss_softmax_ce, OUTPUTS, reference=ref_loss_softmax_ce),
    "loss_sigmoid_bce": Kernel(loss_sigmoid_bce, OUTPUTS, reference=ref_loss_sigmoid_bce),
    "softmax": Kernel(softmax, OUTPUTS, reference=ref_softmax),
}

generate(globals(), KERNELS)

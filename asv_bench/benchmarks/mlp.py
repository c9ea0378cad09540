"""csrc/mlp.c: a whole network, through fastmlp.MLP (twins: reference/mlp.py).

The kernels are the C entry points ``fm_mlp_forward``, ``fm_mlp_train_step`` and ``fm_mlp_train_epoch``; each
is timed through the public method that makes one call of it (``METHODS``), validation included.
"""
from collections import namedtuple
from functools import partial

import fastmlp
import fastmlp.reference as R

from . import Case, Kernel, generate, rng, uniform

METHODS = {"mlp_forward": "forward", "mlp_train_step": "train_step", "mlp_train_epoch": "fit"}


def mlp_method(name):
    """The fastmlp.MLP method over the C entry point of this name."""
    return getattr(fastmlp.MLP, METHODS[name])


# batch: rows per call (per step for an epoch); samples: rows of the data set (an epoch's size)
Net = namedtuple("Net", "layers activation loss lr batch samples")
MNIST = dict(layers=(784, 256, 128, 10), activation="relu", loss="softmax_ce", lr=1e-3)
TINY = Net((2, 3, 1), "sigmoid", "mse", 0.1, 4, 4)  # the XOR-sized net; also the reference's shape

STEPS = {
    "784-256-128-10 B=64": Net(**MNIST, batch=64, samples=64),
    "784-256-128-10 B=256": Net(**MNIST, batch=256, samples=256),
    "2-3-1 sigmoid B=4": TINY,
    "784-300-100-10 B=1": Net((784, 300, 100, 10), "relu", "softmax_ce", 1e-3, 1, 1),  # online SGD, odd widths
}
EPOCHS = {"6000x784 B=64 784-256-128-10": Net(**MNIST, batch=64, samples=6000)}
# a wide network at B=64: the Predictor under forward reads its 2048 x 2048 layer in place (both layouts kept)
INFERENCE = {"784-256-128-10 B=1": Net(**MNIST, batch=1, samples=1),
             "784-2048-2048-10 B=64": Net((784, 2048, 2048, 10), "relu", "softmax_ce", 1e-3, 64, 64)}


def _data(net, dtype, seed=0):
    """A model and (X, y) of net.samples rows: integer labels for softmax_ce, targets in [0, 1) for mse."""
    model = fastmlp.MLP(list(net.layers), activation=net.activation, loss=net.loss, dtype=dtype, seed=seed)
    r = rng(seed + 1)
    X = uniform(r, (net.samples, net.layers[0]), dtype)
    if net.loss == "softmax_ce":
        y = r.integers(0, net.layers[-1], size=net.samples)
    else:
        y = uniform(r, (net.samples, net.layers[-1]), dtype, 0.0, 1.0)
    return model, X, y


def _weights(net):
    return sum(a * b for a, b in zip(net.layers, net.layers[1:]))


def _step_flops(net, rows):
    # forward, dW and dx of every layer but the first (no dx for the input)
    return 2.0 * rows * (3 * _weights(net) - net.layers[0] * net.layers[1])


def mlp_train_step(kernel, dtype, net):
    model, X, y = _data(net, dtype)
    return Case(partial(kernel, model, X, y, lr=net.lr), flops=_step_flops(net, net.batch))


def mlp_train_epoch(kernel, dtype, net):
    model, X, y = _data(net, dtype)
    return Case(partial(kernel, model, X, y, epochs=1, batch_size=net.batch, lr=net.lr),
                flops=_step_flops(net, net.samples))


def mlp_forward(kernel, dtype, net):
    model, X, _ = _data(net, dtype)
    out = kernel(model, X)
    return Case(partial(kernel, model, X), flops=2.0 * net.batch * _weights(net), alloc_bytes=out.nbytes)


# ---- the reference, on the tiny net ---------------------------------------------------------------------------
def _tiny_ref():
    net = R.Net(n_layers=2, sizes=list(TINY.layers), acts=[R.ACT_SIGMOID, R.ACT_IDENTITY], loss=R.LOSSES["mse"])
    count = [0]
    R.mlp_num_params(net, count)
    r = rng(0)
    params = uniform(r, (count[0],), "float64").tolist()
    X = uniform(r, (TINY.samples * TINY.layers[0],), "float64").tolist()
    T = uniform(r, (TINY.samples * TINY.layers[-1],), "float64", 0.0, 1.0).tolist()
    return net, params, [0.0] * count[0], X, T


def ref_mlp_forward(ref):
    net, params, _, X, _ = _tiny_ref()
    out = [0.0] * (TINY.samples * TINY.layers[-1])
    return partial(ref, net, params, X, out, None, TINY.samples, TINY.batch)


def ref_mlp_train_step(ref):
    net, params, grads, X, T = _tiny_ref()
    opt = R.Optim(kind=R.OPT_SGD, lr=TINY.lr)
    return partial(ref, net, opt, X, T, None, None, params, [], grads, [0.0], None, TINY.batch, TINY.batch, 1)


def ref_mlp_train_epoch(ref):
    net, params, grads, X, T = _tiny_ref()
    opt = R.Optim(kind=R.OPT_SGD, lr=TINY.lr)
    n = TINY.samples
    return partial(ref, net, opt, X, T, None, None, list(range(n)), params, [], grads, [0], [0.0], None, n, n, 1)


KERNELS = {
    "mlp_forward": Kernel(mlp_forward, INFERENCE, reference=ref_mlp_forward, gflops=True),
    "mlp_train_step": Kernel(mlp_train_step, STEPS, reference=ref_mlp_train_step, gflops=True),
    "mlp_train_epoch": Kernel(mlp_train_epoch, EPOCHS, reference=ref_mlp_train_epoch, gflops=True),
}

generate(globals(), KERNELS, resolve=mlp_method)

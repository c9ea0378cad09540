"""``fastmlp demo``: XOR (source document 001) trained through the C kernels, 2 -> hidden sigmoid -> 1."""
import time

import numpy as np

from ._core import dense_backward, dense_forward, loss_sigmoid_bce, sgd_update


def xor_data(n=200, seed=0):
    """2-D Gaussian points around the four corners (+-1, +-1), labelled 1 where the signs differ."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)
    k = rng.integers(0, 4, size=n)
    X = centres[k] + 0.25 * rng.standard_normal((n, 2))
    y = (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(np.float64)
    return X, y[:, None]


def train_xor(hidden, epochs=2000, lr=2.0, seed=0):
    X, y = xor_data(seed=seed)
    rng = np.random.default_rng(seed + 1)
    W1 = rng.normal(0, 1.0, (hidden, 2))
    b1 = np.zeros(hidden)
    W2 = rng.normal(0, 1.0 / np.sqrt(hidden), (1, hidden))
    b2 = np.zeros(1)
    for _ in range(epochs):  # full-batch gradient descent
        h = dense_forward(X, W1, b1, "sigmoid")
        z = dense_forward(h, W2, b2, "identity")
        loss, dz = loss_sigmoid_bce(z, y)
        dW2, db2, dh = dense_backward(h, W2, z, dz, "identity")
        dW1, db1, _ = dense_backward(X, W1, h, dh, "sigmoid", need_dx=False)
        for param, grad in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            sgd_update(param, grad, lr=lr)
    z = dense_forward(dense_forward(X, W1, b1, "sigmoid"), W2, b2, "identity")
    accuracy = float(np.mean((z > 0) == (y > 0.5)))
    return loss, accuracy


def run_demo(args):
    print("XOR, 200 noisy points, 2-H-1 sigmoid net, full-batch SGD through the C kernels")
    print(f"{'hidden':>6} {'epochs':>6} {'final loss':>10} {'accuracy':>8} {'time':>8}")
    for hidden in (3, 50):
        t0 = time.perf_counter()
        loss, acc = train_xor(hidden, seed=args.seed)
        print(f"{hidden:>6} {2000:>6} {loss:>10.4f} {acc:>8.1%} {time.perf_counter() - t0:>7.2f}s")
    return 0

"""``fastmlp demo``: small networks from the source documents trained on built-in data, with a results table."""
import time

import numpy as np

from .mlp import MLP


def xor_data(n=200, seed=0):
    """Source document 001: 2-D Gaussian points around the corners (+-1, +-1), class 1 where the signs differ."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)
    X = centres[rng.integers(0, 4, size=n)] + 0.3 * rng.standard_normal((n, 2))
    y = (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(np.int64)
    return X, y


def sine_data(n=2000, seed=0):
    """Source document 000: f(x) = sin(2x) + cos(x) + x on [-pi, 2pi]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, 2 * np.pi, size=(n, 1))
    return x, np.sin(2 * x) + np.cos(x) + x


def _run(rows, name, model, X, y, Xte, yte, **fit):
    t0 = time.perf_counter()
    history = model.fit(X, y, **fit)
    dt = time.perf_counter() - t0
    metric = model.score(Xte, yte)
    kind = "accuracy" if model.is_classifier else "R^2"
    rows.append((name, f"{history['loss'][-1]:.4f}", f"{kind} {metric:.4f}", f"{dt:.2f}s"))


def run_demo(args):
    seed = args.seed
    rows = []
    X, y = xor_data(seed=seed)
    Xte, yte = xor_data(seed=seed + 100)
    for hidden in (3, 50):
        _run(rows, f"XOR 2-{hidden}-2 sigmoid", MLP([2, hidden, 2], activation="sigmoid", seed=seed), X, y, Xte, yte,
             epochs=300, batch_size=16, lr=0.5, optimizer="momentum")
    X, y = sine_data(seed=seed)
    Xte, yte = sine_data(500, seed=seed + 100)
    for hidden in ([12], [64], [6, 6]):
        name = "sine 1-" + "-".join(map(str, hidden)) + "-1 relu"
        _run(rows, name, MLP([1, *hidden, 1], seed=seed, loss="mse"), X, y, Xte, yte, epochs=200, batch_size=32,
             lr=0.01, optimizer="adam")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rows.append(("digits 64-128-10", "-", "needs pip install 'fastmlp[sklearn]'", "-"))
    else:
        Xd, yd = load_digits(return_X_y=True)
        Xd = Xd / 16.0
        perm = np.random.default_rng(seed).permutation(len(yd))
        cut = int(0.75 * len(yd))
        tr, te = perm[:cut], perm[cut:]
        _run(rows, "digits 64-128-10 relu", MLP([64, 128, 10], seed=seed), Xd[tr], yd[tr], Xd[te], yd[te],
             epochs=40, batch_size=32, lr=0.003, optimizer="adam")
    widths = [max(len(r[i]) for r in rows + [("network", "final loss", "test metric", "time")]) for i in range(4)]
    header = ("network", "final loss", "test metric", "time")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0

"""Fixtures: made once, copied into every attack's folder."""
import os
import subprocess
import sys

from .case import HOME


def make_fixtures(base):
    import numpy as np
    sys.path.insert(0, HOME)
    import fastmlp
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] + 2 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    Xr = rng.normal(size=(200, 2))
    yr = np.sin(Xr.sum(1, keepdims=True))
    np.savez(os.path.join(base, "data.npz"), X=X, y=y, Xr=Xr, yr=yr)
    m = fastmlp.MLP([4, 8, 3], seed=0)
    m.fit(X, y, epochs=3, optimizer="adam")
    m.save(os.path.join(base, "m.npz"), metadata={"note": "fixture"})
    cols = ["a", "b", "c", "d"]
    with open(os.path.join(base, "train.csv"), "w") as f:
        f.write(",".join(cols + ["label"]) + "\n")
        for r, lab in zip(X, y):
            f.write(",".join(f"{v:.6g}" for v in r) + f",{lab}\n")
    with open(os.path.join(base, "test.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in X[:40]:
            f.write(",".join(f"{v:.6g}" for v in r) + "\n")
    with open(os.path.join(base, "old.csv"), "w") as f:
        f.write("an existing output\n")
    env = dict(os.environ, PYTHONPATH=HOME)
    r = subprocess.run([sys.executable, "-m", "fastmlp", "train", "train.csv", "--out", "cli.npz", "--epochs", "30",
                        "--quiet", "--seed", "0", "--val", "0"], cwd=base, env=env, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(os.path.join(base, "cli.npz")):
        print("warning: fixture cli.npz not trained:", r.stderr.strip()[-300:], file=sys.stderr)
    r = subprocess.run([sys.executable, "-m", "fastmlp", "predict", "cli.npz", "test.csv"], cwd=base, env=env,
                       capture_output=True, text=True)
    with open(os.path.join(base, "ref_pred.csv"), "w") as f:
        f.write(r.stdout)

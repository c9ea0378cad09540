"""The default paths beside the expert ones (issue 15), one thread: ``model.predict`` on one sample beside
``model.predictor()``, ``model.train_step`` beside ``model.stepper`` at 2-3-1, B=64 and B=256, and a public kernel
call on a tiny array (its per-call cost) beside the same call on a large one; ``track_overhead_ratio`` records the
default path's time over the expert one's."""
import numpy as np

from fastmlp import MLP, _core, adam_update, sgd_update

from . import median_seconds, rng, uniform

CASES = ["predict 784-256-128-10 B=1", "train_step 2-3-1 B=4", "train_step 784-256-128-10 B=64",
         "train_step 784-256-128-10 B=256"]


def _pair(case):
    """(default path, expert path) as zero-argument calls."""
    r = rng(0)
    if case.startswith("predict"):
        model = MLP([784, 256, 128, 10], loss="softmax_ce", seed=0)
        x = uniform(r, (1, 784), "float32")
        pred = model.predictor()
        return (lambda: model.predict(x)), (lambda: pred(x))
    if "2-3-1" in case:
        model = MLP([2, 3, 1], activation="sigmoid", loss="mse", seed=0)
        X, y = uniform(r, (4, 2), "float32"), uniform(r, (4, 1), "float32", 0.0, 1.0)
        lr = 0.1
    else:
        B = int(case.rsplit("=", 1)[1])
        model = MLP([784, 256, 128, 10], loss="softmax_ce", seed=0)
        X, y = uniform(r, (B, 784), "float32"), r.integers(0, 10, size=B)
        lr = 1e-3
    step = model.stepper(X, y, lr=lr)
    return (lambda: model.train_step(X, y, lr=lr)), step


class DefaultPaths:
    params = (CASES, ["default", "expert"])
    param_names = ["case", "path"]

    def setup(self, case, path):
        self.before = _core.get_num_threads()
        _core.set_num_threads(1)
        self.default, self.expert = _pair(case)
        self.call = self.default if path == "default" else self.expert

    def teardown(self, case, path):
        _core.set_num_threads(self.before)

    def time_call(self, case, path):
        self.call()

    def track_overhead_ratio(self, case, path):
        return median_seconds(self.default) / median_seconds(self.expert)
    track_overhead_ratio.unit = "ratio"


class KernelCall:
    """``sgd_update`` through its public call: 4x4 (the call's own cost) and 256x784 (memory speed), without and
    with momentum 0.9 (with the default NaN/Inf scan, fused into the C pass, and without it), ``adam_update``,
    beside its C kernel alone (``_core._sgd_update_loop``: the C function in a C loop);
    ``track_call_over_kernel`` is the public call's time over the kernel's (momentum 0.9)."""
    params = (["4x4", "256x784"],)
    param_names = ["shape"]

    def setup(self, shape):
        rows, cols = (int(s) for s in shape.split("x"))
        r = rng(0)
        self.w, self.g = uniform(r, (rows, cols), "float32"), uniform(r, (rows, cols), "float32")
        self.v = np.zeros((rows, cols), np.float32)
        self.m, self.v2 = np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.float32)
        self.loop = 1000 if rows * cols < 4096 else 1  # C-loop calls per timed kernel-alone run (4x4: nanoseconds)
        self.before = _core.get_num_threads()
        _core.set_num_threads(1)

    def teardown(self, shape):
        _core.set_num_threads(self.before)

    def time_sgd_update(self, shape):
        sgd_update(self.w, self.g, lr=1e-6)

    def time_sgd_update_momentum(self, shape):
        sgd_update(self.w, self.g, self.v, lr=1e-6, momentum=0.9)

    def time_sgd_update_momentum_unchecked(self, shape):
        sgd_update(self.w, self.g, self.v, lr=1e-6, momentum=0.9, check_finite=False)

    def time_adam_update(self, shape):
        adam_update(self.w, self.g, self.m, self.v2, 3, lr=1e-6)

    def track_kernel_alone_seconds(self, shape):
        return median_seconds(lambda: _core._sgd_update_loop(self.w, self.g, self.v, 1e-6, 0.9, self.loop)) / self.loop
    track_kernel_alone_seconds.unit = "seconds"

    def track_call_over_kernel(self, shape):
        call = median_seconds(lambda: sgd_update(self.w, self.g, self.v, lr=1e-6, momentum=0.9))
        return call / self.track_kernel_alone_seconds(shape)
    track_call_over_kernel.unit = "ratio"

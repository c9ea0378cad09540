"""The activations whose values come from an exponential (sigmoid, tanh; csrc/fexp.h) beside ReLU, one thread: the
forward product with each (bias and activation fused into its epilogue) and the training step of a digits-sized
network (scikit-learn's default hidden layer and batch: 64-100-10, B=200)."""
from fastmlp import MLP, _core, dense_forward

from . import rng, uniform

ACTS = ["relu", "sigmoid", "tanh"]


class ActivationForward:
    """dense_forward 256 x 784 -> 256 with each activation (float32)."""
    params = (ACTS,)
    param_names = ["act"]

    def setup(self, act):
        _core.set_num_threads(1)
        r = rng(0)
        self.x, self.W = uniform(r, (256, 784), "float32"), uniform(r, (256, 784), "float32", -0.05, 0.05)
        self.b = uniform(r, (256,), "float32")
        self.out = dense_forward(self.x, self.W, self.b, act)

    def time_forward(self, act):
        dense_forward(self.x, self.W, self.b, act, out=self.out, check_finite=False)


class ActivationStep:
    """model.stepper() of a 64-100-10 softmax cross-entropy network, B=200, each hidden activation (float32)."""
    params = (ACTS,)
    param_names = ["act"]

    def setup(self, act):
        _core.set_num_threads(1)
        r = rng(1)
        X = uniform(r, (200, 64), "float32")
        y = r.integers(0, 10, size=200)
        self.step = MLP([64, 100, 10], activation=act, seed=0).stepper(X, y, lr=1e-3)

    def time_step(self, act):
        self.step()

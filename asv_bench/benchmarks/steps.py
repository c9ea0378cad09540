"""The training step's own passes beside its products, one thread: a stepper of 784-256-128-10 with each update rule
at a small and a medium batch (the overflow bound's scan and the update read every parameter once per step, so
their share grows as the batch shrinks; with the bounds memo a step scans only the gradient), the small layers'
plain backward (the 100 -> 1 output layer of a binary classifier, B=200) and scikit-learn's alpha (the penalty's
sums over every weight, each step)."""
import warnings

import numpy as np

from fastmlp import MLP, _core

from . import rng, uniform


class StepUpdateRule:
    """model.stepper() of 784-256-128-10 (softmax cross-entropy, float32) with each update rule."""
    params = (["sgd", "momentum", "adam"], [16, 64])
    param_names = ["optimizer", "batch"]

    def setup(self, optimizer, batch):
        _core.set_num_threads(1)
        r = rng(2)
        X, y = uniform(r, (batch, 784), "float32"), r.integers(0, 10, size=batch)
        self.step = MLP([784, 256, 128, 10], seed=0).stepper(X, y, lr=1e-4, optimizer=optimizer)

    def time_step(self, optimizer, batch):
        self.step()


class StepBinary:
    """model.stepper() of 64-100-1 with the logistic loss, B=200: the output layer takes the plain loops."""

    def setup(self):
        _core.set_num_threads(1)
        r = rng(3)
        X = uniform(r, (200, 64), "float32")
        t = (r.random((200, 1)) > 0.5).astype(np.float32)
        self.step = MLP([64, 100, 1], loss="sigmoid_bce", seed=0).stepper(X, t, lr=1e-3)

    def time_step(self):
        self.step()


class EstimatorAlpha:
    """fastmlp's MLPClassifier.partial_fit, one pass over 2048 samples of 784 features in batches of 64, SGD with
    momentum, with and without scikit-learn's alpha."""
    params = ([0.0, 1e-4],)
    param_names = ["alpha"]

    def setup(self, alpha):
        from fastmlp.estimators import MLPClassifier
        _core.set_num_threads(1)
        r = rng(4)
        self.X, self.y = uniform(r, (2048, 784), "float32"), r.integers(0, 10, size=2048)
        self.clf = MLPClassifier(hidden_layer_sizes=(256, 128), solver="sgd", batch_size=64, learning_rate_init=1e-3,
                                 momentum=0.9, max_iter=1, alpha=alpha, random_state=0)

    def time_partial_fit(self, alpha):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.X, self.y, classes=np.arange(10))

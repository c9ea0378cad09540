"""fastmlp.regions: exact region enumeration (plane geometry vs the LP search), deep -> shallow, decision
boundaries. Random N(0, 1) float64 nets over [-2, 2]^n, as in ``fastmlp bench regions``."""
import numpy as np

import fastmlp
from fastmlp import regions as R


def _net(layers, seed=0, scale=1.0):
    m = fastmlp.MLP(list(layers), activation="relu", loss="mse", dtype="float64", seed=0)
    m.set_flat_params(scale * np.random.default_rng(seed).normal(size=m.n_params))
    return m


class Enumerate2D:
    """enumerate_regions on 2-input nets: method "geometry" on every net, "lp" on the small ones."""
    params = (["2-8-8-1", "2-16-16-1", "2-32-32-1", "2-64-64-1", "2-32-32-32-1"], ["geometry", "lp"])
    param_names = ["net", "method"]
    timeout = 120

    def setup(self, net, method):
        if method == "lp" and net not in ("2-8-8-1", "2-16-16-1"):
            raise NotImplementedError("the LP path takes seconds to minutes here")
        self.model = _net(int(v) for v in net.split("-"))

    def time_enumerate(self, net, method):
        R.enumerate_regions(self.model, (-2.0, 2.0), method=method, max_lps=10 ** 7)

    def peakmem_enumerate(self, net, method):
        R.enumerate_regions(self.model, (-2.0, 2.0), method=method, max_lps=10 ** 7)


class EnumerateND:
    """The LP path on 3- and 4-input nets, with and without its speed-ups (fast_lp)."""
    params = (["3-8-8-1", "4-8-8-1"], [True, False])
    param_names = ["net", "fast_lp"]
    timeout = 120

    def setup(self, net, fast_lp):
        self.model = _net(int(v) for v in net.split("-"))

    def time_enumerate(self, net, fast_lp):
        R.enumerate_regions(self.model, (-2.0, 2.0), fast_lp=fast_lp, max_lps=10 ** 7)


class Shallow:
    """to_shallow (every cell, geometric path) and one evaluation of 10,000 inputs."""
    params = ([8, 32, 64],)
    param_names = ["width"]

    def setup(self, width):
        self.model = _net([2, width, width, 1], seed=1, scale=0.5)
        self.shallow = R.to_shallow(self.model, (-2.0, 2.0))
        self.X = np.random.default_rng(0).uniform(-2, 2, size=(10_000, 2))

    def time_to_shallow(self, width):
        R.to_shallow(self.model, (-2.0, 2.0))

    def time_evaluate(self, width):
        self.shallow(self.X)


class Boundary:
    """decision_boundary of a 2-input, 3-class net (one enumeration included)."""
    params = ([16, 32],)
    param_names = ["width"]

    def setup(self, width):
        self.model = _net([2, width, width, 3], seed=2)

    def time_decision_boundary(self, width):
        R.decision_boundary(self.model, (-4.0, 4.0))

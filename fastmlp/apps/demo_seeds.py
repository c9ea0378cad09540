"""Demo sections for source documents 002 and 003 (``fastmlp demo derivatives``, ``fastmlp demo shap``).

* derivatives (source 002): the central difference with Delta = 0.001 on the seed's functions and on a trained
  net, against the exact derivative (calculus, and the backward pass ``fastmlp.jacobian``); the error as Delta
  sweeps 1e-1 ... 1e-12 in float32 and float64 (truncation ~ Delta^2 falls, rounding ~ eps / Delta rises: a V);
  a tangent-line figure.
* shap (source 003; a named section, not in the default run): ``fastmlp.apps.demo_shap``.

Every row names its source document (``Row.source``), the seed's claim (``reference``), the setup (``name``), what
was measured (``result``, ``note``) and a verdict (``verdict``).
"""
import time

import numpy as np

from .. import schedules
from ..derivatives import derivative, jacobian, numerical_jacobian
from ..mlp import MLP
from . import datasets, demo_shap, plots_seeds
from .demo_base import Row, holds_in  # noqa: F401  (holds_in: re-exported)

#: Steps of the sweep: 1e-1 ... 1e-12.
DELTAS = 10.0 ** -np.arange(1, 13)
#: The seed's step.
SEED_DELTA = 1e-3


# ---- the seed's functions and their exact derivatives -----------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


#: (name, f, exact f'): the functions of source 002's book chapter (square, sigmoid, leaky ReLU) and sin.
FUNCTIONS = (
    ("square x^2", lambda x: x * x, lambda x: 2 * x),
    ("sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    ("leaky_relu (0.2)", lambda x: np.where(x > 0, x, 0.2 * x), lambda x: np.where(x > 0, 1.0, 0.2)),
    ("sin", np.sin, np.cos),
)
#: Points where the derivatives are taken: away from leaky_relu's kink at 0.
POINTS = np.array([-2.0, -1.3, -0.4, 0.3, 0.9, 1.7, 2.5])


def _rel_err(got, exact):
    got, exact = np.asarray(got, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    return float(np.max(np.abs(got - exact) / np.maximum(np.abs(exact), 1.0)))


def sweep(f, fprime, points, dtype, deltas=DELTAS):
    """The largest relative error of ``derivative(f, points, delta)`` computed in ``dtype``, for each delta."""
    exact = fprime(points.astype(np.float64))
    return np.array([_rel_err(derivative(f, points.astype(dtype), d), exact) for d in deltas])


def derivatives(ctx):
    """Source document 002: the derivative approximated by ``(f(a + Delta) - f(a - Delta)) / (2 Delta)``,
    Delta = 0.001, against the exact derivative: its three experiments in turn."""
    return seed_step(ctx) + step_sweep(ctx) + trained_net(ctx)


def seed_step(ctx):
    """The seed's functions (``FUNCTIONS``) at Delta = 0.001, float64 and float32, against the exact derivative."""
    rows = []
    t0 = time.perf_counter()
    for name, f, fp in FUNCTIONS:
        e64 = _rel_err(derivative(f, POINTS, SEED_DELTA), fp(POINTS))
        e32 = _rel_err(derivative(f, POINTS.astype(np.float32), SEED_DELTA), fp(POINTS))
        ok = e64 < 1e-5 and e32 < 1e-2
        rows.append(Row("derivatives", f"d/dx {name}, {len(POINTS)} points", None,
                        f"max rel err {e64:.1e} (f64), {e32:.1e} (f32)", "Delta = 0.001 approximates f'",
                        "truncation ~Delta^2 f'''/6" if e64 > 1e-12 else "exact for this f (f''' = 0)",
                        time.perf_counter() - t0, dict(err64=e64, err32=e32), source="002",
                        verdict=holds_in([ok])))
        t0 = time.perf_counter()
    return rows


def step_sweep(ctx):
    """The V: the error against Delta (``DELTAS``) on sin in float64 and float32; the figure "derivatives_delta"."""
    rows, curves = [], {}
    t0 = time.perf_counter()
    for dt in ("float64", "float32"):
        err = sweep(np.sin, np.cos, POINTS, dt)
        curves[dt] = err
        best = int(np.argmin(err))
        eps = float(np.finfo(dt).eps)
        v = err[0] > err[best] < err[-1]
        at_seed = float(err[list(DELTAS).index(SEED_DELTA)])
        rows.append(Row("derivatives", f"sin, Delta 1e-1..1e-12, {dt}", None,
                        f"best Delta {DELTAS[best]:.0e} (err {err[best]:.1e}); at 1e-3 {at_seed:.1e}; "
                        f"at 1e-12 {err[-1]:.1e}",
                        "a very small Delta (0.001) gives the limit",
                        f"V: truncation falls, rounding rises; theory best ~eps^(1/3) = {eps ** (1 / 3):.0e}",
                        time.perf_counter() - t0,
                        dict(deltas=DELTAS.tolist(), errors=err.tolist(), best_delta=float(DELTAS[best]),
                             at_seed=at_seed), source="002",
                        verdict=(f"holds down to {DELTAS[best]:.0e}; smaller is worse (a V)" if v else
                                 "holds (no V seen)")))
        t0 = time.perf_counter()
    ctx.plot("derivatives_delta", plots_seeds.delta_sweep, DELTAS, curves, SEED_DELTA,
             title="central difference (f(a+D) - f(a-D)) / 2D on sin: max relative error against the step D")
    return rows


def trained_net(ctx):
    """A 1-32-1 tanh net trained on sin 2x + cos x + x: its slope from the backward pass (exact) against Delta =
    0.001, float64 and float32; the figure "derivatives_tangents"."""
    rows = []
    t0 = time.perf_counter()
    lo, hi = datasets.SINE_DOMAIN
    X, y = datasets.sine(2000, seed=0)
    xs = np.linspace(lo, hi, 401)[:, None]
    nets = {}
    for dt in ("float64", "float32"):
        model = MLP([1, 32, 1], activation="tanh", loss="mse", dtype=dt, seed=ctx.seed)
        epochs = 60 if ctx.quick else 150
        _, secs = ctx.train(f"derivatives 1-32-1 tanh {dt}", model, X, y, epochs, batch_size=32, lr=0.02,
                            optimizer="adam", lr_schedule=schedules.Exponential(0.05 ** (1 / epochs)))
        J = jacobian(model, xs)[:, 0, 0].astype(np.float64)
        fd = derivative(lambda v: model.forward(v.reshape(-1, 1)).reshape(-1), xs[:, 0].astype(dt), SEED_DELTA)
        fd64 = numerical_jacobian(lambda v: model.forward(v), xs, 1e-6 if dt == "float64" else 1e-2,
                                  dtype=dt)[:, 0, 0]
        e = float(np.max(np.abs(J - fd) / np.maximum(np.abs(J), 1.0)))
        e_best = float(np.max(np.abs(J - fd64) / np.maximum(np.abs(J), 1.0)))
        true_slope = 2 * np.cos(2 * xs[:, 0]) - np.sin(xs[:, 0]) + 1
        fit_err = float(np.sqrt(np.mean((J - true_slope) ** 2)))
        tol = 1e-5 if dt == "float64" else 1e-1
        rows.append(Row("derivatives", f"trained 1-32-1 tanh net ({dt}), 401 x", None,
                        f"max rel |backward - Delta 1e-3| {e:.1e}",
                        "Delta = 0.001 gives the net's slope",
                        f"exact: backward pass (dx = W^T dp); best-Delta gap {e_best:.1e}; net slope vs f' RMS "
                        f"{fit_err:.2f}", secs + time.perf_counter() - t0,
                        dict(err=e, err_best_delta=e_best, slope_rms=fit_err), source="002",
                        verdict=holds_in([e < tol])))
        nets[dt] = model
        t0 = time.perf_counter()
    ctx.plot("derivatives_tangents", plots_seeds.tangents, nets["float64"], datasets.sine_function, lo, hi,
             [-2.0, 0.0, 1.5, 3.5, 5.0], title="the derivative is the tangent's slope: a trained 1-32-1 tanh net "
             "(slope from the backward pass)\nand f(x) = sin 2x + cos x + x")
    return rows


#: Sections in the default run / named only (heavy), and their functions.
NAMED = ("shap",)
SECTIONS = {"derivatives": derivatives, **demo_shap.SECTIONS}

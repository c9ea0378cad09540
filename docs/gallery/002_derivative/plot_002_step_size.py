"""
The derivative as a difference quotient: how small is small enough?
===================================================================

**Source 002 says:** the derivative f'(a) is the slope over a very small step; in code, take Delta = 0.001 and
compute (f(a + Delta) - f(a - Delta)) / (2 Delta).

This page checks the seed's step on its functions (square, sigmoid, leaky ReLU) and on sin, in float64 and float32,
against the exact derivative; then it sweeps Delta from 0.1 down to 1e-12. The error falls with Delta (truncation,
about Delta^2 f'''/6) until rounding takes over (about eps / Delta): a V whose bottom is near eps^(1/3). "A very
small Delta" holds only down to that bottom.

*Setup here:* as the demo (``fastmlp demo derivatives``); nothing is trained.
"""

# %%
# The seed's step on the seed's functions
# ---------------------------------------
# ``demo_seeds.seed_step`` and ``demo_seeds.step_sweep`` are the first two parts of ``fastmlp demo derivatives``.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_seeds
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
print(describe(demo_seeds.seed_step(ctx)))

# %%
# Sweeping the step
# -----------------
# The largest relative error over seven points, for each Delta, in float64 and float32.
print(describe(demo_seeds.step_sweep(ctx)))

# %%
# The V
# -----
# Right of the bottom, rounding error dominates: a smaller step is worse. The dotted lines mark eps^(1/3) for each
# precision, the dashed line the seed's 0.001: see on which side of each bottom it falls.
fig = ctx.figure("derivatives_delta", plt.figure())

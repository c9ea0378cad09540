"""
The slope of a trained net: backward pass against the step 0.001
=================================================================

**Source 002 says:** the derivative computed with Delta = 0.001 gives the slope -- here, the slope of a trained
network with respect to its input.

This page trains a 1-32-1 tanh net on f(x) = sin 2x + cos x + x in float64 and float32, takes its exact slope at 401
points from the backward pass (``fastmlp.jacobian``: dx = W^T dp, layer by layer) and compares it with the
difference quotient at Delta = 0.001.

*Setup here:* the demo's ``--quick`` sizes -- 60 epochs (``fastmlp demo derivatives``: 150).
"""

# %%
# Train the nets and compare the slopes
# -------------------------------------
# ``demo_seeds.trained_net`` is the last part of ``fastmlp demo derivatives``.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_seeds
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
rows = demo_seeds.trained_net(ctx)

# %%
# The verdicts measured in this build
# -----------------------------------
# "net slope vs f' RMS" is how far the net's slope is from the true f' -- a fit of f does not fit f' as well.
print(describe(rows))

# %%
# Tangents
# --------
# The float64 net with its tangent lines; each slope comes from the backward pass.
fig = ctx.figure("derivatives_tangents", plt.figure())

"""
Two outputs, one set of kinks: sin and cos from one 1-3-2 net
=============================================================

**Source 000 says:** one network can fit several outputs at once -- a 1-3-2 ReLU net fits x -> (sin x, cos x) on
[-pi, pi] (its notebook: MSE about 0.012) -- and because both outputs are sums of the same hidden units, both break
(change slope) at the same x, where a hidden unit switches.

This page trains the net, finds each output's breakpoints exactly (``fastmlp.regions.pieces_1d``) and judges both
claims.

*Setup here:* the demo's ``--quick`` sizes -- 30 epochs, best of 3 restarts (``fastmlp demo sincos``: 50 epochs,
best of 5); the notebook's learning rate is not given, so the demo's Adam schedule is used.
"""

# %%
# Train the net and find the breakpoints
# --------------------------------------
# ``demo_fits.sincos`` is the experiment of ``fastmlp demo sincos``.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_fits
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
rows = demo_fits.sincos(ctx)

# %%
# The verdict measured in this build
# ----------------------------------
print(describe(rows))

# %%
# Both outputs and their shared breakpoints
# -----------------------------------------
# Solid: the two outputs of the one net; dashed: sin and cos; dotted vertical lines: the breakpoints, shared.
fig = ctx.figure("sincos", plt.figure())

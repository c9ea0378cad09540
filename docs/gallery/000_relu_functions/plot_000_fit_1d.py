"""
A curve drawn with straight pieces: shallow and deep ReLU fits
==============================================================

**Source 000 says:** a ReLU network computes a piecewise-linear function. A shallow net with *n* hidden units has at
most *n* + 1 linear pieces on a line, so more units give more pieces and a better fit; stacking layers multiplies
pieces, so a deep 1-6-6-1 net should make more pieces than a shallow 1-12-1 net with the same twelve units.

This page fits f(x) = sin 2x + cos x + x on [-pi, 2pi] with 1-12-1, 1-32-1, 1-64-1 and 1-6-6-1 ReLU nets, counts
the exact linear pieces of each trained net (``fastmlp.regions.pieces_1d``) and judges each claim.

*Setup here:* the demo's ``--quick`` sizes -- 40 epochs, best of 2 restarts (``fastmlp demo fit``: 50 epochs, best of
5) -- and one initialisation seed (the demo judges over three).
"""

# %%
# Train the four nets
# -------------------
# ``demo_fits.fit`` is the experiment of ``fastmlp demo fit``: He weights with the first layer's kinks spread over
# the domain, Adam with batch 32 and a decaying learning rate, the best restart by training MSE. It returns the rows
# of the demo's table; with ``figures=True`` the context keeps the figures for us to draw.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_fits
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
rows = demo_fits.fit(ctx)

# %%
# The verdicts measured in this build
# -----------------------------------
# One block per net: the source's claim, what was measured, and whether the claim holds.
print(describe(rows))

# %%
# The fits and their pieces
# -------------------------
# Each net is drawn exactly from its linear pieces; the dots mark the breakpoints where the slope changes. Count
# them against the bound (units + 1 for a shallow net) and compare the deep net's pieces with the 1-12-1's.
fig = ctx.figure("fit_sine", plt.figure())

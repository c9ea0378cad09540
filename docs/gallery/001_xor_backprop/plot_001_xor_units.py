"""
XOR needs hidden units: no hidden layer, 3 units, 50 units
==========================================================

**Source 001 says** (backpropagation from scratch on XOR, sigmoid layers): a straight line cannot separate XOR, so a
net without a hidden layer fails; with 3 hidden neurons the net is weak (a simple boundary); with 50 it fits the data
and is more accurate.

This page trains the three nets by full-batch gradient descent (one step per epoch, as the source) on 300 noisy XOR
points and judges each claim on 2000 test points.

*Setup here:* the demo's ``--quick`` sizes -- 3000 epochs (``fastmlp demo xor``: 4000) -- and one initialisation
seed (the demo judges over three). The source uses squared error; these three runs use softmax cross-entropy (the
next page also runs the source's squared error).
"""

# %%
# Train the three nets
# --------------------
# ``demo_xor.xor`` is the experiment of ``fastmlp demo xor``; ``runs=demo_xor.UNITS`` selects its first three runs.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_xor
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
rows = demo_xor.xor(ctx, runs=demo_xor.UNITS)

# %%
# The verdicts measured in this build
# -----------------------------------
# "measured" describes each loss curve; a *period-2 cycle* is a loss that alternates between two values every
# epoch (a step size at the edge of stability), reported with both of its states.
print(describe(rows))

# %%
# Decision boundaries
# -------------------
# Colour: the probability of class 1; black line: where the classes tie. Without a hidden layer the boundary is a
# straight line; compare how three and fifty units bend it around the four clusters.
fig = ctx.figure("xor_boundaries", plt.figure())

# %%
# Accuracy during training
# ------------------------
# Sampled every odd number of epochs, so that a period-2 cycle shows as a band instead of one of its two states.
fig = ctx.figure("xor_accuracy", plt.figure())

# %%
# Training loss
# -------------
fig = ctx.figure("xor_loss", plt.figure())

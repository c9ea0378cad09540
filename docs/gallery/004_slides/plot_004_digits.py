"""
p = Wx + b and "ideal p": one layer against three
=================================================

**Source 004 says** (the slides): a layer computes p = Wx + b; training pushes p towards an "ideal p" -- +5 for the
right class, -5 for the others -- with the updates db = dp, dW = dp x^T, dx = W^T dp, ReLU masking dp where p was 0,
and batch gradient descent. On MNIST one layer reaches about 80 % and three layers about 86 %.

This page trains on scikit-learn's 8x8 digits (75/25 split) a linear 64-10 net (one layer, p = Wx + b) and a 3-layer
64-128-64-10 ReLU net, each with the slides' +-5 squared error (``loss="ideal_mse"``) and with softmax
cross-entropy; then the 3-layer net with the slides' own recipe (full-batch gradient descent on the +-5 targets).
The claim judged is the comparison, three layers against one: 8x8 digits is not MNIST, so the slides' levels do not
apply (``fastmlp demo mnist`` runs MNIST when its files are there).

*Setup here:* the demo's ``--quick`` sizes -- 10 epochs of Adam with batch 32 (``fastmlp demo digits``: 40) and 30
full-batch steps for the slides' recipe (the demo: 150).
"""

# %%
# Train the nets
# --------------
# ``demo_slides.digits`` is the experiment of ``fastmlp demo digits``.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_slides
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
rows = demo_slides.digits(ctx)

# %%
# The verdicts measured in this build
# -----------------------------------
# "+-5 MSE" rows use the ideal-p targets; "CE" rows softmax cross-entropy; the last row the slides' recipe.
print(describe(rows))

# %%
# Test accuracy after each epoch
# ------------------------------
fig = ctx.figure("digits_accuracy", plt.figure())

# %%
# Training loss
# -------------
# Each run on its own loss: the +-5 squared error is on another scale than cross-entropy.
fig = ctx.figure("digits_loss", plt.figure())

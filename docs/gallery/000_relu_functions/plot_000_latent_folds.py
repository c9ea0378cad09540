"""
Ten units fold the plane: a 1-2-10-1 net from the inside
========================================================

**Source 000 says** (its first figure): in a 1-2-10-1 ReLU net trained on f(x) = sin 2x + cos x + x, each of the ten
second-layer units h'_k = relu(theta'_k . (h1, h2) + beta_k) folds the plane of the first layer's outputs (h1, h2)
along its own line -- ten units, ten different folds -- and the input reaches that plane along the path
x -> (h1(x), h2(x)).

This page trains that net, finds each unit's fold line, checks that the ten lines are distinct and counts how many of
them the data's path crosses (a fold the data never reach does not shape the fit).

*Setup here:* the demo's ``--quick`` sizes -- 40 epochs, best of 2 restarts (``fastmlp demo latent``: 60 epochs,
best of 5).
"""

# %%
# Train the net and find the folds
# --------------------------------
# ``demo_latent.latent`` is the experiment of ``fastmlp demo latent``.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_latent
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
rows = demo_latent.latent(ctx)

# %%
# The verdict measured in this build
# ----------------------------------
print(describe(rows))

# %%
# Each unit's folded plane
# ------------------------
# One panel per second-layer unit: its output over the (h1, h2) plane -- a plane folded flat along one line -- and,
# in red, the data's path through it.
fig = ctx.figure("latent_folds", plt.figure())

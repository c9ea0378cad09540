"""
A loss that jumps late, and its cures: decay and regularisation
===============================================================

**Source 001 says:** with 50 hidden neurons the training loss suddenly jumps late in training (exploding gradients);
a decaying learning rate, or stronger L2 (or L1) regularisation, avoids it.

This page runs the 50-unit net at a large learning rate (12 with cross-entropy; 50 with the source's squared error on
sigmoid outputs), then the same with each cure, and judges every claim from the measured loss curve: a late rise to
3x the best loss so far is a jump; ending 1.5x above the best is a blow-up.

*Setup here:* the demo's ``--quick`` sizes -- 3000 epochs (``fastmlp demo xor``: 4000) -- and one initialisation
seed (the demo judges over three). The learning rates are the demo's choice, made so that the effects show.
"""

# %%
# Train the runs
# --------------
# ``demo_xor.xor`` is the experiment of ``fastmlp demo xor``; ``runs=demo_xor.JUMPS`` selects the large-rate runs
# and their cures.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_xor
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
rows = demo_xor.xor(ctx, runs=demo_xor.JUMPS)

# %%
# The verdicts measured in this build
# -----------------------------------
# "measured" says what each loss curve did: where it jumped and by how much, whether it recovered, whether it
# settled into a period-2 cycle.
print(describe(rows))

# %%
# The loss curves
# ---------------
# Left: cross-entropy at learning rate 12, without and with the cures; right: the source's squared error at 50.
fig = ctx.figure("xor_loss", plt.figure())

# %%
# Accuracy during training
# ------------------------
fig = ctx.figure("xor_accuracy", plt.figure())

# %%
# Decision boundaries at the end
# ------------------------------
fig = ctx.figure("xor_boundaries", plt.figure())

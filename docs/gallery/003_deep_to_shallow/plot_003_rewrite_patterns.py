"""
Deep to shallow: the three-layer rewrite and the cost of counting patterns
==========================================================================

**Source 003 says** (after arXiv 2306.11827): any deep ReLU network can be rewritten as an equivalent network with
three hidden layers; the rewrite enumerates the network's activation patterns, whose number grows exponentially with
the number of neurons -- about 10 minutes for 12 neurons in the source.

This page trains a 10-6-6-1 ReLU net (12 neurons, the source's size) on scikit-learn's diabetes data, rewrites it
(``fastmlp.regions.to_shallow``) and compares the two nets on held-out patients; then it times the rewrite of
10-n/2-n/2-1 nets for n = 4, 8, 12, ... neurons until one passes the time budget, and fits the growth per neuron.

*Setup here:* the demo's ``--quick`` sizes -- 60 training epochs (``fastmlp demo shap``: 200) and a 5 s budget per
rewrite in the timing curve (the demo: 20 s), so the curve stops at fewer neurons.
"""

# %%
# Train the deep net and rewrite it
# ---------------------------------
# ``demo_shap.diabetes``, ``deep_net`` and ``rewrite`` are the first part of ``fastmlp demo shap``.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_shap
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
data = demo_shap.diabetes()
model, seconds = demo_shap.deep_net(ctx, data)
print(describe(demo_shap.rewrite(ctx, data, model, seconds)))

# %%
# How the rewrite's time grows with the neurons
# ---------------------------------------------
# ``demo_shap.rewrite_timing``: each net is trained briefly, then rewritten; the time follows the number of cells
# (activation patterns met in the input box).
print(describe(demo_shap.rewrite_timing(ctx, data)))

# %%
# The timing curve
# ----------------
# Seconds on a log scale against the neurons, with the number of cells at each point; the dashed line is the
# source's 10 minutes for 12 neurons.
fig = ctx.figure("shap_timing", plt.figure())

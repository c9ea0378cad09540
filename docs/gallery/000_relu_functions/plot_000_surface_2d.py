"""
A 2-D surface from flat facets: linear regions of shallow and deep nets
=======================================================================

**Source 000 says:** with two inputs a ReLU net cuts the plane into linear regions and fits a surface with one flat
facet per region. Its notebooks fit f(x1, x2) = sin 2x1 sin 2x2 + cos x1 cos x2 + x1 + x2 on a 100k-point grid with
2-12-1, 2-32-1, 2-64-1 and 2-6-6-1 nets (train MSE 0.165, 0.071, 0.049, 0.105); a deep net makes more regions than a
shallow one with as many neurons, and the 2-6-6-1 net is on a par with the 2-32-1.

This page trains the four nets twice -- with the notebooks' Adam at its default constant rate, and tuned -- counts
the regions of each trained net exactly (``fastmlp.regions.enumerate_regions``) and judges each claim.

*Setup here:* the source's own sizes (the 100k grid, 5 epochs, batch 32; ``--quick`` changes nothing in this
experiment) with one initialisation seed (the demo judges over three).
"""

# %%
# Train the eight nets and count their regions
# --------------------------------------------
# ``demo_fits.surface`` is the experiment of ``fastmlp demo surface``.
import matplotlib.pyplot as plt

from fastmlp.apps import demo_fits
from fastmlp.apps.demo_base import Context, describe

ctx = Context(seed=0, quick=True, quiet=True, figures=True)
rows = demo_fits.surface(ctx)

# %%
# The verdicts measured in this build
# -----------------------------------
# Each fit against the notebook's train MSE, then the two claims about regions, measured on the tuned nets.
print(describe(rows))

# %%
# The target and the fits
# -----------------------
# Top: the target and each tuned net's surface on one colour scale; bottom: each fit's error.
fig = ctx.figure("surface_fits", plt.figure())

# %%
# The same as surfaces
# --------------------
# As the source's notebooks draw them: a ReLU net's surface is made of flat facets, one per linear region.
fig = ctx.figure("surface_3d", plt.figure())

# %%
# Inside the deep net
# -------------------
# Every hidden unit of the tuned 2-6-6-1 net over the input square: the first layer's units are planes cut off at
# zero (the white line), the second layer's units fold those cuts together.
fig = ctx.figure("surface_neurons", plt.figure())

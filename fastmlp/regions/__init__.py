"""Linear regions of ReLU networks: a ReLU MLP is a continuous piecewise-affine function, and this module finds its
pieces exactly (no sampling).

What is analysed. Every function here takes a ``fastmlp.MLP`` whose hidden layers are all ``"relu"`` (any other
hidden activation is refused with a ValueError). The affine maps describe the output layer's *pre-activation*
``z = W_out h + b_out``: with the default ``output="identity"`` that is exactly ``model.forward``; with another
output activation (sigmoid, tanh, relu) ``model.forward(x) = act(alpha x + beta)`` and the pieces are those of
``z`` (the logits), not of ``act(z)``. All arithmetic is float64, for float32 models too (their weights are
widened; ``model.forward`` itself then rounds to float32, so it agrees only to float32 precision).

Conventions. A hidden unit is *active* when its pre-activation is strictly positive. Every input then has exactly
one activation pattern (one bool per hidden unit), and since relu(0) = 0 the choice at exactly 0 never changes the
output. "Linear region" has two non-equivalent meanings and the functions say which one they return:

* activation regions (cells): the sets of inputs sharing one activation pattern; convex polyhedra. In general
  position these are full-dimensional; ``enumerate_regions(..., cells="all")`` also keeps the lower-dimensional
  ones that degenerate networks have (needed for an exact shallow net on region boundaries).
* affine pieces: maximal sets on which the network is one affine map; a union of activation regions (a unit can
  switch without changing the map, e.g. when its outgoing weights are zero).

Exact counting is #P-hard in general and the counts can grow exponentially with depth; ``enumerate_regions``
therefore takes budgets (``max_regions``, ``max_lps``, ``max_seconds``) and raises ``RegionBudgetError``
instead of running on.

Functions: ``activation_patterns``, ``local_linear``, ``pieces_1d`` (exact 1-D analysis, no LP),
``enumerate_regions`` / ``count_regions`` (exact n-D, one small LP per undecided branch, needs scipy:
``pip install "fastmlp[regions]"``; 1- and 2-input nets in a box by plane geometry instead, no LP, no scipy),
``decision_boundary`` / ``partition_stats`` (exact class boundaries and level sets of 2-input nets as segments;
region counts, areas, densities, slope norms), ``to_shallow`` / ``ShallowNet`` (the equivalent network with three hidden
layers), ``linear_shap`` and ``shapley_values`` (explanations), ``shallow_region_bound``, ``pattern_bound``,
``product_region_bound`` (bounds). The figures (``plot_pieces_1d``, ``plot_regions_2d``; matplotlib, an optional
extra) are in ``fastmlp.apps.plots``.

Modules, by concern (each imports only numpy, ``fastmlp.mlp`` and modules listed before it):
``readers`` (the model as float64 arrays; validated points, boxes, numbers), ``patterns`` (activation patterns and
local affine maps), ``pieces`` (exact 1-D), ``bounds``, ``cells`` (``Region``, ``Regions``), ``cellmaps`` (a
cell's rows and maps from its pattern), ``planar`` (1-/2-D partition by clipping), ``searchnode`` (the n-D
search's branches and LP rows), ``enumeration`` (exact n-D search and its budgets), ``boundary`` (decision
boundaries, partition statistics), ``shallow`` (deep -> shallow), ``shap`` (explanations).
"""
from .boundary import Boundary, decision_boundary, partition_stats
from .bounds import pattern_bound, product_region_bound, shallow_region_bound
from .cells import Region, Regions
from .enumeration import RegionBudgetError, count_regions, enumerate_regions
from .patterns import activation_patterns, local_linear
from .pieces import Pieces1D, pieces_1d
from .shallow import ShallowNet, to_shallow
from .shap import linear_shap, shapley_values

__all__ = [
    "Pieces1D", "Region", "Regions", "RegionBudgetError", "ShallowNet",
    "activation_patterns", "local_linear", "pieces_1d", "enumerate_regions", "count_regions", "to_shallow",
    "linear_shap", "shapley_values", "shallow_region_bound", "pattern_bound", "product_region_bound",
    "Boundary", "decision_boundary", "partition_stats",
]


def __getattr__(name):
    # the figures moved to the applications layer (regions never imports it): say where, not just "no attribute"
    if name in ("plot_pieces_1d", "plot_regions_2d"):
        raise AttributeError(f"fastmlp.regions.{name} moved to fastmlp.apps.plots.{name} (matplotlib figures live "
                             f"in the applications layer)")
    raise AttributeError(f"module 'fastmlp.regions' has no attribute {name!r}")

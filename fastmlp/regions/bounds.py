"""Upper bounds on the number of linear regions, to report beside the exact counts (exact Python ints)."""
from __future__ import annotations

import math

from .readers import is_int


def shallow_region_bound(n_in, n_units):
    """The most regions that ``n_units`` ReLU units (hyperplanes) in general position cut R^n_in into.

    ``sum_{j <= d} C(D, j)`` with D = n_units, d = n_in (Zaslavsky); ``2^D`` when d >= D.

    Parameters
    ----------
    n_in : int
        The input dimension d.
    n_units : int
        The number of units D of one hidden layer.

    Returns
    -------
    int
        The bound, an exact Python int.

    Examples
    --------
    >>> from fastmlp import regions
    >>> regions.shallow_region_bound(2, 12)                      # 1 + 12 + 66
    79
    """
    for name, v in (("n_in", n_in), ("n_units", n_units)):
        if not is_int(v) or v < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {v!r}")
    return sum(math.comb(int(n_units), j) for j in range(min(int(n_in), int(n_units)) + 1))


def pattern_bound(n_units):
    """``2^n_units``: the number of activation patterns, a trivial bound on the number of regions.

    Parameters
    ----------
    n_units : int
        The number of hidden units.

    Returns
    -------
    int
        ``2 ** n_units``.

    Examples
    --------
    >>> from fastmlp import regions
    >>> regions.pattern_bound(12)
    4096
    """
    if not is_int(n_units) or n_units < 0:
        raise ValueError(f"n_units: expected an int >= 0, got {n_units!r}")
    return 1 << int(n_units)


def product_region_bound(layers):
    """The layer-product upper bound on the number of regions (Montufar 2017; Serra et al. 2018 tighten it).

    ``prod_l sum_{j <= d_l} C(n_l, j)``, ``d_l = min(n_0, ..., n_{l-1})``.

    Parameters
    ----------
    layers : sequence of int or MLP
        The layer sizes ``[n_0, n_1, ..., n_L, n_out]``, or a model.

    Returns
    -------
    int
        The bound, an exact Python int.

    Examples
    --------
    >>> from fastmlp import regions
    >>> regions.product_region_bound([2, 6, 6, 1])               # 22 * 22
    484
    """
    if hasattr(layers, "layers"):
        layers = layers.layers
    try:
        layers = list(layers)
    except TypeError:
        raise ValueError(f"layers: expected a list of layer sizes, got {layers!r}") from None
    if not all(is_int(v) for v in layers):
        raise ValueError(f"layers: expected integer layer sizes, got {layers}")
    layers = [int(v) for v in layers]
    if len(layers) < 2 or min(layers) < 1:
        raise ValueError(f"layers: expected [n_in, ..., n_out] with sizes >= 1, got {layers}")
    bound, d = 1, layers[0]
    for width in layers[1:-1]:
        bound *= shallow_region_bound(d, width)
        d = min(d, width)
    return bound

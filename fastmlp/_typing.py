"""Type aliases of the public API's annotations (``fastmlp`` ships ``py.typed``)."""
from typing import Any, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

#: A float32 or float64 array, as the kernels and models return them.
FloatArray = NDArray[np.floating[Any]]
#: A model's layer sizes or a hidden activation given per layer.
Sizes = Sequence[int]
Activation = Union[str, Sequence[str]]
#: A seed as numpy's ``default_rng`` takes it.
Seed = Optional[Union[int, np.integer[Any], Sequence[int], np.random.SeedSequence, np.random.BitGenerator,
                      np.random.Generator]]

__all__ = ["ArrayLike", "DTypeLike", "NDArray", "FloatArray", "Sizes", "Activation", "Seed"]

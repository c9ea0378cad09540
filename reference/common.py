"""Constants and argument checks shared by the reference kernels (the same checks as csrc/internal.h)."""
import math

ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, ACT_TANH = 0, 1, 2, 3
ACTIVATIONS = {"identity": ACT_IDENTITY, "relu": ACT_RELU, "sigmoid": ACT_SIGMOID, "tanh": ACT_TANH}


class KernelError(ValueError):
    """A reference kernel refused its arguments, where the C twin returns a negative FM_E* code.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> try:
    ...     ref.dense_forward([1.0], [1.0], None, [0.0], 0, 1, 1, ref.ACT_IDENTITY)   # n = 0 rows
    ... except ref.KernelError as e:
    ...     print("refused:", e)
    refused: zero size
    """


def check_sizes(*sizes):
    for s in sizes:
        if s <= 0:
            raise KernelError("zero size")


def check_act(act):
    if act not in (ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, ACT_TANH):
        raise KernelError("unknown enum value")


def finite_nonneg(v):
    return math.isfinite(v) and v >= 0.0

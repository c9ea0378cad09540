"""Every name fastmlp accepts, defined once: activations, losses, optimizers, schedules, initialisations, dtypes.

The bottom of the package's layers: plain data, no imports. The compiled core takes its activation and loss codes
from the position of each name here and checks at import that they equal the C enums of ``fastmlp.h``; the
library, the estimators and the command line take their names and choices from here.
"""

#: Hidden and output activations; the position of each is its ``fm_act`` code in ``fastmlp.h``.
ACTIVATIONS = ("identity", "relu", "sigmoid", "tanh")

#: Losses the C core computes; the position of each is its ``fm_loss`` code in ``fastmlp.h``.
CORE_LOSSES = ("mse", "softmax_ce", "sigmoid_bce", "poisson")
#: Losses a model takes: the core's, plus ``ideal_mse`` (source document 004: squared error against +5 for the
#: right class and -5 for the others, on integer labels; computed by the core's ``mse``).
LOSSES = CORE_LOSSES + ("ideal_mse",)
#: Losses that take logits (or, Poisson, the log of the mean): the output activation must be ``identity``.
LOGIT_LOSSES = ("softmax_ce", "sigmoid_bce", "poisson")
#: Losses whose targets are integer class labels.
LABEL_LOSSES = ("softmax_ce", "ideal_mse")
#: Losses of a classifier (``predict`` gives labels, ``score`` accuracy).
CLASSIFIER_LOSSES = ("softmax_ce", "sigmoid_bce", "ideal_mse")
#: Target of the right class (and minus that of the others) for ``ideal_mse``.
IDEAL_TARGET = 5.0

#: Update rules: plain SGD, SGD with momentum, with Nesterov momentum, and Adam.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
#: Learning-rate schedules by name (``fastmlp.schedules``); a callable is accepted too.
SCHEDULES = ("constant", "step", "exponential", "invscaling", "plateau")
#: Weight initialisations.
INITS = ("he", "glorot", "uniform")
#: Floating-point types of a model and of the kernels.
DTYPES = ("float32", "float64")
#: What ``fit`` does when the loss becomes NaN/Inf.
ON_DIVERGENCE = ("raise", "warn")

"""The estimators' data as the C core takes it: dense rows (a C-contiguous array of the network's dtype) or a
sparse matrix (scipy CSR/CSC, given to the core as CSR: the first layer runs on the nonzeros, nothing is
densified), with the sample weights and the targets in the form of the network's loss."""
import numpy as np

from .. import training, validation


def core_matrix(X, dtype):
    """``X`` as the C core takes it: an array as it is (the estimators' validation made it C-contiguous, finite,
    of ``dtype``), a sparse matrix as a ``_core.CSR`` (``fastmlp.validation.sparse_features``)."""
    if not validation.is_sparse(X):
        return np.ascontiguousarray(X, dtype=dtype)
    return validation.sparse_features("X", X, dtype, X.shape[1])


class Inputs:
    """Checked features: ``X`` as given (array or sparse), ``core`` as the C core takes it, ``dtype``."""

    def __init__(self, X, dtype=None):
        self.X = X
        self.dtype = np.dtype(X.dtype if dtype is None else dtype)
        self.core = core_matrix(X, self.dtype)

    @property
    def n(self):
        return self.X.shape[0]

    def forward(self, model):
        """The network's raw outputs for these inputs."""
        out = np.empty((self.n, model.n_out), dtype=model.dtype)
        return model._net.forward(model._params, self.core, out)

    def sample_weight(self, sample_weight):
        """``fastmlp.validation.sample_weight`` for these inputs (one weight per row, in their dtype)."""
        return validation.sample_weight(sample_weight, self.n, self.dtype)


class Data(training.Data):
    """Training data in the C core's form, keeping the checked source rows to cut chunks from."""

    def __init__(self, inputs, t, labels, sw):
        super().__init__(inputs.core, t, labels, None, sw)
        self.inputs = inputs

    @property
    def n(self):
        return self.inputs.n

    def rows(self, start, end):
        """The samples start..end-1 (a piece of the full-batch loss: one C call)."""
        return Data(Inputs(self.inputs.X[start:end], self.inputs.dtype), _rows(self.t, start, end),
                    _rows(self.labels, start, end), _rows(self.sw, start, end))


def _rows(a, s, e):
    return None if a is None else a[s:e]

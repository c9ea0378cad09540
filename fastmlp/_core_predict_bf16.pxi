# _core_predict_bf16.pxi: PredictorBF16, a frozen network with bfloat16 weights -- included by _core.pyx (after
# _core_bf16.pxi, whose dense_pack_bf16 and PackedWeightsBF16 it uses)
# ---------------------------------------------------------------------------------------------------------------

cdef class PredictorBF16:
    """A frozen copy of a network with its weights in bfloat16, as ``model.predictor(dtype="bfloat16")`` returns it.

    ``pred(X)`` runs every layer with ``dense_forward_bf16`` (the weights packed once; each layer's input rounded to
    bf16, float32 sums and biases): float32 inputs and outputs, within bf16 rounding of the float32 network's
    outputs and equal bit for bit to the reference twin's (``fastmlp.reference.dense_forward_bf16`` layer by
    layer), on every CPU and for any batch size or thread count. Later training does not change it: make a new one.
    X: an array with n_in columns, converted to C-contiguous float32 where it is not; ``pred(X,
    check_finite=False)`` skips its NaN/Inf scan. Every thread may share one. Made by
    ``model.predictor(dtype="bfloat16")`` (or ``"bf16"``), or ``PredictorBF16(layers, activations, flat_params)``
    as ``Predictor``: the layer sizes, one activation per layer (the output's last) and the parameters ``[W0, b0,
    W1, b1, ...]`` (float32 or float64; weights rounded to float32, then to bf16; biases rounded to float32).

    Attributes
    ----------
    n_in : int
        The number of inputs.
    n_out : int
        The number of outputs.
    dtype : numpy.dtype
        float32: the dtype of X and of the outputs.
    weights_dtype : str
        ``"bfloat16"``: the dtype the weights are held in.

    Raises
    ------
    TypeError
        flat_params is not a float32 or float64 array, or an activation is not a str.
    ValueError
        The sizes, activations and parameters do not fit together, or a parameter is NaN or Inf (or a weight
        rounds past the largest bf16).

    See Also
    --------
    Predictor : The same in the model's own dtype, bit for bit ``model.forward``.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> model = fastmlp.MLP([3, 4, 2], seed=0)
    >>> pred = model.predictor(dtype="bfloat16")
    >>> x = np.ones((1, 3), dtype=np.float32)
    >>> pred.n_in, pred.n_out, pred.dtype, pred.weights_dtype
    (3, 2, dtype('float32'), 'bfloat16')
    >>> bool(np.abs(pred(x) - model.forward(x)).max() < 0.05)
    True
    """
    cdef size_t n_layers, widest
    cdef size_t sizes[FM_MAX_LAYERS + 1]
    cdef fm_act acts[FM_MAX_LAYERS]
    cdef list _Wp
    cdef list _b
    cdef const uint16_t *wps[FM_MAX_LAYERS]
    cdef const float *bs[FM_MAX_LAYERS]
    cdef bint _ready

    weights_dtype = "bfloat16"

    def __init__(self, layers, activations, flat_params):
        cdef PackedWeightsBF16 pw
        if self._ready:
            raise TypeError("PredictorBF16: already initialised; make a new one")
        if not isinstance(flat_params, np.ndarray):
            raise TypeError(f"params: expected a numpy.ndarray, got {type(flat_params).__name__}")
        if np.dtype(flat_params.dtype) not in _FLOAT_DTYPES:
            raise TypeError(f"params: expected float32 or float64, got {flat_params.dtype}")
        if flat_params.ndim != 1:
            raise ValueError(f"params: expected a flat vector, got shape {flat_params.shape}")
        layers, activations = list(layers), list(activations)
        if len(layers) < 2 or len(layers) - 1 > FM_MAX_LAYERS or len(activations) != len(layers) - 1:
            raise ValueError("layers/activations: inconsistent network description")
        for s in layers:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
                raise ValueError(f"layers: every layer size must be an int >= 1, got {s!r}")
        sizes = [int(s) for s in layers]
        acts = [_act(a) for a in activations]
        if sum(sizes[l + 1] * (sizes[l] + 1) for l in range(len(sizes) - 1)) != flat_params.shape[0]:
            raise ValueError("params: length does not match the layer sizes")
        Wps, bs = [], []
        off = 0
        for l in range(len(sizes) - 1):
            n_in, n_out = sizes[l], sizes[l + 1]
            W = np.ascontiguousarray(flat_params[off: off + n_out * n_in].reshape(n_out, n_in), dtype=_F32)
            b = np.array(flat_params[off + n_out * n_in: off + n_out * n_in + n_out], dtype=_F32)
            off += n_out * n_in + n_out
            if not _all_finite(b):
                raise ValueError("params: contains NaN or Inf")
            Wps.append(dense_pack_bf16(W))
            bs.append(b)
        self.n_layers = len(sizes) - 1
        self.widest = max(sizes[1:])
        self._Wp, self._b = Wps, bs
        for l in range(self.n_layers):
            self.sizes[l], self.sizes[l + 1] = sizes[l], sizes[l + 1]
            self.acts[l] = acts[l]
            pw = Wps[l]
            self.wps[l] = <const uint16_t *><size_t>pw._values.ctypes.data  # owned by self._Wp / self._b
            self.bs[l] = <const float *><size_t>bs[l].ctypes.data
        self._ready = True

    @property
    def dtype(self):
        return _F32

    @property
    def n_in(self):
        return self.sizes[0]

    @property
    def n_out(self):
        return self.sizes[self.n_layers]

    def __call__(self, X, check_finite=True):
        """The network's output for X[n, n_in] (float32; other arrays are converted), float32."""
        if not self._ready:
            raise TypeError("PredictorBF16 objects are made by model.predictor(dtype='bfloat16') (or "
                            "PredictorBF16(layers, activations, params)); this one was never initialised")
        if check_finite is not True and check_finite is not False:
            check_finite = _flag("check_finite", check_finite)
        cdef bint scan = check_finite
        if not (_fast_arr(X, cnp.NPY_FLOAT, 2, False) and <size_t>_dim(X, 1) == self.sizes[0]):
            X = np.ascontiguousarray(X, dtype=_F32)
            if X.ndim != 2 or <size_t>X.shape[1] != self.sizes[0] or X.shape[0] == 0:
                raise ValueError(f"X: expected shape (n >= 1, {self.sizes[0]}), got {X.shape}")
        cdef size_t n = _dim(X, 0)
        cdef size_t chunk = n if n < 256 else 256
        # scratch of each call's own (threads may share one predictor): on the C stack when it is small (one
        # sample through layers up to 2048 wide), else an array
        cdef float small[4096]
        cdef float *work = small
        if 2 * chunk * self.widest > 4096:
            scratch = np.empty(2 * chunk * self.widest, dtype=_F32)
            work = <float *>_ptr(scratch)
        out = np.empty((n, self.sizes[self.n_layers]), dtype=_F32)
        cdef const float *xp = <const float *>_ptr(X)
        cdef float *op = <float *>_ptr(out)
        cdef size_t n_in = self.sizes[0], n_out = self.sizes[self.n_layers]
        cdef int rc = 0
        cdef size_t l = 0, s = 0, m
        cdef const float *inp
        cdef float *dst
        cdef float *bufs[2]
        bufs[0] = work
        bufs[1] = work + chunk * self.widest
        with nogil:
            if scan and not _finite_ptr_f32(xp, n * n_in):
                rc = 1
            while rc == 0 and s < n:
                m = n - s if n - s < chunk else chunk
                inp = xp + s * n_in
                for l in range(self.n_layers):
                    dst = op + s * n_out if l + 1 == self.n_layers else bufs[l % 2]
                    rc = fm_dense_forward_bf16(inp, self.wps[l], self.bs[l], dst, m, self.sizes[l],
                                               self.sizes[l + 1], self.acts[l])
                    if rc:
                        break
                    inp = dst
                s += m
        if rc == 1:
            raise ValueError("X: contains NaN or Inf")
        if rc:  # FM_EVALUE at layer l > 0: the previous layer's float32 output was too large for bfloat16
            _bf16_forward_raise(rc, "PredictorBF16", "X" if l == 0 else f"the activations entering layer {l}")
        return out


_BF16_NAMES = ("bfloat16", "bf16")


def make_predictor(layers, activations, flat_params, dtype=None):
    """``Predictor`` (dtype None or the params' own dtype) or ``PredictorBF16`` (dtype "bfloat16")."""
    if isinstance(dtype, str) and dtype in _BF16_NAMES:
        return PredictorBF16(layers, activations, flat_params)
    if dtype is not None:
        try:
            same = np.dtype(dtype) == flat_params.dtype
        except TypeError:
            same = False
        if not same:
            raise ValueError(f"dtype: expected None, the model's dtype ({flat_params.dtype}) or 'bfloat16', "
                             f"got {dtype!r}")
    return Predictor(layers, activations, flat_params)

# _core_predict.pxi: Predictor, a frozen network in the packed layout -- included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------

cdef extern from "internal.h" nogil:
    # the forward from the packed panels, or from W in place where that is faster (W NULL: the panels only), and
    # whether a layer has batches for which it is (n 0) -- dense.inc
    int fmi_dense_in_place_f32(size_t n, size_t n_in, size_t n_out)
    int fmi_dense_in_place_f64(size_t n, size_t n_in, size_t n_out)
    int fmi_dense_forward_dual_f32(const float *x, const float *W, const float *Wp, const float *b, float *p,
                                   size_t n, size_t n_in, size_t n_out, size_t nc, fm_act act)
    int fmi_dense_forward_dual_f64(const double *x, const double *W, const double *Wp, const double *b, double *p,
                                   size_t n, size_t n_in, size_t n_out, size_t nc, fm_act act)


cdef inline int _forward_dual(const floating *x, const floating *W, const floating *Wp, const floating *b,
                              floating *p, size_t n, size_t n_in, size_t n_out, size_t nc, fm_act act) noexcept nogil:
    if floating is float:
        return fmi_dense_forward_dual_f32(x, W, Wp, b, p, n, n_in, n_out, nc, act)
    else:
        return fmi_dense_forward_dual_f64(x, W, Wp, b, p, n, n_in, n_out, nc, act)


cdef enum:
    _PRED_STACK = 2048  # doubles of a call's stack scratch (16 KiB): one row of a network up to 2048 wide (float32)


cdef class Predictor:
    """A frozen copy of a network's weights in the packed inference layout, as ``model.predictor()`` returns it.

    ``pred(X)`` gives ``model.forward(X)`` bit for bit, without rearranging the weights on every call and with
    the least per-call work (the fast path for batch-1 inference). Later training does not change it: make a new
    one. On the AVX2 and AVX-512 paths, a layer whose weights outgrow half of the L2 cache and that has batches
    the batch-along-lanes forward takes whole (two or more vectors of rows: 32-96 float32 rows on AVX-512; 16 and
    4 rows too where the weights come from memory) also keeps them in their own layout, twice that layer's memory
    (``nbytes``): those batches read them in place, up to 1.5x faster (the same bits). X: a C-contiguous array
    of the model's dtype with n_in columns (others are converted). Every thread may share one. Made by
    ``model.predictor()``, or ``Predictor(layers, activations, flat_params)`` from the layer sizes, one activation
    per layer (the output's last) and the parameters ``[W0, b0, W1, b1, ...]`` (float32 or float64, copied).

    Attributes
    ----------
    n_in : int
        The number of inputs.
    n_out : int
        The number of outputs.
    dtype : numpy.dtype
        The weights' dtype.
    nbytes : int
        The bytes of weights and biases it holds (both layouts, where a layer keeps two).

    Raises
    ------
    TypeError
        flat_params is not a float32 or float64 array.
    ValueError
        The sizes, activations and parameters do not fit together.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> model = fastmlp.MLP([3, 4, 2], seed=0)
    >>> pred = model.predictor()
    >>> x = np.ones((1, 3), dtype=np.float32)
    >>> pred.n_in, pred.n_out, bool((pred(x) == model.forward(x)).all())
    (3, 2, True)
    """
    cdef size_t n_layers, nc, widest
    cdef size_t sizes[FM_MAX_LAYERS + 1]
    cdef fm_act acts[FM_MAX_LAYERS]
    cdef readonly object dtype
    cdef bint f64
    cdef list _Wp
    cdef list _W
    cdef list _b
    cdef const void *wps[FM_MAX_LAYERS]
    cdef const void *ws[FM_MAX_LAYERS]  # W in its own layout where fmi_dense_in_place(0, ...), else NULL
    cdef const void *bs[FM_MAX_LAYERS]
    cdef bint _ready  # set by a successful __init__ only: a bare Predictor.__new__ is refused

    def __init__(self, layers, activations, flat_params):
        # everything is checked and packed into locals first, then committed; an initialised predictor never
        # changes (other threads may be predicting with it without the GIL): re-initialising is refused
        cdef PackedWeights pw
        if self._ready:
            raise TypeError("Predictor: already initialised; make a new one")
        if not isinstance(flat_params, np.ndarray):
            raise TypeError(f"params: expected a numpy.ndarray, got {type(flat_params).__name__}")
        dt = np.dtype(flat_params.dtype)
        if dt not in _FLOAT_DTYPES:
            raise TypeError(f"params: expected float32 or float64, got {dt}")
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
        Wps, Ws, bs = [], [], []
        off = 0
        for l in range(len(sizes) - 1):
            n_in, n_out = sizes[l], sizes[l + 1]
            W = np.ascontiguousarray(flat_params[off: off + n_out * n_in].reshape(n_out, n_in))
            b = np.array(flat_params[off + n_out * n_in: off + n_out * n_in + n_out])
            off += n_out * n_in + n_out
            Wps.append(dense_pack(W))
            keep = (fmi_dense_in_place_f64(0, n_in, n_out) if dt == np.float64
                    else fmi_dense_in_place_f32(0, n_in, n_out))
            Ws.append(_aligned_copy(W) if keep else None)  # on a cache line, as the packed layout
            bs.append(b)
        # commit
        self.dtype = dt
        self.f64 = dt == np.float64
        self.n_layers = len(sizes) - 1
        self.nc = dense_pack_width(dt)
        self.widest = max(sizes[1:])
        self._Wp, self._W, self._b = Wps, Ws, bs
        for l in range(self.n_layers):
            self.sizes[l], self.sizes[l + 1] = sizes[l], sizes[l + 1]
            self.acts[l] = acts[l]
            pw = Wps[l]
            self.wps[l] = <const void *><size_t>pw._values.ctypes.data  # owned by self._Wp, _W and _b
            self.ws[l] = NULL
            if Ws[l] is not None:
                self.ws[l] = <const void *><size_t>Ws[l].ctypes.data
            self.bs[l] = <const void *><size_t>bs[l].ctypes.data
        self._ready = True

    @property
    def n_in(self):
        return self.sizes[0]

    @property
    def n_out(self):
        return self.sizes[self.n_layers]

    cdef _need(self):
        if not self._ready:
            raise TypeError("Predictor objects are made by model.predictor() (or Predictor(layers, activations, "
                            "params)); this one was never initialised")

    @property
    def nbytes(self):
        self._need()
        return sum((<PackedWeights>w)._values.nbytes for w in self._Wp) + sum(
            0 if w is None else w.nbytes for w in self._W) + sum(b.nbytes for b in self._b)

    def __call__(self, X, check_finite=True):
        """The network's output for X[n, n_in] (the last activation applied; logits for cross-entropy models)."""
        self._need()
        if check_finite is not True and check_finite is not False:
            check_finite = _flag("check_finite", check_finite)
        if not self._plain(X):
            X = np.ascontiguousarray(X, dtype=self.dtype)
            if X.ndim != 2 or <size_t>X.shape[1] != self.sizes[0] or X.shape[0] == 0:
                raise ValueError(f"X: expected shape (n >= 1, {self.sizes[0]}), got {X.shape}")
        return self._run(X, check_finite)

    cdef bint _plain(self, X):
        """X is usable as it is: a non-empty 2-d C-contiguous aligned array of this dtype, n_in wide."""
        return (type(X) is np.ndarray and X.dtype is self.dtype and X.ndim == 2 and X.shape[0] != 0
                and <size_t>X.shape[1] == self.sizes[0] and X.flags.c_contiguous and X.flags.aligned)

    cdef object _run(self, X, bint check_finite):
        """out for a plain X (see ``_plain``), a chunk of at most 256 rows at a time (bounded scratch: a row's
        result does not depend on the rows computed with it). Raw pointers (X is plain; out is new) and, for a few
        rows, scratch on the C stack: a one-sample call costs ~0.3 us less than with typed memoryviews and a numpy
        scratch (784-256-128-10, Zen 4)."""
        cdef size_t n = X.shape[0]
        cdef size_t chunk = n if n < 256 else 256
        cdef double small[_PRED_STACK + 8]  # scratch of its own for every call, so that threads may share one
        cdef void *buf = <void *>((<size_t>&small[0] + 63) & ~(<size_t>63))  # predictor; 64-byte aligned
        cdef size_t need = 2 * chunk * self.widest * (8 if self.f64 else 4)
        scratch = None
        if need > _PRED_STACK * 8:
            scratch = _aligned_empty(need, np.uint8)
            buf = cnp.PyArray_DATA(<cnp.ndarray>scratch)
        out = np.empty((n, self.sizes[self.n_layers]), dtype=self.dtype)
        cdef const void *px = cnp.PyArray_DATA(<cnp.ndarray>X)
        cdef void *po = cnp.PyArray_DATA(<cnp.ndarray>out)
        cdef int rc
        with nogil:
            if self.f64:
                rc = _predictor_run[double](self, <const double *>px, <double *>po, <double *>buf, n, check_finite,
                                            chunk)
            else:
                rc = _predictor_run[float](self, <const float *>px, <float *>po, <float *>buf, n, check_finite, chunk)
        if rc == 1:
            raise ValueError("X: contains NaN or Inf")
        _raise_for(rc, "Predictor")
        return out


cdef int _predictor_run(Predictor self, const floating *X, floating *out, floating *scratch, size_t n,
                        bint check_finite, size_t chunk) noexcept nogil:
    """Layer by layer through the packed weights, ping-ponging between two halves of the scratch buffer, ``chunk``
    rows at a time: 1 when X holds NaN or Inf, else the C status."""
    cdef size_t l, s, m
    cdef size_t n_in = self.sizes[0], n_out = self.sizes[self.n_layers]
    cdef int rc = 0
    cdef const floating *inp
    cdef floating *bufs[2]
    cdef floating *dst
    bufs[0] = scratch
    bufs[1] = scratch + chunk * self.widest
    if check_finite:
        if floating is float:
            if not _finite_ptr_f32(X, n * n_in):
                return 1
        else:
            if not _finite_ptr_f64(X, n * n_in):
                return 1
    s = 0
    while s < n:
        m = n - s if n - s < chunk else chunk
        inp = X + s * n_in
        for l in range(self.n_layers):
            dst = out + s * n_out if l + 1 == self.n_layers else bufs[l % 2]
            rc = _forward_dual(inp, <const floating *>self.ws[l], <const floating *>self.wps[l],
                               <const floating *>self.bs[l], dst, m, self.sizes[l], self.sizes[l + 1], self.nc,
                               self.acts[l])
            if rc:
                return rc
            inp = dst
        s += m
    return 0

# _core_bf16.pxi: bfloat16 weights with float32 accumulation (csrc/bf16.c) -- included by _core.pyx
# ---------------------------------------------------------------------------------------------------------------
# numpy has no bfloat16: bf16 arrays are numpy.uint16 arrays holding the bits (the upper half of a float32's
# bits), as fm_float_to_bf16 writes them; ``bf16_to_float`` widens them back. Floats in and out are float32.

_BF16_BITS = np.dtype(np.uint16)
_F32 = np.dtype(np.float32)


cdef bint _finite_bf16(const uint16_t *a, size_t n) noexcept nogil:
    cdef size_t i
    cdef uint16_t bad = 0
    for i in range(n):
        bad |= (a[i] & 0x7f80u) == 0x7f80u
    return bad == 0


def bf16_path():
    """The bf16 product path in use: "vdpbf16ps" (the AVX512_BF16 instruction) or "emulated" (the same
    arithmetic, bit for bit, where the CPU lacks it or FASTMLP_ISA lowers the path below avx512)."""
    return fm_bf16_path().decode()


def float_to_bf16(x, *, out=None):
    """float32 x (any shape) rounded to bfloat16, as numpy.uint16 bits of the same shape: round to nearest even,
    NaN stays (quiet) NaN, zeros and float32 denormals give a zero of their sign, values past the largest bf16
    (3.39e38) give Inf (the rounding of the VCVTNEPS2BF16 instruction)."""
    x = _check("x", x, _F32, finite=False)
    y = _out("out", out, _BF16_BITS, x.shape)
    _no_overlap("out", y, (("x", x),))
    cdef const float[::1] xv = x.reshape(-1)
    cdef uint16_t[::1] yv = y.reshape(-1)
    cdef int rc
    with nogil:
        rc = fm_float_to_bf16(&xv[0], &yv[0], xv.shape[0])
    _raise_for(rc, "float_to_bf16")
    return y


def bf16_to_float(x, *, out=None):
    """bfloat16 bits (numpy.uint16, any shape) widened to float32 (exact)."""
    x = _check("x", x, _BF16_BITS, finite=False)
    y = _out("out", out, _F32, x.shape)
    _no_overlap("out", y, (("x", x),))
    cdef const uint16_t[::1] xv = x.reshape(-1)
    cdef float[::1] yv = y.reshape(-1)
    cdef int rc
    with nogil:
        rc = fm_bf16_to_float(&xv[0], &yv[0], xv.shape[0])
    _raise_for(rc, "bf16_to_float")
    return y


def dense_packed_size_bf16(size_t n_in, size_t n_out):
    """Length of the packed bf16 layout of W[n_out, n_in] (fm_dense_packed_size_bf16)."""
    cdef size_t count = 0
    _raise_for(fm_dense_packed_size_bf16(&count, n_in, n_out), "dense_packed_size_bf16")
    return count


@cython.auto_pickle(False)
cdef class PackedWeightsBF16:
    """W[n_out, n_in] in bfloat16, in the packed layout of ``dense_forward_bf16`` (fastmlp.h, fm_dense_pack_bf16),
    as ``dense_pack_bf16(W)`` returns it: the sizes are kept beside the values. Read-only: ``n_in``, ``n_out``,
    ``size`` and ``nbytes``; ``numpy.asarray(Wp)`` is a read-only numpy.uint16 view of the bf16 bits. The layout is
    the same on every CPU (unlike ``PackedWeights``)."""
    cdef readonly size_t n_in, n_out
    cdef object _values

    def __init__(self, *args, **kwargs):
        raise TypeError("PackedWeightsBF16 objects are made by dense_pack_bf16(W), not directly")

    cdef int _need(self) except -1:
        if self._values is None:
            raise TypeError("PackedWeightsBF16: not made by dense_pack_bf16(W)")
        return 0

    @property
    def size(self):
        self._need()
        return self._values.size

    @property
    def nbytes(self):
        self._need()
        return self._values.nbytes

    def __array__(self, dtype=None, copy=None):
        self._need()
        a = self._values.view()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            if copy is False:
                raise ValueError("PackedWeightsBF16: a different dtype needs a copy")
            return a.astype(dtype)
        return a.copy() if copy else a

    def __repr__(self):
        if self._values is None:
            return "<PackedWeightsBF16 (not made by dense_pack_bf16)>"
        return f"<PackedWeightsBF16 n_in={self.n_in} n_out={self.n_out}>"


def dense_pack_bf16(W):
    """W[n_out, n_in] as bfloat16 in the packed layout of ``dense_forward_bf16``: a ``PackedWeightsBF16``. W is
    float32 (rounded with ``float_to_bf16``) or numpy.uint16 bf16 bits (used as they are). NaN and Inf are refused,
    including float32 values that round past the largest bf16."""
    if isinstance(W, np.ndarray) and W.dtype not in (_F32, _BF16_BITS):
        raise TypeError(f"W: expected float32 or numpy.uint16 (bfloat16 bits), got {W.dtype}")
    W = _check("W", W, W.dtype if isinstance(W, np.ndarray) else _F32, (None, None), finite=False)
    Wb = W if W.dtype == _BF16_BITS else float_to_bf16(W)
    cdef const uint16_t[:, ::1] wv = Wb
    if not _finite_bf16(&wv[0, 0], Wb.size):
        raise ValueError("W: contains NaN or Inf (or float32 values past the largest bfloat16, 3.39e38)")
    n_out, n_in = W.shape
    Wp = np.empty(dense_packed_size_bf16(n_in, n_out), dtype=_BF16_BITS)
    cdef uint16_t[::1] pv = Wp
    cdef int rc
    with nogil:
        rc = fm_dense_pack_bf16(&wv[0, 0], &pv[0], wv.shape[1], wv.shape[0])
    _raise_for(rc, "dense_pack_bf16")
    Wp.flags.writeable = False
    cdef PackedWeightsBF16 pw = PackedWeightsBF16.__new__(PackedWeightsBF16)
    pw.n_in, pw.n_out, pw._values = n_in, n_out, Wp
    return pw


def dense_forward_bf16(x, Wp, b=None, act="relu", *, out=None, check_finite=True):
    """p = act(bf16(x) @ W.T + b) with float32 accumulation: x[n, n_in] float32 (rounded to bf16 as it is read),
    ``Wp = dense_pack_bf16(W)``, b[n_out] float32 or None; returns p[n, n_out] float32. The sums are those of the
    VDPBF16PS instruction (see fastmlp.h), on every CPU bit for bit. check_finite=False skips the NaN/Inf scan of
    x and b (dense_pack_bf16 checked W)."""
    check_finite = _flag("check_finite", check_finite)
    if not isinstance(Wp, PackedWeightsBF16):
        raise TypeError(f"Wp: expected the PackedWeightsBF16 that dense_pack_bf16(W) returns, got "
                        f"{type(Wp).__name__}")
    cdef PackedWeightsBF16 pw = Wp
    pw._need()
    x = _check("x", x, _F32, (None, pw.n_in), finite=check_finite)
    if b is not None:
        b = _check("b", b, _F32, (pw.n_out,), finite=check_finite)
    cdef fm_act code = _act(act)
    p = _out("out", out, _F32, (x.shape[0], pw.n_out))
    _no_overlap("out", p, (("x", x), ("Wp", pw._values), ("b", b)))
    cdef const float[:, ::1] xv = x
    cdef const uint16_t[::1] wv = pw._values
    cdef float[:, ::1] pv = p
    cdef const float[::1] bv
    cdef const float *bp = NULL
    if b is not None:
        bv = b
        bp = &bv[0]
    cdef int rc
    with nogil:
        rc = fm_dense_forward_bf16(&xv[0, 0], &wv[0], bp, &pv[0, 0], xv.shape[0], xv.shape[1], pv.shape[1], code)
    _raise_for(rc, "dense_forward_bf16")
    return p


# ---------------------------------------------------------------------------------------------------------------
# the bf16 predictor

cdef class PredictorBF16:
    """A frozen copy of a network with its weights in bfloat16 (packed once), float32 inputs and outputs:
    ``pred = model.predictor(dtype="bfloat16")`` then ``pred(X)``. Every layer runs ``dense_forward_bf16`` (its
    input rounded to bf16, float32 sums and biases); outputs are within bf16 rounding of the float32 network's and
    equal the reference twin's (fastmlp.reference.dense_forward_bf16 layer by layer) bit for bit, on every CPU and
    for any batch or thread count. Weights are rounded to float32, then to bf16. Same API as ``Predictor``:
    ``n_in``, ``n_out``, ``dtype`` (float32, of X and the output), ``pred(X, check_finite=True)``."""
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
        cdef size_t l, s = 0, m
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
        _raise_for(rc, "PredictorBF16")
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

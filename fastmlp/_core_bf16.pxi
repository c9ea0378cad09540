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


cdef int _bf16_forward_raise(int rc, str where, str name) except -1:
    """fm_dense_forward_bf16's status as an exception: FM_EVALUE is its refusal of a finite input that rounds to a
    bf16 Inf (every other argument was checked before the call)."""
    if rc == FM_EVALUE:
        raise ValueError(f"{where}: {name} holds finite values too large for bfloat16 (|{name}| >= 3.3961e38 rounds "
                         f"to Inf; the largest bfloat16 is 3.3895e38): scale the input down")
    return _raise_for(rc, where)


def bf16_path_for(cpu_path, has_bf16, nofma):
    """The rule bf16_path applies, for any kernel path and CPU (C: ``fm_bf16_path_for``; its twin is
    ``fastmlp.reference.bf16_path_for``): the path's name."""
    if not isinstance(cpu_path, str):
        raise TypeError(f"cpu_path: expected a str, got {type(cpu_path).__name__}")
    cdef bytes path = cpu_path.encode()
    cdef const char *name = NULL
    _raise_for(fm_bf16_path_for(path, &name, bool(has_bf16), bool(nofma)), "bf16_path_for")
    return name.decode()


def bf16_path():
    """The bfloat16 product path this process's ``dense_forward_bf16`` runs (C: ``fm_bf16_path``).

    The paths compute the same operations: results are equal bit for bit on every path, CPU, thread count and batch
    position; only the speed differs.

    Returns
    -------
    str
        ``"vdpbf16ps"`` (the AVX512_BF16 instruction) or ``"emulated"`` (the same arithmetic without it, where the
        CPU lacks it or ``FASTMLP_ISA`` lowers the kernel path below avx512), with ``"+fma"`` appended where exact
        float32 FMA tiles (AVX-512F or AVX2) take the blocks whose products and sums are exact in float32
        (``FASTMLP_BF16=nofma`` turns them off).

    See Also
    --------
    dense_forward_bf16 : The layer that runs on this path.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.bf16_path() in ("vdpbf16ps", "emulated", "vdpbf16ps+fma", "emulated+fma")
    True
    """
    return fm_bf16_path().decode()


def float_to_bf16(x, *, out=None):
    """float32 values rounded to bfloat16, as their bits (C: ``fm_float_to_bf16``).

    numpy has no bfloat16 dtype: bf16 arrays are ``numpy.uint16`` arrays of the bits (the upper half of a float32's
    bits). The rounding is the VCVTNEPS2BF16 instruction's: to nearest even; NaN stays NaN (made quiet, sign and
    top payload kept); zeros and float32 denormals give a zero of their sign; values past the largest bf16
    (about 3.39e38) give Inf of their sign.

    Parameters
    ----------
    x : ndarray of float32, any shape
        The values: C-contiguous, non-empty (NaN and Inf are converted too).
    out : ndarray of uint16, optional
        Where to write the bits (x's shape, C-contiguous, writable, no overlap with x); None allocates it.

    Returns
    -------
    ndarray of uint16
        The bf16 bits, of x's shape (``out`` when given).

    Raises
    ------
    TypeError
        x is not a float32 array, or ``out`` not a uint16 array.
    ValueError
        x is empty, non-contiguous or misaligned, or ``out`` has another shape, is read-only or overlaps x.

    See Also
    --------
    bf16_to_float : The way back (exact).
    fastmlp.reference.float_to_bf16 : The plain-Python twin (the oracle).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> fastmlp.float_to_bf16(np.array([1.0, 3.14159, -2.0], dtype=np.float32))
    array([16256, 16457, 49152], dtype=uint16)
    """
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
    """bfloat16 values, given as their bits, widened to float32 (C: ``fm_bf16_to_float``); exact.

    Parameters
    ----------
    x : ndarray of uint16, any shape
        The bf16 bits (as ``float_to_bf16`` writes them): C-contiguous, non-empty.
    out : ndarray of float32, optional
        Where to write the values (x's shape, C-contiguous, writable, no overlap with x); None allocates it.

    Returns
    -------
    ndarray of float32
        The values, of x's shape (``out`` when given).

    Raises
    ------
    TypeError
        x is not a uint16 array, or ``out`` not a float32 array.
    ValueError
        x is empty, non-contiguous or misaligned, or ``out`` has another shape, is read-only or overlaps x.

    See Also
    --------
    float_to_bf16 : The rounding to bf16.
    fastmlp.reference.bf16_to_float : The plain-Python twin (the oracle).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> fastmlp.bf16_to_float(fastmlp.float_to_bf16(np.array([1.0, 3.14159, -2.0], dtype=np.float32)))
    array([ 1.      ,  3.140625, -2.      ], dtype=float32)
    """
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
    """W[n_out, n_in] in bfloat16, packed for ``dense_forward_bf16``, as ``dense_pack_bf16(W)`` returns it.

    The sizes are kept beside the values, so that ``dense_forward_bf16`` cannot be given the wrong ones. Read-only:
    ``n_in``, ``n_out``, and ``size`` and ``nbytes`` of the packed values; ``numpy.asarray(Wp)`` is a read-only
    ``numpy.uint16`` view of their bf16 bits (the layout is described at ``fm_dense_packed_size_bf16`` on the C
    API page). Unlike ``PackedWeights`` the layout is the same on every CPU. Made by ``dense_pack_bf16`` only (not
    picklable).

    Attributes
    ----------
    n_in : int
        The number of inputs (columns of W).
    n_out : int
        The number of outputs (rows of W).
    size : int
        The number of packed values.
    nbytes : int
        Their size in bytes.

    Raises
    ------
    TypeError
        When constructed directly (``PackedWeightsBF16()``).

    See Also
    --------
    dense_pack_bf16 : Makes it.
    PackedWeights : The packed float32 or float64 weights of ``dense_forward_packed``.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> Wp = fastmlp.dense_pack_bf16(np.ones((3, 5), dtype=np.float32))
    >>> Wp.n_in, Wp.n_out, Wp.size == np.asarray(Wp).size, np.asarray(Wp).dtype
    (5, 3, True, dtype('uint16'))
    """
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
    """W in bfloat16 in the packed layout of ``dense_forward_bf16`` (C: ``fm_dense_pack_bf16``).

    Parameters
    ----------
    W : ndarray, shape (n_out, n_in)
        The weights: C-contiguous float32 (rounded to bf16 as ``float_to_bf16`` does) or ``numpy.uint16`` bf16
        bits (used as they are). NaN and Inf are refused, float32 values that round past the largest bf16 too.

    Returns
    -------
    PackedWeightsBF16
        A read-only copy of W in bf16, rearranged into panels, that remembers n_in and n_out. The layout is the
        same on every CPU.

    Raises
    ------
    TypeError
        W is not a float32 or uint16 array.
    ValueError
        W is not 2-D, is empty, non-contiguous or misaligned, or holds NaN or Inf (after the rounding to bf16).

    See Also
    --------
    dense_forward_bf16 : The layer that reads it.
    fastmlp.reference.dense_pack_bf16 : The plain-Python twin (the oracle).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> Wp = fastmlp.dense_pack_bf16(np.ones((3, 4), dtype=np.float32))
    >>> Wp.n_in, Wp.n_out
    (4, 3)
    """
    if isinstance(W, np.ndarray) and W.dtype not in (_F32, _BF16_BITS):
        raise TypeError(f"W: expected float32 or numpy.uint16 (bfloat16 bits), got {W.dtype}")
    W = _check("W", W, W.dtype if isinstance(W, np.ndarray) else _F32, (None, None), finite=False)
    Wb = W if W.dtype == _BF16_BITS else float_to_bf16(W)
    cdef const uint16_t[:, ::1] wv = Wb
    if not _finite_bf16(&wv[0, 0], Wb.size):
        raise ValueError("W: contains NaN or Inf (or float32 values past the largest bfloat16, 3.39e38)")
    n_out, n_in = W.shape
    Wp = _aligned_empty(dense_packed_size_bf16(n_in, n_out), _BF16_BITS)
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
    """One dense layer forward with bfloat16 weights and float32 sums (C: ``fm_dense_forward_bf16``).

    ``p = act(bf16(x) @ W.T + b)``: x is rounded to bf16 as it is read; every product of two bf16 values is exact
    and every sum is rounded to float32, in the order of the VDPBF16PS instruction (see ``fastmlp.h``), then the
    float32 bias is added and the activation applied. The results are the same bit for bit on every CPU and path
    (``bf16_path``), for any thread count and batch position, and equal the reference twin's.

    Parameters
    ----------
    x : ndarray of float32, shape (n, n_in)
        The batch, one sample per row: C-contiguous.
    Wp : PackedWeightsBF16
        The weights W[n_out, n_in], packed: ``dense_pack_bf16(W)``.
    b : ndarray of float32, shape (n_out,), optional
        The bias; None for no bias.
    act : {"relu", "identity", "sigmoid", "tanh"}, default "relu"
        The activation applied to every output.
    out : ndarray of float32, shape (n, n_out), optional
        Where to write p (C-contiguous, writable, no overlap with the inputs); None allocates it.
    check_finite : bool, default True
        False skips the NaN/Inf scan of x and b (``dense_pack_bf16`` has checked W), for callers that know.

    Returns
    -------
    p : ndarray of float32, shape (n, n_out)
        The layer's output (``out`` when given).

    Raises
    ------
    TypeError
        Wp is not a ``PackedWeightsBF16``, an array argument is not a float32 array, ``act`` is not a str or
        ``check_finite`` not a bool.
    ValueError
        A shape does not match Wp's n_in or n_out, an array is empty, non-contiguous or holds NaN/Inf, ``out`` is
        read-only or overlaps an input, ``act`` is unknown, or x holds finite values that round past the largest
        bfloat16 (``|x| >= 3.3961e38``: they would become Inf; refused whatever ``check_finite``, like such
        values of W by ``dense_pack_bf16``).

    See Also
    --------
    dense_pack_bf16 : Packs W for this function.
    dense_forward : The same layer in float32 or float64.
    fastmlp.reference.dense_forward_bf16 : The plain-Python twin (the oracle).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> Wp = fastmlp.dense_pack_bf16(np.array([[0.5, 0.25, -1.0], [1.0, 1.0, 1.0]], dtype=np.float32))
    >>> x = np.array([[1.0, -2.0, 0.5]], dtype=np.float32)
    >>> fastmlp.dense_forward_bf16(x, Wp, np.array([0.0, 1.0], dtype=np.float32), "relu")
    array([[0. , 0.5]], dtype=float32)
    """
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
    _bf16_forward_raise(rc, "dense_forward_bf16", "x")
    return p


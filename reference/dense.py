"""Twin of csrc/dense.c (dense.inc): one fully connected layer, forward and backward."""
import math

from .common import ACT_RELU, ACT_SIGMOID, ACT_TANH, KernelError, check_act, check_sizes


def act_apply(z, act):
    if act == ACT_RELU:
        return z if z > 0.0 else 0.0
    if act == ACT_SIGMOID:
        e = math.exp(z if z < 0.0 else -z)  # e^-|z| (C: fexp.h's exponential, to ~1 ulp)
        return 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
    if act == ACT_TANH:
        return math.tanh(z)
    return z


def act_grad(p, act):
    """act'(z) written with the output p = act(z) (dense.inc inlines these in one loop per activation)."""
    if act == ACT_RELU:
        return 1.0 if p > 0.0 else 0.0
    if act == ACT_SIGMOID:
        return p * (1.0 - p)
    if act == ACT_TANH:
        return 1.0 - p * p
    return 1.0


def dense_forward(x, W, b, p, n, n_in, n_out, act):
    """p[n][n_out] = act(x[n][n_in] . W[n_out][n_in]^T + b[n_out]); b may be None.

    Parameters
    ----------
    x : list of float
        The input rows, ``n * n_in`` values, row-major.
    W : list of float
        The weights, ``n_out * n_in`` values, row-major.
    b : list of float or None
        The bias, ``n_out`` values; None: no bias.
    p : list of float
        Written: the output, ``n * n_out`` values.
    n : int
        The rows of the batch.
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.
    act : int
        The activation: ``ACT_IDENTITY``, ``ACT_RELU``, ``ACT_SIGMOID`` or ``ACT_TANH``.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.dense_forward : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> p = [0.0] * 2                                          # n = 1 row, n_out = 2 outputs
    >>> ref.dense_forward([1.0, -2.0], [1.0, 1.0, 0.5, -1.0], None, p, 1, 2, 2, ref.ACT_RELU)
    >>> p                                                      # relu(1 - 2), relu(0.5 + 2)
    [0.0, 2.5]
    """
    check_sizes(n, n_in, n_out)
    check_act(act)
    for i in range(n):
        for o in range(n_out):
            acc = 0.0
            for k in range(n_in):
                acc += x[i * n_in + k] * W[o * n_in + k]
            if b is not None:
                acc += b[o]
            p[i * n_out + o] = act_apply(acc, act)


def dense_pack_width():
    """Panel width of the packed layout. The C core returns the width of its SIMD path; the reference has no
    vectors and packs with any width it is given, so this is only a default.

    Returns
    -------
    int
        8.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> ref.dense_pack_width()
    8
    """
    return 8


PACK_GROUP = 4  # panels per group of the packed layout (FM_PACK_GROUP)
SIZE_LIMIT = (2 ** 63 - 1) // 8  # fm_mul_size: products past PTRDIFF_MAX / 8 (64-bit) are refused


def dense_packed_size(count, n_in, n_out, nc):
    """count[0] = length of the packed layout: ceil(n_out / (G*nc)) groups of G*nc outputs by n_in.

    Parameters
    ----------
    count : list of int
        A one-element list: ``count[0]`` is written.
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.
    nc : int
        The panel width, 1 to 1024.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    dense_pack : Writes that many values.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> count = [0]
    >>> ref.dense_packed_size(count, 3, 5, 2)                  # 1 group of 4 panels of 2 outputs, by 3 inputs
    >>> count
    [24]
    """
    check_sizes(n_in, n_out)
    if n_in * n_out > SIZE_LIMIT:
        raise KernelError("size overflow")
    if not 1 <= nc <= 1024:
        raise KernelError("option out of range")
    G = PACK_GROUP
    groups = (n_out + G * nc - 1) // (G * nc)
    if groups * G * nc * n_in > SIZE_LIMIT:
        raise KernelError("size overflow")
    count[0] = groups * G * nc * n_in


def dense_pack(W, Wp, n_in, n_out, nc):
    """Wp[g][k][j] = W[g*G*nc + j][k] for j < G*nc, zero past n_out: groups of G panels of nc outputs, by k.

    Parameters
    ----------
    W : list of float
        The weights, ``n_out * n_in`` values, row-major.
    Wp : list of float
        Written: the packed layout (``dense_packed_size`` values).
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.
    nc : int
        The panel width, 1 to 1024.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.dense_pack : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> Wp = [0.0] * 8                                         # 2 outputs padded to G = 4 panels of nc = 1
    >>> ref.dense_pack([1.0, 2.0, 3.0, 4.0], Wp, 2, 2, 1)
    >>> Wp                                                     # by k: W[:, 0] then W[:, 1], zero-padded
    [1.0, 3.0, 0.0, 0.0, 2.0, 4.0, 0.0, 0.0]
    """
    dense_packed_size([0], n_in, n_out, nc)
    G = PACK_GROUP
    groups = (n_out + G * nc - 1) // (G * nc)
    for g in range(groups):
        for k in range(n_in):
            for j in range(G * nc):
                o = g * G * nc + j
                Wp[(g * n_in + k) * G * nc + j] = W[o * n_in + k] if o < n_out else 0.0


def dense_forward_packed(x, Wp, b, p, n, n_in, n_out, nc, act):
    """dense_forward with W read from its packed layout: the same sums in the same order.

    Parameters
    ----------
    x : list of float
        The input rows, ``n * n_in`` values, row-major.
    Wp : list of float
        The packed weights (``dense_pack``'s output).
    b : list of float or None
        The bias, ``n_out`` values; None: no bias.
    p : list of float
        Written: the output, ``n * n_out`` values.
    n : int
        The rows of the batch.
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.
    nc : int
        The panel width, 1 to 1024.
    act : int
        The activation: ``ACT_IDENTITY``, ``ACT_RELU``, ``ACT_SIGMOID`` or ``ACT_TANH``.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.dense_forward_packed : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> Wp = [0.0] * 8
    >>> ref.dense_pack([1.0, 2.0, 3.0, 4.0], Wp, 2, 2, 1)
    >>> p = [0.0] * 2
    >>> ref.dense_forward_packed([1.0, -2.0], Wp, None, p, 1, 2, 2, 1, ref.ACT_IDENTITY)
    >>> p                                                      # 1 - 4, 3 - 8: as dense_forward
    [-3.0, -5.0]
    """
    check_sizes(n, n_in, n_out, nc)
    check_act(act)
    for i in range(n):
        for o in range(n_out):
            G = PACK_GROUP
            base = (o // (G * nc)) * n_in * G * nc + o % (G * nc)
            acc = 0.0
            for k in range(n_in):
                acc += x[i * n_in + k] * Wp[base + k * G * nc]
            if b is not None:
                acc += b[o]
            p[i * n_out + o] = act_apply(acc, act)


def delta_bias(p, dp, dz, db, n, n_out, act, accumulate):
    """dz = dp * act'(p) and db (+)= sum_i dz[i] (db may be None): the start of every layer's backward (dense and
    sparse), as dense.inc's delta_bias_body: each row of dz added to db as soon as it is written."""
    if db is not None and not accumulate:
        for o in range(n_out):
            db[o] = 0.0
    for i in range(n):
        for o in range(n_out):
            dz[i * n_out + o] = dp[i * n_out + o] * act_grad(p[i * n_out + o], act)
        if db is not None:
            for o in range(n_out):
                db[o] += dz[i * n_out + o]


def dense_backward(x, W, p, dp, dz, dW, db, dx, n, n_in, n_out, act, accumulate):
    """dz = dp * act'(p); db (+)= sum_i dz; dW (+)= dz^T . x; dx = dz . W (db, dx may be None).

    Parameters
    ----------
    x : list of float
        The input rows, ``n * n_in`` values, row-major.
    W : list of float
        The weights, ``n_out * n_in`` values, row-major.
    p : list of float
        The layer's output, ``n * n_out`` values.
    dp : list of float
        dL/dp, ``n * n_out`` values.
    dz : list of float
        Written: ``dp * act'(p)``, ``n * n_out`` values (it may be ``dp`` itself).
    dW : list of float
        The weight gradient, ``n_out * n_in`` values: written, or added to with ``accumulate``.
    db : list of float or None
        The bias gradient, ``n_out`` values: written, or added to with ``accumulate``; None: not computed.
    dx : list of float or None
        Written: the input gradient ``dz . W``, ``n * n_in`` values; None: not computed.
    n : int
        The rows of the batch.
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.
    act : int
        The activation: ``ACT_IDENTITY``, ``ACT_RELU``, ``ACT_SIGMOID`` or ``ACT_TANH``.
    accumulate : bool
        Add this batch's gradient to dW and db instead of overwriting them.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.dense_backward : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> dz, dW, db, dx = [0.0], [0.0] * 2, [0.0], [0.0] * 2
    >>> ref.dense_backward([1.0, 2.0], [3.0, 4.0], [11.0], [1.0], dz, dW, db, dx, 1, 2, 1, ref.ACT_IDENTITY, False)
    >>> dW, db, dx                                             # dz^T . x, sum of dz, dz . W
    ([1.0, 2.0], [1.0], [3.0, 4.0])
    """
    check_sizes(n, n_in, n_out)
    check_act(act)
    delta_bias(p, dp, dz, db, n, n_out, act, accumulate)

    for o in range(n_out):
        for k in range(n_in):
            s = dW[o * n_in + k] if accumulate else 0.0
            for i in range(n):
                s += dz[i * n_out + o] * x[i * n_in + k]
            dW[o * n_in + k] = s

    if dx is not None:
        for i in range(n):
            for k in range(n_in):
                s = 0.0
                for o in range(n_out):
                    s += dz[i * n_out + o] * W[o * n_in + k]
                dx[i * n_in + k] = s


KC_MAX = 512  # FM_KC_MAX: the deepest block
BBUF_BYTES = 2048 * 1024  # FM_BBUF_BYTES: the most bytes of B's packed slab
TILES = {"baseline": (6, 32), "avx2": (6, 64), "avx512": (12, 128)}  # FM_MR_* rows; FM_NV x vector bytes a row


def dense_blocking_for(cpu_path, info, l1d, l2, l3, force_kc, force_nc, f64):
    """The block-size rule of the dense products: caches, block sizes and register tile for a path.

    Odd cache sizes are clamped first (an L1d outside [16 KiB, 1 MiB] counts as 32 KiB, an L2 outside
    [128 KiB, 1 TiB] as 1 MiB, an L3 below the L2 as 4 x L2); then ``kc`` is the largest multiple of 8 in [8, 512]
    with the tile's rows x kc elements in a quarter of L1d and kc x its columns in 2/3 of it, and ``nc`` the
    columns of a kc x nc slab in half of L2 (at most 2 MiB), a multiple of the tile's columns, at least one tile.

    Parameters
    ----------
    cpu_path : str
        The kernel path: "avx512", "avx2", "baseline" or "naive" (no tiles, no blocks).
    info : list of int
        Written: 7 values, the clamped l1d, l2, l3, then kc, nc, the tile's rows and columns.
    l1d : int
        The L1 data cache in bytes.
    l2 : int
        The L2 cache in bytes.
    l3 : int
        The L3 cache in bytes.
    force_kc : int
        A forced depth of a block (``FASTMLP_BLOCKS=kc,nc``), 0 for none; at most 2**20.
    force_nc : int
        Forced columns of the slab, 0 for none; at most 2**24.
    f64 : int
        Nonzero for float64 elements, 0 for float32.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code: an unknown path or a forced size too large.

    See Also
    --------
    fastmlp._core.dense_blocking_for : The C rule (``fm_dense_blocking_for``), on which ``dense_blocking`` runs.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> info = [0] * 7
    >>> ref.dense_blocking_for("avx512", info, 48 * 1024, 2 * 1024 * 1024, 0, 0, 0, 0)
    >>> info                         # L3 below L2: 4 x L2; 12 x 32 float32 tile, kc 256, nc 1024
    [49152, 2097152, 8388608, 256, 1024, 12, 32]
    """
    es = 8 if f64 else 4
    if force_kc > 2 ** 20 or force_nc > 2 ** 24:
        raise KernelError("option out of range")
    if cpu_path == "naive":
        mr, ncols = 0, 0
    elif cpu_path in TILES:
        mr, ncols = TILES[cpu_path][0], TILES[cpu_path][1] // es
    else:
        raise KernelError("option out of range")
    if l1d < 16 * 1024 or l1d > 1024 * 1024:
        l1d = 32 * 1024
    if l2 < 128 * 1024 or l2 > 2 ** 40:
        l2 = 1024 * 1024
    if l3 < l2:
        l3 = 4 * l2
    kc = nc = 0
    if mr:
        k, kb = l1d // 4 // (mr * es), l1d * 2 // 3 // (ncols * es)
        k = (force_kc if force_kc else min(k, kb)) // 8 * 8
        k = 8 if k < 8 else min(k, KC_MAX)
        n = force_nc if force_nc else (l2 // 2) // (k * es)
        if n * k * es > BBUF_BYTES:
            n = BBUF_BYTES // (k * es)
        n = n // ncols * ncols
        kc, nc = k, max(n, ncols)
    info[:7] = [l1d, l2, l3, kc, nc, mr, ncols]

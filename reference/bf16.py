"""Twin of csrc/bf16.c: bfloat16 conversions, the packed bf16 layout and the bf16 layer forward.

bf16 values are ints 0..65535 (the upper half of a float32's bits). float32 rounding is done with ``struct``
(Python floats are doubles); every step below is the C code's, in the same order, so results are equal bit for
bit (the tests compare the bits).
"""
import math
import struct

from .common import ACT_RELU, ACT_SIGMOID, ACT_TANH, KernelError, check_act, check_sizes
from .dense import SIZE_LIMIT

L = 16  # outputs per panel (FM_BF_L)
TRAILER = 32  # values of W's exponent summary after the packed weights (FM_BF_TRAILER)
G = 4  # panels per group (FM_BF_G)
TINY = 2.0 ** -126 - 2.0 ** -151  # sums below this in magnitude round to below FLT_MIN: flushed (FM_BF16_TINY)


def f32(v):
    """v (a double) rounded to float32, to nearest even; past the largest float32: +-inf (as a C cast)."""
    try:
        return struct.unpack("<f", struct.pack("<f", v))[0]
    except OverflowError:
        return math.copysign(math.inf, v)


def f32_bits(v):
    """the bits of v rounded to float32 (f32: past the largest float32, +-inf)."""
    return struct.unpack("<I", struct.pack("<f", f32(v)))[0]


def bits_f32(u):
    return struct.unpack("<f", struct.pack("<I", u))[0]


def bf16_round(u):
    """float32 bits -> bf16 bits (fm_bf16_round): zero/denormal -> signed zero, NaN -> quiet NaN, else RNE."""
    if u & 0x7F800000 == 0:
        return (u >> 16) & 0x8000
    if u & 0x7FFFFFFF > 0x7F800000:
        return (u >> 16) | 0x0040
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


def bf16_daz(h):
    """bf16 bits -> float, denormals read as zero (fm_bf16_daz)."""
    if h & 0x7F80:
        return bits_f32(h << 16)
    return bits_f32((h & 0x8000) << 16)


def bf16_step(acc, a, b):
    """acc + a*b as one VDPBF16PS step (fm_bf16_step): exact product, one rounding to float32, a tiny sum flushed
    to a zero of its sign."""
    s = acc + bf16_daz(a) * bf16_daz(b)
    r = f32(s)
    return math.copysign(0.0, r) if abs(s) < TINY else r


def bf16_act(z, act):
    """the activation of the float32 z in double, rounded to float32 (fm_bf16_act)."""
    if act == ACT_RELU:
        return z if z > 0.0 else 0.0
    if act == ACT_SIGMOID:
        if z >= 0.0:
            return f32(1.0 / (1.0 + math.exp(-z)))
        e = math.exp(z)
        return f32(e / (1.0 + e))
    if act == ACT_TANH:
        return f32(math.tanh(z))
    return z


def float_to_bf16(x, y, n):
    """y[i] = the bf16 bits of the float32 x[i], rounded to nearest even (as VCVTNEPS2BF16).

    Zeros and float32 denormals give a zero of their sign, NaN a quiet NaN, values past the largest bf16 Inf.

    Parameters
    ----------
    x : list of float
        The values, ``n`` float32 values (a double is rounded to float32 first).
    y : list of int
        Written: the bf16 bits (0 to 65535), ``n`` values.
    n : int
        The number of values.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.float_to_bf16 : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> y = [0] * 3
    >>> ref.float_to_bf16([1.0, 3.14159, -2.0], y, 3)
    >>> y                                                      # 3.14159 rounds to 3.140625
    [16256, 16457, 49152]
    """
    check_sizes(n)
    for i in range(n):
        y[i] = bf16_round(f32_bits(x[i]))


def bf16_to_float(x, y, n):
    """y[i] = the bf16 x[i] widened to float32 (exact).

    Parameters
    ----------
    x : list of int
        The bf16 bits (0 to 65535), ``n`` values.
    y : list of float
        Written: the values, ``n`` floats.
    n : int
        The number of values.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.bf16_to_float : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> y = [0.0] * 2
    >>> ref.bf16_to_float([16256, 16457], y, 2)
    >>> y
    [1.0, 3.140625]
    """
    check_sizes(n)
    for i in range(n):
        y[i] = bits_f32(x[i] << 16)


def _layout(n, n_in, n_out):
    check_sizes(n, n_in, n_out)
    pairs = n_in // 2 + (n_in & 1)
    outs = (n_out + L - 1) // L * L
    if max(n * n_in, n * n_out, n_in * n_out, 2 * pairs * outs) > SIZE_LIMIT or 2 * pairs * outs > SIZE_LIMIT - TRAILER:
        raise KernelError("size overflow")
    return pairs, (n_out + L - 1) // L, 2 * pairs * outs + TRAILER


def dense_packed_size_bf16(count, n_in, n_out):
    """count[0] = length of the packed bf16 layout of W[n_out][n_in].

    ceil(n_out/16)*16 outputs by 2*ceil(n_in/2) inputs, then 32 values of summary.

    Parameters
    ----------
    count : list of int
        A one-element list: ``count[0]`` is written.
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    dense_pack_bf16 : Writes that many values.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> count = [0]
    >>> ref.dense_packed_size_bf16(count, 3, 2)                # 16 outputs (one panel) by 4 inputs, plus 32
    >>> count
    [96]
    """
    count[0] = _layout(1, n_in, n_out)[2]


def dense_pack_bf16(W, Wp, n_in, n_out):
    """Wp = the bf16 W[n_out][n_in] in the packed layout, then the summary of W's exponents.

    The layout: groups of G panels of L outputs, input pair by input pair (zero past n_out and n_in); then the
    summary: the smallest and largest exponent field of the nonzero values, 1 if one is denormal, Inf or NaN, and
    zeros (see ``fm_dense_packed_size_bf16`` on the C API page).

    Parameters
    ----------
    W : list of int
        The weights' bf16 bits, ``n_out * n_in`` values, row-major.
    Wp : list of int
        Written: the packed layout, ``dense_packed_size_bf16`` values.
    n_in : int
        The inputs of the layer.
    n_out : int
        The outputs of the layer.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.dense_pack_bf16 : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> count = [0]
    >>> ref.dense_packed_size_bf16(count, 2, 1)
    >>> Wp = [0] * count[0]
    >>> ref.dense_pack_bf16([16256, 49024], Wp, 2, 1)          # W = [[1.0, -1.0]] in bf16
    >>> Wp[:4], Wp[-32:-29]                                    # the pair of output 0; exponent fields 127, 127
    ([16256, 49024, 0, 0], [127, 127, 0])
    """
    pairs, panels, count = _layout(1, n_in, n_out)
    g = 0
    while g * G < panels:
        gw = min(G, panels - g * G)
        off = g * G * L * 2 * pairs
        for q in range(pairs):
            for v in range(gw):
                for j in range(L):
                    for t in range(2):
                        o, k = (g * G + v) * L + j, 2 * q + t
                        Wp[off + ((q * gw + v) * L + j) * 2 + t] = W[o * n_in + k] if o < n_out and k < n_in else 0
        g += 1
    fields = [(w >> 7) & 0xFF for w in W[:n_in * n_out] if w & 0x7FFF]
    Wp[count - TRAILER: count] = [min(fields, default=255), max(fields, default=0),
                                  int(any(e in (0, 255) for e in fields))] + [0] * (TRAILER - 3)


def dense_forward_bf16(x, Wp, b, p, n, n_in, n_out, act):
    """p[n][n_out] = act(bf16(x) . W^T + b) with the packed bf16 Wp, float32 sums.

    Per output one chain over the input pairs, the odd input of a pair first, each product exact and each sum
    rounded to float32 (as VDPBF16PS); then z = sum + b[o] in float32 and the activation, in double, rounded to
    float32.

    Parameters
    ----------
    x : list of float
        The input rows, ``n * n_in`` float32 values, row-major (rounded to bf16 as they are read).
    Wp : list of int
        The packed bf16 weights (``dense_pack_bf16``'s output).
    b : list of float or None
        The bias, ``n_out`` float32 values; None: no bias.
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
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then), a finite x that rounds past
        the largest bf16 (``|x| >= 3.3961e38``, it would become Inf) included.

    See Also
    --------
    fastmlp.dense_forward_bf16 : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> count = [0]
    >>> ref.dense_packed_size_bf16(count, 2, 1)
    >>> Wp = [0] * count[0]
    >>> ref.dense_pack_bf16([16256, 49024], Wp, 2, 1)          # W = [[1.0, -1.0]] in bf16
    >>> p = [0.0]
    >>> ref.dense_forward_bf16([3.14159, 1.0], Wp, [0.5], p, 1, 2, 1, ref.ACT_IDENTITY)
    >>> p                                                      # 3.140625 - 1 + 0.5
    [2.640625]
    """
    pairs, panels, _ = _layout(n, n_in, n_out)
    check_act(act)
    for i in range(n * n_in):  # a finite x that rounds to a bf16 Inf (|x| >= 3.3961e38) is refused
        if 0x7F7F8000 <= f32_bits(x[i]) & 0x7FFFFFFF < 0x7F800000:
            raise KernelError("option out of range")
    for i in range(n):
        xb = [bf16_round(f32_bits(x[i * n_in + k])) if k < n_in else 0 for k in range(2 * pairs)]
        for o in range(n_out):
            g, v, j = o // (G * L), (o // L) % G, o % L
            gw = min(G, panels - g * G)
            base = g * G * L * 2 * pairs + (v * L + j) * 2
            acc = 0.0
            for q in range(pairs):
                w = base + q * gw * L * 2
                acc = bf16_step(bf16_step(acc, Wp[w + 1], xb[2 * q + 1]), Wp[w], xb[2 * q])
            z = f32(acc + b[o]) if b is not None else acc
            p[i * n_out + o] = bf16_act(z, act)


def bf16_path_for(cpu_path, name, has_bf16, nofma):
    """The bf16 product path for a kernel path, a CPU with or without AVX512_BF16 and ``FASTMLP_BF16=nofma``.

    "vdpbf16ps" (the instruction) where the path is avx512 and the CPU has it, else "emulated"; "+fma" (the exact
    float32 tiles) on the avx512 and avx2 paths unless nofma.

    Parameters
    ----------
    cpu_path : str
        The kernel path: "avx512", "avx2", "baseline" or "naive".
    name : list of str
        Written: one value, the path's name.
    has_bf16 : int
        Nonzero when the CPU has the AVX512_BF16 instruction.
    nofma : int
        Nonzero as ``FASTMLP_BF16=nofma``: no float32 tiles.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code: an unknown path.

    See Also
    --------
    fastmlp.bf16_path : The path of this process (the C rule applied to this CPU).

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> name = [None]
    >>> ref.bf16_path_for("avx2", name, 1, 0)
    >>> name
    ['emulated+fma']
    """
    avx512, avx2 = cpu_path == "avx512", cpu_path == "avx2"
    if not avx512 and not avx2 and cpu_path != "baseline" and cpu_path != "naive":
        raise KernelError("option out of range")
    native = 1 if has_bf16 and avx512 else 0
    fma = 0 if nofma else 2 if avx512 else 1 if avx2 else 0
    kind = native | fma << 1
    name[0] = ("emulated", "vdpbf16ps", "emulated+fma", "vdpbf16ps+fma")[(kind & 1) | (2 if kind >> 1 else 0)]

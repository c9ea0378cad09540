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
    return struct.unpack("<I", struct.pack("<f", v))[0]


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
    """y[i] = bf16 bits of the float32 x[i]."""
    check_sizes(n)
    for i in range(n):
        y[i] = bf16_round(f32_bits(x[i]))


def bf16_to_float(x, y, n):
    """y[i] = the bf16 x[i] widened to float32."""
    check_sizes(n)
    for i in range(n):
        y[i] = bits_f32(x[i] << 16)


def _layout(n, n_in, n_out):
    check_sizes(n, n_in, n_out)
    pairs = n_in // 2 + (n_in & 1)
    outs = (n_out + L - 1) // L * L
    if max(n * n_in, n * n_out, n_in * n_out, 2 * pairs * outs) > SIZE_LIMIT:
        raise KernelError("size overflow")
    return pairs, (n_out + L - 1) // L, 2 * pairs * outs + TRAILER


def dense_packed_size_bf16(count, n_in, n_out):
    """count[0] = length of the packed bf16 layout."""
    count[0] = _layout(1, n_in, n_out)[2]


def dense_pack_bf16(W, Wp, n_in, n_out):
    """Wp = the bf16 W[n_out][n_in] in the packed layout: groups of G panels of L outputs, pair by pair; then the
    summary: smallest and largest exponent field of the nonzero values, 1 if one is denormal/Inf/NaN."""
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
    """p[n][n_out] = act(bf16(x) . W^T + b) with the packed bf16 Wp: per output one chain over the input pairs,
    the odd input of a pair first; z = sum + b[o] in float32; b may be None."""
    pairs, panels, _ = _layout(n, n_in, n_out)
    check_act(act)
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

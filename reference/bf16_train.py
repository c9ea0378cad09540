"""Twin of csrc/bf16_train.c: the layer products of the mixed-precision training step (``mlp_train_step_bf16``).

Each product of a layer -- p = x W^T, dW = dz^T x, dx = dz W -- reads its two operands rounded to bfloat16 (the
rounding of ``float_to_bf16``: to nearest even, denormals to zero) and sums the exact products; the bias, the
activation and its derivative and the bias gradient are those of ``dense_forward`` / ``dense_backward``. This is
the C emulated path written out (the operands rounded, then the float kernels' loops); the AMX path rounds its
float32 sums in another order, so the tests compare at bf16 tolerance, not bit for bit. ``path="avx512bf16"``
writes out that C path's products: each output one chain of VDPBF16PS steps over the depth's pairs in increasing
order from +0 (``bf16_step``: the odd element of a pair first, each product exact, each sum rounded to float32),
bit for bit the C path's; its bias is added in float32 (``f32``).
"""
from .bf16 import bf16_daz, bf16_round, bf16_step, f32, f32_bits
from .common import ACT_IDENTITY, KernelError
from .dense import act_apply, delta_bias, dense_backward, dense_forward

PATHS = ("emulated", "avx512bf16", "amx")  # fm_bf16_train_path's names; "amx" is twinned by "emulated"

PAD = 32  # FM_MX_PAD: rows, columns and depth of the packed operands are padded to a multiple of it
SIZE_LIMIT = (2 ** 63 - 1) // 8  # fm_mul_size


def _up32(v):
    return (v + PAD - 1) // PAD * PAD


def bf16_value(v):
    """v rounded to bf16 (to nearest even on its float32 bits, denormals to a zero of their sign), as a float."""
    return bf16_daz(bf16_round(f32_bits(v)))


def mixed_scratch_bytes(n, n_in, n_out, nbytes):
    """nbytes[0] = bytes of the packed operands of one layer of n rows, either path (fmi_mixed_scratch_bytes).

    Examples
    --------
    >>> from fastmlp.reference.bf16_train import mixed_scratch_bytes
    >>> b = [0]; mixed_scratch_bytes(1, 2, 3, b); b       # AMX: 3 operands of 32 x 32 bf16, + 64 of alignment
    [6208]
    """
    n32, i32, o32 = _up32(n), _up32(n_in), _up32(n_out)
    a, b, c = n32 * o32, o32 * i32, n32 * i32
    if max(a, b, c) > SIZE_LIMIT:
        raise KernelError("size overflow")
    amx, fwd = 2 * (a + b) + 2 * a, 2 * (c + b)  # the backward's x pairs: the forward's (mixed_pairs_bytes)
    a, b, c = n * n_in, n_out * n_in, n * n_out
    if max(a, b, c) > SIZE_LIMIT:
        raise KernelError("size overflow")
    t = max(amx, fwd, 4 * (a + b + c) + 3 * 64)
    if t > (2 ** 63 - 1) // 2:
        raise KernelError("size overflow")
    nbytes[0] = t + 64


def mixed_bytes(n, n_in, n_out):
    """mixed_scratch_bytes's value."""
    b = [0]
    mixed_scratch_bytes(n, n_in, n_out, b)
    return b[0]


def mixed_pairs_bytes(n, n_in, nbytes):
    """nbytes[0] = bytes of one layer's input of n rows in the backward's batch pairs, which the forward of a training
    step packs for its backward's dW (fmi_mixed_pairs_bytes).

    Examples
    --------
    >>> from fastmlp.reference.bf16_train import mixed_pairs_bytes
    >>> b = [0]; mixed_pairs_bytes(33, 2, b); b          # 64 x 32 bf16, + 64 of alignment
    [4160]
    """
    t = _up32(n) * _up32(n_in)
    if t > SIZE_LIMIT or t > (2 ** 63 - 1) // 4:
        raise KernelError("size overflow")
    nbytes[0] = 2 * t + 64


def mixed_regions(batch, sizes, round_up):
    """Bytes of the mixed-precision workspace's own regions, in mlp.inc's ws_layout order: the packed operands of the
    largest layer (mix), then every layer's input pairs one after another (mixp), each region rounded by round_up."""
    pairs, b = 0, [0]
    for l in range(len(sizes) - 1):
        mixed_pairs_bytes(batch, sizes[l], b)
        if b[0] > (2 ** 63 - 1) // 64:  # mlp.c's mixp_bytes
            raise KernelError("size overflow")
        pairs += b[0]
    return round_up(max(mixed_bytes(batch, sizes[l], sizes[l + 1]) for l in range(len(sizes) - 1))) + round_up(pairs)


def _bits(values, count):
    return [bf16_round(f32_bits(v)) for v in values[:count]]


def _chain(a, b, K):
    """One output of the avx512bf16 path: sum over k < K of a(k) * b(k) (bf16 bits) as VDPBF16PS steps, the
    depth's pairs in increasing order from +0, the odd element of a pair first (zero past K)."""
    acc = 0.0
    for q in range((K + 1) // 2):
        k = 2 * q
        hi_a, hi_b = (a(k + 1), b(k + 1)) if k + 1 < K else (0, 0)
        acc = bf16_step(bf16_step(acc, hi_a, hi_b), a(k), b(k))
    return acc


def _check_path(path):
    if path not in PATHS:
        raise KernelError("option out of range")
    return path == "avx512bf16"


def forward_for(mixed):
    """The layer forward of an input marked ``mixed`` (False: ``dense_forward``; True or a path name: this
    module's, on that path; True is the emulated path)."""
    if not mixed:
        return dense_forward
    path = "emulated" if mixed is True else mixed
    return lambda *args: dense_forward_mixed(*args, path=path)


def backward_for(mixed):
    """The layer backward of an input marked ``mixed`` (as ``forward_for``)."""
    if not mixed:
        return dense_backward
    path = "emulated" if mixed is True else mixed
    return lambda *args: dense_backward_mixed(*args, path=path)


def dense_forward_mixed(x, W, b, p, n, n_in, n_out, act, path="emulated"):
    """p = act(bf16(x) . bf16(W)^T + b) (fmi_dense_forward_mixed; its scratch and xpairs, where C keeps the packed
    operands, are not needed here).

    Examples
    --------
    >>> from fastmlp.reference.bf16_train import dense_forward_mixed
    >>> p = [0.0]; dense_forward_mixed([1.0, 1.001], [1.0, 1.0], [0.5], p, 1, 2, 1, 0); p   # 1.001 -> 1.0
    [2.5]
    >>> dense_forward_mixed([1.0, 1.001], [1.0, 1.0], [0.5], p, 1, 2, 1, 0, path="avx512bf16"); p
    [2.5]
    """
    if _check_path(path):
        xb, Wb = _bits(x, n * n_in), _bits(W, n_out * n_in)
        for i in range(n):
            for o in range(n_out):
                z = _chain(lambda k: xb[i * n_in + k], lambda k: Wb[o * n_in + k], n_in)
                p[i * n_out + o] = act_apply(f32(z + b[o]) if b is not None else z, act)
        return
    xr = [bf16_value(v) for v in x[: n * n_in]]
    Wr = [bf16_value(v) for v in W[: n_out * n_in]]
    dense_forward(xr, Wr, b, p, n, n_in, n_out, act)


def dense_backward_mixed(x, W, p, dp, dz, dW, db, dx, n, n_in, n_out, act, accumulate=False, path="emulated"):
    """dz = dp * act'(p), db = sum_i dz; dW = bf16(dz)^T . bf16(x), dx = bf16(dz) . bf16(W) (dx may be None)
    (fmi_dense_backward_mixed, which always overwrites: ``accumulate`` keeps dense_backward's signature and must
    be false; its scratch and xpairs are not needed here).

    Examples
    --------
    >>> from fastmlp.reference.bf16_train import dense_backward_mixed
    >>> dz, dW, db, dx = [0.0], [0.0, 0.0], [0.0], [0.0, 0.0]
    >>> dense_backward_mixed([1.0, 3.0], [2.0, 1.001], [1.0], [1.0], dz, dW, db, dx, 1, 2, 1, 0)
    >>> dW, db, dx
    ([1.0, 3.0], [1.0], [2.0, 1.0])
    """
    if accumulate:
        raise KernelError("option out of range")
    delta_bias(p, dp, dz, db, n, n_out, act, False)
    if _check_path(path):
        xb, zb = _bits(x, n * n_in), _bits(dz, n * n_out)
        for o in range(n_out):  # dW = dz^T . x: depth the batch
            for k in range(n_in):
                dW[o * n_in + k] = _chain(lambda i: zb[i * n_out + o], lambda i: xb[i * n_in + k], n)
        if dx is not None:  # dx = dz . W: depth the outputs
            Wb = _bits(W, n_out * n_in)
            for i in range(n):
                for k in range(n_in):
                    dx[i * n_in + k] = _chain(lambda o: zb[i * n_out + o], lambda o: Wb[o * n_in + k], n_out)
        return
    xr = [bf16_value(v) for v in x[: n * n_in]]
    zr = [bf16_value(v) for v in dz[: n * n_out]]
    Wr = [bf16_value(v) for v in W[: n_out * n_in]] if dx is not None else W
    dense_backward(xr, Wr, p, zr, zr, dW, None, dx, n, n_in, n_out, ACT_IDENTITY, False)

"""Twin of csrc/mlp.c (mlp.inc): a whole network on flat parameter vectors laid out [W0, b0, W1, b1, ...].

``net`` and ``opt`` are plain objects with the fields of the C structs ``fm_mlp`` and ``fm_optim``. Every
``mlp_*`` function takes the arguments of its C twin ``fm_mlp_*_f32`` / ``_f64``, in the same order and with the
meaning the C API documents (docs: the C API page), buffers as flat lists. The workspace
arguments exist to keep the C signatures; the reference allocates its own lists. The network's input is dense rows
or a CSR matrix (the ``_csr`` functions); as in C, only the first layer's forward and backward look at which.
"""
import math
from dataclasses import dataclass, field
from typing import Any, List, Optional

from .common import ACT_IDENTITY, KernelError, finite_nonneg
from .bf16_train import backward_for, forward_for, mixed_regions
from .loss import loss_mse, loss_poisson, loss_sigmoid_bce, loss_softmax_ce, wsum
from .optim import adam_update, sgd_update
from .sparse import csr_dense_backward, csr_dense_forward, csr_valid

MAX_LAYERS = 32  # FM_MAX_LAYERS
LOSS_MSE, LOSS_SOFTMAX_CE, LOSS_SIGMOID_BCE, LOSS_POISSON = 0, 1, 2, 3
LOSSES = {"mse": LOSS_MSE, "softmax_ce": LOSS_SOFTMAX_CE, "sigmoid_bce": LOSS_SIGMOID_BCE, "poisson": LOSS_POISSON}
OPT_SGD, OPT_ADAM = 0, 1


@dataclass
class Net:
    """The twin of the C struct ``fm_mlp``: a network description.

    Parameters
    ----------
    n_layers : int
        The number of dense layers.
    sizes : list of int
        ``n_layers + 1`` sizes: inputs, hidden widths, outputs.
    acts : list of int
        ``n_layers`` activations (``ACT_*``), the output's last.
    loss : int
        The loss, an index into ``LOSSES`` (``fm_loss``).

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> net = ref.Net(1, [2, 1], [ref.ACT_IDENTITY], 0)         # one identity layer, squared error
    >>> out = [0.0]
    >>> ref.mlp_forward(net, [1.0, 2.0, 0.5], [1.0, 1.0], out, None, 1, 1)   # W = [1, 2], b = 0.5
    >>> out
    [3.5]
    """
    n_layers: int
    sizes: List[int]
    acts: List[int]
    loss: int


@dataclass
class Optim:
    """The twin of the C struct ``fm_optim``: an update rule.

    Parameters
    ----------
    kind : int, default OPT_SGD
        ``OPT_SGD`` or ``OPT_ADAM``.
    lr : float, default 0.01
        The learning rate.
    momentum : float, default 0.0
        SGD's momentum, in [0, 1).
    weight_decay : float, default 0.0
        The L2 coefficient (weights only).
    l1 : float, default 0.0
        The L1 coefficient (weights only).
    nesterov : bool, default False
        Nesterov momentum.
    beta1 : float, default 0.9
        Adam's first-moment decay.
    beta2 : float, default 0.999
        Adam's second-moment decay.
    eps : float, default 1e-8
        Adam's epsilon.
    scale_penalty : bool, default False
        scikit-learn's ``alpha`` convention: the penalties divided by the batch's weight sum and in the loss.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> ref.Optim(ref.OPT_ADAM, lr=0.001).beta2              # the fields left out keep their defaults
    0.999
    """
    kind: int = OPT_SGD
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    l1: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    scale_penalty: bool = False


@dataclass
class Input:
    """fm_input: dense rows x, or (x None) the rows ``rows`` (None: the first n) of a CSR matrix."""
    x: Optional[list] = None
    indptr: Optional[list] = None
    indices: Optional[list] = None
    data: Optional[list] = None
    rows: Optional[list] = None
    mixed: Any = False  # bf16 operands in the products (mlp_bf16.py): True or a path of bf16_train.PATHS


def _check(net):
    if not 1 <= net.n_layers <= MAX_LAYERS:
        raise KernelError("zero size")
    if any(s <= 0 for s in net.sizes[: net.n_layers + 1]):
        raise KernelError("zero size")
    if net.loss not in (LOSS_MSE, LOSS_SOFTMAX_CE, LOSS_SIGMOID_BCE, LOSS_POISSON):
        raise KernelError("unknown enum value")
    if net.loss != LOSS_MSE and net.acts[net.n_layers - 1] != ACT_IDENTITY:
        raise KernelError("option out of range")


def mlp_num_params(net, count):
    """count[0] = number of parameters.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> c = [0]; ref.mlp_num_params(ref.Net(2, [2, 3, 1], [ref.ACT_RELU, ref.ACT_IDENTITY], 0), c); c   # 3*2+3 + 1*3+1
    [13]
    """
    _check(net)
    total = 0
    for l in range(net.n_layers):
        total += net.sizes[l + 1] * net.sizes[l] + net.sizes[l + 1]
    count[0] = total


ALIGN = 64  # FM_ALIGN: every workspace region starts on a multiple of it
SIZE_LIMIT = (2 ** 63 - 1) // 8  # fm_mul_size: products past PTRDIFF_MAX / 8 (64-bit) are refused


def _round_up(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _ws_layout(net, batch, dense, itemsize):
    """Bytes of the workspace regions, in mlp.inc's ws_layout order (each rounded up to ALIGN, plus ALIGN of
    slack for aligning the caller's pointer)."""
    L = net.n_layers
    maxw = max(net.sizes[1:L + 1])
    off = 0
    for l in range(L):
        off += _round_up(batch * net.sizes[l + 1] * itemsize)       # acts[l]
    off += 2 * _round_up(batch * maxw * itemsize)                  # d0, d1
    off += _round_up(batch * net.sizes[L] * itemsize)             # tg
    off += _round_up(batch * itemsize)                            # swg
    off += _round_up(batch * 8)                                   # yg (int64)
    if dense == 2:  # the mixed-precision layout: the packed bf16 operands (largest layer), each layer's x pairs
        off += mixed_regions(batch, net.sizes[:L + 1], _round_up)
    if dense:
        off += _round_up(batch * net.sizes[0] * itemsize)         # xg: gathered input rows
    else:
        off += _round_up(net.sizes[0] * net.sizes[1] * itemsize)  # wt: the first layer transposed
    return off + ALIGN


def _workspace_size(net, nbytes, batch, dense, itemsize):
    _check(net)
    if batch == 0:
        raise KernelError("zero size")
    widest = max(net.sizes[:net.n_layers + 1])
    if (batch * widest * (net.n_layers + 7) * 8 > SIZE_LIMIT
            or net.sizes[0] * net.sizes[1] * 2 * 8 > SIZE_LIMIT):
        raise KernelError("size overflow")
    nbytes[0] = _ws_layout(net, batch, dense, itemsize)


def mlp_workspace_size(net, nbytes, batch, itemsize=8):
    """nbytes[0] = workspace bytes for batches of up to ``batch`` dense rows; itemsize: sizeof(T), 4 for the _f32
    function, 8 for _f64 (the twin of both).

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> c = [0]; ref.mlp_workspace_size(ref.Net(2, [2, 3, 1], [ref.ACT_RELU, ref.ACT_IDENTITY], 0), c, 4); c
    [768]
    """
    _workspace_size(net, nbytes, batch, True, itemsize)


def mlp_workspace_size_csr(net, nbytes, batch, itemsize=8):
    """nbytes[0] = workspace bytes for CSR input: no room for input rows, room for the first layer transposed.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> c = [0]; ref.mlp_workspace_size_csr(ref.Net(2, [2, 3, 1], [ref.ACT_RELU, ref.ACT_IDENTITY], 0), c, 4); c
    [768]
    """
    _workspace_size(net, nbytes, batch, False, itemsize)


def _check_opt(opt):
    if not (finite_nonneg(opt.lr) and finite_nonneg(opt.weight_decay) and finite_nonneg(opt.l1)):
        raise KernelError("option out of range")
    if opt.kind == OPT_SGD:
        if not (0.0 <= opt.momentum < 1.0) or (opt.nesterov and opt.momentum == 0.0):
            raise KernelError("option out of range")
    elif opt.kind == OPT_ADAM:
        if not (0.0 <= opt.beta1 < 1.0 and 0.0 <= opt.beta2 < 1.0 and math.isfinite(opt.eps) and opt.eps > 0.0):
            raise KernelError("option out of range")
    else:
        raise KernelError("unknown enum value")


def mlp_state_size(net, opt, count):
    """count[0] = optimizer state length: 0 (plain SGD), P (momentum) or 2P (Adam).

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> c = [0]; ref.mlp_state_size(ref.Net(1, [2, 1], [ref.ACT_IDENTITY], 0), ref.Optim(ref.OPT_ADAM), c); c   # 2P
    [6]
    """
    P = [0]
    mlp_num_params(net, P)
    _check_opt(opt)
    count[0] = 2 * P[0] if opt.kind == OPT_ADAM else (P[0] if opt.momentum != 0.0 else 0)


def _forward_chunk(net, params, x, n):
    """Layer outputs of a chunk of n rows (x an Input), as a list of flat lists."""
    acts, inp, off = [], None, 0
    for l in range(net.n_layers):
        ni, no = net.sizes[l], net.sizes[l + 1]
        out = [0.0] * (n * no)
        W, b = params[off: off + no * ni], params[off + no * ni: off + no * ni + no]
        if l or x.x is not None:
            forward_for(x.mixed)(inp if l else x.x, W, b, out, n, ni, no, net.acts[l])
        else:
            rows = x.rows[:n] if x.rows is not None else None
            csr_dense_forward(x.indptr, x.indices, x.data, rows, W, b, out, [0.0] * (no * ni), n, len(x.indptr) - 1,
                              ni, no, net.acts[l])
        off += no * ni + no
        acts.append(out)
        inp = out
    return acts


def mlp_forward(net, params, x, out, work, n, work_batch):
    """out[n][n_out] = the network's output, in chunks of work_batch rows."""
    _check(net)
    if n <= 0 or work_batch <= 0:
        raise KernelError("zero size")
    n_in, n_out = net.sizes[0], net.sizes[net.n_layers]
    for s in range(0, n, work_batch):
        nb = min(work_batch, n - s)
        acts = _forward_chunk(net, params, Input(x=x[s * n_in: (s + nb) * n_in]), nb)
        out[s * n_out: (s + nb) * n_out] = acts[-1]


def _check_csr(net, indptr, indices, n_rows, nnz):
    if csr_valid(indptr, indices, n_rows, net.sizes[0]) != nnz:
        raise KernelError("option out of range")


def mlp_forward_csr(net, params, indptr, indices, data, out, work, n, nnz, work_batch):
    """mlp_forward on the n rows of a CSR matrix, in chunks of work_batch rows."""
    _check(net)
    if n <= 0 or work_batch <= 0:
        raise KernelError("zero size")
    _check_csr(net, indptr, indices, n, nnz)
    n_out = net.sizes[net.n_layers]
    for s in range(0, n, work_batch):
        nb = min(work_batch, n - s)
        chunk = Input(indptr=indptr, indices=indices, data=data, rows=list(range(s, s + nb)))
        acts = _forward_chunk(net, params, chunk, nb)
        out[s * n_out: (s + nb) * n_out] = acts[-1]


def _loss_grad_core(net, params, x, t, y, sw, grads, loss, n):
    L, n_out = net.n_layers, net.sizes[net.n_layers]
    acts = _forward_chunk(net, params, x, n)
    z = acts[L - 1]
    cur = [0.0] * (n * n_out) if grads is not None else None
    if net.loss == LOSS_MSE:
        loss_mse(z, t, sw, cur, loss, n, n_out)
    elif net.loss == LOSS_SOFTMAX_CE:
        loss_softmax_ce(z, y, sw, cur, loss, n, n_out)
    elif net.loss == LOSS_SIGMOID_BCE:
        loss_sigmoid_bce(z, t, sw, cur, loss, n, n_out)
    else:
        loss_poisson(z, t, sw, cur, loss, n, n_out)
    if not math.isfinite(loss[0]):
        raise KernelError("loss or gradient is not finite")
    if grads is None:
        return
    offs, off = [], 0
    for l in range(L):
        offs.append(off)
        off += net.sizes[l + 1] * net.sizes[l] + net.sizes[l + 1]
    for l in reversed(range(L)):
        ni, no = net.sizes[l], net.sizes[l + 1]
        W = params[offs[l]: offs[l] + no * ni]
        dW, db = [0.0] * (no * ni), [0.0] * no
        other = [0.0] * (n * ni) if l else None
        if l or x.x is not None:
            back = backward_for(x.mixed)
            back(acts[l - 1] if l else x.x, W, acts[l], cur, cur, dW, db, other, n, ni, no, net.acts[l], 0)
        else:
            rows = x.rows[:n] if x.rows is not None else None
            csr_dense_backward(x.indptr, x.indices, x.data, rows, acts[l], cur, cur, dW, db, [0.0] * (no * ni), n,
                               len(x.indptr) - 1, ni, no, net.acts[l], 0)
        grads[offs[l]: offs[l] + no * ni] = dW
        grads[offs[l] + no * ni: offs[l] + no * ni + no] = db
        cur = other
    if not all(math.isfinite(g) for g in grads[:off]):
        raise KernelError("loss or gradient is not finite")


def _update_core(net, opt, grads, params, state, P, step, weight_decay, l1):
    off = 0
    for l in range(net.n_layers):
        nw, nb = net.sizes[l + 1] * net.sizes[l], net.sizes[l + 1]
        for part in (0, 1):
            cnt = nb if part else nw
            wd, pl1 = (0.0, 0.0) if part else (weight_decay, l1)
            seg = slice(off, off + cnt)
            W, g = params[seg], grads[seg]
            if opt.kind == OPT_ADAM:
                m, v = state[off: off + cnt], state[P + off: P + off + cnt]
                adam_update(g, W, m, v, cnt, step, opt.lr, opt.beta1, opt.beta2, opt.eps, wd, pl1)
                state[off: off + cnt], state[P + off: P + off + cnt] = m, v
            else:
                v = state[seg] if opt.momentum != 0.0 else None
                sgd_update(g, W, v, cnt, opt.lr, opt.momentum, wd, pl1, opt.nesterov)
                if v is not None:
                    state[seg] = v
            params[seg] = W
            off += cnt


def _penalty(net, params, weight_decay, l1, S):
    """(0.5 weight_decay sum W^2 + l1 sum |W|) / S over the W's (not b's): in lanes i % 16, added pairwise."""
    sq, ab, off = [0.0] * 16, [0.0] * 16, 0
    for l in range(net.n_layers):
        nw = net.sizes[l + 1] * net.sizes[l]
        for i in range(nw):
            sq[i % 16] += params[off + i] * params[off + i]
            ab[i % 16] += abs(params[off + i])
        off += nw + net.sizes[l + 1]
    for width in (8, 4, 2, 1):
        for k in range(width):
            sq[k], ab[k] = sq[k] + sq[k + width], ab[k] + ab[k + width]
    return (0.5 * weight_decay * sq[0] + l1 * ab[0]) / S


def _step_core(net, opt, x, t, y, sw, params, state, grads, loss, n, P, step, S):
    """loss_grad, then the update; with opt.scale_penalty the penalties are divided by S and join the loss."""
    _loss_grad_core(net, params, x, t, y, sw, grads, loss, n)
    wd, l1 = opt.weight_decay, opt.l1
    if opt.scale_penalty:
        wd, l1 = opt.weight_decay / S, opt.l1 / S
        if opt.weight_decay != 0.0 or opt.l1 != 0.0:
            loss[0] += _penalty(net, params, opt.weight_decay, opt.l1, S)
            if not math.isfinite(loss[0]):
                raise KernelError("loss or gradient is not finite")
    _update_core(net, opt, grads, params, state, P, step, wd, l1)


def _check_batch(net, t, y, sw, n):
    """Labels in range, Poisson targets >= 0, weights finite and >= 0 with a positive sum; returns S."""
    n_out = net.sizes[net.n_layers]
    if net.loss == LOSS_SOFTMAX_CE and any(not 0 <= y[i] < n_out for i in range(n)):
        raise KernelError("label out of range")
    if net.loss == LOSS_POISSON and not all(t[i] >= 0.0 for i in range(n * n_out)):
        raise KernelError("option out of range")
    if sw is None:
        return float(n)
    if not all(math.isfinite(sw[i]) and sw[i] >= 0.0 for i in range(n)):
        raise KernelError("option out of range")
    S = wsum(sw, n)
    if not (S > 0.0 and math.isfinite(S)):
        raise KernelError("option out of range")
    return S


def mlp_loss_grad(net, params, x, t, y, sw, grads, loss, work, n, work_batch):
    """loss[0] = (weighted) mean loss of the batch; grads (unless None) = its gradient for every parameter."""
    _check(net)
    if n <= 0 or n > work_batch:
        raise KernelError("zero size")
    _check_batch(net, t, y, sw, n)
    _loss_grad_core(net, params, Input(x=x), t, y, sw, grads, loss, n)


def mlp_loss_grad_csr(net, params, indptr, indices, data, t, y, sw, grads, loss, work, n, nnz, work_batch):
    """mlp_loss_grad on the n rows of a CSR matrix."""
    _check(net)
    if n <= 0 or n > work_batch:
        raise KernelError("zero size")
    _check_csr(net, indptr, indices, n, nnz)
    _check_batch(net, t, y, sw, n)
    _loss_grad_core(net, params, Input(indptr=indptr, indices=indices, data=data), t, y, sw, grads, loss, n)


def _train_step_in(net, opt, x, t, y, sw, params, state, grads, loss, n, work_batch, step):
    _check(net)
    _check_opt(opt)
    if n <= 0 or n > work_batch:
        raise KernelError("zero size")
    if step == 0:
        raise KernelError("option out of range")
    S = _check_batch(net, t, y, sw, n)
    P = [0]
    mlp_num_params(net, P)
    _step_core(net, opt, x, t, y, sw, params, state, grads, loss, n, P[0], step, S)


def mlp_train_step(net, opt, x, t, y, sw, params, state, grads, loss, work, n, work_batch, step):
    """loss_grad, then the update of every layer (penalties on W only); nothing updated when it diverges."""
    _train_step_in(net, opt, Input(x=x), t, y, sw, params, state, grads, loss, n, work_batch, step)


def mlp_train_step_csr(net, opt, indptr, indices, data, t, y, sw, params, state, grads, loss, work, n, nnz,
                       work_batch, step):
    """mlp_train_step on the n rows of a CSR matrix."""
    _check(net)
    _check_csr(net, indptr, indices, n, nnz)
    _train_step_in(net, opt, Input(indptr=indptr, indices=indices, data=data), t, y, sw, params, state, grads, loss,
                   n, work_batch, step)


def _train_epoch_in(net, opt, src, T, Y, sw, order, params, state, grads, step, mean_loss, n_samples, n_order,
                    batch):
    _check(net)
    _check_opt(opt)
    if n_samples <= 0 or n_order <= 0 or batch <= 0:
        raise KernelError("zero size")
    if any(not 0 <= i < n_samples for i in order[:n_order]):
        raise KernelError("option out of range")
    n_in, n_out = net.sizes[0], net.sizes[net.n_layers]
    if net.loss == LOSS_SOFTMAX_CE and any(not 0 <= Y[i] < n_out for i in order[:n_order]):
        raise KernelError("label out of range")
    if net.loss == LOSS_POISSON and any(T[i * n_out + k] < 0.0 or T[i * n_out + k] != T[i * n_out + k]
                                        for i in order[:n_order] for k in range(n_out)):
        raise KernelError("option out of range")
    if sw is not None and not all(math.isfinite(w) and w >= 0.0 for w in sw[:n_samples]):
        raise KernelError("option out of range")
    P = [0]
    mlp_num_params(net, P)
    total = 0.0
    for s in range(0, n_order, batch):
        nb = min(batch, n_order - s)
        xg, tg, yg, swg = [], [], [], []
        for r in range(nb):
            src_row = order[s + r]
            if src.x is not None:
                xg.extend(src.x[src_row * n_in: (src_row + 1) * n_in])
            if net.loss == LOSS_SOFTMAX_CE:
                yg.append(Y[src_row])
            else:
                tg.extend(T[src_row * n_out: (src_row + 1) * n_out])
            if sw is not None:
                swg.append(sw[src_row])
        if src.x is not None:
            x = Input(x=xg, mixed=src.mixed)
        else:
            x = Input(indptr=src.indptr, indices=src.indices, data=src.data, rows=list(order[s: s + nb]))
        S = float(nb)
        if sw is not None:
            S = wsum(swg, nb)
            if S == 0.0:
                continue  # a batch of zero weight: no step
        loss = [0.0]
        try:
            _step_core(net, opt, x, tg, yg, swg if sw is not None else None, params, state, grads, loss, nb, P[0],
                       step[0] + 1, S)
        except KernelError:
            mean_loss[0] = total / n_order
            raise
        step[0] += 1
        total += loss[0] * nb
    mean_loss[0] = total / n_order


def mlp_train_epoch(net, opt, X, T, Y, sw, order, params, state, grads, step, mean_loss, work, n_samples, n_order,
                    batch):
    """One epoch over X in the given order, batches of `batch` rows; step[0] advances by the batches applied."""
    _train_epoch_in(net, opt, Input(x=X), T, Y, sw, order, params, state, grads, step, mean_loss, n_samples,
                    n_order, batch)


def mlp_train_epoch_csr(net, opt, indptr, indices, data, T, Y, sw, order, params, state, grads, step, mean_loss,
                        work, n_samples, nnz, n_order, batch):
    """mlp_train_epoch on the rows of a CSR matrix (the batch's rows selected through order, not gathered)."""
    _check(net)
    _check_csr(net, indptr, indices, n_samples, nnz)
    _train_epoch_in(net, opt, Input(indptr=indptr, indices=indices, data=data), T, Y, sw, order, params, state,
                    grads, step, mean_loss, n_samples, n_order, batch)

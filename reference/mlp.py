"""Twin of csrc/mlp.c (mlp.inc): a whole network on flat parameter vectors laid out [W0, b0, W1, b1, ...].

``net`` and ``opt`` are plain objects with the fields of the C structs ``fm_mlp`` and ``fm_optim``. The workspace
arguments exist to keep the C signatures; the reference allocates its own lists.
"""
import math
from dataclasses import dataclass, field
from typing import List

from .common import ACT_IDENTITY, KernelError, finite_nonneg
from .dense import dense_backward, dense_forward
from .loss import loss_mse, loss_sigmoid_bce, loss_softmax_ce
from .optim import adam_update, sgd_update

MAX_LAYERS = 32  # FM_MAX_LAYERS
LOSS_MSE, LOSS_SOFTMAX_CE, LOSS_SIGMOID_BCE = 0, 1, 2
LOSSES = {"mse": LOSS_MSE, "softmax_ce": LOSS_SOFTMAX_CE, "sigmoid_bce": LOSS_SIGMOID_BCE}
OPT_SGD, OPT_ADAM = 0, 1


@dataclass
class Net:
    """fm_mlp: sizes has n_layers + 1 entries, acts n_layers."""
    n_layers: int
    sizes: List[int]
    acts: List[int]
    loss: int


@dataclass
class Optim:
    """fm_optim."""
    kind: int = OPT_SGD
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    l1: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


def _check(net):
    if not 1 <= net.n_layers <= MAX_LAYERS:
        raise KernelError("zero size")
    if any(s <= 0 for s in net.sizes[: net.n_layers + 1]):
        raise KernelError("zero size")
    if net.loss not in (LOSS_MSE, LOSS_SOFTMAX_CE, LOSS_SIGMOID_BCE):
        raise KernelError("unknown enum value")
    if net.loss != LOSS_MSE and net.acts[net.n_layers - 1] != ACT_IDENTITY:
        raise KernelError("option out of range")


def mlp_num_params(net, count):
    """count[0] = number of parameters."""
    _check(net)
    total = 0
    for l in range(net.n_layers):
        total += net.sizes[l + 1] * net.sizes[l] + net.sizes[l + 1]
    count[0] = total


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
    """count[0] = optimizer state length: 0 (plain SGD), P (momentum) or 2P (Adam)."""
    P = [0]
    mlp_num_params(net, P)
    _check_opt(opt)
    count[0] = 2 * P[0] if opt.kind == OPT_ADAM else (P[0] if opt.momentum != 0.0 else 0)


def _forward_chunk(net, params, x, n):
    """Layer outputs of a chunk of n rows, as a list of flat lists."""
    acts, inp, off = [], x, 0
    for l in range(net.n_layers):
        ni, no = net.sizes[l], net.sizes[l + 1]
        out = [0.0] * (n * no)
        dense_forward(inp, params[off: off + no * ni], params[off + no * ni: off + no * ni + no], out, n, ni, no,
                      net.acts[l])
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
        acts = _forward_chunk(net, params, x[s * n_in: (s + nb) * n_in], nb)
        out[s * n_out: (s + nb) * n_out] = acts[-1]


def _loss_grad_core(net, params, x, t, y, grads, loss, n):
    L, n_out = net.n_layers, net.sizes[net.n_layers]
    acts = _forward_chunk(net, params, x, n)
    z = acts[L - 1]
    cur = [0.0] * (n * n_out) if grads is not None else None
    if net.loss == LOSS_MSE:
        loss_mse(z, t, cur, loss, n, n_out)
    elif net.loss == LOSS_SOFTMAX_CE:
        loss_softmax_ce(z, y, cur, loss, n, n_out)
    else:
        loss_sigmoid_bce(z, t, cur, loss, n, n_out)
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
        inp = acts[l - 1] if l else x
        W = params[offs[l]: offs[l] + no * ni]
        dW, db = [0.0] * (no * ni), [0.0] * no
        other = [0.0] * (n * ni) if l else None
        dense_backward(inp, W, acts[l], cur, cur, dW, db, other, n, ni, no, net.acts[l], 0)
        grads[offs[l]: offs[l] + no * ni] = dW
        grads[offs[l] + no * ni: offs[l] + no * ni + no] = db
        cur = other
    if not all(math.isfinite(g) for g in grads[:off]):
        raise KernelError("loss or gradient is not finite")


def _update_core(net, opt, grads, params, state, P, step):
    off = 0
    for l in range(net.n_layers):
        nw, nb = net.sizes[l + 1] * net.sizes[l], net.sizes[l + 1]
        for part in (0, 1):
            cnt = nb if part else nw
            wd, l1 = (0.0, 0.0) if part else (opt.weight_decay, opt.l1)
            seg = slice(off, off + cnt)
            W, g = params[seg], grads[seg]
            if opt.kind == OPT_ADAM:
                m, v = state[off: off + cnt], state[P + off: P + off + cnt]
                adam_update(g, W, m, v, cnt, step, opt.lr, opt.beta1, opt.beta2, opt.eps, wd, l1)
                state[off: off + cnt], state[P + off: P + off + cnt] = m, v
            else:
                v = state[seg] if opt.momentum != 0.0 else None
                sgd_update(g, W, v, cnt, opt.lr, opt.momentum, wd, l1, opt.nesterov)
                if v is not None:
                    state[seg] = v
            params[seg] = W
            off += cnt


def mlp_loss_grad(net, params, x, t, y, grads, loss, work, n, work_batch):
    """loss[0] = mean loss of the batch; grads (unless None) = its gradient for every parameter."""
    _check(net)
    if n <= 0 or n > work_batch:
        raise KernelError("zero size")
    _loss_grad_core(net, params, x, t, y, grads, loss, n)


def mlp_train_step(net, opt, x, t, y, params, state, grads, loss, work, n, work_batch, step):
    """loss_grad, then the update of every layer (penalties on W only); nothing updated when it diverges."""
    _check(net)
    _check_opt(opt)
    if n <= 0 or n > work_batch:
        raise KernelError("zero size")
    if step == 0:
        raise KernelError("option out of range")
    P = [0]
    mlp_num_params(net, P)
    _loss_grad_core(net, params, x, t, y, grads, loss, n)
    _update_core(net, opt, grads, params, state, P[0], step)


def mlp_train_epoch(net, opt, X, T, Y, order, params, state, grads, step, mean_loss, work, n_samples, n_order,
                    batch):
    """One epoch over X in the given order, batches of `batch` rows; step[0] advances by the batches applied."""
    _check(net)
    _check_opt(opt)
    if n_samples <= 0 or n_order <= 0 or batch <= 0:
        raise KernelError("zero size")
    if any(not 0 <= i < n_samples for i in order[:n_order]):
        raise KernelError("option out of range")
    P = [0]
    mlp_num_params(net, P)
    n_in, n_out = net.sizes[0], net.sizes[net.n_layers]
    total = 0.0
    for s in range(0, n_order, batch):
        nb = min(batch, n_order - s)
        xg, tg, yg = [], [], []
        for r in range(nb):
            src = order[s + r]
            xg.extend(X[src * n_in: (src + 1) * n_in])
            if net.loss == LOSS_SOFTMAX_CE:
                yg.append(Y[src])
            else:
                tg.extend(T[src * n_out: (src + 1) * n_out])
        loss = [0.0]
        try:
            _loss_grad_core(net, params, xg, tg, yg, grads, loss, nb)
        except KernelError:
            mean_loss[0] = total / n_order
            raise
        _update_core(net, opt, grads, params, state, P[0], step[0] + 1)
        step[0] += 1
        total += loss[0] * nb
    mean_loss[0] = total / n_order

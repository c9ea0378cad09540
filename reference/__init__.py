"""The oracle: plain-Python twins of every C kernel in ``csrc/`` (no numpy).

Each function has the name of its C twin without the ``fm_`` prefix and dtype suffix, takes the same arguments in
the same order (buffers are flat Python lists, written in place; a C ``double *loss`` is a one-element list) and
runs the same loop nest. It is slow on purpose and obviously right; the tests compare the fast kernels to it. The
functions that read the machine (``machine.py``: ``cpu_path``, ``dense_blocking``, ``bf16_path``,
``bf16_train_path``, ``init``) read what plain Python can see of it: /proc/cpuinfo, sysfs, the environment.
Installed with the wheel as ``fastmlp.reference``.
"""
from .common import ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, ACT_TANH, ACTIVATIONS, KernelError
from .dense import (dense_backward, dense_blocking_for, dense_forward, dense_forward_packed, dense_pack, dense_pack_width,
                    dense_packed_size)
from .loss import loss_mse, loss_poisson, loss_softmax_ce, loss_sigmoid_bce, softmax
from .sparse import csr_dense_backward, csr_dense_forward
from .bf16 import (bf16_path_for, bf16_to_float, dense_forward_bf16, dense_pack_bf16, dense_packed_size_bf16,
                   float_to_bf16)
from .optim import sgd_update, adam_update
from .mlp import (Net, Optim, LOSSES, OPT_SGD, OPT_ADAM, mlp_num_params, mlp_state_size, mlp_forward,
                  mlp_loss_grad, mlp_train_step, mlp_train_epoch, mlp_forward_csr, mlp_loss_grad_csr,
                  mlp_train_step_csr, mlp_train_epoch_csr, mlp_workspace_size, mlp_workspace_size_csr)
from .mlp_bf16 import mlp_loss_grad_bf16, mlp_train_epoch_bf16, mlp_train_step_bf16, mlp_workspace_size_bf16
from .machine import MachineInfoError, bf16_path, bf16_train_path, cpu_path, dense_blocking, init

__all__ = [
    "ACT_IDENTITY", "ACT_RELU", "ACT_SIGMOID", "ACT_TANH", "ACTIVATIONS", "KernelError",
    "dense_forward", "dense_backward", "dense_pack_width", "dense_packed_size", "dense_pack", "dense_forward_packed",
    "loss_mse", "loss_softmax_ce", "loss_sigmoid_bce", "loss_poisson", "softmax",
    "csr_dense_forward", "csr_dense_backward",
    "float_to_bf16", "bf16_to_float", "dense_packed_size_bf16", "dense_pack_bf16", "dense_forward_bf16",
    "dense_blocking_for", "bf16_path_for",
    "cpu_path", "dense_blocking", "bf16_path", "bf16_train_path", "init", "MachineInfoError",
    "sgd_update", "adam_update",
    "Net", "Optim", "LOSSES", "OPT_SGD", "OPT_ADAM", "mlp_num_params", "mlp_state_size", "mlp_forward",
    "mlp_loss_grad", "mlp_train_step", "mlp_train_epoch", "mlp_forward_csr", "mlp_loss_grad_csr",
    "mlp_train_step_csr", "mlp_train_epoch_csr", "mlp_workspace_size", "mlp_workspace_size_csr",
    "mlp_workspace_size_bf16", "mlp_loss_grad_bf16", "mlp_train_step_bf16", "mlp_train_epoch_bf16",
]

"""Twin of the mixed-precision functions of csrc/mlp.c: the float32 network's functions with bf16 products.

``mlp_loss_grad_bf16``, ``mlp_train_step_bf16`` and ``mlp_train_epoch_bf16`` are ``mlp_loss_grad`` /
``mlp_train_step`` / ``mlp_train_epoch`` on an input marked mixed (``Input.mixed``): every layer's products go
through ``dense_forward_mixed`` / ``dense_backward_mixed`` (reference/bf16_train.py), everything else is
unchanged. The workspace gains the packed operands' region.
"""
from .common import KernelError
from .mlp import Input, _check, _check_batch, _loss_grad_core, _train_epoch_in, _train_step_in, _workspace_size


def mlp_workspace_size_bf16(net, nbytes, batch):
    """nbytes[0] = workspace bytes of the mixed-precision functions for batches of up to ``batch`` rows.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> c = [0]; ref.mlp_workspace_size_bf16(ref.Net(2, [2, 3, 1], [ref.ACT_RELU, ref.ACT_IDENTITY], 0), c, 1); c
    [11008]
    """
    _workspace_size(net, nbytes, batch, 2, 4)


def mlp_loss_grad_bf16(net, params, x, t, y, sw, grads, loss, work, n, work_batch, path="emulated"):
    """mlp_loss_grad with bf16 products (float32 networks); ``path``: the C path whose products to write out
    (``bf16_train.PATHS``; C reads it from the machine, ``fastmlp.bf16_train_path()``).

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> net = ref.Net(1, [2, 1], [ref.ACT_IDENTITY], ref.LOSSES["mse"])
    >>> g, loss = [0.0] * 3, [0.0]
    >>> ref.mlp_loss_grad_bf16(net, [1.0, 1.0, 0.0], [1.0, 1.001], [1.0], None, None, g, loss, None, 1, 1)
    >>> loss, g                                  # z = 1 + 1 (1.001 read as 1.0 in bf16): 0.5 (z - t)^2 = 0.5
    ([0.5], [1.0, 1.0, 1.0])
    """
    _check(net)
    _workspace_size(net, [0], work_batch, 2, 4)
    if n <= 0 or n > work_batch:
        raise KernelError("zero size")
    _check_batch(net, t, y, sw, n)
    _loss_grad_core(net, params, Input(x=x, mixed=path), t, y, sw, grads, loss, n)


def mlp_train_step_bf16(net, opt, x, t, y, sw, params, state, grads, loss, work, n, work_batch, step,
                        path="emulated"):
    """mlp_train_step with bf16 products (float32 networks; ``path`` as for ``mlp_loss_grad_bf16``): the update of
    the float32 weights is unchanged.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> net = ref.Net(1, [2, 1], [ref.ACT_IDENTITY], ref.LOSSES["mse"])
    >>> params, g, loss = [1.0, 1.0, 0.0], [0.0] * 3, [0.0]
    >>> ref.mlp_train_step_bf16(net, ref.Optim(lr=0.5), [1.0, 1.001], [1.0], None, None, params, [], g, loss,
    ...                         None, 1, 1, 1)
    >>> params                                                # 1 - 0.5 * 1.0 each
    [0.5, 0.5, -0.5]
    """
    _workspace_size(net, [0], work_batch, 2, 4)
    _train_step_in(net, opt, Input(x=x, mixed=path), t, y, sw, params, state, grads, loss, n, work_batch, step)


def mlp_train_epoch_bf16(net, opt, X, T, Y, sw, order, params, state, grads, step, mean_loss, work, n_samples,
                         n_order, batch, path="emulated"):
    """mlp_train_epoch with bf16 products (float32 networks, dense X; ``path`` as for ``mlp_loss_grad_bf16``):
    every batch is mlp_train_step_bf16's step.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> net = ref.Net(1, [2, 1], [ref.ACT_IDENTITY], ref.LOSSES["mse"])
    >>> params, g, step, mean = [1.0, 1.0, 0.0], [0.0] * 3, [0], [0.0]
    >>> ref.mlp_train_epoch_bf16(net, ref.Optim(lr=0.5), [1.0, 1.001], [1.0], None, None, [0], params, [], g, step,
    ...                          mean, None, 1, 1, 1)
    >>> params, step, mean                                    # the step of mlp_train_step_bf16's example
    ([0.5, 0.5, -0.5], [1], [0.5])
    """
    _workspace_size(net, [0], batch, 2, 4)
    _train_epoch_in(net, opt, Input(x=X, mixed=path), T, Y, sw, order, params, state, grads, step, mean_loss,
                    n_samples, n_order, batch)

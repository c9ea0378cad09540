"""Mixed-precision training (bf16 products, float32 weights; csrc/bf16_train.c, mlp.c) against its twins in
reference/bf16_train.py and mlp_bf16.py at bf16 tolerance (the AMX path rounds its float32 sums in its own order:
not bit for bit), on both paths (AMX where this CPU has it, the emulated path in a child process); threads give
the same bits; the stepper; bad input."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
import fastmlp.reference as R
from fastmlp import _core
from fastmlp._core import OptimConfig, _Net
from kernels import flat

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 4e-3  # bf16 tolerance, relative to the largest reference value

# (loss, sizes, activations, batch): sizes off the multiples of 16 and 32, a batch of 1, every activation
CASES = [
    ("softmax_ce", [37, 45, 3], ["relu", "identity"], 17),
    ("softmax_ce", [5, 7, 2], ["tanh", "identity"], 1),
    ("mse", [33, 40, 21, 2], ["sigmoid", "relu", "identity"], 35),
    ("mse", [70, 9], ["tanh"], 4),
]
IDS = [f"{c[0]}-{'-'.join(map(str, c[1]))}-n{c[3]}" for c in CASES]


def ref_net(sizes, acts, loss):
    return R.Net(n_layers=len(sizes) - 1, sizes=list(sizes), acts=[R.ACTIVATIONS[a] for a in acts],
                 loss=R.LOSSES[loss])


def batch(rng, sizes, loss, n):
    x = rng.uniform(-1.5, 1.5, size=(n, sizes[0])).astype(np.float32)
    if loss == "softmax_ce":
        return x, None, rng.integers(0, sizes[-1], size=n).astype(np.int64)
    return x, rng.standard_normal((n, sizes[-1])).astype(np.float32), None


def params_for(rng, sizes):
    total = sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))
    return rng.uniform(-0.8, 0.8, size=total).astype(np.float32)


def ref_loss_grad(sizes, acts, loss, params, x, t, y, mixed=True):
    grads, value = [0.0] * len(params), [0.0]
    fn = R.mlp_loss_grad_bf16 if mixed else R.mlp_loss_grad
    fn(ref_net(sizes, acts, loss), flat(params), flat(x), flat(t), None if y is None else [int(v) for v in y], None,
       grads, value, None, x.shape[0], x.shape[0])
    return value[0], np.array(grads)


def near(fast, ref, what):
    scale = float(np.max(np.abs(ref)))
    err = float(np.max(np.abs(np.asarray(fast, dtype=np.float64) - ref)))
    assert scale > 1e-3 and err <= TOL * scale, f"{what}: worst {err:.3g} of {scale:.3g}"
    return err


@pytest.mark.parametrize("loss,sizes,acts,n", CASES, ids=IDS)
def test_loss_grad_matches_reference(loss, sizes, acts, n):
    rng = np.random.default_rng(1)
    params = params_for(rng, sizes)
    x, t, y = batch(rng, sizes, loss, n)
    net = _Net(sizes, acts, loss, np.float32)
    grads = np.full(net.n_params, np.nan, dtype=np.float32)  # every entry must be overwritten
    value = _core.mlp_loss_grad_bf16(net, params, grads, x, t, y)
    assert _core.mlp_loss_grad_bf16(net, params, None, x, t, y) == value  # the loss alone
    value_r, grads_r = ref_loss_grad(sizes, acts, loss, params, x, t, y)
    assert abs(value - value_r) <= TOL * max(1.0, abs(value_r))
    err = near(grads, grads_r, "grads")
    # the products really are bf16: float32 products land farther from the bf16 twin than the bf16 step does
    _, grads_f32 = ref_loss_grad(sizes, acts, loss, params, x, t, y, mixed=False)
    assert err < 0.25 * float(np.max(np.abs(grads_f32 - grads_r)))


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_train_steps_match_reference(opt_name):
    loss, sizes, acts, n = CASES[2]
    rng = np.random.default_rng(3)
    net = _Net(sizes, acts, loss, np.float32)
    params = params_for(rng, sizes)
    opts = dict(lr=0.05, weight_decay=0.01) if opt_name == "sgd" else dict(lr=0.01, beta1=0.85)
    c = OptimConfig(opt_name, np.float32, **opts)
    state, steps, grads = np.zeros(net.state_size(c), np.float32), np.zeros(1, np.uint64), np.zeros_like(params)
    ropt = R.Optim(kind=R.OPT_ADAM if opt_name == "adam" else R.OPT_SGD, lr=opts["lr"],
                   weight_decay=opts.get("weight_decay", 0.0), beta1=opts.get("beta1", 0.9))
    params_r, grads_r, state_r = flat(params), [0.0] * len(params), [0.0] * len(state)
    start = params.copy()
    for step in (1, 2):
        x, t, y = batch(rng, sizes, loss, n)
        value = _core.mlp_train_step_bf16(net, params, grads, c, state, steps, x, t, y)
        value_r = [0.0]
        R.mlp_train_step_bf16(ref_net(sizes, acts, loss), ropt, flat(x), flat(t), None, None, params_r, state_r,
                              grads_r, value_r, None, n, n, step)
        assert steps[0] == step and abs(value - value_r[0]) <= TOL * max(1.0, abs(value_r[0]))
        near(grads, grads_r, f"step {step} grads")
        near(params - start, np.array(params_r) - start, f"step {step} update")


def test_emulated_path_matches_reference():
    """FASTMLP_ISA=avx2 turns AMX off: the emulated path, in a child process, against the same twin."""
    loss, sizes, acts, n = CASES[0]
    rng = np.random.default_rng(4)
    params = params_for(rng, sizes)
    x, t, y = batch(rng, sizes, loss, n)
    code = ("import numpy as np, sys; from fastmlp import _core; a = np.frombuffer(bytes.fromhex(sys.argv[1]), "
            f"np.float32); p, x = a[:{len(params)}].copy(), a[{len(params)}:].reshape({n}, {sizes[0]}).copy(); "
            f"y = np.array({[int(v) for v in y]}, np.int64); net = _core._Net({sizes}, {acts}, '{loss}', 'float32'); "
            "g = np.zeros_like(p); _core.mlp_loss_grad_bf16(net, p, g, x, None, y); "
            "print(_core.bf16_train_path()); print(g.tobytes().hex())")
    env = dict(os.environ, FASTMLP_ISA="avx2")
    arg = np.concatenate([params, x.ravel()]).tobytes().hex()
    out = subprocess.run([sys.executable, "-c", code, arg], cwd=HERE, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "emulated"
    grads = np.frombuffer(bytes.fromhex(out[1]), np.float32)
    near(grads, ref_loss_grad(sizes, acts, loss, params, x, t, y)[1], "emulated grads")
    assert fastmlp.build_info()["bf16_train"] == _core.bf16_train_path() in ("amx", "avx512bf16", "emulated")


def test_threads_give_the_same_bits():
    """Layers large enough for the products to split across threads: 1 and 2 threads, bit-identical weights."""
    sizes, n = [256, 512, 10], 256
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((n, sizes[0])).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)
    before, out = fastmlp.get_num_threads(), []
    try:
        for threads in (1, 2):
            fastmlp.set_num_threads(threads)
            model = fastmlp.MLP(sizes, seed=0)
            step = model.stepper(x, y, lr=0.1, dtype="bfloat16")
            for _ in range(2):
                step()
            out.append(model.get_flat_params().copy())
    finally:
        fastmlp.set_num_threads(before)
    np.testing.assert_array_equal(out[0].view(np.uint32), out[1].view(np.uint32))


def test_stepper_trains_and_shares_the_model_state():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = fastmlp.MLP([8, 16, 2], seed=0)
    step = model.stepper(x, y, lr=0.5, dtype="bfloat16")
    assert isinstance(step, _core.StepperBF16)
    losses = [step() for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0] and step.step_count == model.step_count == 30
    model.train_step(x, y, lr=0.5)  # the float32 path continues from the same weights and count
    assert step.step_count == 31
    model.train_step(x, y, optimizer="adam")  # another optimizer retires the stepper
    with pytest.raises(RuntimeError, match="replaced"):
        step()


def test_bad_input():
    x, y = np.ones((4, 3), np.float32), np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="float32 model"):
        fastmlp.MLP([3, 4, 2], dtype="float64", seed=0).stepper(x, y, dtype="bfloat16")
    for bad in ("float16", "bf16", 16):
        with pytest.raises(ValueError, match="dtype"):
            fastmlp.MLP([3, 4, 2], seed=0).stepper(x, y, dtype=bad)
    with pytest.raises(TypeError, match="not directly"):
        _core.StepperBF16()
    net = _Net([3, 4, 2], ["relu", "identity"], "softmax_ce", np.float32)
    p = np.zeros(net.n_params, np.float32)
    with pytest.raises(TypeError, match="float32 network"):
        _core.mlp_loss_grad_bf16(_Net([3, 2], ["identity"], "softmax_ce", np.float64), np.zeros(8), None, x, None, y)
    with pytest.raises(TypeError, match="dense"):
        _core.mlp_loss_grad_bf16(net, p, None, _core.CSR(np.zeros(5, np.int64), np.zeros(0, np.int64),
                                                         np.zeros(0, np.float32), 3), None, y)
    with pytest.raises(ValueError, match="params"):
        _core.mlp_loss_grad_bf16(net, p[:-1], None, x, None, y)
    with pytest.raises(ValueError, match="x"):
        _core.mlp_loss_grad_bf16(net, p, None, x[:, :2].copy(), None, y)
    with pytest.raises(ValueError, match="label"):
        _core.mlp_loss_grad_bf16(net, p, None, x, None, np.array([0, 1, 2, 0], np.int64))
    with pytest.raises(R.KernelError):
        R.mlp_loss_grad_bf16(ref_net([3, 2], ["identity"], "mse"), [0.0] * 8, [0.0] * 3, [0.0] * 2, None, None,
                             None, [0.0], None, 0, 1)


def test_gradient_is_the_loss_gradient_to_bf16_accuracy():
    """Finite differences of the float64 loss: the bf16 gradient is the gradient, up to bf16 rounding."""
    loss, sizes, acts, n = "softmax_ce", [9, 12, 4], ["tanh", "identity"], 6
    rng = np.random.default_rng(7)
    params = params_for(rng, sizes)
    x, t, y = batch(rng, sizes, loss, n)
    grads = np.zeros_like(params)
    _core.mlp_loss_grad_bf16(_Net(sizes, acts, loss, np.float32), params, grads, x, t, y)
    net64, p64, eps = _Net(sizes, acts, loss, np.float64), params.astype(np.float64), 1e-6
    numeric = np.empty_like(p64)
    for i in range(len(p64)):
        up, down = p64.copy(), p64.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (net64.loss_grad(up, None, x.astype(np.float64), t, y)
                      - net64.loss_grad(down, None, x.astype(np.float64), t, y)) / (2 * eps)
    assert np.max(np.abs(grads - numeric)) <= 3e-2 * np.max(np.abs(numeric))


def test_train_step_in_mixed_precision_is_the_steppers_step():
    """model.train_step(..., dtype="bfloat16") runs the stepper's mixed-precision step (same bits, momentum state
    carried), interleaves with float32 steps, and refuses what the stepper refuses with the model left as it was."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 12)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    a, b, c = (fastmlp.MLP([12, 9, 3], seed=5) for _ in range(3))
    step = b.stepper(X, y, lr=0.05, optimizer="momentum", dtype="bfloat16")
    for _ in range(4):
        assert a.train_step(X, y, lr=0.05, optimizer="momentum", dtype="bfloat16") == step()
        c.train_step(X, y, lr=0.05, optimizer="momentum")
    assert np.array_equal(a.get_flat_params(), b.get_flat_params()) and a.step_count == b.step_count == 4
    assert not np.array_equal(a.get_flat_params(), c.get_flat_params())  # bf16 products: other bits than float32
    a.train_step(X, y, lr=0.05, optimizer="momentum")  # float32 and mixed steps share the optimizer state
    assert a.step_count == 5
    before = a.get_flat_params().copy()
    for bad, err in [(dict(dtype="float16"), ValueError), (dict(dtype=True), ValueError)]:
        with pytest.raises(err, match="dtype"):
            a.train_step(X, y, lr=0.05, optimizer="momentum", **bad)
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="dense"):
        a.train_step(scipy_sparse.csr_matrix(X), y, lr=0.05, optimizer="momentum", dtype="bfloat16")
    with pytest.raises(ValueError, match="float32 model"):
        fastmlp.MLP([12, 9, 3], dtype="float64").train_step(X.astype(np.float64), y, dtype="bfloat16")
    assert np.array_equal(before, a.get_flat_params()) and a.step_count == 5

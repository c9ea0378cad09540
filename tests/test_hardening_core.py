"""Issue 13, hardening round two, the compiled core: no object a user can construct crashes, the thread count is
bounded, Adam refuses a negative second moment, the packed forward cannot be given a wrong n_out, the network
size is bounded. Every call that once crashed runs in a subprocess, so that a crash fails the test instead of
killing pytest."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp
import fastmlp.reference as reference
from fastmlp import _core

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_isolated(code, env=None, timeout=120):
    """Run ``code`` in a fresh interpreter (from tests/, so that the fastmlp under test is imported: the in-place
    build through the PYTHONPATH the root conftest sets, else the installed one); it must exit 0 and print OK last. A signal (SIGSEGV, SIGABRT) or a process exit from inside a library fails here."""
    prelude = "import numpy as np, fastmlp\nfrom fastmlp import _core\n"
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code) + "\nprint('OK')\n"], cwd=HERE,
                          env=dict(os.environ, **(env or {})), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert proc.stdout.strip().splitlines()[-1] == "OK", proc.stdout[-2000:]
    return proc.stdout


def expect(exc, fn, *args, words="", **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert words in str(info.value), str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# 1. thread count bound

PARALLEL_KERNELS = """
x = np.random.default_rng(0).standard_normal((256, 512)).astype(np.float32)
W = np.random.default_rng(1).standard_normal((512, 512)).astype(np.float32)
fastmlp.dense_forward(x, W, None, "relu")
Wb = np.zeros(1 << 17, np.float32)
fastmlp.sgd_update(Wb, np.ones_like(Wb), lr=0.1)
"""


@pytest.mark.parametrize("n", [1025, 32768, 65536, 2**31 - 1, 2**40])
def test_set_num_threads_refuses_past_the_bound(n):
    """65536 then a parallel kernel was a SIGSEGV, 32768 made libgomp exit the process: refused, unchanged."""
    out = run_isolated(f"""
        before = fastmlp.get_num_threads()
        try:
            fastmlp.set_num_threads({n})
        except ValueError as e:
            assert "1024" in str(e) and "MAX_THREADS" in str(e), e
        else:
            raise SystemExit("accepted {n} threads")
        assert fastmlp.get_num_threads() == before
        {PARALLEL_KERNELS.strip()}
    """.replace("\n        ", "\n"))
    assert out


def test_max_threads_itself_runs():
    """The bound is usable: 1024 threads run the parallel kernels on this machine and give the same bits."""
    run_isolated(f"""
        assert _core.MAX_THREADS == 1024
        fastmlp.set_num_threads(1)
        x = np.random.default_rng(0).standard_normal((256, 512)).astype(np.float32)
        W = np.random.default_rng(1).standard_normal((512, 512)).astype(np.float32)
        p1 = fastmlp.dense_forward(x, W, None, "relu")
        fastmlp.set_num_threads(1024)
        assert fastmlp.get_num_threads() == 1024
        assert np.array_equal(p1, fastmlp.dense_forward(x, W, None, "relu"))
        {PARALLEL_KERNELS.strip()}
    """.replace("\n        ", "\n"))


def test_omp_num_threads_past_the_bound_is_capped():
    """Another way to the same crash: OMP_NUM_THREADS=65536 in the environment. The core caps OpenMP's default."""
    run_isolated(f"""
        assert fastmlp.get_num_threads() == 1024, fastmlp.get_num_threads()
        {PARALLEL_KERNELS.strip()}
    """.replace("\n        ", "\n"), env={"OMP_NUM_THREADS": "65536"})


# ---------------------------------------------------------------------------------------------------------------
# 2. no object a user can construct may crash

def _model_objects():
    return """
        import pickle
        m = fastmlp.MLP([3, 4, 2], seed=0)
        X = np.random.default_rng(0).standard_normal((8, 3)).astype(m.dtype)
        y = np.random.default_rng(1).integers(0, 2, 8)
    """


def run_cases(cases):
    """Each case is a statement that must raise TypeError or ValueError (and not crash)."""
    body = "\n".join(
        f"try:\n    {c}\nexcept (TypeError, ValueError, AttributeError) as e:\n    pass\nelse:\n    raise SystemExit('not refused: ' + {c!r})"
        for c in cases)
    return body


STEPPER_CASES = [
    "S = type(m.stepper(X, y)); S()",
    "S = type(m.stepper(X, y)); S.__new__(S)()",
    "S = type(m.stepper(X, y)); S.__new__(S).step_count",
    "S = type(m.stepper(X, y)); S._make(None, None, None, None, None, None, None, X, None, None)",
    "S = type(m.stepper(X, y)); S._make(_core._Net.__new__(_core._Net), None, None, None, None, None, None, X, None, None)",
]

NET_CASES = [
    "n = _core._Net.__new__(_core._Net); n.forward(np.zeros(26), np.zeros((1, 3)), np.zeros((1, 2)))",
    "n = _core._Net.__new__(_core._Net); n.loss_grad(np.zeros(26), None, np.zeros((1, 3)), np.zeros((1, 2)), None)",
    "n = _core._Net.__new__(_core._Net); n.reserve(4)",
    "n = _core._Net.__new__(_core._Net); n.state_size(_core.OptimConfig('adam', 'float64', 0.1))",
    "n = _core._Net([3, 2], ['identity'], 'mse', 'float64'); n.state_size(None)",
    "n = _core._Net([3, 2], ['identity'], 'mse', 'float64'); n.state_size(_core.OptimConfig.__new__(_core.OptimConfig))",
    "n = _core._Net.__new__(_core._Net); n.train_step(np.zeros(8), np.zeros(8), _core.OptimConfig('sgd', 'float64', 0.1), np.zeros(0), np.zeros(1, np.uint64), np.zeros((1, 3)), np.zeros((1, 2)), None)",
    "n = _core._Net([3, 2], ['identity'], 'mse', 'float64'); n.train_step(np.zeros(8), np.zeros(8), _core.OptimConfig.__new__(_core.OptimConfig), np.zeros(0), np.zeros(1, np.uint64), np.zeros((1, 3)), np.zeros((1, 2)), None)",
    "n = _core._Net([3, 2], ['identity'], 'mse', 'float64'); n.train_step(np.zeros(8), np.zeros(8), None, np.zeros(0), np.zeros(1, np.uint64), np.zeros((1, 3)), np.zeros((1, 2)), None)",
    "n = _core._Net([3, 2], ['identity'], 'mse', 'float64'); n.train_epoch(np.zeros(8), np.zeros(8), _core.OptimConfig.__new__(_core.OptimConfig), np.zeros(0), np.zeros(1, np.uint64), np.zeros((1, 3)), np.zeros((1, 2)), None, np.zeros(1, np.int64), 1)",
    "n = _core._Net.__new__(_core._Net); n.train_epoch(np.zeros(8), np.zeros(8), _core.OptimConfig('sgd', 'float64', 0.1), np.zeros(0), np.zeros(1, np.uint64), np.zeros((1, 3)), np.zeros((1, 2)), None, np.zeros(1, np.int64), 1)",
    "c = _core.OptimConfig.__new__(_core.OptimConfig); c.lr",
    "c = _core.OptimConfig.__new__(_core.OptimConfig); c.lr = 0.1",
]

INIT_AGAIN_CASES = [
    # a failed __init__ on an existing object left a half-written C struct, the next call crashed
    "n = _core._Net([3, 4, 2], ['relu', 'identity'], 'mse', 'float64'); n.__init__([3, 10**6, 10**6, 2], ['relu'] * 3, 'mse', 'bogus')",
    "n = _core._Net([3, 4, 2], ['relu', 'identity'], 'mse', 'float64'); n.__init__([3, 2**64], ['relu'], 'mse', 'float64')",
    "n = _core._Net([3, 4, 2], ['relu', 'identity'], 'mse', 'float64'); n.__init__([3, 5, 2], ['relu', 'identity'], 'mse', 'float64')",
    "c = _core.OptimConfig('sgd', 'float32', 0.1); c.__init__('adam', 'float32', lr=-1)",
    "c = _core.OptimConfig('sgd', 'float32', 0.1); c.__init__('adam', 'float32', 0.1)",
    "p = m.predictor(); p.__init__([3, 4, 2], ['relu', 'identity'], np.zeros(3))",
    "p = m.predictor(); p.__init__([3, 4, 2], ['relu', 'identity'], np.zeros(26, m.dtype))",
]

PREDICTOR_CASES = [
    "P = _core.Predictor; P.__new__(P)(X)",
    "P = _core.Predictor; P.__new__(P)(X, check_finite=False)",
    "_core.Predictor()",
    "_core.Predictor([3, 4, 2], ['relu', 'identity'], [0.0] * 26)",
    "_core.Predictor([3, -4, 2], ['relu', 'identity'], np.zeros(26, np.float32))",
    "_core.Predictor([3, 2**64, 2], ['relu', 'identity'], np.zeros(26, np.float32))",
    "_core.Predictor([3, 4, 2], ['relu', 'bogus'], np.zeros(26, np.float32))",
    "_core.Predictor([3, 4, 2], ['relu', 'identity'], np.zeros(27, np.float32))",
    "_core.Predictor([3, 4, 2], ['relu', 'identity'], np.zeros((26, 1), np.float32))",
    "_core.Predictor([3, 4, 2], ['relu', 'identity'], np.zeros(26, np.int64))",
    "_core.Predictor([3, 4.0, 2], ['relu', 'identity'], np.zeros(26, np.float32))",
    "m.predictor()(X, check_finite='no')",
    "m.predictor()(X, check_finite=1)",
    "pickle.dumps(m.predictor())",
]

PACKED_CASES = [
    "W = fastmlp.dense_pack(np.ones((5, 3))); type(W)()",
    "W = fastmlp.dense_pack(np.ones((5, 3))); fastmlp.dense_forward_packed(np.ones((2, 3)), type(W).__new__(type(W)), None)",
    "W = fastmlp.dense_pack(np.ones((5, 3))); np.asarray(type(W).__new__(type(W)))",
    "W = fastmlp.dense_pack(np.ones((5, 3))); type(W).__new__(type(W)).size",
    "W = fastmlp.dense_pack(np.ones((5, 3))); pickle.dumps(W)",
    "W = fastmlp.dense_pack(np.ones((5, 3))); W.n_out = 4",
    "W = fastmlp.dense_pack(np.ones((5, 3))); np.asarray(W)[0] = 1.0",
]


@pytest.mark.parametrize("group", ["stepper", "net", "init_again", "predictor", "packed"])
def test_constructed_objects_refuse_and_never_crash(group):
    cases = {"stepper": STEPPER_CASES, "net": NET_CASES, "init_again": INIT_AGAIN_CASES,
             "predictor": PREDICTOR_CASES, "packed": PACKED_CASES}[group]
    run_isolated(textwrap.dedent(_model_objects()) + run_cases(cases))


def test_failed_init_again_leaves_the_object_working():
    """The exact issue: a failed _Net.__init__ on an existing object, then the next call (was SIGSEGV)."""
    run_isolated("""
        n = _core._Net([3, 4, 2], ['relu', 'identity'], 'mse', 'float64')
        params = np.random.default_rng(0).standard_normal(n.n_params)
        x = np.ones((2, 3))
        want = n.forward(params, x, np.empty((2, 2))).copy()
        for bad in ([[3, 2**64], ['relu'], 'mse', 'float64'], [[3, 10**6, 2], ['relu', 'bogus'], 'mse', 'float64'],
                    [[3, 4, 2], ['relu', 'identity'], 'softmax_ce', 'float16'], [[3, 4, 2], ['relu', 'relu'], 'softmax_ce', 'float64']):
            try:
                n.__init__(*bad)
            except (TypeError, ValueError):
                pass
            assert n.n_params == 26 and n.dtype == np.float64
            assert np.array_equal(n.forward(params, x, np.empty((2, 2))), want)
        c = _core.OptimConfig('momentum', 'float32', 0.1, momentum=0.5)
        try:
            c.__init__('adam', 'float64', 0.1, beta1=2.0)
        except (TypeError, ValueError):
            pass
        assert (c.kind, c.dtype, c.lr) == ('momentum', np.float32, 0.1)
    """)


def test_never_initialised_objects_refuse_in_process():
    """The same refusals, in this process, with the words that say why."""
    expect(TypeError, _core._Net.__new__(_core._Net).reserve, 4, words="not initialised")
    expect(TypeError, lambda: _core.OptimConfig.__new__(_core.OptimConfig).lr, words="not initialised")
    expect(TypeError, _core.Predictor.__new__(_core.Predictor), np.ones((1, 3)), words="never initialised")
    expect(TypeError, _core._Net([3, 2], ["identity"], "mse", "float64").__init__, [3, 2], ["identity"], "mse",
           "float64", words="already initialised")


def test_stepper_refused_outside_the_factory():
    m = fastmlp.MLP([3, 4, 2], seed=0)
    X = np.ones((4, 3), m.dtype)
    y = np.array([0, 1, 0, 1])
    S = type(m.stepper(X, y))
    expect(TypeError, S, words="model.stepper")
    expect(TypeError, S.__new__(S), words="model.stepper")


# ---------------------------------------------------------------------------------------------------------------
# 3. Adam's second moment

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [-1e-3, -np.inf, np.nan, -1e-30])
def test_adam_refuses_a_negative_second_moment(dtype, bad):
    """A negative v turned W into NaN without an error. Both the kernel and its twin refuse; nothing written."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal(6).astype(dtype)
    dW = rng.standard_normal(6).astype(dtype)
    m = np.zeros(6, dtype)
    v = np.full(6, 0.01, dtype)
    v[3] = bad
    before = (W.copy(), m.copy(), v.copy())
    with pytest.raises(ValueError, match="v: "):
        fastmlp.adam_update(W, dW, m, v, 1)
    for a, b in zip((W, m, v), before):
        np.testing.assert_array_equal(a, b)
    W_r, m_r, v_r = [float(t) for t in W], [0.0] * 6, [float(t) for t in v]
    with pytest.raises(reference.KernelError):
        reference.adam_update([float(t) for t in dW], W_r, m_r, v_r, 6, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0)
    assert W_r == [float(t) for t in W]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_accepts_zero_and_negative_zero_second_moment(dtype):
    """Both raise or neither: v = 0 (and -0.0) is a valid start for the kernel and its twin alike."""
    W = np.ones(4, dtype)
    v = np.array([0.0, -0.0, 0.5, 0.0], dtype)
    fastmlp.adam_update(W, np.full(4, 0.5, dtype), np.zeros(4, dtype), v, 1)
    assert np.isfinite(W).all()
    reference.adam_update([0.5] * 4, [1.0] * 4, [0.0] * 4, [0.0, -0.0, 0.5, 0.0], 4, 1, 1e-3, 0.9, 0.999, 1e-8,
                          0.0, 0.0)


# ---------------------------------------------------------------------------------------------------------------
# 4. packed weights: a wrong n_out cannot pass

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_forward_refuses_a_wrong_n_out(dtype):
    """Every n_out that rounds to the same packed size once passed and returned columns of zeros."""
    rng = np.random.default_rng(0)
    n_in, n_out = 7, 5
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    x = rng.standard_normal((3, n_in)).astype(dtype)
    Wp = fastmlp.dense_pack(W)
    assert (Wp.n_in, Wp.n_out, Wp.dtype, Wp.nc) == (n_in, n_out, np.dtype(dtype), fastmlp.dense_pack_width(dtype))
    np.testing.assert_array_equal(fastmlp.dense_forward_packed(x, Wp, b, act="tanh"),
                                  fastmlp.dense_forward(x, W, b, "tanh"))
    np.testing.assert_array_equal(fastmlp.dense_forward_packed(x, Wp, None, n_out, "tanh"),
                                  fastmlp.dense_forward(x, W, None, "tanh"))
    for wrong in (1, 4, 6, 8, 16):
        expect(ValueError, fastmlp.dense_forward_packed, x, Wp, None, wrong, words=f"packed for n_out={n_out}")
    expect(TypeError, fastmlp.dense_forward_packed, x, Wp, None, 5.0, words="n_out")
    # a raw array (also the packed values themselves) does not say which sizes it holds
    expect(TypeError, fastmlp.dense_forward_packed, x, np.asarray(Wp).copy(), None, n_out, words="dense_pack")
    expect(TypeError, fastmlp.dense_forward_packed, x, np.zeros(Wp.size, dtype), None, n_out, words="dense_pack")
    # inputs that do not fit the packed sizes / dtype
    expect(ValueError, fastmlp.dense_forward_packed, x[:, :6].copy(), Wp, words="x: expected shape")
    other = np.float64 if dtype == np.float32 else np.float32
    expect(TypeError, fastmlp.dense_forward_packed, x.astype(other), Wp, words="x: expected dtype")
    expect(ValueError, fastmlp.dense_forward_packed, x, Wp, b[:4].copy(), words="b: expected shape")
    # the packed values are frozen
    assert not np.asarray(Wp).flags.writeable


@pytest.mark.parametrize("bad", ["yes", 1, 0, None, 1.0, np.array([True])])
def test_check_finite_is_a_real_bool_everywhere(bad):
    x = np.ones((2, 3))
    W = np.ones((4, 3))
    Wp = fastmlp.dense_pack(W)
    expect(TypeError, fastmlp.dense_forward_packed, x, Wp, check_finite=bad, words="check_finite")
    expect(TypeError, fastmlp.dense_forward, x, W, check_finite=bad, words="check_finite")
    expect(TypeError, fastmlp.dense_backward, x, W, np.ones((2, 4)), np.ones((2, 4)), check_finite=bad,
           words="check_finite")
    pred = fastmlp.MLP([3, 4, 2], dtype="float64", seed=0).predictor()
    expect(TypeError, pred, x, check_finite=bad, words="check_finite")
    # numpy's bool is a bool
    fastmlp.dense_forward_packed(x, Wp, check_finite=np.bool_(False))


def test_predictor_still_matches_forward():
    m = fastmlp.MLP([5, 9, 3], seed=1)
    X = np.random.default_rng(2).standard_normal((4, 5)).astype(m.dtype)
    np.testing.assert_array_equal(m.predictor()(X), m.forward(X))


# ---------------------------------------------------------------------------------------------------------------
# 5. network size bound

@pytest.mark.parametrize("sizes", [[2**64, 2], [2, 2**64], [2**21, 2**20], [2**30, 2**30, 2], [2**40, 1]])
def test_net_refuses_a_size_past_the_bound(sizes):
    """Past FM_MAX_PARAMS (2^40) or past size_t: a ValueError naming the parameter count, nothing allocated."""
    assert _core.MAX_PARAMS == 2**40
    acts = ["relu"] * (len(sizes) - 2) + ["identity"]
    with pytest.raises(ValueError) as info:
        _core._Net(sizes, acts, "mse", "float32")
    total = sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(sizes) - 1))
    assert str(total) in str(info.value) and str(2**40) in str(info.value), str(info.value)


def test_net_just_under_the_bound_is_described():
    """The bound is exact: a network description (no buffers) just under 2^40 parameters is accepted."""
    n = _core._Net([2**20 - 3, 2**20, 1], ["relu", "identity"], "mse", "float32")
    assert n.n_params <= 2**40

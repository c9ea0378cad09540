"""One model, several Python threads: predictions agree, and training next to predicting is refused cleanly."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastmlp
from fastmlp._core import OptimConfig, _Net


def _model_and_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 20)).astype(np.float32)
    y = rng.integers(0, 4, size=300)
    model = fastmlp.MLP([20, 64, 32, 4], seed=0)
    model.fit(X, y, epochs=2, lr=0.05)
    return model, X, y


def _in_threads(fn, n=8):
    results, errors = [None] * n, []

    def run(i):
        try:
            results[i] = fn(i)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_predictions_from_eight_threads_equal_one():
    model, X, _ = _model_and_data()
    want_proba, want = model.predict_proba(X), model.predict(X)
    pred = model.predictor()
    want_raw = pred(X)
    for _ in range(3):
        got = _in_threads(lambda i: (model.predict_proba(X), model.predict(X), pred(X[i:]), pred(X)))
        for proba, labels, tail, raw in got:
            np.testing.assert_array_equal(proba, want_proba)
            np.testing.assert_array_equal(labels, want)
            np.testing.assert_array_equal(raw, want_raw)
        for i, (_, _, tail, _) in enumerate(got):
            np.testing.assert_array_equal(tail, want_raw[i:])


def test_predicting_while_another_thread_trains_is_refused():
    model, X, y = _model_and_data()
    inside, release = threading.Event(), threading.Event()

    def hold(m, epoch, logs):  # a callback that keeps fit (and its claim on the model) in progress
        inside.set()
        release.wait(10)

    trainer = threading.Thread(target=lambda: model.fit(X, y, epochs=1, lr=0.01, callbacks=[hold]))
    trainer.start()
    try:
        assert inside.wait(10)
        with pytest.raises(RuntimeError, match="being trained in another thread"):
            model.predict(X)
        with pytest.raises(RuntimeError, match="in use by another thread"):
            model.train_step(X, y)
        with pytest.raises(RuntimeError, match="being trained in another thread"):
            model.predictor()  # a frozen copy of weights that are changing: refused too
    finally:
        release.set()
        trainer.join()
    model.predict(X)  # fine again once fit has returned


def test_training_while_another_thread_predicts_is_refused():
    model, X, y = _model_and_data()
    model._guard.enter_read()  # a prediction in progress in this thread
    try:
        errors = _in_threads(lambda i: _try(lambda: model.fit(X, y, epochs=1)), n=1)
        assert isinstance(errors[0], RuntimeError) and "in use by another thread" in str(errors[0])
    finally:
        model._guard.exit_read()
    model.fit(X, y, epochs=1)


def _try(fn):
    try:
        fn()
    except RuntimeError as exc:
        return exc
    return None


@pytest.mark.parametrize("env, want", [({}, "None 3000"), ({"OMP_WAIT_POLICY": "active"}, "active None"),
                                       ({"OMP_WAIT_POLICY": "passive"}, "passive None"),
                                       ({"GOMP_SPINCOUNT": "100"}, "None 100")])
def test_import_bounds_the_spin_wait_unless_the_user_chose(env, want):
    """fastmlp sets GOMP_SPINCOUNT=3000 before its core loads libgomp, only where neither it nor OMP_WAIT_POLICY is
    set: a waiting thread spins ~0.1-0.2 ms, not GNU's 10-20 ms, on a core that another thread may need
    (docs/guide/scaling.md)."""
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = "import os, fastmlp; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    out = subprocess.run([sys.executable, "-c", code], env=dict(base, **env), capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    assert out.stdout.strip() == want


SCRATCH_SCRIPT = r"""
import resource, threading
import numpy as np
import fastmlp
fastmlp.set_num_threads(1)  # no OpenMP worker to create under the limit (libgomp exits when it cannot)
rng = np.random.default_rng(0)
x = rng.standard_normal((256, 4096)).astype(np.float32)
W = rng.standard_normal((1024, 4096)).astype(np.float32)
out = np.empty((256, 1024), np.float32)
want = np.empty_like(out)
t = threading.Thread(target=lambda: fastmlp.dense_forward(x, W, out=want, check_finite=False))
t.start(); t.join()
size = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
old = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (size + (16 << 20), old[1]))
# this thread's scratch: 256 rows against a 16 MiB W run in chunks with the batch along the lanes (gemm.inc cols_t:
# x^T's block in half of L2, at least 256 KiB: 64 rows x 2048 deep with AVX-512, 16 x 4096 with AVX2), or where that
# path does not run, the packed kc x nc slab of W (0.5 MiB or more); free 128 KiB of the hog: room for Python, none
# for the scratch
hog = []
try:  # fill the address space up to the limit (64 KiB blocks, each its own mapping), then give back half the
    while True:  # slab: room for Python, none for this thread's scratch
        hog.append(bytearray(1 << 16))
except MemoryError:
    pass
del hog[-2:]
try:
    fastmlp.dense_forward(x, W, out=out, check_finite=False)
    msg = "no error"
except MemoryError as exc:
    msg = str(exc)
del hog
resource.setrlimit(resource.RLIMIT_AS, old)
print(msg)
fastmlp.dense_forward(x, W, out=out, check_finite=False)
print("equal" if np.array_equal(out, want) else "differ")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status, limits the address space")
def test_no_memory_for_the_scratch_is_a_memory_error():
    # the products' per-thread scratch is allocated on a thread's first call: when that fails the C core returns
    # FM_ENOMEM, which becomes MemoryError; the next call (memory back) works and gives the same bits
    if fastmlp._core.cpu_path() == "naive":
        pytest.skip("the plain loops of the naive path use no scratch")
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer reserves its own address space: an address-space limit does not apply to it")
    # large blocks straight from mmap (glibc), so that none is already free in the heap when the limit is set
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMLP_")}
    env.update(MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="65536")
    proc = subprocess.run([sys.executable, "-c", SCRATCH_SCRIPT], cwd=os.path.dirname(os.path.abspath(__file__)),
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert "dense_forward: the C core could not allocate its per-thread scratch" in lines[0], proc.stdout
    assert lines[1] == "equal"


def _steps(dtype, threads, kind, kw, sizes=(300, 200, 70, 13), n=170, steps=2, huge=False):
    """`steps` C training steps of a softmax network on `threads` threads: the parameters, state and gradient bits,
    and whether the last step was refused (DivergenceError)"""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], n).astype(np.int64)
    net = _Net(list(sizes), ["relu"] * (len(sizes) - 2) + ["identity"], "softmax_ce", dtype)
    cfg = OptimConfig(kind, dtype, 0.01, **kw)
    params = np.random.default_rng(1).uniform(-0.1, 0.1, net.n_params).astype(dtype)
    state, counter, grads = np.zeros(net.state_size(cfg), dtype), np.zeros(1, np.uint64), np.zeros(net.n_params, dtype)
    before = fastmlp.get_num_threads()
    refused = False
    try:
        fastmlp.set_num_threads(threads)
        for i in range(steps):
            if huge and i == steps - 1:  # the last bias past a quarter of the largest value: the bound refuses
                params[-1] = np.finfo(dtype).max / 3
            try:
                net.train_step(params, grads, cfg, state, counter, x, None, y)
            except fastmlp.DivergenceError:
                refused = True
    finally:
        fastmlp.set_num_threads(before)
    return params.tobytes(), state.tobytes(), grads.tobytes(), int(counter[0]), refused


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind, kw", [("sgd", dict(weight_decay=0.01, l1=0.003)), ("momentum", dict(l1=0.003)),
                                      ("nesterov", dict(weight_decay=0.01)), ("adam", dict(weight_decay=0.01))])
def test_training_step_bits_for_any_thread_count(dtype, kind, kw):
    """The step's threads split every part of it by outputs, never a sum: the products at every width (the last
    layer's 170 x 70 x 13 is below a lone call's work threshold, above the step's), the softmax cross-entropy by rows
    (its loss terms added in row order), dz and db by columns (the first layer's 170 x 200: ragged against the cache
    lines; the second's 170 x 70 stays on one thread), and the bound scan and update of all 75,193 parameters in even
    ranges that cut across layers (W penalised, b not): the same bits on 1, 2 and 3 threads."""
    want = _steps(dtype, 1, kind, kw)
    for threads in (2, 3):
        assert _steps(dtype, threads, kind, kw) == want


@pytest.mark.parametrize("threads", [1, 2])
def test_training_step_refused_by_the_bound_writes_nothing(threads):
    """A step whose update could overflow is refused after the threads' bound scan, before any thread writes."""
    params, state, _, count, refused = _steps(np.float32, threads, "momentum", {}, huge=True)
    before = _steps(np.float32, threads, "momentum", {}, steps=1)
    assert refused and count == 1
    want = np.frombuffer(before[0], np.float32).copy()
    want[-1] = np.finfo(np.float32).max / 3
    np.testing.assert_array_equal(np.frombuffer(params, np.float32), want)
    assert state == before[1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, n_in, n_out", [(200, 784, 150), (256, 300, 784), (256, 784, 256)])
def test_products_split_with_a_panel_left_over_give_the_same_bits(dtype, n, n_in, n_out):
    """784 columns are 25 panels of 32 (49 of 16 in float64): on 2 or 3 threads each takes whole panels and the
    panel left over is shared out by rows (a second region per thread) -- the dW and dx of the first shape, the
    forward (plain and from packed weights) and every product of the second; the third's forward splits by rows
    where its packed forward and dW split by columns: the same bits on 1, 2 and 3 threads."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, n_in)).astype(dtype)
    W = (rng.standard_normal((n_out, n_in)) * 0.05).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    Wp = fastmlp.dense_pack(W)
    before = fastmlp.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            fastmlp.set_num_threads(threads)
            p = fastmlp.dense_forward(x, W, b, "tanh")
            pp = fastmlp.dense_forward_packed(x, Wp, b, n_out, "tanh")
            results.append((p, pp) + tuple(fastmlp.dense_backward(x, W, p, p * 0.5 - 0.1, "tanh")))
    finally:
        fastmlp.set_num_threads(before)
    np.testing.assert_array_equal(results[0][0], results[0][1])
    for other in results[1:]:
        for a, c in zip(results[0], other):
            np.testing.assert_array_equal(a, c)

"""Scale-out: pickling, thread counts, block-wise partial_fit, and training / searching on a dask cluster.

"Same" below means bit-for-bit (``np.array_equal`` on every weight, equal step counts). Chained ``partial_fit``
over blocks equals ``fit`` / ``partial_fit`` over the concatenated blocks when: the blocks come in the same order,
``shuffle=False`` (with ``shuffle=True`` each call permutes within its own block, so the batches differ), every
block but the last holds a multiple of ``batch_size`` rows (a batch never straddles two blocks), the learning
rate is constant (each ``partial_fit`` is epoch 0 of its schedule), and no early stopping or validation split.
The optimizer state and the step count (Adam's t) carry over from call to call.
"""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP

HERE = os.path.dirname(os.path.abspath(__file__))


def _data(n=200, n_in=6, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    return X, y % n_out


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16).astype(np.float32), y, test_size=0.25, random_state=0)


# ---- pickling ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fitted", [False, True])
def test_mlp_pickle_round_trip(dtype, fitted):
    X, y = _data()
    m = MLP([6, 8, 3], activation="tanh", dtype=dtype, seed=3)
    if fitted:
        m.fit(X, y, epochs=2, optimizer="adam", lr=0.01)
    for proto in (pickle.HIGHEST_PROTOCOL, 2):
        c = pickle.loads(pickle.dumps(m, protocol=proto))
        assert np.array_equal(c.get_flat_params(), m.get_flat_params()) and c.step_count == m.step_count
        assert c.loss == m.loss and c.dtype == m.dtype
        out = c.forward(X)
        assert out.dtype == m.dtype and np.array_equal(out, m.forward(X))
        # the optimizer state and the shuffling generator travel too: both continue identically
        a = pickle.loads(pickle.dumps(m))
        a.fit(X, y, epochs=2, optimizer="adam", lr=0.01)
        c.fit(X, y, epochs=2, optimizer="adam", lr=0.01)
        assert np.array_equal(a.get_flat_params(), c.get_flat_params()) and a.step_count == c.step_count


def test_mlp_pickle_out_of_band_read_only_buffers():
    """Protocol 5 with out-of-band buffers (what dask's serialisation uses) hands back arrays on read-only
    memory; the unpickled model still trains, and matches the original."""
    X, y = _data()
    m = MLP([6, 8, 3], seed=1)
    m.fit(X, y, epochs=1, optimizer="momentum")
    bufs = []
    data = pickle.dumps(m, protocol=5, buffer_callback=bufs.append)
    assert bufs, "expected out-of-band buffers"
    raw = [bytes(b.raw()) for b in bufs]  # bytes: read-only memory
    c = pickle.loads(data, buffers=raw)
    # its own writable copy on a cache line (a view of a fresh buffer: numpy's owndata is False for that)
    assert c._params.flags.writeable and c._params.ctypes.data % 64 == 0
    assert not any(np.shares_memory(c._params, np.frombuffer(r, np.uint8)) for r in raw)
    m.fit(X, y, epochs=1, optimizer="momentum")
    c.fit(X, y, epochs=1, optimizer="momentum")
    assert np.array_equal(m.get_flat_params(), c.get_flat_params())


def test_pickling_during_training_in_another_thread_raises():
    """A pickle is a consistent snapshot: another thread's pickle.dumps while fit runs raises (as predicting does),
    the training thread itself may pickle (e.g. a checkpoint in a callback)."""
    import threading

    X, y = _data()
    m = MLP([6, 8, 3], seed=0)
    in_fit, tried = threading.Event(), threading.Event()
    checkpoints, errors = [], []

    def callback(model, epoch, logs):
        checkpoints.append(pickle.dumps(model))
        in_fit.set()
        tried.wait(30)
        return True  # stop after the first epoch

    def other():
        in_fit.wait(30)
        try:
            pickle.dumps(m)
        except RuntimeError as exc:
            errors.append(exc)
        finally:
            tried.set()

    t = threading.Thread(target=other)
    t.start()
    m.fit(X, y, epochs=5, callbacks=[callback])
    t.join(30)
    assert len(errors) == 1 and "another thread" in str(errors[0])
    assert np.array_equal(pickle.loads(checkpoints[0]).get_flat_params(), m.get_flat_params())


@pytest.mark.parametrize("fitted", [False, True])
def test_estimators_pickle_round_trip(fitted):
    pytest.importorskip("sklearn")
    from fastmlp import MLPClassifier, MLPRegressor

    X, y = _data()
    labels = np.array(["a", "b", "c"])[y]
    for est, target in ((MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0), labels),
                        (MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0), X[:, 0] - X[:, 2])):
        if fitted:
            est.fit(X, target)
        c = pickle.loads(pickle.dumps(est))
        assert c.get_params() == est.get_params()
        if not fitted:
            assert not hasattr(c, "model_")
            continue
        assert np.array_equal(c.predict(X), est.predict(X))
        if hasattr(est, "predict_proba"):
            assert np.array_equal(c.predict_proba(X), est.predict_proba(X))
        est.partial_fit(X, target)
        c.partial_fit(X, target)
        assert np.array_equal(c.model_.get_flat_params(), est.model_.get_flat_params())


# ---- threads -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("omp", ["1", "2"])
def test_default_thread_count_follows_omp_num_threads(omp):
    """With no set_num_threads call the core uses omp_get_max_threads(), i.e. OMP_NUM_THREADS: dask workers
    (which set OMP_NUM_THREADS=1) run the kernels on one thread each."""
    env = dict(os.environ, OMP_NUM_THREADS=omp)
    code = ("import fastmlp; n = fastmlp.get_num_threads(); fastmlp.set_num_threads(3); "
            "print(n, fastmlp.get_num_threads(), fastmlp.has_openmp())")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=HERE, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    if out[2] == "True":
        assert out[:2] == [omp, "3"]
    else:  # built without OpenMP: always one thread
        assert out[:2] == ["1", "1"]


# ---- partial_fit over blocks ---------------------------------------------------------------------------------
def _blocks(n, size):
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_partial_fit_over_blocks_equals_fit_on_concatenation(dtype, optimizer):
    X, y = _data(n=203)
    kw = dict(batch_size=16, lr=0.01, optimizer=optimizer, weight_decay=1e-3, shuffle=False)
    whole = MLP([6, 8, 3], dtype=dtype, seed=5)
    whole.fit(X, y, epochs=3, **kw)
    parts = MLP([6, 8, 3], dtype=dtype, seed=5)
    for _ in range(3):
        for s in _blocks(203, 48):  # 48 = 3 batches; the last block (11 rows) may be short
            parts.partial_fit(X[s], y[s], **kw)
    assert parts.step_count == whole.step_count
    assert np.array_equal(parts.get_flat_params(), whole.get_flat_params())
    # the condition matters: blocks of 40 rows cut a 16-row batch in two, and the weights differ
    cut = MLP([6, 8, 3], dtype=dtype, seed=5)
    for _ in range(3):
        for s in _blocks(203, 40):
            cut.partial_fit(X[s], y[s], **kw)
    assert not np.array_equal(cut.get_flat_params(), whole.get_flat_params())


def test_estimator_partial_fit_over_blocks_equals_concatenation():
    pytest.importorskip("sklearn")
    from fastmlp import MLPClassifier, MLPRegressor

    X, y = _data(n=203)
    for make, target, extra in ((MLPClassifier, y, {"classes": [0, 1, 2]}), (MLPRegressor, X[:, :2], {})):
        kw = dict(hidden_layer_sizes=(8,), batch_size=16, shuffle=False, random_state=0)
        whole, parts = make(**kw), make(**kw)
        for _ in range(2):
            whole.partial_fit(X, target, **extra)
            for s in _blocks(203, 64):
                parts.partial_fit(X[s], target[s], **extra)
        assert np.array_equal(parts.model_.get_flat_params(), whole.model_.get_flat_params())
        assert parts.model_.step_count == whole.model_.step_count


# ---- on a dask cluster ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    pytest.importorskip("sklearn")
    distributed = pytest.importorskip("distributed")
    # processes=True: each worker is its own process (spawned, OMP_NUM_THREADS=1 set by the nanny), so models
    # really are pickled from worker to worker; ~5-10 s to start here
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster, timeout="60s") as c:
        c.wait_for_workers(2, timeout=60)
        yield c


@pytest.mark.slow  # the cluster tests: two worker processes to start (module fixture) and to stop
@pytest.mark.timeout(120)
def test_cluster_workers_use_one_thread(client):
    threads = client.run(fastmlp.get_num_threads)
    assert len(threads) == 2
    assert set(threads.values()) == {1}  # the nanny's OMP_NUM_THREADS=1 (1 anyway without OpenMP)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_incremental_on_cluster_matches_local_and_single_process(client):
    """dask-ml's Incremental chains partial_fit over the blocks on the workers: bit-identical to the same
    chain in this process, and as accurate (within 1 point) as one single-process fit of as many epochs."""
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    from distributed import get_task_stream

    from fastmlp import MLPClassifier

    Xtr, Xte, ytr, yte = _digits()
    epochs, block = 40, 256  # 256 rows = 8 batches of 32: no batch straddles two blocks
    kw = dict(hidden_layer_sizes=(128,), learning_rate_init=0.003, batch_size=32, random_state=0)
    dX = da.from_array(Xtr, chunks=(block, Xtr.shape[1]))
    dy = da.from_array(ytr, chunks=block)
    inc = wrappers.Incremental(MLPClassifier(**kw), shuffle_blocks=False)
    with get_task_stream(client) as ts:
        for _ in range(epochs):
            inc.partial_fit(dX, dy, classes=np.arange(10))
    on_cluster = inc.estimator_

    local = MLPClassifier(**kw)
    for _ in range(epochs):
        for s in _blocks(len(Xtr), block):
            local.partial_fit(Xtr[s], ytr[s], classes=np.arange(10))
    assert np.array_equal(on_cluster.model_.get_flat_params(), local.model_.get_flat_params())
    # scikit-learn's n_iter_ counts the last call's epochs; loss_curve_ has one entry per partial_fit
    assert on_cluster.n_iter_ == local.n_iter_ == 1
    assert len(on_cluster.loss_curve_) == len(local.loss_curve_) == epochs * len(dX.chunks[0])

    single = MLPClassifier(max_iter=epochs, **kw).fit(Xtr, ytr)
    acc_cluster, acc_single = on_cluster.score(Xte, yte), single.score(Xte, yte)
    assert acc_single >= 0.96
    assert abs(acc_cluster - acc_single) <= 0.01, (acc_cluster, acc_single)

    # the cluster's task log: dask-ml names the chained partial_fit tasks ("fit-<token>", i), i = 0.. per block
    # (-1 holds the initial model); each ran on a worker, and the model went to wherever the scheduler put it
    fits = [t for t in ts.data if isinstance(t["key"], tuple) and str(t["key"][0]).startswith("fit-")
            and t["key"][1] >= 0]
    assert len(fits) == epochs * len(dX.chunks[0])
    workers = [t["worker"] for t in sorted(fits, key=lambda t: t["startstops"][0]["start"])]
    assert set(workers) <= set(client.scheduler_info()["workers"])
    hops = sum(a != b for a, b in zip(workers, workers[1:]))
    print(f"incremental: {len(fits)} partial_fit tasks on {len(set(workers))} workers, the model moved {hops} "
          f"times; accuracy {acc_cluster:.4f} on the cluster, {acc_single:.4f} single-process")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_grid_search_folds_run_on_the_workers(client):
    """GridSearchCV under joblib's dask backend: every fold is fitted in a worker process (the scorer records
    the process id and the kernels' thread count there) and the search finds what a local search finds."""
    joblib = pytest.importorskip("joblib")
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import GridSearchCV

    from fastmlp import MLPClassifier

    Xtr, Xte, ytr, yte = _digits()
    grid = {"hidden_layer_sizes": [(32,), (64,)], "learning_rate_init": [0.001, 0.003]}
    # closures are pickled by value, so the workers need no copy of this test module
    scoring = {"accuracy": lambda est, X, y: accuracy_score(y, est.predict(X)),
               "pid": lambda est, X, y: os.getpid(),
               "threads": lambda est, X, y: __import__("fastmlp").get_num_threads()}
    est = MLPClassifier(max_iter=15, random_state=0)
    search = GridSearchCV(est, grid, cv=3, scoring=scoring, refit="accuracy", n_jobs=-1)
    with joblib.parallel_config(backend="dask"):
        search.fit(Xtr, ytr)
    res = search.cv_results_
    pids = {int(res[f"split{k}_test_pid"][i]) for k in range(3) for i in range(4)}
    worker_pids = set(client.run(os.getpid).values())
    assert pids <= worker_pids and os.getpid() not in pids
    assert pids == worker_pids, "expected the 12 fits to be spread over both workers"
    assert {int(res[f"split{k}_test_threads"][i]) for k in range(3) for i in range(4)} == {1}

    local = GridSearchCV(est, grid, cv=3, scoring={"accuracy": scoring["accuracy"]}, refit="accuracy",
                         n_jobs=1).fit(Xtr, ytr)
    assert np.array_equal(res["mean_test_accuracy"], local.cv_results_["mean_test_accuracy"])
    assert search.best_params_ == local.best_params_
    assert search.score(Xte, yte) >= 0.9

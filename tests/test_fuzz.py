"""Fuzzing the public API with hostile arguments, in a subprocess: every call either works (and then gives a
sane answer) or raises a clean, named Python exception; never a crash, a hang or a silent wrong answer.

Hypothesis draws lists of calls (function x arguments picked from a pool of hostile values); each list runs in a
fresh interpreter that reports every outcome, so a segfault shows up as a signal with the call that caused it."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# the pool of hostile values: built in the runner, and here too (numpy only), so that its size is counted, not stated
POOL_SOURCE = textwrap.dedent(r'''
    import numpy as np

    def arr(shape, dtype=np.float64, fill=0.5):
        return np.full(shape, fill, dtype=dtype)

    ro = arr((4, 3)); ro.flags.writeable = False
    nan = arr((4, 3)); nan[1, 1] = np.nan
    inf = arr((4, 3)); inf[0, 2] = -np.inf
    POOL = [
        arr((4, 3)), arr((2, 3)), arr((3,)), arr((2,)), arr((4, 2)), arr((4, 3), np.float32), arr((2, 3), np.float32),
        arr((4, 3), np.int64), arr((4, 3), np.float16), arr((4, 3), np.complex128), arr((4, 3), bool),
        np.empty((0, 3)), np.empty((4, 0)), np.float64(1.0), np.array(2.0), arr((2, 2, 3)),
        arr((4, 6))[:, ::2], np.asfortranarray(arr((4, 3))), ro, nan, inf, np.array([0, 1, 2, 1]),
        np.array([0, 5, -1, 2]), np.array([0.5, 1.0, 0.0, 1.0]), np.array(["a", "b", "c", "d"]),
        np.array([object(), None, 1, 2], dtype=object), [[0.5] * 3] * 4, [0, 1, 0, 1], None, "relu", "softmax",
        "tanh", 3, -1, 0, 1, 2, 1.5, -0.1, float("nan"), float("inf"), 10**20, True, "adam", "rmsprop", (),
        [4, 3, 2], [3, 5, 2], [0, 3], [3], [3, -2, 2], [3, 2.5, 2], [10**12, 10**12], {"a": 1}, b"bytes",
        arr((4, 3)).astype(">f8"), arr((4, 3), np.float32)[::-1],
    ]
''')

RUNNER = POOL_SOURCE + textwrap.dedent(r'''
    import json, sys, warnings
    import fastmlp
    warnings.simplefilter("ignore")

    def mlp(*a):
        return fastmlp.MLP(*a)

    def fitted():
        m = fastmlp.MLP([3, 5, 2], seed=0)
        m.fit(arr((4, 3)), np.array([0, 1, 0, 1]), epochs=1)
        return m

    FUNCS = {
        "dense_forward": fastmlp.dense_forward, "dense_backward": fastmlp.dense_backward,
        "dense_pack": fastmlp.dense_pack, "dense_forward_packed": fastmlp.dense_forward_packed,
        "loss_mse": fastmlp.loss_mse, "loss_softmax_ce": fastmlp.loss_softmax_ce,
        "loss_sigmoid_bce": fastmlp.loss_sigmoid_bce, "softmax": fastmlp.softmax,
        "sgd_update": lambda *a: fastmlp.sgd_update(*a[:3], lr=a[3] if len(a) > 3 else 0.1),
        "adam_update": fastmlp.adam_update, "set_num_threads": fastmlp.set_num_threads, "MLP": mlp,
        "fit": lambda *a: fitted().fit(*a[:2], epochs=1, **({"lr": a[2]} if len(a) > 2 else {})),
        "predict": lambda *a: fitted().predict(*a), "predict_proba": lambda *a: fitted().predict_proba(*a),
        "score": lambda *a: fitted().score(*a), "train_step": lambda *a: fitted().train_step(*a),
        "stepper": lambda *a: fitted().stepper(*a)(), "predictor": lambda *a: fitted().predictor()(*a),
        "load": lambda *a: fastmlp.load(a[0] if a and isinstance(a[0], str) else "/nonexistent/x.npz"),
    }
    CLEAN = (TypeError, ValueError, fastmlp.DivergenceError, MemoryError)
    before = fastmlp.get_num_threads()
    results = []
    for name, idx in json.load(sys.stdin):
        args = [POOL[i % len(POOL)] for i in idx]
        sys.stderr.write(f"CALL {name} {idx}\n"); sys.stderr.flush()
        try:
            out = FUNCS[name](*args)
        except CLEAN as exc:
            msg = str(exc)
            results.append(("raised", name, idx, type(exc).__name__, bool(msg)))
            continue
        except Exception as exc:
            results.append(("unclean", name, idx, type(exc).__name__, str(exc)[:200]))
            continue
        # it worked: the answer must be sane
        vals = out if isinstance(out, tuple) else (out,)
        sane = all(not isinstance(v, np.ndarray) or v.dtype.kind != "f" or np.isfinite(v).all() for v in vals)
        if name == "dense_forward" and isinstance(out, np.ndarray):
            x, W = args[0], args[1]
            b = args[2] if len(args) > 2 and args[2] is not None else 0.0
            act = args[3] if len(args) > 3 else "relu"
            z = np.asarray(x, np.float64) @ np.asarray(W, np.float64).T + b
            want = {"relu": np.maximum(z, 0), "tanh": np.tanh(z)}.get(act)
            if want is not None:
                sane = sane and np.allclose(out, want, rtol=1e-5, atol=1e-6)
        results.append(("ok" if sane else "wrong", name, idx, "", ""))
    fastmlp.set_num_threads(before)
    print(json.dumps(results))
''')


def _pool_size():
    namespace = {}
    exec(POOL_SOURCE, namespace)
    return len(namespace["POOL"])


N_POOL = _pool_size()  # every index a call draws names its own value (none wraps around onto another)
NAMES = ["dense_forward", "dense_backward", "dense_pack", "dense_forward_packed", "loss_mse", "loss_softmax_ce",
         "loss_sigmoid_bce", "softmax", "sgd_update", "adam_update", "set_num_threads", "MLP", "fit", "predict",
         "predict_proba", "score", "train_step", "stepper", "predictor", "load"]
calls = st.lists(st.tuples(st.sampled_from(NAMES), st.lists(st.integers(0, N_POOL - 1), min_size=0, max_size=5)),
                 min_size=20, max_size=40)


@pytest.mark.slow  # 60 fresh interpreters: ~8 s
@settings(max_examples=60, deadline=None, derandomize=True)
@given(batch=calls)
def test_hostile_calls_raise_cleanly(batch):
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(batch), capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=os.path.dirname(__file__))
    last = [ln for ln in proc.stderr.splitlines() if ln.startswith("CALL ")][-1:]
    assert proc.returncode == 0, f"the interpreter died ({proc.returncode}) at {last}: {proc.stderr[-1500:]}"
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) == len(batch)
    bad = [r for r in results if r[0] in ("unclean", "wrong")]
    assert not bad, bad[:5]
    unnamed = [r for r in results if r[0] == "raised" and not r[4]]
    assert not unnamed, f"exceptions without a message: {unnamed[:5]}"

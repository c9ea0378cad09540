#!/usr/bin/env python
"""Hostile-input campaign for fastmlp (issue 13, "Hardening, round two").

Every attack runs in its own subprocess (a generated ``case.py`` for library attacks, ``python -m fastmlp ...``
for the command line) in its own folder holding fresh copies of the fixtures, under a memory cap
(``RLIMIT_AS``: 8 GiB, lower for the memory attacks) and a timeout. Each attack is classified as

  ok            a clean error (ValueError / TypeError / RuntimeError and subclasses, ImportError, or an OSError
                naming the path; for the CLI a non-zero exit with a message and no traceback) whose message names
                the argument / file / option, or a result that passes its oracle or invariant
  crash         killed by a signal, or a non-zero exit without the worker's report (a C-level abort)
  hang          the timeout (or a runaway: over the attack's time or memory budget)
  silent wrong  a result that fails its oracle or invariant (NaN without an error, a prediction that differs
                from the reference, a model changed by a refused call, a hostile value accepted, ...)
  lost file     a file present before the attack (an input, an existing output) changed or vanished, or a
                temporary left behind (every file of the attack's folder is hashed before and after)
  unclear error a traceback, an exception outside the clean types, or a message that names nothing it should

Usage: ``python tools/hostile.py [--quick] [--jobs N] [--family F] [-k SUBSTR] [--json FILE] [--list]``.
``--quick`` runs a representative subset (about a minute on 2 cores); the full run takes a few minutes.
Attacks that test one fix of the issue name it in ``item`` (shown by --list and beside a failing attack).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GiB = 1 << 30
FAMILIES = ("kernels", "api", "files", "cli", "threads", "signals", "memory")
CATEGORIES = ("crash", "silent wrong", "lost file", "hang", "unclear error")
CLEAN = {"ValueError", "TypeError", "RuntimeError", "ImportError", "ModuleNotFoundError"}


@dataclass
class Case:
    id: str
    family: str
    code: str | None = None            # a library attack: Python run by the worker (prelude below)
    argv: list | None = None           # a CLI attack: the arguments of python -m fastmlp
    expect: str = "either"             # "error": must be refused; "ok": must succeed; "either": refused or right
    names: tuple = ()                  # an error message must contain one of these (case-insensitive)
    check: object = None               # CLI: check(dir, rc, out, err) -> None or (category, reason)
    mem: float = 8.0                   # RLIMIT_AS in GiB
    timeout: float = 30.0
    max_rss_mb: float | None = None    # runaway memory (peak RSS of the process)
    max_s: float | None = None         # runaway time (a refusal must come within this)
    quick: bool = False
    item: str = ""                     # the item of the issue whose fix this attack checks
    mutable: tuple = ()                # files the attack may change (an output replaced with --force)
    setup: object = None               # setup(dir): extra files
    env: dict = field(default_factory=dict)
    stdin: str | None = None
    signal_after: tuple | None = None  # (seconds, signal) sent to the process group


# ---------------------------------------------------------------------------------------------------------------
# the worker's prelude: helpers every library attack may use
PRELUDE = r'''
import json, os, sys, time, resource, signal, threading, zipfile, io, pickle
T0 = time.perf_counter()
def _report(**kw):
    kw["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.__stdout__.write("\n@@HOSTILE " + json.dumps(kw, default=str) + "\n"); sys.__stdout__.flush()
class Wrong(Exception):
    pass
class Runaway(Exception):
    pass
class Unclear(Exception):
    pass
def unclear(cond, reason):
    if not cond:
        raise Unclear(reason)
def check(cond, reason):
    if not cond:
        raise Wrong(reason)
def attempt(fn, *a, **k):
    """fn's clean exception (or None when it returns); anything else propagates."""
    try:
        fn(*a, **k)
    except (ValueError, TypeError, RuntimeError, ImportError, OSError) as e:
        return e
    return None
def reraise(e):
    if e is not None:
        raise e
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def budget(fn, seconds=None, mb=None):
    """Run fn; a Runaway when it takes longer than seconds or its peak RSS grows by more than mb."""
    p0, t0 = peak_mb(), time.perf_counter()
    err = None
    try:
        r = fn()
    except BaseException as e:
        err, r = e, None
    dt, dm = time.perf_counter() - t0, peak_mb() - p0
    if seconds is not None and dt > seconds:
        raise Runaway(f"took {dt:.3g} s (budget {seconds} s){' then ' + type(err).__name__ if err else ''}")
    if mb is not None and dm > mb:
        raise Runaway(f"peak memory grew {dm:.0f} MB (budget {mb} MB){' then ' + type(err).__name__ if err else ''}")
    if err is not None:
        raise err
    return r
def same(a, b):
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))
try:
    import numpy as np
    import fastmlp
    D = os.getcwd()
    _d = np.load(os.path.join(D, "data.npz"))
    X, Y, Xr, YR = _d["X"], _d["y"], _d["Xr"], _d["yr"]
    def model(layers=(4, 8, 3), **kw):
        kw.setdefault("seed", 0)
        return fastmlp.MLP(list(layers), **kw)
    def state(m):
        return m.get_flat_params().copy(), m.step_count
    def unchanged(m, before, what):
        after = state(m)
        check(np.array_equal(before[0], after[0]) and before[1] == after[1], f"{what} changed the model")
    def members(path):
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    def craft(path, base="m.npz", drop=(), raw=None, **over):
        """A model file: base's members, some dropped, some replaced (arrays), raw bytes members added."""
        mem = members(os.path.join(D, base))
        for k in drop:
            mem.pop(k, None)
        mem.update(over)
        with zipfile.ZipFile(path, "w") as z:
            for k, v in mem.items():
                b = io.BytesIO(); np.lib.format.write_array(b, np.asanyarray(v), allow_pickle=True)
                z.writestr(k + ".npy", b.getvalue())
            for k, v in (raw or {}).items():
                z.writestr(k, v)
        return path
    def npy_header(shape, descr="<f4"):
        h = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
        h = h + " " * (63 - (len(h) + 10) % 64) + "\n"
        return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode()
    def digest(r):
        h = []
        def walk(v):
            if isinstance(v, (list, tuple)):
                h.append(b"(")
                for x in v:
                    walk(x)
                h.append(b")")
            else:
                a = np.asarray(v); h.append(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
        walk(r)
        return b"|".join(h)
    def torn(read, n_fits=15):
        """A fit loop in one thread, read(m) in this one: every read raises RuntimeError or equals read() of a
        copy of the model at some fit boundary; returns (results, refused)."""
        m = model((2, 6, 6, 1), activation="relu", loss="mse")
        Xt = np.random.default_rng(0).normal(size=(256, 2)).astype(np.float32)
        yt = np.sin(Xt.sum(1, keepdims=True))
        bounds = [m.get_flat_params()]
        done = threading.Event()
        def pause(*a):
            time.sleep(0.0003)
        def train():
            try:
                while len(bounds) <= n_fits:
                    try:
                        m.fit(Xt, yt, epochs=3, batch_size=8, lr=0.05, optimizer="adam", callbacks=[pause])
                    except RuntimeError:
                        continue
                    bounds.append(m.get_flat_params())
                    time.sleep(0.003)
            finally:
                done.set()
        th = threading.Thread(target=train); th.start()
        res, refused = [], 0
        try:
            while not done.is_set():
                try:
                    r = read(m)
                    if len(res) < 3000:
                        res.append(digest(r))
                except RuntimeError:
                    refused += 1
                time.sleep(0)
        finally:
            th.join()
        ok = {digest(read(clone(m, f))) for f in bounds}
        bad = sum(r not in ok for r in res)
        check(bad == 0, f"{bad} of {len(res)} reads during fit matched no fit boundary ({refused} refused)")
        return res, refused
    def clone(m, flat):
        c = fastmlp.MLP(m.layers, activation=m.activations[:-1], output=m.activations[-1], loss=m.loss,
                        dtype=m.dtype.name, seed=0)
        c.set_flat_params(flat)
        return c
    # ---- the attack ----
__CODE__
    _report(status="ok")
except Wrong as e:
    _report(status="wrong", reason=str(e))
except Runaway as e:
    _report(status="runaway", reason=str(e))
except Unclear as e:
    _report(status="unclear", reason=str(e))
except BaseException as e:
    import traceback
    _report(status="exc", type=type(e).__name__, mro=[c.__name__ for c in type(e).__mro__], msg=str(e)[:600],
            filename=getattr(e, "filename", None), tb=traceback.format_exc()[-800:])
'''


# ---------------------------------------------------------------------------------------------------------------
# fixtures: made once, copied into every attack's folder
def make_fixtures(base):
    import numpy as np
    sys.path.insert(0, ROOT)
    import fastmlp
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] + 2 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    Xr = rng.normal(size=(200, 2))
    yr = np.sin(Xr.sum(1, keepdims=True))
    np.savez(os.path.join(base, "data.npz"), X=X, y=y, Xr=Xr, yr=yr)
    m = fastmlp.MLP([4, 8, 3], seed=0)
    m.fit(X, y, epochs=3, optimizer="adam")
    m.save(os.path.join(base, "m.npz"), metadata={"note": "fixture"})
    cols = ["a", "b", "c", "d"]
    with open(os.path.join(base, "train.csv"), "w") as f:
        f.write(",".join(cols + ["label"]) + "\n")
        for r, lab in zip(X, y):
            f.write(",".join(f"{v:.6g}" for v in r) + f",{lab}\n")
    with open(os.path.join(base, "test.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in X[:40]:
            f.write(",".join(f"{v:.6g}" for v in r) + "\n")
    with open(os.path.join(base, "old.csv"), "w") as f:
        f.write("an existing output\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "fastmlp", "train", "train.csv", "--out", "cli.npz", "--epochs", "30",
                        "--quiet", "--seed", "0", "--val", "0"], cwd=base, env=env, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(os.path.join(base, "cli.npz")):
        print("warning: fixture cli.npz not trained:", r.stderr.strip()[-300:], file=sys.stderr)
    r = subprocess.run([sys.executable, "-m", "fastmlp", "predict", "cli.npz", "test.csv"], cwd=base, env=env,
                       capture_output=True, text=True)
    with open(os.path.join(base, "ref_pred.csv"), "w") as f:
        f.write(r.stdout)


# ---------------------------------------------------------------------------------------------------------------
# the attacks
def dd(s):
    return textwrap.dedent(s).strip("\n")


def build_cases(quick_files=30, full_files=400, seed=0):
    C = []

    def add(id, family, code=None, **kw):
        if code is not None:
            code = dd(code)
        C.append(Case(id=id, family=family, code=code, **kw))

    # ---- kernels -------------------------------------------------------------------------------------------
    fwd_check = """
        x = np.random.default_rng(1).normal(size=(257, 64)); W = np.random.default_rng(2).normal(size=(48, 64))
        b = np.zeros(48)
        ref = np.maximum(x @ W.T, 0)
        check(np.allclose(fastmlp.dense_forward(x, W, b), ref), "dense_forward wrong after set_num_threads")
        m = model(); m.fit(X, Y, epochs=2); check(np.isfinite(m.get_flat_params()).all(), "fit gave NaN")
    """
    for n, q in (("65536", True), ("32768", True), ("2**31-1", True), ("2**31", False), ("2**63", False),
                 ("1 << 16", False), ("-1", True), ("0", False), ("1.5", False), ("'4'", True), ("True", False),
                 ("None", False), ("np.int64(65536)", True), ("np.uint64(2**64-1)", False), ("4096", False)):
        add(f"kernels.set_num_threads({n})", "kernels",
            f"e = attempt(fastmlp.set_num_threads, {n})\nif e is None:\n" + textwrap.indent(dd(fwd_check), "    ")
            + "\nreraise(e)", names=("n", "thread"), quick=q,
            item="core: thread cap" if n in ("65536", "1 << 16", "np.int64(65536)", "4096") else "")
    add("kernels.OMP_NUM_THREADS=65536 env", "kernels", fwd_check, env={"OMP_NUM_THREADS": "65536"}, quick=True,
        names=("thread", "OMP"), item="core: thread cap")
    add("kernels.OMP_THREAD_LIMIT=1 then set 64", "kernels", "fastmlp.set_num_threads(64)\n" + dd(fwd_check),
        env={"OMP_THREAD_LIMIT": "1"}, names=("thread",))
    # adam / sgd updates: a result must be finite or refused
    adam = """
        W = np.ones(10); g = np.full(10, 0.1); mm = np.zeros(10); v = np.zeros(10)
        {setup}
        e = attempt(lambda: fastmlp.adam_update(W, g, mm, v, {t}, {kw}))
        check(e is not None or not np.isnan(W).any(), "adam_update turned the weights into NaN without an error")
        reraise(e)
    """
    for i, (setup, t, kw, q) in enumerate([
            ("v[:] = -1.0", 1, "lr=0.01", True), ("v[3] = -1e-30", 1, "lr=0.01", True),
            ("v[:] = -1.0; W = W.astype(np.float32); g = g.astype(np.float32); mm = mm.astype(np.float32); "
             "v = v.astype(np.float32)", 1, "lr=0.01", True),
            ("v[0] = np.nan", 1, "lr=0.01", False), ("mm[0] = np.inf", 1, "lr=0.01", False),
            ("pass", 0, "lr=0.01", True), ("pass", -1, "lr=0.01", False), ("pass", 2**70, "lr=0.01", False),
            ("pass", 1, "lr=float('nan')", False), ("pass", 1, "lr=float('inf')", False),
            ("pass", 1, "lr=0.01, beta1=1.0", False), ("pass", 1, "lr=0.01, beta2=1.5", False),
            ("pass", 1, "lr=0.01, eps=0.0", True), ("pass", 1, "lr=0.01, eps=-1.0", False),
            ("g[:] = 0", 1, "lr=0.01, eps=0.0", True), ("pass", 1, "lr=1e308, weight_decay=1e308", False),
            ("v = v[:5]", 1, "lr=0.01", False), ("v = mm", 1, "lr=0.01", False), ("g = W", 1, "lr=0.01", False),
            ("W = W[::2]; g = g[::2]; mm = mm[::2]; v = v[::2]", 1, "lr=0.01", False)]):
        add(f"kernels.adam_update#{i} {setup} t={t} {kw}", "kernels", adam.format(setup=setup, t=t, kw=kw),
            names=("v", "m", "t", "lr", "beta", "eps", "W", "dW", "weight_decay", "overlap", "alias"), quick=q,
            item="core: adam negative v" if "-1" in setup or "-1e-30" in setup else "")
    sgd = """
        W = np.ones(10); g = np.full(10, 0.1); v = np.zeros(10)
        {setup}
        e = attempt(lambda: fastmlp.sgd_update(W, g, v, {kw}))
        check(e is not None or not np.isnan(W).any(), "sgd_update turned the weights into NaN without an error")
        reraise(e)
    """
    for i, (setup, kw) in enumerate([("pass", "lr=float('nan')"), ("pass", "lr=0.1, momentum=-1.0"),
                                     ("v = v[:3]", "lr=0.1, momentum=0.9"), ("W.flags.writeable = False", "lr=0.1"),
                                     ("pass", "lr=1e308, weight_decay=1e308"), ("g = W", "lr=0.1"),
                                     ("v[0] = np.inf", "lr=0.1, momentum=0.9"), ("pass", "lr=0.1, l1=float('inf')")]):
        add(f"kernels.sgd_update#{i} {setup} {kw}", "kernels", sgd.format(setup=setup, kw=kw), quick=i < 3,
            names=("v", "lr", "momentum", "W", "dW", "weight_decay", "l1", "writ", "overlap", "alias", "read-only"))
    packed = """
        rng = np.random.default_rng(0); x = rng.normal(size=(33, 20)).astype(np.{dt}); W = rng.normal(size=(12, 20)).astype(np.{dt})
        b = rng.normal(size=12).astype(np.{dt}); Wp = fastmlp.dense_pack(W)
        ref = fastmlp.dense_forward(x, W, b)
        n_out = {n_out}
        e = attempt(lambda: fastmlp.dense_forward_packed(x, Wp, b, n_out{extra}))
        if e is None:
            out = fastmlp.dense_forward_packed(x, Wp, b, n_out{extra})
            check(out.shape == ref.shape and np.array_equal(out, ref), f"dense_forward_packed(n_out={{n_out}}) gave shape {{out.shape}} and wrong values")
        reraise(e)
    """
    for i, (n_out, extra, dt, q) in enumerate([
            ("11", "", "float32", True), ("13", "", "float32", True), ("8", "", "float64", True), ("0", "", "float32", False),
            ("-1", "", "float32", False), ("2**40", "", "float32", False), ("2**64", "", "float32", False),
            ("12.0", "", "float32", False), ("'12'", "", "float32", False), ("12", ", check_finite='no'", "float32", True),
            ("12", ", check_finite=2", "float32", False), ("12", ", check_finite=None", "float32", False),
            ("12", ", check_finite=1.0", "float32", False), ("12", "", "float64", False),
            ("12", ", act='bogus'", "float32", False), ("1", "", "float32", False), ("24", "", "float32", False)]):
        add(f"kernels.dense_forward_packed#{i} n_out={n_out}{extra} {dt}", "kernels",
            packed.format(n_out=n_out, extra=extra, dt=dt), quick=q,
            names=("n_out", "check_finite", "Wp", "act", "b"), item="core: packed n_out / check_finite"
            if n_out in ("11", "13", "8", "1", "24") or "check_finite" in extra else "")
    add("kernels.dense_forward_packed Wp truncated", "kernels", """
        Wp = np.zeros(5, np.float32)   # not what dense_pack returned
        reraise(attempt(fastmlp.dense_forward_packed, np.ones((3, 20), np.float32), Wp, np.zeros(12, np.float32), 12))
    """, expect="error", names=("Wp",), quick=True)
    add("kernels.dense_forward_packed Wp of other dtype", "kernels", """
        Wp = fastmlp.dense_pack(np.ones((12, 20), np.float64))
        reraise(attempt(fastmlp.dense_forward_packed, np.ones((3, 20), np.float32), Wp, np.zeros(12, np.float32), 12))
    """, expect="error", names=("Wp", "dtype", "float"))
    fwd = """
        rng = np.random.default_rng(0); x = rng.normal(size=(6, 6)); W = rng.normal(size=(6, 6)); b = rng.normal(size=6)
        {setup}
        ref = np.maximum(np.asarray(x, float) @ np.asarray(W, float).T + np.asarray(b, float), 0) if np.ndim(x) == 2 and np.shape(b) == (np.shape(W)[0],) else None
        e = attempt(lambda: fastmlp.dense_forward(x, W, b, {kw}))
        if e is None:
            check(ref is not None, "dense_forward accepted malformed input")
            check(np.allclose(got, ref), "dense_forward result differs from the numpy oracle")
        reraise(e)
    """.replace("e = attempt(lambda: fastmlp.dense_forward(x, W, b, {kw}))",
                "got = None\n        def _f():\n            global got\n            got = fastmlp.dense_forward(x, W, b, {kw})\n"
                "        e = attempt(_f)")
    for i, (setup, kw, q) in enumerate([
            ("pass", "out=x", True), ("pass", "out=W", True), ("b = x[0]", "out=x", False),
            ("pass", "out=x[:, ::-1]", False), ("x[2, 3] = np.nan", "act='relu'", True),
            ("x[2, 3] = np.inf", "check_finite=False", False), ("b = b[:5]", "act='relu'", True),
            ("W = W[:, :5]", "act='relu'", False), ("pass", "act='bogus'", True), ("pass", "act=None", False),
            ("x = x.astype(np.float16)", "act='relu'", False), ("x = x.astype(object)", "act='relu'", False),
            ("x = x[None]", "act='relu'", False), ("x = np.asfortranarray(x)", "act='relu'", False),
            ("pass", "check_finite='yes'", False), ("x = x[:0]", "act='relu'", False),
            ("pass", "out=np.empty((6, 6), np.float32)", False), ("o = np.empty((6, 6)); o.flags.writeable = False",
                                                                  "out=o", False),
            ("x = np.full((6, 6), 1e300); W = np.full((6, 6), 1e300)", "act='relu'", True),
            ("x = x.astype('>f8')", "act='relu'", False), ("x = x.astype(complex)", "act='relu'", False)]):
        add(f"kernels.dense_forward#{i} {setup} {kw}", "kernels", fwd.format(setup=setup, kw=kw), quick=q,
            names=("x", "W", "b", "out", "act", "check_finite", "overlap", "alias", "dtype", "finite"))
    bwd = """
        rng = np.random.default_rng(0); x = rng.normal(size=(5, 5)); W = rng.normal(size=(5, 5))
        p = np.maximum(x @ W.T, 0); dp = rng.normal(size=(5, 5))
        dz_ref = dp * (p > 0); dW_ref = dz_ref.T @ x; dx_ref = dz_ref @ W
        {setup}
        res = None
        def _f():
            global res
            res = fastmlp.dense_backward(x, W, p, dp, 'relu', {kw})
        e = attempt(_f)
        if e is None:
            dW, db, dx = res
            check(np.allclose(dW, dW_ref) and (dx is None or np.allclose(dx, dx_ref)), "dense_backward differs from the oracle")
        reraise(e)
    """
    for i, (setup, kw, q) in enumerate([("pass", "dx=x", True), ("pass", "dW=W", True), ("pass", "dx=dp", False),
                                        ("pass", "dz=p", False), ("pass", "dz=dp", False), ("pass", "dW=x", False),
                                        ("pass", "dx=W", False), ("dp = dp[:, :3]", "bias=True", False),
                                        ("pass", "accumulate=True", False), ("pass", "bias=False, db=np.zeros(5)", False)]):
        add(f"kernels.dense_backward#{i} {kw}", "kernels", bwd.format(setup=setup, kw=kw), quick=q,
            names=("dx", "dW", "dz", "dp", "db", "x", "W", "p", "overlap", "alias", "accumulate", "bias"))
    loss = """
        {setup}
        res = None
        def _f():
            global res
            res = {call}
        e = attempt(_f)
        if e is None:
            check(not any(np.isnan(np.asarray(r, float)).any() for r in res), "{name} returned NaN without an error")
            check(np.isfinite(np.asarray(res[-1], float)).all(), "{name}: a non-finite gradient without an error")
        reraise(e)
    """
    for i, (name, setup, call, q) in enumerate([
            ("softmax_ce", "z = np.zeros((4, 3)); y = np.array([0, 1, 2, 3])", "fastmlp.loss_softmax_ce(z, y)", True),
            ("softmax_ce", "z = np.zeros((4, 3)); y = np.array([0, 1, 2, -1])", "fastmlp.loss_softmax_ce(z, y)", True),
            ("softmax_ce", "z = np.zeros((4, 3)); y = np.array([0, 1, 2, 2**40])", "fastmlp.loss_softmax_ce(z, y)", False),
            ("softmax_ce", "z = np.zeros((4, 3)); y = np.array([0., 1.5, 2, 1])", "fastmlp.loss_softmax_ce(z, y)", False),
            ("softmax_ce", "z = np.array([[1e308, -1e308, 0.]]); y = np.array([1])", "fastmlp.loss_softmax_ce(z, y)", True),
            ("softmax_ce", "z = np.zeros((4, 3)); y = np.array([0, 1, 2])", "fastmlp.loss_softmax_ce(z, y)", False),
            ("sigmoid_bce", "z = np.zeros((2, 2)); t = np.array([[0., 2.], [1., 0.]])", "fastmlp.loss_sigmoid_bce(z, t)", True),
            ("sigmoid_bce", "z = np.full((2, 2), 1e300); t = np.ones((2, 2))", "fastmlp.loss_sigmoid_bce(z, t)", False),
            ("mse", "p = np.full((2, 2), 1e200); t = -p", "fastmlp.loss_mse(p, t)", True),
            ("mse", "p = np.zeros((2, 2)); t = np.zeros((2, 3))", "fastmlp.loss_mse(p, t)", False),
            ("mse", "p = np.zeros((2, 2)); t = np.zeros((2, 2))", "fastmlp.loss_mse(p, t, dp=t)", False),
            ("softmax", "z = np.array([[np.inf, 0.]])", "(fastmlp.softmax(z),)", False),
            ("softmax", "z = np.array([[1e308, -1e308]])", "(fastmlp.softmax(z),)", True),
            ("softmax", "z = np.zeros((2, 2))", "(fastmlp.softmax(z, out=np.zeros((2, 3))),)", False)]):
        add(f"kernels.loss#{i} {name} {setup}", "kernels", loss.format(setup=setup, call=call, name=name), quick=q,
            names=("y", "z", "t", "p", "dp", "out", "label", "target", "finite", "range"))
    add("kernels.dense_pack NaN W", "kernels", """
        reraise(attempt(fastmlp.dense_pack, np.full((3, 3), np.nan)))
    """, names=("W",))
    # ---- api -------------------------------------------------------------------------------------------------
    add("api.type(stepper)() call", "api", """
        m = model(); st = m.stepper(X[:32], Y[:32]); S = type(st)
        e = attempt(S)
        if e is None:
            s = S(); reraise(attempt(s))
        reraise(e)
    """, expect="error", names=("Stepper", "stepper"), quick=True, item="core: Stepper construction")
    add("api.type(stepper)().step_count", "api", """
        m = model(); st = m.stepper(X[:32], Y[:32]); S = type(st)
        e = attempt(S)
        if e is None:
            s = S(); e = attempt(lambda: s.step_count)
        reraise(e)
    """, expect="error", names=("Stepper", "stepper"), quick=True, item="core: Stepper construction")
    add("api.Stepper.__new__ call", "api", """
        S = fastmlp._core.Stepper
        s = S.__new__(S)
        reraise(attempt(s)); reraise(attempt(lambda: s.step_count)); reraise(attempt(repr, s))
    """, expect="error", names=("Stepper", "stepper"), quick=True, item="core: Stepper construction")
    add("api.Predictor.__new__ call", "api", item="core: Predictor construction", code="""
        P = fastmlp._core.Predictor
        p = P.__new__(P)
        reraise(attempt(p, np.ones((2, 4), np.float32)))
    """, expect="error", names=("Predictor", "predictor"), quick=True)
    add("api.OptimConfig.__new__ use", "api", """
        O = fastmlp._core.OptimConfig
        o = O.__new__(O)
        m = model()
        reraise(attempt(m._net.train_step, m._params, m._grads, o, None, None, X[:8], None, Y[:8].astype(np.int32)))
    """, names=("OptimConfig", "config", "cfg", "state", "counter", "t", "labels", "y", "expected"))
    netreuse = """
        n = fastmlp._core._Net([4, 8, 3], ["relu", "identity"], "mse", "float32")
        e = attempt(n.__init__, {bad})
        p = np.zeros(67, np.float32); x = np.ones((2, 4), np.float32); out = np.empty((2, 3), np.float32)
        reraise(attempt(lambda: n.forward(p, x, out))); reraise(attempt(lambda: n.n_params))
    """
    for i, bad in enumerate(['[4, -1, 3], ["relu", "identity"], "mse", "float32"',
                             '[4, 8, 3], ["relu", "bogus"], "mse", "float32"',
                             '[4, 8, 3], ["relu", "identity"], "mse", "int8"',
                             '[4, 2**40, 3], ["relu", "identity"], "mse", "float32"',
                             '[4] * 200, ["relu"] * 199, "mse", "float32"',
                             '[4, 8, 3], ["relu", "identity"], "bogus", "float32"']):
        add(f"api._Net failed __init__ reuse#{i}", "api", netreuse.format(bad=bad), quick=i < 3,
            names=("sizes", "layers", "acts", "activation", "loss", "dtype", "_Net", "net", "n_in", "params", "n"),
            item="core: _Net commit on success")
    add("api._Net re-__init__ to other sizes then old buffers", "api", """
        n = fastmlp._core._Net([4, 8, 3], ["relu", "identity"], "mse", "float32")
        n.__init__([40, 80, 30], ["relu", "identity"], "mse", "float32")
        p = np.zeros(67, np.float32); x = np.ones((2, 4), np.float32); out = np.empty((2, 3), np.float32)
        reraise(attempt(lambda: n.forward(p, x, out)))
    """, names=("params", "x", "out", "n_in", "expected", "_Net"), quick=True, item="core: _Net commit on success")
    add("api.Predictor failed __init__ reuse", "api", """
        m = model(); p = m.predictor()
        e = attempt(p.__init__, [4, -1, 3], ["relu", "identity"], m.get_flat_params())
        check(e is not None, "Predictor.__init__ accepted bad sizes")
        reraise(attempt(p, np.ones((2, 4), np.float32)))
    """, names=("layers", "Predictor", "predictor", "sizes", "params"), quick=True, item="core: commit on success")
    for i, (val, dt) in enumerate([("1e300", "float32"), ("-1e39", "float32"), ("3.5e38", "float32"),
                                   ("np.float64(1e308) * 10", "float64"), ("np.nan", "float64"),
                                   ("np.float128(1e4000) if hasattr(np, 'float128') else np.inf", "float64"),
                                   ("2**200", "float32")]):
        add(f"api.set_flat_params {val} into {dt}", "api", f"""
            m = model(dtype="{dt}"); before = state(m)
            flat = m.get_flat_params().astype(np.float64 if "{val}" != "2**200" else object); flat[0] = {val}
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                e = attempt(m.set_flat_params, flat)
            if e is None:
                check(np.isfinite(m.forward(X[:5])).all(), "set_flat_params accepted a value that makes forward NaN/Inf")
                m.save(os.path.join(D, "out.npz")); fastmlp.load(os.path.join(D, "out.npz"))
            else:
                unchanged(m, before, "the refused set_flat_params")
            reraise(e)
        """, names=("flat", "range", "finite", "float"), quick=i < 2, item="library: set_flat_params cast")
    bad_val = [("(X[:20], Y[:19])", True), ("(X[:20], np.full(20, 7))", True), ("(X[:20],)", True),
               ("(X[:20, :3], Y[:20])", False), ("'abc'", False), ("(X[:20], Y[:20], Y[:20])", False),
               ("(np.full((20, 4), np.nan), Y[:20])", False), ("(X[:20], -Y[:20] - 1)", False),
               ("(X[:20], Y[:20].astype(float) + 0.5)", False), ("{'X': X}", False), ("(None, None)", False)]
    for i, (vd, q) in enumerate(bad_val):
        add(f"api.fit validation_data={vd}", "api", f"""
            m = model(); m.fit(X, Y, epochs=1); before = state(m)
            e = attempt(lambda: m.fit(X, Y, epochs=3, validation_data={vd}))
            unchanged(m, before, "a fit refusing its validation_data")
            reraise(e)
        """, expect="error", names=("validation",), quick=q, item="library: validate before the first step")
    for i, (kw, q) in enumerate([("validation_split='0.2'", True), ("validation_split=-0.1", False),
                                 ("validation_split=1.0", False), ("validation_split=float('nan')", True),
                                 ("epochs=-1", False), ("epochs=2.5", False), ("batch_size=0", False),
                                 ("lr=float('nan')", True), ("lr=-1.0", False), ("lr='0.1'", False),
                                 ("optimizer='bogus'", False), ("lr_schedule='bogus'", False), ("patience=0", False),
                                 ("callbacks=[1]", False), ("on_divergence='ignore'", False),
                                 ("momentum=2.0, optimizer='momentum'", False), ("beta2=1.0, optimizer='adam'", False),
                                 ("shuffle='yes'", False), ("verbose=2", False), ("weight_decay=-1.0", False)]):
        arg = kw.split("=")[0]
        add(f"api.fit({kw})", "api", f"""
            m = model(); m.fit(X, Y, epochs=1); before = state(m)
            e = attempt(lambda: m.fit(X, Y, {kw if kw.startswith("epochs") else "epochs=2, " + kw}))
            if e is not None:
                unchanged(m, before, "a refused fit")
            reraise(e)
        """, names=(arg, "optimizer", "schedule", "callback"), quick=q)
    for i, (kw, q) in enumerate([("eps=0", True), ("eps=-1e-3", False), ("eps=float('nan')", False),
                                 ("eps='a'", False)]):
        add(f"api.gradcheck({kw})", "api", f"""
            m = model(dtype="float64")
            e = attempt(lambda: fastmlp.gradcheck(m, X[:10].astype(float), Y[:10], {kw}))
            reraise(e)
        """, expect="error", names=("eps",), quick=q)
    for i, (args, names, q) in enumerate([
            ("[4, 3], seed='abc'", ("seed",), True), ("[4, 3], seed=-1", ("seed",), False),
            ("[4, 3], seed=1.5", ("seed",), False), ("[4, 3], dtype='bogus'", ("dtype",), True),
            ("[4, 3], dtype=np.int32", ("dtype",), False), ("[4, 3], dtype='float16'", ("dtype",), False),
            ("[2**64, 2]", ("layers", "size"), True), ("[2**63, 2]", ("layers", "size"), False),
            ("[0, 2]", ("layers",), False), ("[-1, 2]", ("layers",), False), ("[2]", ("layers",), False),
            ("[]", ("layers",), False), ("'2,3'", ("layers",), False), ("[2.5, 3]", ("layers",), True),
            ("[True, 2]", ("layers",), False), ("[4, 5, 3], activation='bogus'", ("activation",), False),
            ("[4, 3], loss='bogus'", ("loss",), False), ("[4, 3], init='bogus'", ("init",), False),
            ("[4, 3], output='softmax'", ("output",), False), ("[2] * 300", ("layers",), False),
            ("[np.float64(4.0), 3]", ("layers",), False), ("[4, 3], activation=['relu', 'tanh']", ("activation",), False)]):
        add(f"api.MLP({args})", "api", f"""
            e = attempt(lambda: fastmlp.MLP({args}))
            reraise(e)
        """, expect="error", names=names, quick=q, max_s=5.0)
    for i, (path, names, q) in enumerate([("'/missing/m.npz'", ("/missing",), True),
                                          ("D + os.sep", ("path", "folder", "directory", "name"), False), ("'/proc/m.npz'", ("/proc",), False),
                                          ("os.path.join(D, 'm.npz', 'x.npz')", ("m.npz",), False)]):
        add(f"api.save({path})", "api", f"""
            m = model()
            e = attempt(m.save, {path})
            check(e is not None, "save reported success for an impossible path")
            import re
            unclear(not re.search(r"fastmlp-tmp|\\.tmp\\b|\\.part\\b|\\.\\d+\\.[0-9a-f]{{8}}", str(e)), f"the error names the temporary file: {{e}}")
            raise e
        """, names=names, quick=q, item="library: save errors" if i == 0 else "")
    add("api.save metadata not JSON", "api", """
        m = model(); reraise(attempt(m.save, os.path.join(D, "out.npz"), metadata={"a": object()}))
    """, expect="error", names=("metadata",))
    add("api.save metadata NaN", "api", """
        m = model(); reraise(attempt(m.save, os.path.join(D, "out.npz"), metadata={"a": float("nan")}))
    """, names=("metadata",))
    add("api.to_onnx(path=<dir>)", "api", """
        m = model(); reraise(attempt(m.to_onnx, path=D))
    """, expect="error", names=("fastmlp-hostile", "path", "onnx", "directory"), quick=True)
    add("api.forward 1-D sample hint", "api", """
        m = model(); e = attempt(m.forward, X[0])
        check(e is not None, "forward accepted a 1-D sample")
        unclear("reshape(-1, 1)" not in str(e), "the hint says reshape(-1, 1) for one sample")
        raise e
    """, names=("reshape(1, -1)",), quick=True)
    for i, (x, q) in enumerate([("X[:, :3]", False), ("np.full((2, 4), np.nan)", True), ("X.astype(str)", False),
                                ("X[:0]", False), ("X.astype(object)", False), ("np.full((2, 4), 1e300)", True),
                                ("[[1, 2, 3, 'a']]", False)]):
        add(f"api.forward({x})", "api", f"""
            m = model(); e = attempt(lambda: m.forward({x}))
            if e is None:
                check(np.isfinite(m.forward({x})).all(), "forward returned NaN/Inf without an error")
            reraise(e)
        """, names=("X",), quick=q)
    for opt, q in (("adam", True), ("momentum", True), ("sgd", False), ("nesterov", False)):
        add(f"api.save->load->fit resumes bit-identically ({opt})", "api", f"""
            a = model(); a.fit(X, Y, epochs=2, optimizer="{opt}", shuffle=False)
            b = pickle.loads(pickle.dumps(a))
            a.save(os.path.join(D, "r.npz")); c = fastmlp.load(os.path.join(D, "r.npz"))
            b.fit(X, Y, epochs=2, optimizer="{opt}", shuffle=False)
            c.fit(X, Y, epochs=2, optimizer="{opt}", shuffle=False)
            check(np.array_equal(b.get_flat_params(), c.get_flat_params()) and b.step_count == c.step_count,
                  "save -> load -> fit differs from continuing")
        """, expect="ok", quick=q, item="library: save optimizer state")
    add("api.save->load->fit shuffled (rng state)", "api", """
        a = model(); a.fit(X, Y, epochs=2, optimizer="adam")
        b = pickle.loads(pickle.dumps(a))
        a.save(os.path.join(D, "r.npz")); c = fastmlp.load(os.path.join(D, "r.npz"))
        b.fit(X, Y, epochs=2, optimizer="adam"); c.fit(X, Y, epochs=2, optimizer="adam")
        check(np.array_equal(b.get_flat_params(), c.get_flat_params()), "save -> load -> shuffled fit differs")
    """, expect="ok", item="library: save optimizer state")
    add("api.stepper after reset_parameters", "api", """
        m = model(); s = m.stepper(X[:32], Y[:32]); s(); m.reset_parameters()
        reraise(attempt(s))
    """, expect="error", names=("stepper", "optimizer", "reset"))
    add("api.ShallowNet.to_mlp(M=1e20)", "api", """
        from fastmlp import regions as R
        m = model((2, 4, 4, 1), activation="relu", loss="mse", dtype="float64")
        m.set_flat_params(np.random.default_rng(6).normal(size=m.n_params))
        s = R.to_shallow(m, (-2, 2))
        Xs = np.random.default_rng(0).uniform(-2, 2, (2000, 2))
        e = attempt(s.to_mlp, 1e20)
        if e is None:
            err = np.abs(s.to_mlp(1e20).forward(Xs) - m.forward(Xs))
            check(np.median(err) < 1e-6, f"to_mlp(1e20): median error {np.median(err):.3g}")
        reraise(e)
    """, names=("M",), quick=True, item="regions: to_mlp bound")
    for M in ("1e300", "1e12", "np.inf", "-1.0", "1e-3"):
        add(f"api.ShallowNet.to_mlp(M={M})", "api", f"""
            from fastmlp import regions as R
            m = model((2, 4, 1), activation="relu", loss="mse", dtype="float64")
            m.set_flat_params(np.random.default_rng(1).normal(size=m.n_params))
            s = R.to_shallow(m, (-1, 1)); Xs = np.random.default_rng(0).uniform(-1, 1, (2000, 2))
            e = attempt(s.to_mlp, {M})
            if e is None:
                err = np.abs(s.to_mlp({M}).forward(Xs) - m.forward(Xs))
                check(np.median(err) < 1e-6, f"to_mlp: median error {{np.median(err):.3g}}")
            reraise(e)
        """, names=("M",), item="regions: to_mlp bound")
    regions_bad = [("R.local_linear(m, np.ones(2))", True), ("R.local_linear(m, np.full((1, 2), np.nan))", False),
                   ("R.enumerate_regions(m, (1, -1))", True), ("R.enumerate_regions(m, (-1, 1), max_regions=0)", False),
                   ("R.pieces_1d(m, [0, 0], [0, 0])", False), ("R.shapley_values(m, np.ones((1, 2)), np.ones((0, 2)))", False),
                   ("R.enumerate_regions(model((2, 64, 64, 64, 1), activation='relu'), (-9, 9), max_seconds=1)", False),
                   ("R.local_linear(model((2, 4, 1), activation='tanh'), np.ones((1, 2)))", False),
                   ("R.to_shallow(m, None, max_regions=2)", False), ("R.linear_shap('m', np.ones((1, 2)), np.ones((1, 2)))", False)]
    for i, (call, q) in enumerate(regions_bad):
        add(f"api.regions {call}", "api", f"""
            from fastmlp import regions as R
            m = model((2, 6, 6, 1), activation="relu", loss="mse")
            reraise(attempt(lambda: {call}))
        """, names=("X", "box", "max_", "a", "b", "background", "budget", "model", "relu", "regions", "point"),
            quick=q, timeout=30)
    # ---- model files ---------------------------------------------------------------------------------------
    crafted = [
        ("layers float [3.9, 8, 3]", "craft(P, layers=np.array([4.9, 8, 3]))", ("layers",), True),
        ("format_version 1.9", "craft(P, format_version=np.float64(1.9))", ("format_version",), True),
        ("layers huge [20000, 20000, 3]", "craft(P, layers=np.array([20000, 20000, 3]))", ("layers", "params"), True),
        ("layers [2**62, 2]", "craft(P, layers=np.array([2**62, 2]), activations=np.array(['identity']))", ("layers",), False),
        ("layers negative", "craft(P, layers=np.array([4, -8, 3]))", ("layers",), False),
        ("layers 2-D", "craft(P, layers=np.array([[4, 8, 3]]))", ("layers",), False),
        ("layers empty", "craft(P, layers=np.array([], np.int64))", ("layers",), False),
        ("layers strings", "craft(P, layers=np.array(['4', '8', '3']))", ("layers",), False),
        ("layers 300 entries", "craft(P, layers=np.array([4] * 300), activations=np.array(['relu'] * 299))", ("layers",), False),
        ("activations bogus", "craft(P, activations=np.array(['relu', 'bogus']))", ("activation",), False),
        ("loss bogus", "craft(P, loss=np.array('bogus'))", ("loss",), False),
        ("dtype bogus", "craft(P, dtype=np.array('int8'))", ("dtype",), False),
        ("params NaN", "craft(P, params=np.full(67, np.nan, np.float32))", ("params", "NaN"), True),
        ("params float16", "craft(P, params=np.zeros(67, np.float16))", ("params",), False),
        ("params wrong size", "craft(P, params=np.zeros(66, np.float32))", ("params",), False),
        ("params 2-D", "craft(P, params=np.zeros((67, 1), np.float32))", ("params",), False),
        ("params object (pickle)", "craft(P, params=np.array([1, 'a'], dtype=object))", ("params", "pickle", "object"), True),
        ("step_count negative", "craft(P, step_count=np.int64(-5))", ("step_count",), False),
        ("step_count float 2.5", "craft(P, step_count=np.float64(2.5))", ("step_count",), True),
        ("step_count 2**70", "craft(P, step_count=np.array(2**70, dtype=object))", ("step_count",), False),
        ("format_version 99", "craft(P, format_version=np.int64(99))", ("format_version", "version"), False),
        ("missing params", "craft(P, drop=['params'])", ("params",), False),
        ("missing layers", "craft(P, drop=['layers'])", ("layers",), False),
        ("metadata not JSON", "craft(P, metadata=np.array('{not json'))", ("metadata",), False),
        ("metadata JSON list", "craft(P, metadata=np.array('[1, 2]'))", ("metadata",), False),
        ("optimizer JSON bogus", "craft(P, optimizer=np.array('{\"name\": \"bogus\"}'))", ("optimizer",), True),
        ("optimizer step_count -1", "craft(P, optimizer=np.array('{\"name\": \"adam\", \"options\": {}, \"step_count\": -1}'))", ("optimizer", "step_count"), False),
        ("optimizer_state wrong size", "craft(P, optimizer_state=np.zeros(3, np.float32))", ("optimizer",), False),
        ("optimizer_state NaN", "craft(P, optimizer_state=np.full(134, np.nan, np.float32))", ("optimizer",), False),
        ("rng_state bogus", "craft(P, rng_state=np.array('{\"bit_generator\": \"Nope\"}'))", ("rng_state", "rng"), False),
        ("extra member", "craft(P, extra=np.zeros(10))", ("extra",), False),
        ("extra member (pickle)", "craft(P, extra=np.array([{}], dtype=object))", ("extra", "pickle"), False),
        ("params header declares 10**12 floats", "craft(P, drop=['params'], raw={'params.npy': npy_header((10**12,)) + bytes(268)})", ("params",), True),
        ("metadata header declares <U10**9", "craft(P, drop=['metadata'], raw={'metadata.npy': npy_header((), '<U1000000000') + bytes(64)})", ("metadata",), False),
        ("params header fortran/shape lie", "craft(P, drop=['params'], raw={'params.npy': npy_header((67, 10**6)) + bytes(268)})", ("params",), False),
        ("duplicate member names", "craft(P, raw={'params.npy': open(os.path.join(D, 'm.npz'), 'rb').read()[:10]})", ("params", "duplicate"), False),
        ("member named ../escape", "craft(P, raw={'../escape.npy': b'x'})", ("escape", "member"), False),
    ]
    for i, (what, make, names, q) in enumerate(crafted):
        add(f"files.crafted {what}", "files", f"""
            P = os.path.join(D, "bad.npz")
            {make}
            def _load():
                return fastmlp.load(P)
            e = attempt(lambda: budget(_load, seconds=1.0, mb=50))
            if e is None:
                mm = fastmlp.load(P)
                check(np.isfinite(mm.forward(X[:5])).all(), "a hostile file loaded into a model that gives NaN")
                ref = fastmlp.load(os.path.join(D, "m.npz"))
                check(mm.layers == ref.layers and np.array_equal(mm.get_flat_params(), ref.get_flat_params()),
                      "a hostile file loaded with other contents")
            else:
                unclear("bad.npz" in str(e), f"the error does not name the file: {{e}}")
            reraise(e)
        """, names=names + ("bad.npz",), quick=q, item="library: load checks")
    add("files.load huge-declared 2 KB file under 50 MB / 0.1 s", "files", """
        P = craft(os.path.join(D, "bad.npz"), layers=np.array([20000, 20000, 2]))
        check(os.path.getsize(P) < 8192, "the file is not small")
        e = attempt(lambda: budget(lambda: fastmlp.load(P), seconds=0.1, mb=50))
        check(e is not None, "a file declaring 400 M parameters with 67 loaded")
        raise e
    """, names=("layers", "params"), quick=True, item="library: load sizes from headers")
    add("files.load extra member 2 GB of zeros (2 MB file)", "files", """
        P = os.path.join(D, "bad.npz")
        craft(P)
        with zipfile.ZipFile(P, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            with z.open("extra.npy", "w", force_zip64=True) as f:
                f.write(npy_header((2 * 2**30 // 4,)))
                block = bytes(64 << 20)
                for _ in range(32):
                    f.write(block)
        e = attempt(lambda: budget(lambda: fastmlp.load(P), seconds=1.0, mb=50))
        if e is None:
            pass
        reraise(e)
    """, names=("extra", "bad.npz", "member"), timeout=90, item="library: read known members only")
    add("files.load extra member 200 MB of zeros", "files", """
        P = os.path.join(D, "bad.npz")
        craft(P)
        with zipfile.ZipFile(P, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            z.writestr("extra.npy", npy_header((50 << 20,)) + bytes(200 << 20))
        reraise(attempt(lambda: budget(lambda: fastmlp.load(P), seconds=0.5, mb=50)))
    """, names=("extra", "bad.npz", "member"), quick=True, item="library: read known members only")
    add("files.load(FIFO)", "files", """
        P = os.path.join(D, "fifo.npz"); os.mkfifo(P)
        e = attempt(fastmlp.load, P); check(e is not None, "load(fifo) returned"); raise e
    """, names=("fifo.npz",), timeout=10, quick=True, item="library: regular files only")
    add("files.read_metadata(FIFO)", "files", """
        P = os.path.join(D, "fifo.npz"); os.mkfifo(P)
        e = attempt(fastmlp.read_metadata, P); check(e is not None, "read_metadata(fifo) returned"); raise e
    """, names=("fifo.npz",), timeout=10, item="library: regular files only")
    for what, path, q in (("/dev/zero", "'/dev/zero'", True), ("a directory", "D", False),
                          ("an empty file", "open(os.path.join(D, 'e.npz'), 'w').close() or os.path.join(D, 'e.npz')", False),
                          ("a text file named .npz", "open(os.path.join(D, 't.npz'), 'w').write('hello') and os.path.join(D, 't.npz')", True),
                          ("a missing file", "os.path.join(D, 'nope.npz')", False),
                          ("a pickle named .npz", "pickle.dump({'a': 1}, open(os.path.join(D, 'p.npz'), 'wb')) or os.path.join(D, 'p.npz')", False),
                          ("a plain .npy", "np.save(os.path.join(D, 'a.npy'), np.zeros(3)) or os.path.join(D, 'a.npy')", False),
                          ("bytes path", "os.fsencode(os.path.join(D, 'nope.npz'))", False), ("int 10**6 fd", "10**6", False),
                          ("None", "None", False)):
        add(f"files.load({what})", "files", f"""
            P = {path}
            e = attempt(lambda: budget(lambda: fastmlp.load(P), seconds=2, mb=100))
            check(e is not None, "load accepted it")
            check("pickle" not in str(e).lower() or "allow_pickle" not in str(e), f"numpy's pickle message: {{e}}")
            raise e
        """, names=("zero", "dev", "nope", "e.npz", "t.npz", "p.npz", "a.npy", "fastmlp-hostile", "path", "fd", "file"), quick=q,
            timeout=15, mem=2.0)
    add("files.load(fd) keeps the caller's descriptor", "files", """
        fd = os.open(os.path.join(D, "t.bin"), os.O_RDWR | os.O_CREAT)
        os.write(fd, b"not a model"); os.lseek(fd, 0, 0)
        e = attempt(fastmlp.load, fd)
        try:
            os.fstat(fd)
        except OSError:
            check(False, "load closed the caller's file descriptor")
        reraise(e)
    """, names=("fd", "file", "descriptor", "model"), quick=True)
    add("files.load(file object) leaves it open", "files", """
        f = open(os.path.join(D, "m.npz"), "rb"); m = fastmlp.load(f); check(not f.closed, "load closed the caller's file")
    """, expect="ok")
    for kind in ("0644", "0600", "0755"):
        add(f"files.save keeps mode {kind} on re-save", "files", f"""
            P = os.path.join(D, "keep.npz"); model().save(P); os.chmod(P, 0o{kind[1:]})
            model().save(P)
            check(oct(os.stat(P).st_mode & 0o777) == oct(0o{kind[1:]}), f"re-save changed mode to {{oct(os.stat(P).st_mode & 0o777)}}")
        """, expect="ok", quick=kind == "0644", item="library: save modes")
    add("files.new file mode follows the umask", "files", """
        os.umask(0o022); P = os.path.join(D, "new.npz"); model().save(P)
        check(os.stat(P).st_mode & 0o777 == 0o644, f"new file mode {oct(os.stat(P).st_mode & 0o777)}")
    """, expect="ok", quick=True, item="library: save modes")
    add("files.save through a symlink writes the target", "files", """
        T = os.path.join(D, "target.npz"); L = os.path.join(D, "link.npz"); model().save(T); os.symlink(T, L)
        model(seed=5).save(L)
        check(os.path.islink(L), "save replaced the link"); check(fastmlp.load(T).seed is None or True, "")
        check(np.array_equal(fastmlp.load(T).get_flat_params(), model(seed=5).get_flat_params()), "target not updated")
    """, expect="ok", quick=True, item="library: save through links")
    add("files.save through a dangling symlink", "files", """
        L = os.path.join(D, "dangling.npz"); os.symlink(os.path.join(D, "sub", "x.npz"), L)
        reraise(attempt(model().save, L))
    """, names=("sub", "dangling", "x.npz"))
    add("files.save without .npz writes name.npz", "files", """
        P = os.path.join(D, "noext"); r = model().save(P)
        check(os.path.exists(P + ".npz") and not os.path.exists(P), f"saved to {r}")
    """, expect="ok")
    # damaged files: truncations and bit flips of m.npz
    rng = random.Random(seed)
    n_trunc, n_flip = full_files // 2, full_files - full_files // 2
    for k in range(full_files):
        if k < n_trunc:
            what, make = f"truncated#{k}", f"data = data[:int(len(data) * {rng.random():.6f})]"
        else:
            bits = rng.randint(1, 8)
            pos = [rng.random() for _ in range(bits)]
            what = f"bitflip#{k - n_trunc} ({bits} bits)"
            make = "data = bytearray(data)\n" + "\n".join(
                f"i = int(len(data) * {p:.6f}); data[i] ^= 1 << {rng.randint(0, 7)}" for p in pos)
        add(f"files.damaged {what}", "files", """
            data = open(os.path.join(D, "m.npz"), "rb").read()
            """ + textwrap.indent(make, "            ").lstrip() + """
            P = os.path.join(D, "bad.npz"); open(P, "wb").write(bytes(data))
            e = attempt(lambda: budget(lambda: fastmlp.load(P), seconds=2.0, mb=100))
            if e is None:
                mm, ref = fastmlp.load(P), fastmlp.load(os.path.join(D, "m.npz"))
                check(mm.layers == ref.layers and mm.activations == ref.activations and mm.loss == ref.loss and
                      np.array_equal(mm.get_flat_params(), ref.get_flat_params()) and mm.step_count == ref.step_count,
                      "a damaged file loaded with other contents")
            else:
                unclear("bad.npz" in str(e), f"the error does not name the file: {e}")
            reraise(e)
        """, names=("bad.npz",), quick=(k % max(1, full_files // quick_files) == 0), timeout=20)
    # ---- cli -------------------------------------------------------------------------------------------------
    def nochange(*files):
        return files

    def cli(id, argv, expect="error", names=(), quick=False, **kw):
        family = kw.pop("family", "cli")
        C.append(Case(id=f"{family}.{id}", family=family, argv=argv, expect=expect, names=names, quick=quick, **kw))

    def preds_equal_ref(d, rc, out, err):
        ref = open(os.path.join(d, "ref_pred.csv")).read()
        got = out if out.strip() else (open(os.path.join(d, "p.csv")).read() if os.path.exists(os.path.join(d, "p.csv")) else "")
        if rc == 0 and got.split() != ref.split():
            return ("silent wrong", "predictions differ from the same columns in the training order")
        return None

    def reorder(d):
        lines = open(os.path.join(d, "test.csv")).read().split()
        rows = [r.split(",") for r in lines]
        with open(os.path.join(d, "reordered.csv"), "w") as f:
            for r in rows:
                f.write(",".join([r[3], r[1], r[0], r[2]]) + "\n")
        with open(os.path.join(d, "missing.csv"), "w") as f:
            for r in rows:
                f.write(",".join(r[:3]) + "\n")
        with open(os.path.join(d, "extra.csv"), "w") as f:
            for i, r in enumerate(rows):
                f.write(",".join(r + (["zz"] if i == 0 else ["1"])) + "\n")
        with open(os.path.join(d, "renamed.csv"), "w") as f:
            for i, r in enumerate(rows):
                f.write(",".join(["a", "b", "c", "e"] if i == 0 else r) + "\n")

    cli("predict reordered columns", ["predict", "cli.npz", "reordered.csv"], expect="either", check=preds_equal_ref,
        setup=reorder, names=("column", "a", "d"), quick=True, item="cli: match columns by name")
    cli("predict reordered columns --out", ["predict", "cli.npz", "reordered.csv", "--out", "p.csv"], expect="either",
        check=preds_equal_ref, setup=reorder, names=("column",), item="cli: match columns by name")
    cli("predict missing column", ["predict", "cli.npz", "missing.csv"], setup=reorder, names=("d", "column", "missing"),
        quick=True, item="cli: match columns by name")
    cli("predict unknown extra column", ["predict", "cli.npz", "extra.csv"], setup=reorder, names=("zz", "column"),
        item="cli: match columns by name")
    cli("predict renamed column", ["predict", "cli.npz", "renamed.csv"], setup=reorder, names=("e", "d", "column"),
        item="cli: match columns by name")

    def csv_writer(name, text):
        def setup(d):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        return setup

    rows = "".join(f"{i % 7},{(i * 3) % 5},{i % 3}\n" for i in range(40))
    open_quote = "x,y,label\n" + rows[:60] + '1,2,"a\n' + "".join(f"{i},{i},b\n" for i in range(10)) + '3,4,c"\n' + rows
    cli("train CSV with a quote spanning rows", ["train", "q.csv", "--out", "q.npz", "--epochs", "1", "--quiet"],
        setup=csv_writer("q.csv", open_quote), names=("quote", "line", "row", "field", "column"), quick=True,
        item="cli: CSV parser")
    ok_quote = "x,y,label\n" + "".join(f'{i % 7},{(i * 3) % 5},"cl\nass{i % 2}"\n' for i in range(40))

    def quote_classes(d, rc, out, err):
        if rc != 0:
            return None
        import numpy as np
        sys.path.insert(0, ROOT)
        import fastmlp
        meta = fastmlp.read_metadata(os.path.join(d, "q.npz"))
        cls = json.dumps(meta, default=str)
        if "cl\\nass0" not in cls:
            return ("silent wrong", f"quoted multi-line labels read as something else: {cls[:120]}")
        return None

    cli("train CSV with quoted multi-line labels", ["train", "q.csv", "--out", "q.npz", "--epochs", "1", "--quiet"],
        setup=csv_writer("q.csv", ok_quote), expect="either", check=quote_classes, names=("label", "quote", "line"),
        item="cli: CSV parser")
    for what, val, q in (("1_000", "1_000", True), ("Arabic-Indic digits", "\u0661\u0662", True), ("0x10", "0x10", False),
                         ("nan", "nan", False), ("inf", "inf", False), ("1e400", "1e400", False), ("full-width 5", "\uff15", False)):
        text = "x,y,label\n" + rows.replace("3,", f"{val},", 1)
        cli(f"train CSV value {what}", ["train", "v.csv", "--out", "v.npz", "--epochs", "1", "--quiet"],
            setup=csv_writer("v.csv", text), names=(val, "row", "line", "number", "value"), quick=q,
            item="cli: CSV parser")
    cli("train decimal-comma CSV", ["train", "dc.csv", "--out", "dc.npz", "--epochs", "1", "--quiet"],
        setup=csv_writer("dc.csv", "x;y;label\n" + "".join(f"{i},5;{i % 3},25;{i % 2}\n" for i in range(30))),
        expect="either", names=("decimal", "comma", "1,5", "0,5", ","), quick=True)
    for delim in ("ab", "", "\\n", '"'):
        cli(f"train --delimiter {delim!r}", ["train", "train.csv", "--delimiter", delim, "--out", "o.npz", "--quiet"],
            names=("--delimiter", "delimiter"), quick=delim == "ab")
    bad_opts = [("--seed", "-1"), ("--seed", str(2**70)), ("--epochs", "-1"), ("--epochs", "1e9"), ("--batch-size", "0"),
                ("--lr", "nan"), ("--lr", "inf"), ("--lr", "-1"), ("--val", "1.5"), ("--val", "nan"), ("--hidden", "0"),
                ("--hidden", "-5"), ("--hidden", ""), ("--hidden", "10,,10"), ("--hidden", "1e9"), ("--layers", "4,8,9"),
                ("--label", "nope"), ("--label", "99"), ("--label", "-99"), ("--weight-decay", "-1"), ("--drop", "zz"),
                ("--features", "a,zz")]
    for opt, val in bad_opts:
        quick_epochs = [] if opt == "--epochs" else ["--epochs", "1"]  # a later --epochs would override the attack
        cli(f"train {opt} {val}", ["train", "train.csv", opt, val, "--out", "o.npz", "--quiet"] + quick_epochs,
            expect="either" if val == "" else "error",
            names=(opt, opt.lstrip("-"), val or "empty"), quick=opt in ("--seed", "--hidden") and val in ("-1", "1e9", "10,,10"),
            max_s=10)
    cli("train --hidden 1000000000", ["train", "train.csv", "--hidden", "1000000000", "--out", "o.npz", "--quiet"],
        names=("--hidden", "hidden", "1000000000", "size", "parameters"), quick=True, max_s=10,
        item="library: size guard")
    cli("train --hidden 1000000000,1000000000", ["train", "train.csv", "--hidden", "1000000000,1000000000", "--out",
                                                "o.npz", "--quiet"], names=("--hidden", "hidden", "size", "parameters"),
        max_s=10, item="library: size guard")
    cli("train FIFO", ["train", "fifo.csv", "--out", "o.npz", "--quiet"], setup=lambda d: os.mkfifo(os.path.join(d, "fifo.csv")),
        names=("fifo.csv", "regular"), timeout=10, quick=True, item="cli: regular files only")
    cli("predict model FIFO", ["predict", "fifo.npz", "test.csv"], setup=lambda d: os.mkfifo(os.path.join(d, "fifo.npz")),
        names=("fifo.npz", "regular"), timeout=10, item="library: regular files only")
    cli("predict data FIFO", ["predict", "cli.npz", "fifo.csv"], setup=lambda d: os.mkfifo(os.path.join(d, "fifo.csv")),
        names=("fifo.csv", "regular"), timeout=10, item="cli: regular files only")
    cli("train /dev/zero", ["train", "/dev/zero", "--out", "o.npz", "--quiet"], names=("/dev/zero", "regular"),
        timeout=20, mem=2.0, quick=True, item="cli: regular files only")
    cli("train /dev/zero.csv link", ["train", "z.csv", "--out", "o.npz", "--quiet"],
        setup=lambda d: os.symlink("/dev/zero", os.path.join(d, "z.csv")), names=("z.csv", "/dev/zero", "regular"),
        timeout=20, mem=2.0, item="cli: regular files only")
    cli("train a directory", ["train", ".", "--out", "o.npz", "--quiet"], names=(".", "directory", "regular"))
    cli("train text file as .npz", ["train", "notes.npz", "--out", "o.npz", "--quiet"],
        setup=csv_writer("notes.npz", "some notes\n"), names=("notes.npz",), quick=True)
    # outputs that alias inputs
    alias = [("train data.npz --out data.npz", ["train", "data.npz", "--out", "data.npz"], True),
             ("train data.npz --out ./data.npz", ["train", "data.npz", "--out", "./data.npz"], False),
             ("train data.npz --out data (.npz appended)", ["train", "data.npz", "--out", "data"], True),
             ("train data.npz --out link to data", ["train", "data.npz", "--out", "ln.npz"], True),
             ("train data.npz --out hard link to data", ["train", "data.npz", "--out", "hl.npz"], False),
             ("train train.csv --out train.csv", ["train", "train.csv", "--out", "train.csv"], False),
             ("train data.npz --out data.npz --force", ["train", "data.npz", "--out", "data.npz", "--force"], True),
             ("predict --out data.csv", ["predict", "cli.npz", "test.csv", "--out", "test.csv"], True),
             ("predict --out the model", ["predict", "cli.npz", "test.csv", "--out", "cli.npz"], True),
             ("predict --out the model --force", ["predict", "cli.npz", "test.csv", "--out", "cli.npz", "--force"], False),
             ("predict --out link to data", ["predict", "cli.npz", "test.csv", "--out", "lt.csv", "--force"], True),
             ("predict --out ../<dir>/test.csv", ["predict", "cli.npz", "test.csv", "--out", "../{dir}/test.csv", "--force"], False),
             ("predict --out /proc/self/cwd/test.csv", ["predict", "cli.npz", "test.csv", "--out", "/proc/self/cwd/test.csv", "--force"], False)]

    def links(d):
        os.symlink("data.npz", os.path.join(d, "ln.npz"))
        os.link(os.path.join(d, "data.npz"), os.path.join(d, "hl.npz"))
        os.symlink("test.csv", os.path.join(d, "lt.csv"))

    for what, argv, q in alias:
        cli(what, argv + (["--epochs", "1", "--quiet"] if argv[0] == "train" else []), setup=links,
            expect="either" if what == "train train.csv --out train.csv" else "error",
            names=("--out", "input", "same", "data", "test.csv", "cli.npz"), quick=q, item="cli: output aliasing")
    cli("train --out existing without --force", ["train", "data.npz", "--out", "m.npz", "--epochs", "1", "--quiet"],
        names=("--force", "exists", "m.npz"), quick=True, item="cli: --force")
    cli("predict --out existing without --force", ["predict", "cli.npz", "test.csv", "--out", "old.csv"],
        names=("--force", "exists", "old.csv"), quick=True, item="cli: --force")

    def replaced(name):
        def chk(d, rc, out, err):
            if rc == 0 and open(os.path.join(d, name), "rb").read() == b"an existing output\n":
                return ("silent wrong", f"--force: {name} not replaced")
            return None
        return chk

    cli("predict --out existing --force", ["predict", "cli.npz", "test.csv", "--out", "old.csv", "--force"],
        expect="ok", mutable=("old.csv",), check=replaced("old.csv"))
    bigval = "a,b,c,d\n" + "0,0,0,0\n" * 30 + "1e300,0,0,0\n"
    cli("predict 1e300 value --out existing --force keeps the old file", ["predict", "cli.npz", "big.csv", "--out", "old.csv",
                                                                       "--force"],
        setup=csv_writer("big.csv", bigval), mutable=(), names=("1e300", "row", "range", "a", "float32"), quick=True,
        item="cli: 1e300 at predict")
    cli("predict 1e300 value", ["predict", "cli.npz", "big.csv"], setup=csv_writer("big.csv", bigval),
        names=("1e300", "row", "range", "a", "float32"), item="cli: 1e300 at predict")

    def bad_meta(d):
        import numpy as np
        p = os.path.join(d, "cli.npz")
        with np.load(p) as z:
            mem = {k: z[k] for k in z.files}
        mem["metadata"] = np.array('{"features": 7, "classes": "nope", "label": [], "loss": 3}')
        np.savez(os.path.join(d, "dm.npz"), **mem)

    cli("predict damaged cli_meta", ["predict", "dm.npz", "test.csv"], setup=bad_meta, names=("dm.npz", "metadata"),
        quick=True)
    cli("predict > /dev/full", ["predict", "cli.npz", "test.csv", "--out", "/dev/full", "--force"],
        names=("/dev/full", "space", "write"), quick=True)
    C.append(Case(id="cli.predict stdout /dev/full", family="cli", argv=["predict", "cli.npz", "test.csv"],
                  expect="error", names=("space", "write", "output", "stdout"), stdin="DEVFULL", quick=True))
    cli("demo --plot unwritable checked before training", ["demo", "xor", "--quick", "--quiet", "--plot",
                                                           "/proc/no/such/dir"],
        names=("--plot", "/proc/no/such/dir"), max_s=6, timeout=60, quick=True, item="cli: check outputs first")
    cli("--version", ["--version"], expect="ok", quick=True, check=lambda d, rc, o, e: None if "fastmlp" in o + e
        else ("silent wrong", "no version printed"))
    for sub in ("bench", "info", "train", "predict", "demo"):
        def described(d, rc, o, e, sub=sub):
            lines = [ln for ln in o.splitlines() if ln.strip()]
            body = [ln for ln in lines if not ln.startswith(("usage", " ")) and ":" not in ln[:12]]
            return None if len(body) >= 1 else ("silent wrong", f"{sub} -h has no description")
        cli(f"{sub} -h has a description", [sub, "-h"], expect="ok", check=described, quick=sub in ("bench", "info"))

    def train_defaults(d, rc, o, e):
        miss = [opt for opt in ("--epochs", "--lr", "--batch-size") if "default" not in o.split(opt, 2)[-1][:300]]
        return ("silent wrong", f"train -h does not state defaults for {miss}") if miss else None

    cli("train -h documents defaults", ["train", "-h"], expect="ok", check=train_defaults, item="cli: defaults in -h")

    def int_labels(d, rc, o, e):
        if rc != 0:
            return None
        if "p_0.0" in o or (not o.startswith("p_") and any(ln.split(",")[-1].endswith(".0") for ln in o.split()[1:])):
            return ("silent wrong", "integer class labels come back as floats")
        return None

    cli("predict integer labels as ints", ["predict", "cli.npz", "test.csv"], expect="ok", check=int_labels, quick=True)
    cli("predict --proba header", ["predict", "cli.npz", "test.csv", "--proba"], expect="ok", check=int_labels)
    cli("train with --drop id", ["train", "id.csv", "--drop", "id", "--out", "o.npz", "--epochs", "1", "--quiet"],
        setup=csv_writer("id.csv", "id,x,label\n" + "".join(f"{1000 + i},{i % 5},{i % 2}\n" for i in range(40))),
        expect="ok", item="cli: --drop")

    def baseline(d, rc, o, e):
        if rc == 0 and "baseline" not in (o + e).lower() and "majority" not in (o + e).lower():
            return ("silent wrong", "a run below the trivial baseline exits 0 without a word")
        return None

    skew = "x,label\n" + "".join(f"{(i * 7919) % 13},{1 if i % 10 == 0 else 0}\n" for i in range(200))
    cli("train below the baseline says so", ["train", "s.csv", "--out", "o.npz", "--epochs", "1", "--lr", "1e-9",
                                             "--val", "0.5"],
        setup=csv_writer("s.csv", skew), expect="either", check=baseline, names=("baseline",), item="cli: baseline")
    # ---- threads ---------------------------------------------------------------------------------------------
    thread_reads = [
        ("get_flat_params", "lambda m: m.get_flat_params()", True),
        ("params", "lambda m: [(W.copy(), b.copy()) for W, b in m.params]", True),
        ("forward", "lambda m: m.forward(Xq)", False),
        ("predictor", "lambda m: m.predictor()(Xq)", False),
        ("pickle", "lambda m: pickle.loads(pickle.dumps(m)).get_flat_params()", False),
        ("save", "lambda m: (m.save(os.path.join(D, 's.npz')), fastmlp.load(os.path.join(D, 's.npz')).get_flat_params())[1]", False),
        ("to_torch", "lambda m: [p.detach().numpy().copy() for p in m.to_torch().parameters()]", False),
        ("regions.local_linear", "lambda m: R.local_linear(m, Xq)", True),
        ("regions.activation_patterns", "lambda m: R.activation_patterns(m, Xq)", True),
        ("regions.pieces_1d", "lambda m: R.pieces_1d(m, [-1, -1], [1, 1]).alpha", False),
        ("regions.linear_shap", "lambda m: R.linear_shap(m, Xq, Xq)", False),
        ("regions.shapley_values", "lambda m: R.shapley_values(m, Xq[:2], Xq)", True),
        ("regions.count_regions", "lambda m: R.count_regions(m, (-1, 1))", False),
        ("regions.to_shallow", "lambda m: R.to_shallow(m, (-1, 1))(Xq)", False),
    ]
    for what, read, q in thread_reads:
        add(f"threads.torn reads during fit: {what}", "threads", f"""
            from fastmlp import regions as R
            Xq = np.random.default_rng(3).uniform(-1, 1, (4, 2))
            torn({read}, n_fits={6 if 'count' in what or 'shallow' in what else 15})
        """, quick=q, timeout=60, item="library: guarded reads" if what in ("get_flat_params", "params") else "")
    add("threads.two threads fit one model", "threads", """
        m = model(); errs = []
        def f():
            try:
                for _ in range(20):
                    m.fit(X, Y, epochs=1)
            except RuntimeError as e:
                errs.append(e)
        ts = [threading.Thread(target=f) for _ in range(2)]; [t.start() for t in ts]; [t.join() for t in ts]
        check(np.isfinite(m.get_flat_params()).all(), "weights not finite")
    """, expect="ok", quick=True)
    add("threads.set_num_threads during fit", "threads", """
        a = model(); b = model(); stop = threading.Event()
        def flip():
            k = 0
            while not stop.is_set():
                fastmlp.set_num_threads(1 + k % 4); k += 1
        t = threading.Thread(target=flip); t.start()
        try:
            a.fit(X, Y, epochs=5, shuffle=False)
        finally:
            stop.set(); t.join()
        fastmlp.set_num_threads(1); b.fit(X, Y, epochs=5, shuffle=False)
        check(np.array_equal(a.get_flat_params(), b.get_flat_params()), "results depend on thread-count changes")
    """, expect="ok", quick=True)
    add("threads.one stepper from two threads", "threads", """
        m = model(); s = m.stepper(X[:64], Y[:64])
        def f():
            for _ in range(2000):
                try:
                    s()
                except RuntimeError:
                    pass
        ts = [threading.Thread(target=f) for _ in range(2)]; [t.start() for t in ts]; [t.join() for t in ts]
        check(np.isfinite(m.get_flat_params()).all(), "weights not finite")
    """, expect="ok")
    add("threads.reset_parameters during fit", "threads", """
        m = model(); errs = []
        t = threading.Thread(target=lambda: m.fit(X, Y, epochs=200)); t.start()
        for _ in range(200):
            try:
                m.reset_parameters()
            except RuntimeError:
                pass
        t.join(); check(np.isfinite(m.get_flat_params()).all(), "weights not finite")
    """, expect="ok")
    # ---- signals ---------------------------------------------------------------------------------------------
    add("signals.Ctrl-C after an epoch: weights and step count agree", "signals", """
        ref = model(); recs = []
        ref.fit(X, Y, epochs=6, batch_size=16, callbacks=[lambda m, ep, logs: recs.append(state(m))])
        recs.insert(0, state(model()))
        bad = 0
        for delay in np.linspace(0.0005, 0.02, 12):
            m = model()
            timer = threading.Timer(delay, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT))
            try:
                timer.start()
                m.fit(X, Y, epochs=6, batch_size=16)
                time.sleep(0.05)
            except KeyboardInterrupt:
                pass
            timer.cancel()
            try:
                time.sleep(0.03)
            except KeyboardInterrupt:
                pass
            w, s = state(m)
            if not any(np.array_equal(w, rw) and s == rs for rw, rs in recs):
                bad += 1
        check(bad == 0, f"{bad} of 12 interrupted fits left weights and step count from different epochs")
    """, expect="ok", quick=True, timeout=60, item="library: one-step epoch commit")
    add("signals.KeyboardInterrupt raised by a callback", "signals", """
        m = model(); ref = model(); ref.fit(X, Y, epochs=1, batch_size=16)
        def cb(mm, ep, logs):
            raise KeyboardInterrupt
        try:
            m.fit(X, Y, epochs=3, batch_size=16, callbacks=[cb])
        except KeyboardInterrupt:
            pass
        w, s = state(m)
        check((np.array_equal(w, ref.get_flat_params()) and s == ref.step_count) or
              (np.array_equal(w, model().get_flat_params()) and s == 0), "an interrupted fit is half-committed")
    """, expect="ok")
    add("signals.SIGKILL during save", "signals", """
        import subprocess
        P = os.path.join(D, "k.npz")
        big = model((400, 800, 800, 10)); big.save(P); old = big.get_flat_params()
        child = "import fastmlp, numpy as np, sys\\nm = fastmlp.MLP([400, 800, 800, 10], seed=1)\\nwhile True:\\n    m.save(sys.argv[1])\\n"
        rng = np.random.default_rng(0); new = model((400, 800, 800, 10), seed=1).get_flat_params()
        for k in range(8):
            p = subprocess.Popen([sys.executable, "-c", child, P])
            time.sleep(0.4 + rng.uniform(0, 0.3)); p.kill(); p.wait()
            f = fastmlp.load(P).get_flat_params()
            check(np.array_equal(f, old) or np.array_equal(f, new), "the target is neither the old nor the new model")
        left = [n for n in os.listdir(D) if n not in ("k.npz",) and ("k.npz" in n or "tmp" in n)]
        model().save(os.path.join(D, "k.npz"))
        left2 = [n for n in os.listdir(D) if n not in ("k.npz",) and ("k.npz" in n or "tmp" in n)]
        check(not left2, f"temporaries left after kills and a new save: {left2} (before the save: {len(left)})")
    """, expect="ok", quick=True, timeout=90, item="library: save temporaries")
    add("signals.SIGINT during save", "signals", """
        P = os.path.join(D, "k.npz"); big = model((400, 800, 800, 10)); big.save(P)
        for delay in (0.001, 0.005, 0.02):
            timer = threading.Timer(delay, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT))
            timer.start()
            try:
                for _ in range(20):
                    big.save(P)
            except KeyboardInterrupt:
                pass
            timer.cancel()
            fastmlp.load(P)
        left = [n for n in os.listdir(D) if n != "k.npz" and ("k.npz" in n or "tmp" in n)]
        check(not left, f"temporaries left: {left}")
    """, expect="ok")

    def ctrl_c_cli(d, rc, out, err):
        if "Traceback" in err:
            return ("unclear error", "Ctrl-C prints a traceback: " + err.strip().splitlines()[-1][:100])
        p = os.path.join(d, "o.npz")
        if os.path.exists(p):
            sys.path.insert(0, ROOT)
            import fastmlp
            try:
                fastmlp.load(p)
            except Exception as e:
                return ("lost file", f"an interrupted train left a damaged --out: {e}")
        return None

    big_csv = "".join(f"{(i * 7) % 11},{(i * 3) % 5},{i % 13},{i % 2}\n" for i in range(20000))
    cli("train Ctrl-C", ["train", "big.csv", "--out", "o.npz", "--epochs", "200", "--quiet"], expect="either",
        setup=csv_writer("big.csv", big_csv), signal_after=(2.5, signal.SIGINT), check=ctrl_c_cli,
        names=("interrupt", "Ctrl-C", "stopped", "cancel"), timeout=30, quick=True, family="signals")
    cli("train SIGTERM with --force over an existing model", ["train", "big.csv", "--out", "m.npz", "--force", "--epochs",
                                                              "200", "--quiet"],
        expect="either", setup=csv_writer("big.csv", big_csv), signal_after=(2.5, signal.SIGTERM), mutable=("m.npz",),
        check=lambda d, rc, o, e: None if _loads(os.path.join(d, "m.npz")) else ("lost file", "m.npz damaged"),
        names=("terminat", "signal", "interrupt"), timeout=30, family="signals")
    # ---- memory ----------------------------------------------------------------------------------------------
    add("memory.MLP([20000, 20000]) fast and lean", "memory", """
        t = time.perf_counter(); e = attempt(lambda: budget(lambda: fastmlp.MLP([20000, 20000]), seconds=10, mb=2600))
        reraise(e)
    """, names=("layers", "20000", "parameters", "size"), timeout=40, quick=True, item="library: init in dtype")
    add("memory.MLP([20000, 20000]) under a 1 GiB cap", "memory", """
        e = attempt(fastmlp.MLP, [20000, 20000]); check(e is not None, "built 1.6 GB under a 1 GiB cap?"); raise e
    """, names=("layers", "20000", "parameters", "GiB", "size"), mem=1.0, quick=True, item="library: size guard")
    for layers, q in (("[2**31, 2]", True), ("[10**6, 10**6, 10**6]", False), ("[100000, 100000, 100000]", False),
                      ("[2**40, 1]", False), ("[65536, 65536]", False)):
        add(f"memory.MLP({layers}) refused quickly", "memory", f"""
            e = attempt(lambda: budget(lambda: fastmlp.MLP({layers}), seconds=5, mb=200))
            check(e is not None, "built"); raise e
        """, names=("layers", "parameters", "size", "GiB"), mem=4.0, quick=q, timeout=30, item="library: size guard")
    add("memory.load 2 KB declaring [20000,20000,2] under a 1 GiB cap", "memory", """
        P = craft(os.path.join(D, "bad.npz"), layers=np.array([20000, 20000, 2]))
        e = attempt(fastmlp.load, P); check(e is not None, "loaded"); raise e
    """, names=("layers", "params", "bad.npz"), mem=1.0, quick=True, item="library: load sizes from headers")
    add("memory.fit on 1e6 x 1 rows under 1 GiB", "memory", """
        m = model((1, 4, 1), loss="mse"); Xb = np.ones((10**6, 1), np.float32); yb = np.ones((10**6, 1), np.float32)
        budget(lambda: m.fit(Xb, yb, epochs=1, batch_size=4096), mb=300)
    """, expect="ok", mem=1.5)
    add("memory.predict 1e6 rows peak", "memory", """
        m = model((4, 64, 3)); Xb = np.ones((10**6, 4), np.float32)
        budget(lambda: m.predict(Xb), mb=200)
    """, expect="ok")
    add("memory.shapley_values 16 features x big background", "memory", """
        from fastmlp import regions as R
        m = model((16, 4, 1), activation="relu", loss="mse")
        reraise(attempt(lambda: budget(lambda: R.shapley_values(m, np.ones((1, 16)), np.ones((2000, 16))), seconds=60, mb=500)))
    """, names=("max_features", "background", "coalitions"), timeout=90)

    C.append(Case(id="memory.train 25 MB CSV: peak memory <= 3x the file", family="memory", argv=[], expect="ok",
                  check="csv_memory", timeout=240, item="cli: CSV memory"))
    return C


def _loads(p):
    sys.path.insert(0, ROOT)
    import fastmlp
    try:
        fastmlp.load(p)
        return True
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------------------------
# running and classifying
def hash_dir(d):
    out = {}
    for root, dirs, files in os.walk(d):
        for n in files:
            p = os.path.join(root, n)
            if os.path.islink(p) or not os.path.isfile(p):
                out[os.path.relpath(p, d)] = "special"
                continue
            h = hashlib.sha256()
            try:
                with open(p, "rb") as f:
                    for blk in iter(lambda: f.read(1 << 20), b""):
                        h.update(blk)
                out[os.path.relpath(p, d)] = h.hexdigest()
            except OSError:
                out[os.path.relpath(p, d)] = "unreadable"
    return out


def _limits(mem_gb):
    def f():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (int(mem_gb * GiB), int(mem_gb * GiB)))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return f


BASELINE_RSS = {}


def run_case(case, fixtures, workdir):
    if case.check == "csv_memory":
        t0 = time.perf_counter()
        res = csv_memory(workdir, fixtures)
        res.update(id=case.id, family=case.family, item=case.item, seconds=round(time.perf_counter() - t0, 2))
        return res
    d = os.path.join(workdir, "".join(ch if ch.isalnum() else "_" for ch in case.id)[:80] + f"_{abs(hash(case.id)) % 10**8}")
    os.makedirs(d)
    for n in os.listdir(fixtures):
        shutil.copy2(os.path.join(fixtures, n), d)
    if case.setup:
        case.setup(d)
    before = hash_dir(d)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1",
               PYTHONFAULTHANDLER="1")
    env.update(case.env)
    if case.code is not None:
        with open(os.path.join(workdir, os.path.basename(d) + ".py"), "w") as f:
            f.write(PRELUDE.replace("__CODE__", textwrap.indent(case.code, "    ")))
        cmd = [sys.executable, os.path.join(workdir, os.path.basename(d) + ".py")]
    else:
        cmd = [sys.executable, "-m", "fastmlp"] + [a.replace("{dir}", os.path.basename(d)) for a in case.argv]
    stdout = subprocess.PIPE
    if case.stdin == "DEVFULL":
        stdout = open("/dev/full", "w")
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=d, env=env, stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         preexec_fn=_limits(case.mem), text=True, errors="replace")
    timed_out = False
    try:
        if case.signal_after:
            try:
                p.wait(timeout=case.signal_after[0])
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, case.signal_after[1])
        out, err = p.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
    elapsed = time.perf_counter() - t0
    out = out or ""
    rc = p.returncode
    after = hash_dir(d)
    res = classify(case, d, rc, out, err, elapsed, timed_out, before, after)
    res.update(id=case.id, family=case.family, item=case.item, seconds=round(elapsed, 2))
    if res["category"] == "ok":
        shutil.rmtree(d, ignore_errors=True)
    return res


def _names_ok(case, msg):
    if not case.names:
        return bool(msg.strip())
    low = msg.lower()
    return any(n.lower() in low for n in case.names if n)


def classify(case, d, rc, out, err, elapsed, timed_out, before, after):
    def R(cat, reason):
        return {"category": cat, "reason": reason}
    # lost files: anything present before that changed or vanished; temporaries left behind
    for n, h in before.items():
        if n in case.mutable:
            continue
        if n not in after:
            return R("lost file", f"{n} vanished")
        if after[n] != h:
            return R("lost file", f"{n} changed")
    for n in after:
        if n not in before and n != ".npz" and (n.startswith(".") or "tmp" in n.lower() or n.endswith((".part", ".partial"))):
            return R("lost file", f"temporary {n} left behind")
    if timed_out:
        return R("hang", f"no answer within {case.timeout:g} s")
    if rc is not None and rc < 0 and not (case.signal_after and -rc == case.signal_after[1]):
        return R("crash", f"killed by {signal.Signals(-rc).name}: {(err or '').strip().splitlines()[-1:] or ''}")
    if case.code is not None:
        rep = None
        for ln in out.splitlines():
            if ln.startswith("@@HOSTILE "):
                rep = json.loads(ln[len("@@HOSTILE "):])
        if rep is None:
            tail = " | ".join((err or "").strip().splitlines()[-2:])[:160]
            return R("crash", f"exit {rc} without a report: {tail}")
        if rep.get("rss_mb") and case.max_rss_mb and rep["rss_mb"] > case.max_rss_mb:
            return R("hang", f"runaway memory: peak {rep['rss_mb']:.0f} MB")
        st = rep["status"]
        if st == "wrong":
            return R("silent wrong", rep["reason"])
        if st == "unclear":
            return R("unclear error", rep["reason"])
        if st == "runaway":
            return R("hang", "runaway: " + rep["reason"])
        if st == "ok":
            if case.expect == "error":
                return R("silent wrong", "accepted (expected a refusal)")
            return R("ok", "")
        # an exception
        if case.max_s and elapsed > case.max_s + 1.0:
            return R("hang", f"refused only after {elapsed:.1f} s")
        mro, msg = rep.get("mro", []), rep.get("msg", "")
        if case.expect == "ok":
            return R("silent wrong", f"a valid call refused: {rep['type']}: {msg[:120]}")
        if "KeyboardInterrupt" in mro:
            return R("unclear error", "KeyboardInterrupt escaped")
        clean = bool(CLEAN & set(mro))
        if "OSError" in mro:
            clean = bool(rep.get("filename")) or os.sep in msg
        if not clean:
            return R("unclear error", f"{rep['type']}: {msg[:140]}")
        if not _names_ok(case, msg):
            return R("unclear error", f"message names none of {list(case.names)[:4]}: {rep['type']}: {msg[:120]}")
        return R("ok", "")
    # the CLI
    if "Traceback (most recent call last)" in (err or ""):
        return R("unclear error", "traceback: " + (err or "").strip().splitlines()[-1][:140])
    if rc == 0:
        if callable(case.check):
            r = case.check(d, rc, out, err)
            if r:
                return R(*r)
        if case.expect == "error":
            return R("silent wrong", "exit 0 (expected a refusal)")
        return R("ok", "")
    if rc is not None and rc > 128 + 0 and rc in (134, 139):
        return R("crash", f"exit {rc}")
    if case.signal_after and callable(case.check):
        r = case.check(d, rc, out, err)
        if r:
            return R(*r)
        return R("ok", "")
    if case.max_s and elapsed > case.max_s + 1.0:
        return R("hang", f"refused only after {elapsed:.1f} s")
    if case.expect == "ok":
        return R("silent wrong", f"exit {rc}: {(err or '').strip()[-140:]}")
    msg = (err or "") + out
    if not msg.strip():
        return R("unclear error", f"exit {rc} with no message")
    if len([ln for ln in (err or "").strip().splitlines() if ln.strip()]) > 3 and "usage:" not in err:
        return R("unclear error", f"a {len(err.splitlines())}-line message")
    if not _names_ok(case, msg):
        return R("unclear error", f"message names none of {list(case.names)[:4]}: {msg.strip()[-120:]}")
    return R("ok", "")


def measure_child(cmd, cwd, env, mem_gb, timeout):
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=_limits(mem_gb))
    t0 = time.time()
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, ru.ru_maxrss / 1024, p.stderr.read().decode(errors="replace")
        if time.time() - t0 > timeout:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            return None, None, "timeout"
        time.sleep(0.02)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a representative subset (about a minute on 2 cores)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--family", action="append", choices=FAMILIES)
    ap.add_argument("-k", dest="select", help="only attacks whose id contains this")
    ap.add_argument("--json", help="write every result to this file")
    ap.add_argument("--list", action="store_true", help="list the attacks and exit")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    a = ap.parse_args(argv)
    cases = build_cases()
    if a.quick:
        cases = [c for c in cases if c.quick]
    if a.family:
        cases = [c for c in cases if c.family in a.family]
    if a.select:
        cases = [c for c in cases if a.select in c.id]
    if a.list:
        for c in cases:
            print(c.family, c.id, f"[{c.item}]" if c.item else "")
        return 0
    work = tempfile.mkdtemp(prefix="fastmlp-hostile-")
    fixtures = os.path.join(work, "_fixtures")
    os.makedirs(fixtures)
    make_fixtures(fixtures)
    t0 = time.time()
    results = []
    serial = [c for c in cases if c.timeout > 60 or c.family == "memory"]
    parallel = [c for c in cases if c not in serial]
    with cf.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        futs = [ex.submit(run_case, c, fixtures, work) for c in parallel]
        for f in cf.as_completed(futs):
            results.append(f.result())
    for c in serial:
        results.append(run_case(c, fixtures, work))
    report(results, time.time() - t0, a.quick)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["category"] == "ok" for r in results) else 1


def csv_memory(work, fixtures):
    d = os.path.join(work, "_csvmem")
    os.makedirs(d, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=ROOT)
    small = os.path.join(d, "small.csv")
    big = os.path.join(d, "big.csv")
    with open(small, "w") as f:
        f.write("a,b,c,d,label\n" + "".join(f"{i % 11}.25,{i % 5}.5,{i % 13},{i % 17}.125,{i % 2}\n" for i in range(200)))
    with open(big, "w") as f:
        f.write("a,b,c,d,label\n")
        for k in range(12):
            f.write("".join(f"{(i * 7) % 11}.25,{(i * 3) % 5}.5,{i % 13},{(i * 31) % 17}.125,{i % 2}\n"
                            for i in range(k * 100000, (k + 1) * 100000)))
    size_mb = os.path.getsize(big) / 2**20
    base = [sys.executable, "-m", "fastmlp", "train", None, "--epochs", "1", "--quiet", "--hidden", "4", "--force",
            "--val", "0"]
    rc0, rss0, _ = measure_child([x if x else small for x in base] + ["--out", "s.npz"], d, env, 8, 60)
    rc1, rss1, err = measure_child([x if x else big for x in base] + ["--out", "b.npz"], d, env, 8, 180)
    if rc1 is None:
        return {"category": "hang", "reason": "train on a 25 MB CSV did not finish in 180 s"}
    if rc1 != 0:
        return {"category": "silent wrong", "reason": f"train on a plain big CSV failed: {err.strip()[-120:]}"}
    extra = rss1 - rss0
    if extra > 3 * size_mb:
        return {"category": "hang", "reason": f"runaway memory: CSV of {size_mb:.0f} MB took {extra:.0f} MB above "
                                              f"the baseline ({extra / size_mb:.1f}x; budget 3x)"}
    return {"category": "ok", "reason": f"{extra:.0f} MB for a {size_mb:.0f} MB CSV ({extra / size_mb:.1f}x)"}


def report(results, seconds, quick):
    fams = [f for f in FAMILIES if any(r["family"] == f for r in results)]
    hdr = f"{'family':<10} {'attempts':>8} {'crashes':>8} {'silent wrong':>13} {'lost files':>11} {'hangs':>6} {'unclear errors':>15}"
    print(f"\nhostile-input campaign ({'quick' if quick else 'full'}): {len(results)} attacks in {seconds:.0f} s\n")
    print(hdr)
    print("-" * len(hdr))

    def row(name, rs):
        n = {c: sum(r["category"] == c for r in rs) for c in CATEGORIES}
        print(f"{name:<10} {len(rs):>8} {n['crash']:>8} {n['silent wrong']:>13} {n['lost file']:>11} {n['hang']:>6} "
              f"{n['unclear error']:>15}")

    for f in fams:
        row(f, [r for r in results if r["family"] == f])
    print("-" * len(hdr))
    row("total", results)
    bad = sorted((r for r in results if r["category"] != "ok"), key=lambda r: (FAMILIES.index(r["family"]), r["id"]))
    if bad:
        print(f"\nnot ok ({len(bad)}):")
        for r in bad:
            w = f"  [{r['item']}]" if r["item"] else ""
            print(f"  {r['category']:<13} {r['id']}: {r['reason']}{w}")


if __name__ == "__main__":
    sys.exit(main())

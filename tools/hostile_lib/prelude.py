"""The worker's prelude: the helpers every library attack may use (its code replaces __CODE__)."""
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

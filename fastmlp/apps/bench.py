"""``fastmlp bench``: fastmlp, the same math in numpy, PyTorch and scikit-learn (when installed) side by side in one
process, interleaved, with medians, GFLOP/s, % of this CPU's measured peak and the ratios that the project's speed
goals are stated in. Timings on a shared machine are noisy: read the ratios of one run, not a lone time."""
import platform
import threading
import time
import warnings

import numpy as np

from .. import _core
from ..mlp import MLP

try:  # comes with scikit-learn: keeps numpy's BLAS on one thread for the 1-thread rows
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None


# ---- timing ------------------------------------------------------------------------------------------------------
def _calibrate(f, target=2e-3):
    f()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        dt = time.perf_counter() - t0
        if dt >= target or n >= 1 << 20:
            return n
        n = max(n * 2, int(n * target / max(dt, 1e-9)))


def measure(funcs, reps=15, target=2e-3):
    """Median seconds per call of each function, the calls of all functions interleaved rep by rep; each rep starts
    one function further along, so that none always runs right after the same other one (whose caches or threads
    it would inherit)."""
    inner = {k: _calibrate(f, target) for k, f in funcs.items()}
    times = {k: [] for k in funcs}
    keys = list(funcs)
    for rep in range(reps):
        for k in keys[rep % len(keys):] + keys[:rep % len(keys)]:
            f, n = funcs[k], inner[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            times[k].append((time.perf_counter() - t0) / n)
    return {k: float(np.median(v)) for k, v in times.items()}


# ---- the same math in numpy -------------------------------------------------------------------------------------
class NumpyMLP:
    """A from-scratch ReLU MLP with softmax cross-entropy and plain SGD, buffers allocated once."""

    def __init__(self, sizes, dtype, seed=0):
        rng = np.random.default_rng(seed)
        self.W = [(rng.standard_normal((o, i)) * np.sqrt(2 / i)).astype(dtype) for i, o in zip(sizes, sizes[1:])]
        self.b = [np.zeros(o, dtype) for o in sizes[1:]]

    def forward(self, X):
        acts = [X]
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[-1] @ W.T + b
            acts.append(np.maximum(z, 0) if l < len(self.W) - 1 else z)
        return acts

    def step(self, X, y, lr):
        acts = self.forward(X)
        z = acts[-1]
        e = np.exp(z - z.max(1, keepdims=True))
        dz = e / e.sum(1, keepdims=True)
        dz[np.arange(len(y)), y] -= 1
        dz /= len(y)
        for l in reversed(range(len(self.W))):
            dW = dz.T @ acts[l]
            db = dz.sum(0)
            if l:
                dz = (dz @ self.W[l]) * (acts[l] > 0)
            self.W[l] -= lr * dW
            self.b[l] -= lr * db


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_mlp(torch, sizes, act="relu"):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append({"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}[act]())
    return torch.nn.Sequential(*layers)


def _torch_ce_step(torch, sizes, X, y, lr=1e-3, autocast=False, act="relu"):
    """One PyTorch softmax-CE SGD step of a fresh net (ReLU unless ``act`` says) on (X, y) per call (bf16 autocast
    where asked)."""
    net = _torch_mlp(torch, sizes, act)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        if autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(net(Xt), yt)
        else:
            loss = torch.nn.functional.cross_entropy(net(Xt), yt)
        loss.backward()
        opt.step()
    return step


def step_flops(sizes, n):
    """Flops of a training step over n samples: the forward, dW of every layer, dx of all but the first."""
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    return 2.0 * n * (3 * weights - sizes[0] * sizes[1])


# ---- the cases -------------------------------------------------------------------------------------------------
def _case_forward(rows, torch, B, dtype, peak, reps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, 784)).astype(dtype)
    W = (rng.standard_normal((256, 784)) * 0.05).astype(dtype)
    b = rng.standard_normal(256).astype(dtype)
    out = np.empty((B, 256), dtype)
    Wp = _core.dense_pack(W)
    funcs = {
        "fastmlp": lambda: _core.dense_forward(x, W, b, "relu", out=out, check_finite=False),
        "fastmlp packed W": lambda: _core.dense_forward_packed(x, Wp, b, 256, "relu", out=out, check_finite=False),
        "numpy matmul only": lambda: np.matmul(x, W.T, out=out),
        "numpy +b+relu": lambda: np.maximum(np.add(np.matmul(x, W.T, out=out), b, out=out), 0, out=out),
    }
    if torch is not None:
        xt, Wt, bt = torch.from_numpy(x), torch.from_numpy(W), torch.from_numpy(b)
        ot = torch.empty((B, 256), dtype=xt.dtype)
        funcs["torch addmm+relu"] = lambda: torch.relu_(torch.addmm(bt, xt, Wt.t(), out=ot))
    flops = 2.0 * B * 784 * 256
    _add(rows, f"forward 784->256 +b+relu {np.dtype(dtype).name} B={B}", measure(funcs, reps), flops, peak)


def _case_step(rows, torch, B, peak, reps, threads=None):
    sizes = [784, 256, 128, 10]
    rng = np.random.default_rng(1)
    X = rng.standard_normal((B, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=B)
    model = MLP(sizes, seed=0)
    step = model.stepper(X, y, lr=1e-3)
    funcs = {"fastmlp": step, "fastmlp train_step": lambda: model.train_step(X, y, lr=1e-3)}
    name = f"train step 784-256-128-10 B={B}"
    if threads is None:
        npm = NumpyMLP(sizes, np.float32)
        funcs["numpy"] = lambda: npm.step(X, y, 1e-3)
        if torch is not None:
            funcs["torch"] = _torch_ce_step(torch, sizes, X, y)
    else:
        before = _core.get_num_threads()

        def with_threads(n):
            def f():
                _core.set_num_threads(n)
                step()
            return f
        funcs = {"fastmlp": with_threads(threads), "fastmlp 1 thread": with_threads(1)}
        name += f" ({threads} threads)"
    flops = step_flops(sizes, B)
    result = measure(funcs, reps)
    if threads is not None:
        _core.set_num_threads(before)
    _add(rows, name, result, flops, peak)


def _case_small_acts(rows, torch, peak, reps):
    """The step of a digits-sized network (scikit-learn's default hidden layer and batch: 64-100-10, B=200) with
    each activation: the exponential-based ones run on fexp.h's vectorised exp/tanh."""
    sizes, B = [64, 100, 10], 200
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((B, 64)).astype(np.float32), rng.integers(0, 10, size=B)
    for act in ("relu", "sigmoid", "tanh"):
        funcs = {"fastmlp": MLP(sizes, activation=act, seed=0).stepper(X, y, lr=1e-3)}
        if torch is not None:
            funcs["torch"] = _torch_ce_step(torch, sizes, X, y, act=act)
        _add(rows, f"train step 64-100-10 {act} B=200", measure(funcs, reps), step_flops(sizes, B), peak)


def _case_epoch(rows, torch, n, peak, reps):
    sizes = [784, 256, 128, 10]
    rng = np.random.default_rng(2)
    X = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=n)
    model = MLP(sizes, seed=0)
    funcs = {"fastmlp": lambda: model.fit(X, y, epochs=1, batch_size=64, lr=1e-3)}
    if torch is not None:
        net = _torch_mlp(torch, sizes)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

        def torch_epoch():
            perm = torch.randperm(n)
            for s in range(0, n, 64):
                idx = perm[s:s + 64]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
                opt.step()
        funcs["torch"] = torch_epoch
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        pass
    else:
        clf = MLPClassifier(hidden_layer_sizes=(256, 128), solver="sgd", batch_size=64, learning_rate_init=1e-3,
                            momentum=0.0, max_iter=1, random_state=0)
        classes = np.arange(10)

        def sk_epoch():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.partial_fit(X, y, classes=classes)
        funcs["scikit-learn"] = sk_epoch
    flops = step_flops(sizes, n)
    _add(rows, f"epoch {n}x784 B=64 784-256-128-10", measure(funcs, reps, target=0), flops, peak)


def _case_tiny(rows, torch, peak, reps):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 2)).astype(np.float32)
    t = rng.random((4, 1)).astype(np.float32)
    model = MLP([2, 3, 1], activation="sigmoid", loss="mse", seed=0)
    funcs = {"fastmlp": model.stepper(X, t, lr=0.1), "fastmlp train_step": lambda: model.train_step(X, t, lr=0.1)}
    if torch is not None:
        net = _torch_mlp(torch, [2, 3, 1], act="sigmoid")
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        Xt, tt = torch.from_numpy(X), torch.from_numpy(t)

        def torch_step():
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(Xt), tt).backward()
            opt.step()
        funcs["torch"] = torch_step
    _add(rows, "train step 2-3-1 sigmoid B=4", measure(funcs, reps), 2.0 * 4 * (3 * 9 - 6), peak)
    # XOR-size data: a whole epoch (4 samples, batch 1: four steps) in one call
    funcs = {"fastmlp": lambda: model.fit(X, t, epochs=1, batch_size=1, lr=0.1, shuffle=False)}
    if torch is not None:
        def torch_epoch():
            for i in range(4):
                opt.zero_grad()
                torch.nn.functional.mse_loss(net(Xt[i:i + 1]), tt[i:i + 1]).backward()
                opt.step()
        funcs["torch"] = torch_epoch
    _add(rows, "epoch of 4 samples, batch 1, 2-3-1", measure(funcs, reps), 2.0 * 4 * (3 * 9 - 6), peak)


def _case_inference(rows, torch, peak, reps):
    sizes = [784, 256, 128, 10]
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 784)).astype(np.float32)
    model = MLP(sizes, seed=0)
    npm = NumpyMLP(sizes, np.float32)
    pred = model.predictor()
    funcs = {"fastmlp": lambda: pred(x), "fastmlp forward": lambda: model.forward(x),
             "fastmlp predict": lambda: model.predict(x), "numpy": lambda: npm.forward(x)}
    if torch is not None:
        net = _torch_mlp(torch, sizes)
        xt = torch.from_numpy(x)

        def torch_inf():
            with torch.no_grad():
                net(xt)
        funcs["torch"] = torch_inf
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    _add(rows, "inference 784-256-128-10, one sample", measure(funcs, reps), 2.0 * weights, peak)


def _case_bf16(rows, torch, peak, reps):
    """The bf16 predictor (model.predictor(dtype="bfloat16"): bf16 weights, float32 sums) beside fastmlp's float32
    predictor, PyTorch float32 and PyTorch's bf16 autocast, 784-256-128-10, at B = 1, 64 and 256."""
    sizes = [784, 256, 128, 10]
    model = MLP(sizes, seed=0)
    pred, pred32 = model.predictor(dtype="bfloat16"), model.predictor()
    net = _torch_mlp(torch, sizes) if torch is not None else None
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    for B in (1, 64, 256):
        x = np.random.default_rng(7).standard_normal((B, 784)).astype(np.float32)
        funcs = {"fastmlp": lambda: pred(x), "fastmlp float32": lambda: pred32(x)}
        if net is not None:
            xt = torch.from_numpy(x)

            def torch_f32():
                with torch.no_grad():
                    net(xt)

            def torch_autocast():
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                    net(xt)
            funcs["torch"] = torch_f32
            funcs["torch bf16 autocast"] = torch_autocast
        _add(rows, f"inference bf16 784-256-128-10 B={B}", measure(funcs, reps), 2.0 * B * weights, peak)


def _case_bf16_step(rows, torch, peak, reps, batches=(64, 256, 1024)):
    """Mixed-precision training (model.stepper(dtype="bfloat16"): bf16 products, float32 weights and update)
    beside fastmlp's float32 stepper, PyTorch float32 and PyTorch's bf16 autocast, 784-256-128-10 softmax-CE SGD."""
    sizes = [784, 256, 128, 10]
    for B in batches:
        rng = np.random.default_rng(8)
        X, y = rng.standard_normal((B, 784)).astype(np.float32), rng.integers(0, 10, size=B)
        funcs = {"fastmlp": MLP(sizes, seed=0).stepper(X, y, lr=1e-3, dtype="bfloat16"),
                 "fastmlp float32": MLP(sizes, seed=0).stepper(X, y, lr=1e-3)}
        if torch is not None:
            funcs["torch"] = _torch_ce_step(torch, sizes, X, y)
            funcs["torch bf16 autocast"] = _torch_ce_step(torch, sizes, X, y, autocast=True)
        _add(rows, f"train step bf16 784-256-128-10 B={B}", measure(funcs, reps), step_flops(sizes, B), peak)


def _case_gil(rows, peak, reps):
    """Two Python threads predicting at once against one doing both threads' calls: the GIL is released in C. Each
    thread makes ``k`` calls per measurement, so that starting and joining a thread (~0.1 ms) is not what is timed."""
    sizes = [784, 256, 128, 10]
    rng = np.random.default_rng(5)
    X = rng.standard_normal((256, 784)).astype(np.float32)
    model = MLP(sizes, seed=0)
    k = 8

    def calls(n):
        for _ in range(n):
            model.forward(X)

    def one_thread():
        calls(2 * k)

    def two_threads():
        t = threading.Thread(target=calls, args=(k,))
        t.start()
        calls(k)
        t.join()
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    _add(rows, "2 x predict B=256 (2 Python threads)", measure({"fastmlp": two_threads,
                                                                 "fastmlp 1 Python thread": one_thread}, reps),
         2 * k * 2.0 * 256 * weights, peak)


def _case_kernel_call(rows, peak, reps):
    """A public kernel call (sgd_update, momentum 0.9) beside its C kernel alone (n calls in a C loop): the call's
    own cost on 4x4, and how much of a 256x784 update it adds (with the default NaN/Inf scan fused into the C pass,
    and without it)."""
    rng = np.random.default_rng(6)
    for shape, inner in (((4, 4), 1000), ((256, 784), 1)):
        W = rng.standard_normal(shape).astype(np.float32)
        G = (rng.standard_normal(shape) * 1e-3).astype(np.float32)
        V = np.zeros(shape, np.float32)
        funcs = {"fastmlp": lambda: _core.sgd_update(W, G, V, lr=1e-6, momentum=0.9),
                 "fastmlp check_finite=False": lambda: _core.sgd_update(W, G, V, lr=1e-6, momentum=0.9,
                                                                        check_finite=False),
                 "C kernel alone": lambda: _core._sgd_update_loop(W, G, V, 1e-6, 0.9, inner)}
        result = measure(funcs, reps)
        result["C kernel alone"] /= inner
        _add(rows, f"kernel call sgd_update {shape[0]}x{shape[1]} momentum", result, 4.0 * W.size, peak)


def _add(rows, case, result, flops, peak):
    base = result["fastmlp"]
    for impl, sec in result.items():
        gf = flops / sec * 1e-9
        rows.append((case, impl, sec, gf, 100.0 * gf / peak, sec / base))


GOALS = [  # (case prefix, other implementation, fastmlp must be at least this many times faster)
    ("forward 784->256 +b+relu float32 B=256", "numpy matmul only", 1.2),
    ("forward 784->256 +b+relu float32 B=64", "numpy matmul only", 1.45),
    ("forward 784->256 +b+relu float32 B=1", "numpy matmul only", 2.0),  # ratio of the packed-W row, below
    ("forward 784->256 +b+relu float64 B=256", "numpy matmul only", 1.2),
    ("train step 784-256-128-10 B=64", "torch", 2.0),
    ("train step 784-256-128-10 B=256", "torch", 1.5),
    ("epoch ", "torch", 2.0),
    ("epoch ", "scikit-learn", 4.0),
    ("train step 2-3-1 sigmoid B=4", "torch", 500.0),
    ("inference 784-256-128-10, one sample", "torch", 5.0),
    ("inference bf16 784-256-128-10 B=1", "torch", 5.0),  # issue 16: bf16 weights, one sample
    ("train step bf16 784-256-128-10 B=256", "fastmlp float32", 1.7),  # issue 16: mixed-precision training
    ("train step bf16 784-256-128-10 B=1024", "fastmlp float32", 1.7),
    ("train step bf16 784-256-128-10 B=", "torch bf16 autocast", 1.0),
    ("train step 784-256-128-10 B=256 (2 threads)", "fastmlp 1 thread", 1.75),  # issue 15: threads that scale
    ("2 x predict B=256 (2 Python threads)", "fastmlp 1 Python thread", 1.6),
]

# issue 15: the default paths and the public kernel calls against the expert path or the C kernel alone, in one run:
# (case prefix, the slower row, the faster row, at most this ratio of their medians, at most this many seconds more)
WITHIN = [
    ("train step 784-256-128-10 B=64", "fastmlp train_step", "fastmlp", 1.1, None),
    ("train step 784-256-128-10 B=256", "fastmlp train_step", "fastmlp", 1.1, None),
    ("train step 2-3-1 sigmoid B=4", "fastmlp train_step", "fastmlp", None, 2e-6),
    ("inference 784-256-128-10, one sample", "fastmlp predict", "fastmlp", 1.2, None),
    ("kernel call sgd_update 4x4", "fastmlp", "C kernel alone", None, 1.5e-6),
    ("kernel call sgd_update 256x784", "fastmlp", "C kernel alone", 1.3, None),
]


def _fmt_time(s):
    for unit, scale in (("s", 1), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
        if s * scale >= 1:
            return f"{s * scale:8.3f} {unit}"
    return f"{s * 1e9:8.3f} ns"


def run_bench(quick=False, reps=None, epoch_samples=None, threads=(2,), out=print):
    """Run every case and print the table; returns the rows (case, impl, seconds, GFLOP/s, %peak, ratio)."""
    torch = _torch()
    limiter = threadpool_limits(1) if threadpool_limits is not None else None
    before = _core.get_num_threads()
    _core.set_num_threads(1)
    if torch is not None:
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
    reps = reps or (5 if quick else 15)
    n_epoch = epoch_samples or (6000 if quick else 60000)
    peak32 = _core.cpu_peak_gflops("float32", 0.3)
    peak64 = _core.cpu_peak_gflops("float64", 0.3)
    rows = []
    try:
        for B in (1, 64, 256):
            _case_forward(rows, torch, B, np.float32, peak32, reps)
        _case_forward(rows, torch, 256, np.float64, peak64, reps)
        for B in (64, 256):
            _case_step(rows, torch, B, peak32, reps)
        _case_small_acts(rows, torch, peak32, reps)
        _case_epoch(rows, torch, n_epoch, peak32, max(3, reps // 5))
        _case_tiny(rows, torch, peak32, reps)
        _case_inference(rows, torch, peak32, reps)
        _case_bf16(rows, torch, peak32, reps)
        _case_bf16_step(rows, torch, peak32, reps)
        _case_gil(rows, peak32, reps)
        _case_kernel_call(rows, peak32, reps)
        if _core.has_openmp():
            for count in threads:
                if count > 1:
                    _case_step(rows, None, 256, peak32, reps, threads=count)
    finally:
        _core.set_num_threads(before)
        if torch is not None:
            torch.set_num_threads(torch_threads)
        if limiter is not None:
            limiter.restore_original_limits()
    info = (f"{platform.processor() or platform.machine()}, fastmlp path {_core.cpu_path()} "
            f"(bf16 {_core.bf16_path()}), measured 1-thread peak "
            f"{peak32:.0f} GFLOP/s float32 / {peak64:.0f} float64; numpy {np.__version__}"
            + (f", torch {torch.__version__}" if torch is not None else ", torch not installed")
            + "; 1 thread everywhere unless a row says otherwise")
    out(info)
    out("fastmlp rows: the fastest public path (train step: model.stepper(); inference: model.predictor()); "
        "other fastmlp rows name theirs")
    out(f"{'case':44s} {'implementation':18s} {'median':>11s} {'GFLOP/s':>8s} {'%peak':>6s} {'time/fastmlp':>12s}")
    last = None
    for case, impl, sec, gf, pct, ratio in rows:
        out(f"{case if case != last else '':44s} {impl:18s} {_fmt_time(sec):>11s} {gf:8.1f} {pct:5.1f}% "
            f"{ratio:11.2f}x")
        last = case
    out("")
    out("goals (fastmlp at least N times faster):")
    secs = {(c, i): t for c, i, t, _, _, _ in rows}
    for prefix, other, need in GOALS:
        for (case, impl), t_other in secs.items():
            if not case.startswith(prefix) or impl != other:
                continue
            mine = "fastmlp packed W" if case.endswith("B=1") and (case, "fastmlp packed W") in secs else "fastmlp"
            ratio = t_other / secs[(case, mine)]
            label = "" if mine == "fastmlp" else f" ({mine})"
            out(f"  {'met ' if ratio >= need else 'MISS'} {case}{label} vs {other}: {ratio:.2f}x (goal {need}x)")
    out("goals (a default path or public call at most N times, or N more than, the expert path or the C kernel):")
    for prefix, slow, fast, most, extra in WITHIN:
        for (case, impl), t_slow in secs.items():
            if not case.startswith(prefix) or impl != slow or (case, fast) not in secs:
                continue
            t_fast = secs[(case, fast)]
            if most is not None:
                ok, said = t_slow / t_fast <= most, f"{t_slow / t_fast:.2f}x (goal <= {most}x)"
            else:
                d = t_slow - t_fast
                ok = d <= extra
                said = f"{'+' if d >= 0 else '-'}{_fmt_time(abs(d)).strip()} (goal <= +{_fmt_time(extra).strip()})"
            out(f"  {'met ' if ok else 'MISS'} {case}: {slow} vs {fast}: {said}")
    return rows

"""asv benchmarks for fastmlp, generated from kernel lists.

One module per C file (``dense``, ``loss``, ``optim``, ``mlp``) and one benchmark class per kernel, named after
it, so that one name runs through the project: ``csrc/dense.c:fm_dense_forward_f32`` ↔
``reference/dense.py:dense_forward`` ↔ ``tests/kernels.py:KERNELS`` ↔ ``dense.DenseForward.time_dense_forward``.

Each module holds a ``KERNELS`` dict, kernel name -> ``Kernel`` (a builder, its shapes and dtypes, and a builder
for the plain-Python twin on a tiny shape), and calls ``generate(globals(), KERNELS)``. The benchmark methods are
made here, never written out per kernel, and the function under test is looked up by the kernel's name
(``getattr(fastmlp, name)``, ``getattr(fastmlp.reference, name)``): no copy-pasted benchmark can time the wrong
function. Every kernel class gets, over dtype × shape:

- ``time_<name>``: one call on preallocated outputs (``out=``-style keywords), the steady-state cost;
- ``peakmem_<name>``: many calls of the allocating form (no output buffers), so a leak of the outputs or of a
  temporary grows the peak RSS well past its usual value (the call count is fixed per case: the numbers compare);
- ``track_gflops_<name>`` (kernels with a FLOP count): GFLOP/s from the median of timed loops.

and the module gets a ``Reference`` class with ``time_<name>`` for the reference of every kernel, on a tiny shape.
The kernels run on one thread (``fastmlp.set_num_threads(1)`` in every setup).
"""
import hashlib
import inspect
import time

import numpy as np

import fastmlp
import fastmlp.reference

DTYPES = ("float32", "float64")

# peakmem_*: enough calls that leaking every output would add about LEAK_BYTES to the peak (outputs counted as at
# least LEAK_MIN_BYTES), but no more than LEAK_FLOPS of work, and between LEAK_MIN_CALLS and LEAK_MAX_CALLS. The
# small cases thus make thousands of calls and show a leak, the big ones stay a fraction of a second.
LEAK_BYTES = 64 << 20
LEAK_MIN_BYTES = 1 << 10
LEAK_FLOPS = 2e9
LEAK_MIN_CALLS, LEAK_MAX_CALLS = 2, 20000

# track_gflops_*: median over TRACK_REPEAT loops of at least TRACK_MIN_TIME seconds each
TRACK_REPEAT = 5
TRACK_MIN_TIME = 0.01


class Case:
    """What a builder returns for one (dtype, shape).

    call: a no-argument callable running the kernel once on preallocated buffers (timed);
    alloc: the same call letting fastmlp allocate its outputs (the leak check; default: call);
    flops: floating-point operations of one call (for track_gflops_*);
    work: a nominal operation count of one call that sizes the peakmem loop (default: flops; for the
    element-wise kernels, a few per element);
    alloc_bytes: bytes that one ``alloc`` call returns;
    leak_calls: override of the peakmem call count.
    """

    __slots__ = ("call", "alloc", "flops", "alloc_bytes", "leak_calls")

    def __init__(self, call, *, alloc=None, flops=None, work=None, alloc_bytes=0, leak_calls=None):
        self.call = call
        self.alloc = call if alloc is None else alloc
        self.flops = flops
        self.alloc_bytes = alloc_bytes
        if leak_calls is None:
            work = flops if work is None else work
            by_bytes = LEAK_BYTES // max(alloc_bytes, LEAK_MIN_BYTES)
            by_work = int(LEAK_FLOPS // work) if work else LEAK_MAX_CALLS
            leak_calls = max(LEAK_MIN_CALLS, min(LEAK_MAX_CALLS, by_bytes, by_work))
        self.leak_calls = leak_calls


class Kernel:
    """One entry of a module's kernel list.

    build(kernel, dtype, shape) -> Case, where kernel is the function resolved from the kernel's name, dtype a
    numpy dtype and shape a value of ``shapes`` (a dict label -> shape; the labels are the asv parameter values).
    reference(ref) -> a no-argument callable running the plain-Python twin ``ref`` on a tiny case (or None).
    gflops: the builder gives every case a FLOP count (adds track_gflops_<name>).
    """

    def __init__(self, build, shapes, dtypes=DTYPES, reference=None, gflops=False):
        self.build = build
        self.shapes = dict(shapes)
        self.dtypes = tuple(dtypes)
        self.reference = reference
        self.gflops = gflops


def fast_kernel(name):
    """The compiled kernel called ``name``."""
    return getattr(fastmlp, name)


def reference_kernel(name):
    """The plain-Python twin called ``name``."""
    return getattr(fastmlp.reference, name)


def _resolve(resolve, name):
    """resolve(name), or asv's "skip" (NotImplementedError in setup) for a commit that lacks the kernel."""
    try:
        return resolve(name)
    except AttributeError:
        raise NotImplementedError(f"{name}: not in this version of fastmlp") from None


def rng(seed=0):
    return np.random.default_rng(seed)


def uniform(r, shape, dtype, lo=-1.0, hi=1.0):
    return r.uniform(lo, hi, size=shape).astype(dtype)


def median_seconds(call, repeat=TRACK_REPEAT, min_time=TRACK_MIN_TIME):
    """Median seconds per call over ``repeat`` loops, each of enough calls to last ``min_time``."""
    call()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            call()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            break
        number = max(2 * number, int(number * 1.2 * min_time / max(dt, 1e-9)))
    times = [dt / number]
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(number):
            call()
        times.append((time.perf_counter() - t0) / number)
    return float(np.median(times))


def camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


def _source(*objs):
    try:
        return "".join(inspect.getsource(o) for o in objs)
    except (OSError, TypeError):
        return "".join(getattr(o, "__qualname__", repr(o)) for o in objs)


def _version(*objs):
    """asv benchmark version: a hash of the builder and of this generator, so results are dropped when either
    changes (the generated methods share one source, so asv's own code hash would not see a builder change)."""
    return hashlib.sha256(_source(*objs).encode()).hexdigest()[:16]


def _method(kind, name, body, version, **attrs):
    body.__name__ = f"{kind}_{name}"
    body.__qualname__ = body.__name__
    body.version = version
    for k, v in attrs.items():
        setattr(body, k, v)
    return body


def kernel_class(name, spec, resolve=fast_kernel, module=None):
    """The benchmark class of one kernel: setup, time_<name>, peakmem_<name> and (with a FLOP count)
    track_gflops_<name>, all over dtype × shape."""
    version = _version(spec.build, kernel_class, Case, median_seconds)

    def setup(self, dtype, shape):
        fastmlp.set_num_threads(1)
        self.case = spec.build(_resolve(resolve, name), np.dtype(dtype), spec.shapes[shape])

    def time_(self, dtype, shape):
        self.case.call()

    def peakmem(self, dtype, shape):
        alloc = self.case.alloc
        for _ in range(self.case.leak_calls):
            alloc()

    def track_gflops(self, dtype, shape):
        if not self.case.flops:
            raise NotImplementedError(f"{name}: no FLOP count for this case")
        return float(f"{self.case.flops / median_seconds(self.case.call) * 1e-9:.4g}")

    ns = {
        "params": [list(spec.dtypes), list(spec.shapes)],
        "param_names": ["dtype", "shape"],
        "setup": setup,
        f"time_{name}": _method("time", name, time_, version),
        f"peakmem_{name}": _method("peakmem", name, peakmem, version),
        "__doc__": f"fastmlp.{name} ({resolve.__name__}), over dtype x shape.",
    }
    if spec.gflops:
        ns[f"track_gflops_{name}"] = _method("track_gflops", name, track_gflops, version, unit="GFLOP/s")
    if module is not None:
        ns["__module__"] = module
    return type(camel(name), (), ns)


def reference_class(kernels, resolve=reference_kernel, module=None):
    """One class timing the plain-Python twin of every kernel that has a reference builder (tiny shapes)."""
    refs = {name: spec.reference for name, spec in kernels.items() if spec.reference is not None}
    ns = {"__doc__": "fastmlp.reference: the plain-Python twins, on tiny shapes."}

    def setup(self):
        fastmlp.set_num_threads(1)
        self.calls = {}
        for name, build in refs.items():
            try:
                ref = resolve(name)
            except AttributeError:  # an older commit: its time_ method's own setup skips it
                continue
            self.calls[name] = build(ref)

    ns["setup"] = setup
    for name, build in refs.items():
        ns[f"time_{name}"] = _method("time", name, _reference_timer(name), _version(build, reference_class),
                                     setup=_reference_present(resolve, name))
    if module is not None:
        ns["__module__"] = module
    return type("Reference", (), ns)


def _reference_timer(name):
    def time_(self):
        self.calls[name]()
    return time_


def _reference_present(resolve, name):
    # a benchmark's own `setup` attribute, run by asv after the class setup (which cannot tell the methods apart)
    def setup():
        _resolve(resolve, name)
    return setup


def generate(namespace, kernels, resolve=fast_kernel, reference=reference_kernel):
    """Add to ``namespace`` (a benchmark module's globals()) one class per kernel and the Reference class."""
    module = namespace.get("__name__")
    for name, spec in kernels.items():
        cls = kernel_class(name, spec, resolve, module)
        namespace[cls.__name__] = cls
    if any(spec.reference is not None for spec in kernels.values()):
        namespace["Reference"] = reference_class(kernels, reference, module)

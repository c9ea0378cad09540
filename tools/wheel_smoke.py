"""Smoke test of an installed fastmlp wheel (run outside the source tree, with `python -I`): import, build_info(),
a short fit, the header and the .pxd shipped, the oracle importable, `python -m fastmlp demo --quick xor`.
`--isolated` also checks that no compiler is on PATH and no build dependency is installed (tests/test_wheel.py).
cibuildwheel runs it on every wheel it builds (pyproject.toml, [tool.cibuildwheel] test-command)."""
import importlib.util, os, shutil, subprocess, sys
if "--isolated" in sys.argv[1:]:   # the environment itself is part of the check: nothing to build with
    assert shutil.which("gcc") is None and shutil.which("cc") is None, "a compiler is on PATH"
    for mod in ("Cython", "setuptools"):
        assert importlib.util.find_spec(mod) is None, f"build dependency {mod} is installed"
import numpy as np
import fastmlp
assert os.path.realpath(fastmlp.__file__).startswith(os.path.realpath(sys.prefix)), fastmlp.__file__
info = fastmlp.build_info()
print("build_info:", info)
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 16, dtype=np.float32)
y = (X[:, 0] != X[:, 1]).astype(np.int64)
model = fastmlp.MLP([2, 8, 2], activation="tanh", dtype="float32", seed=0)
model.fit(X, y, epochs=200, batch_size=16, lr=0.05, optimizer="adam")
acc = model.score(X, y)
print("xor accuracy:", acc)
assert acc == 1.0
inc = fastmlp.get_include()
assert os.path.isfile(os.path.join(inc, "fastmlp.h")), inc
assert os.path.isfile(os.path.join(os.path.dirname(fastmlp.__file__), "_core.pxd"))
import fastmlp.reference
print("get_include:", inc)
out = subprocess.run([sys.executable, "-m", "fastmlp", "demo", "--quick", "xor"], capture_output=True, text=True)
print(out.stdout[-1500:], out.stderr[-1500:])
assert out.returncode == 0, out.returncode
print("smoke: ok")

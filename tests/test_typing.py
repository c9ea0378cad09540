"""fastmlp is typed (PEP 561): ``py.typed``, stubs of the compiled core (``_core.pyi``) and annotations on the
public API. A user script written the way the README shows passes ``mypy --strict``; a wrong call in it is
caught (the types are not all Any); the stubs declare every public name of the compiled module."""
import ast
import os
import re
import site
import subprocess
import sys
import sysconfig
import textwrap

import pytest

import fastmlp
from fastmlp import _core

try:
    import mypy  # noqa: F401
except ImportError:
    mypy = None
needs_mypy = pytest.mark.skipif(mypy is None, reason="mypy is not installed (it is in the test extra: "
                                "pip install 'fastmlp[test]')")

PKG = os.path.dirname(os.path.abspath(fastmlp.__file__))

USER_SCRIPT = '''
from typing import Any, Dict, List, Tuple

import numpy as np
from numpy.typing import NDArray

import fastmlp
from fastmlp import MLP, Adam, History, Momentum, SGD, gradcheck, load, read_metadata


def main(path: str) -> float:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)

    model = MLP([4, 8, 2], activation="relu", loss="softmax_ce", seed=0)
    history: History = model.fit(X, y, epochs=2, batch_size=16, optimizer=Adam(lr=1e-2))
    losses: List[Any] = history["loss"]
    history = model.partial_fit(X, y)
    labels: NDArray[Any] = model.predict(X)
    proba: NDArray[np.floating[Any]] = model.predict_proba(X)
    accuracy: float = model.score(X, y)
    out: NDArray[np.floating[Any]] = model.forward(X)
    step_loss: float = model.train_step(X, y, lr=0.01, optimizer="momentum")
    stepper = model.stepper(X, y, optimizer=Momentum(lr=0.01, momentum=0.9))
    step_loss = stepper()
    pred = model.predictor()
    out = pred(X)
    value: float = model.loss_value(X, y)
    grads: Tuple[float, NDArray[np.floating[Any]]] = model.loss_grad(X, y)
    flat = model.get_flat_params()
    model.set_flat_params(flat)
    params: List[Tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]] = model.params
    with model.read_weights() as weights:
        n_weights = len(weights)
    steps: int = model.step_count
    model = model.reset_parameters()
    model.fit(X, y, epochs=1, optimizer=SGD(lr=0.1), lr_schedule="step", callbacks=[lambda m, e, logs: None])
    model.save(path, metadata={"note": "typed"})
    again: MLP = load(path)
    meta: Dict[str, Any] = read_metadata(path)
    worst: float = gradcheck(MLP([4, 3, 2], dtype="float64", seed=1), X.astype(np.float64)[:8], y[:8])

    W = rng.standard_normal((3, 4)).astype(np.float32)
    b = np.zeros(3, dtype=np.float32)
    p = fastmlp.dense_forward(X, W, b, act="relu")
    Wp = fastmlp.dense_pack(W)
    p = fastmlp.dense_forward_packed(X, Wp, b, act="relu")
    dW, db, dx = fastmlp.dense_backward(X, W, p, np.ones_like(p), act="relu")
    loss, dz = fastmlp.loss_softmax_ce(p, y)
    probs = fastmlp.softmax(p)
    fastmlp.sgd_update(W, dW, lr=0.1)
    fastmlp.set_num_threads(fastmlp.get_num_threads())
    info: Dict[str, Any] = fastmlp.build_info()
    include: str = fastmlp.get_include()
    version: str = fastmlp.__version__

    clf = fastmlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    clf_labels: NDArray[Any] = clf.predict(X)
    clf_proba: NDArray[np.floating[Any]] = clf.predict_proba(X)
    reg = fastmlp.MLPRegressor(hidden_layer_sizes=(8,), max_iter=3).fit(X, X[:, 0])
    reg = reg.partial_fit(X, X[:, 0])
    return accuracy + value + loss + worst + float(clf.score(X, y))
'''

WRONG = '''
import numpy as np
import fastmlp

model = fastmlp.MLP([2, 3, 1])
model.fit(np.zeros((4, 2)), np.zeros(4), epochs="ten")
n: str = fastmlp.get_num_threads()
fastmlp.dense_pack_width(dtype="float32").upper()
'''


def _in_site_packages(folder):
    roots = set(site.getsitepackages() + [site.getusersitepackages(), sysconfig.get_paths()["purelib"],
                                          sysconfig.get_paths()["platlib"]])
    return os.path.realpath(folder) in {os.path.realpath(r) for r in roots}


def _mypy(tmp_path, source, *flags):
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(source))
    env = dict(os.environ)
    parent = os.path.dirname(PKG)
    extra = []
    if not _in_site_packages(parent):
        # the package under test is a source tree (an in-place build): point mypy at it, and leave its own
        # modules unreported, as they are for an installed package (checked by test_mypy_on_the_package)
        env["MYPYPATH"] = parent
        extra = ["--follow-imports=silent"]
    cmd = [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
           "--python-executable", sys.executable, *extra, *flags, str(script)]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)


@needs_mypy
@pytest.mark.timeout(600)
def test_user_script_passes_mypy_strict(tmp_path):
    pytest.importorskip("sklearn")
    proc = _mypy(tmp_path, USER_SCRIPT, "--strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_mypy
@pytest.mark.timeout(600)
def test_wrong_calls_are_caught(tmp_path):
    proc = _mypy(tmp_path, WRONG, "--strict")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    # fit is defined on MLP's base class fastmlp.fitting.Trainable: mypy names the class that defines it
    assert re.search(r'Argument "epochs" to "fit" of "(MLP|Trainable)" has incompatible type "str"', out), out
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in out, out
    assert '"int" has no attribute "upper"' in out, out


@needs_mypy
@pytest.mark.timeout(600)
def test_mypy_on_the_package(tmp_path):
    """``mypy --ignore-missing-imports fastmlp`` (the optional extras have no type stubs) finds no issue."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                           "--ignore-missing-imports", "-p", "fastmlp"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MYPYPATH="" if _in_site_packages(os.path.dirname(PKG))
                                   else os.path.dirname(PKG)))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_package_is_typed():
    assert os.path.isfile(os.path.join(PKG, "py.typed"))
    assert os.path.isfile(os.path.join(PKG, "_core.pyi"))


def test_stubs_declare_every_public_name_of_the_core():
    with open(os.path.join(PKG, "_core.pyi")) as fh:
        tree = ast.parse(fh.read())
    declared = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            declared.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            declared.update(a.asname for a in node.names if a.asname)
    public = {n for n in dir(_core) if not n.startswith("_")} - {"np"}
    assert public - declared == set(), "in fastmlp._core but not in _core.pyi"
    assert {n for n in declared if not n.startswith("_")} - public == set(), "in _core.pyi but not in fastmlp._core"


def test_one_version_string():
    assert fastmlp.__version__ == _core.version()
    proc = subprocess.run([sys.executable, "-m", "fastmlp", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=os.path.dirname(os.path.abspath(__file__)))
    assert proc.returncode == 0, proc.stderr
    assert fastmlp.__version__ in proc.stdout

"""scikit-learn's own MLP test file, run on fastmlp's estimators.

The file is read from the installed scikit-learn at collection time (nothing of it is kept in this repository),
its one estimator import is replaced by fastmlp's, and its tests are collected here as they are: a user switching
by changing that import line gets exactly these checks. The tests known not to pass are listed in KNOWN, each
with the reason, and must fail (strict xfail): one that starts passing is reported.
"""
import os
import types

import pytest

sklearn = pytest.importorskip("sklearn")
pytest.importorskip("scipy")

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SOURCE = os.path.join(os.path.dirname(sklearn.__file__), "neural_network", "tests", "test_mlp.py")

#: test name -> why it does not pass on fastmlp (strict: it must fail)
KNOWN = {}


def _load():
    if not os.path.exists(SOURCE):
        pytest.skip(f"this scikit-learn ships without its tests ({SOURCE})", allow_module_level=True)
    with open(SOURCE, encoding="utf-8") as f:
        text = f.read()
    if text.count(IMPORT) != 1:
        raise AssertionError(f"{SOURCE}: expected the line {IMPORT!r} once; scikit-learn's test file changed")
    module = types.ModuleType("sklearn_test_mlp_on_fastmlp")
    module.__file__ = SOURCE
    exec(compile(text.replace(IMPORT, "from fastmlp import MLPClassifier, MLPRegressor"), SOURCE, "exec"),
         module.__dict__)
    return module


_suite = _load()
for _name, _fn in vars(_suite).items():
    if _name.startswith("test_") and callable(_fn):
        if _name in KNOWN:
            _fn = pytest.mark.xfail(reason=KNOWN[_name], strict=True)(_fn)
        globals()[_name] = _fn


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture (its conftest draws it from SKLEARN_TESTS_GLOBAL_RANDOM_SEED, 42 by default)."""
    return int(os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "42").split("-")[0])


def test_the_whole_file_was_collected():
    """Every test function of scikit-learn's file is one of this module's."""
    names = [n for n, f in vars(_suite).items() if n.startswith("test_") and callable(f)]
    assert len(names) >= 40 and all(n in globals() for n in names)

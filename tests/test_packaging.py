"""The package as shipped: header and .pxd installed, the oracle importable (the wheel itself: test_wheel.py)."""
import os

import fastmlp


def test_get_include_has_the_header():
    inc = fastmlp.get_include()
    with open(os.path.join(inc, "fastmlp.h")) as f:
        assert "fm_dense_forward_f32" in f.read()
    pxd = os.path.join(os.path.dirname(fastmlp.__file__), "_core.pxd")
    assert os.path.exists(pxd)


def test_reference_is_installed_with_the_package():
    import fastmlp.reference as ref
    assert ref.dense_forward.__module__ == "fastmlp.reference.dense"


def test_build_info():
    info = fastmlp.build_info()
    assert info["version"] == fastmlp.__version__ == info["core_version"]
    assert info["num_threads"] >= 1 and isinstance(info["openmp"], bool)


# The sdist -> wheel build, auditwheel repair, the contents of both and a smoke test of the installed wheel in a
# compiler-free environment: tests/test_wheel.py (slow).

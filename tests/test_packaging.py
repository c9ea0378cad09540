"""The package as shipped: header and .pxd installed, the oracle importable, and `python -m build` giving an
sdist that builds a wheel again (the build runs from the sdist) with everything inside."""
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

import fastmlp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


@pytest.mark.slow  # builds the sdist, then the wheel from it (compiles the core): ~30-40 s
@pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, "pyproject.toml")), reason="needs the source tree")
def test_sdist_and_wheel(tmp_path):
    pytest.importorskip("build")
    pytest.importorskip("Cython")
    out = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), ROOT],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sdists = list(out.glob("*.tar.gz"))
    wheels = list(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1
    with tarfile.open(sdists[0]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for need in ("csrc/fastmlp.h", "csrc/dense.c", "csrc/dense.inc", "csrc/loss.c", "csrc/optim.c",
                 "reference/dense.py", "reference/loss.py", "reference/optim.py", "fastmlp/_core.pyx",
                 "fastmlp/_core.pxd", "setup.py", "pyproject.toml", "README.md"):
        assert need in names, f"sdist lacks {need}"
    assert "fastmlp/_core.c" not in names
    with zipfile.ZipFile(wheels[0]) as zf:
        names = set(zf.namelist())
    for need in ("fastmlp/include/fastmlp.h", "fastmlp/_core.pxd", "fastmlp/reference/__init__.py",
                 "fastmlp/reference/dense.py", "fastmlp/__init__.py"):
        assert need in names, f"wheel lacks {need}"
    assert any(n.startswith("fastmlp/_core") and n.endswith((".so", ".pyd")) for n in names)
    assert not any(n.endswith(".c") for n in names), "C sources leaked into the wheel"

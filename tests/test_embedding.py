"""Embedding: a downstream Cython extension cimports fastmlp's .pxd, compiles against fastmlp.get_include(),
calls a kernel without the GIL through the capsule table (nothing linked) and gets the Python API's result."""
import os
import subprocess
import sys
import textwrap

import pytest

import fastmlp

PYX = textwrap.dedent("""
    # cython: language_level=3
    from cython cimport floating
    from fastmlp._core cimport (dense_forward_f64, c_dense_forward, c_mlp_forward, c_mlp_workspace_size, fm_mlp,
                                FM_ACT_TANH, FM_LOSS_MSE, FM_OK)

    def forward(const double[:, ::1] x, const double[:, ::1] W, const double[::1] b, double[:, ::1] p):
        cdef int rc
        with nogil:
            rc = dense_forward_f64(&x[0, 0], &W[0, 0], &b[0], &p[0, 0], x.shape[0], x.shape[1], W.shape[0],
                                   FM_ACT_TANH)
        return rc == FM_OK

    def forward_fused(const floating[:, ::1] x, const floating[:, ::1] W, const floating[::1] b, floating[:, ::1] p):
        # the generated fused dispatcher of the same kernel, float32 or float64
        with nogil:
            rc = c_dense_forward(&x[0, 0], &W[0, 0], &b[0], &p[0, 0], x.shape[0], x.shape[1], W.shape[0],
                                 FM_ACT_TANH)
        return rc == FM_OK

    def mlp_forward(const double[::1] params, const double[:, ::1] x, double[:, ::1] out):
        # a one-layer tanh network (W then b in params) through the generated c_mlp_* dispatchers
        cdef fm_mlp net
        cdef size_t nbytes = 0
        net.n_layers, net.sizes[0], net.sizes[1] = 1, x.shape[1], out.shape[1]
        net.acts[0], net.loss = FM_ACT_TANH, FM_LOSS_MSE
        if c_mlp_workspace_size(&net, &nbytes, x.shape[0], <double>0) != FM_OK:
            return False
        work = bytearray(nbytes)
        cdef unsigned char[::1] w = work
        return c_mlp_forward(&net, &params[0], &x[0, 0], &out[0, 0], &w[0], x.shape[0], x.shape[0]) == FM_OK
""")

SETUP = textwrap.dedent("""
    import sys
    from setuptools import Extension, setup
    from Cython.Build import cythonize
    include, pxd_root = sys.argv.pop(1), sys.argv.pop(1)
    ext = Extension("downstream", ["downstream.pyx"], include_dirs=[include])
    setup(name="downstream", ext_modules=cythonize([ext], include_path=[pxd_root], quiet=True))
""")

CHECK = textwrap.dedent("""
    import numpy as np, fastmlp, downstream
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 7)), rng.standard_normal((3, 7)), rng.standard_normal(3)
    p = np.empty((5, 3))
    assert downstream.forward(x, W, b, p)
    np.testing.assert_array_equal(p, fastmlp.dense_forward(x, W, b, "tanh"))
    for dt in (np.float32, np.float64):
        q = np.empty((5, 3), dtype=dt)
        assert downstream.forward_fused(x.astype(dt), W.astype(dt), b.astype(dt), q)
        np.testing.assert_array_equal(q, fastmlp.dense_forward(x.astype(dt), W.astype(dt), b.astype(dt), "tanh"))
    out = np.empty((5, 3))
    assert downstream.mlp_forward(np.concatenate([W.ravel(), b]), x, out)
    np.testing.assert_array_equal(out, p)
    print("same result")
""")


@pytest.mark.slow  # cythonizes and compiles a downstream extension: ~6 s
def test_downstream_cython_extension(tmp_path):
    pytest.importorskip("Cython")
    (tmp_path / "downstream.pyx").write_text(PYX)
    (tmp_path / "setup.py").write_text(SETUP)
    pxd_root = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
    build = subprocess.run([sys.executable, "setup.py", fastmlp.get_include(), pxd_root, "build_ext", "--inplace"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-3000:]
    # the extension was built in tmp_path: import it from there (PYTHONSAFEPATH, set by the root conftest, keeps
    # the working folder off sys.path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path)] + [p for p in
                                                      os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    run = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "same result" in run.stdout


def test_pxd_and_header_ship_with_the_package():
    here = os.path.dirname(os.path.abspath(fastmlp.__file__))
    assert os.path.exists(os.path.join(here, "_core.pxd"))
    assert os.path.exists(os.path.join(fastmlp.get_include(), "fastmlp.h"))

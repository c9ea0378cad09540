"""Build the C core (csrc/*.c) and the Cython wrappers into one extension, fastmlp._core.

-O3, hidden visibility, -fno-math-errno -fno-trapping-math (no change to any result: libm calls set no errno,
and comparisons may be if-converted, which the vectoriser needs), -ffp-contract=off (the kernels spell their
fused multiply-adds out, so no result depends on where the compiler chose to contract a*b+c), no debug information
unless FASTMLP_DEBUG_SYMBOLS=1 (or a checked build: FASTMLP_DEBUG=1, FASTMLP_SANITIZE=1), and OpenMP when the compiler can link a test program with it (FASTMLP_NO_OPENMP=1 turns
it off; without it, -fopenmp-simd keeps `omp simd` pragmas). Never -ffast-math or -march=native: the wheel must
run on any x86-64 and keep IEEE semantics (FASTMLP_NATIVE=1 adds -march=native for a local build only).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def _compiles(compiler, flags, link_flags):
    """True when `compiler` compiles and links a small OpenMP program with these flags. It uses a max reduction
    (OpenMP 3.1, as csrc/dense.inc does), which MSVC's plain /openmp (OpenMP 2.0) refuses."""
    src = "#include <omp.h>\nint main(void){int s=0, m=0;\n#pragma omp parallel for reduction(+:s) reduction(max:m)\n" \
          "for(int i=0;i<4;i++){s+=i; m=i>m?i:m;}\nreturn omp_get_max_threads() > 0 ? 0 : s+m;}\n"
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as f:
            f.write(src)
        objs = compiler.compile([path], output_dir=tmp, extra_postargs=flags)
        compiler.link_executable(objs, os.path.join(tmp, "t"), extra_postargs=link_flags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def keep_debug_symbols():
    """Release builds (the default, and every wheel) carry no debug information. FASTMLP_DEBUG_SYMBOLS=1 keeps it;
    so do the checked builds FASTMLP_DEBUG=1 and FASTMLP_SANITIZE=1 (their reports need file and line)."""
    return any(os.environ.get(v) == "1" for v in ("FASTMLP_DEBUG_SYMBOLS", "FASTMLP_DEBUG", "FASTMLP_SANITIZE"))


class BuildExt(build_ext):
    def build_extensions(self):
        ctype = self.compiler.compiler_type
        compile_args, link_args = [], []
        if ctype == "msvc":
            compile_args += ["/O2"]
            omp = (["/openmp:llvm"], [])  # VS 2019 16.9+: OpenMP 3.1 (libomp140 DLL, vendored by delvewheel)
        else:
            compile_args += ["-O3", "-fvisibility=hidden", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]
            if sys.platform == "darwin":
                omp = (["-Xpreprocessor", "-fopenmp"], ["-lomp"])
            else:
                omp = (["-fopenmp"], ["-fopenmp"])
            if os.environ.get("FASTMLP_NATIVE") == "1":
                compile_args.append("-march=native")
            if os.environ.get("FASTMLP_SANITIZE") == "1":  # checked build: run Python with libasan preloaded
                compile_args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
                link_args += ["-fsanitize=address,undefined"]
            if keep_debug_symbols():
                compile_args.append("-g")
            else:  # release: Python's own CFLAGS carry -g (a 6.2 MB extension); -g0 after them wins (~1.1 MB)
                compile_args.append("-g0")
                if sys.platform.startswith("linux"):  # GNU ld / lld; keeps .symtab (function names for perf)
                    link_args.append("-Wl,--strip-debug")
        use_omp = os.environ.get("FASTMLP_NO_OPENMP") != "1" and _compiles(self.compiler, *omp)
        if use_omp:
            compile_args += omp[0]
            link_args += omp[1]
        elif ctype != "msvc":
            compile_args.append("-fopenmp-simd")
        print(f"fastmlp: OpenMP {'on' if use_omp else 'off'}; flags {' '.join(compile_args)}")
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + ext.extra_compile_args
            ext.extra_link_args = link_args + ext.extra_link_args
        # setuptools skips an extension whose output is newer than its sources, so a build dir left by another
        # configuration (debug symbols, OpenMP off, sanitizers) would be reused silently: recompile when they differ
        stamp = os.path.join(self.build_temp, "fastmlp-flags.txt")
        flags = repr((compile_args, link_args))
        try:
            with open(stamp) as f:
                same = f.read() == flags
        except OSError:
            same = False
        if not same:
            self.force = True
        compile_in_parallel(self.compiler)
        super().build_extensions()
        os.makedirs(self.build_temp, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(flags)


def compile_in_parallel(compiler):
    """Compile an extension's sources at the same time, one compiler process per core (setuptools runs them one
    after another): the Cython module (~28 s at -O3) and the kernels (~20 s) overlap, so a build from source takes
    the longest file's time rather than the sum. FASTMLP_BUILD_JOBS=1 compiles one at a time."""
    try:
        jobs = int(os.environ.get("FASTMLP_BUILD_JOBS", "0")) or len(os.sched_getaffinity(0))
    except (AttributeError, ValueError):
        jobs = os.cpu_count() or 1
    if jobs < 2:
        return
    serial = compiler.compile

    def compile(sources, output_dir=None, *args, **kwargs):
        if len(sources) < 2:
            return serial(sources, output_dir, *args, **kwargs)
        # each source is its own compiler process; the object list keeps the sources' order
        with ThreadPoolExecutor(max_workers=min(jobs, len(sources))) as pool:
            parts = pool.map(lambda src: serial([src], output_dir, *args, **kwargs), sources)
            return [obj for objs in parts for obj in objs]

    compiler.compile = compile


def generate():
    """The Cython declarations, capsule entry points and fused dispatchers of every fm_*_f32/_f64 pair, generated
    from csrc/fastmlp.h (tools/gen_core.py; files rewritten only when their text changes). Runs whenever setup.py
    does, so the shipped _core.pxd exists before the package data is collected."""
    sys.path.insert(0, os.path.join(HERE, "tools"))
    try:
        import gen_core
    finally:
        sys.path.pop(0)
    gen_core.main(HERE)


def extensions():
    import numpy
    from Cython.Build import cythonize

    directives = {"language_level": 3}
    if os.environ.get("FASTMLP_DEBUG") == "1":  # a checked build for CI: bounds and wraparound checks on
        directives.update(boundscheck=True, wraparound=True, initializedcheck=True)
    c_sources = sorted(os.path.relpath(p, HERE) for p in glob(os.path.join(HERE, "csrc", "*.c")))
    ext = Extension(
        "fastmlp._core",
        sources=["fastmlp/_core.pyx"] + c_sources,
        # the C headers and templates: without them setuptools skips a build whose .c files did not change
        depends=sorted(os.path.relpath(p, HERE) for ext_ in ("h", "inc") for p in glob(os.path.join(HERE, "csrc", "*." + ext_))),
        include_dirs=["csrc", numpy.get_include()],  # the kernels' fast path reads ndarrays through numpy's C API
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    return cythonize([ext], compiler_directives=directives)


def version():
    """FASTMLP_VERSION of csrc/fastmlp.h: the one place the version is written (fastmlp.__version__ and the
    wheel's metadata both come from it)."""
    with open(os.path.join(HERE, "csrc", "fastmlp.h")) as f:
        m = re.search(r'^#define FASTMLP_VERSION "([^"]+)"', f.read(), re.M)
    if m is None:
        raise RuntimeError("csrc/fastmlp.h: no FASTMLP_VERSION")
    return m.group(1)


generate()
setup(version=version(), ext_modules=extensions(), cmdclass={"build_ext": BuildExt})

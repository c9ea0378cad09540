"""Which fastmlp the tests import, decided before anything imports it.

The repository root holds the package's sources in ``fastmlp/`` and the oracle in ``reference/`` (installed as
``fastmlp.reference``). ``python -m pytest`` (and pytest itself, for this file) puts the root on ``sys.path``, where
the uncompiled ``fastmlp/`` would shadow the installed package. So:

- the tree has a compiled ``_core`` for this interpreter (``python setup.py build_ext --inplace``): the tree is
  tested. ``fastmlp.reference`` is mapped to ``reference/`` (a meta-path finder), and subprocesses the tests start
  get the same through ``PYTHONPATH`` (the root, plus a ``sitecustomize`` that installs the same finder);
- otherwise (``pip install ".[test]" && pytest -n auto --dist loadfile``, the README's command and ``.ci/run``): the root is dropped from
  ``sys.path`` and the installed package is tested. The subprocess tests run from ``tests/`` (and PYTHONSAFEPATH is
  set), so they import the installed package too.

``FASTMLP_TEST_INSTALLED=1`` forces the installed package even where an in-place build exists.
"""
import atexit
import importlib.machinery
import importlib.util
import os
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(ROOT, "fastmlp")

# the finder, as source: run here and written into the subprocesses' sitecustomize
FINDER = r'''
import importlib.machinery, importlib.util, os, sys

class _TreeReference:
    """Maps ``fastmlp.reference`` to the source tree's top-level ``reference/`` (the wheel's layout)."""
    def __init__(self, folder):
        self.folder = folder

    def find_spec(self, name, path=None, target=None):
        if name != "fastmlp.reference":
            return None
        return importlib.util.spec_from_file_location(name, os.path.join(self.folder, "__init__.py"),
                                                      submodule_search_locations=[self.folder])

if not any(type(f).__name__ == "_TreeReference" for f in sys.meta_path):
    sys.meta_path.insert(0, _TreeReference(REFERENCE))
'''

# a sitecustomize that was already importable still runs after ours (not another of ours: pytest-xdist's workers
# inherit the controller's folder on PYTHONPATH)
SITE = "fastmlp-tests-"
CHAIN = r'''
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if not os.path.basename(os.path.abspath(p or ".")).startswith(SITE)])
if _spec is not None:
    _spec.loader.exec_module(sys.modules[__name__])
'''


def _compiled_core():
    """The in-place build of ``fastmlp._core`` for this interpreter, or None."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(PACKAGE, "_core" + suffix)
        if os.path.exists(path):
            return path
    return None


def _is_root(entry):
    return os.path.abspath(entry or ".") == ROOT


CORE = None if os.environ.get("FASTMLP_TEST_INSTALLED") else _compiled_core()
if "fastmlp" in sys.modules:  # a plugin got there first: too late to choose, say which one it is
    CORE = _compiled_core() if os.path.dirname(sys.modules["fastmlp"].__file__) == PACKAGE else None

if CORE is not None:
    _reference = os.path.join(ROOT, "reference")
    exec(FINDER.replace("REFERENCE", repr(_reference)))
    if not any(_is_root(p) for p in sys.path):
        sys.path.insert(0, ROOT)
    _site = tempfile.mkdtemp(prefix=SITE)
    atexit.register(shutil.rmtree, _site, ignore_errors=True)
    with open(os.path.join(_site, "sitecustomize.py"), "w") as _f:
        _f.write(FINDER.replace("REFERENCE", repr(_reference)) + CHAIN.replace("SITE", repr(SITE)))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [_site, ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                         if p and not _is_root(p) and not os.path.basename(p).startswith(SITE)])
else:
    sys.path[:] = [p for p in sys.path if not _is_root(p)]
    # a `python -c` / `-m` subprocess started from the root would put the root first on its sys.path (Python >= 3.11
    # honours this; the subprocess tests also start from tests/)
    os.environ["PYTHONSAFEPATH"] = "1"
    # a PYTHONPATH naming the root would shadow the installed package in the subprocesses
    _pp = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and not _is_root(p)]
    if _pp:
        os.environ["PYTHONPATH"] = os.pathsep.join(_pp)
    else:
        os.environ.pop("PYTHONPATH", None)
    if importlib.util.find_spec("fastmlp") is None:
        raise pytest.UsageError("fastmlp is neither built in place (python setup.py build_ext --inplace) nor "
                                'installed (pip install ".[test]"): nothing to test')


def pytest_report_header(config):
    if CORE is not None:
        sources = [os.path.join(PACKAGE, n) for n in os.listdir(PACKAGE) if n.endswith((".pyx", ".pxi", ".pxd"))]
        sources += [os.path.join(ROOT, "csrc", n) for n in os.listdir(os.path.join(ROOT, "csrc"))
                    if n.endswith((".c", ".h", ".inc"))]
        stale = [os.path.relpath(s, ROOT) for s in sources if os.path.getmtime(s) > os.path.getmtime(CORE)]
        line = f"fastmlp: the source tree, in-place build {os.path.relpath(CORE, ROOT)}"
        if stale:
            line += f" (OLDER than {', '.join(sorted(stale)[:3])}{', ...' if len(stale) > 3 else ''}: rebuild)"
        return line
    spec = importlib.util.find_spec("fastmlp")
    return f"fastmlp: installed, {os.path.dirname(spec.origin)}"

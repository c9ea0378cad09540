"""The asv benchmarks run: every benchmark class's setup and each time_ method once, on its first parameter case.

asv only reports a broken benchmark as "failed" in its own log; this catches a builder that no longer matches a
kernel (a Reference builder once allocated the packed layout of an older version and raised IndexError).
"""
import importlib
import inspect
import itertools
import os
import sys

import pytest

import fastmlp  # noqa: F401  (the installed package, imported before the source root joins sys.path)
import fastmlp.reference  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = ("dense", "loss", "optim", "mlp", "estimators", "regions", "paths", "bf16", "activations", "steps")


def _benchmark_classes():
    if not os.path.isdir(os.path.join(ROOT, "asv_bench", "benchmarks")):
        return []  # an installed copy of the tests without the source tree
    sys.path.append(ROOT)  # last: asv_bench is found there, fastmlp stays the installed one
    try:
        out = []
        for mod_name in MODULES:
            mod = importlib.import_module(f"asv_bench.benchmarks.{mod_name}")
            for name, cls in inspect.getmembers(mod, inspect.isclass):
                if cls.__module__ == mod.__name__ and any(m.startswith("time_") for m in dir(cls)):
                    out.append(pytest.param(cls, id=f"{mod_name}.{name}"))
        return out
    finally:
        sys.path.remove(ROOT)


@pytest.mark.parametrize("cls", _benchmark_classes())
def test_benchmark_runs(cls):
    params = getattr(cls, "params", None)
    combo = next(itertools.product(*params)) if params else ()
    bench = cls()
    bench.setup(*combo)
    ran = 0
    for name in sorted(dir(cls)):
        if name.startswith("time_"):
            method = getattr(bench, name)
            own_setup = getattr(method, "setup", None)  # asv runs a method's own setup after the class's
            if own_setup is not None:
                own_setup()
            method(*combo)
            ran += 1
    if hasattr(bench, "teardown"):
        bench.teardown(*combo)
    assert ran

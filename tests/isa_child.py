"""A statement run in a child Python on one kernel path: FASTMLP_ISA is read once, at import, so another path
needs another process. The child imports the named test module as ``t`` (with json and numpy as ``np``); the tests
folder goes on its path itself, since PYTHONSAFEPATH (set by conftest where the installed package is tested) keeps
it off."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def last_line_on(isa, module, statement):
    """The last line the child prints after ``statement``; its failure fails the caller with the child's stderr."""
    code = f"import sys; sys.path.append({HERE!r}); import json, numpy as np, {module} as t; {statement}"
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, FASTMLP_ISA=isa), cwd=HERE,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]

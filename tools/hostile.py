#!/usr/bin/env python
"""Hostile-input campaign for fastmlp (issue 13, "Hardening, round two"): the entry point.

Usage: ``python tools/hostile.py [--quick] [--jobs N] [--family F] [-k SUBSTR] [--json FILE] [--list] [--keep]``.
The campaign lives in the package ``tools/hostile_lib`` (its docstring says how attacks are run and classified);
this file puts ``tools/`` on the path and re-exports what the suite (tests/test_hostile.py) uses.
"""
import os
import sys

_TOOLS = os.path.dirname(os.path.abspath(__file__))
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)

from hostile_lib import (CATEGORIES, CLEAN, FAMILIES, PRELUDE, ROOT, Case, build_cases, classify,  # noqa: E402
                         csv_memory, hash_dir, main, make_fixtures, report, run_case)

__all__ = ["CATEGORIES", "CLEAN", "FAMILIES", "PRELUDE", "ROOT", "Case", "build_cases", "classify", "csv_memory",
           "hash_dir", "main", "make_fixtures", "report", "run_case"]

if __name__ == "__main__":
    sys.exit(main())

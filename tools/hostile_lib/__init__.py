"""Hostile-input campaign for fastmlp (issue 13, "Hardening, round two").

Every attack runs in its own subprocess (a generated ``case.py`` for library attacks, ``python -m fastmlp ...``
for the command line) in its own folder holding fresh copies of the fixtures, under a memory cap
(``RLIMIT_AS``: 8 GiB, lower for the memory attacks) and a timeout. Each attack is classified as

  ok            a clean error (ValueError / TypeError / RuntimeError and subclasses, ImportError, or an OSError
                naming the path; for the CLI a non-zero exit with a message and no traceback) whose message names
                the argument / file / option, or a result that passes its oracle or invariant
  crash         killed by a signal, or a non-zero exit without the worker's report (a C-level abort)
  hang          the timeout (or a runaway: over the attack's time or memory budget)
  silent wrong  a result that fails its oracle or invariant (NaN without an error, a prediction that differs
                from the reference, a model changed by a refused call, a hostile value accepted, ...)
  lost file     a file present before the attack (an input, an existing output) changed or vanished, or a
                temporary left behind (every file of the attack's folder is hashed before and after)
  unclear error a traceback, an exception outside the clean types, or a message that names nothing it should

Usage: ``python tools/hostile.py [--quick] [--jobs N] [--family F] [-k SUBSTR] [--json FILE] [--list]``.
``--quick`` runs a representative subset (about a minute on 2 cores); the full run takes a few minutes.
Attacks that test one fix of the issue name it in ``item`` (shown by --list and beside a failing attack).
The code: ``case.py`` (the attack record, the builder), ``prelude.py`` (the worker's helpers), ``fixtures.py``, one
module per family or two (``kernels``, ``api``, ``files``, ``cli``, ``concurrency``: threads and signals, ``memory``)
gathered by ``cases.py``, ``run.py`` (running and classifying), ``report.py`` and ``main.py`` (the command line).
"""
from .case import CATEGORIES, CLEAN, FAMILIES, ROOT, Case, dd
from .cases import build_cases
from .fixtures import make_fixtures
from .main import main
from .prelude import PRELUDE
from .report import report
from .run import classify, csv_memory, hash_dir, run_case

__all__ = ["CATEGORIES", "CLEAN", "FAMILIES", "PRELUDE", "ROOT", "Case", "build_cases", "classify", "csv_memory", "dd",
           "hash_dir", "main", "make_fixtures", "report", "run_case"]

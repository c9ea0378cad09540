"""The command line: select the attacks, make the fixtures, run them (in parallel, the slow ones after), report."""
import argparse
import concurrent.futures as cf
import json
import os
import shutil
import tempfile
import time

from . import __doc__ as DOC
from .case import FAMILIES
from .cases import build_cases
from .fixtures import make_fixtures
from .report import report
from .run import run_case


def main(argv=None):
    ap = argparse.ArgumentParser(description=DOC.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a representative subset (about a minute on 2 cores)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--family", action="append", choices=FAMILIES)
    ap.add_argument("-k", dest="select", help="only attacks whose id contains this")
    ap.add_argument("--json", help="write every result to this file")
    ap.add_argument("--list", action="store_true", help="list the attacks and exit")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    a = ap.parse_args(argv)
    cases = build_cases()
    if a.quick:
        cases = [c for c in cases if c.quick]
    if a.family:
        cases = [c for c in cases if c.family in a.family]
    if a.select:
        cases = [c for c in cases if a.select in c.id]
    if a.list:
        for c in cases:
            print(c.family, c.id, f"[{c.item}]" if c.item else "")
        return 0
    work = tempfile.mkdtemp(prefix="fastmlp-hostile-")
    fixtures = os.path.join(work, "_fixtures")
    os.makedirs(fixtures)
    make_fixtures(fixtures)
    t0 = time.time()
    results = []
    serial = [c for c in cases if c.timeout > 60 or c.family == "memory"]
    parallel = [c for c in cases if c not in serial]
    with cf.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        futs = [ex.submit(run_case, c, fixtures, work) for c in parallel]
        for f in cf.as_completed(futs):
            results.append(f.result())
    for c in serial:
        results.append(run_case(c, fixtures, work))
    report(results, time.time() - t0, a.quick)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["category"] == "ok" for r in results) else 1

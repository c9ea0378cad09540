"""The hostile-input campaign (tools/hostile.py, issue 13) in the suite: its classifier on known outcomes, and its
quick subset against this tree -- 0 crashes / hangs / lost files / silent wrong / unclear errors, every attack
counted."""
import concurrent.futures as cf
import importlib.util
import os
import shutil
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hostile():
    spec = importlib.util.spec_from_file_location("hostile", os.path.join(ROOT, "tools", "hostile.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hostile"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def fixtures(hostile, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("hostile_fixtures"))
    hostile.make_fixtures(d)
    return d


def test_the_classifier_tells_each_outcome_apart(hostile, fixtures, tmp_path):
    C = hostile.Case
    cases = {
        "crash": C("t.segv", "api", code="import ctypes\nctypes.string_at(0)"),
        "hang": C("t.hang", "api", code="time.sleep(60)", timeout=2),
        "silent wrong": C("t.wrong", "api", code="check(np.isfinite(np.nan), 'NaN without an error')"),
        "unclear error": C("t.keyerror", "api", code="{}['layers']"),
        "lost file": C("t.lost", "api", code="open(os.path.join(D, 'm.npz'), 'ab').write(b'x')"),
        "ok": C("t.clean", "api", code="fastmlp.MLP([2, 3], seed='abc')", expect="error", names=("seed",)),
    }
    cases["unnamed"] = C("t.unnamed", "api", code="raise ValueError('bad value')", names=("layers",))
    cases["abort"] = C("t.abort", "api", code="os.abort()")
    cases["runaway"] = C("t.runaway", "api", code="budget(lambda: time.sleep(0.3), seconds=0.1)")
    cases["cli ok"] = C("t.cli", "cli", argv=["train", "data.npz", "--seed", "abc"], names=("--seed",))
    got = {k: hostile.run_case(c, fixtures, str(tmp_path))["category"] for k, c in cases.items()}
    assert got == {"crash": "crash", "hang": "hang", "silent wrong": "silent wrong", "unclear error": "unclear error",
                   "lost file": "lost file", "ok": "ok", "unnamed": "unclear error", "abort": "crash",
                   "runaway": "hang", "cli ok": "ok"}


def test_quick_campaign_has_no_failure(hostile, capsys):
    cases = [c for c in hostile.build_cases() if c.quick]
    work = tempfile.mkdtemp(prefix="fastmlp-hostile-")
    fixtures = os.path.join(work, "_fixtures")
    os.makedirs(fixtures)
    hostile.make_fixtures(fixtures)
    t0 = time.time()
    with cf.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        results = list(ex.map(lambda c: hostile.run_case(c, fixtures, work), cases))
    with capsys.disabled():
        hostile.report(results, time.time() - t0, True)
    shutil.rmtree(work, ignore_errors=True)
    failing = [f"{r['category']}: {r['id']}: {r['reason']}" for r in results
               if r["category"] != "ok"]
    assert len(results) >= 150
    assert not failing, "\n".join(failing)

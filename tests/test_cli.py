"""The command line: demo, info and bench run and print what they promise (no timing assertions)."""
import os
import subprocess
import sys

# from tests/, not the source root: there `python -m fastmlp` would import the uncompiled source tree
HERE = os.path.dirname(os.path.abspath(__file__))


def run(*args, timeout=300):
    proc = subprocess.run([sys.executable, "-m", "fastmlp", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=HERE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_info():
    out = run("info")
    assert "simd" in out and "openmp" in out


def test_demo_trains_to_a_table():
    out = run("demo")
    assert "XOR 2-3-2 sigmoid" in out and "digits" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("XOR 2-50-2")]
    assert lines and "accuracy" in lines[0]


def test_bench_prints_the_table_and_the_goals():
    out = run("bench", "--quick", "--reps", "1", "--epoch-samples", "640", "--threads", "2")
    assert "measured 1-thread peak" in out
    for case in ("forward 784->256 +b+relu float32 B=64", "train step 784-256-128-10 B=64", "epoch 640x784",
                 "inference 784-256-128-10, one sample", "2 x predict B=256 (2 Python threads)"):
        assert case in out, case
    assert "goals (fastmlp at least N times faster):" in out


def test_bench_rejects_bad_thread_list():
    proc = subprocess.run([sys.executable, "-m", "fastmlp", "bench", "--threads", "two"], capture_output=True,
                          text=True, timeout=60, cwd=HERE)
    assert proc.returncode == 2 and "--threads expects" in proc.stdout

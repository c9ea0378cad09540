"""``fastmlp bench --sweep`` on a tiny grid: every cell is timed against its peers and the table, the geometric
means, the goal lines and (with matplotlib) the heat map come out. No timing assertions: only that the numbers are
there and consistent with each other."""
import importlib.util
import math
import os
import subprocess
import sys

import pytest

from fastmlp.apps.bench_sweep import format_table, geomean, goals, run_sweep

HERE = os.path.dirname(os.path.abspath(__file__))


def test_sweep_times_every_cell_and_prints_the_table(tmp_path):
    lines = []
    plot = str(tmp_path / "sweep.png") if importlib.util.find_spec("matplotlib") else None
    cells = run_sweep(widths=(8, 33), batches=(1, 5), cell_seconds=0.01, reps=3, plot=plot, out=lines.append)
    assert [(c["kind"], c["W"], c["B"]) for c in cells] == [(k, w, b) for k in ("fwd", "bwd", "step")
                                                          for w in (8, 33) for b in (1, 5)]
    for c in cells:
        assert c["reps"] == 3 and c["peer"] in c["sec"] and c["peer"] != "fastmlp"
        assert math.isclose(c["ratio"], c["sec"][c["peer"]] / c["sec"]["fastmlp"])
        assert c["sec"][c["peer"]] == min(v for k, v in c["sec"].items() if k != "fastmlp")
        assert all(v > 0 for v in c["gflops"].values()) and c["peak"] > 0
    text = "\n".join(lines)
    assert "measured 1-thread float32 peak" in text
    assert lines[3:3 + len(cells)] == format_table(cells)[1:]
    assert "step    33     5" in text and "geometric mean over the grid" in text
    assert f"geometric mean ratio bwd: {geomean([c['ratio'] for c in cells if c['kind'] == 'bwd']):.2f}x" in text
    if plot:
        assert os.path.getsize(plot) > 1000 and "heat map written" in text


def test_goal_lines_mark_the_cells_below_their_goal():
    def cell(kind, W, B, ratio, peak):
        return {"kind": kind, "W": W, "B": B, "ratio": ratio, "peak": peak, "peer": "torch"}
    out = goals([cell("fwd", 256, 64, 0.5, 80.0), cell("bwd", 1024, 256, 2.0, 50.0), cell("fwd", 64, 1, 0.1, 1.0),
                 cell("step", 256, 64, 8.0, 10.0)])
    assert "MISS fwd W=256 B=64: 0.50x torch (goal >= 1x)" in out
    assert "MISS bwd W=1024 B=256: 50.0% of peak (goal >= 70%)" in out
    assert not any("W=64 B=1" in line or "step W=256" in line for line in out)  # B < 16; peak not asked of step
    assert geomean([0.5, 2.0, 0.1, 8.0]) < 1.3 and "MISS geometric mean over the grid 0.95x (goal 1.3x)" in out
    assert "met  geometric mean over the grid 2.00x (goal 1.3x)" in goals([cell("fwd", 64, 1, 2.0, 1.0)])


def test_sweep_refuses_bad_grids():
    with pytest.raises(ValueError, match="kinds"):
        run_sweep(widths=(8,), batches=(1,), kinds=("sideways",), out=lambda s: None)
    with pytest.raises(ValueError, match="widths"):
        run_sweep(widths=(0,), batches=(1,), out=lambda s: None)


def test_cli_sweep():
    proc = subprocess.run([sys.executable, "-m", "fastmlp", "bench", "--sweep", "--widths", "16", "--batches", "2",
                           "--kinds", "fwd,bwd", "--cell-seconds", "0.01", "--reps", "3"], capture_output=True,
                          text=True, timeout=120, cwd=HERE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fwd     16     2" in proc.stdout and "bwd     16     2" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "fastmlp", "bench", "--sweep", "--widths", "a"],
                         capture_output=True, text=True, timeout=60, cwd=HERE)
    assert bad.returncode == 2 and "--sweep" in bad.stdout


@pytest.mark.parametrize("argv, message", [
    (["--sweep", "--threads", "2"], "--threads does nothing with --sweep"),
    (["--sweep", "--section", "sklearn"], "--section does nothing with --sweep"),
    (["--widths", "64"], "--widths does nothing with --section kernels"),
    (["--plot", "x.png"], "--plot does nothing with --section kernels"),
    (["--section", "regions", "--reps", "3"], "--reps does nothing with --section regions"),
    (["--section", "sklearn", "--threads", "1,2"], "--threads does nothing with --section sklearn"),
])
def test_cli_refuses_options_the_bench_would_ignore(argv, message):
    proc = subprocess.run([sys.executable, "-m", "fastmlp", "bench", *argv], capture_output=True, text=True,
                          timeout=60, cwd=HERE)
    assert proc.returncode == 2 and message in proc.stdout, proc.stdout + proc.stderr[-2000:]


def test_cli_plot_keeps_an_existing_file(tmp_path):
    target = tmp_path / "sweep.png"
    target.write_bytes(b"mine")
    argv = [sys.executable, "-m", "fastmlp", "bench", "--sweep", "--widths", "16", "--batches", "2", "--kinds", "fwd",
            "--cell-seconds", "0.01", "--reps", "3", "--plot", str(target)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=HERE)
    assert proc.returncode == 2 and "the file exists; pass --force" in proc.stdout, proc.stdout
    assert target.read_bytes() == b"mine" and "fwd" not in proc.stdout  # refused before any timing
    proc = subprocess.run(argv + ["--force"], capture_output=True, text=True, timeout=120, cwd=HERE)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("section", ["kernels", "sklearn", "regions"])
def test_cli_accepts_the_section_it_runs(monkeypatch, section):
    # --section names the bench: it is refused only beside --sweep (it used to be refused always)
    from fastmlp.apps import main as main_mod
    ran = []
    monkeypatch.setattr(main_mod, "run_regions_bench", lambda **kw: ran.append("regions"))
    monkeypatch.setattr(main_mod, "run_bench", lambda *a, **kw: ran.append("kernels"))
    monkeypatch.setattr("fastmlp.apps.bench_sklearn.run_sklearn_bench", lambda **kw: ran.append("sklearn"))
    assert main_mod.main(["bench", "--section", section, "--quick"]) == 0
    assert ran == [section]


@pytest.mark.parametrize("kw, name", [({"cell_seconds": float("inf")}, "cell_seconds"),
                                      ({"cell_seconds": float("nan")}, "cell_seconds"),
                                      ({"cell_seconds": -1.0}, "cell_seconds"),
                                      ({"reps": 0}, "reps"), ({"reps": -2}, "reps"), ({"reps": 2.5}, "reps")])
def test_sweep_refuses_bad_timing_options(kw, name):
    # refused before any timing, naming the option (inf used to escape as an OverflowError after the warm-up,
    # reps=0 silently meant the default)
    with pytest.raises(ValueError, match=name):
        run_sweep(widths=(8,), batches=(1,), kinds=("fwd",), out=lambda s: None, **kw)


def test_cli_plot_needs_matplotlib_before_the_sweep(monkeypatch, tmp_path, capsys):
    from fastmlp.apps import main as main_mod
    from fastmlp.apps import plots

    def missing():
        raise ImportError("plots need matplotlib: pip install \"fastmlp[plot]\"")
    monkeypatch.setattr(plots, "require", missing)
    monkeypatch.setattr(main_mod, "run_sweep", lambda *a, **kw: pytest.fail("the sweep ran"))
    assert main_mod.main(["bench", "--sweep", "--plot", str(tmp_path / "h.png")]) == 2
    assert "matplotlib" in capsys.readouterr().out


def test_sweep_restores_the_thread_count_when_it_fails(monkeypatch):
    from fastmlp import _core
    from fastmlp.apps import bench_sweep

    def boom(*a):
        raise RuntimeError("peak")
    before = _core.get_num_threads()
    monkeypatch.setattr(bench_sweep._core, "cpu_peak_gflops", boom)
    with pytest.raises(RuntimeError, match="peak"):
        run_sweep(widths=(8,), batches=(1,), kinds=("fwd",), out=lambda s: None)
    assert _core.get_num_threads() == before


def test_cli_force_needs_plot(capsys):
    from fastmlp.apps import main as main_mod
    assert main_mod.main(["bench", "--sweep", "--force", "--widths", "8", "--batches", "1"]) == 2
    assert "--force" in capsys.readouterr().out

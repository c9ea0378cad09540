"""The region analysis in the applications: ``fastmlp bench regions`` tables and ``fastmlp demo regions``."""
import subprocess
import sys

import numpy as np

from fastmlp.apps import bench_regions, demo, regions_demo


def test_bench_regions_tables_on_small_nets():
    lines = []
    enum = bench_regions.enumeration_table(lines.append, budget=20.0, reps=1, nets=([2, 4, 4, 1], [2, 6, 6, 1]))
    assert [r["same"] for r in enum] == ["yes", "yes"] and all(r["lp_regions"] == r["geo_regions"] for r in enum)
    shallow = bench_regions.shallow_table(lines.append, budget=20.0, widths=(2, 4))
    assert [r["neurons"] for r in shallow] == [4, 8] and max(r["err"] for r in shallow) < 1e-12
    nd = bench_regions.nd_table(lines.append, budget=20.0, nets=([3, 4, 4, 1],))
    assert nd[0]["same"] and nd[0]["lps"] <= nd[0]["plain_lps"]
    text = "\n".join(lines)
    assert "2-6-6-1" in text and "2-4-4-1" in text and "3-4-4-1" in text


def test_bench_rejects_an_unknown_section():
    proc = subprocess.run([sys.executable, "-m", "fastmlp", "bench", "--section", "regionz"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "regionz" in proc.stdout + proc.stderr and "regions" in proc.stdout + proc.stderr


def test_demo_regions_is_a_named_section_with_recorded_partitions():
    assert "regions" in demo.SECTIONS and "regions" not in demo.DEFAULT
    assert demo.selection(["regions"]) == ["regions"]
    ctx = demo.Context(seed=0, quick=True, quiet=True)
    rows = regions_demo.section(ctx, demo.Row)
    assert [r.name for r in rows] == ["xor 2-16-16-2", "surface 2-32-32-1"]
    for r in rows:
        v = r.values
        assert v["frames"] >= 5 and v["regions_end"] > 10 and np.isfinite(r.loss) and v["density"] > 0
    assert "regions" in demo.format_table(rows)

"""The demo sections of sources 002 (derivatives) and 003 (shap): every row names its source, the seed's claim and
a verdict, and the numbers say what the verdicts say."""
import numpy as np
import pytest

from fastmlp.apps import demo, demo_seeds


def _ctx(**kw):
    return demo.Context(quick=True, quiet=True, **kw)


@pytest.fixture(scope="module")
def derivative_rows():
    return demo.run(["derivatives"], _ctx())


def test_every_row_names_source_claim_and_verdict(derivative_rows):
    assert len(derivative_rows) >= 6
    for r in derivative_rows:
        assert r.source == "002" and r.reference and r.result and r.verdict


def test_the_seeds_step_approximates_the_derivative(derivative_rows):
    fn = [r for r in derivative_rows if r.name.startswith("d/dx")]
    assert len(fn) == len(demo_seeds.FUNCTIONS)
    assert all(r.values["err64"] < 1e-5 for r in fn) and all(r.verdict == "holds" for r in fn)


def test_the_error_against_delta_is_a_v(derivative_rows):
    sweep = {r.name.rsplit(", ", 1)[1]: r.values for r in derivative_rows if "Delta 1e-1..1e-12" in r.name}
    assert set(sweep) == {"float32", "float64"}
    for dt, v in sweep.items():
        err = np.array(v["errors"])
        best = int(np.argmin(err))
        assert 0 < best < len(err) - 1, (dt, err)          # falls, then rises
        # the best step lies within a factor 100 of eps^(1/3) (truncation ~ D^2 meets rounding ~ eps / D)
        assert abs(np.log10(v["best_delta"]) - np.log10(np.finfo(dt).eps ** (1 / 3))) <= 2
    assert sweep["float32"]["best_delta"] > sweep["float64"]["best_delta"]


def test_the_trained_nets_backward_slope_agrees_with_the_seeds_step(derivative_rows):
    net = {r.name: r.values for r in derivative_rows if r.name.startswith("trained")}
    assert len(net) == 2
    f64 = next(v for k, v in net.items() if "float64" in k)
    f32 = next(v for k, v in net.items() if "float32" in k)
    assert f64["err"] < 1e-5 and f64["err_best_delta"] < f64["err"]
    assert f32["err"] < 1e-1


def test_holds_in():
    assert demo_seeds.holds_in([True]) == "holds"
    assert demo_seeds.holds_in([False]) == "does not hold"
    assert demo_seeds.holds_in([True, False, True]) == "holds in 2 of 3 seeds"


def test_derivative_plots(tmp_path):
    pytest.importorskip("matplotlib")
    c = _ctx(plot_dir=str(tmp_path))
    demo_seeds.derivatives(c)
    names = sorted(p.rsplit("/", 1)[1] for p in c.plots)
    assert names == ["derivatives_delta.png", "derivatives_tangents.png"]
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names)


@pytest.mark.slow
def test_shap_section_quick():
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    rows = demo.run(["shap"], _ctx())
    assert all(r.source == "003" and r.verdict for r in rows)
    deep = rows[0].values
    assert deep["max_err"] < 1e-9 and len(deep["widths"]) == 3      # deep == shallow with three hidden layers
    timing = rows[1].values
    assert len([c for _, _, c in timing["curve"] if c is not None]) >= 2 and timing["growth"] > 1
    shap_row = rows[3].values
    assert shap_row["additivity"] < 1e-9
    assert rows[4].values["within_3se"] > 0.9


def test_growth_factor():
    from fastmlp.apps.demo_shap import _growth
    assert _growth([4, 8, 12], [1.0, 16.0, 256.0]) == pytest.approx(2.0)
    assert np.isnan(_growth([4], [1.0]))

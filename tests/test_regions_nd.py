"""The n-D LP path's speed-ups (fast_lp: witness certificates before an LP, HiGHS called directly) find exactly
the regions of the plain search; the direct solver falls back to linprog when no bindings load."""
import numpy as np
import pytest

import fastmlp
from fastmlp import regions as R
from fastmlp.regions import highs


def net(layers, seed=0):
    m = fastmlp.MLP(layers, activation="relu", loss="mse", dtype="float64", seed=0)
    m.set_flat_params(np.random.default_rng(seed).normal(size=m.n_params))
    return m


def keys(r):
    return sorted(np.packbits(p).tobytes() for p in r.patterns)


@pytest.mark.parametrize("layers,seed,cells", [([3, 6, 6, 1], 0, "full"), ([3, 5, 5, 1], 1, "all"),
                                               ([4, 5, 4, 1], 2, "full"), ([2, 6, 6, 1], 0, "full"),
                                               ([2, 10, 10, 1], 0, "full"), ([2, 9, 9, 1], 1, "all")])
def test_fast_lp_finds_the_plain_searchs_regions(layers, seed, cells):
    m = net(layers, seed)
    plain = R.enumerate_regions(m, (-2, 2), cells=cells, method="lp", fast_lp=False)
    fast = R.enumerate_regions(m, (-2, 2), cells=cells, method="lp")
    assert keys(plain) == keys(fast) and len(fast) > 10
    assert fast.n_lps <= plain.n_lps and fast.n_rejected == 0
    # the witnesses found by certificates are real: the forward pass gives each region's pattern there (cells="all":
    # a witness may lie on an inactive unit's hyperplane, where the forward pass may read either way)
    if cells == "full":
        np.testing.assert_array_equal(np.concatenate(R.activation_patterns(m, fast.points), 1), fast.patterns)
    else:
        assert all(fast[k].contains(fast.points[k:k + 1], tol=1e-9)[0] for k in range(len(fast)))


def test_certificates_replace_some_lps_and_all_of_Rn_works():
    m = net([3, 8, 8, 1], 0)
    plain = R.enumerate_regions(m, (-2, 2), method="lp", fast_lp=False)
    fast = R.enumerate_regions(m, (-2, 2), method="lp")
    assert fast.n_lps < plain.n_lps
    m2 = net([3, 5, 4, 1], 3)
    assert keys(R.enumerate_regions(m2, None, fast_lp=False)) == keys(R.enumerate_regions(m2, None))


def test_direct_solver_falls_back_to_linprog(monkeypatch):
    m = net([3, 6, 6, 1], 0)
    want = keys(R.enumerate_regions(m, (-2, 2), method="lp"))
    monkeypatch.setattr(highs, "_core", lambda: None)
    assert highs.direct_lp(np.array([-1.0, -np.inf]), np.array([1.0, 1.0]), {}) is None
    assert keys(R.enumerate_regions(m, (-2, 2), method="lp")) == want


def test_direct_solver_solves_an_lp_and_reports_infeasibility():
    lp = highs.direct_lp(np.array([-1.0, -1.0, -np.inf]), np.array([1.0, 1.0, 1.0]), {})
    if lp is None:
        pytest.skip("no HiGHS bindings (highspy or scipy's) on this install")
    # max s: x + s <= 0.5, -x + s <= 0.5, y free in [-1, 1] -> s = 0.5 at x = 0
    status, x = lp.solve(np.array([[1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]]), np.array([0.5, 0.5]))
    assert status == "optimal" and abs(x[2] - 0.5) < 1e-9 and abs(x[0]) < 1e-9
    status, x = lp.solve(np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]), np.array([-0.5, -0.5]))
    assert status == "infeasible" and x is None


def test_fast_lp_must_be_a_bool():
    with pytest.raises(TypeError, match="fast_lp"):
        R.enumerate_regions(net([3, 2, 1]), (-1, 1), fast_lp="yes")


@pytest.mark.parametrize("cells", ["full", "all"])
def test_fast_lp_reports_the_plain_searchs_rows_and_maps(cells):
    # the search nodes keep their rows as tuples plus prebuilt LP rows: each region's half-spaces, strictness,
    # hyperplane indices and affine map are those of the plain search, row for row
    m = net([3, 6, 5, 1], 4)
    plain = R.enumerate_regions(m, (-2, 2), cells=cells, method="lp", fast_lp=False)
    fast = R.enumerate_regions(m, (-2, 2), cells=cells, method="lp")
    order = lambda r: np.argsort([np.packbits(p).tobytes() for p in r.patterns])   # noqa: E731
    i, j = order(plain), order(fast)
    assert len(i) == len(j) > 10
    for name in ("patterns", "H", "c", "strict", "alpha", "beta", "hyperplane_index"):
        np.testing.assert_array_equal(getattr(plain, name)[i], getattr(fast, name)[j], err_msg=name)


def _highs_without_flat_pass_model(core):
    """The HiGHS bindings with passModel's flat-array overload refusing (as an older binding might)."""
    base = core.Highs if hasattr(core, "Highs") else core._Highs

    class Highs(base):
        def passModel(self, *args):
            if len(args) > 1:
                raise TypeError("no flat overload")
            return super().passModel(*args)

    names = ("kHighsInf", "HighsModelStatus", "MatrixFormat", "HighsLp")
    return type("Core", (), {"Highs": Highs, **{k: getattr(core, k) for k in names}})


def test_direct_solver_flat_and_highslp_paths_agree(monkeypatch):
    lower, upper = np.array([-1.0, -1.0, -np.inf]), np.array([1.0, 1.0, 1.0])
    lp = highs.direct_lp(lower, upper, {})
    if lp is None:
        pytest.skip("no HiGHS bindings (highspy or scipy's) on this install")
    assert lp.flat
    rng = np.random.default_rng(0)
    for _ in range(20):
        A = rng.normal(size=(int(rng.integers(1, 6)), 3))
        b = rng.normal(size=len(A))
        lp.flat = True
        got = lp.solve(A, b)
        lp.flat = False
        want = lp.solve(A, b)
        assert got[0] == want[0]
        if got[0] == "optimal":
            np.testing.assert_allclose(got[1], want[1], atol=1e-9)
    # bindings without the flat overload: direct_lp falls back to a HighsLp per LP, same regions
    m = net([3, 6, 6, 1], 0)
    want = keys(R.enumerate_regions(m, (-2, 2), method="lp"))
    fake = _highs_without_flat_pass_model(highs._core())
    monkeypatch.setattr(highs, "_core", lambda: fake)
    lp = highs.direct_lp(lower, upper, {})
    assert lp is not None and not lp.flat
    assert keys(R.enumerate_regions(m, (-2, 2), method="lp")) == want

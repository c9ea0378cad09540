"""The command line: demo, train, predict, info and bench run and print what they promise (no timing assertions);
bad input to train / predict / demo is one line and exit status 2, never a traceback."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from fastmlp.apps.main import main

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


@pytest.mark.slow  # the README's `fastmlp demo`: every default section at full size (~40-50 s)
def test_demo_trains_to_a_table():
    out = run("demo")                   # the README's first command: the default selection at full size
    assert out.splitlines()[0].split()[:3] == ["src", "run", "setup"]
    for name in ("XOR 2-3-2 lr 2", "XOR 2-50-2 lr 12 decay", "sine 1-12-1 relu", "sine 1-6-6-1 relu",
                 "surface 2-64-1 relu tuned", "sincos 1-3-2 relu", "digits"):
        assert name in out, name
    lines = [ln[5:] for ln in out.splitlines() if ln[5:].startswith("XOR 2-50-2")]
    assert lines and all("acc " in ln for ln in lines)
    jump = next(ln for ln in lines if ln.startswith("XOR 2-50-2 lr 12 "))
    assert "loss jumps" in jump
    assert "linear pieces" in next(ln for ln in out.splitlines() if ln[5:].startswith("sine 1-64-1"))
    assert "rows in" in out and "mnist" not in out.split("rows in")[0]


def run_fail(*args, timeout=120, env=None):
    proc = subprocess.run([sys.executable, "-m", "fastmlp", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=HERE, env=env)
    assert proc.returncode == 2, (proc.stdout[-1000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_demo_mnist_without_data_says_what_to_download(no_mnist):
    err = run_fail("demo", "mnist", "--quiet", env=no_mnist)
    assert "--data" in err and "train-images-idx3-ubyte" in err and "https://" in err
    assert len(err.strip().splitlines()) == 1


def test_demo_rejects_unknown_names():
    assert "unknown demo 'bogus'" in run_fail("demo", "bogus")


def test_demo_quick_subset_with_plots(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("demo", "sincos", "--quick", "--quiet", "--plot", str(tmp_path / "png"))
    assert "sincos 1-3-2 relu" in out and "both outputs break at x =" in out
    assert os.path.exists(tmp_path / "png" / "sincos.png") and "plots:" in out


@pytest.mark.slow  # every bench case, in a subprocess: ~2.5 s
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


# ---- train / predict -----------------------------------------------------------------------------------------------
def blobs(n=240, seed=0):
    """Three well separated classes in 3-D, as text labels."""
    rng = np.random.default_rng(seed)
    centres = np.array([[3, 0, 0], [0, 3, 0], [0, 0, 3]], dtype=float)
    k = rng.integers(0, 3, size=n)
    return centres[k] + 0.5 * rng.standard_normal((n, 3)), np.array(["red", "green", "blue"])[k]


def write_csv(path, X, y, header=("a", "b", "c", "colour"), label_first=False):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        if header:
            w.writerow(([header[-1]] + list(header[:-1])) if label_first else header)
        for x, t in zip(X, y):
            w.writerow(([t] + list(x)) if label_first else (list(x) + [t]))
    return str(path)


def test_train_and_predict_end_to_end(tmp_path):
    X, y = blobs()
    data = write_csv(tmp_path / "train.csv", X, y)
    model = str(tmp_path / "m.npz")
    out = run("train", data, "--label", "colour", "--hidden", "16", "--epochs", "30", "--lr", "0.01",
              "--standardize", "--out", model, "--quiet")
    assert "3 classes" in out and "3-16-3 relu" in out and "validation loss" in out and f"saved {model}" in out
    preds = str(tmp_path / "p.csv")
    run("predict", model, data, "--out", preds)          # the label column is known by name and dropped
    with open(preds) as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["prediction"] and len(rows) == len(y) + 1
    assert np.mean(np.array([r[0] for r in rows[1:]]) == y) > 0.95
    proba = run("predict", model, data, "--proba").splitlines()
    assert proba[0] == "p_blue,p_green,p_red"
    p = np.array([[float(v) for v in ln.split(",")] for ln in proba[1:]])
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    import fastmlp

    m = fastmlp.load(model)                              # the extra metadata does not disturb fastmlp.load
    assert m.layers == [3, 16, 3] and m.loss == "softmax_ce"


def test_train_npz_regression_and_layers(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(400, 2))
    y = X[:, 0] * 2 - X[:, 1]
    np.savez(tmp_path / "reg.npz", X=X, y=y)
    model = str(tmp_path / "reg_model.npz")
    rc = main(["train", str(tmp_path / "reg.npz"), "--layers", "2,8,1", "--epochs", "60", "--lr", "0.01",
               "--out", model, "--quiet", "--val", "0.25"])
    out = capsys.readouterr().out
    assert rc == 0 and "loss mse" in out and "R^2" in out and "training on 300, validating on 100" in out
    rc = main(["predict", model, str(tmp_path / "reg.npz"), "--out", str(tmp_path / "pred.csv")])
    assert rc == 0
    pred = np.loadtxt(tmp_path / "pred.csv", skiprows=1, delimiter=",")
    assert np.mean((pred - y) ** 2) < 0.05


def test_csv_without_header_label_by_index(tmp_path, capsys):
    X, y = blobs(90)
    codes = {"red": 0, "green": 1, "blue": 2}
    data = write_csv(tmp_path / "noheader.csv", X, [codes[t] for t in y], header=None, label_first=True)
    rc = main(["train", data, "--label", "0", "--epochs", "20", "--lr", "0.01", "--out",
               str(tmp_path / "m.npz"), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "90 rows x 3 features, 3 classes" in out


def _bad_inputs(tmp_path):
    X, y = blobs(30)
    good = write_csv(tmp_path / "good.csv", X, y)
    files = {
        "nan.csv": "a,b,label\n1,2,0\n3,nan,1\n",
        "text.csv": "a,b,label\n1,2,0\n3,x,1\n",
        "empty_field.csv": "a,b,label\n1,2,0\n3,,1\n",
        "ragged.csv": "a,b,label\n1,2,0\n3,4\n",
        "empty.csv": "",
        "header_only.csv": "a,b,label\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "binary.csv").write_bytes(b"\x00\x01\x02garbage")
    np.savez(tmp_path / "noy.npz", X=np.ones((4, 2)))
    np.savez(tmp_path / "nanX.npz", X=np.array([[1.0, np.nan]]), y=np.array([0]))
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    t = str(tmp_path)
    return [
        (["train", f"{t}/missing.csv"], "no such file"),
        (["train", t], "is a folder"),
        (["train", f"{t}/nan.csv"], "line 3, column 'b': a NaN value"),
        (["train", f"{t}/text.csv"], "line 3, column 'b': 'x' is not a number"),
        (["train", f"{t}/empty_field.csv"], "line 3, column 'b': an empty value"),
        (["train", f"{t}/ragged.csv"], "line 3 has 2 fields"),
        (["train", f"{t}/empty.csv"], "empty file"),
        (["train", f"{t}/header_only.csv"], "a header row and no data"),
        (["train", f"{t}/binary.csv"], "binary data"),
        (["train", f"{t}/noy.npz"], "no array 'y'"),
        (["train", f"{t}/nanX.npz"], "NaN or infinite"),
        (["train", f"{t}/broken.npz"], "not a readable .npz file"),
        (["train", good, "--label", "nope"], "no column named 'nope'"),
        (["train", good, "--label", "7"], "out of range"),
        (["train", good, "--layers", "3,,3"], "expected comma-separated positive integers"),
        (["train", good, "--layers", "3,x,3"], "expected comma-separated positive integers"),
        (["train", good, "--layers", "3,-4,3"], "expected comma-separated positive integers"),
        (["train", good, "--layers", "4,8,3"], "the first size must be the number of features, 3"),
        (["train", good, "--layers", "3,8,2"], "the last size must be 3"),
        (["train", good, "--layers", "3"], "at least the input and output sizes"),
        (["train", good, "--hidden", "0"], "expected comma-separated positive integers"),
        (["train", good, "--activation", "softplus"], "--activation 'softplus'"),
        (["train", good, "--optimizer", "rmsprop"], "--optimizer 'rmsprop'"),
        (["train", good, "--loss", "hinge"], "--loss 'hinge'"),
        (["train", good, "--loss", "mse"], "needs numeric targets"),
        (["train", good, "--epochs", "0"], "--epochs 0"),
        (["train", good, "--lr", "-1"], "--lr -1"),
        (["train", good, "--val", "1"], "--val 1"),
        (["train", good, "--out", f"{t}/no/such/dir/m.npz"], "does not exist"),
        (["predict", f"{t}/missing.npz", good], "no such file"),
        (["predict", good, good], "not a fastmlp model file"),
    ]


def test_train_and_predict_error_paths(tmp_path, capsys):
    for argv, message in _bad_inputs(tmp_path):
        rc = main(argv + (["--quiet"] if argv[0] == "train" else []))
        err = capsys.readouterr().err
        assert rc == 2, (argv, err)
        assert message in err, (argv, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith(f"fastmlp {argv[0]}: "), (argv, err)


def test_predict_error_paths_with_a_model(tmp_path, capsys):
    X, y = blobs(60)
    good = write_csv(tmp_path / "good.csv", X, y)
    model = str(tmp_path / "m.npz")
    assert main(["train", good, "--epochs", "2", "--out", model, "--quiet"]) == 0
    two = write_csv(tmp_path / "two.csv", X[:, :2], y, header=("a", "b", "colour"))
    (tmp_path / "nan.csv").write_text("a,b,c\n1,2,nan\n")
    np.savez(tmp_path / "regress.npz", X=X, y=X[:, 0])
    reg = str(tmp_path / "reg.npz")
    assert main(["train", str(tmp_path / "regress.npz"), "--epochs", "2", "--out", reg, "--quiet"]) == 0
    capsys.readouterr()
    for argv, message in [
        (["predict", model, two], "2 feature columns, the model takes 3"),
        (["predict", model, str(tmp_path / "nan.csv")], "a NaN value"),
        (["predict", model, good, "--out", str(tmp_path / "no" / "p.csv")], "cannot write"),
        (["predict", reg, str(tmp_path / "regress.npz"), "--proba"], "--proba needs a softmax_ce"),
    ]:
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_bad_input_in_a_real_process_is_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,oops\n")
    err = run_fail("train", str(tmp_path / "bad.csv"), "--label", "a")
    assert err.strip() == f"fastmlp train: {tmp_path / 'bad.csv'}: line 2, column 'b': 'oops' is not a number"

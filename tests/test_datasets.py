"""fastmlp.apps.datasets: shapes, formulas, seeds, the digits extra, and IDX / MNIST files written here (plain and .gz),
including damaged ones."""
import gzip
import os
import struct
import sys

import numpy as np
import pytest

from fastmlp.apps import datasets


# ---- generators -------------------------------------------------------------------------------------------------
def test_xor_gaussian_points_labelled_by_the_sign_product():
    X, y = datasets.xor(500, seed=3)
    assert X.shape == (500, 2) and X.dtype == np.float64
    assert y.shape == (500,) and y.dtype == np.int64
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(np.int64))
    assert abs(X.mean()) < 0.15 and 0.85 < X.std() < 1.15          # standard Gaussian, not corner clusters
    assert 0.4 < y.mean() < 0.6
    X1, T = datasets.xor(500, seed=3, one_hot=True)
    np.testing.assert_array_equal(X1, X)
    assert T.shape == (500, 2) and T.dtype == np.float64
    np.testing.assert_array_equal(T.argmax(1), y)
    np.testing.assert_array_equal(T.sum(1), 1.0)


@pytest.mark.parametrize("make", [datasets.xor, datasets.sine, datasets.sincos,
                                  lambda n, seed: datasets.surface(n, seed=seed, grid=False)])
def test_seeds_are_reproducible_and_distinct(make):
    a, b, c = make(64, seed=0), make(64, seed=0), make(64, seed=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_the_default_seed_is_fixed():
    for make in (datasets.xor, datasets.sine, datasets.sincos):
        np.testing.assert_array_equal(make(32)[0], make(32, seed=0)[0])


def test_sine_formula_and_domain():
    X, y = datasets.sine(1000, seed=5)
    assert X.shape == y.shape == (1000, 1)
    lo, hi = datasets.SINE_DOMAIN
    assert (lo, hi) == (-np.pi, 2 * np.pi)
    assert X.min() >= lo and X.max() <= hi and X.max() - X.min() > 0.9 * (hi - lo)
    np.testing.assert_allclose(y, np.sin(2 * X) + np.cos(X) + X, rtol=0, atol=1e-15)
    Xg, yg = datasets.sine(7, grid=True)
    np.testing.assert_allclose(Xg[:, 0], np.linspace(lo, hi, 7))
    assert datasets.sine_function(0.0) == pytest.approx(1.0)
    assert datasets.sine_function(np.pi) == pytest.approx(np.pi - 1)


def test_surface_grid_formula_and_the_notebooks_size():
    X, y = datasets.surface(100)
    assert X.shape == (100, 2) and y.shape == (100, 1)
    g = np.linspace(-np.pi, np.pi, 10)
    np.testing.assert_allclose(np.unique(X[:, 0]), g)
    np.testing.assert_allclose(np.unique(X[:, 1]), g)
    x1, x2 = X[:, 0], X[:, 1]
    np.testing.assert_allclose(y[:, 0], np.sin(2 * x1) * np.sin(2 * x2) + np.cos(x1) * np.cos(x2) + x1 + x2,
                               atol=1e-14)
    assert datasets.surface().__getitem__(0).shape == (316 * 316, 2)    # 100k -> a 316 x 316 grid
    Xr, yr = datasets.surface(50, seed=2, grid=False)
    assert Xr.shape == (50, 2) and np.abs(Xr).max() <= np.pi
    assert datasets.surface_function(0.0, 0.0) == pytest.approx(1.0)


def test_sincos_two_outputs_of_one_input():
    X, Y = datasets.sincos(300, seed=1)
    assert X.shape == (300, 1) and Y.shape == (300, 2)
    np.testing.assert_allclose(Y, np.hstack([np.sin(X), np.cos(X)]))
    assert X.min() >= -np.pi and X.max() <= np.pi


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="n: expected an int"):
        datasets.xor(bad)


def test_digits_and_split():
    pytest.importorskip("sklearn")
    X, y = datasets.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1 and set(np.unique(y)) == set(range(10))
    a = datasets.split(X, y, 0.25, seed=0)
    b = datasets.split(X, y, 0.25, seed=0)
    assert a[0].shape == (1348, 64) and a[2].shape == (449, 64)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(np.sort(np.concatenate([a[1], a[3]])), np.sort(y))
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.split(X, y, 1.5)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)   # makes `from sklearn.datasets import ...` fail
    with pytest.raises(ImportError, match=r'pip install "fastmlp\[sklearn\]"'):
        datasets.digits()


# ---- IDX files --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(2 * 3 * 5) % 120 - (0 if np.dtype(dtype).kind == "u" else 60)).astype(dtype).reshape(2, 3, 5)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    datasets.write_idx(path, a)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == gz
    b = datasets.read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.shape == (2, 3, 5)
    np.testing.assert_array_equal(a, b)


def test_idx_header_is_the_standard_one(tmp_path):
    p = tmp_path / "labels"
    datasets.write_idx(p, np.array([3, 1, 4], dtype=np.uint8))
    assert p.read_bytes() == b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes([3, 1, 4])   # magic 0x00000801
    q = tmp_path / "gz-without-suffix"
    q.write_bytes(gzip.compress(p.read_bytes()))                                          # gzip found by magic
    np.testing.assert_array_equal(datasets.read_idx(q), [3, 1, 4])


def _damaged(tmp_path):
    good = b"\x00\x00\x08\x03" + struct.pack(">III", 2, 2, 2) + bytes(range(8))
    gz = gzip.compress(good)
    return {
        "empty": b"",
        "short header": b"\x00\x00\x08",
        "bad magic": b"\x12\x34\x08\x03" + good[4:],
        "bad type": b"\x00\x00\x07\x03" + good[4:],
        "truncated sizes": good[:9],
        "truncated data": good[:-1],
        "trailing bytes": good + b"\x00",
        "truncated gzip": gz[: len(gz) // 2],
        "zero dims": b"\x00\x00\x08\x00",
    }


@pytest.mark.parametrize("case", list(_damaged(None)))
def test_damaged_idx_files_raise_value_error_naming_the_file(tmp_path, case):
    p = tmp_path / f"damaged-{case.replace(' ', '_')}"
    p.write_bytes(_damaged(tmp_path)[case])
    with pytest.raises(ValueError) as err:
        datasets.read_idx(p)
    assert str(p) in str(err.value)


# ---- MNIST ------------------------------------------------------------------------------------------------------
def write_mnist(folder, n_train=30, n_test=12, gz=True, seed=0, size=28):
    """Four small MNIST-format files: images whose label is which row band is bright."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for part, n in (("train", n_train), ("t10k", n_test)):
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        X = rng.integers(0, 40, size=(n, size, size)).astype(np.uint8)
        band = size // 10
        for i, k in enumerate(y):
            X[i, k * band:(k + 1) * band, :] = 250
        ext = ".gz" if gz else ""
        datasets.write_idx(os.path.join(folder, f"{part}-images-idx3-ubyte{ext}"), X)
        datasets.write_idx(os.path.join(folder, f"{part}-labels-idx1-ubyte{ext}"), y)
    return folder


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist(tmp_path, gz):
    write_mnist(tmp_path, gz=gz)
    Xtr, ytr, Xte, yte = datasets.load_mnist(tmp_path)
    assert Xtr.shape == (30, 784) and Xte.shape == (12, 784)
    assert Xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0 <= Xtr.min() and Xtr.max() <= 1 and Xtr.max() == pytest.approx(250 / 255)
    raw = datasets.read_idx(next(p for p in tmp_path.iterdir() if p.name.startswith("train-images")))
    np.testing.assert_allclose(Xtr, raw.reshape(30, -1) / np.float32(255))
    X3 = datasets.load_mnist(tmp_path, flatten=False, dtype=np.float64)[0]
    assert X3.shape == (30, 28, 28) and X3.dtype == np.float64


def test_load_mnist_accepts_the_dotted_names(tmp_path):
    write_mnist(tmp_path)
    for p in list(tmp_path.iterdir()):
        p.rename(tmp_path / p.name.replace("-idx", ".idx"))
    assert datasets.load_mnist(tmp_path)[0].shape == (30, 784)


def test_load_mnist_missing_files_say_what_to_download(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as err:
        datasets.load_mnist(tmp_path)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte" in msg and "https://" in msg and str(tmp_path) in msg
    with pytest.raises(FileNotFoundError, match="no such folder"):
        datasets.load_mnist(tmp_path / "nowhere")


def _rewrite(path, data):
    with open(path, "wb") as fh:
        fh.write(gzip.compress(data) if str(path).endswith(".gz") else data)


@pytest.mark.parametrize("case", ["labels as images", "images as labels", "count mismatch", "label 10",
                                  "truncated images", "float labels"])
def test_load_mnist_corrupted_files(tmp_path, case):
    write_mnist(tmp_path)
    img, lab = tmp_path / "train-images-idx3-ubyte.gz", tmp_path / "train-labels-idx1-ubyte.gz"
    if case == "labels as images":
        img.write_bytes(lab.read_bytes())
        bad = img
    elif case == "images as labels":
        lab.write_bytes(img.read_bytes())
        bad = lab
    elif case == "count mismatch":
        datasets.write_idx(lab, np.zeros(29, dtype=np.uint8))
        bad = lab
    elif case == "label 10":
        datasets.write_idx(lab, np.full(30, 10, dtype=np.uint8))
        bad = lab
    elif case == "float labels":
        datasets.write_idx(lab, np.zeros(30, dtype=np.float32))
        bad = lab
    else:
        _rewrite(img, gzip.decompress(img.read_bytes())[:-100])
        bad = img
    with pytest.raises(ValueError) as err:
        datasets.load_mnist(tmp_path)
    assert str(bad) in str(err.value)
    if "as" in case or case == "float labels":
        assert "magic number" in str(err.value)

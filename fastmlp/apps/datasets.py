"""Built-in data sets of the source documents, and a reader for MNIST's IDX files.

Every generator is deterministic: the same ``seed`` gives the same arrays (numpy's ``default_rng``), and all of
them return float64 inputs ``X`` of shape (n, n_features) with targets ``y`` as integer labels (n,) or float
targets (n, n_outputs):

* ``xor``: source document 001, 2-D standard-Gaussian points, class 1 where the signs of x1 and x2 differ.
* ``sine``: source document 000, f(x) = sin(2x) + cos(x) + x on [-pi, 2pi].
* ``surface``: source document 000, f(x1, x2) = sin(2 x1) sin(2 x2) + cos(x1) cos(x2) + x1 + x2 on [-pi, pi]^2.
* ``sincos``: source document 000, x -> (sin x, cos x), two outputs of one input.
* ``digits``: scikit-learn's 8x8 handwritten digits (optional extra ``fastmlp[sklearn]``).
* ``load_mnist``: MNIST from the four standard IDX files in a folder the user has (plain or ``.gz``);
  ``read_idx`` / ``write_idx`` read and write any IDX file.
"""
import gzip
import math
import os
import struct
import zlib

import numpy as np

from . import mnist_download

__all__ = ["xor", "sine", "surface", "sincos", "digits", "split", "load_mnist", "read_idx", "write_idx",
           "sine_function", "surface_function", "SINE_DOMAIN", "SURFACE_DOMAIN", "SINCOS_DOMAIN",
           "MNIST_FILES", "MNIST_URLS"]

SINE_DOMAIN = (-math.pi, 2 * math.pi)
SURFACE_DOMAIN = (-math.pi, math.pi)
SINCOS_DOMAIN = (-math.pi, math.pi)


def _n(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name}: expected an int >= 1, got {n!r}")
    return int(n)


def _uniform_or_grid(n, lo, hi, seed, grid):
    n = _n(n)
    if grid:
        return np.linspace(lo, hi, n)[:, None]
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, 1))


# ---- source document 001 ---------------------------------------------------------------------------------------
def xor(n=300, seed=0, one_hot=False):
    """XOR of source document 001: ``n`` points drawn from a standard 2-D Gaussian, labelled 1 where
    x1 * x2 < 0 (the signs differ: XOR of x1 > 0 and x2 > 0), else 0.

    Returns ``X`` (n, 2) float64 and ``y``: int64 labels (n,), or one-hot float64 targets (n, 2) with
    ``one_hot=True`` (column k is 1 for class k), the form the source's squared-error loss takes."""
    n = _n(n)
    X = np.random.default_rng(seed).standard_normal((n, 2))
    y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)
    if one_hot:
        return X, np.eye(2)[y]
    return X, y


# ---- source document 000 ---------------------------------------------------------------------------------------
def sine_function(x):
    """f(x) = sin(2x) + cos(x) + x."""
    x = np.asarray(x, dtype=np.float64)
    return np.sin(2 * x) + np.cos(x) + x


def surface_function(x1, x2):
    """f(x1, x2) = sin(2 x1) sin(2 x2) + cos(x1) cos(x2) + x1 + x2."""
    x1, x2 = np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    return np.sin(2 * x1) * np.sin(2 * x2) + np.cos(x1) * np.cos(x2) + x1 + x2


def sine(n=2000, seed=0, grid=False):
    """``n`` samples of f(x) = sin(2x) + cos(x) + x, x uniform on [-pi, 2pi] (``grid=True``: evenly spaced, ends
    included, no randomness). Returns ``X`` (n, 1) and ``y`` (n, 1), float64."""
    X = _uniform_or_grid(n, *SINE_DOMAIN, seed, grid)
    return X, sine_function(X)


def surface(n=100_000, seed=0, grid=True):
    """f(x1, x2) = sin(2 x1) sin(2 x2) + cos(x1) cos(x2) + x1 + x2 on [-pi, pi]^2.

    ``grid=True`` (the default, as in the notebooks behind source document 000): a square grid of side
    ``round(sqrt(n))`` (so 100000 gives 316^2 = 99856 points), ends included, row-major with x1 varying fastest.
    ``grid=False``: ``n`` uniform random points. Returns ``X`` (m, 2) and ``y`` (m, 1), float64."""
    n = _n(n)
    lo, hi = SURFACE_DOMAIN
    if grid:
        side = max(2, int(round(math.sqrt(n))))
        g = np.linspace(lo, hi, side)
        x1, x2 = np.meshgrid(g, g)
        X = np.column_stack([x1.ravel(), x2.ravel()])
    else:
        X = np.random.default_rng(seed).uniform(lo, hi, size=(n, 2))
    return X, surface_function(X[:, 0], X[:, 1])[:, None]


def sincos(n=2000, seed=0, grid=False):
    """x -> (sin x, cos x): one input, two outputs, x uniform on [-pi, pi] (``grid=True``: evenly spaced).
    Returns ``X`` (n, 1) and ``Y`` (n, 2) = [sin x, cos x], float64."""
    X = _uniform_or_grid(n, *SINCOS_DOMAIN, seed, grid)
    return X, np.hstack([np.sin(X), np.cos(X)])


# ---- scikit-learn's digits -------------------------------------------------------------------------------------
def digits():
    """scikit-learn's 8x8 handwritten digits (1797 images, bundled with scikit-learn, no download): ``X`` (1797,
    64) float64 scaled to [0, 1] and ``y`` (1797,) int64 labels 0-9. Needs ``pip install "fastmlp[sklearn]"``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError('fastmlp.datasets.digits needs scikit-learn: pip install "fastmlp[sklearn]"') from None
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float64) / 16.0, y.astype(np.int64)


def split(X, y, test_fraction=0.25, seed=0):
    """A seeded random train/test split: ``X_train, y_train, X_test, y_test``."""
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"split: X has {len(X)} rows but y has {len(y)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a fraction in (0, 1), got {test_fraction!r}")
    n_test = int(round(len(X) * test_fraction))
    if n_test < 1 or n_test >= len(X):
        raise ValueError(f"split: a test fraction of {test_fraction} of {len(X)} rows leaves an empty side")
    perm = np.random.default_rng(seed).permutation(len(X))
    tr, te = perm[n_test:], perm[:n_test]
    return X[tr], y[tr], X[te], y[te]


# ---- IDX files (MNIST) -----------------------------------------------------------------------------------------
# type byte -> big-endian numpy dtype (the IDX format of LeCun et al.)
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_URLS = mnist_download.MNIST_MIRRORS


def _read_bytes(path):
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: damaged or truncated gzip data ({exc})") from None
    return raw


def read_idx(path):
    """Read one IDX file (plain or gzip-compressed) into a numpy array of its stored shape and type.

    The header is checked: two zero bytes, a known type code, the number of dimensions, every size; the data
    must hold exactly the product of the sizes (a truncated file, or trailing bytes, raise ``ValueError``
    naming the file)."""
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(data)} bytes, the header needs 4)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (magic number 0x{data[:4].hex()}; expected 0x0000 then a type "
                         f"byte 08/09/0b/0c/0d/0e and the number of dimensions)")
    if ndim < 1:
        raise ValueError(f"{path}: IDX header with 0 dimensions")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, {ndim} dimensions need {head})")
    shape = struct.unpack(f">{ndim}I", data[4:head])
    dt = _IDX_TYPES[code]
    need = math.prod(shape) * dt.itemsize
    have = len(data) - head
    if have < need:
        raise ValueError(f"{path}: truncated: the header promises {shape} = {need} data bytes, the file has {have}")
    if have > need:
        raise ValueError(f"{path}: {have - need} bytes after the {shape} data the header describes")
    arr = np.frombuffer(data, dtype=dt, count=math.prod(shape), offset=head).reshape(shape)
    return arr.astype(dt.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends with ``.gz``); the inverse of
    ``read_idx``. Supported dtypes: uint8, int8, int16, int32, float32, float64."""
    path = os.fspath(path)
    a = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_TYPES.items()}
    key = a.dtype.newbyteorder("=")
    if key not in codes:
        raise TypeError(f"write_idx: unsupported dtype {a.dtype} (uint8, int8, int16, int32, float32, float64)")
    if a.ndim < 1 or a.ndim > 255:
        raise ValueError(f"write_idx: expected 1 to 255 dimensions, got {a.ndim}")
    code = codes[key]
    payload = (struct.pack(">HBB", 0, code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) +
               np.ascontiguousarray(a, dtype=_IDX_TYPES[code]).tobytes())
    if path.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    with open(path, "wb") as fh:
        fh.write(payload)
    return path


def _find(folder, stem):
    """The file for ``stem`` in ``folder``: plain or ``.gz``, with '-' or '.' before 'idx' (both spellings are
    in circulation)."""
    alt = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", alt, alt + ".gz"):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    return None


def mnist_help(folder=None):
    """What to download where: the message ``load_mnist`` and ``fastmlp demo mnist`` give when files are missing."""
    where = f"into {folder}" if folder else "into a folder"
    names = ", ".join(f"{v}.gz" for v in MNIST_FILES.values())
    return (f"MNIST needs the four IDX files {names} (plain or .gz) {where}; download them from "
            f"{MNIST_URLS[0]} (or {MNIST_URLS[1]}), e.g. "
            f"for f in {' '.join(v for v in MNIST_FILES.values())}; do curl -O {MNIST_URLS[0]}$f.gz; done")


def load_mnist(path=None, dtype=np.float32, flatten=True, download=None, progress=True):
    """MNIST from the standard IDX files in the folder ``path`` (plain or .gz; see ``MNIST_FILES``).

    path None: the user cache folder (``mnist_download.cache_folder()``), where missing files are downloaded
    first (``download`` None means: download when ``path`` is None, not into a folder the caller named;
    ``download=True`` fetches missing files into ``path`` too). Downloads try the mirrors of
    ``mnist_download.MNIST_MIRRORS`` in turn, check each file's SHA-256, show a tqdm bar (``progress``) and resume
    an interrupted file; failures raise OSError naming each mirror's error.

    Returns ``X_train, y_train, X_test, y_test``: images scaled to [0, 1] in ``dtype``, flattened to (n, rows *
    cols) unless ``flatten=False``; labels int64. Missing files raise ``FileNotFoundError`` saying what to download;
    a file with the wrong magic number (images 0x00000803, labels 0x00000801), a truncated or oversized file,
    image and label counts that disagree, or labels outside 0-9 raise ``ValueError`` naming the file."""
    if download is None:
        download = path is None
    folder = mnist_download.cache_folder() if path is None else os.fspath(path)
    missing = not os.path.isdir(folder) or any(_find(folder, v) is None for v in MNIST_FILES.values())
    if download and missing:
        mnist_download.download_mnist(folder, progress=progress)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder. " + mnist_help())
    found = {k: _find(folder, v) for k, v in MNIST_FILES.items()}
    missing = [MNIST_FILES[k] for k, p in found.items() if p is None]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)} (plain or .gz). " + mnist_help(folder))
    out = []
    for part in ("train", "test"):
        ip, lp = found[part + "_images"], found[part + "_labels"]
        images, labels = _idx_checked(ip, 3, "images"), _idx_checked(lp, 1, "labels")
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{lp}: {labels.shape[0]} labels for the {images.shape[0]} images of {ip}")
        if labels.size and labels.max() > 9:
            raise ValueError(f"{lp}: labels must lie in 0-9, found {int(labels.max())}")
        dt = np.dtype(dtype)
        X = images.astype(dt) / dt.type(255) if dt.kind == "f" else images.astype(dt)
        if flatten:
            X = X.reshape(len(X), -1)
        out += [X, labels.astype(np.int64)]
    return tuple(out)


def _idx_checked(path, ndim, what):
    # MNIST's magic numbers: 0x00000803 (unsigned bytes, 3 dimensions) for images, 0x00000801 for labels
    arr = read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != ndim:
        magic = 0x800 + ndim
        raise ValueError(f"{path}: wrong magic number for MNIST {what}: expected 0x{magic:08x} (unsigned bytes, "
                         f"{ndim} dimension{'s' if ndim > 1 else ''}), found {arr.dtype} with {arr.ndim}")
    return arr

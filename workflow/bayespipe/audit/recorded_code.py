"""The exact code a version ran, for ``reproduce``: its own snapshot, the checkout, or git.

Whichever source is used must match every sha256 the manifest records under ``code``: the
version's snapshot (``report/code-snapshot/``) first, then the original checkout, then
``git archive`` of the recorded commit.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from bayespipe.io import mismatched_files

SNAPSHOT = Path("report/code-snapshot")


class ReproduceError(RuntimeError):
    """The version cannot be re-run (no matching code, no manifest, ...)."""


def _code_from(folder: Path, code: dict[str, str]) -> bool:
    return folder.is_dir() and not mismatched_files(folder, code)


def _git_archive(workdir: Path, commit: str, scratch: Path) -> Path | None:
    target = scratch / "git-archive"
    target.mkdir()
    try:
        archive = subprocess.run(
            ["git", "archive", commit], cwd=workdir, capture_output=True, check=True, timeout=120
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def locate_code(
    version_dir: Path, manifest: dict, workdir: Path, scratch: Path
) -> tuple[Path, str]:
    """A folder holding exactly the recorded code, and where it came from."""
    code = manifest.get("code") or {}
    if not code:
        raise ReproduceError(f"{version_dir}/manifest.json records no code hashes")
    if _code_from(version_dir / SNAPSHOT, code):
        return version_dir / SNAPSHOT, f"snapshot {SNAPSHOT}"
    if _code_from(workdir, code):
        return workdir, f"checkout {workdir}"
    commit = (manifest.get("git") or {}).get("commit")
    if commit:
        archived = _git_archive(workdir, commit, scratch)
        if archived and _code_from(archived, code):
            return archived, f"git commit {commit}"
    raise ReproduceError(
        "the recorded code is not available: the version has no intact code snapshot, the "
        f"checkout {workdir} has other code, and no git commit matches every recorded sha256"
    )

"""A copy of the exact code a version ran, inside the version folder.

``report/code-snapshot/`` holds every code file the version id covers (``Snakefile``,
``workflow/``, ``stan/``; see ``versioning.code_files``), byte for byte, so a version can be
re-run (``bayespipe reproduce``) and its scripts read without git or the original checkout. Plain
files in one folder (the rule's one ``directory()`` output) rather than an archive: each is
listed in the manifest with its sha256 (so ``audit`` checks them), ``lineage`` can point at the
exact script of a rule, and the RO-Crate at the workflow file and each rule's script. Copies
hold content only (no modes or times), so two runs of the same code give bit-identical
snapshots. Build output
is not code: ``versioning.code_files`` leaves out pip's ``*.egg-info`` metadata and bytecode, so
neither the snapshot nor the version id depends on how the package was installed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bayespipe.io import sha256_file
from bayespipe.versioning import code_files, digest


class CodeChangedError(RuntimeError):
    """The code on disk is not the code the version id was computed from."""


def code_digest(code: dict[str, str]) -> str:
    return digest(code)


def write_snapshot(root: str | Path, target: str | Path, expected_digest: str) -> dict[str, str]:
    """Copy the code files of ``root`` into the folder ``target`` (written whole or not at all).

    ``expected_digest`` is ``code_digest`` of the version's {path: sha256}; code edited since the
    version id was computed (someone editing the checkout during a run) raises CodeChangedError
    instead of snapshotting code that did not produce the results.
    """
    root, target = Path(root), Path(target)
    files = [f for f in code_files(root) if not _inside(root / f, target)]
    actual = {f: sha256_file(root / f) for f in files}
    if code_digest(actual) != expected_digest:
        raise CodeChangedError(
            f"the code under {root} changed since the version id was computed "
            f"(digest {code_digest(actual)[:12]}, expected {expected_digest[:12]}): "
            "re-run the workflow"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel in files:
            destination = staging / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, destination)  # content only: no mtimes or modes to differ
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return actual


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False

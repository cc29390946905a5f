"""The code snapshot of a version holds code only: no pip metadata, bytecode or build output."""

from __future__ import annotations

from pathlib import Path

from bayespipe.io import mismatched_files, sha256_file
from bayespipe.report.snapshot import code_digest, write_snapshot
from bayespipe.versioning import code_files

REPO = Path(__file__).resolve().parents[1]
CODE = ("Snakefile", "workflow/bayespipe/io.py", "workflow/scripts/a.py", "stan/m.stan")
ARTEFACTS = (
    "workflow/bayespipe.egg-info/PKG-INFO",  # pip install -e .
    "workflow/bayespipe.egg-info/SOURCES.txt",
    "workflow/bayespipe/__pycache__/io.cpython-311.pyc",
    "workflow/scripts/a.pyc",
)


def test_snapshot_leaves_out_egg_info_and_bytecode(tmp_path):
    root = tmp_path / "repo"
    for rel in CODE + ARTEFACTS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")
    code = {f: sha256_file(root / f) for f in code_files(root)}
    assert sorted(code) == sorted(CODE)
    target = tmp_path / "v" / "report" / "code-snapshot"
    write_snapshot(root, target, code_digest(code))
    written = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert written == sorted(CODE)
    assert mismatched_files(target, code) == []


def test_this_checkout_snapshots_no_egg_info():
    files = code_files(REPO)
    assert "workflow/bayespipe/io.py" in files
    assert not [f for f in files if ".egg-info" in f or "__pycache__" in f]

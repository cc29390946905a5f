"""`bayespipe audit`: OK on a fresh run; one line per problem and exit 1 otherwise."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bayespipe.audit.check import audit
from conftest import BIN, version_dir_of

pytestmark = pytest.mark.e2e


@pytest.fixture
def version_copy(test_run, tmp_path) -> tuple[Path, Path]:
    """A copy of the test run's version folder (tampering must not touch the shared run)."""
    source = version_dir_of(test_run)
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target, test_run


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "bayespipe"), *args], capture_output=True, text=True)


def a_result_file(version: Path) -> Path:
    manifest = json.loads((version / "manifest.json").read_text())
    rel = next(f["path"] for f in manifest["files"] if f["kind"] == "output")
    return version / rel


def test_fresh_run_audits_ok(test_run):
    result = cli("audit", str(test_run / "results" / "latest"))
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "OK"


def test_edited_byte_is_reported(version_copy):
    version, workdir = version_copy
    target = a_result_file(version)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    result = cli("audit", str(version), "--workdir", str(workdir))
    assert result.returncode == 1
    rel = str(target.relative_to(version))
    assert f"modified: {rel}" in result.stdout


def test_deleted_file_is_reported(version_copy):
    version, workdir = version_copy
    target = a_result_file(version)
    target.unlink()
    problems = [str(p) for p in audit(version, workdir=workdir)]
    assert f"missing: {target.relative_to(version)}" in problems


def test_added_file_is_reported(version_copy):
    version, workdir = version_copy
    (version / "notes.txt").write_text("not produced by the workflow")
    problems = [str(p) for p in audit(version, workdir=workdir)]
    assert any(p.startswith("unlisted: notes.txt") for p in problems)


def test_changed_raw_input_is_reported(version_copy, tmp_path):
    version, workdir = version_copy
    other = tmp_path / "otherworkdir"
    shutil.copytree(workdir / "data", other / "data")
    csv = other / "data" / "reedfrogs.csv"
    csv.write_text(csv.read_text().replace("10,no,big,9,0.9", "10,no,big,8,0.8", 1))
    problems = [str(p) for p in audit(version, workdir=other)]
    assert any(p.startswith("input-modified: data/reedfrogs.csv") for p in problems), problems


def test_incomplete_run_is_reported(version_copy):
    version, workdir = version_copy
    (version / "manifest.json").unlink()
    result = cli("audit", str(version))
    assert result.returncode == 1
    assert result.stdout.startswith("incomplete:")

"""End to end on config/test.yaml: reruns, linting, locking, reuse across versions."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import SNAKEMAKE, TEST_CONFIG, copy_repo, executed_jobs, run_snakemake, snakemake_env, version_dir_of

pytestmark = pytest.mark.e2e


def test_first_run_completes(test_run):
    version = version_dir_of(test_run)
    assert (version / "manifest.json").is_file()
    latest = test_run / "results" / "latest"
    assert latest.is_symlink() and not os.path.isabs(os.readlink(latest))


def test_second_run_executes_nothing(test_run):
    result = run_snakemake(test_run, "--configfile", TEST_CONFIG)
    assert "Nothing to be done" in result.stdout
    assert executed_jobs(result.stdout) == {}


def test_lint_has_no_findings(test_run):
    result = run_snakemake(test_run, "--configfile", TEST_CONFIG, "--lint", check=False)
    assert result.returncode == 0, result.stdout
    assert "Congratulations, your workflow is in a good condition!" in result.stdout, result.stdout[-4000:]


def test_concurrent_run_is_refused(repo_copy):
    first = subprocess.Popen(
        [SNAKEMAKE, "--cores", "1", "--configfile", TEST_CONFIG],
        cwd=repo_copy, env=snakemake_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        locks = repo_copy / ".snakemake" / "locks"
        deadline = time.time() + 120
        while time.time() < deadline and not (locks.exists() and any(locks.iterdir())):
            assert first.poll() is None, "first run ended before it took its lock"
            time.sleep(0.2)
        second = run_snakemake(repo_copy, "--configfile", TEST_CONFIG, check=False)
        assert second.returncode != 0
        assert "Directory cannot be locked" in second.stdout
    finally:
        first.kill()
        first.wait()


def _enabled(config_path: Path) -> list[str]:
    return yaml.safe_load(config_path.read_text())["analyses"]


def test_changing_one_analysis_reuses_the_others(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    analyses = _enabled(workdir / TEST_CONFIG)
    kept = [name for name in analyses if name != "tadpoles"]
    assert "tadpoles" in analyses and kept, "config/test.yaml should enable tadpoles and another analysis"
    first = executed_jobs(run_snakemake(workdir, "--configfile", TEST_CONFIG).stdout)
    old = version_dir_of(workdir)

    config = yaml.safe_load((workdir / TEST_CONFIG).read_text())
    config.setdefault("tadpoles", {}).setdefault("sampler", {})["seed"] = 4242
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, "--configfile", str(override))
    second = executed_jobs(result.stdout)
    new = version_dir_of(workdir)

    assert new != old
    assert 0 < sum(second.values()) < sum(first.values()), (first, second)
    assert "reusing tadpoles" not in result.stdout
    for name in kept:
        assert f"reusing {name} from version {old.name}" in result.stdout
        old_files = [p for p in (old / name).rglob("*") if p.is_file()]
        assert old_files
        for path in old_files:  # hard links: nothing of the kept analyses was recomputed or copied
            assert (new / name / path.relative_to(old / name)).stat().st_ino == path.stat().st_ino
    # The new manifest traces reused files to their jobs, with inputs inside the new version.
    manifest = json.loads((new / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"].startswith(tuple(f"{name}/" for name in kept)):
            assert entry["rule"], entry["path"]
            assert all(not i["path"].startswith(f"results/{old.name}/") for i in entry["inputs"]), entry
    assert any(job["reused_from"] == old.name for job in manifest["jobs"])
    # The old version is still intact.
    from bayespipe.audit.check import audit

    assert audit(old) == []


def test_rule_files_are_formatted():
    from conftest import BIN, REPO

    files = ["Snakefile", *sorted(str(p.relative_to(REPO)) for p in (REPO / "workflow" / "rules").glob("*.smk"))]
    result = subprocess.run([str(BIN / "snakefmt"), "--check", *files], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"run `make format`:\n{result.stderr}{result.stdout}"

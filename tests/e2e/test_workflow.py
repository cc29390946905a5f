"""End to end on config/test.yaml: no-op reruns, linting, locking (reuse: test_reruns.py)."""

from __future__ import annotations

import subprocess
import time

import pytest

from conftest import (
    TEST_CONFIG,
    console_of,
    executed_jobs,
    run_snakemake,
    start_snakemake,
    version_dir_of,
)

pytestmark = pytest.mark.e2e


def test_first_run_completes(test_run):
    version = version_dir_of(test_run)
    assert (version / "manifest.json").is_file()
    latest = test_run / "results" / "latest"
    assert latest.is_symlink() and not latest.readlink().is_absolute()


def test_the_console_is_short(test_run):
    """About 10 lines per job, none over 1,000 characters (the job records list every file)."""
    lines = console_of(test_run).read_text().splitlines()
    jobs = sum(line.startswith("Finished jobid") for line in lines)
    assert jobs > 20
    assert max(len(line) for line in lines) <= 1000
    after_job_stats = lines[next(i for i, line in enumerate(lines) if line.startswith("total")) :]
    # progress lines of long jobs (one per 25 s) depend on the machine's speed, not the blocks
    blocks = [line for line in after_job_stats if not line.startswith("bayespipe: ")]
    assert len(blocks) <= 11.5 * jobs, f"{len(blocks)} lines for {jobs} jobs"
    assert not any(line.startswith(("Select jobs", "Shell command: None")) for line in lines)


def test_second_run_executes_nothing(test_run):
    result = run_snakemake(test_run, "--configfile", TEST_CONFIG)
    assert "Nothing to be done" in result.stdout
    assert executed_jobs(result.stdout) == {}


def test_lint_has_no_findings(test_run):
    result = run_snakemake(test_run, "--configfile", TEST_CONFIG, "--lint", check=False)
    assert result.returncode == 0, result.stdout
    assert "Congratulations, your workflow is in a good condition!" in result.stdout, result.stdout[
        -4000:
    ]


def test_concurrent_run_is_refused(repo_copy):
    first = start_snakemake(repo_copy, "--configfile", TEST_CONFIG, cores="1")
    try:
        locks = repo_copy / ".snakemake" / "locks"
        deadline = time.time() + 120
        while time.time() < deadline and not (locks.exists() and any(locks.iterdir())):
            assert first.poll() is None, "first run ended before it took its lock"
            time.sleep(0.2)
        second = run_snakemake(repo_copy, "--configfile", TEST_CONFIG, check=False)
        assert second.returncode != 0
        # One line naming the run that holds the work tree (bayespipe.runlock), before
        # Snakemake's own directory lock is even tried.
        assert "another run is using results/.work/test: pid" in second.stdout, second.stdout
    finally:
        first.kill()
        first.wait()


def test_rule_files_are_formatted():
    from conftest import BIN, REPO

    files = [
        "Snakefile",
        *sorted(str(p.relative_to(REPO)) for p in (REPO / "workflow" / "rules").glob("*.smk")),
    ]
    result = subprocess.run(
        [str(BIN / "snakefmt"), "--check", *files], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, f"run `make format`:\n{result.stderr}{result.stdout}"

"""No change is ever ignored: without .snakemake/ a changed setting still reruns its jobs.

Snakemake's params trigger reads its metadata in .snakemake/; the job key recorded in each job
record (bayespipe.jobkeys) makes the same decision without it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bayespipe.audit.check import audit
from conftest import (
    TADPOLES_ONLY,
    TEST_CONFIG,
    copy_run,
    executed_jobs,
    run_snakemake,
    version_dir_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPORT_JOBS = {"report_html", "report_code_snapshot", "all"}


def _version_of(output: str) -> str:
    return re.search(r"bayespipe: version (\S+)", output).group(1)


def with_seed(workdir: Path, tmp_path: Path, seed: int) -> tuple[str, ...]:
    """Snakemake arguments: the tadpoles-only test run with another sampler seed."""
    config = yaml.safe_load((workdir / TEST_CONFIG).read_text())
    config["tadpoles"]["sampler"]["seed"] = seed
    path = tmp_path / f"seed{seed}.yaml"
    path.write_text(yaml.safe_dump(config))
    return ("--configfile", str(path), *TADPOLES_ONLY[2:])


def test_deleted_metadata_then_changed_setting_reruns_exactly_its_jobs(tadpoles_run, tmp_path):
    done = copy_run(tadpoles_run, tmp_path / "repo")
    old = version_dir_of(done)
    shutil.rmtree(done / ".snakemake")
    args = with_seed(done, tmp_path, 4242)
    dry = run_snakemake(done, *args, "--dry-run")
    shutil.rmtree(done / ".snakemake", ignore_errors=True)  # the dry run made a fresh one
    real = run_snakemake(done, *args)
    planned, ran = executed_jobs(dry.stdout), executed_jobs(real.stdout)
    assert planned == ran, "the dry run must list exactly the jobs the run executes"
    assert set(ran) == {"tadpoles_fit", "tadpoles_figures", *REPORT_JOBS}, ran
    assert "job(s) rerun because their recorded key" in real.stdout
    new = version_dir_of(done)
    assert new.name == _version_of(real.stdout) != old.name
    assert audit(new) == [] and audit(old) == []


def test_deleted_metadata_and_nothing_changed_runs_nothing(tadpoles_run, tmp_path):
    done = copy_run(tadpoles_run, tmp_path / "repo")
    shutil.rmtree(done / ".snakemake")
    again = run_snakemake(done, *TADPOLES_ONLY)
    assert executed_jobs(again.stdout) == {}
    assert _version_of(again.stdout) == version_dir_of(done).name

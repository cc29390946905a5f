"""Reruns do only what changed: job-level reuse, a truthful dry run, crash recovery.

Every test works on its own copy of one complete run of config/test.yaml (the session's
``test_run``), so the runs they make never disturb each other or the shared fixture.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from bayespipe.audit.check import audit
from conftest import TEST_CONFIG, executed_jobs, run_snakemake, start_snakemake, version_dir_of

pytestmark = pytest.mark.e2e

# Jobs of every new version: its report, its code snapshot and the target rule `all`.
REPORT_JOBS = {"report_html", "report_code_snapshot", "all"}


@pytest.fixture
def done(test_run, tmp_path) -> Path:
    """A private copy of the completed test run: checkout, results and Snakemake's metadata."""
    copy = tmp_path / "repo"
    # cp -a keeps the hard links between the work tree and the version folder, as they were.
    subprocess.run(["cp", "-a", str(test_run), str(copy)], check=True)
    return copy


def _override(workdir: Path, tmp_path: Path, **changes) -> str:
    """A config file: config/test.yaml with dotted keys changed."""
    config = yaml.safe_load((workdir / TEST_CONFIG).read_text())
    for dotted, value in changes.items():
        node = config
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _dry_then_real(workdir: Path, *args: str) -> tuple[dict, dict, str]:
    dry = run_snakemake(workdir, *args, "--dry-run")
    real = run_snakemake(workdir, *args)
    return executed_jobs(dry.stdout), executed_jobs(real.stdout), real.stdout


def _version_of(output: str) -> str:
    return re.search(r"bayespipe: version (\S+)", output).group(1)


def test_config_change_reruns_only_the_jobs_that_read_it(done, tmp_path):
    old = version_dir_of(done)
    config = _override(done, tmp_path, **{"tadpoles.sampler.seed": 4242})
    planned, ran, _ = _dry_then_real(done, "--configfile", config)
    assert planned == ran, "the dry run must list exactly the jobs the run executes"
    assert "tadpoles_fit" in ran
    assert not {"reedfrogs_prepare", "tadpoles_stan_compile"} & set(ran), ran
    assert set(ran) <= {"tadpoles_fit", "tadpoles_figures", *REPORT_JOBS}, ran
    new = version_dir_of(done)
    assert new != old and audit(new) == [] and audit(old) == []
    # Files of untouched jobs are the same files (hard links), not copies or recomputations.
    kept = old / "moons" / "full_batch" / "metrics.json"
    assert (new / kept.relative_to(old)).stat().st_ino == kept.stat().st_ino
    manifest = json.loads((new / "manifest.json").read_text())
    reused = {job["rule"] for job in manifest["jobs"] if job["reused_from"] == old.name}
    assert "reedfrogs_prepare" in reused and "tadpoles_fit" not in reused


def test_module_comment_reruns_only_the_jobs_that_import_it(done):
    before = run_snakemake(done, "--configfile", TEST_CONFIG, "--dry-run").stdout
    module = done / "workflow" / "bayespipe" / "analyses" / "moons" / "network.py"
    module.write_text(module.read_text() + "\n# a comment\n")
    planned, ran, output = _dry_then_real(done, "--configfile", TEST_CONFIG)
    assert planned == ran
    assert "moons_fit" in ran
    assert all(rule.startswith("moons_") or rule in REPORT_JOBS for rule in ran), ran
    assert _version_of(output) != _version_of(before)


def test_cli_comment_runs_nothing(done):
    before = run_snakemake(done, "--configfile", TEST_CONFIG, "--dry-run").stdout
    cli = done / "workflow" / "bayespipe" / "cli.py"
    cli.write_text(cli.read_text() + "\n# a comment\n")
    after = run_snakemake(done, "--configfile", TEST_CONFIG)
    assert "Nothing to be done" in after.stdout
    assert _version_of(after.stdout) == _version_of(before)


def test_every_job_key_covers_what_the_job_imported(test_run):
    """A script importing a package module its key does not cover would rerun too rarely."""
    records = list((test_run / "results" / ".work").rglob("*.job.json"))
    assert len(records) > 20
    for path in records:
        record = json.loads(path.read_text())
        covered = set(record["params"]["job_code"]["code"])
        imported = set(record["package_modules"])
        assert imported, f"{path.name}: no package modules recorded"
        assert imported <= covered, f"{record['rule']}: key misses {sorted(imported - covered)}"


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 900) -> None:
    deadline = time.time() + seconds
    while not (path.exists() and "started" in path.read_text()):
        assert process.poll() is None, "the run ended before the Stan fit started"
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.2)


def test_kill_during_stan_fit_then_same_command_completes(done, tmp_path):
    config = _override(done, tmp_path, **{"tadpoles.sampler.seed": 777})
    first = start_snakemake(
        done,
        "--configfile",
        config,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    fit_log = done / "results" / ".work" / "test" / "tadpoles" / "logs" / "tadpoles_fit.log"
    if fit_log.exists():
        fit_log.unlink()
    try:
        _wait_for(fit_log, first)
        os.kill(first.pid, signal.SIGKILL)  # the main process only; its jobs are orphaned
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    assert any((done / ".snakemake" / "locks").iterdir()), "the killed run should leave its locks"
    again = run_snakemake(done, "--configfile", config, check=False)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "removed the locks of run pid" in again.stdout
    version = version_dir_of(done)
    assert _version_of(again.stdout) == version.name
    assert audit(version) == []

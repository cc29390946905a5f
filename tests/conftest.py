"""Shared fixtures: a private copy of the repository and Snakemake runs inside it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")
TEST_CONFIG = "config/test.yaml"
# The InferenceData groups of a Stan fit with predictions, log likelihood and observed data.
FIT_GROUPS = {
    "posterior",
    "sample_stats",
    "observed_data",
    "posterior_predictive",
    "log_likelihood",
}


def repo_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files: what a fresh clone plus local edits holds."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


def git_checkout(workdir: Path) -> Path:
    """Make ``workdir`` a git repository with everything committed (runs record the commit)."""
    commit = ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]
    for args in (["init", "-q"], ["add", "-A"], commit):
        subprocess.run(["git", *args], cwd=workdir, check=True, capture_output=True)
    return workdir


def copy_repo(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for rel in repo_files():
        target = destination / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    # ../shared is beside the repository in CI and for developers; keep it reachable.
    shared = REPO.parent / "shared"
    if shared.exists() and not (destination.parent / "shared").exists():
        (destination.parent / "shared").symlink_to(shared)
    return destination


def snakemake_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["TF_USE_LEGACY_KERAS"] = "1"
    return env


def run_snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: int | None = 1800, cores: str = "2"
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir``; stdout and stderr together in ``.stdout``."""
    result = subprocess.run(
        [SNAKEMAKE, "--cores", cores, *args],
        cwd=workdir,
        env=snakemake_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed in {workdir}:\n{result.stdout[-6000:]}"
        )
    return result


def start_snakemake(workdir: Path, *args: str, cores: str = "2", **popen) -> subprocess.Popen:
    """Start Snakemake in ``workdir`` without waiting.

    ``popen``: more ``subprocess.Popen`` arguments; by default its output is read through
    ``.stdout``, stderr included.
    """
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, **popen}
    return subprocess.Popen(
        [SNAKEMAKE, "--cores", cores, *args], cwd=workdir, env=snakemake_env(), **popen
    )


class UnparsedOutput(AssertionError):
    """Snakemake's output has neither a job table nor 'Nothing to be done'."""


def executed_jobs(output: str) -> dict[str, int]:
    """Rule -> count from Snakemake's 'Job stats' table ({} when nothing was to be done).

    Output that says neither raises (with the output), so an assertion that a run executes nothing
    cannot pass because the table moved or the run failed before planning.
    """
    if "Nothing to be done" in output:
        return {}
    match = re.search(r"Job stats:\n(.*?)\n\n", output, flags=re.S)
    counts = {}
    for line in match.group(1).splitlines() if match else []:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("job", "total"):
            counts[parts[0]] = int(parts[1])
    if not counts:
        raise UnparsedOutput(
            "no 'Job stats' table and no 'Nothing to be done' in Snakemake's output:\n"
            + output[-6000:]
        )
    return counts


def require_cmdstan() -> dict:
    """CmdStan's info, or skip the test saying why (printed, so CI logs show it)."""
    from bayespipe import software

    info = software.cmdstan_info()
    if info is None:
        message = "CmdStan is not installed here (cmdstanpy.cmdstan_path() does not resolve)"
        print(f"SKIPPED: {message}")
        pytest.skip(message)
    return info


def version_dir_of(workdir: Path) -> Path:
    return (workdir / "results" / "latest").resolve()


def work_dir_of(workdir: Path, label: str = "test") -> Path:
    """Where jobs write (results/.work/<run_label>).

    The place to look after a failed or partial run, which writes no version folder.
    """
    return workdir / "results" / ".work" / label


@pytest.fixture(scope="session")
def test_run(tmp_path_factory) -> Path:
    """A git checkout copy of the repository with one complete run of config/test.yaml."""
    workdir = git_checkout(copy_repo(tmp_path_factory.mktemp("run") / "repo"))
    result = run_snakemake(workdir, "--configfile", TEST_CONFIG)
    console_of(workdir).write_text(result.stdout)
    return workdir


def console_of(workdir: Path) -> Path:
    """What a run fixture's Snakemake printed (kept beside its checkout, not in it)."""
    return workdir.parent / "console.txt"


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    return copy_repo(tmp_path / "repo")


TADPOLES_ONLY = ("--configfile", TEST_CONFIG, "--config", "analyses=[tadpoles]")


@pytest.fixture(scope="session")
def tadpoles_run(tmp_path_factory) -> Path:
    """Make a git checkout copy with one complete run of the tadpoles alone.

    config/test.yaml restricted to the tadpoles (the cheapest analysis): the base the version,
    crash and lock tests copy.
    """
    workdir = git_checkout(copy_repo(tmp_path_factory.mktemp("tadpoles") / "repo"))
    run_snakemake(workdir, *TADPOLES_ONLY)
    return workdir


def copy_run(source: Path, destination: Path) -> Path:
    """A private copy of a completed run (cp -a keeps the work tree's hard links)."""
    subprocess.run(["cp", "-a", str(source), str(destination)], check=True)
    return destination

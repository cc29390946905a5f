"""Crash-safe at every phase.

The main process is killed (SIGKILL) while jobs run, before the
snapshot, while linking, while writing the manifest and while moving `latest`; each time the same
command then completes, `latest` always has a manifest, and a half-made version is named partial.

The finishing phases are hit deterministically through BAYESPIPE_CRASH_AT (see
``bayespipe.versioning.crash_point``), read by the snapshot, manifest and `latest` code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bayespipe.audit.check import audit
from bayespipe.versioning import CRASH_ENV
from conftest import SNAKEMAKE, copy_run, snakemake_env
from e2e.test_no_change_ignored import with_seed

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FINISHING_PHASES = ("before-snapshot", "linking", "manifest", "latest")


def _run(workdir: Path, args: tuple[str, ...], crash_at: str | None = None, timeout=1800):
    env = snakemake_env()
    env.pop(CRASH_ENV, None)
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run(
        [SNAKEMAKE, "--cores", "2", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def _versions(workdir: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "bayespipe.cli", "versions", "--json"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {row["id"]: row["state"] for row in json.loads(out)}


def _assert_latest_has_manifest(workdir: Path) -> None:
    latest = workdir / "results" / "latest"
    assert (latest.resolve() / "manifest.json").is_file(), f"latest -> {latest.readlink()}"


def _kill_while_fitting(workdir: Path, args: tuple[str, ...], log: Path) -> str:
    """Kill the main process once the Stan fit has started; the output it had printed."""
    fit_log = workdir / "results" / ".work" / "test" / "tadpoles" / "logs" / "tadpoles_fit.log"
    fit_log.unlink(missing_ok=True)
    process = subprocess.Popen(
        [SNAKEMAKE, "--cores", "2", *args],
        cwd=workdir,
        env=snakemake_env(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 600
        while not (fit_log.exists() and "started" in fit_log.read_text()):
            assert process.poll() is None and time.time() < deadline, "the fit never started"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    return log.read_text()


def _version_of(output: str) -> str:
    return output.split("bayespipe: version ", 1)[1].split()[0]


@pytest.mark.parametrize("phase", ["jobs", *FINISHING_PHASES])
def test_kill_at_a_phase_then_the_same_command_completes(phase, tadpoles_run, tmp_path):
    """Each phase on its own copy of the tadpoles run, with a new seed (a new version)."""
    done = copy_run(tadpoles_run, tmp_path / "repo")
    old_latest = (done / "results" / "latest").resolve().name
    args = with_seed(done, tmp_path, 5000)
    started = time.monotonic()
    if phase == "jobs":
        printed = _kill_while_fitting(done, args, tmp_path / "killed.log")
    else:
        killed = _run(done, args, crash_at=phase)
        assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:]
        printed = killed.stdout
    version = _version_of(printed)
    _assert_latest_has_manifest(done)
    if phase != "latest":
        assert (done / "results" / "latest").resolve().name == old_latest
    if (done / "results" / version).is_dir():
        expected = "complete" if phase == "latest" else "partial"
        assert _versions(done)[version] == expected
    again = _run(done, args)
    assert again.returncode == 0, again.stdout[-4000:]
    _assert_latest_has_manifest(done)
    assert (done / "results" / "latest").resolve().name == version
    assert _versions(done)[version] == "complete"
    assert not list((done / "results").glob(".latest.*"))
    for folder in (done / "results").iterdir():
        if (folder / "manifest.json").is_file() and not folder.is_symlink():
            assert audit(folder) == [], folder.name
    print(f"{phase}: kill and recover in {time.monotonic() - started:.1f} s")

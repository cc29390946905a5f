"""Two runs at once in one checkout.

The same work tree waits its turn, other labels run side by side; nothing is lost and every
version audits OK.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from bayespipe.audit.check import audit
from conftest import SNAKEMAKE, TEST_CONFIG, copy_run, run_snakemake, snakemake_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _config(workdir: Path, tmp_path: Path, name: str, **changes) -> list[str]:
    config = yaml.safe_load((workdir / TEST_CONFIG).read_text())
    config["analyses"] = ["tadpoles"]
    config["tadpoles"]["sampler"]["seed"] = 4242
    config.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return [SNAKEMAKE, "--cores", "1", "--configfile", str(path)]


def _start(workdir: Path, command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=workdir,
        env=snakemake_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_lock(workdir: Path, label: str, process: subprocess.Popen) -> None:
    lock = workdir / "results" / ".work" / f".{label}.run.lock"
    deadline = time.time() + 300
    while not (lock.exists() and str(process.pid) in lock.read_text()):
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.time() < deadline, "the first run never took its work tree"
        time.sleep(0.1)


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=1800)
    assert process.returncode == 0, output[-4000:]
    return output


def _version(output: str) -> str:
    return output.split("bayespipe: version ", 1)[1].split()[0]


def test_same_work_tree_stops_at_once_naming_the_run(tadpoles_run, tmp_path):
    done = copy_run(tadpoles_run, tmp_path / "repo")
    command = _config(done, tmp_path, "seed")
    first = _start(done, command)
    try:
        _wait_for_lock(done, "test", first)
        started = time.monotonic()
        second = subprocess.run(
            command,
            cwd=done,
            env=snakemake_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        took = time.monotonic() - started
    finally:
        output = _finish(first)
    assert second.returncode != 0
    lines = [line for line in second.stdout.splitlines() if "another run is using" in line]
    assert len(lines) == 1, second.stdout
    assert f"pid {first.pid} on " in lines[0] and " since 20" in lines[0], lines[0]
    print(f"second run stopped after {took:.1f} s:\n{second.stdout}")
    version = done / "results" / _version(output)
    assert audit(version) == []
    again = run_snakemake(done, *command[3:])  # then the same command has nothing left to do
    assert "(complete: nothing to do)" in again.stdout and audit(version) == []


def test_other_run_labels_run_side_by_side(tadpoles_run, tmp_path):
    done = copy_run(tadpoles_run, tmp_path / "repo")
    first = _start(done, _config(done, tmp_path, "test"))
    _wait_for_lock(done, "test", first)
    second = _start(done, _config(done, tmp_path, "other", run_label="other"))
    outputs = [_finish(first), _finish(second)]
    versions = [done / "results" / _version(out) for out in outputs]
    assert versions[0].name.startswith("test-") and versions[1].name.startswith("other-")
    for version in versions:
        assert (version / "manifest.json").is_file() and audit(version) == [], version

"""Stale Snakemake locks: removed when their run is dead, kept while it lives."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from bayespipe import runlock


def _locked(tmp_path):
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "0.input.lock").write_text("a\n")
    (locks / "0.output.lock").write_text("b\n")
    return locks


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_locks_of_a_dead_run_are_removed(tmp_path):
    locks = _locked(tmp_path)
    owner = {"pid": _dead_pid(), "pgid": None, "host": socket.gethostname()}
    (tmp_path / runlock.OWNER_FILE).write_text(json.dumps(owner))
    message = runlock.clear_stale_locks(tmp_path)
    assert message and str(owner["pid"]) in message
    assert not list(locks.iterdir()) and not (tmp_path / runlock.OWNER_FILE).exists()


def test_locks_of_a_live_run_are_kept(tmp_path):
    locks = _locked(tmp_path)
    runlock.record_owner(tmp_path)  # this very process: alive
    assert runlock.clear_stale_locks(tmp_path) is None
    assert len(list(locks.iterdir())) == 2


def test_locks_of_another_host_are_kept(tmp_path):
    locks = _locked(tmp_path)
    owner = {"pid": _dead_pid(), "host": "elsewhere.invalid"}
    (tmp_path / runlock.OWNER_FILE).write_text(json.dumps(owner))
    assert runlock.clear_stale_locks(tmp_path) is None
    assert len(list(locks.iterdir())) == 2


def test_locks_without_owner_get_an_instruction(tmp_path):
    _locked(tmp_path)
    message = runlock.clear_stale_locks(tmp_path)
    assert "snakemake --unlock" in message


def test_orphaned_jobs_of_the_dead_run_are_stopped(tmp_path):
    _locked(tmp_path)
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        owner = {"pid": _dead_pid(), "pgid": orphan.pid, "host": socket.gethostname()}
        (tmp_path / runlock.OWNER_FILE).write_text(json.dumps(owner))
        assert runlock.clear_stale_locks(tmp_path)
        assert orphan.wait(timeout=15) != 0
    finally:
        orphan.kill()

"""Safe recovery of Snakemake's locks after the main process was killed (``kill -9``, a crash).

Snakemake locks the working directory (``.snakemake/locks/``) and removes the locks when it
exits; a killed process leaves them behind, and the next run stops with a LockException. The
workflow records which process holds the locks (``.snakemake/bayespipe-owner.json``: pid,
host). A later run removes the locks only when that process is on this host and no longer
alive; otherwise it leaves them and says what to do, so a live run is never unlocked. Jobs the
dead run had started may still be running in its process group: they are stopped first, so
they cannot write into files the new run is recomputing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import time
from pathlib import Path

OWNER_FILE = "bayespipe-owner.json"


def _lock_files(snakemake_dir: Path) -> list[Path]:
    return sorted((snakemake_dir / "locks").glob("*.lock"))


def record_owner(snakemake_dir: str | Path, pid: int | None = None) -> None:
    """Called once Snakemake holds the locks (onstart)."""
    path = Path(snakemake_dir) / OWNER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = {
        "pid": pid or os.getpid(),
        "pgid": os.getpgid(0),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(owner))


def release_owner(snakemake_dir: str | Path) -> None:
    (Path(snakemake_dir) / OWNER_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clear_stale_locks(snakemake_dir: str | Path) -> str | None:
    """Remove locks left by a dead run of this host; returns a message for the user, or None."""
    snakemake_dir = Path(snakemake_dir)
    locks = _lock_files(snakemake_dir)
    if not locks:
        return None
    owner_path = snakemake_dir / OWNER_FILE
    try:
        owner = json.loads(owner_path.read_text())
    except (OSError, ValueError):
        return (
            "bayespipe: the working directory is locked and no owner is recorded. If no other "
            "Snakemake runs here, run `snakemake --unlock` and then the same command again."
        )
    if owner.get("host") != socket.gethostname() or _alive(int(owner.get("pid", 0))):
        return None  # a live run (or one on another host): Snakemake refuses with its own message
    _stop_orphans(owner.get("pgid"))
    for lock in locks:
        lock.unlink(missing_ok=True)
    owner_path.unlink(missing_ok=True)
    return f"bayespipe: removed the locks of run pid {owner['pid']}, which is no longer running"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop_orphans(pgid: int | None, grace: float = 10.0) -> None:
    """Stop what is left of the dead run's process group (never our own group)."""
    if not pgid or pgid == os.getpgid(0) or not _group_alive(pgid):
        return
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.2)
    if _group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)


def active_run(snakemake_dir: str | Path) -> dict | None:
    """The owner of the locks of a run that is still going here ({pid, host, since, ...}), a
    placeholder when locks exist without a recorded owner, or None when no run holds them."""
    snakemake_dir = Path(snakemake_dir)
    if not _lock_files(snakemake_dir):
        return None
    try:
        owner = json.loads((snakemake_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return {"pid": None, "host": None, "since": None}
    if owner.get("host") == socket.gethostname() and not _alive(int(owner.get("pid", 0))):
        return None  # a dead run's locks: the next run removes them
    return owner


def describe(owner: dict) -> str:
    """One line naming the run that holds the locks: pid, host and since when."""
    if not owner.get("pid"):
        return "locks without a recorded owner; if no run is going, `snakemake --unlock`"
    return f"pid {owner['pid']} on {owner.get('host')} since {owner.get('since') or 'unknown'}"

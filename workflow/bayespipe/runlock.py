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
import fcntl
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
    """Forget the owner, unless another run (of another work tree) has recorded itself since."""
    path = Path(snakemake_dir) / OWNER_FILE
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        owner = {}
    if owner.get("pid") in (None, os.getpid()):
        path.unlink(missing_ok=True)


class RunInProgress(RuntimeError):
    """Another run of the same work tree is going: one line naming it."""


_HELD: dict[str, int] = {}  # work tree -> the open, locked descriptor (held until exit)


def hold_work_tree(work_dir: str | Path) -> None:
    """Take the work tree's run lock for the life of this process.

    Or raise RunInProgress naming the run that holds it (pid, host, since when). Runs of other work
    trees (another ``run_label``) go on side by side. The lock is an ``flock`` on ``<work
    tree>.run.lock`` beside the work tree: the kernel drops it when its process dies, even by ``kill
    -9``, so it is never stale.
    """
    work = Path(work_dir)
    key = str(work.resolve())
    if key in _HELD:
        return
    path = work.parent / f".{work.name}.run.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise RunInProgress(
            f"bayespipe: another run is using {work}: {describe(holder)}; "
            "wait for it to finish, then run the same command again"
        ) from None
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me).encode(), 0)
    _HELD[key] = fd


def work_tree_holder(work_dir: str | Path) -> dict | None:
    """The run holding a work tree's run lock ({pid, host, since}), or None when none does."""
    work = Path(work_dir)
    path = work.parent / f".{work.name}.run.lock"
    if str(work.resolve()) in _HELD or not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_holder(fd) or {"pid": None}
    finally:
        os.close(fd)
    return None


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except ValueError:
        return {}


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


def describe(owner: dict) -> str:
    """One line naming the run that holds the locks: pid, host and since when."""
    if not owner.get("pid"):
        return "locks without a recorded owner; if no run is going, `snakemake --unlock`"
    return f"pid {owner['pid']} on {owner.get('host')} since {owner.get('since') or 'unknown'}"

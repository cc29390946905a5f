"""Version ids, the shared work tree where jobs run, and immutable version folders.

Jobs write into one work tree per run label (``results/.work/<label>/``), so Snakemake's own
rerun triggers decide which jobs a change touches: a job reruns when its params (which include
the digest of its code, see ``bayespipe.codedeps``), its inputs, or its script change, and
otherwise keeps its outputs. When a run completes, the files reachable from its final targets
are hard-linked into ``results/<version>/``, whose id is a digest of the resolved config, the code
the run's jobs use, the raw data and the software. Snakemake deletes a job's outputs before it
reruns the job, so a rerun writes new files and never alters a version folder's linked copies.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayespipe.catalog import ANALYSES
from bayespipe.io import HashCache

CODE_ROOTS = ("Snakefile", "workflow", "stan")
IGNORED_PARTS = {"__pycache__", ".pytest_cache"}
WORK_FOLDER = ".work"
IGNORED_SUFFIXES = {".pyc", ".pyo"}
DIGEST_LENGTH = 12
# Fault injection for the crash tests: the main process kills itself (SIGKILL) at the named phase
# of finishing a version ("before-snapshot", "linking", "manifest", "latest").
CRASH_ENV = "BAYESPIPE_CRASH_AT"


def crash_point(phase: str) -> None:
    """Tests only: die here, as a kill -9 would, when BAYESPIPE_CRASH_AT names ``phase``."""
    if os.environ.get(CRASH_ENV) == phase:
        os.kill(os.getpid(), signal.SIGKILL)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def _is_code_file(path: Path) -> bool:
    parts = set(path.parts)
    return (
        path.is_file()
        and not parts & IGNORED_PARTS
        and not any(part.endswith(".egg-info") for part in parts)  # pip's build metadata
        and path.suffix not in IGNORED_SUFFIXES
    )


def code_files(root: Path) -> list[str]:
    """Every file under the code roots, as sorted paths relative to ``root``."""
    files = []
    for entry in CODE_ROOTS:
        path = root / entry
        candidates = [path] if path.is_file() else path.rglob("*")
        files += [str(p.relative_to(root)) for p in candidates if _is_code_file(p)]
    return sorted(files)


def _lookup(config: dict, dotted: str) -> Any:
    value: Any = config
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def expand_keys(config: dict, keys: Iterable[str]) -> list[str]:
    """Dotted keys with ``*`` replaced by every key of the config section there."""
    expanded = []
    for key in keys:
        head, star, tail = key.partition(".*")
        if not star:
            expanded.append(key)
            continue
        section = _lookup(config, head)
        names = sorted(section) if isinstance(section, dict) else []
        expanded += expand_keys(config, [f"{head}.{name}{tail}" for name in names])
    return expanded


def data_fingerprints(root: Path, config: dict, keys: Iterable[str], hashes: HashCache) -> dict:
    """Return the sha256 of every raw input file named by the given dotted config keys.

    Files or folders; ``*`` stands for every key of a section, e.g. ``models.*.data``.
    """
    prints = {}
    for key in expand_keys(config, keys):
        value = _lookup(config, key)
        if not value:
            continue
        path = Path(value) if Path(value).is_absolute() else root / value
        if path.is_file():
            prints[key] = hashes.sha256(path)
        elif path.is_dir():
            prints[key] = {p.name: hashes.sha256(p) for p in sorted(path.iterdir()) if p.is_file()}
        else:
            prints[key] = "missing"
    return prints


@dataclass
class VersionInfo:
    id: str
    digest: str
    code: dict[str, str]
    data: dict[str, Any]
    software: dict[str, Any]
    engines: dict[str, Any] = field(default_factory=dict)


def work_dir(results_dir: str | Path, config: dict) -> str:
    """The work tree of a run label: runs with another label (the tests') never disturb it."""
    return f"{results_dir}/{WORK_FOLDER}/{config.get('run_label') or 'default'}"


def compute_version(
    root: str | Path,
    config: dict,
    software: dict,
    code: dict[str, str],
    engines: dict | None = None,
    hash_cache: str | Path | None = None,
) -> VersionInfo:
    """The version id of a run: a digest of its config, code, raw data, software and engines.

    ``code`` maps each code file the run uses to its sha256. ``engines`` holds resolved choices
    that config alone does not determine (an 'auto' Stan engine resolved to PyStan), so the same
    config on a machine with CmdStan gets another id.
    """
    root = Path(root)
    hashes = HashCache(hash_cache)
    all_data_keys = sorted({k for a in ANALYSES.values() for k in a.data_keys})
    data = data_fingerprints(root, config, all_data_keys, hashes)
    hashes.save()
    engines = engines or {}
    whole = digest(
        {"config": config, "code": code, "data": data, "software": software, "engines": engines}
    )
    label = config.get("run_label") or ""
    version_id = f"{label}-{whole[:DIGEST_LENGTH]}" if label else whole[:DIGEST_LENGTH]
    return VersionInfo(version_id, whole, dict(sorted(code.items())), data, software, engines)


def _finished_manifest(path: Path) -> dict | None:
    """The manifest at ``path`` if it records a finished run, else None.

    The manifest at ``path`` if it records a finished run of all its targets (a run of chosen
    targets writes ``complete: false``), else None.
    """
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("complete", True) else None


def is_complete(results_dir: str | Path, version_id: str) -> bool:
    """Whether a version folder holds a finished run of all its targets."""
    return _finished_manifest(Path(results_dir) / version_id / "manifest.json") is not None


def complete_versions(results_dir: str | Path) -> list[tuple[Path, dict]]:
    """(folder, manifest) of every complete version (partial runs left out), newest first."""
    found = []
    for manifest_path in Path(results_dir).glob("*/manifest.json"):
        manifest = _finished_manifest(manifest_path)
        if manifest is not None and not manifest_path.parent.is_symlink():
            found.append((manifest_path.parent, manifest))
    found.sort(key=lambda item: item[1].get("end_time", ""), reverse=True)
    return found


def _link(source: Path, destination: Path) -> None:
    if destination.resolve() == source.resolve():
        raise ValueError(f"refusing to link {source} onto itself")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists() or destination.is_symlink():
        destination.unlink()
    if source.parent.name == "benchmarks":
        # Snakemake rewrites a benchmark file in place when its job reruns: copy, never share.
        shutil.copy2(source, destination)
        return
    try:
        os.link(source, destination)
    except OSError:  # another file system: fall back to a copy
        shutil.copy2(source, destination)


def _job_records(work: Path) -> dict[str, dict]:
    """Output path (relative to the work tree) -> the job record that produced it."""
    owners = {}
    for record_path in work.rglob("*.job.json"):
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            continue
        record["_path"] = record_path
        for output in record.get("outputs", []):
            inside = _relative_to(output, work)
            if inside:
                owners[inside] = record
    return owners


def _relative_to(path: str, base: Path) -> str | None:
    """``path`` relative to ``base``, or None when it lies outside.

    Outside are raw inputs, the user's files: they are recorded by sha256 in the manifest, never
    linked or touched.
    """
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return None


def run_files(work: str | Path, targets: Iterable[str]) -> list[str]:
    """Files of the work tree that make up a run.

    Its targets, everything they were made from (followed through the job records), and each of
    those jobs' log, record and benchmark.
    """
    work = Path(work)
    owners = _job_records(work)
    wanted: set[str] = set()
    pending = [_relative_to(t, work) for t in targets]
    seen_jobs: set[Path] = set()
    while pending:
        rel = pending.pop()
        if rel is None or rel in wanted or not (work / rel).exists():
            continue
        if (work / rel).is_dir():
            pending += [str(p.relative_to(work)) for p in (work / rel).rglob("*") if p.is_file()]
        wanted.add(rel)
        record = owners.get(rel) or next(
            (r for out, r in owners.items() if rel.startswith(out.rstrip("/") + "/")), None
        )
        if record is None or record["_path"] in seen_jobs:
            continue
        seen_jobs.add(record["_path"])
        log = Path(record["_path"].name[: -len(".job.json")] + ".log")
        logs_dir = record["_path"].parent
        extras = [
            record["_path"],
            logs_dir / log,
            logs_dir.parent / "benchmarks" / log.with_suffix(".tsv"),
        ]
        pending += [str(p.relative_to(work)) for p in extras if p.exists()]
        pending += [_relative_to(p, work) for p in record.get("outputs", [])]
        pending += [_relative_to(p, work) for p in record.get("inputs", {})]
    return sorted(f for f in wanted if (work / f).is_file())


def snapshot(work: str | Path, version_dir: str | Path, targets: Iterable[str]) -> int:
    """Hard-link the run's files from the work tree into its version folder; the file count."""
    work, version_dir = Path(work), Path(version_dir)
    files = run_files(work, targets)
    if version_dir.is_dir() and _finished_manifest(version_dir / "manifest.json") is None:
        # Left by a run stopped before its manifest (links, a manifest's temporary file): only
        # hard links of work-tree files, so start again from an empty folder.
        shutil.rmtree(version_dir)
    for index, rel in enumerate(files):
        if index == len(files) // 2:
            crash_point("linking")
        _link(work / rel, version_dir / rel)
    return len(files)


def update_latest(results_dir: str | Path, version_id: str) -> None:
    """Point ``results/latest`` (a relative symlink) at ``version_id``, atomically."""
    results_dir = Path(results_dir)
    _remove_dead_latest_links(results_dir)
    tmp = results_dir / f".latest.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(version_id)
    crash_point("latest")
    tmp.replace(results_dir / "latest")


def finish_latest_move(results_dir: str | Path, version_id: str) -> bool:
    """Move ``latest`` to ``version_id`` when a run was killed while moving it there.

    Its temporary link is left, naming a dead pid. Returns whether it did.
    """
    results_dir = Path(results_dir)
    for link in results_dir.glob(".latest.*"):
        pid = link.name.rsplit(".", 1)[-1]
        dead = pid.isdigit() and not _pid_alive(int(pid))
        if dead and link.is_symlink() and str(link.readlink()) == version_id:
            update_latest(results_dir, version_id)
            return True
    return False


def _remove_dead_latest_links(results_dir: Path) -> None:
    """Temporary links of runs killed while moving ``latest`` (their pid is gone)."""
    for link in results_dir.glob(".latest.*"):
        pid = link.name.rsplit(".", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            link.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

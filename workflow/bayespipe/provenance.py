"""The provenance manifest of a version folder, assembled from the job records when a run ends."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from bayespipe.io import atomic_path, read_json, sha256_file
from bayespipe.jobs import VOLATILE_FIELDS as JOB_RECORD_VOLATILE_FIELDS
from bayespipe.jobs import job_record_path
from bayespipe.versioning import WORK_FOLDER, crash_point

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "bayespipe-manifest/1"
# Fields of the manifest that change from run to run (bayespipe.audit.volatile reads them).
# Every file's sha256 and size are left to the comparison of the files themselves.
VOLATILE_FIELDS = (
    "start_time",
    "end_time",
    "command_line",
    "workdir",
    "host",
    "git",
    *(f"jobs.*.{field}" for field in JOB_RECORD_VOLATILE_FIELDS if field != "inputs.*"),
    "jobs.*.reused_from",
    "jobs.*.inputs.*.sha256",
    "files.*.sha256",
    "files.*.size",
    "files.*.params.root",
    "files.*.inputs.*.sha256",
)
ROCRATE = "ro-crate-metadata.json"
SNAKEMAKE_REPORT = (
    "snakemake-report.zip"  # `snakemake --report results/<version>/snakemake-report.zip`
)
# Files at the top of a version folder that describe the run and are written after the manifest's
# file list is built: they are never listed in it (audit must not call them unlisted).
METADATA_FILES = (MANIFEST, ROCRATE, SNAKEMAKE_REPORT)


def is_metadata_file(rel: str | Path) -> bool:
    """Whether a path relative to a version folder is one of its run-level metadata files."""
    return str(rel) in METADATA_FILES


def host_info() -> dict:
    return {
        "name": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "gpus": _gpus(),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> list[str]:
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def git_state(root: str | Path) -> dict | None:
    """Commit and dirty flag of the checkout the workflow runs from, or None outside git."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=True
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (subprocess.SubprocessError, OSError):
        return None
    return {"commit": commit, "dirty": dirty}


def load_job_records(version_dir: Path) -> list[dict]:
    records = []
    for path in sorted(version_dir.rglob("*.job.json")):
        record = read_json(path)
        record["_record"] = str(path.relative_to(version_dir))
        records.append(record)
    return records


def _in_work_tree(path: str, version_dir: Path, workdir: Path) -> str | None:
    """The path inside the work tree (``results/.work/<label>/...``) of a job's file, or None."""
    absolute = Path(path) if Path(path).is_absolute() else workdir / path
    try:
        parts = absolute.resolve().relative_to(version_dir.resolve().parent / WORK_FOLDER).parts
    except ValueError:
        return None
    return str(Path(*parts[1:])) if len(parts) > 1 else None


def _relative(path: str, version_dir: Path, workdir: Path) -> str:
    """A job's path as a path relative to the version folder (where its file was linked)."""
    return _in_work_tree(path, version_dir, workdir) or path


def _rebased_input(path: str, version_dir: Path, workdir: Path) -> str:
    """A job's input as the same file of this version (workdir-relative); raw inputs as they are."""
    inside = _in_work_tree(path, version_dir, workdir)
    if not inside or not (version_dir / inside).is_file():
        return path
    return os.path.relpath(version_dir / inside, workdir)


def _file_hash(path: Path, workdir: Path) -> str | None:
    full = path if path.is_absolute() else workdir / path
    return sha256_file(full) if full.is_file() else None


def build_manifest(
    version_dir: str | Path,
    *,
    workdir: str | Path,
    run_info: dict[str, Any],
    rule_scripts: dict[str, str | None],
) -> dict:
    """Describe every file of ``version_dir``: its hash and the job that produced it."""
    version_dir = Path(version_dir)
    workdir = Path(workdir)
    jobs = []
    produced_by: dict[str, tuple[dict, str]] = {}
    for record in load_job_records(version_dir):
        log = record["log"][0]
        log_rel = _relative(log, version_dir, workdir)
        origin = record.get("run_version") or version_dir.name
        stem = (
            Path(log_rel).name[: -len(".log")] if log_rel.endswith(".log") else Path(log_rel).stem
        )
        benchmark = str(Path(log_rel).parent.parent / "benchmarks" / f"{stem}.tsv")
        script = rule_scripts.get(record["rule"])
        entry = {
            "job": record["_record"],
            "rule": record["rule"],
            "wildcards": record.get("wildcards", {}),
            "script": {"path": script, "sha256": _file_hash(Path(script), workdir)}
            if script
            else None,
            "stan_program": (
                {"path": record["stan_file"], "sha256": record.get("stan_file_sha256")}
                if record.get("stan_file")
                else None
            ),
            "inputs": [
                {"path": _rebased_input(p, version_dir, workdir), "sha256": h}
                for p, h in sorted(record.get("inputs", {}).items())
            ],
            "params": record.get("params", {}),
            "threads": record.get("threads"),
            "log": log_rel,
            "benchmark": benchmark if (version_dir / benchmark).exists() else None,
            "outputs": [_relative(p, version_dir, workdir) for p in record.get("outputs", [])],
            "start_time": record.get("start_time"),
            "end_time": record.get("end_time"),
            "wall_seconds": record.get("wall_seconds"),
            "host": record.get("host"),
            "slurm_job_id": record.get("slurm_job_id"),
            "reused_from": origin if origin != version_dir.name else None,
            "extra": record.get("extra", {}),
        }
        jobs.append(entry)
        for out in entry["outputs"]:
            produced_by[out] = (entry, "output")
        produced_by[log_rel] = (entry, "log")
        produced_by[entry["job"]] = (entry, "job-record")
        if entry["benchmark"]:
            produced_by[entry["benchmark"]] = (entry, "benchmark")

    files = []
    for path in sorted(p for p in version_dir.rglob("*") if p.is_file()):
        rel = str(path.relative_to(version_dir))
        if is_metadata_file(rel):
            continue
        # Folders declared as outputs (directory()) own the files inside them.
        owner = produced_by.get(rel) or next(
            (produced_by[o] for o in produced_by if rel.startswith(o.rstrip("/") + "/")), None
        )
        entry, kind = owner if owner else ({}, "unknown")
        files.append(
            {
                "path": rel,
                "sha256": sha256_file(path),
                "size": path.stat().st_size,
                "kind": kind,
                "rule": entry.get("rule"),
                "job": entry.get("job"),
                "inputs": entry.get("inputs", []),
                "params": entry.get("params", {}),
                "script": entry.get("script"),
                "stan_program": entry.get("stan_program"),
                "log": entry.get("log"),
                "benchmark": entry.get("benchmark"),
            }
        )
    return {
        "schema": MANIFEST_SCHEMA,
        **run_info,
        "workdir": str(workdir.resolve()),
        "host": host_info(),
        "git": git_state(workdir),
        "jobs": jobs,
        "files": files,
    }


def write_manifest(version_dir: str | Path, **kwargs) -> dict:
    """Build and write the manifest, atomically: a crash leaves no manifest, never half of one."""
    manifest = build_manifest(version_dir, **kwargs)
    manifest["end_time"] = dt.datetime.now(dt.UTC).isoformat()
    with atomic_path(Path(version_dir) / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        crash_point("manifest")
    return manifest


__all__ = [
    "MANIFEST",
    "ROCRATE",
    "METADATA_FILES",
    "is_metadata_file",
    "build_manifest",
    "write_manifest",
    "host_info",
    "git_state",
    "job_record_path",
]

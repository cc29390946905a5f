"""No change is ever ignored: each job's key is checked against the one recorded beside its outputs.

Snakemake's params trigger compares a job's params with its metadata in ``.snakemake/``; without
that folder (deleted to clear a stale lock, a moved or restored work tree) every changed setting
or code digest goes unseen. The job record (``logs/<job>.job.json``) keeps the job's key (a
digest of its params, which carry its code digest), so at workflow start every job whose recorded
key differs from the current one, whose outputs are newer than its record (a rerun that never
finished) or whose outputs have no record at all is *stale*. Its outputs get an mtime of 0: older
than the job's script, so Snakemake's own code trigger reruns the job (and, through the mtime of
its new outputs, everything downstream), with or without ``.snakemake/``, and a dry run lists
exactly those jobs. The mark lives in the file system, so a run killed after marking still reruns
them. A job whose current key cannot be computed stops the run, naming the job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bayespipe.jobs import job_key

STALE_MTIME = 0  # 1970: older than any script, so Snakemake's code trigger reruns the job
# An output this much newer (seconds) than its job's record is a later run of the job whose
# record was never written. Not less: after a job's process exits, Snakemake touches its outputs
# (seen 1.25 s after the record for a TensorFlow job, whose exit is slow, on a loaded machine).
CLOCK_SLACK = 300.0
RECORD_SUFFIX = ".job.json"
BOOKKEEPING_FOLDERS = {"logs", "benchmarks"}


class UnknownJobKey(RuntimeError):
    """The current key of a recorded job cannot be computed: the run cannot tell what changed."""


@dataclass
class Freshness:
    stale: dict[str, str] = field(default_factory=dict)  # job -> why it reruns
    marked: list[str] = field(default_factory=list)  # output files given the stale mtime
    unknown: dict[str, str] = field(default_factory=dict)  # job -> why its key is unknown

    def summary(self) -> str | None:
        if not self.stale:
            return None
        reasons = sorted({why for why in self.stale.values()})
        return (
            f"bayespipe: {len(self.stale)} job(s) rerun because their recorded key or outputs "
            f"do not match ({'; '.join(reasons)}): {', '.join(sorted(self.stale))}"
        )


def job_name(record: dict) -> str:
    wildcards = record.get("wildcards") or {}
    inside = ", ".join(f"{k}={v}" for k, v in sorted(wildcards.items()))
    return f"{record.get('rule')}[{inside}]" if inside else str(record.get("rule"))


def recorded_key(record: dict) -> str:
    """The key the job ran with (records written before keys were kept: from their params)."""
    return record.get("job_key") or job_key(record.get("params", {}))


def _read_records(work: Path) -> list[tuple[Path, dict]]:
    records = []
    for path in sorted(work.rglob(f"*{RECORD_SUFFIX}")):
        try:
            records.append((path, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue  # a torn record: its outputs count as unrecorded below
    return records


def _files_under(path: Path) -> list[Path]:
    if path.is_dir():
        return [p for p in path.rglob("*") if p.is_file()]
    return [path] if path.is_file() else []


def _unrecorded(work: Path, claimed: set[Path]) -> list[Path]:
    """Work-tree files no record claims (bookkeeping folders and hidden files aside)."""
    found = []
    for path in work.rglob("*"):
        rel = path.relative_to(work).parts
        if (
            path.is_file()
            and not set(rel) & BOOKKEEPING_FOLDERS
            and not any(part.startswith(".") for part in rel)
            and path.resolve() not in claimed
        ):
            found.append(path)
    return found


def check_work_tree(
    work: str | Path,
    rules: Iterable[str],
    current_key: Callable[[dict], str],
    *,
    root: str | Path,
    in_run: Callable[[dict], bool] | None = None,
) -> Freshness:
    """Find the stale jobs of the work tree ``work`` and give their outputs the stale mtime.

    ``rules`` are the rules this run may run. ``in_run(record)`` says whether this run can still
    make the recorded job (a removed config block's jobs cannot: their files are no part of the
    run, so their keys are neither computed nor compared). ``current_key(record)`` computes the
    job's key now; it raises for a job it cannot evaluate. ``root``: the workflow folder, where
    the records' relative output paths are resolved.
    """
    work, base = Path(work), Path(root)
    rules = set(rules)
    result = Freshness()
    claimed: set[Path] = set()
    for record_path, record in _read_records(work):
        outputs = [
            f
            for out in record.get("outputs", [])
            for f in _files_under(Path(out) if Path(out).is_absolute() else base / out)
        ]
        claimed.update(p.resolve() for p in outputs)
        if record.get("rule") not in rules or not outputs:
            continue
        if in_run is not None and not in_run(record):
            continue
        name = job_name(record)
        try:
            now = current_key(record)
        except Exception as error:  # noqa: BLE001 - any failure means the key is unknown
            result.unknown[name] = f"{type(error).__name__}: {error}"
            continue
        written = record_path.stat().st_mtime
        if now != recorded_key(record):
            result.stale[name] = "key changed"
        elif any(p.stat().st_mtime > written + CLOCK_SLACK for p in outputs):
            result.stale[name] = "outputs newer than the job record"
        else:
            continue
        _mark(outputs, result)
    orphans = [p for p in _unrecorded(work, claimed) if p.stat().st_mtime != STALE_MTIME]
    for path in orphans:
        result.stale[str(path.relative_to(work))] = "output without a job record"
    _mark(orphans, result)
    if result.unknown:
        lines = "\n".join(f"  {job}: {why}" for job, why in sorted(result.unknown.items()))
        raise UnknownJobKey(
            f"bayespipe: cannot tell whether these jobs in {work} are up to date (their current "
            f"key cannot be computed); remove their outputs to rerun them, or the work tree to "
            f"rerun everything:\n{lines}"
        )
    return result


def _mark(paths: Iterable[Path], result: Freshness) -> None:
    result.marked += mark_stale(paths)


def mark_stale(paths: Iterable[str | Path]) -> list[str]:
    """Give existing files the stale mtime, so the jobs that make them rerun; the files marked.

    A directory output counts by its files, Snakemake's ``.snakemake_timestamp`` (the mtime it
    reads for a directory) among them.
    """
    marked = []
    for path in (f for given in map(Path, paths) for f in _files_under(given)):
        if path.is_file():
            if path.stat().st_mtime != STALE_MTIME:
                os.utime(path, (STALE_MTIME, STALE_MTIME))
            marked.append(str(path))
    return marked

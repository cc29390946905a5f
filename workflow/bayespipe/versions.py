"""The versions of a results folder: list them, tag them, collect the ones nobody keeps.

A version is a folder ``results/<id>/``; it is *complete* when its manifest says so, *partial*
otherwise (a run stopped before its manifest, or a run of chosen targets). Tags are relative
symlinks ``results/tags/<name> -> ../<id>``, so a tag's path works wherever a version folder's
path does (``bayespipe audit results/tags/<name>``). ``collect`` (``bayespipe gc``) keeps the
newest complete versions, every tagged one and ``latest``; it removes the other version folders
and every work-tree file that no kept version links (by inode), job by job, so a kept version
never loses a file and the work tree never holds half a job.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bayespipe.errors import InputError
from bayespipe.versioning import WORK_FOLDER

DEFAULT_RESULTS = Path("results")  # where a bare tag or version id is looked up

MANIFEST = "manifest.json"
LATEST = "latest"
TAGS = "tags"
RESERVED = {LATEST, TAGS, WORK_FOLDER}
TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RECORD_SUFFIX = ".job.json"


@dataclass
class Moved:
    """A headline result that moved since the previous complete version of the same label."""

    result: str
    before: float | None
    after: float | None
    verdict_before: str
    verdict_after: str


@dataclass
class Version:
    id: str
    folder: str
    complete: bool
    label: str = ""
    start_time: str | None = None
    end_time: str | None = None
    duration_seconds: float | None = None
    executor: str | None = None
    stan_engine: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    files_made: int = 0
    files_reused: int = 0
    tags: list[str] = field(default_factory=list)
    latest: bool = False
    previous: str | None = None
    moved: list[Moved] = field(default_factory=list)

    @property
    def state(self) -> str:
        return "complete" if self.complete else "partial"


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _seconds(start: str | None, end: str | None) -> float | None:
    try:
        return round(
            (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds(), 1
        )
    except (TypeError, ValueError):
        return None


def _file_counts(manifest: dict) -> tuple[int, int]:
    """(made by this run, reused from an earlier run) among the version's files."""
    reused_jobs = {job["job"] for job in manifest.get("jobs", []) if job.get("reused_from")}
    files = manifest.get("files", [])
    reused = sum(1 for f in files if f.get("job") in reused_jobs)
    return len(files) - reused, reused


def tags(results: str | Path) -> dict[str, list[str]]:
    """Version id -> its tag names (sorted)."""
    found: dict[str, list[str]] = {}
    folder = Path(results) / TAGS
    for link in sorted(folder.iterdir()) if folder.is_dir() else []:
        if link.is_symlink():
            found.setdefault(link.readlink().name, []).append(link.name)
    return found


def latest_id(results: str | Path) -> str | None:
    link = Path(results) / LATEST
    return link.readlink().name if link.is_symlink() else None


def _version(folder: Path, tagged: dict[str, list[str]], latest: str | None) -> Version:
    manifest = _read_manifest(folder)
    version = Version(folder.name, str(folder), complete=False, tags=tagged.get(folder.name, []))
    version.latest = folder.name == latest
    if manifest is None:  # a run that stopped before its manifest: when it was last written to
        stamp = dt.datetime.fromtimestamp(folder.stat().st_mtime, dt.UTC)
        version.start_time = stamp.isoformat()
        label, _, rest = folder.name.rpartition("-")
        version.label = label if rest else ""
        return version
    version.complete = bool(manifest.get("complete", True))
    version.label = (manifest.get("config") or {}).get("run_label") or ""
    version.start_time, version.end_time = manifest.get("start_time"), manifest.get("end_time")
    version.duration_seconds = _seconds(version.start_time, version.end_time)
    version.executor = manifest.get("executor")
    version.stan_engine = (manifest.get("stan_engine") or {}).get("engine")
    git = manifest.get("git") or {}
    version.git_commit, version.git_dirty = git.get("commit"), git.get("dirty")
    version.files_made, version.files_reused = _file_counts(manifest)
    return version


def version_folders(results: str | Path) -> list[Path]:
    results = Path(results)
    if not results.is_dir():
        return []
    return sorted(
        p
        for p in results.iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and p.name not in RESERVED
        and not p.name.startswith(".")
    )


def list_versions(results: str | Path, *, moved=None) -> list[Version]:
    """List every version folder, newest first.

    ``moved(previous_folder, folder)``, when given, names the headline results that moved most
    since the previous complete version of the same run label (the report's What changed gives
    it: ``bayespipe.versions_cli``), so this module needs nothing of the report.
    """
    tagged, latest = tags(results), latest_id(results)
    found = [_version(folder, tagged, latest) for folder in version_folders(results)]
    found.sort(key=lambda v: v.start_time or v.end_time or "", reverse=True)
    if moved is not None:
        _add_movements(found, moved)
    return found


def _add_movements(found: list[Version], moved) -> None:
    for index, version in enumerate(found):
        if not version.complete:
            continue
        previous = next(
            (v for v in found[index + 1 :] if v.complete and v.label == version.label), None
        )
        if previous is None:
            continue
        version.previous = previous.id
        rows = moved(Path(previous.folder), Path(version.folder))
        version.moved = [Moved(**asdict(m)) for m in rows]


def resolve(results: str | Path, ref: str | Path) -> Path:
    """A version folder from what a user typed: a path, ``latest``, a tag or a version id."""
    results = Path(results)
    for candidate in (Path(ref), results / TAGS / str(ref), results / str(ref)):
        if (candidate / MANIFEST).is_file() or (candidate.is_dir() and candidate.name != TAGS):
            folder = candidate.resolve()
            if folder.parent == results.resolve() and folder.name not in RESERVED:
                return folder
    raise InputError(
        results, f"no version, tag or version folder named '{ref}' (see `bayespipe versions`)"
    )


def version_path(ref: str) -> Path:
    """Read a version argument (argparse ``type``): a folder, or a tag, id or ``latest``.

    A path that exists is taken as it is; otherwise ``ref`` is looked up in ``./results`` (as
    ``resolve`` does), and a name found nowhere is returned as a path for the command to report.
    """
    path = Path(ref)
    if path.exists():
        return path
    try:
        return resolve(DEFAULT_RESULTS, ref)
    except InputError:
        return path


def tag(results: str | Path, ref: str | Path, name: str) -> Path:
    """Tag a complete version: ``results/tags/<name>`` links to it (moved if the name existed)."""
    if not TAG_NAME.match(name) or name in RESERVED:
        raise InputError(
            None, f"tag name '{name}': expected letters, digits, '.', '_' or '-' (at most 64)"
        )
    folder = resolve(results, ref)
    if _read_manifest(folder) is None:
        raise InputError(
            folder, "is a partial version (no manifest): only complete ones can be tagged"
        )
    link = Path(results) / TAGS / name
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("..") / folder.name)
    tmp.replace(link)
    return link


def untag(results: str | Path, name: str) -> None:
    link = Path(results) / TAGS / name
    if not link.is_symlink():
        raise InputError(link, f"no tag named '{name}'")
    link.unlink()


# --- collecting -----------------------------------------------------------------------------


@dataclass
class Collection:
    """What ``gc`` keeps and removes."""

    kept: list[str]
    removed: list[str]  # version ids
    work_files: list[str]  # work-tree files no kept version links
    freed_bytes: int

    def to_dict(self) -> dict:
        return asdict(self)


def _inodes(paths: Iterable[Path]) -> dict[tuple[int, int], int]:
    found = {}
    for path in paths:
        stat = path.lstat()
        found[(stat.st_dev, stat.st_ino)] = stat.st_size
    return found


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def _work_jobs(work: Path, root: Path) -> tuple[list[list[Path]], list[Path]]:
    """Group the work tree's files by job (outputs, record, log, benchmark).

    Also returns the files no job record claims.
    """
    jobs, claimed = [], set()
    for record_path in work.rglob(f"*{RECORD_SUFFIX}"):
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            continue
        stem = record_path.name[: -len(RECORD_SUFFIX)]
        members = [record_path, record_path.with_name(stem + ".log")]
        members.append(record_path.parent.parent / "benchmarks" / f"{stem}.tsv")
        for out in record.get("outputs", []):
            path = Path(out) if Path(out).is_absolute() else root / out
            members += _files(path) if path.is_dir() else [path]
        members = [p for p in members if p.is_file()]
        jobs.append(members)
        claimed.update(members)
    return jobs, [p for p in _files(work) if p not in claimed]


def plan_collection(
    results: str | Path, keep: int = 10, *, root: str | Path | None = None
) -> Collection:
    """Keep the newest ``keep`` complete versions, the tagged ones and ``latest``.

    The rest of the version folders (partial ones included) and the work-tree files only they
    link go.
    """
    if keep < 0:
        raise InputError(None, f"--keep {keep}: expected 0 or more")
    results = Path(results)
    root = Path(root) if root else results.resolve().parent
    versions = list_versions(results)
    complete = [v for v in versions if v.complete]
    tagged, latest = tags(results), latest_id(results)
    kept_ids = {v.id for v in complete[:keep]} | set(tagged) | ({latest} if latest else set())
    kept = [v.id for v in versions if v.id in kept_ids]
    removed = [v.id for v in versions if v.id not in kept_ids]
    kept_inodes = _inodes(f for vid in kept for f in _files(results / vid))
    work_files: list[Path] = []
    work_root = results / WORK_FOLDER
    trees = sorted(p for p in work_root.iterdir() if p.is_dir()) if work_root.is_dir() else []
    for work in trees:
        jobs, unclaimed = _work_jobs(work, root)
        groups = jobs + [[f] for f in unclaimed]
        for members in groups:
            if any(key in kept_inodes for key in _inodes(members)):
                kept_inodes.update(_inodes(members))  # a kept job keeps all its files
            else:
                work_files += members
    gone = _inodes(f for vid in removed for f in _files(results / vid))
    gone.update(_inodes(work_files))
    freed = sum(size for key, size in gone.items() if key not in kept_inodes)
    return Collection(kept, removed, sorted(str(f) for f in work_files), freed)


def collect(results: str | Path, plan: Collection) -> None:
    """Remove what ``plan`` names; empty work-tree folders go too."""
    results = Path(results)
    for vid in plan.removed:
        shutil.rmtree(results / vid)
    for path in plan.work_files:
        Path(path).unlink(missing_ok=True)
    work_root = results / WORK_FOLDER
    for folder, _, _ in sorted(os.walk(work_root), key=lambda item: -len(item[0])):
        if Path(folder) != work_root and not any(Path(folder).iterdir()):
            Path(folder).rmdir()

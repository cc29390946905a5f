"""What changed since the previous complete version: ``bayespipe diff`` plus headline movements.

The report is written before its own version's manifest exists (the manifest is written when the
run completes), so the current version is staged for ``diff_versions`` as a temporary folder: a
manifest built from what the run knows (config, code, data, software, its output files with
their hashes) and links to the analysis folders of the work tree.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bayespipe.audit.diff import VersionDiff, diff_versions
from bayespipe.io import sha256_file
from bayespipe.provenance import MANIFEST
from bayespipe.report.headline import Headline, headlines
from bayespipe.versioning import complete_versions
from bayespipe.versions import tags

SKIPPED_PARTS = {"logs", "benchmarks"}
PAGE = "report/index.html"


@dataclass
class Movement:
    """One headline result in the previous and in this version."""

    result: str
    before: float | None
    after: float | None
    verdict_before: str
    verdict_after: str

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass
class Changes:
    previous: str  # version id compared against
    diff: VersionDiff
    movements: list[Movement] = field(default_factory=list)
    previous_tags: list[str] = field(default_factory=list)  # `bayespipe tag` names of previous


def previous_version(
    results_dir: str | Path, current: str, label: str = ""
) -> tuple[Path, dict] | None:
    """The newest complete version other than ``current`` with the same run label.

    A label is one line of runs, with its own work tree; another label's runs are other experiments.
    """
    for folder, manifest in complete_versions(results_dir):
        same_label = (manifest.get("config", {}).get("run_label") or "") == label
        if same_label and current not in (folder.name, manifest.get("version")):
            return folder, manifest
    return None


def staged_manifest(
    version_dir: Path, run: dict, files: list[str], pending: tuple[str, ...] = (PAGE,)
) -> dict:
    """The parts of a manifest that ``diff_versions`` compares, for a version still running.

    ``pending`` outputs are being written (this page): listed, with no hash yet.
    """
    outputs = [
        f
        for f in files
        if not set(Path(f).parts) & SKIPPED_PARTS
        and not f.endswith(".job.json")
        and (version_dir / f).is_file()
    ]
    entries = [
        {"path": rel, "sha256": sha256_file(version_dir / rel), "kind": "output"}
        for rel in outputs
        if rel not in pending
    ]
    entries += [{"path": rel, "sha256": None, "kind": "output"} for rel in pending]
    return {
        "version": run["version"],
        **{key: run.get(key, {}) for key in ("config", "code", "data", "software", "stan_engine")},
        "files": entries,
    }


def _stage(staging: Path, version_dir: Path, manifest: dict) -> Path:
    folder = staging / manifest["version"]
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text(json.dumps(manifest, default=str))
    for top in {Path(f["path"]).parts[0] for f in manifest["files"]}:
        (folder / top).symlink_to((version_dir / top).resolve(), target_is_directory=True)
    return folder


def movements(before: list[Headline], after: list[Headline]) -> list[Movement]:
    """Headline results whose value or verdict moved between two versions."""
    old = {h.id: h for h in before}
    moved = []
    for row in after:
        prior = old.get(row.id)
        if prior is None or (prior.value, prior.text, prior.verdict) == (
            row.value,
            row.text,
            row.verdict,
        ):
            continue
        moved.append(Movement(row.result, prior.value, row.value, prior.verdict, row.verdict))
    return moved


def headline_movements(previous_dir: str | Path, version_dir: str | Path) -> list[Movement]:
    """Headline results that moved between two complete versions (``bayespipe versions``)."""
    pair = []
    for folder in (Path(previous_dir), Path(version_dir)):
        manifest = json.loads((folder / MANIFEST).read_text())
        pair.append(headlines(folder, manifest.get("config", {})))
    return movements(*pair)


def largest(moved: list[Movement], count: int) -> list[Movement]:
    """Pick the ``count`` movements that matter most.

    A changed verdict first, then the largest relative change (a value that appeared or vanished
    counts as infinite).
    """

    def size(move: Movement) -> tuple[bool, float]:
        if move.delta is None:
            relative = math.inf
        else:
            relative = abs(move.delta) / max(abs(move.before or 0.0), 1e-12)
        return move.verdict_before != move.verdict_after, relative

    return sorted(moved, key=size, reverse=True)[:count]


def changes_since_previous(
    version_dir: str | Path,
    results_dir: str | Path,
    run: dict,
    files: list[str],
    current: list[Headline],
) -> Changes | None:
    """The diff against the previous complete version, or None when there is none.

    ``files`` are this version's files (relative to ``version_dir``); when ``version_dir`` is
    itself complete, its own manifest is used instead.
    """
    version_dir = Path(version_dir)
    found = previous_version(results_dir, run["version"], run["config"].get("run_label") or "")
    if found is None:
        return None
    previous_dir, previous = found
    if (version_dir / MANIFEST).is_file():
        diff = diff_versions(previous_dir, version_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="bayespipe-report-") as staging:
            staged = _stage(Path(staging), version_dir, staged_manifest(version_dir, run, files))
            diff = diff_versions(previous_dir, staged)
    before = headlines(previous_dir, previous.get("config", {}))
    return Changes(
        previous.get("version", previous_dir.name),
        diff,
        movements(before, current),
        tags(results_dir).get(previous_dir.name, []),
    )

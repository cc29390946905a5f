"""Version ids: short digests of everything that determines results, and reuse across versions.

The version id covers the resolved config, the code (``Snakefile``, ``workflow/``, ``stan/``),
the raw input data and the software versions. Each analysis also gets its own digest over the
parts it depends on, so a version that changes one analysis hard-links the others' results from
an earlier complete version instead of recomputing them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from bayespipe.catalog import ANALYSES, CORE_CODE, Analysis
from bayespipe.io import HashCache

CODE_ROOTS = ("Snakefile", "workflow", "stan")
IGNORED_PARTS = {"__pycache__", ".pytest_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}
DIGEST_LENGTH = 12


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def _is_code_file(path: Path) -> bool:
    return path.is_file() and not (set(path.parts) & IGNORED_PARTS) and path.suffix not in IGNORED_SUFFIXES


def code_files(root: Path) -> list[str]:
    """Every file under the code roots, as sorted paths relative to ``root``."""
    files = []
    for entry in CODE_ROOTS:
        path = root / entry
        candidates = [path] if path.is_file() else path.rglob("*")
        files += [str(p.relative_to(root)) for p in candidates if _is_code_file(p)]
    return sorted(files)


def _matching(files: Iterable[str], patterns: Iterable[str]) -> list[str]:
    from fnmatch import fnmatch

    patterns = list(patterns)
    # fnmatch's '*' crosses '/', so '**/' needs no special case; keep 'dir/*.py' from matching subfolders.
    def matches(path: str, pattern: str) -> bool:
        if "**" in pattern:
            return fnmatch(path, pattern.replace("**/", "*"))
        return fnmatch(path, pattern) and path.count("/") == pattern.count("/")

    return sorted(f for f in files if any(matches(f, p) for p in patterns))


def _lookup(config: dict, dotted: str) -> Any:
    value: Any = config
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def data_fingerprints(root: Path, config: dict, keys: Iterable[str], hashes: HashCache) -> dict:
    """sha256 of every raw input file named by the given dotted config keys (files or folders)."""
    prints = {}
    for key in keys:
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
    analysis_digests: dict[str, str]
    code: dict[str, str]
    data: dict[str, Any]
    software: dict[str, Any]
    engines: dict[str, Any] = field(default_factory=dict)


def compute_version(
    root: str | Path,
    config: dict,
    software: dict,
    engines: dict | None = None,
    hash_cache: str | Path | None = None,
) -> VersionInfo:
    """The version id of a run and one digest per analysis.

    ``engines`` holds resolved choices that config alone does not determine (e.g. 'auto' Stan
    engine resolved to PyStan), so the same config on a machine with CmdStan gets another id.
    """
    root = Path(root)
    hashes = HashCache(hash_cache)
    files = code_files(root)
    code = {f: hashes.sha256(root / f) for f in files}
    all_data_keys = sorted({k for a in ANALYSES.values() for k in a.data_keys})
    data = data_fingerprints(root, config, all_data_keys, hashes)
    hashes.save()
    engines = engines or {}

    whole = digest({"config": config, "code": code, "data": data, "software": software, "engines": engines})
    label = config.get("run_label") or ""
    version_id = f"{label}-{whole[:DIGEST_LENGTH]}" if label else whole[:DIGEST_LENGTH]

    per_analysis = {
        name: analysis_digest(analysis, config, code, data, software, engines)
        for name, analysis in ANALYSES.items()
    }
    return VersionInfo(version_id, whole, per_analysis, code, data, software, engines)


def analysis_digest(
    analysis: Analysis, config: dict, code: dict, data: dict, software: dict, engines: dict
) -> str:
    files = _matching(code, (*CORE_CODE, *analysis.code))
    return digest(
        {
            "analysis": analysis.name,
            "config": {s: config.get(s) for s in analysis.config_sections},
            "code": {f: code[f] for f in files},
            "data": {k: data.get(k) for k in analysis.data_keys},
            "software": software,
            "engines": engines,
        }
    )


def complete_versions(results_dir: str | Path) -> list[tuple[Path, dict]]:
    """(folder, manifest) of every complete version, newest first."""
    found = []
    for manifest_path in Path(results_dir).glob("*/manifest.json"):
        if manifest_path.parent.is_symlink():
            continue
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        found.append((manifest_path.parent, manifest))
    found.sort(key=lambda item: item[1].get("end_time", ""), reverse=True)
    return found


def link_tree(source: Path, target: Path) -> int:
    """Hard-link every file of ``source`` into ``target`` (same layout); returns the file count."""
    count = 0
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, destination)
            except OSError:  # another file system: fall back to a copy
                import shutil

                shutil.copy2(path, destination)
            count += 1
    return count


def reuse_analyses(results_dir: str | Path, version: VersionInfo, wanted: Iterable[str]) -> dict[str, str]:
    """Link each wanted analysis whose digest matches an earlier complete version.

    Returns {analysis: source version id}. Analyses already present in the new folder are left
    alone, so a rerun of the same version never touches its own results.
    """
    results_dir = Path(results_dir)
    target_root = results_dir / version.id
    reused = {}
    candidates = complete_versions(results_dir)
    for name in wanted:
        if (target_root / name).exists():
            continue
        for folder, manifest in candidates:
            if folder.name == version.id:
                continue
            if manifest.get("analysis_digests", {}).get(name) != version.analysis_digests[name]:
                continue
            if not (folder / name).is_dir():
                continue
            link_tree(folder / name, target_root / name)
            reused[name] = folder.name
            break
    return reused


def update_latest(results_dir: str | Path, version_id: str) -> None:
    """Point ``results/latest`` (a relative symlink) at ``version_id``, atomically."""
    results_dir = Path(results_dir)
    tmp = results_dir / f".latest.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(version_id)
    os.replace(tmp, results_dir / "latest")

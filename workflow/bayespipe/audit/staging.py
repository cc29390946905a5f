"""The scratch checkout ``reproduce`` runs in: the recorded code and config, the raw inputs.

Every code file is copied from wherever ``recorded_code.locate_code`` found it: the manifest's
``code`` lists only the files the version id covers, and the run also needs the rest (the conda
environment, report captions). The recorded (complete) config becomes ``config/config.yaml``;
raw inputs are symlinked from the original workflow folder and their sha256 checked against the
job records.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from bayespipe.audit.compare import flatten
from bayespipe.catalog import ANALYSES
from bayespipe.io import sha256_file
from bayespipe.versioning import code_files


def stage_checkout(code_dir: Path, manifest: dict, source: Path, checkout: Path) -> list[str]:
    """Fill ``checkout``; returns problems with the raw inputs (missing or changed)."""
    copy_code(code_dir, manifest["code"], checkout)
    write_config(manifest, checkout)
    return link_raw_inputs(manifest, source, checkout)


def copy_code(source: Path, code: dict[str, str], target: Path) -> None:
    for rel in sorted(set(code) | set(code_files(source))):
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, destination)


def run_config(manifest: dict) -> dict:
    """The recorded config, its results folder kept inside the scratch checkout."""
    config = dict(manifest["config"])
    if Path(config.get("results_dir", "results")).is_absolute():
        config["results_dir"] = "results"  # never write into the original results folder
    return config


def write_config(manifest: dict, checkout: Path) -> None:
    (checkout / "config").mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(run_config(manifest), sort_keys=True)
    (checkout / "config" / "config.yaml").write_text(text)


def raw_paths(manifest: dict) -> list[str]:
    """Relative paths of raw inputs: the data keys of the config and the jobs' outside inputs."""
    from bayespipe.audit.lineage import path_in_version
    from bayespipe.versioning import expand_keys

    config = flatten(manifest.get("config", {}))
    paths = []
    keys = {k for a in ANALYSES.values() for k in a.data_keys}
    for key in sorted(expand_keys(manifest.get("config", {}), keys)):
        value = config.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            paths.append(value)
    for job in manifest.get("jobs", []):
        for item in job.get("inputs", []):
            path = item["path"]
            if path_in_version(path, manifest) is None and not Path(path).is_absolute():
                paths.append(path)
    return sorted(set(paths))


def link_raw_inputs(manifest: dict, source: Path, target: Path) -> list[str]:
    """Symlink raw inputs into the scratch checkout; returns problems (missing, changed)."""
    problems = []
    root = target.parent.parent  # the scratch folder: relative paths may climb two levels
    raw = raw_paths(manifest)
    for rel in raw:
        origin = (source / rel).resolve()
        link = Path(os.path.normpath(target / rel))
        if not origin.exists():
            problems.append(f"raw input {rel} is missing under {source}")
            continue
        if not str(link).startswith(str(root)):
            problems.append(f"raw input {rel} lies outside what the scratch checkout can mirror")
            continue
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(origin)
    recorded = {
        (i["path"], i["sha256"]) for job in manifest.get("jobs", []) for i in job.get("inputs", [])
    }
    for rel, sha in sorted(recorded):
        full = target / rel
        if rel in raw and full.is_file() and sha256_file(full) != sha:
            problems.append(f"raw input {rel} changed since the run (sha256 differs)")
    return problems

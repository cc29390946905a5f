"""Version ids: stable under no change, changed by each kind of change; work-tree snapshots."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from bayespipe import versioning
from bayespipe.config import validate_config
from bayespipe.io import sha256_file, write_json
from conftest import copy_repo

SOFTWARE = {"python": "3.11.7", "pandas": "3.1.1"}


@pytest.fixture
def repo(tmp_path) -> Path:
    return copy_repo(tmp_path / "repo")


def version(
    repo: Path, config: dict | None = None, software: dict | None = None
) -> versioning.VersionInfo:
    """The id as the Snakefile computes it, with every code file counted as used."""
    config = validate_config(copy.deepcopy(config) if config else {})
    code = {f: sha256_file(repo / f) for f in versioning.code_files(repo)}
    return versioning.compute_version(repo, config, software or SOFTWARE, code)


def test_same_inputs_same_version(repo):
    assert version(repo).id == version(repo).id


def test_config_change_changes_version(repo):
    assert version(repo, {"tadpoles": {"sampler": {"seed": 1}}}).id != version(repo).id


def test_code_change_changes_version(repo):
    before = version(repo)
    script = repo / "workflow" / "scripts" / "reedfrogs_prepare.py"
    script.write_text(script.read_text() + "\n# a comment\n")
    assert version(repo).id != before.id


def test_stan_program_change_changes_version(repo):
    before = version(repo)
    (repo / "stan").mkdir(exist_ok=True)
    (repo / "stan" / "extra.stan").write_text(
        "parameters { real x; }\nmodel { x ~ std_normal(); }\n"
    )
    assert version(repo).id != before.id


def test_data_change_changes_version(repo):
    before = version(repo)
    data = repo / "data" / "reedfrogs.csv"
    data.write_text(data.read_text().replace("10,no,big,9,0.9", "10,no,big,8,0.8", 1))
    assert version(repo).id != before.id


def test_software_change_changes_version(repo):
    assert version(repo, software={**SOFTWARE, "pandas": "9.9"}).id != version(repo).id


def test_touching_without_change_keeps_version(repo):
    before = version(repo)
    os.utime(repo / "data" / "reedfrogs.csv", None)
    os.utime(repo / "Snakefile", None)
    assert version(repo).id == before.id


def test_run_label_prefixes_id(repo):
    labelled = version(repo, {"run_label": "trial"})
    assert (
        labelled.id.startswith("trial-")
        and len(labelled.id) == len("trial-") + versioning.DIGEST_LENGTH
    )


def test_egg_info_is_not_code(repo):
    egg = repo / "workflow" / "bayespipe.egg-info"
    egg.mkdir(exist_ok=True)
    (egg / "PKG-INFO").write_text("Name: bayespipe\n")
    assert not [f for f in versioning.code_files(repo) if "egg-info" in f]


def _job(work: Path, analysis: str, job: str, inputs: list[str], outputs: list[str]) -> None:
    for rel in outputs:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(rel)
    logs = work / analysis / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{job}.log").write_text("log")
    bench = work / analysis / "benchmarks"
    bench.mkdir(parents=True, exist_ok=True)
    (bench / f"{job}.tsv").write_text("s\n1\n")
    write_json(
        logs / f"{job}.job.json",
        {
            "rule": job,
            "outputs": [str(work / o) for o in outputs],
            "inputs": {str(work / i): "x" for i in inputs},
            "log": [str(logs / f"{job}.log")],
        },
    )


def test_snapshot_takes_what_the_targets_were_made_from(tmp_path):
    work = tmp_path / "results" / ".work" / "default"
    _job(work, "a", "prepare", [], ["a/data.csv"])
    _job(work, "a", "fit", ["a/data.csv"], ["a/fit.json"])
    _job(work, "b", "stale", [], ["b/old.json"])  # in the work tree from an earlier run only
    version = tmp_path / "results" / "v1"
    count = versioning.snapshot(work, version, [str(work / "a/fit.json")])
    files = sorted(str(p.relative_to(version)) for p in version.rglob("*") if p.is_file())
    assert files == [
        "a/benchmarks/fit.tsv",
        "a/benchmarks/prepare.tsv",
        "a/data.csv",
        "a/fit.json",
        "a/logs/fit.job.json",
        "a/logs/fit.log",
        "a/logs/prepare.job.json",
        "a/logs/prepare.log",
    ]
    assert count == len(files)
    assert (version / "a/fit.json").stat().st_ino == (work / "a/fit.json").stat().st_ino
    # Snakemake rewrites benchmark files in place: a version gets its own copy.
    assert (version / "a/benchmarks/fit.tsv").stat().st_ino != (
        work / "a/benchmarks/fit.tsv"
    ).stat().st_ino


def test_snapshot_never_touches_raw_inputs_outside_the_work_tree(tmp_path):
    raw = tmp_path / "kaggle" / "properties_2016.csv"
    raw.parent.mkdir()
    raw.write_text("parcelid\n1\n")
    work = tmp_path / "results" / ".work" / "default"
    _job(work, "z", "merge", [], ["z/merged.parquet"])
    record = work / "z" / "logs" / "merge.job.json"
    data = __import__("json").loads(record.read_text())
    data["inputs"] = {str(raw): "x", "data/relative.csv": "y"}  # absolute and relative raw inputs
    write_json(record, data)
    version = tmp_path / "results" / "v1"
    versioning.snapshot(work, version, [str(work / "z/merged.parquet")])
    assert raw.read_text() == "parcelid\n1\n"
    assert not list(version.rglob("properties_2016.csv"))


def test_work_dir_is_per_run_label():
    assert versioning.work_dir("results", {"run_label": "test"}) == "results/.work/test"
    assert versioning.work_dir("results", {"run_label": ""}) == "results/.work/default"


def test_partial_and_unreadable_versions_are_not_complete(tmp_path):
    def version(name, manifest_text):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(manifest_text)

    version("old", json.dumps({"end_time": "2026-01-01"}))
    version("new", json.dumps({"end_time": "2026-02-01", "complete": True}))
    version("partial", json.dumps({"end_time": "2026-03-01", "complete": False}))
    version("broken", "{not json")
    (tmp_path / "latest").symlink_to("new")
    assert [folder.name for folder, _ in versioning.complete_versions(tmp_path)] == ["new", "old"]
    assert versioning.is_complete(tmp_path, "old") and versioning.is_complete(tmp_path, "new")
    for name in ("partial", "broken", "absent"):
        assert not versioning.is_complete(tmp_path, name)

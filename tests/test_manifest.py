"""The provenance manifest of a complete run."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from conftest import version_dir_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def manifest(test_run) -> dict:
    return json.loads((version_dir_of(test_run) / "manifest.json").read_text())


def test_run_metadata(manifest, test_run):
    version = version_dir_of(test_run)
    assert manifest["version"] == version.name
    assert manifest["executor"] == "local"
    assert manifest["start_time"] <= manifest["end_time"]
    assert any("snakemake" in part for part in manifest["command_line"])
    assert manifest["config"]["run_label"] == "test"
    assert manifest["host"]["cores"] >= 1 and manifest["host"]["cpu_model"]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=test_run, capture_output=True, text=True
    ).stdout.strip()
    assert manifest["git"] == {"commit": head, "dirty": False}


def test_software_versions(manifest):
    software = manifest["software"]
    for name in (
        "python",
        "snakemake",
        "cmdstanpy",
        "pystan",
        "httpstan",
        "tensorflow",
        "tensorflow-probability",
        "tf-keras",
        "numpy",
        "pandas",
        "arviz",
        "matplotlib",
    ):
        assert software.get(name), f"no version recorded for {name}"
    assert manifest["stan_engine"]["engine"] in ("cmdstanpy", "pystan")


def test_every_file_is_listed_with_its_hash(manifest, test_run):
    version = version_dir_of(test_run)
    from bayespipe.provenance import is_metadata_file

    on_disk = {
        str(p.relative_to(version))
        for p in version.rglob("*")
        if p.is_file() and not is_metadata_file(p.relative_to(version))
    }
    listed = {f["path"]: f for f in manifest["files"]}
    assert on_disk <= set(listed)
    for rel in on_disk:
        assert listed[rel]["sha256"] == hashlib.sha256((version / rel).read_bytes()).hexdigest()
        assert listed[rel]["size"] == (version / rel).stat().st_size


def test_outputs_name_their_job(manifest, test_run):
    outputs = [f for f in manifest["files"] if f["kind"] == "output"]
    assert outputs
    for entry in outputs:
        assert entry["rule"]
        assert entry["log"] and entry["benchmark"]
        assert entry["script"]["path"].startswith("workflow/scripts/")
        script = test_run / entry["script"]["path"]
        assert entry["script"]["sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
        for item in entry["inputs"]:
            assert len(item["sha256"]) == 64


def test_reedfrog_table_provenance(manifest):
    entry = next(f for f in manifest["files"] if f["path"] == "tadpoles/data/reedfrogs.parquet")
    assert entry["rule"] == "reedfrogs_prepare"
    assert [i["path"] for i in entry["inputs"]] == ["data/reedfrogs.csv"]
    assert entry["log"] == "tadpoles/logs/reedfrogs_prepare.log"
    assert entry["benchmark"] == "tadpoles/benchmarks/reedfrogs_prepare.tsv"


def test_every_job_has_log_and_benchmark(manifest):
    for job in manifest["jobs"]:
        assert job["log"] and job["benchmark"], job["rule"]

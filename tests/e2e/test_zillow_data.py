"""Zillow data stage end to end: Snakemake on config/test.yaml, synthetic and Kaggle sources.

Only the data-stage rules are targeted (the model rules of the analysis are tested elsewhere).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bayespipe.analyses.zillow import kaggle, synthetic
from conftest import TEST_CONFIG, run_snakemake, version_dir_of, work_dir_of

pytestmark = pytest.mark.e2e

DATA_TARGETS = ("zillow_data_card", "zillow_missing_table")
PREPARED = (
    "train.parquet",
    "validation.parquet",
    "missing.parquet",
    "predictors.json",
    "zip_groups.parquet",
    "data_card.json",
    "data_card.md",
)


def write_config(workdir: Path, **zillow) -> str:
    config = yaml.safe_load((workdir / TEST_CONFIG).read_text())
    config["analyses"] = ["zillow"]
    config["report"] = False
    config.setdefault("zillow", {}).update(zillow)
    path = workdir / "config" / "zillow-e2e.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path.relative_to(workdir))


def manifest_paths(version: Path) -> set[str]:
    manifest = json.loads((version / "manifest.json").read_text())
    return {entry["path"] for entry in manifest["files"]}


def test_synthetic_source_end_to_end(repo_copy):
    config = write_config(repo_copy)
    run_snakemake(repo_copy, *DATA_TARGETS, "zillow_truth", "--configfile", config)
    version = version_dir_of(repo_copy)
    data = version / "zillow" / "data"
    listed = manifest_paths(version)
    for name in (*PREPARED, "truth.json", "raw/train_2016_v2.csv", "raw/properties_2016.csv"):
        assert (data / name).is_file(), name
        assert f"zillow/data/{name}" in listed, name
    card = json.loads((data / "data_card.json").read_text())
    assert card["source"] == "synthetic" and card["truth"]["sigma"] == synthetic.Truth().sigma
    assert [s["rows"] for s in card["stages"]][:2] == [1500, 3000]
    for rule in ("zillow_synthetic", "zillow_merge", "zillow_split", "zillow_data_card"):
        assert (version / "zillow" / "logs" / f"{rule}.job.json").is_file()
        assert (version / "zillow" / "benchmarks" / f"{rule}.tsv").is_file()


def test_kaggle_source_end_to_end(repo_copy, tmp_path):
    kaggle_dir = tmp_path / "kaggle"
    kaggle_dir.mkdir()
    synthetic.generate(
        3,
        2000,
        800,
        20,
        kaggle_dir / kaggle.TRANSACTIONS_FILE,
        kaggle_dir / kaggle.PROPERTIES_FILE,
        tmp_path / "truth.json",
    )
    config = write_config(repo_copy, source="kaggle", kaggle_dir=str(kaggle_dir))
    run_snakemake(repo_copy, *DATA_TARGETS, "--configfile", config)
    data = version_dir_of(repo_copy) / "zillow" / "data"
    for name in PREPARED:
        assert (data / name).is_file(), name
    assert (
        not (data / "raw").exists() and not (data / "truth.json").exists()
    )  # read in place, no truth
    card = json.loads((data / "data_card.json").read_text())
    assert card["source"] == "kaggle" and card["truth"] is None
    assert card["raw_files"]["properties"] == str(kaggle_dir / kaggle.PROPERTIES_FILE)
    assert len(pd.read_parquet(data / "train.parquet")) > 250


def test_kaggle_source_bad_input_fails_cleanly(repo_copy, tmp_path):
    kaggle_dir = tmp_path / "kaggle"
    kaggle_dir.mkdir()
    config = write_config(repo_copy, source="kaggle", kaggle_dir=str(kaggle_dir))
    result = run_snakemake(repo_copy, *DATA_TARGETS, "--configfile", config, check=False)
    assert result.returncode != 0
    assert f"{kaggle_dir / kaggle.TRANSACTIONS_FILE}: file not found" in result.stdout

    synthetic.generate(
        3,
        600,
        200,
        8,
        kaggle_dir / kaggle.TRANSACTIONS_FILE,
        kaggle_dir / kaggle.PROPERTIES_FILE,
        tmp_path / "truth.json",
    )
    transactions = kaggle_dir / kaggle.TRANSACTIONS_FILE
    lines = transactions.read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",n/a," + lines[5].split(",")[2]
    transactions.write_text("\n".join(lines) + "\n")
    result = run_snakemake(repo_copy, *DATA_TARGETS, "--configfile", config, check=False)
    assert result.returncode != 0
    version = work_dir_of(repo_copy)  # a failed run writes no version folder
    log = (version / "zillow" / "logs" / "zillow_merge.log").read_text()
    assert "column 'logerror'" in log and "'n/a'" in log
    assert not list((version / "zillow" / "data").glob("merge*"))  # no partial outputs

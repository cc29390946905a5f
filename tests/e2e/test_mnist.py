"""Snakemake end to end for the Bayesian LeNet (analysis D2) on the tiny config/test.yaml."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from conftest import TEST_CONFIG, run_snakemake, version_dir_of, work_dir_of

MNIST_ONLY = (
    "--config",
    "analyses=[mnist]",
    "report=False",
)  # False: Snakemake 9 reads "false" as a string


@pytest.mark.e2e
def test_mnist_rules_produce_metrics_figures_and_manifest(repo_copy):
    run_snakemake(repo_copy, "--configfile", TEST_CONFIG, *MNIST_ONLY)
    version = version_dir_of(repo_copy)
    settings = yaml.safe_load((repo_copy / TEST_CONFIG).read_text())["mnist"]

    train = json.loads((version / "mnist/train/metrics.json").read_text())
    assert train["steps"] == settings["steps"] and train["n_train"] == settings["n_train"]
    assert math.isfinite(train["heldout_log_prob"]) and 0 <= train["heldout_accuracy"] <= 1
    ood = json.loads((version / "mnist/ood/metrics.json").read_text())
    assert math.isfinite(ood["auroc"]) and ood["n_noise"] == settings["n_noise"]

    record = json.loads((version / "mnist/logs/mnist_train.job.json").read_text())
    assert record["extra"]["device"]["device"] in ("cpu", "gpu")
    assert record["threads"] >= 1

    manifest = json.loads((version / "manifest.json").read_text())
    listed = {f["path"]: f["rule"] for f in manifest["files"]}
    steps = sorted(
        {
            *range(settings["viz_steps"], settings["steps"] + 1, settings["viz_steps"]),
            settings["steps"],
        }
    )
    expected = {
        "mnist/data/mnist_split.npz": "mnist_prepare",
        "mnist/train/lenet.weights.h5": "mnist_train",
        "mnist/train/history.csv": "mnist_train",
        "mnist/train/evaluations.csv": "mnist_train",
        "mnist/train/figures/history.png": "mnist_train",
        "mnist/ood/metrics.json": "mnist_ood",
        "mnist/ood/scores.csv": "mnist_ood",
        "mnist/ood/noise.png": "mnist_ood",
        **{
            f"mnist/train/figures/{kind}_step{s:05d}.png": "mnist_train"
            for s in steps
            for kind in ("weights", "heldout")
        },
    }
    for path, rule in expected.items():
        assert listed.get(path) == rule, path


@pytest.mark.e2e
def test_a_bad_npz_source_fails_clearly_and_leaves_nothing(repo_copy):
    bad = repo_copy / "bad-mnist.npz"
    with bad.open("wb") as handle:  # labels 0..10: one out of range
        np.savez(
            handle,
            x_train=np.zeros((22, 28, 28), np.uint8),
            y_train=np.arange(22, dtype=np.uint8) % 11,
            x_test=np.zeros((20, 28, 28), np.uint8),
            y_test=np.arange(20, dtype=np.uint8) % 10,
        )
    config = yaml.safe_load((repo_copy / TEST_CONFIG).read_text())
    config["mnist"].update(source="npz", npz_path=str(bad), n_train=20, n_heldout=10)
    (repo_copy / "config/bad-mnist.yaml").write_text(yaml.safe_dump(config))

    result = run_snakemake(
        repo_copy, "--configfile", "config/bad-mnist.yaml", *MNIST_ONLY, check=False
    )
    assert result.returncode != 0
    logs = list(work_dir_of(repo_copy).glob("mnist/logs/mnist_prepare.log"))
    assert len(logs) == 1
    assert (
        "bad-mnist.npz, row 10, column 'y_train': expected labels 0..9, got 10"
        in logs[0].read_text()
    )
    assert not list(work_dir_of(repo_copy).glob("mnist/data/*"))
    assert not list(work_dir_of(repo_copy).glob("mnist/train"))

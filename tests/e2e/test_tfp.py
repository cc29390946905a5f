"""Snakemake end to end for the TFP networks on config/test.yaml.

Moons, sinusoid and the Zillow network with random effects (its data stage included, the Stan fits
left out).
"""

from __future__ import annotations

import json

import pytest

from conftest import TEST_CONFIG, run_snakemake, version_dir_of, work_dir_of

TFP_RULES = (
    "moons_summary",
    "moons_figures",
    "sinusoid_summary",
    "sinusoid_figure",
    "zillow_network_residuals",
)


@pytest.mark.e2e
def test_tfp_rules_write_metrics_figures_and_the_manifest(repo_copy):
    run_snakemake(
        repo_copy,
        "--configfile",
        TEST_CONFIG,
        "--config",
        "analyses=[moons,sinusoid,zillow]",
        "report=False",
        "--until",
        *TFP_RULES,
    )
    version = version_dir_of(repo_copy)
    for variant in ("full_batch", "minibatch"):
        metrics = json.loads((version / f"moons/{variant}/metrics.json").read_text())
        assert metrics["test_accuracy"] >= 0.90, variant
    for variant in ("epistemic", "aleatoric"):
        assert (
            json.loads((version / f"sinusoid/{variant}/metrics.json").read_text())["band_ratio"]
            > 1.0
        )
    heldout = json.loads((version / "zillow/network/heldout_metrics.json").read_text())
    assert heldout["model"] == "network" and heldout["mae"] > 0

    record = json.loads((version / "moons/logs/moons_fit_full_batch.job.json").read_text())
    assert record["extra"]["device"]["device"] in ("cpu", "gpu") and record["threads"] >= 1
    log = (version / "sinusoid/logs/sinusoid_fit_epistemic.log").read_text()
    assert "sinusoid epistemic step 300/300" in log  # training progress in the rule's log

    listed = {
        f["path"]: f["rule"] for f in json.loads((version / "manifest.json").read_text())["files"]
    }
    expected = {
        "moons/moons_metrics.csv": "moons_summary",
        "moons/full_batch/figures/grid_sd.png": "moons_figures",
        "moons/minibatch/figures/elbo.png": "moons_figures",
        "moons/minibatch/history.csv": "moons_fit",
        "sinusoid/sinusoid_metrics.csv": "sinusoid_summary",
        "sinusoid/aleatoric/figures/band.png": "sinusoid_figure",
        "zillow/network/heldout_metrics.json": "zillow_network_fit",
        "zillow/network/figures/residuals.png": "zillow_network_residuals",
    }
    for path, rule in expected.items():
        assert listed.get(path) == rule, path


@pytest.mark.e2e
def test_asking_for_a_missing_gpu_fails_naming_tfp_device(repo_copy):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU: tfp.device=gpu succeeds here")
    result = run_snakemake(
        repo_copy,
        "--configfile",
        TEST_CONFIG,
        "--config",
        "analyses=[moons]",
        "report=False",
        "tfp={device: gpu}",
        "--until",
        "moons_fit",
        check=False,
    )
    assert result.returncode != 0
    version = work_dir_of(repo_copy)  # a failed run writes no version folder
    logs = [path.read_text() for path in (version / "moons/logs").glob("moons_fit_*.log")]
    assert logs, result.stdout[-3000:]
    assert all("tfp.device" in log and "no GPU" in log for log in logs)
    assert not list(version.glob("moons/*/metrics.json"))  # no partial outputs

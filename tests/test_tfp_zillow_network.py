"""Analysis A, the network with random effects, on a small prepared frame.

Analysis A, the network with random effects (bayespipe.analyses.zillow.network), on a small frame
laid out as the prepared Zillow data (train/validation parquet, predictors.json).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayespipe.analyses.zillow import network as zillow_network
from bayespipe.errors import InputError

TFP_CPU = {"device": "cpu", "deterministic": True, "threads": 2}
SETTINGS = {
    "enabled": True,
    "hidden_units": 5,
    "l2": 0.001,
    "learning_rate": 0.01,
    "iterations": 200,
    "batch_size": None,
    "bayesian_layers": False,
    "seed": 7,
    "predictive_draws": 50,
}
PREDICTORS = ["calculatedfinishedsquarefeet", "yearbuilt"]
SIGMA, SIGMA_ZIP, N_ZIPS = 0.1, 0.08, 20
OUTPUT_FILES = {
    "heldout": "heldout_metrics.json",
    "metrics": "metrics.json",
    "history": "history.csv",
    "predictions": "predictions.parquet",
    "zip_intercepts": "zips.parquet",
}


def frame(rng, n, zip_effects, unseen_fraction=0.0):
    x = rng.normal(size=(n, 2))
    zips = rng.integers(1, N_ZIPS + 1, size=n)
    y = (
        0.02
        + 0.05 * x[:, 0]
        + 0.06 * (x[:, 1] ** 2 - 1)
        + zip_effects[zips - 1]
        + rng.normal(0, SIGMA, n)
    )
    if unseen_fraction:
        zips[: int(n * unseen_fraction)] = 0  # zips never seen in training
    return pd.DataFrame(
        {
            "parcelid": np.arange(n, dtype="int64"),
            "logerror": y,
            PREDICTORS[0]: x[:, 0],
            PREDICTORS[1]: x[:, 1],
            "regionidzip": (96000 + zips).astype("int64"),
            "zip_index": zips.astype("int64"),
            "zip_seen": zips > 0,
        }
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zillow")
    rng = np.random.default_rng(0)
    zip_effects = rng.normal(0, SIGMA_ZIP, N_ZIPS)
    frame(rng, 2000, zip_effects).to_parquet(folder / "train.parquet")
    frame(rng, 1000, zip_effects, unseen_fraction=0.05).to_parquet(folder / "validation.parquet")
    (folder / "predictors.json").write_text(
        json.dumps({"predictors": PREDICTORS, "n_groups": N_ZIPS})
    )
    return folder


def fit(prepared, folder, settings=SETTINGS):
    outputs = {key: folder / name for key, name in OUTPUT_FILES.items()}
    heldout, device = zillow_network.fit(
        settings,
        TFP_CPU,
        prepared / "train.parquet",
        prepared / "validation.parquet",
        prepared / "predictors.json",
        outputs,
    )
    return heldout, outputs


def test_network_beats_the_mean_and_writes_the_comparison_metrics(prepared, tmp_path):
    heldout, outputs = fit(prepared, tmp_path)
    assert {"model", "mae", "rmse", "mlpd", "n_validation"} <= set(heldout)
    assert (
        heldout["model"] == "network"
        and heldout["n_validation"] == 1000
        and heldout["n_unseen_zip"] == 50
    )
    validation = pd.read_parquet(prepared / "validation.parquet")
    baseline_mae = np.abs(validation["logerror"] - validation["logerror"].mean()).mean()
    assert heldout["mae"] < 0.9 * baseline_mae
    assert np.isfinite(heldout["mlpd"]) and heldout["mlpd"] > 0  # sigma 0.1: densities above 1
    metrics = json.loads(outputs["metrics"].read_text())
    assert metrics["sigma"] == pytest.approx(SIGMA, rel=0.3)
    assert metrics["device"]["device"] == "cpu"
    assert json.loads(outputs["heldout"].read_text()) == heldout
    zips = pd.read_parquet(outputs["zip_intercepts"])
    assert len(zips) == N_ZIPS and (zips["sd"] > 0).all()
    predictions = pd.read_parquet(outputs["predictions"])
    assert np.allclose(predictions["residual"], predictions["logerror"] - predictions["prediction"])
    figure = tmp_path / "residuals.png"
    zillow_network.plot_residuals(outputs["predictions"], figure)
    assert figure.stat().st_size > 5000


def test_same_seed_gives_the_same_metrics_twice_on_cpu(prepared, tmp_path):
    short = {**SETTINGS, "iterations": 60}
    first, _ = fit(prepared, tmp_path / "a", short)
    second, _ = fit(prepared, tmp_path / "b", short)
    assert first == second
    third, _ = fit(prepared, tmp_path / "c", {**short, "seed": 8})
    assert third["mae"] != first["mae"]


def test_bayesian_layers_variant_trains_with_flipout(prepared, tmp_path):
    heldout, outputs = fit(
        prepared, tmp_path, {**SETTINGS, "bayesian_layers": True, "iterations": 60}
    )
    assert (
        np.isfinite(heldout["mae"])
        and json.loads(outputs["metrics"].read_text())["bayesian_layers"] is True
    )


def test_missing_predictor_column_is_named(prepared, tmp_path):
    broken = pd.read_parquet(prepared / "train.parquet").drop(columns=[PREDICTORS[1]])
    broken.to_parquet(tmp_path / "train.parquet")
    with pytest.raises(InputError, match=r"train\.parquet, column 'yearbuilt'"):
        zillow_network.read_split(tmp_path / "train.parquet", PREDICTORS)

"""Analysis B, the two-moons Bayesian network (bayespipe.analyses.moons.network) at test sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayespipe.analyses.moons import network as moons
from bayespipe.errors import InputError
from bayespipe.io import read_json

TFP_CPU = {"device": "cpu", "deterministic": True, "threads": 2}
SMALL = {
    "n_samples": 400,
    "noise": 0.2,
    "test_fraction": 0.5,
    "hidden_units": [5, 5],
    "full_batch_steps": 400,
    "minibatch_steps": 400,
    "batch_size": 50,
    "learning_rate": 0.02,
    "posterior_draws": 50,
    "grid_size": 20,
    "seed": 42,
}
FIT_FILES = {
    "metrics": "metrics.json",
    "history": "history.csv",
    "predictions": "test.parquet",
    "grid": "grid.parquet",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("moons")
    moons.prepare(SMALL, folder / "train.parquet", folder / "test.parquet")
    return folder


def fit(data, folder, variant="full_batch", settings=SMALL):
    outputs = {key: folder / name for key, name in FIT_FILES.items()}
    metrics, _ = moons.fit(
        settings, TFP_CPU, variant, data / "train.parquet", data / "test.parquet", outputs
    )
    return metrics, outputs


def test_data_are_seeded_split_and_standardised_on_training_statistics(data):
    train = pd.read_parquet(data / "train.parquet")
    test = pd.read_parquet(data / "test.parquet")
    assert len(train) == len(test) == 200
    assert np.allclose(train[["x1", "x2"]].mean(), 0, atol=1e-9)
    assert np.allclose(train[["x1", "x2"]].std(ddof=0), 1)
    assert set(train["y"]) == {0, 1}
    again, _ = moons.make_data(SMALL)
    assert again.equals(train)


def test_bad_labels_name_the_file_and_column(tmp_path):
    path = tmp_path / "points.parquet"
    pd.DataFrame({"x1": [0.0, 1.0], "x2": [0.0, 1.0], "y": [0, 2]}).to_parquet(path)
    with pytest.raises(InputError, match=r"points\.parquet, row 1, column 'y'"):
        moons.read_points(path)


def test_full_batch_fit_is_accurate_and_writes_its_outputs(data, tmp_path):
    metrics, outputs = fit(data, tmp_path)
    assert metrics["test_accuracy"] >= 0.90
    assert metrics["device"]["device"] == "cpu" and metrics["steps"] == SMALL["full_batch_steps"]
    history = pd.read_csv(outputs["history"])
    assert list(history["step"]) == list(range(1, SMALL["full_batch_steps"] + 1))
    assert history["elbo"].tail(50).mean() > history["elbo"].head(50).mean()  # the ELBO rises
    grid = pd.read_parquet(outputs["grid"])
    assert len(grid) == SMALL["grid_size"] ** 2 and grid["p_mean"].between(0, 1).all()
    # uncertainty is larger near the decision boundary than deep inside a class
    near = grid["p_mean"].between(0.3, 0.7)
    assert grid.loc[near, "p_sd"].mean() > grid.loc[~near, "p_sd"].mean()
    test = pd.read_parquet(outputs["predictions"])
    assert (test["predicted"] == (test["p_mean"] > 0.5)).all()
    assert read_json(outputs["metrics"]) == {
        **metrics,
        "device": read_json(outputs["metrics"])["device"],
    }

    figures = {key: tmp_path / f"{key}.png" for key in ("elbo", "labels", "grid_mean", "grid_sd")}
    moons.plot(outputs["history"], outputs["predictions"], outputs["grid"], "full_batch", figures)
    assert all(path.stat().st_size > 5000 for path in figures.values())


def test_same_seed_gives_the_same_metrics_twice_on_cpu(data, tmp_path):
    settings = {**SMALL, "minibatch_steps": 150}
    first, _ = fit(data, tmp_path / "a", "minibatch", settings)
    second, _ = fit(data, tmp_path / "b", "minibatch", settings)
    drop = ("train_seconds",)
    assert {k: v for k, v in first.items() if k not in drop} == {
        k: v for k, v in second.items() if k not in drop
    }
    other, _ = fit(data, tmp_path / "c", "minibatch", {**settings, "seed": 43})
    assert other["final_elbo"] != first["final_elbo"]


def test_summary_has_one_row_per_variant(tmp_path):
    paths = []
    for variant, accuracy in (("full_batch", 0.95), ("minibatch", 0.93)):
        path = tmp_path / f"{variant}.json"
        path.write_text(
            f'{{"variant": "{variant}", "test_accuracy": {accuracy}, "train_seconds": 1.0,'
            ' "steps": 10, "batch_size": 50, "final_elbo": -90.0, "device": {"device": "cpu"}}'
        )
        paths.append(path)
    table = moons.summarize(paths, tmp_path / "summary.csv")
    assert list(table["variant"]) == ["full_batch", "minibatch"]
    assert pd.read_csv(tmp_path / "summary.csv")["test_accuracy"].tolist() == [0.95, 0.93]

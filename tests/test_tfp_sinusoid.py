"""Analysis D1, sinusoid regression with DenseVariational layers.

Modules under test: bayespipe.analyses.sinusoid.{data,network,plots}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayespipe.analyses.sinusoid import data as sinusoid_data
from bayespipe.analyses.sinusoid import network as sinusoid
from bayespipe.analyses.sinusoid import plots as sinusoid_plots
from bayespipe.engines.tfp.session import setup
from bayespipe.errors import InputError

TFP_CPU = {"device": "cpu", "deterministic": True, "threads": 2}
SMALL = {
    "n_points": 32,
    "noise_sd": 1.0,
    "hidden_units": 20,
    "epochs": 300,
    "learning_rate": 0.03,
    "learning_rate_final": 0.003,
    "kl_warmup_fraction": 0.2,
    "standardize_input": True,
    "prior_sigma_1": 1.0,
    "prior_sigma_2": 0.1,
    "prior_pi": 0.2,
    "posterior_initial_scale": 0.05,
    "posterior_initial_loc_sd": 1.5,
    "predictive_draws": 100,
    "n_grid": 200,
    "aleatoric": True,
    "seed": 1,
}
FIT_FILES = {
    "metrics": "metrics.json",
    "history": "history.csv",
    "predictions": "predictions.parquet",
}


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sinusoid") / "train.parquet"
    sinusoid_data.prepare(SMALL, path)
    return path


def test_data_follow_the_sinusoid_on_the_training_range(train_file):
    frame = pd.read_parquet(train_file)
    assert len(frame) == 32 and frame["x"].min() == -0.5 and frame["x"].max() == 0.5
    residual = frame["y"] - 10 * np.sin(2 * np.pi * frame["x"])
    assert 0.5 < residual.std() < 1.5  # Normal(0, 1) noise


def test_non_finite_values_are_refused(tmp_path):
    path = tmp_path / "bad.parquet"
    pd.DataFrame({"x": [0.0, 0.1], "y": [1.0, np.nan]}).to_parquet(path)
    with pytest.raises(InputError, match=r"row 1, column 'y'"):
        sinusoid_data.read_points(path)


def test_band_ratio_compares_outside_with_inside():
    x = np.linspace(-1.5, 1.5, 7)  # -1.5 -1 -0.5 0 0.5 1 1.5
    sd = np.array([4.0, 4.0, 1.0, 1.0, 1.0, 2.0, 2.0])
    assert sinusoid.band_ratio(x, sd) == pytest.approx(3.0)


def test_in_range_rmse_uses_only_the_training_range_and_the_noise_sd():
    x = np.linspace(-1.5, 1.5, 301)
    inside = (x >= -0.5) & (x <= 0.5)
    mean = sinusoid_data.truth(x) + np.where(inside, np.where(np.arange(301) % 2, 0.6, -0.6), 50.0)
    sd = np.where(inside, 0.5, 2.0)
    metrics = sinusoid.fit_metrics(x, {"mean": mean, "epistemic_sd": sd, "aleatoric_sd": sd}, 2.0)
    assert metrics["rmse_to_truth_inside"] == pytest.approx(0.6)  # the 50s outside do not count
    assert metrics["rmse_inside_over_noise_sd"] == pytest.approx(0.3)
    assert metrics["band_ratio"] == pytest.approx(4.0)
    assert sinusoid.rmse_inside(x, sinusoid_data.truth(x)) == 0.0


def test_kl_weight_rises_linearly_over_the_warmup():
    session = setup(device="cpu", seed=0)
    epochs = session.tf.constant([1.0, 50.0, 100.0, 400.0])
    assert sinusoid.kl_annealing(session, epochs, 100).numpy() == pytest.approx([0.01, 0.5, 1, 1])
    assert sinusoid.kl_annealing(session, epochs, 0).numpy() == pytest.approx([1, 1, 1, 1])


def test_network_sees_z_scores_of_x():
    session = setup(device="cpu", seed=0)
    x = np.linspace(-0.5, 0.5, 32).reshape(-1, 1).astype("float32")
    scaling = sinusoid.input_scaling(x)
    assert scaling["x_sd"] == pytest.approx(x.std())
    model = sinusoid.build_model(session, SMALL, "epistemic", n_train=32, scaling=scaling)
    z = model.layers[0](x).numpy()
    assert z.mean() == pytest.approx(0.0, abs=1e-6) and z.std() == pytest.approx(1.0, rel=1e-5)


def test_short_training_brings_the_mean_to_the_data(train_file):
    """At test size and a fixed seed, training cuts the in-range RMSE of the untrained network."""
    x, y = sinusoid_data.read_points(train_file)
    grid = np.linspace(*sinusoid.PREDICT_RANGE, SMALL["n_grid"])
    session = setup(device="cpu", seed=SMALL["seed"])
    model = sinusoid.build_model(
        session, SMALL, "epistemic", n_train=len(x), scaling=sinusoid.input_scaling(x)
    )
    before = sinusoid.rmse_inside(grid, sinusoid.predict(session, model, grid, 50)["mean"])
    progress = sinusoid.ProgressLogger("test", SMALL["epochs"])
    sinusoid.train(session, model, x, y, settings=SMALL, progress=progress)
    after = sinusoid.rmse_inside(grid, sinusoid.predict(session, model, grid, 50)["mean"])
    assert after < 0.3 * before and after < 2.0 * SMALL["noise_sd"], (before, after)
    kl_factor = [row["kl_factor"] for row in progress.rows]
    assert kl_factor[0] == pytest.approx(1 / 60) and kl_factor[59:] == [1.0] * 241


def test_scale_mixture_prior_starts_at_the_configured_mixture():
    session = setup(device="cpu", seed=0)
    prior = sinusoid.scale_mixture_prior(session, 1.0, 0.1, 0.2)(3, 0)
    w = np.array([0.05, -0.4, 1.3], dtype="float32")
    expected = np.log(0.2 * stats.norm.pdf(w, scale=1.0) + 0.8 * stats.norm.pdf(w, scale=0.1)).sum()
    assert prior(np.zeros(1, "float32")).log_prob(w).numpy() == pytest.approx(expected, rel=1e-5)
    assert len(prior.trainable_weights) == 1  # pi and both scales are learned


@pytest.mark.parametrize("variant", ["epistemic", "aleatoric"])
def test_fit_widens_the_band_away_from_the_data(train_file, tmp_path, variant):
    outputs = {key: tmp_path / name for key, name in FIT_FILES.items()}
    metrics, device = sinusoid.fit(SMALL, TFP_CPU, variant, train_file, outputs)
    assert metrics["band_ratio"] > 1.0 and device["device"] == "cpu"
    prediction = pd.read_parquet(outputs["predictions"])
    assert metrics["rmse_inside_over_noise_sd"] == pytest.approx(
        sinusoid.rmse_inside(prediction["x"].to_numpy(), prediction["mean"].to_numpy())
        / SMALL["noise_sd"]
    )
    assert len(metrics["learned_priors"]) == 3
    assert len(prediction) == SMALL["n_grid"] and prediction["x"].min() == -1.5
    assert len(pd.read_csv(outputs["history"])) == SMALL["epochs"]
    if variant == "aleatoric":
        assert 0.2 < metrics["mean_aleatoric_sd_inside"] < 3.0  # the learned noise, truth 1
    else:
        assert metrics["mean_aleatoric_sd_inside"] == pytest.approx(1.0)  # the known noise
    figure = tmp_path / "band.png"
    sinusoid_plots.plot(train_file, outputs["predictions"], variant, figure)
    assert figure.stat().st_size > 5000
    if variant == "epistemic":  # same seed, same network and predictions on the CPU
        again_files = {k: tmp_path / f"again-{v}" for k, v in FIT_FILES.items()}
        again, _ = sinusoid.fit(SMALL, TFP_CPU, variant, train_file, again_files)
        pd.testing.assert_frame_equal(pd.read_parquet(again_files["predictions"]), prediction)
        assert again["band_ratio"] == metrics["band_ratio"]
        assert again["final_loss"] == metrics["final_loss"]

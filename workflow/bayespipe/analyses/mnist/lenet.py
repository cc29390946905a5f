"""The two MNIST rules (analysis D2).

Train the Bayesian LeNet-5 with periodic evaluation, then score noise images out of distribution;
each writes its metrics, tables and figures.

Every ``viz_steps`` (and at the last step): held-out log probability from ``monte_carlo_draws``
network draws (mean over images of log mean-over-draws p(true label)), held-out accuracy of the
mean probabilities, and figures of the weight posteriors and of held-out predictions. The network
is ``network``, the predictions ``evaluate``, the figures ``plots``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bayespipe.analyses.mnist import data as mnist
from bayespipe.analyses.mnist.evaluate import (
    NOISE_SEED_OFFSET,
    heldout_metrics,
    make_predictor,
    noise_images,
    out_of_distribution,
)
from bayespipe.analyses.mnist.network import evaluation_steps, fit, load_model, save_weights
from bayespipe.analyses.mnist.plots import plot_history, plot_predictions, plot_weight_posteriors
from bayespipe.engines.tfp.session import setup_from_config
from bayespipe.engines.tfp.tables import write_history
from bayespipe.io import atomic_path, write_json

log = logging.getLogger(__name__)

INPUT_SCALE = "pixels / 255 in [0, 1]"


def fit_arguments(settings: Mapping) -> dict:
    """The keyword arguments of ``fit`` that the mnist settings fix.

    The benchmark's deterministic baseline trains with the same ones, so the comparison is fair.
    """
    keys = ("steps", "batch_size", "learning_rate", "seed", "padding")
    return {key: settings[key] for key in keys}


def train_and_report(
    split_path: str | Path,
    settings: dict,
    tfp_config: dict,
    *,
    weights: str | Path,
    history: str | Path,
    evaluations: str | Path,
    metrics: str | Path,
    history_figure: str | Path,
    weight_figures: Sequence[str | Path],
    heldout_figures: Sequence[str | Path],
) -> dict:
    """The mnist_train rule: train, evaluate and draw at each evaluation step, write everything."""
    split = mnist.read_split(split_path)
    steps = evaluation_steps(settings["steps"], settings["viz_steps"])
    if not (len(weight_figures) == len(heldout_figures) == len(steps)):
        raise ValueError(f"expected {len(steps)} figures of each kind (steps {steps})")
    figures = {
        step: (w, h) for step, w, h in zip(steps, weight_figures, heldout_figures, strict=True)
    }
    session = setup_from_config(tfp_config, settings["seed"])
    draws = settings["monte_carlo_draws"]

    predictors = {}

    def evaluate(model, step):
        started = time.perf_counter()
        predict = predictors.setdefault("heldout", make_predictor(session, model))
        probs = predict(split.x_heldout, draws)
        scores = heldout_metrics(probs, split.y_heldout)
        plot_weight_posteriors(model, figures[step][0], step)
        plot_predictions(
            split.x_heldout,
            probs,
            figures[step][1],
            f"held-out digits, step {step}",
            labels=split.y_heldout,
        )
        scores["evaluation_seconds"] = time.perf_counter() - started
        log.info(
            "step %d: held-out log probability %.4f, accuracy %.4f (%d draws)",
            step,
            scores["heldout_log_prob"],
            scores["heldout_accuracy"],
            draws,
        )
        return scores

    result = fit(
        session,
        split,
        **fit_arguments(settings),
        eval_steps=steps,
        on_evaluate=evaluate,
        log_every=max(1, settings["viz_steps"] // 5),
    )
    save_weights(result.model, weights)
    write_history(history, result.history)
    write_history(evaluations, result.evaluations)
    plot_history(result.history, result.evaluations, history_figure)
    final = result.evaluations[-1]
    summary = {
        "steps": settings["steps"],
        "batch_size": min(settings["batch_size"], len(split.y_train)),
        "learning_rate": settings["learning_rate"],
        "padding": settings["padding"],
        "parameters": int(result.model.count_params()),
        "n_train": int(len(split.y_train)),
        "n_heldout": int(len(split.y_heldout)),
        "monte_carlo_draws": draws,
        "heldout_log_prob": final["heldout_log_prob"],
        "heldout_accuracy": final["heldout_accuracy"],
        "final_loss": result.history[-1]["loss"],
        "final_kl": result.history[-1]["kl"],
        "train_seconds": result.train_seconds,
        "images_per_second": result.steady_images_per_second,
        "evaluations": result.evaluations,
        "input_scale": INPUT_SCALE,
        "device": session.info,
    }
    write_json(metrics, summary)
    return summary


def ood_and_report(
    split_path: str | Path,
    weights: str | Path,
    settings: dict,
    tfp_config: dict,
    *,
    metrics: str | Path,
    scores: str | Path,
    noise_figure: str | Path,
) -> dict:
    """The mnist_ood rule: noise images against held-out digits, AUROC and refusal rates."""
    import pandas as pd

    split = mnist.read_split(split_path)
    session = setup_from_config(tfp_config, settings["seed"] + NOISE_SEED_OFFSET)
    model = load_model(session, weights, len(split.y_train), padding=settings["padding"])
    draws = settings["monte_carlo_draws"]
    noise = noise_images(settings["n_noise"], settings["seed"])
    predict = make_predictor(session, model)
    heldout_probs = predict(split.x_heldout, draws)
    noise_probs = predict(noise, draws)
    summary = {
        **out_of_distribution(heldout_probs, noise_probs, settings["refuse_below"]),
        **heldout_metrics(heldout_probs, split.y_heldout),
        "n_heldout": int(len(split.y_heldout)),
        "n_noise": int(len(noise)),
        "monte_carlo_draws": draws,
        "noise": "Normal(0, 1) per pixel",
        "input_scale": INPUT_SCALE,
        "device": session.info,
    }
    table = pd.DataFrame(
        {
            "set": ["heldout"] * len(split.y_heldout) + ["noise"] * len(noise),
            "max_mean_probability": np.concatenate(
                [heldout_probs.mean(0).max(1), noise_probs.mean(0).max(1)]
            ),
            "predicted_class": np.concatenate(
                [heldout_probs.mean(0).argmax(1), noise_probs.mean(0).argmax(1)]
            ),
        }
    )
    table["refused"] = table["max_mean_probability"] <= settings["refuse_below"]
    with atomic_path(scores) as tmp:
        table.to_csv(tmp, index=False)
    plot_predictions(noise, noise_probs, noise_figure, "Normal(0, 1) noise images")
    write_json(metrics, summary)
    log.info(
        "out of distribution: AUROC %.4f; refused %.1f%% of digits, %.1f%% of noise "
        "(threshold %.2f)",
        summary["auroc"],
        100 * summary["refusal_rate_heldout"],
        100 * summary["refusal_rate_noise"],
        settings["refuse_below"],
    )
    return summary

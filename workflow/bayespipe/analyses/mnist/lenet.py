"""Bayesian LeNet-5 with Flipout layers on MNIST (analysis D2), as in TFP's Bayesian network
example.

Model: Conv2DFlipout 6@5x5 (same padding, ReLU), max-pool 2, Conv2DFlipout 16@5x5, max-pool 2,
Conv2DFlipout 120@5x5, flatten, DenseFlipout 84 (ReLU), DenseFlipout 10 logits (``mnist.padding``
of the second and third convolutions: ``valid``, LeCun's LeNet-5, or ``same``, TFP's example);
Categorical likelihood. Loss = mean negative log likelihood of the batch + sum of the layers' KL
divergences each divided by the number of training images (the negative ELBO per example). Adam.

Every ``viz_steps`` (and at the last step): held-out log probability from ``monte_carlo_draws``
network draws (mean over images of log mean-over-draws p(true label)), held-out accuracy of the
mean probabilities, and figures of the weight posteriors and of held-out predictions.

Out of distribution: Normal(0, 1) noise images (inputs are pixels / 255, so the noise is on the
inputs' order of magnitude); the maximum mean class probability separates digits from noise
(AUROC), and an image is refused when no class's mean probability exceeds ``refuse_below``.

TensorFlow is imported only through ``bayespipe.engines.tfp.common.setup`` (the Session), so
importing this module is cheap (mnist.smk uses ``evaluation_steps`` and ``figure_name`` at parse
time).

Over 400 lines because the two rules' steps (train with periodic evaluation, then out of
distribution) share the model, the predictor and the figures drawn at each evaluation; the
figures (section below) are the part that could move to a module of their own.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bayespipe.analyses.mnist import data as mnist
from bayespipe.engines.tfp.common import (
    ProgressLogger,
    Session,
    batch_indices,
    setup_from_config,
    write_history,
)
from bayespipe.errors import InputError
from bayespipe.figures import pyplot, save_figure
from bayespipe.io import atomic_path, write_json

log = logging.getLogger(__name__)

N_CLASSES = mnist.N_CLASSES
KINDS = ("flipout", "deterministic")
PADDINGS = ("valid", "same")
SHOWN_IMAGES = 8  # held-out / noise images drawn per prediction figure
NOISE_SEED_OFFSET = 1_000_003  # noise and evaluation draws use other streams than training
PREDICT_BATCH = 1000
INPUT_SCALE = "pixels / 255 in [0, 1]"
WEIGHTS_SUFFIX = ".weights.h5"


# ---------------------------------------------------------------- schedule and names


def evaluation_steps(steps: int, viz_steps: int) -> list[int]:
    """Steps after which the network is evaluated and drawn: every ``viz_steps`` and the last."""
    return sorted(set(range(viz_steps, steps + 1, viz_steps)) | {steps})


def figure_name(kind: str, step: int) -> str:
    """File name of a per-evaluation figure (``weights`` or ``heldout``) at ``step``."""
    return f"{kind}_step{step:05d}.png"


# ---------------------------------------------------------------- model


def build_lenet(session: Session, n_train: int, kind: str = "flipout", padding: str = "valid"):
    """LeNet-5; ``flipout`` has Bayesian layers with KL / n_train, ``deterministic`` plain ones.

    ``padding`` of the second and third convolutions: ``same`` as in TFP's example (the third
    gives 7x7x120 = 5,880 features, so the 84-unit layer has 494k weights), ``valid`` as in
    LeCun's LeNet-5 (the third is 1x1x120, a 120-unit layer over the 5x5x16 maps; 61k weights).
    The first convolution and the max-pools use same padding in both.
    """
    tf, tfp = session.tf, session.tfp
    if padding not in PADDINGS:
        raise ValueError(f"padding: expected one of {PADDINGS}, got {padding!r}")
    if kind == "flipout":
        scale = 1.0 / n_train

        def kl_per_example(q, p, _):
            return tfp.distributions.kl_divergence(q, p) * scale

        conv = functools.partial(
            tfp.layers.Convolution2DFlipout, kernel_divergence_fn=kl_per_example
        )
        dense = functools.partial(tfp.layers.DenseFlipout, kernel_divergence_fn=kl_per_example)
    elif kind == "deterministic":
        conv = tf.keras.layers.Conv2D
        dense = tf.keras.layers.Dense
    else:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    pool = functools.partial(tf.keras.layers.MaxPooling2D, pool_size=2, strides=2, padding="SAME")
    return tf.keras.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(*mnist.IMAGE_SHAPE, 1)),
            conv(6, kernel_size=5, padding="SAME", activation="relu"),
            pool(),
            conv(16, kernel_size=5, padding=padding.upper(), activation="relu"),
            pool(),
            conv(120, kernel_size=5, padding=padding.upper(), activation="relu"),
            tf.keras.layers.Flatten(),
            dense(84, activation="relu"),
            dense(N_CLASSES),
        ],
        name=f"lenet5_{kind}",
    )


def bayesian_layers(model) -> list:
    return [layer for layer in model.layers if hasattr(layer, "kernel_posterior")]


def make_train_step(session: Session, model, optimizer, images, labels):
    """A compiled step on a batch given by indices into the (device-resident) training set."""
    tf, tfd = session.tf, session.tfp.distributions

    @tf.function
    def train_step(indices):
        x = tf.gather(images, indices)
        y = tf.gather(labels, indices)
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            nll = -tf.reduce_mean(tfd.Categorical(logits=logits).log_prob(y))
            kl = tf.add_n(model.losses) if model.losses else tf.constant(0.0)
            loss = nll + kl
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), y)
        return loss, nll, kl, tf.reduce_mean(tf.cast(hits, tf.float32))

    return train_step


@dataclass
class Fit:
    """A trained network and what happened during training."""

    model: object
    history: list[dict]
    evaluations: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0  # training steps only (evaluation excluded)
    steady_images_per_second: float = float("nan")  # after the first (tracing) step


def fit(
    session: Session,
    split: mnist.Split,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    kind: str = "flipout",
    padding: str = "valid",
    eval_steps: Sequence[int] = (),
    on_evaluate: Callable[[object, int], dict] | None = None,
    log_every: int | None = None,
) -> Fit:
    """Train ``steps`` Adam steps; call ``on_evaluate(model, step)`` at each of ``eval_steps``."""
    tf = session.tf
    batch_size = min(batch_size, len(split.y_train))
    with session.scope():
        model = build_lenet(session, len(split.y_train), kind, padding)
        optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
        images = tf.constant(split.x_train)
        labels = tf.constant(split.y_train)
        train_step = make_train_step(session, model, optimizer, images, labels)
        # every image once per pass: a pass's last images open the next pass's first batch
        batches = batch_indices(
            np.random.default_rng(seed), len(split.y_train), batch_size, steps, drop_remainder=False
        )
        progress = ProgressLogger(f"lenet ({kind})", steps, every=log_every)
        result = Fit(model=model, history=progress.rows)
        wanted = set(eval_steps)
        first_step_seconds = 0.0
        for step in range(1, steps + 1):
            started = time.perf_counter()
            indices = tf.constant(batches[step - 1], dtype=tf.int32)
            loss, nll, kl, accuracy = (float(v) for v in train_step(indices))
            took = time.perf_counter() - started
            result.train_seconds += took
            if step == 1:
                first_step_seconds = took
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"lenet ({kind}): loss is {loss} at step {step} (lower mnist.learning_rate)"
                )
            progress.log(step, loss=loss, nll=nll, kl=kl, train_accuracy=accuracy)
            if on_evaluate and step in wanted:
                result.evaluations.append({"step": step, **on_evaluate(model, step)})
        if steps > 1:
            result.steady_images_per_second = (
                (steps - 1) * batch_size / (result.train_seconds - first_step_seconds)
            )
    return result


# ---------------------------------------------------------------- evaluation


def make_predictor(session: Session, model) -> Callable[[np.ndarray, int], np.ndarray]:
    """``predict(images, draws)``: class probabilities of ``draws`` network draws, (draws, n, 10).

    Each call of a Flipout network is one draw of its weights; the compiled function is built once
    per model so repeated evaluations do not retrace it.
    """
    tf = session.tf

    @tf.function(reduce_retracing=True)
    def probabilities(x):
        return tf.nn.softmax(model(x, training=False), axis=-1)

    def predict(images: np.ndarray, draws: int) -> np.ndarray:
        with session.scope():
            chunks = [
                tf.constant(images[i : i + PREDICT_BATCH])
                for i in range(0, len(images), PREDICT_BATCH)
            ]
            return np.stack(
                [
                    np.concatenate([probabilities(chunk).numpy() for chunk in chunks])
                    for _ in range(draws)
                ]
            )

    return predict


def predict_draws(session: Session, model, images: np.ndarray, draws: int) -> np.ndarray:
    """Class probabilities of ``draws`` network draws: array (draws, images, 10)."""
    return make_predictor(session, model)(images, draws)


def heldout_metrics(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Held-out log probability (mean over images of log mean-over-draws p(label)) and accuracy."""
    mean = probs.astype(np.float64).mean(axis=0)
    p_true = mean[np.arange(len(labels)), labels]
    return {
        "heldout_log_prob": float(np.mean(np.log(np.maximum(p_true, np.finfo(np.float64).tiny)))),
        "heldout_accuracy": float(np.mean(mean.argmax(axis=1) == labels)),
    }


def out_of_distribution(
    heldout_probs: np.ndarray, noise_probs: np.ndarray, refuse_below: float
) -> dict:
    """AUROC of the maximum mean class probability (digits positive) and refusal rates."""
    from sklearn.metrics import roc_auc_score

    digits = heldout_probs.mean(axis=0).max(axis=1)
    noise = noise_probs.mean(axis=0).max(axis=1)
    truth = np.concatenate([np.ones(len(digits)), np.zeros(len(noise))])
    return {
        "auroc": float(roc_auc_score(truth, np.concatenate([digits, noise]))),
        "refuse_below": float(refuse_below),
        "refusal_rate_heldout": float(np.mean(digits <= refuse_below)),
        "refusal_rate_noise": float(np.mean(noise <= refuse_below)),
        "mean_max_prob_heldout": float(digits.mean()),
        "mean_max_prob_noise": float(noise.mean()),
    }


def noise_images(n: int, seed: int) -> np.ndarray:
    """Seeded Normal(0, 1) images, float32 (n, 28, 28, 1)."""
    rng = np.random.default_rng(seed + NOISE_SEED_OFFSET)
    return rng.standard_normal((n, *mnist.IMAGE_SHAPE, 1)).astype(np.float32)


# ---------------------------------------------------------------- figures


def plot_weight_posteriors(model, path: str | Path, step: int) -> None:
    """Histograms of each Flipout layer's kernel posterior means and standard deviations."""
    plt = pyplot()
    fig, (ax_mean, ax_std) = plt.subplots(1, 2, figsize=(10, 3.6))
    for layer in bayesian_layers(model):
        means = layer.kernel_posterior.mean().numpy().ravel()
        stds = layer.kernel_posterior.stddev().numpy().ravel()
        ax_mean.hist(means, bins=60, density=True, histtype="step", label=layer.name)
        ax_std.hist(stds, bins=60, density=True, histtype="step", label=layer.name)
    ax_mean.set(title="weight means", xlabel="posterior mean", ylabel="density")
    ax_std.set(title="weight standard deviations", xlabel="posterior std", xscale="log")
    ax_mean.legend(fontsize=7)
    fig.suptitle(f"Flipout LeNet-5 weight posteriors, step {step}")
    fig.tight_layout()
    save_figure(fig, path, dpi=90, bbox_inches=None)


def shown_indices(n: int) -> np.ndarray:
    """Images drawn in a prediction figure: evenly spaced, so a sorted set shows many classes."""
    return np.unique(np.linspace(0, n - 1, min(SHOWN_IMAGES, n)).round().astype(int))


def plot_predictions(
    images: np.ndarray,
    probs: np.ndarray,
    path: str | Path,
    title: str,
    labels: np.ndarray | None = None,
) -> None:
    """Images beside each draw's class probabilities (dots) and their mean (bars)."""
    plt = pyplot()
    shown = shown_indices(len(images))
    fig, axes = plt.subplots(
        len(shown),
        2,
        figsize=(6, 1.2 * len(shown)),
        gridspec_kw={"width_ratios": [1, 4]},
        squeeze=False,
    )
    classes = np.arange(N_CLASSES)
    # spread the dots
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, size=probs.shape[0])[:, None]
    for row, i in enumerate(shown):
        ax_image, ax_probs = axes[row]
        ax_image.imshow(images[i, ..., 0], cmap="gray")
        ax_image.set_axis_off()
        if labels is not None:
            ax_image.set_title(f"label {labels[i]}", fontsize=7)
        ax_probs.bar(classes, probs[:, i].mean(axis=0), color="tab:orange", alpha=0.5, width=0.8)
        ax_probs.scatter(
            (classes + jitter).ravel(),
            probs[:, i].ravel(),
            s=6,
            color="tab:blue",
            alpha=max(0.25, min(0.8, 12.0 / len(probs))),
            linewidths=0,
        )
        ax_probs.set(ylim=(0, 1.02), xticks=classes)
        ax_probs.tick_params(labelsize=6)
    axes[0, 1].set_title(f"{title}: dots, {len(probs)} draws; bars, their mean", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=90, bbox_inches=None)


def plot_history(history: list[dict], evaluations: list[dict], path: str | Path) -> None:
    """Training loss and its parts (KL / n dominates with few images) and held-out evaluations."""
    import pandas as pd

    plt = pyplot()
    frame = pd.DataFrame(history)
    fig, (ax_loss, ax_nll, ax_eval) = plt.subplots(1, 3, figsize=(13, 3.4))
    ax_loss.plot(frame["step"], frame["loss"], lw=0.8, label="loss = NLL + KL / n")
    ax_loss.plot(frame["step"], frame["kl"], lw=0.8, ls="--", label="KL / n")
    ax_loss.set(xlabel="step", ylabel="per example", yscale="log", title="negative ELBO")
    ax_loss.legend(fontsize=7)
    ax_nll.plot(frame["step"], frame["nll"], lw=0.5, alpha=0.4, label="batch")
    window = max(1, len(frame) // 30)
    ax_nll.plot(
        frame["step"],
        frame["nll"].rolling(window, min_periods=1).mean(),
        lw=1.2,
        label=f"mean of {window} steps",
    )
    ax_nll.set(
        xlabel="step", ylabel="mean NLL", yscale="log", title="training negative log likelihood"
    )
    ax_nll.legend(fontsize=7)
    steps = [row["step"] for row in evaluations]
    ax_eval.plot(steps, [row["heldout_accuracy"] for row in evaluations], "o-", label="accuracy")
    ax_eval.set(xlabel="step", ylabel="held-out accuracy", title="held-out evaluation")
    ax_lp = ax_eval.twinx()
    ax_lp.plot(steps, [row["heldout_log_prob"] for row in evaluations], "s--", color="tab:red")
    ax_lp.set_ylabel("held-out log probability", color="tab:red")
    fig.tight_layout()
    save_figure(fig, path, dpi=90, bbox_inches=None)


# ---------------------------------------------------------------- weights


def save_weights(model, path: str | Path) -> None:
    """Keras' ``.weights.h5`` format (HDF5, never a pickle), written atomically.

    Keras picks the format from the name, so the temporary file ends in ``.weights.h5`` too.
    """
    path = Path(path)
    if not path.name.endswith(WEIGHTS_SUFFIX):
        raise ValueError(f"{path}: weights files must end in {WEIGHTS_SUFFIX}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name[: -len(WEIGHTS_SUFFIX)]}.{os.getpid()}.tmp{WEIGHTS_SUFFIX}")
    try:
        model.save_weights(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_model(
    session: Session,
    weights: str | Path,
    n_train: int,
    kind: str = "flipout",
    padding: str = "valid",
):
    """A LeNet rebuilt from code with weights from a Keras HDF5 file."""
    weights = Path(weights)
    if not weights.is_file():
        raise InputError(
            weights, "weights file not found (expected the .weights.h5 of mnist_train)"
        )
    with session.scope():
        model = build_lenet(session, n_train, kind, padding)
        try:
            model.load_weights(str(weights))
        except (ValueError, OSError) as exc:
            raise InputError(weights, f"not weights of this LeNet-5: {exc}") from exc
    return model


# ---------------------------------------------------------------- rule entry points


def fit_arguments(settings: Mapping) -> dict:
    """The keyword arguments of ``fit`` that the mnist settings fix (the benchmark's deterministic
    baseline trains with the same ones, so the comparison is fair)."""
    keys = ("steps", "batch_size", "learning_rate", "seed", "padding")
    return {key: settings[key] for key in keys}


def train_and_report(
    split_path: str | Path,
    settings: dict,
    tfp_settings: dict,
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
    session = setup_from_config(tfp_settings, settings["seed"])
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
    tfp_settings: dict,
    *,
    metrics: str | Path,
    scores: str | Path,
    noise_figure: str | Path,
) -> dict:
    """The mnist_ood rule: noise images against held-out digits, AUROC and refusal rates."""
    import pandas as pd

    split = mnist.read_split(split_path)
    session = setup_from_config(tfp_settings, settings["seed"] + NOISE_SEED_OFFSET)
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

"""Analysis B: Bayesian network classifier on two moons (mean-field VI with tfp.layers).

2 -> 5 -> 5 -> 1 tanh network without biases (as in the tutorial), Normal(0, 1) priors on
every weight, mean-field Normal posteriors (``tfp.layers.DenseReparameterization``: one weight
draw per forward pass, so a pass is one posterior network), Bernoulli likelihood on the logit.
Variants: ``full_batch`` (every step sees the 500 training points) and ``minibatch`` (batches
of ``batch_size``). The loss is the negative ELBO per training point: mean Bernoulli negative
log likelihood of the batch plus KL / n_train.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bayespipe.engines.tfp.layers import mean_field_normal_fn
from bayespipe.engines.tfp.session import Session, setup_from_config
from bayespipe.engines.tfp.tables import metrics_table, write_history
from bayespipe.engines.tfp.training import ProgressLogger, batch_indices
from bayespipe.errors import InputError
from bayespipe.figures import save_figure, use_agg
from bayespipe.io import write_json, write_parquet

VARIANTS = ("full_batch", "minibatch")
FEATURES = ["x1", "x2"]
GRID_LIMIT = 3.0
log = logging.getLogger(__name__)


# ---------------------------------------------------------------- data


def make_data(settings: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded make_moons, split, standardised with the training split's mean and sd."""
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    x, y = make_moons(
        n_samples=settings["n_samples"], noise=settings["noise"], random_state=settings["seed"]
    )
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=settings["test_fraction"], random_state=settings["seed"], stratify=y
    )
    mean, sd = x_train.mean(axis=0), x_train.std(axis=0)
    frames = []
    for xs, ys in ((x_train, y_train), (x_test, y_test)):
        frame = pd.DataFrame((xs - mean) / sd, columns=FEATURES)
        frame["y"] = ys.astype("int64")
        frames.append(frame)
    return frames[0], frames[1]


def prepare(settings: Mapping[str, Any], train_path, test_path) -> dict:
    train, test = make_data(settings)
    write_parquet(train, train_path)
    write_parquet(test, test_path)
    return {"n_train": len(train), "n_test": len(test)}


def read_points(path) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_parquet(path)
    for column in FEATURES + ["y"]:
        if column not in frame.columns:
            raise InputError(
                path, "missing column (expected x1, x2 and a 0/1 label y)", column=column
            )
    labels = frame["y"].to_numpy()
    bad = np.flatnonzero(~np.isin(labels, (0, 1)))
    if bad.size:
        raise InputError(path, "labels must be 0 or 1", column="y", row=int(bad[0]))
    return frame[FEATURES].to_numpy("float32"), labels.astype("float32")


# ---------------------------------------------------------------- model


def build_model(session: Session, hidden_units, n_train: int):
    """Variational layers with N(0, 1) priors; each layer's KL is scaled to one training point."""
    tf, tfp = session.tf, session.tfp
    tfd = tfp.distributions

    def kl_per_point(q, p, _):
        return tfd.kl_divergence(q, p) / n_train

    def posterior(index):
        # Means start like the tutorial's standard-normal weights so the tanh units start
        # distinct and non-linear; scales start small (softplus(-3) ~ 0.05).
        return mean_field_normal_fn(session, session.seed + 2 * index, loc_stddev=1.0)

    sizes = [(u, "tanh") for u in hidden_units] + [(1, None)]
    layers = [
        tfp.layers.DenseReparameterization(
            units,
            activation=activation,
            kernel_posterior_fn=posterior(index),
            kernel_divergence_fn=kl_per_point,
            bias_posterior_fn=None,  # the tutorial's network has no biases
        )
        for index, (units, activation) in enumerate(sizes)
    ]
    return tf.keras.Sequential([tf.keras.Input(shape=(len(FEATURES),)), *layers])


def train(
    session: Session,
    model,
    x,
    y,
    *,
    steps: int,
    batch_size: int | None,
    learning_rate: float,
    progress: ProgressLogger,
) -> float:
    """Adam on the negative ELBO; returns the training wall time in seconds."""
    tf, tfd = session.tf, session.tfp.distributions
    n = len(x)
    optimizer = tf.keras.optimizers.Adam(learning_rate)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)[:, 0]
            nll = -tf.reduce_mean(tfd.Bernoulli(logits=logits).log_prob(yb))
            kl = tf.add_n(model.losses)
            loss = nll + kl
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, -(nll + kl) * n

    rng = np.random.default_rng(session.seed)
    batches = batch_indices(rng, n, batch_size, steps)
    x_all, y_all = tf.constant(x), tf.constant(y)
    started = progress.elapsed()
    for i, index in enumerate(batches, start=1):
        if index is None:
            loss, elbo = step(x_all, y_all)
        else:
            loss, elbo = step(tf.gather(x_all, index), tf.gather(y_all, index))
        progress.log(i, loss=loss.numpy(), elbo=elbo.numpy())
    return progress.elapsed() - started


def predictive_probabilities(session: Session, model, x, draws: int) -> np.ndarray:
    """(draws, n) success probabilities, one posterior network per forward pass."""
    tf = session.tf
    x = tf.constant(x, dtype=tf.float32)

    @tf.function
    def one_pass():
        return tf.sigmoid(model(x, training=False)[:, 0])

    return np.stack([one_pass().numpy() for _ in range(draws)])


def grid_points(size: int) -> tuple[np.ndarray, np.ndarray]:
    axis = np.linspace(-GRID_LIMIT, GRID_LIMIT, size)
    g1, g2 = np.meshgrid(axis, axis)
    return g1, g2


# ---------------------------------------------------------------- the rule's work


def fit(
    settings: Mapping[str, Any],
    tfp_config: Mapping[str, Any],
    variant: str,
    train_path,
    test_path,
    outputs: Mapping[str, Any],
) -> tuple[dict, dict]:
    """Train one variant, write metrics, history, test predictions and the grid.

    Return (metrics, device).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown moons variant {variant!r} (expected one of {VARIANTS})")
    x_train, y_train = read_points(train_path)
    x_test, y_test = read_points(test_path)
    session = setup_from_config(tfp_config, settings["seed"])
    minibatch = variant == "minibatch"
    steps = settings["minibatch_steps"] if minibatch else settings["full_batch_steps"]
    progress = ProgressLogger(f"moons {variant}", steps)
    with session.scope():
        model = build_model(session, settings["hidden_units"], len(x_train))
        seconds = train(
            session,
            model,
            x_train,
            y_train,
            steps=steps,
            batch_size=settings["batch_size"] if minibatch else None,
            learning_rate=settings["learning_rate"],
            progress=progress,
        )
        g1, g2 = grid_points(settings["grid_size"])
        grid = np.column_stack([g1.ravel(), g2.ravel()]).astype("float32")
        probs = predictive_probabilities(
            session, model, np.vstack([x_test, grid]), settings["posterior_draws"]
        )
    test_probs, grid_probs = probs[:, : len(x_test)], probs[:, len(x_test) :]
    mean = test_probs.mean(axis=0)
    predicted = (mean > 0.5).astype("int64")
    accuracy = float((predicted == y_test).mean())
    metrics = {
        "variant": variant,
        "test_accuracy": accuracy,
        "train_seconds": round(seconds, 3),
        "steps": steps,
        "batch_size": settings["batch_size"] if minibatch else len(x_train),
        "final_elbo": progress.rows[-1]["elbo"],
        "posterior_draws": settings["posterior_draws"],
        "n_train": len(x_train),
        "n_test": len(x_test),
        "device": session.info,
    }
    log.info("moons %s: test accuracy %.3f after %.1f s of training", variant, accuracy, seconds)
    write_history(outputs["history"], progress.rows)
    test_frame = pd.DataFrame(
        {
            "x1": x_test[:, 0],
            "x2": x_test[:, 1],
            "y": y_test.astype("int64"),
            "p_mean": mean,
            "p_sd": test_probs.std(axis=0),
            "predicted": predicted,
        }
    )
    write_parquet(test_frame, outputs["predictions"])
    grid_frame = pd.DataFrame(
        {
            "x1": grid[:, 0],
            "x2": grid[:, 1],
            "p_mean": grid_probs.mean(axis=0),
            "p_sd": grid_probs.std(axis=0),
        }
    )
    write_parquet(grid_frame, outputs["grid"])
    write_json(outputs["metrics"], metrics)
    return metrics, session.info


# ---------------------------------------------------------------- figures


def plot(
    history_path, predictions_path, grid_path, variant: str, outputs: Mapping[str, Any]
) -> None:
    """ELBO trace, predicted test labels, and grid contours of the predictive mean and sd."""
    use_agg()
    import matplotlib.pyplot as plt

    history = pd.read_csv(history_path)
    test = pd.read_parquet(predictions_path)
    grid = pd.read_parquet(grid_path)
    title = variant.replace("_", " ")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["step"], history["elbo"], lw=0.6, color="0.6", label="per step")
    window = max(1, len(history) // 50)
    ax.plot(
        history["step"],
        history["elbo"].rolling(window, min_periods=1).mean(),
        color="C0",
        label=f"rolling mean ({window} steps)",
    )
    ax.set(xlabel="step", ylabel="ELBO", title=f"ELBO ({title})")
    ax.set_ylim(bottom=np.percentile(history["elbo"], 2))
    ax.legend()
    save_figure(fig, outputs["elbo"])

    fig, ax = plt.subplots(figsize=(5, 4.5))
    for label, color in ((0, "C0"), (1, "C1")):
        chosen = test[test["predicted"] == label]
        ax.scatter(chosen["x1"], chosen["x2"], s=12, color=color, label=f"predicted {label}")
    wrong = test[test["predicted"] != test["y"]]
    ax.scatter(
        wrong["x1"], wrong["x2"], s=40, facecolors="none", edgecolors="k", label="misclassified"
    )
    accuracy = (test["predicted"] == test["y"]).mean()
    ax.set(
        xlabel="x1", ylabel="x2", title=f"Predicted test labels ({title}): accuracy {accuracy:.1%}"
    )
    ax.legend(fontsize=8)
    save_figure(fig, outputs["labels"])

    size = int(round(np.sqrt(len(grid))))
    g1 = grid["x1"].to_numpy().reshape(size, size)
    g2 = grid["x2"].to_numpy().reshape(size, size)
    for column, key, cmap, label in (
        ("p_mean", "grid_mean", "RdBu_r", "posterior predictive mean"),
        ("p_sd", "grid_sd", "viridis", "posterior predictive sd"),
    ):
        fig, ax = plt.subplots(figsize=(6, 4.8))
        contour = ax.contourf(
            g1, g2, grid[column].to_numpy().reshape(size, size), levels=20, cmap=cmap
        )
        fig.colorbar(contour, ax=ax, label=label)
        ax.scatter(
            test["x1"],
            test["x2"],
            c=test["y"],
            cmap="coolwarm",
            s=10,
            edgecolors="k",
            linewidths=0.3,
        )
        ax.set(
            xlabel="x1",
            ylabel="x2",
            xlim=(-GRID_LIMIT, GRID_LIMIT),
            ylim=(-GRID_LIMIT, GRID_LIMIT),
            title=f"{label.capitalize()} on the grid ({title}) with test points",
        )
        save_figure(fig, outputs[key])


def summarize(metric_paths, output_csv) -> pd.DataFrame:
    """One row per variant: accuracy, training time, steps, device."""
    return metrics_table(
        metric_paths,
        (
            "variant",
            "test_accuracy",
            "train_seconds",
            "steps",
            "batch_size",
            "final_elbo",
        ),
        output_csv,
    )

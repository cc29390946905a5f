"""Bayesian LeNet-5 with Flipout layers, as in TFP's Bayesian network example.

The network, its training loop and its weights files.

Model: Conv2DFlipout 6@5x5 (same padding, ReLU), max-pool 2, Conv2DFlipout 16@5x5, max-pool 2,
Conv2DFlipout 120@5x5, flatten, DenseFlipout 84 (ReLU), DenseFlipout 10 logits (``mnist.padding``
of the second and third convolutions: ``valid``, LeCun's LeNet-5, or ``same``, TFP's example);
Categorical likelihood. Loss = mean negative log likelihood of the batch + sum of the layers' KL
divergences each divided by the number of training images (the negative ELBO per example). Adam.

TensorFlow is imported only through ``bayespipe.engines.tfp`` (the Session), so importing this
module is cheap (mnist.smk uses ``evaluation_steps`` at parse time).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bayespipe.analyses.mnist import data as mnist
from bayespipe.engines.tfp.session import Session
from bayespipe.engines.tfp.training import ProgressLogger, batch_indices
from bayespipe.errors import InputError

N_CLASSES = mnist.N_CLASSES
KINDS = ("flipout", "deterministic")
PADDINGS = ("valid", "same")
WEIGHTS_SUFFIX = ".weights.h5"


def evaluation_steps(steps: int, viz_steps: int) -> list[int]:
    """Steps after which the network is evaluated and drawn: every ``viz_steps`` and the last."""
    return sorted(set(range(viz_steps, steps + 1, viz_steps)) | {steps})


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
        tmp.replace(path)
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

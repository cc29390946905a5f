"""Analysis D1: sinusoid regression with an epistemic band (``tfp.layers.DenseVariational``).

Two variational ReLU layers and a variational output; mean-field Normal posteriors with softplus
scales; a learned two-component scale-mixture prior per layer. The loss is the negative ELBO per
training point: the mean Gaussian negative log likelihood plus the layers' KL weighted by
1 / (training points) (``kl_weight``; the KL of a mixture prior has no closed form, so
DenseVariational estimates it from the weight draw). Full batch, so this is the tutorial's summed
NLL + KL / (batches per epoch) divided by the number of points.

What makes the fit follow the data at every seed (``benchmarks/tfp_bnn.py --seeds``):
the network sees z-scores of x (a fixed ``Normalization`` layer), so unit-scale weights put ReLU
kinks across the data and beyond; posterior scales start small (0.05), so early training fits the
data; the KL weight rises from 0 to 1 over the first ``kl_warmup_fraction`` of the epochs; the
learning rate decays (cosine) so the last epochs settle. The ELBO at the end is the full one.

The data are ``data``, the figures ``plots``. Variants:

- ``epistemic``: Gaussian likelihood with the known noise scale.
- ``aleatoric``: the output layer also predicts the noise scale (a Normal's location and scale
  through ``tfp.layers.DistributionLambda``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bayespipe.analyses.sinusoid.data import TRAIN_RANGE, read_points, truth
from bayespipe.engines.tfp.session import Session, setup_from_config
from bayespipe.engines.tfp.tables import metrics_table, write_history
from bayespipe.engines.tfp.training import ProgressLogger
from bayespipe.io import write_json, write_parquet

VARIANTS = ("epistemic", "aleatoric")
PREDICT_RANGE = (-1.5, 1.5)
# The aleatoric head's scale is softplus(DAMPING * raw output): the noise channel learns about
# 1/DAMPING times slower than the location (Adam moves raw parameters at a rate independent of
# the gradient's scale). Undamped, the noise absorbs the whole sinusoid before the location fits
# it, and the ELBO barely favours the fit over that all-noise explanation (sd ~7, almost no KL).
# Values measured at seeds 1-5 are in docs/analyses.md (D1).
NOISE_SCALE_DAMPING = 0.002
log = logging.getLogger(__name__)


def variants(settings: Mapping[str, Any]) -> list[str]:
    return list(VARIANTS) if settings["aleatoric"] else ["epistemic"]


# ---------------------------------------------------------------- model


def _softplus_inverse(value: float) -> float:
    return math.log(math.expm1(value))


def mean_field_posterior(session: Session, initial_scale: float, loc_sd: float):
    """make_posterior_fn: independent Normals, scale = softplus(rho), locs drawn per layer.

    Locations start at N(0, loc_sd) draws (spread-out ReLU kinks, some outside the data, whose
    weights the data leave uncertain: that is what widens the band away from the data).
    """
    tf, tfp = session.tf, session.tfp
    tfd = tfp.distributions
    rho0 = _softplus_inverse(initial_scale)

    def make(kernel_size, bias_size=0, dtype=None):
        n = kernel_size + bias_size
        loc_init = tf.keras.initializers.RandomNormal(stddev=loc_sd)  # fresh per layer

        def initializer(shape, dtype=None, **_):
            return tf.concat(
                [loc_init([n], dtype=dtype), tf.fill([n], tf.cast(rho0, dtype))], axis=0
            )

        return tf.keras.Sequential(
            [
                tfp.layers.VariableLayer(2 * n, dtype=dtype, initializer=initializer),
                tfp.layers.DistributionLambda(
                    lambda t: tfd.Independent(
                        tfd.Normal(loc=t[..., :n], scale=1e-6 + tf.nn.softplus(t[..., n:])),
                        reinterpreted_batch_ndims=1,
                    )
                ),
            ]
        )

    return make


def scale_mixture_prior(session: Session, sigma_1: float, sigma_2: float, pi: float):
    """make_prior_fn: pi N(0, sigma_1) + (1 - pi) N(0, sigma_2) per weight, all three learned."""
    tf, tfp = session.tf, session.tfp
    tfd = tfp.distributions
    start = [math.log(pi / (1.0 - pi)), _softplus_inverse(sigma_1), _softplus_inverse(sigma_2)]

    def make(kernel_size, bias_size=0, dtype=None):
        n = kernel_size + bias_size

        def mixture(t):
            logits = tf.broadcast_to(tf.stack([t[0], tf.zeros_like(t[0])]), [n, 2])
            scales = tf.broadcast_to(tf.nn.softplus(t[1:3]), [n, 2])
            return tfd.Independent(
                tfd.MixtureSameFamily(
                    mixture_distribution=tfd.Categorical(logits=logits),
                    components_distribution=tfd.Normal(loc=tf.zeros_like(scales), scale=scales),
                ),
                reinterpreted_batch_ndims=1,
            )

        return tf.keras.Sequential(
            [
                tfp.layers.VariableLayer(
                    3, dtype=dtype, initializer=tf.keras.initializers.Constant(start)
                ),
                tfp.layers.DistributionLambda(mixture),
            ]
        )

    return make


def input_scaling(x) -> dict[str, float]:
    """Training-set mean and sd of x: the model's fixed input standardisation."""
    return {"x_mean": float(x.mean()), "x_sd": float(x.std()) or 1.0}


def build_model(
    session: Session,
    settings: Mapping[str, Any],
    variant: str,
    n_train: int,
    scaling: Mapping[str, float] | None = None,
):
    """x -> Normalization -> 2 x DenseVariational(relu) -> DenseVariational -> Normal likelihood.

    ``scaling`` (``input_scaling()``, or None for none) turns x into z-scores before the first
    layer, so the unit-scale prior and initial weights place ReLU kinks across the data and
    beyond it. ``kl_weight`` = 1 / n_train: the loss is the negative ELBO per training point.
    """
    tf, tfp = session.tf, session.tfp
    tfd = tfp.distributions
    s = dict(scaling or {"x_mean": 0.0, "x_sd": 1.0})
    posterior = mean_field_posterior(
        session, settings["posterior_initial_scale"], settings["posterior_initial_loc_sd"]
    )
    prior = scale_mixture_prior(
        session, settings["prior_sigma_1"], settings["prior_sigma_2"], settings["prior_pi"]
    )

    def variational(units, activation=None):
        return tfp.layers.DenseVariational(
            units, posterior, prior, kl_weight=1.0 / n_train, activation=activation
        )

    if variant == "aleatoric":

        def likelihood(t):  # location and (damped, see NOISE_SCALE_DAMPING) scale
            scale = 1e-3 + tf.nn.softplus(NOISE_SCALE_DAMPING * t[..., 1:])
            return tfd.Independent(
                tfd.Normal(loc=t[..., :1], scale=scale), reinterpreted_batch_ndims=1
            )
    else:
        noise = float(settings["noise_sd"])

        def likelihood(t):
            return tfd.Independent(tfd.Normal(loc=t, scale=noise), reinterpreted_batch_ndims=1)

    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(1,)),
            tf.keras.layers.Normalization(mean=s["x_mean"], variance=s["x_sd"] ** 2),
            variational(settings["hidden_units"], "relu"),
            variational(settings["hidden_units"], "relu"),
            variational(2 if variant == "aleatoric" else 1),
            tfp.layers.DistributionLambda(likelihood),
        ]
    )


def kl_annealing(session: Session, epoch, warmup_epochs: int):
    """KL weight factor at ``epoch`` (a tensor, from 1): linear from 1 / warmup to 1, then 1."""
    if warmup_epochs <= 0:
        return session.tf.ones_like(epoch)
    return session.tf.minimum(1.0, epoch / float(warmup_epochs))


def learning_rate_schedule(session: Session, settings: Mapping[str, Any]):
    """Cosine decay from ``learning_rate`` to ``learning_rate_final`` over the epochs."""
    initial = float(settings["learning_rate"])
    final = float(settings["learning_rate_final"])
    return session.tf.keras.optimizers.schedules.CosineDecay(
        initial, decay_steps=int(settings["epochs"]), alpha=final / initial
    )


def train(
    session: Session, model, x, y, *, settings: Mapping[str, Any], progress: ProgressLogger
) -> float:
    """Full-batch Adam on mean NLL + annealed KL / n; returns the training wall time."""
    tf = session.tf
    optimizer = tf.keras.optimizers.Adam(learning_rate_schedule(session, settings))
    x, y = tf.constant(x), tf.constant(y)
    epochs = int(settings["epochs"])
    warmup = round(float(settings["kl_warmup_fraction"]) * epochs)

    @tf.function
    def step(beta):
        with tf.GradientTape() as tape:
            nll = -tf.reduce_mean(model(x, training=True).log_prob(y))
            kl = tf.add_n(model.losses)
            loss = nll + beta * kl
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, nll, kl

    started = progress.elapsed()
    factors = kl_annealing(session, tf.range(1, epochs + 1, dtype=tf.float32), warmup)
    for epoch, beta in enumerate(factors, start=1):
        loss, nll, kl = (v.numpy() for v in step(beta))
        # elbo per training point, with the full KL whatever the annealing factor
        progress.log(epoch, loss=loss, nll=nll, kl=kl, kl_factor=beta.numpy(), elbo=-(nll + kl))
    return progress.elapsed() - started


def predict(session: Session, model, x_grid, draws: int) -> dict[str, np.ndarray]:
    """Mean and the epistemic / aleatoric sds over ``draws`` forward passes."""
    tf = session.tf
    x = tf.constant(x_grid.reshape(-1, 1), dtype=tf.float32)

    @tf.function
    def one_pass():
        dist = model(x, training=False)
        return dist.mean()[:, 0], dist.stddev()[:, 0]

    passes = [one_pass() for _ in range(draws)]
    means = np.stack([m.numpy() for m, _ in passes])
    scales = np.stack([s.numpy() for _, s in passes])
    epistemic = means.std(axis=0)
    aleatoric = np.sqrt((scales**2).mean(axis=0))
    return {
        "mean": means.mean(axis=0),
        "epistemic_sd": epistemic,
        "aleatoric_sd": aleatoric,
        "total_sd": np.sqrt(epistemic**2 + aleatoric**2),
    }


def inside_training_range(x) -> np.ndarray:
    return (x >= TRAIN_RANGE[0]) & (x <= TRAIN_RANGE[1])


def band_ratio(x, sd) -> float:
    """Mean predictive sd outside the training range over the mean inside it."""
    inside = inside_training_range(x)
    return float(sd[~inside].mean() / sd[inside].mean())


def rmse_inside(x, mean) -> float:
    """RMSE of the predictive mean to the true curve over the grid points in the training range."""
    inside = inside_training_range(x)
    return float(np.sqrt(((mean - truth(x))[inside] ** 2).mean()))


def fit_metrics(x, prediction: Mapping[str, np.ndarray], noise_sd: float) -> dict[str, float]:
    """The two acceptance metrics (band ratio >= 3, in-range RMSE / noise sd <= 1.2) and parts."""
    inside = inside_training_range(x)
    rmse = rmse_inside(x, prediction["mean"])
    return {
        "band_ratio": band_ratio(x, prediction["epistemic_sd"]),
        "rmse_to_truth_inside": rmse,
        "rmse_inside_over_noise_sd": rmse / float(noise_sd),
        "mean_epistemic_sd_inside": float(prediction["epistemic_sd"][inside].mean()),
        "mean_epistemic_sd_outside": float(prediction["epistemic_sd"][~inside].mean()),
        "mean_aleatoric_sd_inside": float(prediction["aleatoric_sd"][inside].mean()),
    }


def learned_priors(model) -> list[dict]:
    """The scale-mixture prior each DenseVariational layer ended with."""
    priors = []
    for layer in model.layers:
        prior = getattr(layer, "_prior", None)
        if prior is None:
            continue
        t = prior.weights[0].numpy()
        priors.append(
            {
                "layer": layer.name,
                "pi": float(1 / (1 + np.exp(-t[0]))),
                "sigma_1": float(np.log1p(np.exp(t[1]))),
                "sigma_2": float(np.log1p(np.exp(t[2]))),
            }
        )
    return priors


# ---------------------------------------------------------------- the rule's work


def fit(
    settings: Mapping[str, Any],
    tfp_config: Mapping[str, Any],
    variant: str,
    train_path,
    outputs: Mapping[str, Any],
) -> tuple[dict, dict]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown sinusoid variant {variant!r} (expected one of {VARIANTS})")
    x, y = read_points(train_path)
    session = setup_from_config(tfp_config, settings["seed"])
    progress = ProgressLogger(f"sinusoid {variant}", settings["epochs"])
    grid = np.linspace(*PREDICT_RANGE, settings["n_grid"])
    scaling = input_scaling(x) if settings["standardize_input"] else None
    with session.scope():
        model = build_model(session, settings, variant, n_train=len(x), scaling=scaling)
        seconds = train(session, model, x, y, settings=settings, progress=progress)
        prediction = predict(session, model, grid, settings["predictive_draws"])
    metrics = {
        "variant": variant,
        **fit_metrics(grid, prediction, settings["noise_sd"]),
        "train_seconds": round(seconds, 3),
        "epochs": settings["epochs"],
        "final_loss": progress.rows[-1]["loss"],
        "scaling": scaling,
        "learned_priors": learned_priors(model),
        "device": session.info,
    }
    log.info(
        "sinusoid %s: band ratio %.2f, in-range RMSE / noise sd %.2f after %.1f s of training",
        variant,
        metrics["band_ratio"],
        metrics["rmse_inside_over_noise_sd"],
        seconds,
    )
    write_history(outputs["history"], progress.rows)
    write_parquet(pd.DataFrame({"x": grid, **prediction}), outputs["predictions"])
    write_json(outputs["metrics"], metrics)
    return metrics, session.info


def summarize(metric_paths, output_csv) -> pd.DataFrame:
    """One row per variant: band ratio, in-range fit, band widths, training time, device."""
    return metrics_table(
        metric_paths,
        (
            "variant",
            "band_ratio",
            "rmse_inside_over_noise_sd",
            "mean_epistemic_sd_inside",
            "mean_epistemic_sd_outside",
            "mean_aleatoric_sd_inside",
            "rmse_to_truth_inside",
            "train_seconds",
            "epochs",
        ),
        output_csv,
    )

"""Analysis A, network with random effects: logerror ~ Normal(net(X) + alpha + a_zip[zip], sigma).

The network (one hidden layer of tanh units, L2 penalty, linear output without bias) has point
estimates; the global intercept ``alpha`` and the zip intercepts ``a_zip`` have mean-field
Normal posteriors with softplus scales (``tfp.util.TransformedVariable``), priors
alpha ~ Normal(0, 1) and a_zip ~ Normal(0, sigma_zip); sigma and sigma_zip are point estimates
(empirical Bayes, as in the tutorial's Edward model). The loss is the negative ELBO per training
row: mean negative log likelihood plus the KL of the intercepts / n_train plus the L2 penalty.
``bayesian_layers`` swaps the dense layers for ``tfp.layers.DenseFlipout`` (Normal(0, 1) priors,
KL / n_train instead of L2). Validation rows with a zip never seen in training (zip_index 0)
use the population intercept: prediction alpha, and in the predictive density the zip effect is
integrated out, sd sqrt(sigma^2 + sigma_zip^2), as the Stan models' held-out metrics do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bayespipe.engines.tfp.layers import mean_field_normal_fn
from bayespipe.engines.tfp.session import Session, setup_from_config
from bayespipe.engines.tfp.tables import write_history
from bayespipe.engines.tfp.training import ProgressLogger, batch_indices
from bayespipe.errors import InputError
from bayespipe.figures import save_figure, use_agg
from bayespipe.io import read_json, write_json, write_parquet

MODEL_NAME = "network"
log = logging.getLogger(__name__)


# ---------------------------------------------------------------- data


def read_predictors(path) -> list[str]:
    spec = read_json(path)
    names = spec.get("predictors")
    if not isinstance(names, list) or not names:
        raise InputError(path, "expected a non-empty list under 'predictors'", column="predictors")
    return names


def read_split(path, predictors: list[str]) -> pd.DataFrame:
    """A prepared split with the contract's columns, checked; rows keep their order."""
    frame = pd.read_parquet(path)
    for column in ["parcelid", "logerror", "zip_index", *predictors]:
        if column not in frame.columns:
            raise InputError(path, "missing column of the prepared Zillow split", column=column)
    for column in ["logerror", *predictors]:
        values = frame[column].to_numpy(dtype="float64")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(
                path,
                "expected finite numbers (prepared data has no nulls)",
                column=column,
                row=int(bad[0]),
            )
    zips = frame["zip_index"].to_numpy()
    if not np.issubdtype(zips.dtype, np.integer) or (zips < 0).any():
        raise InputError(
            path, "expected non-negative integer zip indices (0 = unseen)", column="zip_index"
        )
    return frame


def arrays(frame: pd.DataFrame, predictors: list[str]):
    return (
        frame[predictors].to_numpy("float32"),
        frame["zip_index"].to_numpy("int32"),
        frame["logerror"].to_numpy("float32"),
    )


# ---------------------------------------------------------------- model


def build(
    session: Session,
    n_predictors: int,
    n_groups: int,
    n_train: int,
    settings: Mapping[str, Any],
    y_sd: float,
):
    """The network and the variational intercepts, as one tf.Module."""
    tf, tfp = session.tf, session.tfp
    tfb = tfp.bijectors

    class RandomEffectsNetwork(tf.Module):
        def __init__(self):
            super().__init__(name="random_effects_network")
            self.net = _network(session, n_predictors, n_train, settings)
            self.alpha_loc = tf.Variable(0.0, name="alpha_loc")
            self.alpha_scale = tfp.util.TransformedVariable(
                0.01, tfb.Softplus(), name="alpha_scale"
            )
            self.zip_loc = tf.Variable(tf.zeros([n_groups]), name="zip_loc")
            self.zip_scale = tfp.util.TransformedVariable(
                tf.fill([n_groups], 0.01), tfb.Softplus(), name="zip_scale"
            )
            self.sigma = tfp.util.TransformedVariable(y_sd, tfb.Softplus(), name="sigma")
            self.sigma_zip = tfp.util.TransformedVariable(
                0.1 * y_sd, tfb.Softplus(), name="sigma_zip"
            )

    return RandomEffectsNetwork()


def _network(session: Session, n_predictors: int, n_train: int, settings: Mapping[str, Any]):
    tf, tfp = session.tf, session.tfp
    tfd = tfp.distributions
    if settings["bayesian_layers"]:

        def kl_per_row(q, p, _):
            return tfd.kl_divergence(q, p) / n_train

        seed = session.seed
        layers = [
            tfp.layers.DenseFlipout(
                settings["hidden_units"],
                activation="tanh",
                kernel_divergence_fn=kl_per_row,
                kernel_posterior_fn=mean_field_normal_fn(session, seed),
            ),
            tfp.layers.DenseFlipout(
                1,
                kernel_divergence_fn=kl_per_row,
                bias_posterior_fn=None,
                kernel_posterior_fn=mean_field_normal_fn(session, seed + 1),
            ),
        ]
    else:
        l2 = tf.keras.regularizers.L2(settings["l2"])
        layers = [
            tf.keras.layers.Dense(
                settings["hidden_units"], activation="tanh", kernel_regularizer=l2
            ),
            tf.keras.layers.Dense(1, kernel_regularizer=l2, use_bias=False),
        ]  # alpha is the intercept
    return tf.keras.Sequential([tf.keras.Input(shape=(n_predictors,)), *layers])


def posteriors(session: Session, model):
    """q(alpha) and q(a_zip) as TFP distributions."""
    tfd = session.tfp.distributions
    return (
        tfd.Normal(model.alpha_loc, model.alpha_scale),
        tfd.Independent(tfd.Normal(model.zip_loc, model.zip_scale), reinterpreted_batch_ndims=1),
    )


def priors(session: Session, model, n_groups: int):
    tf, tfd = session.tf, session.tfp.distributions
    return (
        tfd.Normal(0.0, 1.0),
        tfd.Independent(
            tfd.Normal(tf.zeros([n_groups]), model.sigma_zip * tf.ones([n_groups])),
            reinterpreted_batch_ndims=1,
        ),
    )


def _location(session: Session, model, x, zips, alpha, a_zip, training: bool):
    """net(x) + alpha + a_zip[zip]; zip index 0 (unseen) gets no zip effect."""
    tf = session.tf
    with_population = tf.concat([tf.zeros([1]), a_zip], axis=0)
    return model.net(x, training=training)[:, 0] + alpha + tf.gather(with_population, zips)


def train(
    session: Session,
    model,
    x,
    zips,
    y,
    *,
    n_groups: int,
    settings: Mapping[str, Any],
    progress: ProgressLogger,
) -> float:
    """RMSProp on the per-row negative ELBO; returns the training wall time."""
    tf, tfd = session.tf, session.tfp.distributions
    n = len(y)
    optimizer = tf.keras.optimizers.RMSprop(settings["learning_rate"])
    variables = model.trainable_variables

    @tf.function
    def step(xb, zb, yb):
        with tf.GradientTape() as tape:
            q_alpha, q_zip = posteriors(session, model)
            p_alpha, p_zip = priors(session, model, n_groups)
            location = _location(session, model, xb, zb, q_alpha.sample(), q_zip.sample(), True)
            nll = -tf.reduce_mean(tfd.Normal(location, model.sigma).log_prob(yb))
            kl = (tfd.kl_divergence(q_alpha, p_alpha) + tfd.kl_divergence(q_zip, p_zip)) / n
            penalty = tf.add_n(model.net.losses) if model.net.losses else 0.0
            loss = nll + kl + penalty
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss, -(nll + kl) * n

    rng = np.random.default_rng(session.seed)
    x_all, z_all, y_all = tf.constant(x), tf.constant(zips), tf.constant(y)
    started = progress.elapsed()
    for i, index in enumerate(
        batch_indices(rng, n, settings["batch_size"], settings["iterations"]), start=1
    ):
        if index is None:
            loss, elbo = step(x_all, z_all, y_all)
        else:
            loss, elbo = step(*(tf.gather(t, index) for t in (x_all, z_all, y_all)))
        progress.log(i, loss=loss.numpy(), elbo=elbo.numpy())
    return progress.elapsed() - started


def predict(session: Session, model, x, zips, y, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior-mean prediction and log predictive density per row, from ``draws`` draws.

    lpd_i = log mean_s Normal(y_i | mu_is, sd_i) with sd_i = sigma (seen zip) or
    sqrt(sigma^2 + sigma_zip^2) (unseen zip: its intercept integrated out).
    """
    tf, tfd = session.tf, session.tfp.distributions
    q_alpha, q_zip = posteriors(session, model)
    x, zips, y = tf.constant(x), tf.constant(zips), tf.constant(y)
    sd = tf.where(
        zips > 0, model.sigma, tf.sqrt(tf.square(model.sigma) + tf.square(model.sigma_zip))
    )

    @tf.function
    def one_draw():
        return _location(session, model, x, zips, q_alpha.sample(), q_zip.sample(), False)

    locations = tf.stack([one_draw() for _ in range(draws)])  # (draws, rows)
    log_density = tfd.Normal(locations, sd).log_prob(y)
    lpd = tf.reduce_logsumexp(log_density, axis=0) - tf.math.log(float(draws))
    return tf.reduce_mean(locations, axis=0).numpy(), lpd.numpy()


def heldout_metrics(y, prediction, lpd, n_unseen: int, draws: int) -> dict:
    residual = y - prediction
    return {
        "model": MODEL_NAME,
        "mae": float(np.mean(np.abs(residual))),
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mlpd": float(np.mean(lpd)),
        "n_validation": int(len(y)),
        "n_unseen_zip": int(n_unseen),
        "n_draws": int(draws),
    }


# ---------------------------------------------------------------- the rule's work


def fit(
    settings: Mapping[str, Any],
    tfp_config: Mapping[str, Any],
    train_path,
    validation_path,
    predictors_path,
    outputs: Mapping[str, Any],
) -> tuple[dict, dict]:
    """Train, evaluate on the validation split and write the outputs.

    Returns (held-out metrics, device).
    """
    predictors = read_predictors(predictors_path)
    train_frame = read_split(train_path, predictors)
    validation = read_split(validation_path, predictors)
    x, zips, y = arrays(train_frame, predictors)
    if (zips == 0).any():
        raise InputError(
            train_path,
            "training rows must all have a zip index >= 1",
            column="zip_index",
            row=int(np.flatnonzero(zips == 0)[0]),
        )
    n_groups = int(max(zips.max(), validation["zip_index"].max()))
    session = setup_from_config(tfp_config, settings["seed"])
    progress = ProgressLogger("zillow network", settings["iterations"])
    with session.scope():
        model = build(session, len(predictors), n_groups, len(y), settings, float(np.std(y)))
        seconds = train(
            session, model, x, zips, y, n_groups=n_groups, settings=settings, progress=progress
        )
        xv, zv, yv = arrays(validation, predictors)
        prediction, lpd = predict(session, model, xv, zv, yv, settings["predictive_draws"])
    heldout = heldout_metrics(
        yv, prediction, lpd, int((zv == 0).sum()), settings["predictive_draws"]
    )
    log.info(
        "zillow network: validation MAE %.4f, RMSE %.4f, MLPD %.3f after %.1f s of training",
        heldout["mae"],
        heldout["rmse"],
        heldout["mlpd"],
        seconds,
    )
    metrics = {
        **heldout,
        "train_seconds": round(seconds, 3),
        "iterations": settings["iterations"],
        "bayesian_layers": settings["bayesian_layers"],
        "sigma": float(model.sigma.numpy()),
        "sigma_zip": float(model.sigma_zip.numpy()),
        "alpha_mean": float(model.alpha_loc.numpy()),
        "alpha_sd": float(model.alpha_scale.numpy()),
        "n_train": int(len(y)),
        "n_groups": n_groups,
        "device": session.info,
    }
    write_history(outputs["history"], progress.rows)
    write_parquet(
        pd.DataFrame(
            {
                "parcelid": validation["parcelid"].to_numpy(),
                "zip_index": zv,
                "logerror": yv.astype("float64"),
                "prediction": prediction.astype("float64"),
                "residual": (yv - prediction).astype("float64"),
                "lpd": lpd.astype("float64"),
            }
        ),
        outputs["predictions"],
    )
    write_parquet(
        pd.DataFrame(
            {
                "zip_index": np.arange(1, n_groups + 1),
                "mean": model.zip_loc.numpy(),
                "sd": model.zip_scale.numpy(),
            }
        ),
        outputs["zip_intercepts"],
    )
    write_json(outputs["metrics"], metrics)
    write_json(outputs["heldout"], heldout)
    return heldout, session.info


def plot_residuals(predictions_path, figure_path) -> None:
    """Histogram of validation residuals (should centre on 0)."""
    use_agg()
    import matplotlib.pyplot as plt

    frame = pd.read_parquet(predictions_path)
    residual = frame["residual"].to_numpy()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.hist(residual, bins=80, color="C2", alpha=0.8)
    ax.axvline(0.0, color="k", lw=1)
    ax.axvline(residual.mean(), color="C3", ls="--", lw=1, label=f"mean {residual.mean():.4f}")
    ax.set(
        xlabel="validation logerror - prediction",
        ylabel="rows",
        title=f"Network with random effects: residuals (MAE {np.abs(residual).mean():.4f})",
    )
    ax.legend()
    save_figure(fig, figure_path)

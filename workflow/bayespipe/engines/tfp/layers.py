"""Keras layer helpers of the TFP networks."""

from __future__ import annotations

from bayespipe.engines.tfp.session import Session


def mean_field_normal_fn(
    session: Session, seed: int, loc_stddev: float = 0.1, untransformed_scale_mean: float = -3.0
):
    """A kernel_posterior_fn for tfp.layers.Dense*/Conv* layers with fresh, seeded initialisers.

    TFP's default shares one unseeded initialiser across layers, which repeats its values
    (Keras warns); call this once per layer with a distinct ``seed``. Scales start at
    softplus(untransformed_scale_mean) (about 0.05 for -3).
    """
    tf, tfp = session.tf, session.tfp
    return tfp.layers.default_mean_field_normal_fn(
        loc_initializer=tf.keras.initializers.RandomNormal(stddev=loc_stddev, seed=seed),
        untransformed_scale_initializer=tf.keras.initializers.RandomNormal(
            mean=untransformed_scale_mean, stddev=0.1, seed=seed + 100_003
        ),
    )

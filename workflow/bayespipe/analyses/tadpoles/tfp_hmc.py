"""Optional comparison: the reed-frog model sampled as the tutorial did, with TFP's HMC.

The tutorial's sampler: ``HamiltonianMonteCarlo`` with a fixed step size (0.1) and 3 leapfrog
steps, ``sigma`` on the log scale (``TransformedTransitionKernel``), ``SimpleStepSizeAdaptation``
to 0.8 acceptance during burn-in, 4 chains of 500 + 500. The model is the tutorial's centered
form (tank logits ~ Normal(a_bar, sigma)); it is the same posterior as stan/tadpoles.stan, whose
non-centered form is one reason NUTS mixes so much better.

TensorFlow is imported only here, lazily, through ``bayespipe.engines.tfp.session``.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from bayespipe.config import section_defaults
from bayespipe.engines.stan.plots import plot_trace
from bayespipe.io import atomic_path, read_json

logger = logging.getLogger(__name__)

COMPARED_VARIABLES = ["a_bar", "sigma", "a"]


def hmc_settings(hmc: dict | None = None) -> dict:
    """``hmc`` with every missing key set to its default in the ``tadpoles.tfp_hmc`` schema."""
    return {**section_defaults("tadpoles", "tfp_hmc"), **(hmc or {})}


def joint_distribution(tfp, tf, density: np.ndarray):
    """The tutorial's centered model as a TFP joint distribution.

    a_bar ~ N(0, 1.5); sigma ~ Exp(1); a_i ~ N(a_bar, sigma); surv_i ~ Binomial(density_i, logit
    a_i).
    """
    tfd = tfp.distributions
    density = tf.constant(density, dtype=tf.float32)
    tanks = int(density.shape[0])
    return tfd.JointDistributionSequential(
        [
            tfd.Normal(loc=0.0, scale=1.5, name="a_bar"),
            tfd.Exponential(rate=1.0, name="sigma"),
            lambda sigma, a_bar: tfd.Independent(
                tfd.Normal(
                    loc=a_bar[..., None] * tf.ones([tanks]),
                    scale=sigma[..., None] * tf.ones([tanks]),
                ),
                reinterpreted_batch_ndims=1,
                name="a",
            ),
            lambda a: tfd.Independent(
                tfd.Binomial(total_count=density, logits=a),
                reinterpreted_batch_ndims=1,
                name="surv",
            ),
        ]
    )


def sample_hmc(session, table: pd.DataFrame, settings: dict) -> tuple[dict, float, float]:
    """Draws, acceptance rate and sampling wall seconds of TFP's HMC.

    Draws as {name: (chain, draw, ...) array}, the acceptance rate, and the sampling wall seconds.
    """
    tf, tfp = session.tf, session.tfp
    settings = hmc_settings(settings)
    density = table["density"].to_numpy(np.float32)
    surv = tf.constant(table["surv"].to_numpy(np.float32))
    joint = joint_distribution(tfp, tf, density)
    chains, tanks = settings["chains"], len(table)

    def target_log_prob(a_bar, sigma, a):
        return joint.log_prob([a_bar, sigma, a, surv])

    kernel = tfp.mcmc.SimpleStepSizeAdaptation(
        tfp.mcmc.TransformedTransitionKernel(
            tfp.mcmc.HamiltonianMonteCarlo(
                target_log_prob,
                step_size=settings["step_size"],
                num_leapfrog_steps=settings["leapfrog_steps"],
            ),
            bijector=[tfp.bijectors.Identity(), tfp.bijectors.Exp(), tfp.bijectors.Identity()],
        ),
        num_adaptation_steps=settings["warmup"],
        target_accept_prob=settings["target_accept"],
    )
    # Stan-like random inits: uniform(-2, 2) on the unconstrained scale.
    rng = np.random.default_rng(settings["seed"])
    init = [
        tf.constant(rng.uniform(-2, 2, chains), tf.float32),
        tf.constant(np.exp(rng.uniform(-2, 2, chains)), tf.float32),
        tf.constant(rng.uniform(-2, 2, (chains, tanks)), tf.float32),
    ]

    @tf.function(autograph=False)
    def run():
        return tfp.mcmc.sample_chain(
            num_results=settings["draws"],
            num_burnin_steps=settings["warmup"],
            current_state=init,
            kernel=kernel,
            trace_fn=lambda _, results: results.inner_results.inner_results.is_accepted,
            seed=tf.constant([settings["seed"] % 2**31, 1], tf.int32),
        )

    clock = time.perf_counter()
    with session.scope():
        states, accepted = run()
    seconds = time.perf_counter() - clock
    # sample_chain stacks draws first: (draw, chain, ...) -> ArviZ's (chain, draw, ...).
    draws = {
        name: np.swapaxes(state.numpy(), 0, 1)
        for name, state in zip(("a_bar", "sigma", "a"), states, strict=True)
    }
    return draws, float(np.mean(accepted.numpy())), seconds


def sampler_row(label: str, idata, seconds: float) -> dict:
    import arviz as az

    posterior = idata.posterior[COMPARED_VARIABLES]
    ess = np.concatenate([np.ravel(v) for v in az.ess(posterior, method="bulk").data_vars.values()])
    rhat = np.concatenate([np.ravel(v) for v in az.rhat(posterior).data_vars.values()])
    return {
        "sampler": label,
        "chains": posterior.sizes["chain"],
        "draws_per_chain": posterior.sizes["draw"],
        "min_ess_bulk": float(np.min(ess)),
        "median_ess_bulk": float(np.median(ess)),
        "max_rhat": float(np.max(rhat)),
        "wall_seconds": float(seconds),
        "min_ess_bulk_per_second": float(np.min(ess) / seconds) if seconds > 0 else None,
        "a_bar_mean": float(posterior["a_bar"].mean()),
        "sigma_mean": float(posterior["sigma"].mean()),
    }


def compare(
    table_path,
    nuts_metrics_path,
    nuts_posterior_path,
    comparison_path,
    summary_path,
    trace_path,
    *,
    hmc: dict,
    tfp_config: dict,
    threads: int = 2,
) -> dict:
    """Sample with TFP's HMC and write the NUTS-vs-HMC table, HMC's summary and traces."""
    import arviz as az

    from bayespipe.engines.tfp.session import setup_from_config

    settings = hmc_settings(hmc)
    session = setup_from_config(tfp_config, settings["seed"], threads=threads)
    table = pd.read_parquet(table_path)
    draws, acceptance, seconds = sample_hmc(session, table, settings)
    hmc_idata = az.from_dict(
        posterior=draws, coords={"tank": table["tank"].tolist()}, dims={"a": ["tank"]}
    )
    nuts_idata = az.from_netcdf(nuts_posterior_path)
    nuts_seconds = read_json(nuts_metrics_path)["sampling_seconds"]
    rows = [
        sampler_row("NUTS (Stan)", nuts_idata, nuts_seconds),
        {
            **sampler_row("HMC (TFP, tutorial settings)", hmc_idata, seconds),
            "acceptance_rate": acceptance,
        },
    ]
    frame = pd.DataFrame(rows)
    with atomic_path(comparison_path) as tmp:
        frame.to_csv(tmp, index=False)
    summary = az.summary(hmc_idata, round_to="none")
    with atomic_path(summary_path) as tmp:
        summary.to_csv(tmp, index_label="variable")
    plot_trace(
        hmc_idata, trace_path, ["a_bar", "sigma"], title="TFP HMC (tutorial settings): traces"
    )
    logger.info("NUTS vs TFP HMC:\n%s", frame.to_string(index=False))
    return {"rows": rows, "device": session.info}

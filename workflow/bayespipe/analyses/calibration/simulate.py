"""Draw parameters from each program's prior and simulate its data from its data block.

Written from the ``data`` block and the priors of stan/<program>.stan, not from the Zillow
data-preparation code: a data set here is what the program claims to model, so a program that
computes another posterior (a wrong Jacobian, a mis-indexed group, wrong draws in generated
quantities) ranks the true values non-uniformly. ``simulate`` returns the Stan data (without
``prior_only``, which the engine sets) and the true value of every ranked quantity, named as
ArviZ names the posterior variable, 1-based like Stan (``beta[2]``, ``a_zip[7]``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from bayespipe.analyses.calibration.design import check_program, is_model, tracked_indices
from bayespipe.engines.stan.data import sufficient_statistics


def _half_normal(rng, scale: float = 1.0) -> float:
    return abs(rng.normal(0.0, scale))


def _replicates(y, X, groups) -> dict:
    """Predictive-check rows: just the first row (they are not part of the posterior).

    Not none: with N_rep = 0, a program drawing y_rep with a scalar scale (normal_rng(vector[0],
    real)) crashes CmdStan 2.35 with a segmentation fault, as linear_regression.stan (and likely
    intercepts_only.stan, same call) still do.
    """
    data = {"N_rep": 1, "y_obs": y[:1]}
    if X is not None:
        data["X_rep"] = X[:1]
    if groups is not None:
        data["g_rep"] = np.asarray(groups[:1], dtype=int)
    return data


def _named(name: str, values, indices=None) -> dict:
    values = np.atleast_1d(values)
    indices = range(1, len(values) + 1) if indices is None else indices
    return {f"{name}[{i}]": float(values[i - 1]) for i in indices}


def simulate_tadpoles(design: dict, rng) -> tuple[dict, dict]:
    density = np.asarray(design["density"], dtype=int)
    a_bar, sigma = rng.normal(0.0, 1.5), rng.exponential(1.0)
    z = rng.normal(0.0, 1.0, size=len(density))
    a = a_bar + sigma * z
    surv = rng.binomial(density, expit(a))
    data = {"N": len(density), "density": density, "surv": surv}
    truth = {"a_bar": a_bar, "sigma": sigma, **_named("a", a, tracked_indices(density))}
    return data, truth


def _regression(design: dict, rng) -> tuple[np.ndarray, float, np.ndarray, float]:
    X = np.asarray(design["X"], dtype=float)
    alpha, beta = rng.normal(0.0, 1.0), rng.normal(0.0, 1.0, size=X.shape[1])
    return X, alpha, beta, _half_normal(rng)


def simulate_linear_regression(design: dict, rng) -> tuple[dict, dict]:
    X, alpha, beta, sigma = _regression(design, rng)
    y = alpha + X @ beta + rng.normal(0.0, sigma, size=len(X))
    data = {
        **sufficient_statistics(y, X, None, 0),
        "estimate_sigma": 1,
        "sigma_fixed": 1.0,
        **_replicates(y, X, None),
    }
    truth = {"alpha": alpha, **_named("beta", beta), "sigma": sigma}
    return data, truth


def _zip_intercepts(design: dict, rng) -> tuple[np.ndarray, float, np.ndarray, list[int]]:
    groups = np.asarray(design["group"], dtype=int)
    sigma_zip = _half_normal(rng)
    a_zip = rng.normal(0.0, sigma_zip, size=design["n_groups"])
    sizes = np.bincount(groups - 1, minlength=design["n_groups"])
    return groups, sigma_zip, a_zip, tracked_indices(sizes)


def simulate_random_intercepts(design: dict, rng) -> tuple[dict, dict]:
    X, alpha, beta, sigma = _regression(design, rng)
    groups, sigma_zip, a_zip, tracked = _zip_intercepts(design, rng)
    y = alpha + X @ beta + a_zip[groups - 1] + rng.normal(0.0, sigma, size=len(X))
    G = design["n_groups"]
    data = {
        **sufficient_statistics(y, X, groups, G),
        **_replicates(y, X, groups),
    }
    truth = {
        "alpha": alpha,
        **_named("beta", beta),
        "sigma": sigma,
        "sigma_zip": sigma_zip,
        **_named("a_zip", a_zip, tracked),
    }
    return data, truth


def simulate_intercepts_only(design: dict, rng) -> tuple[dict, dict]:
    mu, sigma = rng.normal(0.0, 1.0), _half_normal(rng)
    groups, sigma_zip, a_zip, tracked = _zip_intercepts(design, rng)
    y = mu + a_zip[groups - 1] + rng.normal(0.0, sigma, size=len(groups))
    G = design["n_groups"]
    stats = sufficient_statistics(y, np.zeros((len(y), 0)), groups, G)
    data = {
        "N": len(y),
        "G": G,
        **{k: stats[k] for k in ("yy", "y_sum", "n_group", "y_group")},
        **_replicates(y, None, groups),
    }
    truth = {
        "mu": mu,
        "sigma": sigma,
        "sigma_zip": sigma_zip,
        **_named("a_zip", a_zip, tracked),
        **_named("zip_mean", mu + a_zip, tracked[-1:]),
    }
    return data, truth


def simulate_missing_predictor(design: dict, rng) -> tuple[dict, dict]:
    """Column m of X is latent, x ~ normal(nu, sigma_N), for every row.

    Observed in complete rows, a missing value (ranked as x_mis) in the others.
    """
    X, alpha, beta, sigma = _regression(design, rng)
    groups, sigma_zip, a_zip, tracked = _zip_intercepts(design, rng)
    nu, sigma_N = rng.normal(0.0, 1.0), _half_normal(rng)
    m, missing = design["imputable"], np.asarray(design["missing"], dtype=bool)
    X = X.copy()
    X[:, m - 1] = rng.normal(nu, sigma_N, size=len(X))
    y = alpha + X @ beta + a_zip[groups - 1] + rng.normal(0.0, sigma, size=len(X))
    G = design["n_groups"]
    x_mis = X[missing, m - 1]
    X_mis = X[missing].copy()
    X_mis[:, m - 1] = 0.0  # the missing value enters as beta[m] * x_mis
    observed = X[~missing, m - 1]
    mis_stats = sufficient_statistics(y[missing], X_mis, groups[missing], G)
    data = {
        **sufficient_statistics(y[~missing], X[~missing], groups[~missing], G),
        "m": m,
        "n_x_obs": len(observed),
        "x_obs_sum": float(observed.sum()),
        "x_obs_ss": float(observed @ observed),
        "N_mis": len(x_mis),
        "y_mis": y[missing],
        "X_mis": X_mis,
        "g_mis": groups[missing],
        **{f"{k}_mis": v for k, v in mis_stats.items() if k not in ("N", "K", "G")},
        **_replicates(y[~missing], X[~missing], groups[~missing]),
    }
    truth = {
        "alpha": alpha,
        **_named("beta", beta),
        "sigma": sigma,
        "sigma_zip": sigma_zip,
        "nu": nu,
        "sigma_N": sigma_N,
        **_named("a_zip", a_zip, tracked),
        **_named("x_mis", x_mis, tracked_indices(np.arange(len(x_mis)))),
    }
    return data, truth


SIMULATORS = {
    "tadpoles": simulate_tadpoles,
    "linear_regression": simulate_linear_regression,
    "random_intercepts": simulate_random_intercepts,
    "intercepts_only": simulate_intercepts_only,
    "missing_predictor": simulate_missing_predictor,
}


def simulate_model(design: dict, replication: int) -> tuple[dict, dict]:
    """Simulate one replication of a `models:` block from its own prior predictive run.

    Replication r takes the r-th stored joint draw; its ``_rep`` quantities replace the data they
    replicate.
    """
    data = {}
    for name, values in design["data"].items():
        kind = np.int64 if design["types"][name] == "int" else float
        data[name] = np.asarray(values, dtype=kind) if np.ndim(values) else values
    for variable, replicate in design["replicated"].items():
        values = np.asarray(design["replicates"][replicate][replication], dtype=float)
        integer = design["types"][variable] == "int"
        data[variable] = values.round().astype(np.int64) if integer else values
    truth = {}
    for name, draws in design["parameters"].items():
        value = np.asarray(draws[replication], dtype=float)
        if value.ndim == 0:
            truth[name] = float(value)
        elif value.ndim == 1:
            truth.update(_named(name, value, tracked_indices(np.arange(len(value)))))
    return data, truth


def simulate(program: str, design: dict, rng, replication: int = 0) -> tuple[dict, dict]:
    """(Stan data, true values) of one replication of ``program``."""
    check_program(program)
    if design["program"] != program:
        raise ValueError(f"design of {design['program']!r} given for program {program!r}")
    if is_model(program):
        data, truth = simulate_model(design, replication)
    else:
        data, truth = SIMULATORS[program](design, rng)
    return data, {name: float(value) for name, value in truth.items()}

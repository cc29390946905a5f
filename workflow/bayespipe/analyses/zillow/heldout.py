"""Held-out predictions and metrics of the Zillow Stan models, computed from the posterior draws.

Pointwise quantities over validation rows x draws would be tens of millions of numbers, so the
predictive mean and the log predictive density are accumulated in row chunks and nothing of
size rows x draws is kept or written. Validation rows whose zip never appears in training use
the population: their intercept is integrated out (predictive sd sqrt(sigma^2 + sigma_zip^2)).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bayespipe.errors import InputError
from bayespipe.io import atomic_path, read_json

CHUNK_ROWS = 500  # 500 rows x 4000 draws: about 16 MB per temporary array
LOG_2PI = float(np.log(2 * np.pi))


@dataclass
class LinearDraws:
    """Flattened posterior draws (S of them) of a Gaussian model with optional zip intercepts."""

    intercept: np.ndarray  # (S,)
    beta: np.ndarray  # (S, K)
    sigma: np.ndarray  # (S,)
    a_zip: np.ndarray | None = None  # (S, G)
    sigma_zip: np.ndarray | None = None  # (S,)


def flat(posterior, name: str) -> np.ndarray:
    """A posterior variable with chain and draw merged into one leading axis."""
    values = posterior[name].to_numpy()
    return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])


def linear_draws(posterior, n_predictors: int) -> LinearDraws:
    """The draws that predictions need, from an InferenceData posterior group (xarray Dataset)."""
    intercept = flat(posterior, "alpha" if "alpha" in posterior else "mu")
    beta = (
        flat(posterior, "beta").reshape(len(intercept), -1)
        if n_predictors
        else np.zeros((len(intercept), 0))
    )
    grouped = "a_zip" in posterior
    return LinearDraws(
        intercept=intercept,
        beta=beta,
        sigma=flat(posterior, "sigma"),
        a_zip=flat(posterior, "a_zip") if grouped else None,
        sigma_zip=flat(posterior, "sigma_zip") if grouped else None,
    )


def _chunk_moments(
    draws: LinearDraws, X: np.ndarray, zips: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw predictive mean and sd for a chunk of rows, both (rows, S)."""
    mean = draws.intercept[None, :] + X @ draws.beta.T
    sd = np.broadcast_to(draws.sigma[None, :], mean.shape)
    if draws.a_zip is not None:
        seen = zips > 0
        mean = mean.copy()
        mean[seen] += draws.a_zip[:, zips[seen] - 1].T
        unseen_sd = np.sqrt(draws.sigma**2 + draws.sigma_zip**2)
        sd = np.where(seen[:, None], draws.sigma[None, :], unseen_sd[None, :])
    return mean, sd


def predict(
    draws: LinearDraws,
    X: np.ndarray,
    zips: np.ndarray,
    y: np.ndarray | None = None,
    chunk_rows: int = CHUNK_ROWS,
    workers: int = 1,
):
    """Posterior-mean prediction per row and, given y, the log predictive density per row.

    lpd_i = log mean_s N(y_i | mu_is, sd_is), by log-sum-exp over draws. Chunks of rows are
    scored on ``workers`` threads (numpy releases the GIL inside its array operations).
    """
    n = len(X)
    prediction = np.empty(n)
    lpd = np.empty(n) if y is not None else None
    log_draws = np.log(len(draws.sigma))
    # zip intercepts one row per zip (contiguous): gathering a chunk's rows is then 10x cheaper
    by_zip = None if draws.a_zip is None else np.ascontiguousarray(draws.a_zip.T)

    def score(start: int) -> None:
        rows = slice(start, min(start + chunk_rows, n))
        mean = _chunk_mean(draws, by_zip, X[rows], zips[rows])
        prediction[rows] = mean.mean(axis=1)
        if y is not None:  # overwrites mean
            lpd[rows] = _log_mean_density(y[rows], mean, draws, zips[rows]) - log_draws

    starts = range(0, n, chunk_rows)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(score, starts))
    else:
        for start in starts:
            score(start)
    return prediction, lpd


def _chunk_mean(draws: LinearDraws, by_zip, X: np.ndarray, zips: np.ndarray) -> np.ndarray:
    """Per-draw predictive mean of a chunk of rows, (rows, S): ``_chunk_moments``'s mean."""
    mean = draws.intercept[None, :] + X @ draws.beta.T
    if by_zip is not None:
        seen = zips > 0
        mean[seen] += by_zip[zips[seen] - 1]
    return mean


def _log_mean_density(y: np.ndarray, mean: np.ndarray, draws: LinearDraws, zips: np.ndarray):
    """Return log sum_s N(y_i | mean_is, sd_s) per row, computed in place of ``mean``.

    The sd takes one of two values per draw (a seen zip's sigma, or the population's for an unseen
    one), so rows are scored in two groups whose log and inverse sd are per-draw vectors; the
    log-sum-exp is written out in place (scipy's checks and temporaries cost more than the sum
    at 500 rows x 4,000 draws).
    """
    sigma = draws.sigma
    grouped = draws.a_zip is not None
    unseen = (zips <= 0) if grouped else np.zeros(len(y), dtype=bool)
    unseen_sd = np.sqrt(sigma**2 + draws.sigma_zip**2) if grouped else sigma
    result = np.empty(len(y))
    for rows, sd in ((~unseen, sigma), (unseen, unseen_sd)):
        if not rows.any():
            continue
        block = mean if rows.all() else mean[rows]
        np.subtract(y[rows, None], block, out=block)
        block *= 1.0 / sd
        np.square(block, out=block)
        block *= -0.5
        block -= np.log(sd) + 0.5 * LOG_2PI
        peak = block.max(axis=1, keepdims=True)
        block -= peak
        np.exp(block, out=block)
        result[rows] = peak[:, 0] + np.log(block.sum(axis=1))
    return result


TAIL_PROBABILITIES = (0.001, 0.01, 0.25, 0.75, 0.99, 0.999)


def subset(draws: LinearDraws, index: np.ndarray) -> LinearDraws:

    def pick(a):
        return None if a is None else a[index]

    return LinearDraws(
        draws.intercept[index],
        draws.beta[index],
        draws.sigma[index],
        pick(draws.a_zip),
        pick(draws.sigma_zip),
    )


def replicate(
    draws: LinearDraws,
    X: np.ndarray,
    zips: np.ndarray,
    rng: np.random.Generator,
    chunk_rows: int = CHUNK_ROWS,
) -> np.ndarray:
    """One replicated data set of the given rows per draw, (rows, S): the model's own Normal."""
    replicated = np.empty((len(X), len(draws.sigma)))
    for start in range(0, len(X), chunk_rows):
        rows = slice(start, min(start + chunk_rows, len(X)))
        mean, sd = _chunk_moments(draws, X[rows], zips[rows])
        replicated[rows] = rng.normal(mean, sd)
    return replicated


def tail_quantiles(
    draws: LinearDraws,
    X: np.ndarray,
    zips: np.ndarray,
    y: np.ndarray,
    *,
    n_replicates: int = 100,
    seed: int = 0,
    probabilities: tuple[float, ...] = TAIL_PROBABILITIES,
) -> dict:
    """Observed quantiles of y against those of full-size replicated data sets.

    Quantiles of the observed y against the same quantiles of full-size replicated data sets (one
    per posterior draw, ``n_replicates`` draws): a Normal likelihood fitted to heavy-tailed data
    replicates too narrow extremes, and the observed 0.1% / 99.9% quantiles fall outside the
    replicates' 90% interval.
    """
    rng = np.random.default_rng(seed)
    index = np.sort(
        rng.choice(len(draws.sigma), size=min(n_replicates, len(draws.sigma)), replace=False)
    )
    replicated = replicate(subset(draws, index), X, zips, rng)
    rep_q = np.quantile(replicated, probabilities, axis=0)  # (P, R)
    obs_q = np.quantile(y, probabilities)
    rows = []
    for p, observed, reps in zip(probabilities, obs_q, rep_q, strict=True):
        low, median, high = np.quantile(reps, [0.05, 0.5, 0.95])
        rows.append(
            {
                "probability": p,
                "observed": float(observed),
                "replicated_median": float(median),
                "replicated_q05": float(low),
                "replicated_q95": float(high),
                # posterior predictive p-value of this quantile: replicates at least as high
                "p_replicated_ge_observed": float(np.mean(reps >= observed)),
                "outside_replicated_90": bool(observed < low or observed > high),
            }
        )
    return {
        "n_rows": int(len(y)),
        "n_replicates": int(len(index)),
        "seed": seed,
        "quantiles": rows,
        "outside_replicated_90": [r["probability"] for r in rows if r["outside_replicated_90"]],
        "observed_min": float(np.min(y)),
        "observed_max": float(np.max(y)),
        "replicated_min_median": float(np.median(replicated.min(axis=0))),
        "replicated_max_median": float(np.median(replicated.max(axis=0))),
    }


def heldout_metrics(
    model: str,
    draws: LinearDraws,
    validation: pd.DataFrame,
    predictors: list[str],
    workers: int = 1,
) -> tuple[dict, np.ndarray]:
    """MAE and RMSE of the posterior-mean prediction and the mean log predictive density."""
    y = validation["logerror"].to_numpy(dtype=float)
    X = validation[predictors].to_numpy(dtype=float).reshape(len(validation), len(predictors))
    zips = validation["zip_index"].to_numpy(dtype=np.int64)
    prediction, lpd = predict(draws, X, zips, y, workers=workers)
    residual = y - prediction
    metrics = {
        "model": model,
        "mae": float(np.mean(np.abs(residual))),
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mlpd": float(np.mean(lpd)),
        "n_validation": int(len(y)),
        "n_unseen_zip": int(np.sum(zips == 0)),
        "n_draws": int(len(draws.sigma)),
    }
    return metrics, residual


def comparison_table(metric_files: list[str | Path]) -> pd.DataFrame:
    """One row per model from its heldout_metrics.json, sorted by validation MAE."""
    rows = []
    for path in metric_files:
        metrics = read_json(path)
        missing = {"model", "mae", "rmse", "mlpd", "n_validation"} - set(metrics)
        if missing:
            raise InputError(path, f"held-out metrics lack keys {sorted(missing)}")
        rows.append({key: metrics[key] for key in ("model", "mae", "rmse", "mlpd", "n_validation")})
    table = pd.DataFrame(rows).sort_values("mae", kind="stable").reset_index(drop=True)
    table["rank_mae"] = np.arange(1, len(table) + 1)
    return table


def write_comparison(metric_files: list[str | Path], path: str | Path) -> pd.DataFrame:
    table = comparison_table(metric_files)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    return table

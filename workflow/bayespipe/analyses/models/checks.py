"""What every model block gets after its fit, each written by its own job.

Posterior predictive figures and numbers (for each ``<data>_rep`` quantity), PSIS-LOO with Pareto k
(for ``log_lik``), and held-out scores (when the block sets ``heldout``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayespipe.analyses.models.prepare import load_stan_data
from bayespipe.engines.stan.program import program_info
from bayespipe.figures import pyplot, save_figure
from bayespipe.io import atomic_path, write_json

INTERVAL = (5, 50, 95)  # the 90% predictive interval and the median
MAX_ROWS_DRAWN = 60  # above this, rows are drawn as observed against predicted
DENSITY_DRAWS = 50  # replicated data sets drawn beside the observed distribution


def _replicate_draws(idata, replicate: str) -> np.ndarray:
    values = idata.posterior_predictive[replicate].values
    return values.reshape(values.shape[0] * values.shape[1], -1)


def predictive_table(idata, observed: dict, replicated: dict) -> pd.DataFrame:
    """Per data variable and row: observed value, predictive mean and 90% interval."""
    frames = []
    for variable, replicate in replicated.items():
        draws = _replicate_draws(idata, replicate)
        y = np.asarray(observed[variable], dtype=float).ravel()
        low, median, high = np.percentile(draws, INTERVAL, axis=0)
        frames.append(
            pd.DataFrame(
                {
                    "variable": variable,
                    "row": np.arange(1, len(y) + 1),
                    "observed": y,
                    "mean": draws.mean(axis=0),
                    "q05": low,
                    "q50": median,
                    "q95": high,
                    "inside_90": (y >= low) & (y <= high),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _ecdf(ax, values: np.ndarray, **style) -> None:
    x = np.sort(values)
    ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", **style)


def _distribution_panel(ax, draws: np.ndarray, y: np.ndarray, variable: str) -> None:
    """Empirical CDFs of replicated data sets against the observed one (readable at any N)."""
    picks = np.linspace(0, len(draws) - 1, min(DENSITY_DRAWS, len(draws))).astype(int)
    for k, pick in enumerate(picks):
        _ecdf(
            ax,
            draws[pick],
            color="C1",
            alpha=0.25,
            linewidth=1,
            label=f"{len(picks)} replicated data sets" if k == 0 else None,
        )
    _ecdf(ax, y, color="k", linewidth=2, label="observed")
    ax.set(
        xlabel=variable,
        ylabel="share of rows <= value",
        title=f"{variable}: observed vs replicated (ECDF)",
    )
    ax.legend(fontsize=8, frameon=False, loc="lower right")


def _rows_panel(ax, rows: pd.DataFrame, variable: str) -> None:
    share = rows["inside_90"].mean()
    if len(rows) <= MAX_ROWS_DRAWN:
        x = rows["row"].to_numpy()
        ax.vlines(
            x,
            rows["q05"],
            rows["q95"],
            color="C1",
            alpha=0.6,
            linewidth=2,
            label="predictive 90% interval",
        )
        ax.plot(x, rows["q50"], "_", color="C1", markersize=10, label="predictive median")
        ax.plot(x, rows["observed"], "o", color="k", markersize=4, label="observed")
        ax.set(xlabel="row", ylabel=variable)
    else:
        ax.errorbar(
            rows["observed"],
            rows["mean"],
            yerr=[rows["mean"] - rows["q05"], rows["q95"] - rows["mean"]],
            fmt="o",
            markersize=2,
            alpha=0.3,
            color="C1",
            label="predictive mean, 90%",
        )
        lims = [rows[["observed", "q05"]].min().min(), rows[["observed", "q95"]].max().max()]
        ax.plot(lims, lims, "k--", linewidth=1, label="y = x")
        ax.set(xlabel=f"observed {variable}", ylabel=f"predicted {variable}")
    ax.set_title(f"{share:.0%} of rows inside the 90% predictive interval")
    ax.legend(fontsize=8, frameon=False)


def posterior_predictive(posterior_nc, stan_data_path, stan_file, figure_path, table_path) -> dict:
    """The posterior predictive figure and its numbers; returns the share inside 90%."""
    import arviz as az

    replicated = program_info(stan_file).replicated()
    idata = az.from_netcdf(posterior_nc)
    observed = load_stan_data(stan_data_path)
    table = predictive_table(idata, observed, replicated)
    plt = pyplot()
    fig, axes = plt.subplots(
        len(replicated),
        2,
        figsize=(11, 3.8 * len(replicated)),
        layout="constrained",
        squeeze=False,
    )
    for (density_ax, rows_ax), (variable, replicate) in zip(axes, replicated.items(), strict=True):
        y = np.asarray(observed[variable], dtype=float).ravel()
        _distribution_panel(density_ax, _replicate_draws(idata, replicate), y, variable)
        _rows_panel(rows_ax, table[table["variable"] == variable], variable)
    save_figure(fig, figure_path)
    with atomic_path(table_path) as tmp:
        table.to_csv(tmp, index=False)
    return {v: float(table.loc[table["variable"] == v, "inside_90"].mean()) for v in replicated}


def loo(posterior_nc, path) -> dict:
    """PSIS-LOO of the fitted rows (ArviZ) with the Pareto k of each row summarised."""
    import arviz as az

    idata = az.from_netcdf(posterior_nc)
    result = az.loo(idata, pointwise=True)
    k = np.asarray(result.pareto_k).ravel()
    summary = {
        "elpd_loo": float(result.elpd_loo),
        "se": float(result.se),
        "p_loo": float(result.p_loo),
        "n_data_points": int(result.n_data_points),
        "n_draws": int(result.n_samples),
        "pareto_k": {
            "max": float(k.max()),
            "good_below_0.7": int((k <= 0.7).sum()),
            "bad_0.7_to_1": int(((k > 0.7) & (k <= 1)).sum()),
            "very_bad_above_1": int((k > 1).sum()),
            "worst_rows": (np.argsort(-k)[:3] + 1).tolist(),
        },
        "passed": bool(k.max() <= 0.7),
    }
    write_json(path, summary)
    return summary


def _lpd(log_lik: np.ndarray) -> np.ndarray:
    """Log pointwise predictive density of each row from (draws, rows) log-likelihoods."""
    from scipy.special import logsumexp

    return logsumexp(log_lik, axis=0) - np.log(len(log_lik))


def heldout(
    posterior_nc, stan_data_path, stan_file, stamp_path, path, *, engine: str, seed: int
) -> dict:
    """Score the held-out rows with the program's generated quantities at every draw.

    Writes the log predictive density (log_lik) and the error of the mean of each ``_rep``
    quantity.
    """
    import arviz as az

    from bayespipe.engines.stan.engine import get_engine

    program = program_info(stan_file)
    posterior = az.from_netcdf(posterior_nc).posterior
    draws = {name: posterior[name].values for name in program.parameters}
    data = load_stan_data(stan_data_path, "heldout")
    generated, info = get_engine(engine).generate_quantities(
        stan_file, data, draws, stamp_path=stamp_path, seed=seed
    )
    result = {
        "heldout_rows": None,
        "draws": int(posterior.sizes["chain"] * posterior.sizes["draw"]),
    }
    if program.has_log_lik:
        log_lik = generated["log_lik"].reshape(result["draws"], -1)
        lpd = _lpd(log_lik)
        result.update(heldout_rows=len(lpd), lpd=float(lpd.sum()), lpd_per_row=float(lpd.mean()))
    errors = {}
    for variable, replicate in program.replicated().items():
        if not info.get("rng"):
            errors[variable] = {"note": f"{engine} draws every replicate with one fixed seed"}
            continue
        predicted = generated[replicate].reshape(result["draws"], -1).mean(axis=0)
        y = np.asarray(data[variable], dtype=float).ravel()
        result["heldout_rows"] = len(y)
        errors[variable] = {
            "mae": float(np.abs(predicted - y).mean()),
            "rmse": float(np.sqrt(((predicted - y) ** 2).mean())),
        }
    result["replicate_mean_error"] = errors
    write_json(path, result)
    return result

"""Analysis C: the reed-frog varying-intercepts model, its fit, metrics and figures.

Analysis C: the reed-frog varying-intercepts model (stan/tadpoles.stan), its fit, metrics and the
tutorial's figures.

Tanks are numbered 1..48 in table order (the ``tank`` column of the prepared table); the table
is ordered by density (10, 25, 35), which the survival figure's separators rely on.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from bayespipe.engines.stan.data import Field, check_stan_data
from bayespipe.figures import pyplot, save_figure
from bayespipe.io import write_json

logger = logging.getLogger(__name__)

STAN_DATA_SPEC = {
    "N": Field("int", lower=1),
    "density": Field("int", ("N",), lower=1),
    "surv": Field("int", ("N",), lower=0, upper="density"),
}
TANK_VARIABLES = ("z", "a", "p", "surv_rep", "log_lik", "surv")
GATED_VARIABLES = ["a_bar", "sigma", "z"]  # the sampled parameters; a and p are functions of them
TRACE_VARIABLES = ["a_bar", "sigma"]
TITLE_PAD = 18  # room above the axes for the density-group labels


def stan_data(table: pd.DataFrame, source=None) -> dict:
    """The Stan data of the prepared reed-frog table, checked field by field."""
    data = {
        "N": int(len(table)),
        "density": table["density"].astype("int64").to_numpy(),
        "surv": table["surv"].astype("int64").to_numpy(),
    }
    check_stan_data(data, STAN_DATA_SPEC, source=source)
    return data


def idata_kwargs(table: pd.DataFrame) -> dict:
    """Converter arguments: survivors as observed data and replicates, tanks as a coordinate."""
    return {
        "posterior_predictive": "surv_rep",
        "log_likelihood": "log_lik",
        "observed_data": ["surv"],
        "coords": {"tank": table["tank"].astype(int).tolist()},
        "dims": {name: ["tank"] for name in TANK_VARIABLES},
    }


def fit(
    table_path,
    stan_file,
    stamp_path,
    fit_paths: dict,
    metrics_path,
    *,
    engine: str,
    sampler: dict,
    thresholds: dict,
) -> dict:
    """Fit the model (posterior and prior-only runs), write the standard fit outputs and metrics."""
    from bayespipe.engines.stan.engine import get_engine
    from bayespipe.engines.stan.outputs import save_fit

    table = pd.read_parquet(table_path)
    data = stan_data(table, source=table_path)
    stan_engine = get_engine(engine)
    kwargs = idata_kwargs(table)
    idata, info, prior = stan_engine.fit_with_prior(
        stan_file, data, sampler, stamp_path=stamp_path, idata_kwargs=kwargs
    )
    diagnostics = save_fit(
        fit_paths,
        idata,
        info,
        prior_idata=prior,
        thresholds=thresholds,
        var_names=GATED_VARIABLES,
        plot_vars=TRACE_VARIABLES,
        label="tadpoles",
    )
    result = metrics(idata, diagnostics, info)
    write_json(metrics_path, result)
    return result


def metrics(idata, diagnostics: dict, info: dict) -> dict:
    """Posterior means and sds of a_bar and sigma with the fit's headline diagnostics."""
    posterior = idata.posterior
    values = {}
    for name in TRACE_VARIABLES:
        draws = posterior[name].values.ravel()
        values[name] = {"mean": float(draws.mean()), "sd": float(draws.std(ddof=1))}
    from bayespipe.engines.stan.outputs import headline_metrics

    return {**values, **headline_metrics(idata, diagnostics, info), "stan": info.get("versions")}


# ------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------
def _draws(idata, name: str, group: str = "posterior") -> np.ndarray:
    """(draws, tanks) array of a per-tank variable, chains stacked."""
    values = idata[group][name]
    return values.stack(sample=("chain", "draw")).transpose("sample", "tank").values


def _density_breaks(table: pd.DataFrame) -> list[float]:
    """x positions between tanks where the density changes (vertical separators)."""
    density = table["density"].to_numpy()
    return [i + 0.5 for i in range(1, len(density)) if density[i] != density[i - 1]]


def _mark_densities(ax, table: pd.DataFrame) -> None:
    tanks = table["tank"].to_numpy()
    edges = [tanks[0] - 0.5, *(b + tanks[0] - 1 for b in _density_breaks(table)), tanks[-1] + 0.5]
    for x in edges[1:-1]:
        ax.axvline(x, color="grey", linewidth=0.8, linestyle="--")
    density = table["density"].to_numpy()
    starts = [0, *(int(b) for b in _density_breaks(table))]
    for left, right, start in zip(edges[:-1], edges[1:], starts, strict=False):
        ax.text(
            (left + right) / 2,
            1.02,
            f"density {density[start]}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=9,
        )


def _axes(width=10.5, height=4.0, **subplots):
    plt = pyplot()

    return plt.subplots(figsize=(width, height), layout="constrained", **subplots)


def _legend_outside(ax) -> None:
    """Legend to the right of the axes, so it never hides a tank."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def complete_pooling(table: pd.DataFrame) -> float:
    """The pooled survival estimate sum(surv) / sum(density)."""
    return float(table["surv"].sum() / table["density"].sum())


def plot_tank_logits(idata, table: pd.DataFrame, path) -> None:
    """Per-tank posterior log-odds: mean with 50% and 90% intervals, a_bar as a line."""
    draws = _draws(idata, "a")
    tanks = table["tank"].to_numpy()
    fig, ax = _axes()
    q = np.percentile(draws, [5, 25, 75, 95], axis=0)
    ax.vlines(tanks, q[0], q[3], color="C0", alpha=0.35, linewidth=1.2, label="90% interval")
    ax.vlines(tanks, q[1], q[2], color="C0", linewidth=3, label="50% interval")
    ax.plot(tanks, draws.mean(axis=0), "o", color="C0", markersize=4, label="posterior mean")
    ax.axhline(
        float(idata.posterior["a_bar"].mean()),
        color="k",
        linewidth=1,
        label="posterior mean of a_bar",
    )
    _mark_densities(ax, table)
    ax.set(xlabel="tank", ylabel="log-odds of survival")
    ax.set_title("Per-tank posterior logits", pad=TITLE_PAD)
    _legend_outside(ax)
    save_figure(fig, path)


def plot_survival(idata, table: pd.DataFrame, path) -> None:
    """Posterior survival probability per tank (mean, 50% interval) against observed propsurv."""
    draws = _draws(idata, "p")
    tanks = table["tank"].to_numpy()
    fig, ax = _axes()
    low, high = np.percentile(draws, [25, 75], axis=0)
    ax.vlines(
        tanks, low, high, color="C1", linewidth=2.5, alpha=0.7, label="posterior 50% interval"
    )
    ax.plot(tanks, draws.mean(axis=0), "o", mfc="none", color="C1", label="posterior mean")
    ax.plot(tanks, table["propsurv"], "o", color="C0", markersize=4, label="observed propsurv")
    ax.axhline(
        complete_pooling(table),
        color="k",
        linestyle="-",
        linewidth=1,
        label="complete pooling sum(surv)/sum(density)",
    )
    _mark_densities(ax, table)
    ax.set(xlabel="tank", ylabel="survival probability", ylim=(-0.02, 1.08))
    ax.set_title("Per-tank survival: observed and partial pooling", pad=TITLE_PAD)
    _legend_outside(ax)
    save_figure(fig, path)


def shrinkage(idata, table: pd.DataFrame) -> pd.DataFrame:
    """Per tank: posterior mean survival minus propsurv (and its absolute value)."""
    mean = _draws(idata, "p").mean(axis=0)
    frame = table[["tank", "density", "propsurv"]].copy()
    frame["posterior_mean"] = mean
    frame["shrinkage"] = mean - frame["propsurv"]
    frame["abs_shrinkage"] = frame["shrinkage"].abs()
    return frame


def plot_shrinkage(idata, table: pd.DataFrame, path) -> None:
    """Posterior mean minus propsurv by tank; smaller tanks are pulled further toward the mean."""
    frame = shrinkage(idata, table)
    fig, (ax, box) = _axes(11, 4, ncols=2, width_ratios=[2, 1])
    colours = {d: f"C{i}" for i, d in enumerate(sorted(frame["density"].unique()))}
    ax.bar(frame["tank"], frame["shrinkage"], color=[colours[d] for d in frame["density"]])
    ax.axhline(0, color="k", linewidth=0.8)
    _mark_densities(ax, table)
    ax.set(xlabel="tank", ylabel="posterior mean - propsurv")
    ax.set_title("Shrinkage by tank", pad=TITLE_PAD)
    groups = [frame.loc[frame["density"] == d, "abs_shrinkage"] for d in sorted(colours)]
    box.boxplot(groups, tick_labels=[str(d) for d in sorted(colours)])
    box.set(
        xlabel="tadpoles per tank",
        ylabel="|posterior mean - propsurv|",
        title="Smaller tanks shrink more",
    )
    save_figure(fig, path)


def plot_ppc(idata, table: pd.DataFrame, path) -> None:
    """Posterior predictive survivors per tank (median, 90% interval) against the observed ones."""
    draws = _draws(idata, "surv_rep", group="posterior_predictive")
    tanks = table["tank"].to_numpy()
    fig, ax = _axes()
    low, mid, high = np.percentile(draws, [5, 50, 95], axis=0)
    ax.vlines(tanks, low, high, color="C2", linewidth=2, alpha=0.6, label="predictive 90% interval")
    ax.plot(tanks, mid, "_", color="C2", markersize=10, label="predictive median")
    ax.plot(tanks, table["surv"], "o", color="C0", markersize=4, label="observed survivors")
    _mark_densities(ax, table)
    inside = float(np.mean((table["surv"] >= low) & (table["surv"] <= high)))
    ax.set(xlabel="tank", ylabel="survivors")
    ax.set_title(
        f"Posterior predictive check ({inside:.0%} of tanks inside the 90% interval)", pad=TITLE_PAD
    )
    _legend_outside(ax)
    save_figure(fig, path)


FIGURES = {
    "logits": plot_tank_logits,
    "survival": plot_survival,
    "shrinkage": plot_shrinkage,
    "ppc": plot_ppc,
}


def figures(posterior_nc, table_path, paths: dict) -> dict:
    """Draw every figure of FIGURES to ``paths[name]``; returns the shrinkage by density."""
    import arviz as az

    idata = az.from_netcdf(posterior_nc)
    table = pd.read_parquet(table_path)
    for name, draw in FIGURES.items():
        draw(idata, table, Path(paths[name]))
    by_density = shrinkage(idata, table).groupby("density")["abs_shrinkage"].mean()
    return {int(k): float(v) for k, v in by_density.items()}

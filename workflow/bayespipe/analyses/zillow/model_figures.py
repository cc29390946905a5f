"""Figures of the Zillow Stan fits: predictive checks against the data and residual histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayespipe.figures import pyplot, save_figure

N_REPLICATES_SHOWN = 40


def plot_predictive_check(
    observed: np.ndarray,
    replicates: np.ndarray,
    path: str | Path,
    *,
    title: str,
    label: str,
    seed: int = 0,
    tails: dict | None = None,
) -> None:
    """Histograms of replicated data sets (thin lines) against the observed data (thick line).

    ``replicates`` is (draws, rows). The x range covers the central 99% of both, so a prior
    predictive that is far wider than the data shows as such ("fit given priors"). With ``tails``
    (``heldout.tail_quantiles``) the range widens to the 0.1% / 99.9% quantiles, which are marked,
    and a second panel sets each observed quantile against the replicates' 90% interval.
    """
    plt = pyplot()
    rng = np.random.default_rng(seed)
    shown = replicates[
        rng.choice(len(replicates), size=min(N_REPLICATES_SHOWN, len(replicates)), replace=False)
    ]
    low, high = np.percentile(np.concatenate([observed, shown.ravel()]), [0.5, 99.5])
    n_bins = 1.5 * np.sqrt(len(observed))
    if tails:
        keys = ("observed", "replicated_q05", "replicated_q95")
        extremes = [q[k] for q in tails["quantiles"] for k in keys]
        widened = (min(low, *extremes), max(high, *extremes))
        n_bins *= (widened[1] - widened[0]) / (high - low)  # same bin width over the wider range
        low, high = widened
    bins = np.linspace(low, high, int(np.clip(n_bins, 15, 60)))
    centres = (bins[:-1] + bins[1:]) / 2
    if tails:
        figure, (axis, right) = plt.subplots(
            1, 2, figsize=(12, 4.4), layout="constrained", gridspec_kw={"width_ratios": [3, 2]}
        )
    else:
        figure, axis = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for i, replicate in enumerate(shown):
        density, _ = np.histogram(replicate, bins=bins, density=True)
        axis.plot(
            centres,
            density,
            color="tab:blue",
            alpha=0.3,
            lw=0.8,
            label=f"{label} ({len(shown)} draws)" if i == 0 else None,
        )
    density, _ = np.histogram(observed, bins=bins, density=True)
    axis.plot(centres, density, color="black", lw=2, label=f"observed ({len(observed)} rows)")
    if tails:
        _mark_tails(axis, tails)
        _plot_tail_quantiles(right, tails)
    axis.set_xlabel("logerror")
    axis.set_ylabel("density")
    axis.set_title(title)
    axis.legend(fontsize=7)
    save_figure(figure, path)


def _extreme(tails: dict) -> list[dict]:
    return [q for q in tails["quantiles"] if q["probability"] < 0.01 or q["probability"] > 0.99]


def _mark_tails(axis, tails: dict) -> None:
    """Observed (black dashed) and replicated (blue dotted) 0.1% / 99.9% quantiles."""
    for i, q in enumerate(_extreme(tails)):
        axis.axvline(
            q["observed"],
            color="black",
            ls="--",
            lw=1,
            label="observed 0.1% / 99.9% quantiles (all training rows)" if i == 0 else None,
        )
        axis.axvline(
            q["replicated_median"],
            color="tab:blue",
            ls=":",
            lw=1.5,
            label="replicated 0.1% / 99.9% quantiles" if i == 0 else None,
        )


def _plot_tail_quantiles(axis, tails: dict) -> None:
    quantiles = tails["quantiles"]
    positions = np.arange(len(quantiles))
    median = np.array([q["replicated_median"] for q in quantiles])
    errors = np.array(
        [
            [m - q["replicated_q05"], q["replicated_q95"] - m]
            for m, q in zip(median, quantiles, strict=True)
        ]
    ).T
    axis.errorbar(
        positions,
        median,
        yerr=errors,
        fmt="s",
        color="tab:blue",
        capsize=4,
        label=f"replicated: median, 90% interval ({tails['n_replicates']} data sets)",
    )
    observed = [q["observed"] for q in quantiles]
    colours = ["tab:red" if q["outside_replicated_90"] else "black" for q in quantiles]
    axis.scatter(
        positions,
        observed,
        color=colours,
        marker="o",
        zorder=3,
        label=f"observed ({tails['n_rows']:,} training rows; red: outside)",
    )
    axis.set_xticks(positions, [f"{100 * q['probability']:g}%" for q in quantiles])
    axis.set_yscale("symlog", linthresh=0.1)
    axis.axhline(0, color="grey", lw=0.5)
    axis.set_xlabel("quantile of logerror")
    axis.set_ylabel("logerror (symmetric log scale)")
    axis.set_title("tails: observed against replicated quantiles", fontsize=10)
    axis.legend(fontsize=7, loc="upper left")


def plot_residuals(residual: np.ndarray, path: str | Path, *, title: str) -> None:
    """Histogram of validation residuals (observed minus posterior-mean prediction).

    Should centre on 0.
    """
    plt = pyplot()
    low, high = np.percentile(residual, [0.5, 99.5])
    figure, axis = plt.subplots(figsize=(7, 4.2), layout="constrained")
    axis.hist(residual, bins=np.linspace(low, high, 80), color="tab:blue", alpha=0.8)
    axis.axvline(0, color="black", lw=1, label="0")
    axis.axvline(
        float(np.mean(residual)),
        color="tab:red",
        lw=1.5,
        ls="--",
        label=f"mean {np.mean(residual):.4f}",
    )
    axis.set_xlabel("validation residual (logerror - posterior-mean prediction)")
    axis.set_ylabel("rows")
    axis.set_title(title)
    axis.legend()
    save_figure(figure, path)

"""Figures of the Zillow Stan fits: predictive checks against the data and residual histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayespipe.figures import pyplot, save_figure

N_REPLICATES_SHOWN = 40


def plot_predictive_check(observed: np.ndarray, replicates: np.ndarray, path: str | Path, *, title: str,
                          label: str, seed: int = 0) -> None:
    """Histograms of replicated data sets (thin lines) against the observed data (thick line).

    ``replicates`` is (draws, rows). The x range covers the central 99% of both, so a prior
    predictive that is far wider than the data shows as such ("fit given priors").
    """
    plt = pyplot()
    rng = np.random.default_rng(seed)
    shown = replicates[rng.choice(len(replicates), size=min(N_REPLICATES_SHOWN, len(replicates)), replace=False)]
    low, high = np.percentile(np.concatenate([observed, shown.ravel()]), [0.5, 99.5])
    bins = np.linspace(low, high, int(np.clip(1.5 * np.sqrt(len(observed)), 15, 60)))
    centres = (bins[:-1] + bins[1:]) / 2
    figure, axis = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for i, replicate in enumerate(shown):
        density, _ = np.histogram(replicate, bins=bins, density=True)
        axis.plot(centres, density, color="tab:blue", alpha=0.3, lw=0.8,
                  label=f"{label} ({len(shown)} draws)" if i == 0 else None)
    density, _ = np.histogram(observed, bins=bins, density=True)
    axis.plot(centres, density, color="black", lw=2, label=f"observed ({len(observed)} rows)")
    axis.set_xlabel("logerror")
    axis.set_ylabel("density")
    axis.set_title(title)
    axis.legend()
    save_figure(figure, path)


def plot_residuals(residual: np.ndarray, path: str | Path, *, title: str) -> None:
    """Histogram of validation residuals (observed minus posterior-mean prediction); should centre on 0."""
    plt = pyplot()
    low, high = np.percentile(residual, [0.5, 99.5])
    figure, axis = plt.subplots(figsize=(7, 4.2), layout="constrained")
    axis.hist(residual, bins=np.linspace(low, high, 80), color="tab:blue", alpha=0.8)
    axis.axvline(0, color="black", lw=1, label="0")
    axis.axvline(float(np.mean(residual)), color="tab:red", lw=1.5, ls="--",
                 label=f"mean {np.mean(residual):.4f}")
    axis.set_xlabel("validation residual (logerror - posterior-mean prediction)")
    axis.set_ylabel("rows")
    axis.set_title(title)
    axis.legend()
    save_figure(figure, path)

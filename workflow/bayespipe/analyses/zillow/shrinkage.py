"""Shrinkage study: no-pooling against partial-pooling estimates of each zip's mean logerror.

No pooling: each zip's own sample mean (the closed form of a per-zip intercept fit with a flat
prior). Partial pooling: the posterior mean of ``zip_mean = mu + a_zip`` from
stan/intercepts_only.stan. Zips fall into small / medium / large thirds by training rows; smaller
zips carry less information and are pulled further toward the global mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bayespipe.analyses.zillow.heldout import flat
from bayespipe.figures import pyplot, save_figure
from bayespipe.io import atomic_path

SIZE_CLASSES = ("small", "medium", "large")
SIZE_COLOURS = {"small": "tab:red", "medium": "tab:orange", "large": "tab:blue"}
MIN_DISTANCE = 0.005  # logerror units


def no_pooling_estimates(train: pd.DataFrame, n_groups: int) -> pd.DataFrame:
    """Per-zip sample mean and its standard error (pooled residual sd / sqrt(n))."""
    index = train["zip_index"].to_numpy(dtype=np.int64) - 1
    y = train["logerror"].to_numpy(dtype=float)
    n = np.bincount(index, minlength=n_groups)
    sums = np.bincount(index, weights=y, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n
    within_sd = np.sqrt(np.sum((y - means[index]) ** 2) / max(len(y) - np.count_nonzero(n), 1))
    return pd.DataFrame(
        {
            "zip_index": np.arange(1, n_groups + 1),
            "n_train": n,
            "no_pooling": means,
            "no_pooling_se": within_sd / np.sqrt(np.where(n > 0, n, np.nan)),
        }
    )


def size_classes(n_rows: np.ndarray) -> np.ndarray:
    """small / medium / large: thirds of the zips ranked by training rows (ties by order)."""
    ranks = pd.Series(n_rows).rank(method="first").to_numpy()
    return pd.cut(ranks, bins=3, labels=list(SIZE_CLASSES)).astype(str)


def shrinkage_table(train: pd.DataFrame, posterior, n_groups: int) -> tuple[pd.DataFrame, float]:
    """One row per zip with both estimates, its size class and how far it was pulled.

    ``shrinkage`` is the fraction of the distance between the no-pooling estimate and the global
    mean that partial pooling removed (0: none, 1: all the way to the global mean).
    """
    zip_mean = flat(posterior, "zip_mean")
    mu = float(flat(posterior, "mu").mean())
    table = no_pooling_estimates(train, n_groups)
    table["partial_pooling"] = zip_mean.mean(axis=0)
    table["partial_pooling_sd"] = zip_mean.std(axis=0, ddof=1)
    table = table[table["n_train"] > 0].reset_index(drop=True)
    table["size_class"] = size_classes(table["n_train"].to_numpy())
    distance = table["no_pooling"] - mu
    with np.errstate(invalid="ignore", divide="ignore"):
        table["shrinkage"] = 1 - (table["partial_pooling"] - mu) / distance
    table["shift"] = (table["no_pooling"] - table["partial_pooling"]).abs()
    return table, mu


def shrinkage_by_class(table: pd.DataFrame) -> pd.DataFrame:
    """Median shrinkage and zip sizes per size class (robust to zips on the global mean)."""
    grouped = table.groupby("size_class", sort=False)
    summary = grouped.agg(
        zips=("zip_index", "size"),
        min_rows=("n_train", "min"),
        max_rows=("n_train", "max"),
        median_shrinkage=("shrinkage", "median"),
        mean_shift=("shift", "mean"),
    )
    return summary.reindex(list(SIZE_CLASSES)).reset_index()


def plot_shrinkage(
    table: pd.DataFrame, mu: float, path: str | Path, title: str = "Shrinkage of zip means"
) -> None:
    """Left: partial- against no-pooling estimates; right: shrinkage fraction against zip size."""
    plt = pyplot()

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    for size in SIZE_CLASSES:
        rows = table[table["size_class"] == size]
        label = f"{size} ({rows['n_train'].min()}-{rows['n_train'].max()} rows)"
        left.scatter(
            rows["no_pooling"],
            rows["partial_pooling"],
            s=14,
            alpha=0.75,
            color=SIZE_COLOURS[size],
            label=label,
        )
        # the fraction is unstable for zips whose own mean sits on the global mean
        stable = rows[(rows["no_pooling"] - mu).abs() >= MIN_DISTANCE]
        right.scatter(
            stable["n_train"], stable["shrinkage"], s=14, alpha=0.75, color=SIZE_COLOURS[size]
        )
    limits = [table["no_pooling"].min(), table["no_pooling"].max()]
    left.plot(limits, limits, color="grey", lw=1, ls="--", label="no shrinkage (y = x)")
    left.axhline(mu, color="black", lw=1, label=f"global mean {mu:.4f}")
    left.set_xlabel("no pooling: zip sample mean")
    left.set_ylabel("partial pooling: posterior mean")
    left.legend(fontsize=8)
    right.set_xscale("log")
    right.set_xlabel("training rows in zip (log scale)")
    right.set_ylabel("shrinkage toward the global mean")
    right.set_title(f"zips within {MIN_DISTANCE} of the global mean omitted", fontsize=9)
    figure.suptitle(title)
    save_figure(figure, path)


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


def run_study(
    posterior_path: str | Path,
    train_path: str | Path,
    predictors_path: str | Path,
    *,
    figure_path: str | Path,
    table_path: str | Path,
    by_class_path: str | Path,
) -> pd.DataFrame:
    """The shrinkage study from the intercepts-only fit: table, per-class summary and figure."""
    import arviz as az

    from bayespipe.analyses.zillow import models

    n_groups = int(models.read_predictors(predictors_path)["n_groups"])
    train = models.read_table(train_path, ["logerror", "zip_index"])
    models.check_groups(train, n_groups, train_path)
    posterior = az.from_netcdf(str(posterior_path)).posterior
    table, mu = shrinkage_table(train, posterior, n_groups)
    by_class = shrinkage_by_class(table)
    write_table(table, table_path)
    write_table(by_class, by_class_path)
    plot_shrinkage(table, mu, figure_path)
    return by_class

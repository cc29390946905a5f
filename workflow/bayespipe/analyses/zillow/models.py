"""Stan data for the four Zillow programs in ``stan/``, built from the prepared data.

The Gaussian likelihoods read sufficient statistics (X'X, X'y, y'y and per-zip sums), so the
data handed to Stan has O(groups * predictors) numbers whatever the number of rows. A small,
seeded subsample of training rows (``n_rep``) is replicated in generated quantities for the
prior and posterior predictive checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bayespipe.engines.stan.data import Field, check_stan_data, sufficient_statistics
from bayespipe.errors import InputError

MODELS = ("linear_regression", "random_intercepts", "intercepts_only", "missing_predictor")
REP_SEED = 2016

# Stan data checked before sampling (bayespipe.engines.stan.data): shapes, finiteness, group ranges.
_TOTALS = {
    "N": Field("int", lower=1),
    "K": Field("int", lower=0),
    "yy": Field("real", lower=0),
    "y_sum": Field("real"),
    "xy": Field("real", shape=("K",)),
    "x_sum": Field("real", shape=("K",)),
    "xx": Field("real", shape=("K", "K")),
    "N_rep": Field("int", lower=0),
    "y_obs": Field("real", shape=("N_rep",)),
    "X_rep": Field("real", shape=("N_rep", "K")),
}
_GROUPS = {
    "G": Field("int", lower=1),
    "n_group": Field("real", shape=("G",), lower=0),
    "y_group": Field("real", shape=("G",)),
    "x_group": Field("real", shape=("G", "K")),
    "g_rep": Field("int", shape=("N_rep",), lower=1, upper="G"),
}
_MISSING = {
    "m": Field("int", lower=1, upper="K"),
    "n_x_obs": Field("int", lower=0),
    "x_obs_sum": Field("real"),
    "x_obs_ss": Field("real", lower=0),
    "N_mis": Field("int", lower=0),
    "y_mis": Field("real", shape=("N_mis",)),
    "X_mis": Field("real", shape=("N_mis", "K")),
    "g_mis": Field("int", shape=("N_mis",), lower=1, upper="G"),
    "yy_mis": Field("real", lower=0),
    "y_sum_mis": Field("real"),
    "xy_mis": Field("real", shape=("K",)),
    "x_sum_mis": Field("real", shape=("K",)),
    "xx_mis": Field("real", shape=("K", "K")),
    "n_group_mis": Field("real", shape=("G",), lower=0),
    "y_group_mis": Field("real", shape=("G",)),
    "x_group_mis": Field("real", shape=("G", "K")),
}
STAN_DATA_SPECS = {
    "linear_regression": {
        **_TOTALS,
        "estimate_sigma": Field("int", lower=0, upper=1),
        "sigma_fixed": Field("real", lower=0),
    },
    "random_intercepts": {**_TOTALS, **_GROUPS},
    "intercepts_only": {
        k: v
        for k, v in {**_TOTALS, **_GROUPS}.items()
        if k not in ("K", "xy", "x_sum", "xx", "x_group", "X_rep")
    },
    "missing_predictor": {**_TOTALS, **_GROUPS, **_MISSING},
}


def read_predictors(path: str | Path) -> dict:
    """predictors.json of the data stage, checked for the keys the models use."""
    info = json.loads(Path(path).read_text())
    for key in ("predictors", "n_groups"):
        if key not in info:
            raise InputError(
                path, f"missing key '{key}' (expected the data stage's predictors.json)"
            )
    return info


def read_table(
    path: str | Path, columns: list[str], *, allow_nan: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A prepared parquet table with the named columns, all finite except those in allow_nan."""
    frame = pd.read_parquet(path)
    for column in columns:
        if column not in frame.columns:
            raise InputError(path, "column missing from the prepared table", column=column)
        if column in allow_nan or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        values = frame[column].to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(
                path, "expected finite numbers, found NaN or Inf", column=column, row=int(bad[0])
            )
    return frame


def check_groups(
    frame: pd.DataFrame, n_groups: int, path: str | Path, *, allow_unseen: bool = False
) -> None:
    """zip_index must be 1..G (0 allowed only for unseen validation zips)."""
    index = frame["zip_index"].to_numpy()
    low = 0 if allow_unseen else 1
    bad = np.flatnonzero((index < low) | (index > n_groups))
    if bad.size:
        raise InputError(
            path,
            f"zip_index {int(index[bad[0]])} outside {low}..{n_groups} "
            "(n_groups of predictors.json)",
            column="zip_index",
            row=int(bad[0]),
        )


def replicate_rows(n_rows: int, n_rep: int, seed: int = REP_SEED) -> np.ndarray:
    """Seeded row subsample (sorted) replicated in generated quantities for predictive checks."""
    if n_rep >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=n_rep, replace=False))


def _design(frame: pd.DataFrame, predictors: list[str]) -> np.ndarray:
    return frame[predictors].to_numpy(dtype=float).reshape(len(frame), len(predictors))


def linear_regression_data(
    frame: pd.DataFrame, predictors: list[str], *, n_rep: int, fixed_sigma: float | None
) -> dict:
    y, X = frame["logerror"].to_numpy(dtype=float), _design(frame, predictors)
    rep = replicate_rows(len(frame), n_rep)
    data = sufficient_statistics(y, X, None, 0)
    data.update(
        N_rep=len(rep),
        y_obs=y[rep],
        X_rep=X[rep],
        estimate_sigma=int(fixed_sigma is None),
        sigma_fixed=float(fixed_sigma or 1.0),
    )
    return data


def random_intercepts_data(
    frame: pd.DataFrame, predictors: list[str], n_groups: int, *, n_rep: int
) -> dict:
    y, X = frame["logerror"].to_numpy(dtype=float), _design(frame, predictors)
    groups = frame["zip_index"].to_numpy(dtype=np.int64)
    rep = replicate_rows(len(frame), n_rep)
    data = sufficient_statistics(y, X, groups, n_groups)
    data.update(N_rep=len(rep), y_obs=y[rep], X_rep=X[rep], g_rep=groups[rep])
    return data


def intercepts_only_data(frame: pd.DataFrame, n_groups: int, *, n_rep: int) -> dict:
    data = random_intercepts_data(frame, [], n_groups, n_rep=n_rep)
    for key in ("K", "xy", "x_sum", "xx", "x_group", "X_rep"):
        del data[key]
    return data


def missing_predictor_data(
    frame: pd.DataFrame, predictors: list[str], imputable: str, n_groups: int, *, n_rep: int
) -> tuple[dict, pd.DataFrame]:
    """Data of stan/missing_predictor.stan and the rows whose ``imputable`` value is missing.

    Complete rows and rows missing the imputable predictor each enter through their own
    sufficient statistics (the program integrates the missing values out); the missing rows
    themselves are passed too, for the exact draws of their values in generated quantities.
    """
    missing = frame[f"{imputable}_missing"].to_numpy(dtype=bool)
    complete, incomplete = (
        frame[~missing],
        frame[missing].sort_values(["zip_index", "parcelid"], kind="stable"),
    )
    data = random_intercepts_data(complete, predictors, n_groups, n_rep=n_rep)
    column = predictors.index(imputable)
    X_mis = _design(incomplete, predictors).copy()  # pandas hands out read-only views
    X_mis[:, column] = 0.0  # the missing value enters as beta[m] * x_mis
    y_mis = incomplete["logerror"].to_numpy(dtype=float)
    groups_mis = incomplete["zip_index"].to_numpy(dtype=np.int64)
    observed = complete[imputable].to_numpy(dtype=float)
    data.update(
        m=column + 1,
        n_x_obs=len(observed),
        x_obs_sum=float(observed.sum()),
        x_obs_ss=float(observed @ observed),
        y_mis=y_mis,
        X_mis=X_mis,
        g_mis=groups_mis,
    )
    stats = sufficient_statistics(y_mis, X_mis, groups_mis, n_groups)
    for key in ("yy", "y_sum", "xy", "x_sum", "xx", "n_group", "y_group", "x_group"):
        data[f"{key}_mis"] = stats[key]
    data["N_mis"] = stats["N"]
    return data, incomplete.reset_index(drop=True)


def check_data(model: str, data: dict, source: str | Path | None = None) -> None:
    """Raise StanDataError naming the field before any sampling starts."""
    check_stan_data(data, STAN_DATA_SPECS[model], source)


def pointwise_data(frame: pd.DataFrame, predictors: list[str], n_groups: int) -> dict:
    """Data of the reference pointwise program stan/reference/random_intercepts_pointwise.stan."""
    groups = frame["zip_index"].to_numpy(dtype=np.int64)
    return {
        "N": len(frame),
        "K": len(predictors),
        "G": n_groups,
        "y": frame["logerror"].to_numpy(dtype=float),
        "X": _design(frame, predictors),
        "g": groups,
    }

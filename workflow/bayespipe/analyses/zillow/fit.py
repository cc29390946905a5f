"""Fit one Zillow Stan model end to end: data, prior and posterior runs, outputs, held-out metrics.

Called by workflow/scripts/zillow_fit.py inside ``job()``; every output goes through an atomic
write, and ``job()`` removes the declared outputs if anything here raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayespipe.analyses.zillow import heldout, model_figures, models
from bayespipe.engines.stan.engine import get_engine
from bayespipe.engines.stan.outputs import save_fit
from bayespipe.errors import InputError
from bayespipe.io import atomic_path, write_json

logger = logging.getLogger(__name__)

# Variables shown in the trace and density figures (vectors such as a_zip are summarized instead).
PLOT_VARS = {
    "linear_regression": ["alpha", "beta", "sigma"],
    "random_intercepts": ["alpha", "beta", "sigma", "sigma_zip"],
    "intercepts_only": ["mu", "sigma", "sigma_zip"],
    "missing_predictor": ["alpha", "beta", "sigma", "sigma_zip", "nu", "sigma_N"],
}


@dataclass
class ModelInputs:
    stan_file: str
    stamp: str
    train: str
    validation: str
    predictors: str
    zip_groups: str
    missing: str | None = None  # the imputation table (missing_predictor only)


@dataclass
class ModelData:
    stan: dict
    predictors: list[str]  # predictors of this model (none for intercepts_only)
    coords: dict
    dims: dict
    missing_rows: pd.DataFrame | None = None
    train: pd.DataFrame | None = None  # the checked training table, when the Stan data came from it


def _read_missing_table(
    path: str, predictors: list[str], imputable: str, n_groups: int
) -> pd.DataFrame:
    flag = f"{imputable}_missing"
    frame = models.read_table(
        path, ["parcelid", "logerror", *predictors, "zip_index", flag], allow_nan=(imputable,)
    )
    models.check_groups(frame, n_groups, path)
    flagged = frame[flag].to_numpy(dtype=bool)
    values = frame[imputable].to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) & ~flagged)
    if bad.size:
        raise InputError(
            path, f"non-finite value but {flag} is False", column=imputable, row=int(bad[0])
        )
    if not flagged.any():
        logger.warning(
            "%s: no training row misses %s; the model has nothing to impute", path, imputable
        )
    return frame


def _stan_data(
    model: str,
    inputs: ModelInputs,
    info: dict,
    predictors: list[str],
    *,
    n_rep: int,
    fixed_sigma: float | None,
) -> tuple[dict, pd.DataFrame | None, str, pd.DataFrame | None]:
    """Build the model's Stan data and say where it came from.

    Returns the Stan data, rows missing the imputable predictor (if any), the source file and the
    training table it was read from (None for the imputation table).
    """
    n_groups = int(info["n_groups"])
    if model == "missing_predictor":
        imputable = info.get("imputable_predictor")
        if imputable not in predictors:
            raise InputError(
                inputs.predictors, f"imputable_predictor {imputable!r} is not one of the predictors"
            )
        frame = _read_missing_table(inputs.missing, predictors, imputable, n_groups)
        data, missing_rows = models.missing_predictor_data(
            frame, predictors, imputable, n_groups, n_rep=n_rep
        )
        return data, missing_rows, inputs.missing, None
    frame = models.read_table(inputs.train, ["logerror", *predictors, "zip_index"])
    models.check_groups(frame, n_groups, inputs.train)
    if model == "linear_regression":
        data = models.linear_regression_data(
            frame, predictors, n_rep=n_rep, fixed_sigma=fixed_sigma
        )
    elif model == "random_intercepts":
        data = models.random_intercepts_data(frame, predictors, n_groups, n_rep=n_rep)
    else:
        data = models.intercepts_only_data(frame, n_groups, n_rep=n_rep)
    return data, None, inputs.train, frame


def _labels(
    model: str,
    zip_codes: np.ndarray,
    predictors: list[str],
    n_rep: int,
    missing_rows: pd.DataFrame | None,
) -> tuple[dict, dict]:
    """ArviZ coords and dims: zips by code, betas by predictor name."""
    coords = {"zip": zip_codes, "check_row": np.arange(n_rep)}
    dims = {"y_rep": ["check_row"], "y_obs": ["check_row"]}
    if predictors:
        coords["predictor"] = predictors
        dims["beta"] = ["predictor"]
    if model != "linear_regression":
        dims.update(a_zip=["zip"], zip_mean=["zip"])
    if missing_rows is not None:
        # positions, not parcel ids: a parcel sold twice appears twice (missing_values.csv has the
        # ids)
        coords["missing_row"] = np.arange(len(missing_rows))
        dims["x_mis"] = ["missing_row"]
    return coords, dims


def load_model_data(
    model: str, inputs: ModelInputs, *, n_rep: int, fixed_sigma: float | None
) -> ModelData:
    """The Stan data of ``model`` from the prepared tables, checked before any sampling."""
    info = models.read_predictors(inputs.predictors)
    zip_codes = (
        pd.read_parquet(inputs.zip_groups).sort_values("zip_index")["regionidzip"].to_numpy()
    )
    if len(zip_codes) != int(info["n_groups"]):
        raise InputError(
            inputs.zip_groups,
            f"has {len(zip_codes)} zips, predictors.json says n_groups = {info['n_groups']}",
        )
    predictors = [] if model == "intercepts_only" else list(info["predictors"])
    data, missing_rows, source, train = _stan_data(
        model, inputs, info, predictors, n_rep=n_rep, fixed_sigma=fixed_sigma
    )
    models.check_data(model, data, source)
    coords, dims = _labels(model, zip_codes, predictors, data["N_rep"], missing_rows)
    return ModelData(data, predictors, coords, dims, missing_rows, train)


def missing_values_table(
    posterior, missing_rows: pd.DataFrame, imputable: str, mean: float, sd: float
) -> pd.DataFrame:
    """Posterior summary of every imputed value, standardized and on the original scale."""
    draws = heldout.flat(posterior, "x_mis")
    q5, q50, q95 = np.percentile(draws, [5, 50, 95], axis=0)
    table = pd.DataFrame(
        {
            "parcelid": missing_rows["parcelid"].to_numpy(),
            "zip_index": missing_rows["zip_index"].to_numpy(),
            "predictor": imputable,
            "mean": draws.mean(axis=0),
            "sd": draws.std(axis=0, ddof=1),
            "q5": q5,
            "median": q50,
            "q95": q95,
        }
    )
    table["mean_original_scale"] = mean + sd * table["mean"]
    table["sd_original_scale"] = sd * table["sd"]
    return table


def tail_table(model: str, data: ModelData, idata, inputs: ModelInputs, path) -> dict:
    """Tail quantiles of the training logerror against full-size replicates of the training rows.

    Written as tail_quantiles.json beside the posterior predictive figure.
    """
    train = data.train
    if train is None:  # read once: the table the Stan data came from, when it was this one
        info = models.read_predictors(inputs.predictors)
        train = models.read_table(inputs.train, ["logerror", *data.predictors, "zip_index"])
        models.check_groups(train, int(info["n_groups"]), inputs.train)
    X = train[data.predictors].to_numpy(dtype=float).reshape(len(train), len(data.predictors))
    draws = heldout.linear_draws(idata.posterior, len(data.predictors))
    tails = heldout.tail_quantiles(
        draws,
        X,
        train["zip_index"].to_numpy(dtype=np.int64),
        train["logerror"].to_numpy(dtype=float),
    )
    tails = {
        "model": model,
        "observed": f"logerror of the training rows ({inputs.train})",
        "replicated": "one data set of the training rows per posterior draw, from the model's "
        "Normal likelihood",
        **tails,
    }
    write_json(path, tails)
    if tails["outside_replicated_90"]:
        logger.warning(
            "%s: observed logerror quantiles %s fall outside the replicates' 90%% intervals "
            "(the Normal likelihood misses the tails)",
            model,
            tails["outside_replicated_90"],
        )
    return tails


def _predictive_figures(
    model: str, data: ModelData, idata, prior_idata, inputs: ModelInputs, outputs: dict
) -> dict:
    observed = np.asarray(data.stan["y_obs"], dtype=float)
    posterior_rep = heldout.flat(idata.posterior_predictive, "y_rep")
    tails = tail_table(model, data, idata, inputs, outputs["tail_quantiles"])
    model_figures.plot_predictive_check(
        observed,
        posterior_rep,
        outputs["posterior_predictive"],
        title=f"{model}: posterior predictive check",
        label="posterior predictive",
        tails=tails,
    )
    if prior_idata is None:
        prior_rep = np.empty((0, len(observed)))
    else:
        prior_rep = heldout.flat(prior_idata.prior_predictive, "y_rep")
    skipped = " - skipped (prior_draws: 0)" if prior_idata is None else ""
    model_figures.plot_predictive_check(
        observed,
        prior_rep,
        outputs["prior_predictive"],
        title=f"{model}: prior predictive check (fit given priors){skipped}",
        label="prior predictive",
    )
    return tails


def fit_model(
    model: str,
    inputs: ModelInputs,
    outputs: dict,
    *,
    sampler: dict,
    engine: str,
    thresholds: dict,
    fixed_sigma: float | None = None,
    n_rep: int = 200,
) -> dict:
    """Run the prior-only and posterior fits and write every output; returns the job record."""
    data = load_model_data(model, inputs, n_rep=n_rep, fixed_sigma=fixed_sigma)
    stan_engine = get_engine(engine)
    idata_kwargs = {
        "posterior_predictive": "y_rep",
        "observed_data": "y_obs",
        "coords": data.coords,
        "dims": data.dims,
    }
    prior_idata, prior_info = None, None
    if sampler.get("prior_draws", 1) > 0:
        prior_idata, prior_info = stan_engine.fit(
            inputs.stan_file,
            data.stan,
            sampler,
            stamp_path=inputs.stamp,
            prior_only=True,
            idata_kwargs=idata_kwargs,
        )
        # Prior draws of the missing values are just Normal(nu, sigma_N) draws: not worth
        # thousands of columns in posterior.nc.
        if "x_mis" in prior_idata.prior:
            del prior_idata.prior["x_mis"]
    idata, info = stan_engine.fit(
        inputs.stan_file, data.stan, sampler, stamp_path=inputs.stamp, idata_kwargs=idata_kwargs
    )
    fit_paths = {
        name: outputs[name]
        for name in ("posterior", "summary", "diagnostics", "trace", "densities")
    }
    diagnostics = save_fit(
        fit_paths,
        idata,
        info,
        prior_idata=prior_idata,
        thresholds=thresholds,
        plot_vars=PLOT_VARS[model],
        label=f"zillow {model}",
        summarised_elsewhere=("x_mis",),  # missing_values.csv: mean, sd and quantiles of each
    )
    tails = _predictive_figures(model, data, idata, prior_idata, inputs, outputs)
    metrics = _heldout(model, data, idata, inputs, outputs, sampler.get("parallel_chains", 1))
    if data.missing_rows is not None:
        info_json = models.read_predictors(inputs.predictors)
        name = info_json["imputable_predictor"]
        table = missing_values_table(
            idata.posterior,
            data.missing_rows,
            name,
            info_json["means"][name],
            info_json["sds"][name],
        )
        with atomic_path(outputs["missing_values"]) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
    return {
        "engine": info["versions"],
        "sampling_seconds": info.get("sampling_seconds"),
        "prior_sampling_seconds": prior_info.get("sampling_seconds") if prior_info else None,
        "diagnostics_passed": diagnostics.get("passed"),
        "failed_gates": diagnostics.get("failed"),
        "heldout": metrics,
        "tail_quantiles_outside_replicated_90": tails["outside_replicated_90"],
    }


def _heldout(
    model: str, data: ModelData, idata, inputs: ModelInputs, outputs: dict, workers: int
) -> dict:
    info = models.read_predictors(inputs.predictors)
    validation = models.read_table(inputs.validation, ["logerror", *data.predictors, "zip_index"])
    models.check_groups(validation, int(info["n_groups"]), inputs.validation, allow_unseen=True)
    draws = heldout.linear_draws(idata.posterior, len(data.predictors))
    metrics, residual = heldout.heldout_metrics(model, draws, validation, data.predictors, workers)
    write_json(outputs["heldout_metrics"], metrics)
    model_figures.plot_residuals(
        residual, outputs["residuals"], title=f"{model}: validation residuals"
    )
    logger.info("held-out metrics of %s: %s", model, metrics)
    return metrics


def output_names(model: str) -> list[str]:
    """Output keys of a fit rule (the scripts' and the rule file's shared vocabulary)."""
    names = [
        "posterior",
        "summary",
        "diagnostics",
        "trace",
        "densities",
        "prior_predictive",
        "posterior_predictive",
        "tail_quantiles",
        "residuals",
        "heldout_metrics",
    ]
    return names + (["missing_values"] if model == "missing_predictor" else [])


def output_files(model: str) -> dict[str, str]:
    """Output key -> file name inside the model's folder."""
    files = {
        "posterior": "posterior.nc",
        "summary": "summary.csv",
        "diagnostics": "diagnostics.json",
        "trace": "trace.png",
        "densities": "densities.png",
        "prior_predictive": "prior_predictive.png",
        "posterior_predictive": "posterior_predictive.png",
        "tail_quantiles": "tail_quantiles.json",
        "residuals": "residuals.png",
        "heldout_metrics": "heldout_metrics.json",
        "missing_values": "missing_values.csv",
    }
    return {name: files[name] for name in output_names(model)}

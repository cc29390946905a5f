"""The standard outputs of one Stan fit, written atomically into its folder.

    posterior.nc       InferenceData: posterior, sample_stats, observed_data
                       (+ posterior_predictive, log_likelihood when the program has them) and
                       prior / prior_predictive from the prior-only run
    summary.csv        az.summary's table of the posterior (computed by stan.summary)
    diagnostics.json   the convergence gates (see bayespipe.engines.stan.diagnostics)
    trace.png          traces, one colour per chain
    densities.png      posterior densities with 90% HDI
                       (when a figure cannot be drawn: a placeholder saying why, and a line of
                       diagnostics.json's figure_warnings; the fit's other files are kept)

In a rule: ``output: **fit_outputs(out("tadpoles", "fit"))``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bayespipe.engines.stan import diagnostics as gates
from bayespipe.engines.stan.plots import draw_or_placeholder, plot_densities, plot_trace
from bayespipe.engines.stan.summary import summary as summary_table
from bayespipe.io import atomic_path, write_json

logger = logging.getLogger(__name__)

# Fields of the files written here that differ between two runs of the same code and config
# (wall-clock seconds): bayespipe.audit.volatile reads them, reproduce ignores nothing else.
VOLATILE_FIELDS = {"diagnostics": ("engine.sampling_seconds",)}

FIT_FILES = {
    "posterior": "posterior.nc",
    "summary": "summary.csv",
    "diagnostics": "diagnostics.json",
    "trace": "trace.png",
    "densities": "densities.png",
}


def fit_outputs(folder: str | Path) -> dict[str, str]:
    """Name -> path of every standard output of the fit in ``folder``."""
    return {name: f"{folder}/{filename}" for name, filename in FIT_FILES.items()}


def _paths(target) -> dict[str, Path]:
    if isinstance(target, dict):
        missing = set(FIT_FILES) - set(target)
        if missing:
            raise ValueError(f"save_fit needs paths for {sorted(missing)}")
        return {name: Path(target[name]) for name in FIT_FILES}
    return {name: Path(path) for name, path in fit_outputs(target).items()}


def combine(posterior_idata, prior_idata=None):
    """The posterior run's InferenceData plus the prior-only run's prior groups.

    The groups are shared, not copied (``InferenceData.copy`` is a deep copy: at Kaggle's size
    that is hundreds of MB of imputed values held twice).
    """
    if prior_idata is None:
        return posterior_idata
    import arviz as az

    groups = {name: prior_idata[name] for name in prior_idata.groups()}
    groups.update({name: posterior_idata[name] for name in posterior_idata.groups()})
    return az.InferenceData(**groups)


def write_netcdf(idata, path: str | Path) -> None:
    """Write ``idata`` uncompressed: zlib saves ~11% of draws' bytes at 3x the write time."""
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf", compress=False)


def summarize(idata, var_names: list[str] | None = None):
    """``az.summary(idata, var_names, round_to="none")``, vectorised (``stan.summary``)."""
    return summary_table(idata.posterior, var_names)


def write_summary(idata, path: str | Path, var_names: list[str] | None = None, summary=None):
    summary = summarize(idata, var_names) if summary is None else summary
    with atomic_path(path) as tmp:
        summary.to_csv(tmp, index_label="variable")
    return summary


def headline_metrics(idata, diagnostics: dict, info: dict) -> dict:
    """The fit's headline diagnostics and run facts, shared by the Stan analyses' metrics."""
    posterior = idata.posterior
    return {
        "min_ess_bulk": diagnostics.get("min_ess_bulk", {}).get("value"),
        "max_rhat": diagnostics.get("max_rhat", {}).get("value"),
        "divergences": diagnostics.get("divergences"),
        "gates_passed": diagnostics.get("passed"),
        "engine": info.get("engine"),
        "sampling_seconds": info.get("sampling_seconds"),
        "chains": posterior.sizes["chain"],
        "draws_per_chain": posterior.sizes["draw"],
    }


def save_fit(
    target,
    idata,
    info: dict,
    *,
    prior_idata=None,
    thresholds: dict | None = None,
    var_names: list[str] | None = None,
    plot_vars: list[str] | None = None,
    label: str = "fit",
    summarised_elsewhere: tuple[str, ...] = (),
) -> dict:
    """Write the fit's standard outputs and return its diagnostics.

    ``target`` is the fit's folder or a dict of paths (keys of FIT_FILES). The gates run first:
    with ``on_fail: fail`` a failed gate raises DiagnosticsError before anything is written, so no
    partial fit is left behind. ``var_names`` restricts the gates and summary (default: every
    posterior variable); ``plot_vars`` picks the figures' variables (default: the scalars, then
    the first elements of the arrays, of ``var_names``: ``plots.panels``). posterior.nc,
    summary.csv and diagnostics.json are written before the figures; a figure that cannot be
    drawn is a placeholder PNG and a line of ``figure_warnings`` in diagnostics.json.
    ``summarised_elsewhere``: wide variables (thousands of imputed values) left out of
    summary.csv because the caller writes their quantiles itself; the gates still cover them.
    """
    limits = {**gates.DEFAULT_THRESHOLDS, **(thresholds or {})}
    sampler = info.get("sampler", {})
    method = info.get("method", "nuts")
    # One pass of R-hat and ESS: the summary's columns are the gates' values too.
    gated = list(var_names or idata.posterior.data_vars)
    summary_vars = [name for name in gated if name not in summarised_elsewhere]
    summary = summarize(idata, summary_vars) if method == "nuts" else None
    diagnostics = gates.compute_diagnostics(
        idata,
        limits,
        max_treedepth=sampler.get("max_treedepth", 10),
        var_names=var_names,
        method=method,
        approximation=info.get("approximation"),
        summary=summary,
        summary_vars=summary_vars,
    )
    diagnostics["engine"] = {k: info.get(k) for k in ("engine", "versions", "sampling_seconds")}
    if diagnostics["passed"] is False:
        logger.info("diagnostics of %s:\n%s", label, json.dumps(diagnostics, indent=2, default=str))
    gates.enforce(diagnostics, limits["on_fail"], label)
    paths = _paths(target)
    full = combine(idata, prior_idata)
    full.posterior.attrs["bayespipe_fit"] = json.dumps(info, default=str)
    write_netcdf(full, paths["posterior"])
    write_summary(idata, paths["summary"], summary_vars, summary)
    write_json(paths["diagnostics"], diagnostics)
    # The draws, summary and gates are on disk: a figure that fails now becomes a placeholder
    # and a warning in diagnostics.json (rewritten atomically), never a lost fit.
    figure_warnings = []
    for name, draw, title in (
        ("trace", plot_trace, f"{label}: traces"),
        ("densities", plot_densities, f"{label}: posterior densities"),
    ):
        warning = draw_or_placeholder(
            lambda draw=draw, name=name, title=title: draw(
                idata, paths[name], plot_vars, title, candidates=gated
            ),
            paths[name],
            f"{label}: {name}",
        )
        if warning:
            figure_warnings.append(warning)
    if figure_warnings:
        diagnostics["figure_warnings"] = figure_warnings
        write_json(paths["diagnostics"], diagnostics)
    return diagnostics

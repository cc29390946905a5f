"""The fit job of a model block.

The posterior run, the prior predictive run when the program reads ``prior_only``, the
convergence gates and the standard fit outputs, and metrics.
"""

from __future__ import annotations

import logging

from bayespipe.analyses.models.jsondata import is_json
from bayespipe.analyses.models.prepare import builder, load_stan_data
from bayespipe.engines.stan.program import ProgramInfo, program_info
from bayespipe.errors import InputError
from bayespipe.io import read_json, write_json

logger = logging.getLogger(__name__)


def idata_kwargs(program: ProgramInfo) -> dict:
    """Replicates as the posterior predictive, their data as observed data, log_lik if any."""
    replicated = program.replicated()
    kwargs = {}
    if replicated:
        kwargs["posterior_predictive"] = list(replicated.values())
        kwargs["observed_data"] = list(replicated)
    if program.has_log_lik:
        kwargs["log_likelihood"] = "log_lik"
    return kwargs


def fit(
    name: str, entry: dict, inputs: dict, outputs: dict, *, engine: str, sampler: dict, thresholds
) -> dict:
    """Fit one model block and write its fit outputs and metrics; returns the metrics.

    ``inputs``: the block's ``table`` (its data file: a table or CmdStan JSON), its checked
    ``stan_data`` file, its ``program`` and compile ``stamp``; ``outputs``: the standard fit files
    (``FIT_FILES``) and ``metrics``.
    """
    from bayespipe.engines.stan.engine import StanEngineError, get_engine
    from bayespipe.engines.stan.outputs import FIT_FILES, save_fit

    stan_file, stan_data_path = inputs["program"], inputs["stan_data"]

    program = program_info(stan_file)
    data = load_stan_data(stan_data_path)
    stan_engine = get_engine(engine)
    kwargs = idata_kwargs(program)

    def explain(message: str) -> str:
        if is_json(entry["data"]):  # no rows to map the message to: name the file
            return f"{inputs['table']}: {message}"
        build, _ = builder(name, entry, inputs["table"], stan_file)
        rows = [r - 1 for r in read_json(stan_data_path)["rows"]["fit"]]
        return build.explain_stan_error(message, rows)

    try:
        idata, info, prior = stan_engine.fit_with_prior(
            stan_file,
            data,
            sampler,
            stamp_path=inputs["stamp"],
            idata_kwargs=kwargs,
            prior=program.has_prior_only,
        )
    except StanEngineError as exc:  # Stan's message about the data, with the table's row added
        raise InputError(None, explain(str(exc))) from exc
    diagnostics = save_fit(
        {key: outputs[key] for key in FIT_FILES},
        idata,
        info,
        prior_idata=prior,
        thresholds=thresholds,
        var_names=[*program.parameters, *program.transformed],
        label=f"models/{name}",
    )
    result = metrics(idata, diagnostics, info, program)
    write_json(outputs["metrics"], result)
    return result


def metrics(idata, diagnostics: dict, info: dict, program: ProgramInfo) -> dict:
    """Mean and sd of every scalar parameter with the fit's headline diagnostics."""
    posterior = idata.posterior
    values = {}
    for variable in (*program.parameters, *program.transformed):
        if variable in posterior and posterior[variable].ndim == 2:
            draws = posterior[variable].values.ravel()
            values[variable] = {"mean": float(draws.mean()), "sd": float(draws.std(ddof=1))}
    from bayespipe.engines.stan.outputs import headline_metrics

    return {
        "parameters": values,
        **headline_metrics(idata, diagnostics, info),
        "method": info.get("method"),
    }

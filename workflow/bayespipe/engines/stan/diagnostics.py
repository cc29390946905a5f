"""Convergence gates of a Stan fit: divergences, tree-depth saturation, E-BFMI, R-hat, ESS.

``compute_diagnostics`` measures and compares against the thresholds of ``config["diagnostics"]``;
``enforce`` applies ``on_fail`` (warn: log and go on; fail: raise DiagnosticsError).

Approximate fits (pathfinder, ADVI) are one set of draws, not chains: R-hat and the NUTS gates mean
nothing there. They are judged instead by the Pareto k of their importance weights (log density
minus the approximation's log density, smoothed by ArviZ's PSIS; above 0.7 the approximation is
not to be trusted) and, for ADVI, by whether CmdStan reported the ELBO as converged.
"""

from __future__ import annotations

import logging
import math

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = {
    "on_fail": "warn",
    "max_rhat": 1.01,
    "min_ess_bulk": 400,
    "min_ess_tail": 400,
    "max_divergences": 0,
    "max_treedepth_fraction": 0.01,
    "min_ebfmi": 0.3,
    "max_pareto_k": 0.7,
}


class DiagnosticsError(RuntimeError):
    """A fit failed a convergence gate and ``diagnostics.on_fail`` is ``fail``."""


def _extreme(dataset, pick) -> dict:
    """The largest (pick=max) or smallest value over every element of every variable, and where."""
    best = None
    for name, values in dataset.data_vars.items():
        array = np.asarray(values)
        if array.size == 0 or np.all(np.isnan(array)):
            continue  # constants (R-hat undefined) do not decide a gate
        flat = int(np.nanargmax(array) if pick is max else np.nanargmin(array))
        value = float(array.reshape(-1)[flat])
        index = np.unravel_index(flat, array.shape) if array.ndim else ()
        label = name + (f"[{','.join(str(i + 1) for i in index)}]" if index else "")
        if best is None or pick(value, best["value"]) != best["value"]:
            best = {"value": value, "variable": label}
    return best or {"value": None, "variable": None}


def _from_summary(posterior, summary, column: str) -> dict:
    """Read one column of ``az.summary`` as {variable: array of its shape}.

    Rows are in the posterior's variable order, each variable's elements flattened in C order:
    the same values ``az.rhat`` / ``az.ess`` give, without computing them a second time.
    """
    values = summary[column].to_numpy(dtype=float)
    shapes = {
        name: tuple(size for dim, size in var.sizes.items() if dim not in ("chain", "draw"))
        for name, var in posterior.data_vars.items()
    }
    total = sum(int(np.prod(shape)) for shape in shapes.values())
    if total != len(values):
        raise ValueError(f"summary has {len(values)} rows, the posterior {total} elements")
    arrays, start = {}, 0
    for name, shape in shapes.items():
        count = int(np.prod(shape))
        arrays[name] = values[start : start + count].reshape(shape)
        start += count
    return _Arrays(arrays)


def _gate_values(posterior, summary, covered: list[str], column: str):
    """Return {variable: values} of one estimator, in the posterior's variable order.

    The summary's column for the variables it covers, the vectorised estimator for the rest.
    """
    from bayespipe.engines.stan import convergence

    estimator = {
        "r_hat": convergence.rhat,
        "ess_bulk": convergence.ess_bulk,
        "ess_tail": convergence.ess_tail,
    }[column]
    from_summary = _from_summary(posterior[covered], summary, column).data_vars
    values = {}
    for name, var in posterior.data_vars.items():
        if name in from_summary:
            values[name] = from_summary[name]
            continue
        draws = var.transpose("chain", "draw", ...).to_numpy()
        flat = draws.reshape(draws.shape[0], draws.shape[1], -1)
        values[name] = convergence.blockwise(estimator, flat).reshape(draws.shape[2:])
    return _Arrays(values)


class _Arrays:
    """{name: array} with the ``data_vars`` interface ``_extreme`` reads."""

    def __init__(self, arrays: dict):
        self.data_vars = arrays


def _per_chain_sum(values) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(values.shape[0], -1).sum(axis=1)]


def _check(value, threshold, passes) -> dict:
    ok = (
        value is not None
        and not (isinstance(value, float) and math.isnan(value))
        and passes(value, threshold)
    )
    return {"value": value, "threshold": threshold, "passed": bool(ok)}


def compute_diagnostics(
    idata,
    thresholds: dict | None = None,
    *,
    max_treedepth: int = 10,
    var_names: list[str] | None = None,
    method: str = "nuts",
    approximation: dict | None = None,
    summary=None,
    summary_vars: list[str] | None = None,
) -> dict:
    """Every gate's value, threshold and verdict, plus the overall ``passed``.

    ``summary``: ``az.summary`` of the same variables (``round_to="none"``), whose ``r_hat``,
    ``ess_bulk`` and ``ess_tail`` are then used instead of computing them again (over thousands
    of imputed values that is most of a fit job's post-processing). ``summary_vars``: the
    variables the summary covers, when not all of them; the others (wide generated quantities
    such as imputed values, summarised elsewhere) get the same estimators vectorised
    (``bayespipe.engines.stan.convergence``).
    """
    import arviz as az

    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    if method != "nuts":
        return approximate_diagnostics(method, approximation or {}, limits)
    result = {"method": method, "approximate": False, "thresholds": limits}
    posterior = idata.posterior if var_names is None else idata.posterior[var_names]
    stats = idata.sample_stats
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    divergent = _per_chain_sum(stats["diverging"].values)
    saturated = _per_chain_sum(stats["tree_depth"].values >= max_treedepth)
    ebfmi = [float(v) for v in az.bfmi(idata)]
    if summary is None:
        rhat = _extreme(az.rhat(posterior), max)
        ess_bulk = _extreme(az.ess(posterior, method="bulk"), min)
        ess_tail = _extreme(az.ess(posterior, method="tail"), min)
    else:
        covered = list(posterior.data_vars) if summary_vars is None else summary_vars
        rhat = _extreme(_gate_values(posterior, summary, covered, "r_hat"), max)
        ess_bulk = _extreme(_gate_values(posterior, summary, covered, "ess_bulk"), min)
        ess_tail = _extreme(_gate_values(posterior, summary, covered, "ess_tail"), min)
    fraction = sum(saturated) / (chains * draws)
    checks = {
        "divergences": _check(sum(divergent), limits["max_divergences"], lambda v, t: v <= t),
        "treedepth_fraction": _check(
            fraction, limits["max_treedepth_fraction"], lambda v, t: v <= t
        ),
        "min_ebfmi": _check(min(ebfmi), limits["min_ebfmi"], lambda v, t: v >= t),
        "max_rhat": _check(rhat["value"], limits["max_rhat"], lambda v, t: v <= t),
        "min_ess_bulk": _check(ess_bulk["value"], limits["min_ess_bulk"], lambda v, t: v >= t),
        "min_ess_tail": _check(ess_tail["value"], limits["min_ess_tail"], lambda v, t: v >= t),
    }
    failed = [name for name, check in checks.items() if not check["passed"]]
    result.update(
        chains=chains,
        draws_per_chain=draws,
        divergences=sum(divergent),
        divergences_per_chain=divergent,
        treedepth={
            "max_treedepth": max_treedepth,
            "saturated_per_chain": saturated,
            "fraction": fraction,
        },
        ebfmi_per_chain=ebfmi,
        max_rhat=rhat,
        min_ess_bulk=ess_bulk,
        min_ess_tail=ess_tail,
        checks=checks,
        failed=failed,
        passed=not failed,
    )
    return result


def psis_weights(log_weights) -> tuple:
    """Normalised Pareto-smoothed importance weights and their Pareto k (ArviZ's ``psislw``).

    Draws whose log density could not be evaluated (not finite) get weight 0.
    """
    import arviz as az

    log_weights = np.asarray(log_weights, dtype=float)
    finite = np.isfinite(log_weights)
    if finite.sum() < 2:
        raise ValueError("fewer than two draws with a finite log density: no importance weights")
    smoothed, pareto_k = az.psislw(log_weights[finite])
    weights = np.zeros(log_weights.shape)
    weights[finite] = np.exp(smoothed - np.max(smoothed))
    return weights / weights.sum(), float(pareto_k)


def _elbo_row(line: str) -> dict | None:
    """One of CmdStan's ADVI progress lines.

    Iteration, ELBO, relative ELBO changes (mean, median), and a note such as MEDIAN ELBO CONVERGED;
    None for any other line.
    """
    parts = line.split()
    if len(parts) < 4 or not parts[0].isdigit():
        return None
    try:
        elbo, rel_mean, rel_median = (float(p) for p in parts[1:4])
    except ValueError:
        return None
    return {
        "iteration": int(parts[0]),
        "elbo": elbo,
        "rel_mean": rel_mean,
        "rel_median": rel_median,
        "note": " ".join(parts[4:]),
    }


def elbo_trace(console: str) -> dict:
    """ADVI's ELBO trace and verdict from CmdStan's console output."""
    rows = [row for row in map(_elbo_row, console.splitlines()) if row]
    converged = any("CONVERGED" in row["note"].upper() for row in rows)
    return {
        "converged": converged,
        "iterations": rows[-1]["iteration"] if rows else None,
        "final_elbo": rows[-1]["elbo"] if rows else None,
        "trace": rows,
    }


def approximate_diagnostics(method: str, approximation: dict, limits: dict) -> dict:
    """Gates of a pathfinder / ADVI fit: Pareto k of the importance weights, ADVI's ELBO."""
    pareto_k = approximation.get("pareto_k")
    if pareto_k is not None and not math.isfinite(pareto_k):
        pareto_k = None  # PSIS found no usable tail: a failed gate, and JSON has no inf
    checks = {"max_pareto_k": _check(pareto_k, limits["max_pareto_k"], lambda v, t: v <= t)}
    elbo = approximation.get("elbo")
    if method == "advi":
        converged = (elbo or {}).get("converged")
        checks["elbo_converged"] = _check(converged, True, lambda v, t: v is t)
    failed = [name for name, check in checks.items() if not check["passed"]]
    result = {
        "method": method,
        "approximate": True,
        "thresholds": limits,
        "note": f"{method} draws are approximate: judged by Pareto k (and ADVI's ELBO), "
        "not by MCMC gates",
        "pareto_k": pareto_k,
        "draws": approximation.get("resampled_draws", approximation.get("draws")),
        "checks": checks,
        "failed": failed,
        "passed": not failed,
    }
    if method == "pathfinder":
        keys = ("paths", "pooled_draws", "threads")
        result["pathfinder"] = {k: approximation.get(k) for k in keys}
    if elbo is not None:
        result["elbo"] = {k: v for k, v in elbo.items() if k != "trace"}
    return result


def describe_failures(diagnostics: dict) -> str:
    parts = []
    for name in diagnostics.get("failed", []):
        check = diagnostics["checks"][name]
        parts.append(f"{name} = {check['value']} (threshold {check['threshold']})")
    return "; ".join(parts)


def enforce(diagnostics: dict, on_fail: str, label: str = "fit") -> None:
    """Warn or raise when a gate failed (``on_fail``: warn | fail)."""
    if diagnostics.get("passed") is not False:
        return
    message = f"{label} failed convergence gate(s): {describe_failures(diagnostics)}"
    if on_fail == "fail":
        raise DiagnosticsError(message + " (diagnostics.on_fail: fail)")
    logger.warning("%s (diagnostics.on_fail: warn, continuing)", message)

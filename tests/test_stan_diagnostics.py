"""Convergence gates both ways, on_fail, and the standard fit outputs.

Synthetic draws, no sampling.
"""

import json
import logging

import numpy as np
import pytest

az = pytest.importorskip("arviz")

from bayespipe.engines.stan.diagnostics import (  # noqa: E402
    DiagnosticsError,
    compute_diagnostics,
    elbo_trace,
    enforce,
    psis_weights,
)
from bayespipe.engines.stan.outputs import FIT_FILES, fit_outputs, save_fit  # noqa: E402

CHAINS, DRAWS = 4, 500
INFO = {
    "engine": "pystan",
    "method": "nuts",
    "sampler": {"max_treedepth": 10},
    "sampling_seconds": 0.1,
}


def synthetic_idata(*, mixed=True, divergences=0, saturated=0, sticky_energy=False, seed=1):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(CHAINS, DRAWS))
    theta = rng.normal(size=(CHAINS, DRAWS, 3))
    if not mixed:
        mu = mu + np.arange(CHAINS)[:, None] * 3.0  # chains stuck in different places
    diverging = np.zeros((CHAINS, DRAWS), dtype=bool)
    diverging.ravel()[:divergences] = True
    tree_depth = np.full((CHAINS, DRAWS), 3)
    tree_depth.ravel()[:saturated] = 10
    energy = rng.normal(size=(CHAINS, DRAWS))
    if sticky_energy:
        energy = np.cumsum(energy, axis=1)  # a random walk: E-BFMI near 0
    prior = {"mu": rng.normal(size=(2, 100))}
    return az.from_dict(
        posterior={"mu": mu, "theta": theta},
        sample_stats={
            "diverging": diverging,
            "tree_depth": tree_depth,
            "energy": energy,
            "lp": rng.normal(size=(CHAINS, DRAWS)),
        },
        observed_data={"y": np.arange(5.0)},
        prior=prior,
    )


def test_good_draws_pass_every_gate():
    result = compute_diagnostics(synthetic_idata())
    assert result["passed"] is True, result["failed"]
    assert result["divergences"] == 0
    assert result["max_rhat"]["value"] < 1.01
    assert result["min_ess_bulk"]["value"] > 1000
    assert len(result["ebfmi_per_chain"]) == CHAINS
    assert result["thresholds"]["max_rhat"] == 1.01


def test_bad_draws_fail_the_right_gates():
    result = compute_diagnostics(
        synthetic_idata(mixed=False, divergences=3, saturated=100, sticky_energy=True)
    )
    assert result["passed"] is False
    assert set(result["failed"]) == {
        "divergences",
        "treedepth_fraction",
        "min_ebfmi",
        "max_rhat",
        "min_ess_bulk",
        "min_ess_tail",
    }
    assert result["divergences"] == 3
    assert result["max_rhat"]["variable"] == "mu"
    assert result["treedepth"]["fraction"] == pytest.approx(100 / (CHAINS * DRAWS))


def test_thresholds_come_from_config():
    idata = synthetic_idata(divergences=2)
    assert compute_diagnostics(idata)["checks"]["divergences"]["passed"] is False
    relaxed = compute_diagnostics(idata, {"max_divergences": 5})
    assert relaxed["checks"]["divergences"]["passed"] is True


def test_enforce_warns_or_raises(caplog):
    failing = compute_diagnostics(synthetic_idata(divergences=1))
    with caplog.at_level(logging.WARNING):
        enforce(failing, "warn", "demo")
    assert "demo failed convergence gate(s): divergences = 1" in caplog.text
    with pytest.raises(DiagnosticsError, match="divergences = 1 .*on_fail: fail"):
        enforce(failing, "fail", "demo")
    enforce(compute_diagnostics(synthetic_idata()), "fail", "demo")  # passing fits never raise


def test_save_fit_writes_standard_outputs(tmp_path):
    idata = synthetic_idata()
    prior = az.from_dict(
        prior={"mu": np.zeros((1, 50))}, prior_predictive={"y": np.zeros((1, 50, 5))}
    )
    result = save_fit(tmp_path / "fit", idata, INFO, prior_idata=prior, label="demo")
    paths = fit_outputs(tmp_path / "fit")
    assert set(paths) == set(FIT_FILES)
    for path in paths.values():
        assert (tmp_path / "fit" / path.rsplit("/", 1)[1]).stat().st_size > 0
    saved = az.from_netcdf(paths["posterior"])
    assert {"posterior", "sample_stats", "observed_data", "prior", "prior_predictive"} <= set(
        saved.groups()
    )
    assert json.loads(saved.posterior.attrs["bayespipe_fit"])["engine"] == "pystan"
    diagnostics = json.loads((tmp_path / "fit" / "diagnostics.json").read_text())
    assert diagnostics["passed"] is True and result["passed"] is True
    summary = (tmp_path / "fit" / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("variable,mean,sd") and any(
        line.startswith("theta[2]") for line in summary
    )


def test_failed_gate_with_on_fail_fail_leaves_nothing(tmp_path):
    bad = synthetic_idata(mixed=False)
    with pytest.raises(DiagnosticsError, match="max_rhat"):
        save_fit(tmp_path / "fit", bad, INFO, thresholds={"on_fail": "fail"})
    assert not (tmp_path / "fit").exists() or not any((tmp_path / "fit").iterdir())


def test_failed_gate_with_on_fail_warn_still_writes(tmp_path):
    result = save_fit(
        tmp_path / "fit", synthetic_idata(mixed=False), INFO, thresholds={"on_fail": "warn"}
    )
    assert result["passed"] is False
    assert json.loads((tmp_path / "fit" / "diagnostics.json").read_text())["failed"]


def test_nuts_fits_are_marked_exact():
    result = compute_diagnostics(synthetic_idata())
    assert result["method"] == "nuts" and result["approximate"] is False


def one_chain_idata(seed=2):
    rng = np.random.default_rng(seed)
    return az.from_dict(
        posterior={"mu": rng.normal(size=(1, 300))}, sample_stats={"lp": rng.normal(size=(1, 300))}
    )


@pytest.mark.parametrize("pareto_k, passed", [(0.31, True), (0.92, False), (float("inf"), False)])
def test_pathfinder_is_judged_by_pareto_k_not_rhat(pareto_k, passed):
    approximation = {
        "pareto_k": pareto_k,
        "paths": 4,
        "pooled_draws": 1200,
        "resampled_draws": 300,
        "threads": False,
    }
    result = compute_diagnostics(
        one_chain_idata(), method="pathfinder", approximation=approximation
    )
    assert result["method"] == "pathfinder" and result["approximate"] is True
    assert "max_rhat" not in result and set(result["checks"]) == {"max_pareto_k"}
    assert result["passed"] is passed and result["draws"] == 300
    assert result["pathfinder"] == {"paths": 4, "pooled_draws": 1200, "threads": False}
    json.dumps(result, allow_nan=False)  # diagnostics.json stays valid JSON (no Infinity)
    if not passed:
        with pytest.raises(DiagnosticsError, match="max_pareto_k"):
            enforce(result, "fail", "pathfinder fit")


def test_pareto_k_threshold_comes_from_config():
    result = compute_diagnostics(
        one_chain_idata(),
        {"max_pareto_k": 1.0},
        method="pathfinder",
        approximation={"pareto_k": 0.92},
    )
    assert result["passed"] is True and result["checks"]["max_pareto_k"]["threshold"] == 1.0


def test_advi_needs_a_converged_elbo():
    elbo = elbo_trace(ADVI_NOT_CONVERGED)
    result = compute_diagnostics(
        one_chain_idata(), method="advi", approximation={"pareto_k": 0.2, "elbo": elbo}
    )
    assert result["approximate"] is True and result["failed"] == ["elbo_converged"]
    assert result["elbo"] == {"converged": False, "iterations": 200, "final_elbo": -15.022}
    good = compute_diagnostics(
        one_chain_idata(),
        method="advi",
        approximation={"pareto_k": 0.2, "elbo": elbo_trace(ADVI_CONVERGED)},
    )
    assert good["passed"] is True and good["elbo"]["iterations"] == 300


ADVI_CONVERGED = """EXPERIMENTAL ALGORITHM:
Begin stochastic gradient ascent.
  iter             ELBO   delta_ELBO_mean   delta_ELBO_med   notes
   100          -16.152             1.000            1.000
   200          -15.022             0.538            1.000
   300          -14.998             0.010            0.005   MEDIAN ELBO CONVERGED

Drawing a sample of size 100 from the approximate posterior...
COMPLETED.
"""
ADVI_NOT_CONVERGED = (
    "\n".join(ADVI_CONVERGED.splitlines()[:5])
    + """
Informational Message: The maximum number of iterations is reached! The algorithm may not have
converged.
"""
)


def test_elbo_trace_reads_cmdstans_console():
    trace = elbo_trace(ADVI_CONVERGED)
    assert [row["iteration"] for row in trace["trace"]] == [100, 200, 300]
    assert trace["trace"][1] == {
        "iteration": 200,
        "elbo": -15.022,
        "rel_mean": 0.538,
        "rel_median": 1.0,
        "note": "",
    }
    assert trace["converged"] is True and trace["final_elbo"] == -14.998
    assert elbo_trace("no ADVI output here")["converged"] is False


def test_psis_weights_smooth_and_drop_unevaluable_draws():
    rng = np.random.default_rng(4)
    light = rng.normal(size=4000)
    weights, k_light = psis_weights(np.r_[light, -np.inf, np.nan])
    assert weights.sum() == pytest.approx(1.0) and weights[-2:].tolist() == [0.0, 0.0]
    _, k_heavy = psis_weights(np.log(rng.pareto(1.0, 4000) + 1.0))  # weights with a Pareto(1) tail
    assert k_light < 0.5 < 0.8 < k_heavy
    with pytest.raises(ValueError, match="finite log density"):
        psis_weights([np.nan, -np.inf, 1.0])


def test_save_fit_records_an_approximate_fit(tmp_path):
    info = {
        "engine": "cmdstanpy",
        "method": "advi",
        "sampler": {},
        "approximation": {"pareto_k": 0.4, "elbo": elbo_trace(ADVI_CONVERGED)},
    }
    result = save_fit(tmp_path / "fit", one_chain_idata(), info, label="demo")
    written = json.loads((tmp_path / "fit" / "diagnostics.json").read_text())
    assert written["method"] == "advi" and written["approximate"] is True
    assert written["passed"] is True
    assert written["pareto_k"] == 0.4 and result["checks"]["elbo_converged"]["passed"] is True

"""Convergence gates both ways, on_fail, and the standard fit outputs (synthetic draws, no sampling)."""

import json
import logging

import numpy as np
import pytest

az = pytest.importorskip("arviz")

from bayespipe.engines.stan.diagnostics import DiagnosticsError, compute_diagnostics, enforce  # noqa: E402
from bayespipe.engines.stan.outputs import FIT_FILES, fit_outputs, save_fit  # noqa: E402

CHAINS, DRAWS = 4, 500
INFO = {"engine": "pystan", "method": "nuts", "sampler": {"max_treedepth": 10}, "sampling_seconds": 0.1}


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
        sample_stats={"diverging": diverging, "tree_depth": tree_depth, "energy": energy,
                      "lp": rng.normal(size=(CHAINS, DRAWS))},
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
    result = compute_diagnostics(synthetic_idata(mixed=False, divergences=3, saturated=100, sticky_energy=True))
    assert result["passed"] is False
    assert set(result["failed"]) == {"divergences", "treedepth_fraction", "min_ebfmi", "max_rhat", "min_ess_bulk",
                                     "min_ess_tail"}
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
    prior = az.from_dict(prior={"mu": np.zeros((1, 50))}, prior_predictive={"y": np.zeros((1, 50, 5))})
    result = save_fit(tmp_path / "fit", idata, INFO, prior_idata=prior, label="demo")
    paths = fit_outputs(tmp_path / "fit")
    assert set(paths) == set(FIT_FILES)
    for path in paths.values():
        assert (tmp_path / "fit" / path.rsplit("/", 1)[1]).stat().st_size > 0
    saved = az.from_netcdf(paths["posterior"])
    assert {"posterior", "sample_stats", "observed_data", "prior", "prior_predictive"} <= set(saved.groups())
    assert json.loads(saved.posterior.attrs["bayespipe_fit"])["engine"] == "pystan"
    diagnostics = json.loads((tmp_path / "fit" / "diagnostics.json").read_text())
    assert diagnostics["passed"] is True and result["passed"] is True
    summary = (tmp_path / "fit" / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("variable,mean,sd") and any(line.startswith("theta[2]") for line in summary)


def test_failed_gate_with_on_fail_fail_leaves_nothing(tmp_path):
    bad = synthetic_idata(mixed=False)
    with pytest.raises(DiagnosticsError, match="max_rhat"):
        save_fit(tmp_path / "fit", bad, INFO, thresholds={"on_fail": "fail"})
    assert not (tmp_path / "fit").exists() or not any((tmp_path / "fit").iterdir())


def test_failed_gate_with_on_fail_warn_still_writes(tmp_path):
    result = save_fit(tmp_path / "fit", synthetic_idata(mixed=False), INFO, thresholds={"on_fail": "warn"})
    assert result["passed"] is False
    assert json.loads((tmp_path / "fit" / "diagnostics.json").read_text())["failed"]


def test_approximate_methods_skip_mcmc_gates():
    result = compute_diagnostics(synthetic_idata(mixed=False), method="pathfinder")
    assert result["passed"] is None and "approximate" in result["note"]
    enforce(result, "fail")

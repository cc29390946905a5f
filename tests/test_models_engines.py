"""The models analysis on both Stan engines, without Snakemake.

A table and a block become a fit, and held-out rows are scored with the program's own generated
quantities at every posterior draw (CmdStan's standalone generated quantities; httpstan's
write_array).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayespipe.analyses.models import checks, fit
from bayespipe.analyses.models.prepare import prepare
from bayespipe.engines.stan.engine import get_engine
from bayespipe.engines.stan.outputs import fit_outputs
from conftest import require_cmdstan

pytestmark = pytest.mark.slow

LINE = Path(__file__).parent / "fixtures" / "models" / "line.stan"
BLOCK = {"N": "rows", "x": {"column": "x"}, "y": {"column": "y"}}
SAMPLER = {"chains": 2, "warmup": 300, "draws": 200, "prior_draws": 50, "seed": 5}
SHORT_CHAINS = {"min_ess_bulk": 100, "min_ess_tail": 100}  # as config/test.yaml for 400 draws


def line_table(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, size=rows)
    return pd.DataFrame({"x": x, "y": 1.5 - 0.7 * x + rng.normal(0, 0.5, size=rows)})


@pytest.fixture(params=["pystan", "cmdstanpy"])
def engine(request) -> str:
    if request.param == "cmdstanpy":
        require_cmdstan()
    return request.param


@pytest.fixture
def fitted(engine, tmp_path) -> dict:
    """One fitted block with held-out rows, through the analysis's own functions."""
    line_table().to_csv(tmp_path / "line.csv", index=False)
    entry = {
        "program": str(LINE),
        "data": str(tmp_path / "line.csv"),
        "stan_data": BLOCK,
        "sampler": SAMPLER,
        "heldout": {"fraction": 0.25, "seed": 3},
    }
    paths = {"data": tmp_path / "stan_data.json", "stamp": tmp_path / "line.compile.json"}
    prepare("line", entry, entry["data"], LINE, paths["data"], tmp_path / "card.json")
    get_engine(engine).compile(LINE, paths["stamp"])
    outputs = fit_outputs(tmp_path / "fit")
    (tmp_path / "fit").mkdir()
    inputs = {"table": entry["data"], "stan_data": paths["data"], "program": LINE}
    metrics = fit.fit(
        "line",
        entry,
        {**inputs, "stamp": paths["stamp"]},
        {**outputs, "metrics": tmp_path / "metrics.json"},
        engine=engine,
        sampler=SAMPLER,
        thresholds=SHORT_CHAINS,
    )
    return {"engine": engine, "metrics": metrics, "outputs": outputs, **paths, "dir": tmp_path}


def test_a_block_fits_with_both_runs_and_recovers_the_line(fitted):
    import arviz as az

    metrics = fitted["metrics"]
    assert metrics["engine"] == fitted["engine"] and metrics["gates_passed"]
    assert abs(metrics["parameters"]["a"]["mean"] - 1.5) < 0.2
    assert abs(metrics["parameters"]["b"]["mean"] + 0.7) < 0.15
    idata = az.from_netcdf(fitted["outputs"]["posterior"])
    assert {"prior", "prior_predictive", "posterior_predictive", "log_likelihood"} <= set(
        idata.groups()
    )
    assert idata.posterior_predictive["y_rep"].shape[-1] == 45  # the 75% of rows fitted


def test_heldout_scores_come_from_the_programs_generated_quantities(fitted):
    import arviz as az

    result = checks.heldout(
        fitted["outputs"]["posterior"],
        fitted["data"],
        LINE,
        fitted["stamp"],
        fitted["dir"] / "heldout.json",
        engine=fitted["engine"],
        seed=1,
    )
    document = json.loads(fitted["data"].read_text())
    x, y = (np.asarray(document["heldout"][k]) for k in ("x", "y"))
    posterior = az.from_netcdf(fitted["outputs"]["posterior"]).posterior
    a, b, sigma = (posterior[k].values.reshape(-1, 1) for k in ("a", "b", "sigma"))
    log_lik = stats.norm.logpdf(y, a + b * x, sigma)  # (draws, held-out rows)
    expected = np.logaddexp.reduce(log_lik, axis=0) - np.log(len(log_lik))
    assert result["lpd"] == pytest.approx(expected.sum(), rel=1e-6)
    error = result["replicate_mean_error"]["y"]
    if fitted["engine"] == "cmdstanpy":  # fresh replicates per draw: their mean is the line's
        mean_line = (a + b * x).mean(axis=0)
        assert error["mae"] == pytest.approx(np.abs(mean_line - y).mean(), abs=0.05)
    else:
        assert "one fixed seed" in error["note"]


def test_standalone_generated_quantities_follow_every_draw(engine, tmp_path):
    stan_engine = get_engine(engine)
    stamp = tmp_path / "line.compile.json"
    stan_engine.compile(LINE, stamp)
    draws = {
        "a": np.array([[0.0, 1.0, 2.0]]),
        "b": np.array([[1.0, -1.0, 0.5]]),
        "sigma": np.array([[1.0, 2.0, 0.5]]),
    }
    data = {"N": 2, "x": np.array([0.5, -1.0]), "y": np.array([1.0, 0.0])}
    generated, info = stan_engine.generate_quantities(LINE, data, draws, stamp_path=stamp, seed=3)
    assert generated["log_lik"].shape == (1, 3, 2) and generated["y_rep"].shape == (1, 3, 2)
    mean = draws["a"][..., None] + draws["b"][..., None] * data["x"]
    expected = stats.norm.logpdf(data["y"], mean, draws["sigma"][..., None])
    np.testing.assert_allclose(generated["log_lik"], expected, rtol=1e-8)
    assert info["rng"] is (engine == "cmdstanpy")

"""End to end: the Zillow Stan rules on config/test.yaml (data stage, four fits, shrinkage, table)."""

from __future__ import annotations

import arviz as az
import pandas as pd
import pytest

from bayespipe import software
from bayespipe.io import read_json
from bayespipe.analyses.zillow import fit
from bayespipe.analyses.zillow.models import MODELS
from conftest import TEST_CONFIG, executed_jobs, run_snakemake, version_dir_of


@pytest.mark.e2e
def test_zillow_models_run_end_to_end(repo_copy):
    result = run_snakemake(repo_copy, "--configfile", TEST_CONFIG, "--config", "analyses=[zillow]", "report=False")
    jobs = executed_jobs(result.stdout)
    assert jobs.get("zillow_stan_compile") == 4, jobs  # one compile per program, reused by its fits
    zillow = version_dir_of(repo_copy) / "zillow"
    for model in MODELS:
        for name in fit.output_files(model).values():
            assert (zillow / model / name).stat().st_size > 0, f"{model}/{name}"
        diagnostics = read_json(zillow / model / "diagnostics.json")
        assert diagnostics["divergences"] == 0, (model, diagnostics["failed"])
        stamp = read_json(zillow / "stan" / f"{model}.compile.json")
        # stan.engine: auto -> CmdStanPy where CmdStan resolves (CI), else PyStan
        assert stamp["engine"] == software.resolve_stan_engine("auto")
        assert stamp["stan_file"].endswith(f"{model}.stan")
    idata = az.from_netcdf(zillow / "random_intercepts" / "posterior.nc")
    assert {"posterior", "sample_stats", "observed_data", "prior", "prior_predictive"} <= set(idata.groups())
    table = pd.read_csv(zillow / "zillow_comparison.csv")
    assert set(MODELS) <= set(table["model"]) and table["mae"].is_monotonic_increasing
    by_class = pd.read_csv(zillow / "shrinkage" / "shrinkage_by_class.csv").set_index("size_class")
    assert by_class.loc["small", "median_shrinkage"] > by_class.loc["large", "median_shrinkage"]
    # nothing left to do on a rerun: compile stamps and fits are reused
    again = run_snakemake(repo_copy, "--configfile", TEST_CONFIG, "--config", "analyses=[zillow]", "report=False")
    assert not any(rule.startswith("zillow_") for rule in executed_jobs(again.stdout))

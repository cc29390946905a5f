"""End to end: Zillow Stan rules on config/test.yaml (data stage, four fits, shrinkage, table)."""

from __future__ import annotations

import arviz as az
import pandas as pd
import pytest

from bayespipe import software
from bayespipe.analyses.zillow import fit
from bayespipe.analyses.zillow.models import MODELS
from bayespipe.io import read_json
from conftest import TEST_CONFIG, executed_jobs, run_snakemake, version_dir_of, work_dir_of


@pytest.mark.e2e
def test_zillow_models_run_end_to_end(repo_copy):
    result = run_snakemake(
        repo_copy, "--configfile", TEST_CONFIG, "--config", "analyses=[zillow]", "report=False"
    )
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
    assert {"posterior", "sample_stats", "observed_data", "prior", "prior_predictive"} <= set(
        idata.groups()
    )
    table = pd.read_csv(zillow / "zillow_comparison.csv")
    assert set(MODELS) <= set(table["model"]) and table["mae"].is_monotonic_increasing
    by_class = pd.read_csv(zillow / "shrinkage" / "shrinkage_by_class.csv").set_index("size_class")
    assert by_class.loc["small", "median_shrinkage"] > by_class.loc["large", "median_shrinkage"]
    # nothing left to do on a rerun: compile stamps and fits are reused
    again = run_snakemake(
        repo_copy, "--configfile", TEST_CONFIG, "--config", "analyses=[zillow]", "report=False"
    )
    assert not any(rule.startswith("zillow_") for rule in executed_jobs(again.stdout))


@pytest.mark.e2e
def test_kaggle_files_with_duplicate_columns_and_heavy_tails_pass_every_gate(repo_copy, tmp_path):
    """Kaggle-format files with Kaggle's traits pass every gate.

    Kaggle-format files with Kaggle's traits (finishedsquarefeet12 = calculatedfinishedsquarefeet,
    calculatedbathnbr = bathroomcnt, heavy-tailed logerror out to +-4.7, repeat sales): the data
    card names the skipped duplicate, every Stan fit passes its gates, and the tail table shows the
    Normal likelihood's misfit.
    """
    import numpy as np
    import yaml

    from bayespipe.analyses.zillow import kaggle, synthetic

    folder = tmp_path / "kaggle"
    folder.mkdir()
    transactions = folder / kaggle.TRANSACTIONS_FILE
    synthetic.generate(
        2016, 3000, 1500, 40, transactions, folder / kaggle.PROPERTIES_FILE, tmp_path / "truth.json"
    )
    table = pd.read_csv(transactions, dtype={"logerror": float})
    table.loc[[100, 700, 1200], "logerror"] = [-4.605, 4.737, 3.9]  # Kaggle's extremes
    table.to_csv(transactions, index=False)
    properties = pd.read_csv(folder / kaggle.PROPERTIES_FILE, low_memory=False)
    both = properties[["finishedsquarefeet12", "calculatedfinishedsquarefeet"]].dropna()
    assert len(both) > 2000 and (both.iloc[:, 0] == both.iloc[:, 1]).all()
    config = yaml.safe_load((repo_copy / TEST_CONFIG).read_text())
    config.update(analyses=["zillow"], report=False)
    config["zillow"].update(source="kaggle", kaggle_dir=str(folder))
    (repo_copy / "config" / "kaggle-traits.yaml").write_text(yaml.safe_dump(config))
    targets = ["zillow_data_card", *(f"zillow_fit_{m}" for m in MODELS)]
    run_snakemake(repo_copy, *targets, "--configfile", "config/kaggle-traits.yaml")
    assert (folder / kaggle.PROPERTIES_FILE).is_file()  # the user's files are read, never moved
    zillow = work_dir_of(repo_copy) / "zillow"  # chosen targets: a partial run
    card = read_json(zillow / "data" / "data_card.json")
    skipped = {s["column"]: s for s in card["predictor_selection"]["skipped_correlated"]}
    square_feet = {"finishedsquarefeet12", "calculatedfinishedsquarefeet"}
    assert (
        square_feet & set(skipped)
        and skipped[(square_feet & set(skipped)).pop()]["correlation"] > 0.999
    )
    assert (
        "finishedsquarefeet12 | calculatedfinishedsquarefeet"
        in (zillow / "data" / "data_card.md").read_text()
        or "calculatedfinishedsquarefeet | finishedsquarefeet12"
        in (zillow / "data" / "data_card.md").read_text()
    )
    assert card["logerror"]["max"] == 4.737 and card["logerror"]["excess_kurtosis"] > 10
    for model in MODELS:
        diagnostics = read_json(zillow / model / "diagnostics.json")
        assert diagnostics["passed"], (model, diagnostics["failed"])
        assert diagnostics["treedepth"]["fraction"] <= 0.01, model
        tails = read_json(zillow / model / "tail_quantiles.json")
        assert {0.001, 0.999} & set(tails["outside_replicated_90"]), (model, tails["quantiles"])
    assert np.isfinite(read_json(zillow / "random_intercepts" / "heldout_metrics.json")["mlpd"])

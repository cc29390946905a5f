"""Your own model from a config block, as a new user writes it.

A program and a table made only for this test, a block in config/config.yaml, `snakemake --cores 2
--config 'analyses=[models]'` and no change to the repository's code. It must recover the parameters
the table was simulated from; a second block added afterwards runs only its own jobs and the report;
a bad table stops the run before any fit, with no version marked complete.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bayespipe.audit.check import audit
from conftest import copy_repo, executed_jobs, git_checkout, run_snakemake, version_dir_of
from fixtures.own_models import TRAPS, TRAPS_STAN_DATA

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RUN = ("--config", "analyses=[models]")
TRUTH = {"alpha": 1.0, "beta_x": 0.5, "beta": [0.3, -0.4, 0.2], "sigma_site": 0.4}
SITES = 30  # about 13 traps a site: the non-centred intercepts suit a little data per site
TRAPS_BLOCK = {
    "program": "mine/traps.stan",
    "data": "mine/traps.csv",
    "stan_data": TRAPS_STAN_DATA,
    "sampler": {"chains": 4, "warmup": 500, "draws": 500, "seed": 1, "adapt_delta": 0.9},
    "heldout": {"fraction": 0.2, "seed": 1},
}


def simulate_traps(rows: int = 400, seed: int = 7) -> pd.DataFrame:
    """Counts from the traps model at the TRUTH values (site labels deliberately unsorted)."""
    rng = np.random.default_rng(seed)
    labels = [f"site-{SITES - i:02d}" for i in range(SITES)]
    site = rng.integers(SITES, size=rows)
    site_effect = TRUTH["sigma_site"] * rng.normal(size=SITES)
    temp, habitat = rng.normal(size=rows), rng.normal(size=(rows, 3))
    eta = TRUTH["alpha"] + TRUTH["beta_x"] * temp + habitat @ TRUTH["beta"] + site_effect[site]
    return pd.DataFrame(
        {
            "site": np.array(labels)[site],
            "temp": temp.round(4),
            "a": habitat[:, 0].round(4),
            "b": habitat[:, 1].round(4),
            "c": habitat[:, 2].round(4),
            "count": rng.poisson(np.exp(eta)),
        }
    )


def add_model_block(workdir: Path, name: str, block: dict) -> None:
    """Add a block to config/config.yaml's models: section, as a user edits the file."""
    path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config.setdefault("models", {})[name] = block
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def own_model(tmp_path_factory) -> Path:
    workdir = copy_repo(tmp_path_factory.mktemp("models") / "repo")
    (workdir / "mine").mkdir()
    shutil.copy(TRAPS, workdir / "mine" / "traps.stan")
    simulate_traps().to_csv(workdir / "mine" / "traps.csv", index=False)
    add_model_block(workdir, "traps", TRAPS_BLOCK)
    git_checkout(workdir)
    run_snakemake(workdir, *RUN)
    return workdir


def summary(workdir: Path, model: str) -> pd.DataFrame:
    return pd.read_csv(version_dir_of(workdir) / "models" / model / "summary.csv", index_col=0)


def test_own_model_recovers_the_parameters_it_was_simulated_from(own_model):
    table = summary(own_model, "traps")
    truth = {
        "alpha": TRUTH["alpha"],
        "beta_x": TRUTH["beta_x"],
        **{f"beta[{i}]": v for i, v in enumerate(TRUTH["beta"], start=1)},
    }
    for name, value in truth.items():
        row = table.loc[name]
        assert row["hdi_3%"] <= value <= row["hdi_97%"], (name, value, row.to_dict())
        if name != "alpha":  # alpha shares its level with the mean of the site intercepts
            assert abs(row["mean"] - value) < 0.1, (name, row["mean"])
    assert table.loc["sigma_site", "hdi_3%"] < TRUTH["sigma_site"] < 1.5
    diagnostics = json.loads(
        (version_dir_of(own_model) / "models" / "traps" / "diagnostics.json").read_text()
    )
    assert diagnostics["passed"] is True


def test_every_check_the_program_allows_is_written(own_model):
    folder = version_dir_of(own_model) / "models" / "traps"
    for name in ("posterior_predictive.png", "trace.png", "densities.png", "posterior.nc"):
        assert (folder / name).stat().st_size > 0, name
    predictive = pd.read_csv(folder / "posterior_predictive.csv")
    assert len(predictive) == 320 and predictive["inside_90"].mean() > 0.8  # 80% of 400 fitted
    loo = json.loads((folder / "loo.json").read_text())
    assert loo["n_data_points"] == 320 and loo["pareto_k"]["max"] < 1
    heldout = json.loads((folder / "heldout.json").read_text())
    assert heldout["heldout_rows"] == 80 and np.isfinite(heldout["lpd"])
    # Poisson counts around e^1: the mean replicate of a held-out trap is off by ~ its sd at most.
    counts = pd.read_csv(own_model / "mine" / "traps.csv")["count"]
    assert 0 < heldout["replicate_mean_error"]["y"]["mae"] < counts.std()
    import arviz as az

    idata = az.from_netcdf(folder / "posterior.nc")
    assert {"prior", "prior_predictive", "posterior_predictive", "log_likelihood"} <= set(
        idata.groups()
    )
    card = json.loads((folder / "data" / "data_card.json").read_text())
    assert card["fitted_rows"] == 320 and card["stan_data"]["G"] == str(SITES)


def test_the_version_audits_and_the_report_shows_the_model(own_model):
    version = version_dir_of(own_model)
    assert audit(version) == []
    html = (version / "report" / "index.html").read_text()
    assert 'id="analysis-models"' in html and "traps" in html
    assert "eight_schools: posterior mean of mu" in html
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["data"]["models.traps.data"] and manifest["data"]["models.traps.program"]


def test_a_second_model_runs_only_its_own_jobs_and_the_report(own_model):
    block = {**TRAPS_BLOCK, "sampler": {**TRAPS_BLOCK["sampler"], "seed": 2}}
    block.pop("heldout")
    add_model_block(own_model, "traps_again", block)
    dry = executed_jobs(run_snakemake(own_model, *RUN, "--dry-run").stdout)
    assert dry == {
        "models_data": 1,
        "models_stan_compile": 1,
        "models_fit": 1,
        "models_ppc": 1,
        "models_loo": 1,
        "report_code_snapshot": 1,
        "report_html": 1,
        "all": 1,
    }
    before = version_dir_of(own_model)
    run_snakemake(own_model, *RUN)
    after = version_dir_of(own_model)
    assert after != before and audit(after) == []
    jobs = json.loads((after / "manifest.json").read_text())["jobs"]
    reused = {(j["rule"], j["wildcards"].get("model")) for j in jobs if j["reused_from"]}
    made = {(j["rule"], j["wildcards"].get("model")) for j in jobs if not j["reused_from"]}
    assert ("models_fit", "traps") in reused and ("models_fit", "eight_schools") in reused
    assert {m for rule, m in made if rule.startswith("models_")} == {"traps_again"}


def test_a_bad_table_stops_before_any_fit_and_completes_no_version(own_model):
    table = pd.read_csv(own_model / "mine" / "traps.csv")
    table.loc[41, "count"] = -3
    table.to_csv(own_model / "mine" / "bad.csv", index=False)
    add_model_block(own_model, "bad", {**TRAPS_BLOCK, "data": "mine/bad.csv"})
    before = version_dir_of(own_model)
    result = run_snakemake(own_model, *RUN, check=False)
    assert result.returncode != 0
    assert "mine/bad.csv, row 42, column 'count'" in result.stdout
    assert "Stan variable 'y'" in result.stdout and "lower bound 0" in result.stdout
    assert version_dir_of(own_model) == before  # latest still the last complete version
    work = own_model / "results" / ".work" / "default" / "models" / "bad"
    assert not (work / "posterior.nc").exists() and not (work / "stan").exists()
    version = re.search(r"bayespipe: version (\S+) ->", result.stdout)[1]
    assert not (own_model / "results" / version / "manifest.json").exists()


def test_eight_schools_stands_beside_its_published_posterior(own_model):
    """The shipped eight schools block beside ArviZ's non_centered_eight.

    The default sampler against the PyMC fit of the same model and priors, which ships inside the
    ArviZ package.
    """
    import arviz as az

    published = az.load_arviz_data("non_centered_eight").posterior
    ours = summary(own_model, "eight_schools")
    for name in ("mu", "tau"):
        reference = published[name].values.ravel()
        assert abs(ours.loc[name, "mean"] - reference.mean()) < 0.4, name
        assert abs(ours.loc[name, "sd"] / reference.std() - 1) < 0.15, name
    html = (version_dir_of(own_model) / "report" / "index.html").read_text()
    rows = re.findall(r"eight_schools: posterior mean of (mu|tau).*?verdict-(\w+)", html, re.S)
    assert rows == [("mu", "reproduced"), ("tau", "reproduced")]


def test_the_shipped_comparison_ranks_the_three_eight_schools_models(own_model):
    """comparisons.eight_schools of config/config.yaml: PSIS-LOO of three blocks, stacking."""
    from bayespipe.analyses.models.compare import COLUMNS

    version = version_dir_of(own_model)
    folder = version / "models" / "comparisons" / "eight_schools"
    blocks = ["eight_schools", "eight_schools_centered", "eight_schools_pooled"]
    table = pd.read_csv(folder / "compare.csv", index_col=0)
    assert ["block", *COLUMNS] == [table.index.name, *table.columns]
    assert sorted(table.index) == blocks and sorted(table["rank"]) == [0, 1, 2]
    assert table["weight"].sum() == pytest.approx(1) and (table["scale"] == "log").all()
    summary = json.loads((folder / "compare.json").read_text())
    assert summary["blocks"] == blocks and summary["ranking"] == list(table.index)
    assert summary["leader"] == table.index[0] and summary["runner_up"] == table.index[1]
    assert summary["elpd_diff"] == pytest.approx(table["elpd_diff"].iloc[1])
    # The data are consistent with tau = 0 (BDA 5.5): no model is ahead by 2 se of the difference.
    assert summary["decisive"] is False and "not more than twice" in summary["headline"]
    for block in blocks:
        loo = json.loads((version / "models" / block / "loo.json").read_text())
        assert summary["pareto_k_max"][block] == loo["pareto_k"]["max"]
        assert table.loc[block, "elpd_loo"] == pytest.approx(loo["elpd_loo"])
    assert (folder / "compare.png").read_bytes()[:4] == b"\x89PNG"
    record = json.loads(
        (version / "models" / "logs" / "models_compare_eight_schools.job.json").read_text()
    )
    assert record["params"]["blocks"] == blocks  # its own blocks only, not the models: section
    assert sorted(record["input_names"]) == ["loo", "posteriors"]


def test_a_changed_fit_reruns_only_its_comparison(own_model):
    """Last in this module: a dry run marks the changed block's outputs stale."""

    def change(config):
        config["models"].pop("bad", None)  # the bad table of the test above
        config["models"]["eight_schools_pooled"]["sampler"]["seed"] = 7
        config["comparisons"]["pair"] = ["eight_schools", "eight_schools_centered"]

    path = own_model / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    dry = executed_jobs(run_snakemake(own_model, *RUN, "--dry-run").stdout)
    assert dry == {
        "models_fit": 1,
        "models_ppc": 1,
        "models_loo": 1,
        "models_compare": 2,  # eight_schools (its pooled block's fit) and the new pair
        "report_code_snapshot": 1,
        "report_html": 1,
        "all": 1,
    }
